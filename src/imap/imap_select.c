/* The selected state: SELECT and EXAMINE (RFC 9051 §6.3.2-3, CONDSTORE
 * and QRESYNC parameters of RFC 7162 §3.1.8, §3.2.5), UNSELECT (RFC 3691),
 * CLOSE (RFC 9051 §6.4.1), the sequence map and its updates (EXPUNGE or
 * VANISHED, EXISTS, FETCH FLAGS: RFC 9051 §7.4, §7.5.1, RFC 7162 §3.2.10),
 * sequence sets to UIDs, and mailbox-name arguments. */
#include "imap/imap_private.h"
#include "imap/imap_fetch.h"
#include "imap/imap_list.h"
#include "lib/sp_log.h"
#include "lib/sp_str.h"

#include <string.h>
#include <strings.h>

/* ---- Mailbox names (imap_list.c does the encoding) ---- */

int imap_mailbox_arg(struct imap_session *s, const struct imap_arg *arg, const char **name_r)
{
	struct imap_error err;
	unsigned flags = (s->enabled & IMAP_ENABLED_UTF8) ? IMAP_NAME_UTF8 : 0;
	if (imap_mailbox_name_from_arg(arg, flags, s->arena, name_r, &err) < 0) {
		/* Not a string at all is a syntax error; a string that is not a
		 * valid name is a mailbox that cannot exist (NO, as Dovecot). */
		struct sp_slice raw;
		if (imap_arg_get_astring(arg, &raw))
			imap_reply(s, "NO [CANNOT] %s", err.text);
		else
			imap_bad(s, err.text);
		return -1;
	}
	return 0;
}

void imap_mailbox_write(const struct imap_session *s, const char *name, struct sp_buf *out)
{
	unsigned flags = (s->enabled & IMAP_ENABLED_UTF8) ? IMAP_NAME_UTF8 : 0;
	if (imap_mailbox_name_write(name, flags, out) < 0)
		sp_buf_append_str(out, "\"\""); /* the store holds only UTF-8 */
}

/* ---- The sequence map ---- */

