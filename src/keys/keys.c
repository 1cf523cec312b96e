/* Locked-memory secrets, Argon2id key slots wrapping the account key, and
 * the data key and X25519 secret key wrapped under the account key
 * (XChaCha20-Poly1305 with additional data binding the mailbox id). The
 * hierarchy is described in keys.h. */
#include "keys/keys.h"
#include "keys/keys_private.h"
#include "lib/sp_buf.h"

#include <pthread.h>
#include <sodium.h>
#include <string.h>

#define KEYS_MAILBOX_ID_MAX 128

static pthread_once_t keys_once = PTHREAD_ONCE_INIT;
static int keys_init_rc;

static void keys_init_once(void)
{
	keys_init_rc = sodium_init() < 0 ? -1 : 0;
}

int keys_init(void)
{
	pthread_once(&keys_once, keys_init_once);
	return keys_init_rc;
}

struct keys_secret *keys_secret_new(size_t len)
{
	if (keys_init() < 0)
		sp_panic("libsodium failed to initialise");
	struct keys_secret *s = sp_malloc(sizeof(*s));
	s->p = sodium_malloc(len + 1);
	if (s->p == NULL)
		sp_panic("out of locked memory allocating %zu bytes", len + 1);
	sodium_memzero(s->p, len + 1);
	s->len = len;
	return s;
}

struct keys_secret *keys_secret_random(size_t len)
{
	struct keys_secret *s = keys_secret_new(len);
	randombytes_buf(s->p, len);
	return s;
}

struct keys_secret *keys_secret_from(const void *p, size_t len)
{
	struct keys_secret *s = keys_secret_new(len);
	if (len > 0)
		memcpy(s->p, p, len);
	return s;
}

void keys_secret_free(struct keys_secret **s)
{
	if (*s == NULL)
		return;
	sodium_free((*s)->p); /* wipes before unmapping */
	free(*s);
	*s = NULL;
}

struct keys_kdf_params keys_kdf_params_default(void)
{
	const char *env = getenv("SEALPOST_TEST_KDF");
	if (env != NULL && strcmp(env, "fast") == 0)
		return (struct keys_kdf_params){.opslimit = 1, .memlimit = 8 * 1024 * 1024};
	return (struct keys_kdf_params){
	    .opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE,
	    .memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE,
	};
}

static bool params_valid(uint64_t opslimit, uint64_t memlimit)
{
	return opslimit >= crypto_pwhash_OPSLIMIT_MIN && opslimit <= KEYS_OPSLIMIT_MAX &&
	       memlimit >= crypto_pwhash_MEMLIMIT_MIN && memlimit <= KEYS_MEMLIMIT_MAX;
}

static bool mailbox_id_valid(const char *mailbox_id)
{
	size_t len = strnlen(mailbox_id, KEYS_MAILBOX_ID_MAX + 1);
	return len > 0 && len <= KEYS_MAILBOX_ID_MAX;
}

/* AD = purpose NUL mailbox_id NUL: each part NUL-terminated, so no two
 * inputs share an encoding. */
static void build_ad(struct sp_buf *ad, const char *purpose, const char *mailbox_id)
{
	sp_buf_append(ad, purpose, strlen(purpose) + 1);
	sp_buf_append(ad, mailbox_id, strlen(mailbox_id) + 1);
}

static void append_u64le(struct sp_buf *ad, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		sp_buf_append_byte(ad, (uint8_t)(v >> (8 * i)));
}

/* A slot's AD adds its id, kind and cost parameters (fixed length). The
 * parameters are bound although they feed Argon2id, because Argon2id
 * ignores the low 10 bits of memlimit (it counts KiB): without this an
 * altered row would still open. */
static void build_slot_ad(struct sp_buf *ad, const char *mailbox_id, const struct keys_slot *slot)
{
	build_ad(ad, "sealpost/slot/v1", mailbox_id);
	sp_buf_append(ad, slot->id, KEYS_SLOT_ID_LEN);
	sp_buf_append_byte(ad, (uint8_t)slot->kind);
	append_u64le(ad, slot->opslimit);
	append_u64le(ad, slot->memlimit);
}

