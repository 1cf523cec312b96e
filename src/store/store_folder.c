/* Folders: list, create, delete, rename, subscribe, status (RFC 9051
 * §6.3.4-6.3.11, RFC 6154 special-use, RFC 8438 STATUS=SIZE). Names are
 * UTF-8 with '/' as the hierarchy delimiter; "INBOX" is matched without
 * regard to case and stored as "INBOX". Subscriptions are a list of
 * names of their own that outlive the folders (RFC 9051 §6.3.7). */
#include "store/store_private.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static bool is_inbox(const char *name)
{
	return strcasecmp(name, "INBOX") == 0;
}

/* "inbox/x" keeps its case after the first component except INBOX. */
static const char *canon(const char *name, char *buf, size_t size)
{
	if (strncasecmp(name, "INBOX", 5) == 0 && (name[5] == '\0' || name[5] == STORE_DELIMITER)) {
		snprintf(buf, size, "INBOX%s", name + 5);
		return buf;
	}
	return name;
}

static size_t utf8_char_len(const unsigned char *p, size_t left)
{
	unsigned char c = p[0];
	size_t n = c < 0x80             ? 1
	           : (c & 0xe0) == 0xc0 ? 2
	           : (c & 0xf0) == 0xe0 ? 3
	           : (c & 0xf8) == 0xf0 ? 4
	                                : 0;
	if (n == 0 || n > left || (n == 2 && c < 0xc2) || (n == 4 && c > 0xf4))
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	if (n == 3 && c == 0xe0 && p[1] < 0xa0)
		return 0; /* overlong */
	if (n == 3 && c == 0xed && p[1] >= 0xa0)
		return 0; /* surrogate */
	if (n == 4 && c == 0xf0 && p[1] < 0x90)
		return 0;
	if (n == 4 && c == 0xf4 && p[1] >= 0x90)
		return 0;
	return n;
}

bool store_folder_name_valid(const char *name)
{
	size_t len = strlen(name);
	if (len == 0 || len > STORE_FOLDER_NAME_MAX || name[0] == STORE_DELIMITER ||
	    name[len - 1] == STORE_DELIMITER)
		return false;
	const unsigned char *p = (const unsigned char *)name;
	for (size_t i = 0; i < len;) {
		if (p[i] < 0x20 || p[i] == 0x7f)
			return false;
		/* '*' and '%' are LIST wildcards: a name holding them could
		 * never be listed exactly */
		if (p[i] == '*' || p[i] == '%')
			return false;
		if (p[i] == STORE_DELIMITER && p[i + 1] == STORE_DELIMITER)
			return false;
		size_t n = utf8_char_len(p + i, len - i);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

int store_folder_id(struct store_session *s, const char *name, int64_t *id_r,
                    uint32_t *uidvalidity_r, const char **error_r)
{
	char buf[STORE_FOLDER_NAME_MAX + 8];
	sqlite3_stmt *st =
	    store_prepare(s, "SELECT id, uidvalidity FROM folders WHERE name = ?", error_r);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, canon(name, buf, sizeof(buf)), -1, SQLITE_STATIC);
	int rc = store_step(st);
	if (rc == SQLITE_ROW) {
		*id_r = sqlite3_column_int64(st, 0);
		if (uidvalidity_r != NULL)
			*uidvalidity_r = (uint32_t)sqlite3_column_int64(st, 1);
	}
	store_finalize(st);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_DONE)
		return store_fail(s, STORE_ERR_NONEXISTENT, error_r, "no such folder");
	return store_fail_db(s, error_r, "folder lookup");
}

/* A new UIDVALIDITY: the time in seconds, but always above every value
 * given out before in this file, so a folder recreated within the same
 * second still gets a new one (RFC 9051 §2.3.1.1). */
