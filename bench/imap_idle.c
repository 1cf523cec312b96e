/* imap_idle: opens K IMAP connections over implicit TLS (RFC 8314 §3.3)
 * spread across M mailboxes, each doing LOGIN, SELECT INBOX and IDLE
 * (RFC 9051 §6.2.3, §6.3.2; RFC 2177), and holds them so a script can
 * measure the server's memory. One thread, epoll, non-blocking OpenSSL.
 * Prints "READY idling=N failed=F" once every connection has settled. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

enum idle_state {
	IDLE_S_NEW,
	IDLE_S_CONNECT,
	IDLE_S_TLS,
	IDLE_S_GREETING,
	IDLE_S_LOGIN,
	IDLE_S_SELECT,
	IDLE_S_IDLE_WAIT,
	IDLE_S_IDLING,
	IDLE_S_FAILED,
};

#define IDLE_LINE_MAX 512
#define IDLE_OUT_MAX 1024

struct idle_conn {
	int fd;
	SSL *ssl;
	enum idle_state state;
	bool want_write;
	uint32_t started_s;
	uint16_t line_len;
	uint16_t out_len, out_off;
	char line[IDLE_LINE_MAX];
	char out[IDLE_OUT_MAX];
};

static struct {
	const char *host;
	int port;
	int conns;
	int users;
	int first_user;
	const char *user_prefix;
	const char *user_suffix;
	const char *pass;
	char **acct_login;
	char **acct_pass;
	int n_accounts;
	int src_addrs;
	int in_flight;
	int hold;
	int setup_timeout;
	bool plain;
} opts;

static struct idle_conn *conns;
static SSL_CTX *ssl_ctx;
static int epfd;
static int n_idling, n_failed, n_busy, n_dropped, next_conn;
static volatile sig_atomic_t stop;
static struct sockaddr_in server_addr;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("imap_idle: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static uint32_t now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint32_t)ts.tv_sec;
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void conn_fail(struct idle_conn *c, const char *why)
{
	static int reported;
	bool was_idling = c->state == IDLE_S_IDLING;
	if (reported++ < 10)
		fprintf(stderr, "imap_idle: connection %ld: %s%s%.80s\n", (long)(c - conns), why,
		        c->line_len ? ": " : "", c->line_len ? c->line : "");
	if (c->ssl != NULL)
		SSL_free(c->ssl);
	c->ssl = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	if (was_idling) {
		n_idling--;
		n_dropped++;
	} else {
		n_busy--;
	}
	n_failed++;
	c->state = IDLE_S_FAILED;
}

static void conn_events(struct idle_conn *c, bool want_write)
{
	struct epoll_event ev = {.events = EPOLLIN | (want_write ? EPOLLOUT : 0u), .data.ptr = c};
	if (c->want_write == want_write)
		return;
	c->want_write = want_write;
	epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Flushes c->out; returns -1 on a broken connection. */
static int conn_flush(struct idle_conn *c)
{
	while (c->out_off < c->out_len) {
		const char *p = c->out + c->out_off;
		int len = c->out_len - c->out_off;
		int n;
		if (c->ssl != NULL) {
			n = SSL_write(c->ssl, p, len);
			if (n <= 0) {
				int e = SSL_get_error(c->ssl, n);
				if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
					conn_events(c, e == SSL_ERROR_WANT_WRITE);
					return 0;
				}
				return -1;
			}
		} else {
			n = (int)write(c->fd, p, (size_t)len);
			if (n < 0) {
				if (errno == EAGAIN) {
					conn_events(c, true);
					return 0;
				}
				return -1;
			}
		}
		c->out_off += (uint16_t)n;
	}
	c->out_len = c->out_off = 0;
	conn_events(c, false);
	return 0;
}

static void quote(char *out, size_t outsz, const char *s)
{
	size_t o = 0;
	out[o++] = '"';
	for (; *s != '\0' && o + 3 < outsz; s++) {
		if (*s == '"' || *s == '\\')
			out[o++] = '\\';
		out[o++] = *s;
	}
	out[o++] = '"';
	out[o] = '\0';
}

static int conn_send(struct idle_conn *c, const char *text)
{
	size_t len = strlen(text);
	if (len > sizeof(c->out) - c->out_len)
		return -1;
	memcpy(c->out + c->out_len, text, len);
	c->out_len += (uint16_t)len;
	return conn_flush(c);
}

