/* SMTP-family reply writer: reply lines of RFC 5321 §4.2 and §4.5.3.1.5,
 * enhanced status codes of RFC 2034 §3 / RFC 3463 on every line, and the
 * EHLO/LHLO capability list (RFC 5321 §4.1.1.1, RFC 2033 §4.1). */
#include "smtp/smtp_reply.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static bool enhanced_is_valid(unsigned code, const char *e)
{
	/* class "." subject "." detail: 1 digit, 1-3 digits, 1-3 digits */
	if (e[0] != (char)('0' + code / 100) || e[1] != '.')
		return false;
	const char *s = e + 2;
	for (int part = 0; part < 2; part++) {
		size_t n = 0;
		while (s[n] >= '0' && s[n] <= '9')
			n++;
		if (n == 0 || n > 3)
			return false;
		s += n;
		if (part == 0 && *s++ != '.')
			return false;
	}
	return *s == '\0';
}

void smtp_reply_begin(struct smtp_reply *r, struct sp_buf *out, unsigned code, const char *enhanced)
{
	sp_assert(code >= 200 && code <= 599);
	sp_assert(enhanced == NULL || enhanced_is_valid(code, enhanced));
	r->out = out;
	r->code = code;
	r->enhanced = enhanced;
	r->lines = 0;
	r->last_empty = false;
}

/* One physical line "CODE-[ENH ]TEXT\r\n"; end() fixes the last '-'. */
static void put_line(struct smtp_reply *r, const uint8_t *text, size_t len)
{
	struct sp_buf *b = r->out;
	sp_buf_printf(b, "%03u-", r->code);
	if (r->enhanced != NULL) {
		sp_buf_append_str(b, r->enhanced);
		if (len > 0)
			sp_buf_append_byte(b, ' ');
	}
	sp_buf_reserve(b, len + 2);
	for (size_t i = 0; i < len; i++) {
		uint8_t c = text[i];
		b->data[b->len++] = (c < 0x20 || c == 0x7f) ? '?' : c;
	}
	sp_buf_append(b, "\r\n", 2);
	r->lines++;
	r->last_empty = r->enhanced == NULL && len == 0;
}

void smtp_reply_add(struct smtp_reply *r, const char *text)
{
	const uint8_t *s = (const uint8_t *)text;
	size_t len = strlen(text);
	size_t room = SMTP_REPLY_LINE_MAX - 4 - 2 - (r->enhanced ? strlen(r->enhanced) + 1 : 0);
	while (len > room) {
		size_t cut = room;
		while (cut > 0 && s[cut] != ' ')
			cut--;
		if (cut == 0) {
			/* No space to break at: cut, but not inside UTF-8. */
			cut = room;
			while (cut > 0 && (s[cut] & 0xc0) == 0x80)
				cut--;
			if (cut == 0)
				cut = room;
		}
		put_line(r, s, cut);
		s += cut;
		len -= cut;
		while (len > 0 && *s == ' ') {
			s++;
			len--;
		}
	}
	if (len > 0 || s == (const uint8_t *)text)
		put_line(r, s, len);
}

void smtp_reply_addf(struct smtp_reply *r, const char *fmt, ...)
{
	struct sp_buf tmp = SP_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	sp_buf_vprintf(&tmp, fmt, ap);
	va_end(ap);
	smtp_reply_add(r, sp_buf_cstr(&tmp));
	sp_buf_deinit(&tmp);
}

void smtp_reply_end(struct smtp_reply *r)
{
	struct sp_buf *b = r->out;
	if (r->lines == 0)
		put_line(r, NULL, 0);
	if (r->last_empty) {
		/* "250-\r\n" -> "250\r\n": no SP without text (§4.2). */
		b->len -= 3;
		sp_buf_append(b, "\r\n", 2);
		return;
	}
	/* The last line starts after the previous CRLF (or at the start). */
	size_t i = b->len - 2;
	while (i > 0 && b->data[i - 1] != '\n')
		i--;
	sp_assert(b->data[i + 3] == '-');
	b->data[i + 3] = ' ';
}

void smtp_reply_append(struct sp_buf *out, unsigned code, const char *enhanced, const char *text)
{
	struct smtp_reply r;
	smtp_reply_begin(&r, out, code, enhanced);
	smtp_reply_add(&r, text);
	smtp_reply_end(&r);
}

void smtp_reply_appendf(struct sp_buf *out, unsigned code, const char *enhanced, const char *fmt,
                        ...)
{
	struct sp_buf tmp = SP_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	sp_buf_vprintf(&tmp, fmt, ap);
	va_end(ap);
	smtp_reply_append(out, code, enhanced, sp_buf_cstr(&tmp));
	sp_buf_deinit(&tmp);
}

void smtp_reply_error(struct sp_buf *out, const struct smtp_error *err)
{
	smtp_reply_append(out, err->code, err->enhanced, err->text);
}

void smtp_reply_ehlo(struct sp_buf *out, const char *domain, const char *greeting,
                     const struct smtp_caps *caps)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = {
	    {SMTP_CAP_PIPELINING, "PIPELINING"},
	    {SMTP_CAP_SIZE, "SIZE"},
	    {SMTP_CAP_8BITMIME, "8BITMIME"},
	    {SMTP_CAP_SMTPUTF8, "SMTPUTF8"},
	    {SMTP_CAP_ENHANCEDSTATUSCODES, "ENHANCEDSTATUSCODES"},
	    {SMTP_CAP_CHUNKING, "CHUNKING"},
	    {SMTP_CAP_BINARYMIME, "BINARYMIME"},
	    {SMTP_CAP_DSN, "DSN"},
	    {SMTP_CAP_STARTTLS, "STARTTLS"},
	    {SMTP_CAP_AUTH, "AUTH"},
	};
	struct smtp_reply r;
	smtp_reply_begin(&r, out, 250, NULL);
	if (greeting != NULL)
		smtp_reply_addf(&r, "%s %s", domain, greeting);
	else
		smtp_reply_add(&r, domain);
	for (size_t i = 0; i < SP_N_ELEMENTS(names); i++) {
		if (!(caps->flags & names[i].bit))
			continue;
		if (names[i].bit == SMTP_CAP_SIZE && caps->size_max > 0)
			smtp_reply_addf(&r, "SIZE %" PRIu64, caps->size_max);
		else if (names[i].bit == SMTP_CAP_AUTH)
			smtp_reply_addf(&r, "AUTH %s", caps->auth_mechs ? caps->auth_mechs : "");
		else
			smtp_reply_add(&r, names[i].name);
	}
	smtp_reply_end(&r);
}
