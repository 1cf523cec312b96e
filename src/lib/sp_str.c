/* Bounded string, number, hex and base64 helpers. */
#include "lib/sp_str.h"

#include <string.h>
#include <time.h>

size_t sp_strlcpy(char *dst, const char *src, size_t size)
{
	size_t len = strlen(src);
	if (size > 0) {
		size_t n = len < size - 1 ? len : size - 1;
		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}

int sp_parse_u64_slice(struct sp_slice s, uint64_t max, uint64_t *value_r)
{
	uint64_t v = 0;
	if (s.len == 0)
		return -1;
	for (size_t i = 0; i < s.len; i++) {
		uint8_t c = s.ptr[i];
		if (c < '0' || c > '9')
			return -1;
		if (v > (UINT64_MAX - (c - '0')) / 10)
			return -1;
		v = v * 10 + (c - '0');
	}
	if (v > max)
		return -1;
	*value_r = v;
	return 0;
}

int sp_parse_u64(const char *s, uint64_t max, uint64_t *value_r)
{
	return sp_parse_u64_slice(sp_slice_from_str(s), max, value_r);
}

int sp_parse_size(const char *s, uint64_t *value_r)
{
	size_t len = strlen(s);
	uint64_t mult = 1, v;
	if (len > 0) {
		switch (s[len - 1]) {
		case 'k':
		case 'K':
			mult = 1024;
			break;
		case 'm':
		case 'M':
			mult = 1024 * 1024;
			break;
		case 'g':
		case 'G':
			mult = 1024ULL * 1024 * 1024;
			break;
		default:
			break;
		}
	}
	if (mult != 1)
		len--;
	struct sp_slice digits = {(const uint8_t *)s, len};
	if (sp_parse_u64_slice(digits, UINT64_MAX / mult, &v) < 0)
		return -1;
	*value_r = v * mult;
	return 0;
}

void sp_hex_encode(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int sp_hex_decode(const char *in, uint8_t *out, size_t len)
{
	if (strlen(in) != 2 * len)
		return -1;
	for (size_t i = 0; i < len; i++) {
		int hi = hex_value(in[2 * i]), lo = hex_value(in[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_value(uint8_t c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

void sp_base64_encode(const uint8_t *in, size_t len, struct sp_buf *out)
{
	sp_buf_reserve(out, (len + 2) / 3 * 4);
	size_t i = 0;
	for (; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		char q[4] = {b64_alphabet[v >> 18], b64_alphabet[(v >> 12) & 63],
		             b64_alphabet[(v >> 6) & 63], b64_alphabet[v & 63]};
		sp_buf_append(out, q, 4);
	}
	if (i < len) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0);
		char q[4] = {b64_alphabet[v >> 18], b64_alphabet[(v >> 12) & 63],
		             i + 1 < len ? b64_alphabet[(v >> 6) & 63] : '=', '='};
		sp_buf_append(out, q, 4);
	}
}

size_t sp_base64_decode(const uint8_t *in, size_t len, struct sp_buf *out)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t skipped = 0;
	sp_buf_reserve(out, len / 4 * 3 + 3);
	for (size_t i = 0; i < len; i++) {
		if (in[i] == '=')
			break;
		int v = b64_value(in[i]);
		if (v < 0) {
			if (in[i] != '\r' && in[i] != '\n' && in[i] != ' ' && in[i] != '\t')
				skipped++;
			continue;
		}
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			sp_buf_append_byte(out, (uint8_t)(acc >> bits));
			acc &= (1u << bits) - 1;
		}
	}
	return skipped;
}

int sp_base64_decode_strict(const uint8_t *in, size_t len, struct sp_buf *out)
{
	if (len % 4 != 0)
		return -1;
	size_t pad = 0;
	while (pad < 2 && pad < len && in[len - 1 - pad] == '=')
		pad++;
	for (size_t i = 0; i < len - pad; i++) {
		if (b64_value(in[i]) < 0)
			return -1;
	}
	size_t start = out->len;
	sp_base64_decode(in, len, out);
	/* Non-zero bits in the final partial quantum mean a non-canonical
	 * encoding; accept it, as most SASL implementations do. */
	(void)start;
	return 0;
}

void sp_str_lower(char *s)
{
	for (; *s != '\0'; s++)
		*s = (char)sp_ascii_lower((uint8_t)*s);
}

uint64_t sp_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
