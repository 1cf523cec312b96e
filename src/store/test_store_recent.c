/* Unit tests of \Recent (RFC 3501 §2.3.2: the recent floor claimed by
 * one session at a time, also across processes), of subscriptions kept
 * apart from folders (RFC 9051 §6.3.7: they outlive DELETE, follow
 * RENAME) and of the schema migration from version 1. */
#include "test_store_util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>

SP_TEST_MAIN_DEFS

static const char msg[] = "From: a@example.org\r\nSubject: r\r\n\r\nbody\r\n";

static uint32_t status_recent(struct tmbox *t, const char *name)
{
	struct sp_arena *a = sp_arena_new(1024);
	struct store_status st;
	const char *err;
	uint32_t r = UINT32_MAX;
	if (store_folder_status(t->s, name, a, &st, &err) == 0)
		r = st.recent;
	sp_arena_free(&a);
	return r;
}

enum step_op { OP_APPEND, OP_CLAIM, OP_COPY, OP_MOVE };

struct step {
	enum step_op op;
	const char *folder;
	uint32_t up_to; /* CLAIM: up_to; COPY/MOVE: the source UID */
	bool read_only;
	uint32_t want_old;    /* CLAIM */
	uint32_t want_recent; /* STATUS RECENT of folder after the step */
};

