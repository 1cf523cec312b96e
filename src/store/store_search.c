/* SEARCH (RFC 9051 §6.4.4, RFC 3501 §6.4.4, CONDSTORE MODSEQ, WITHIN
 * OLDER/YOUNGER RFC 5032, SAVEDATE RFC 8514, OBJECTID RFC 8474): a query
 * tree translated into one SQL statement over indexed columns. Substring
 * keys use the FTS5 trigram index for needles of at least 3 characters
 * (case-insensitive, any script) and a scan of the indexed text for
 * shorter ones; the X-REGEX key uses the PCRE2 regexp() function. */
#include "store/store_private.h"

#include <string.h>
#include <time.h>

enum param_kind { P_INT, P_TEXT, P_SET };

struct param {
	enum param_kind kind;
	int64_t i;
	const char *s;
	const struct store_uidset *set;
};

struct builder {
	struct store_session *s;
	struct sp_arena *arena;
	struct sp_buf sql;
	struct param *p;
	size_t n, cap;
	int64_t folder_id;
	time_t now;
	bool uses_contents; /* the statement needs the contents join */
};

static void add_param(struct builder *b, struct param p)
{
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 16;
		b->p = sp_reallocarray(b->p, b->cap, sizeof(*b->p));
	}
	b->p[b->n++] = p;
}

static void p_int(struct builder *b, int64_t v)
{
	sp_buf_append_str(&b->sql, "?");
	add_param(b, (struct param){.kind = P_INT, .i = v});
}

static void p_text(struct builder *b, const char *v)
{
	sp_buf_append_str(&b->sql, "?");
	add_param(b, (struct param){.kind = P_TEXT, .s = v});
}

static void p_set(struct builder *b, const struct store_uidset *set)
{
	sp_buf_append_str(&b->sql, "?");
	struct store_uidset *copy = sp_arena_alloc(b->arena, sizeof(*copy));
	*copy = store_uidset_norm(set, b->arena);
	add_param(b, (struct param){.kind = P_SET, .set = copy});
}

