/* A per-connection cache of prepared statements. Parsing and planning a
 * statement costs more than running most of ours (a FETCH of FLAGS, a
 * recipient lookup), so callers that prepare the same SQL text again and
 * again get the compiled statement back instead. Owned by whoever owns
 * the connection; one thread at a time, as the connection. */
#ifndef SP_STMT_CACHE_H
#define SP_STMT_CACHE_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#define SP_STMT_CACHE_SLOTS 48

struct sp_stmt_cache {
	sqlite3 *db;
	struct sp_stmt_slot {
		char *sql;
		sqlite3_stmt *st;
		bool in_use;
		uint64_t used; /* tick of its last hand-out */
	} slots[SP_STMT_CACHE_SLOTS];
	uint64_t tick;
};

/* Binds the cache to db (which must outlive it, or be closed only after
 * sp_stmt_cache_deinit). */
void sp_stmt_cache_init(struct sp_stmt_cache *c, sqlite3 *db);
/* Finalizes every cached statement; the cache can be reused after
 * sp_stmt_cache_init. Statements still handed out are finalized too. */
void sp_stmt_cache_deinit(struct sp_stmt_cache *c);

/* The statement for sql: the cached one when it is not handed out already
 * (reset, bindings cleared), else a newly prepared one, which replaces the
 * least recently used idle slot. SQLITE_OK with *st_r, or SQLite's error
 * code (the connection's errmsg says why). */
int sp_stmt_get(struct sp_stmt_cache *c, const char *sql, sqlite3_stmt **st_r);
/* Gives st back: a cached statement is reset for its next use, any other
 * is finalized. Accepts NULL. */
void sp_stmt_put(sqlite3_stmt *st);

#endif
