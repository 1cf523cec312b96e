/* imap_load: a closed-loop IMAP load generator, one thread per client, for
 * comparing Sealpost with Dovecot on the same machine. Each client logs in,
 * SELECTs INBOX and loops a weighted mix of FETCH, UID FETCH BODY.PEEK[],
 * UID STORE, APPEND, UID SEARCH, IDLE and EXPUNGE (RFC 9051 §6.3.2, §6.3.12,
 * §6.4.3-§6.4.6, RFC 2177 IDLE, RFC 4315 APPENDUID), timing every command.
 * --populate N instead APPENDs N deterministic messages per user. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

enum load_op {
	LOAD_OP_FETCH_HDR,
	LOAD_OP_FETCH_BODY,
	LOAD_OP_STORE,
	LOAD_OP_APPEND,
	LOAD_OP_SEARCH,
	LOAD_OP_IDLE,
	LOAD_OP_EXPUNGE,
	LOAD_OP_COUNT
};

static const char *const load_op_names[LOAD_OP_COUNT] = {
    "fetch_hdr", "fetch_body", "store", "append", "search", "idle", "expunge",
};

/* Latency histogram in microseconds: 32 linear sub-buckets per power of
 * two (about 3% resolution), values up to 2^63. */
#define HIST_SUB_BITS 5
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_BUCKETS (64u * HIST_SUB)

struct load_hist {
	uint64_t n;
	uint64_t errors;
	uint64_t rx_bytes; /* bytes received, literals included */
	uint64_t bucket[HIST_BUCKETS];
};

#define LOAD_MAX_OWN 4096
#define LOAD_MAX_MSG (64 * 1024)
#define LOAD_LINE_MAX (64u * 1024 * 1024)

struct load_opts {
	const char *host;
	const char *port;
	bool tls;
	int clients;
	int users;
	int first_user;
	const char *user_prefix;
	const char *user_suffix;
	const char *pass;
	char **acct_login; /* from --accounts, or NULL */
	char **acct_pass;
	int n_accounts;
	double duration;
	uint64_t max_ops;
	int idle_ms;
	int weight[LOAD_OP_COUNT];
	int populate;
	bool warmup;
	unsigned seed;
	bool quiet;
};

struct load_conn {
	int fd;
	SSL *ssl;
	uint8_t rbuf[16384];
	size_t rpos, rlen;
	uint64_t rx; /* bytes received so far */
	char *line;  /* the current response line, literals left out */
	size_t line_len, line_cap;
};

struct load_client {
	int id;
	pthread_t thread;
	struct load_conn conn;
	uint64_t rng;
	unsigned tag_seq;
	char tag[16];
	uint32_t exists;
	uint32_t *uids; /* INBOX's UIDs at SELECT time: never expunged */
	size_t n_uids;
	uint32_t own[LOAD_MAX_OWN]; /* UIDs this client appended */
	size_t n_own;
	uint32_t *search_r; /* collects * SEARCH results when non-NULL */
	size_t n_search, cap_search;
	uint32_t appenduid;
	char *msg;
	unsigned search_kind;
	bool failed;
	struct load_hist hist[LOAD_OP_COUNT];
};

static struct load_opts opts;
static SSL_CTX *ssl_ctx;
static pthread_barrier_t start_barrier;
static atomic_bool stop_flag;
static atomic_uint_fast64_t ops_done;

static const char *const words[] = {
    "invoice", "meeting", "report",   "budget",   "travel",  "project", "review", "update",
    "release", "holiday", "contract", "schedule", "minutes", "offer",   "urgent", "weekly",
    "draft",   "lunch",   "server",   "backup",   "quarter", "summary", "agenda", "design",
    "launch",  "payment", "receipt",  "feedback", "request", "notice",  "policy", "survey",
};
#define N_WORDS (sizeof(words) / sizeof(words[0]))

static const char *const senders[] = {
    "alice",   "bob",  "carol",  "dave",  "erin",   "frank", "grace", "heidi",  "ivan",   "judy",
    "mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "yolanda",
};
#define N_SENDERS (sizeof(senders) / sizeof(senders[0]))

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("imap_load: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n);
	if (p == NULL)
		die("out of memory");
	return p;
}

