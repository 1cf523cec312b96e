/* Login: key-slot unlock, login cache and failure slow-down. */
#include "auth/auth.h"
#include "lib/sp_str.h"

#include <pthread.h>
#include <sodium.h>
#include <string.h>
#include <time.h>

#define SLOW_TABLE 4096

struct cache_entry {
	uint8_t digest[crypto_generichash_BYTES];
	char address[ADDRESS_MAX_LEN + 1];
	char mailbox_id[ACCOUNTS_MAILBOX_ID_LEN + 1];
	char slot_id[ACCOUNTS_SLOT_ID_LEN + 1];
	struct keys_secret *ak;
	uint64_t expires, used;
};

struct slow_entry {
	uint8_t digest[16]; /* of the canonical address; all zero = free */
	unsigned failures;
	uint64_t next_ms; /* monotonic time before which no attempt starts */
};

struct auth {
	struct auth_config cfg;
	char *accounts_path;
	pthread_mutex_t lock;
	uint8_t cache_key[crypto_generichash_KEYBYTES];
	struct cache_entry *cache;
	struct slow_entry slow[SLOW_TABLE];
	uint64_t clock;
};

struct auth *auth_new(const struct auth_config *config)
{
	keys_init();
	struct auth *a = sp_calloc(1, sizeof(*a));
	a->cfg = *config;
	a->accounts_path = sp_strdup(config->accounts_path);
	a->cfg.accounts_path = a->accounts_path;
	if (a->cfg.cache_max == 0)
		a->cfg.cache_max = 1024;
	if (a->cfg.cache_ttl_ms == 0)
		a->cfg.cache_ttl_ms = 15 * 60 * 1000;
	if (a->cfg.slow_base_ms == 0)
		a->cfg.slow_base_ms = 500;
	if (a->cfg.slow_max_ms == 0)
		a->cfg.slow_max_ms = 30 * 1000;
	pthread_mutex_init(&a->lock, NULL);
	randombytes_buf(a->cache_key, sizeof(a->cache_key));
	a->cache = sp_calloc(a->cfg.cache_max, sizeof(*a->cache));
	return a;
}

static void entry_clear(struct cache_entry *e)
{
	keys_secret_free(&e->ak);
	sodium_memzero(e, sizeof(*e));
}

void auth_free(struct auth **ap)
{
	struct auth *a = *ap;
	if (a == NULL)
		return;
	for (unsigned i = 0; i < a->cfg.cache_max; i++)
		entry_clear(&a->cache[i]);
	free(a->cache);
	sodium_memzero(a->cache_key, sizeof(a->cache_key));
	pthread_mutex_destroy(&a->lock);
	free(a->accounts_path);
	free(a);
	*ap = NULL;
}

static void cache_digest(struct auth *a, const char *address, const char *secret,
                         uint8_t out[crypto_generichash_BYTES])
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, a->cache_key, sizeof(a->cache_key), crypto_generichash_BYTES);
	crypto_generichash_update(&st, (const uint8_t *)address, strlen(address) + 1);
	crypto_generichash_update(&st, (const uint8_t *)secret, strlen(secret));
	crypto_generichash_final(&st, out, crypto_generichash_BYTES);
}

static struct slow_entry *slow_find(struct auth *a, const char *address, bool create)
{
	uint8_t d[16];
	crypto_generichash(d, sizeof(d), (const uint8_t *)address, strlen(address), a->cache_key,
	                   sizeof(a->cache_key));
	static const uint8_t zero[16];
	size_t start = ((size_t)d[0] << 8 | d[1]) % SLOW_TABLE;
	struct slow_entry *free_slot = NULL;
	for (size_t k = 0; k < 16; k++) {
		struct slow_entry *e = &a->slow[(start + k) % SLOW_TABLE];
		if (memcmp(e->digest, d, sizeof(d)) == 0)
			return e;
		if (free_slot == NULL && memcmp(e->digest, zero, sizeof(zero)) == 0)
			free_slot = e;
	}
	if (!create)
		return NULL;
	if (free_slot == NULL) /* a full neighbourhood: reuse the first */
		free_slot = &a->slow[start];
	memset(free_slot, 0, sizeof(*free_slot));
	memcpy(free_slot->digest, d, sizeof(d));
	return free_slot;
}

static void canonical_or_raw(const char *address, char out[ADDRESS_MAX_LEN + 1])
{
	struct address addr;
	const char *error;
	if (address_parse(address, &addr, &error) == 0)
		address_format(&addr, out, ADDRESS_MAX_LEN + 1);
	else
		sp_strlcpy(out, address, ADDRESS_MAX_LEN + 1);
}

uint64_t auth_wait_ms(struct auth *a, const char *address)
{
	char canon[ADDRESS_MAX_LEN + 1];
	canonical_or_raw(address, canon);
	uint64_t now = sp_now_ms(), wait = 0;
	pthread_mutex_lock(&a->lock);
	struct slow_entry *e = slow_find(a, canon, false);
	if (e != NULL && e->next_ms > now)
		wait = e->next_ms - now;
	pthread_mutex_unlock(&a->lock);
	return wait;
}

static void record_outcome(struct auth *a, const char *canon, bool ok)
{
	pthread_mutex_lock(&a->lock);
	struct slow_entry *e = slow_find(a, canon, !ok);
	if (e != NULL) {
		if (ok) {
			memset(e, 0, sizeof(*e));
		} else {
			e->failures++;
			uint64_t wait = a->cfg.slow_base_ms;
			for (unsigned i = 1; i < e->failures && wait < a->cfg.slow_max_ms; i++)
				wait *= 2;
			e->next_ms = sp_now_ms() + SP_MIN(wait, a->cfg.slow_max_ms);
		}
	}
	pthread_mutex_unlock(&a->lock);
}

