/* The worker pool: threads take jobs from bounded per-queue lists under one
 * mutex, honouring each queue's running cap, and hand finished jobs back to
 * the loop through an event activated from the worker thread. */
#include "net/sp_workers.h"
#include "lib/sp_log.h"
#include "lib/sp_str.h"

#include <event2/event.h>
#include <pthread.h>
#include <string.h>

struct job {
	sp_work_fn *work;
	sp_work_done_fn *done;
	void *ctx;
	uint64_t owner;
	struct sp_work_queue *queue;
	bool cancelled;
	struct job *next;
};

struct job_list {
	struct job *head, *tail;
};

struct sp_work_queue {
	char name[32];
	unsigned max_running, max_waiting;
	unsigned running, waiting;
	struct job_list jobs;
	uint64_t submitted, refused, completed;
	struct sp_work_queue *next;
};

struct sp_workers {
	struct sp_loop *loop;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stopping;
	pthread_t *threads;
	unsigned nthreads;
	struct sp_work_queue *queues;
	struct sp_work_queue *next_pick; /* round-robin start for fairness */
	struct job_list finished;
	struct event *done_ev;
};

static void list_push(struct job_list *l, struct job *j)
{
	j->next = NULL;
	if (l->tail != NULL)
		l->tail->next = j;
	else
		l->head = j;
	l->tail = j;
}

static struct job *list_pop(struct job_list *l)
{
	struct job *j = l->head;
	if (j != NULL) {
		l->head = j->next;
		if (l->head == NULL)
			l->tail = NULL;
	}
	return j;
}

/* Under lock: the next job some queue may start, round-robin over queues. */
static struct job *pick_job(struct sp_workers *pool)
{
	struct sp_work_queue *start = pool->next_pick != NULL ? pool->next_pick : pool->queues;
	struct sp_work_queue *q = start;
	if (q == NULL)
		return NULL;
	do {
		if (q->jobs.head != NULL && q->running < q->max_running) {
			pool->next_pick = q->next;
			q->running++;
			q->waiting--;
			return list_pop(&q->jobs);
		}
		q = q->next != NULL ? q->next : pool->queues;
	} while (q != start);
	return NULL;
}

/* Under lock: hands j to the loop thread. */
static void finish_job(struct sp_workers *pool, struct job *j)
{
	bool was_empty = pool->finished.head == NULL;
	list_push(&pool->finished, j);
	if (was_empty)
		event_active(pool->done_ev, 0, 0);
}

static void *worker_main(void *arg)
{
	struct sp_workers *pool = arg;
	pthread_mutex_lock(&pool->lock);
	while (!pool->stopping) {
		struct job *j = pick_job(pool);
		if (j == NULL) {
			pthread_cond_wait(&pool->cond, &pool->lock);
			continue;
		}
		pthread_mutex_unlock(&pool->lock);
		j->work(j->ctx);
		pthread_mutex_lock(&pool->lock);
		j->queue->running--;
		finish_job(pool, j);
		/* A job of this queue may have been held back by its cap. */
		if (j->queue->jobs.head != NULL)
			pthread_cond_signal(&pool->cond);
	}
	pthread_mutex_unlock(&pool->lock);
	return NULL;
}

static void deliver_finished(struct sp_workers *pool)
{
	pthread_mutex_lock(&pool->lock);
	struct job_list list = pool->finished;
	pool->finished.head = pool->finished.tail = NULL;
	pthread_mutex_unlock(&pool->lock);
	struct job *j;
	while ((j = list_pop(&list)) != NULL) {
		void *owner = NULL;
		enum sp_work_status status = SP_WORK_DONE;
		if (j->cancelled) {
			status = SP_WORK_CANCELLED;
		} else if (j->owner != 0) {
			owner = sp_loop_owner_find(pool->loop, j->owner);
			if (owner == NULL)
				status = SP_WORK_OWNER_GONE;
		}
		pthread_mutex_lock(&pool->lock);
		j->queue->completed++;
		pthread_mutex_unlock(&pool->lock);
		j->done(j->ctx, owner, status);
		free(j);
	}
}

static void done_event(evutil_socket_t fd, short what, void *arg)
{
	deliver_finished(arg);
}

struct sp_workers *sp_workers_new(struct sp_loop *loop, unsigned nthreads, const char **error_r)
{
	sp_assert(nthreads >= 1);
	struct sp_workers *pool = sp_calloc(1, sizeof(*pool));
	pool->loop = loop;
	pthread_mutex_init(&pool->lock, NULL);
	pthread_cond_init(&pool->cond, NULL);
	pool->done_ev = event_new(sp_loop_base(loop), -1, 0, done_event, pool);
	sp_assert(pool->done_ev != NULL);
	pool->threads = sp_calloc(nthreads, sizeof(*pool->threads));
	for (unsigned i = 0; i < nthreads; i++) {
		if (pthread_create(&pool->threads[i], NULL, worker_main, pool) != 0) {
			*error_r = "cannot create a worker thread";
			sp_workers_free(&pool);
			return NULL;
		}
		pool->nthreads++;
	}
	return pool;
}

