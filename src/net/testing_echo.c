/* The echo protocol and blocking clients used by the src/net tests. */
#include "net/testing_echo.h"
#include "lib/sp_str.h"
#include "net/sp_addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define BIG_CHUNK (16 * 1024)
#define BIG_HIGH (64 * 1024)

struct session {
	struct echo_server *es;
	struct sp_conn *conn;
	uint64_t big_left, big_pos;
	bool stubborn;
};

void echo_sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

bool echo_wait_int(atomic_int *v, int want, unsigned ms)
{
	uint64_t end = sp_now_ms() + ms;
	while (atomic_load(v) != want) {
		if (sp_now_ms() >= end)
			return false;
		echo_sleep_ms(2);
	}
	return true;
}

static void big_pump(struct session *s)
{
	uint8_t chunk[BIG_CHUNK];
	while (s->big_left > 0 && sp_conn_output_pending(s->conn) < BIG_HIGH) {
		size_t n = (size_t)SP_MIN((uint64_t)sizeof(chunk), s->big_left);
		for (size_t i = 0; i < n; i++)
			chunk[i] = (uint8_t)('a' + (s->big_pos + i) % 26);
		sp_conn_write(s->conn, chunk, n);
		s->big_pos += n;
		s->big_left -= n;
		size_t pending = sp_conn_output_pending(s->conn);
		size_t m = atomic_load(&s->es->max_pending);
		if (pending > m)
			atomic_store(&s->es->max_pending, pending);
	}
	if (s->big_left > 0)
		sp_conn_want_drain(s->conn, BIG_CHUNK);
	else
		sp_conn_write_str(s->conn, "END\r\n");
}

static void on_drain(struct sp_conn *conn, void *ctx)
{
	struct session *s = ctx;
	atomic_fetch_add(&s->es->drain_calls, 1);
	big_pump(s);
}

struct work {
	unsigned ms;
	uint64_t conn_id;
	struct echo_server *es;
};

static void work_run(void *ctx)
{
	struct work *w = ctx;
	echo_sleep_ms(w->ms);
}

static void work_done(void *ctx, void *owner, enum sp_work_status status)
{
	struct work *w = ctx;
	if (status == SP_WORK_DONE) {
		struct sp_conn *conn = owner;
		atomic_fetch_add(&w->es->work_done, 1);
		sp_conn_write_str(conn, "WORKED\r\n");
		sp_conn_resume_input(conn);
	} else {
		atomic_fetch_add(&w->es->work_gone, 1);
	}
	free(w);
}

static enum bufferevent_filter_result upper_out(struct evbuffer *src, struct evbuffer *dst,
                                                ev_ssize_t limit, enum bufferevent_flush_mode mode,
                                                void *ctx)
{
	uint8_t buf[4096];
	int n;
	while ((n = evbuffer_remove(src, buf, sizeof(buf))) > 0) {
		for (int i = 0; i < n; i++)
			buf[i] = sp_ascii_upper(buf[i]);
		evbuffer_add(dst, buf, (size_t)n);
	}
	return BEV_OK;
}

static enum bufferevent_filter_result pass_in(struct evbuffer *src, struct evbuffer *dst,
                                              ev_ssize_t limit, enum bufferevent_flush_mode mode,
                                              void *ctx)
{
	evbuffer_add_buffer(dst, src);
	return BEV_OK;
}

