/* SQLite3MC page cipher "sp_chacha20": the on-disk format of SQLite3MC's
 * chacha20 cipher (non-legacy, no plaintext header), with libsodium doing
 * the arithmetic. Per page of len bytes, n = len - 32:
 *   nonce  = 16 random bytes at data[n], counter = LE32(nonce[12..16]) ^ page
 *   otk    = ChaCha20(key, nonce[0..12], counter), 64 bytes
 *   data[off..n) ^= ChaCha20(otk[32..64], nonce[0..12], counter + 1)
 *   tag    = Poly1305(otk[0..32], data[0..n+16)) at data[n+16]
 * where off is 24 on page 1 (whose first 16 bytes then carry the salt
 * and bytes 16..23 stay clear, as SQLite3MC needs them to open the file)
 * and 0 elsewhere. The tag covers ciphertext, salt and nonce. */
#include "store/store_cipher.h"
#include "lib/sp_mem.h"

#include <pthread.h>
#include <sodium.h>
#include <sqlite3.h>
#include <string.h>

#define CIPHER_NAME "sp_chacha20"
#define KEY_LEN 32
#define SALT_LEN 16
#define NONCE_LEN 16
#define TAG_LEN 16
#define RESERVED (NONCE_LEN + TAG_LEN)
#define PAGE1_OFFSET 24
#define RAW_PREFIX "raw:"

struct page_cipher {
	uint8_t key[KEY_LEN];
	uint8_t salt[SALT_LEN];
};

void store_cipher_xor(uint8_t *buf, size_t len, const uint8_t key[32], const uint8_t nonce[12],
                      uint32_t counter)
{
	/* libsodium's IETF ChaCha20 carries a counter overflow into the
	 * nonce's first word; SQLite3MC's wraps the 32-bit counter alone. Split
	 * at the wrap so both give the same stream (a page crosses it about
	 * once in 2^26 pages, as the counter starts from random bits). */
	uint64_t blocks_left = (uint64_t)UINT32_MAX - counter + 1;
	if ((uint64_t)len > blocks_left * 64) {
		size_t first = (size_t)(blocks_left * 64);
		crypto_stream_chacha20_ietf_xor_ic(buf, buf, first, nonce, counter, key);
		buf += first;
		len -= first;
		counter = 0;
	}
	crypto_stream_chacha20_ietf_xor_ic(buf, buf, len, nonce, counter, key);
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
	memset(otk, 0, 64);
	store_cipher_xor(otk, 64, c->key, nonce, counter);
	*counter_r = counter + 1;
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
	uint8_t otk[64];
	uint32_t counter;
	randombytes_buf(data + n, NONCE_LEN);
	page_otk(c, data + n, page, otk, &counter);
	store_cipher_xor(data + offset, (size_t)(n - offset), otk + 32, data + n, counter);
	if (page == 1)
		memcpy(data, c->salt, SALT_LEN);
	crypto_onetimeauth_poly1305(data + n + NONCE_LEN, data, (unsigned long long)n + NONCE_LEN,
	                            otk);
	sodium_memzero(otk, sizeof(otk));
	return SQLITE_OK;
}

static int cipher_decrypt(void *cipher, int page, unsigned char *data, int len, int reserved,
                          int check_tag)
{
	const struct page_cipher *c = cipher;
	int n, offset;
	if (page_geometry(page, len, reserved, &n, &offset) < 0)
		return page == 1 ? SQLITE_NOTADB : SQLITE_CORRUPT;
	uint8_t otk[64], tag[TAG_LEN];
	uint32_t counter;
	page_otk(c, data + n, page, otk, &counter);
	crypto_onetimeauth_poly1305(tag, data, (unsigned long long)n + NONCE_LEN, otk);
	store_cipher_xor(data + offset, (size_t)(n - offset), otk + 32, data + n, counter);
	sodium_memzero(otk, sizeof(otk));
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
