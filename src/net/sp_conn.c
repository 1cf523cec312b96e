/* A client connection over libevent bufferevents: a stack of layers (the
 * socket, then TLS and other filters) with the protocol on top; deferred
 * close so handlers never see their connection vanish under them, output
 * backpressure, idle timeout, and STARTTLS that drops pipelined plaintext
 * (RFC 3207 §4.2, RFC 9051 §6.2.1; CVE-2011-0411). */
#include "net/net_private.h"
#include "net/sp_tls.h"
#include "lib/sp_log.h"
#include "lib/sp_str.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BEV_OPTS (BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS)

static struct bufferevent *conn_top(const struct sp_conn *conn)
{
	return conn->layers[conn->n_layers - 1];
}

static void conn_schedule(struct sp_conn *conn)
{
	event_active(conn->notify_ev, 0, 0);
}

static void conn_idle_arm(struct sp_conn *conn, uint64_t ms)
{
	struct timeval tv = {.tv_sec = (time_t)(ms / 1000),
	                     .tv_usec = (suseconds_t)(ms % 1000) * 1000};
	event_add(conn->idle_ev, &tv);
}

size_t sp_conn_output_pending(const struct sp_conn *conn)
{
	size_t n = 0;
	for (int i = 0; i < conn->n_layers; i++)
		n += evbuffer_get_length(bufferevent_get_output(conn->layers[i]));
	return n;
}

/* Bytes left the bottom layer (the kernel took them): progress. */
static void conn_output_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	struct sp_conn *conn = arg;
	if (info->n_deleted == 0)
		return;
	conn->last_activity = sp_now_ms();
	size_t pending = sp_conn_output_pending(conn);
	/* Direct mode: the write event was only lent for a partial write. */
	if (conn->direct && pending == 0 && (bufferevent_get_enabled(conn->layers[0]) & EV_WRITE))
		bufferevent_disable(conn->layers[0], EV_WRITE);
	if (conn->flush_close && pending == 0) {
		conn->notify_close = true;
		conn_schedule(conn);
	} else if (conn->want_drain && pending <= conn->drain_low) {
		conn->notify_drain = true;
		conn_schedule(conn);
	}
}

static void conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct sp_conn *conn = arg;
	if (conn->closing) {
		struct evbuffer *in = bufferevent_get_input(bev);
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	conn->last_activity = sp_now_ms();
	if (conn->paused || conn->h.on_read == NULL)
		return;
	conn->h.on_read(conn, conn->ctx);
}

static void conn_log_tls_errors(struct sp_conn *conn, struct bufferevent *bev)
{
	unsigned long e;
	while ((e = bufferevent_get_openssl_error(bev)) != 0) {
		char reason[160];
		ERR_error_string_n(e, reason, sizeof(reason));
		sp_log_info("net", "conn=%llu peer=%s event=tls_error reason=\"%s\"",
		            (unsigned long long)conn->id, conn->peer, reason);
	}
}

static void conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct sp_conn *conn = arg;
	if (what & BEV_EVENT_CONNECTED) {
		if (conn->tls) {
			char desc[96] = "";
			SSL *ssl = NULL;
			for (int i = conn->n_layers - 1; i >= 0 && ssl == NULL; i--)
				ssl = bufferevent_openssl_get_ssl(conn->layers[i]);
			if (ssl != NULL)
				sp_tls_ssl_describe(ssl, desc, sizeof(desc));
			sp_log_debug("net", "conn=%llu event=tls_established tls=\"%s\"",
			             (unsigned long long)conn->id, desc);
		}
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		int err = EVUTIL_SOCKET_ERROR();
		conn_log_tls_errors(conn, bev);
		if (!conn->closing)
			sp_log_debug("net", "conn=%llu event=io_error errno=%d",
			             (unsigned long long)conn->id, err);
		conn->flush_close = false;
		conn->reason = conn->closing ? conn->reason : SP_CONN_CLOSED_ERROR;
		conn->closing = true;
		conn->notify_close = true;
		conn_schedule(conn);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		if (conn->closing)
			return;
		/* The peer may only have shut down its sending side: still
		 * deliver what is queued for it. */
		conn->reason = SP_CONN_CLOSED_PEER;
		if (sp_conn_output_pending(conn) > 0) {
			sp_conn_close_after_flush(conn);
			conn->reason = SP_CONN_CLOSED_PEER;
		} else {
			conn->closing = true;
			conn->notify_close = true;
			conn_schedule(conn);
		}
	}
}

