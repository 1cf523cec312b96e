/* Key hierarchy of a mailbox: account key, key slots, data key, X25519 pair.
 *
 * Decided by the lead (DESIGN section 2, issue 3), refined here:
 *
 *   password / app password / recovery key
 *        | Argon2id(secret, salt[16], opslimit, memlimit)      (one per slot)
 *        v
 *       KEK --XChaCha20-Poly1305--> wrapped AK            (struct keys_slot)
 *                                   AD = "sealpost/slot/v1" 0 mailbox_id 0
 *                                        slot_id kind opslimit memlimit
 *       AK  (account key, 256 bits random, never leaves locked memory,
 *        |   never printed; a successful unwrap of a slot IS the password
 *        |   check)
 *        +--XChaCha20-Poly1305--> wrapped DEK  AD = "sealpost/dek/v1" 0 mailbox_id
 *        +--XChaCha20-Poly1305--> wrapped X25519 sk  AD = "sealpost/sk/v1" 0 mailbox_id
 *
 *   DEK (data key, 256 bits random): keys the mailbox file through
 *       SQLite3MC as "raw:" + 64 hex digits (keys_dek_raw_hex). `rekey`
 *       rotates only the DEK (new DEK, re-encrypt the file, rewrap under
 *       the AK), so every slot stays valid and a raw key printed earlier by
 *       `sealpost mailbox key` no longer opens the new file.
 *   X25519 pair: the public key is stored in the clear (the MX seals spool
 *       entries to it); keys_box_check() verifies that the public key in
 *       accounts.db matches the unwrapped secret key (a swapped public key
 *       would divert new mail to whoever holds its secret half).
 *
 * The additional data binds every wrapped blob to its mailbox id (and a
 * slot to its id and kind), so a row copied onto another mailbox or slot
 * does not open. All secrets (AK, DEK, KEK, X25519 sk, passwords) live in
 * sodium_malloc memory (guard pages, mlocked) via struct keys_secret and are
 * wiped by sodium_free. No function here logs or prints a secret.
 *
 * Generated secrets carry their slot id, so a login derives once:
 *   password      "<slot id>-<26 base32>"                 130 bits of entropy
 *   recovery key  "R-<slot id>-xxxx-xxxx-...-xxxx" (13 groups of 4 base32,
 *                                                          260 bits)
 * The base32 alphabet is lowercase without look-alikes ("0o", "1l"):
 * "23456789abcdefghijkmnpqrstuvwxyz". Input of either shape is accepted in
 * any case (and a recovery key with spaces instead of dashes): it is
 * canonicalised before derivation, identically when sealing and opening.
 *
 * Thread safety: every function is safe to call from any thread. */
#ifndef KEYS_H
#define KEYS_H

#include "lib/sp_mem.h"

#define KEYS_KEY_LEN 32         /* AK, DEK, KEK, X25519 keys */
#define KEYS_SLOT_ID_LEN 8      /* base32 characters */
#define KEYS_SALT_LEN 16        /* crypto_pwhash_SALTBYTES */
#define KEYS_NONCE_LEN 24       /* XChaCha20-Poly1305 */
#define KEYS_WRAPPED_KEY_LEN 48 /* 32-byte key + 16-byte tag */
/* A wrapped DEK or X25519 secret key as one blob: nonce || ciphertext. */
#define KEYS_BLOB_LEN (KEYS_NONCE_LEN + KEYS_WRAPPED_KEY_LEN)
#define KEYS_PASSWORD_LEN (KEYS_SLOT_ID_LEN + 1 + 26)              /* 35 */
#define KEYS_RECOVERY_LEN (2 + KEYS_SLOT_ID_LEN + 1 + 13 * 4 + 12) /* 75 */
#define KEYS_DEK_RAW_HEX_SIZE (4 + 64 + 1)                         /* "raw:" hex NUL */
/* Longest secret text accepted (user-chosen passwords included). */
#define KEYS_SECRET_TEXT_MAX 1024
/* Bounds accepted by keys_slot_open before any derivation, so a tampered
 * or corrupt slot row cannot make a login burn minutes or gigabytes. */
#define KEYS_OPSLIMIT_MAX 16
#define KEYS_MEMLIMIT_MAX (1024ULL * 1024 * 1024)

/* Bytes in sodium_malloc memory (guarded, mlocked); len bytes at p. Text
 * secrets (passwords) are NUL-terminated after len. */
struct keys_secret {
	uint8_t *p;
	size_t len;
};

/* Initialises libsodium; idempotent and thread-safe. Every other function
 * calls it; call it once early so a failure is reported at start-up.
 * 0 ok, -1 when libsodium cannot initialise. */
int keys_init(void);

/* A zeroed secret of len bytes (plus a NUL byte after len). Aborts when
 * locked memory cannot be allocated (as sp_malloc does). */
struct keys_secret *keys_secret_new(size_t len);
/* len random bytes. */
struct keys_secret *keys_secret_random(size_t len);
/* A copy of len bytes of p (the caller wipes its own copy). */
struct keys_secret *keys_secret_from(const void *p, size_t len);
/* Wipes and frees *s; accepts NULL; sets *s to NULL. */
void keys_secret_free(struct keys_secret **s);

/* Argon2id cost of a slot. */
struct keys_kdf_params {
	uint64_t opslimit;
	uint64_t memlimit; /* bytes */
};

/* crypto_pwhash_OPSLIMIT_INTERACTIVE / MEMLIMIT_INTERACTIVE, except that
 * the environment variable SEALPOST_TEST_KDF=fast selects opslimit 1 and
 * memlimit 8 MiB. That setting is for tests only: it makes offline
 * guessing of a stolen slot far cheaper. */
