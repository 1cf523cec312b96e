/* APPEND (RFC 9051 §6.3.12, MULTIAPPEND RFC 3502, APPENDUID RFC 4315):
 * everything FETCH and SEARCH need is computed here once — ENVELOPE,
 * BODYSTRUCTURE, the indexed header fields, the full-text row, the
 * EMAILID/THREADID (RFC 8474) — and the bytes are stored (store_body.c). */
#include "store/store_private.h"
#include "mime/mime_decode.h"

#include "lib/sp_str.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Decoded (RFC 2047) unfolded value of the first field name, or NULL. */
static const char *field_text(const struct mime_message *msg, const char *name,
                              struct sp_arena *arena, bool decode)
{
	const struct mime_field *f = mime_part_field(msg, msg->root, name);
	if (f == NULL)
		return NULL;
	size_t len;
	char *v = mime_field_value(msg, f, arena, &len);
	if (!decode)
		return v;
	struct sp_buf b = SP_BUF_INIT;
	mime_rfc2047_decode((const uint8_t *)v, len, &b);
	char *out = sp_arena_strndup(arena, sp_buf_cstr(&b), b.len);
	sp_buf_deinit(&b);
	return out;
}

/* What FROM/TO/CC/BCC searches match for an address field: the decoded
 * field as written (display names, comments), then on a second line the
 * addresses as parsed (mime_address_text), so that "user@domain" matches
 * "<user (comment)@ domain>" as well (RFC 9051 §6.4.4 leaves the match to
 * the server; this is what Dovecot matches). NULL without the field. */
static const char *address_search_text(const struct mime_message *msg, const char *name,
                                       struct sp_arena *arena)
{
	const struct mime_field *f = mime_part_field(msg, msg->root, name);
	if (f == NULL)
		return NULL;
	size_t len;
	char *v = mime_field_value(msg, f, arena, &len);
	struct sp_buf b = SP_BUF_INIT;
	mime_rfc2047_decode((const uint8_t *)v, len, &b);
	sp_buf_append_byte(&b, '\n');
	mime_address_text((const uint8_t *)v, len, &b);
	char *out = sp_arena_strndup(arena, sp_buf_cstr(&b), b.len);
	sp_buf_deinit(&b);
	return out;
}

/* "Name: decoded value\n" for every field of the top-level header, for
 * HEADER and TEXT searches. */
static void header_text(const struct mime_message *msg, struct sp_arena *arena, struct sp_buf *out)
{
	const struct mime_part *p = msg->root;
	for (unsigned i = 0; i < p->n_fields; i++) {
		const struct mime_field *f = &p->fields[i];
		size_t len;
		char *v = mime_field_value(msg, f, arena, &len);
		sp_buf_append(out, msg->data + f->off, f->name_len);
		sp_buf_append(out, ": ", 2);
		mime_rfc2047_decode((const uint8_t *)v, len, out);
		sp_buf_append_byte(out, '\n');
	}
}

static void random_id(char prefix, char out[26])
{
	uint8_t r[12];
	randombytes_buf(r, sizeof(r));
	out[0] = prefix;
	sp_hex_encode(r, sizeof(r), out + 1);
}

/* The thread of the first message among References and In-Reply-To
 * that is in this mailbox; a new thread otherwise. */
static int thread_for(struct store_session *s, const char *refs, const char *irt, char out[26],
                      const char **error_r)
{
	sqlite3_stmt *st =
	    store_prepare(s, "SELECT threadid FROM contents WHERE message_id = ? LIMIT 1", error_r);
	if (st == NULL)
		return -1;
	const char *lists[2] = {refs, irt};
	for (int k = 0; k < 2; k++) {
		const char *p = lists[k];
		while (p != NULL && (p = strchr(p, '<')) != NULL) {
			const char *e = strchr(p, '>');
			if (e == NULL)
				break;
			sqlite3_reset(st);
			sqlite3_bind_text(st, 1, p, (int)(e - p + 1), SQLITE_TRANSIENT);
			if (store_step(st) == SQLITE_ROW) {
				snprintf(out, 26, "%s", (const char *)sqlite3_column_text(st, 0));
				store_finalize(st);
				return 0;
			}
			p = e + 1;
		}
	}
	store_finalize(st);
	random_id('T', out);
	return 0;
}

