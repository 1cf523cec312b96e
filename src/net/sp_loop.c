/* The event loop (libevent 2.1 event_base), its timers, signal hooks,
 * cross-thread posting and the owner-id registry. */
#include "net/sp_loop.h"
#include "net/net_map.h"

#include <event2/event.h>
#include <event2/thread.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>

struct post_item {
	sp_loop_fn *fn;
	void *ctx;
	struct post_item *next;
};

struct signal_hook {
	struct event *ev;
	sp_signal_fn *fn;
	void *ctx;
	int signo;
	struct signal_hook *next;
};

struct sp_loop {
	struct event_base *base;

	pthread_mutex_t post_lock;
	struct post_item *post_head, *post_tail;
	struct event *post_ev;

	struct signal_hook *signals;

	struct net_map owners;
	uint64_t next_owner_id;
};

struct sp_timer {
	struct event *ev;
	sp_loop_fn *fn;
	void *ctx;
	uint64_t ms;
	bool periodic;
};

static pthread_once_t evthread_once = PTHREAD_ONCE_INIT;
static int evthread_rc;

static void evthread_init(void)
{
	evthread_rc = evthread_use_pthreads();
}

static void post_run(evutil_socket_t fd, short what, void *arg)
{
	struct sp_loop *loop = arg;
	pthread_mutex_lock(&loop->post_lock);
	struct post_item *list = loop->post_head;
	loop->post_head = loop->post_tail = NULL;
	pthread_mutex_unlock(&loop->post_lock);
	while (list != NULL) {
		struct post_item *item = list;
		list = item->next;
		item->fn(item->ctx);
		free(item);
	}
}

struct sp_loop *sp_loop_new(const char **error_r)
{
	pthread_once(&evthread_once, evthread_init);
	if (evthread_rc != 0) {
		*error_r = "libevent has no pthread support";
		return NULL;
	}
	/* A write to a socket the peer closed must fail with EPIPE. */
	signal(SIGPIPE, SIG_IGN);

	struct event_config *cfg = event_config_new();
	if (cfg == NULL) {
		*error_r = "event_config_new failed";
		return NULL;
	}
	struct event_base *base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	if (base == NULL) {
		*error_r = "event_base_new failed";
		return NULL;
	}
	struct sp_loop *loop = sp_calloc(1, sizeof(*loop));
	loop->base = base;
	pthread_mutex_init(&loop->post_lock, NULL);
	loop->post_ev = event_new(base, -1, 0, post_run, loop);
	sp_assert(loop->post_ev != NULL);
	net_map_init(&loop->owners);
	loop->next_owner_id = 1;
	return loop;
}

void sp_loop_free(struct sp_loop **loopp)
{
	struct sp_loop *loop = *loopp;
	if (loop == NULL)
		return;
	/* libevent finalizes freed bufferevents through deferred callbacks;
	 * let those run, or event_base_free would cancel them and leak. */
	for (int i = 0; i < 16; i++) {
		if (event_base_get_num_events(loop->base, EVENT_BASE_COUNT_ACTIVE) == 0)
			break;
		event_base_loop(loop->base, EVLOOP_NONBLOCK);
	}
	/* Posted closures own their ctx: run them so it is released. */
	post_run(-1, 0, loop);
	while (loop->signals != NULL) {
		struct signal_hook *h = loop->signals;
		loop->signals = h->next;
		event_free(h->ev);
		free(h);
	}
	event_free(loop->post_ev);
	net_map_deinit(&loop->owners);
	pthread_mutex_destroy(&loop->post_lock);
	event_base_free(loop->base);
	free(loop);
	*loopp = NULL;
}

struct event_base *sp_loop_base(struct sp_loop *loop)
{
	return loop->base;
}

/* The loop this thread is running, so any thread can ask without a race. */
static _Thread_local struct sp_loop *current_loop;

int sp_loop_run(struct sp_loop *loop)
{
	struct sp_loop *outer = current_loop;
	current_loop = loop;
	int rc = event_base_loop(loop->base, EVLOOP_NO_EXIT_ON_EMPTY);
	current_loop = outer;
	return rc < 0 ? -1 : 0;
}

void sp_loop_stop(struct sp_loop *loop)
{
	event_base_loopbreak(loop->base);
}

