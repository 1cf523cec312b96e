/* SMTP-family input framing: command lines (RFC 5321 §2.3.8, §4.5.3.1.4),
 * DATA content with streamed dot-unstuffing and CRLF.CRLF-only end
 * detection (§4.5.2, §4.1.1.4; CVE-2023-51764), BDAT octet counting
 * (RFC 3030) and SASL response lines (RFC 4954 §4). The grammar of the
 * command lines themselves is in smtp_command.c. */
#include "smtp/smtp_parser_private.h"

#include <string.h>
#include <strings.h>

enum parser_state {
	ST_LINE,
	ST_DATA,
	ST_BDAT,
};

/* Where DATA content stands, in CRLF-delimited lines. */
enum data_state {
	DS_BOL,    /* at the start of a line (after CRLF, or right after DATA) */
	DS_TEXT,   /* inside a line */
	DS_CR,     /* the last content byte was CR */
	DS_DOT,    /* a line started with '.', which was dropped */
	DS_DOT_CR, /* ".\r" at a line start: the CR is held back */
};

#define LINE_MIN 512
#define DEFAULT_LINE 4096
#define DEFAULT_AUTH_LINE 12288
#define DEFAULT_MESSAGE (64ULL * 1024 * 1024)
#define DEFAULT_RECIPIENTS 1000

static const uint8_t held_cr[1] = {'\r'};

void smtp_limits_init(struct smtp_limits *limits)
{
	limits->max_line = DEFAULT_LINE;
	limits->max_auth_line = DEFAULT_AUTH_LINE;
	limits->max_message = DEFAULT_MESSAGE;
	limits->max_recipients = DEFAULT_RECIPIENTS;
}

static void line_reset(struct smtp_parser *p)
{
	p->line_len = 0;
	p->line_err = SMTP_ERR_NONE;
	p->cr_pending = false;
}

/* Credentials (AUTH lines, SASL responses) must not linger in memory. */
static void wipe_pending(struct smtp_parser *p)
{
	if (p->wipe_len == 0)
		return;
	explicit_bzero(p->line, SP_MIN(p->wipe_len, p->line_cap));
	explicit_bzero(p->scratch.buf, p->scratch.cap);
	p->wipe_len = 0;
}

void smtp_parser_init(struct smtp_parser *p, enum smtp_mode mode, const struct smtp_limits *limits)
{
	memset(p, 0, sizeof(*p));
	if (limits != NULL)
		p->limits = *limits;
	else
		smtp_limits_init(&p->limits);
	p->limits.max_line = SP_MAX(p->limits.max_line, (size_t)LINE_MIN);
	p->limits.max_auth_line = SP_MAX(p->limits.max_auth_line, p->limits.max_line);
	p->mode = mode;
	p->state = ST_LINE;
	/* Content bytes only: CRLF is never stored. */
	p->line_cap = p->limits.max_auth_line - 2;
	p->line = sp_malloc(p->line_cap);
	p->scratch.buf = sp_malloc(p->line_cap);
	p->scratch.cap = p->line_cap;
	line_reset(p);
}

void smtp_parser_deinit(struct smtp_parser *p)
{
	if (p->line != NULL) {
		explicit_bzero(p->line, p->line_cap);
		explicit_bzero(p->scratch.buf, p->scratch.cap);
	}
	sp_free(&p->line);
	sp_free(&p->scratch.buf);
	memset(p, 0, sizeof(*p));
}

void smtp_parser_reset(struct smtp_parser *p)
{
	wipe_pending(p);
	if (p->line_len > 0)
		explicit_bzero(p->line, p->line_len);
	line_reset(p);
	p->expect_line = false;
	p->state = ST_LINE;
	p->bdat_left = 0;
	p->data_size = 0;
	p->too_large = false;
}

void smtp_parser_begin_data(struct smtp_parser *p)
{
	wipe_pending(p);
	sp_assert(p->state == ST_LINE && p->line_len == 0 && !p->cr_pending);
	p->state = ST_DATA;
	p->dstate = DS_BOL;
	p->data_size = 0;
	p->too_large = false;
}

void smtp_parser_begin_bdat(struct smtp_parser *p, uint64_t size, bool discard)
{
	wipe_pending(p);
	sp_assert(p->state == ST_LINE && p->line_len == 0 && !p->cr_pending);
	p->state = ST_BDAT;
	p->bdat_left = size;
	p->bdat_discard = discard;
	p->data_size = 0;
	p->too_large = false;
}

