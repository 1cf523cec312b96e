/* Test and fuzz helper (not part of the library): drives an smtp_parser
 * over an input with a given chunking and a minimal session, and renders
 * every event as one line of text, so that tests compare transcripts and
 * the fuzzer checks that every chunking gives the same one.
 *
 * The minimal session: DATA -> smtp_parser_begin_data; BDAT n ->
 * smtp_parser_begin_bdat(n, reject_bdat); AUTH without an initial
 * response -> smtp_parser_expect_line. Each chunk is copied into its own
 * allocation and freed after use, so that ASan catches a slice that
 * outlives the bytes it points into. */
#ifndef SMTP_TRANSCRIPT_TEST_H
#define SMTP_TRANSCRIPT_TEST_H

#include "smtp/smtp_parser.h"

#include <inttypes.h>
#include <string.h>

enum smtp_chunking {
	SMTP_CHUNK_WHOLE,
	SMTP_CHUNK_BYTE,
	SMTP_CHUNK_RANDOM, /* sizes 1..max_chunk from a seeded generator */
};

struct smtp_transcript_opts {
	enum smtp_mode mode;
	const struct smtp_limits *limits; /* NULL: defaults */
	bool reject_bdat;
	enum smtp_chunking chunking;
	uint32_t seed;
	size_t max_chunk;
	/* Set when an invariant of the feed contract broke (the text says). */
	const char *violation;
};

