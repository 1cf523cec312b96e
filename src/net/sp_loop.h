/* The event loop: one thread owns a libevent event_base. Everything in
 * src/net except sp_loop_post(), sp_loop_stop() and the worker functions
 * runs on that thread. Timers (one-shot or periodic, restartable), signals
 * delivered as ordinary callbacks on the loop, closures posted from other
 * threads, and the registry of owner ids that worker completions use to
 * find their session (STYLE: by a 64-bit id, never by a saved pointer). */
#ifndef SP_LOOP_H
#define SP_LOOP_H

#include "lib/sp_mem.h"

struct event_base;
struct sp_loop;
struct sp_timer;

typedef void sp_loop_fn(void *ctx);
typedef void sp_signal_fn(void *ctx, int signo);

/* Creates the loop (and enables libevent's pthread locking, so posting from
 * other threads is safe). Ignores SIGPIPE for the process: a peer closing
 * mid-write must give EPIPE, not kill the server. NULL with *error_r set
 * when libevent cannot create a base. */
struct sp_loop *sp_loop_new(const char **error_r);
/* Frees signal hooks and the registry; runs still-pending posted closures
 * once so they can release their ctx (they must not post again). Free what
 * lives on the loop first, in this order: servers (sp_server_free), worker
 * pools (sp_workers_free), TLS contexts, timers. NULL ok. */
void sp_loop_free(struct sp_loop **loop);

struct event_base *sp_loop_base(struct sp_loop *loop);
/* Runs until sp_loop_stop(). 0 when stopped, -1 on a libevent error. */
int sp_loop_run(struct sp_loop *loop);
/* Makes sp_loop_run() return after the current callback; any thread. */
void sp_loop_stop(struct sp_loop *loop);
/* True when called on the thread currently inside sp_loop_run(). */
bool sp_loop_in_loop_thread(struct sp_loop *loop);

/* Queues fn(ctx) to run on the loop thread; callable from any thread,
 * including the loop thread (then it runs on a later iteration, never
 * from inside this call). Closures run in posting order. */
void sp_loop_post(struct sp_loop *loop, sp_loop_fn *fn, void *ctx);

/* Calls fn(ctx, signo) on the loop thread when signo arrives (SIGHUP for
 * reload, SIGTERM/SIGINT for shutdown). Several hooks may share a signal.
 * 0 ok, -1 with *error_r. Hooks live until sp_loop_free(). */
int sp_loop_on_signal(struct sp_loop *loop, int signo, sp_signal_fn *fn, void *ctx,
                      const char **error_r);

/* Timers: created stopped; start arms them (re-arming a running timer
 * restarts its count), stop disarms. A one-shot timer is disarmed when it
 * fires and may be started again. Freeing from inside its own callback is
 * allowed. */
struct sp_timer *sp_timer_new(struct sp_loop *loop, sp_loop_fn *fn, void *ctx);
void sp_timer_start(struct sp_timer *timer, uint64_t ms, bool periodic);
void sp_timer_stop(struct sp_timer *timer);
bool sp_timer_is_pending(const struct sp_timer *timer);
void sp_timer_free(struct sp_timer **timer);

/* Owner registry (loop thread only). An owner is anything work can finish
 * for: a connection (sp_conn registers itself), a session multiplexed on
 * one. Ids are never reused, so a stale id simply is not found.
 * sp_loop_owner_add returns the new id (never 0) for ptr. */
uint64_t sp_loop_owner_add(struct sp_loop *loop, void *ptr);
void sp_loop_owner_remove(struct sp_loop *loop, uint64_t id);
/* The pointer registered under id, or NULL once removed (or id 0). */
void *sp_loop_owner_find(struct sp_loop *loop, uint64_t id);

#endif
