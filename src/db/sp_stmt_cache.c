/* Prepared-statement cache (sp_stmt_cache.h). sp_stmt_put finds the cache
 * of a statement through its connection's client data, so callers need
 * only the statement to give it back. */
#include "db/sp_stmt_cache.h"
#include "lib/sp_mem.h"
#include "lib/sp_str.h"

#include <stdlib.h>
#include <string.h>

#define CLIENTDATA "sp_stmt_cache"

void sp_stmt_cache_init(struct sp_stmt_cache *c, sqlite3 *db)
{
	memset(c, 0, sizeof(*c));
	c->db = db;
	sqlite3_set_clientdata(db, CLIENTDATA, c, NULL);
}

void sp_stmt_cache_deinit(struct sp_stmt_cache *c)
{
	if (c->db == NULL)
		return;
	for (size_t i = 0; i < SP_STMT_CACHE_SLOTS; i++) {
		sqlite3_finalize(c->slots[i].st);
		free(c->slots[i].sql);
	}
	sqlite3_set_clientdata(c->db, CLIENTDATA, NULL, NULL);
	memset(c, 0, sizeof(*c));
}

int sp_stmt_get(struct sp_stmt_cache *c, const char *sql, sqlite3_stmt **st_r)
{
	struct sp_stmt_slot *victim = NULL;
	for (size_t i = 0; i < SP_STMT_CACHE_SLOTS; i++) {
		struct sp_stmt_slot *s = &c->slots[i];
		if (s->in_use)
			continue;
		if (s->sql != NULL && strcmp(s->sql, sql) == 0) {
			s->in_use = true;
			s->used = ++c->tick;
			*st_r = s->st;
			return SQLITE_OK;
		}
		if (victim == NULL || s->used < victim->used)
			victim = s;
	}
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
	if (rc != SQLITE_OK) {
		sqlite3_finalize(st);
		*st_r = NULL;
		return rc;
	}
	if (victim != NULL) {
		sqlite3_finalize(victim->st);
		free(victim->sql);
		victim->sql = sp_strdup(sql);
		victim->st = st;
		victim->in_use = true;
		victim->used = ++c->tick;
	}
	*st_r = st;
	return SQLITE_OK;
}

void sp_stmt_put(sqlite3_stmt *st)
{
	if (st == NULL)
		return;
	struct sp_stmt_cache *c = sqlite3_get_clientdata(sqlite3_db_handle(st), CLIENTDATA);
	for (size_t i = 0; c != NULL && i < SP_STMT_CACHE_SLOTS; i++) {
		if (c->slots[i].st == st) {
			sp_assert(c->slots[i].in_use);
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			c->slots[i].in_use = false;
			return;
		}
	}
	sqlite3_finalize(st);
}