static uint64_t rng_next(uint64_t *s)
{
	/* xorshift64*: cheap, and good enough to pick operations. */
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static uint32_t rng_below(uint64_t *s, uint32_t n)
{
	return n == 0 ? 0 : (uint32_t)(rng_next(s) % n);
}

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static unsigned hist_index(uint64_t us)
{
	if (us < HIST_SUB)
		return (unsigned)us;
	unsigned msb = 63u - (unsigned)__builtin_clzll(us);
	unsigned shift = msb - HIST_SUB_BITS;
	return (shift + 1) * HIST_SUB + (unsigned)((us >> shift) - HIST_SUB);
}

/* The middle of bucket idx, in microseconds. */
static double hist_value(unsigned idx)
{
	if (idx < HIST_SUB)
		return idx;
	unsigned shift = idx / HIST_SUB - 1;
	double lower = (double)((uint64_t)(idx % HIST_SUB + HIST_SUB) << shift);
	return lower + (double)(1ull << shift) / 2.0;
}

static void hist_add(struct load_hist *h, uint64_t us)
{
	h->n++;
	h->bucket[hist_index(us)]++;
}

static void hist_merge(struct load_hist *into, const struct load_hist *from)
{
	into->n += from->n;
	into->errors += from->errors;
	into->rx_bytes += from->rx_bytes;
	for (unsigned i = 0; i < HIST_BUCKETS; i++)
		into->bucket[i] += from->bucket[i];
}

/* The q-quantile (0 < q <= 1) in milliseconds, 0 when empty. */
static double hist_quantile_ms(const struct load_hist *h, double q)
{
	if (h->n == 0)
		return 0;
	uint64_t rank = (uint64_t)(q * (double)h->n + 0.5);
	if (rank < 1)
		rank = 1;
	uint64_t seen = 0;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += h->bucket[i];
		if (seen >= rank)
			return hist_value(i) / 1000.0;
	}
	return hist_value(HIST_BUCKETS - 1) / 1000.0;
}

/* --- connection: blocking socket, optional implicit TLS --- */

static int conn_open(struct load_conn *c)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *res;
	int err = getaddrinfo(opts.host, opts.port, &hints, &res);
	if (err != 0) {
		fprintf(stderr, "imap_load: %s:%s: %s\n", opts.host, opts.port, gai_strerror(err));
		return -1;
	}
	c->fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, res->ai_addr, res->ai_addrlen) < 0) {
		fprintf(stderr, "imap_load: connect %s:%s: %s\n", opts.host, opts.port,
		        strerror(errno));
		freeaddrinfo(res);
		return -1;
	}
	freeaddrinfo(res);
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* A server that stops answering must not hang the run. */
	struct timeval tv = {.tv_sec = 60};
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (opts.tls) {
		c->ssl = SSL_new(ssl_ctx);
		SSL_set_fd(c->ssl, c->fd);
		SSL_set_tlsext_host_name(c->ssl, opts.host);
		if (SSL_connect(c->ssl) != 1) {
			fprintf(stderr, "imap_load: TLS handshake with %s:%s failed\n", opts.host,
			        opts.port);
			ERR_print_errors_fp(stderr);
			return -1;
		}
	}
	return 0;
}

static void conn_close(struct load_conn *c)
{
	if (c->ssl != NULL) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->rpos = c->rlen = 0;
	free(c->line);
	c->line = NULL;
	c->line_cap = 0;
}

static int conn_fill(struct load_conn *c)
{
	ssize_t n;
	if (c->ssl != NULL) {
		int r = SSL_read(c->ssl, c->rbuf, sizeof(c->rbuf));
		n = r > 0 ? r : -1;
	} else {
		do
			n = read(c->fd, c->rbuf, sizeof(c->rbuf));
		while (n < 0 && errno == EINTR);
	}
	if (n <= 0)
		return -1;
	c->rpos = 0;
	c->rlen = (size_t)n;
	c->rx += (uint64_t)n;
	return 0;
}

