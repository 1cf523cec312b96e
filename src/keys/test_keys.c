/* Unit tests for key slots, generated secrets, DEK and X25519 wrapping.
 * Argon2id runs with SEALPOST_TEST_KDF=fast (set below) except where the
 * default parameters themselves are under test. */
#include "keys/keys.h"
#include "keys/keys_private.h"
#include "lib/sp_str.h"
#include "lib/sp_test.h"

#include <sodium.h>
#include <stdlib.h>
#include <time.h>

SP_TEST_MAIN_DEFS

static const char MBOX[] = "mb7f3k2q9x";
static const char ALPHABET[] = "23456789abcdefghijkmnpqrstuvwxyz";

static struct keys_kdf_params fast(void)
{
	return keys_kdf_params_default();
}

static void test_params(void)
{
	unsetenv("SEALPOST_TEST_KDF");
	struct keys_kdf_params p = keys_kdf_params_default();
	SP_CHECK(p.opslimit == crypto_pwhash_OPSLIMIT_INTERACTIVE);
	SP_CHECK(p.memlimit == crypto_pwhash_MEMLIMIT_INTERACTIVE);
	setenv("SEALPOST_TEST_KDF", "fast", 1);
	p = keys_kdf_params_default();
	SP_CHECK_INT(p.opslimit, 1);
	SP_CHECK_INT(p.memlimit, 8 * 1024 * 1024);

	struct keys_secret *ak = keys_secret_random(KEYS_KEY_LEN);
	struct keys_slot slot;
	const char *error = NULL;
	static const struct keys_kdf_params bad[] = {
	    {.opslimit = 0, .memlimit = 8 << 20},
	    {.opslimit = KEYS_OPSLIMIT_MAX + 1, .memlimit = 8 << 20},
	    {.opslimit = 1, .memlimit = 1024},
	    {.opslimit = 1, .memlimit = KEYS_MEMLIMIT_MAX + 1},
	};
	for (size_t i = 0; i < SP_N_ELEMENTS(bad); i++) {
		SP_CHECK_INT(keys_slot_seal(ak, MBOX, "abcdefgh", KEYS_SLOT_PASSWORD, "pw", bad[i],
		                            &slot, &error),
		             -1);
		SP_CHECK_STR(error, "key derivation parameters out of bounds");
	}
	SP_CHECK_INT(
	    keys_slot_seal(ak, MBOX, "ABCDEFGH", KEYS_SLOT_PASSWORD, "pw", fast(), &slot, &error),
	    -1);
	SP_CHECK_INT(
	    keys_slot_seal(ak, "", "abcdefgh", KEYS_SLOT_PASSWORD, "pw", fast(), &slot, &error),
	    -1);
	SP_CHECK_INT(keys_slot_seal(ak, MBOX, "abcdefgh", (enum keys_slot_kind)9, "pw", fast(),
	                            &slot, &error),
	             -1);
	keys_secret_free(&ak);
	SP_CHECK(ak == NULL);
	keys_secret_free(&ak); /* NULL is fine */
}

static void test_secret(void)
{
	struct keys_secret *a = keys_secret_random(32), *b = keys_secret_random(32);
	SP_CHECK_INT(a->len, 32);
	SP_CHECK(sodium_memcmp(a->p, b->p, 32) != 0);
	struct keys_secret *c = keys_secret_from(a->p, 32);
	SP_CHECK(sodium_memcmp(a->p, c->p, 32) == 0);
	SP_CHECK_INT(c->p[32], 0); /* NUL after len */
	struct keys_secret *z = keys_secret_new(16);
	SP_CHECK(sodium_is_zero(z->p, 16));
	keys_secret_free(&a);
	keys_secret_free(&b);
	keys_secret_free(&c);
	keys_secret_free(&z);
	SP_CHECK(a == NULL && z == NULL);
}