/* Returns false when the rest of the input must not be parsed now. */
static bool handle_line(struct session *s, const char *line)
{
	struct sp_conn *conn = s->conn;
	const char *err;
	if (strcmp(line, "QUIT") == 0) {
		sp_conn_write_str(conn, "BYE\r\n");
		sp_conn_close_after_flush(conn);
		return false;
	}
	if (strcmp(line, "STARTTLS") == 0) {
		if (!sp_conn_can_starttls(conn)) {
			sp_conn_write_str(conn, "NO TLS not available\r\n");
			return true;
		}
		sp_conn_write_str(conn, "OK begin TLS\r\n");
		if (sp_conn_starttls(conn, &err) < 0)
			sp_conn_printf(conn, "NO %s\r\n", err);
		return false;
	}
	if (strncmp(line, "BIG ", 4) == 0) {
		uint64_t n = 0;
		sp_parse_u64(line + 4, 1ULL << 32, &n);
		s->big_left = n;
		s->big_pos = 0;
		big_pump(s);
		return true;
	}
	if (strncmp(line, "WORK ", 5) == 0) {
		uint64_t ms = 0;
		sp_parse_u64(line + 5, 10000, &ms);
		struct work *w = sp_calloc(1, sizeof(*w));
		w->ms = (unsigned)ms;
		w->es = s->es;
		if (sp_workers_submit(s->es->pool, s->es->queue, work_run, work_done, w,
		                      sp_conn_id(conn)) < 0) {
			free(w);
			sp_conn_write_str(conn, "NO try later\r\n");
			return true;
		}
		sp_conn_pause_input(conn);
		return false;
	}
	if (strcmp(line, "INFO") == 0) {
		const char *sni = sp_conn_tls_sni(conn);
		sp_conn_printf(
		    conn, "INFO secure=%d tls=%d loopback=%d unix=%d role=%s peer=%s sni=%s\r\n",
		    sp_conn_is_secure(conn), sp_conn_is_tls(conn), sp_conn_is_loopback(conn),
		    sp_conn_is_unix(conn), sp_conn_role(conn), sp_conn_peer(conn),
		    sni != NULL ? sni : "-");
		return true;
	}
	if (strcmp(line, "CRED") == 0) {
		uid_t uid;
		gid_t gid;
		pid_t pid;
		if (sp_conn_peer_cred(conn, &uid, &gid, &pid) == 0)
			sp_conn_printf(conn, "CRED uid=%u pid=%d\r\n", (unsigned)uid, (int)pid);
		else
			sp_conn_write_str(conn, "CRED none\r\n");
		return true;
	}
	if (strcmp(line, "UPPER") == 0) {
		sp_conn_write_str(conn, "OK upper\r\n");
		if (sp_conn_push_filter(conn, pass_in, upper_out, NULL, NULL, &err) < 0)
			sp_conn_printf(conn, "NO %s\r\n", err);
		return true;
	}
	if (strncmp(line, "IDLE ", 5) == 0) {
		uint64_t ms = 0;
		sp_parse_u64(line + 5, 100000, &ms);
		sp_conn_set_idle_timeout(conn, ms);
		sp_conn_write_str(conn, "OK idle\r\n");
		return true;
	}
	if (strcmp(line, "STUBBORN") == 0) {
		s->stubborn = true;
		sp_conn_write_str(conn, "OK stubborn\r\n");
		return true;
	}
	sp_conn_printf(conn, "%s\r\n", line);
	return true;
}

static void on_read(struct sp_conn *conn, void *ctx)
{
	struct session *s = ctx;
	for (;;) {
		struct sp_slice in = sp_conn_input(conn);
		const uint8_t *nl = memchr(in.ptr, '\n', in.len);
		if (nl == NULL)
			return;
		size_t n = (size_t)(nl - in.ptr) + 1;
		size_t linelen = n - 1;
		if (linelen > 0 && in.ptr[linelen - 1] == '\r')
			linelen--;
		char *line = sp_strndup((const char *)in.ptr, linelen);
		sp_conn_consume(conn, n);
		bool go_on = handle_line(s, line);
		free(line);
		if (!go_on)
			return;
	}
}

static void on_timeout(struct sp_conn *conn, void *ctx)
{
	struct session *s = ctx;
	atomic_fetch_add(&s->es->timeouts, 1);
	sp_conn_write_str(conn, "TIMEOUT\r\n");
	sp_conn_close_after_flush(conn);
}

static void on_shutdown(struct sp_conn *conn, void *ctx)
{
	struct session *s = ctx;
	atomic_fetch_add(&s->es->shutdowns, 1);
	if (s->stubborn)
		return;
	sp_conn_write_str(conn, "BYE shutdown\r\n");
	sp_conn_close_after_flush(conn);
}

