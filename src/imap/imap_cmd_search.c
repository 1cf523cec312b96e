/* SEARCH (RFC 9051 §6.4.4 with ESEARCH RFC 4731, SEARCHRES RFC 5182,
 * CONDSTORE MODSEQ RFC 7162 §3.1.5, WITHIN RFC 5032, X-REGEX), SORT and
 * THREAD (RFC 5256, RFC 5957): the program is parsed on the loop, run on
 * a worker through the store's search, and SORT/THREAD fetch the header
 * fields they order by for the matches only. */
#include "imap/imap_private.h"
#include "imap/imap_search_query.h"
#include "imap/imap_sort.h"

#include <string.h>

enum search_kind {
	SEARCH_PLAIN,
	SEARCH_SORT,
	SEARCH_THREAD,
};

struct search_job {
	enum search_kind kind;
	struct imap_search_program prog;
	struct imap_sort_program sort;
	struct imap_thread_program thread;
	bool uid;
	/* results */
	uint32_t *match;
	size_t n_match;
	uint64_t *modseqs;
	struct imap_sort_msg *msgs;
	size_t n_msgs;
};

/* Runs the search part; 0 or -1 with the tagged reply set. */
static int run_search(struct imap_job *job, struct search_job *sj)
{
	struct imap_session *s = job->s;
	struct imap_search_ctx ctx = {
	    .uids = s->uids,
	    .n = s->n_uids,
	    .saved = s->saved_valid ? &s->saved : NULL,
	    .recent = (s->enabled & IMAP_ENABLED_REV2) ? NULL : &s->recent,
	};
	struct store_query *q = imap_search_query_build(&sj->prog, &ctx, s->arena);
	const char *error;
	if (store_search(s->store, s->folder_id, q, s->arena, &sj->match, &sj->n_match, &error) <
	    0) {
		if (store_last_error(s->store) == STORE_ERR_LIMIT)
			imap_job_reply(job, "NO [LIMIT] The regular expression is too costly");
		else
			imap_job_store_error(job, error);
		return -1;
	}
	return 0;
}

struct collect {
	struct imap_job *job;
	struct search_job *sj;
};

/* MODSEQ of each match, for the (MODSEQ n) of RFC 7162 §3.1.5. */
static int collect_modseq(void *ctx, const struct store_message *m)
{
	struct collect *c = ctx;
	struct search_job *sj = c->sj;
	/* Matches and fetch results are both in UID order. */
	for (size_t i = c->sj->n_msgs; i < sj->n_match; i++) {
		if (sj->match[i] == m->uid) {
			sj->modseqs[i] = m->modseq;
			sj->n_msgs = i + 1;
			break;
		}
	}
	return 0;
}

/* The sort keys of each match: INTERNALDATE, size and header fields. */
static int collect_sort(void *ctx, const struct store_message *m)
{
	struct collect *c = ctx;
	struct imap_session *s = c->job->s;
	struct search_job *sj = c->sj;
	uint32_t seq = imap_seq_of(s, m->uid);
	if (seq == 0)
		return 0;
	struct imap_sort_msg *msg = &sj->msgs[sj->n_msgs++];
	msg->uid = m->uid;
	msg->seq = seq;
	msg->internal_date = m->internaldate;
	msg->size = m->size;
	const struct store_section_data *d = &m->sections[0];
	if (d->data != NULL && d->len > 0) {
		uint8_t *copy = sp_arena_alloc(s->arena, d->len);
		memcpy(copy, d->data, d->len);
		msg->header = copy;
		msg->header_len = d->len;
	}
	return 0;
}

static struct store_uidset matches_as_set(struct imap_session *s, const struct search_job *sj)
{
	struct store_uid_range *r = sp_arena_alloc(s->arena, (sj->n_match + 1) * sizeof(*r));
	size_t n = 0;
	for (size_t i = 0; i < sj->n_match; i++) {
		if (n > 0 && r[n - 1].hi + 1 == sj->match[i])
			r[n - 1].hi = sj->match[i];
		else
			r[n++] = (struct store_uid_range){sj->match[i], sj->match[i]};
	}
	return (struct store_uidset){r, n};
}