static int next_uidvalidity(struct store_session *s, uint32_t *v_r, const char **error_r)
{
	sqlite3_stmt *st = store_prepare(
	    s,
	    "UPDATE meta SET value = max(value + 1, ?) WHERE key = 'uidvalidity' RETURNING value",
	    error_r);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, (int64_t)(uint32_t)time(NULL));
	int rc = store_step(st);
	int64_t v = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	store_finalize(st);
	if (v <= 0 || v > UINT32_MAX)
		return store_fail(s, STORE_ERR_INTERNAL, error_r, "no UIDVALIDITY left");
	*v_r = (uint32_t)v;
	return 0;
}

/* Inside a write transaction; name valid and canonical. */
static int subscription_set(struct store_session *s, const char *name, bool subscribed,
                            const char **error_r)
{
	sqlite3_stmt *st =
	    store_prepare(s,
	                  subscribed ? "INSERT OR IGNORE INTO subscriptions(name) VALUES(?)"
	                             : "DELETE FROM subscriptions WHERE name = ?",
	                  error_r);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	int rc = store_step(st);
	store_finalize(st);
	return rc == SQLITE_DONE ? 0 : store_fail_db(s, error_r, "subscribe");
}

static int insert_folder(struct store_session *s, const char *name, unsigned special_use,
                         bool subscribed, const char **error_r)
{
	uint32_t uidvalidity;
	if (next_uidvalidity(s, &uidvalidity, error_r) < 0)
		return -1;
	sqlite3_stmt *st = store_prepare(
	    s, "INSERT INTO folders(name, special_use, uidvalidity) VALUES(?, ?, ?)", error_r);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, (int)special_use);
	sqlite3_bind_int64(st, 3, uidvalidity);
	int rc = store_step(st);
	store_finalize(st);
	if (rc == SQLITE_CONSTRAINT)
		return store_fail(s, STORE_ERR_EXISTS, error_r, "folder already exists");
	if (rc != SQLITE_DONE)
		return store_fail_db(s, error_r, "create folder");
	/* Not subscribing leaves an earlier subscription of the name alone:
	 * a folder recreated under a subscribed name is subscribed again. */
	return subscribed ? subscription_set(s, name, true, error_r) : 0;
}

