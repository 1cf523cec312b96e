/* The statement cache: the same SQL gets the same compiled statement back
 * once it was given back, a statement still out is never handed out
 * twice, and more distinct statements than slots evict the least
 * recently used without losing correctness. */
#include "db/sp_stmt_cache.h"
#include "lib/sp_test.h"

#include <stdio.h>

SP_TEST_MAIN_DEFS

static sqlite3 *mem_db(void)
{
	sqlite3 *db = NULL;
	SP_CHECK_INT(sqlite3_open(":memory:", &db), SQLITE_OK);
	SP_CHECK_INT(sqlite3_exec(db, "CREATE TABLE t(x); INSERT INTO t VALUES (1), (2), (3)", NULL,
	                          NULL, NULL),
	             SQLITE_OK);
	return db;
}

static int count_above(struct sp_stmt_cache *c, int x)
{
	sqlite3_stmt *st;
	if (sp_stmt_get(c, "SELECT count(*) FROM t WHERE x > ?", &st) != SQLITE_OK)
		return -1;
	sqlite3_bind_int(st, 1, x);
	int n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
	sp_stmt_put(st);
	return n;
}

static void test_reuse(void)
{
	sqlite3 *db = mem_db();
	struct sp_stmt_cache c;
	sp_stmt_cache_init(&c, db);
	sqlite3_stmt *a, *b;
	SP_CHECK_INT(sp_stmt_get(&c, "SELECT x FROM t ORDER BY x", &a), SQLITE_OK);
	SP_CHECK_INT(sqlite3_step(a), SQLITE_ROW); /* left half-read */
	/* still out: the same text gets a different statement */
	SP_CHECK_INT(sp_stmt_get(&c, "SELECT x FROM t ORDER BY x", &b), SQLITE_OK);
	SP_CHECK(a != b);
	sp_stmt_put(b);
	sp_stmt_put(a);
	/* given back: the cached one, reset (it starts from the first row) */
	sqlite3_stmt *again;
	SP_CHECK_INT(sp_stmt_get(&c, "SELECT x FROM t ORDER BY x", &again), SQLITE_OK);
	SP_CHECK(again == a || again == b);
	SP_CHECK_INT(sqlite3_step(again), SQLITE_ROW);
	SP_CHECK_INT(sqlite3_column_int(again, 0), 1);
	sp_stmt_put(again);
	/* bindings are cleared between uses */
	SP_CHECK_INT(count_above(&c, 1), 2);
	sqlite3_stmt *st;
	SP_CHECK_INT(sp_stmt_get(&c, "SELECT count(*) FROM t WHERE x > ?", &st), SQLITE_OK);
	SP_CHECK_INT(sqlite3_step(st), SQLITE_ROW);
	SP_CHECK_INT(sqlite3_column_int(st, 0), 0); /* NULL bound: x > NULL is never true */
	sp_stmt_put(st);
	SP_CHECK(sp_stmt_get(&c, "SELECT nonsense FROM", &st) != SQLITE_OK);
	SP_CHECK(st == NULL);
	sp_stmt_cache_deinit(&c);
	SP_CHECK_INT(sqlite3_close(db), SQLITE_OK); /* nothing left unfinalized */
}

static void test_eviction(void)
{
	sqlite3 *db = mem_db();
	struct sp_stmt_cache c;
	sp_stmt_cache_init(&c, db);
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < SP_STMT_CACHE_SLOTS * 2; i++) {
			char sql[64];
			snprintf(sql, sizeof(sql), "SELECT %d + count(*) FROM t", i);
			sqlite3_stmt *st;
			SP_CHECK_INT(sp_stmt_get(&c, sql, &st), SQLITE_OK);
			SP_CHECK_INT(sqlite3_step(st), SQLITE_ROW);
			SP_CHECK_INT(sqlite3_column_int(st, 0), i + 3);
			sp_stmt_put(st);
		}
	}
	sp_stmt_cache_deinit(&c);
	SP_CHECK_INT(sqlite3_close(db), SQLITE_OK);
}

int main(void)
{
	SP_TEST_RUN(test_reuse);
	SP_TEST_RUN(test_eviction);
	return sp_test_finish();
}
