/* Address canonicalisation: RFC 5321 §4.1.2 dot-atom local parts (with
 * RFC 6531 UTF-8), RFC 5890 IDNA domains through libidn2. */
#include "accounts/address.h"
#include "lib/sp_str.h"

#include <idn2.h>
#include <stdio.h>
#include <string.h>

static bool atext_char(uint8_t c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	if (c >= 0x80) /* RFC 6531 UTF8-non-ascii; validated as UTF-8 below */
		return true;
	return strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL && c != '\0';
}

static bool valid_utf8(const uint8_t *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		uint8_t c = s[i];
		size_t n;
		uint32_t cp;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			n = 1;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		for (size_t k = 1; k <= n; k++) {
			if (i + k >= len || (s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

int address_domain_canonical(const char *in, char *out, const char **error_r)
{
	size_t len = strlen(in);
	if (len == 0) {
		*error_r = "empty domain";
		return -1;
	}
	if (len > 0 && in[len - 1] == '.') {
		*error_r = "domain must not end with a dot";
		return -1;
	}
	if (!valid_utf8((const uint8_t *)in, len)) {
		*error_r = "domain is not valid UTF-8";
		return -1;
	}
	char *ascii = NULL;
	int rc = idn2_to_ascii_8z(in, &ascii, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
	if (rc != IDN2_OK) {
		/* Retry with the transitional mapping that browsers still use for
		 * a few characters (e.g. ß); reject if it also fails. */
		rc = idn2_to_ascii_8z(in, &ascii, IDN2_NFC_INPUT | IDN2_TRANSITIONAL);
		if (rc != IDN2_OK) {
			*error_r = "invalid international domain name";
			return -1;
		}
	}
	size_t alen = strlen(ascii);
	if (alen > ADDRESS_DOMAIN_MAX) {
		idn2_free(ascii);
		*error_r = "domain too long";
		return -1;
	}
	/* LDH labels, 1-63 octets, no leading or trailing hyphen, and at
	 * least two labels: a mail domain is never a bare host name here. */
	size_t label = 0, labels = 1;
	for (size_t i = 0; i <= alen; i++) {
		char c = ascii[i];
		if (c == '.' || c == '\0') {
			if (label == 0 || label > 63 || ascii[i - 1] == '-' ||
			    ascii[i - label] == '-') {
				idn2_free(ascii);
				*error_r = "invalid domain label";
				return -1;
			}
			label = 0;
			if (c == '.')
				labels++;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-')) {
			idn2_free(ascii);
			*error_r = "invalid character in domain";
			return -1;
		}
		label++;
	}
	if (labels < 2) {
		idn2_free(ascii);
		*error_r = "domain needs at least two labels";
		return -1;
	}
	sp_strlcpy(out, ascii, ADDRESS_DOMAIN_MAX + 1);
	sp_str_lower(out);
	idn2_free(ascii);
	return 0;
}

int address_parse(const char *in, struct address *addr, const char **error_r)
{
	memset(addr, 0, sizeof(*addr));
	size_t len = strlen(in);
	if (len == 0) {
		*error_r = "empty address";
		return -1;
	}
	if (len > ADDRESS_MAX_LEN) {
		*error_r = "address too long";
		return -1;
	}
	const char *at = strrchr(in, '@');
	if (at == NULL) {
		*error_r = "address has no @";
		return -1;
	}
	size_t llen = (size_t)(at - in);
	if (llen == 0) {
		*error_r = "empty local part";
		return -1;
	}
	if (llen > ADDRESS_LOCAL_MAX) {
		*error_r = "local part too long";
		return -1;
	}
	if (in[0] == '"') {
		*error_r = "quoted local parts are not supported";
		return -1;
	}
	/* RFC 5322 §3.4.1 dot-atom: no leading, trailing or double dot. */
	if (in[0] == '.' || in[llen - 1] == '.') {
		*error_r = "local part must not start or end with a dot";
		return -1;
	}
	for (size_t i = 0; i < llen; i++) {
		uint8_t c = (uint8_t)in[i];
		if (c == '.') {
			if (in[i + 1] == '.') {
				*error_r = "local part has two dots in a row";
				return -1;
			}
			continue;
		}
		if (!atext_char(c)) {
			*error_r = "invalid character in local part";
			return -1;
		}
	}
	if (!valid_utf8((const uint8_t *)in, llen)) {
		*error_r = "local part is not valid UTF-8";
		return -1;
	}
	if (address_domain_canonical(at + 1, addr->domain, error_r) < 0)
		return -1;
	/* The A-label form can be longer than the UTF-8 input (found by
	 * fuzz_address): the canonical address must fit too. */
	if (llen + 1 + strlen(addr->domain) > ADDRESS_MAX_LEN) {
		*error_r = "address too long";
		return -1;
	}
	/* Subaddress: the first '+' after a non-empty base (RFC 5233 style). */
	size_t base = llen;
	const char *plus = memchr(in, '+', llen);
	/* Only when the base is a valid local part on its own: "a.+x@"
	 * stays whole, so the canonical form always parses again. */
	if (plus != NULL && plus != in && plus[-1] != '.')
		base = (size_t)(plus - in);
	memcpy(addr->local, in, base);
	addr->local[base] = '\0';
	if (base < llen) {
		memcpy(addr->tag, in + base + 1, llen - base - 1);
		addr->tag[llen - base - 1] = '\0';
	}
	for (char *p = addr->local; *p != '\0'; p++)
		*p = (char)sp_ascii_lower((uint8_t)*p);
	return 0;
}

void address_format(const struct address *addr, char *out, size_t size)
{
	snprintf(out, size, "%s@%s", addr->local, addr->domain);
}