/* The first <...> of a Message-ID value, so lookups compare ids only. */
static const char *msgid_only(const char *v, struct sp_arena *arena)
{
	if (v == NULL)
		return NULL;
	const char *a = strchr(v, '<');
	const char *b = a != NULL ? strchr(a, '>') : NULL;
	if (a == NULL || b == NULL)
		return v;
	return sp_arena_strndup(arena, a, (size_t)(b - a + 1));
}

/* A spool id drained before: its UID in folder_id, or 0 when that
 * message is gone (expunged, moved) or went to another folder. */
static int drained_lookup(struct store_session *s, const char *spool_id, int64_t folder_id,
                          uint32_t *uid_r, bool *found_r, const char **error_r)
{
	sqlite3_stmt *st =
	    store_prepare(s,
	                  "SELECT d.uid FROM drained d WHERE d.spool_id = ?1 AND d.folder_id = ?2"
	                  " AND EXISTS (SELECT 1 FROM messages m WHERE m.folder_id = d.folder_id"
	                  " AND m.uid = d.uid) UNION ALL SELECT 0 FROM drained WHERE spool_id = ?1",
	                  error_r);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, spool_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, folder_id);
	int rc = store_step(st);
	*found_r = rc == SQLITE_ROW;
	*uid_r = rc == SQLITE_ROW ? (uint32_t)sqlite3_column_int64(st, 0) : 0;
	store_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_fail_db(s, error_r, "drained");
	return 0;
}

static int bind_opt(sqlite3_stmt *st, int i, const char *v)
{
	return v != NULL ? sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC)
	                 : sqlite3_bind_null(st, i);
}

static int insert_content(struct store_session *s, const struct store_append_msg *m,
                          struct sp_arena *arena, int64_t *content_r, const char **error_r)
{
	bool crlf = mime_served_size(m->data, m->len) == m->len;
	struct sp_buf served = SP_BUF_INIT;
	const uint8_t *sdata = m->data;
	size_t slen = m->len;
	if (!crlf) {
		mime_crlf_normalize(m->data, m->len, &served);
		sdata = served.data;
		slen = served.len;
	}
	struct mime_message *msg;
	mime_parse(sdata != NULL ? sdata : (const uint8_t *)"", slen, NULL, arena, &msg);

	struct sp_buf env = SP_BUF_INIT, bs = SP_BUF_INIT, body = SP_BUF_INIT, hdrs = SP_BUF_INIT,
	              text = SP_BUF_INIT;
	mime_envelope(msg, msg->root, 0, &env);
	mime_bodystructure(msg, msg->root, true, 0, &bs);
	mime_bodystructure(msg, msg->root, false, 0, &body);
	header_text(msg, arena, &hdrs);
	mime_message_text(msg, &text);

	const char *subject = field_text(msg, "Subject", arena, true);
	const char *from = field_text(msg, "From", arena, true);
	const char *to = field_text(msg, "To", arena, true);
	const char *cc = field_text(msg, "Cc", arena, true);
	const char *bcc = field_text(msg, "Bcc", arena, true);
	const char *msgid = msgid_only(field_text(msg, "Message-ID", arena, false), arena);
	const char *irt = field_text(msg, "In-Reply-To", arena, false);
	const char *refs = field_text(msg, "References", arena, false);
	const char *date = field_text(msg, "Date", arena, false);
	char date_utc[32], sent_day[16];
	bool have_date = false;
	int sent_offset = 0;
	if (date != NULL) {
		time_t t;
		if (mime_date_parse((const uint8_t *)date, strlen(date), &t, &sent_offset) == 0) {
			store_iso_utc(t, date_utc);
			store_iso_day(t, sent_offset, sent_day);
			have_date = true;
		}
	}
	char emailid[26], threadid[26];
	random_id('M', emailid);
	int ret = thread_for(s, refs, irt, threadid, error_r);

