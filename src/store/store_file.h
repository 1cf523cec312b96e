/* Opening a mailbox file: SQLite3MultipleCiphers with cipher=chacha20
 * (ChaCha20-Poly1305, the sqleet scheme) keyed with the raw DEK, so no key
 * derivation runs on open, and the PRAGMAs of DESIGN section 3
 * (journal_mode=WAL, synchronous=FULL, busy_timeout=5000, foreign_keys=ON,
 * encoding UTF-8). The message schema itself is the store's (store.h). */
#ifndef STORE_FILE_H
#define STORE_FILE_H

#include "keys/keys.h"

#include <sqlite3.h>

/* Opens (create: creates) the file at path with dek. A wrong key, a file
 * that is not a mailbox, or a damaged header fail here, not at the first
 * query. 0 with *db_r; -1 with a message in err (size errlen). */
int store_file_open(const char *path, const struct keys_secret *dek, bool create, sqlite3 **db_r,
                    char *err, size_t errlen);
void store_file_close(sqlite3 **db);

/* For bench_store only: from now on store_file_open ignores the key and
 * opens files unencrypted, so the benchmark can measure what encryption
 * costs in the same build. Nothing in the server or the CLI calls it. */
void store_file_plaintext_for_benchmark(void);

/* Re-encrypts the file under new_dek (the caller has it open with the old
 * key and no other connection uses it). WAL is switched off for the
 * rekey, which SQLite3MC requires, and back on after. 0 ok, -1 with err. */
int store_file_rekey(sqlite3 *db, const struct keys_secret *new_dek, char *err, size_t errlen);

#endif