static void wrap_key(const uint8_t *kek, const struct sp_buf *ad, const struct keys_secret *key,
                     uint8_t nonce_r[KEYS_NONCE_LEN], uint8_t ct_r[KEYS_WRAPPED_KEY_LEN])
{
	sp_assert(key->len == KEYS_KEY_LEN);
	randombytes_buf(nonce_r, KEYS_NONCE_LEN);
	unsigned long long ct_len;
	crypto_aead_xchacha20poly1305_ietf_encrypt(ct_r, &ct_len, key->p, KEYS_KEY_LEN, ad->data,
	                                           ad->len, NULL, nonce_r, kek);
	sp_assert(ct_len == KEYS_WRAPPED_KEY_LEN);
}

static int unwrap_key(const uint8_t *kek, const struct sp_buf *ad,
                      const uint8_t nonce[KEYS_NONCE_LEN], const uint8_t ct[KEYS_WRAPPED_KEY_LEN],
                      struct keys_secret **key_r)
{
	struct keys_secret *key = keys_secret_new(KEYS_KEY_LEN);
	unsigned long long len;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(key->p, &len, NULL, ct, KEYS_WRAPPED_KEY_LEN,
	                                               ad->data, ad->len, nonce, kek) != 0) {
		keys_secret_free(&key);
		return -1;
	}
	*key_r = key;
	return 0;
}

/* Argon2id(canonical secret) -> *kek_r. -1 on a too long secret or when
 * the derivation fails (out of memory). */
static int derive_kek(const char *secret, const uint8_t salt[KEYS_SALT_LEN], uint64_t opslimit,
                      uint64_t memlimit, struct keys_secret **kek_r)
{
	struct keys_secret *canon;
	if (keys_text_canonical(secret, &canon) < 0)
		return -1;
	struct keys_secret *kek = keys_secret_new(KEYS_KEY_LEN);
	int rc = crypto_pwhash(kek->p, KEYS_KEY_LEN, (const char *)canon->p, canon->len, salt,
	                       opslimit, (size_t)memlimit, crypto_pwhash_ALG_ARGON2ID13);
	keys_secret_free(&canon);
	if (rc != 0) {
		keys_secret_free(&kek);
		return -1;
	}
	*kek_r = kek;
	return 0;
}

int keys_slot_seal(const struct keys_secret *ak, const char *mailbox_id, const char *slot_id,
                   enum keys_slot_kind kind, const char *secret, struct keys_kdf_params params,
                   struct keys_slot *slot, const char **error_r)
{
	if (ak->len != KEYS_KEY_LEN || !mailbox_id_valid(mailbox_id) ||
	    !keys_slot_id_valid(slot_id) || keys_slot_kind_name(kind) == NULL) {
		*error_r = "invalid key slot arguments";
		return -1;
	}
	if (!params_valid(params.opslimit, params.memlimit)) {
		*error_r = "key derivation parameters out of bounds";
		return -1;
	}
	if (strnlen(secret, KEYS_SECRET_TEXT_MAX + 1) > KEYS_SECRET_TEXT_MAX) {
		*error_r = "password too long";
		return -1;
	}
	struct keys_slot s = {
	    .kind = kind, .opslimit = params.opslimit, .memlimit = params.memlimit};
	memcpy(s.id, slot_id, KEYS_SLOT_ID_LEN + 1);
	randombytes_buf(s.salt, sizeof(s.salt));
	struct keys_secret *kek;
	if (derive_kek(secret, s.salt, s.opslimit, s.memlimit, &kek) < 0) {
		*error_r = "key derivation failed (out of memory)";
		return -1;
	}
	struct sp_buf ad = SP_BUF_INIT;
	build_slot_ad(&ad, mailbox_id, &s);
	wrap_key(kek->p, &ad, ak, s.nonce, s.wrapped_ak);
	sp_buf_deinit(&ad);
	keys_secret_free(&kek);
	*slot = s;
	return 0;
}

int keys_slot_open(const struct keys_slot *slot, const char *mailbox_id, const char *secret,
                   struct keys_secret **ak_r)
{
	if (!mailbox_id_valid(mailbox_id) || memchr(slot->id, '\0', sizeof(slot->id)) == NULL ||
	    !keys_slot_id_valid(slot->id) || keys_slot_kind_name(slot->kind) == NULL ||
	    !params_valid(slot->opslimit, slot->memlimit))
		return -1;
	struct keys_secret *kek;
	if (derive_kek(secret, slot->salt, slot->opslimit, slot->memlimit, &kek) < 0)
		return -1;
	struct sp_buf ad = SP_BUF_INIT;
	build_slot_ad(&ad, mailbox_id, slot);
	int rc = unwrap_key(kek->p, &ad, slot->nonce, slot->wrapped_ak, ak_r);
	sp_buf_deinit(&ad);
	keys_secret_free(&kek);
	return rc;
}

