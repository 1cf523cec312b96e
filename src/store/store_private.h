/* Internals shared by the store's files: the session, transactions with
 * busy handling, statement helpers, the body codec. Not for other modules. */
#ifndef STORE_PRIVATE_H
#define STORE_PRIVATE_H

#include "store/store.h"
#include "store/store_file.h"
#include "db/sp_stmt_cache.h"
#include "mime/mime.h"

#include <sqlite3.h>

struct store_session {
	sqlite3 *db;
	char *mailbox_id;
	enum store_err last_err;
	char errbuf[256];
	/* folders whose HIGHESTMODSEQ changed in the open write transaction,
	 * notified after COMMIT */
	int64_t dirty[8];
	size_t n_dirty;
	bool dirty_overflow;
	/* the open write transaction runs with synchronous=NORMAL */
	bool relaxed_sync;
	/* store_session_defer_sync: the connection stays synchronous=NORMAL;
	 * sync_owed marks the open write transaction, unsynced its commit */
	bool defer_sync, sync_owed, unsynced;
	struct sp_stmt_cache stmts; /* store_prepare, store_finalize */
};

/* Sets the session's error and *error_r; returns -1. */
int store_fail(struct store_session *s, enum store_err code, const char **error_r, const char *fmt,
               ...) SP_PRINTF(4, 5);
/* A SQLite failure of the session's connection. */
int store_fail_db(struct store_session *s, const char **error_r, const char *what);

/* Write transaction: BEGIN IMMEDIATE, retried on SQLITE_BUSY for up to
 * STORE_BUSY_MAX_MS. store_write_end commits (ok) or rolls back, then
 * notifies. Read transaction: BEGIN (deferred) ... store_read_end. */
int store_write_begin(struct store_session *s, const char **error_r);
/* The same for a transaction that changes only flags or \Recent floors:
 * it commits with synchronous=NORMAL (no fsync of the WAL), so a power
 * loss right after may undo it, as it may undo a flag change in Dovecot's
 * index. Never for one that adds, copies or removes a message: the next
 * synchronous=FULL commit fsyncs the WAL up to and including it. */
int store_write_begin_flags(struct store_session *s, const char **error_r);
int store_write_end(struct store_session *s, bool ok, const char **error_r);
int store_read_begin(struct store_session *s, const char **error_r);
void store_read_end(struct store_session *s);

/* Prepares sql, or hands out the session's cached statement for the same
 * text (reset, bindings cleared) when no caller is using it. The caller
 * gives it back with store_finalize. NULL on error with the session
 * error set. */
sqlite3_stmt *store_prepare(struct store_session *s, const char *sql, const char **error_r);
/* Gives a statement from store_prepare back; accepts NULL. */
static inline void store_finalize(sqlite3_stmt *st)
{
	sp_stmt_put(st);
}
/* Runs sql with no result rows; 0 or -1. */
int store_exec(struct store_session *s, const char *sql, const char **error_r);
/* sqlite3_step that retries SQLITE_BUSY (reads in WAL may meet it during
 * checkpoint recovery); returns the final code. */
int store_step(sqlite3_stmt *st);

/* Allocates the next mailbox-wide MODSEQ and records folder as dirty;
 * updates the folder's HIGHESTMODSEQ. 0 on failure (error set). */
uint64_t store_modseq_next(struct store_session *s, int64_t folder_id, const char **error_r);

/* Notify folder_id after the open write transaction commits. */
void store_mark_dirty(struct store_session *s, int64_t folder_id);

/* Schema creation and migration (store_schema.c). */
int store_schema_init(struct store_session *s, bool create, const char **error_r);
/* SQL functions on the connection: regexp, header search, uid sets. */
int store_sql_functions(struct store_session *s);
/* true when msg is the REGEXP function's match-limit error. */
bool store_regex_limit_error(const char *msg);

/* Folder helpers (store_folder.c). */
int store_folder_id(struct store_session *s, const char *name, int64_t *id_r,
                    uint32_t *uidvalidity_r, const char **error_r);
bool store_folder_name_valid(const char *name);
/* 0 when folder_id exists; -1 with STORE_ERR_NONEXISTENT. */
int store_folder_check(struct store_session *s, int64_t folder_id, const char **error_r);
/* Inside a write transaction. */
int store_folder_create_tx(struct store_session *s, const char *name, unsigned special_use,
                           bool subscribed, const char **error_r);

/* UID set normalisation: sorted, merged copy in arena. */
struct store_uidset store_uidset_norm(const struct store_uidset *in, struct sp_arena *arena);
bool store_uidset_has(const struct store_uidset *set, uint32_t uid);

/* Keywords: validated (atom characters, not starting with '\'). */
bool store_keyword_valid(const char *kw);
int store_keywords_load(struct store_session *s, int64_t msg_id, struct sp_arena *arena,
                        const char *const **kw_r, size_t *n_r);

/* Bodies (store_body.c): stores the original bytes of a message as a
 * compressed skeleton plus deduplicated blobs; returns the content row. */
int store_body_put(struct store_session *s, int64_t content_id, const uint8_t *data, size_t len,
                   const struct mime_message *served_msg, const uint8_t *served, size_t served_len,
                   const char **error_r);
/* Rebuilds the original bytes of content_id into out. */
int store_body_get(struct store_session *s, int64_t content_id, struct sp_buf *out,
                   const char **error_r);
/* Drops one reference to content_id; when it was the last, deletes the
 * content, its FTS row and releases its blobs. */
int store_content_unref(struct store_session *s, int64_t content_id, const char **error_r);

/* Runs sql with one bound integer (?1); 0 or -1. */
int store_exec_id(struct store_session *s, const char *sql, int64_t id, const char **error_r);
/* Adds keywords to a message (inside a write transaction). */
int store_keywords_set(struct store_session *s, int64_t msg_id, const char *const *kw, size_t n,
                       const char **error_r);
/* Inserts a message row for content_id in folder with the next UID and
 * MODSEQ and takes a reference on the content. */
int store_message_insert(struct store_session *s, int64_t folder_id, int64_t content_id,
                         unsigned flags, const char *internaldate, int idate_offset,
                         const char *idate_day, uint32_t *uid_r, int64_t *msg_id_r,
                         const char **error_r);

/* For tests: rows in the blobs table (deduplicated parts). */
int64_t store_debug_blob_count(struct store_session *s);

/* Date text: "YYYY-MM-DDTHH:MM:SSZ" (21 bytes with NUL) and day
 * "YYYY-MM-DD" of t shifted by offset minutes. */
void store_iso_utc(time_t t, char out[32]);
void store_iso_day(time_t t, int offset_min, char out[16]);
time_t store_iso_parse(const char *iso);

#endif
