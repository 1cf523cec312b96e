/* SEARCH for the IMAP server, without the store: the search program to a
 * store query (RFC 9051 §6.4.4, RFC 3501 §6.4.4, RFC 5182 "$", RFC 7162
 * §3.1.5 MODSEQ, RFC 5032, RFC 8514, RFC 8474), sequence numbers turned
 * into UIDs through the session's map, and the SEARCH / ESEARCH replies
 * (RFC 9051 §7.3.4, RFC 3501 §7.2.5, RFC 4731 §3.1, RFC 5182 §2.4). */
#include "imap/imap_search_query.h"

#include <string.h>

struct query_builder {
	const struct imap_search_ctx *ctx;
	struct sp_arena *arena;
};

static void q_nothing(struct query_builder *b, struct store_query *q)
{
	/* NOT ALL: matches no message */
	struct store_query *all = sp_arena_zalloc(b->arena, sizeof(*all));
	all->type = STORE_Q_ALL;
	memset(q, 0, sizeof(*q));
	q->type = STORE_Q_NOT;
	q->children = all;
	q->n_children = 1;
}

static void q_uids(struct query_builder *b, const struct imap_seq_range *r, size_t n,
                   struct store_query *q)
{
	if (n == 0) {
		q_nothing(b, q);
		return;
	}
	struct store_uid_range *u = sp_arena_alloc(b->arena, n * sizeof(*u));
	for (size_t i = 0; i < n; i++)
		u[i] = (struct store_uid_range){r[i].lo, r[i].hi};
	q->type = STORE_Q_UID;
	q->uids = (struct store_uidset){u, n};
}

/* A sequence set key: message numbers (uid false) or UIDs. */
static void q_set(struct query_builder *b, const struct imap_search_key *k, bool uid,
                  struct store_query *q)
{
	const struct imap_search_ctx *ctx = b->ctx;
	if (k->saved) {
		/* RFC 5182 §2.1: "$" is the saved result, kept as UIDs */
		if (ctx->saved == NULL || ctx->n == 0)
			q_nothing(b, q);
		else
			q_uids(b, ctx->saved->ranges, ctx->saved->count, q);
		return;
	}
	if (ctx->n == 0) {
		q_nothing(b, q);
		return;
	}
	struct imap_seqset set = IMAP_SEQSET_INIT;
	const char *error;
	uint32_t star = uid ? ctx->uids[ctx->n - 1] : (uint32_t)SP_MIN(ctx->n, UINT32_MAX);
	int rc = imap_seqset_parse(k->str, star, 0, &set, &error);
	sp_assert(rc == 0); /* validated by the parser */
	if (!uid) {
		/* numbers above n match nothing; a range of messages is the
		 * range of their UIDs: the map is ascending, and no message
		 * the session does not know can have a UID inside it */
		imap_seqset_clamp(&set, star);
		for (size_t i = 0; i < set.count; i++) {
			set.ranges[i].lo = ctx->uids[set.ranges[i].lo - 1];
			set.ranges[i].hi = ctx->uids[set.ranges[i].hi - 1];
		}
	}
	q_uids(b, set.ranges, set.count, q);
	imap_seqset_deinit(&set);
}

static void build(struct query_builder *b, const struct imap_search_key *k, struct store_query *q);

/* AND of the keys, nested ANDs merged and ALLs dropped. */
static void build_and(struct query_builder *b, const struct imap_search_key *keys, size_t n,
                      struct store_query *q)
{
	struct store_query *kids = sp_arena_zalloc(b->arena, n * sizeof(*kids));
	size_t total = 0;
	for (size_t i = 0; i < n; i++) {
		build(b, &keys[i], &kids[i]);
		if (kids[i].type == STORE_Q_AND)
			total += kids[i].n_children;
		else if (kids[i].type != STORE_Q_ALL)
			total++;
	}
	if (total == 0) {
		q->type = STORE_Q_ALL;
		return;
	}
	struct store_query *flat = sp_arena_zalloc(b->arena, total * sizeof(*flat));
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (kids[i].type == STORE_Q_AND) {
			memcpy(&flat[k], kids[i].children, kids[i].n_children * sizeof(*flat));
			k += kids[i].n_children;
		} else if (kids[i].type != STORE_Q_ALL) {
			flat[k++] = kids[i];
		}
	}
	if (total == 1) {
		*q = flat[0];
		return;
	}
	q->type = STORE_Q_AND;
	q->children = flat;
	q->n_children = total;
}