static void search_work(struct imap_job *job)
{
	struct imap_session *s = job->s;
	struct search_job *sj = job->data;
	if (imap_job_store(job) == NULL || run_search(job, sj) < 0)
		return;
	const char *error;
	struct collect c = {job, sj};
	if (sj->kind == SEARCH_PLAIN) {
		if (sj->prog.uses_modseq && sj->n_match > 0) {
			sj->modseqs = sp_arena_zalloc(s->arena, sj->n_match * sizeof(uint64_t));
			struct store_fetch_req req = {.uids = matches_as_set(s, sj),
			                              .items = STORE_FETCH_MODSEQ};
			if (store_fetch(s->store, s->folder_id, &req, collect_modseq, &c, &error) <
			    0) {
				imap_job_store_error(job, error);
				return;
			}
		}
		struct imap_search_reply r = {
		    .tag = s->tag,
		    .uid = sj->uid,
		    .imap4rev2 = (s->enabled & IMAP_ENABLED_REV2) != 0,
		    .match = sj->match,
		    .n_match = sj->n_match,
		    .modseqs = sj->modseqs,
		    .map = s->uids,
		    .map_n = s->n_uids,
		};
		imap_search_reply_format(&sj->prog, &r, &job->out);
		if (sj->prog.return_opts & IMAP_SEARCH_RETURN_SAVE) {
			imap_search_saved_result(&sj->prog, &r, &s->saved);
			s->saved_valid = true;
		}
		imap_job_reply(job, "OK %sSEARCH completed", sj->uid ? "UID " : "");
		return;
	}
	sj->msgs = sp_arena_zalloc(s->arena, (sj->n_match + 1) * sizeof(*sj->msgs));
	if (sj->n_match > 0) {
		struct store_section_req sec = {
		    .type = STORE_SECTION_BODY,
		    .spec = "HEADER.FIELDS (" IMAP_SORT_HEADER_FIELDS ")",
		};
		struct store_fetch_req req = {
		    .uids = matches_as_set(s, sj),
		    .items = STORE_FETCH_INTERNALDATE | STORE_FETCH_SIZE,
		    .sections = &sec,
		    .n_sections = 1,
		};
		if (store_fetch(s->store, s->folder_id, &req, collect_sort, &c, &error) < 0) {
			imap_job_store_error(job, error);
			return;
		}
	}
	if (sj->kind == SEARCH_SORT) {
		const size_t *order = imap_sort_run(sj->msgs, sj->n_msgs, &sj->sort, s->arena);
		sp_buf_append_str(&job->out, "* SORT");
		imap_sort_write(sj->msgs, order, sj->n_msgs, sj->uid, &job->out);
		sp_buf_append_str(&job->out, "\r\n");
	} else {
		/* RFC 5256 §5: "THREAD" [SP 1*thread-list] */
		sp_buf_append_str(&job->out, "* THREAD");
		if (sj->n_msgs > 0) {
			sp_buf_append_byte(&job->out, ' ');
			imap_thread_run(sj->msgs, sj->n_msgs, sj->thread.algorithm, sj->uid,
			                s->arena, &job->out);
		}
		sp_buf_append_str(&job->out, "\r\n");
	}
	imap_job_reply(job, "OK %s%s completed", sj->uid ? "UID " : "",
	               sj->kind == SEARCH_SORT ? "SORT" : "THREAD");
}

static void reply_error(struct imap_session *s, const struct imap_error *err)
{
	if (err->kind == IMAP_ERROR_NO)
		imap_reply(s, "NO [%s] %s", err->code != NULL ? err->code : "CANNOT", err->text);
	else
		imap_bad(s, err->text);
}

static void search_start(struct imap_session *s, const struct imap_command *cmd,
                         enum search_kind kind)
{
	struct search_job *sj = sp_arena_zalloc(s->arena, sizeof(*sj));
	sj->kind = kind;
	sj->uid = cmd->uid;
	struct imap_error err;
	size_t start = 0;
	if (kind == SEARCH_SORT &&
	    imap_sort_parse(cmd->args, cmd->arg_count, s->arena, &sj->sort, &start, &err) < 0) {
		reply_error(s, &err);
		return;
	}
	if (kind == SEARCH_THREAD &&
	    imap_thread_parse(cmd->args, cmd->arg_count, s->arena, &sj->thread, &start, &err) < 0) {
		reply_error(s, &err);
		return;
	}
	if (imap_search_parse(cmd->args + start, cmd->arg_count - start, s->arena, 0, &sj->prog,
	                      &err) < 0) {
		reply_error(s, &err);
		return;
	}
	if (kind == SEARCH_SORT) {
		/* The charset came before the keys (RFC 5256 §3). */
		sj->prog.charset = sj->sort.charset;
		sj->prog.utf8 = sj->sort.utf8;
	} else if (kind == SEARCH_THREAD) {
		sj->prog.charset = sj->thread.charset;
		sj->prog.utf8 = sj->thread.utf8;
	}
	if (kind != SEARCH_PLAIN && sj->prog.has_return) {
		imap_bad(s, "RETURN is not allowed here");
		return;
	}
	/* A sequence number above the mailbox's size matches nothing (as in
	 * Dovecot; clients search ranges they remember). */
	if (sj->prog.uses_modseq)
		imap_condstore_enable(s);
	imap_job_start(s, search_work, NULL, sj);
}

void imap_cmd_search(struct imap_session *s, const struct imap_command *cmd)
{
	search_start(s, cmd, SEARCH_PLAIN);
}

void imap_cmd_sort(struct imap_session *s, const struct imap_command *cmd)
{
	search_start(s, cmd, SEARCH_SORT);
}

void imap_cmd_thread(struct imap_session *s, const struct imap_command *cmd)
{
	search_start(s, cmd, SEARCH_THREAD);
}
