/* Internal to the IMAP server: the session, the per-mailbox key holder,
 * the command table and the worker-job plumbing shared by the command
 * files (imap_cmd_*.c).
 *
 * Threads: a session lives on the loop thread. A command either replies
 * at once or runs one job at a time on the "store" worker queue with the
 * session's input paused; while a job runs, only the worker touches the
 * session's store handle, sequence map and command arena, and the loop
 * touches only the flags it owns (dirty, closing). A session that closes
 * while its job runs is freed when the job comes back. */
#ifndef IMAP_PRIVATE_H
#define IMAP_PRIVATE_H

#include "accounts/accounts.h"
#include "imap/imap.h"
#include "imap/imap_parser.h"
#include "imap/imap_seqset.h"
#include "lib/sp_arena.h"
#include "net/sp_conn.h"
#include "store/store.h"

#include <pthread.h>
#include <stdatomic.h>

#define IMAP_MAX_BAD 100            /* consecutive bad commands before BYE */
#define IMAP_FETCH_CHUNK (1u << 20) /* FETCH output per job before yielding */
#define IMAP_OUTPUT_HIGH (4u << 20) /* wait for the client above this */
#define IMAP_OUTPUT_LOW (256u << 10)

struct imap_server {
	struct imap_config cfg;
	char *hostname, *accounts_path, *mailboxes_dir, *spool_dir;
	int inotify_fd; /* -1 when unavailable */
	struct event *inotify_ev;
	struct imap_mailbox *mailboxes; /* with live sessions */
	bool idle_entered;              /* a session entered IDLE since the last trim */
	_Atomic unsigned open_stores;   /* sessions' open SQLite handles (workers too) */
	struct sp_timer *trim_timer;    /* gives freed heap back to the system */
};

/* One mailbox with live sessions: its keys, shared by those sessions and
 * wiped when the last one ends (DESIGN section 2), and its spool drain. */
struct imap_mailbox {
	struct imap_server *srv;
	struct imap_mailbox *next, *prev;
	char id[ACCOUNTS_MAILBOX_ID_LEN + 1];
	char *path; /* the mailbox file */
	struct keys_secret *dek, *sk;
	unsigned refs;
	uint64_t owner_id; /* drain jobs find it by this id */
	bool draining, drain_again;
	int watch; /* inotify watch of its spool directory, -1 if none */
	/* One SQLite connection for all its sessions, so they share one page
	 * cache (a commit through another connection would empty it). Jobs
	 * use it under store_lock (taken by the job runner); it is open while
	 * a session holds it (imap_job_store) and closed by the last one to
	 * let go (imap_session_store_close): idle sessions hold nothing. */
	pthread_mutex_t store_lock;
	struct store_session *store;
	unsigned store_holders;
};

enum imap_state {
	IMAP_STATE_NOAUTH,
	IMAP_STATE_AUTH,
	IMAP_STATE_SELECTED,
	IMAP_STATE_LOGOUT,
};

enum imap_enabled {
	IMAP_ENABLED_CONDSTORE = 1u << 0,
	IMAP_ENABLED_QRESYNC = 1u << 1,
	IMAP_ENABLED_UTF8 = 1u << 2, /* UTF8=ACCEPT */
	IMAP_ENABLED_REV2 = 1u << 3, /* IMAP4rev2 */
};

struct imap_job;
struct imap_session;

/* Runs on a worker; uses the session's store (imap_job_store) and writes
 * untagged responses to job->out and the tagged result with
 * imap_job_reply. */
typedef void imap_work_fn(struct imap_job *job);
/* Runs on the loop after the job, before its output is written; may
 * return true to say it took over (continued the command itself). */
typedef bool imap_done_fn(struct imap_job *job);

struct imap_job {
	struct imap_session *s;
	imap_work_fn *work;
	imap_done_fn *done;
	void *data;
	struct sp_buf out;    /* untagged responses */
	struct sp_buf tagged; /* "OK [...] text", without the tag; empty: none */
	bool sync;            /* report other sessions' changes after work */
	bool allow_expunge;   /* EXPUNGE/VANISHED may be sent (RFC 9051 §7.5.1) */
	bool dirty;           /* a notification came before the job started */
	bool wrote;           /* the job changed the selected folder */
	bool still_dirty;     /* the sync had to wait: try at the next command */
	bool bye;             /* job->out ends with BYE: close the connection */
	bool release_store;   /* close the store handle afterwards (IDLE) */
	/* messages this command reported itself: the sync skips them */
	const struct store_changed *reported;
	size_t n_reported;
};

struct imap_session {
	struct imap_server *srv;
	struct sp_conn *conn; /* NULL once closed (freed when the job returns) */
	uint64_t id;          /* owner id */
	char log_id[24];
	struct imap_parser *parser;
	struct sp_arena *arena; /* the command's; reset when it completes */
	enum imap_state state;
	unsigned enabled; /* imap_enabled */
	unsigned bad_count;