static void on_close(struct sp_conn *conn, void *ctx, enum sp_conn_close_reason reason)
{
	struct session *s = ctx;
	atomic_store(&s->es->last_reason, (int)reason);
	atomic_fetch_add(&s->es->closed, 1);
	free(s);
}

static const struct sp_conn_handlers echo_handlers = {
    .on_read = on_read,
    .on_drain = on_drain,
    .on_timeout = on_timeout,
    .on_shutdown = on_shutdown,
    .on_close = on_close,
};

static void on_accept(void *ctx, struct sp_conn *conn)
{
	struct echo_server *es = ctx;
	struct session *s = sp_calloc(1, sizeof(*s));
	s->es = es;
	s->conn = conn;
	sp_conn_set_handlers(conn, &echo_handlers, s);
	sp_conn_write_str(conn, "* OK echo\r\n");
	atomic_fetch_add(&es->accepted, 1);
}

static void *loop_main(void *arg)
{
	struct echo_server *es = arg;
	sp_loop_run(es->loop);
	return NULL;
}

void echo_start(struct echo_server *es, const struct sp_server_config *cfg)
{
	const char *err = NULL;
	memset(es, 0, sizeof(*es));
	es->loop = sp_loop_new(&err);
	sp_assert(es->loop != NULL);
	es->srv = sp_server_new(es->loop, cfg);
	es->pool = sp_workers_new(es->loop, 2, &err);
	sp_assert(es->pool != NULL);
	es->queue = sp_workers_queue_add(es->pool, "store", 2, 16);
	atomic_store(&es->last_reason, -1);
	pthread_create(&es->thread, NULL, loop_main, es);
}

struct call {
	void (*fn)(void *ctx);
	void *ctx;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
};

