/* APPEND (RFC 9051 §6.3.12) with MULTIAPPEND (RFC 3502), UIDPLUS's
 * APPENDUID (RFC 4315), APPENDLIMIT (RFC 7889), literal8 for BINARY
 * (RFC 3516 §4.4) and UTF8 (RFC 6855 §4). The parser streams every message
 * literal; its octets are collected per message (the store takes whole
 * messages) up to APPENDLIMIT, then all messages are appended in one
 * transaction: all or none, acknowledged only once durable. */
#include "imap/imap_fetch.h"
#include "imap/imap_private.h"

#include <string.h>

#define APPEND_MAX_MESSAGES 1000
#define APPEND_MAX_TOTAL_FACTOR 4 /* a MULTIAPPEND carries at most 4 x APPENDLIMIT */

struct append_state {
	struct sp_buf *bufs; /* streamed literals, in order */
	size_t n_bufs, cap_bufs;
	uint64_t total;
	bool too_big;
	/* the job */
	const char *folder;
	struct store_append_msg *msgs;
	size_t n_msgs;
	uint32_t uidvalidity;
	uint32_t *uids;
};

static void append_state_free(void *data)
{
	struct append_state *a = data;
	for (size_t i = 0; i < a->n_bufs; i++)
		sp_buf_deinit(&a->bufs[i]);
	free(a->bufs);
	free(a->msgs);
	free(a->uids);
	free(a);
}

static struct append_state *state(struct imap_session *s)
{
	if (s->cmd_data == NULL) {
		s->cmd_data = sp_calloc(1, sizeof(struct append_state));
		s->cmd_data_free = append_state_free;
	}
	return s->cmd_data;
}

void imap_append_literal_begin(struct imap_session *s, const struct imap_event *ev)
{
	struct append_state *a = state(s);
	if (a->n_bufs == APPEND_MAX_MESSAGES) {
		a->too_big = true;
		return;
	}
	if (a->n_bufs == a->cap_bufs) {
		a->cap_bufs = a->cap_bufs ? a->cap_bufs * 2 : 4;
		a->bufs = sp_reallocarray(a->bufs, a->cap_bufs, sizeof(*a->bufs));
	}
	sp_buf_init(&a->bufs[a->n_bufs++]);
	a->total += ev->literal_size;
	if (a->total > APPEND_MAX_TOTAL_FACTOR * s->srv->cfg.max_message)
		a->too_big = true;
	else
		sp_buf_reserve(&a->bufs[a->n_bufs - 1], (size_t)ev->literal_size);
}

void imap_append_literal_data(struct imap_session *s, struct sp_slice data)
{
	struct append_state *a = state(s);
	if (!a->too_big && a->n_bufs > 0)
		sp_buf_append(&a->bufs[a->n_bufs - 1], data.ptr, data.len);
}

void imap_append_literal_end(struct imap_session *s)
{
	(void)state(s);
}

static void append_work(struct imap_job *job)
{
	struct append_state *a = job->data;
	struct store_session *st = imap_job_store(job);
	if (st == NULL)
		return;
	const char *error;
	a->uids = sp_calloc(a->n_msgs, sizeof(*a->uids));
	if (store_append(st, a->folder, a->msgs, a->n_msgs, &a->uidvalidity, a->uids, &error) < 0) {
		if (store_last_error(st) == STORE_ERR_NONEXISTENT)
			imap_job_reply(job, "NO [TRYCREATE] No such mailbox");
		else
			imap_job_store_error(job, error);
		return;
	}
	struct sp_buf set = SP_BUF_INIT;
	imap_seq_list_format(a->uids, a->n_msgs, &set);
	imap_job_reply(job, "OK [APPENDUID %u %s] APPEND completed", a->uidvalidity,
	               sp_buf_cstr(&set));
	sp_buf_deinit(&set);
	job->wrote =
	    job->s->state == IMAP_STATE_SELECTED && strcmp(a->folder, job->s->folder_name) == 0;
}

/* One message: [flag-list] [date-time] (literal / "UTF8" "(" literal8 ")").
 * *i advances past it. */
static int parse_message(struct imap_session *s, struct append_state *a,
                         const struct imap_command *cmd, size_t *i, size_t *stream_idx,
                         struct store_append_msg *m, const char **error_r)
{
	const struct imap_arg *args = cmd->args;
	size_t n = cmd->arg_count;
	memset(m, 0, sizeof(*m));
	if (*i < n && args[*i].type == IMAP_ARG_LIST) {
		const char **kw;
		if (imap_flags_parse(&args[*i], 1, 0, s->arena, &m->flags, &kw, &m->n_keywords,
		                     error_r) < 0)
			return -1;
		m->keywords = kw;
		(*i)++;
	}
	if (*i < n && (args[*i].type == IMAP_ARG_QUOTED)) {
		if (imap_datetime_parse(args[*i].str, &m->internaldate, &m->internaldate_offset) <
		    0) {
			*error_r = "Invalid date-time";
			return -1;
		}
		(*i)++;
	}
	const struct imap_arg *lit = NULL;
	if (*i < n && imap_arg_atom_equals(&args[*i], "UTF8")) {
		if (*i + 1 >= n || args[*i + 1].type != IMAP_ARG_LIST || args[*i + 1].count != 1 ||
		    args[*i + 1].list[0].type != IMAP_ARG_LITERAL ||
		    !args[*i + 1].list[0].literal8) {
			*error_r = "UTF8 takes a parenthesised literal8";
			return -1;
		}
		lit = &args[*i + 1].list[0];
		*i += 2;
	} else if (*i < n && args[*i].type == IMAP_ARG_LITERAL) {
		lit = &args[*i];
		(*i)++;
	} else {
		*error_r = "APPEND needs a message literal";
		return -1;
	}
	if (lit->streamed) {
		if (*stream_idx >= a->n_bufs) {
			*error_r = "APPEND message data missing";
			return -1;
		}
		struct sp_buf *b = &a->bufs[(*stream_idx)++];
		m->data = b->data;
		m->len = b->len;
	} else {
		m->data = lit->str.ptr;
		m->len = lit->str.len;
	}
	if (m->len == 0) {
		*error_r = "Empty message";
		return -1;
	}
	return 0;
}

void imap_cmd_append(struct imap_session *s, const struct imap_command *cmd)
{
	struct append_state *a = state(s);
	const char *error;
	if (a->too_big) {
		imap_reply(s, "NO [TOOBIG] Messages exceed the APPENDLIMIT");
		return;
	}
	if (cmd->arg_count < 2) {
		imap_bad(s, "APPEND takes a mailbox name and a message");
		return;
	}
	if (imap_mailbox_arg(s, &cmd->args[0], &a->folder) < 0)
		return;
	size_t i = 1, stream_idx = 0, cap = 4;
	a->msgs = sp_calloc(cap, sizeof(*a->msgs));
	while (i < cmd->arg_count) {
		if (a->n_msgs == cap) {
			cap *= 2;
			a->msgs = sp_reallocarray(a->msgs, cap, sizeof(*a->msgs));
		}
		if (parse_message(s, a, cmd, &i, &stream_idx, &a->msgs[a->n_msgs], &error) < 0) {
			imap_bad(s, error);
			return;
		}
		if (a->msgs[a->n_msgs].len > s->srv->cfg.max_message) {
			imap_reply(s, "NO [TOOBIG] Message exceeds the APPENDLIMIT");
			return;
		}
		a->n_msgs++;
	}
	imap_job_start(s, append_work, NULL, a);
}