/* OR of two keys, nested ORs merged; OR with ALL is ALL. */
static void build_or(struct query_builder *b, const struct imap_search_key *keys,
                     struct store_query *q)
{
	struct store_query kids[2];
	memset(kids, 0, sizeof(kids));
	size_t total = 0;
	for (size_t i = 0; i < 2; i++) {
		build(b, &keys[i], &kids[i]);
		if (kids[i].type == STORE_Q_ALL) {
			q->type = STORE_Q_ALL;
			return;
		}
		total += kids[i].type == STORE_Q_OR ? kids[i].n_children : 1;
	}
	struct store_query *flat = sp_arena_zalloc(b->arena, total * sizeof(*flat));
	size_t k = 0;
	for (size_t i = 0; i < 2; i++) {
		if (kids[i].type == STORE_Q_OR) {
			memcpy(&flat[k], kids[i].children, kids[i].n_children * sizeof(*flat));
			k += kids[i].n_children;
		} else {
			flat[k++] = kids[i];
		}
	}
	q->type = STORE_Q_OR;
	q->children = flat;
	q->n_children = total;
}

static void build_not(struct query_builder *b, const struct imap_search_key *key,
                      struct store_query *q)
{
	struct store_query kid;
	memset(&kid, 0, sizeof(kid));
	build(b, key, &kid);
	if (kid.type == STORE_Q_NOT) {
		*q = kid.children[0]; /* NOT NOT x = x */
		return;
	}
	struct store_query *c = sp_arena_alloc(b->arena, sizeof(*c));
	*c = kid;
	q->type = STORE_Q_NOT;
	q->children = c;
	q->n_children = 1;
}

static void q_flags(struct store_query *q, bool set, unsigned flags)
{
	q->type = set ? STORE_Q_FLAGS_SET : STORE_Q_FLAGS_UNSET;
	q->flags = flags;
}

static void q_str(struct store_query *q, enum store_query_type type, const struct sp_slice s)
{
	q->type = type;
	q->str = (const char *)s.ptr; /* NUL-terminated by the parser */
}

static void q_recent(struct query_builder *b, struct store_query *q)
{
	const struct imap_seqset *r = b->ctx->recent;
	if (r == NULL)
		q_nothing(b, q);
	else
		q_uids(b, r->ranges, r->count, q);
}

static void q_date(struct store_query *q, enum store_query_type type, const struct imap_date *d)
{
	q->type = type;
	q->year = d->year;
	q->month = d->month;
	q->day = d->day;
}

