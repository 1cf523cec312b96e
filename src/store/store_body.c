/* Message bytes in the mailbox file. The original bytes are kept exactly
 * (export, DKIM); leaf parts of at least STORE_DEDUP_THRESHOLD bytes are
 * cut out into blobs keyed by SHA-256 with a reference count, so the same
 * attachment in many messages is stored once; the rest (the skeleton) and
 * every blob are zstd-compressed before SQLite3MC encrypts the pages. */
#include "store/store_private.h"

#include <sodium.h>
#include <string.h>
#include <zstd.h>

#define ZSTD_LEVEL 3

/* Maps offsets of the served (CRLF) form back to the original bytes,
 * sweeping forward: mime_crlf_normalize turns CRLF into CRLF, and a bare
 * CR or bare LF into CRLF. */
struct served_cursor {
	const uint8_t *raw;
	size_t len, raw_i, served_i;
};

static size_t served_to_raw(struct served_cursor *c, size_t served)
{
	while (c->served_i < served && c->raw_i < c->len) {
		uint8_t b = c->raw[c->raw_i];
		if (b == '\r' && c->raw_i + 1 < c->len && c->raw[c->raw_i + 1] == '\n') {
			c->raw_i += 2;
			c->served_i += 2;
		} else if (b == '\r' || b == '\n') {
			c->raw_i += 1;
			c->served_i += 2;
		} else {
			c->raw_i += 1;
			c->served_i += 1;
		}
	}
	return c->raw_i;
}

struct cut {
	size_t off, len; /* in the original bytes */
};

struct cuts {
	struct cut *v;
	size_t n, cap;
};

static void collect_leaves(const struct mime_part *p, struct served_cursor *c, struct cuts *cuts)
{
	for (; p != NULL; p = p->next) {
		if (p->children != NULL) {
			collect_leaves(p->children, c, cuts);
			continue;
		}
		if (p->message != NULL) {
			collect_leaves(p->message, c, cuts);
			continue;
		}
		if (p->body_len < STORE_DEDUP_THRESHOLD)
			continue;
		/* the cursor only moves forward: a part that a damaged tree
		 * places before the previous cut is left in the skeleton */
		if (p->body_off < c->served_i)
			continue;
		size_t start = served_to_raw(c, p->body_off);
		size_t end = served_to_raw(c, p->body_off + p->body_len);
		if (end <= start || end - start < STORE_DEDUP_THRESHOLD / 2)
			continue;
		if (cuts->n == cuts->cap) {
			cuts->cap = cuts->cap ? cuts->cap * 2 : 8;
			cuts->v = sp_reallocarray(cuts->v, cuts->cap, sizeof(*cuts->v));
		}
		cuts->v[cuts->n++] = (struct cut){start, end - start};
	}
}

static void compress(const uint8_t *in, size_t len, struct sp_buf *out)
{
	size_t bound = ZSTD_compressBound(len);
	sp_buf_reset(out);
	sp_buf_reserve(out, bound);
	size_t n = ZSTD_compress(out->data, bound, in, len, ZSTD_LEVEL);
	sp_assert(!ZSTD_isError(n));
	out->len = n;
}

static int decompress(const void *in, size_t len, size_t raw_len, struct sp_buf *out)
{
	sp_buf_reserve(out, raw_len);
	size_t n = ZSTD_decompress(out->data + out->len, raw_len, in, len);
	if (ZSTD_isError(n) || n != raw_len)
		return -1;
	out->len += n;
	out->data[out->len] = '\0';
	return 0;
}

