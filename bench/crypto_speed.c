/* The cost of the primitives behind the mailbox page cipher and the
 * sealed spool, per call, on this machine: ChaCha20 over a 4 KiB page's
 * body (4,064 bytes) and Poly1305 over body plus nonce (4,080 bytes) in
 * libsodium and in OpenSSL, a 16-byte randombytes call (one page nonce),
 * and crypto_box_seal of a 300-byte stanza (one X25519 key pair and
 * exchange per recipient of a delivery). Median of 7 runs of N calls.
 * Usage: crypto_speed [N] (default 100000). */
#include <openssl/evp.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RUNS 7

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static uint8_t page[4096], key[32], nonce[16], tag[16], stanza[300], sealed[300 + 48];
static uint8_t pk[crypto_box_PUBLICKEYBYTES], sk[crypto_box_SECRETKEYBYTES];
static EVP_CIPHER_CTX *stream;
static EVP_MAC_CTX *mac;

static void sodium_chacha(long i)
{
	crypto_stream_chacha20_ietf_xor_ic(page, page, 4064, nonce, (uint32_t)i, key);
}

static void sodium_poly(long i)
{
	key[0] = (uint8_t)i;
	crypto_onetimeauth_poly1305(tag, page, 4080, key);
}

static void openssl_chacha(long i)
{
	uint8_t iv[16] = {(uint8_t)i};
	int out;
	if (EVP_EncryptInit_ex2(stream, NULL, key, iv, NULL) != 1 ||
	    EVP_EncryptUpdate(stream, page, &out, page, 4064) != 1)
		abort();
}

static void openssl_poly(long i)
{
	size_t out;
	key[0] = (uint8_t)i;
	if (EVP_MAC_init(mac, key, 32, NULL) != 1 || EVP_MAC_update(mac, page, 4080) != 1 ||
	    EVP_MAC_final(mac, tag, &out, sizeof(tag)) != 1)
		abort();
}

static void random_nonce(long i)
{
	(void)i;
	randombytes_buf(nonce, sizeof(nonce));
}

static void box_seal(long i)
{
	(void)i;
	crypto_box_seal(sealed, stanza, sizeof(stanza), pk);
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 100000;
	if (n <= 0 || sodium_init() < 0)
		return 2;
	EVP_CIPHER *chacha = EVP_CIPHER_fetch(NULL, "ChaCha20", NULL);
	EVP_MAC *poly = EVP_MAC_fetch(NULL, "POLY1305", NULL);
	stream = EVP_CIPHER_CTX_new();
	mac = chacha != NULL && poly != NULL ? EVP_MAC_CTX_new(poly) : NULL;
	if (mac == NULL || stream == NULL ||
	    EVP_EncryptInit_ex2(stream, chacha, NULL, NULL, NULL) != 1)
		return 1;
	crypto_box_keypair(pk, sk);
	static const struct {
		const char *name;
		void (*fn)(long);
		long div; /* fewer calls for the slow ones */
	} cases[] = {
	    {"libsodium ChaCha20, 4064 bytes", sodium_chacha, 1},
	    {"libsodium Poly1305, 4080 bytes", sodium_poly, 1},
	    {"OpenSSL ChaCha20, 4064 bytes (key and IV set per call)", openssl_chacha, 1},
	    {"OpenSSL Poly1305, 4080 bytes (key set per call)", openssl_poly, 1},
	    {"randombytes_buf, 16 bytes", random_nonce, 1},
	    {"crypto_box_seal, 300 bytes", box_seal, 20},
	};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		long calls = n / cases[c].div;
		double t[RUNS];
		for (int r = 0; r < RUNS; r++) {
			double t0 = now_us();
			for (long i = 0; i < calls; i++)
				cases[c].fn(i);
			t[r] = (now_us() - t0) / (double)calls;
		}
		qsort(t, RUNS, sizeof(t[0]), cmp_double);
		printf("%-58s %8.3f us\n", cases[c].name, t[RUNS / 2]);
	}
	EVP_MAC_CTX_free(mac);
	EVP_CIPHER_CTX_free(stream);
	EVP_MAC_free(poly);
	EVP_CIPHER_free(chacha);
	return 0;
}
