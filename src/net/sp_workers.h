/* A fixed pool of threads for blocking work (SQLite, Argon2id, DNS), never
 * run on the event loop. Jobs go to named queues, each with its own cap on
 * concurrently running jobs and on jobs waiting, so e.g. an "argon2" queue
 * capped at 1 cannot starve the "store" queue of the other core, and a full
 * queue refuses at once (the protocol answers "try later").
 *
 * work_fn(ctx) runs on a worker thread; done_fn(ctx, owner, status) runs
 * later on the loop thread and always exactly once per accepted job, so it
 * is the place to free ctx. The owner is found by id in the loop's owner
 * registry (sp_loop_owner_*; sp_conn_id() for a connection): if it went
 * away meanwhile, done_fn gets SP_WORK_OWNER_GONE and owner NULL. */
#ifndef SP_WORKERS_H
#define SP_WORKERS_H

#include "net/sp_loop.h"

struct sp_workers;
struct sp_work_queue;

enum sp_work_status {
	SP_WORK_DONE,       /* work_fn ran; owner is live (or owner_id was 0) */
	SP_WORK_OWNER_GONE, /* work_fn ran, but the owner closed meanwhile */
	SP_WORK_CANCELLED,  /* work_fn never ran (owner cancelled, pool freed) */
};

typedef void sp_work_fn(void *ctx);
typedef void sp_work_done_fn(void *ctx, void *owner, enum sp_work_status status);

/* Starts nthreads (>= 1) worker threads. Returns NULL with *error_r when a
 * thread cannot be created. */
struct sp_workers *sp_workers_new(struct sp_loop *loop, unsigned nthreads, const char **error_r);
/* Loop thread. Waits for running jobs, then calls every outstanding
 * done_fn (not-started jobs get SP_WORK_CANCELLED) before returning. */
void sp_workers_free(struct sp_workers **pool);

/* Adds a queue: at most max_running of its jobs run at once (>= 1) and at
 * most max_waiting wait to start (0 = refuse whenever all run slots are
 * busy). The queue lives as long as the pool. name is copied. */
struct sp_work_queue *sp_workers_queue_add(struct sp_workers *pool, const char *name,
                                           unsigned max_running, unsigned max_waiting);
/* The queue called name, or NULL. */
struct sp_work_queue *sp_workers_queue_find(struct sp_workers *pool, const char *name);

/* Loop thread. Queues the job; 0 on success, -1 when the queue is full
 * (then neither function is ever called and ctx stays the caller's).
 * owner_id 0 means no owner: done_fn then always gets SP_WORK_DONE. */
int sp_workers_submit(struct sp_workers *pool, struct sp_work_queue *queue, sp_work_fn *work_fn,
                      sp_work_done_fn *done_fn, void *ctx, uint64_t owner_id);

/* Loop thread. Removes the owner's jobs that have not started; their
 * done_fn is called (later, on the loop) with SP_WORK_CANCELLED. Returns
 * how many were cancelled. Jobs already running finish normally. */
unsigned sp_workers_cancel_owner(struct sp_workers *pool, uint64_t owner_id);

struct sp_work_queue_stats {
	unsigned running, waiting;
	uint64_t submitted, refused, completed;
};
void sp_workers_queue_stats(struct sp_workers *pool, struct sp_work_queue *queue,
                            struct sp_work_queue_stats *stats_r);

#endif
