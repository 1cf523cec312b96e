/* accounts.db: domains, aliases, mailboxes, key slots and the domains an
 * account administers. A plain (unencrypted) SQLite file: it holds
 * addresses and configuration, never mail; the secrets in it (slots, the
 * wrapped DEK and X25519 secret key) are only usable with a password.
 * Schema versioned with PRAGMA user_version and forward migrations.
 * Not thread-safe: one struct accounts per thread. */
#ifndef ACCOUNTS_H
#define ACCOUNTS_H

#include "accounts/address.h"
#include "keys/keys.h"
#include "lib/sp_buf.h"

#define ACCOUNTS_MAILBOX_ID_LEN 26 /* lowercase base32 of 128 random bits */
#define ACCOUNTS_SLOT_ID_LEN 8

struct accounts;

enum accounts_err {
	ACCOUNTS_OK = 0,
	ACCOUNTS_ERR_NOT_FOUND,
	ACCOUNTS_ERR_EXISTS,
	ACCOUNTS_ERR_INVALID,
	ACCOUNTS_ERR_REFUSED,
	ACCOUNTS_ERR_IO,
};

/* Opens (create=true: creates and migrates) DIR/accounts.db. */
int accounts_open(const char *path, bool create, struct accounts **acc_r, const char **error_r);
void accounts_close(struct accounts **acc);
/* The last SQLite or validation message (valid until the next call). */
const char *accounts_error(struct accounts *acc);

int accounts_begin(struct accounts *acc);
int accounts_commit(struct accounts *acc);
void accounts_rollback(struct accounts *acc);

/* Domains. Adding one also creates its postmaster alias (RFC 5321 §4.5.1). */
enum accounts_err accounts_domain_add(struct accounts *acc, const char *domain);
enum accounts_err accounts_domain_remove(struct accounts *acc, const char *domain);
/* Appends one canonical domain per line to out. */
int accounts_domain_list(struct accounts *acc, struct sp_buf *out);
bool accounts_domain_exists(struct accounts *acc, const char *domain);

struct accounts_mailbox {
	char id[ACCOUNTS_MAILBOX_ID_LEN + 1];
	uint8_t public_key[32];
	struct sp_buf sk_wrapped;  /* X25519 secret key wrapped under the AK */
	struct sp_buf dek_wrapped; /* mailbox file key wrapped under the AK */
	/* A rekey in progress: the new DEK is recorded before the file is
	 * re-encrypted, so a crash in between leaves a key that opens it. */
	struct sp_buf dek_next_wrapped;
	uint64_t quota; /* bytes, 0 = unlimited */
	uint64_t bytes_used;
};
void accounts_mailbox_deinit(struct accounts_mailbox *mb);

struct accounts_slot {
	char id[ACCOUNTS_SLOT_ID_LEN + 1];
	char mailbox_id[ACCOUNTS_MAILBOX_ID_LEN + 1];
	char kind[16];  /* "password", "app", "recovery" */
	char label[65]; /* "" for the unlabelled first password */
	char created[32];
	struct sp_buf record; /* the keys module's serialised slot */
};
void accounts_slot_deinit(struct accounts_slot *slot);

struct accounts_alias {
	int64_t id;
	char address[ADDRESS_MAX_LEN + 1]; /* canonical */
	bool enabled;
	bool postmaster;
	char mailbox_id[ACCOUNTS_MAILBOX_ID_LEN + 1]; /* "" for forward-only */
	uint64_t quota;
	unsigned forwards, webhooks;
};

/* Creates a random mailbox id. */
void accounts_mailbox_id_new(char id[ACCOUNTS_MAILBOX_ID_LEN + 1]);

/* Inserts a mailbox row; the caller fills id, keys and quota. */
enum accounts_err accounts_mailbox_add(struct accounts *acc, const struct accounts_mailbox *mb);
enum accounts_err accounts_mailbox_get(struct accounts *acc, const char *id,
                                       struct accounts_mailbox *mb_r);
enum accounts_err accounts_mailbox_set_dek_next(struct accounts *acc, const char *id,
                                                const uint8_t *dek_wrapped, size_t len);