	/* The command in progress. */
	char tag[128];
	const struct imap_command *cmd;         /* parser memory: valid while busy, not
	                                         * after a raw line (AUTHENTICATE, IDLE) */
	const struct imap_command_def *cmd_def; /* the command in progress */
	bool cmd_uid;
	bool in_command; /* dispatched and not finished */
	bool busy;       /* a job is in flight */
	struct imap_job *job;
	bool job_closed; /* the connection closed while the job ran */
	bool idling;
	bool waiting;        /* a timer will continue the command (login slow-down) */
	bool authenticating; /* AUTHENTICATE waits for the client's response line */
	bool logout_pending;
	bool shutdown_pending;
	bool restart_input;    /* STARTTLS/COMPRESS replaced the input */
	bool compress_pending; /* start DEFLATE once the command is consumed */
	bool compressed;       /* COMPRESS=DEFLATE is active */
	void (*on_drain)(struct imap_session *s);
	void *cmd_data; /* a multi-step command's state (APPEND, FETCH) */
	void (*cmd_data_free)(void *data);

	/* After login. */
	struct imap_mailbox *mbox;
	struct notify_sub *sub;
	char slot_id[ACCOUNTS_SLOT_ID_LEN + 1];
	uint64_t quota;              /* bytes, 0 = none */
	struct store_session *store; /* worker side only */
	bool dirty;                  /* the mailbox changed: sync at the next chance */

	/* Selected folder. */
	int64_t folder_id;
	char *folder_name; /* UTF-8 */
	bool readonly;
	uint32_t uidvalidity, uidnext;
	uint64_t highestmodseq;
	uint32_t *uids; /* the sequence map: uids[seq - 1] */
	size_t n_uids, cap_uids;
	char **keywords; /* announced in FLAGS since SELECT */
	size_t n_keywords;
	struct imap_seqset saved;  /* SEARCHRES "$", as UIDs */
	struct imap_seqset recent; /* this session's \Recent messages, as UIDs */
	bool saved_valid;
};

/* ---- Commands ---- */

enum imap_cmd_flags {
	IMAP_CMD_NOAUTH = 1u << 0,   /* allowed before login */
	IMAP_CMD_AUTH = 1u << 1,     /* allowed when authenticated */
	IMAP_CMD_SELECTED = 1u << 2, /* allowed with a folder selected */
	IMAP_CMD_ANY = 7u,
	IMAP_CMD_UID = 1u << 3,        /* UID prefix allowed */
	IMAP_CMD_NO_EXPUNGE = 1u << 4, /* no EXPUNGE while it runs (FETCH, STORE,
	                                * SEARCH by sequence number) */
};

typedef void imap_cmd_fn(struct imap_session *s, const struct imap_command *cmd);

struct imap_command_def {
	const char *name;
	unsigned flags;
	imap_cmd_fn *fn;
};

/* The table, in imap_commands.c. */
const struct imap_command_def *imap_command_find(const char *name);

imap_cmd_fn imap_cmd_capability, imap_cmd_noop, imap_cmd_logout, imap_cmd_id, imap_cmd_enable,
    imap_cmd_starttls, imap_cmd_compress, imap_cmd_namespace, imap_cmd_login, imap_cmd_authenticate,
    imap_cmd_select, imap_cmd_create, imap_cmd_delete, imap_cmd_rename, imap_cmd_subscribe,
    imap_cmd_list, imap_cmd_lsub, imap_cmd_status, imap_cmd_append, imap_cmd_unselect,
    imap_cmd_close, imap_cmd_expunge, imap_cmd_fetch, imap_cmd_store, imap_cmd_copy,
    imap_cmd_search, imap_cmd_sort, imap_cmd_thread, imap_cmd_idle, imap_cmd_getquota,
    imap_cmd_getquotaroot, imap_cmd_check;

/* ---- Replies (loop thread, not while a job runs) ---- */

/* Queues an untagged line: "* " fmt "\r\n". */
void imap_untagged(struct imap_session *s, const char *fmt, ...) SP_PRINTF(2, 3);
/* Ends the command with "<tag> " fmt "\r\n" and goes on reading. */
void imap_reply(struct imap_session *s, const char *fmt, ...) SP_PRINTF(2, 3);
/* Ends the command with BAD text. */
void imap_bad(struct imap_session *s, const char *text);
/* The capability list for the session's state (no leading space). */
void imap_capability_list(const struct imap_session *s, struct sp_buf *out);
/* Writes "* BYE text" and closes after the output is flushed. */
void imap_bye(struct imap_session *s, const char *text);

/* ---- Jobs ---- */

/* Starts work on the store queue; the command ends when it comes back
 * (with job->tagged) unless done took over. Returns the job, or NULL when
 * the queue is full (the command was answered NO). The worker may run it
 * before this returns: the job's flags (sync, release_store) are set by
 * work itself, never by the caller afterwards. */
struct imap_job *imap_job_start(struct imap_session *s, imap_work_fn *work, imap_done_fn *done,
                                void *data);
/* The same on another queue (login on the Argon2id queue). */
struct imap_job *imap_job_start_on(struct imap_session *s, struct sp_work_queue *queue,
                                   imap_work_fn *work, imap_done_fn *done, void *data);
