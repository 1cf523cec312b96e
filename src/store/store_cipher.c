/* SQLite3MC page cipher "sp_chacha20": the on-disk format of SQLite3MC's
 * chacha20 cipher (non-legacy, no plaintext header), with OpenSSL's
 * ChaCha20 and Poly1305 (AVX-512/AVX2 code, about twice libsodium's speed
 * here) doing the bulk and libsodium the one-time keys and nonces. Per
 * page of len bytes, n = len - 32:
 *   nonce  = 16 random bytes at data[n], counter = LE32(nonce[12..16]) ^ page
 *   otk    = ChaCha20(key, nonce[0..12], counter), 64 bytes
 *   data[off..n) ^= ChaCha20(otk[32..64], nonce[0..12], counter + 1)
 *   tag    = Poly1305(otk[0..32], data[0..n+16)) at data[n+16]
 * where off is 24 on page 1 (whose first 16 bytes then carry the salt
 * and bytes 16..23 stay clear, as SQLite3MC needs them to open the file)
 * and 0 elsewhere. The tag covers ciphertext, salt and nonce. */
#include "store/store_cipher.h"
#include "lib/sp_mem.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#define CIPHER_NAME "sp_chacha20"
#define KEY_LEN 32
#define SALT_LEN 16
#define NONCE_LEN 16
#define TAG_LEN 16
#define RESERVED (NONCE_LEN + TAG_LEN)
#define PAGE1_OFFSET 24
#define RAW_PREFIX "raw:"
#define NONCE_POOL 4096 /* random bytes drawn at once: 256 page nonces */

struct page_cipher {
	uint8_t key[KEY_LEN];
	uint8_t salt[SALT_LEN];
};

/* OpenSSL contexts are not shareable: SQLite calls the cipher from the
 * thread that runs the connection, so each thread has its own, freed when
 * it exits. */
struct cipher_thread {
	EVP_CIPHER_CTX *stream;
	EVP_MAC_CTX *mac;
	uint8_t nonces[NONCE_POOL];
	size_t nonces_used;
};

static EVP_CIPHER *chacha_alg;
static EVP_MAC *poly_alg;
static pthread_key_t thread_key;
static _Thread_local struct cipher_thread *thread_state;

static void cipher_thread_free(void *arg)
{
	struct cipher_thread *t = arg;
	EVP_CIPHER_CTX_free(t->stream);
	EVP_MAC_CTX_free(t->mac);
	free(t);
}

static struct cipher_thread *cipher_thread_get(void)
{
	struct cipher_thread *t = thread_state;
	if (t != NULL)
		return t;
	t = sp_calloc(1, sizeof(*t));
	t->stream = EVP_CIPHER_CTX_new();
	t->mac = EVP_MAC_CTX_new(poly_alg);
	if (t->stream == NULL || t->mac == NULL ||
	    EVP_EncryptInit_ex2(t->stream, chacha_alg, NULL, NULL, NULL) != 1)
		sp_panic("OpenSSL cannot set up ChaCha20 and Poly1305");
	t->nonces_used = NONCE_POOL;
	pthread_setspecific(thread_key, t);
	thread_state = t;
	return t;
}

/* XORs buf with ChaCha20 under key from block counter, leaving the
 * context holding a zero key rather than this one. */
static int stream_xor(EVP_CIPHER_CTX *ctx, uint8_t *buf, size_t len, const uint8_t key[32],
                      const uint8_t nonce[12], uint32_t counter)
{
	/* OpenSSL's IV: the 32-bit block counter (little-endian), then the
	 * nonce. */
	static const uint8_t zero_key[32];
	uint8_t iv[16] = {(uint8_t)counter, (uint8_t)(counter >> 8), (uint8_t)(counter >> 16),
	                  (uint8_t)(counter >> 24)};
	memcpy(iv + 4, nonce, 12);
	int out = 0;
	int ok = EVP_EncryptInit_ex2(ctx, NULL, key, iv, NULL) == 1 &&
	         EVP_EncryptUpdate(ctx, buf, &out, buf, (int)len) == 1 && (size_t)out == len;
	return EVP_EncryptInit_ex2(ctx, NULL, zero_key, NULL, NULL) == 1 && ok ? 0 : -1;
}