static bool cache_lookup(struct auth *a, const uint8_t digest[crypto_generichash_BYTES],
                         struct auth_result *r)
{
	bool hit = false;
	uint64_t now = sp_now_ms();
	pthread_mutex_lock(&a->lock);
	for (unsigned i = 0; i < a->cfg.cache_max; i++) {
		struct cache_entry *e = &a->cache[i];
		if (e->ak == NULL)
			continue;
		if (e->expires <= now) {
			entry_clear(e);
			continue;
		}
		if (sodium_memcmp(e->digest, digest, sizeof(e->digest)) == 0) {
			memcpy(r->address, e->address, sizeof(r->address));
			memcpy(r->mailbox_id, e->mailbox_id, sizeof(r->mailbox_id));
			memcpy(r->slot_id, e->slot_id, sizeof(r->slot_id));
			r->ak = keys_secret_from(e->ak->p, e->ak->len);
			e->used = ++a->clock;
			hit = true;
			break;
		}
	}
	pthread_mutex_unlock(&a->lock);
	return hit;
}

static void cache_store(struct auth *a, const uint8_t digest[crypto_generichash_BYTES],
                        const struct auth_result *r)
{
	pthread_mutex_lock(&a->lock);
	struct cache_entry *victim = &a->cache[0];
	for (unsigned i = 0; i < a->cfg.cache_max; i++) {
		struct cache_entry *e = &a->cache[i];
		if (e->ak == NULL) {
			victim = e;
			break;
		}
		if (e->used < victim->used)
			victim = e;
	}
	entry_clear(victim);
	memcpy(victim->digest, digest, sizeof(victim->digest));
	memcpy(victim->address, r->address, sizeof(victim->address));
	memcpy(victim->mailbox_id, r->mailbox_id, sizeof(victim->mailbox_id));
	memcpy(victim->slot_id, r->slot_id, sizeof(victim->slot_id));
	victim->ak = keys_secret_from(r->ak->p, r->ak->len);
	victim->expires = sp_now_ms() + a->cfg.cache_ttl_ms;
	victim->used = ++a->clock;
	pthread_mutex_unlock(&a->lock);
}

void auth_purge(struct auth *a, const char *mailbox_id, const char *slot_id)
{
	pthread_mutex_lock(&a->lock);
	for (unsigned i = 0; i < a->cfg.cache_max; i++) {
		struct cache_entry *e = &a->cache[i];
		if (e->ak != NULL && strcmp(e->mailbox_id, mailbox_id) == 0 &&
		    (slot_id == NULL || strcmp(e->slot_id, slot_id) == 0))
			entry_clear(e);
	}
	pthread_mutex_unlock(&a->lock);
}

enum auth_status auth_login(struct auth *a, const char *address, const char *secret,
                            struct auth_result *r)
{
	memset(r, 0, sizeof(*r));
	char canon[ADDRESS_MAX_LEN + 1];
	canonical_or_raw(address, canon);
	uint8_t digest[crypto_generichash_BYTES];
	cache_digest(a, canon, secret, digest);
	if (cache_lookup(a, digest, r)) {
		/* The slot may have been removed by another process (a CLI
		 * without the server): check that it still exists. */
		const char *error;
		struct accounts *acc = accounts_thread_handle(a->accounts_path, &error);
		struct accounts_slot slot;
		memset(&slot, 0, sizeof(slot));
		if (acc != NULL &&
		    accounts_slot_get(acc, r->mailbox_id, r->slot_id, &slot) == ACCOUNTS_OK) {
			accounts_slot_deinit(&slot);
			r->cached = true;
			record_outcome(a, canon, true);
			return AUTH_OK;
		}
		keys_secret_free(&r->ak);
		auth_purge(a, r->mailbox_id, r->slot_id);
		memset(r, 0, sizeof(*r));
	}
	const char *error;
	struct accounts *acc = accounts_thread_handle(a->accounts_path, &error);
	if (acc == NULL)
		return AUTH_TEMPFAIL;
	struct address addr;
	struct accounts_alias alias;
	bool known = address_parse(address, &addr, &error) == 0 &&
	             accounts_resolve(acc, &addr, &alias) == ACCOUNTS_OK && alias.enabled &&
	             alias.mailbox_id[0] != '\0';
	if (!known) {
		/* The same Argon2id work as a wrong password. */
		keys_slot_open_dummy(secret, keys_kdf_params_default());
		record_outcome(a, canon, false);
		return AUTH_FAILED;
	}
	struct accounts_slot slot;
	memset(&slot, 0, sizeof(slot));
	if (accounts_unlock(acc, alias.mailbox_id, secret, &r->ak, &slot) < 0) {
		accounts_slot_deinit(&slot);
		record_outcome(a, canon, false);
		return AUTH_FAILED;
	}
	sp_strlcpy(r->address, alias.address, sizeof(r->address));
	sp_strlcpy(r->mailbox_id, alias.mailbox_id, sizeof(r->mailbox_id));
	sp_strlcpy(r->slot_id, slot.id, sizeof(r->slot_id));
	accounts_slot_deinit(&slot);
	cache_store(a, digest, r);
	record_outcome(a, canon, true);
	return AUTH_OK;
}
