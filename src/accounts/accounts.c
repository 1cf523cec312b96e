/* accounts.db: the schema, its migrations and the queries behind domains,
 * aliases, mailboxes and key slots. Durability: synchronous=FULL, as for
 * mailbox files (a created mailbox's slots must survive power loss). */
#include "accounts/accounts.h"
#include "db/sp_stmt_cache.h"
#include "lib/sp_log.h"
#include "lib/sp_str.h"

#include <pthread.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

struct accounts {
	sqlite3 *db;
	struct sp_stmt_cache stmts;
	char error[256];
};

/* Each entry migrates from version i to i+1; never edit a released one. */
static const char *const migrations[] = {
    "CREATE TABLE domains ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  created TEXT NOT NULL);"
    "CREATE TABLE mailboxes ("
    "  id TEXT PRIMARY KEY,"
    "  public_key BLOB NOT NULL,"
    "  sk_wrapped BLOB NOT NULL,"
    "  dek_wrapped BLOB NOT NULL,"
    "  dek_next_wrapped BLOB,"
    "  quota INTEGER NOT NULL DEFAULT 0,"
    "  bytes_used INTEGER NOT NULL DEFAULT 0,"
    "  created TEXT NOT NULL);"
    "CREATE TABLE aliases ("
    "  id INTEGER PRIMARY KEY,"
    "  domain_id INTEGER NOT NULL REFERENCES domains(id) ON DELETE CASCADE,"
    "  local TEXT NOT NULL,"
    "  enabled INTEGER NOT NULL DEFAULT 1,"
    "  postmaster INTEGER NOT NULL DEFAULT 0,"
    "  mailbox_id TEXT REFERENCES mailboxes(id),"
    "  created TEXT NOT NULL,"
    "  UNIQUE (domain_id, local));"
    "CREATE INDEX aliases_mailbox ON aliases(mailbox_id);"
    "CREATE TABLE alias_forwards ("
    "  alias_id INTEGER NOT NULL REFERENCES aliases(id) ON DELETE CASCADE,"
    "  target TEXT NOT NULL,"
    "  PRIMARY KEY (alias_id, target));"
    "CREATE TABLE alias_webhooks ("
    "  alias_id INTEGER NOT NULL REFERENCES aliases(id) ON DELETE CASCADE,"
    "  url TEXT NOT NULL,"
    "  PRIMARY KEY (alias_id, url));"
    "CREATE TABLE key_slots ("
    "  id TEXT PRIMARY KEY,"
    "  mailbox_id TEXT NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,"
    "  kind TEXT NOT NULL,"
    "  label TEXT NOT NULL,"
    "  created TEXT NOT NULL,"
    "  record BLOB NOT NULL,"
    "  UNIQUE (mailbox_id, label));"
    "CREATE TABLE domain_admins ("
    "  domain_id INTEGER NOT NULL REFERENCES domains(id) ON DELETE CASCADE,"
    "  mailbox_id TEXT NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,"
    "  PRIMARY KEY (domain_id, mailbox_id));",
};

static void set_error(struct accounts *acc, const char *msg)
{
	sp_strlcpy(acc->error, msg, sizeof(acc->error));
}

static void set_db_error(struct accounts *acc)
{
	set_error(acc, sqlite3_errmsg(acc->db));
}

const char *accounts_error(struct accounts *acc)
{
	return acc->error;
}

