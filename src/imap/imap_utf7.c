/* Modified UTF-7 (RFC 3501 §5.1.3): printable US-ASCII except '&' stands
 * for itself, "&-" is '&', and "&...-" holds UTF-16 in BASE64 with ','
 * instead of '/', no padding. UTF-8 per RFC 3629. */
#include "imap/imap_utf7.h"

static const char b64_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

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
	if (c == ',')
		return 63;
	return -1;
}

/* Decodes one UTF-8 sequence at s[*i]; -1 if invalid. */
static int32_t utf8_next(const uint8_t *s, size_t len, size_t *i)
{
	uint8_t c = s[*i];
	size_t n;
	uint32_t cp, min;
	if (c < 0x80) {
		(*i)++;
		return c;
	} else if (c >= 0xc2 && c <= 0xdf) {
		n = 1, cp = c & 0x1f, min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 2, cp = c & 0x0f, min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 3, cp = c & 0x07, min = 0x10000;
	} else {
		return -1;
	}
	if (*i + n >= len)
		return -1;
	for (size_t k = 1; k <= n; k++) {
		uint8_t d = s[*i + k];
		if ((d & 0xc0) != 0x80)
			return -1;
		cp = (cp << 6) | (d & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*i += n + 1;
	return (int32_t)cp;
}

bool imap_utf8_is_valid(struct sp_slice in)
{
	size_t i = 0;
	while (i < in.len) {
		if (utf8_next(in.ptr, in.len, &i) < 0)
			return false;
	}
	return true;
}

static void put_utf8(struct sp_buf *out, uint32_t cp)
{
	if (cp < 0x80) {
		sp_buf_append_byte(out, (uint8_t)cp);
	} else if (cp < 0x800) {
		sp_buf_append_byte(out, (uint8_t)(0xc0 | (cp >> 6)));
		sp_buf_append_byte(out, (uint8_t)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		sp_buf_append_byte(out, (uint8_t)(0xe0 | (cp >> 12)));
		sp_buf_append_byte(out, (uint8_t)(0x80 | ((cp >> 6) & 0x3f)));
		sp_buf_append_byte(out, (uint8_t)(0x80 | (cp & 0x3f)));
	} else {
		sp_buf_append_byte(out, (uint8_t)(0xf0 | (cp >> 18)));
		sp_buf_append_byte(out, (uint8_t)(0x80 | ((cp >> 12) & 0x3f)));
		sp_buf_append_byte(out, (uint8_t)(0x80 | ((cp >> 6) & 0x3f)));
		sp_buf_append_byte(out, (uint8_t)(0x80 | (cp & 0x3f)));
	}
}

/* Writes UTF-16 units as modified BASE64 (without the '&' and '-'). */
static void put_b64(struct sp_buf *out, const uint16_t *units, size_t n)
{
	uint32_t acc = 0;
	unsigned bits = 0;
	for (size_t i = 0; i < n; i++) {
		acc = (acc << 16) | units[i];
		bits += 16;
		while (bits >= 6) {
			bits -= 6;
			sp_buf_append_byte(out, (uint8_t)b64_chars[(acc >> bits) & 0x3f]);
		}
		acc &= (1u << bits) - 1;
	}
	if (bits > 0)
		sp_buf_append_byte(out, (uint8_t)b64_chars[(acc << (6 - bits)) & 0x3f]);
}

int imap_utf8_to_utf7(struct sp_slice in, struct sp_buf *out, const char **error_r)
{
	size_t i = 0;
	while (i < in.len) {
		uint8_t c = in.ptr[i];
		if (c >= 0x20 && c <= 0x7e) {
			if (c == '&')
				sp_buf_append(out, "&-", 2);
			else
				sp_buf_append_byte(out, c);
			i++;
			continue;
		}
		/* A run of characters that need encoding, as UTF-16. */
		uint16_t units[64];
		size_t n = 0;
		sp_buf_append_byte(out, '&');
		while (i < in.len && !(in.ptr[i] >= 0x20 && in.ptr[i] <= 0x7e)) {
			int32_t cp = utf8_next(in.ptr, in.len, &i);
			if (cp <= 0) {
				*error_r = cp < 0 ? "Invalid UTF-8 in mailbox name"
				                  : "NUL in mailbox name";
				return -1;
			}
			if (n + 2 > SP_N_ELEMENTS(units)) {
				/* flush a multiple of 3 units: 48 bits = 8 chars */
				size_t whole = n - n % 3;
				put_b64(out, units, whole);
				for (size_t k = whole; k < n; k++)
					units[k - whole] = units[k];
				n -= whole;
			}
			if (cp >= 0x10000) {
				uint32_t v = (uint32_t)cp - 0x10000;
				units[n++] = (uint16_t)(0xd800 | (v >> 10));
				units[n++] = (uint16_t)(0xdc00 | (v & 0x3ff));
			} else {
				units[n++] = (uint16_t)cp;
			}
		}
		put_b64(out, units, n);
		sp_buf_append_byte(out, '-');
	}
	return 0;
}

int imap_utf7_to_utf8(struct sp_slice in, struct sp_buf *out, const char **error_r)
{
	size_t i = 0;
	bool after_shift = false; /* the previous thing was a "&...-" sequence */
	while (i < in.len) {
		uint8_t c = in.ptr[i];
		if (c < 0x20 || c > 0x7e) {
			*error_r = "Invalid octet in modified UTF-7 mailbox name";
			return -1;
		}
		if (c != '&') {
			sp_buf_append_byte(out, c);
			after_shift = false;
			i++;
			continue;
		}
		i++;
		if (i < in.len && in.ptr[i] == '-') {
			sp_buf_append_byte(out, '&');
			after_shift = false;
			i++;
			continue;
		}
		if (after_shift) {
			*error_r = "Adjacent modified BASE64 sequences in mailbox name";
			return -1;
		}
		uint32_t acc = 0, high = 0;
		unsigned bits = 0;
		size_t start = i;
		while (i < in.len && in.ptr[i] != '-') {
			int v = b64_value(in.ptr[i]);
			if (v < 0) {
				*error_r = "Invalid character in modified BASE64 mailbox name";
				return -1;
			}
			acc = (acc << 6) | (uint32_t)v;
			bits += 6;
			i++;
			if (bits < 16)
				continue;
			bits -= 16;
			uint32_t u = (acc >> bits) & 0xffff;
			acc &= (1u << bits) - 1;
			if (high != 0) {
				if (u < 0xdc00 || u > 0xdfff) {
					*error_r = "Unpaired UTF-16 surrogate in mailbox name";
					return -1;
				}
				put_utf8(out, 0x10000 + ((high - 0xd800) << 10) + (u - 0xdc00));
				high = 0;
			} else if (u >= 0xd800 && u <= 0xdbff) {
				high = u;
			} else if (u >= 0xdc00 && u <= 0xdfff) {
				*error_r = "Unpaired UTF-16 surrogate in mailbox name";
				return -1;
			} else if (u == 0) {
				*error_r = "NUL in mailbox name";
				return -1;
			} else if (u >= 0x20 && u <= 0x7e) {
				*error_r = "Printable US-ASCII encoded in modified BASE64";
				return -1;
			} else {
				put_utf8(out, u);
			}
		}
		if (i >= in.len) {
			*error_r = "Unterminated modified BASE64 in mailbox name";
			return -1;
		}
		if (i == start) {
			*error_r = "Empty modified BASE64 sequence";
			return -1;
		}
		if (high != 0) {
			*error_r = "Unpaired UTF-16 surrogate in mailbox name";
			return -1;
		}
		if (bits >= 6 || acc != 0) {
			*error_r = "Non-canonical modified BASE64 padding in mailbox name";
			return -1;
		}
		i++; /* '-' */
		after_shift = true;
	}
	return 0;
}

bool imap_utf7_is_valid(struct sp_slice in)
{
	struct sp_buf tmp = SP_BUF_INIT;
	const char *error;
	int rc = imap_utf7_to_utf8(in, &tmp, &error);
	sp_buf_deinit(&tmp);
	return rc == 0;
}