static void test_recent_steps(void)
{
	static const struct step steps[] = {
	    {.op = OP_APPEND, .folder = "INBOX", .want_recent = 1},
	    {.op = OP_APPEND, .folder = "INBOX", .want_recent = 2},
	    {.op = OP_APPEND, .folder = "INBOX", .want_recent = 3},
	    /* EXAMINE: reports, claims nothing */
	    {.op = OP_CLAIM, .folder = "INBOX", .up_to = 3, .read_only = true, .want_recent = 3},
	    {.op = OP_CLAIM, .folder = "INBOX", .up_to = 2, .want_old = 0, .want_recent = 1},
	    {.op = OP_CLAIM, .folder = "INBOX", .up_to = 3, .want_old = 2, .want_recent = 0},
	    /* a second session: nothing left for it */
	    {.op = OP_CLAIM, .folder = "INBOX", .up_to = 3, .want_old = 3, .want_recent = 0},
	    /* a smaller up_to never lowers the floor */
	    {.op = OP_CLAIM, .folder = "INBOX", .up_to = 1, .want_old = 3, .want_recent = 0},
	    {.op = OP_APPEND, .folder = "INBOX", .want_recent = 1},
	    {.op = OP_CLAIM,
	     .folder = "INBOX",
	     .up_to = 3,
	     .read_only = true,
	     .want_old = 3,
	     .want_recent = 1},
	    /* copies and moves get UIDs above the destination's floor */
	    {.op = OP_COPY, .folder = "Work", .up_to = 1, .want_recent = 1},
	    {.op = OP_CLAIM, .folder = "Work", .up_to = 1, .want_old = 0, .want_recent = 0},
	    {.op = OP_MOVE, .folder = "Work", .up_to = 2, .want_recent = 1},
	    {.op = OP_CLAIM, .folder = "INBOX", .up_to = 4, .want_old = 3, .want_recent = 0},
	    /* beyond the last UID given out counts as that UID (4): the
	     * next append is still recent */
	    {.op = OP_CLAIM,
	     .folder = "INBOX",
	     .up_to = UINT32_MAX,
	     .want_old = 4,
	     .want_recent = 0},
	    {.op = OP_APPEND, .folder = "INBOX", .want_recent = 1},
	    {.op = OP_CLAIM,
	     .folder = "INBOX",
	     .up_to = UINT32_MAX,
	     .want_old = 4,
	     .want_recent = 0},
	    {.op = OP_CLAIM,
	     .folder = "Work",
	     .up_to = UINT32_MAX,
	     .want_old = 1,
	     .want_recent = 0},
	};
	struct tmbox t;
	tmbox_open(&t);
	const char *err;
	struct sp_arena *a = sp_arena_new(4096);
	SP_CHECK_INT(store_folder_create(t.s, "Work", 0, &err), 0);
	int64_t inbox = tmbox_folder(&t, "INBOX");
	for (size_t i = 0; i < SP_N_ELEMENTS(steps); i++) {
		const struct step *x = &steps[i];
		int64_t id = tmbox_folder(&t, x->folder);
		uint32_t old = UINT32_MAX;
		struct store_uid_range r = {x->up_to, x->up_to};
		struct store_uidset set = {&r, 1};
		struct store_copy_result cr;
		switch (x->op) {
		case OP_APPEND:
			SP_CHECK(tmbox_add(&t, x->folder, msg, 0, 0, 0) != 0);
			break;
		case OP_CLAIM:
			SP_CHECK_INT(
			    store_recent_claim(t.s, id, x->up_to, x->read_only, &old, &err), 0);
			SP_CHECK_INT(old, x->want_old);
			break;
		case OP_COPY:
		case OP_MOVE:
			SP_CHECK_INT(
			    store_copy(t.s, inbox, &set, x->folder, x->op == OP_MOVE, a, &cr, &err),
			    0);
			SP_CHECK_INT(cr.n, 1);
			break;
		}
		if (status_recent(&t, x->folder) != x->want_recent)
			fprintf(stderr, "step %zu\n", i);
		SP_CHECK_INT(status_recent(&t, x->folder), x->want_recent);
	}

	/* RENAME INBOX: the moved messages keep their recent state */
	SP_CHECK(tmbox_add(&t, "INBOX", msg, 0, 0, 0) == 6);
	SP_CHECK_INT(status_recent(&t, "INBOX"), 1);
	SP_CHECK_INT(store_folder_rename(t.s, "INBOX", "Saved", &err), 0);
	SP_CHECK_INT(status_recent(&t, "Saved"), 1);
	SP_CHECK_INT(status_recent(&t, "INBOX"), 0);
	uint32_t old = 0;
	SP_CHECK_INT(store_recent_claim(t.s, tmbox_folder(&t, "Saved"), 6, false, &old, &err), 0);
	SP_CHECK_INT(old, 5);
	/* a plain RENAME keeps the floor too */
	SP_CHECK(tmbox_add(&t, "Work", msg, 0, 0, 0) == 3);
	SP_CHECK_INT(store_folder_rename(t.s, "Work", "Play", &err), 0);
	SP_CHECK_INT(status_recent(&t, "Play"), 1);
	/* a deleted folder: NONEXISTENT; recreated, it starts at floor 0 */
	int64_t play = tmbox_folder(&t, "Play");
	SP_CHECK_INT(store_folder_delete(t.s, "Play", &err), 0);
	SP_CHECK_INT(store_recent_claim(t.s, play, 3, false, &old, &err), -1);
	SP_CHECK_INT(store_last_error(t.s), STORE_ERR_NONEXISTENT);
	SP_CHECK_INT(store_recent_claim(t.s, play, 3, true, &old, &err), -1);
	SP_CHECK_INT(store_last_error(t.s), STORE_ERR_NONEXISTENT);
	SP_CHECK_INT(store_folder_create(t.s, "Play", 0, &err), 0);
	SP_CHECK(tmbox_add(&t, "Play", msg, 0, 0, 0) == 1);
	SP_CHECK_INT(store_recent_claim(t.s, tmbox_folder(&t, "Play"), 1, false, &old, &err), 0);
	SP_CHECK_INT(old, 0);
	sp_arena_free(&a);
	tmbox_close(&t);
}

/* ---- two claimers (a thread and a forked process) and an appender ---- */

#define CONC_TOTAL 120

static struct tmbox conc;
static int64_t conc_inbox;

/* Claims what it sees until every message exists and a last claim is
 * done; reports each claimed range (old, up_to] through emit. */
static int claim_loop(void (*emit)(void *, uint32_t, uint32_t), void *ctx)
{
	struct store_session *s;
	const char *err;
	if (store_session_open(conc.path, "c", conc.dek, false, &s, &err) < 0)
		return -1;
	struct sp_arena *a = sp_arena_new(1024);
	int ret = 0;
	for (;;) {
		struct store_status st;
		sp_arena_reset(a);
		if (store_folder_status(s, "INBOX", a, &st, &err) < 0) {
			ret = -1;
			break;
		}
		uint32_t up_to = st.folder.uidnext - 1, old;
		if (store_recent_claim(s, conc_inbox, up_to, false, &old, &err) < 0) {
			ret = -1;
			break;
		}
		if (old < up_to)
			emit(ctx, old, up_to);
		if (up_to >= CONC_TOTAL)
			break;
	}
	sp_arena_free(&a);
	store_session_close(&s);
	return ret;
}