void sp_workers_free(struct sp_workers **poolp)
{
	struct sp_workers *pool = *poolp;
	if (pool == NULL)
		return;
	pthread_mutex_lock(&pool->lock);
	pool->stopping = true;
	pthread_cond_broadcast(&pool->cond);
	pthread_mutex_unlock(&pool->lock);
	for (unsigned i = 0; i < pool->nthreads; i++)
		pthread_join(pool->threads[i], NULL);
	/* No worker runs now: cancel what never started, deliver everything. */
	for (struct sp_work_queue *q = pool->queues; q != NULL; q = q->next) {
		struct job *j;
		while ((j = list_pop(&q->jobs)) != NULL) {
			j->cancelled = true;
			q->waiting--;
			list_push(&pool->finished, j);
		}
	}
	deliver_finished(pool);
	while (pool->queues != NULL) {
		struct sp_work_queue *q = pool->queues;
		pool->queues = q->next;
		free(q);
	}
	event_free(pool->done_ev);
	free(pool->threads);
	pthread_cond_destroy(&pool->cond);
	pthread_mutex_destroy(&pool->lock);
	free(pool);
	*poolp = NULL;
}

struct sp_work_queue *sp_workers_queue_add(struct sp_workers *pool, const char *name,
                                           unsigned max_running, unsigned max_waiting)
{
	sp_assert(max_running >= 1);
	struct sp_work_queue *q = sp_calloc(1, sizeof(*q));
	sp_strlcpy(q->name, name, sizeof(q->name));
	q->max_running = max_running;
	q->max_waiting = max_waiting;
	pthread_mutex_lock(&pool->lock);
	struct sp_work_queue **tail = &pool->queues;
	while (*tail != NULL)
		tail = &(*tail)->next;
	*tail = q;
	pthread_mutex_unlock(&pool->lock);
	return q;
}

struct sp_work_queue *sp_workers_queue_find(struct sp_workers *pool, const char *name)
{
	for (struct sp_work_queue *q = pool->queues; q != NULL; q = q->next) {
		if (strcmp(q->name, name) == 0)
			return q;
	}
	return NULL;
}

int sp_workers_submit(struct sp_workers *pool, struct sp_work_queue *q, sp_work_fn *work_fn,
                      sp_work_done_fn *done_fn, void *ctx, uint64_t owner_id)
{
	pthread_mutex_lock(&pool->lock);
	/* Accepted and unfinished jobs never exceed max_running + max_waiting. */
	if (q->running + q->waiting >= q->max_running + q->max_waiting || pool->stopping) {
		q->refused++;
		pthread_mutex_unlock(&pool->lock);
		return -1;
	}
	struct job *j = sp_calloc(1, sizeof(*j));
	j->work = work_fn;
	j->done = done_fn;
	j->ctx = ctx;
	j->owner = owner_id;
	j->queue = q;
	list_push(&q->jobs, j);
	q->waiting++;
	q->submitted++;
	if (q->running < q->max_running)
		pthread_cond_signal(&pool->cond);
	pthread_mutex_unlock(&pool->lock);
	return 0;
}

unsigned sp_workers_cancel_owner(struct sp_workers *pool, uint64_t owner_id)
{
	unsigned n = 0;
	if (owner_id == 0)
		return 0;
	pthread_mutex_lock(&pool->lock);
	for (struct sp_work_queue *q = pool->queues; q != NULL; q = q->next) {
		struct job_list keep = {NULL, NULL};
		struct job *j;
		while ((j = list_pop(&q->jobs)) != NULL) {
			if (j->owner != owner_id) {
				list_push(&keep, j);
				continue;
			}
			j->cancelled = true;
			q->waiting--;
			finish_job(pool, j);
			n++;
		}
		q->jobs = keep;
	}
	pthread_mutex_unlock(&pool->lock);
	return n;
}

void sp_workers_queue_stats(struct sp_workers *pool, struct sp_work_queue *q,
                            struct sp_work_queue_stats *stats_r)
{
	pthread_mutex_lock(&pool->lock);
	stats_r->running = q->running;
	stats_r->waiting = q->waiting;
	stats_r->submitted = q->submitted;
	stats_r->refused = q->refused;
	stats_r->completed = q->completed;
	pthread_mutex_unlock(&pool->lock);
}
