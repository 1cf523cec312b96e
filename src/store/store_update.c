/* Changing messages: STORE flags (RFC 9051 §6.4.6, UNCHANGEDSINCE RFC
 * 7162 §3.1.3), COPY and MOVE (RFC 9051 §6.4.7-8, COPYUID RFC 4315, RFC
 * 6851), EXPUNGE and UID EXPUNGE with the expunge log for QRESYNC
 * VANISHED (RFC 7162 §3.2), the change feed and quota usage. */
#include "store/store_private.h"

#include <string.h>
#include <strings.h>

struct row {
	int64_t id, content_id;
	uint32_t uid;
	uint64_t modseq;
	unsigned flags;
};

struct rows {
	struct row *v;
	size_t n, cap;
};

static void rows_push(struct rows *r, struct row x)
{
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 64;
		r->v = sp_reallocarray(r->v, r->cap, sizeof(*r->v));
	}
	r->v[r->n++] = x;
}

/* The rows of folder whose UID is in set (all when set is NULL), and
 * with every flag of need set. */
static int load_rows(struct store_session *s, int64_t folder_id, const struct store_uidset *set,
                     unsigned need, struct rows *out, const char **error_r)
{
	sqlite3_stmt *st = store_prepare(
	    s,
	    "SELECT id, uid, modseq, flags, content_id FROM messages WHERE folder_id = ?"
	    " AND uid BETWEEN ? AND ? AND (flags & ?4) = ?4 ORDER BY uid",
	    error_r);
	if (st == NULL)
		return -1;
	struct store_uid_range all = {1, UINT32_MAX};
	size_t n = set != NULL ? set->n : 1;
	for (size_t i = 0; i < n; i++) {
		const struct store_uid_range *r = set != NULL ? &set->ranges[i] : &all;
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, folder_id);
		sqlite3_bind_int64(st, 2, r->lo);
		sqlite3_bind_int64(st, 3, r->hi);
		sqlite3_bind_int(st, 4, (int)need);
		int rc;
		while ((rc = store_step(st)) == SQLITE_ROW)
			rows_push(out, (struct row){
			                   .id = sqlite3_column_int64(st, 0),
			                   .uid = (uint32_t)sqlite3_column_int64(st, 1),
			                   .modseq = (uint64_t)sqlite3_column_int64(st, 2),
			                   .flags = (unsigned)sqlite3_column_int(st, 3),
			                   .content_id = sqlite3_column_int64(st, 4),
			               });
		if (rc != SQLITE_DONE) {
			store_finalize(st);
			return store_fail_db(s, error_r, "select");
		}
	}
	store_finalize(st);
	return 0;
}

/* Applies the keyword part of req to message id; *changes_r counts rows
 * really added or removed. */
static int keywords_apply(struct store_session *s, int64_t id, const struct store_flags_req *req,
                          struct sp_arena *arena, int *changes_r, const char **error_r)
{
	int changes = 0;
	if (req->op == STORE_FLAGS_REPLACE) {
		const char *const *cur;
		size_t n;
		if (store_keywords_load(s, id, arena, &cur, &n) < 0)
			return store_fail_db(s, error_r, "keywords");
		sqlite3_stmt *del = store_prepare(
		    s, "DELETE FROM keywords WHERE message_id = ? AND keyword = ?", error_r);
		if (del == NULL)
			return -1;
		for (size_t i = 0; i < n; i++) {
			bool keep = false;
			for (size_t k = 0; k < req->n_keywords && !keep; k++)
				keep = strcasecmp(cur[i], req->keywords[k]) == 0;
			if (keep)
				continue;
			sqlite3_reset(del);
			sqlite3_bind_int64(del, 1, id);
			sqlite3_bind_text(del, 2, cur[i], -1, SQLITE_STATIC);
			if (store_step(del) != SQLITE_DONE) {
				store_finalize(del);
				return store_fail_db(s, error_r, "keywords");
			}
			changes += sqlite3_changes(s->db);
		}
		store_finalize(del);
	}
	const char *sql = req->op == STORE_FLAGS_REMOVE
	                      ? "DELETE FROM keywords WHERE message_id = ? AND keyword = ?"
	                      : "INSERT OR IGNORE INTO keywords(message_id, keyword) VALUES(?, ?)";
	sqlite3_stmt *st = store_prepare(s, sql, error_r);
	if (st == NULL)
		return -1;
	for (size_t k = 0; k < req->n_keywords; k++) {
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_text(st, 2, req->keywords[k], -1, SQLITE_STATIC);
		if (store_step(st) != SQLITE_DONE) {
			store_finalize(st);
			return store_fail_db(s, error_r, "keywords");
		}
		changes += sqlite3_changes(s->db);
	}
	store_finalize(st);
	*changes_r = changes;
	return 0;
}