static atomic_int conc_counts[CONC_TOTAL + 1];
static atomic_int conc_failures;

static void count_range(void *ctx, uint32_t old, uint32_t up_to)
{
	(void)ctx;
	for (uint32_t u = old + 1; u <= up_to && u <= CONC_TOTAL; u++)
		atomic_fetch_add(&conc_counts[u], 1);
}

static void pipe_range(void *ctx, uint32_t old, uint32_t up_to)
{
	int fd = *(int *)ctx;
	uint32_t r[2] = {old, up_to};
	if (write(fd, r, sizeof(r)) != (ssize_t)sizeof(r))
		_exit(3);
}

static void *claimer_thread(void *arg)
{
	(void)arg;
	if (claim_loop(count_range, NULL) < 0)
		atomic_fetch_add(&conc_failures, 1);
	return NULL;
}

static void *appender_thread(void *arg)
{
	(void)arg;
	struct store_session *s;
	const char *err;
	if (store_session_open(conc.path, "a", conc.dek, false, &s, &err) < 0) {
		atomic_fetch_add(&conc_failures, 1);
		return NULL;
	}
	for (int i = 0; i < CONC_TOTAL; i++) {
		struct store_append_msg m = {.data = (const uint8_t *)msg, .len = strlen(msg)};
		uint32_t uidv, uid;
		if (store_append(s, "INBOX", &m, 1, &uidv, &uid, &err) < 0)
			atomic_fetch_add(&conc_failures, 1);
	}
	store_session_close(&s);
	return NULL;
}

static void test_recent_concurrent(void)
{
	tmbox_open(&conc);
	conc_inbox = tmbox_folder(&conc, "INBOX");
	/* the child must not inherit an open connection */
	store_session_close(&conc.s);
	int fds[2];
	SP_CHECK_INT(pipe(fds), 0);
	pid_t pid = fork();
	SP_CHECK(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		_exit(claim_loop(pipe_range, &fds[1]) == 0 ? 0 : 2);
	}
	close(fds[1]);
	pthread_t c, ap;
	pthread_create(&c, NULL, claimer_thread, NULL);
	pthread_create(&ap, NULL, appender_thread, NULL);
	pthread_join(ap, NULL);
	pthread_join(c, NULL);
	uint32_t r[2];
	size_t child_ranges = 0;
	while (read(fds[0], r, sizeof(r)) == (ssize_t)sizeof(r)) {
		count_range(NULL, r[0], r[1]);
		child_ranges++;
	}
	close(fds[0]);
	int status = 0;
	SP_CHECK_INT(waitpid(pid, &status, 0), pid);
	SP_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	SP_CHECK_INT(atomic_load(&conc_failures), 0);
	/* every message was recent for exactly one of them: both made a
	 * last claim after the last append, so none is left unclaimed */
	int once = 0;
	for (uint32_t u = 1; u <= CONC_TOTAL; u++) {
		int n = atomic_load(&conc_counts[u]);
		if (n != 1)
			fprintf(stderr, "uid %u claimed %d times\n", u, n);
		once += n == 1;
	}
	SP_CHECK_INT(once, CONC_TOTAL);
	fprintf(stderr, "child claimed %zu ranges\n", child_ranges);
	const char *err;
	SP_CHECK_INT(store_session_open(conc.path, "t", conc.dek, false, &conc.s, &err), 0);
	SP_CHECK_INT(status_recent(&conc, "INBOX"), 0);
	tmbox_close(&conc);
}

/* ---- subscriptions ---- */

struct want_entry {
	const char *name;
	bool exists; /* id != 0 */
	bool subscribed;
};