	sqlite3_stmt *st =
	    ret < 0 ? NULL
	            : store_prepare(
	                  s,
	                  "INSERT INTO contents(refs, emailid, threadid, raw_len, size, crlf,"
	                  " date_utc, sent_day, sent_offset, subject, from_addr, to_addr, cc_addr, "
	                  "bcc_addr,"
	                  " message_id, in_reply_to, refs_hdr, envelope, bodystructure, body)"
	                  " VALUES(0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	                  error_r);
	if (st == NULL)
		ret = -1;
	if (ret == 0) {
		sqlite3_bind_text(st, 1, emailid, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, threadid, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, (int64_t)m->len);
		sqlite3_bind_int64(st, 4, (int64_t)slen);
		sqlite3_bind_int(st, 5, crlf);
		bind_opt(st, 6, have_date ? date_utc : NULL);
		bind_opt(st, 7, have_date ? sent_day : NULL);
		if (have_date)
			sqlite3_bind_int(st, 8, sent_offset);
		else
			sqlite3_bind_null(st, 8);
		bind_opt(st, 9, subject);
		bind_opt(st, 10, from);
		bind_opt(st, 11, to);
		bind_opt(st, 12, cc);
		bind_opt(st, 13, bcc);
		bind_opt(st, 14, msgid);
		bind_opt(st, 15, irt);
		bind_opt(st, 16, refs);
		sqlite3_bind_text(st, 17, sp_buf_cstr(&env), (int)env.len, SQLITE_STATIC);
		sqlite3_bind_text(st, 18, sp_buf_cstr(&bs), (int)bs.len, SQLITE_STATIC);
		sqlite3_bind_text(st, 19, sp_buf_cstr(&body), (int)body.len, SQLITE_STATIC);
		if (store_step(st) != SQLITE_DONE)
			ret = store_fail_db(s, error_r, "insert content");
	}
	store_finalize(st);
	int64_t cid = sqlite3_last_insert_rowid(s->db);
	if (ret == 0)
		ret = store_body_put(s, cid, m->data, m->len, msg, sdata, slen, error_r);
	if (ret == 0) {
		st = store_prepare(
		    s,
		    "INSERT INTO fts(rowid, subject, from_, to_, cc_, bcc_, headers, body)"
		    " VALUES(?, ?, ?, ?, ?, ?, ?, ?)",
		    error_r);
		if (st == NULL) {
			ret = -1;
		} else {
			sqlite3_bind_int64(st, 1, cid);
			bind_opt(st, 2, subject);
			bind_opt(st, 3, address_search_text(msg, "From", arena));
			bind_opt(st, 4, address_search_text(msg, "To", arena));
			bind_opt(st, 5, address_search_text(msg, "Cc", arena));
			bind_opt(st, 6, address_search_text(msg, "Bcc", arena));
			sqlite3_bind_text(st, 7, sp_buf_cstr(&hdrs), (int)hdrs.len, SQLITE_STATIC);
			sqlite3_bind_text(st, 8, sp_buf_cstr(&text), (int)text.len, SQLITE_STATIC);
			if (store_step(st) != SQLITE_DONE)
				ret = store_fail_db(s, error_r, "index");
			store_finalize(st);
		}
	}
	sp_buf_deinit(&served);
	sp_buf_deinit(&env);
	sp_buf_deinit(&bs);
	sp_buf_deinit(&body);
	sp_buf_deinit(&hdrs);
	sp_buf_deinit(&text);
	*content_r = cid;
	return ret;
}

int store_keywords_set(struct store_session *s, int64_t msg_id, const char *const *kw, size_t n,
                       const char **error_r)
{
	sqlite3_stmt *st = store_prepare(
	    s, "INSERT OR IGNORE INTO keywords(message_id, keyword) VALUES(?, ?)", error_r);
	if (st == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, msg_id);
		sqlite3_bind_text(st, 2, kw[i], -1, SQLITE_STATIC);
		if (store_step(st) != SQLITE_DONE) {
			store_finalize(st);
			return store_fail_db(s, error_r, "keywords");
		}
	}
	store_finalize(st);
	return 0;
}

int store_message_insert(struct store_session *s, int64_t folder_id, int64_t content_id,
                         unsigned flags, const char *internaldate, int idate_offset,
                         const char *idate_day, uint32_t *uid_r, int64_t *msg_id_r,
                         const char **error_r)
{
	sqlite3_stmt *st = store_prepare(
	    s, "UPDATE folders SET uidnext = uidnext + 1 WHERE id = ? RETURNING uidnext - 1",
	    error_r);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, folder_id);
	int rc = store_step(st);
	int64_t uid = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	store_finalize(st);
	if (rc != SQLITE_ROW)
		return store_fail_db(s, error_r, "uidnext");
	if (uid <= 0 || uid >= UINT32_MAX)
		return store_fail(s, STORE_ERR_LIMIT, error_r, "folder is out of UIDs");
	uint64_t modseq = store_modseq_next(s, folder_id, error_r);
	if (modseq == 0)
		return -1;
	char now[32];
	store_iso_utc(time(NULL), now);
	st = store_prepare(
	    s,
	    "INSERT INTO messages(folder_id, uid, content_id, modseq, flags, internaldate,"
	    " idate_offset, idate_day, savedate) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)",
	    error_r);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, folder_id);
	sqlite3_bind_int64(st, 2, uid);
	sqlite3_bind_int64(st, 3, content_id);
	sqlite3_bind_int64(st, 4, (int64_t)modseq);
	sqlite3_bind_int(st, 5, (int)flags);
	sqlite3_bind_text(st, 6, internaldate, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 7, idate_offset);
	sqlite3_bind_text(st, 8, idate_day, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 9, now, -1, SQLITE_STATIC);
	rc = store_step(st);
	store_finalize(st);
	if (rc != SQLITE_DONE)
		return store_fail_db(s, error_r, "insert message");
	*msg_id_r = sqlite3_last_insert_rowid(s->db);
	*uid_r = (uint32_t)uid;
	return store_exec_id(s, "UPDATE contents SET refs = refs + 1 WHERE id = ?", content_id,
	                     error_r);
}

