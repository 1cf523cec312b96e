/* Concurrency test: 4 threads appending, 4 storing flags and expunging,
 * a drainer and a snapshot reader on one mailbox, each with its own
 * session, for SP_STORE_STRESS_SECONDS (default 10; use 60 for the
 * issue's acceptance run). Checks: no call fails (SQLITE_BUSY never
 * reaches a caller), every UID is given once and UIDs rise in each
 * thread, MODSEQs seen by each thread strictly rise, drained spool ids
 * give one message, and every read sees a consistent snapshot. */
#include "test_store_util.h"
#include "lib/sp_str.h"

#include <pthread.h>
#include <stdatomic.h>

SP_TEST_MAIN_DEFS

static struct tmbox mb;
static int64_t inbox_id;
static uint64_t deadline_ms;
static atomic_int failures;
static atomic_uint_fast64_t total_appended;

#define MAX_UIDS 2000000
static atomic_uchar *uid_seen;

static void fail(const char *who, const char *what, const char *err)
{
	fprintf(stderr, "%s: %s: %s\n", who, what, err != NULL ? err : "");
	atomic_fetch_add(&failures, 1);
}

static struct store_session *open_session(void)
{
	struct store_session *s;
	const char *err;
	if (store_session_open(mb.path, "stress", mb.dek, false, &s, &err) < 0)
		sp_panic("open: %s", err);
	return s;
}

static void *appender(void *arg)
{
	int id = (int)(intptr_t)arg;
	struct store_session *s = open_session();
	uint32_t last = 0;
	char text[512];
	unsigned n = 0;
	while (sp_now_ms() < deadline_ms) {
		struct store_append_msg m[2];
		size_t cnt = 1 + (n % 3 == 0);
		for (size_t i = 0; i < cnt; i++) {
			snprintf(
			    text, sizeof(text),
			    "From: t%d@example.org\r\nSubject: stress %d %u\r\n\r\nbody %u\r\n", id,
			    id, n, n);
			m[i] = (struct store_append_msg){.data = (const uint8_t *)sp_strdup(text),
			                                 .len = strlen(text),
			                                 .flags = n % 4 == 0 ? STORE_FLAG_SEEN : 0};
		}
		uint32_t uidv, uids[2] = {0, 0};
		const char *err;
		if (store_append(s, "INBOX", m, cnt, &uidv, uids, &err) < 0) {
			fail("appender", "append", err);
		} else {
			for (size_t i = 0; i < cnt; i++) {
				if (uids[i] <= last)
					fail("appender", "UID not increasing", NULL);
				last = uids[i];
				if (uids[i] < MAX_UIDS &&
				    atomic_fetch_add(&uid_seen[uids[i]], 1) != 0)
					fail("appender", "UID given twice", NULL);
			}
			if (cnt == 2 && uids[1] != uids[0] + 1)
				fail("appender", "MULTIAPPEND UIDs not consecutive", NULL);
			atomic_fetch_add(&total_appended, cnt);
		}
		for (size_t i = 0; i < cnt; i++)
			free((void *)m[i].data);
		n++;
	}
	store_session_close(&s);
	return NULL;
}

static void *flagger(void *arg)
{
	int id = (int)(intptr_t)arg;
	struct store_session *s = open_session();
	struct sp_arena *a = sp_arena_new(64 * 1024);
	uint64_t last_modseq = 0;
	unsigned n = 0;
	while (sp_now_ms() < deadline_ms) {
		uint32_t *uids;
		size_t nu;
		const char *err;
		if (store_uids(s, inbox_id, a, &uids, &nu, &err) < 0) {
			fail("flagger", "uids", err);
			break;
		}
		if (nu > 0) {
			uint32_t pick = uids[(n * 7919u + (unsigned)id) % nu];
			struct store_uid_range r = {pick, pick + 3};
			struct store_flags_req req = {
			    .uids = {&r, 1},
			    .op = n % 2 ? STORE_FLAGS_ADD : STORE_FLAGS_REMOVE,
			    .flags = n % 5 == 0 ? STORE_FLAG_DELETED : STORE_FLAG_FLAGGED,
			};
			struct store_flags_result res;
			if (store_flags_update(s, inbox_id, &req, a, &res, &err) < 0) {
				fail("flagger", "store", err);
			} else {
				for (size_t i = 0; i < res.n_changed; i++) {
					if (res.changed[i].modseq <= last_modseq)
						fail("flagger", "MODSEQ not increasing", NULL);
					last_modseq = res.changed[i].modseq;
				}
				if (res.highestmodseq < last_modseq)
					fail("flagger", "HIGHESTMODSEQ behind", NULL);
			}
		}
		if (n % 10 == 9) {
			uint32_t *gone;
			size_t ng;
			if (store_expunge(s, inbox_id, NULL, a, &gone, &ng, &err) < 0)
				fail("flagger", "expunge", err);
			for (size_t i = 1; i < ng; i++)
				if (gone[i] <= gone[i - 1])
					fail("flagger", "expunged UIDs out of order", NULL);
		}
		sp_arena_reset(a);
		n++;
	}
	sp_arena_free(&a);
	store_session_close(&s);
	return NULL;
}

