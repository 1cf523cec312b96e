/* One client connection, as a protocol sees it (loop thread only).
 *
 * Input: on_read is called when bytes arrived. sp_conn_input() gives all
 * buffered input as one slice (valid until sp_conn_consume(),
 * sp_conn_starttls(), sp_conn_push_filter() or the callback's return); the protocol parses what it
 * can and calls sp_conn_consume() for the bytes it used, leaving a partial command for the next
 * on_read. At most input_limit bytes are buffered (default 64 KiB): beyond that reading stops until
 * the protocol consumes, so a parser that cannot progress must fail on its own line limit. While a
 * command waits for a worker, sp_conn_pause_input(): on_read is not called
 * (input still buffers up to the limit, and a hang-up is still noticed);
 * resuming re-runs on_read if input is buffered. End of input from the
 * peer closes the connection once queued output is flushed, even when
 * buffered commands were not yet parsed.
 *
 * Output is queued (sp_conn_write*) and written as the socket allows. To
 * stream a large payload (a 50 MB FETCH) write a chunk at a time while
 * sp_conn_output_pending() is below a bound, then sp_conn_want_drain() and
 * continue in on_drain: memory stays bounded by a slow reader.
 *
 * Closing: sp_conn_close() now (queued output is dropped) or
 * sp_conn_close_after_flush() (input ignored from then on; bounded by the
 * 10 s linger). on_close is called exactly once, always from the loop and
 * never from inside an sp_conn_* call, for every way a connection ends;
 * after it returns the sp_conn is freed. Handlers must not keep the
 * pointer beyond that: work finishing later finds its session through
 * sp_conn_id() and the owner registry (sp_workers.h). */
#ifndef SP_CONN_H
#define SP_CONN_H

#include "lib/sp_buf.h"

#include <event2/bufferevent.h>
#include <sys/types.h>

struct sp_conn;
struct sp_server;
struct sp_tls;

enum sp_conn_close_reason {
	SP_CONN_CLOSED_LOCAL,    /* the protocol closed it */
	SP_CONN_CLOSED_PEER,     /* the client closed it (EOF) */
	SP_CONN_CLOSED_ERROR,    /* I/O or TLS error */
	SP_CONN_CLOSED_TIMEOUT,  /* idle timeout or close-after-flush linger */
	SP_CONN_CLOSED_SHUTDOWN, /* server shutdown bound reached or server freed */
};

struct sp_conn_handlers {
	void (*on_read)(struct sp_conn *conn, void *ctx);
	/* Requested by sp_conn_want_drain(): output fell to the watermark. */
	void (*on_drain)(struct sp_conn *conn, void *ctx);
	/* Idle timeout. NULL: the connection is closed (TIMEOUT). Otherwise
	 * the protocol says goodbye and closes it; if it does neither, the
	 * timer is re-armed. */
	void (*on_timeout)(struct sp_conn *conn, void *ctx);
	/* Server shutdown started: finish the command in flight if it can,
	 * say goodbye ("* BYE"), then close (after flush). NULL: close after
	 * flush at once. Connections still open at the bound are closed. */
	void (*on_shutdown)(struct sp_conn *conn, void *ctx);
	/* Last call; free the session here. Must not write. */
	void (*on_close)(struct sp_conn *conn, void *ctx, enum sp_conn_close_reason reason);
};

/* Sets the handlers (copied) and their ctx; normally from on_accept. */
void sp_conn_set_handlers(struct sp_conn *conn, const struct sp_conn_handlers *handlers, void *ctx);

/* Identity. The id is never reused; it is the owner id for worker jobs and
 * the "conn=" of log lines. Strings live as long as the connection. */