static int conn_send_login(struct idle_conn *c)
{
	long i = c - conns;
	int user = (int)(i % opts.users);
	char name[200], qname[410], qpass[410], cmd[IDLE_OUT_MAX];
	const char *login = name, *pass = opts.pass;
	if (opts.n_accounts > 0) {
		login = opts.acct_login[user % opts.n_accounts];
		pass = opts.acct_pass[user % opts.n_accounts];
	} else {
		snprintf(name, sizeof(name), "%s%d%s", opts.user_prefix, opts.first_user + user,
		         opts.user_suffix);
	}
	quote(qname, sizeof(qname), login);
	quote(qpass, sizeof(qpass), pass);
	snprintf(cmd, sizeof(cmd), "a1 LOGIN %s %s\r\n", qname, qpass);
	return conn_send(c, cmd);
}

/* Handles one complete response line in c->line. */
static void conn_line(struct idle_conn *c)
{
	const char *l = c->line;
	switch (c->state) {
	case IDLE_S_GREETING:
		if (strncmp(l, "* OK", 4) != 0) {
			conn_fail(c, "bad greeting");
			return;
		}
		c->state = IDLE_S_LOGIN;
		if (conn_send_login(c) < 0)
			conn_fail(c, "write failed");
		return;
	case IDLE_S_LOGIN:
		if (strncmp(l, "a1 ", 3) != 0)
			return;
		if (strncmp(l, "a1 OK", 5) != 0) {
			conn_fail(c, "LOGIN refused");
			return;
		}
		c->state = IDLE_S_SELECT;
		if (conn_send(c, "a2 SELECT INBOX\r\n") < 0)
			conn_fail(c, "write failed");
		return;
	case IDLE_S_SELECT:
		if (strncmp(l, "a2 ", 3) != 0)
			return;
		if (strncmp(l, "a2 OK", 5) != 0) {
			conn_fail(c, "SELECT refused");
			return;
		}
		c->state = IDLE_S_IDLE_WAIT;
		if (conn_send(c, "a3 IDLE\r\n") < 0)
			conn_fail(c, "write failed");
		return;
	case IDLE_S_IDLE_WAIT:
		if (l[0] == '+') {
			c->state = IDLE_S_IDLING;
			n_busy--;
			n_idling++;
		} else if (strncmp(l, "a3 ", 3) == 0) {
			conn_fail(c, "IDLE refused");
		}
		return;
	case IDLE_S_IDLING:
		/* Untagged updates and keepalives ("* OK Still here") are
		 * expected; a tagged reply or BYE means IDLE ended. */
		if (strncmp(l, "* BYE", 5) == 0 || strncmp(l, "a3 ", 3) == 0)
			conn_fail(c, "IDLE ended by the server");
		return;
	default:
		return;
	}
}

static void conn_readable(struct idle_conn *c)
{
	char buf[4096];
	for (;;) {
		int n;
		if (c->ssl != NULL) {
			n = SSL_read(c->ssl, buf, sizeof(buf));
			if (n <= 0) {
				int e = SSL_get_error(c->ssl, n);
				if (e == SSL_ERROR_WANT_READ)
					return;
				if (e == SSL_ERROR_WANT_WRITE) {
					conn_events(c, true);
					return;
				}
				conn_fail(c, "connection closed");
				return;
			}
		} else {
			n = (int)read(c->fd, buf, sizeof(buf));
			if (n < 0 && errno == EAGAIN)
				return;
			if (n <= 0) {
				conn_fail(c, "connection closed");
				return;
			}
		}
		for (int i = 0; i < n && c->state != IDLE_S_FAILED; i++) {
			if (buf[i] == '\n') {
				if (c->line_len > 0 && c->line[c->line_len - 1] == '\r')
					c->line_len--;
				c->line[c->line_len] = '\0';
				conn_line(c);
				c->line_len = 0;
			} else if (c->line_len + 1 < IDLE_LINE_MAX) {
				/* Only the start of a line matters here. */
				c->line[c->line_len++] = buf[i];
			}
		}
		if (c->state == IDLE_S_FAILED)
			return;
	}
}

static void conn_tls_step(struct idle_conn *c)
{
	int r = SSL_connect(c->ssl);
	if (r == 1) {
		c->state = IDLE_S_GREETING;
		conn_events(c, false);
		conn_readable(c);
		return;
	}
	int e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ)
		conn_events(c, false);
	else if (e == SSL_ERROR_WANT_WRITE)
		conn_events(c, true);
	else
		conn_fail(c, "TLS handshake failed");
}