static void check_list(struct tmbox *t, const struct want_entry *want, size_t n_want, int line)
{
	struct sp_arena *a = sp_arena_new(4096);
	struct store_folder *f;
	size_t n = 0;
	const char *err;
	SP_CHECK_INT(store_folder_list(t->s, a, &f, &n, &err), 0);
	if (n != n_want)
		fprintf(stderr, "list at line %d\n", line);
	SP_CHECK_INT(n, n_want);
	for (size_t i = 0; i < n && i < n_want; i++) {
		SP_CHECK_STR(f[i].name, want[i].name);
		if ((f[i].id != 0) != want[i].exists || f[i].subscribed != want[i].subscribed)
			fprintf(stderr, "line %d: %s id %lld subscribed %d\n", line, f[i].name,
			        (long long)f[i].id, f[i].subscribed);
		SP_CHECK_INT(f[i].id != 0, want[i].exists);
		SP_CHECK_INT(f[i].subscribed, want[i].subscribed);
		if (f[i].id == 0) {
			/* "name set, other fields 0" */
			SP_CHECK_INT(f[i].special_use, 0);
			SP_CHECK_INT(f[i].uidvalidity, 0);
			SP_CHECK_INT(f[i].uidnext, 0);
			SP_CHECK_INT(f[i].highestmodseq, 0);
		} else {
			SP_CHECK(f[i].uidvalidity != 0);
		}
	}
	sp_arena_free(&a);
}

#define CHECK_LIST(t, ...)                                                                         \
	do {                                                                                       \
		static const struct want_entry w_[] = {__VA_ARGS__};                               \
		check_list(t, w_, SP_N_ELEMENTS(w_), __LINE__);                                    \
	} while (0)

