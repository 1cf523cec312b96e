/* Content decoding: quoted-printable (RFC 2045 §6.7), base64 (§6.8, via
 * sp_base64_decode), RFC 2047 encoded-words, and charset conversion to
 * UTF-8 with iconv (glibc), replacing what cannot be converted by U+FFFD
 * so that no input makes decoding fail. */
#include "mime/mime_int.h"
#include "lib/sp_str.h"

#include <errno.h>
#include <iconv.h>
#include <string.h>
#include <strings.h>

static const uint8_t REPLACEMENT[3] = {0xef, 0xbf, 0xbd}; /* U+FFFD */

static int hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = sp_ascii_lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static size_t qp_decode(const uint8_t *in, size_t len, bool q, struct sp_buf *out)
{
	size_t bad = 0, i = 0;

	if (len == 0)
		return 0;
	sp_buf_reserve(out, len);
	while (i < len) {
		uint8_t c = in[i];
		if (c == '=') {
			int h, l;
			if (i + 2 < len + 0 && (h = hexval(in[i + 1])) >= 0 &&
			    (l = hexval(in[i + 2])) >= 0) {
				sp_buf_append_byte(out, (uint8_t)(h * 16 + l));
				i += 3;
				continue;
			}
			/* soft line break: "=" WSP* CRLF (RFC 2045 §6.7 rule 5) */
			size_t j = i + 1;
			while (j < len && (in[j] == ' ' || in[j] == '\t'))
				j++;
			if (j < len && in[j] == '\r' && j + 1 < len && in[j + 1] == '\n') {
				i = j + 2;
				continue;
			}
			if (j < len && in[j] == '\n') {
				i = j + 1;
				continue;
			}
			if (j == len && !q) {
				i = j;
				continue;
			}
			bad++;
			sp_buf_append_byte(out, c);
			i++;
			continue;
		}
		if (q && c == '_') {
			sp_buf_append_byte(out, ' ');
			i++;
			continue;
		}
		if (!q && (c == ' ' || c == '\t')) {
			/* rule 3: trailing whitespace before a line end goes */
			size_t j = i;
			while (j < len && (in[j] == ' ' || in[j] == '\t'))
				j++;
			if (j == len || in[j] == '\r' || in[j] == '\n') {
				i = j;
				continue;
			}
			sp_buf_append(out, in + i, j - i);
			i = j;
			continue;
		}
		sp_buf_append_byte(out, c);
		i++;
	}
	return bad;
}

size_t mime_qp_decode(const uint8_t *in, size_t len, struct sp_buf *out)
{
	return qp_decode(in, len, false, out);
}

size_t mime_q_decode(const uint8_t *in, size_t len, struct sp_buf *out)
{
	return qp_decode(in, len, true, out);
}

enum mime_cte mime_cte_parse(const char *value)
{
	if (value == NULL)
		return MIME_CTE_7BIT;
	while (*value == ' ' || *value == '\t')
		value++;
	size_t n = 0;
	while (value[n] != '\0' && value[n] != ' ' && value[n] != '\t' && value[n] != ';' &&
	       value[n] != '(')
		n++;
	static const struct {
		const char *name;
		enum mime_cte cte;
	} names[] = {
	    {"7bit", MIME_CTE_7BIT},     {"8bit", MIME_CTE_8BIT},
	    {"binary", MIME_CTE_BINARY}, {"quoted-printable", MIME_CTE_QP},
	    {"base64", MIME_CTE_BASE64},
	};
	if (n == 0)
		return MIME_CTE_7BIT;
	for (size_t i = 0; i < SP_N_ELEMENTS(names); i++) {
		if (strlen(names[i].name) == n && strncasecmp(value, names[i].name, n) == 0)
			return names[i].cte;
	}
	return MIME_CTE_UNKNOWN;
}

int mime_part_decode_body(const struct mime_message *msg, const struct mime_part *part,
                          struct sp_buf *out)
{
	const uint8_t *p = msg->data + part->body_off;