/* Seals a fresh AK under secret and checks that open_with opens it (or not). */
static void slot_case(enum keys_slot_kind kind, const char *seal_with, const char *open_with,
                      int expect)
{
	struct keys_secret *ak = keys_secret_random(KEYS_KEY_LEN), *got = NULL;
	char id[KEYS_SLOT_ID_LEN + 1];
	keys_slot_id_generate(id);
	struct keys_slot slot;
	const char *error = NULL;
	SP_CHECK_INT(keys_slot_seal(ak, MBOX, id, kind, seal_with, fast(), &slot, &error), 0);
	SP_CHECK_STR(slot.id, id);
	SP_CHECK_INT(slot.kind, kind);
	int rc = keys_slot_open(&slot, MBOX, open_with, &got);
	SP_CHECK_INT(rc, expect);
	if (rc == 0) {
		SP_CHECK_INT(got->len, KEYS_KEY_LEN);
		SP_CHECK(sodium_memcmp(got->p, ak->p, KEYS_KEY_LEN) == 0);
	} else {
		SP_CHECK(got == NULL);
	}
	keys_secret_free(&got);
	keys_secret_free(&ak);
}

static void test_slot_round_trip(void)
{
	static const struct {
		enum keys_slot_kind kind;
		const char *seal, *open;
		int rc;
	} cases[] = {
	    {.kind = KEYS_SLOT_PASSWORD, .seal = "correct horse", .open = "correct horse"},
	    {.kind = KEYS_SLOT_PASSWORD,
	     .seal = "correct horse",
	     .open = "correct horsE",
	     .rc = -1},
	    {.kind = KEYS_SLOT_PASSWORD,
	     .seal = "correct horse",
	     .open = "correct horse ",
	     .rc = -1},
	    {.kind = KEYS_SLOT_PASSWORD, .seal = "correct horse", .open = "", .rc = -1},
	    {.kind = KEYS_SLOT_APP,
	     .seal = "p\xc3\xa4ssw\xc3\xb6rd",
	     .open = "p\xc3\xa4ssw\xc3\xb6rd"},
	    {.kind = KEYS_SLOT_APP, .seal = "", .open = ""},
	    /* generated shapes are case-insensitive */
	    {.kind = KEYS_SLOT_PASSWORD,
	     .seal = "abcdefgh-23456789abcdefghijkmnpqrst",
	     .open = "ABCDEFGH-23456789ABCDEFGHIJKMNPQRST"},
	    {.kind = KEYS_SLOT_PASSWORD,
	     .seal = "abcdefgh-23456789abcdefghijkmnpqrst",
	     .open = "abcdefgh-23456789abcdefghijkmnpqrsu",
	     .rc = -1},
	    /* a recovery key typed in capitals with spaces */
	    {.kind = KEYS_SLOT_RECOVERY,
	     .seal = "R-abcdefgh-2345-6789-abcd-efgh-ijkm-npqr-stuv-wxyz-2345-6789-abcd-efgh-ijkm",
	     .open = "r ABCDEFGH 2345 6789 ABCD EFGH IJKM NPQR STUV WXYZ 2345 6789 ABCD EFGH IJKM"},
	    {.kind = KEYS_SLOT_RECOVERY,
	     .seal = "R-abcdefgh-2345-6789-abcd-efgh-ijkm-npqr-stuv-wxyz-2345-6789-abcd-efgh-ijkm",
	     .open = "R-abcdefgh-2345-6789-abcd-efgh-ijkm-npqr-stuv-wxyz-2345-6789-abcd-efgh-ijkn",
	     .rc = -1},
	};
	for (size_t i = 0; i < SP_N_ELEMENTS(cases); i++)
		slot_case(cases[i].kind, cases[i].seal, cases[i].open, cases[i].rc);

	/* a too long secret is refused, not truncated */
	char longpw[KEYS_SECRET_TEXT_MAX + 2];
	memset(longpw, 'x', sizeof(longpw) - 1);
	longpw[sizeof(longpw) - 1] = '\0';
	struct keys_secret *ak = keys_secret_random(KEYS_KEY_LEN);
	struct keys_slot slot;
	const char *error;
	SP_CHECK_INT(
	    keys_slot_seal(ak, MBOX, "abcdefgh", KEYS_SLOT_PASSWORD, longpw, fast(), &slot, &error),
	    -1);
	SP_CHECK_STR(error, "password too long");
	keys_secret_free(&ak);
}