static void conn_setup_top(struct sp_conn *conn)
{
	struct bufferevent *top = conn_top(conn);
	bufferevent_setcb(top, conn_read_cb, NULL, conn_event_cb, conn);
	bufferevent_setwatermark(top, EV_READ, 0, conn->input_limit);
	for (int i = 0; i + 1 < conn->n_layers; i++) {
		bufferevent_setwatermark(conn->layers[i], EV_WRITE, 0, NET_LAYER_WRITE_HIGH);
		bufferevent_enable(conn->layers[i], EV_WRITE);
	}
	/* Layers above the socket write into it through its output buffer,
	 * which then needs libevent's write event. */
	conn->direct = conn->n_layers == 1 && !conn->tls;
	bufferevent_enable(top, EV_READ);
	if (conn->direct) /* a new bufferevent starts with EV_WRITE enabled */
		bufferevent_disable(top, EV_WRITE);
	else
		bufferevent_enable(top, EV_WRITE);
}

/* Direct mode: hands the output to the kernel now; what it does not take
 * (a full socket buffer) or an error is left to libevent's write event,
 * which reports errors through conn_event_cb as for any connection. */
static void conn_flush_direct(struct sp_conn *conn)
{
	struct evbuffer *out = bufferevent_get_output(conn->layers[0]);
	/* A socket bufferevent keeps the front of its output frozen except
	 * while it writes itself. */
	evbuffer_unfreeze(out, 1);
	while (evbuffer_get_length(out) > 0) {
		int n = evbuffer_write(out, conn->fd);
		if (n <= 0 && (n == 0 || errno != EINTR))
			break;
	}
	evbuffer_freeze(out, 1);
	if (evbuffer_get_length(out) > 0)
		bufferevent_enable(conn->layers[0], EV_WRITE);
}

static void conn_output_added(struct sp_conn *conn)
{
	if (conn->direct && !conn->notify_flush) {
		conn->notify_flush = true;
		conn_schedule(conn);
	}
}

static void conn_idle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sp_conn *conn = arg;
	if (conn->closing) {
		/* The close-after-flush linger ran out: the peer is not reading. */
		if (conn->flush_close) {
			conn->reason = SP_CONN_CLOSED_TIMEOUT;
			net_conn_destroy(conn, conn->reason);
		}
		return;
	}
	if (conn->idle_ms == 0)
		return;
	uint64_t idle = sp_now_ms() - conn->last_activity;
	if (idle < conn->idle_ms) {
		conn_idle_arm(conn, conn->idle_ms - idle);
		return;
	}
	if (conn->h.on_timeout == NULL) {
		net_conn_destroy(conn, SP_CONN_CLOSED_TIMEOUT);
		return;
	}
	conn->h.on_timeout(conn, conn->ctx);
	if (!conn->closing) {
		conn->last_activity = sp_now_ms();
		conn_idle_arm(conn, conn->idle_ms);
	} else if (conn->reason == SP_CONN_CLOSED_LOCAL) {
		conn->reason = SP_CONN_CLOSED_TIMEOUT;
	}
}

static void conn_notify_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sp_conn *conn = arg;
	if (conn->notify_flush) {
		conn->notify_flush = false;
		if (conn->direct)
			conn_flush_direct(conn);
	}
	if (conn->notify_close) {
		net_conn_destroy(conn, conn->reason);
		return;
	}
	if (conn->notify_drain) {
		conn->notify_drain = false;
		if (conn->want_drain && !conn->closing &&
		    sp_conn_output_pending(conn) <= conn->drain_low) {
			conn->want_drain = false;
			if (conn->h.on_drain != NULL)
				conn->h.on_drain(conn, conn->ctx);
		}
	}
	if (conn->notify_read) {
		conn->notify_read = false;
		if (!conn->closing && !conn->paused && conn->h.on_read != NULL &&
		    evbuffer_get_length(bufferevent_get_input(conn_top(conn))) > 0)
			conn->h.on_read(conn, conn->ctx);
	}
	/* A handler may have asked for more in the meantime. */
	if ((conn->notify_close || conn->notify_drain || conn->notify_read || conn->notify_flush) &&
	    !event_pending(conn->notify_ev, EV_TIMEOUT, NULL))
		conn_schedule(conn);
}