static int flags_tx(struct store_session *s, int64_t folder_id, const struct store_flags_req *req,
                    const struct store_uidset *set, struct sp_arena *arena,
                    struct store_flags_result *res, const char **error_r)
{
	struct rows rows = {0};
	if (store_folder_check(s, folder_id, error_r) < 0 ||
	    load_rows(s, folder_id, set, 0, &rows, error_r) < 0) {
		free(rows.v);
		return -1;
	}
	res->changed = sp_arena_alloc(arena, (rows.n + 1) * sizeof(*res->changed));
	res->failed = sp_arena_alloc(arena, (rows.n + 1) * sizeof(*res->failed));
	sqlite3_stmt *up =
	    store_prepare(s, "UPDATE messages SET flags = ?, modseq = ? WHERE id = ?", error_r);
	int ret = up != NULL ? 0 : -1;
	for (size_t i = 0; ret == 0 && i < rows.n; i++) {
		struct row *r = &rows.v[i];
		if (req->has_unchangedsince && r->modseq > req->unchangedsince) {
			res->failed[res->n_failed++] = r->uid;
			continue;
		}
		unsigned nf = req->op == STORE_FLAGS_ADD      ? r->flags | req->flags
		              : req->op == STORE_FLAGS_REMOVE ? r->flags & ~req->flags
		                                              : req->flags;
		int kw_changes = 0;
		if (keywords_apply(s, r->id, req, arena, &kw_changes, error_r) < 0) {
			ret = -1;
			break;
		}
		if (nf == r->flags && kw_changes == 0)
			continue;
		uint64_t modseq = store_modseq_next(s, folder_id, error_r);
		if (modseq == 0) {
			ret = -1;
			break;
		}
		sqlite3_reset(up);
		sqlite3_bind_int(up, 1, (int)nf);
		sqlite3_bind_int64(up, 2, (int64_t)modseq);
		sqlite3_bind_int64(up, 3, r->id);
		if (store_step(up) != SQLITE_DONE) {
			ret = store_fail_db(s, error_r, "store flags");
			break;
		}
		struct store_changed *c = &res->changed[res->n_changed++];
		c->uid = r->uid;
		c->modseq = modseq;
		c->flags = nf;
		if (store_keywords_load(s, r->id, arena, &c->keywords, &c->n_keywords) < 0)
			ret = store_fail_db(s, error_r, "keywords");
	}
	store_finalize(up);
	free(rows.v);
	return ret;
}

static uint64_t folder_highestmodseq(struct store_session *s, int64_t folder_id,
                                     uint32_t *uidnext_r)
{
	sqlite3_stmt *st =
	    store_prepare(s, "SELECT highestmodseq, uidnext FROM folders WHERE id = ?", NULL);
	if (st == NULL)
		return 0;
	sqlite3_bind_int64(st, 1, folder_id);
	uint64_t m = 0;
	if (store_step(st) == SQLITE_ROW) {
		m = (uint64_t)sqlite3_column_int64(st, 0);
		if (uidnext_r != NULL)
			*uidnext_r = (uint32_t)sqlite3_column_int64(st, 1);
	}
	store_finalize(st);
	return m;
}