static void conn_start(struct idle_conn *c)
{
	long i = c - conns;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	c->started_s = now_s();
	n_busy++;
	if (c->fd < 0) {
		c->state = IDLE_S_CONNECT;
		conn_fail(c, strerror(errno));
		return;
	}
	if (opts.src_addrs > 1) {
		/* Several 127.0.0.x sources multiply the ephemeral ports; the
		 * port is chosen at connect() time with the destination known. */
		int one = 1;
		setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		struct sockaddr_in src = {.sin_family = AF_INET};
		src.sin_addr.s_addr = htonl(0x7f000001u + (uint32_t)(i % opts.src_addrs));
		if (bind(c->fd, (struct sockaddr *)&src, sizeof(src)) < 0) {
			c->state = IDLE_S_CONNECT;
			conn_fail(c, strerror(errno));
			return;
		}
	}
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->state = IDLE_S_CONNECT;
	c->want_write = true;
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
		conn_fail(c, strerror(errno));
		return;
	}
	if (connect(c->fd, (struct sockaddr *)&server_addr, sizeof(server_addr)) < 0 &&
	    errno != EINPROGRESS)
		conn_fail(c, strerror(errno));
}

static void conn_connected(struct idle_conn *c)
{
	int err = 0;
	socklen_t len = sizeof(err);
	getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
	if (err != 0) {
		conn_fail(c, strerror(err));
		return;
	}
	if (opts.plain) {
		c->state = IDLE_S_GREETING;
		conn_events(c, false);
		return;
	}
	c->ssl = SSL_new(ssl_ctx);
	SSL_set_fd(c->ssl, c->fd);
	c->state = IDLE_S_TLS;
	conn_tls_step(c);
}

static void conn_event(struct idle_conn *c, uint32_t events)
{
	if (c->state == IDLE_S_CONNECT) {
		conn_connected(c);
		return;
	}
	if (c->state == IDLE_S_TLS) {
		conn_tls_step(c);
		return;
	}
	if ((events & EPOLLOUT) && c->out_len > 0 && conn_flush(c) < 0) {
		conn_fail(c, "write failed");
		return;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		conn_readable(c);
	else if (c->ssl != NULL && c->out_len == 0 && c->want_write)
		conn_readable(c); /* an SSL_read that wanted to write */
}

static void accounts_load(const char *path)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		die("%s: %s", path, strerror(errno));
	char line[1024];
	int cap = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *sp = strchr(line, ' ');
		if (sp == NULL)
			continue;
		*sp = '\0';
		sp[1 + strcspn(sp + 1, "\r\n")] = '\0';
		if (opts.n_accounts == cap) {
			cap = cap ? cap * 2 : 64;
			opts.acct_login = realloc(opts.acct_login, (size_t)cap * sizeof(char *));
			opts.acct_pass = realloc(opts.acct_pass, (size_t)cap * sizeof(char *));
			if (opts.acct_login == NULL || opts.acct_pass == NULL)
				die("out of memory");
		}
		opts.acct_login[opts.n_accounts] = strdup(line);
		opts.acct_pass[opts.n_accounts] = strdup(sp + 1);
		opts.n_accounts++;
	}
	fclose(f);
	if (opts.n_accounts == 0)
		die("%s: no \"login password\" lines", path);
}

static long num_arg(const char *name, const char *v, long lo, long hi)
{
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (errno != 0 || *end != '\0' || end == v || n < lo || n > hi)
		die("%s: expected a number in [%ld, %ld], got \"%s\"", name, lo, hi, v);
	return n;
}

static void usage(void)
{
	fputs("usage: imap_idle [options]\n"
	      "  --host A --port P     server, an IPv4 address (127.0.0.1:993)\n"
	      "  --plain               no TLS (for comparison only)\n"
	      "  --conns K             connections (1000)\n"
	      "  --users M             connection i logs in as user (i %% M) (1000)\n"
	      "  --user-prefix S --user-suffix S --first-user K --pass P\n"
	      "  --accounts FILE       \"login password\" lines instead\n"
	      "  --src-addrs N         bind to 127.0.0.1..N in turn (1)\n"
	      "  --in-flight N         connections being set up at once (64)\n"
	      "  --setup-timeout S     give up on a connection after S seconds (120)\n"
	      "  --hold S              exit S seconds after READY (0: until SIGTERM)\n",
	      stderr);
	exit(2);
}

