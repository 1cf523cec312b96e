/* FETCH (RFC 9051 §6.4.5, BINARY RFC 3516, CONDSTORE RFC 7162 §3.1.4,
 * OBJECTID RFC 8474, SAVEDATE RFC 8514): stored items are looked up;
 * sections rebuild the bytes, serve their CRLF form and resolve the
 * section on it with the MIME module. One read snapshot per call. */
#include "store/store_private.h"
#include "mime/mime_decode.h"

#include <string.h>

struct sec_state {
	struct mime_section sec;
	struct sp_buf buf; /* built or decoded bytes */
};

static void apply_partial(const struct store_section_req *req, struct store_section_data *d)
{
	if (!req->partial || d->data == NULL)
		return;
	if (req->offset >= d->len) {
		d->data += d->len;
		d->len = 0;
		return;
	}
	d->data += req->offset;
	d->len = (size_t)SP_MIN((uint64_t)(d->len - req->offset), req->count);
}

/* The message as stored, for BINARY of a "binary" part when the served
 * form differs (bare line ends made CRLF): parsed on first use. */
struct raw_view {
	const uint8_t *data;
	size_t len;
	bool differs; /* the served form is not the stored bytes */
	struct sp_arena *arena;
	struct mime_message *msg;
};

/* The content of a leaf whose Content-Transfer-Encoding is "binary" as
 * stored: its bytes are data, not lines, so the CRLF served form of the
 * message must not change them (RFC 3516 §4.2: BINARY is the content
 * with the encoding undone, and undoing "binary" changes nothing; RFC
 * 2045 §6.2: binary data need not be lines). false when not such a part
 * or the stored message does not have it at the same path. */
static bool raw_binary_part(struct raw_view *rv, const struct mime_section *sec,
                            const struct mime_part *part, struct store_section_data *d)
{
	if (!rv->differs || mime_cte_parse(part->encoding) != MIME_CTE_BINARY)
		return false;
	if (rv->msg == NULL)
		mime_parse(rv->data != NULL ? rv->data : (const uint8_t *)"", rv->len, NULL,
		           rv->arena, &rv->msg);
	const struct mime_part *rp = mime_part_by_path(rv->msg, sec->path, sec->path_len);
	if (rp == NULL || rp->children != NULL || rp->message != NULL ||
	    mime_cte_parse(rp->encoding) != MIME_CTE_BINARY)
		return false;
	d->data = rv->msg->data + rp->body_off;
	d->len = rp->body_len;
	return true;
}

static void resolve_section(const struct store_section_req *req, struct sec_state *ss,
                            const struct mime_message *msg, struct raw_view *rv,
                            struct store_section_data *d)
{
	memset(d, 0, sizeof(*d));
	sp_buf_reset(&ss->buf);
	if (req->type == STORE_SECTION_BODY) {
		struct mime_section_result res = {0};
		if (mime_section_fetch(msg, &ss->sec, &res, NULL) < 0) {
			d->data = NULL;
		} else if (res.built) {
			sp_buf_append(&ss->buf,
			              res.bytes.data != NULL ? res.bytes.data : (const uint8_t *)"",
			              res.bytes.len);
			d->data = ss->buf.data;
			d->len = ss->buf.len;
		} else {
			d->data = msg->data + res.off;
			d->len = res.len;
		}
		if (res.built)
			sp_buf_deinit(&res.bytes);
		apply_partial(req, d);
		d->size = d->len;
	} else {
		/* BINARY[path]: the part's content with its transfer encoding
		 * undone (RFC 3516 §4.2); BINARY[] is the whole message. */
		const struct mime_part *part =
		    ss->sec.path_len == 0 ? NULL
		                          : mime_part_by_path(msg, ss->sec.path, ss->sec.path_len);
		if (ss->sec.path_len == 0) {
			d->data = msg->data;
			d->len = msg->len;
		} else if (part == NULL) {
			d->data = NULL;
		} else if (part->children != NULL || part->message != NULL) {
			d->data = msg->data + part->body_off;
			d->len = part->body_len;
		} else if (raw_binary_part(rv, &ss->sec, part, d)) {
			/* d set from the stored bytes */
		} else if (mime_part_decode_body(msg, part, &ss->buf) < 0) {
			d->unknown_cte = true;
		} else {
			d->data = ss->buf.data != NULL ? ss->buf.data : (const uint8_t *)"";
			d->len = ss->buf.len;
		}
		d->size = d->len;
		if (req->type == STORE_SECTION_BINARY_SIZE) {
			d->data = NULL;
			d->len = 0;
		} else {
			apply_partial(req, d);
		}
	}
	if (d->data != NULL)
		d->has_nul = memchr(d->data, 0, d->len) != NULL;
}

#define FETCH_SQL                                                                                  \
	"SELECT m.id, m.uid, m.modseq, m.flags, m.internaldate, m.idate_offset, m.savedate,"       \
	" c.id, c.size, c.envelope, c.bodystructure, c.body, c.emailid, c.threadid, c.crlf"        \
	" FROM messages m JOIN contents c ON c.id = m.content_id"                                  \
	" WHERE m.folder_id = ? AND m.uid BETWEEN ? AND ? AND m.modseq > ? ORDER BY m.uid"