int store_flags_update(struct store_session *s, int64_t folder_id,
                       const struct store_flags_req *req, struct sp_arena *arena,
                       struct store_flags_result *res_r, const char **error_r)
{
	memset(res_r, 0, sizeof(*res_r));
	if ((req->flags & ~(unsigned)STORE_FLAGS_ALL) != 0)
		return store_fail(s, STORE_ERR_BAD_ARG, error_r, "unknown flag");
	if (req->n_keywords > STORE_KEYWORDS_MAX)
		return store_fail(s, STORE_ERR_LIMIT, error_r, "too many keywords");
	for (size_t i = 0; i < req->n_keywords; i++)
		if (!store_keyword_valid(req->keywords[i]))
			return store_fail(s, STORE_ERR_BAD_ARG, error_r, "invalid keyword");
	struct store_uidset set = store_uidset_norm(&req->uids, arena);
	if (store_write_begin_flags(s, error_r) < 0)
		return -1;
	bool ok = flags_tx(s, folder_id, req, &set, arena, res_r, error_r) == 0;
	if (ok)
		res_r->highestmodseq = folder_highestmodseq(s, folder_id, NULL);
	return store_write_end(s, ok, error_r);
}

/* Deletes the message rows, logs their UIDs as expunged at one new MODSEQ
 * and drops their content references. */
static int expunge_rows(struct store_session *s, int64_t folder_id, const struct rows *rows,
                        const char **error_r)
{
	if (rows->n == 0)
		return 0;
	uint64_t modseq = store_modseq_next(s, folder_id, error_r);
	if (modseq == 0)
		return -1;
	sqlite3_stmt *del = store_prepare(s, "DELETE FROM messages WHERE id = ?", error_r);
	sqlite3_stmt *log = store_prepare(
	    s, "INSERT OR REPLACE INTO expunged(folder_id, uid, modseq) VALUES(?, ?, ?)", error_r);
	int ret = del != NULL && log != NULL ? 0 : -1;
	for (size_t i = 0; ret == 0 && i < rows->n; i++) {
		sqlite3_reset(del);
		sqlite3_bind_int64(del, 1, rows->v[i].id);
		sqlite3_reset(log);
		sqlite3_bind_int64(log, 1, folder_id);
		sqlite3_bind_int64(log, 2, rows->v[i].uid);
		sqlite3_bind_int64(log, 3, (int64_t)modseq);
		if (store_step(del) != SQLITE_DONE || store_step(log) != SQLITE_DONE)
			ret = store_fail_db(s, error_r, "expunge");
		else
			ret = store_content_unref(s, rows->v[i].content_id, error_r);
	}
	store_finalize(del);
	store_finalize(log);
	return ret;
}

int store_expunge(struct store_session *s, int64_t folder_id, const struct store_uidset *uids,
                  struct sp_arena *arena, uint32_t **uids_r, size_t *n_r, const char **error_r)
{
	*uids_r = NULL;
	*n_r = 0;
	struct store_uidset set = {0};
	if (uids != NULL)
		set = store_uidset_norm(uids, arena);
	if (store_write_begin(s, error_r) < 0)
		return -1;
	struct rows rows = {0};
	bool ok = store_folder_check(s, folder_id, error_r) == 0 &&
	          load_rows(s, folder_id, uids != NULL ? &set : NULL, STORE_FLAG_DELETED, &rows,
	                    error_r) == 0 &&
	          expunge_rows(s, folder_id, &rows, error_r) == 0;
	if (ok) {
		uint32_t *out = sp_arena_alloc(arena, (rows.n + 1) * sizeof(*out));
		for (size_t i = 0; i < rows.n; i++)
			out[i] = rows.v[i].uid;
		*uids_r = out;
		*n_r = rows.n;
	}
	free(rows.v);
	return store_write_end(s, ok, error_r);
}