static void build(struct query_builder *b, const struct imap_search_key *k, struct store_query *q)
{
	memset(q, 0, sizeof(*q));
	switch (k->type) {
	case IMAP_SEARCH_ALL:
	case IMAP_SEARCH_SAVEDATESUPPORTED: /* RFC 8514 §4.3: save dates kept */
		q->type = STORE_Q_ALL;
		return;
	case IMAP_SEARCH_RECENT:
		q_recent(b, q);
		return;
	case IMAP_SEARCH_OLD: {
		/* RFC 3501 §6.4.4: NOT RECENT */
		struct store_query *r = sp_arena_zalloc(b->arena, sizeof(*r));
		q_recent(b, r);
		q->type = STORE_Q_NOT;
		q->children = r;
		q->n_children = 1;
		return;
	}
	case IMAP_SEARCH_NEW: {
		/* RFC 3501 §6.4.4: RECENT UNSEEN */
		struct store_query *c = sp_arena_zalloc(b->arena, 2 * sizeof(*c));
		q_recent(b, &c[0]);
		q_flags(&c[1], false, STORE_FLAG_SEEN);
		q->type = STORE_Q_AND;
		q->children = c;
		q->n_children = 2;
		return;
	}
	case IMAP_SEARCH_ANSWERED:
		q_flags(q, true, STORE_FLAG_ANSWERED);
		return;
	case IMAP_SEARCH_DELETED:
		q_flags(q, true, STORE_FLAG_DELETED);
		return;
	case IMAP_SEARCH_DRAFT:
		q_flags(q, true, STORE_FLAG_DRAFT);
		return;
	case IMAP_SEARCH_FLAGGED:
		q_flags(q, true, STORE_FLAG_FLAGGED);
		return;
	case IMAP_SEARCH_SEEN:
		q_flags(q, true, STORE_FLAG_SEEN);
		return;
	case IMAP_SEARCH_UNANSWERED:
		q_flags(q, false, STORE_FLAG_ANSWERED);
		return;
	case IMAP_SEARCH_UNDELETED:
		q_flags(q, false, STORE_FLAG_DELETED);
		return;
	case IMAP_SEARCH_UNDRAFT:
		q_flags(q, false, STORE_FLAG_DRAFT);
		return;
	case IMAP_SEARCH_UNFLAGGED:
		q_flags(q, false, STORE_FLAG_FLAGGED);
		return;
	case IMAP_SEARCH_UNSEEN:
		q_flags(q, false, STORE_FLAG_SEEN);
		return;
	case IMAP_SEARCH_BCC:
		q_str(q, STORE_Q_BCC, k->str);
		return;
	case IMAP_SEARCH_BODY:
		q_str(q, STORE_Q_BODY, k->str);
		return;
	case IMAP_SEARCH_CC:
		q_str(q, STORE_Q_CC, k->str);
		return;
	case IMAP_SEARCH_FROM:
		q_str(q, STORE_Q_FROM, k->str);
		return;
	case IMAP_SEARCH_SUBJECT:
		q_str(q, STORE_Q_SUBJECT, k->str);
		return;
	case IMAP_SEARCH_TEXT:
		q_str(q, STORE_Q_TEXT, k->str);
		return;
	case IMAP_SEARCH_TO:
		q_str(q, STORE_Q_TO, k->str);
		return;
	case IMAP_SEARCH_HEADER:
		q_str(q, STORE_Q_HEADER, k->str);
		q->header = (const char *)k->header.ptr;
		return;
	case IMAP_SEARCH_KEYWORD:
		q_str(q, STORE_Q_KEYWORD, k->str);
		return;
	case IMAP_SEARCH_UNKEYWORD:
		q_str(q, STORE_Q_UNKEYWORD, k->str);
		return;
	case IMAP_SEARCH_BEFORE:
		q_date(q, STORE_Q_BEFORE, &k->date);
		return;
	case IMAP_SEARCH_ON:
		q_date(q, STORE_Q_ON, &k->date);
		return;
	case IMAP_SEARCH_SINCE:
		q_date(q, STORE_Q_SINCE, &k->date);
		return;
	case IMAP_SEARCH_SENTBEFORE:
		q_date(q, STORE_Q_SENTBEFORE, &k->date);
		return;
	case IMAP_SEARCH_SENTON:
		q_date(q, STORE_Q_SENTON, &k->date);
		return;
	case IMAP_SEARCH_SENTSINCE:
		q_date(q, STORE_Q_SENTSINCE, &k->date);
		return;
	case IMAP_SEARCH_SAVEDBEFORE:
		q_date(q, STORE_Q_SAVEDBEFORE, &k->date);
		return;
	case IMAP_SEARCH_SAVEDON:
		q_date(q, STORE_Q_SAVEDON, &k->date);
		return;
	case IMAP_SEARCH_SAVEDSINCE:
		q_date(q, STORE_Q_SAVEDSINCE, &k->date);
		return;
	case IMAP_SEARCH_LARGER:
		q->type = STORE_Q_LARGER;
		q->number = k->number;
		return;
	case IMAP_SEARCH_SMALLER:
		q->type = STORE_Q_SMALLER;
		q->number = k->number;
		return;
	case IMAP_SEARCH_OLDER:
		q->type = STORE_Q_OLDER;
		q->number = k->number;
		return;
	case IMAP_SEARCH_YOUNGER:
		q->type = STORE_Q_YOUNGER;
		q->number = k->number;
		return;
	case IMAP_SEARCH_MODSEQ:
		/* RFC 7162 §3.1.5: the entry names a flag's mod-sequence; we
		 * keep one per message, so the entry is ignored */
		q->type = STORE_Q_MODSEQ;
		q->number = k->number;
		return;
	case IMAP_SEARCH_SEQSET:
		q_set(b, k, false, q);
		return;
	case IMAP_SEARCH_UID:
		q_set(b, k, true, q);
		return;
	case IMAP_SEARCH_EMAILID:
		q_str(q, STORE_Q_EMAILID, k->str);
		return;
	case IMAP_SEARCH_THREADID:
		q_str(q, STORE_Q_THREADID, k->str);
		return;
	case IMAP_SEARCH_REGEX: {
		static const enum store_query_field fields[] = {
		    [IMAP_REGEX_SUBJECT] = STORE_FIELD_SUBJECT,
		    [IMAP_REGEX_FROM] = STORE_FIELD_FROM,
		    [IMAP_REGEX_TO] = STORE_FIELD_TO,
		    [IMAP_REGEX_CC] = STORE_FIELD_CC,
		    [IMAP_REGEX_BCC] = STORE_FIELD_BCC,
		    [IMAP_REGEX_BODY] = STORE_FIELD_BODY,
		    [IMAP_REGEX_TEXT] = STORE_FIELD_TEXT,
		    [IMAP_REGEX_HEADER] = STORE_FIELD_HEADER,
		};
		sp_assert((size_t)k->regex_field < SP_N_ELEMENTS(fields));
		q_str(q, STORE_Q_REGEX, k->str);
		q->field = fields[k->regex_field];
		if (k->regex_field == IMAP_REGEX_HEADER)
			q->header = (const char *)k->header.ptr;
		return;
	}
	case IMAP_SEARCH_AND:
		build_and(b, k->children, k->count, q);
		return;
	case IMAP_SEARCH_OR:
		sp_assert(k->count == 2);
		build_or(b, k->children, q);
		return;
	case IMAP_SEARCH_NOT:
		sp_assert(k->count == 1);
		build_not(b, k->children, q);
		return;
	}
	sp_panic("unknown search key %d", (int)k->type);
}

