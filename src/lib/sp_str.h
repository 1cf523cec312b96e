/* Small string and number helpers with explicit bounds: the replacements
 * for atoi, strcpy and friends, which tools/check-banned.sh forbids. */
#ifndef SP_STR_H
#define SP_STR_H

#include "lib/sp_buf.h"

/* Copies at most size-1 bytes and NUL-terminates; returns strlen(src). */
size_t sp_strlcpy(char *dst, const char *src, size_t size);

/* Parses a whole decimal unsigned number, no sign, no spaces, <= max.
 * 0 on success, -1 otherwise. */
int sp_parse_u64(const char *s, uint64_t max, uint64_t *value_r);
int sp_parse_u64_slice(struct sp_slice s, uint64_t max, uint64_t *value_r);

/* Parses a size: digits with an optional K, M or G suffix, 1024-based
 * ("20K" = 20480), as the CLI and config take them (DESIGN section 8). */
int sp_parse_size(const char *s, uint64_t *value_r);

/* Lowercase hex of len bytes into out (2*len+1 bytes, NUL-terminated). */
void sp_hex_encode(const uint8_t *in, size_t len, char *out);
/* Decodes exactly 2*len hex digits into out; -1 on a bad digit or length. */
int sp_hex_decode(const char *in, uint8_t *out, size_t len);

/* Base64 (RFC 4648) encode, appended to out. */
void sp_base64_encode(const uint8_t *in, size_t len, struct sp_buf *out);
/* Lenient RFC 2045 §6.8 decoding: characters outside the alphabet are
 * skipped, decoding stops at '='. Appends to out; returns the number of
 * invalid characters skipped (0 for clean input). */
size_t sp_base64_decode(const uint8_t *in, size_t len, struct sp_buf *out);
/* Strict decoding (SASL, RFC 4648 §3.3): -1 on any non-alphabet byte or
 * bad padding. */
int sp_base64_decode_strict(const uint8_t *in, size_t len, struct sp_buf *out);

static inline uint8_t sp_ascii_lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}
static inline uint8_t sp_ascii_upper(uint8_t c)
{
	return (c >= 'a' && c <= 'z') ? (uint8_t)(c - 32) : c;
}
void sp_str_lower(char *s);

/* Monotonic milliseconds, for timers and measurements. */
uint64_t sp_now_ms(void);

#endif