static void now_iso(char out[32])
{
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static sqlite3_stmt *prepare(struct accounts *acc, const char *sql)
{
	sqlite3_stmt *st = NULL;
	if (sp_stmt_get(&acc->stmts, sql, &st) != SQLITE_OK) {
		/* Our own SQL failing to compile is a bug, not an input error. */
		sp_panic("accounts: cannot prepare \"%s\": %s", sql, sqlite3_errmsg(acc->db));
	}
	return st;
}

static int exec(struct accounts *acc, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(acc->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		set_error(acc, msg != NULL ? msg : "sqlite error");
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static int migrate(struct accounts *acc)
{
	sqlite3_stmt *st = prepare(acc, "PRAGMA user_version");
	int version = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sp_stmt_put(st);
	if (version > (int)SP_N_ELEMENTS(migrations)) {
		set_error(acc, "accounts.db is newer than this sealpost");
		return -1;
	}
	for (int v = version; v < (int)SP_N_ELEMENTS(migrations); v++) {
		char sql[64];
		if (exec(acc, "BEGIN IMMEDIATE") < 0)
			return -1;
		snprintf(sql, sizeof(sql), "PRAGMA user_version=%d", v + 1);
		if (exec(acc, migrations[v]) < 0 || exec(acc, sql) < 0) {
			exec(acc, "ROLLBACK");
			return -1;
		}
		if (exec(acc, "COMMIT") < 0)
			return -1;
		sp_log_info("accounts", "event=migrated version=%d", v + 1);
	}
	return 0;
}

int accounts_open(const char *path, bool create, struct accounts **acc_r, const char **error_r)
{
	static char errbuf[1024];
	struct accounts *acc = sp_calloc(1, sizeof(*acc));
	int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
	if (sqlite3_open_v2(path, &acc->db, flags, NULL) != SQLITE_OK) {
		snprintf(errbuf, sizeof(errbuf), "cannot open %s: %s", path,
		         acc->db ? sqlite3_errmsg(acc->db) : "out of memory");
		*error_r = errbuf;
		accounts_close(&acc);
		return -1;
	}
	sqlite3_busy_timeout(acc->db, 5000);
	sp_stmt_cache_init(&acc->stmts, acc->db);
	if (exec(acc, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
	              "PRAGMA foreign_keys=ON; PRAGMA secure_delete=ON;") < 0 ||
	    migrate(acc) < 0) {
		snprintf(errbuf, sizeof(errbuf), "%s: %s", path, acc->error);
		*error_r = errbuf;
		accounts_close(&acc);
		return -1;
	}
	*acc_r = acc;
	return 0;
}

void accounts_close(struct accounts **accp)
{
	struct accounts *acc = *accp;
	if (acc == NULL)
		return;
	sp_stmt_cache_deinit(&acc->stmts);
	sqlite3_close_v2(acc->db);
	free(acc);
	*accp = NULL;
}

int accounts_begin(struct accounts *acc)
{
	return exec(acc, "BEGIN IMMEDIATE");
}

int accounts_commit(struct accounts *acc)
{
	return exec(acc, "COMMIT");
}

void accounts_rollback(struct accounts *acc)
{
	if (!sqlite3_get_autocommit(acc->db))
		exec(acc, "ROLLBACK");
}

/* Steps a statement that returns no rows; maps constraint errors. */
static enum accounts_err step_done(struct accounts *acc, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	enum accounts_err err = ACCOUNTS_OK;
	if (rc != SQLITE_DONE) {
		set_db_error(acc);
		err = (rc == SQLITE_CONSTRAINT) ? ACCOUNTS_ERR_EXISTS : ACCOUNTS_ERR_IO;
	}
	sp_stmt_put(st);
	return err;
}

static int64_t domain_id(struct accounts *acc, const char *domain)
{
	sqlite3_stmt *st = prepare(acc, "SELECT id FROM domains WHERE name=?");
	sqlite3_bind_text(st, 1, domain, -1, SQLITE_TRANSIENT);
	int64_t id = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
	sp_stmt_put(st);
	return id;
}

bool accounts_domain_exists(struct accounts *acc, const char *domain)
{
	return domain_id(acc, domain) >= 0;
}

enum accounts_err accounts_domain_add(struct accounts *acc, const char *domain)
{
	char created[32];
	now_iso(created);
	if (domain_id(acc, domain) >= 0) {
		set_error(acc, "domain already exists");
		return ACCOUNTS_ERR_EXISTS;
	}
	sqlite3_stmt *st = prepare(acc, "INSERT INTO domains(name, created) VALUES (?, ?)");
	sqlite3_bind_text(st, 1, domain, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, created, -1, SQLITE_TRANSIENT);
	enum accounts_err err = step_done(acc, st);
	if (err != ACCOUNTS_OK)
		return err;
	st = prepare(acc, "INSERT INTO aliases(domain_id, local, postmaster, created) "
	                  "VALUES (?, 'postmaster', 1, ?)");
	sqlite3_bind_int64(st, 1, sqlite3_last_insert_rowid(acc->db));
	sqlite3_bind_text(st, 2, created, -1, SQLITE_TRANSIENT);
	return step_done(acc, st);
}

enum accounts_err accounts_domain_remove(struct accounts *acc, const char *domain)
{
	int64_t id = domain_id(acc, domain);
	if (id < 0) {
		set_error(acc, "unknown domain");
		return ACCOUNTS_ERR_NOT_FOUND;
	}
	sqlite3_stmt *st = prepare(acc, "SELECT count(*) FROM aliases WHERE domain_id=? AND "
	                                "(postmaster=0 OR mailbox_id IS NOT NULL)");
	sqlite3_bind_int64(st, 1, id);
	int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sp_stmt_put(st);
	if (n > 0) {
		snprintf(acc->error, sizeof(acc->error),
		         "domain still has %lld alias%s; remove them first", (long long)n,
		         n == 1 ? "" : "es");
		return ACCOUNTS_ERR_REFUSED;
	}
	st = prepare(acc, "DELETE FROM domains WHERE id=?");
	sqlite3_bind_int64(st, 1, id);
	return step_done(acc, st);
}

int accounts_domain_list(struct accounts *acc, struct sp_buf *out)
{
	sqlite3_stmt *st = prepare(acc, "SELECT name FROM domains ORDER BY name");
	while (sqlite3_step(st) == SQLITE_ROW)
		sp_buf_printf(out, "%s\n", (const char *)sqlite3_column_text(st, 0));
	sp_stmt_put(st);
	return 0;
}

void accounts_mailbox_id_new(char id[ACCOUNTS_MAILBOX_ID_LEN + 1])
{
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
	uint8_t raw[ACCOUNTS_MAILBOX_ID_LEN];
	randombytes_buf(raw, sizeof(raw));
	for (size_t i = 0; i < ACCOUNTS_MAILBOX_ID_LEN; i++)
		id[i] = alphabet[raw[i] & 31];
	id[ACCOUNTS_MAILBOX_ID_LEN] = '\0';
}

void accounts_mailbox_deinit(struct accounts_mailbox *mb)
{
	sp_buf_deinit(&mb->sk_wrapped);
	sp_buf_deinit(&mb->dek_wrapped);
	sp_buf_deinit(&mb->dek_next_wrapped);
}

enum accounts_err accounts_mailbox_add(struct accounts *acc, const struct accounts_mailbox *mb)
{
	char created[32];
	now_iso(created);
	sqlite3_stmt *st = prepare(acc, "INSERT INTO mailboxes(id, public_key, sk_wrapped, "
	                                "dek_wrapped, quota, created) VALUES (?, ?, ?, ?, ?, ?)");
	sqlite3_bind_text(st, 1, mb->id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_blob(st, 2, mb->public_key, 32, SQLITE_TRANSIENT);
	sqlite3_bind_blob(st, 3, mb->sk_wrapped.data, (int)mb->sk_wrapped.len, SQLITE_TRANSIENT);
	sqlite3_bind_blob(st, 4, mb->dek_wrapped.data, (int)mb->dek_wrapped.len, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)mb->quota);
	sqlite3_bind_text(st, 6, created, -1, SQLITE_TRANSIENT);
	return step_done(acc, st);
}

static void column_buf(sqlite3_stmt *st, int col, struct sp_buf *out)
{
	sp_buf_reset(out);
	sp_buf_append(out, sqlite3_column_blob(st, col), (size_t)sqlite3_column_bytes(st, col));
}

enum accounts_err accounts_mailbox_get(struct accounts *acc, const char *id,
                                       struct accounts_mailbox *mb)
{
	sqlite3_stmt *st = prepare(acc, "SELECT public_key, sk_wrapped, dek_wrapped, quota, "
	                                "bytes_used, dek_next_wrapped FROM mailboxes WHERE id=?");
	sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
	enum accounts_err err = ACCOUNTS_ERR_NOT_FOUND;
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 32) {
		sp_strlcpy(mb->id, id, sizeof(mb->id));
		memcpy(mb->public_key, sqlite3_column_blob(st, 0), 32);
		column_buf(st, 1, &mb->sk_wrapped);
		column_buf(st, 2, &mb->dek_wrapped);
		mb->quota = (uint64_t)sqlite3_column_int64(st, 3);
		mb->bytes_used = (uint64_t)sqlite3_column_int64(st, 4);
		column_buf(st, 5, &mb->dek_next_wrapped);
		err = ACCOUNTS_OK;
	} else {
		set_error(acc, "unknown mailbox");
	}
	sp_stmt_put(st);
	return err;
}

enum accounts_err accounts_mailbox_set_dek_next(struct accounts *acc, const char *id,
                                                const uint8_t *dek_wrapped, size_t len)
{
	sqlite3_stmt *st = prepare(acc, "UPDATE mailboxes SET dek_next_wrapped=? WHERE id=?");
	if (dek_wrapped != NULL)
		sqlite3_bind_blob(st, 1, dek_wrapped, (int)len, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, id, -1, SQLITE_TRANSIENT);
	return step_done(acc, st);
}

enum accounts_err accounts_mailbox_set_dek(struct accounts *acc, const char *id,
                                           const uint8_t *dek_wrapped, size_t len)
{
	sqlite3_stmt *st = prepare(acc, "UPDATE mailboxes SET dek_wrapped=?, dek_next_wrapped=NULL "
	                                "WHERE id=?");
	sqlite3_bind_blob(st, 1, dek_wrapped, (int)len, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, id, -1, SQLITE_TRANSIENT);
	enum accounts_err err = step_done(acc, st);
	if (err == ACCOUNTS_OK && sqlite3_changes(acc->db) == 0) {
		set_error(acc, "unknown mailbox");
		return ACCOUNTS_ERR_NOT_FOUND;
	}
	return err;
}

enum accounts_err accounts_mailbox_set_usage(struct accounts *acc, const char *id,
                                             uint64_t bytes_used)
{
	sqlite3_stmt *st = prepare(acc, "UPDATE mailboxes SET bytes_used=? WHERE id=?");
	sqlite3_bind_int64(st, 1, (sqlite3_int64)bytes_used);
	sqlite3_bind_text(st, 2, id, -1, SQLITE_TRANSIENT);
	return step_done(acc, st);
}

enum accounts_err accounts_alias_add(struct accounts *acc, const struct address *addr,
                                     const char *mailbox_id, const char *const *forwards,
                                     size_t n_forwards, const char *const *webhooks,
                                     size_t n_webhooks)
{
	char created[32];
	now_iso(created);
	int64_t did = domain_id(acc, addr->domain);
	if (did < 0) {
		set_error(acc, "unknown domain");
		return ACCOUNTS_ERR_NOT_FOUND;
	}
	int64_t alias_id;
	/* The postmaster alias exists from the start; giving it a mailbox or
	 * forwards turns the placeholder into a real alias. */
	sqlite3_stmt *st = prepare(acc, "SELECT id, postmaster, mailbox_id IS NOT NULL, "
	                                "(SELECT count(*) FROM alias_forwards WHERE alias_id=a.id) "
	                                "FROM aliases a WHERE domain_id=? AND local=?");
	sqlite3_bind_int64(st, 1, did);
	sqlite3_bind_text(st, 2, addr->local, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) == SQLITE_ROW) {
		bool placeholder = sqlite3_column_int(st, 1) && !sqlite3_column_int(st, 2) &&
		                   sqlite3_column_int(st, 3) == 0;
		alias_id = sqlite3_column_int64(st, 0);
		sp_stmt_put(st);
		if (!placeholder) {
			set_error(acc, "alias already exists");
			return ACCOUNTS_ERR_EXISTS;
		}
		st = prepare(acc, "UPDATE aliases SET mailbox_id=? WHERE id=?");
		if (mailbox_id != NULL)
			sqlite3_bind_text(st, 1, mailbox_id, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 2, alias_id);
	} else {
		sp_stmt_put(st);
		st = prepare(acc, "INSERT INTO aliases(domain_id, local, mailbox_id, created) "
		                  "VALUES (?, ?, ?, ?)");
		sqlite3_bind_int64(st, 1, did);
		sqlite3_bind_text(st, 2, addr->local, -1, SQLITE_TRANSIENT);
		if (mailbox_id != NULL)
			sqlite3_bind_text(st, 3, mailbox_id, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 4, created, -1, SQLITE_TRANSIENT);
		alias_id = -1;
	}
	enum accounts_err err = step_done(acc, st);
	if (err != ACCOUNTS_OK)
		return err;
	if (alias_id < 0)
		alias_id = sqlite3_last_insert_rowid(acc->db);
	for (size_t i = 0; i < n_forwards && err == ACCOUNTS_OK; i++) {
		st = prepare(
		    acc, "INSERT OR IGNORE INTO alias_forwards(alias_id, target) VALUES (?, ?)");
		sqlite3_bind_int64(st, 1, alias_id);
		sqlite3_bind_text(st, 2, forwards[i], -1, SQLITE_TRANSIENT);
		err = step_done(acc, st);
	}
	for (size_t i = 0; i < n_webhooks && err == ACCOUNTS_OK; i++) {
		st = prepare(acc,
		             "INSERT OR IGNORE INTO alias_webhooks(alias_id, url) VALUES (?, ?)");
		sqlite3_bind_int64(st, 1, alias_id);
		sqlite3_bind_text(st, 2, webhooks[i], -1, SQLITE_TRANSIENT);
		err = step_done(acc, st);
	}
	return err;
}

static const char alias_select[] =
    "SELECT a.id, a.local || '@' || d.name, a.enabled, a.postmaster, "
    "coalesce(a.mailbox_id, ''), coalesce(m.quota, 0), "
    "(SELECT count(*) FROM alias_forwards WHERE alias_id=a.id), "
    "(SELECT count(*) FROM alias_webhooks WHERE alias_id=a.id) "
    "FROM aliases a JOIN domains d ON d.id=a.domain_id "
    "LEFT JOIN mailboxes m ON m.id=a.mailbox_id ";

static void alias_from_row(sqlite3_stmt *st, struct accounts_alias *a)
{
	memset(a, 0, sizeof(*a));
	a->id = sqlite3_column_int64(st, 0);
	sp_strlcpy(a->address, (const char *)sqlite3_column_text(st, 1), sizeof(a->address));
	a->enabled = sqlite3_column_int(st, 2) != 0;
	a->postmaster = sqlite3_column_int(st, 3) != 0;
	sp_strlcpy(a->mailbox_id, (const char *)sqlite3_column_text(st, 4), sizeof(a->mailbox_id));
	a->quota = (uint64_t)sqlite3_column_int64(st, 5);
	a->forwards = (unsigned)sqlite3_column_int(st, 6);
	a->webhooks = (unsigned)sqlite3_column_int(st, 7);
}

static enum accounts_err alias_lookup(struct accounts *acc, const char *local, const char *domain,
                                      struct accounts_alias *a)
{
	struct sp_buf sql = SP_BUF_INIT;
	sp_buf_printf(&sql, "%s WHERE d.name=? AND a.local=?", alias_select);
	sqlite3_stmt *st = prepare(acc, sp_buf_cstr(&sql));
	sp_buf_deinit(&sql);
	sqlite3_bind_text(st, 1, domain, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, local, -1, SQLITE_TRANSIENT);
	enum accounts_err err = ACCOUNTS_ERR_NOT_FOUND;
	if (sqlite3_step(st) == SQLITE_ROW) {
		alias_from_row(st, a);
		err = ACCOUNTS_OK;
	}
	sp_stmt_put(st);
	return err;
}

enum accounts_err accounts_resolve(struct accounts *acc, const struct address *addr,
                                   struct accounts_alias *a)
{
	enum accounts_err err = ACCOUNTS_ERR_NOT_FOUND;
	if (addr->tag[0] != '\0') {
		/* An alias literally named "base+tag" wins over subaddressing. */
		char full[ADDRESS_LOCAL_MAX * 2 + 2];
		snprintf(full, sizeof(full), "%s+%s", addr->local, addr->tag);
		for (char *p = full; *p != '\0'; p++)
			*p = (char)sp_ascii_lower((uint8_t)*p);
		err = alias_lookup(acc, full, addr->domain, a);
	}
	if (err == ACCOUNTS_ERR_NOT_FOUND)
		err = alias_lookup(acc, addr->local, addr->domain, a);
	if (err != ACCOUNTS_OK) {
		set_error(acc, "no such alias");
		return err;
	}
	if (a->postmaster && a->mailbox_id[0] == '\0' && a->forwards == 0) {
		/* RFC 5321 §4.5.1: postmaster must be deliverable; until the
		 * administrator gives it a mailbox, the domain's oldest
		 * mailbox receives its mail. */
		sqlite3_stmt *st = prepare(acc, "SELECT a.mailbox_id, m.quota FROM aliases a "
		                                "JOIN domains d ON d.id=a.domain_id "
		                                "JOIN mailboxes m ON m.id=a.mailbox_id "
		                                "WHERE d.name=? ORDER BY a.id LIMIT 1");
		sqlite3_bind_text(st, 1, addr->domain, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(st) == SQLITE_ROW) {
			sp_strlcpy(a->mailbox_id, (const char *)sqlite3_column_text(st, 0),
			           sizeof(a->mailbox_id));
			a->quota = (uint64_t)sqlite3_column_int64(st, 1);
		}
		sp_stmt_put(st);
	}
	return ACCOUNTS_OK;
}

enum accounts_err accounts_alias_remove(struct accounts *acc, const struct address *addr,
                                        char orphan_r[ACCOUNTS_MAILBOX_ID_LEN + 1])
{
	struct accounts_alias a;
	orphan_r[0] = '\0';
	if (alias_lookup(acc, addr->local, addr->domain, &a) != ACCOUNTS_OK) {
		set_error(acc, "no such alias");
		return ACCOUNTS_ERR_NOT_FOUND;
	}
	sqlite3_stmt *st;
	if (a.postmaster) {
		/* Every domain keeps its postmaster (RFC 5321 §4.5.1): removing
		 * it only takes its mailbox and forwards away. */
		st = prepare(acc, "UPDATE aliases SET mailbox_id=NULL WHERE id=?");
		sqlite3_bind_int64(st, 1, a.id);
		enum accounts_err err = step_done(acc, st);
		if (err != ACCOUNTS_OK)
			return err;
		st = prepare(acc, "DELETE FROM alias_forwards WHERE alias_id=?");
	} else {
		st = prepare(acc, "DELETE FROM aliases WHERE id=?");
	}
	sqlite3_bind_int64(st, 1, a.id);
	enum accounts_err err = step_done(acc, st);
	if (err != ACCOUNTS_OK || a.mailbox_id[0] == '\0')
		return err;
	st = prepare(acc, "SELECT count(*) FROM aliases WHERE mailbox_id=?");
	sqlite3_bind_text(st, 1, a.mailbox_id, -1, SQLITE_TRANSIENT);
	int64_t refs = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 1;
	sp_stmt_put(st);
	if (refs == 0) {
		st = prepare(acc, "DELETE FROM mailboxes WHERE id=?");
		sqlite3_bind_text(st, 1, a.mailbox_id, -1, SQLITE_TRANSIENT);
		err = step_done(acc, st);
		if (err == ACCOUNTS_OK)
			sp_strlcpy(orphan_r, a.mailbox_id, ACCOUNTS_MAILBOX_ID_LEN + 1);
	}
	return err;
}

enum accounts_err accounts_alias_set_enabled(struct accounts *acc, const struct address *addr,
                                             bool enabled)
{
	struct accounts_alias a;
	if (alias_lookup(acc, addr->local, addr->domain, &a) != ACCOUNTS_OK) {
		set_error(acc, "no such alias");
		return ACCOUNTS_ERR_NOT_FOUND;
	}
	sqlite3_stmt *st = prepare(acc, "UPDATE aliases SET enabled=? WHERE id=?");
	sqlite3_bind_int(st, 1, enabled);
	sqlite3_bind_int64(st, 2, a.id);
	return step_done(acc, st);
}

int accounts_alias_list(struct accounts *acc, const char *domain, struct sp_buf *out)
{
	struct sp_buf sql = SP_BUF_INIT;
	sp_buf_printf(&sql, "%s WHERE (?1 IS NULL OR d.name=?1) ORDER BY d.name, a.local",
	              alias_select);
	sqlite3_stmt *st = prepare(acc, sp_buf_cstr(&sql));
	sp_buf_deinit(&sql);
	if (domain != NULL)
		sqlite3_bind_text(st, 1, domain, -1, SQLITE_TRANSIENT);
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct accounts_alias a;
		alias_from_row(st, &a);
		sp_buf_printf(out, "%s\t%s\t%s\t%u forward%s\n", a.address,
		              a.mailbox_id[0] ? "mailbox"
		              : a.postmaster  ? "postmaster"
		                              : "forward-only",
		              a.enabled ? "enabled" : "disabled", a.forwards,
		              a.forwards == 1 ? "" : "s");
	}
	sp_stmt_put(st);
	return 0;
}