struct store_query *imap_search_query_build(const struct imap_search_program *prog,
                                            const struct imap_search_ctx *ctx,
                                            struct sp_arena *arena)
{
	struct query_builder b = {.ctx = ctx, .arena = arena};
	struct store_query *q = sp_arena_zalloc(arena, sizeof(*q));
	build(&b, prog->root, q);
	return q;
}

static bool key_out_of_range(const struct imap_search_key *k, size_t n)
{
	if (k->type == IMAP_SEARCH_SEQSET && !k->saved) {
		if (n == 0)
			return true; /* RFC 9051 §9: this includes "*" */
		struct imap_seqset set = IMAP_SEQSET_INIT;
		const char *error;
		uint32_t star = (uint32_t)SP_MIN(n, UINT32_MAX);
		int rc = imap_seqset_parse(k->str, star, 0, &set, &error);
		sp_assert(rc == 0);
		bool out = imap_seqset_max(&set) > star;
		imap_seqset_deinit(&set);
		return out;
	}
	for (size_t i = 0; i < k->count; i++) {
		if (key_out_of_range(&k->children[i], n))
			return true;
	}
	return false;
}

bool imap_search_seq_out_of_range(const struct imap_search_program *prog, size_t n)
{
	return key_out_of_range(prog->root, n);
}

/* ---- Replies ---- */

/* The matches the session knows, as sequence numbers or UIDs, with their
 * MODSEQs (when given). Arrays on the heap. */
struct known {
	uint32_t *nums;
	uint64_t *mods;
	size_t n;
};

static void known_collect(const struct imap_search_reply *r, struct known *k)
{
	k->nums = sp_reallocarray(NULL, r->n_match + 1, sizeof(*k->nums));
	k->mods = sp_reallocarray(NULL, r->n_match + 1, sizeof(*k->mods));
	k->n = 0;
	/* both ascending: one merge walk */
	size_t j = 0;
	for (size_t i = 0; i < r->n_match; i++) {
		uint32_t uid = r->match[i];
		while (j < r->map_n && r->map[j] < uid)
			j++;
		if (j == r->map_n)
			break;
		if (r->map[j] != uid)
			continue;
		k->nums[k->n] = r->uid ? uid : (uint32_t)(j + 1);
		k->mods[k->n] = r->modseqs != NULL ? r->modseqs[i] : 0;
		k->n++;
	}
}

static void known_free(struct known *k)
{
	sp_free(&k->nums);
	sp_free(&k->mods);
}

static uint64_t max_mod(const struct known *k)
{
	uint64_t m = 0;
	for (size_t i = 0; i < k->n; i++)
		m = SP_MAX(m, k->mods[i]);
	return m;
}

