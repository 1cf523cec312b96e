/* Login: success, wrong and unknown, the cache skipping Argon2id, purge on
 * revoke, the slow-down that never locks out, and equal timing for an
 * unknown address and a wrong password (issue 3). */
#include "auth/auth.h"
#include "lib/sp_str.h"
#include "lib/sp_test.h"

#include <sodium.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

SP_TEST_MAIN_DEFS

static char dir[] = "/tmp/sp-auth-XXXXXX";
static char db_path[128];
static char password[KEYS_PASSWORD_LEN + 1];
static char mailbox_id[ACCOUNTS_MAILBOX_ID_LEN + 1];
static char slot_id[KEYS_SLOT_ID_LEN + 1];

/* A domain, an alias with a mailbox and one password slot. */
static void setup(void)
{
	struct accounts *acc;
	const char *error;
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(db_path, sizeof(db_path), "%s/accounts.db", dir);
	if (accounts_open(db_path, true, &acc, &error) < 0)
		abort();
	accounts_domain_add(acc, "example.test");
	struct accounts_mailbox mb;
	memset(&mb, 0, sizeof(mb));
	accounts_mailbox_id_new(mb.id);
	struct keys_secret *ak = keys_secret_random(KEYS_KEY_LEN);
	uint8_t blob[KEYS_BLOB_LEN];
	keys_box_keypair_new(ak, mb.id, mb.public_key, blob);
	sp_buf_append(&mb.sk_wrapped, blob, sizeof(blob));
	sp_buf_append(&mb.dek_wrapped, blob, sizeof(blob));
	SP_CHECK_INT(accounts_mailbox_add(acc, &mb), ACCOUNTS_OK);
	struct address addr;
	address_parse("alice@example.test", &addr, &error);
	SP_CHECK_INT(accounts_alias_add(acc, &addr, mb.id, NULL, 0, NULL, 0), ACCOUNTS_OK);
	keys_slot_id_generate(slot_id);
	struct keys_secret *pw = keys_password_generate(slot_id);
	sp_strlcpy(password, (const char *)pw->p, sizeof(password));
	struct keys_slot k;
	SP_CHECK_INT(keys_slot_seal(ak, mb.id, slot_id, KEYS_SLOT_PASSWORD, password,
	                            keys_kdf_params_default(), &k, &error),
	             0);
	struct accounts_slot row;
	memset(&row, 0, sizeof(row));
	memcpy(row.id, slot_id, sizeof(row.id));
	memcpy(row.mailbox_id, mb.id, sizeof(row.mailbox_id));
	sp_strlcpy(row.kind, "password", sizeof(row.kind));
	accounts_slot_encode(&k, &row.record);
	SP_CHECK_INT(accounts_slot_add(acc, &row), ACCOUNTS_OK);
	accounts_slot_deinit(&row);
	memcpy(mailbox_id, mb.id, sizeof(mailbox_id));
	keys_secret_free(&pw);
	keys_secret_free(&ak);
	accounts_mailbox_deinit(&mb);
	accounts_close(&acc);
}

static struct auth *new_auth(void)
{
	struct auth_config cfg = {.accounts_path = db_path, .slow_base_ms = 50, .slow_max_ms = 400};
	return auth_new(&cfg);
}

static void test_login_and_cache(void)
{
	struct auth *a = new_auth();
	struct auth_result r;
	SP_CHECK_INT(auth_login(a, "Alice+x@EXAMPLE.test", password, &r), AUTH_OK);
	SP_CHECK_STR(r.address, "alice@example.test");
	SP_CHECK_STR(r.mailbox_id, mailbox_id);
	SP_CHECK_STR(r.slot_id, slot_id);
	SP_CHECK(!r.cached && r.ak != NULL);
	struct keys_secret *first = r.ak;
	uint64_t t0 = sp_now_ms();
	SP_CHECK_INT(auth_login(a, "alice@example.test", password, &r), AUTH_OK);
	SP_CHECK(r.cached);
	SP_CHECK(sp_now_ms() - t0 < 20);
	SP_CHECK(r.ak != NULL && memcmp(first->p, r.ak->p, KEYS_KEY_LEN) == 0);
	keys_secret_free(&r.ak);
	keys_secret_free(&first);
	/* The cache is keyed by the secret too. */
	SP_CHECK_INT(auth_login(a, "alice@example.test", "wrong", &r), AUTH_FAILED);
	SP_CHECK(r.ak == NULL);
	/* Revoking the slot purges it: the next login derives again. */
	auth_purge(a, mailbox_id, slot_id);
	SP_CHECK_INT(auth_login(a, "alice@example.test", password, &r), AUTH_OK);
	SP_CHECK(!r.cached);
	keys_secret_free(&r.ak);
	auth_free(&a);
}

