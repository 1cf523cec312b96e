/* Store sessions: opening a mailbox file, errors, transactions with busy
 * handling (BEGIN IMMEDIATE writers, DESIGN section 3), the MODSEQ counter
 * (RFC 7162 §3.1.1) and the in-process change notifier. */
#include "store/store_private.h"
#include "lib/sp_log.h"
#include "lib/sp_str.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t notify_lock = PTHREAD_MUTEX_INITIALIZER;
static store_notify_fn *notify_fn;
static void *notify_ctx;

void store_set_notifier(store_notify_fn *fn, void *ctx)
{
	pthread_mutex_lock(&notify_lock);
	notify_fn = fn;
	notify_ctx = ctx;
	pthread_mutex_unlock(&notify_lock);
}

int store_fail(struct store_session *s, enum store_err code, const char **error_r, const char *fmt,
               ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->errbuf, sizeof(s->errbuf), fmt, ap);
	va_end(ap);
	s->last_err = code;
	if (error_r != NULL)
		*error_r = s->errbuf;
	return -1;
}

int store_fail_db(struct store_session *s, const char **error_r, const char *what)
{
	int code = sqlite3_errcode(s->db);
	enum store_err e =
	    code == SQLITE_BUSY || code == SQLITE_LOCKED ? STORE_ERR_BUSY : STORE_ERR_INTERNAL;
	/* SQLite's messages name tables and constraints, never row data. */
	return store_fail(s, e, error_r, "%s: %s", what, sqlite3_errmsg(s->db));
}

