/* The mailbox page cipher (store_cipher.c) against SQLite3MC's own
 * chacha20: files written by either open with the other, a flipped byte is
 * caught by the tag, and the keystream wraps its 32-bit counter as
 * SQLite3MC's does. */
#include "store/store_cipher.h"
#include "store/store_file.h"
#include "store/test_store_util.h"

#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

SP_TEST_MAIN_DEFS

#define ROWS 300
#define ROW_LEN 1500

/* Opens path with SQLite3MC's own chacha20 cipher and the raw key. */
static sqlite3 *open_stock(const char *path, const struct keys_secret *dek)
{
	sqlite3 *db = NULL;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK)
		return NULL;
	char raw[KEYS_DEK_RAW_HEX_SIZE], sql[128];
	keys_dek_raw_hex(dek, raw);
	snprintf(sql, sizeof(sql), "PRAGMA cipher='chacha20'; PRAGMA key='%s';", raw);
	sodium_memzero(raw, sizeof(raw));
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		sqlite3_close(db);
		return NULL;
	}
	sodium_memzero(sql, sizeof(sql));
	return db;
}

/* Row i holds ROW_LEN bytes derived from i, so a reader can check them. */
static void row_bytes(int i, uint8_t out[ROW_LEN])
{
	uint8_t seed[randombytes_SEEDBYTES] = {(uint8_t)i, (uint8_t)(i >> 8)};
	randombytes_buf_deterministic(out, ROW_LEN, seed);
}

static int write_rows(sqlite3 *db, int from, int to)
{
	if (sqlite3_exec(db, "CREATE TABLE IF NOT EXISTS t(i INTEGER PRIMARY KEY, b BLOB)", NULL,
	                 NULL, NULL) != SQLITE_OK)
		return -1;
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "INSERT INTO t VALUES (?, ?)", -1, &st, NULL) != SQLITE_OK)
		return -1;
	int rc = 0;
	uint8_t b[ROW_LEN];
	for (int i = from; i < to && rc == 0; i++) {
		row_bytes(i, b);
		sqlite3_bind_int(st, 1, i);
		sqlite3_bind_blob(st, 2, b, ROW_LEN, SQLITE_STATIC);
		rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	return rc;
}

/* Number of rows 0..n-1 present with their exact bytes; -1 on a read error. */
static int check_rows(sqlite3 *db, int n)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "SELECT i, b FROM t ORDER BY i", -1, &st, NULL) != SQLITE_OK)
		return -1;
	int good = 0, rc;
	uint8_t b[ROW_LEN];
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int i = sqlite3_column_int(st, 0);
		row_bytes(i, b);
		if (i < n && sqlite3_column_bytes(st, 1) == ROW_LEN &&
		    memcmp(sqlite3_column_blob(st, 1), b, ROW_LEN) == 0)
			good++;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? good : -1;
}

/* A mailbox file in a fresh temporary directory, removed by tdir_remove. */
static void temp_path(char *dir, size_t dirlen, char *path, size_t len)
{
	tdir_make(dir, dirlen);
	snprintf(path, len, "%s/mbox.sqlite", dir);
}

static void test_registered(void)
{
	SP_CHECK(store_cipher_id() > 0);
	SP_CHECK_INT(store_cipher_id(), sqlite3mc_cipher_index("sp_chacha20"));
}

/* Written by SQLite3MC, read and extended by ours, read back by SQLite3MC. */
static void test_both_directions(void)
{
	char dir[256], path[512], err[256];
	temp_path(dir, sizeof(dir), path, sizeof(path));
	struct keys_secret *dek = keys_secret_random(KEYS_KEY_LEN);
	sqlite3 *db = open_stock(path, dek);
	SP_CHECK(db != NULL);
	SP_CHECK_INT(write_rows(db, 0, ROWS), 0);
	sqlite3_close(db);

	SP_CHECK_INT(store_file_open(path, dek, false, &db, err, sizeof(err)), 0);
	SP_CHECK_INT(check_rows(db, ROWS), ROWS);
	SP_CHECK_INT(write_rows(db, ROWS, 2 * ROWS), 0);
	/* a checkpoint rewrites the main file's pages with our cipher */
	SP_CHECK_INT(sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL),
	             SQLITE_OK);
	store_file_close(&db);

	db = open_stock(path, dek);
	SP_CHECK(db != NULL);
	SP_CHECK_INT(check_rows(db, 2 * ROWS), 2 * ROWS);
	sqlite3_close(db);

	/* a wrong key is refused by either */
	struct keys_secret *other = keys_secret_random(KEYS_KEY_LEN);
	SP_CHECK_INT(store_file_open(path, other, false, &db, err, sizeof(err)), -1);
	keys_secret_free(&other);
	keys_secret_free(&dek);
	tdir_remove(dir);
}

