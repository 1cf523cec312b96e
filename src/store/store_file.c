/* Mailbox file open/rekey through SQLite3MC (DESIGN sections 2 and 3). */
#include "store/store_file.h"
#include "store/store_cipher.h"
#include "lib/sp_str.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

static bool plaintext_for_benchmark;

void store_file_plaintext_for_benchmark(void)
{
	plaintext_for_benchmark = true;
}

static int exec(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "%s", msg != NULL ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static int apply_key(sqlite3 *db, const struct keys_secret *dek, bool rekey)
{
	char raw[KEYS_DEK_RAW_HEX_SIZE];
	keys_dek_raw_hex(dek, raw);
	int rc = rekey ? sqlite3_rekey_v2(db, "main", raw, (int)strlen(raw))
	               : sqlite3_key_v2(db, "main", raw, (int)strlen(raw));
	sodium_memzero(raw, sizeof(raw));
	return rc;
}

int store_file_open(const char *path, const struct keys_secret *dek, bool create, sqlite3 **db_r,
                    char *err, size_t errlen)
{
	sqlite3 *db = NULL;
	int flags =
	    SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE | SQLITE_OPEN_EXCLUSIVE : 0);
	if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot open mailbox file: %s",
		         db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close_v2(db);
		return -1;
	}
	/* The same page format either way; ours is faster (store_cipher.h). */
	int cipher = store_cipher_id();
	if (cipher < 0)
		cipher = CODEC_TYPE_CHACHA20;
	if (!plaintext_for_benchmark && (sqlite3mc_config(db, "cipher", cipher) != cipher ||
	                                 apply_key(db, dek, false) != SQLITE_OK)) {
		snprintf(err, errlen, "cannot key mailbox file: %s", sqlite3_errmsg(db));
		sqlite3_close_v2(db);
		return -1;
	}
	sqlite3_busy_timeout(db, 5000);
	/* The first read decrypts page 1: a wrong key fails here. */
	if (exec(db, "SELECT count(*) FROM sqlite_master", err, errlen) < 0 ||
	    (create && exec(db, "PRAGMA encoding='UTF-8'", err, errlen) < 0) ||
	    exec(db,
	         "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
	         "PRAGMA temp_store=MEMORY;"
	         /* Decrypted pages: a miss costs a decryption (architecture.md). */
	         "PRAGMA cache_size=-32768; PRAGMA wal_autocheckpoint=4000;",
	         err, errlen) < 0) {
		sqlite3_close_v2(db);
		return -1;
	}
	*db_r = db;
	return 0;
}

void store_file_close(sqlite3 **db)
{
	if (*db == NULL)
		return;
	sqlite3_close_v2(*db);
	*db = NULL;
}

int store_file_rekey(sqlite3 *db, const struct keys_secret *new_dek, char *err, size_t errlen)
{
	if (exec(db, "PRAGMA journal_mode=DELETE", err, errlen) < 0)
		return -1;
	int rc = apply_key(db, new_dek, true);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "rekey failed: %s", sqlite3_errmsg(db));
		exec(db, "PRAGMA journal_mode=WAL", err, errlen);
		return -1;
	}
	return exec(db, "PRAGMA journal_mode=WAL", err, errlen);
}
