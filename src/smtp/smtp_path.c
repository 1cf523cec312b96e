/* SMTP envelope address grammar: Path, Mailbox, Domain, address literals
 * (RFC 5321 §4.1.2, §4.1.3), UTF-8 mailboxes (RFC 6531 §3.3) and xtext
 * (RFC 3461 §4). Strict where the RFCs are clear, with the leniencies that
 * smtp_path.h lists. */
#include "smtp/smtp_path.h"

#include "lib/sp_str.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#define DOMAIN_MAX 255
#define LABEL_MAX 63

static bool is_alpha(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

static bool is_hex(uint8_t c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static unsigned hex_value(uint8_t c)
{
	if (is_digit(c))
		return (unsigned)(c - '0');
	return (unsigned)(sp_ascii_lower(c) - 'a' + 10);
}

/* RFC 5322 atext, which RFC 5321 Atom uses. */
static bool is_atext(uint8_t c)
{
	if (is_alpha(c) || is_digit(c))
		return true;
	switch (c) {
	case '!':
	case '#':
	case '$':
	case '%':
	case '&':
	case '\'':
	case '*':
	case '+':
	case '-':
	case '/':
	case '=':
	case '?':
	case '^':
	case '_':
	case '`':
	case '{':
	case '|':
	case '}':
	case '~':
		return true;
	default:
		return false;
	}
}

size_t smtp_utf8_seq_len(const uint8_t *in, size_t len)
{
	if (len == 0)
		return 0;
	uint8_t c = in[0];
	size_t n;
	uint32_t cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((in[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (in[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

static uint8_t *scratch_take(struct smtp_scratch *s, size_t n)
{
	sp_assert(n <= s->cap - s->len);
	uint8_t *p = s->buf + s->len;
	s->len += n;
	return p;
}

/* Length of the Domain at in[0], stopping at the first byte that cannot
 * be part of one; 0 when what is there is not a valid Domain. */
static size_t domain_span(const uint8_t *in, size_t len, bool allow_utf8, bool *utf8_r)
{
	size_t i = 0, label_start = 0;
	for (;;) {
		/* One label: Let-dig [Ldh-str], plus '_' and U-labels. */
		while (i < len) {
			uint8_t c = in[i];
			if (is_alpha(c) || is_digit(c) || c == '-' || c == '_') {
				i++;
			} else if (c >= 0x80 && allow_utf8) {
				size_t n = smtp_utf8_seq_len(in + i, len - i);
				if (n == 0)
					return 0;
				*utf8_r = true;
				i += n;
			} else {
				break;
			}
		}
		size_t label_len = i - label_start;
		if (label_len == 0 || label_len > LABEL_MAX || in[label_start] == '-' ||
		    in[i - 1] == '-')
			return 0;
		if (i < len && in[i] == '.') {
			i++;
			label_start = i;
			continue;
		}
		break;
	}
	return i > DOMAIN_MAX ? 0 : i;
}

/* RFC 5321 §4.1.3 Snum 3("." Snum). */
static bool ipv4_is_valid(const uint8_t *in, size_t len)
{
	size_t i = 0;
	for (int part = 0; part < 4; part++) {
		unsigned v = 0, digits = 0;
		while (i < len && is_digit(in[i]) && digits < 4) {
			v = v * 10 + (unsigned)(in[i] - '0');
			digits++;
			i++;
		}
		if (digits == 0 || digits > 3 || v > 255)
			return false;
		if (part < 3) {
			if (i >= len || in[i] != '.')
				return false;
			i++;
		}
	}
	return i == len;
}

/* Length of the address literal at in[0] == '[' including ']', or 0. */
static size_t literal_span(const uint8_t *in, size_t len)
{
	size_t i = 1;
	/* dcontent = %d33-90 / %d94-126 */
	while (i < len && in[i] >= 33 && in[i] <= 126 && in[i] != '[' && in[i] != '\\' &&
	       in[i] != ']')
		i++;
	if (i >= len || in[i] != ']' || i == 1)
		return 0;
	const uint8_t *body = in + 1;
	size_t blen = i - 1;
	const uint8_t *colon = memchr(body, ':', blen);
	if (colon == NULL)
		return ipv4_is_valid(body, blen) ? i + 1 : 0;
	size_t tag_len = (size_t)(colon - body);
	if (tag_len == 4 && strncasecmp((const char *)body, "IPv6", 4) == 0) {
		char addr[INET6_ADDRSTRLEN + 1];
		struct in6_addr a6;
		size_t alen = blen - 5;
		if (alen == 0 || alen >= sizeof(addr))
			return 0;
		memcpy(addr, body + 5, alen);
		addr[alen] = '\0';
		return inet_pton(AF_INET6, addr, &a6) == 1 ? i + 1 : 0;
	}
	/* General-address-literal = Standardized-tag ":" 1*dcontent; the tag
	 * is an Ldh-str ending in a letter or digit. */
	if (tag_len == 0 || tag_len + 1 == blen || body[tag_len - 1] == '-')
		return 0;
	for (size_t k = 0; k < tag_len; k++)
		if (!is_alpha(body[k]) && !is_digit(body[k]) && body[k] != '-')
			return 0;
	return i + 1;
}

bool smtp_domain_is_valid(const uint8_t *in, size_t len, bool allow_utf8)
{
	bool utf8 = false;
	if (len > 0 && in[0] == '[')
		return literal_span(in, len) == len;
	return len > 0 && domain_span(in, len, allow_utf8, &utf8) == len;
}

/* Parses Mailbox = Local-part "@" ( Domain / address-literal ) at in[0],
 * stopping after the domain. Returns the length used, or 0 with *error_r. */
static size_t mailbox_span(const uint8_t *in, size_t len, struct smtp_scratch *scratch,
                           struct smtp_path *path, const char **error_r)
{
	size_t i = 0;
	if (len > 0 && in[0] == '"') {
		/* Quoted-string (RFC 5321 §4.1.2, qtextSMTP widened by RFC 6531). */
		size_t start = scratch->len;
		i = 1;
		for (;;) {
			if (i >= len) {
				*error_r = "Unterminated quoted local part";
				return 0;
			}
			uint8_t c = in[i];
			if (c == '"')
				break;
			if (c == '\\') {
				if (i + 1 >= len || in[i + 1] < 32 || in[i + 1] > 126) {
					*error_r = "Bad quoted pair in local part";
					return 0;
				}
				*scratch_take(scratch, 1) = in[i + 1];
				i += 2;
			} else if (c >= 32 && c <= 126) {
				*scratch_take(scratch, 1) = c;
				i++;
			} else if (c >= 0x80) {
				size_t n = smtp_utf8_seq_len(in + i, len - i);
				if (n == 0) {
					*error_r = "Malformed UTF-8 in local part";
					return 0;
				}
				memcpy(scratch_take(scratch, n), in + i, n);
				path->utf8 = true;
				i += n;
			} else {
				*error_r = "Control character in local part";
				return 0;
			}
		}
		i++;
		path->quoted = true;
		path->local = (struct sp_slice){scratch->buf + start, scratch->len - start};
	} else {
		/* Dot-string, allowing empty atoms (see smtp_path.h). */
		while (i < len) {
			uint8_t c = in[i];
			if (is_atext(c) || c == '.') {
				i++;
			} else if (c >= 0x80) {
				size_t n = smtp_utf8_seq_len(in + i, len - i);
				if (n == 0) {
					*error_r = "Malformed UTF-8 in local part";
					return 0;
				}
				path->utf8 = true;
				i += n;
			} else {
				break;
			}
		}
		if (i == 0) {
			*error_r = "Empty local part";
			return 0;
		}
		path->local = (struct sp_slice){in, i};
	}
	if (i >= len || in[i] != '@') {
		*error_r = "Missing @domain";
		return 0;
	}
	i++;
	size_t dlen;
	if (i < len && in[i] == '[') {
		dlen = literal_span(in + i, len - i);
		path->domain_literal = true;
	} else {
		dlen = domain_span(in + i, len - i, true, &path->utf8);
	}
	if (dlen == 0) {
		*error_r = "Invalid domain";
		return 0;
	}
	path->domain = (struct sp_slice){in + i, dlen};
	i += dlen;
	path->mailbox = (struct sp_slice){in, i};
	return i;
}

int smtp_path_parse(const uint8_t *in, size_t len, enum smtp_path_kind kind,
                    struct smtp_scratch *scratch, struct smtp_path *path_r, size_t *used_r,
                    const char **error_r)
{
	memset(path_r, 0, sizeof(*path_r));
	if (len == 0 || in[0] != '<') {
		*error_r = "Address must be in angle brackets";
		return -1;
	}
	size_t i = 1;
	if (i < len && in[i] == '>') {
		if (kind != SMTP_PATH_REVERSE) {
			*error_r = "Null address not allowed here";
			return -1;
		}
		path_r->null = true;
		path_r->mailbox = path_r->local = path_r->domain = (struct sp_slice){in + 1, 0};
		*used_r = 2;
		return 0;
	}
	/* RFC 5321 §4.1.1.3 and Appendix C: a source route must be accepted
	 * and SHOULD be ignored; its domains still have to be well formed. */
	if (i < len && in[i] == '@') {
		for (;;) {
			bool utf8 = false;
			i++; /* '@' */
			size_t d = domain_span(in + i, len - i, true, &utf8);
			if (d == 0) {
				*error_r = "Invalid source route";
				return -1;
			}
			i += d;
			if (i < len && in[i] == ',' && i + 1 < len && in[i + 1] == '@') {
				i++;
				continue;
			}
			if (i < len && in[i] == ':') {
				i++;
				break;
			}
			*error_r = "Invalid source route";
			return -1;
		}
		path_r->route_stripped = true;
	}
	/* RFC 5321 §4.1.1.3: "<Postmaster>" without a domain, any case. */
	if (kind == SMTP_PATH_FORWARD && len - i >= 11 &&
	    strncasecmp((const char *)in + i, "postmaster>", 11) == 0) {
		path_r->postmaster = true;
		path_r->mailbox = path_r->local = (struct sp_slice){in + i, 10};
		path_r->domain = (struct sp_slice){in + i + 10, 0};
		*used_r = i + 11;
		return 0;
	}
	size_t n = mailbox_span(in + i, len - i, scratch, path_r, error_r);
	if (n == 0)
		return -1;
	i += n;
	if (i >= len || in[i] != '>') {
		*error_r = "Address must end with '>'";
		return -1;
	}
	*used_r = i + 1;
	return 0;
}

int smtp_mailbox_parse(const uint8_t *in, size_t len, struct smtp_scratch *scratch,
                       struct smtp_path *path_r, const char **error_r)
{
	memset(path_r, 0, sizeof(*path_r));
	size_t n = mailbox_span(in, len, scratch, path_r, error_r);
	if (n == 0)
		return -1;
	if (n != len) {
		*error_r = "Trailing characters after address";
		return -1;
	}
	return 0;
}

int smtp_xtext_decode(const uint8_t *in, size_t len, bool allow_utf8, struct smtp_scratch *scratch,
                      struct sp_slice *out_r)
{
	size_t start = scratch->len;
	for (size_t i = 0; i < len;) {
		uint8_t c = in[i];
		if (c == '+') {
			if (i + 2 >= len || !is_hex(in[i + 1]) || !is_hex(in[i + 2]))
				return -1;
			uint8_t v = (uint8_t)(hex_value(in[i + 1]) << 4 | hex_value(in[i + 2]));
			if (v < 0x20 || v == 0x7f)
				return -1;
			*scratch_take(scratch, 1) = v;
			i += 3;
		} else if (c >= 33 && c <= 126 && c != '=') {
			*scratch_take(scratch, 1) = c;
			i++;
		} else if (c >= 0x80 && allow_utf8) {
			size_t n = smtp_utf8_seq_len(in + i, len - i);
			if (n == 0)
				return -1;
			memcpy(scratch_take(scratch, n), in + i, n);
			i += n;
		} else {
			return -1;
		}
	}
	*out_r = (struct sp_slice){scratch->buf + start, scratch->len - start};
	return 0;
}