static int folder_exists(struct store_session *s, const char *name)
{
	sqlite3_stmt *st = store_prepare(s, "SELECT 1 FROM folders WHERE name = ?", NULL);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	int rc = store_step(st);
	store_finalize(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int store_folder_create_tx(struct store_session *s, const char *name, unsigned special_use,
                           bool subscribed, const char **error_r)
{
	char buf[STORE_FOLDER_NAME_MAX + 8];
	if (!store_folder_name_valid(name))
		return store_fail(s, STORE_ERR_BAD_ARG, error_r, "invalid folder name");
	name = canon(name, buf, sizeof(buf));
	/* RFC 9051 §6.3.4: create the missing superiors too. */
	for (const char *p = strchr(name, STORE_DELIMITER); p != NULL;
	     p = strchr(p + 1, STORE_DELIMITER)) {
		char parent[STORE_FOLDER_NAME_MAX + 8];
		snprintf(parent, sizeof(parent), "%.*s", (int)(p - name), name);
		int e = folder_exists(s, parent);
		if (e < 0)
			return store_fail_db(s, error_r, "create folder");
		if (e == 0 && insert_folder(s, parent, 0, false, error_r) < 0)
			return -1;
	}
	return insert_folder(s, name, special_use, subscribed, error_r);
}

int store_folder_create(struct store_session *s, const char *name, unsigned special_use,
                        const char **error_r)
{
	if (store_write_begin(s, error_r) < 0)
		return -1;
	bool ok = store_folder_create_tx(s, name, special_use, false, error_r) == 0;
	return store_write_end(s, ok, error_r);
}

/* Unreferences the contents of the messages of folder (matching where)
 * and deletes those message rows. */
static int drop_messages(struct store_session *s, int64_t folder_id, const char **error_r)
{
	sqlite3_stmt *st = store_prepare(
	    s, "DELETE FROM messages WHERE folder_id = ? RETURNING content_id", error_r);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, folder_id);
	int64_t *ids = NULL;
	size_t n = 0, cap = 0;
	int rc;
	while ((rc = store_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			ids = sp_reallocarray(ids, cap, sizeof(*ids));
		}
		ids[n++] = sqlite3_column_int64(st, 0);
	}
	store_finalize(st);
	int ret = rc == SQLITE_DONE ? 0 : store_fail_db(s, error_r, "delete messages");
	for (size_t i = 0; ret == 0 && i < n; i++)
		ret = store_content_unref(s, ids[i], error_r);
	free(ids);
	return ret;
}

int store_folder_delete(struct store_session *s, const char *name, const char **error_r)
{
	if (is_inbox(name))
		return store_fail(s, STORE_ERR_BAD_ARG, error_r, "INBOX cannot be deleted");
	if (store_write_begin(s, error_r) < 0)
		return -1;
	int64_t id;
	bool ok =
	    store_folder_id(s, name, &id, NULL, error_r) == 0 && drop_messages(s, id, error_r) == 0;
	if (ok) {
		sqlite3_stmt *st = store_prepare(s, "DELETE FROM folders WHERE id = ?", error_r);
		ok = st != NULL;
		if (ok) {
			sqlite3_bind_int64(st, 1, id);
			ok = store_step(st) == SQLITE_DONE;
			if (!ok)
				store_fail_db(s, error_r, "delete folder");
			else
				store_mark_dirty(s, id);
			store_finalize(st);
		}
	}
	return store_write_end(s, ok, error_r);
}

static int rename_inbox(struct store_session *s, const char *to, const char **error_r)
{
	int64_t inbox, dst;
	if (store_folder_id(s, "INBOX", &inbox, NULL, error_r) < 0 ||
	    store_folder_create_tx(s, to, 0, false, error_r) < 0 ||
	    store_folder_id(s, to, &dst, NULL, error_r) < 0)
		return -1;
	/* The messages move with their UIDs: the new folder is fresh, so
	 * its UIDVALIDITY is new and the UIDs stay valid under it. */
	sqlite3_stmt *st =
	    store_prepare(s, "UPDATE messages SET folder_id = ? WHERE folder_id = ?", error_r);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, dst);
	sqlite3_bind_int64(st, 2, inbox);
	int rc = store_step(st);
	store_finalize(st);
	if (rc != SQLITE_DONE)
		return store_fail_db(s, error_r, "rename");
	st =
	    store_prepare(s,
	                  "UPDATE folders SET (uidnext, highestmodseq, recent_floor) ="
	                  " (SELECT uidnext, highestmodseq, recent_floor FROM folders WHERE id = ?)"
	                  " WHERE id = ?",
	                  error_r);
	if (st == NULL)
		return -1;
	/* the moved messages stay \Recent or not as they were */
	sqlite3_bind_int64(st, 1, inbox);
	sqlite3_bind_int64(st, 2, dst);
	rc = store_step(st);
	store_finalize(st);
	if (rc != SQLITE_DONE)
		return store_fail_db(s, error_r, "rename");
	/* INBOX's expunge log no longer describes it: every UID it had is
	 * gone, which the new messages' higher MODSEQs cannot express, so
	 * INBOX gets a new UIDVALIDITY too (clients resync it fully). */
	uint32_t v;
	if (next_uidvalidity(s, &v, error_r) < 0)
		return -1;
	st = store_prepare(s, "UPDATE folders SET uidvalidity = ? WHERE id = ?", error_r);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, v);
	sqlite3_bind_int64(st, 2, inbox);
	rc = store_step(st);
	store_finalize(st);
	if (rc != SQLITE_DONE)
		return store_fail_db(s, error_r, "rename");
	if (store_modseq_next(s, dst, error_r) == 0 || store_modseq_next(s, inbox, error_r) == 0)
		return -1;
	return 0;
}