static int copy_tx(struct store_session *s, int64_t folder_id, const struct store_uidset *set,
                   const char *dst, bool move, struct sp_arena *arena,
                   struct store_copy_result *res, const char **error_r)
{
	int64_t dst_id;
	struct rows rows = {0};
	if (store_folder_check(s, folder_id, error_r) < 0 ||
	    store_folder_id(s, dst, &dst_id, &res->uidvalidity, error_r) < 0 ||
	    load_rows(s, folder_id, set, 0, &rows, error_r) < 0) {
		free(rows.v);
		return -1;
	}
	res->src_uids = sp_arena_alloc(arena, (rows.n + 1) * sizeof(uint32_t));
	res->dst_uids = sp_arena_alloc(arena, (rows.n + 1) * sizeof(uint32_t));
	sqlite3_stmt *sel = store_prepare(
	    s, "SELECT internaldate, idate_offset, idate_day FROM messages WHERE id = ?", error_r);
	sqlite3_stmt *kw = store_prepare(
	    s,
	    "INSERT INTO keywords(message_id, keyword) SELECT ?, keyword FROM keywords"
	    " WHERE message_id = ?",
	    error_r);
	int ret = sel != NULL && kw != NULL ? 0 : -1;
	for (size_t i = 0; ret == 0 && i < rows.n; i++) {
		sqlite3_reset(sel);
		sqlite3_bind_int64(sel, 1, rows.v[i].id);
		if (store_step(sel) != SQLITE_ROW) {
			ret = store_fail_db(s, error_r, "copy");
			break;
		}
		char *idate = sp_arena_strdup(arena, (const char *)sqlite3_column_text(sel, 0));
		int off = sqlite3_column_int(sel, 1);
		char *day = sp_arena_strdup(arena, (const char *)sqlite3_column_text(sel, 2));
		uint32_t uid;
		int64_t mid;
		if (store_message_insert(s, dst_id, rows.v[i].content_id, rows.v[i].flags, idate,
		                         off, day, &uid, &mid, error_r) < 0) {
			ret = -1;
			break;
		}
		sqlite3_reset(kw);
		sqlite3_bind_int64(kw, 1, mid);
		sqlite3_bind_int64(kw, 2, rows.v[i].id);
		if (store_step(kw) != SQLITE_DONE) {
			ret = store_fail_db(s, error_r, "copy keywords");
			break;
		}
		res->src_uids[res->n] = rows.v[i].uid;
		res->dst_uids[res->n++] = uid;
	}
	store_finalize(sel);
	store_finalize(kw);
	if (ret == 0 && move)
		ret = expunge_rows(s, folder_id, &rows, error_r);
	free(rows.v);
	return ret;
}

int store_copy(struct store_session *s, int64_t folder_id, const struct store_uidset *uids,
               const char *dst, bool move, struct sp_arena *arena, struct store_copy_result *res_r,
               const char **error_r)
{
	memset(res_r, 0, sizeof(*res_r));
	struct store_uidset set = store_uidset_norm(uids, arena);
	if (store_write_begin(s, error_r) < 0)
		return -1;
	bool ok = copy_tx(s, folder_id, &set, dst, move, arena, res_r, error_r) == 0;
	return store_write_end(s, ok, error_r);
}