static void test_slot_generated(void)
{
	char id[KEYS_SLOT_ID_LEN + 1], parsed[KEYS_SLOT_ID_LEN + 1];
	keys_slot_id_generate(id);
	struct keys_secret *pw = keys_password_generate(id);
	struct keys_secret *rk = keys_recovery_generate(id);
	SP_CHECK_INT(keys_password_slot_id((const char *)pw->p, parsed), 1);
	SP_CHECK_STR(parsed, id);
	SP_CHECK_INT(keys_password_slot_id((const char *)rk->p, parsed), 1);
	SP_CHECK_STR(parsed, id);
	slot_case(KEYS_SLOT_PASSWORD, (const char *)pw->p, (const char *)pw->p, 0);
	slot_case(KEYS_SLOT_RECOVERY, (const char *)rk->p, (const char *)rk->p, 0);
	slot_case(KEYS_SLOT_RECOVERY, (const char *)rk->p, (const char *)pw->p, -1);
	keys_secret_free(&pw);
	keys_secret_free(&rk);
}

/* Every byte of every stored field matters: one flipped byte fails. */
static void test_slot_tamper(void)
{
	struct keys_secret *ak = keys_secret_random(KEYS_KEY_LEN), *got = NULL;
	struct keys_slot slot;
	const char *error;
	SP_CHECK_INT(
	    keys_slot_seal(ak, MBOX, "k7m2p9qa", KEYS_SLOT_APP, "s3cret", fast(), &slot, &error),
	    0);
	SP_CHECK_INT(keys_slot_open(&slot, MBOX, "s3cret", &got), 0);
	keys_secret_free(&got);

	struct {
		const char *name;
		uint8_t *p;
		size_t len;
	} fields[] = {
	    {"salt", slot.salt, sizeof(slot.salt)},
	    {"nonce", slot.nonce, sizeof(slot.nonce)},
	    {"wrapped_ak", slot.wrapped_ak, sizeof(slot.wrapped_ak)},
	    {"opslimit", (uint8_t *)&slot.opslimit, sizeof(slot.opslimit)},
	    {"memlimit", (uint8_t *)&slot.memlimit, sizeof(slot.memlimit)},
	    {"id", (uint8_t *)slot.id, KEYS_SLOT_ID_LEN},
	};
	int opened = 0, tried = 0;
	for (size_t f = 0; f < SP_N_ELEMENTS(fields); f++) {
		for (size_t i = 0; i < fields[f].len; i++) {
			fields[f].p[i] ^= 0x01;
			tried++;
			if (keys_slot_open(&slot, MBOX, "s3cret", &got) == 0) {
				fprintf(stderr, "flip of %s[%zu] still opens\n", fields[f].name, i);
				opened++;
				keys_secret_free(&got);
			}
			fields[f].p[i] ^= 0x01;
		}
	}
	SP_CHECK_INT(opened, 0);
	SP_CHECK(tried > 100);

	/* another kind, another valid slot id, another mailbox: all fail */
	struct keys_slot other = slot;
	other.kind = KEYS_SLOT_PASSWORD;
	SP_CHECK_INT(keys_slot_open(&other, MBOX, "s3cret", &got), -1);
	other = slot;
	memcpy(other.id, "k7m2p9qb", KEYS_SLOT_ID_LEN);
	SP_CHECK_INT(keys_slot_open(&other, MBOX, "s3cret", &got), -1);
	SP_CHECK_INT(keys_slot_open(&slot, "mb7f3k2q9y", "s3cret", &got), -1);
	SP_CHECK_INT(keys_slot_open(&slot, MBOX, "s3cret", &got), 0);
	keys_secret_free(&got);
	keys_secret_free(&ak);
}