void accounts_slot_deinit(struct accounts_slot *slot)
{
	sodium_memzero(slot->record.data, slot->record.len);
	sp_buf_deinit(&slot->record);
}

enum accounts_err accounts_slot_add(struct accounts *acc, const struct accounts_slot *slot)
{
	char created[32];
	now_iso(created);
	sqlite3_stmt *st = prepare(acc, "INSERT INTO key_slots(id, mailbox_id, kind, label, "
	                                "created, record) VALUES (?, ?, ?, ?, ?, ?)");
	sqlite3_bind_text(st, 1, slot->id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, slot->mailbox_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, slot->kind, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 4, slot->label, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 5, created, -1, SQLITE_TRANSIENT);
	sqlite3_bind_blob(st, 6, slot->record.data, (int)slot->record.len, SQLITE_TRANSIENT);
	enum accounts_err err = step_done(acc, st);
	if (err == ACCOUNTS_ERR_EXISTS)
		set_error(acc, "a key slot with this label already exists");
	return err;
}

static void slot_from_row(sqlite3_stmt *st, struct accounts_slot *s)
{
	sp_strlcpy(s->id, (const char *)sqlite3_column_text(st, 0), sizeof(s->id));
	sp_strlcpy(s->mailbox_id, (const char *)sqlite3_column_text(st, 1), sizeof(s->mailbox_id));
	sp_strlcpy(s->kind, (const char *)sqlite3_column_text(st, 2), sizeof(s->kind));
	sp_strlcpy(s->label, (const char *)sqlite3_column_text(st, 3), sizeof(s->label));
	sp_strlcpy(s->created, (const char *)sqlite3_column_text(st, 4), sizeof(s->created));
	column_buf(st, 5, &s->record);
}

