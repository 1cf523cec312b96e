/* The store API: the one door protocol code (IMAP, POP3, webmail, the
 * remote RPC later) uses to reach a mailbox (DESIGN section 4). No SQL
 * leaves src/store.
 *
 * Threads: every call is synchronous and may block on disk; call it from
 * a worker thread, never the event loop. A struct store_session (one open
 * connection to one mailbox file) is used by one thread at a time; several
 * sessions of the same mailbox may be open at once in different threads.
 * Writers take the file's write lock with BEGIN IMMEDIATE and wait for
 * each other inside the store (SQLITE_BUSY never reaches a caller unless
 * the lock is held for more than STORE_BUSY_MAX_MS, which is then a
 * STORE_ERR_BUSY failure, not a silent loss). Every read call runs in one
 * read transaction, so it sees one consistent snapshot.
 *
 * Memory: results live in the sp_arena the caller passes (valid until it
 * is reset) or are handed to a callback and valid only during the call.
 * Errors: -1 with *error_r, a human message valid until the next call on
 * the same session (it names no message content), and store_last_error(s)
 * gives an enum store_err where a caller must branch. Fetch, search and
 * the change feed on a folder id that no longer exists (deleted by
 * another session) fail with STORE_ERR_NONEXISTENT.
 *
 * Messages are handled whole in memory while they are appended and while
 * a section is fetched (up to STORE_MESSAGE_MAX); streaming them in chunks
 * is not done yet.
 *
 * Nothing here logs message content, subjects or addresses. */
#ifndef STORE_H
#define STORE_H

#include "keys/keys.h"
#include "lib/sp_arena.h"
#include "lib/sp_buf.h"

#include <time.h>

struct store_session;

enum store_err {
	STORE_ERR_NONE = 0,
	STORE_ERR_INTERNAL,    /* SQLite or I/O failure: see the message */
	STORE_ERR_NONEXISTENT, /* no such folder (IMAP [NONEXISTENT]) */
	STORE_ERR_EXISTS,      /* folder name taken ([ALREADYEXISTS]) */
	STORE_ERR_BAD_ARG,     /* invalid name, flags, query ([CANNOT]) */
	STORE_ERR_BUSY,        /* write lock not obtained in time */
	STORE_ERR_LIMIT,       /* a limit (regex match limit, sizes) hit */
	STORE_ERR_QUOTA,       /* reserved for the caller's quota checks */
};

#define STORE_BUSY_MAX_MS 60000 /* longest wait for the write lock */
#define STORE_DEDUP_THRESHOLD                                                                      \
	65536                          /* leaf bodies at least this large are                      \
	                                * stored once per mailbox by SHA-256 */
#define STORE_MESSAGE_MAX (256u << 20) /* largest message accepted */
#define STORE_FOLDER_NAME_MAX 1000     /* bytes of a UTF-8 folder name */
#define STORE_KEYWORD_MAX 200          /* bytes of one keyword */
#define STORE_KEYWORDS_MAX 256         /* keywords per message */
#define STORE_SCHEMA_VERSION 4

/* ---- Sessions ---- */

/* Notifier hook, called after every commit that changed a folder, in the
 * thread that committed, with the mailbox id given to store_session_open,
 * the folder and that folder's new HIGHESTMODSEQ (0: the folder was
 * deleted; folder_id 0: more folders changed than were tracked, resync
 * all). It must not call back into the store from inside (queue work
 * instead). Process-wide. */
typedef void store_notify_fn(void *ctx, const char *mailbox_id, int64_t folder_id,
                             uint64_t highestmodseq);
void store_set_notifier(store_notify_fn *fn, void *ctx);

/* Opens the mailbox file at path with dek; create makes a new file (it
 * must not exist) with the schema and the default folders INBOX, Drafts,
 * Sent, Junk, Trash and Archive (RFC 6154 special-use). An existing file
 * of an older schema version is migrated. mailbox_id is copied, used for
 * notifications only. 0 with *s_r, -1 with *error_r (wrong key, not a
 * mailbox, newer schema). */
int store_session_open(const char *path, const char *mailbox_id, const struct keys_secret *dek,
                       bool create, struct store_session **s_r, const char **error_r);
/* Closes; accepts NULL; sets *s to NULL. */
void store_session_close(struct store_session **s);
/* Re-encrypts the mailbox file under new_dek (`sealpost rekey`). No other
 * session of this mailbox may be open (the caller ensures it); on
 * success the file opens only with new_dek. */
int store_session_rekey(struct store_session *s, const struct keys_secret *new_dek,
                        const char **error_r);