uint32_t imap_seq_of(const struct imap_session *s, uint32_t uid)
{
	size_t lo = 0, hi = s->n_uids;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (s->uids[mid] == uid)
			return (uint32_t)mid + 1;
		if (s->uids[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

static void map_append(struct imap_session *s, uint32_t uid)
{
	if (s->n_uids == s->cap_uids) {
		s->cap_uids = s->cap_uids ? s->cap_uids * 2 : 64;
		s->uids = sp_reallocarray(s->uids, s->cap_uids, sizeof(*s->uids));
	}
	s->uids[s->n_uids++] = uid;
}

int imap_seqset_to_uids(struct imap_session *s, const struct imap_arg *arg, bool uid,
                        struct store_uidset *set_r, const char **error_r)
{
	if (arg->type != IMAP_ARG_ATOM) {
		*error_r = "Invalid sequence set";
		return -1;
	}
	uint32_t last_uid = s->n_uids > 0 ? s->uids[s->n_uids - 1] : 0;
	struct imap_seqset set = IMAP_SEQSET_INIT;
	int rc = imap_seqset_parse(arg->str, uid ? last_uid : (uint32_t)s->n_uids,
	                           IMAP_SEQSET_ALLOW_SAVED, &set, error_r);
	if (rc < 0) {
		imap_seqset_deinit(&set);
		return -1;
	}
	if (rc == 1) {
		/* "$": the saved search result, as UIDs (RFC 5182 §2.1). */
		imap_seqset_deinit(&set);
		struct store_uid_range *r =
		    sp_arena_alloc(s->arena, (s->saved.count + 1) * sizeof(*r));
		for (size_t i = 0; i < s->saved.count; i++) {
			r[i].lo = s->saved.ranges[i].lo;
			r[i].hi = s->saved.ranges[i].hi;
		}
		set_r->ranges = r;
		set_r->n = s->saved_valid ? s->saved.count : 0;
		return 0;
	}
	struct store_uid_range *r = sp_arena_alloc(s->arena, (set.count + 1) * sizeof(*r));
	size_t n = 0;
	if (uid) {
		/* UIDs not yet announced stay invisible (RFC 9051 §2.3.1.1). */
		imap_seqset_clamp(&set, last_uid);
		for (size_t i = 0; i < set.count; i++)
			r[n++] = (struct store_uid_range){set.ranges[i].lo, set.ranges[i].hi};
	} else {
		for (size_t i = 0; i < set.count; i++) {
			if (set.ranges[i].lo == 0 || set.ranges[i].hi > s->n_uids) {
				if (s->n_uids == 0 && set.ranges[i].hi == 0)
					continue; /* "*" of an empty mailbox */
				imap_seqset_deinit(&set);
				*error_r = "Invalid message sequence number";
				return -1;
			}
			r[n++] = (struct store_uid_range){s->uids[set.ranges[i].lo - 1],
			                                  s->uids[set.ranges[i].hi - 1]};
		}
	}
	imap_seqset_deinit(&set);
	set_r->ranges = r;
	set_r->n = n;
	return 0;
}

void imap_flags_responses(const struct imap_session *s, struct sp_buf *out)
{
	struct sp_buf kw = SP_BUF_INIT;
	for (size_t i = 0; i < s->n_keywords; i++)
		sp_buf_printf(&kw, " %s", s->keywords[i]);
	sp_buf_printf(out, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft%s)\r\n",
	              sp_buf_cstr(&kw));
	if (s->readonly)
		sp_buf_append_str(out, "* OK [PERMANENTFLAGS ()] Read-only mailbox\r\n");
	else
		sp_buf_printf(out,
		              "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen "
		              "\\Draft%s \\*)] Flags permitted\r\n",
		              sp_buf_cstr(&kw));
	sp_buf_deinit(&kw);
}

void imap_keywords_note(struct imap_job *job, const char *const *kw, size_t n)
{
	struct imap_session *s = job->s;
	bool added = false;
	for (size_t i = 0; i < n; i++) {
		bool known = false;
		for (size_t k = 0; k < s->n_keywords && !known; k++)
			known = strcasecmp(s->keywords[k], kw[i]) == 0;
		if (known)
			continue;
		s->keywords = sp_reallocarray(s->keywords, s->n_keywords + 1, sizeof(char *));
		s->keywords[s->n_keywords++] = sp_strdup(kw[i]);
		added = true;
	}
	if (added)
		imap_flags_responses(s, &job->out);
}

static void keywords_clear(struct imap_session *s)
{
	for (size_t i = 0; i < s->n_keywords; i++)
		free(s->keywords[i]);
	free(s->keywords);
	s->keywords = NULL;
	s->n_keywords = 0;
}

void imap_session_unselect(struct imap_session *s)
{
	keywords_clear(s);
	free(s->uids);
	s->uids = NULL;
	s->n_uids = s->cap_uids = 0;
	free(s->folder_name);
	s->folder_name = NULL;
	s->folder_id = 0;
	imap_seqset_clear(&s->saved);
	imap_seqset_clear(&s->recent);
	s->saved_valid = false;
	if (s->state == IMAP_STATE_SELECTED)
		s->state = IMAP_STATE_AUTH;
}

/* ---- Updates ---- */

unsigned imap_recent_flag(const struct imap_session *s, uint32_t uid)
{
	if ((s->enabled & IMAP_ENABLED_REV2) || s->recent.count == 0)
		return 0;
	return imap_seqset_contains(&s->recent, uid) ? IMAP_FLAG_RECENT : 0;
}

/* Index of the first map entry >= uid. */
static size_t map_lower_bound(const struct imap_session *s, uint32_t uid)
{
	size_t lo = 0, hi = s->n_uids;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (s->uids[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static size_t recent_count(const struct imap_session *s)
{
	size_t n = 0;
	for (size_t i = 0; i < s->recent.count; i++) {
		const struct imap_seq_range *r = &s->recent.ranges[i];
		size_t end = r->hi == UINT32_MAX ? s->n_uids : map_lower_bound(s, r->hi + 1);
		n += end - map_lower_bound(s, r->lo);
	}
	return n;
}

void imap_recent_update(struct imap_job *job, uint32_t from_uid)
{
	struct imap_session *s = job->s;
	uint32_t last = s->n_uids > 0 ? s->uids[s->n_uids - 1] : 0;
	uint32_t old = last;
	const char *error;
	if (last >= from_uid &&
	    store_recent_claim(s->store, s->folder_id, last, s->readonly, &old, &error) == 0 &&
	    old < last) {
		imap_seqset_add_range(&s->recent, old + 1 > from_uid ? old + 1 : from_uid, last);
		imap_seqset_normalize(&s->recent);
	}
	if (!(s->enabled & IMAP_ENABLED_REV2))
		sp_buf_printf(&job->out, "* %zu RECENT\r\n", recent_count(s));
}

/* "* seq FETCH (UID u FLAGS (...) [MODSEQ (m)])" for a changed message. */
static void write_flags_fetch(struct imap_job *job, uint32_t seq, const struct store_changed *c,
                              bool modseq)
{
	struct imap_session *s = job->s;
	imap_keywords_note(job, c->keywords, c->n_keywords);
	sp_buf_printf(&job->out, "* %u FETCH (UID %u FLAGS ", seq, c->uid);
	imap_flags_format(&job->out, c->flags | imap_recent_flag(s, c->uid), c->keywords,
	                  c->n_keywords);
	if (modseq)
		sp_buf_printf(&job->out, " MODSEQ (%llu)", (unsigned long long)c->modseq);
	sp_buf_append_str(&job->out, ")\r\n");
}

static bool reported(const struct imap_job *job, const struct store_changed *c)
{
	for (size_t i = 0; i < job->n_reported; i++)
		if (job->reported[i].uid == c->uid && job->reported[i].modseq == c->modseq)
			return true;
	return false;
}

void imap_sync(struct imap_job *job)
{
	struct imap_session *s = job->s;
	struct store_changes ch;
	const char *error;
	if (store_changes_since(s->store, s->folder_id, s->highestmodseq, s->arena, &ch, &error) <
	    0) {
		if (store_last_error(s->store) == STORE_ERR_NONEXISTENT) {
			/* Another session deleted the selected folder. */
			sp_buf_append_str(
			    &job->out,
			    "* BYE The selected mailbox was deleted by another session\r\n");
			job->bye = true;
		}
		return;
	}
	/* Expunged messages we announced: their sequence numbers, computed
	 * in one pass (each EXPUNGE shifts the later ones down by one). */
	size_t n_gone = 0;
	for (size_t i = 0; i < ch.n_expunged; i++)
		if (imap_seq_of(s, ch.expunged[i]) != 0)
			n_gone++;
	if (n_gone > 0 && !job->allow_expunge) {
		/* Not during FETCH, STORE or SEARCH (RFC 9051 §7.5.1): all of it
		 * waits for the next command that allows it. */
		job->still_dirty = true;
		return;
	}
	if (n_gone > 0) {
		bool vanished = (s->enabled & IMAP_ENABLED_QRESYNC) != 0;
		struct sp_buf uidlist = SP_BUF_INIT;
		size_t out = 0, e = 0, removed = 0;
		for (size_t i = 0; i < s->n_uids; i++) {
			uint32_t u = s->uids[i];
			while (e < ch.n_expunged && ch.expunged[e] < u)
				e++;
			if (e < ch.n_expunged && ch.expunged[e] == u) {
				if (vanished)
					sp_buf_printf(&uidlist, "%s%u", removed ? "," : "", u);
				else
					sp_buf_printf(&job->out, "* %zu EXPUNGE\r\n",
					              i + 1 - removed);
				removed++;
				continue;
			}
			s->uids[out++] = u;
		}
		s->n_uids = out;
		if (vanished)
			sp_buf_printf(&job->out, "* VANISHED %s\r\n", sp_buf_cstr(&uidlist));
		sp_buf_deinit(&uidlist);
	}
	uint32_t last = s->n_uids > 0 ? s->uids[s->n_uids - 1] : 0;
	size_t before = s->n_uids;
	for (size_t i = 0; i < ch.n_changed; i++)
		if (ch.changed[i].uid > last)
			map_append(s, ch.changed[i].uid);
	if (s->n_uids != before) {
		sp_buf_printf(&job->out, "* %zu EXISTS\r\n", s->n_uids);
		imap_recent_update(job, last + 1);
	}
	bool condstore = (s->enabled & IMAP_ENABLED_CONDSTORE) != 0;
	for (size_t i = 0; i < ch.n_changed; i++) {
		const struct store_changed *c = &ch.changed[i];
		if (c->uid > last || reported(job, c))
			continue;
		uint32_t seq = imap_seq_of(s, c->uid);
		if (seq != 0)
			write_flags_fetch(job, seq, c, condstore);
	}
	s->highestmodseq = ch.highestmodseq;
	s->uidnext = ch.uidnext;
}

uint64_t imap_modseq_value(uint64_t modseq)
{
	/* RFC 7162 §7: mod-sequence-value is at least 1; a folder that never
	 * changed has 0 in the store. The session's own cursor keeps 0. */
	return modseq > 0 ? modseq : 1;
}

int imap_job_folder(struct imap_job *job, const char *name, struct store_folder *f_r)
{
	const char *error;
	int rc = store_folder_get(job->s->store, name, job->s->arena, f_r, &error);
	if (rc < 0)
		imap_job_store_error(job, error);
	else if (rc == 0)
		imap_job_reply(job, "NO [NONEXISTENT] No such mailbox");
	return rc == 1 ? 0 : -1;
}

void imap_condstore_enable(struct imap_session *s)
{
	if (s->enabled & IMAP_ENABLED_CONDSTORE)
		return;
	s->enabled |= IMAP_ENABLED_CONDSTORE;
	if (s->state == IMAP_STATE_SELECTED)
		imap_untagged(s, "OK [HIGHESTMODSEQ %llu] Highest",
		              (unsigned long long)imap_modseq_value(s->highestmodseq));
}

/* ---- SELECT / EXAMINE ---- */

struct select_job {
	const char *name;
	bool readonly;
	bool condstore;
	bool qresync;
	uint32_t q_uidvalidity;
	uint64_t q_modseq;
	const struct imap_arg *q_known; /* known-uids, NULL if absent */
	bool ok;
	int64_t folder_id;
	uint32_t uidvalidity, uidnext;
	uint64_t highestmodseq;
};

static void select_qresync(struct imap_job *job, struct select_job *sj)
{
	struct imap_session *s = job->s;
	if (sj->q_uidvalidity != sj->uidvalidity)
		return; /* RFC 7162 §3.2.5.2: the client must resync fully */
	struct store_changes ch;
	const char *error;
	if (store_changes_since(s->store, sj->folder_id, sj->q_modseq, s->arena, &ch, &error) < 0)
		return;
	struct imap_seqset known = IMAP_SEQSET_INIT;
	bool have_known = false;
	if (sj->q_known != NULL && imap_seqset_parse(sj->q_known->str, UINT32_MAX,
	                                             IMAP_SEQSET_NO_STAR, &known, &error) == 0)
		have_known = true;
	if (ch.n_expunged > 0) {
		struct sp_buf list = SP_BUF_INIT;
		for (size_t i = 0; i < ch.n_expunged; i++) {
			if (have_known && !imap_seqset_contains(&known, ch.expunged[i]))
				continue;
			sp_buf_printf(&list, "%s%u", list.len ? "," : "", ch.expunged[i]);
		}
		if (list.len > 0)
			sp_buf_printf(&job->out, "* VANISHED (EARLIER) %s\r\n", sp_buf_cstr(&list));
		sp_buf_deinit(&list);
	}
	imap_seqset_deinit(&known);
	for (size_t i = 0; i < ch.n_changed; i++) {
		const struct store_changed *c = &ch.changed[i];
		uint32_t seq = imap_seq_of(s, c->uid);
		if (seq != 0)
			write_flags_fetch(job, seq, c, true);
	}
}

static void select_work(struct imap_job *job)
{
	struct imap_session *s = job->s;
	struct select_job *sj = job->data;
	job->sync = false; /* the SELECT responses are the state */
	struct store_session *st = imap_job_store(job);
	if (st == NULL)
		return;
	const char *error;
	struct store_folder f;
	if (imap_job_folder(job, sj->name, &f) < 0)
		return;
	uint32_t *uids;
	size_t n;
	if (store_uids(st, f.id, s->arena, &uids, &n, &error) < 0) {
		imap_job_store_error(job, error);
		return;
	}
	s->uids = sp_reallocarray(NULL, n > 0 ? n : 1, sizeof(*uids));
	if (n > 0)
		memcpy(s->uids, uids, n * sizeof(*uids));
	s->n_uids = s->cap_uids = n;
	sj->folder_id = f.id;
	sj->uidvalidity = f.uidvalidity;
	sj->uidnext = f.uidnext;
	sj->highestmodseq = f.highestmodseq;
	s->folder_id = f.id;
	s->highestmodseq = f.highestmodseq;
	s->uidnext = f.uidnext;
	s->uidvalidity = f.uidvalidity;

	struct sp_buf *o = &job->out;
	s->readonly = sj->readonly;
	imap_flags_responses(s, o);
	sp_buf_printf(o, "* %zu EXISTS\r\n", n);
	imap_recent_update(job, 1);
	if (!(s->enabled & IMAP_ENABLED_REV2)) {
		/* RFC 3501 §6.3.1: the first unseen message, if any. */
		struct store_query q = {.type = STORE_Q_FLAGS_UNSET, .flags = STORE_FLAG_SEEN};
		uint32_t *unseen;
		size_t n_unseen;
		if (n > 0 &&
		    store_search(st, f.id, &q, s->arena, &unseen, &n_unseen, &error) == 0 &&
		    n_unseen > 0) {
			uint32_t seq = imap_seq_of(s, unseen[0]);
			if (seq != 0)
				sp_buf_printf(o, "* OK [UNSEEN %u] First unseen\r\n", seq);
		}
	}
	sp_buf_printf(o, "* OK [UIDVALIDITY %u] UIDs valid\r\n", f.uidvalidity);
	sp_buf_printf(o, "* OK [UIDNEXT %u] Predicted next UID\r\n", f.uidnext);
	sp_buf_printf(o, "* OK [HIGHESTMODSEQ %llu] Highest\r\n",
	              (unsigned long long)imap_modseq_value(f.highestmodseq));
	sp_buf_printf(o, "* OK [MAILBOXID (F%llx%08x)] Ok\r\n", (unsigned long long)f.id,
	              f.uidvalidity);
	if (s->enabled & IMAP_ENABLED_REV2) {
		/* RFC 9051 §6.3.2: the mailbox's LIST response */
		sp_buf_append_str(o, "* LIST () \"/\" ");
		imap_mailbox_write(s, f.name, o);
		sp_buf_append_str(o, "\r\n");
	}
	if (sj->qresync)
		select_qresync(job, sj);
	sj->ok = true;
	imap_job_reply(job, "OK [%s] %s completed", sj->readonly ? "READ-ONLY" : "READ-WRITE",
	               sj->readonly ? "EXAMINE" : "SELECT");
}

static bool select_done(struct imap_job *job)
{
	struct imap_session *s = job->s;
	struct select_job *sj = job->data;
	if (sj->ok) {
		s->state = IMAP_STATE_SELECTED;
		s->folder_name = sp_strdup(sj->name);
		s->readonly = sj->readonly;
		if (sj->condstore)
			s->enabled |= IMAP_ENABLED_CONDSTORE;
	} else {
		imap_session_unselect(s);
	}
	return false;
}

/* (QRESYNC (uidvalidity modseq [known-uids [seq-match]])) */
static int parse_select_params(struct imap_session *s, const struct imap_arg *list,
                               struct select_job *sj, const char **error_r)
{
	for (size_t i = 0; i < list->count; i++) {
		const struct imap_arg *a = &list->list[i];
		if (imap_arg_atom_equals(a, "CONDSTORE")) {
			sj->condstore = true;
			continue;
		}
		if (!imap_arg_atom_equals(a, "QRESYNC") || i + 1 >= list->count ||
		    list->list[i + 1].type != IMAP_ARG_LIST) {
			*error_r = "Unknown SELECT parameter";
			return -1;
		}
		if (!(s->enabled & IMAP_ENABLED_QRESYNC)) {
			*error_r = "QRESYNC must be enabled first";
			return -1;
		}
		const struct imap_arg *q = &list->list[++i];
		uint64_t v, m;
		if (q->count < 2 || q->count > 4 || q->list[0].type != IMAP_ARG_ATOM ||
		    q->list[1].type != IMAP_ARG_ATOM ||
		    sp_parse_u64_slice(q->list[0].str, UINT32_MAX, &v) < 0 || v == 0 ||
		    sp_parse_u64_slice(q->list[1].str, INT64_MAX, &m) < 0 || m == 0) {
			*error_r = "Invalid QRESYNC parameters";
			return -1;
		}
		if (q->count >= 3) {
			if (q->list[2].type != IMAP_ARG_ATOM ||
			    !imap_seqset_is_valid(q->list[2].str, IMAP_SEQSET_NO_STAR)) {
				*error_r = "Invalid QRESYNC known UIDs";
				return -1;
			}
			sj->q_known = &q->list[2];
		}
		sj->qresync = true;
		sj->condstore = true;
		sj->q_uidvalidity = (uint32_t)v;
		sj->q_modseq = m;
	}
	return 0;
}

void imap_cmd_select(struct imap_session *s, const struct imap_command *cmd)
{
	const char *error;
	struct select_job *sj = sp_arena_zalloc(s->arena, sizeof(*sj));
	sj->readonly = strcmp(cmd->name, "EXAMINE") == 0;
	if (cmd->arg_count < 1 || cmd->arg_count > 2 ||
	    (cmd->arg_count == 2 && cmd->args[1].type != IMAP_ARG_LIST)) {
		imap_reply(s, "BAD %s takes a mailbox name and optional parameters", cmd->name);
		return;
	}
	if (imap_mailbox_arg(s, &cmd->args[0], &sj->name) < 0)
		return;
	if (cmd->arg_count == 2 && parse_select_params(s, &cmd->args[1], sj, &error) < 0) {
		imap_bad(s, error);
		return;
	}
	if (s->state == IMAP_STATE_SELECTED) {
		/* RFC 9051 §6.3.2, RFC 7162 §3.2.11. */
		imap_session_unselect(s);
		imap_untagged(s, "OK [CLOSED] Previous mailbox is now closed");
	}
	imap_job_start(s, select_work, select_done, sj);
}

void imap_cmd_unselect(struct imap_session *s, const struct imap_command *cmd)
{
	if (cmd->arg_count != 0) {
		imap_bad(s, "UNSELECT takes no arguments");
		return;
	}
	imap_session_unselect(s);
	imap_reply(s, "OK UNSELECT completed");
}

/* CLOSE: expunge silently (unless read-only), then unselect. */
static void close_work(struct imap_job *job)
{
	struct imap_session *s = job->s;
	job->sync = false; /* the folder is being left */
	struct store_session *st = imap_job_store(job);
	if (st == NULL)
		return;
	uint32_t *uids;
	size_t n;
	const char *error;
	if (!s->readonly &&
	    store_expunge(st, s->folder_id, NULL, s->arena, &uids, &n, &error) < 0) {
		imap_job_store_error(job, error);
		return;
	}
	imap_job_reply(job, "OK CLOSE completed");
}

static bool close_done(struct imap_job *job)
{
	if (strncmp(sp_buf_cstr(&job->tagged), "OK", 2) == 0)
		imap_session_unselect(job->s);
	return false;
}

void imap_cmd_close(struct imap_session *s, const struct imap_command *cmd)
{
	if (cmd->arg_count != 0) {
		imap_bad(s, "CLOSE takes no arguments");
		return;
	}
	imap_job_start(s, close_work, close_done, NULL);
}
