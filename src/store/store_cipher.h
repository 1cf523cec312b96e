/* The page cipher of mailbox files: SQLite3MC's "chacha20" page format
 * (ChaCha20-Poly1305, the sqleet scheme, 32 reserved bytes per page)
 * computed with OpenSSL's vectorised ChaCha20 and Poly1305 instead of
 * SQLite3MC's portable C. Same bytes on disk: a file written with one opens
 * with the other, so any SQLite3MC tool still opens a mailbox with
 * `PRAGMA cipher='chacha20'` and its raw key. Raw keys only ("raw:" and 64
 * hex digits): mailbox keys are random, there is no passphrase to derive. */
#ifndef STORE_CIPHER_H
#define STORE_CIPHER_H

#include <stddef.h>
#include <stdint.h>

/* Registers the cipher with SQLite3MC once per process and returns its
 * cipher id for sqlite3mc_config(db, "cipher", id); -1 if registration
 * failed (then callers use SQLite3MC's own chacha20). Thread-safe. */
int store_cipher_id(void);

/* The keystream step shared by both directions, exposed for its unit test:
 * XORs buf with ChaCha20 (RFC 8439 block function) under key and the
 * 12-byte nonce starting at block counter, which wraps at 2^32 without
 * touching the nonce, as SQLite3MC's implementation does. Returns 0, or
 * -1 if the cipher is not registered or OpenSSL failed. */
int store_cipher_xor(uint8_t *buf, size_t len, const uint8_t key[32], const uint8_t nonce[12],
                     uint32_t counter);

#endif