/* Deferred durability, for a server whose sessions share one connection
 * and must not hold it during an fsync. With it on, a commit that must be
 * durable (a message added, copied, moved or expunged) is made with
 * synchronous=NORMAL and leaves store_session_take_unsynced() true; the
 * caller, no longer holding the session, makes it durable with
 * store_wal_sync(path) and only then acknowledges. Off (the default),
 * such commits are synchronous=FULL. Another user of the session may read
 * a commit before it is durable (docs/architecture.md). */
void store_session_defer_sync(struct store_session *s, bool on);
/* True once after a commit whose durability was deferred. */
bool store_session_take_unsynced(struct store_session *s);
/* Makes every commit so far to the mailbox file at path durable (fsyncs
 * its WAL). 0, or -1 with *error_r. */
int store_wal_sync(const char *path, const char **error_r);

/* The enum store_err of the last failed call on s. */
enum store_err store_last_error(const struct store_session *s);

/* ---- Folders ---- */

enum store_special_use {
	STORE_USE_NONE = 0,
	STORE_USE_DRAFTS = 1u << 0,
	STORE_USE_SENT = 1u << 1,
	STORE_USE_JUNK = 1u << 2,
	STORE_USE_TRASH = 1u << 3,
	STORE_USE_ARCHIVE = 1u << 4,
	STORE_USE_ALL = 1u << 5,
	STORE_USE_FLAGGED = 1u << 6,
};

/* Folder names are UTF-8 (the protocol converts modified UTF-7), with
 * hierarchy delimiter '/'; "INBOX" is case-insensitive and always exists. */
#define STORE_DELIMITER '/'

/* A folder, or (id == 0, only from store_folder_list) a subscribed name
 * that is no folder: then subscribed is true and every other field 0. */
struct store_folder {
	int64_t id;
	const char *name;
	unsigned special_use; /* store_special_use bits */
	bool subscribed;
	uint32_t uidvalidity, uidnext;
	uint64_t highestmodseq;
};

/* STATUS (RFC 9051 §6.3.11, RFC 8438 SIZE). recent: the messages above
 * the folder's recent floor, i.e. not yet claimed by any session (see
 * store_recent_claim; RFC 3501 §2.3.2). */
struct store_status {
	struct store_folder folder;
	uint32_t messages, unseen, recent, deleted;
	uint64_t size; /* sum of RFC822.SIZE */
};

/* All folders, plus one entry with id == 0 (subscribed true, other
 * fields 0) for each subscribed name that is not a folder (RFC 9051
 * §6.3.7: subscriptions outlive their folders), ordered by name (bytes
 * of the UTF-8), into arena (*n_r of them). Callers that want only real
 * folders skip id == 0. */
int store_folder_list(struct store_session *s, struct sp_arena *arena,
                      struct store_folder **folders_r, size_t *n_r, const char **error_r);
/* One folder by name; 1 found (*f_r filled, name in arena), 0 not found. */
int store_folder_get(struct store_session *s, const char *name, struct sp_arena *arena,
                     struct store_folder *f_r, const char **error_r);
int store_folder_status(struct store_session *s, const char *name, struct sp_arena *arena,
                        struct store_status *st_r, const char **error_r);
/* Creates name (and its missing parents, RFC 9051 §6.3.4). Invalid names:
 * empty, leading/trailing/double '/', control characters, not UTF-8, too
 * long. special_use may be 0. -1 with STORE_ERR_EXISTS when taken. */
int store_folder_create(struct store_session *s, const char *name, unsigned special_use,
                        const char **error_r);
/* Deletes a folder and its messages (children stay, RFC 9051 §6.3.5);
 * INBOX cannot be deleted. Its subscription stays (RFC 9051 §6.3.7). */
int store_folder_delete(struct store_session *s, const char *name, const char **error_r);
/* Renames a folder and its children. Renaming INBOX moves its messages
 * to the new folder and leaves INBOX empty (RFC 9051 §6.3.6). The new
 * name gets a new UIDVALIDITY; its recent floor is kept. The
 * subscriptions of from and of every name under from/ move to the new
 * names (INBOX's stay: INBOX itself is not renamed). */
int store_folder_rename(struct store_session *s, const char *from, const char *to,
                        const char **error_r);
/* Adds name to (or removes it from) the subscription list, a list of
 * names apart from the folders: any valid folder name (see
 * store_folder_create; INBOX canonical) whether or not the folder exists
 * (RFC 3501 §6.3.6 allows subscribing a non-existent name). Subscribing
 * twice or unsubscribing a name not subscribed succeeds and changes
 * nothing. -1 with STORE_ERR_BAD_ARG for an invalid name. */