bool sp_loop_in_loop_thread(struct sp_loop *loop)
{
	return current_loop == loop;
}

void sp_loop_post(struct sp_loop *loop, sp_loop_fn *fn, void *ctx)
{
	struct post_item *item = sp_malloc(sizeof(*item));
	item->fn = fn;
	item->ctx = ctx;
	item->next = NULL;
	pthread_mutex_lock(&loop->post_lock);
	bool was_empty = loop->post_head == NULL;
	if (loop->post_tail != NULL)
		loop->post_tail->next = item;
	else
		loop->post_head = item;
	loop->post_tail = item;
	pthread_mutex_unlock(&loop->post_lock);
	/* event_active is thread-safe once evthread_use_pthreads ran before
	 * the base was created; it wakes the loop through its notify fd. */
	if (was_empty)
		event_active(loop->post_ev, 0, 0);
}

static void signal_run(evutil_socket_t fd, short what, void *arg)
{
	struct signal_hook *h = arg;
	h->fn(h->ctx, h->signo);
}

int sp_loop_on_signal(struct sp_loop *loop, int signo, sp_signal_fn *fn, void *ctx,
                      const char **error_r)
{
	struct signal_hook *h = sp_calloc(1, sizeof(*h));
	h->fn = fn;
	h->ctx = ctx;
	h->signo = signo;
	h->ev = evsignal_new(loop->base, signo, signal_run, h);
	if (h->ev == NULL || event_add(h->ev, NULL) < 0) {
		if (h->ev != NULL)
			event_free(h->ev);
		free(h);
		*error_r = "cannot install the signal handler";
		return -1;
	}
	h->next = loop->signals;
	loop->signals = h;
	return 0;
}

static void timer_run(evutil_socket_t fd, short what, void *arg)
{
	struct sp_timer *t = arg;
	t->fn(t->ctx);
}

struct sp_timer *sp_timer_new(struct sp_loop *loop, sp_loop_fn *fn, void *ctx)
{
	struct sp_timer *t = sp_calloc(1, sizeof(*t));
	t->fn = fn;
	t->ctx = ctx;
	t->ev = event_new(loop->base, -1, 0, timer_run, t);
	sp_assert(t->ev != NULL);
	return t;
}

void sp_timer_start(struct sp_timer *t, uint64_t ms, bool periodic)
{
	event_del(t->ev);
	if (periodic != t->periodic) {
		/* EV_PERSIST is fixed at creation: make a new event. */
		struct event_base *base = event_get_base(t->ev);
		event_free(t->ev);
		t->ev = event_new(base, -1, periodic ? EV_PERSIST : 0, timer_run, t);
		sp_assert(t->ev != NULL);
		t->periodic = periodic;
	}
	t->ms = ms;
	struct timeval tv = {.tv_sec = (time_t)(ms / 1000),
	                     .tv_usec = (suseconds_t)(ms % 1000) * 1000};
	event_add(t->ev, &tv);
}

void sp_timer_stop(struct sp_timer *t)
{
	event_del(t->ev);
}

bool sp_timer_is_pending(const struct sp_timer *t)
{
	return event_pending(t->ev, EV_TIMEOUT, NULL) != 0;
}

void sp_timer_free(struct sp_timer **tp)
{
	struct sp_timer *t = *tp;
	if (t == NULL)
		return;
	event_free(t->ev);
	free(t);
	*tp = NULL;
}

uint64_t sp_loop_owner_add(struct sp_loop *loop, void *ptr)
{
	uint8_t key[NET_MAP_KEY_LEN];
	uint64_t id = loop->next_owner_id++;
	net_map_key_u64(key, id);
	*net_map_insert(&loop->owners, key) = ptr;
	return id;
}

void sp_loop_owner_remove(struct sp_loop *loop, uint64_t id)
{
	uint8_t key[NET_MAP_KEY_LEN];
	net_map_key_u64(key, id);
	net_map_remove(&loop->owners, key);
}

void *sp_loop_owner_find(struct sp_loop *loop, uint64_t id)
{
	uint8_t key[NET_MAP_KEY_LEN];
	if (id == 0)
		return NULL;
	net_map_key_u64(key, id);
	void **slot = net_map_find(&loop->owners, key);
	return slot != NULL ? *slot : NULL;
}