static void test_password_slot_id(void)
{
	static const struct {
		const char *text;
		int rc;
		const char *id;
	} cases[] = {
	    {"abcdefgh-23456789abcdefghijkmnpqrst", 1, "abcdefgh"},
	    {"ABCDEFGH-23456789abcdefghijkmnpqrst", 1, "abcdefgh"},
	    {"abcdefgh-23456789abcdefghijkmnpqrs", 0, NULL},   /* short */
	    {"abcdefgh-23456789abcdefghijkmnpqrstu", 0, NULL}, /* long */
	    {"abcdefgh_23456789abcdefghijkmnpqrst", 0, NULL},  /* separator */
	    {"abcdefg0-23456789abcdefghijkmnpqrst", 0, NULL},  /* '0' look-alike */
	    {"abcdefgl-23456789abcdefghijkmnpqrst", 0, NULL},  /* 'l' look-alike */
	    {"abcdefgh-1bcdefghijkmnpqrstuvwxyz", 0, NULL},    /* '1' in body */
	    {"R-abcdefgh-2345-6789-abcd-efgh-ijkm-npqr-stuv-wxyz-2345-6789-abcd-efgh-ijkm", 1,
	     "abcdefgh"},
	    {"r-zyxwvuts 2345 6789 abcd efgh ijkm npqr stuv wxyz 2345 6789 abcd efgh ijkm", 1,
	     "zyxwvuts"},
	    {"R-abcdefgh-2345-6789-abcd-efgh-ijkm-npqr-stuv-wxyz-2345-6789-abcd-efgh-ijk", 0, NULL},
	    {"R-abcdefgh-2345-6789-abcd-efgh-ijkm-npqr-stuv-wxyz-2345-6789-abcd-efgh-ijkmn", 0,
	     NULL},
	    {"R-abcdefgh-2345-6789-abcd-efgh-ijkm-npqr-stuv-wxyz-2345-6789-abcd-efgh-ijk0", 0,
	     NULL},
	    {"Rabcdefgh-2345-6789-abcd-efgh-ijkm-npqr-stuv-wxyz-2345-6789-abcd-efgh-ijkm", 0, NULL},
	    {"", 0, NULL},
	    {"R-", 0, NULL},
	    {"correct horse battery staple", 0, NULL},
	};
	for (size_t i = 0; i < SP_N_ELEMENTS(cases); i++) {
		char id[KEYS_SLOT_ID_LEN + 1] = "";
		int rc = keys_password_slot_id(cases[i].text, id);
		SP_CHECK_INT(rc, cases[i].rc);
		if (rc == 1)
			SP_CHECK_STR(id, cases[i].id);
		else if (rc != cases[i].rc)
			fprintf(stderr, "  case %zu: %s\n", i, cases[i].text);
	}
	SP_CHECK(keys_slot_id_valid("abcdefgh"));
	SP_CHECK(!keys_slot_id_valid("abcdefg"));
	SP_CHECK(!keys_slot_id_valid("abcdefghi"));
	SP_CHECK(!keys_slot_id_valid("Abcdefgh"));
	SP_CHECK(!keys_slot_id_valid("abcdefg1"));
	SP_CHECK_STR(keys_slot_kind_name(KEYS_SLOT_RECOVERY), "recovery");
	SP_CHECK(keys_slot_kind_name((enum keys_slot_kind)0) == NULL);
}

static void test_canonical(void)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"ABCDEFGH-23456789ABCDEFGHIJKMNPQRST", "abcdefgh-23456789abcdefghijkmnpqrst"},
	    {"r abcdefgh 23456789abcdefghijkmnpqrstuvwxyz23456789abcdefghijkm",
	     "R-abcdefgh-2345-6789-abcd-efgh-ijkm-npqr-stuv-wxyz-2345-6789-abcd-efgh-ijkm"},
	    {"Correct Horse", "Correct Horse"},
	    {"", ""},
	};
	for (size_t i = 0; i < SP_N_ELEMENTS(cases); i++) {
		struct keys_secret *c = NULL;
		SP_CHECK_INT(keys_text_canonical(cases[i].in, &c), 0);
		SP_CHECK_STR((const char *)c->p, cases[i].out);
		SP_CHECK_INT(c->len, strlen(cases[i].out));
		keys_secret_free(&c);
	}
}

/* Generated secrets: unique, from the promised alphabet, every character
 * of it used at about its share, and at least 128 bits of randomness. */