struct keys_kdf_params keys_kdf_params_default(void);

enum keys_slot_kind {
	KEYS_SLOT_PASSWORD = 1,
	KEYS_SLOT_APP = 2,
	KEYS_SLOT_RECOVERY = 3,
};

/* A key slot as the accounts database stores it (plain fields; its label
 * is the accounts layer's business). Nothing here is secret on its own. */
struct keys_slot {
	char id[KEYS_SLOT_ID_LEN + 1]; /* NUL-terminated base32 */
	enum keys_slot_kind kind;
	uint8_t salt[KEYS_SALT_LEN];
	uint64_t opslimit;
	uint64_t memlimit;
	uint8_t nonce[KEYS_NONCE_LEN];
	uint8_t wrapped_ak[KEYS_WRAPPED_KEY_LEN];
};

/* A fresh random slot id into id_r (KEYS_SLOT_ID_LEN + 1 bytes). Ids are
 * random, 40 bits; the accounts layer rejects a duplicate within a mailbox
 * and draws again. */
void keys_slot_id_generate(char id_r[KEYS_SLOT_ID_LEN + 1]);
/* true when id is exactly KEYS_SLOT_ID_LEN alphabet characters. */
bool keys_slot_id_valid(const char *id);
/* "password", "app", "recovery"; NULL for an unknown kind. */
const char *keys_slot_kind_name(enum keys_slot_kind kind);

/* Seals ak (KEYS_KEY_LEN bytes) into *slot under secret (NUL-terminated
 * text, at most KEYS_SECRET_TEXT_MAX bytes) with a fresh salt and nonce.
 * slot_id must be valid; mailbox_id is non-empty text. Runs Argon2id
 * (slow: call it off the event loop). 0 ok; -1 with *error_r on a bad
 * argument or when the derivation fails (memory). */
int keys_slot_seal(const struct keys_secret *ak, const char *mailbox_id, const char *slot_id,
                   enum keys_slot_kind kind, const char *secret, struct keys_kdf_params params,
                   struct keys_slot *slot, const char **error_r);
/* Derives the KEK from secret and unwraps the AK of *slot for mailbox_id.
 * 0 with *ak_r (caller frees with keys_secret_free); -1 when the secret is
 * wrong, the slot belongs to another mailbox, or any field was altered
 * (these cases are indistinguishable on purpose), or the slot's cost
 * parameters are out of bounds. Runs Argon2id. */
int keys_slot_open(const struct keys_slot *slot, const char *mailbox_id, const char *secret,
                   struct keys_secret **ak_r);
/* The same work as a failing keys_slot_open (one Argon2id with params and
 * one AEAD check) for a login to an address that does not exist, so
 * timing does not reveal which addresses exist. Always returns -1. */
int keys_slot_open_dummy(const char *secret, struct keys_kdf_params params);

/* A new generated password "<slot_id>-<26 base32>" as NUL-terminated text
 * in locked memory (len KEYS_PASSWORD_LEN). slot_id must be valid. */
struct keys_secret *keys_password_generate(const char *slot_id);
/* A new recovery key "R-<slot_id>-xxxx-...-xxxx" (len KEYS_RECOVERY_LEN). */
struct keys_secret *keys_recovery_generate(const char *slot_id);
/* Returns 1 and the slot id in id_r when text has the shape of a generated
 * password or a recovery key (in any case; for a recovery key, dashes or
 * spaces between groups), else 0: then the login tries the mailbox's slots
 * that hold user-chosen passwords. Never reads past the NUL. */
int keys_password_slot_id(const char *text, char id_r[KEYS_SLOT_ID_LEN + 1]);

/* Wraps dek (KEYS_KEY_LEN bytes) under ak for mailbox_id into blob_r. */
void keys_dek_wrap(const struct keys_secret *ak, const char *mailbox_id,
                   const struct keys_secret *dek, uint8_t blob_r[KEYS_BLOB_LEN]);
/* 0 with *dek_r, or -1 when the blob was altered or belongs to another
 * mailbox or AK. */
int keys_dek_unwrap(const struct keys_secret *ak, const char *mailbox_id,
                    const uint8_t blob[KEYS_BLOB_LEN], struct keys_secret **dek_r);
/* The SQLite3MC key string "raw:" + 64 lowercase hex digits of dek into
 * out. out holds the key: put it in locked memory (keys_secret_new) or
 * wipe it (sodium_memzero) as soon as sqlite3_key_v2 or the print is done. */
void keys_dek_raw_hex(const struct keys_secret *dek, char out[KEYS_DEK_RAW_HEX_SIZE]);

/* A new X25519 pair: the public key into pk_r, the secret key wrapped
 * under ak (AD binds mailbox_id) into sk_blob_r. */
void keys_box_keypair_new(const struct keys_secret *ak, const char *mailbox_id,
                          uint8_t pk_r[KEYS_KEY_LEN], uint8_t sk_blob_r[KEYS_BLOB_LEN]);
/* 0 with the secret key in *sk_r, -1 when the blob does not open. */
int keys_box_sk_open(const struct keys_secret *ak, const char *mailbox_id,
                     const uint8_t sk_blob[KEYS_BLOB_LEN], struct keys_secret **sk_r);
/* 0 when pk is the public half of sk, -1 otherwise (constant time). */
int keys_box_check(const uint8_t pk[KEYS_KEY_LEN], const struct keys_secret *sk);

#endif