static inline void smtp_tr_escape_raw(struct sp_buf *b, const uint8_t *s, size_t n, bool quote)
{
	if (quote)
		sp_buf_append_byte(b, '"');
	for (size_t i = 0; i < n; i++) {
		uint8_t c = s[i];
		if (c == '\r')
			sp_buf_append_str(b, "\\r");
		else if (c == '\n')
			sp_buf_append_str(b, "\\n");
		else if (quote && (c == '"' || c == '\\'))
			sp_buf_printf(b, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			sp_buf_printf(b, "\\x%02x", c);
		else
			sp_buf_append_byte(b, c);
	}
	if (quote)
		sp_buf_append_byte(b, '"');
}

static inline void smtp_tr_escape(struct sp_buf *b, const uint8_t *s, size_t n)
{
	smtp_tr_escape_raw(b, s, n, true);
}

static inline const char *smtp_tr_kind(enum smtp_error_kind k)
{
	static const char *const names[] = {
	    [SMTP_ERR_NONE] = "none",
	    [SMTP_ERR_LINE_TOO_LONG] = "too-long",
	    [SMTP_ERR_BARE_LF] = "bare-lf",
	    [SMTP_ERR_BARE_CR] = "bare-cr",
	    [SMTP_ERR_NUL] = "nul",
	    [SMTP_ERR_EMPTY_LINE] = "empty",
	    [SMTP_ERR_UNKNOWN_VERB] = "unknown",
	    [SMTP_ERR_SYNTAX] = "syntax",
	    [SMTP_ERR_ARGUMENT] = "argument",
	    [SMTP_ERR_SENDER_SYNTAX] = "sender",
	    [SMTP_ERR_RCPT_SYNTAX] = "rcpt",
	    [SMTP_ERR_PARAM_UNKNOWN] = "param-unknown",
	    [SMTP_ERR_PARAM_INVALID] = "param-invalid",
	    [SMTP_ERR_UTF8_REQUIRED] = "utf8",
	    [SMTP_ERR_TOO_LARGE] = "too-large",
	};
	return names[k];
}

static inline void smtp_tr_command(struct sp_buf *b, const struct smtp_command *c)
{
	sp_buf_append_str(b, smtp_verb_name(c->verb));
	if (c->verb == SMTP_VERB_MAIL || c->verb == SMTP_VERB_RCPT) {
		const struct smtp_path *p = &c->path;
		sp_buf_append_str(b, " <");
		smtp_tr_escape_raw(b, p->mailbox.ptr, p->mailbox.len, false);
		sp_buf_append_byte(b, '>');
		if (p->null)
			sp_buf_append_str(b, " null");
		if (p->postmaster)
			sp_buf_append_str(b, " postmaster");
		if (p->quoted) {
			sp_buf_append_str(b, " quoted local=");
			smtp_tr_escape(b, p->local.ptr, p->local.len);
		}
		if (!p->null && !p->postmaster) {
			/* local@domain must be the mailbox, unquoted or not */
			if (p->domain.ptr + p->domain.len != p->mailbox.ptr + p->mailbox.len)
				sp_buf_append_str(b, " BAD-DOMAIN-SLICE");
		}
		if (p->domain_literal)
			sp_buf_append_str(b, " literal");
		if (p->route_stripped)
			sp_buf_append_str(b, " route");
		if (p->utf8)
			sp_buf_append_str(b, " utf8");
		const struct smtp_params *pr = &c->params;
		if (pr->has_size)
			sp_buf_printf(b, " SIZE=%" PRIu64, pr->size);
		static const char *const bodies[] = {"", "7BIT", "8BITMIME", "BINARYMIME"};
		if (pr->body != SMTP_BODY_NONE)
			sp_buf_printf(b, " BODY=%s", bodies[pr->body]);
		if (pr->smtputf8)
			sp_buf_append_str(b, " SMTPUTF8");
		if (pr->ret != SMTP_RET_NONE)
			sp_buf_append_str(b, pr->ret == SMTP_RET_FULL ? " RET=FULL" : " RET=HDRS");
		if (pr->has_envid) {
			sp_buf_append_str(b, " ENVID=");
			smtp_tr_escape(b, pr->envid.ptr, pr->envid.len);
		}
		if (pr->has_auth) {
			sp_buf_append_str(b, " AUTH=");
			smtp_tr_escape(b, pr->auth.ptr, pr->auth.len);
		}
		if (pr->notify) {
			sp_buf_append_str(b, " NOTIFY=");
			if (pr->notify & SMTP_NOTIFY_NEVER)
				sp_buf_append_str(b, "N");
			if (pr->notify & SMTP_NOTIFY_SUCCESS)
				sp_buf_append_str(b, "S");
			if (pr->notify & SMTP_NOTIFY_FAILURE)
				sp_buf_append_str(b, "F");
			if (pr->notify & SMTP_NOTIFY_DELAY)
				sp_buf_append_str(b, "D");
		}
		if (pr->has_orcpt) {
			sp_buf_append_str(b, " ORCPT=");
			sp_buf_append(b, pr->orcpt_type.ptr, pr->orcpt_type.len);
			sp_buf_append_byte(b, ';');
			smtp_tr_escape(b, pr->orcpt.ptr, pr->orcpt.len);
		}
		return;
	}
	if (c->verb == SMTP_VERB_BDAT) {
		sp_buf_printf(b, " %" PRIu64 "%s", c->bdat_size, c->bdat_last ? " LAST" : "");
		return;
	}
	if (c->arg.len > 0) {
		sp_buf_append_byte(b, ' ');
		smtp_tr_escape(b, c->arg.ptr, c->arg.len);
	}
	if (c->has_auth_response) {
		sp_buf_append_str(b, " resp=");
		smtp_tr_escape(b, c->auth_response.ptr, c->auth_response.len);
	}
}

/* Appends the transcript of the whole input to out. Content chunks are
 * merged into one CONTENT line per message. */
static inline void smtp_transcript(const uint8_t *in, size_t len, struct smtp_transcript_opts *o,
                                   struct sp_buf *out)
{
	struct smtp_parser p;
	struct sp_buf content = SP_BUF_INIT;
	bool in_content = false;
	uint32_t rng = o->seed * 2654435761u + 1;
	size_t pos = 0;
	int stalls = 0;

	smtp_parser_init(&p, o->mode, o->limits);
	o->violation = NULL;
	for (;;) {
		size_t n = len - pos;
		if (o->chunking == SMTP_CHUNK_BYTE) {
			n = SP_MIN(n, (size_t)1);
		} else if (o->chunking == SMTP_CHUNK_RANDOM) {
			rng = rng * 1103515245u + 12345u;
			size_t max = o->max_chunk ? o->max_chunk : 64;
			n = SP_MIN(n, (size_t)(rng >> 8) % max + 1);
		}
		uint8_t *chunk = sp_malloc(n ? n : 1);
		memcpy(chunk, in + pos, n);
		const uint8_t *d = chunk;
		size_t left = n;
		for (;;) {
			struct smtp_event ev;
			size_t used = SIZE_MAX;
			int rc = smtp_parser_feed(&p, d, left, &used, &ev);
			if (used > left) {
				o->violation = "consumed more than given";
				break;
			}
			d += used;
			left -= used;
			if (rc == SP_AGAIN) {
				if (left != 0)
					o->violation = "SP_AGAIN with bytes left";
				break;
			}
			if (rc != 0) {
				o->violation = "bad return code";
				break;
			}
			stalls = used == 0 ? stalls + 1 : 0;
			if (stalls > 2) {
				o->violation = "no progress";
				break;
			}
			if (ev.type == SMTP_EVENT_DATA) {
				if (ev.data.len == 0)
					o->violation = "empty DATA event";
				sp_buf_append(&content, ev.data.ptr, ev.data.len);
				in_content = true;
				continue;
			}
			if (in_content) {
				sp_buf_append_str(out, "CONTENT ");
				smtp_tr_escape(out, content.data, content.len);
				sp_buf_append_byte(out, '\n');
				sp_buf_reset(&content);
				in_content = false;
			}
			switch (ev.type) {
			case SMTP_EVENT_COMMAND:
				smtp_tr_command(out, &ev.cmd);
				sp_buf_append_byte(out, '\n');
				if (ev.cmd.verb == SMTP_VERB_DATA)
					smtp_parser_begin_data(&p);
				else if (ev.cmd.verb == SMTP_VERB_BDAT)
					smtp_parser_begin_bdat(&p, ev.cmd.bdat_size,
					                       o->reject_bdat);
				else if (ev.cmd.verb == SMTP_VERB_AUTH && !ev.cmd.has_auth_response)
					smtp_parser_expect_line(&p);
				break;
			case SMTP_EVENT_ERROR:
				sp_buf_printf(out, "ERR %u %s %s", ev.error.code, ev.error.enhanced,
				              smtp_tr_kind(ev.error.kind));
				if (ev.error.verb != SMTP_VERB_NONE)
					sp_buf_printf(out, " %s", smtp_verb_name(ev.error.verb));
				sp_buf_append_byte(out, '\n');
				break;
			case SMTP_EVENT_DATA_END:
				sp_buf_printf(out, "END size=%" PRIu64, ev.size);
				if (ev.too_large)
					sp_buf_printf(out, " too_large %u %s", ev.error.code,
					              ev.error.enhanced);
				sp_buf_append_byte(out, '\n');
				break;
			case SMTP_EVENT_LINE:
				sp_buf_append_str(out, "LINE ");
				smtp_tr_escape(out, ev.data.ptr, ev.data.len);
				sp_buf_append_byte(out, '\n');
				break;
			case SMTP_EVENT_DATA:
				break;
			}
		}
		free(chunk);
		pos += n;
		if (pos >= len || o->violation != NULL)
			break;
	}
	if (in_content) {
		sp_buf_append_str(out, "CONTENT ");
		smtp_tr_escape(out, content.data, content.len);
		sp_buf_append_str(out, " (unfinished)\n");
	}
	sp_buf_deinit(&content);
	smtp_parser_deinit(&p);
}

#endif