struct sp_conn *net_conn_new(struct sp_server *srv, const struct net_conn_params *p)
{
	struct event_base *base = net_server_base(srv);
	struct bufferevent *bev;
	if (p->implicit_tls) {
		SSL *ssl = sp_tls_ssl_new(p->tls);
		bev = bufferevent_openssl_socket_new(base, p->fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
		                                     BEV_OPTS);
		if (bev == NULL)
			SSL_free(ssl);
	} else {
		bev = bufferevent_socket_new(base, p->fd, BEV_OPTS);
	}
	if (bev == NULL) {
		close(p->fd);
		return NULL;
	}
	if (p->implicit_tls)
		bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);

	struct sp_conn *conn = sp_calloc(1, sizeof(*conn));
	conn->srv = srv;
	conn->fd = p->fd;
	conn->layers[0] = bev;
	conn->n_layers = 1;
	conn->tls = p->implicit_tls;
	conn->tls_ctx = p->tls;
	conn->counted = p->counted;
	memcpy(conn->ip_key, p->ip_key, sizeof(conn->ip_key));
	sp_strlcpy(conn->role, p->role != NULL ? p->role : "", sizeof(conn->role));
	sp_addr_format(p->peer, p->peer_len, conn->peer, sizeof(conn->peer));
	sp_addr_format_ip(p->peer, p->peer_len, conn->peer_ip, sizeof(conn->peer_ip));
	conn->is_unix = p->peer->sa_family == AF_UNIX;
	if (conn->is_unix) {
		sp_strlcpy(conn->peer, "unix", sizeof(conn->peer));
		sp_strlcpy(conn->peer_ip, "unix", sizeof(conn->peer_ip));
	}
	conn->loopback = sp_addr_is_loopback(p->peer);
	conn->input_limit = NET_INPUT_LIMIT_DEFAULT;
	conn->last_activity = sp_now_ms();
	conn->idle_ev = event_new(base, -1, 0, conn_idle_cb, conn);
	conn->notify_ev = event_new(base, -1, 0, conn_notify_cb, conn);
	sp_assert(conn->idle_ev != NULL && conn->notify_ev != NULL);
	conn->out_cb = evbuffer_add_cb(bufferevent_get_output(bev), conn_output_cb, conn);
	conn->id = sp_loop_owner_add(sp_server_loop(srv), conn);
	net_server_conn_added(srv, conn);
	conn_setup_top(conn);
	return conn;
}

static const char *const reason_names[] = {"local", "peer", "error", "timeout", "shutdown"};

void net_conn_destroy(struct sp_conn *conn, enum sp_conn_close_reason reason)
{
	sp_log_debug("net", "conn=%llu role=%s event=close reason=%s", (unsigned long long)conn->id,
	             conn->role, reason_names[reason]);
	conn->closing = true;
	sp_loop_owner_remove(sp_server_loop(conn->srv), conn->id);
	net_server_conn_gone(conn->srv, conn);
	if (conn->h.on_close != NULL)
		conn->h.on_close(conn, conn->ctx, reason);
	event_free(conn->idle_ev);
	event_free(conn->notify_ev);
	evbuffer_remove_cb_entry(bufferevent_get_output(conn->layers[0]), conn->out_cb);
	/* Each layer was created with CLOSE_ON_FREE: freeing the top frees
	 * the filters below it, the SSL and finally the socket. */
	bufferevent_free(conn_top(conn));
	free(conn);
}

void net_conn_tell_shutdown(struct sp_conn *conn)
{
	if (conn->closing)
		return;
	if (conn->h.on_shutdown != NULL)
		conn->h.on_shutdown(conn, conn->ctx);
	else
		sp_conn_close_after_flush(conn);
}