void smtp_parser_expect_line(struct smtp_parser *p)
{
	wipe_pending(p);
	sp_assert(p->state == ST_LINE);
	p->expect_line = true;
}

static void line_error(struct smtp_parser *p, enum smtp_error_kind kind)
{
	if (p->line_err == SMTP_ERR_NONE)
		p->line_err = kind;
}

static bool line_is_auth(const struct smtp_parser *p)
{
	return p->expect_line ||
	       (p->line_len >= 5 && strncasecmp((const char *)p->line, "AUTH ", 5) == 0);
}

/* Appends the bytes of a command line that contain no LF. */
static void line_take(struct smtp_parser *p, const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t c = s[i];
		if (p->cr_pending) {
			/* A CR not followed by LF (RFC 5321 §2.3.8). */
			p->cr_pending = false;
			line_error(p, SMTP_ERR_BARE_CR);
		}
		if (c == '\r') {
			p->cr_pending = true;
			continue;
		}
		if (c == '\0')
			line_error(p, SMTP_ERR_NUL);
		if (p->line_len < p->line_cap)
			p->line[p->line_len++] = c;
		else
			line_error(p, SMTP_ERR_LINE_TOO_LONG); /* the rest is skipped */
	}
}

/* The LF of a line has arrived: produce its event. */
static void line_finish(struct smtp_parser *p, struct smtp_event *ev)
{
	bool auth = line_is_auth(p);
	bool expect = p->expect_line;
	if (!p->cr_pending)
		line_error(p, SMTP_ERR_BARE_LF);
	if (!auth && p->line_len > p->limits.max_line - 2)
		line_error(p, SMTP_ERR_LINE_TOO_LONG);
	if (p->line_err == SMTP_ERR_NONE && p->line_len == 0 && !expect)
		line_error(p, SMTP_ERR_EMPTY_LINE);
	p->expect_line = false;
	if (auth)
		p->wipe_len = p->line_len;

	if (p->line_err != SMTP_ERR_NONE) {
		ev->type = SMTP_EVENT_ERROR;
		const char *text = NULL;
		if (p->line_err == SMTP_ERR_LINE_TOO_LONG && expect)
			text = "Authentication exchange line is too long";
		smtp_error_set(&ev->error, p->line_err, SMTP_VERB_NONE, text);
		if (p->line_err == SMTP_ERR_LINE_TOO_LONG && expect)
			ev->error.enhanced = "5.5.6"; /* RFC 4954 §6 */
	} else if (expect) {
		ev->type = SMTP_EVENT_LINE;
		ev->data = (struct sp_slice){p->line, p->line_len};
	} else {
		p->scratch.len = 0;
		smtp_command_parse(p->mode, p->line, p->line_len, &p->scratch, ev);
	}
	line_reset(p);
}

static int feed_line(struct smtp_parser *p, const uint8_t *data, size_t len, size_t *consumed_r,
                     struct smtp_event *ev)
{
	const uint8_t *lf = len > 0 ? memchr(data, '\n', len) : NULL;
	if (lf == NULL) {
		line_take(p, data, len);
		*consumed_r = len;
		return SP_AGAIN;
	}
	size_t n = (size_t)(lf - data);
	line_take(p, data, n);
	*consumed_r = n + 1;
	line_finish(p, ev);
	return 0;
}

/* Counts content and decides what is passed on: once the message is over
 * the limit, only the bytes up to the limit have been (whatever the
 * chunking), but counting goes on to the final dot. */
static bool data_emit(struct smtp_parser *p, struct smtp_event *ev, const uint8_t *s, size_t n)
{
	uint64_t max = p->limits.max_message, before = p->data_size;
	if (n == 0)
		return false;
	p->data_size = before + n < before ? UINT64_MAX : before + n;
	if (p->too_large)
		return false;
	if (max != 0 && p->data_size > max) {
		p->too_large = true;
		n = before < max ? (size_t)(max - before) : 0;
		if (n == 0)
			return false;
	}
	ev->type = SMTP_EVENT_DATA;
	ev->data = (struct sp_slice){s, n};
	return true;
}