/* The blob holding data[0..len): an existing one gets a reference. */
static int64_t blob_put(struct store_session *s, const uint8_t *data, size_t len,
                        const char **error_r)
{
	uint8_t hash[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(hash, data, len);
	sqlite3_stmt *st = store_prepare(
	    s, "UPDATE blobs SET refs = refs + 1 WHERE sha256 = ? RETURNING id", error_r);
	if (st == NULL)
		return -1;
	sqlite3_bind_blob(st, 1, hash, sizeof(hash), SQLITE_STATIC);
	int rc = store_step(st);
	int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	store_finalize(st);
	if (rc == SQLITE_ROW)
		return id;
	if (rc != SQLITE_DONE)
		return store_fail_db(s, error_r, "blob");
	struct sp_buf z = SP_BUF_INIT;
	compress(data, len, &z);
	st = store_prepare(s, "INSERT INTO blobs(sha256, refs, raw_len) VALUES(?, 1, ?)", error_r);
	if (st == NULL) {
		sp_buf_deinit(&z);
		return -1;
	}
	sqlite3_bind_blob(st, 1, hash, sizeof(hash), SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (int64_t)len);
	rc = store_step(st);
	store_finalize(st);
	id = sqlite3_last_insert_rowid(s->db);
	st = rc != SQLITE_DONE
	         ? NULL
	         : store_prepare(s, "INSERT INTO blob_data(id, zdata) VALUES(?, ?)", error_r);
	if (st != NULL) {
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_blob64(st, 2, z.data, z.len, SQLITE_STATIC);
		rc = store_step(st);
		store_finalize(st);
	} else {
		rc = SQLITE_ERROR;
	}
	sp_buf_deinit(&z);
	if (rc != SQLITE_DONE)
		return store_fail_db(s, error_r, "blob");
	return id;
}

int store_body_put(struct store_session *s, int64_t content_id, const uint8_t *data, size_t len,
                   const struct mime_message *served_msg, const uint8_t *served, size_t served_len,
                   const char **error_r)
{
	(void)served;
	(void)served_len;
	struct served_cursor c = {.raw = data, .len = len};
	struct cuts cuts = {0};
	collect_leaves(served_msg->root, &c, &cuts);

	struct sp_buf skel = SP_BUF_INIT, z = SP_BUF_INIT;
	size_t pos = 0;
	int ret = 0;
	sqlite3_stmt *link = store_prepare(
	    s, "INSERT INTO content_blobs(content_id, seq, raw_off, blob_id) VALUES(?, ?, ?, ?)",
	    error_r);
	if (link == NULL)
		ret = -1;
	for (size_t i = 0; ret == 0 && i < cuts.n; i++) {
		sp_buf_append(&skel, data + pos, cuts.v[i].off - pos);
		int64_t blob = blob_put(s, data + cuts.v[i].off, cuts.v[i].len, error_r);
		if (blob < 0) {
			ret = -1;
			break;
		}
		sqlite3_reset(link);
		sqlite3_bind_int64(link, 1, content_id);
		sqlite3_bind_int64(link, 2, (int64_t)i);
		sqlite3_bind_int64(link, 3, (int64_t)cuts.v[i].off);
		sqlite3_bind_int64(link, 4, blob);
		if (store_step(link) != SQLITE_DONE)
			ret = store_fail_db(s, error_r, "content blob");
		pos = cuts.v[i].off + cuts.v[i].len;
	}
	store_finalize(link);
	free(cuts.v);
	if (ret == 0) {
		sp_buf_append(&skel, data + pos, len - pos);
		compress(skel.data != NULL ? skel.data : (const uint8_t *)"", skel.len, &z);
		sqlite3_stmt *st = store_prepare(
		    s, "INSERT INTO skeletons(skel_len, skeleton, content_id) VALUES(?, ?, ?)",
		    error_r);
		if (st == NULL) {
			ret = -1;
		} else {
			sqlite3_bind_int64(st, 1, (int64_t)skel.len);
			sqlite3_bind_blob64(st, 2, z.data, z.len, SQLITE_STATIC);
			sqlite3_bind_int64(st, 3, content_id);
			if (store_step(st) != SQLITE_DONE)
				ret = store_fail_db(s, error_r, "skeleton");
			store_finalize(st);
		}
	}
	sp_buf_deinit(&skel);
	sp_buf_deinit(&z);
	return ret;
}

int store_body_get(struct store_session *s, int64_t content_id, struct sp_buf *out,
                   const char **error_r)
{
	struct sp_buf skel = SP_BUF_INIT;
	sqlite3_stmt *st =
	    store_prepare(s,
	                  "SELECT sk.skel_len, sk.skeleton, c.raw_len FROM contents c"
	                  " JOIN skeletons sk ON sk.content_id = c.id WHERE c.id = ?",
	                  error_r);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, content_id);
	int rc = store_step(st);
	size_t raw_len = 0;
	if (rc == SQLITE_ROW) {
		size_t skel_len = (size_t)sqlite3_column_int64(st, 0);
		raw_len = (size_t)sqlite3_column_int64(st, 2);
		if (decompress(sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1),
		               skel_len, &skel) < 0)
			rc = SQLITE_CORRUPT;
	}
	store_finalize(st);
	if (rc != SQLITE_ROW) {
		sp_buf_deinit(&skel);
		return store_fail(s, STORE_ERR_INTERNAL, error_r, "message content unreadable");
	}
	sp_buf_reserve(out, raw_len);
	size_t start = out->len, skel_pos = 0;
	st = store_prepare(s,
	                   "SELECT cb.raw_off, b.raw_len, d.zdata FROM content_blobs cb"
	                   " JOIN blobs b ON b.id = cb.blob_id JOIN blob_data d ON d.id = b.id"
	                   " WHERE cb.content_id = ? ORDER BY cb.seq",
	                   error_r);
	if (st == NULL) {
		sp_buf_deinit(&skel);
		return -1;
	}
	sqlite3_bind_int64(st, 1, content_id);
	int ret = 0;
	while ((rc = store_step(st)) == SQLITE_ROW) {
		size_t off = (size_t)sqlite3_column_int64(st, 0);
		size_t blen = (size_t)sqlite3_column_int64(st, 1);
		size_t have = out->len - start;
		if (off < have || off - have > skel.len - skel_pos) {
			ret = -1;
			break;
		}
		sp_buf_append(out, skel.data + skel_pos, off - have);
		skel_pos += off - have;
		if (decompress(sqlite3_column_blob(st, 2), (size_t)sqlite3_column_bytes(st, 2),
		               blen, out) < 0) {
			ret = -1;
			break;
		}
	}
	store_finalize(st);
	if (ret == 0 && rc != SQLITE_DONE)
		ret = -1;
	if (ret == 0 && skel_pos < skel.len)
		sp_buf_append(out, skel.data + skel_pos, skel.len - skel_pos);
	sp_buf_deinit(&skel);
	if (ret == 0 && out->len - start != raw_len)
		ret = -1;
	if (ret < 0)
		return store_fail(s, STORE_ERR_INTERNAL, error_r, "message content damaged");
	if (out->data == NULL)
		sp_buf_append(out, "", 0);
	return 0;
}