void sp_conn_set_handlers(struct sp_conn *conn, const struct sp_conn_handlers *handlers, void *ctx)
{
	conn->h = *handlers;
	conn->ctx = ctx;
	conn->handlers_set = true;
}

uint64_t sp_conn_id(const struct sp_conn *conn)
{
	return conn->id;
}

const char *sp_conn_role(const struct sp_conn *conn)
{
	return conn->role;
}

const char *sp_conn_peer(const struct sp_conn *conn)
{
	return conn->peer;
}

const char *sp_conn_peer_ip(const struct sp_conn *conn)
{
	return conn->peer_ip;
}

bool sp_conn_is_loopback(const struct sp_conn *conn)
{
	return conn->loopback;
}

bool sp_conn_is_unix(const struct sp_conn *conn)
{
	return conn->is_unix;
}

int sp_conn_peer_cred(const struct sp_conn *conn, uid_t *uid_r, gid_t *gid_r, pid_t *pid_r)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	if (!conn->is_unix || getsockopt(conn->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return -1;
	*uid_r = cred.uid;
	*gid_r = cred.gid;
	*pid_r = cred.pid;
	return 0;
}

bool sp_conn_is_tls(const struct sp_conn *conn)
{
	return conn->tls;
}

bool sp_conn_is_secure(const struct sp_conn *conn)
{
	if (conn->tls)
		return true;
	return (conn->loopback || conn->is_unix) && net_server_loopback_secure(conn->srv);
}

const char *sp_conn_tls_sni(const struct sp_conn *conn)
{
	for (int i = conn->n_layers - 1; i >= 0; i--) {
		SSL *ssl = bufferevent_openssl_get_ssl(conn->layers[i]);
		if (ssl != NULL)
			return sp_tls_ssl_sni(ssl);
	}
	return NULL;
}

bool sp_conn_can_starttls(const struct sp_conn *conn)
{
	return conn->tls_ctx != NULL && !conn->tls && !conn->closing && conn->n_layers == 1;
}

struct sp_slice sp_conn_input(struct sp_conn *conn)
{
	struct evbuffer *in = bufferevent_get_input(conn_top(conn));
	size_t len = evbuffer_get_length(in);
	if (len == 0)
		return (struct sp_slice){(const uint8_t *)"", 0};
	return (struct sp_slice){evbuffer_pullup(in, -1), len};
}

void sp_conn_consume(struct sp_conn *conn, size_t n)
{
	struct evbuffer *in = bufferevent_get_input(conn_top(conn));
	evbuffer_drain(in, SP_MIN(n, evbuffer_get_length(in)));
}

void sp_conn_set_input_limit(struct sp_conn *conn, size_t limit)
{
	conn->input_limit = limit;
	bufferevent_setwatermark(conn_top(conn), EV_READ, 0, limit);
}

/* Reading goes on while paused (up to input_limit), so a client that
 * hangs up during a worker job is noticed and the job's completion finds
 * its connection gone. */
void sp_conn_pause_input(struct sp_conn *conn)
{
	conn->paused = true;
}

void sp_conn_resume_input(struct sp_conn *conn)
{
	if (!conn->paused || conn->closing)
		return;
	conn->paused = false;
	if (evbuffer_get_length(bufferevent_get_input(conn_top(conn))) > 0) {
		conn->notify_read = true;
		conn_schedule(conn);
	}
}

void sp_conn_write(struct sp_conn *conn, const void *data, size_t len)
{
	if (conn->closing || len == 0)
		return;
	bufferevent_write(conn_top(conn), data, len);
	conn_output_added(conn);
}

void sp_conn_write_str(struct sp_conn *conn, const char *s)
{
	sp_conn_write(conn, s, strlen(s));
}

void sp_conn_write_buf(struct sp_conn *conn, const struct sp_buf *b)
{
	sp_conn_write(conn, b->data, b->len);
}

void sp_conn_printf(struct sp_conn *conn, const char *fmt, ...)
{
	if (conn->closing)
		return;
	va_list ap;
	va_start(ap, fmt);
	evbuffer_add_vprintf(bufferevent_get_output(conn_top(conn)), fmt, ap);
	va_end(ap);
	conn_output_added(conn);
}

void sp_conn_want_drain(struct sp_conn *conn, size_t low)
{
	conn->want_drain = true;
	conn->drain_low = low;
	if (sp_conn_output_pending(conn) <= low) {
		conn->notify_drain = true;
		conn_schedule(conn);
	}
}

int sp_conn_starttls(struct sp_conn *conn, const char **error_r)
{
	if (conn->closing) {
		*error_r = "connection is closing";
		return -1;
	}
	if (conn->tls) {
		*error_r = "TLS is already active";
		return -1;
	}
	if (conn->tls_ctx == NULL) {
		*error_r = "TLS is not configured for this listener";
		return -1;
	}
	if (conn->n_layers != 1) {
		*error_r = "cannot start TLS below a filter";
		return -1;
	}
	struct bufferevent *under = conn->layers[0];
	/* CVE-2011-0411: whatever the client pipelined after STARTTLS arrived
	 * in plaintext and must never be read as if it came over TLS. */
	struct evbuffer *in = bufferevent_get_input(under);
	evbuffer_drain(in, evbuffer_get_length(in));
	SSL *ssl = sp_tls_ssl_new(conn->tls_ctx);
	struct bufferevent *top = bufferevent_openssl_filter_new(
	    net_server_base(conn->srv), under, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPTS);
	if (top == NULL) {
		SSL_free(ssl);
		*error_r = "cannot create the TLS layer";
		return -1;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(top, 1);
	conn->layers[conn->n_layers++] = top;
	conn->tls = true;
	conn_setup_top(conn);
	return 0;
}

void sp_conn_set_idle_timeout(struct sp_conn *conn, uint64_t ms)
{
	conn->idle_ms = ms;
	if (conn->closing)
		return;
	if (ms == 0) {
		event_del(conn->idle_ev);
		return;
	}
	conn->last_activity = sp_now_ms();
	conn_idle_arm(conn, ms);
}

void sp_conn_close(struct sp_conn *conn)
{
	if (conn->closing && !conn->flush_close)
		return;
	if (!conn->closing)
		conn->reason = SP_CONN_CLOSED_LOCAL;
	conn->closing = true;
	conn->flush_close = false;
	bufferevent_disable(conn_top(conn), EV_READ);
	conn->notify_close = true;
	conn_schedule(conn);
}

void sp_conn_close_after_flush(struct sp_conn *conn)
{
	if (conn->closing)
		return;
	conn->reason = SP_CONN_CLOSED_LOCAL;
	conn->closing = true;
	conn->flush_close = true;
	bufferevent_disable(conn_top(conn), EV_READ);
	if (sp_conn_output_pending(conn) == 0) {
		conn->notify_close = true;
		conn_schedule(conn);
		return;
	}
	event_del(conn->idle_ev);
	conn_idle_arm(conn, NET_LINGER_MS);
}

bool sp_conn_is_closing(const struct sp_conn *conn)
{
	return conn->closing;
}

int sp_conn_push_filter(struct sp_conn *conn, bufferevent_filter_cb in_fn,
                        bufferevent_filter_cb out_fn, void *ctx, void (*free_ctx)(void *ctx),
                        const char **error_r)
{
	if (conn->closing) {
		*error_r = "connection is closing";
		return -1;
	}
	if (conn->n_layers >= NET_CONN_MAX_LAYERS) {
		*error_r = "too many filters";
		return -1;
	}
	struct bufferevent *under = conn_top(conn);
	struct bufferevent *top =
	    bufferevent_filter_new(under, in_fn, out_fn, BEV_OPTS, free_ctx, ctx);
	if (top == NULL) {
		*error_r = "cannot create the filter layer";
		return -1;
	}
	conn->layers[conn->n_layers++] = top;
	conn_setup_top(conn);
	/* Input that arrived before the filter existed must go through it. */
	if (evbuffer_get_length(bufferevent_get_input(under)) > 0)
		bufferevent_trigger(under, EV_READ,
		                    BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
	return 0;
}