static void data_end(struct smtp_parser *p, struct smtp_event *ev)
{
	ev->type = SMTP_EVENT_DATA_END;
	ev->size = p->data_size;
	ev->too_large = p->too_large;
	if (p->too_large)
		smtp_error_set(&ev->error, SMTP_ERR_TOO_LARGE, SMTP_VERB_DATA, NULL);
	p->state = ST_LINE;
	p->too_large = false;
	p->data_size = 0;
	line_reset(p);
}

/* Content run: data[run, i) is content not yet passed on. Only the dot
 * that starts a line is ever dropped, and only the CR after it is ever
 * held across calls; everything else is passed on as a slice of data. */
static int feed_data(struct smtp_parser *p, const uint8_t *data, size_t len, size_t *consumed_r,
                     struct smtp_event *ev)
{
	size_t i = 0, run = 0;
	bool cr_here = false; /* the held CR of DS_DOT_CR is data[i - 1] */

	if (len == 0) /* data may be NULL: no arithmetic on it */
		return SP_AGAIN;

	while (i < len) {
		uint8_t c = data[i];
		switch ((enum data_state)p->dstate) {
		case DS_TEXT: {
			const uint8_t *cr = memchr(data + i, '\r', len - i);
			if (cr == NULL) {
				i = len;
			} else {
				i = (size_t)(cr - data) + 1;
				p->dstate = DS_CR;
			}
			break;
		}
		case DS_CR:
			i++;
			if (c == '\n')
				p->dstate = DS_BOL;
			else if (c != '\r')
				p->dstate = DS_TEXT;
			break;
		case DS_BOL:
			if (c != '.') {
				p->dstate = DS_TEXT; /* c is looked at again there */
				break;
			}
			/* Pass on what precedes the dot first; the dot is
			 * looked at again by the next call. */
			if (data_emit(p, ev, data + run, i - run)) {
				*consumed_r = i;
				return 0;
			}
			i++;
			run = i;
			p->dstate = DS_DOT;
			break;
		case DS_DOT:
			if (c == '\r') {
				i++;
				cr_here = true;
				p->dstate = DS_DOT_CR;
			} else {
				/* "..x" or ".x": the dot was stuffing (§4.5.2). */
				p->dstate = DS_TEXT;
			}
			break;
		case DS_DOT_CR:
			if (c == '\n') {
				/* CRLF "." CRLF: the run is empty here, since
				 * it restarted after the dot. */
				*consumed_r = i + 1;
				data_end(p, ev);
				return 0;
			}
			/* ".\r" then not LF: the CR is content. */
			p->dstate = DS_CR;
			if (!cr_here && data_emit(p, ev, held_cr, 1)) {
				*consumed_r = i;
				return 0;
			}
			break;
		}
	}
	/* A CR held at the end of this input stays out of the run. */
	size_t end = (p->dstate == DS_DOT_CR && cr_here) ? len - 1 : len;
	if (data_emit(p, ev, data + run, end - run)) {
		*consumed_r = len;
		return 0;
	}
	*consumed_r = len;
	return SP_AGAIN;
}

static int feed_bdat(struct smtp_parser *p, const uint8_t *data, size_t len, size_t *consumed_r,
                     struct smtp_event *ev)
{
	size_t n = (size_t)SP_MIN((uint64_t)len, p->bdat_left);
	p->bdat_left -= n;
	p->data_size += n;
	*consumed_r = n;
	if (n > 0 && !p->bdat_discard) {
		ev->type = SMTP_EVENT_DATA;
		ev->data = (struct sp_slice){data, n};
		return 0;
	}
	if (p->bdat_left == 0) {
		data_end(p, ev);
		return 0;
	}
	return SP_AGAIN;
}

int smtp_parser_feed(struct smtp_parser *p, const uint8_t *data, size_t len, size_t *consumed_r,
                     struct smtp_event *ev_r)
{
	wipe_pending(p);
	memset(ev_r, 0, sizeof(*ev_r));
	*consumed_r = 0;
	switch ((enum parser_state)p->state) {
	case ST_LINE:
		return feed_line(p, data, len, consumed_r, ev_r);
	case ST_DATA:
		return feed_data(p, data, len, consumed_r, ev_r);
	case ST_BDAT:
		return feed_bdat(p, data, len, consumed_r, ev_r);
	}
	sp_panic("bad smtp parser state %d", p->state);
}