/* The SQL condition "name is ?1 or under ?1/". substr counts characters,
 * so the prefix is compared and cut in bytes through a blob cast. */
#define UNDER_OR_AT                                                                                \
	"(name = ?1 OR substr(CAST(name AS BLOB), 1, length(CAST(?1 AS BLOB)) + 1) ="              \
	" CAST(?1 || '/' AS BLOB))"
/* The name of such a row with the ?1 prefix replaced by ?2. */
#define RENAMED "?2 || CAST(substr(CAST(name AS BLOB), length(CAST(?1 AS BLOB)) + 1) AS TEXT)"

/* Moves the subscriptions of from and the names under it to to (Dovecot
 * does the same); a name already subscribed under the new name stays. */
static int rename_subscriptions(struct store_session *s, const char *from, const char *to,
                                const char **error_r)
{
	static const char *const sql[] = {
	    "INSERT OR IGNORE INTO subscriptions(name) SELECT " RENAMED
	    " FROM subscriptions WHERE " UNDER_OR_AT,
	    "DELETE FROM subscriptions WHERE " UNDER_OR_AT,
	};
	for (size_t i = 0; i < SP_N_ELEMENTS(sql); i++) {
		sqlite3_stmt *st = store_prepare(s, sql[i], error_r);
		if (st == NULL)
			return -1;
		sqlite3_bind_text(st, 1, from, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, to, -1, SQLITE_STATIC);
		int rc = store_step(st);
		store_finalize(st);
		if (rc != SQLITE_DONE)
			return store_fail_db(s, error_r, "rename subscriptions");
	}
	return 0;
}

static bool name_at_or_under(const char *name, const char *top)
{
	size_t len = strlen(top);
	return strncmp(name, top, len) == 0 && (name[len] == '\0' || name[len] == STORE_DELIMITER);
}

static int rename_tx(struct store_session *s, const char *from, const char *to,
                     const char **error_r)
{
	char buf[STORE_FOLDER_NAME_MAX + 8], fbuf[STORE_FOLDER_NAME_MAX + 8];
	if (!store_folder_name_valid(to))
		return store_fail(s, STORE_ERR_BAD_ARG, error_r, "invalid folder name");
	/* "inbox/a" names the folder "INBOX/a": compare and rewrite with the
	 * stored form */
	from = canon(from, fbuf, sizeof(fbuf));
	if (name_at_or_under(to, from))
		return store_fail(s, STORE_ERR_BAD_ARG, error_r,
		                  "cannot rename a folder into itself");
	if (is_inbox(from))
		return rename_inbox(s, to, error_r);
	to = canon(to, buf, sizeof(buf));
	if (name_at_or_under(to, from))
		return store_fail(s, STORE_ERR_BAD_ARG, error_r,
		                  "cannot rename a folder into itself");
	int64_t id;
	if (store_folder_id(s, from, &id, NULL, error_r) < 0)
		return -1;
	int e = folder_exists(s, to);
	if (e != 0)
		return e < 0 ? store_fail_db(s, error_r, "rename")
		             : store_fail(s, STORE_ERR_EXISTS, error_r, "folder already exists");
	/* Children first: "a/b" becomes "to/b". */
	sqlite3_stmt *st = store_prepare(s,
	                                 "UPDATE folders SET name = " RENAMED
	                                 " WHERE substr(CAST(name AS BLOB), 1, length(CAST(?1 AS "
	                                 "BLOB)) + 1) = CAST(?1 || '/' AS BLOB)",
	                                 error_r);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, from, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, to, -1, SQLITE_STATIC);
	int rc = store_step(st);
	store_finalize(st);
	if (rc != SQLITE_DONE)
		return rc == SQLITE_CONSTRAINT
		           ? store_fail(s, STORE_ERR_EXISTS, error_r, "folder already exists")
		           : store_fail_db(s, error_r, "rename");
	uint32_t v;
	if (next_uidvalidity(s, &v, error_r) < 0)
		return -1;
	st = store_prepare(s, "UPDATE folders SET name = ?, uidvalidity = ? WHERE id = ?", error_r);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, to, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, v);
	sqlite3_bind_int64(st, 3, id);
	rc = store_step(st);
	store_finalize(st);
	if (rc != SQLITE_DONE)
		return store_fail_db(s, error_r, "rename");
	if (rename_subscriptions(s, from, to, error_r) < 0)
		return -1;
	/* create missing parents of the new name */
	for (const char *p = strchr(to, STORE_DELIMITER); p != NULL;
	     p = strchr(p + 1, STORE_DELIMITER)) {
		char parent[STORE_FOLDER_NAME_MAX + 8];
		snprintf(parent, sizeof(parent), "%.*s", (int)(p - to), to);
		e = folder_exists(s, parent);
		if (e < 0)
			return store_fail_db(s, error_r, "rename");
		if (e == 0 && insert_folder(s, parent, 0, false, error_r) < 0)
			return -1;
	}
	return 0;
}