static void opts_parse(int argc, char **argv)
{
	opts.host = "127.0.0.1";
	opts.port = 993;
	opts.conns = 1000;
	opts.users = 1000;
	opts.first_user = 1;
	opts.user_prefix = "user";
	opts.user_suffix = "";
	opts.pass = "pass";
	opts.src_addrs = 1;
	opts.in_flight = 64;
	opts.setup_timeout = 120;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--plain") == 0) {
			opts.plain = true;
			continue;
		}
		if (v == NULL)
			usage();
		i++;
		if (strcmp(a, "--host") == 0)
			opts.host = v;
		else if (strcmp(a, "--port") == 0)
			opts.port = (int)num_arg(a, v, 1, 65535);
		else if (strcmp(a, "--conns") == 0)
			opts.conns = (int)num_arg(a, v, 1, 1000000);
		else if (strcmp(a, "--users") == 0)
			opts.users = (int)num_arg(a, v, 1, 1000000);
		else if (strcmp(a, "--first-user") == 0)
			opts.first_user = (int)num_arg(a, v, 0, 100000000);
		else if (strcmp(a, "--user-prefix") == 0)
			opts.user_prefix = v;
		else if (strcmp(a, "--user-suffix") == 0)
			opts.user_suffix = v;
		else if (strcmp(a, "--pass") == 0)
			opts.pass = v;
		else if (strcmp(a, "--accounts") == 0)
			accounts_load(v);
		else if (strcmp(a, "--src-addrs") == 0)
			opts.src_addrs = (int)num_arg(a, v, 1, 254);
		else if (strcmp(a, "--in-flight") == 0)
			opts.in_flight = (int)num_arg(a, v, 1, 100000);
		else if (strcmp(a, "--setup-timeout") == 0)
			opts.setup_timeout = (int)num_arg(a, v, 1, 86400);
		else if (strcmp(a, "--hold") == 0)
			opts.hold = (int)num_arg(a, v, 0, 86400);
		else
			usage();
	}
	if (inet_pton(AF_INET, opts.host, &server_addr.sin_addr) != 1)
		die("--host: %s is not an IPv4 address", opts.host);
	server_addr.sin_family = AF_INET;
	server_addr.sin_port = htons((uint16_t)opts.port);
}

static void fd_limit_raise(void)
{
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	rlim_t want = (rlim_t)opts.conns + 64;
	if (rl.rlim_cur < want) {
		rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur < want)
		die("RLIMIT_NOFILE hard limit %lu is below the %d connections asked for",
		    (unsigned long)rl.rlim_max, opts.conns);
}

int main(int argc, char **argv)
{
	opts_parse(argc, argv);
	fd_limit_raise();
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	if (!opts.plain) {
		ssl_ctx = SSL_CTX_new(TLS_client_method());
		if (ssl_ctx == NULL)
			die("SSL_CTX_new failed");
		SSL_CTX_set_verify(ssl_ctx, SSL_VERIFY_NONE, NULL);
		/* Ten thousand idle sessions: keep the client's buffers small. */
		SSL_CTX_set_mode(ssl_ctx, SSL_MODE_RELEASE_BUFFERS);
	}
	conns = calloc((size_t)opts.conns, sizeof(*conns));
	if (conns == NULL)
		die("out of memory");
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		die("epoll_create1: %s", strerror(errno));

	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	uint32_t last_progress = now_s(), ready_at = 0;
	bool ready = false;
	struct epoll_event evs[256];
	while (!stop) {
		while (next_conn < opts.conns && n_busy < opts.in_flight)
			conn_start(&conns[next_conn++]);
		int n = epoll_wait(epfd, evs, 256, 1000);
		for (int i = 0; i < n; i++) {
			struct idle_conn *c = evs[i].data.ptr;
			if (c->state != IDLE_S_FAILED)
				conn_event(c, evs[i].events);
		}
		uint32_t now = now_s();
		if (now != last_progress) {
			for (int i = 0; i < next_conn; i++) {
				struct idle_conn *c = &conns[i];
				if (c->state != IDLE_S_IDLING && c->state != IDLE_S_FAILED &&
				    now - c->started_s > (uint32_t)opts.setup_timeout)
					conn_fail(c, "setup timed out");
			}
		}
		if (now - last_progress >= 5) {
			last_progress = now;
			fprintf(stderr, "imap_idle: idling %d/%d, in setup %d, failed %d\n",
			        n_idling, opts.conns, n_busy, n_failed);
		}
		if (!ready && next_conn == opts.conns && n_busy == 0) {
			struct timespec t1;
			clock_gettime(CLOCK_MONOTONIC, &t1);
			double secs = (double)(t1.tv_sec - t0.tv_sec) +
			              (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
			printf("READY idling=%d failed=%d seconds=%.1f\n", n_idling, n_failed,
			       secs);
			fflush(stdout);
			ready = true;
			ready_at = now;
		}
		if (ready && opts.hold > 0 && now - ready_at >= (uint32_t)opts.hold)
			break;
	}
	printf("DONE idling=%d dropped=%d failed=%d\n", n_idling, n_dropped, n_failed);
	fflush(stdout);
	for (int i = 0; i < opts.conns; i++) {
		if (conns[i].ssl != NULL)
			SSL_free(conns[i].ssl);
		if (conns[i].fd >= 0 && conns[i].state != IDLE_S_NEW)
			close(conns[i].fd);
	}
	free(conns);
	SSL_CTX_free(ssl_ctx);
	return n_idling > 0 ? 0 : 1;
}
