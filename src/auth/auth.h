/* Logging in to a mailbox, shared by every protocol (IMAP now, POP3,
 * submission and webmail later): resolving the address, unlocking a key
 * slot with Argon2id, a login cache so a reconnecting client skips
 * Argon2id, and a per-account slow-down after failures (issue 3).
 *
 * - An unknown address costs one dummy derivation, as a wrong password
 *   does, so timing does not reveal which addresses exist.
 * - The cache is bounded and expiring, keyed by a keyed BLAKE2b hash of
 *   (canonical address, secret) under a per-process random key, and keeps
 *   the account key in locked memory (sodium_malloc); never on disk.
 *   Revoking a slot purges its entries.
 * - Failures slow an account down (auth_wait_ms: the protocol waits that
 *   long before it starts the next attempt) but never lock it: the right
 *   password always works once its turn comes, and a success resets it.
 *
 * auth_login blocks (SQLite, Argon2id): worker threads only. All
 * functions are thread-safe. */
#ifndef AUTH_H
#define AUTH_H

#include "accounts/accounts.h"

struct auth;

struct auth_config {
	const char *accounts_path;
	unsigned cache_max;    /* entries; 0 = 1024 */
	uint64_t cache_ttl_ms; /* 0 = 15 minutes */
	uint64_t slow_base_ms; /* first failure's wait; 0 = 500 ms */
	uint64_t slow_max_ms;  /* cap; 0 = 30 s */
};

struct auth *auth_new(const struct auth_config *config);
void auth_free(struct auth **auth);

enum auth_status {
	AUTH_OK,
	AUTH_FAILED,   /* unknown address, wrong secret, disabled or no mailbox */
	AUTH_TEMPFAIL, /* accounts.db unreadable and the like */
};

struct auth_result {
	char address[ADDRESS_MAX_LEN + 1]; /* canonical alias */
	char mailbox_id[ACCOUNTS_MAILBOX_ID_LEN + 1];
	char slot_id[ACCOUNTS_SLOT_ID_LEN + 1];
	struct keys_secret *ak; /* the account key; the caller frees it */
	bool cached;            /* no Argon2id ran */
};

enum auth_status auth_login(struct auth *auth, const char *address, const char *secret,
                            struct auth_result *result_r);

/* How long to wait before starting a login attempt for address (0 when
 * the account has no recent failures). */
uint64_t auth_wait_ms(struct auth *auth, const char *address);

/* Drops cached logins of one slot (slot_id) or of a whole mailbox (NULL). */
void auth_purge(struct auth *auth, const char *mailbox_id, const char *slot_id);

#endif