int store_folder_subscribe(struct store_session *s, const char *name, bool subscribed,
                           const char **error_r);

/* \Recent (RFC 3501 §2.3.2: a message is recent for the first session
 * notified of it). Each folder keeps a recent floor, the highest UID some
 * session has claimed: 0 for a new folder; appended, copied and moved
 * messages get UIDs above it.
 *
 * Claims the messages of folder_id with UID <= up_to that no session has
 * claimed yet, atomically across sessions and processes: sets the folder's
 * recent floor to max(floor, up_to) and returns the old floor in *old_r
 * (the caller's \Recent messages are those with old < UID <= up_to; none
 * when old >= up_to). An up_to above the last UID the folder ever gave
 * out counts as that UID, so a message appended later is never claimed
 * unseen. read_only: just report the floor without moving it (EXAMINE,
 * STATUS). -1 with STORE_ERR_NONEXISTENT when the folder is gone. */
int store_recent_claim(struct store_session *s, int64_t folder_id, uint32_t up_to, bool read_only,
                       uint32_t *old_r, const char **error_r);

/* ---- Messages ---- */

enum store_flag {
	STORE_FLAG_SEEN = 1u << 0,
	STORE_FLAG_ANSWERED = 1u << 1,
	STORE_FLAG_FLAGGED = 1u << 2,
	STORE_FLAG_DELETED = 1u << 3,
	STORE_FLAG_DRAFT = 1u << 4,
	STORE_FLAGS_ALL = 0x1f,
};

/* UID ranges, inclusive; any order, overlaps allowed. "*" is the
 * protocol's business (it knows UIDNEXT); UINT32_MAX works as "no end". */
struct store_uid_range {
	uint32_t lo, hi;
};
struct store_uidset {
	const struct store_uid_range *ranges;
	size_t n;
};

struct store_append_msg {
	const uint8_t *data; /* the message as received, kept byte-exact */
	size_t len;
	unsigned flags;              /* store_flag bits */
	const char *const *keywords; /* n_keywords atoms (RFC 9051 flag-keyword) */
	size_t n_keywords;
	time_t internaldate;     /* 0: now */
	int internaldate_offset; /* minutes east of UTC of the date as given */
	/* The spool id of a drained message: appending an id that was
	 * drained before does nothing and returns the earlier UID (0 if that
	 * message has been expunged meanwhile). NULL otherwise. */
	const char *spool_id;
};

/* Appends n messages to folder, all or none, in one transaction
 * (MULTIAPPEND, RFC 3502). uids_r (n entries, caller's) gets their UIDs,
 * *uidvalidity_r the folder's UIDVALIDITY (APPENDUID, RFC 4315). */
int store_append(struct store_session *s, const char *folder, const struct store_append_msg *msgs,
                 size_t n, uint32_t *uidvalidity_r, uint32_t *uids_r, const char **error_r);

/* FETCH items (RFC 9051 §6.4.5; CONDSTORE, OBJECTID, SAVEDATE). */
enum store_fetch_item {
	STORE_FETCH_FLAGS = 1u << 0, /* flags + keywords */
	STORE_FETCH_INTERNALDATE = 1u << 1,
	STORE_FETCH_SAVEDATE = 1u << 2,
	STORE_FETCH_SIZE = 1u << 3, /* RFC822.SIZE */
	STORE_FETCH_ENVELOPE = 1u << 4,
	STORE_FETCH_BODYSTRUCTURE = 1u << 5, /* extended */
	STORE_FETCH_BODY = 1u << 6,          /* non-extended BODY */
	STORE_FETCH_MODSEQ = 1u << 7,
	STORE_FETCH_OBJECTID = 1u << 8, /* EMAILID + THREADID */
	STORE_FETCH_ORIGINAL = 1u << 9, /* the bytes as appended (export) */
};

enum store_section_type {
	STORE_SECTION_BODY,        /* BODY[spec]<partial> on the CRLF form */
	STORE_SECTION_BINARY,      /* BINARY[path]<partial> decoded (RFC 3516) */
	STORE_SECTION_BINARY_SIZE, /* BINARY.SIZE[path] */
};

struct store_section_req {
	enum store_section_type type;
	const char *spec; /* what is between the brackets: "", "1.2.HEADER", ... */
	bool partial;     /* <offset.count> */
	uint64_t offset, count;
};

struct store_fetch_req {
	struct store_uidset uids;
	unsigned items; /* store_fetch_item bits */
	const struct store_section_req *sections;
	size_t n_sections;
	uint64_t changedsince; /* CONDSTORE CHANGEDSINCE; 0: every message */
};