static int cipher_xor(struct cipher_thread *t, uint8_t *buf, size_t len, const uint8_t key[32],
                      const uint8_t nonce[12], uint32_t counter)
{
	/* OpenSSL's ChaCha20, like libsodium's, carries a counter overflow
	 * into the nonce's first word; SQLite3MC's wraps the 32-bit counter
	 * alone. Split at the wrap so both give the same stream (a page
	 * crosses it about once in 2^26 pages, as the counter starts from
	 * random bits). */
	uint64_t blocks_left = (uint64_t)UINT32_MAX - counter + 1;
	if ((uint64_t)len > blocks_left * 64) {
		size_t first = (size_t)(blocks_left * 64);
		if (stream_xor(t->stream, buf, first, key, nonce, counter) < 0)
			return -1;
		buf += first;
		len -= first;
		counter = 0;
	}
	return stream_xor(t->stream, buf, len, key, nonce, counter);
}

int store_cipher_xor(uint8_t *buf, size_t len, const uint8_t key[32], const uint8_t nonce[12],
                     uint32_t counter)
{
	if (store_cipher_id() < 0)
		return -1;
	return cipher_xor(cipher_thread_get(), buf, len, key, nonce, counter);
}

/* Poly1305 (OpenSSL wipes its state when it finishes). */
static int poly1305(struct cipher_thread *t, uint8_t tag[TAG_LEN], const uint8_t *data, size_t len,
                    const uint8_t key[32])
{
	size_t out = 0;
	if (EVP_MAC_init(t->mac, key, 32, NULL) != 1 || EVP_MAC_update(t->mac, data, len) != 1 ||
	    EVP_MAC_final(t->mac, tag, &out, TAG_LEN) != 1 || out != TAG_LEN)
		return -1;
	return 0;
}

static void *cipher_allocate(sqlite3 *db)
{
	(void)db;
	struct page_cipher *c = sqlite3_malloc((int)sizeof(*c));
	if (c != NULL)
		memset(c, 0, sizeof(*c));
	return c;
}

static void cipher_free(void *cipher)
{
	if (cipher == NULL)
		return;
	sodium_memzero(cipher, sizeof(struct page_cipher));
	sqlite3_free(cipher);
}

static void cipher_clone(void *to, void *from)
{
	memcpy(to, from, sizeof(struct page_cipher));
}

static int cipher_legacy(void *cipher)
{
	(void)cipher;
	return 0;
}

static int cipher_page_size(void *cipher)
{
	(void)cipher;
	return 0;
}

static int cipher_reserved(void *cipher)
{
	(void)cipher;
	return RESERVED;
}

static unsigned char *cipher_salt(void *cipher)
{
	return ((struct page_cipher *)cipher)->salt;
}

/* SQLite3MC hands over the key string given to sqlite3_key_v2 and, for an
 * existing file being opened, the salt read from its first 16 bytes. */
static void cipher_generate_key(void *cipher, char *password, int password_len, int rekey,
                                unsigned char *file_salt)
{
	struct page_cipher *c = cipher;
	size_t prefix = sizeof(RAW_PREFIX) - 1;
	/* Only store_file.c keys this cipher, always with a raw DEK. */
	sp_assert(password_len == (int)(prefix + 2 * KEY_LEN) &&
	          memcmp(password, RAW_PREFIX, prefix) == 0);
	size_t got = 0;
	int rc = sodium_hex2bin(c->key, KEY_LEN, password + prefix, 2 * KEY_LEN, NULL, &got, NULL);
	sp_assert(rc == 0 && got == KEY_LEN);
	if (rekey || file_salt == NULL)
		randombytes_buf(c->salt, SALT_LEN);
	else
		memcpy(c->salt, file_salt, SALT_LEN);
}

/* The one-time keys of a page: Poly1305 key in otk[0..32], the page's
 * ChaCha20 key in otk[32..64]. */
static void page_otk(const struct page_cipher *c, const uint8_t *nonce, int page, uint8_t otk[64],
                     uint32_t *counter_r)
{
	uint32_t counter = (uint32_t)nonce[12] | (uint32_t)nonce[13] << 8 |
	                   (uint32_t)nonce[14] << 16 | (uint32_t)nonce[15] << 24;
	counter ^= (uint32_t)page;
	/* One block: no wrap inside it. libsodium keeps no copy of the DEK
	 * once it returns; an OpenSSL context would until its next use. */
	memset(otk, 0, 64);
	crypto_stream_chacha20_ietf_xor_ic(otk, otk, 64, nonce, counter, c->key);
	*counter_r = counter + 1;
}

/* A fork copies the pool: the child must not hand out the parent's next
 * nonces (under the same key and page number they would repeat). */
static void nonce_pool_after_fork(void)
{
	if (thread_state != NULL)
		thread_state->nonces_used = NONCE_POOL;
}

/* A fresh page nonce from the thread's pool of random bytes (one
 * randombytes call per 256 pages instead of one per page). */