enum accounts_err accounts_slot_get(struct accounts *acc, const char *mailbox_id,
                                    const char *slot_id, struct accounts_slot *slot_r)
{
	sqlite3_stmt *st = prepare(acc, "SELECT id, mailbox_id, kind, label, created, record "
	                                "FROM key_slots WHERE mailbox_id=? AND id=?");
	sqlite3_bind_text(st, 1, mailbox_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, slot_id, -1, SQLITE_TRANSIENT);
	enum accounts_err err = ACCOUNTS_ERR_NOT_FOUND;
	if (sqlite3_step(st) == SQLITE_ROW) {
		slot_from_row(st, slot_r);
		err = ACCOUNTS_OK;
	}
	sp_stmt_put(st);
	return err;
}

int accounts_slot_foreach(struct accounts *acc, const char *mailbox_id,
                          int (*fn)(const struct accounts_slot *slot, void *ctx), void *ctx)
{
	sqlite3_stmt *st = prepare(acc, "SELECT id, mailbox_id, kind, label, created, record "
	                                "FROM key_slots WHERE mailbox_id=? ORDER BY created, id");
	sqlite3_bind_text(st, 1, mailbox_id, -1, SQLITE_TRANSIENT);
	int ret = 0;
	struct accounts_slot slot;
	memset(&slot, 0, sizeof(slot));
	while (ret == 0 && sqlite3_step(st) == SQLITE_ROW) {
		slot_from_row(st, &slot);
		ret = fn(&slot, ctx);
	}
	accounts_slot_deinit(&slot);
	sp_stmt_put(st);
	return ret;
}