int store_folder_rename(struct store_session *s, const char *from, const char *to,
                        const char **error_r)
{
	if (store_write_begin(s, error_r) < 0)
		return -1;
	bool ok = rename_tx(s, from, to, error_r) == 0;
	return store_write_end(s, ok, error_r);
}

int store_folder_subscribe(struct store_session *s, const char *name, bool subscribed,
                           const char **error_r)
{
	char buf[STORE_FOLDER_NAME_MAX + 8];
	/* RFC 3501 §6.3.6: the name need not exist; it must be one that
	 * could (RFC 9051 §6.3.7 keeps it listed when it does not). */
	if (!store_folder_name_valid(name))
		return store_fail(s, STORE_ERR_BAD_ARG, error_r, "invalid folder name");
	if (store_write_begin(s, error_r) < 0)
		return -1;
	bool ok = subscription_set(s, canon(name, buf, sizeof(buf)), subscribed, error_r) == 0;
	return store_write_end(s, ok, error_r);
}

#define FOLDER_COLS                                                                                \
	"id, name, special_use,"                                                                   \
	" EXISTS(SELECT 1 FROM subscriptions WHERE subscriptions.name = folders.name),"            \
	" uidvalidity, uidnext, highestmodseq"

static void folder_row(sqlite3_stmt *st, struct sp_arena *arena, struct store_folder *f)
{
	f->id = sqlite3_column_int64(st, 0);
	f->name = sp_arena_strdup(arena, (const char *)sqlite3_column_text(st, 1));
	f->special_use = (unsigned)sqlite3_column_int(st, 2);
	f->subscribed = sqlite3_column_int(st, 3) != 0;
	f->uidvalidity = (uint32_t)sqlite3_column_int64(st, 4);
	f->uidnext = (uint32_t)sqlite3_column_int64(st, 5);
	f->highestmodseq = (uint64_t)sqlite3_column_int64(st, 6);
}

int store_folder_list(struct store_session *s, struct sp_arena *arena,
                      struct store_folder **folders_r, size_t *n_r, const char **error_r)
{
	if (store_read_begin(s, error_r) < 0)
		return -1;
	/* The folders, then the subscribed names that are no folder as
	 * id 0 rows (the LIST code answers them \NonExistent). */
	sqlite3_stmt *st = store_prepare(
	    s,
	    "SELECT " FOLDER_COLS " FROM folders"
	    " UNION ALL SELECT 0, name, 0, 1, 0, 0, 0 FROM subscriptions"
	    " WHERE NOT EXISTS(SELECT 1 FROM folders WHERE folders.name = subscriptions.name)"
	    " ORDER BY 2",
	    error_r);
	if (st == NULL) {
		store_read_end(s);
		return -1;
	}
	size_t n = 0, cap = 16;
	struct store_folder *f = sp_arena_alloc(arena, cap * sizeof(*f));
	int rc;
	while ((rc = store_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			struct store_folder *nf = sp_arena_alloc(arena, cap * 2 * sizeof(*nf));
			memcpy(nf, f, n * sizeof(*nf));
			f = nf;
			cap *= 2;
		}
		folder_row(st, arena, &f[n++]);
	}
	store_finalize(st);
	store_read_end(s);
	if (rc != SQLITE_DONE)
		return store_fail_db(s, error_r, "list folders");
	*folders_r = f;
	*n_r = n;
	return 0;
}