/* Worker side: the session's store handle, opened on first use. NULL
 * with job->tagged set to NO when it cannot be opened. */
struct store_session *imap_job_store(struct imap_job *job);
/* Worker side: sets the tagged result "OK ..." etc. */
void imap_job_reply(struct imap_job *job, const char *fmt, ...) SP_PRINTF(2, 3);
/* Worker side: the tagged NO for the store's last error, with its code
 * ([NONEXISTENT], [ALREADYEXISTS], [CANNOT], [INUSE], [LIMIT]...). */
void imap_job_store_error(struct imap_job *job, const char *error);
/* Worker side: the folder called name into *f_r (0), or -1 with the
 * tagged NO set ([NONEXISTENT] or the store's error). */
int imap_job_folder(struct imap_job *job, const char *name, struct store_folder *f_r);
/* Worker side: reports changes made by other sessions (and this one's
 * writes) to the selected folder: EXPUNGE or VANISHED, EXISTS, FETCH.
 * Called by the job runner after work when job->sync. */
void imap_sync(struct imap_job *job);
/* Loop side: runs a sync-only job now if the session is idle in IDLE (or
 * marks it dirty for the next command). */
void imap_session_changed(struct imap_session *s);
/* Worker side (or loop with no job running): closes the session's store
 * handle. */
void imap_session_store_close(struct imap_session *s);

/* Worker side: before a FETCH response that carries these keywords,
 * announces the ones the client has not been told about in an updated
 * FLAGS and PERMANENTFLAGS (RFC 9051 §7.3.5). */
void imap_keywords_note(struct imap_job *job, const char *const *kw, size_t n);
/* Writes the FLAGS and PERMANENTFLAGS responses for the session's
 * keywords. */
void imap_flags_responses(const struct imap_session *s, struct sp_buf *out);

/* IMAP_FLAG_RECENT when uid is \Recent for this session (IMAP4rev1
 * only: IMAP4rev2 has no \Recent), else 0. */
unsigned imap_recent_flag(const struct imap_session *s, uint32_t uid);
/* Worker side: claims the new messages of the map above the last claim
 * (RFC 3501 §2.3.2: the first session told of a message sees it as
 * \Recent) and writes "* N RECENT" for IMAP4rev1 sessions. */
void imap_recent_update(struct imap_job *job, uint32_t from_uid);

/* RFC 7162 §3.1: a CONDSTORE-enabling command; the first one in the
 * selected state gets an untagged OK [HIGHESTMODSEQ]. */
void imap_condstore_enable(struct imap_session *s);
/* A HIGHESTMODSEQ as sent: never 0 (RFC 7162 §7). */
uint64_t imap_modseq_value(uint64_t modseq);

/* ---- Selected folder helpers (worker or loop, never both) ---- */

/* Resolves a sequence set or UID set argument against the map into
 * store UID ranges (arena). uid: the set is UIDs. Returns 0, or -1 with a
 * BAD text in *error_r (bad syntax, sequence number out of range). */
int imap_seqset_to_uids(struct imap_session *s, const struct imap_arg *arg, bool uid,
                        struct store_uidset *set_r, const char **error_r);
/* Sequence number of uid (1-based), 0 if not in the map. */
uint32_t imap_seq_of(const struct imap_session *s, uint32_t uid);
/* Leaves the selected state (frees the map). */
void imap_session_unselect(struct imap_session *s);
/* Reads a mailbox-name argument into the store's UTF-8 form (arena); on
 * failure the command has been answered (BAD for a non-string, NO [CANNOT]
 * for a name that is not valid) and -1 is returned. */
int imap_mailbox_arg(struct imap_session *s, const struct imap_arg *arg, const char **name_r);
/* Writes a store name as a protocol mailbox string (modified UTF-7 or,
 * with UTF8=ACCEPT, UTF-8), quoted or as a literal. */
void imap_mailbox_write(const struct imap_session *s, const char *name, struct sp_buf *out);

/* AUTHENTICATE's continuation line (imap_cmd_auth.c). */
void imap_authenticate_line(struct imap_session *s, struct sp_slice line);
/* APPEND's streamed literals (imap_cmd_append.c). */
void imap_append_literal_begin(struct imap_session *s, const struct imap_event *ev);
void imap_append_literal_data(struct imap_session *s, struct sp_slice data);
void imap_append_literal_end(struct imap_session *s);

/* ---- Login (imap_cmd_auth.c) and the mailbox registry (imap_server.c) ---- */

/* Attaches the logged-in session to its mailbox (keys are taken over
 * when the mailbox has none yet, else wiped). */
void imap_mailbox_attach(struct imap_session *s, const char *mailbox_id, struct keys_secret **dek,
                         struct keys_secret **sk);
void imap_mailbox_detach(struct imap_session *s);
/* Drains the mailbox's spool on a worker unless a drain runs already. */
void imap_mailbox_drain(struct imap_mailbox *mbox);

#endif