static void page_nonce(struct cipher_thread *t, uint8_t nonce[NONCE_LEN])
{
	if (t->nonces_used + NONCE_LEN > NONCE_POOL) {
		randombytes_buf(t->nonces, NONCE_POOL);
		t->nonces_used = 0;
	}
	memcpy(nonce, t->nonces + t->nonces_used, NONCE_LEN);
	t->nonces_used += NONCE_LEN;
}

static int page_geometry(int page, int len, int reserved, int *n_r, int *offset_r)
{
	if (reserved < RESERVED || len <= RESERVED + PAGE1_OFFSET)
		return -1;
	*n_r = len - RESERVED;
	*offset_r = page == 1 ? PAGE1_OFFSET : 0;
	return 0;
}

static int cipher_encrypt(void *cipher, int page, unsigned char *data, int len, int reserved)
{
	const struct page_cipher *c = cipher;
	int n, offset;
	if (page_geometry(page, len, reserved, &n, &offset) < 0)
		return SQLITE_CORRUPT;
	struct cipher_thread *t = cipher_thread_get();
	uint8_t otk[64];
	uint32_t counter;
	page_nonce(t, data + n);
	page_otk(c, data + n, page, otk, &counter);
	int rc = cipher_xor(t, data + offset, (size_t)(n - offset), otk + 32, data + n, counter);
	if (page == 1)
		memcpy(data, c->salt, SALT_LEN);
	if (rc == 0)
		rc = poly1305(t, data + n + NONCE_LEN, data, (size_t)n + NONCE_LEN, otk);
	sodium_memzero(otk, sizeof(otk));
	return rc == 0 ? SQLITE_OK : SQLITE_IOERR;
}

static int cipher_decrypt(void *cipher, int page, unsigned char *data, int len, int reserved,
                          int check_tag)
{
	const struct page_cipher *c = cipher;
	int n, offset;
	if (page_geometry(page, len, reserved, &n, &offset) < 0)
		return page == 1 ? SQLITE_NOTADB : SQLITE_CORRUPT;
	struct cipher_thread *t = cipher_thread_get();
	uint8_t otk[64], tag[TAG_LEN];
	uint32_t counter;
	page_otk(c, data + n, page, otk, &counter);
	int crc = poly1305(t, tag, data, (size_t)n + NONCE_LEN, otk);
	if (crc == 0)
		crc =
		    cipher_xor(t, data + offset, (size_t)(n - offset), otk + 32, data + n, counter);
	sodium_memzero(otk, sizeof(otk));
	if (crc < 0)
		return SQLITE_IOERR;
	int rc = SQLITE_OK;
	if (check_tag && sodium_memcmp(tag, data + n + NONCE_LEN, TAG_LEN) != 0)
		rc = page == 1 ? SQLITE_NOTADB : SQLITE_CORRUPT;
	if (page == 1 && rc == SQLITE_OK)
		memcpy(data, "SQLite format 3", 16);
	return rc;
}

static const CipherDescriptor descriptor = {
    .m_name = CIPHER_NAME,
    .m_allocateCipher = cipher_allocate,
    .m_freeCipher = cipher_free,
    .m_cloneCipher = cipher_clone,
    .m_getLegacy = cipher_legacy,
    .m_getPageSize = cipher_page_size,
    .m_getReserved = cipher_reserved,
    .m_getSalt = cipher_salt,
    .m_generateKey = cipher_generate_key,
    .m_encryptPage = cipher_encrypt,
    .m_decryptPage = cipher_decrypt,
};

static pthread_once_t register_once = PTHREAD_ONCE_INIT;
static int registered_id = -1;

static void register_cipher(void)
{
	static const CipherParams params[] = {{"", 0, 0, 0, 0}};
	if (sodium_init() < 0)
		return;
	chacha_alg = EVP_CIPHER_fetch(NULL, "ChaCha20", NULL);
	poly_alg = EVP_MAC_fetch(NULL, "POLY1305", NULL);
	if (chacha_alg == NULL || poly_alg == NULL ||
	    pthread_key_create(&thread_key, cipher_thread_free) != 0 ||
	    pthread_atfork(NULL, NULL, nonce_pool_after_fork) != 0)
		return;
	if (sqlite3mc_register_cipher(&descriptor, params, 0) != SQLITE_OK)
		return;
	int id = sqlite3mc_cipher_index(CIPHER_NAME);
	registered_id = id > 0 ? id : -1;
}

int store_cipher_id(void)
{
	pthread_once(&register_once, register_cipher);
	return registered_id;
}