static int folder_get(struct store_session *s, const char *name, struct sp_arena *arena,
                      struct store_folder *f_r, const char **error_r)
{
	char buf[STORE_FOLDER_NAME_MAX + 8];
	sqlite3_stmt *st =
	    store_prepare(s, "SELECT " FOLDER_COLS " FROM folders WHERE name = ?", error_r);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, canon(name, buf, sizeof(buf)), -1, SQLITE_STATIC);
	int rc = store_step(st);
	if (rc == SQLITE_ROW)
		folder_row(st, arena, f_r);
	store_finalize(st);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return store_fail_db(s, error_r, "folder");
}

int store_folder_get(struct store_session *s, const char *name, struct sp_arena *arena,
                     struct store_folder *f_r, const char **error_r)
{
	if (store_read_begin(s, error_r) < 0)
		return -1;
	int rc = folder_get(s, name, arena, f_r, error_r);
	store_read_end(s);
	return rc;
}

int store_folder_status(struct store_session *s, const char *name, struct sp_arena *arena,
                        struct store_status *st_r, const char **error_r)
{
	memset(st_r, 0, sizeof(*st_r));
	if (store_read_begin(s, error_r) < 0)
		return -1;
	int rc = folder_get(s, name, arena, &st_r->folder, error_r);
	if (rc == 0)
		rc = store_fail(s, STORE_ERR_NONEXISTENT, error_r, "no such folder");
	if (rc < 0) {
		store_read_end(s);
		return -1;
	}
	sqlite3_stmt *st = store_prepare(
	    s,
	    "SELECT count(*), coalesce(sum((m.flags & 1) = 0), 0),"
	    " coalesce(sum((m.flags & 8) != 0), 0), coalesce(sum(c.size), 0),"
	    " coalesce(sum(m.uid > (SELECT recent_floor FROM folders WHERE id = ?1)), 0)"
	    " FROM messages m JOIN contents c ON c.id = m.content_id WHERE m.folder_id = ?1",
	    error_r);
	if (st == NULL) {
		store_read_end(s);
		return -1;
	}
	sqlite3_bind_int64(st, 1, st_r->folder.id);
	rc = store_step(st);
	if (rc == SQLITE_ROW) {
		st_r->messages = (uint32_t)sqlite3_column_int64(st, 0);
		st_r->unseen = (uint32_t)sqlite3_column_int64(st, 1);
		st_r->deleted = (uint32_t)sqlite3_column_int64(st, 2);
		st_r->size = (uint64_t)sqlite3_column_int64(st, 3);
		st_r->recent = (uint32_t)sqlite3_column_int64(st, 4);
	}
	store_finalize(st);
	store_read_end(s);
	if (rc != SQLITE_ROW)
		return store_fail_db(s, error_r, "status");
	return 0;
}

int store_folder_check(struct store_session *s, int64_t folder_id, const char **error_r)
{
	sqlite3_stmt *st = store_prepare(s, "SELECT 1 FROM folders WHERE id = ?", error_r);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, folder_id);
	int rc = store_step(st);
	store_finalize(st);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_DONE)
		return store_fail(s, STORE_ERR_NONEXISTENT, error_r, "folder no longer exists");
	return store_fail_db(s, error_r, "folder");
}