struct store_section_data {
	const uint8_t *data; /* NULL: NIL (no such part, RFC 9051 §6.4.5) */
	size_t len;          /* BINARY.SIZE: the decoded size, data NULL */
	uint64_t size;
	bool unknown_cte; /* BINARY of an unknown encoding: [UNKNOWN-CTE] */
	bool has_nul;     /* data contains NUL: send it as literal8 */
};

struct store_message {
	uint32_t uid;
	uint64_t modseq;
	unsigned flags;
	const char *const *keywords;
	size_t n_keywords;
	time_t internaldate;
	int internaldate_offset;
	time_t savedate;
	uint64_t size;                               /* RFC822.SIZE: the CRLF form's length */
	const char *envelope, *bodystructure, *body; /* IMAP syntax */
	const char *emailid, *threadid;
	const uint8_t *original; /* STORE_FETCH_ORIGINAL */
	size_t original_len;
	const struct store_section_data *sections; /* req->n_sections */
};

/* Called once per message in UID order; everything in *m is valid only
 * during the call. Return 0 to go on, -1 to stop (fetch returns -1 with
 * the callback's error, STORE_ERR_NONE). */
typedef int store_fetch_fn(void *ctx, const struct store_message *m);

/* Fetches the messages of folder whose UID is in req->uids. One read
 * snapshot for the whole call. Malformed section specs are
 * STORE_ERR_BAD_ARG before anything is returned. */
int store_fetch(struct store_session *s, int64_t folder_id, const struct store_fetch_req *req,
                store_fetch_fn *fn, void *ctx, const char **error_r);

enum store_flag_op {
	STORE_FLAGS_ADD,     /* +FLAGS */
	STORE_FLAGS_REMOVE,  /* -FLAGS */
	STORE_FLAGS_REPLACE, /* FLAGS */
};

struct store_flags_req {
	struct store_uidset uids;
	enum store_flag_op op;
	unsigned flags;
	const char *const *keywords;
	size_t n_keywords;
	/* RFC 7162 §3.1.3; UNCHANGEDSINCE 0 is valid (it fails for every
	 * message), hence the separate flag */
	bool has_unchangedsince;
	uint64_t unchangedsince;
};

struct store_changed {
	uint32_t uid;
	uint64_t modseq;
	unsigned flags;
	const char *const *keywords;
	size_t n_keywords;
};

struct store_flags_result {
	struct store_changed *changed; /* messages whose flags changed */
	size_t n_changed;
	uint32_t *failed; /* UNCHANGEDSINCE failures: [MODIFIED uids] */
	size_t n_failed;
	uint64_t highestmodseq;
};

/* STORE (RFC 9051 §6.4.6, RFC 7162 §3.1.3): each message whose flags
 * really change gets a new MODSEQ; a message whose MODSEQ is above
 * unchangedsince is left alone and listed in failed. Arrays in arena. */
int store_flags_update(struct store_session *s, int64_t folder_id,
                       const struct store_flags_req *req, struct sp_arena *arena,
                       struct store_flags_result *res_r, const char **error_r);

/* COPYUID/MOVE data (RFC 4315, RFC 6851): src_uids[i] became dst_uids[i]. */
struct store_copy_result {
	uint32_t uidvalidity;
	uint32_t *src_uids, *dst_uids;
	size_t n;
};

/* Copies (move: moves, expunging the sources in the same transaction)
 * the messages of uids from folder_id to the folder named dst. The copies
 * share their content (no bytes duplicated) and keep EMAILID/THREADID;
 * flags are kept. Arrays in arena. */
int store_copy(struct store_session *s, int64_t folder_id, const struct store_uidset *uids,
               const char *dst, bool move, struct sp_arena *arena, struct store_copy_result *res_r,
               const char **error_r);

/* EXPUNGE (uids NULL: every \Deleted message) or UID EXPUNGE (RFC 4315:
 * the \Deleted messages within uids). Records each in the expunge log
 * with a new MODSEQ. *uids_r (arena) the expunged UIDs in order. */
int store_expunge(struct store_session *s, int64_t folder_id, const struct store_uidset *uids,
                  struct sp_arena *arena, uint32_t **uids_r, size_t *n_r, const char **error_r);

/* What changed in folder after modseq (IDLE, NOOP, QRESYNC), in one
 * snapshot: messages whose MODSEQ is above it (new messages and flag
 * changes alike: a UID at or above the UIDNEXT the caller last saw is a
 * new message), and UIDs expunged after it (VANISHED; the log is kept
 * for the folder's lifetime, so any earlier MODSEQ is answerable), with
 * the folder's HIGHESTMODSEQ and UIDNEXT as of that snapshot. modseq 0
 * lists every message. Arrays in arena, UID order. */