	switch (mime_cte_parse(part->encoding)) {
	case MIME_CTE_QP:
		mime_qp_decode(p, part->body_len, out);
		return 0;
	case MIME_CTE_BASE64:
		sp_base64_decode(p, part->body_len, out);
		return 0;
	case MIME_CTE_UNKNOWN:
		return -1;
	case MIME_CTE_7BIT:
	case MIME_CTE_8BIT:
	case MIME_CTE_BINARY:
		break;
	}
	sp_buf_append(out, p, part->body_len);
	return 0;
}

/* ---- UTF-8 ---- */

size_t mime_utf8_seq_len(const uint8_t *p, size_t avail)
{
	uint8_t c = p[0];
	size_t n;
	uint32_t min, cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		min = 0x80;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		min = 0x800;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		min = 0x10000;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (avail < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

static void append_cp(struct sp_buf *out, uint32_t cp)
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

size_t mime_utf8_append(const uint8_t *in, size_t len, bool fallback_latin1, struct sp_buf *out)
{
	size_t bad = 0, i = 0;

	if (len == 0)
		return 0;
	sp_buf_reserve(out, len);
	while (i < len) {
		size_t run = i;
		while (run < len && in[run] < 0x80)
			run++;
		if (run > i) {
			sp_buf_append(out, in + i, run - i);
			i = run;
			continue;
		}
		size_t n = mime_utf8_seq_len(in + i, len - i);
		if (n > 0) {
			sp_buf_append(out, in + i, n);
			i += n;
			continue;
		}
		bad++;
		if (fallback_latin1)
			append_cp(out, in[i]);
		else
			sp_buf_append(out, REPLACEMENT, sizeof(REPLACEMENT));
		i++;
	}
	return bad;
}

static bool valid_utf8(const uint8_t *in, size_t len)
{
	for (size_t i = 0; i < len;) {
		size_t n = mime_utf8_seq_len(in + i, len - i);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

/* ---- charsets ---- */

/* Labels mailers use that iconv does not know, or that name a subset of
 * what is really sent (the WHATWG encoding standard makes the same
 * choices: latin1 is read as windows-1252, euc-kr as CP949, ...). */
static const struct {
	const char *label, *iconv;
} aliases[] = {
    {"us-ascii", "UTF-8"}, /* 8-bit in "us-ascii" is most often UTF-8 */
    {"ascii", "UTF-8"},
    {"ansi_x3.4-1968", "UTF-8"},
    {"ansi-x3.4-1968", "UTF-8"},
    {"utf8", "UTF-8"},
    {"iso-8859-1", "WINDOWS-1252"},
    {"iso8859-1", "WINDOWS-1252"},
    {"latin1", "WINDOWS-1252"},
    {"latin-1", "WINDOWS-1252"},
    {"iso_8859-1", "WINDOWS-1252"},
    {"us", "WINDOWS-1252"},
    {"ks_c_5601-1987", "CP949"},
    {"ks_c_5601", "CP949"},
    {"ks_c_5601-1989", "CP949"},
    {"ksc5601", "CP949"},
    {"ksc_5601", "CP949"},
    {"euc-kr", "CP949"},
    {"x-euc-kr", "CP949"},
    {"gb2312", "GB18030"},
    {"gbk", "GB18030"},
    {"x-gbk", "GB18030"},
    {"cn-gb", "GB18030"},
    {"big5", "BIG5-HKSCS"},
    {"x-big5", "BIG5-HKSCS"},
    {"shift_jis", "CP932"},
    {"shift-jis", "CP932"},
    {"x-sjis", "CP932"},
    {"sjis", "CP932"},
    {"windows-31j", "CP932"},
    {"iso-2022-jp", "ISO-2022-JP-3"},
    {"euc-jp", "EUC-JP-MS"},
    {"iso-8859-8-i", "ISO-8859-8"},
    {"iso-8859-6-i", "ISO-8859-6"},
    {"tis-620", "CP874"},
    {"windows-874", "CP874"},
    {"iso-8859-11", "CP874"},
    {"x-mac-roman", "MACINTOSH"},
    {"unicode-1-1-utf-7", "UTF-7"},
    {"x-user-defined", "ISO-8859-1"},
    {"ucs-2", "UTF-16BE"},
    {"unicode", "UTF-16LE"},
};

static const char *charset_iconv_name(const char *charset, char *buf, size_t size)
{
	size_t n = 0;

	/* RFC 2231 §5 allows "charset*language" in encoded-words */
	while (charset[n] != '\0' && charset[n] != '*' && n + 1 < size) {
		buf[n] = (char)sp_ascii_lower((uint8_t)charset[n]);
		n++;
	}
	buf[n] = '\0';
	for (size_t i = 0; i < SP_N_ELEMENTS(aliases); i++) {
		if (strcmp(buf, aliases[i].label) == 0)
			return aliases[i].iconv;
	}
	return buf;
}

static bool is_utf8_name(const char *name)
{
	return strcasecmp(name, "UTF-8") == 0;
}

bool mime_charset_known(const char *charset)
{
	char buf[64];
	const char *name;

	if (charset == NULL || *charset == '\0')
		return true;
	name = charset_iconv_name(charset, buf, sizeof(buf));
	if (is_utf8_name(name))
		return true;
	iconv_t cd = iconv_open("UTF-8", name);
	if (cd == (iconv_t)-1)
		return false;
	iconv_close(cd);
	return true;
}

size_t mime_charset_to_utf8(const char *charset, const uint8_t *in, size_t len, struct sp_buf *out)
{
	char buf[64];
	const char *name;
	size_t bad = 0;

	if (len == 0)
		return 0;
	if (charset == NULL || *charset == '\0')
		charset = "us-ascii";
	name = charset_iconv_name(charset, buf, sizeof(buf));
	if (is_utf8_name(name))
		return mime_utf8_append(in, len, false, out);

	iconv_t cd = iconv_open("UTF-8", name);
	if (cd == (iconv_t)-1) {
		/* Unknown: valid UTF-8 stays, anything else is latin1. */
		if (valid_utf8(in, len)) {
			sp_buf_append(out, in, len);
			return 0;
		}
		mime_utf8_append(in, len, true, out);
		return 1;
	}
	char *ip = (char *)(uintptr_t)in;
	size_t ileft = len;
	while (ileft > 0) {
		sp_buf_reserve(out, ileft * 4 + 16);
		char *op = (char *)out->data + out->len;
		size_t oleft = out->cap - out->len - 1;
		size_t oleft0 = oleft;
		size_t r = iconv(cd, &ip, &ileft, &op, &oleft);
		out->len += oleft0 - oleft;
		if (r != (size_t)-1)
			break;
		if (errno == E2BIG)
			continue;
		/* EILSEQ or EINVAL (truncated at the end): one byte is lost
		 * to U+FFFD and conversion restarts from a clean state. */
		sp_buf_append(out, REPLACEMENT, sizeof(REPLACEMENT));
		bad++;
		ip++;
		ileft--;
		iconv(cd, NULL, NULL, NULL, NULL);
	}
	/* flush a stateful encoding's final shift */
	sp_buf_reserve(out, 16);
	char *op = (char *)out->data + out->len;
	size_t oleft = out->cap - out->len - 1, oleft0 = oleft;
	iconv(cd, NULL, NULL, &op, &oleft);
	out->len += oleft0 - oleft;
	out->data[out->len] = '\0';
	iconv_close(cd);
	return bad;
}

/* ---- RFC 2047 ---- */

struct eword {
	const uint8_t *charset;
	size_t charset_len;
	char enc;
	const uint8_t *text;
	size_t text_len;
	size_t total; /* bytes from "=?" to "?=" inclusive */
};

/* Where the next "?=" and the next line end are, at or after a point
 * that only moves forward: cached so that many unterminated "=?" cost
 * linear time, not quadratic. */
struct eword_scan {
	const uint8_t *close, *eol;
};

static const uint8_t *find_close(const uint8_t *p, const uint8_t *end)
{
	while (p + 1 < end) {
		const uint8_t *q = memchr(p, '?', (size_t)(end - p - 1));
		if (q == NULL)
			break;
		if (q[1] == '=')
			return q;
		p = q + 1;
	}
	return end;
}

static const uint8_t *find_eol(const uint8_t *p, const uint8_t *end)
{
	for (; p < end; p++) {
		if (*p == '\r' || *p == '\n')
			return p;
	}
	return end;
}

/* Recognises "=?charset?B|Q?text?=" at p (RFC 2047 §2); lenient about
 * the text containing spaces or "?" not followed by "=". */
static bool eword_at(const uint8_t *p, const uint8_t *end, struct eword_scan *sc, struct eword *w)
{
	if (end - p < 8 || p[0] != '=' || p[1] != '?')
		return false;
	const uint8_t *cs = p + 2, *q = cs;
	while (q < end && *q != '?' && *q > ' ' && *q < 0x7f && q - cs < 60)
		q++;
	if (q == cs || q + 3 > end || *q != '?')
		return false;
	char enc = (char)sp_ascii_upper(q[1]);
	if ((enc != 'B' && enc != 'Q') || q[2] != '?')
		return false;
	const uint8_t *text = q + 3;
	if (sc->close < text)
		sc->close = find_close(text, end);
	if (sc->eol < text)
		sc->eol = find_eol(text, end);
	const uint8_t *t = sc->close;
	if (t >= end || sc->eol < t)
		return false;
	w->charset = cs;
	w->charset_len = (size_t)(q - cs);
	w->enc = enc;
	w->text = text;
	w->text_len = (size_t)(t - text);
	w->total = (size_t)(t + 2 - p);
	return true;
}

static bool only_space(const uint8_t *p, const uint8_t *end)
{
	for (; p < end; p++) {
		if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
			return false;
	}
	return true;
}

static void flush_words(struct sp_buf *raw, char *charset, struct sp_buf *out)
{
	if (raw->len > 0)
		mime_charset_to_utf8(charset, raw->data, raw->len, out);
	sp_buf_reset(raw);
	charset[0] = '\0';
}

void mime_rfc2047_decode(const uint8_t *in, size_t len, struct sp_buf *out)
{
	if (len == 0)
		return;
	const uint8_t *p = in, *end = in + len, *plain = in;
	struct sp_buf raw = SP_BUF_INIT;
	char charset[64] = "";
	struct eword w;
	struct eword_scan sc = {in, in};

	while (p < end) {
		const uint8_t *eq = memchr(p, '=', (size_t)(end - p));
		if (eq == NULL)
			break;
		if (!eword_at(eq, end, &sc, &w)) {
			p = eq + 1;
			continue;
		}
		/* Text between two encoded-words that is only whitespace is
		 * dropped (RFC 2047 §6.2); otherwise it is plain text. */
		bool adjacent = raw.len > 0 && only_space(plain, eq);
		char cs[64];
		size_t cl = SP_MIN(w.charset_len, sizeof(cs) - 1);
		memcpy(cs, w.charset, cl);
		cs[cl] = '\0';
		if (!adjacent || strcasecmp(cs, charset) != 0) {
			flush_words(&raw, charset, out);
			if (!adjacent)
				mime_utf8_append(plain, (size_t)(eq - plain), true, out);
		}
		/* Bytes of adjacent words in one charset are converted
		 * together: senders split multibyte characters across words. */
		memcpy(charset, cs, cl + 1);
		if (w.enc == 'B')
			sp_base64_decode(w.text, w.text_len, &raw);
		else
			mime_q_decode(w.text, w.text_len, &raw);
		p = plain = eq + w.total;
	}
	flush_words(&raw, charset, out);
	mime_utf8_append(plain, (size_t)(end - plain), true, out);
	sp_buf_deinit(&raw);
}