static void test_unknown_and_slowdown(void)
{
	struct auth *a = new_auth();
	struct auth_result r;
	SP_CHECK_INT(auth_login(a, "nobody@example.test", password, &r), AUTH_FAILED);
	SP_CHECK_INT(auth_login(a, "not an address", password, &r), AUTH_FAILED);
	SP_CHECK_INT(auth_wait_ms(a, "alice@example.test"), 0);
	SP_CHECK_INT(auth_login(a, "alice@example.test", "bad", &r), AUTH_FAILED);
	uint64_t w1 = auth_wait_ms(a, "ALICE@example.test");
	SP_CHECK(w1 > 0 && w1 <= 50);
	SP_CHECK_INT(auth_login(a, "alice@example.test", "bad", &r), AUTH_FAILED);
	SP_CHECK_INT(auth_login(a, "alice@example.test", "bad", &r), AUTH_FAILED);
	uint64_t w3 = auth_wait_ms(a, "alice@example.test");
	SP_CHECK(w3 > 100 && w3 <= 200);
	for (int i = 0; i < 10; i++)
		auth_login(a, "alice@example.test", "bad", &r);
	SP_CHECK(auth_wait_ms(a, "alice@example.test") <= 400);
	/* Never a lockout: the right password works and resets the count. */
	SP_CHECK_INT(auth_login(a, "alice@example.test", password, &r), AUTH_OK);
	keys_secret_free(&r.ak);
	SP_CHECK_INT(auth_wait_ms(a, "alice@example.test"), 0);
	auth_free(&a);
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
	return a < b ? -1 : a > b;
}

static uint64_t login_us(struct auth *a, const char *address)
{
	struct auth_result r;
	struct timespec s, e;
	clock_gettime(CLOCK_MONOTONIC, &s);
	auth_login(a, address, "definitely-wrong", &r);
	clock_gettime(CLOCK_MONOTONIC, &e);
	return (uint64_t)(e.tv_sec - s.tv_sec) * 1000000 + (uint64_t)(e.tv_nsec - s.tv_nsec) / 1000;
}

static void test_timing_does_not_reveal_addresses(void)
{
	struct auth *a = new_auth();
	/* Alternate the two kinds attempt by attempt, so the drift of a
	 * shared machine (other builds, other tests) hits both alike, and
	 * compare the medians of many attempts. */
	enum { RUNS = 41 };
	uint64_t unknown[RUNS], wrong[RUNS];
	for (int i = 0; i < RUNS; i++) {
		unknown[i] = login_us(a, "ghost@example.test");
		wrong[i] = login_us(a, "alice@example.test");
	}
	qsort(unknown, RUNS, sizeof(unknown[0]), cmp_u64);
	qsort(wrong, RUNS, sizeof(wrong[0]), cmp_u64);
	uint64_t mu = unknown[RUNS / 2], mw = wrong[RUNS / 2];
	double diff = (double)(mu > mw ? mu - mw : mw - mu);
	fprintf(stderr, "login timing: median unknown %llu us, wrong password %llu us\n",
	        (unsigned long long)mu, (unsigned long long)mw);
	SP_CHECK(diff / (double)(mw > mu ? mw : mu) < 0.10);
	auth_free(&a);
}

int main(void)
{
	if (keys_init() < 0)
		return 1;
	setup();
	SP_TEST_RUN(test_login_and_cache);
	SP_TEST_RUN(test_unknown_and_slowdown);
	SP_TEST_RUN(test_timing_does_not_reveal_addresses);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		return 1;
	return sp_test_finish();
}