enum store_err store_last_error(const struct store_session *s)
{
	return s->last_err;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Busy handler: short sleeps with a little growth, up to the maximum.
 * SQLite calls it with the number of earlier calls for this lock. */
static int busy_handler(void *ctx, int count)
{
	(void)ctx;
	unsigned ms = count < 10 ? 1 : count < 50 ? 2 : 5;
	uint64_t waited = count < 10   ? (uint64_t)count
	                  : count < 50 ? 10 + 2ull * (uint64_t)(count - 10)
	                               : 90 + 5ull * (uint64_t)(count - 50);
	if (waited >= STORE_BUSY_MAX_MS)
		return 0;
	sleep_ms(ms);
	return 1;
}

int store_step(sqlite3_stmt *st)
{
	int rc;
	uint64_t start = 0;
	for (;;) {
		rc = sqlite3_step(st);
		if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
			return rc;
		if (start == 0)
			start = sp_now_ms();
		else if (sp_now_ms() - start > STORE_BUSY_MAX_MS)
			return rc;
		sqlite3_reset(st);
		sleep_ms(2);
	}
}

sqlite3_stmt *store_prepare(struct store_session *s, const char *sql, const char **error_r)
{
	sqlite3_stmt *st;
	if (sp_stmt_get(&s->stmts, sql, &st) != SQLITE_OK) {
		store_fail_db(s, error_r, "prepare");
		return NULL;
	}
	return st;
}

int store_exec(struct store_session *s, const char *sql, const char **error_r)
{
	char *msg = NULL;
	int rc;
	uint64_t start = 0;
	for (;;) {
		rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
		if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
			break;
		sqlite3_free(msg);
		msg = NULL;
		if (start == 0)
			start = sp_now_ms();
		else if (sp_now_ms() - start > STORE_BUSY_MAX_MS)
			break;
		sleep_ms(2);
	}
	if (rc != SQLITE_OK) {
		store_fail(s, rc == SQLITE_BUSY ? STORE_ERR_BUSY : STORE_ERR_INTERNAL, error_r,
		           "sql: %s", msg != NULL ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static int write_begin(struct store_session *s, const char **error_r)
{
	s->n_dirty = 0;
	s->dirty_overflow = false;
	return store_exec(s, "BEGIN IMMEDIATE", error_r);
}

int store_write_begin(struct store_session *s, const char **error_r)
{
	s->sync_owed = s->defer_sync;
	return write_begin(s, error_r);
}

static void sync_full(struct store_session *s)
{
	if (!s->relaxed_sync)
		return;
	/* Outside a transaction a PRAGMA cannot fail but for lack of memory,
	 * and then the commit below it already failed too. */
	sqlite3_exec(s->db, "PRAGMA synchronous=FULL", NULL, NULL, NULL);
	s->relaxed_sync = false;
}

int store_write_begin_flags(struct store_session *s, const char **error_r)
{
	s->sync_owed = false;
	if (s->defer_sync) /* already synchronous=NORMAL */
		return write_begin(s, error_r);
	if (store_exec(s, "PRAGMA synchronous=NORMAL", error_r) < 0)
		return -1;
	s->relaxed_sync = true;
	if (write_begin(s, error_r) < 0) {
		sync_full(s);
		return -1;
	}
	return 0;
}

void store_session_defer_sync(struct store_session *s, bool on)
{
	/* Outside a transaction, as callers use it right after opening. */
	sp_assert(sqlite3_get_autocommit(s->db));
	sqlite3_exec(s->db, on ? "PRAGMA synchronous=NORMAL" : "PRAGMA synchronous=FULL", NULL,
	             NULL, NULL);
	s->defer_sync = on;
}

bool store_session_take_unsynced(struct store_session *s)
{
	bool u = s->unsynced;
	s->unsynced = false;
	return u;
}

int store_wal_sync(const char *path, const char **error_r)
{
	char wal[PATH_MAX];
	if (snprintf(wal, sizeof(wal), "%s-wal", path) >= (int)sizeof(wal)) {
		*error_r = "mailbox path too long";
		return -1;
	}
	int fd = open(wal, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		/* No WAL: the last connection to close checkpointed it into
		 * the file, with fsyncs of both, and removed it (an IMAP job
		 * that lets go of the mailbox's last connection does so). */
		if (errno == ENOENT)
			return 0;
		*error_r = "cannot open the mailbox's write-ahead log";
		return -1;
	}
	int rc = fdatasync(fd);
	close(fd);
	if (rc < 0) {
		*error_r = "cannot sync the mailbox's write-ahead log";
		return -1;
	}
	return 0;
}

/* Ends a write transaction that failed (before or at COMMIT). The failure
 * is already reported; a rollback failing too (no transaction left)
 * changes nothing for the caller. */
static int write_abort(struct store_session *s)
{
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	s->n_dirty = 0;
	s->sync_owed = false;
	sync_full(s);
	return -1;
}

int store_write_end(struct store_session *s, bool ok, const char **error_r)
{
	if (!ok || store_exec(s, "COMMIT", error_r) < 0)
		return write_abort(s);
	if (s->sync_owed)
		s->unsynced = true;
	s->sync_owed = false;
	sync_full(s);
	pthread_mutex_lock(&notify_lock);
	store_notify_fn *fn = notify_fn;
	void *ctx = notify_ctx;
	pthread_mutex_unlock(&notify_lock);
	if (fn == NULL || s->n_dirty == 0) {
		s->n_dirty = 0;
		return 0;
	}
	sqlite3_stmt *st = store_prepare(s, "SELECT highestmodseq FROM folders WHERE id = ?", NULL);
	for (size_t i = 0; st != NULL && i < s->n_dirty; i++) {
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, s->dirty[i]);
		int rc = store_step(st);
		if (rc == SQLITE_ROW)
			fn(ctx, s->mailbox_id, s->dirty[i], (uint64_t)sqlite3_column_int64(st, 0));
		else if (rc == SQLITE_DONE)
			fn(ctx, s->mailbox_id, s->dirty[i], 0); /* deleted */
	}
	store_finalize(st);
	if (s->dirty_overflow)
		fn(ctx, s->mailbox_id, 0, 0);
	s->n_dirty = 0;
	return 0;
}

int store_read_begin(struct store_session *s, const char **error_r)
{
	/* A deferred BEGIN takes no lock; the first SELECT starts the
	 * snapshot. Reading "sqlite_master" pins it now. */
	if (store_exec(s, "BEGIN", error_r) < 0)
		return -1;
	if (store_exec(s, "SELECT 1 FROM meta LIMIT 1", error_r) < 0) {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return 0;
}

void store_read_end(struct store_session *s)
{
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
}

uint64_t store_modseq_next(struct store_session *s, int64_t folder_id, const char **error_r)
{
	sqlite3_stmt *st = store_prepare(
	    s, "UPDATE meta SET value = value + 1 WHERE key = 'modseq' RETURNING value", error_r);
	if (st == NULL)
		return 0;
	uint64_t m = 0;
	if (store_step(st) == SQLITE_ROW)
		m = (uint64_t)sqlite3_column_int64(st, 0);
	store_finalize(st);
	if (m == 0) {
		store_fail_db(s, error_r, "modseq");
		return 0;
	}
	st = store_prepare(s, "UPDATE folders SET highestmodseq = ? WHERE id = ?", error_r);
	if (st == NULL)
		return 0;
	sqlite3_bind_int64(st, 1, (int64_t)m);
	sqlite3_bind_int64(st, 2, folder_id);
	int rc = store_step(st);
	store_finalize(st);
	if (rc != SQLITE_DONE) {
		store_fail_db(s, error_r, "modseq");
		return 0;
	}
	store_mark_dirty(s, folder_id);
	return m;
}

void store_mark_dirty(struct store_session *s, int64_t folder_id)
{
	for (size_t i = 0; i < s->n_dirty; i++)
		if (s->dirty[i] == folder_id)
			return;
	if (s->n_dirty < SP_N_ELEMENTS(s->dirty))
		s->dirty[s->n_dirty++] = folder_id;
	else
		s->dirty_overflow = true;
}

int store_session_open(const char *path, const char *mailbox_id, const struct keys_secret *dek,
                       bool create, struct store_session **s_r, const char **error_r)
{
	struct store_session *s = sp_calloc(1, sizeof(*s));
	char err[256];
	static __thread char open_err[300];

	if (store_file_open(path, dek, create, &s->db, err, sizeof(err)) < 0) {
		snprintf(open_err, sizeof(open_err), "%s", err);
		*error_r = open_err;
		sp_free(&s);
		return -1;
	}
	s->mailbox_id = sp_strdup(mailbox_id != NULL ? mailbox_id : "");
	sqlite3_busy_handler(s->db, busy_handler, NULL);
	sp_stmt_cache_init(&s->stmts, s->db);
	const char *e = NULL;
	if (store_sql_functions(s) < 0 || store_schema_init(s, create, &e) < 0) {
		snprintf(open_err, sizeof(open_err), "%s", e != NULL ? e : s->errbuf);
		*error_r = open_err;
		store_session_close(&s);
		return -1;
	}
	*s_r = s;
	return 0;
}

int store_session_rekey(struct store_session *s, const struct keys_secret *new_dek,
                        const char **error_r)
{
	char err[256];
	/* SQLite3MC rekeys a connection with no prepared statements. */
	sp_stmt_cache_deinit(&s->stmts);
	sp_stmt_cache_init(&s->stmts, s->db);
	if (store_file_rekey(s->db, new_dek, err, sizeof(err)) < 0)
		return store_fail(s, STORE_ERR_INTERNAL, error_r, "%s", err);
	return 0;
}

void store_session_close(struct store_session **sp)
{
	struct store_session *s = *sp;
	if (s == NULL)
		return;
	sp_stmt_cache_deinit(&s->stmts);
	store_file_close(&s->db);
	sp_free(&s->mailbox_id);
	free(s);
	*sp = NULL;
}

/* ---- dates ---- */

void store_iso_utc(time_t t, char out[32])
{
	struct tm tm;
	gmtime_r(&t, &tm);
	char tmp[96];
	snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
	         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	sp_strlcpy(out, tmp, 32);
}

void store_iso_day(time_t t, int offset_min, char out[16])
{
	time_t local = t + (time_t)offset_min * 60;
	struct tm tm;
	gmtime_r(&local, &tm);
	char tmp[64];
	snprintf(tmp, sizeof(tmp), "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
	sp_strlcpy(out, tmp, 16);
}

time_t store_iso_parse(const char *iso)
{
	struct tm tm = {0};
	if (iso == NULL || sscanf(iso, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
	                          &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return timegm(&tm);
}

/* ---- uid sets and keywords ---- */

static int range_cmp(const void *a, const void *b)
{
	const struct store_uid_range *x = a, *y = b;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

struct store_uidset store_uidset_norm(const struct store_uidset *in, struct sp_arena *arena)
{
	struct store_uidset out = {NULL, 0};
	if (in == NULL || in->n == 0)
		return out;
	struct store_uid_range *r = sp_arena_alloc(arena, in->n * sizeof(*r));
	for (size_t i = 0; i < in->n; i++) {
		r[i].lo = SP_MIN(in->ranges[i].lo, in->ranges[i].hi);
		r[i].hi = SP_MAX(in->ranges[i].lo, in->ranges[i].hi);
	}
	qsort(r, in->n, sizeof(*r), range_cmp);
	size_t n = 0;
	for (size_t i = 0; i < in->n; i++) {
		if (n > 0 && (r[n - 1].hi == UINT32_MAX || r[i].lo <= r[n - 1].hi + 1)) {
			r[n - 1].hi = SP_MAX(r[n - 1].hi, r[i].hi);
			continue;
		}
		r[n++] = r[i];
	}
	out.ranges = r;
	out.n = n;
	return out;
}

bool store_uidset_has(const struct store_uidset *set, uint32_t uid)
{
	size_t lo = 0, hi = set->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (uid < set->ranges[mid].lo)
			hi = mid;
		else if (uid > set->ranges[mid].hi)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

bool store_keyword_valid(const char *kw)
{
	size_t len = strlen(kw);
	if (len == 0 || len > STORE_KEYWORD_MAX || kw[0] == '\\')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)kw[i];
		/* RFC 9051 atom-char minus resp-specials: no CTL, SP, ( ) { % * " \ ] */
		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c) != NULL)
			return false;
	}
	return true;
}

int store_keywords_load(struct store_session *s, int64_t msg_id, struct sp_arena *arena,
                        const char *const **kw_r, size_t *n_r)
{
	sqlite3_stmt *st = store_prepare(
	    s, "SELECT keyword FROM keywords WHERE message_id = ? ORDER BY keyword", NULL);
	*kw_r = NULL;
	*n_r = 0;
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, msg_id);
	size_t n = 0, cap = 0;
	const char **kw = NULL;
	int rc;
	while ((rc = store_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			size_t ncap = cap == 0 ? 8 : cap * 2;
			const char **nk = sp_arena_alloc(arena, ncap * sizeof(*nk));
			if (n > 0)
				memcpy(nk, kw, n * sizeof(*nk));
			kw = nk;
			cap = ncap;
		}
		kw[n++] = sp_arena_strdup(arena, (const char *)sqlite3_column_text(st, 0));
	}
	store_finalize(st);
	*kw_r = kw;
	*n_r = n;
	return rc == SQLITE_DONE ? 0 : -1;
}