static size_t utf8_chars(const char *s)
{
	size_t n = 0;
	for (; *s != '\0'; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

/* An FTS5 phrase: the needle in double quotes, quotes doubled. */
static const char *fts_phrase(struct builder *b, const char *cols, const char *needle)
{
	struct sp_buf q = SP_BUF_INIT;
	sp_buf_printf(&q, "{%s} : \"", cols);
	for (const char *p = needle; *p != '\0'; p++) {
		if (*p == '"')
			sp_buf_append_byte(&q, '"');
		sp_buf_append_byte(&q, (uint8_t)*p);
	}
	sp_buf_append_byte(&q, '"');
	char *out = sp_arena_strdup(b->arena, sp_buf_cstr(&q));
	sp_buf_deinit(&q);
	return out;
}

/* m.content_id IN (rows of fts whose cols contain needle). expr is the SQL
 * expression of the same text for the short-needle scan. */
static void text_match(struct builder *b, const char *cols, const char *expr, const char *needle)
{
	sp_buf_append_str(&b->sql, "m.content_id IN (SELECT rowid FROM fts WHERE ");
	if (utf8_chars(needle) >= 3) {
		sp_buf_append_str(&b->sql, "fts MATCH ");
		p_text(b, fts_phrase(b, cols, needle));
	} else {
		sp_buf_printf(&b->sql, "sp_icontains(%s, ", expr);
		p_text(b, needle);
		sp_buf_append_str(&b->sql, ")");
	}
	sp_buf_append_str(&b->sql, ")");
}

static const char *field_expr(enum store_query_field f)
{
	switch (f) {
	case STORE_FIELD_SUBJECT:
		return "fts.subject";
	case STORE_FIELD_FROM:
		return "fts.from_";
	case STORE_FIELD_TO:
		return "fts.to_";
	case STORE_FIELD_CC:
		return "fts.cc_";
	case STORE_FIELD_BCC:
		return "fts.bcc_";
	case STORE_FIELD_BODY:
		return "fts.body";
	case STORE_FIELD_TEXT:
		return "(fts.headers || char(10) || fts.body)";
	case STORE_FIELD_HEADER:
		break;
	}
	return NULL;
}

static bool valid_date(const struct store_query *q)
{
	return q->year >= 1 && q->year <= 9999 && q->month >= 1 && q->month <= 12 && q->day >= 1 &&
	       q->day <= 31;
}

static const char *date_text(struct builder *b, const struct store_query *q)
{
	return sp_arena_printf(b->arena, "%04u-%02u-%02u", q->year, q->month, q->day);
}

static int build(struct builder *b, const struct store_query *q, unsigned depth,
                 const char **error_r);

static int build_children(struct builder *b, const struct store_query *q, const char *op,
                          const char *empty, unsigned depth, const char **error_r)
{
	if (q->n_children == 0) {
		sp_buf_append_str(&b->sql, empty);
		return 0;
	}
	sp_buf_append_str(&b->sql, "(");
	for (size_t i = 0; i < q->n_children; i++) {
		if (i > 0)
			sp_buf_append_str(&b->sql, op);
		if (build(b, &q->children[i], depth + 1, error_r) < 0)
			return -1;
	}
	sp_buf_append_str(&b->sql, ")");
	return 0;
}

static int build(struct builder *b, const struct store_query *q, unsigned depth,
                 const char **error_r)
{
	struct sp_buf *sql = &b->sql;
	if (depth > STORE_QUERY_MAX_DEPTH)
		return store_fail(b->s, STORE_ERR_LIMIT, error_r, "search nested too deeply");
	switch (q->type) {
	case STORE_Q_ALL:
		sp_buf_append_str(sql, "1");
		return 0;
	case STORE_Q_AND:
		return build_children(b, q, " AND ", "1", depth, error_r);
	case STORE_Q_OR:
		return build_children(b, q, " OR ", "0", depth, error_r);
	case STORE_Q_NOT:
		if (q->n_children != 1)
			return store_fail(b->s, STORE_ERR_BAD_ARG, error_r, "NOT takes one key");
		sp_buf_append_str(sql, "NOT ");
		return build_children(b, q, "", "1", depth, error_r);
	case STORE_Q_UID:
		sp_buf_append_str(sql, "sp_uid_in(m.uid, ");
		p_set(b, &q->uids);
		sp_buf_append_str(sql, ")");
		return 0;
	case STORE_Q_SEQ:
		sp_buf_append_str(sql, "m.uid IN (SELECT uid FROM (SELECT uid, row_number() OVER"
		                       " (ORDER BY uid) AS seq FROM messages WHERE folder_id = ");
		p_int(b, b->folder_id);
		sp_buf_append_str(sql, ") WHERE sp_uid_in(seq, ");
		p_set(b, &q->uids);
		sp_buf_append_str(sql, "))");
		return 0;
	case STORE_Q_FLAGS_SET:
	case STORE_Q_FLAGS_UNSET:
		if ((q->flags & ~(unsigned)STORE_FLAGS_ALL) != 0)
			return store_fail(b->s, STORE_ERR_BAD_ARG, error_r, "unknown flag");
		sp_buf_append_str(sql, "(m.flags & ");
		p_int(b, q->flags);
		sp_buf_append_str(sql, ") = ");
		p_int(b, q->type == STORE_Q_FLAGS_SET ? q->flags : 0);
		return 0;
	case STORE_Q_KEYWORD:
	case STORE_Q_UNKEYWORD:
		if (q->str == NULL)
			return store_fail(b->s, STORE_ERR_BAD_ARG, error_r, "keyword missing");
		sp_buf_append_str(sql, q->type == STORE_Q_KEYWORD ? "EXISTS" : "NOT EXISTS");
		sp_buf_append_str(sql, " (SELECT 1 FROM keywords k WHERE k.message_id = m.id"
		                       " AND k.keyword = ");
		p_text(b, q->str);
		sp_buf_append_str(sql, ")");
		return 0;
	case STORE_Q_BEFORE:
	case STORE_Q_ON:
	case STORE_Q_SINCE:
	case STORE_Q_SENTBEFORE:
	case STORE_Q_SENTON:
	case STORE_Q_SENTSINCE:
	case STORE_Q_SAVEDBEFORE:
	case STORE_Q_SAVEDON:
	case STORE_Q_SAVEDSINCE: {
		if (!valid_date(q))
			return store_fail(b->s, STORE_ERR_BAD_ARG, error_r, "invalid date");
		static const char *const ops[] = {" < ", " = ", " >= "};
		int k = (int)(q->type - STORE_Q_BEFORE);
		if (k >= 3 && k < 6)
			b->uses_contents = true;
		const char *col = k < 3   ? "m.idate_day"
		                  : k < 6 ? "coalesce(c.sent_day, m.idate_day)" /* no Date:
		                     RFC 9051 lets the server use the internal date */
		                          : "substr(m.savedate, 1, 10)";
		sp_buf_printf(sql, "%s%s", col, ops[k % 3]);
		p_text(b, date_text(b, q));
		return 0;
	}
	case STORE_Q_OLDER:
	case STORE_Q_YOUNGER: {
		char iso[32];
		uint64_t n = SP_MIN(q->number, (uint64_t)b->now);
		store_iso_utc(b->now - (time_t)n, iso);
		sp_buf_append_str(sql, q->type == STORE_Q_OLDER ? "m.internaldate <= "
		                                                : "m.internaldate >= ");
		p_text(b, sp_arena_strdup(b->arena, iso));
		return 0;
	}
	case STORE_Q_LARGER:
	case STORE_Q_SMALLER:
		b->uses_contents = true;
		sp_buf_append_str(sql, q->type == STORE_Q_LARGER ? "c.size > " : "c.size < ");
		p_int(b, (int64_t)SP_MIN(q->number, (uint64_t)INT64_MAX));
		return 0;
	case STORE_Q_MODSEQ:
		sp_buf_append_str(sql, "m.modseq >= ");
		p_int(b, (int64_t)SP_MIN(q->number, (uint64_t)INT64_MAX));
		return 0;
	case STORE_Q_EMAILID:
	case STORE_Q_THREADID:
		if (q->str == NULL)
			return store_fail(b->s, STORE_ERR_BAD_ARG, error_r, "id missing");
		b->uses_contents = true;
		sp_buf_append_str(sql,
		                  q->type == STORE_Q_EMAILID ? "c.emailid = " : "c.threadid = ");
		p_text(b, q->str);
		return 0;
	case STORE_Q_FROM:
	case STORE_Q_TO:
	case STORE_Q_CC:
	case STORE_Q_BCC:
	case STORE_Q_SUBJECT:
	case STORE_Q_BODY:
	case STORE_Q_TEXT: {
		static const struct {
			const char *cols, *expr;
		} t[] = {
		    {"from_", "fts.from_"},
		    {"to_", "fts.to_"},
		    {"cc_", "fts.cc_"},
		    {"bcc_", "fts.bcc_"},
		    {"subject", "fts.subject"},
		    {"body", "fts.body"},
		    {"headers body", "(fts.headers || char(10) || fts.body)"},
		};
		if (q->str == NULL)
			return store_fail(b->s, STORE_ERR_BAD_ARG, error_r, "string missing");
		int k = (int)(q->type - STORE_Q_FROM);
		text_match(b, t[k].cols, t[k].expr, q->str);
		return 0;
	}
	case STORE_Q_HEADER:
		if (q->str == NULL || q->header == NULL || q->header[0] == '\0')
			return store_fail(b->s, STORE_ERR_BAD_ARG, error_r, "header missing");
		sp_buf_append_str(sql, "m.content_id IN (SELECT rowid FROM fts WHERE ");
		if (utf8_chars(q->str) >= 3) {
			sp_buf_append_str(sql, "fts MATCH ");
			p_text(b, fts_phrase(b, "headers", q->str));
			sp_buf_append_str(sql, " AND ");
		}
		sp_buf_append_str(sql, "sp_icontains(sp_header(fts.headers, ");
		p_text(b, q->header);
		sp_buf_append_str(sql, "), ");
		p_text(b, q->str);
		sp_buf_append_str(sql, "))");
		return 0;
	case STORE_Q_REGEX: {
		if (q->str == NULL || (q->field == STORE_FIELD_HEADER && q->header == NULL))
			return store_fail(b->s, STORE_ERR_BAD_ARG, error_r, "regex missing");
		sp_buf_append_str(sql, "m.content_id IN (SELECT rowid FROM fts WHERE regexp(");
		p_text(b, q->str);
		sp_buf_append_str(sql, ", ");
		if (q->field == STORE_FIELD_HEADER) {
			sp_buf_append_str(sql, "sp_header(fts.headers, ");
			p_text(b, q->header);
			sp_buf_append_str(sql, ")");
		} else {
			const char *e = field_expr(q->field);
			if (e == NULL)
				return store_fail(b->s, STORE_ERR_BAD_ARG, error_r, "bad field");
			sp_buf_append_str(sql, e);
		}
		sp_buf_append_str(sql, "))");
		return 0;
	}
	}
	return store_fail(b->s, STORE_ERR_BAD_ARG, error_r, "unknown search key");
}

int store_search(struct store_session *s, int64_t folder_id, const struct store_query *q,
                 struct sp_arena *arena, uint32_t **uids_r, size_t *n_r, const char **error_r)
{
	*uids_r = NULL;
	*n_r = 0;
	struct builder b = {.s = s, .arena = arena, .folder_id = folder_id, .now = time(NULL)};
	/* The condition is built first: it tells whether the contents join
	 * is needed (SQLite does not drop an unused join, and reading a
	 * contents row per message costs most of a flag search). */
	if (build(&b, q, 0, error_r) < 0) {
		sp_buf_deinit(&b.sql);
		free(b.p);
		return -1;
	}
	struct sp_buf cond = b.sql;
	sp_buf_init(&b.sql);
	/* the folder comes last: "?" parameters are numbered in order */
	sp_buf_printf(&b.sql,
	              "SELECT m.uid FROM messages m%s WHERE (%s) AND m.folder_id = ?"
	              " ORDER BY m.uid",
	              b.uses_contents ? " JOIN contents c ON c.id = m.content_id" : "",
	              sp_buf_cstr(&cond));
	sp_buf_deinit(&cond);
	add_param(&b, (struct param){.kind = P_INT, .i = folder_id});
	int ret = store_read_begin(s, error_r);
	if (ret == 0 && store_folder_check(s, folder_id, error_r) < 0)
		ret = -1;
	sqlite3_stmt *st = ret < 0 ? NULL : store_prepare(s, sp_buf_cstr(&b.sql), error_r);
	if (st == NULL)
		ret = -1;
	for (size_t i = 0; ret == 0 && i < b.n; i++) {
		int k = (int)i + 1;
		switch (b.p[i].kind) {
		case P_INT:
			sqlite3_bind_int64(st, k, b.p[i].i);
			break;
		case P_TEXT:
			sqlite3_bind_text(st, k, b.p[i].s, -1, SQLITE_STATIC);
			break;
		case P_SET:
			sqlite3_bind_pointer(st, k, (void *)b.p[i].set, "store_uidset", NULL);
			break;
		}
	}
	if (ret == 0) {
		size_t n = 0, cap = 0;
		uint32_t *v = NULL;
		int rc;
		while ((rc = store_step(st)) == SQLITE_ROW) {
			if (n == cap) {
				size_t ncap = cap ? cap * 2 : 64;
				uint32_t *nv = sp_arena_alloc(arena, ncap * sizeof(*nv));
				if (n)
					memcpy(nv, v, n * sizeof(*nv));
				v = nv;
				cap = ncap;
			}
			v[n++] = (uint32_t)sqlite3_column_int64(st, 0);
		}
		if (rc != SQLITE_DONE) {
			const char *msg = sqlite3_errmsg(s->db);
			if (store_regex_limit_error(msg))
				ret = store_fail(s, STORE_ERR_LIMIT, error_r,
				                 "regular expression too complex (match limit)");
			else if (msg != NULL && strstr(msg, "invalid regular expression") != NULL)
				ret = store_fail(s, STORE_ERR_BAD_ARG, error_r,
				                 "invalid regular expression");
			else
				ret = store_fail_db(s, error_r, "search");
		} else {
			*uids_r = v;
			*n_r = n;
		}
	}
	store_finalize(st);
	store_read_end(s);
	sp_buf_deinit(&b.sql);
	free(b.p);
	return ret;
}