static int conn_write(struct load_conn *c, const void *data, size_t len)
{
	const uint8_t *p = data;
	while (len > 0) {
		ssize_t n;
		if (c->ssl != NULL) {
			int r = SSL_write(c->ssl, p, len > INT_MAX ? INT_MAX : (int)len);
			n = r > 0 ? r : -1;
		} else {
			do
				n = write(c->fd, p, len);
			while (n < 0 && errno == EINTR);
		}
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void line_append(struct load_conn *c, const uint8_t *p, size_t n)
{
	if (c->line_len + n + 1 > c->line_cap) {
		size_t cap = c->line_cap ? c->line_cap : 4096;
		while (cap < c->line_len + n + 1)
			cap *= 2;
		char *grown = realloc(c->line, cap);
		if (grown == NULL)
			die("out of memory");
		c->line = grown;
		c->line_cap = cap;
	}
	memcpy(c->line + c->line_len, p, n);
	c->line_len += n;
	c->line[c->line_len] = '\0';
}

/* Reads one response line without its CRLF into c->line. A literal
 * (RFC 9051 §4.3) is consumed and left out, so the text around it stays
 * parseable. Returns 0, or -1 on I/O error or an oversized line. */
static int conn_read_line(struct load_conn *c)
{
	c->line_len = 0;
	line_append(c, (const uint8_t *)"", 0);
	for (;;) {
		if (c->rpos == c->rlen && conn_fill(c) < 0)
			return -1;
		uint8_t *start = c->rbuf + c->rpos;
		uint8_t *nl = memchr(start, '\n', c->rlen - c->rpos);
		size_t take = nl != NULL ? (size_t)(nl - start) + 1 : c->rlen - c->rpos;
		line_append(c, start, take);
		c->rpos += take;
		if (c->line_len > LOAD_LINE_MAX)
			return -1;
		if (nl == NULL)
			continue;
		c->line_len -= 1;
		if (c->line_len > 0 && c->line[c->line_len - 1] == '\r')
			c->line_len--;
		c->line[c->line_len] = '\0';
		/* "{123}" or "{123+}" at the end announces a literal. */
		if (c->line_len < 3 || c->line[c->line_len - 1] != '}')
			return 0;
		char *open = strrchr(c->line, '{');
		if (open == NULL)
			return 0;
		char *end;
		unsigned long long lit = strtoull(open + 1, &end, 10);
		if (end == open + 1 || (*end != '}' && *end != '+'))
			return 0;
		c->line_len = (size_t)(open - c->line);
		c->line[c->line_len] = '\0';
		while (lit > 0) {
			if (c->rpos == c->rlen && conn_fill(c) < 0)
				return -1;
			size_t avail = c->rlen - c->rpos;
			size_t skip = avail < lit ? avail : (size_t)lit;
			c->rpos += skip;
			lit -= skip;
		}
	}
}

/* --- IMAP exchanges --- */

enum load_reply { LOAD_R_OK, LOAD_R_NO, LOAD_R_CONT, LOAD_R_IOERR = -1 };

static void client_untagged(struct load_client *cl, const char *line)
{
	/* "* 12 EXISTS", "* 3 EXPUNGE", "* SEARCH 1 2 3" */
	const char *p = line + 2;
	if (strncmp(p, "SEARCH", 6) == 0 && cl->search_r != NULL) {
		p += 6;
		for (;;) {
			while (*p == ' ')
				p++;
			if (*p < '0' || *p > '9')
				break;
			char *end;
			unsigned long v = strtoul(p, &end, 10);
			if (cl->n_search == cl->cap_search) {
				cl->cap_search = cl->cap_search ? cl->cap_search * 2 : 1024;
				uint32_t *grown =
				    realloc(cl->search_r, cl->cap_search * sizeof(uint32_t));
				if (grown == NULL)
					die("out of memory");
				cl->search_r = grown;
			}
			cl->search_r[cl->n_search++] = (uint32_t)v;
			p = end;
		}
		return;
	}
	if (*p < '0' || *p > '9')
		return;
	char *end;
	unsigned long n = strtoul(p, &end, 10);
	if (strcmp(end, " EXISTS") == 0)
		cl->exists = (uint32_t)n;
	else if (strcmp(end, " EXPUNGE") == 0 && cl->exists > 0)
		cl->exists--;
}

/* Reads responses until the tagged reply to cl->tag, or a continuation
 * request when want_cont. Records APPENDUID (RFC 4315 §3). */
static enum load_reply client_wait(struct load_client *cl, bool want_cont)
{
	struct load_conn *c = &cl->conn;
	size_t tlen = strlen(cl->tag);
	for (;;) {
		if (conn_read_line(c) < 0)
			return LOAD_R_IOERR;
		const char *l = c->line;
		if (l[0] == '*' && l[1] == ' ') {
			client_untagged(cl, l);
			continue;
		}
		if (l[0] == '+') {
			if (want_cont)
				return LOAD_R_CONT;
			continue;
		}
		if (strncmp(l, cl->tag, tlen) != 0 || l[tlen] != ' ')
			continue;
		l += tlen + 1;
		if (strncmp(l, "OK", 2) != 0) {
			if (!opts.quiet)
				fprintf(stderr, "imap_load: client %d: %s %s\n", cl->id, cl->tag,
				        l);
			return LOAD_R_NO;
		}
		const char *au = strstr(l, "[APPENDUID ");
		if (au != NULL) {
			char *end;
			strtoul(au + 11, &end, 10);
			cl->appenduid = (uint32_t)strtoul(end, NULL, 10);
		}
		return LOAD_R_OK;
	}
}

/* Sends "TAG " + the formatted command + CRLF. */
static int client_send(struct load_client *cl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int client_send(struct load_client *cl, const char *fmt, ...)
{
	char cmd[8192];
	snprintf(cl->tag, sizeof(cl->tag), "a%u", ++cl->tag_seq);
	int n = snprintf(cmd, sizeof(cmd), "%s ", cl->tag);
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(cmd + n, sizeof(cmd) - (size_t)n - 2, fmt, ap);
	va_end(ap);
	if (m < 0 || (size_t)(n + m) >= sizeof(cmd) - 2)
		die("command too long");
	memcpy(cmd + n + m, "\r\n", 2);
	return conn_write(&cl->conn, cmd, (size_t)(n + m + 2));
}

static enum load_reply client_cmd(struct load_client *cl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static enum load_reply client_cmd(struct load_client *cl, const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (m < 0 || (size_t)m >= sizeof(cmd))
		die("command too long");
	if (client_send(cl, "%s", cmd) < 0)
		return LOAD_R_IOERR;
	return client_wait(cl, false);
}

/* Writes a quoted string (RFC 9051 §4.3) of s into out. */
static void quote(char *out, size_t outsz, const char *s)
{
	size_t o = 0;
	if (outsz < 3)
		die("quote buffer too small");
	out[o++] = '"';
	for (; *s != '\0' && o + 3 < outsz; s++) {
		if (*s == '"' || *s == '\\')
			out[o++] = '\\';
		out[o++] = *s;
	}
	out[o++] = '"';
	out[o] = '\0';
}

/* Builds a message of about size bytes from seed into buf; returns its
 * length. The same seed gives the same bytes, so every server under test
 * gets the same mailbox content. */
static size_t message_build(char *buf, size_t size, uint64_t seed, unsigned index)
{
	uint64_t r = seed * 0x9E3779B97F4A7C15ULL + index + 1;
	rng_next(&r);
	const char *from = senders[rng_below(&r, N_SENDERS)];
	const char *w1 = words[rng_below(&r, N_WORDS)];
	const char *w2 = words[rng_below(&r, N_WORDS)];
	const char *w3 = words[rng_below(&r, N_WORDS)];
	int n = snprintf(buf, size,
	                 "Return-Path: <%s@example.org>\r\n"
	                 "From: %c%s Example <%s@example.org>\r\n"
	                 "To: Bench User <user@example.test>\r\n"
	                 "Subject: %s %s %s #%u\r\n"
	                 "Date: Mon, 2 Nov 2026 10:%02u:%02u +0000\r\n"
	                 "Message-ID: <%u.%" PRIx64 "@bench.example.org>\r\n"
	                 "MIME-Version: 1.0\r\n"
	                 "Content-Type: text/plain; charset=utf-8\r\n"
	                 "\r\n",
	                 from, from[0] - 32, from + 1, from, w1, w2, w3, index, index / 60 % 60,
	                 index % 60, index, seed);
	size_t len = n > 0 && (size_t)n < size ? (size_t)n : 0;
	/* Body: lines of words, CRLF-terminated, up to the requested size. */
	while (len + 80 < size) {
		size_t line_end = len + 60 + rng_below(&r, 12);
		while (len < line_end) {
			const char *w = words[rng_below(&r, N_WORDS)];
			size_t wl = strlen(w);
			memcpy(buf + len, w, wl);
			len += wl;
			buf[len++] = ' ';
		}
		buf[len - 1] = '\r';
		buf[len++] = '\n';
	}
	return len;
}

/* Log-uniform size in [lo, hi]: many small messages, some large. */
static size_t size_pick(uint64_t *r, size_t lo, size_t hi)
{
	double u = (double)(rng_next(r) >> 11) / 9007199254740992.0;
	double v = (double)lo * pow((double)hi / (double)lo, u);
	return (size_t)v;
}

static enum load_reply client_append(struct load_client *cl, size_t size, unsigned index,
                                     const char *flags)
{
	size_t len = message_build(cl->msg, size, opts.seed, index);
	if (client_send(cl, "APPEND INBOX %s{%zu}", flags, len) < 0)
		return LOAD_R_IOERR;
	enum load_reply r = client_wait(cl, true);
	if (r != LOAD_R_CONT)
		return r;
	if (conn_write(&cl->conn, cl->msg, len) < 0 || conn_write(&cl->conn, "\r\n", 2) < 0)
		return LOAD_R_IOERR;
	cl->appenduid = 0;
	return client_wait(cl, false);
}

static const char *client_login_name(int user, char *buf, size_t bufsz, const char **pass_r)
{
	if (opts.n_accounts > 0) {
		int i = user % opts.n_accounts;
		*pass_r = opts.acct_pass[i];
		return opts.acct_login[i];
	}
	snprintf(buf, bufsz, "%s%d%s", opts.user_prefix, opts.first_user + user, opts.user_suffix);
	*pass_r = opts.pass;
	return buf;
}

static int client_setup(struct load_client *cl, int user)
{
	char name[256], qname[520], qpass[520];
	const char *pass;
	const char *login = client_login_name(user, name, sizeof(name), &pass);
	if (conn_open(&cl->conn) < 0)
		return -1;
	if (conn_read_line(&cl->conn) < 0 || strncmp(cl->conn.line, "* OK", 4) != 0) {
		fprintf(stderr, "imap_load: client %d: no greeting\n", cl->id);
		return -1;
	}
	quote(qname, sizeof(qname), login);
	quote(qpass, sizeof(qpass), pass);
	if (client_cmd(cl, "LOGIN %s %s", qname, qpass) != LOAD_R_OK) {
		fprintf(stderr, "imap_load: client %d: LOGIN %s failed\n", cl->id, login);
		return -1;
	}
	if (client_cmd(cl, "SELECT INBOX") != LOAD_R_OK) {
		fprintf(stderr, "imap_load: client %d: SELECT INBOX failed\n", cl->id);
		return -1;
	}
	return 0;
}

/* One operation of the mix; returns its type and latency through _r.
 * Returns false on an I/O error (the client stops). */
static bool client_op(struct load_client *cl, enum load_op op, uint64_t *us_r, enum load_op *done_r)
{
	uint64_t *r = &cl->rng;
	enum load_reply rep = LOAD_R_OK;
	uint64_t t0 = now_us(), pause = 0;
	uint32_t uid = cl->n_uids > 0 ? cl->uids[rng_below(r, (uint32_t)cl->n_uids)] : 1;
	static const char *const store_flags[] = {"+FLAGS (\\Seen)", "-FLAGS (\\Seen)",
	                                          "+FLAGS (\\Flagged)", "-FLAGS (\\Flagged)"};

	if (op == LOAD_OP_EXPUNGE && cl->n_own == 0)
		op = LOAD_OP_APPEND; /* nothing of ours to expunge yet */
	*done_r = op;
	switch (op) {
	case LOAD_OP_FETCH_HDR: {
		uint32_t n = cl->exists > 20 ? cl->exists - 19 : 1;
		uint32_t first = 1 + rng_below(r, n);
		uint32_t last = first + 19 > cl->exists ? cl->exists : first + 19;
		if (cl->exists == 0)
			rep = client_cmd(cl, "NOOP");
		else
			rep = client_cmd(cl, "FETCH %u:%u (FLAGS ENVELOPE)", first, last);
		break;
	}
	case LOAD_OP_FETCH_BODY:
		rep = client_cmd(cl, "UID FETCH %u BODY.PEEK[]", uid);
		break;
	case LOAD_OP_STORE:
		rep = client_cmd(cl, "UID STORE %u %s", uid, store_flags[rng_below(r, 4)]);
		break;
	case LOAD_OP_APPEND: {
		size_t size = size_pick(r, 4096, LOAD_MAX_MSG);
		rep = client_append(cl, size, 1000000u + (unsigned)rng_below(r, 1000000000u), "");
		if (rep == LOAD_R_OK && cl->appenduid != 0 && cl->n_own < LOAD_MAX_OWN)
			cl->own[cl->n_own++] = cl->appenduid;
		break;
	}
	case LOAD_OP_SEARCH: {
		unsigned kind = cl->search_kind++ % 3;
		if (kind == 0)
			rep = client_cmd(cl, "UID SEARCH SUBJECT \"%s\"",
			                 words[rng_below(r, N_WORDS)]);
		else if (kind == 1)
			rep = client_cmd(cl, "UID SEARCH UNSEEN");
		else
			rep = client_cmd(cl, "UID SEARCH FROM \"%s\"",
			                 senders[rng_below(r, N_SENDERS)]);
		break;
	}
	case LOAD_OP_IDLE: {
		/* RFC 2177: wait for the continuation, idle, then DONE. The
		 * deliberate pause is not counted in the latency. */
		if (client_send(cl, "IDLE") < 0)
			return false;
		rep = client_wait(cl, true);
		if (rep != LOAD_R_CONT)
			break;
		uint64_t p0 = now_us();
		struct timespec ts = {.tv_sec = opts.idle_ms / 1000,
		                      .tv_nsec = (long)(opts.idle_ms % 1000) * 1000000L};
		nanosleep(&ts, NULL);
		pause = now_us() - p0;
		if (conn_write(&cl->conn, "DONE\r\n", 6) < 0)
			return false;
		rep = client_wait(cl, false);
		break;
	}
	case LOAD_OP_EXPUNGE: {
		char set[LOAD_MAX_OWN * 11 + 1];
		size_t o = 0;
		for (size_t i = 0; i < cl->n_own && o + 12 < 8000; i++)
			o += (size_t)snprintf(set + o, sizeof(set) - o, "%s%u", i ? "," : "",
			                      cl->own[i]);
		cl->n_own = 0;
		rep = client_cmd(cl, "UID STORE %s +FLAGS.SILENT (\\Deleted)", set);
		if (rep == LOAD_R_OK)
			rep = client_cmd(cl, "EXPUNGE");
		break;
	}
	case LOAD_OP_COUNT:
		break;
	}
	if (rep == LOAD_R_IOERR)
		return false;
	*us_r = now_us() - t0 - pause;
	if (rep != LOAD_R_OK)
		cl->hist[op].errors++;
	return true;
}

static enum load_op op_pick(uint64_t *r, int total)
{
	int x = (int)rng_below(r, (uint32_t)total);
	for (int i = 0; i < LOAD_OP_COUNT; i++) {
		if (x < opts.weight[i])
			return (enum load_op)i;
		x -= opts.weight[i];
	}
	return LOAD_OP_FETCH_HDR;
}

static void *client_run(void *arg)
{
	struct load_client *cl = arg;
	int user = cl->id % opts.users;

	cl->msg = xmalloc(LOAD_MAX_MSG + 256);
	if (client_setup(cl, user) < 0) {
		cl->failed = true;
	} else {
		/* The UIDs present now are only ever flagged, never expunged. */
		cl->search_r = xmalloc(1024 * sizeof(uint32_t));
		cl->cap_search = 1024;
		if (client_cmd(cl, "UID SEARCH ALL") != LOAD_R_OK)
			cl->failed = true;
		cl->uids = cl->search_r;
		cl->n_uids = cl->n_search;
		cl->search_r = NULL;
		if (cl->n_uids == 0 && !cl->failed)
			fprintf(stderr, "imap_load: client %d: INBOX is empty (populate first)\n",
			        cl->id);
	}
	pthread_barrier_wait(&start_barrier);
	if (cl->failed)
		goto out;

	int total = 0;
	for (int i = 0; i < LOAD_OP_COUNT; i++)
		total += opts.weight[i];
	while (!atomic_load(&stop_flag)) {
		if (opts.max_ops > 0 && atomic_fetch_add(&ops_done, 1) >= opts.max_ops)
			break;
		uint64_t us = 0, rx0 = cl->conn.rx;
		enum load_op done;
		if (!client_op(cl, op_pick(&cl->rng, total), &us, &done)) {
			fprintf(stderr, "imap_load: client %d: connection lost\n", cl->id);
			cl->failed = true;
			break;
		}
		hist_add(&cl->hist[done], us);
		cl->hist[done].rx_bytes += cl->conn.rx - rx0;
	}
	if (!cl->failed)
		client_cmd(cl, "LOGOUT");
out:
	conn_close(&cl->conn);
	free(cl->msg);
	free(cl->uids);
	free(cl->search_r);
	return NULL;
}

/* One user's populate/warm-up session; returns -1 on failure. */
static int populate_user(struct load_client *cl, int user)
{
	int rc = 0;
	if (client_setup(cl, user) < 0) {
		conn_close(&cl->conn);
		return -1;
	}
	for (int i = 0; i < opts.populate; i++) {
		uint64_t r = opts.seed * 31u + (uint64_t)i + 7;
		rng_next(&r);
		size_t size = size_pick(&r, 1024, LOAD_MAX_MSG);
		const char *flags = rng_below(&r, 3) != 0 ? "(\\Seen) " : "";
		if (client_append(cl, size, (unsigned)i, flags) != LOAD_R_OK) {
			fprintf(stderr, "imap_load: populate: user %d: APPEND %d failed\n", user,
			        i);
			rc = -1;
			break;
		}
	}
	if (opts.warmup && rc == 0) {
		if (client_cmd(cl, "FETCH 1:* (FLAGS ENVELOPE)") != LOAD_R_OK ||
		    client_cmd(cl, "UID SEARCH SUBJECT \"%s\"", words[0]) != LOAD_R_OK ||
		    client_cmd(cl, "UID SEARCH FROM \"%s\"", senders[0]) != LOAD_R_OK ||
		    client_cmd(cl, "UID SEARCH UNSEEN") != LOAD_R_OK) {
			fprintf(stderr, "imap_load: user %d: warm-up failed\n", user);
			rc = -1;
		}
	}
	client_cmd(cl, "LOGOUT");
	conn_close(&cl->conn);
	return rc;
}

/* --populate/--warmup: each of n threads serves users id, id + n, ...:
 * APPENDs opts.populate messages (about two in three \Seen, so UNSEEN
 * finds some), then with --warmup reads every envelope and runs each kind
 * of search once, so a server that caches header fields on first use
 * (Dovecot) is measured warm, as a mailbox in daily use is. */
static void *populate_run(void *arg)
{
	struct load_client *cl = arg;
	int threads = opts.users < opts.clients ? opts.users : opts.clients;
	cl->msg = xmalloc(LOAD_MAX_MSG + 256);
	for (int user = cl->id; user < opts.users; user += threads)
		if (populate_user(cl, user) < 0)
			cl->failed = true;
	free(cl->msg);
	return NULL;
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
		char *pass = sp + 1;
		pass[strcspn(pass, "\r\n")] = '\0';
		if (opts.n_accounts == cap) {
			cap = cap ? cap * 2 : 64;
			opts.acct_login = realloc(opts.acct_login, (size_t)cap * sizeof(char *));
			opts.acct_pass = realloc(opts.acct_pass, (size_t)cap * sizeof(char *));
			if (opts.acct_login == NULL || opts.acct_pass == NULL)
				die("out of memory");
		}
		opts.acct_login[opts.n_accounts] = strdup(line);
		opts.acct_pass[opts.n_accounts] = strdup(pass);
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

static void mix_parse(const char *spec)
{
	/* "fetch_hdr=30,fetch_body=25,..." ; unnamed ops keep their weight. */
	char *copy = strdup(spec), *save = NULL;
	if (copy == NULL)
		die("out of memory");
	for (char *item = strtok_r(copy, ",", &save); item != NULL;
	     item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '=');
		if (eq == NULL)
			die("--mix: expected op=weight, got \"%s\"", item);
		*eq = '\0';
		int i;
		for (i = 0; i < LOAD_OP_COUNT; i++)
			if (strcmp(item, load_op_names[i]) == 0)
				break;
		if (i == LOAD_OP_COUNT)
			die("--mix: unknown operation \"%s\"", item);
		opts.weight[i] = (int)num_arg("--mix", eq + 1, 0, 1000000);
	}
	free(copy);
}

static void usage(void)
{
	fputs("usage: imap_load [options]\n"
	      "  --host H --port P     server (127.0.0.1:143)\n"
	      "  --tls                 implicit TLS (certificate not verified)\n"
	      "  --clients N           concurrent clients (8; threads for --populate)\n"
	      "  --users M             client i logs in as user (i %% M) (4)\n"
	      "  --user-prefix S --user-suffix S --first-user K --pass P\n"
	      "                        login = prefix K+i suffix (user1, \"\", 1, pass)\n"
	      "  --accounts FILE       \"login password\" lines instead\n"
	      "  --duration S          seconds to run (20)\n"
	      "  --ops N               stop after N operations in all\n"
	      "  --idle-ms N           how long an IDLE lasts (50)\n"
	      "  --mix op=w,...        weights of fetch_hdr fetch_body store append\n"
	      "                        search idle expunge (30,25,15,10,10,5,5)\n"
	      "  --populate N          APPEND N messages to each user's INBOX and exit\n"
	      "  --warmup              read all envelopes, search once (after --populate)\n"
	      "  --seed N              content seed (1)\n"
	      "  --quiet               do not print NO/BAD replies\n",
	      stderr);
	exit(2);
}

static void opts_parse(int argc, char **argv)
{
	static const int default_mix[LOAD_OP_COUNT] = {30, 25, 15, 10, 10, 5, 5};
	opts.host = "127.0.0.1";
	opts.port = "143";
	opts.clients = 8;
	opts.users = 4;
	opts.first_user = 1;
	opts.user_prefix = "user";
	opts.user_suffix = "";
	opts.pass = "pass";
	opts.duration = 20;
	opts.idle_ms = 50;
	opts.seed = 1;
	memcpy(opts.weight, default_mix, sizeof(default_mix));
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		bool takes = true;
		if (strcmp(a, "--tls") == 0) {
			opts.tls = true;
			takes = false;
		} else if (strcmp(a, "--warmup") == 0) {
			opts.warmup = true;
			takes = false;
		} else if (strcmp(a, "--quiet") == 0) {
			opts.quiet = true;
			takes = false;
		} else if (v == NULL) {
			usage();
		} else if (strcmp(a, "--host") == 0) {
			opts.host = v;
		} else if (strcmp(a, "--port") == 0) {
			opts.port = v;
		} else if (strcmp(a, "--clients") == 0) {
			opts.clients = (int)num_arg(a, v, 1, 100000);
		} else if (strcmp(a, "--users") == 0) {
			opts.users = (int)num_arg(a, v, 1, 1000000);
		} else if (strcmp(a, "--first-user") == 0) {
			opts.first_user = (int)num_arg(a, v, 0, 100000000);
		} else if (strcmp(a, "--user-prefix") == 0) {
			opts.user_prefix = v;
		} else if (strcmp(a, "--user-suffix") == 0) {
			opts.user_suffix = v;
		} else if (strcmp(a, "--pass") == 0) {
			opts.pass = v;
		} else if (strcmp(a, "--accounts") == 0) {
			accounts_load(v);
		} else if (strcmp(a, "--duration") == 0) {
			opts.duration = (double)num_arg(a, v, 1, 86400);
		} else if (strcmp(a, "--ops") == 0) {
			opts.max_ops = (uint64_t)num_arg(a, v, 1, LONG_MAX);
		} else if (strcmp(a, "--idle-ms") == 0) {
			opts.idle_ms = (int)num_arg(a, v, 0, 600000);
		} else if (strcmp(a, "--mix") == 0) {
			mix_parse(v);
		} else if (strcmp(a, "--populate") == 0) {
			opts.populate = (int)num_arg(a, v, 1, 10000000);
		} else if (strcmp(a, "--seed") == 0) {
			opts.seed = (unsigned)num_arg(a, v, 0, UINT_MAX);
		} else {
			usage();
		}
		if (takes)
			i++;
	}
	int total = 0;
	for (int i = 0; i < LOAD_OP_COUNT; i++)
		total += opts.weight[i];
	if (total == 0)
		die("--mix: all weights are zero");
}

static void report(struct load_client *clients, double secs)
{
	struct load_hist *sum = calloc(LOAD_OP_COUNT + 1, sizeof(*sum));
	if (sum == NULL)
		die("out of memory");
	int failed = 0;
	for (int c = 0; c < opts.clients; c++) {
		failed += clients[c].failed;
		for (int i = 0; i < LOAD_OP_COUNT; i++) {
			hist_merge(&sum[i], &clients[c].hist[i]);
			hist_merge(&sum[LOAD_OP_COUNT], &clients[c].hist[i]);
		}
	}
	printf("# imap_load %s:%s tls=%s clients=%d users=%d seconds=%.1f failed_clients=%d\n",
	       opts.host, opts.port, opts.tls ? "yes" : "no", opts.clients, opts.users, secs,
	       failed);
	printf("%-11s %9s %10s %9s %9s %7s %8s\n", "op", "count", "ops/s", "p50_ms", "p99_ms",
	       "errors", "rx_KiB");
	for (int i = 0; i <= LOAD_OP_COUNT; i++) {
		const struct load_hist *h = &sum[i];
		printf("%-11s %9" PRIu64 " %10.1f %9.3f %9.3f %7" PRIu64 " %8.1f\n",
		       i < LOAD_OP_COUNT ? load_op_names[i] : "total", h->n, (double)h->n / secs,
		       hist_quantile_ms(h, 0.50), hist_quantile_ms(h, 0.99), h->errors,
		       h->n ? (double)h->rx_bytes / (double)h->n / 1024.0 : 0.0);
	}
	free(sum);
}

int main(int argc, char **argv)
{
	opts_parse(argc, argv);
	if (opts.tls) {
		ssl_ctx = SSL_CTX_new(TLS_client_method());
		if (ssl_ctx == NULL)
			die("SSL_CTX_new failed");
		SSL_CTX_set_verify(ssl_ctx, SSL_VERIFY_NONE, NULL);
	}
	bool setup = opts.populate > 0 || opts.warmup;
	int n = setup && opts.users < opts.clients ? opts.users : opts.clients;
	struct load_client *clients = calloc((size_t)n, sizeof(*clients));
	if (clients == NULL)
		die("out of memory");
	if (opts.populate == 0 &&
	    pthread_barrier_init(&start_barrier, NULL, (unsigned)opts.clients + 1) != 0)
		die("pthread_barrier_init failed");
	for (int i = 0; i < n; i++) {
		clients[i].id = i;
		clients[i].conn.fd = -1;
		clients[i].rng = 0x853C49E6748FEA9BULL ^
		                 ((uint64_t)(i + 1) * 0x9E3779B97F4A7C15ULL) ^ (uint64_t)opts.seed;
		if (pthread_create(&clients[i].thread, NULL, setup ? populate_run : client_run,
		                   &clients[i]) != 0)
			die("pthread_create: %s", strerror(errno));
	}
	int failed = 0;
	if (setup) {
		uint64_t t0 = now_us();
		for (int i = 0; i < n; i++) {
			pthread_join(clients[i].thread, NULL);
			failed += clients[i].failed;
		}
		printf("populated %d users x %d messages%s in %.1f s, %d failed\n", opts.users,
		       opts.populate, opts.warmup ? " and warmed up" : "",
		       (double)(now_us() - t0) / 1e6, failed);
		free(clients);
		return failed ? 1 : 0;
	}
	pthread_barrier_wait(&start_barrier);
	uint64_t t0 = now_us();
	uint64_t deadline = t0 + (uint64_t)(opts.duration * 1e6);
	while (now_us() < deadline) {
		if (opts.max_ops > 0 && atomic_load(&ops_done) >= opts.max_ops)
			break;
		struct timespec ts = {.tv_nsec = 20 * 1000000L};
		nanosleep(&ts, NULL);
	}
	atomic_store(&stop_flag, true);
	for (int i = 0; i < n; i++)
		pthread_join(clients[i].thread, NULL);
	double secs = (double)(now_us() - t0) / 1e6;
	report(clients, secs);
	for (int i = 0; i < n; i++)
		failed += clients[i].failed;
	free(clients);
	SSL_CTX_free(ssl_ctx);
	return failed == n ? 1 : 0;
}