uint64_t sp_conn_id(const struct sp_conn *conn);
const char *sp_conn_role(const struct sp_conn *conn); /* the listener's role */
const char *sp_conn_peer(const struct sp_conn *conn); /* "192.0.2.1:5123", "[::1]:5123", "unix" */
const char *sp_conn_peer_ip(const struct sp_conn *conn); /* "192.0.2.1", "::1", "unix" */
bool sp_conn_is_loopback(const struct sp_conn *conn);
bool sp_conn_is_unix(const struct sp_conn *conn);
/* Unix peers only: the peer's credentials (SO_PEERCRED). -1 otherwise. */
int sp_conn_peer_cred(const struct sp_conn *conn, uid_t *uid_r, gid_t *gid_r, pid_t *pid_r);
/* TLS is active (implicit, or STARTTLS was started). */
bool sp_conn_is_tls(const struct sp_conn *conn);
/* A secure channel: TLS, or loopback/Unix unless the server config says
 * loopback_insecure (DESIGN section 8: plaintext AUTH allowed there). */
bool sp_conn_is_secure(const struct sp_conn *conn);
/* After the handshake: the SNI name the client asked for, or NULL. */
const char *sp_conn_tls_sni(const struct sp_conn *conn);
/* STARTTLS is possible: the listener has TLS and it is not active yet. */
bool sp_conn_can_starttls(const struct sp_conn *conn);

/* Input. */
struct sp_slice sp_conn_input(struct sp_conn *conn);
void sp_conn_consume(struct sp_conn *conn, size_t n);
void sp_conn_set_input_limit(struct sp_conn *conn, size_t limit);
void sp_conn_pause_input(struct sp_conn *conn);
void sp_conn_resume_input(struct sp_conn *conn);

/* Output. Writes after a close request are ignored. */
void sp_conn_write(struct sp_conn *conn, const void *data, size_t len);
void sp_conn_write_str(struct sp_conn *conn, const char *s);
/* Queues b's bytes (copied; b is left untouched). */
void sp_conn_write_buf(struct sp_conn *conn, const struct sp_buf *b);
void sp_conn_printf(struct sp_conn *conn, const char *fmt, ...) SP_PRINTF(2, 3);
/* Bytes queued and not yet handed to the kernel, across all layers. */
size_t sp_conn_output_pending(const struct sp_conn *conn);
/* Requests one on_drain call once output_pending <= low (on a later loop
 * iteration, even when it already is). */
void sp_conn_want_drain(struct sp_conn *conn, size_t low);

/* Upgrades to TLS in place with the listener's TLS contexts. Call after
 * queueing the protocol's "ready" reply, which is still sent in plaintext.
 * Every byte the client sent after the STARTTLS command and that is
 * already buffered is discarded (CVE-2011-0411, command injection): the
 * protocol must treat the TLS session as a fresh start. 0 ok, -1 with
 * *error_r (no TLS configured, already TLS, filter in place). Input is
 * empty afterwards: stop parsing the current buffer. */
int sp_conn_starttls(struct sp_conn *conn, const char **error_r);

/* Idle timeout: the time without input and without output progress after
 * which on_timeout runs. 0 disables. */
void sp_conn_set_idle_timeout(struct sp_conn *conn, uint64_t ms);

void sp_conn_close(struct sp_conn *conn);
void sp_conn_close_after_flush(struct sp_conn *conn);
bool sp_conn_is_closing(const struct sp_conn *conn);

/* Seam for COMPRESS=DEFLATE (RFC 4978) and similar: stacks a libevent
 * filter bufferevent between the protocol and the current transport.
 * in_fn transforms received bytes, out_fn bytes to send (libevent's
 * bufferevent_filter_cb); free_ctx(ctx) runs when the connection is freed.
 * Input already buffered is fed through the new filter. 0 ok, -1 with
 * *error_r. The filter's own buffered output counts in output_pending. */
int sp_conn_push_filter(struct sp_conn *conn, bufferevent_filter_cb in_fn,
                        bufferevent_filter_cb out_fn, void *ctx, void (*free_ctx)(void *ctx),
                        const char **error_r);

#endif
