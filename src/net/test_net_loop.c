/* Unit tests for the event loop (timers, posting from threads, signals,
 * owner registry), the worker pool (caps, fail-fast, completions on the
 * loop thread, dropped completions for a closed owner) and
 * sp_process_harden. */
#include "net/sp_loop.h"
#include "net/sp_process.h"
#include "net/sp_workers.h"
#include "lib/sp_str.h"
#include "lib/sp_test.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

SP_TEST_MAIN_DEFS

static struct sp_loop *new_loop(void)
{
	const char *err = NULL;
	struct sp_loop *loop = sp_loop_new(&err);
	if (loop == NULL) {
		fprintf(stderr, "sp_loop_new: %s\n", err);
		abort();
	}
	return loop;
}

/* Runs the loop until *flag is true or ms passed; returns *flag. */
struct until {
	struct sp_loop *loop;
	volatile bool *flag;
	uint64_t deadline;
};

static void until_check(void *arg)
{
	struct until *u = arg;
	if (*u->flag || sp_now_ms() >= u->deadline)
		sp_loop_stop(u->loop);
}

static bool run_until(struct sp_loop *loop, volatile bool *flag, uint64_t ms)
{
	struct until u = {loop, flag, sp_now_ms() + ms};
	struct sp_timer *t = sp_timer_new(loop, until_check, &u);
	sp_timer_start(t, 2, true);
	sp_loop_run(loop);
	sp_timer_free(&t);
	return *flag;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* ---- timers ---------------------------------------------------------- */

struct timer_log {
	struct sp_loop *loop;
	int fired;
	uint64_t first_ms, start_ms;
	bool on_loop;
	struct sp_timer *self;
	bool free_self;
};

static void timer_hit(void *arg)
{
	struct timer_log *t = arg;
	if (t->fired++ == 0)
		t->first_ms = sp_now_ms() - t->start_ms;
	t->on_loop = sp_loop_in_loop_thread(t->loop);
	if (t->free_self)
		sp_timer_free(&t->self);
}

static void test_timers(void)
{
	struct sp_loop *loop = new_loop();
	struct timer_log once = {.loop = loop}, periodic = {.loop = loop},
	                 cancelled = {.loop = loop}, selfkill = {.loop = loop, .free_self = true};
	struct sp_timer *t1 = sp_timer_new(loop, timer_hit, &once);
	struct sp_timer *t2 = sp_timer_new(loop, timer_hit, &periodic);
	struct sp_timer *t3 = sp_timer_new(loop, timer_hit, &cancelled);
	selfkill.self = sp_timer_new(loop, timer_hit, &selfkill);
	once.start_ms = periodic.start_ms = sp_now_ms();
	sp_timer_start(t1, 60, false);
	sp_timer_start(t2, 25, true);
	sp_timer_start(t3, 30, false);
	sp_timer_start(selfkill.self, 10, true);
	SP_CHECK(sp_timer_is_pending(t3));
	sp_timer_stop(t3);
	SP_CHECK(!sp_timer_is_pending(t3));
	volatile bool never = false;
	run_until(loop, &never, 300);
	SP_CHECK_INT(once.fired, 1);
	SP_CHECK(once.first_ms >= 55);
	SP_CHECK(once.on_loop);
	SP_CHECK(!sp_timer_is_pending(t1));
	SP_CHECK(periodic.fired >= 3);  /* about 11; slack for a loaded machine */
	SP_CHECK(periodic.fired <= 12); /* never more often than every 25 ms */
	SP_CHECK_INT(cancelled.fired, 0);
	SP_CHECK_INT(selfkill.fired, 1);
	SP_CHECK(selfkill.self == NULL);

	/* A one-shot timer can be started again, and a periodic one turned
	 * into a one-shot. */
	sp_timer_start(t1, 5, false);
	sp_timer_start(t2, 5, false);
	int before = periodic.fired;
	run_until(loop, &never, 80);
	SP_CHECK_INT(once.fired, 2);
	SP_CHECK_INT(periodic.fired, before + 1);
	sp_timer_free(&t1);
	sp_timer_free(&t2);
	sp_timer_free(&t3);
	SP_CHECK(t1 == NULL);
	sp_timer_free(&t1); /* NULL is fine */
	sp_loop_free(&loop);
	SP_CHECK(loop == NULL);
}

/* ---- posting from threads -------------------------------------------- */

#define POST_THREADS 4
#define POSTS_EACH 2000

struct post_state {
	struct sp_loop *loop;
	int count;     /* loop thread only */
	int off_loop;  /* closures that ran elsewhere */
	int order_bad; /* per-thread order violations */
	int last[POST_THREADS];
	volatile bool done;
};

struct post_item {
	struct post_state *st;
	int thread, seq;
};

static void post_hit(void *arg)
{
	struct post_item *it = arg;
	struct post_state *st = it->st;
	if (!sp_loop_in_loop_thread(st->loop))
		st->off_loop++;
	if (it->seq != st->last[it->thread] + 1)
		st->order_bad++;
	st->last[it->thread] = it->seq;
	if (++st->count == POST_THREADS * POSTS_EACH)
		st->done = true;
	free(it);
}

struct poster {
	struct post_state *st;
	int idx;
};

static void *poster_main(void *arg)
{
	struct poster *p = arg;
	for (int i = 1; i <= POSTS_EACH; i++) {
		struct post_item *it = sp_malloc(sizeof(*it));
		*it = (struct post_item){p->st, p->idx, i};
		sp_loop_post(p->st->loop, post_hit, it);
	}
	return NULL;
}

static void test_post(void)
{
	struct post_state st = {.loop = new_loop()};
	pthread_t th[POST_THREADS];
	struct poster ps[POST_THREADS];
	for (int i = 0; i < POST_THREADS; i++) {
		ps[i] = (struct poster){&st, i};
		pthread_create(&th[i], NULL, poster_main, &ps[i]);
	}
	SP_CHECK(run_until(st.loop, &st.done, 10000));
	for (int i = 0; i < POST_THREADS; i++)
		pthread_join(th[i], NULL);
	SP_CHECK_INT(st.count, POST_THREADS * POSTS_EACH);
	SP_CHECK_INT(st.off_loop, 0);
	SP_CHECK_INT(st.order_bad, 0);

	/* Closures still queued at free run once, so their ctx is freed. */
	struct post_item *it = sp_malloc(sizeof(*it));
	*it = (struct post_item){&st, 0, POSTS_EACH + 1};
	sp_loop_post(st.loop, post_hit, it);
	sp_loop_free(&st.loop);
	SP_CHECK_INT(st.count, POST_THREADS * POSTS_EACH + 1);
}

/* ---- signals --------------------------------------------------------- */

struct sig_state {
	struct sp_loop *loop;
	int hup, term;
	bool on_loop;
	volatile bool done;
};

static void on_sig(void *arg, int signo)
{
	struct sig_state *s = arg;
	s->on_loop = sp_loop_in_loop_thread(s->loop);
	if (signo == SIGHUP)
		s->hup++;
	if (signo == SIGTERM) {
		s->term++;
		s->done = true;
	}
}

static void raise_signals(void *arg)
{
	raise(SIGHUP);
	raise(SIGTERM);
}

static void test_signals(void)
{
	struct sig_state s = {.loop = new_loop()};
	const char *err;
	SP_CHECK_INT(sp_loop_on_signal(s.loop, SIGHUP, on_sig, &s, &err), 0);
	SP_CHECK_INT(sp_loop_on_signal(s.loop, SIGTERM, on_sig, &s, &err), 0);
	struct sp_timer *t = sp_timer_new(s.loop, raise_signals, NULL);
	sp_timer_start(t, 10, false);
	SP_CHECK(run_until(s.loop, &s.done, 3000));
	SP_CHECK_INT(s.hup, 1);
	SP_CHECK_INT(s.term, 1);
	SP_CHECK(s.on_loop);
	sp_timer_free(&t);
	sp_loop_free(&s.loop);
	/* The process still lives: the hooks replaced the default action. */
	signal(SIGHUP, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
}

/* ---- owner registry -------------------------------------------------- */

static void test_registry(void)
{
	struct sp_loop *loop = new_loop();
	enum { N = 5000 };
	static uint64_t ids[N];
	static int vals[N];
	static bool live[N];
	for (int i = 0; i < N; i++) {
		ids[i] = sp_loop_owner_add(loop, &vals[i]);
		live[i] = true;
		SP_CHECK(ids[i] != 0);
		if (i > 0 && ids[i] <= ids[i - 1])
			SP_CHECK(ids[i] > ids[i - 1]);
	}
	/* Remove a pseudo-random two thirds, then check every id. */
	uint32_t x = 12345;
	for (int i = 0; i < N; i++) {
		x = x * 1103515245u + 12345u;
		if ((x >> 16) % 3 != 0) {
			sp_loop_owner_remove(loop, ids[i]);
			live[i] = false;
		}
	}
	int wrong = 0;
	for (int i = 0; i < N; i++) {
		void *p = sp_loop_owner_find(loop, ids[i]);
		if (p != (live[i] ? (void *)&vals[i] : NULL))
			wrong++;
	}
	SP_CHECK_INT(wrong, 0);
	SP_CHECK(sp_loop_owner_find(loop, 0) == NULL);
	SP_CHECK(sp_loop_owner_find(loop, ids[N - 1] + 1) == NULL);
	/* New ids never reuse old ones. */
	uint64_t fresh = sp_loop_owner_add(loop, &vals[0]);
	SP_CHECK(fresh > ids[N - 1]);
	sp_loop_free(&loop);
}

/* ---- workers --------------------------------------------------------- */

struct pool_state {
	struct sp_loop *loop;
	atomic_int running, max_running, work_off_loop, work_ran;
	int done_count, done_off_loop, expected;
	int status_count[3];
	void *last_owner;
	volatile bool all_done;
	atomic_bool release;
	unsigned sleep_ms;
};

static void work_sleep(void *arg)
{
	struct pool_state *st = arg;
	int now = atomic_fetch_add(&st->running, 1) + 1;
	int m = atomic_load(&st->max_running);
	while (now > m && !atomic_compare_exchange_weak(&st->max_running, &m, now))
		;
	if (sp_loop_in_loop_thread(st->loop))
		atomic_fetch_add(&st->work_off_loop, 1);
	atomic_fetch_add(&st->work_ran, 1);
	sleep_ms(st->sleep_ms);
	while (!atomic_load(&st->release))
		sleep_ms(1);
	atomic_fetch_sub(&st->running, 1);
}

static void work_done(void *arg, void *owner, enum sp_work_status status)
{
	struct pool_state *st = arg;
	if (!sp_loop_in_loop_thread(st->loop))
		st->done_off_loop++;
	st->status_count[status]++;
	st->last_owner = owner;
	if (++st->done_count == st->expected)
		st->all_done = true;
}

static struct sp_workers *new_pool(struct sp_loop *loop, unsigned n)
{
	const char *err;
	struct sp_workers *pool = sp_workers_new(loop, n, &err);
	sp_assert(pool != NULL);
	return pool;
}

static void test_workers_caps(void)
{
	struct pool_state a = {.loop = new_loop(), .sleep_ms = 15, .expected = 6};
	struct pool_state s = {.loop = a.loop, .sleep_ms = 40, .expected = 4};
	atomic_store(&a.release, true);
	atomic_store(&s.release, true);
	struct sp_workers *pool = new_pool(a.loop, 2);
	struct sp_work_queue *argon = sp_workers_queue_add(pool, "argon2", 1, 16);
	struct sp_work_queue *store = sp_workers_queue_add(pool, "store", 2, 16);
	SP_CHECK(sp_workers_queue_find(pool, "argon2") == argon);
	SP_CHECK(sp_workers_queue_find(pool, "store") == store);
	SP_CHECK(sp_workers_queue_find(pool, "nope") == NULL);

	for (int i = 0; i < 6; i++)
		SP_CHECK_INT(sp_workers_submit(pool, argon, work_sleep, work_done, &a, 0), 0);
	SP_CHECK(run_until(a.loop, &a.all_done, 5000));
	/* One argon2 at a time even though two threads were free. */
	SP_CHECK_INT(atomic_load(&a.max_running), 1);

	for (int i = 0; i < 4; i++)
		SP_CHECK_INT(sp_workers_submit(pool, store, work_sleep, work_done, &s, 0), 0);
	SP_CHECK(run_until(a.loop, &s.all_done, 5000));
	SP_CHECK_INT(atomic_load(&s.max_running), 2);

	SP_CHECK_INT(a.done_off_loop + s.done_off_loop, 0);
	SP_CHECK_INT(atomic_load(&a.work_off_loop) + atomic_load(&s.work_off_loop), 0);
	SP_CHECK_INT(a.status_count[SP_WORK_DONE], 6);
	struct sp_work_queue_stats stats;
	sp_workers_queue_stats(pool, argon, &stats);
	SP_CHECK_INT(stats.submitted, 6);
	SP_CHECK_INT(stats.completed, 6);
	SP_CHECK_INT(stats.running + stats.waiting, 0);
	sp_workers_free(&pool);
	sp_loop_free(&a.loop);
}

/* A busy argon2 queue must not hold back store jobs. */
static void test_workers_no_starvation(void)
{
	struct pool_state a = {.loop = new_loop(), .expected = 2};
	struct pool_state s = {.loop = a.loop, .expected = 3};
	atomic_store(&s.release, true);
	struct sp_workers *pool = new_pool(a.loop, 2);
	struct sp_work_queue *argon = sp_workers_queue_add(pool, "argon2", 1, 8);
	struct sp_work_queue *store = sp_workers_queue_add(pool, "store", 4, 8);
	SP_CHECK_INT(sp_workers_submit(pool, argon, work_sleep, work_done, &a, 0), 0);
	SP_CHECK_INT(sp_workers_submit(pool, argon, work_sleep, work_done, &a, 0), 0);
	for (int i = 0; i < 3; i++)
		SP_CHECK_INT(sp_workers_submit(pool, store, work_sleep, work_done, &s, 0), 0);
	/* argon2 jobs are blocked; the store jobs still finish. */
	SP_CHECK(run_until(a.loop, &s.all_done, 5000));
	SP_CHECK_INT(a.done_count, 0);
	atomic_store(&a.release, true);
	SP_CHECK(run_until(a.loop, &a.all_done, 5000));
	sp_workers_free(&pool);
	sp_loop_free(&a.loop);
}

static void test_workers_full(void)
{
	struct pool_state st = {.loop = new_loop(), .expected = 2};
	struct sp_workers *pool = new_pool(st.loop, 2);
	struct sp_work_queue *q = sp_workers_queue_add(pool, "argon2", 1, 1);
	SP_CHECK_INT(sp_workers_submit(pool, q, work_sleep, work_done, &st, 0), 0);
	SP_CHECK_INT(sp_workers_submit(pool, q, work_sleep, work_done, &st, 0), 0);
	/* One running, one waiting: the third is refused at once. */
	uint64_t t0 = sp_now_ms();
	SP_CHECK_INT(sp_workers_submit(pool, q, work_sleep, work_done, &st, 0), -1);
	SP_CHECK(sp_now_ms() - t0 < 50);
	struct sp_work_queue_stats stats;
	sp_workers_queue_stats(pool, q, &stats);
	SP_CHECK_INT(stats.refused, 1);
	atomic_store(&st.release, true);
	SP_CHECK(run_until(st.loop, &st.all_done, 5000));
	/* Room again after completion. */
	st.expected = 3;
	st.all_done = false;
	SP_CHECK_INT(sp_workers_submit(pool, q, work_sleep, work_done, &st, 0), 0);
	SP_CHECK(run_until(st.loop, &st.all_done, 5000));
	SP_CHECK_INT(st.status_count[SP_WORK_DONE], 3);
	sp_workers_free(&pool);
	sp_loop_free(&st.loop);
}

static int owner_obj;

static void test_workers_owner(void)
{
	struct pool_state st = {.loop = new_loop(), .sleep_ms = 30, .expected = 1};
	atomic_store(&st.release, true);
	struct sp_workers *pool = new_pool(st.loop, 1);
	struct sp_work_queue *q = sp_workers_queue_add(pool, "store", 1, 8);

	/* A live owner is handed to done_fn. */
	uint64_t id = sp_loop_owner_add(st.loop, &owner_obj);
	SP_CHECK_INT(sp_workers_submit(pool, q, work_sleep, work_done, &st, id), 0);
	SP_CHECK(run_until(st.loop, &st.all_done, 5000));
	SP_CHECK_INT(st.status_count[SP_WORK_DONE], 1);
	SP_CHECK(st.last_owner == &owner_obj);

	/* The owner closes while the job runs: the completion is dropped. */
	st.all_done = false;
	st.expected = 2;
	SP_CHECK_INT(sp_workers_submit(pool, q, work_sleep, work_done, &st, id), 0);
	sp_loop_owner_remove(st.loop, id);
	SP_CHECK(run_until(st.loop, &st.all_done, 5000));
	SP_CHECK_INT(st.status_count[SP_WORK_OWNER_GONE], 1);
	SP_CHECK(st.last_owner == NULL);
	sp_workers_free(&pool);
	sp_loop_free(&st.loop);
}

static void test_workers_cancel(void)
{
	struct pool_state st = {.loop = new_loop(), .expected = 4};
	struct sp_workers *pool = new_pool(st.loop, 1);
	struct sp_work_queue *q = sp_workers_queue_add(pool, "store", 1, 8);
	uint64_t a = sp_loop_owner_add(st.loop, &owner_obj);
	uint64_t b = sp_loop_owner_add(st.loop, &owner_obj);
	SP_CHECK_INT(sp_workers_submit(pool, q, work_sleep, work_done, &st, a), 0);
	SP_CHECK_INT(sp_workers_submit(pool, q, work_sleep, work_done, &st, b), 0);
	SP_CHECK_INT(sp_workers_submit(pool, q, work_sleep, work_done, &st, b), 0);
	SP_CHECK_INT(sp_workers_submit(pool, q, work_sleep, work_done, &st, a), 0);
	/* Wait until a's first job holds the only thread. */
	while (atomic_load(&st.work_ran) == 0)
		sleep_ms(1);
	SP_CHECK_INT(sp_workers_cancel_owner(pool, b), 2);
	atomic_store(&st.release, true);
	SP_CHECK(run_until(st.loop, &st.all_done, 5000));
	SP_CHECK_INT(st.status_count[SP_WORK_CANCELLED], 2);
	SP_CHECK_INT(st.status_count[SP_WORK_DONE], 2);
	SP_CHECK_INT(atomic_load(&st.work_ran), 2);

	/* Freeing the pool delivers jobs that never started as cancelled. */
	atomic_store(&st.release, false);
	st.expected = 7;
	st.all_done = false;
	SP_CHECK_INT(sp_workers_submit(pool, q, work_sleep, work_done, &st, 0), 0);
	SP_CHECK_INT(sp_workers_submit(pool, q, work_sleep, work_done, &st, 0), 0);
	SP_CHECK_INT(sp_workers_submit(pool, q, work_sleep, work_done, &st, 0), 0);
	while (atomic_load(&st.work_ran) == 2)
		sleep_ms(1);
	atomic_store(&st.release, true);
	sp_workers_free(&pool);
	SP_CHECK(pool == NULL);
	SP_CHECK_INT(st.done_count, 7);
	SP_CHECK_INT(st.status_count[SP_WORK_CANCELLED], 4);
	sp_loop_free(&st.loop);
}

static void test_harden(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		const char *err;
		if (sp_process_harden(&err) < 0)
			_exit(2);
		struct rlimit rl;
		if (getrlimit(RLIMIT_CORE, &rl) < 0 || rl.rlim_cur != 0 || rl.rlim_max != 0)
			_exit(3);
		if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0)
			_exit(4);
		_exit(0);
	}
	int status = 0;
	SP_CHECK(pid > 0);
	waitpid(pid, &status, 0);
	SP_CHECK(WIFEXITED(status));
	SP_CHECK_INT(WEXITSTATUS(status), 0);
}

int main(void)
{
	SP_TEST_RUN(test_timers);
	SP_TEST_RUN(test_post);
	SP_TEST_RUN(test_signals);
	SP_TEST_RUN(test_registry);
	SP_TEST_RUN(test_workers_caps);
	SP_TEST_RUN(test_workers_no_starvation);
	SP_TEST_RUN(test_workers_full);
	SP_TEST_RUN(test_workers_owner);
	SP_TEST_RUN(test_workers_cancel);
	SP_TEST_RUN(test_harden);
	return sp_test_finish();
}