/* Drains spool ids twice each: the second drain must find the first. */
static void *drainer(void *arg)
{
	(void)arg;
	struct store_session *s = open_session();
	unsigned n = 0;
	static const char msg[] = "From: mx@example.org\r\nSubject: drained\r\n\r\nspool\r\n";
	while (sp_now_ms() < deadline_ms) {
		char id[64];
		snprintf(id, sizeof(id), "%016x-%08x", n, n * 2654435761u);
		struct store_append_msg m = {
		    .data = (const uint8_t *)msg, .len = strlen(msg), .spool_id = id};
		uint32_t uidv, u1 = 0, u2 = 0;
		const char *err;
		if (store_append(s, "INBOX", &m, 1, &uidv, &u1, &err) < 0 ||
		    store_append(s, "INBOX", &m, 1, &uidv, &u2, &err) < 0) {
			fail("drainer", "append", err);
		} else {
			if (u2 != u1 && u2 != 0)
				fail("drainer", "spool id drained twice", NULL);
			if (u1 < MAX_UIDS && atomic_fetch_add(&uid_seen[u1], 1) != 0)
				fail("drainer", "UID given twice", NULL);
			atomic_fetch_add(&total_appended, 1);
		}
		n++;
	}
	store_session_close(&s);
	return NULL;
}

/* One read call = one snapshot: every message's MODSEQ is at most the
 * folder's HIGHESTMODSEQ and its UID below UIDNEXT, read together. */
static void *reader(void *arg)
{
	(void)arg;
	struct store_session *s = open_session();
	struct sp_arena *a = sp_arena_new(64 * 1024);
	unsigned reads = 0;
	while (sp_now_ms() < deadline_ms) {
		struct store_changes ch;
		const char *err;
		if (store_changes_since(s, inbox_id, 0, a, &ch, &err) < 0) {
			fail("reader", "changes", err);
			break;
		}
		for (size_t i = 0; i < ch.n_changed; i++) {
			if (ch.changed[i].modseq > ch.highestmodseq ||
			    ch.changed[i].uid >= ch.uidnext) {
				fail("reader", "inconsistent snapshot", NULL);
				break;
			}
			if (i > 0 && ch.changed[i].uid <= ch.changed[i - 1].uid)
				fail("reader", "UIDs out of order", NULL);
		}
		sp_arena_reset(a);
		reads++;
	}
	sp_arena_free(&a);
	store_session_close(&s);
	return NULL;
}

static void test_stress(void)
{
	uint64_t seconds = 10;
	const char *env = getenv("SP_STORE_STRESS_SECONDS");
	if (env != NULL && sp_parse_u64(env, 3600, &seconds) < 0)
		seconds = 10;
	uid_seen = sp_calloc(MAX_UIDS, sizeof(*uid_seen));
	tmbox_open(&mb);
	inbox_id = tmbox_folder(&mb, "INBOX");
	deadline_ms = sp_now_ms() + seconds * 1000;
	pthread_t th[10];
	size_t n = 0;
	for (int i = 0; i < 4; i++)
		pthread_create(&th[n++], NULL, appender, (void *)(intptr_t)i);
	for (int i = 0; i < 4; i++)
		pthread_create(&th[n++], NULL, flagger, (void *)(intptr_t)i);
	pthread_create(&th[n++], NULL, drainer, NULL);
	pthread_create(&th[n++], NULL, reader, NULL);
	for (size_t i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	SP_CHECK_INT(atomic_load(&failures), 0);

	/* every UID below UIDNEXT was handed out exactly once */
	struct sp_arena *a = sp_arena_new(4096);
	struct store_folder f;
	const char *err;
	SP_CHECK_INT(store_folder_get(mb.s, "INBOX", a, &f, &err), 1);
	uint64_t total = atomic_load(&total_appended);
	printf("stress: %llu s, %llu messages appended, UIDNEXT %u, HIGHESTMODSEQ %llu\n",
	       (unsigned long long)seconds, (unsigned long long)total, f.uidnext,
	       (unsigned long long)f.highestmodseq);
	SP_CHECK_INT(f.uidnext, total + 1);
	SP_CHECK(total > 10);
	for (uint32_t u = 1; u < f.uidnext && u < MAX_UIDS; u++)
		if (uid_seen[u] != 1) {
			fprintf(stderr, "UID %u given %u times\n", u, uid_seen[u]);
			SP_CHECK(0);
			break;
		}
	/* the live messages and the expunge log partition the UIDs */
	struct store_changes ch;
	SP_CHECK_INT(store_changes_since(mb.s, inbox_id, 0, a, &ch, &err), 0);
	SP_CHECK_INT(ch.n_changed + ch.n_expunged, total);
	sp_arena_free(&a);
	free(uid_seen);
	tmbox_close(&mb);
}

int main(void)
{
	SP_CHECK_INT(keys_init(), 0);
	SP_TEST_RUN(test_stress);
	return sp_test_finish();
}