int store_changes_since(struct store_session *s, int64_t folder_id, uint64_t modseq,
                        struct sp_arena *arena, struct store_changes *ch_r, const char **error_r)
{
	memset(ch_r, 0, sizeof(*ch_r));
	if (store_read_begin(s, error_r) < 0)
		return -1;
	int ret = store_folder_check(s, folder_id, error_r);
	if (ret == 0)
		ch_r->highestmodseq = folder_highestmodseq(s, folder_id, &ch_r->uidnext);
	sqlite3_stmt *st = ret < 0 ? NULL
	                           : store_prepare(s,
	                                           "SELECT id, uid, modseq, flags FROM messages "
	                                           "WHERE folder_id = ? AND modseq > ?"
	                                           " ORDER BY uid",
	                                           error_r);
	if (st == NULL)
		ret = -1;
	size_t cap = 0;
	int rc = SQLITE_DONE;
	if (ret == 0) {
		sqlite3_bind_int64(st, 1, folder_id);
		sqlite3_bind_int64(st, 2, (int64_t)modseq);
		while ((rc = store_step(st)) == SQLITE_ROW) {
			if (ch_r->n_changed == cap) {
				size_t ncap = cap ? cap * 2 : 32;
				struct store_changed *n = sp_arena_alloc(arena, ncap * sizeof(*n));
				if (cap)
					memcpy(n, ch_r->changed, cap * sizeof(*n));
				ch_r->changed = n;
				cap = ncap;
			}
			struct store_changed *c = &ch_r->changed[ch_r->n_changed++];
			c->uid = (uint32_t)sqlite3_column_int64(st, 1);
			c->modseq = (uint64_t)sqlite3_column_int64(st, 2);
			c->flags = (unsigned)sqlite3_column_int(st, 3);
			if (store_keywords_load(s, sqlite3_column_int64(st, 0), arena, &c->keywords,
			                        &c->n_keywords) < 0)
				rc = SQLITE_ERROR;
		}
		if (rc != SQLITE_DONE)
			ret = store_fail_db(s, error_r, "changes");
	}
	store_finalize(st);
	st =
	    ret < 0
	        ? NULL
	        : store_prepare(
	              s, "SELECT uid FROM expunged WHERE folder_id = ? AND modseq > ? ORDER BY uid",
	              error_r);
	if (st == NULL)
		ret = -1;
	if (ret == 0) {
		sqlite3_bind_int64(st, 1, folder_id);
		sqlite3_bind_int64(st, 2, (int64_t)modseq);
		cap = 0;
		while ((rc = store_step(st)) == SQLITE_ROW) {
			if (ch_r->n_expunged == cap) {
				size_t ncap = cap ? cap * 2 : 32;
				uint32_t *n = sp_arena_alloc(arena, ncap * sizeof(*n));
				if (cap)
					memcpy(n, ch_r->expunged, cap * sizeof(*n));
				ch_r->expunged = n;
				cap = ncap;
			}
			ch_r->expunged[ch_r->n_expunged++] = (uint32_t)sqlite3_column_int64(st, 0);
		}
		if (rc != SQLITE_DONE)
			ret = store_fail_db(s, error_r, "changes");
	}
	store_finalize(st);
	store_read_end(s);
	return ret;
}

int store_uids(struct store_session *s, int64_t folder_id, struct sp_arena *arena,
               uint32_t **uids_r, size_t *n_r, const char **error_r)
{
	*uids_r = NULL;
	*n_r = 0;
	if (store_read_begin(s, error_r) < 0)
		return -1;
	int ret = store_folder_check(s, folder_id, error_r);
	sqlite3_stmt *st =
	    ret < 0 ? NULL
	            : store_prepare(s, "SELECT uid FROM messages WHERE folder_id = ? ORDER BY uid",
	                            error_r);
	if (st == NULL)
		ret = -1;
	if (ret == 0) {
		sqlite3_bind_int64(st, 1, folder_id);
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
		if (rc != SQLITE_DONE)
			ret = store_fail_db(s, error_r, "uids");
		*uids_r = v;
		*n_r = n;
	}
	store_finalize(st);
	store_read_end(s);
	return ret;
}

int store_usage(struct store_session *s, struct store_usage *u_r, const char **error_r)
{
	memset(u_r, 0, sizeof(*u_r));
	if (store_read_begin(s, error_r) < 0)
		return -1;
	sqlite3_stmt *st = store_prepare(
	    s,
	    "SELECT count(*), coalesce(sum(c.size), 0),"
	    " (SELECT page_count * page_size FROM pragma_page_count, pragma_page_size)"
	    " FROM messages m JOIN contents c ON c.id = m.content_id",
	    error_r);
	int ret = st != NULL ? 0 : -1;
	if (ret == 0 && store_step(st) == SQLITE_ROW) {
		u_r->messages = (uint64_t)sqlite3_column_int64(st, 0);
		u_r->message_bytes = (uint64_t)sqlite3_column_int64(st, 1);
		u_r->file_bytes = (uint64_t)sqlite3_column_int64(st, 2);
	} else if (ret == 0) {
		ret = store_fail_db(s, error_r, "usage");
	}
	store_finalize(st);
	store_read_end(s);
	return ret;
}