static int fetch_row(struct store_session *s, sqlite3_stmt *st, const struct store_fetch_req *req,
                     struct sec_state *ss, struct store_section_data *data, struct sp_arena *arena,
                     store_fetch_fn *fn, void *ctx, const char **error_r)
{
	struct store_message m = {0};
	int64_t msg_id = sqlite3_column_int64(st, 0);
	m.uid = (uint32_t)sqlite3_column_int64(st, 1);
	m.modseq = (uint64_t)sqlite3_column_int64(st, 2);
	m.flags = (unsigned)sqlite3_column_int(st, 3);
	m.internaldate = store_iso_parse((const char *)sqlite3_column_text(st, 4));
	m.internaldate_offset = sqlite3_column_int(st, 5);
	m.savedate = store_iso_parse((const char *)sqlite3_column_text(st, 6));
	int64_t cid = sqlite3_column_int64(st, 7);
	m.size = (uint64_t)sqlite3_column_int64(st, 8);
	if (req->items & STORE_FETCH_ENVELOPE)
		m.envelope = sp_arena_strdup(arena, (const char *)sqlite3_column_text(st, 9));
	if (req->items & STORE_FETCH_BODYSTRUCTURE)
		m.bodystructure = sp_arena_strdup(arena, (const char *)sqlite3_column_text(st, 10));
	if (req->items & STORE_FETCH_BODY)
		m.body = sp_arena_strdup(arena, (const char *)sqlite3_column_text(st, 11));
	if (req->items & STORE_FETCH_OBJECTID) {
		m.emailid = sp_arena_strdup(arena, (const char *)sqlite3_column_text(st, 12));
		m.threadid = sp_arena_strdup(arena, (const char *)sqlite3_column_text(st, 13));
	}
	bool crlf = sqlite3_column_int(st, 14) != 0;
	if ((req->items & STORE_FETCH_FLAGS) &&
	    store_keywords_load(s, msg_id, arena, &m.keywords, &m.n_keywords) < 0)
		return store_fail_db(s, error_r, "keywords");

	struct sp_buf raw = SP_BUF_INIT, served = SP_BUF_INIT;
	int ret = 0;
	if (req->n_sections > 0 || (req->items & STORE_FETCH_ORIGINAL)) {
		if (store_body_get(s, cid, &raw, error_r) < 0)
			return -1;
		m.original = raw.data;
		m.original_len = raw.len;
	}
	if (req->n_sections > 0) {
		const uint8_t *sd = raw.data;
		size_t sl = raw.len;
		if (!crlf) {
			mime_crlf_normalize(raw.data, raw.len, &served);
			sd = served.data;
			sl = served.len;
		}
		struct mime_message *msg;
		mime_parse(sd != NULL ? sd : (const uint8_t *)"", sl, NULL, arena, &msg);
		struct raw_view rv = {
		    .data = raw.data, .len = raw.len, .differs = !crlf, .arena = arena};
		for (size_t i = 0; i < req->n_sections; i++)
			resolve_section(&req->sections[i], &ss[i], msg, &rv, &data[i]);
		m.sections = data;
	}
	if (fn(ctx, &m) < 0) {
		store_fail(s, STORE_ERR_NONE, error_r, "fetch stopped");
		ret = -1;
	}
	sp_buf_deinit(&raw);
	sp_buf_deinit(&served);
	return ret;
}

int store_fetch(struct store_session *s, int64_t folder_id, const struct store_fetch_req *req,
                store_fetch_fn *fn, void *ctx, const char **error_r)
{
	struct sp_arena *arena = sp_arena_new(16 * 1024);
	struct sp_arena *msg_arena = sp_arena_new(64 * 1024);
	struct sec_state *ss = NULL;
	struct store_section_data *data = NULL;
	int ret = 0;
	if (req->n_sections > 0) {
		if (req->n_sections > 256) {
			ret = store_fail(s, STORE_ERR_LIMIT, error_r, "too many sections");
			goto out;
		}
		ss = sp_calloc(req->n_sections, sizeof(*ss));
		data = sp_calloc(req->n_sections, sizeof(*data));
		for (size_t i = 0; i < req->n_sections; i++) {
			const char *err = NULL;
			const char *spec =
			    req->sections[i].spec != NULL ? req->sections[i].spec : "";
			if (mime_section_parse(spec, &ss[i].sec, arena, &err) < 0 ||
			    (req->sections[i].type != STORE_SECTION_BODY &&
			     ss[i].sec.kind != MIME_SECTION_BODY)) {
				ret =
				    store_fail(s, STORE_ERR_BAD_ARG, error_r, "invalid section: %s",
				               err != NULL ? err : "BINARY takes a part number");
				goto out;
			}
		}
	}
	struct store_uidset set = store_uidset_norm(&req->uids, arena);
	if (store_read_begin(s, error_r) < 0) {
		ret = -1;
		goto out;
	}
	sqlite3_stmt *st = NULL;
	if (store_folder_check(s, folder_id, error_r) < 0 ||
	    (st = store_prepare(s, FETCH_SQL, error_r)) == NULL)
		ret = -1;
	for (size_t r = 0; ret == 0 && r < set.n; r++) {
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, folder_id);
		sqlite3_bind_int64(st, 2, set.ranges[r].lo);
		sqlite3_bind_int64(st, 3, set.ranges[r].hi);
		sqlite3_bind_int64(st, 4, (int64_t)req->changedsince);
		int rc = SQLITE_DONE;
		while (ret == 0 && (rc = store_step(st)) == SQLITE_ROW) {
			ret = fetch_row(s, st, req, ss, data, msg_arena, fn, ctx, error_r);
			sp_arena_reset(msg_arena);
		}
		if (ret == 0 && rc != SQLITE_DONE)
			ret = store_fail_db(s, error_r, "fetch");
	}
	store_finalize(st);
	store_read_end(s);
out:
	for (size_t i = 0; ss != NULL && i < req->n_sections; i++)
		sp_buf_deinit(&ss[i].buf);
	free(ss);
	free(data);
	sp_arena_free(&msg_arena);
	sp_arena_free(&arena);
	return ret;
}