struct store_changes {
	struct store_changed *changed;
	size_t n_changed;
	uint32_t *expunged;
	size_t n_expunged;
	uint64_t highestmodseq;
	uint32_t uidnext;
};
int store_changes_since(struct store_session *s, int64_t folder_id, uint64_t modseq,
                        struct sp_arena *arena, struct store_changes *ch_r, const char **error_r);

/* Every UID of a folder in order (the protocol's sequence map). */
int store_uids(struct store_session *s, int64_t folder_id, struct sp_arena *arena,
               uint32_t **uids_r, size_t *n_r, const char **error_r);

/* Quota usage: message_bytes is the sum of RFC822.SIZE over the
 * mailbox (what IMAP QUOTA STORAGE counts), file_bytes the mailbox
 * file's size on disk (after dedup and compression). */
struct store_usage {
	uint64_t messages, message_bytes, file_bytes;
};
int store_usage(struct store_session *s, struct store_usage *u_r, const char **error_r);

/* ---- Search ---- */

enum store_query_type {
	STORE_Q_ALL,
	STORE_Q_AND,         /* children */
	STORE_Q_OR,          /* children (any number) */
	STORE_Q_NOT,         /* one child */
	STORE_Q_UID,         /* uids */
	STORE_Q_SEQ,         /* uids holds sequence numbers of the current snapshot:
	                      * protocols with a stale view translate to UIDs first */
	STORE_Q_FLAGS_SET,   /* every flag in flags is set */
	STORE_Q_FLAGS_UNSET, /* every flag in flags is clear */
	STORE_Q_KEYWORD,     /* str */
	STORE_Q_UNKEYWORD,   /* str */
	/* date comparisons: y/m/d, on the calendar date, RFC 9051 §6.4.4:
	 * INTERNALDATE in its own zone, the Date header in the sender's zone
	 * ignoring time and zone, SAVEDATE in UTC */
	STORE_Q_BEFORE,
	STORE_Q_ON,
	STORE_Q_SINCE,
	STORE_Q_SENTBEFORE,
	STORE_Q_SENTON,
	STORE_Q_SENTSINCE,
	STORE_Q_SAVEDBEFORE,
	STORE_Q_SAVEDON,
	STORE_Q_SAVEDSINCE,
	STORE_Q_OLDER,   /* number: seconds (RFC 5032) */
	STORE_Q_YOUNGER, /* number: seconds */
	STORE_Q_LARGER,  /* number: RFC822.SIZE > number */
	STORE_Q_SMALLER, /* number: RFC822.SIZE < number */
	STORE_Q_MODSEQ,  /* number: MODSEQ >= number */
	STORE_Q_EMAILID, /* str */
	STORE_Q_THREADID,
	/* case-insensitive substring (str), on decoded text */
	STORE_Q_FROM,
	STORE_Q_TO,
	STORE_Q_CC,
	STORE_Q_BCC,
	STORE_Q_SUBJECT,
	STORE_Q_BODY,   /* decoded text of the text parts */
	STORE_Q_TEXT,   /* headers and body */
	STORE_Q_HEADER, /* header (field name) contains str; "" = present */
	STORE_Q_REGEX,  /* field (+ header) matches the PCRE2 pattern str */
};

enum store_query_field {
	STORE_FIELD_SUBJECT,
	STORE_FIELD_FROM,
	STORE_FIELD_TO,
	STORE_FIELD_CC,
	STORE_FIELD_BCC,
	STORE_FIELD_BODY,
	STORE_FIELD_TEXT,
	STORE_FIELD_HEADER,
};

struct store_query {
	enum store_query_type type;
	struct store_query *children; /* AND, OR, NOT: an array */
	size_t n_children;
	struct store_uidset uids;
	unsigned flags;
	const char *str;    /* NUL-terminated UTF-8 */
	const char *header; /* HEADER, REGEX on a header: field name */
	enum store_query_field field;
	uint64_t number;
	uint16_t year;
	uint8_t month, day;
};

#define STORE_QUERY_MAX_DEPTH 64
#define STORE_REGEX_MATCH_LIMIT 1000000 /* PCRE2 match limit per subject */

/* Runs q on folder; *uids_r (arena) the matching UIDs ascending.
 * A catastrophic regex stops at its match limit: -1, STORE_ERR_LIMIT. */
int store_search(struct store_session *s, int64_t folder_id, const struct store_query *q,
                 struct sp_arena *arena, uint32_t **uids_r, size_t *n_r, const char **error_r);

#endif