static void test_generated_entropy(void)
{
	enum { N = 2000 };
	static char seen[N][KEYS_PASSWORD_LEN + 1];
	unsigned counts[32] = {0};
	char id[KEYS_SLOT_ID_LEN + 1];
	keys_slot_id_generate(id);
	SP_CHECK(keys_slot_id_valid(id));
	int bad = 0;
	for (int i = 0; i < N; i++) {
		struct keys_secret *pw = keys_password_generate(id);
		const char *t = (const char *)pw->p;
		SP_CHECK_INT(strlen(t), KEYS_PASSWORD_LEN);
		SP_CHECK_INT(pw->len, KEYS_PASSWORD_LEN);
		if (memcmp(t, id, KEYS_SLOT_ID_LEN) != 0 || t[KEYS_SLOT_ID_LEN] != '-')
			bad++;
		for (size_t k = KEYS_SLOT_ID_LEN + 1; k < KEYS_PASSWORD_LEN; k++) {
			const char *p = strchr(ALPHABET, t[k]);
			if (p == NULL || t[k] == '\0')
				bad++;
			else
				counts[p - ALPHABET]++;
		}
		memcpy(seen[i], t, KEYS_PASSWORD_LEN + 1);
		keys_secret_free(&pw);
	}
	SP_CHECK_INT(bad, 0);
	int dups = 0;
	for (int i = 0; i < N; i++)
		for (int j = i + 1; j < N; j++)
			dups += strcmp(seen[i], seen[j]) == 0;
	SP_CHECK_INT(dups, 0);
	/* 52,000 draws over 32 symbols: 1625 expected each; +-20 % is > 9 sigma */
	for (int k = 0; k < 32; k++)
		SP_CHECK(counts[k] > 1300 && counts[k] < 1950);
	/* 26 characters of 5 bits each */
	SP_CHECK((KEYS_PASSWORD_LEN - KEYS_SLOT_ID_LEN - 1) * 5 >= 128);

	struct keys_secret *a = keys_recovery_generate(id), *b = keys_recovery_generate(id);
	SP_CHECK_INT(strlen((const char *)a->p), KEYS_RECOVERY_LEN);
	SP_CHECK(memcmp(a->p, "R-", 2) == 0);
	SP_CHECK(strcmp((const char *)a->p, (const char *)b->p) != 0);
	int body = 0;
	for (size_t k = 2 + KEYS_SLOT_ID_LEN; k < KEYS_RECOVERY_LEN; k++) {
		char c = (char)a->p[k];
		if ((k - 2 - KEYS_SLOT_ID_LEN) % 5 == 0)
			SP_CHECK(c == '-');
		else if (strchr(ALPHABET, c) != NULL && c != '\0')
			body++;
	}
	SP_CHECK(body * 5 >= 256);
	keys_secret_free(&a);
	keys_secret_free(&b);
	char id2[KEYS_SLOT_ID_LEN + 1];
	keys_slot_id_generate(id2);
	SP_CHECK(strcmp(id, id2) != 0);
}