static void call_run(void *arg)
{
	struct call *c = arg;
	c->fn(c->ctx);
	pthread_mutex_lock(&c->lock);
	c->done = true;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

void echo_call(struct echo_server *es, void (*fn)(void *ctx), void *ctx)
{
	struct call c = {.fn = fn, .ctx = ctx};
	pthread_mutex_init(&c.lock, NULL);
	pthread_cond_init(&c.cond, NULL);
	sp_loop_post(es->loop, call_run, &c);
	pthread_mutex_lock(&c.lock);
	while (!c.done)
		pthread_cond_wait(&c.cond, &c.lock);
	pthread_mutex_unlock(&c.lock);
	pthread_mutex_destroy(&c.lock);
	pthread_cond_destroy(&c.cond);
}

struct listen_call {
	struct echo_server *es;
	struct sp_listen_config cfg;
	struct sp_listener *l;
	char error[512];
};

static void listen_run(void *arg)
{
	struct listen_call *lc = arg;
	const char *err = "";
	lc->cfg.on_accept = on_accept;
	lc->cfg.ctx = lc->es;
	lc->l = sp_server_listen(lc->es->srv, &lc->cfg, &err);
	if (lc->l == NULL)
		sp_strlcpy(lc->error, err, sizeof(lc->error));
}

struct sp_listener *echo_listen(struct echo_server *es, const struct sp_listen_config *cfg,
                                const char **error_r)
{
	static _Thread_local char error[512];
	struct listen_call lc = {.es = es, .cfg = *cfg};
	echo_call(es, listen_run, &lc);
	if (lc.l == NULL) {
		sp_strlcpy(error, lc.error, sizeof(error));
		*error_r = error;
	}
	return lc.l;
}

static void free_all(void *arg)
{
	struct echo_server *es = arg;
	sp_server_free(&es->srv);
	sp_workers_free(&es->pool);
}

void echo_stop(struct echo_server *es)
{
	echo_call(es, free_all, es);
	sp_loop_stop(es->loop);
	pthread_join(es->thread, NULL);
	sp_loop_free(&es->loop);
}

/* ---- clients --------------------------------------------------------- */

int client_connect(struct client *c, const char *address)
{
	return client_connect_from(c, address, NULL, 0);
}

int client_connect_from(struct client *c, const char *address, const char *source, int rcvbuf)
{
	struct sp_addr a;
	const char *err;
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	if (sp_addr_parse(address, &a, &err) < 0)
		return -1;
	c->fd = socket(a.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -1;
	struct timeval tv = {.tv_sec = 5};
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	/* Before connect, so the advertised window matches. */
	if (rcvbuf > 0)
		setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (source != NULL) {
		struct sockaddr_in sin = {.sin_family = AF_INET};
		inet_pton(AF_INET, source, &sin.sin_addr);
		if (bind(c->fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
			close(c->fd);
			c->fd = -1;
			return -1;
		}
	}
	if (connect(c->fd, (struct sockaddr *)&a.ss, a.len) < 0) {
		int e = errno;
		close(c->fd);
		c->fd = -1;
		errno = e;
		return -1;
	}
	return 0;
}

int client_tls(struct client *c, const char *sni, const char *cafile, const char *verify_host)
{
	c->ctx = SSL_CTX_new(TLS_client_method());
	if (c->ctx == NULL)
		return -1;
	if (cafile != NULL) {
		if (SSL_CTX_load_verify_locations(c->ctx, cafile, NULL) != 1)
			return -1;
		SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
		X509_VERIFY_PARAM *p = SSL_CTX_get0_param(c->ctx);
		X509_VERIFY_PARAM_set_flags(p, X509_V_FLAG_PARTIAL_CHAIN | X509_V_FLAG_X509_STRICT);
	}
	c->ssl = SSL_new(c->ctx);
	SSL_set_fd(c->ssl, c->fd);
	if (sni != NULL)
		SSL_set_tlsext_host_name(c->ssl, sni);
	if (verify_host != NULL)
		SSL_set1_host(c->ssl, verify_host);
	if (SSL_connect(c->ssl) != 1) {
		ERR_print_errors_fp(stderr);
		return -1;
	}
	return 0;
}

void client_peer_cn(struct client *c, char *out, size_t size)
{
	out[0] = '\0';
	X509 *cert = c->ssl != NULL ? SSL_get1_peer_certificate(c->ssl) : NULL;
	if (cert == NULL)
		return;
	X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, out, (int)size);
	X509_free(cert);
}

int client_send(struct client *c, const char *s)
{
	size_t len = strlen(s);
	if (c->ssl != NULL)
		return SSL_write(c->ssl, s, (int)len) == (int)len ? 0 : -1;
	return send(c->fd, s, len, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

/* > 0 bytes, 0 closed (EOF, reset, TLS close), -2 timeout. */
static ssize_t client_recv(struct client *c, void *buf, size_t n)
{
	errno = 0;
	if (c->ssl != NULL) {
		int r = SSL_read(c->ssl, buf, (int)n);
		if (r > 0)
			return r;
		int e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_WANT_READ || errno == EAGAIN || errno == EWOULDBLOCK)
			return -2;
		ERR_clear_error();
		return 0;
	}
	ssize_t r = recv(c->fd, buf, n, 0);
	if (r < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? -2 : 0;
	return r;
}

int client_line(struct client *c, char *out, size_t size)
{
	size_t len = 0;
	for (;;) {
		char ch;
		if (client_recv(c, &ch, 1) != 1)
			return -1;
		if (ch == '\n')
			break;
		if (len + 1 < size)
			out[len++] = ch;
	}
	if (len > 0 && out[len - 1] == '\r')
		len--;
	out[len] = '\0';
	return 0;
}

int client_read_n(struct client *c, uint8_t *out, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = client_recv(c, out + got, n - got);
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

bool client_eof(struct client *c)
{
	char buf[256];
	for (;;) {
		ssize_t r = client_recv(c, buf, sizeof(buf));
		if (r == 0)
			return true;
		if (r < 0)
			return false;
	}
}

void client_close(struct client *c)
{
	if (c->ssl != NULL)
		SSL_free(c->ssl);
	if (c->ctx != NULL)
		SSL_CTX_free(c->ctx);
	if (c->fd >= 0)
		close(c->fd);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}