static void test_subscriptions(void)
{
	struct tmbox t;
	tmbox_open(&t);
	const char *err;
	SP_CHECK_INT(store_folder_delete(t.s, "Archive", &err), 0);
	SP_CHECK_INT(store_folder_delete(t.s, "Junk", &err), 0);
	SP_CHECK_INT(store_folder_subscribe(t.s, "Junk", false, &err), 0);
	SP_CHECK_INT(store_folder_delete(t.s, "Drafts", &err), 0);
	SP_CHECK_INT(store_folder_delete(t.s, "Sent", &err), 0);
	SP_CHECK_INT(store_folder_subscribe(t.s, "Sent", false, &err), 0);
	SP_CHECK_INT(store_folder_delete(t.s, "Trash", &err), 0);
	SP_CHECK_INT(store_folder_subscribe(t.s, "Trash", false, &err), 0);
	/* DELETE leaves the subscription (RFC 9051 §6.3.7) */
	CHECK_LIST(&t, {"Archive", false, true}, {"Drafts", false, true}, {"INBOX", true, true});

	static const struct {
		const char *name;
		bool subscribe;
		int rc;
		enum store_err code;
	} subs[] = {
	    {.name = "Gone/Away", .subscribe = true},
	    {.name = "Gone/Away", .subscribe = true},   /* twice: no change */
	    {.name = "inbox/Lists", .subscribe = true}, /* stored as INBOX/Lists */
	    {.name = "Archive", .subscribe = false},
	    {.name = "Archive", .subscribe = false}, /* not subscribed: no change */
	    {.name = "Never", .subscribe = false},
	    {.name = "日本語", .subscribe = true},
	    {.name = "", .subscribe = true, .rc = -1, .code = STORE_ERR_BAD_ARG},
	    {.name = "a//b", .subscribe = true, .rc = -1, .code = STORE_ERR_BAD_ARG},
	    {.name = "a/", .subscribe = true, .rc = -1, .code = STORE_ERR_BAD_ARG},
	    {.name = "w*", .subscribe = true, .rc = -1, .code = STORE_ERR_BAD_ARG},
	    {.name = "bad\xc3", .subscribe = true, .rc = -1, .code = STORE_ERR_BAD_ARG},
	    {.name = "Drafts", .subscribe = false, .rc = 0},
	};
	for (size_t i = 0; i < SP_N_ELEMENTS(subs); i++) {
		int rc = store_folder_subscribe(t.s, subs[i].name, subs[i].subscribe, &err);
		SP_CHECK_INT(rc, subs[i].rc);
		if (rc < 0)
			SP_CHECK_INT(store_last_error(t.s), subs[i].code);
	}
	CHECK_LIST(&t, {"Gone/Away", false, true}, {"INBOX", true, true},
	           {"INBOX/Lists", false, true}, {"日本語", false, true});

	/* creating a subscribed name makes it a subscribed folder */
	SP_CHECK_INT(store_folder_create(t.s, "INBOX/Lists", 0, &err), 0);
	SP_CHECK_INT(store_folder_create(t.s, "Work/A", 0, &err), 0);
	SP_CHECK_INT(store_folder_create(t.s, "Workshop", 0, &err), 0);
	SP_CHECK_INT(store_folder_subscribe(t.s, "Work", true, &err), 0);
	SP_CHECK_INT(store_folder_subscribe(t.s, "Work/A", true, &err), 0);
	SP_CHECK_INT(store_folder_subscribe(t.s, "Work/Gone", true, &err), 0);
	SP_CHECK_INT(store_folder_subscribe(t.s, "Workshop", true, &err), 0);
	SP_CHECK_INT(store_folder_subscribe(t.s, "Old/Work/A", true, &err), 0);
	CHECK_LIST(&t, {"Gone/Away", false, true}, {"INBOX", true, true},
	           {"INBOX/Lists", true, true}, {"Old/Work/A", false, true}, {"Work", true, true},
	           {"Work/A", true, true}, {"Work/Gone", false, true}, {"Workshop", true, true},
	           {"日本語", false, true});
	struct sp_arena *a = sp_arena_new(1024);
	struct store_folder f;
	SP_CHECK_INT(store_folder_get(t.s, "Work/A", a, &f, &err), 1);
	SP_CHECK(f.subscribed);
	SP_CHECK_INT(store_folder_get(t.s, "Gone/Away", a, &f, &err), 0);

	/* RENAME carries the subscriptions of the folder and the names
	 * under it ("Workshop" is not under "Work"); "Old/Work/A" was
	 * subscribed already and stays once */
	SP_CHECK_INT(store_folder_rename(t.s, "Work", "Old/Work", &err), 0);
	CHECK_LIST(&t, {"Gone/Away", false, true}, {"INBOX", true, true},
	           {"INBOX/Lists", true, true}, {"Old", true, false}, {"Old/Work", true, true},
	           {"Old/Work/A", true, true}, {"Old/Work/Gone", false, true},
	           {"Workshop", true, true}, {"日本語", false, true});
	/* a failed RENAME changes no subscription */
	SP_CHECK_INT(store_folder_rename(t.s, "Old/Work", "Workshop", &err), -1);
	SP_CHECK_INT(store_last_error(t.s), STORE_ERR_EXISTS);
	SP_CHECK_INT(store_folder_get(t.s, "Old/Work", a, &f, &err), 1);
	SP_CHECK(f.subscribed);
	/* "inbox/Lists" names INBOX/Lists in RENAME too */
	SP_CHECK_INT(store_folder_rename(t.s, "inbox/Lists", "Lists", &err), 0);
	/* RENAME INBOX: INBOX stays and stays subscribed, the new folder
	 * takes no subscription */
	SP_CHECK_INT(store_folder_rename(t.s, "INBOX", "Saved", &err), 0);
	CHECK_LIST(&t, {"Gone/Away", false, true}, {"INBOX", true, true}, {"Lists", true, true},
	           {"Old", true, false}, {"Old/Work", true, true}, {"Old/Work/A", true, true},
	           {"Old/Work/Gone", false, true}, {"Saved", true, false}, {"Workshop", true, true},
	           {"日本語", false, true});
	SP_CHECK_INT(store_folder_subscribe(t.s, "Gone/Away", false, &err), 0);
	SP_CHECK_INT(store_folder_delete(t.s, "Old/Work/A", &err), 0);
	SP_CHECK_INT(store_folder_subscribe(t.s, "Old/Work/Gone", false, &err), 0);
	CHECK_LIST(&t, {"INBOX", true, true}, {"Lists", true, true}, {"Old", true, false},
	           {"Old/Work", true, true}, {"Old/Work/A", false, true}, {"Saved", true, false},
	           {"Workshop", true, true}, {"日本語", false, true});
	sp_arena_free(&a);
	tmbox_close(&t);
}

/* ---- migration from schema version 1 ---- */

