/* FETCH (RFC 9051 §6.4.5; CONDSTORE CHANGEDSINCE and QRESYNC VANISHED,
 * RFC 7162 §3.1.4, §3.2.6; BINARY RFC 3516) and STORE (RFC 9051 §6.4.6,
 * UNCHANGEDSINCE RFC 7162 §3.1.3). FETCH output is produced a chunk at a
 * time (IMAP_FETCH_CHUNK) and the next chunk waits until the client has
 * read most of the previous one, so a slow reader costs bounded memory. */
#include "imap/imap_fetch.h"
#include "imap/imap_private.h"
#include "lib/sp_str.h"

#include <string.h>
#include <strings.h>

struct fetch_job {
	struct imap_fetch_spec spec;
	struct store_uid_range *ranges; /* what is left to fetch */
	size_t n_ranges;
	const struct store_changed *seen; /* \Seen set by this command */
	size_t n_seen;
	bool seen_done;
	bool more;
	bool failed;
	uint32_t last_uid;
};

static bool seen_changed(const struct fetch_job *fj, uint32_t uid)
{
	size_t lo = 0, hi = fj->n_seen;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (fj->seen[mid].uid == uid)
			return true;
		if (fj->seen[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

static int fetch_one(void *ctx, const struct store_message *m)
{
	struct imap_job *job = ctx;
	struct imap_session *s = job->s;
	struct fetch_job *fj = job->data;
	if (job->out.len >= IMAP_FETCH_CHUNK) {
		fj->more = true;
		return -1;
	}
	fj->last_uid = m->uid;
	uint32_t seq = imap_seq_of(s, m->uid);
	if (seq == 0)
		return 0; /* not announced yet */
	if (imap_fetch_unknown_cte(&fj->spec, m)) {
		fj->failed = true;
		imap_job_reply(job, "NO [UNKNOWN-CTE] A part has an unknown transfer encoding");
		return -1;
	}
	unsigned fmt = 0;
	if (fj->spec.uid_fetch)
		fmt |= IMAP_FETCH_FMT_UID;
	if ((s->enabled & IMAP_ENABLED_CONDSTORE) || fj->spec.has_changedsince)
		fmt |= IMAP_FETCH_FMT_MODSEQ;
	if (fj->n_seen > 0 && seen_changed(fj, m->uid))
		fmt |= IMAP_FETCH_FMT_FLAGS;
	if (m->n_keywords > 0 && (fj->spec.req.items & STORE_FETCH_FLAGS))
		imap_keywords_note(job, m->keywords, m->n_keywords);
	unsigned recent = imap_recent_flag(s, m->uid);
	if (recent != 0) {
		struct store_message copy = *m;
		copy.flags |= recent;
		imap_fetch_format(&job->out, seq, &fj->spec, &copy, fmt);
		return 0;
	}
	imap_fetch_format(&job->out, seq, &fj->spec, m, fmt);
	return 0;
}

/* UID FETCH ... (CHANGEDSINCE m VANISHED): RFC 7162 §3.2.6. */
static void fetch_vanished(struct imap_job *job, struct fetch_job *fj)
{
	struct imap_session *s = job->s;
	struct store_changes ch;
	const char *error;
	if (store_changes_since(s->store, s->folder_id, fj->spec.req.changedsince, s->arena, &ch,
	                        &error) < 0)
		return;
	struct sp_buf list = SP_BUF_INIT;
	for (size_t i = 0; i < ch.n_expunged; i++) {
		uint32_t u = ch.expunged[i];
		bool in = false;
		for (size_t r = 0; r < fj->n_ranges && !in; r++)
			in = u >= fj->ranges[r].lo && u <= fj->ranges[r].hi;
		if (in)
			sp_buf_printf(&list, "%s%u", list.len ? "," : "", u);
	}
	if (list.len > 0)
		sp_buf_printf(&job->out, "* VANISHED (EARLIER) %s\r\n", sp_buf_cstr(&list));
	sp_buf_deinit(&list);
}

static void fetch_work(struct imap_job *job)
{
	struct imap_session *s = job->s;
	struct fetch_job *fj = job->data;
	struct store_session *st = imap_job_store(job);
	if (st == NULL)
		return;
	const char *error;
	if (!fj->seen_done) {
		fj->seen_done = true;
		if (fj->spec.vanished)
			fetch_vanished(job, fj);
		if (fj->spec.sets_seen && !s->readonly) {
			/* RFC 9051 §6.4.5: BODY[] (not PEEK) sets \Seen. */
			struct store_flags_req req = {
			    .uids = {fj->ranges, fj->n_ranges},
			    .op = STORE_FLAGS_ADD,
			    .flags = STORE_FLAG_SEEN,
			};
			struct store_flags_result res;
			if (store_flags_update(st, s->folder_id, &req, s->arena, &res, &error) <
			    0) {
				imap_job_store_error(job, error);
				return;
			}
			fj->seen = res.changed;
			fj->n_seen = res.n_changed;
			job->reported = res.changed;
			job->n_reported = res.n_changed;
			job->wrote = res.n_changed > 0;
		}
	}
	fj->more = false;
	struct store_fetch_req req = fj->spec.req;
	req.uids = (struct store_uidset){fj->ranges, fj->n_ranges};
	int rc = store_fetch(st, s->folder_id, &req, fetch_one, job, &error);
	if (fj->failed)
		return;
	if (rc < 0 && !fj->more) {
		imap_job_store_error(job, error);
		return;
	}
	if (fj->more) {
		/* Only what follows the last message written is left. */
		size_t out = 0;
		for (size_t i = 0; i < fj->n_ranges; i++) {
			struct store_uid_range r = fj->ranges[i];
			/* last_uid is the last message written (or skipped). */
			if (r.hi <= fj->last_uid)
				continue;
			if (r.lo <= fj->last_uid)
				r.lo = fj->last_uid + 1;
			fj->ranges[out++] = r;
		}
		fj->n_ranges = out;
		job->sync = false;
		return;
	}
	imap_job_reply(job, "OK %sFETCH completed", fj->spec.uid_fetch ? "UID " : "");
}

static void fetch_continue(struct imap_session *s);

static bool fetch_done(struct imap_job *job)
{
	struct imap_session *s = job->s;
	struct fetch_job *fj = job->data;
	if (!fj->more || job->tagged.len > 0)
		return false;
	sp_conn_write_buf(s->conn, &job->out);
	if (sp_conn_output_pending(s->conn) > IMAP_OUTPUT_LOW) {
		s->on_drain = fetch_continue;
		sp_conn_want_drain(s->conn, IMAP_OUTPUT_LOW);
	} else {
		fetch_continue(s);
	}
	return true;
}

static void fetch_continue(struct imap_session *s)
{
	struct fetch_job *fj = s->cmd_data;
	imap_job_start(s, fetch_work, fetch_done, fj);
}

static void fetch_job_free(void *data)
{
	free(data);
}

void imap_cmd_fetch(struct imap_session *s, const struct imap_command *cmd)
{
	const char *error;
	if (cmd->arg_count < 2) {
		imap_bad(s, "FETCH takes a sequence set and data items");
		return;
	}
	struct fetch_job *fj = sp_calloc(1, sizeof(*fj));
	s->cmd_data = fj;
	s->cmd_data_free = fetch_job_free;
	unsigned flags = (cmd->uid ? IMAP_FETCH_UID : 0) |
	                 ((s->enabled & IMAP_ENABLED_QRESYNC) ? IMAP_FETCH_QRESYNC : 0);
	struct store_uidset uids;
	if (imap_seqset_to_uids(s, &cmd->args[0], cmd->uid, &uids, &error) < 0 ||
	    imap_fetch_parse(&cmd->args[1], cmd->arg_count - 1, flags, s->arena, &fj->spec,
	                     &error) < 0) {
		imap_bad(s, error);
		return;
	}
	if (fj->spec.has_changedsince || fj->spec.enables_condstore)
		imap_condstore_enable(s);
	fj->ranges = (struct store_uid_range *)uids.ranges;
	fj->n_ranges = uids.n;
	if (fj->n_ranges == 0) {
		imap_reply(s, "OK %sFETCH completed (no messages)", cmd->uid ? "UID " : "");
		return;
	}
	imap_job_start(s, fetch_work, fetch_done, fj);
}

/* ---- STORE ---- */

struct store_job {
	struct store_flags_req req;
	bool silent;
	bool uid;
};

static void store_work(struct imap_job *job)
{
	struct imap_session *s = job->s;
	struct store_job *sj = job->data;
	struct store_session *st = imap_job_store(job);
	if (st == NULL)
		return;
	struct store_flags_result res;
	const char *error;
	if (store_flags_update(st, s->folder_id, &sj->req, s->arena, &res, &error) < 0) {
		imap_job_store_error(job, error);
		return;
	}
	bool condstore = (s->enabled & IMAP_ENABLED_CONDSTORE) != 0;
	for (size_t i = 0; i < res.n_changed; i++) {
		const struct store_changed *c = &res.changed[i];
		uint32_t seq = imap_seq_of(s, c->uid);
		if (seq == 0 || (sj->silent && !condstore))
			continue;
		if (!sj->silent)
			imap_keywords_note(job, c->keywords, c->n_keywords);
		sp_buf_printf(&job->out, "* %u FETCH (", seq);
		if (!sj->silent) {
			sp_buf_append_str(&job->out, "FLAGS ");
			imap_flags_format(&job->out, c->flags | imap_recent_flag(s, c->uid),
			                  c->keywords, c->n_keywords);
			sp_buf_append_byte(&job->out, ' ');
		}
		sp_buf_printf(&job->out, "UID %u", c->uid);
		if (condstore)
			sp_buf_printf(&job->out, " MODSEQ (%llu)", (unsigned long long)c->modseq);
		sp_buf_append_str(&job->out, ")\r\n");
	}
	job->reported = res.changed;
	job->n_reported = res.n_changed;
	job->wrote = res.n_changed > 0;
	if (res.n_failed > 0) {
		/* RFC 7162 §3.1.3: [MODIFIED set], UIDs for UID STORE. */
		uint32_t *nums = sp_arena_alloc(s->arena, res.n_failed * sizeof(*nums));
		size_t n = 0;
		for (size_t i = 0; i < res.n_failed; i++) {
			uint32_t v = sj->uid ? res.failed[i] : imap_seq_of(s, res.failed[i]);
			if (v != 0)
				nums[n++] = v;
		}
		struct sp_buf set = SP_BUF_INIT;
		imap_seq_list_format(nums, n, &set);
		imap_job_reply(job, "OK [MODIFIED %s] Conditional STORE failed", sp_buf_cstr(&set));
		sp_buf_deinit(&set);
		return;
	}
	imap_job_reply(job, "OK %sSTORE completed", sj->uid ? "UID " : "");
}

void imap_cmd_store(struct imap_session *s, const struct imap_command *cmd)
{
	const char *error;
	struct store_job *sj = sp_arena_zalloc(s->arena, sizeof(*sj));
	sj->uid = cmd->uid;
	size_t i = 1;
	if (cmd->arg_count < 3) {
		imap_bad(s, "STORE takes a sequence set, an item and flags");
		return;
	}
	if (imap_seqset_to_uids(s, &cmd->args[0], cmd->uid, &sj->req.uids, &error) < 0) {
		imap_bad(s, error);
		return;
	}
	if (cmd->args[i].type == IMAP_ARG_LIST) {
		/* (UNCHANGEDSINCE n), RFC 7162 §3.1.3 */
		const struct imap_arg *m = &cmd->args[i];
		uint64_t v;
		if (m->count != 2 || !imap_arg_atom_equals(&m->list[0], "UNCHANGEDSINCE") ||
		    m->list[1].type != IMAP_ARG_ATOM ||
		    sp_parse_u64_slice(m->list[1].str, INT64_MAX, &v) < 0) {
			imap_bad(s, "Invalid STORE modifier");
			return;
		}
		sj->req.has_unchangedsince = true;
		sj->req.unchangedsince = v;
		imap_condstore_enable(s);
		i++;
	}
	if (i >= cmd->arg_count || cmd->args[i].type != IMAP_ARG_ATOM) {
		imap_bad(s, "STORE needs FLAGS, +FLAGS or -FLAGS");
		return;
	}
	struct sp_slice item = cmd->args[i].str;
	const char *p = (const char *)item.ptr;
	size_t len = item.len;
	if (len > 0 && (p[0] == '+' || p[0] == '-')) {
		sj->req.op = p[0] == '+' ? STORE_FLAGS_ADD : STORE_FLAGS_REMOVE;
		p++;
		len--;
	} else {
		sj->req.op = STORE_FLAGS_REPLACE;
	}
	if (len == 12 && strncasecmp(p, "FLAGS.SILENT", 12) == 0)
		sj->silent = true;
	else if (!(len == 5 && strncasecmp(p, "FLAGS", 5) == 0)) {
		imap_bad(s, "STORE needs FLAGS, +FLAGS or -FLAGS");
		return;
	}
	i++;
	const char **kw;
	if (i >= cmd->arg_count ||
	    imap_flags_parse(&cmd->args[i], cmd->arg_count - i, IMAP_FLAGS_BARE, s->arena,
	                     &sj->req.flags, &kw, &sj->req.n_keywords, &error) < 0) {
		imap_bad(s, i >= cmd->arg_count ? "STORE needs flags" : error);
		return;
	}
	sj->req.keywords = kw;
	if (s->readonly) {
		imap_reply(s, "NO [READ-ONLY] The mailbox is read-only");
		return;
	}
	if (sj->req.uids.n == 0) {
		imap_reply(s, "OK STORE completed (no messages)");
		return;
	}
	imap_job_start(s, store_work, NULL, sj);
}