/* Sets the DEK and clears any pending next DEK. */
enum accounts_err accounts_mailbox_set_dek(struct accounts *acc, const char *id,
                                           const uint8_t *dek_wrapped, size_t len);
enum accounts_err accounts_mailbox_set_usage(struct accounts *acc, const char *id,
                                             uint64_t bytes_used);

/* Adds an alias for a parsed address (its tag must be empty). mailbox_id
 * may be NULL for a forward-only alias. Forwards and webhooks are stored
 * (they take effect in a later release). */
enum accounts_err accounts_alias_add(struct accounts *acc, const struct address *addr,
                                     const char *mailbox_id, const char *const *forwards,
                                     size_t n_forwards, const char *const *webhooks,
                                     size_t n_webhooks);
/* Removes an alias. *orphan_mailbox_r receives the id of a mailbox that no
 * alias delivers to any more (now deleted from accounts.db: the caller
 * unlinks its file), or "" when none. */
enum accounts_err accounts_alias_remove(struct accounts *acc, const struct address *addr,
                                        char orphan_mailbox_r[ACCOUNTS_MAILBOX_ID_LEN + 1]);
enum accounts_err accounts_alias_set_enabled(struct accounts *acc, const struct address *addr,
                                             bool enabled);
/* Appends "address<TAB>mailbox|forward-only<TAB>enabled|disabled<TAB>forwards" lines. */
int accounts_alias_list(struct accounts *acc, const char *domain, struct sp_buf *out);

/* Resolves an address as delivery sees it: exact canonical match first,
 * then the address without its +tag; the postmaster alias of a domain with
 * no mailbox of its own resolves to the domain's oldest mailbox alias. */
enum accounts_err accounts_resolve(struct accounts *acc, const struct address *addr,
                                   struct accounts_alias *alias_r);

/* Key slots. */
enum accounts_err accounts_slot_add(struct accounts *acc, const struct accounts_slot *slot);
enum accounts_err accounts_slot_get(struct accounts *acc, const char *mailbox_id,
                                    const char *slot_id, struct accounts_slot *slot_r);
/* Calls fn for every slot of a mailbox (stops when fn returns non-zero,
 * and returns that value). */
int accounts_slot_foreach(struct accounts *acc, const char *mailbox_id,
                          int (*fn)(const struct accounts_slot *slot, void *ctx), void *ctx);
/* Removes the slot with this label ("" = the first password); fills
 * slot_id_r with the removed slot's id. */
enum accounts_err accounts_slot_remove_label(struct accounts *acc, const char *mailbox_id,
                                             const char *label,
                                             char slot_id_r[ACCOUNTS_SLOT_ID_LEN + 1]);
enum accounts_err accounts_slot_remove(struct accounts *acc, const char *slot_id);

/* A per-thread accounts.db handle for worker threads, opened on first use
 * and closed when the thread exits (the path must not change). NULL with
 * *error_r on failure. */
struct accounts *accounts_thread_handle(const char *path, const char **error_r);

/* Key slots as keys_slot records (accounts_keys.c). */
void accounts_slot_encode(const struct keys_slot *k, struct sp_buf *out);
int accounts_slot_decode(const struct accounts_slot *row, struct keys_slot *k);
/* Unlocks a mailbox with a password, app password or recovery key: the
 * slot named by the secret's own slot id, else every slot in turn (for
 * user-chosen passwords). 0 with *ak_r and the slot used; -1 when no slot
 * opens. Runs Argon2id: never on the event loop. */
int accounts_unlock(struct accounts *acc, const char *mailbox_id, const char *secret,
                    struct keys_secret **ak_r, struct accounts_slot *slot_r);
/* Unwraps the DEK of a mailbox row; with a pending rekey, *next_r (may be
 * NULL) receives the next DEK as well. 0 ok, -1 on a damaged row. */
int accounts_mailbox_dek(const struct accounts_mailbox *mb, const struct keys_secret *ak,
                         struct keys_secret **dek_r, struct keys_secret **next_r);

#endif