int store_exec_id(struct store_session *s, const char *sql, int64_t id, const char **error_r)
{
	sqlite3_stmt *st = store_prepare(s, sql, error_r);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	int rc = store_step(st);
	store_finalize(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return store_fail_db(s, error_r, "content");
	return 0;
}

int store_content_unref(struct store_session *s, int64_t content_id, const char **error_r)
{
	sqlite3_stmt *st = store_prepare(
	    s, "UPDATE contents SET refs = refs - 1 WHERE id = ? RETURNING refs", error_r);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, content_id);
	int rc = store_step(st);
	int64_t refs = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
	store_finalize(st);
	if (rc != SQLITE_ROW)
		return store_fail_db(s, error_r, "content unref");
	if (refs > 0)
		return 0;
	if (store_exec_id(s,
	                  "UPDATE blobs SET refs = refs - (SELECT count(*) FROM content_blobs cb"
	                  " WHERE cb.blob_id = blobs.id AND cb.content_id = ?1)"
	                  " WHERE id IN (SELECT blob_id FROM content_blobs WHERE content_id = ?1)",
	                  content_id, error_r) < 0 ||
	    store_exec_id(s, "DELETE FROM content_blobs WHERE content_id = ?", content_id,
	                  error_r) < 0 ||
	    store_exec_id(s, "DELETE FROM blobs WHERE refs <= 0 AND ?1 = ?1", content_id, error_r) <
	        0 ||
	    store_exec_id(s, "DELETE FROM fts WHERE rowid = ?", content_id, error_r) < 0 ||
	    store_exec_id(s, "DELETE FROM contents WHERE id = ?", content_id, error_r) < 0)
		return -1;
	return 0;
}

int64_t store_debug_blob_count(struct store_session *s)
{
	sqlite3_stmt *st = store_prepare(s, "SELECT count(*) FROM blobs", NULL);
	if (st == NULL)
		return -1;
	int64_t n = store_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
	store_finalize(st);
	return n;
}