int keys_slot_open_dummy(const char *secret, struct keys_kdf_params params)
{
	struct keys_slot slot = {
	    .kind = KEYS_SLOT_PASSWORD, .opslimit = params.opslimit, .memlimit = params.memlimit};
	keys_slot_id_generate(slot.id);
	randombytes_buf(slot.salt, sizeof(slot.salt));
	randombytes_buf(slot.nonce, sizeof(slot.nonce));
	randombytes_buf(slot.wrapped_ak, sizeof(slot.wrapped_ak));
	struct keys_secret *ak = NULL;
	/* A random wrapped key under a random salt opens with probability
	 * 2^-128; treat that as the failure it is meant to be anyway. */
	(void)keys_slot_open(&slot, "dummy", secret, &ak);
	keys_secret_free(&ak);
	return -1;
}

static void wrap_blob(const struct keys_secret *ak, const char *purpose, const char *mailbox_id,
                      const struct keys_secret *key, uint8_t blob_r[KEYS_BLOB_LEN])
{
	sp_assert(ak->len == KEYS_KEY_LEN && mailbox_id_valid(mailbox_id));
	struct sp_buf ad = SP_BUF_INIT;
	build_ad(&ad, purpose, mailbox_id);
	wrap_key(ak->p, &ad, key, blob_r, blob_r + KEYS_NONCE_LEN);
	sp_buf_deinit(&ad);
}

static int unwrap_blob(const struct keys_secret *ak, const char *purpose, const char *mailbox_id,
                       const uint8_t blob[KEYS_BLOB_LEN], struct keys_secret **key_r)
{
	if (ak->len != KEYS_KEY_LEN || !mailbox_id_valid(mailbox_id))
		return -1;
	struct sp_buf ad = SP_BUF_INIT;
	build_ad(&ad, purpose, mailbox_id);
	int rc = unwrap_key(ak->p, &ad, blob, blob + KEYS_NONCE_LEN, key_r);
	sp_buf_deinit(&ad);
	return rc;
}

void keys_dek_wrap(const struct keys_secret *ak, const char *mailbox_id,
                   const struct keys_secret *dek, uint8_t blob_r[KEYS_BLOB_LEN])
{
	wrap_blob(ak, "sealpost/dek/v1", mailbox_id, dek, blob_r);
}

int keys_dek_unwrap(const struct keys_secret *ak, const char *mailbox_id,
                    const uint8_t blob[KEYS_BLOB_LEN], struct keys_secret **dek_r)
{
	return unwrap_blob(ak, "sealpost/dek/v1", mailbox_id, blob, dek_r);
}

void keys_dek_raw_hex(const struct keys_secret *dek, char out[KEYS_DEK_RAW_HEX_SIZE])
{
	sp_assert(dek->len == KEYS_KEY_LEN);
	memcpy(out, "raw:", 4);
	/* sodium_bin2hex runs in constant time, unlike a table lookup */
	sodium_bin2hex(out + 4, KEYS_DEK_RAW_HEX_SIZE - 4, dek->p, KEYS_KEY_LEN);
}

void keys_box_keypair_new(const struct keys_secret *ak, const char *mailbox_id,
                          uint8_t pk_r[KEYS_KEY_LEN], uint8_t sk_blob_r[KEYS_BLOB_LEN])
{
	struct keys_secret *sk = keys_secret_new(crypto_box_SECRETKEYBYTES);
	crypto_box_keypair(pk_r, sk->p);
	wrap_blob(ak, "sealpost/sk/v1", mailbox_id, sk, sk_blob_r);
	keys_secret_free(&sk);
}

int keys_box_sk_open(const struct keys_secret *ak, const char *mailbox_id,
                     const uint8_t sk_blob[KEYS_BLOB_LEN], struct keys_secret **sk_r)
{
	return unwrap_blob(ak, "sealpost/sk/v1", mailbox_id, sk_blob, sk_r);
}

int keys_box_check(const uint8_t pk[KEYS_KEY_LEN], const struct keys_secret *sk)
{
	if (sk->len != crypto_box_SECRETKEYBYTES)
		return -1;
	uint8_t derived[crypto_box_PUBLICKEYBYTES];
	if (crypto_scalarmult_base(derived, sk->p) != 0)
		return -1;
	int rc = sodium_memcmp(derived, pk, sizeof(derived)) == 0 ? 0 : -1;
	sodium_memzero(derived, sizeof(derived));
	return rc;
}
