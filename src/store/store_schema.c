/* The schema of a mailbox file, versioned in meta('schema_version') and
 * migrated forward on open (v2: \Recent floor, RFC 3501 §2.3.2, and
 * subscriptions apart from folders, RFC 9051 §6.3.7). Every column a
 * search filters on is indexed; text search uses FTS5 with the trigram
 * tokenizer inside the encrypted file, so the index is as encrypted as
 * the messages (DESIGN section 3). */
#include "store/store_private.h"

#include <stdio.h>
#include <time.h>

/* Version 1. Row ids are AUTOINCREMENT: a folder or content id held by
 * another session, the spool drain log or the FTS index must never come
 * to name a newer row after a delete. Contents (the bytes and what is computed from them once, at
 * append) are shared by the messages rows of copies (refs counts them);
 * blobs are leaf parts of at least STORE_DEDUP_THRESHOLD bytes, shared
 * by every content that holds them. Dates are ISO 8601 UTC text;
 * *_day columns are calendar dates "YYYY-MM-DD" in the zone the RFC's
 * comparison uses. */
static const char schema_v1[] =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE folders("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " name TEXT NOT NULL UNIQUE,"
    " special_use INTEGER NOT NULL DEFAULT 0,"
    " uidvalidity INTEGER NOT NULL,"
    " uidnext INTEGER NOT NULL DEFAULT 1,"
    " highestmodseq INTEGER NOT NULL DEFAULT 0,"
    " subscribed INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE blobs("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " sha256 BLOB NOT NULL UNIQUE,"
    " refs INTEGER NOT NULL,"
    " raw_len INTEGER NOT NULL);"
    "CREATE INDEX blobs_free ON blobs(refs) WHERE refs <= 0;"
    /* bytes apart from the counted rows: SQLite rewrites a whole row on
     * UPDATE, so a reference count next to megabytes would copy them */
    "CREATE TABLE blob_data("
    " id INTEGER PRIMARY KEY REFERENCES blobs(id) ON DELETE CASCADE,"
    " zdata BLOB NOT NULL);"
    "CREATE TABLE contents("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " refs INTEGER NOT NULL,"
    " emailid TEXT NOT NULL UNIQUE,"
    " threadid TEXT NOT NULL,"
    " raw_len INTEGER NOT NULL,"
    " size INTEGER NOT NULL,"
    " crlf INTEGER NOT NULL,"
    " date_utc TEXT, sent_day TEXT, sent_offset INTEGER,"
    " subject TEXT, from_addr TEXT, to_addr TEXT, cc_addr TEXT, bcc_addr TEXT,"
    " message_id TEXT, in_reply_to TEXT, refs_hdr TEXT,"
    " envelope TEXT NOT NULL, bodystructure TEXT NOT NULL, body TEXT NOT NULL);"
    "CREATE TABLE skeletons("
    " content_id INTEGER PRIMARY KEY REFERENCES contents(id) ON DELETE CASCADE,"
    " skel_len INTEGER NOT NULL,"
    " skeleton BLOB NOT NULL);"
    "CREATE INDEX contents_size ON contents(size);"
    "CREATE INDEX contents_date ON contents(date_utc);"
    "CREATE INDEX contents_sent_day ON contents(sent_day);"
    "CREATE INDEX contents_subject ON contents(subject);"
    "CREATE INDEX contents_from ON contents(from_addr);"
    "CREATE INDEX contents_to ON contents(to_addr);"
    "CREATE INDEX contents_cc ON contents(cc_addr);"
    "CREATE INDEX contents_bcc ON contents(bcc_addr);"
    "CREATE INDEX contents_message_id ON contents(message_id);"
    "CREATE INDEX contents_in_reply_to ON contents(in_reply_to);"
    "CREATE INDEX contents_threadid ON contents(threadid);"
    "CREATE TABLE content_blobs("
    " content_id INTEGER NOT NULL REFERENCES contents(id) ON DELETE CASCADE,"
    " seq INTEGER NOT NULL,"
    " raw_off INTEGER NOT NULL,"
    " blob_id INTEGER NOT NULL REFERENCES blobs(id),"
    " PRIMARY KEY(content_id, seq)) WITHOUT ROWID;"
    "CREATE INDEX content_blobs_blob ON content_blobs(blob_id);"
    "CREATE TABLE messages("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " folder_id INTEGER NOT NULL REFERENCES folders(id),"
    " uid INTEGER NOT NULL,"
    " content_id INTEGER NOT NULL REFERENCES contents(id),"
    " modseq INTEGER NOT NULL,"
    " flags INTEGER NOT NULL DEFAULT 0,"
    " internaldate TEXT NOT NULL,"
    " idate_offset INTEGER NOT NULL,"
    " idate_day TEXT NOT NULL,"
    " savedate TEXT NOT NULL,"
    " UNIQUE(folder_id, uid));"
    "CREATE INDEX messages_modseq ON messages(folder_id, modseq);"
    "CREATE INDEX messages_flags ON messages(folder_id, flags);"
    "CREATE INDEX messages_idate ON messages(folder_id, internaldate);"
    "CREATE INDEX messages_iday ON messages(folder_id, idate_day);"
    "CREATE INDEX messages_savedate ON messages(folder_id, savedate);"
    "CREATE INDEX messages_content ON messages(content_id);"
    "CREATE TABLE keywords("
    " message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,"
    " keyword TEXT NOT NULL COLLATE NOCASE,"
    " PRIMARY KEY(message_id, keyword)) WITHOUT ROWID;"
    "CREATE INDEX keywords_keyword ON keywords(keyword, message_id);"
    "CREATE TABLE expunged("
    " folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,"
    " uid INTEGER NOT NULL,"
    " modseq INTEGER NOT NULL,"
    " PRIMARY KEY(folder_id, uid)) WITHOUT ROWID;"
    "CREATE INDEX expunged_modseq ON expunged(folder_id, modseq);"
    "CREATE TABLE drained("
    " spool_id TEXT PRIMARY KEY,"
    " folder_id INTEGER NOT NULL,"
    " uid INTEGER NOT NULL,"
    " at TEXT NOT NULL) WITHOUT ROWID;"
    /* rowid = contents.id; decoded text, case-insensitive trigrams */
    "CREATE VIRTUAL TABLE fts USING fts5(subject, from_, to_, cc_, bcc_, headers, body,"
    " tokenize = 'trigram case_sensitive 0', detail = 'full');"
    "INSERT INTO fts(fts, rank) VALUES('automerge', 8);"
    "INSERT INTO meta(key, value) VALUES('modseq', 0), ('uidvalidity', 0);";

/* Version 2. folders.recent_floor: the highest UID a session has
 * claimed as \Recent (RFC 3501 §2.3.2); after the upgrade nothing is
 * recent. Subscriptions become a list of names of their own, so that
 * they outlive their folders (RFC 9051 §6.3.7). A fresh file runs this
 * too, on empty tables. */
static const char schema_v2[] =
    "ALTER TABLE folders ADD COLUMN recent_floor INTEGER NOT NULL DEFAULT 0;"
    "UPDATE folders SET recent_floor = uidnext - 1;"
    "CREATE TABLE subscriptions(name TEXT PRIMARY KEY) WITHOUT ROWID;"
    "INSERT INTO subscriptions(name) SELECT name FROM folders WHERE subscribed != 0;"
    "ALTER TABLE folders DROP COLUMN subscribed;";

/* Version 3: the fts address columns (from_, to_, cc_, bcc_) hold the
 * decoded field, a newline, then the addresses as parsed, which FROM, TO,
 * CC and BCC searches match (store_append.c address_search_text). Older
 * rows held the decoded field alone: they gain the parsed form computed
 * from that text (names already decoded, which mime_address_text keeps
 * as they are). */
static const char schema_v3[] =
    "UPDATE fts SET"
    " from_ = CASE WHEN from_ IS NULL THEN NULL"
    "  ELSE from_ || char(10) || sp_address_text(from_) END,"
    " to_ = CASE WHEN to_ IS NULL THEN NULL ELSE to_ || char(10) || sp_address_text(to_) END,"
    " cc_ = CASE WHEN cc_ IS NULL THEN NULL ELSE cc_ || char(10) || sp_address_text(cc_) END,"
    " bcc_ = CASE WHEN bcc_ IS NULL THEN NULL"
    "  ELSE bcc_ || char(10) || sp_address_text(bcc_) END;";

/* Version 4: FTS5 leaf pages of at most 4,000 bytes. Its default (4,050)
 * fits a plain 4 KiB page, but a cipher's 32 reserved bytes leave a table
 * leaf 4,029 bytes of local payload: every larger block spilled into an
 * overflow page of its own, two pages to read, decrypt and write per
 * block, and a larger file. Segments written before keep their blocks until
 * merged. */
static const char schema_v4[] = "INSERT INTO fts(fts, rank) VALUES('pgsz', 4000);";

static const char *const migrations[] = {
    schema_v1, /* 0 -> 1 */
    schema_v2, /* 1 -> 2 */
    schema_v3, /* 2 -> 3 */
    schema_v4, /* 3 -> 4 */
};
_Static_assert(SP_N_ELEMENTS(migrations) == STORE_SCHEMA_VERSION, "one migration per version");

static int meta_get(struct store_session *s, const char *key, int64_t *v_r)
{
	sqlite3_stmt *st = store_prepare(s, "SELECT value FROM meta WHERE key = ?", NULL);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	int rc = store_step(st);
	*v_r = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	store_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

static int create_defaults(struct store_session *s, const char **error_r)
{
	static const struct {
		const char *name;
		unsigned use;
	} defaults[] = {
	    {"INBOX", 0},
	    {"Drafts", STORE_USE_DRAFTS},
	    {"Sent", STORE_USE_SENT},
	    {"Junk", STORE_USE_JUNK},
	    {"Trash", STORE_USE_TRASH},
	    {"Archive", STORE_USE_ARCHIVE},
	};
	for (size_t i = 0; i < SP_N_ELEMENTS(defaults); i++) {
		if (store_folder_create_tx(s, defaults[i].name, defaults[i].use, true, error_r) < 0)
			return -1;
	}
	return 0;
}

int store_schema_init(struct store_session *s, bool create, const char **error_r)
{
	/* The common case, a current file: a read, no write lock. */
	int64_t version = 0;
	if (!create && meta_get(s, "schema_version", &version) == 0 &&
	    version == STORE_SCHEMA_VERSION)
		return 0;
	version = 0;
	if (store_write_begin(s, error_r) < 0)
		return -1;
	int64_t has_meta = 0;
	sqlite3_stmt *st = store_prepare(
	    s, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
	    error_r);
	if (st == NULL)
		return store_write_end(s, false, error_r);
	if (store_step(st) == SQLITE_ROW)
		has_meta = sqlite3_column_int64(st, 0);
	store_finalize(st);
	if (has_meta && meta_get(s, "schema_version", &version) < 0) {
		store_fail_db(s, error_r, "schema version");
		return store_write_end(s, false, error_r);
	}
	if (!has_meta && !create) {
		store_fail(s, STORE_ERR_BAD_ARG, error_r, "not a mailbox file (no schema)");
		return store_write_end(s, false, error_r);
	}
	if (version > STORE_SCHEMA_VERSION) {
		store_fail(s, STORE_ERR_BAD_ARG, error_r,
		           "mailbox schema version %lld is newer than this release (%d)",
		           (long long)version, STORE_SCHEMA_VERSION);
		return store_write_end(s, false, error_r);
	}
	bool fresh = version == 0;
	for (int64_t v = version; v < STORE_SCHEMA_VERSION; v++) {
		if (store_exec(s, migrations[v], error_r) < 0)
			return store_write_end(s, false, error_r);
	}
	if (version != STORE_SCHEMA_VERSION) {
		char sql[128];
		snprintf(sql, sizeof(sql),
		         "INSERT OR REPLACE INTO meta(key, value) VALUES('schema_version', %d)",
		         STORE_SCHEMA_VERSION);
		if (store_exec(s, sql, error_r) < 0)
			return store_write_end(s, false, error_r);
	}
	if (fresh && create_defaults(s, error_r) < 0)
		return store_write_end(s, false, error_r);
	return store_write_end(s, true, error_r);
}