static void test_dek(void)
{
	struct keys_secret *ak = keys_secret_random(KEYS_KEY_LEN);
	struct keys_secret *ak2 = keys_secret_random(KEYS_KEY_LEN);
	struct keys_secret *dek = keys_secret_random(KEYS_KEY_LEN), *got = NULL;
	uint8_t blob[KEYS_BLOB_LEN], blob2[KEYS_BLOB_LEN];
	keys_dek_wrap(ak, MBOX, dek, blob);
	keys_dek_wrap(ak, MBOX, dek, blob2);
	SP_CHECK(memcmp(blob, blob2, sizeof(blob)) != 0); /* fresh nonce */
	SP_CHECK_INT(keys_dek_unwrap(ak, MBOX, blob, &got), 0);
	SP_CHECK(got != NULL && sodium_memcmp(got->p, dek->p, KEYS_KEY_LEN) == 0);
	keys_secret_free(&got);
	SP_CHECK_INT(keys_dek_unwrap(ak2, MBOX, blob, &got), -1);
	SP_CHECK_INT(keys_dek_unwrap(ak, "othermbox", blob, &got), -1);
	int opened = 0;
	for (size_t i = 0; i < sizeof(blob); i++) {
		blob[i] ^= 0x80;
		if (keys_dek_unwrap(ak, MBOX, blob, &got) == 0) {
			opened++;
			keys_secret_free(&got);
		}
		blob[i] ^= 0x80;
	}
	SP_CHECK_INT(opened, 0);
	/* a wrapped X25519 key is not a wrapped DEK (purpose is bound) */
	uint8_t pk[KEYS_KEY_LEN], skb[KEYS_BLOB_LEN];
	keys_box_keypair_new(ak, MBOX, pk, skb);
	SP_CHECK_INT(keys_dek_unwrap(ak, MBOX, skb, &got), -1);

	char hex[KEYS_DEK_RAW_HEX_SIZE], expect[KEYS_DEK_RAW_HEX_SIZE];
	keys_dek_raw_hex(dek, hex);
	memcpy(expect, "raw:", 4);
	sp_hex_encode(dek->p, KEYS_KEY_LEN, expect + 4);
	SP_CHECK_STR(hex, expect);
	SP_CHECK_INT(strlen(hex), 68);
	struct keys_secret *fixed = keys_secret_new(KEYS_KEY_LEN);
	for (int i = 0; i < KEYS_KEY_LEN; i++)
		fixed->p[i] = (uint8_t)(i * 8 + 7);
	keys_dek_raw_hex(fixed, hex);
	SP_CHECK_STR(hex, "raw:070f171f272f373f474f575f676f777f878f979fa7afb7bfc7cfd7dfe7eff7ff");
	sodium_memzero(hex, sizeof(hex));
	keys_secret_free(&fixed);
	keys_secret_free(&dek);
	keys_secret_free(&ak);
	keys_secret_free(&ak2);
}

/* `rekey`: a new DEK under the same AK; every slot still opens the AK,
 * which now yields the new DEK, and the old raw key string is different. */
static void test_rekey(void)
{
	struct keys_secret *ak = keys_secret_random(KEYS_KEY_LEN), *ak_got = NULL, *dek_got = NULL;
	struct keys_slot pw, rec;
	const char *error;
	SP_CHECK_INT(
	    keys_slot_seal(ak, MBOX, "aaaaaaaa", KEYS_SLOT_PASSWORD, "one", fast(), &pw, &error),
	    0);
	SP_CHECK_INT(
	    keys_slot_seal(ak, MBOX, "bbbbbbbb", KEYS_SLOT_RECOVERY, "two", fast(), &rec, &error),
	    0);
	struct keys_secret *dek1 = keys_secret_random(KEYS_KEY_LEN);
	struct keys_secret *dek2 = keys_secret_random(KEYS_KEY_LEN);
	uint8_t blob1[KEYS_BLOB_LEN], blob2[KEYS_BLOB_LEN];
	keys_dek_wrap(ak, MBOX, dek1, blob1);
	keys_dek_wrap(ak, MBOX, dek2, blob2);
	char hex1[KEYS_DEK_RAW_HEX_SIZE], hex2[KEYS_DEK_RAW_HEX_SIZE];
	keys_dek_raw_hex(dek1, hex1);
	const struct keys_slot *slots[] = {&pw, &rec};
	const char *secrets[] = {"one", "two"};
	for (int i = 0; i < 2; i++) {
		SP_CHECK_INT(keys_slot_open(slots[i], MBOX, secrets[i], &ak_got), 0);
		if (ak_got == NULL)
			continue;
		SP_CHECK_INT(keys_dek_unwrap(ak_got, MBOX, blob2, &dek_got), 0);
		if (dek_got != NULL) {
			keys_dek_raw_hex(dek_got, hex2);
			SP_CHECK(strcmp(hex1, hex2) != 0);
			SP_CHECK(sodium_memcmp(dek_got->p, dek2->p, KEYS_KEY_LEN) == 0);
		}
		keys_secret_free(&dek_got);
		keys_secret_free(&ak_got);
	}
	keys_secret_free(&dek1);
	keys_secret_free(&dek2);
	keys_secret_free(&ak);
}