static int64_t db_int(struct store_session *s, const char *sql)
{
	sqlite3_stmt *st = NULL;
	int64_t v = -1;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void test_migrate_v1(void)
{
	struct tmbox t;
	tmbox_open(&t);
	const char *err;
	SP_CHECK_INT(store_folder_create(t.s, "Work", 0, &err), 0);
	SP_CHECK_INT(store_folder_create(t.s, "Other", 0, &err), 0);
	SP_CHECK_INT(store_folder_subscribe(t.s, "Work", true, &err), 0);
	SP_CHECK_INT(store_folder_subscribe(t.s, "Junk", false, &err), 0);
	for (int i = 0; i < 3; i++)
		SP_CHECK(tmbox_add(&t, "INBOX", msg, 0, 0, 0) != 0);
	SP_CHECK(tmbox_add(&t, "Work", msg, 0, 0, 0) == 1);
	uint32_t old;
	SP_CHECK_INT(store_recent_claim(t.s, tmbox_folder(&t, "INBOX"), 1, false, &old, &err), 0);
	/* Turn the file back into version 1: subscribed a folders column,
	 * no floor, no subscriptions table. */
	SP_CHECK_INT(sqlite3_exec(t.s->db,
	                          "BEGIN;"
	                          "ALTER TABLE folders ADD COLUMN subscribed INTEGER NOT NULL"
	                          " DEFAULT 0;"
	                          "UPDATE folders SET subscribed ="
	                          " name IN (SELECT name FROM subscriptions);"
	                          "DROP TABLE subscriptions;"
	                          "ALTER TABLE folders DROP COLUMN recent_floor;"
	                          "UPDATE meta SET value = 1 WHERE key = 'schema_version';"
	                          "COMMIT;",
	                          NULL, NULL, NULL),
	             SQLITE_OK);
	/* the same columns, in the same order, as schema_v1 created */
	struct sp_buf cols = SP_BUF_INIT;
	sqlite3_stmt *st = NULL;
	SP_CHECK_INT(sqlite3_prepare_v2(t.s->db, "SELECT name FROM pragma_table_info('folders')",
	                                -1, &st, NULL),
	             SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW)
		sp_buf_printf(&cols, "%s,", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	SP_CHECK_STR(sp_buf_cstr(&cols),
	             "id,name,special_use,uidvalidity,uidnext,highestmodseq,subscribed,");
	sp_buf_deinit(&cols);
	store_session_close(&t.s);

	SP_CHECK_INT(store_session_open(t.path, "test", t.dek, false, &t.s, &err), 0);
	SP_CHECK_INT(db_int(t.s, "SELECT value FROM meta WHERE key = 'schema_version'"),
	             STORE_SCHEMA_VERSION);
	SP_CHECK_INT(db_int(t.s, "SELECT count(*) FROM pragma_table_info('folders')"
	                         " WHERE name = 'subscribed'"),
	             0);
	/* nothing is recent after the upgrade; new mail is */
	SP_CHECK_INT(status_recent(&t, "INBOX"), 0);
	SP_CHECK_INT(status_recent(&t, "Work"), 0);
	SP_CHECK_INT(status_recent(&t, "Other"), 0);
	SP_CHECK_INT(store_recent_claim(t.s, tmbox_folder(&t, "INBOX"), 3, true, &old, &err), 0);
	SP_CHECK_INT(old, 3);
	SP_CHECK_INT(store_recent_claim(t.s, tmbox_folder(&t, "Other"), 9, true, &old, &err), 0);
	SP_CHECK_INT(old, 0);
	SP_CHECK(tmbox_add(&t, "INBOX", msg, 0, 0, 0) == 4);
	SP_CHECK_INT(status_recent(&t, "INBOX"), 1);
	/* the subscriptions came along */
	CHECK_LIST(&t, {"Archive", true, true}, {"Drafts", true, true}, {"INBOX", true, true},
	           {"Junk", true, false}, {"Other", true, false}, {"Sent", true, true},
	           {"Trash", true, true}, {"Work", true, true});
	/* and a second open finds the current version: no migration */
	store_session_close(&t.s);
	SP_CHECK_INT(store_session_open(t.path, "test", t.dek, false, &t.s, &err), 0);
	SP_CHECK_INT(status_recent(&t, "INBOX"), 1);
	tmbox_close(&t);
}

int main(void)
{
	SP_CHECK_INT(keys_init(), 0);
	SP_TEST_RUN(test_recent_steps);
	SP_TEST_RUN(test_recent_concurrent);
	SP_TEST_RUN(test_subscriptions);
	SP_TEST_RUN(test_migrate_v1);
	return sp_test_finish();
}