/* A flipped bit in a page written by ours makes that page unreadable. */
static void test_tamper(void)
{
	char dir[256], path[512], err[256];
	temp_path(dir, sizeof(dir), path, sizeof(path));
	struct keys_secret *dek = keys_secret_random(KEYS_KEY_LEN);
	sqlite3 *db;
	SP_CHECK_INT(store_file_open(path, dek, true, &db, err, sizeof(err)), 0);
	SP_CHECK_INT(write_rows(db, 0, ROWS), 0);
	SP_CHECK_INT(sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL),
	             SQLITE_OK);
	store_file_close(&db);
	int fd = open(path, O_RDWR);
	SP_CHECK(fd >= 0);
	uint8_t byte;
	off_t at = 4096 * 20 + 100; /* inside a table page */
	SP_CHECK_INT(pread(fd, &byte, 1, at), 1);
	byte ^= 0x01;
	SP_CHECK_INT(pwrite(fd, &byte, 1, at), 1);
	close(fd);
	SP_CHECK_INT(store_file_open(path, dek, false, &db, err, sizeof(err)), 0);
	SP_CHECK_INT(check_rows(db, ROWS), -1);
	SP_CHECK_INT(sqlite3_errcode(db), SQLITE_CORRUPT);
	store_file_close(&db);
	keys_secret_free(&dek);
	tdir_remove(dir);
}

/* Across the 2^32 block boundary the counter restarts at 0 under the same
 * nonce: blocks 0xffffffff, 0 and 1, each computed alone. */
static void test_counter_wrap(void)
{
	uint8_t key[32], nonce[12], got[192] = {0}, want[192] = {0};
	randombytes_buf(key, sizeof(key));
	randombytes_buf(nonce, sizeof(nonce));
	SP_CHECK_INT(store_cipher_xor(got, sizeof(got), key, nonce, UINT32_MAX), 0);
	crypto_stream_chacha20_ietf_xor_ic(want, want, 64, nonce, UINT32_MAX, key);
	crypto_stream_chacha20_ietf_xor_ic(want + 64, want + 64, 64, nonce, 0, key);
	crypto_stream_chacha20_ietf_xor_ic(want + 128, want + 128, 64, nonce, 1, key);
	SP_CHECK(memcmp(got, want, sizeof(got)) == 0);
	/* and a stream that does not reach the boundary is the plain one */
	memset(got, 0, sizeof(got));
	memset(want, 0, sizeof(want));
	SP_CHECK_INT(store_cipher_xor(got, sizeof(got), key, nonce, 7), 0);
	crypto_stream_chacha20_ietf_xor_ic(want, want, sizeof(want), nonce, 7, key);
	SP_CHECK(memcmp(got, want, sizeof(got)) == 0);
}

/* A new file at path under dek with rows rows, written in one transaction
 * straight to the file (no WAL), so that each page is encrypted once, with
 * the nonces that the thread's pool hands out next. */
static int write_file(const char *path, const struct keys_secret *dek, int rows)
{
	char err[256];
	sqlite3 *db;
	if (store_file_open(path, dek, true, &db, err, sizeof(err)) < 0)
		return -1;
	int rc =
	    sqlite3_exec(db, "PRAGMA journal_mode=DELETE; BEGIN", NULL, NULL, NULL) == SQLITE_OK
	        ? write_rows(db, 0, rows)
	        : -1;
	if (rc == 0 && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		rc = -1;
	store_file_close(&db);
	return rc;
}

/* The nonces of the pages of the file at path (the 16 bytes after each
 * page's body); returns how many. */
static size_t read_nonces(const char *path, uint8_t (*nonces)[16], size_t max)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	uint8_t page[4096];
	size_t n = 0;
	while (n < max && pread(fd, page, sizeof(page), (off_t)n * 4096) == (ssize_t)sizeof(page)) {
		memcpy(nonces[n], page + sizeof(page) - 32, 16);
		n++;
	}
	close(fd);
	return n;
}

/* Nonces come from a per-thread pool of random bytes; a forked child must
 * not hand out the same next nonces as its parent. */
static void test_fork_fresh_nonces(void)
{
	char dir[256], path[512], cpath[600], ppath[600];
	temp_path(dir, sizeof(dir), path, sizeof(path));
	snprintf(cpath, sizeof(cpath), "%s/child.sqlite", dir);
	snprintf(ppath, sizeof(ppath), "%s/parent.sqlite", dir);
	struct keys_secret *dek = keys_secret_random(KEYS_KEY_LEN);
	static uint8_t child[512][16], parent[512][16];
	/* a few pages: afterwards the pool holds about 250 unused nonces */
	SP_CHECK_INT(write_file(path, dek, 1), 0);
	pid_t pid = fork();
	SP_CHECK(pid >= 0);
	if (pid == 0)
		_exit(write_file(cpath, dek, ROWS) == 0 ? 0 : 1);
	int status;
	SP_CHECK_INT(waitpid(pid, &status, 0), pid);
	SP_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	SP_CHECK_INT(write_file(ppath, dek, ROWS), 0);
	size_t np = read_nonces(ppath, parent, 512), nc = read_nonces(cpath, child, 512);
	SP_CHECK(np > 10 && nc > 10);
	size_t same = 0;
	for (size_t i = 0; i < np; i++) {
		for (size_t j = 0; j < nc; j++)
			same += memcmp(parent[i], child[j], 16) == 0;
	}
	SP_CHECK_INT((long long)same, 0);
	keys_secret_free(&dek);
	tdir_remove(dir);
}

int main(void)
{
	SP_CHECK_INT(keys_init(), 0);
	SP_TEST_RUN(test_registered);
	SP_TEST_RUN(test_both_directions);
	SP_TEST_RUN(test_tamper);
	SP_TEST_RUN(test_counter_wrap);
	SP_TEST_RUN(test_fork_fresh_nonces);
	return sp_test_finish();
}