static void test_box(void)
{
	struct keys_secret *ak = keys_secret_random(KEYS_KEY_LEN), *sk = NULL, *sk2 = NULL;
	uint8_t pk[KEYS_KEY_LEN], blob[KEYS_BLOB_LEN], pk2[KEYS_KEY_LEN], blob2[KEYS_BLOB_LEN];
	keys_box_keypair_new(ak, MBOX, pk, blob);
	keys_box_keypair_new(ak, MBOX, pk2, blob2);
	SP_CHECK(memcmp(pk, pk2, sizeof(pk)) != 0);
	SP_CHECK_INT(keys_box_sk_open(ak, MBOX, blob, &sk), 0);
	SP_CHECK_INT(keys_box_sk_open(ak, MBOX, blob2, &sk2), 0);
	if (sk == NULL || sk2 == NULL) {
		keys_secret_free(&sk);
		keys_secret_free(&sk2);
		keys_secret_free(&ak);
		return;
	}
	SP_CHECK_INT(keys_box_check(pk, sk), 0);
	SP_CHECK_INT(keys_box_check(pk2, sk2), 0);
	SP_CHECK_INT(keys_box_check(pk2, sk), -1); /* a swapped public key is caught */
	struct keys_secret *tmp = NULL;
	SP_CHECK_INT(keys_box_sk_open(ak, "elsewhere", blob, &tmp), -1);
	blob[KEYS_BLOB_LEN - 1] ^= 1;
	SP_CHECK_INT(keys_box_sk_open(ak, MBOX, blob, &tmp), -1);
	SP_CHECK(tmp == NULL);
	/* the pair works for sealed boxes, which the spool uses */
	uint8_t sealed[5 + crypto_box_SEALBYTES], plain[5];
	crypto_box_seal(sealed, (const uint8_t *)"hello", 5, pk);
	SP_CHECK_INT(crypto_box_seal_open(plain, sealed, sizeof(sealed), pk, sk->p), 0);
	SP_CHECK(memcmp(plain, "hello", 5) == 0);
	SP_CHECK_INT(crypto_box_seal_open(plain, sealed, sizeof(sealed), pk2, sk2->p), -1);
	keys_secret_free(&sk);
	keys_secret_free(&sk2);
	keys_secret_free(&ak);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* An unknown address costs what a wrong password costs: medians of
 * interleaved single calls, so a load spike on this shared machine moves
 * both series alike. */
static void test_dummy_timing(void)
{
	struct keys_secret *ak = keys_secret_random(KEYS_KEY_LEN), *got = NULL;
	struct keys_slot slot;
	const char *error;
	SP_CHECK_INT(keys_slot_seal(ak, MBOX, "cccccccc", KEYS_SLOT_PASSWORD, "right", fast(),
	                            &slot, &error),
	             0);
	enum { N = 21 };
	double real[N], dummy[N];
	for (int i = 0; i < N; i++) {
		double t0 = now_ms();
		SP_CHECK_INT(keys_slot_open(&slot, MBOX, "wrong", &got), -1);
		double t1 = now_ms();
		SP_CHECK_INT(keys_slot_open_dummy("wrong", fast()), -1);
		double t2 = now_ms();
		real[i] = t1 - t0;
		dummy[i] = t2 - t1;
	}
	qsort(real, N, sizeof(double), cmp_double);
	qsort(dummy, N, sizeof(double), cmp_double);
	double r = real[N / 2], d = dummy[N / 2];
	/* loose bounds for a shared machine; skipping Argon2id would be 1000x */
	SP_CHECK(d > r * 0.5 && d < r * 2.0);
	fprintf(stderr, "  median wrong password %.2f ms, unknown address %.2f ms\n", r, d);
	keys_secret_free(&ak);
}

int main(void)
{
	SP_CHECK_INT(keys_init(), 0);
	setenv("SEALPOST_TEST_KDF", "fast", 1);
	SP_TEST_RUN(test_params);
	SP_TEST_RUN(test_secret);
	SP_TEST_RUN(test_slot_round_trip);
	SP_TEST_RUN(test_slot_generated);
	SP_TEST_RUN(test_slot_tamper);
	SP_TEST_RUN(test_password_slot_id);
	SP_TEST_RUN(test_canonical);
	SP_TEST_RUN(test_generated_entropy);
	SP_TEST_RUN(test_dek);
	SP_TEST_RUN(test_rekey);
	SP_TEST_RUN(test_box);
	SP_TEST_RUN(test_dummy_timing);
	return sp_test_finish();
}