void imap_search_reply_format(const struct imap_search_program *prog,
                              const struct imap_search_reply *r, struct sp_buf *out)
{
	bool esearch = prog->has_return || r->imap4rev2;
	unsigned opts = prog->has_return ? prog->return_opts : IMAP_SEARCH_RETURN_ALL;
	if (esearch && opts == IMAP_SEARCH_RETURN_SAVE)
		return; /* RFC 5182 §2.4: SAVE alone sends no ESEARCH */
	bool modseq = prog->uses_modseq && r->modseqs != NULL;
	struct known k;
	known_collect(r, &k);
	if (!esearch) {
		/* RFC 9051 §7.3.4 (RFC 3501 §7.2.5) */
		sp_buf_append_str(out, "* SEARCH");
		for (size_t i = 0; i < k.n; i++)
			sp_buf_printf(out, " %u", k.nums[i]);
		uint64_t m = modseq ? max_mod(&k) : 0;
		if (m > 0) /* RFC 7162 §3.1.5 */
			sp_buf_printf(out, " (MODSEQ %llu)", (unsigned long long)m);
		sp_buf_append_str(out, "\r\n");
		known_free(&k);
		return;
	}
	/* RFC 4731 §3.1, RFC 9051 §7.3.4: search-correlator, UID, items */
	sp_buf_append_str(out, "* ESEARCH (TAG \"");
	for (const char *t = r->tag != NULL ? r->tag : ""; *t != '\0'; t++) {
		if (*t == '"' || *t == '\\')
			sp_buf_append_byte(out, '\\');
		sp_buf_append_byte(out, (uint8_t)*t);
	}
	sp_buf_append_str(out, "\")");
	if (r->uid)
		sp_buf_append_str(out, " UID");
	if (k.n > 0 && (opts & IMAP_SEARCH_RETURN_MIN) != 0)
		sp_buf_printf(out, " MIN %u", k.nums[0]);
	if (k.n > 0 && (opts & IMAP_SEARCH_RETURN_MAX) != 0)
		sp_buf_printf(out, " MAX %u", k.nums[k.n - 1]);
	if ((opts & IMAP_SEARCH_RETURN_COUNT) != 0)
		sp_buf_printf(out, " COUNT %zu", k.n);
	if (k.n > 0 && (opts & IMAP_SEARCH_RETURN_ALL) != 0) {
		sp_buf_append_str(out, " ALL ");
		imap_seq_list_format(k.nums, k.n, out);
	}
	if (modseq && k.n > 0) {
		/* RFC 7162 §3.1.5: of all the matches for ALL or COUNT,
		 * otherwise of the messages returned as MIN and MAX */
		uint64_t m = 0;
		if ((opts & (IMAP_SEARCH_RETURN_ALL | IMAP_SEARCH_RETURN_COUNT)) != 0) {
			m = max_mod(&k);
		} else {
			if ((opts & IMAP_SEARCH_RETURN_MIN) != 0)
				m = k.mods[0];
			if ((opts & IMAP_SEARCH_RETURN_MAX) != 0)
				m = SP_MAX(m, k.mods[k.n - 1]);
		}
		if (m > 0)
			sp_buf_printf(out, " MODSEQ %llu", (unsigned long long)m);
	}
	sp_buf_append_str(out, "\r\n");
	known_free(&k);
}

void imap_search_saved_result(const struct imap_search_program *prog,
                              const struct imap_search_reply *r, struct imap_seqset *set)
{
	imap_seqset_clear(set);
	struct imap_search_reply ur = *r;
	ur.uid = true; /* the saved result is UIDs whatever the command */
	struct known k;
	known_collect(&ur, &k);
	unsigned opts = prog->return_opts;
	bool minmax_only = (opts & (IMAP_SEARCH_RETURN_MIN | IMAP_SEARCH_RETURN_MAX)) != 0 &&
	                   (opts & (IMAP_SEARCH_RETURN_ALL | IMAP_SEARCH_RETURN_COUNT)) == 0;
	if (!minmax_only) {
		for (size_t i = 0; i < k.n; i++)
			imap_seqset_add_range(set, k.nums[i], k.nums[i]);
	} else if (k.n > 0) {
		if ((opts & IMAP_SEARCH_RETURN_MIN) != 0)
			imap_seqset_add_range(set, k.nums[0], k.nums[0]);
		if ((opts & IMAP_SEARCH_RETURN_MAX) != 0)
			imap_seqset_add_range(set, k.nums[k.n - 1], k.nums[k.n - 1]);
	}
	imap_seqset_normalize(set);
	known_free(&k);
}