enum accounts_err accounts_slot_remove_label(struct accounts *acc, const char *mailbox_id,
                                             const char *label,
                                             char slot_id_r[ACCOUNTS_SLOT_ID_LEN + 1])
{
	sqlite3_stmt *st = prepare(acc, "SELECT id FROM key_slots WHERE mailbox_id=? AND label=?");
	sqlite3_bind_text(st, 1, mailbox_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, label, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sp_stmt_put(st);
		set_error(acc, "no key slot with this label");
		return ACCOUNTS_ERR_NOT_FOUND;
	}
	sp_strlcpy(slot_id_r, (const char *)sqlite3_column_text(st, 0), ACCOUNTS_SLOT_ID_LEN + 1);
	sp_stmt_put(st);
	return accounts_slot_remove(acc, slot_id_r);
}

enum accounts_err accounts_slot_remove(struct accounts *acc, const char *slot_id)
{
	sqlite3_stmt *st = prepare(acc, "DELETE FROM key_slots WHERE id=?");
	sqlite3_bind_text(st, 1, slot_id, -1, SQLITE_TRANSIENT);
	return step_done(acc, st);
}

static pthread_key_t accounts_key;
static pthread_once_t accounts_once = PTHREAD_ONCE_INIT;

static void accounts_destroy(void *p)
{
	struct accounts *acc = p;
	accounts_close(&acc);
}

static void accounts_key_init(void)
{
	if (pthread_key_create(&accounts_key, accounts_destroy) != 0)
		sp_panic("pthread_key_create failed");
}

struct accounts *accounts_thread_handle(const char *path, const char **error_r)
{
	pthread_once(&accounts_once, accounts_key_init);
	struct accounts *acc = pthread_getspecific(accounts_key);
	if (acc == NULL) {
		if (accounts_open(path, false, &acc, error_r) < 0)
			return NULL;
		pthread_setspecific(accounts_key, acc);
	}
	return acc;
}