static int append_one(struct store_session *s, int64_t folder_id, const struct store_append_msg *m,
                      struct sp_arena *arena, uint32_t *uid_r, const char **error_r)
{
	if (m->spool_id != NULL) {
		bool found;
		if (drained_lookup(s, m->spool_id, folder_id, uid_r, &found, error_r) < 0)
			return -1;
		if (found)
			return 0;
	}
	int64_t cid, mid;
	if (insert_content(s, m, arena, &cid, error_r) < 0)
		return -1;
	time_t idate = m->internaldate != 0 ? m->internaldate : time(NULL);
	char iso[32], day[16];
	store_iso_utc(idate, iso);
	store_iso_day(idate, m->internaldate_offset, day);
	if (store_message_insert(s, folder_id, cid, m->flags, iso, m->internaldate_offset, day,
	                         uid_r, &mid, error_r) < 0 ||
	    store_keywords_set(s, mid, m->keywords, m->n_keywords, error_r) < 0)
		return -1;
	if (m->spool_id != NULL) {
		sqlite3_stmt *st = store_prepare(
		    s, "INSERT INTO drained(spool_id, folder_id, uid, at) VALUES(?, ?, ?, ?)",
		    error_r);
		if (st == NULL)
			return -1;
		sqlite3_bind_text(st, 1, m->spool_id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, folder_id);
		sqlite3_bind_int64(st, 3, *uid_r);
		sqlite3_bind_text(st, 4, iso, -1, SQLITE_STATIC);
		int rc = store_step(st);
		store_finalize(st);
		if (rc != SQLITE_DONE)
			return store_fail_db(s, error_r, "drained");
	}
	return 0;
}

static int check_msg(struct store_session *s, const struct store_append_msg *m,
                     const char **error_r)
{
	if (m->len > STORE_MESSAGE_MAX)
		return store_fail(s, STORE_ERR_LIMIT, error_r, "message too large");
	if ((m->flags & ~(unsigned)STORE_FLAGS_ALL) != 0)
		return store_fail(s, STORE_ERR_BAD_ARG, error_r, "unknown flag");
	if (m->n_keywords > STORE_KEYWORDS_MAX)
		return store_fail(s, STORE_ERR_LIMIT, error_r, "too many keywords");
	for (size_t i = 0; i < m->n_keywords; i++)
		if (!store_keyword_valid(m->keywords[i]))
			return store_fail(s, STORE_ERR_BAD_ARG, error_r, "invalid keyword");
	if (m->internaldate_offset < -24 * 60 || m->internaldate_offset > 24 * 60)
		return store_fail(s, STORE_ERR_BAD_ARG, error_r, "invalid zone");
	return 0;
}

int store_append(struct store_session *s, const char *folder, const struct store_append_msg *msgs,
                 size_t n, uint32_t *uidvalidity_r, uint32_t *uids_r, const char **error_r)
{
	if (store_write_begin(s, error_r) < 0)
		return -1;
	int64_t folder_id;
	bool ok = store_folder_id(s, folder, &folder_id, uidvalidity_r, error_r) == 0;
	struct sp_arena *arena = sp_arena_new(64 * 1024);
	for (size_t i = 0; ok && i < n; i++) {
		/* checked inside the transaction: a bad message anywhere in a
		 * MULTIAPPEND rolls back the ones before it */
		ok = check_msg(s, &msgs[i], error_r) == 0 &&
		     append_one(s, folder_id, &msgs[i], arena, &uids_r[i], error_r) == 0;
		sp_arena_reset(arena);
	}
	sp_arena_free(&arena);
	return store_write_end(s, ok, error_r);
}
