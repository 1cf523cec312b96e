/* COMPRESS=DEFLATE (RFC 4978) over real loopback connections: a small
 * line protocol of its own (echo, BIG, DISCARD, MULTI, QUIT) served with
 * sp_server, and clients that compress and inflate with zlib directly.
 * Checks the exact bytes of a reply (raw DEFLATE ending in a sync flush,
 * one flush per batch), a compressed stream split at every byte boundary
 * and trickled, 5 MB echoed to a slow reader with bounded buffers, a
 * zip bomb inflated within the input limit, corrupt input closing the
 * connection as an error, and all of it over implicit TLS. */
#include "net/sp_deflate.h"
#include "net/net_private.h"
#include "net/testing_echo.h"
#include "lib/sp_str.h"
#include "lib/sp_test.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

SP_TEST_MAIN_DEFS

/* ---- the server side (loop thread) ----------------------------------- */

#define ECHO_HIGH (256 * 1024)
#define BIG_CHUNK (16 * 1024)
#define BIG_HIGH (64 * 1024)

static int server_level = Z_DEFAULT_COMPRESSION;
static atomic_int accepted_count, closed_count, last_reason, pauses;
static atomic_size_t max_pending, max_input;

struct zsession {
	struct sp_conn *conn;
	bool compressed, paused;
	uint64_t big_left, big_pos;
	uint64_t discard_total, discard_left;
};

/* The byte at position pos of a BIG stream: printable characters that
 * compress only somewhat, so the compressed stream is megabytes too. */
static uint8_t big_byte(uint64_t pos)
{
	uint64_t h = pos * 0x9E3779B97F4A7C15ULL;
	return (uint8_t)(' ' + (h >> 40) % 95);
}

static void note_pending(struct sp_conn *conn)
{
	size_t p = sp_conn_output_pending(conn);
	if (p > atomic_load(&max_pending))
		atomic_store(&max_pending, p);
}

static void big_pump(struct zsession *s)
{
	uint8_t chunk[BIG_CHUNK];
	while (s->big_left > 0 && sp_conn_output_pending(s->conn) < BIG_HIGH) {
		size_t n = (size_t)SP_MIN((uint64_t)sizeof(chunk), s->big_left);
		for (size_t i = 0; i < n; i++)
			chunk[i] = big_byte(s->big_pos + i);
		sp_conn_write(s->conn, chunk, n);
		s->big_pos += n;
		s->big_left -= n;
		note_pending(s->conn);
	}
	if (s->big_left > 0)
		sp_conn_want_drain(s->conn, BIG_CHUNK);
	else
		sp_conn_write_str(s->conn, "END\r\n");
}

/* Returns false when the current input must not be parsed further. */
static bool z_line(struct zsession *s, const char *line)
{
	struct sp_conn *conn = s->conn;
	const char *err = NULL;
	if (strcmp(line, "COMPRESS") == 0) {
		if (s->compressed) {
			sp_conn_write_str(conn, "BAD COMPRESS already active\r\n");
			return true;
		}
		sp_conn_write_str(conn, "OK DEFLATE active\r\n");
		if (sp_conn_start_deflate(conn, server_level, &err) < 0) {
			sp_conn_printf(conn, "NO %s\r\n", err);
			return true;
		}
		s->compressed = true;
		return false;
	}
	if (strcmp(line, "QUIT") == 0) {
		sp_conn_write_str(conn, "BYE\r\n");
		sp_conn_close_after_flush(conn);
		return false;
	}
	if (strcmp(line, "MULTI") == 0) {
		sp_conn_write_str(conn, "* one\r\n");
		sp_conn_write_str(conn, "* two\r\n");
		sp_conn_write_str(conn, "OK multi\r\n");
		return true;
	}
	if (strncmp(line, "BIG ", 4) == 0) {
		sp_parse_u64(line + 4, 1ULL << 32, &s->big_left);
		s->big_pos = 0;
		big_pump(s);
		return false;
	}
	if (strncmp(line, "DISCARD ", 8) == 0) {
		sp_parse_u64(line + 8, 1ULL << 40, &s->discard_total);
		s->discard_left = s->discard_total;
		return true;
	}
	sp_conn_printf(conn, "%s\r\n", line);
	note_pending(conn);
	return true;
}

static void z_read(struct sp_conn *conn, void *ctx)
{
	struct zsession *s = ctx;
	while (!s->paused && s->big_left == 0 && !sp_conn_is_closing(conn)) {
		struct sp_slice in = sp_conn_input(conn);
		if (in.len > atomic_load(&max_input))
			atomic_store(&max_input, in.len);
		if (s->discard_left > 0) {
			size_t n = (size_t)SP_MIN((uint64_t)in.len, s->discard_left);
			if (n == 0)
				return;
			sp_conn_consume(conn, n);
			s->discard_left -= n;
			if (s->discard_left == 0)
				sp_conn_printf(conn, "DISCARDED %llu maxin=%zu\r\n",
				               (unsigned long long)s->discard_total,
				               atomic_load(&max_input));
			continue;
		}
		const uint8_t *nl = memchr(in.ptr, '\n', in.len);
		if (nl == NULL)
			return;
		size_t n = (size_t)(nl - in.ptr) + 1;
		size_t len = n - 1;
		if (len > 0 && in.ptr[len - 1] == '\r')
			len--;
		char *line = sp_strndup((const char *)in.ptr, len);
		sp_conn_consume(conn, n);
		bool go_on = z_line(s, line);
		free(line);
		if (!go_on)
			return;
		/* The protocol's own backpressure: stop reading while the
		 * peer is not taking the replies. */
		if (sp_conn_output_pending(conn) > ECHO_HIGH) {
			s->paused = true;
			atomic_fetch_add(&pauses, 1);
			sp_conn_pause_input(conn);
			sp_conn_want_drain(conn, ECHO_HIGH / 4);
			return;
		}
	}
}

static void z_drain(struct sp_conn *conn, void *ctx)
{
	struct zsession *s = ctx;
	if (s->big_left > 0) {
		big_pump(s);
		if (s->big_left == 0)
			z_read(conn, s);
		return;
	}
	if (s->paused) {
		s->paused = false;
		sp_conn_resume_input(conn);
	}
}

static void z_close(struct sp_conn *conn, void *ctx, enum sp_conn_close_reason reason)
{
	atomic_store(&last_reason, (int)reason);
	atomic_fetch_add(&closed_count, 1);
	free(ctx);
}

static const struct sp_conn_handlers z_handlers = {
    .on_read = z_read,
    .on_drain = z_drain,
    .on_close = z_close,
};

static void z_accept(void *ctx, struct sp_conn *conn)
{
	struct zsession *s = sp_calloc(1, sizeof(*s));
	s->conn = conn;
	/* A small kernel buffer, so that a client that reads slowly pushes
	 * back on the layers above within a few hundred KiB. */
	int sndbuf = 32 * 1024;
	setsockopt(conn->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	sp_conn_set_handlers(conn, &z_handlers, s);
	sp_conn_write_str(conn, "* OK zecho\r\n");
	atomic_fetch_add(&accepted_count, 1);
}

static struct echo_server es;
static char plain_addr[64], tls_addr[64];

struct listen_req {
	struct sp_listen_config cfg;
	struct sp_listener *l;
};

static void listen_run(void *arg)
{
	struct listen_req *r = arg;
	const char *err = NULL;
	r->cfg.on_accept = z_accept;
	r->l = sp_server_listen(es.srv, &r->cfg, &err);
	if (r->l == NULL)
		fprintf(stderr, "listen: %s\n", err);
}

static bool z_listen(struct sp_tls *tls, char *addr, size_t size)
{
	struct listen_req r = {.cfg = {.address = "127.0.0.1:0",
	                               .role = tls != NULL ? "imaps" : "imap",
	                               .tls = tls,
	                               .implicit_tls = tls != NULL}};
	echo_call(&es, listen_run, &r);
	if (r.l == NULL)
		return false;
	snprintf(addr, size, "127.0.0.1:%u", sp_listener_port(r.l));
	return true;
}

/* ---- the client side (test thread) ----------------------------------- */

struct zc {
	struct client c;
	z_stream zo, zi;
	bool z;
	uint8_t *out; /* inflated, not yet read */
	size_t out_len, out_cap;
	bool broken;
};

static int raw_send(struct zc *z, const void *data, size_t len)
{
	if (z->c.ssl != NULL)
		return len == 0 || SSL_write(z->c.ssl, data, (int)len) == (int)len ? 0 : -1;
	const uint8_t *p = data;
	while (len > 0) {
		ssize_t r = send(z->c.fd, p, len, MSG_NOSIGNAL);
		if (r <= 0)
			return -1;
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

/* > 0 bytes; 0 EOF, reset or timeout. */
static ssize_t raw_recv(struct zc *z, void *buf, size_t n)
{
	if (z->c.ssl != NULL) {
		int r = SSL_read(z->c.ssl, buf, (int)n);
		return r > 0 ? r : 0;
	}
	ssize_t r = recv(z->c.fd, buf, n, 0);
	return r > 0 ? r : 0;
}

static void zc_deflate(z_stream *zs, const void *data, size_t len, int flush, struct sp_buf *out)
{
	uint8_t buf[4096];
	zs->next_in = (Bytef *)(uintptr_t)data;
	zs->avail_in = (uInt)len;
	do {
		zs->next_out = buf;
		zs->avail_out = sizeof(buf);
		deflate(zs, flush);
		sp_buf_append(out, buf, sizeof(buf) - zs->avail_out);
	} while (zs->avail_out == 0);
}

static void deflater_init(z_stream *zs, int level)
{
	memset(zs, 0, sizeof(*zs));
	deflateInit2(zs, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
}

/* Compresses data as one flushed message into out (appended). */
static void zc_pack(struct zc *z, const void *data, size_t len, struct sp_buf *out)
{
	zc_deflate(&z->zo, data, len, Z_SYNC_FLUSH, out);
}

static int zc_send(struct zc *z, const void *data, size_t len)
{
	struct sp_buf b;
	sp_buf_init(&b);
	zc_pack(z, data, len, &b);
	int r = raw_send(z, b.data, b.len);
	sp_buf_deinit(&b);
	return r;
}

static int zc_send_str(struct zc *z, const char *s)
{
	return zc_send(z, s, strlen(s));
}

/* Inflates raw bytes received into the readable buffer; -1 on bad data. */
static int zc_feed(struct zc *z, const uint8_t *raw, size_t n)
{
	z->zi.next_in = (Bytef *)(uintptr_t)raw;
	z->zi.avail_in = (uInt)n;
	while (z->zi.avail_in > 0) {
		if (z->out_cap - z->out_len < 16384) {
			z->out_cap = z->out_cap * 2 + 32768;
			z->out = sp_realloc(z->out, z->out_cap);
		}
		z->zi.next_out = z->out + z->out_len;
		z->zi.avail_out = (uInt)(z->out_cap - z->out_len);
		int r = inflate(&z->zi, Z_SYNC_FLUSH);
		z->out_len = (size_t)(z->zi.next_out - z->out);
		if (r != Z_OK && r != Z_BUF_ERROR) {
			z->broken = true;
			return -1;
		}
	}
	return 0;
}

/* Reads and inflates what arrives; -1 on EOF, timeout or bad data. */
static int zc_fill(struct zc *z)
{
	uint8_t raw[8192];
	ssize_t n = raw_recv(z, raw, sizeof(raw));
	if (n <= 0)
		return -1;
	return zc_feed(z, raw, (size_t)n);
}

static void zc_take(struct zc *z, size_t n)
{
	memmove(z->out, z->out + n, z->out_len - n);
	z->out_len -= n;
}

static int zc_line(struct zc *z, char *line, size_t size)
{
	for (;;) {
		uint8_t *nl = z->out_len > 0 ? memchr(z->out, '\n', z->out_len) : NULL;
		if (nl != NULL) {
			size_t n = (size_t)(nl - z->out) + 1, len = n - 1;
			if (len > 0 && z->out[len - 1] == '\r')
				len--;
			len = SP_MIN(len, size - 1);
			memcpy(line, z->out, len);
			line[len] = '\0';
			zc_take(z, n);
			return 0;
		}
		if (zc_fill(z) < 0)
			return -1;
	}
}

static int zc_read_n(struct zc *z, uint8_t *out, size_t n)
{
	while (z->out_len < n)
		if (zc_fill(z) < 0)
			return -1;
	memcpy(out, z->out, n);
	zc_take(z, n);
	return 0;
}

/* Connects (TLS when tls), reads the greeting, asks for COMPRESS and
 * reads the plaintext OK (client_line reads byte by byte: nothing
 * compressed is taken early). */
static bool zc_open(struct zc *z, const char *addr, bool tls, int rcvbuf)
{
	char line[256];
	memset(z, 0, sizeof(*z));
	if (client_connect_from(&z->c, addr, NULL, rcvbuf) < 0)
		return false;
	int one = 1;
	setsockopt(z->c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (tls && client_tls(&z->c, NULL, NULL, NULL) < 0)
		return false;
	if (client_line(&z->c, line, sizeof(line)) < 0 || strcmp(line, "* OK zecho") != 0)
		return false;
	if (client_send(&z->c, "COMPRESS\r\n") < 0 || client_line(&z->c, line, sizeof(line)) < 0)
		return false;
	if (strcmp(line, "OK DEFLATE active") != 0) {
		fprintf(stderr, "COMPRESS: %s\n", line);
		return false;
	}
	deflater_init(&z->zo, Z_DEFAULT_COMPRESSION);
	inflateInit2(&z->zi, -15);
	z->z = true;
	return true;
}

static void zc_close(struct zc *z)
{
	if (z->z) {
		deflateEnd(&z->zo);
		inflateEnd(&z->zi);
	}
	free(z->out);
	client_close(&z->c);
	memset(z, 0, sizeof(*z));
}

/* The server hung up: EOF or reset within the 5 s receive timeout. */
static bool zc_eof(struct zc *z)
{
	uint8_t buf[4096];
	for (int i = 0; i < 1000; i++) {
		errno = 0;
		ssize_t r = z->c.ssl != NULL ? SSL_read(z->c.ssl, buf, sizeof(buf))
		                             : recv(z->c.fd, buf, sizeof(buf), 0);
		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
			return true;
		if (r < 0)
			return false;
	}
	return false;
}

static void check_echo(struct zc *z, const char *text)
{
	char out[512], line[512];
	snprintf(out, sizeof(out), "%s\r\n", text);
	SP_CHECK_INT(zc_send_str(z, out), 0);
	SP_CHECK_INT(zc_line(z, line, sizeof(line)), 0);
	SP_CHECK_STR(line, text);
}

/* BIG n: n pattern bytes then END, all inflated correctly. */
static void check_big(struct zc *z, uint64_t n)
{
	char cmd[64], line[64];
	snprintf(cmd, sizeof(cmd), "BIG %llu\r\n", (unsigned long long)n);
	SP_CHECK_INT(zc_send_str(z, cmd), 0);
	uint8_t buf[65536];
	uint64_t pos = 0;
	bool same = true;
	while (pos < n) {
		size_t k = (size_t)SP_MIN((uint64_t)sizeof(buf), n - pos);
		if (zc_read_n(z, buf, k) < 0)
			break;
		for (size_t i = 0; i < k; i++)
			same = same && buf[i] == big_byte(pos + i);
		pos += k;
	}
	SP_CHECK(pos == n && same);
	SP_CHECK_INT(zc_line(z, line, sizeof(line)), 0);
	SP_CHECK_STR(line, "END");
}

/* DISCARD n with n zero bytes: a few KiB that inflate to n. held_back:
 * the sync flush's empty stored block (00 00 ff ff) is sent only after the
 * reply, so the server's zlib may have taken every byte sent while it
 * still holds inflated output: that output must come out when the
 * protocol consumes, not when the peer sends more. */
static void check_bomb(struct zc *z, uint64_t n, bool held_back)
{
	char cmd[64], line[128];
	snprintf(cmd, sizeof(cmd), "DISCARD %llu\r\n", (unsigned long long)n);
	struct sp_buf b;
	sp_buf_init(&b);
	zc_deflate(&z->zo, cmd, strlen(cmd), Z_NO_FLUSH, &b);
	static const uint8_t zeros[65536];
	for (uint64_t left = n; left > 0;) {
		size_t k = (size_t)SP_MIN((uint64_t)sizeof(zeros), left);
		zc_deflate(&z->zo, zeros, k, Z_NO_FLUSH, &b);
		left -= k;
	}
	zc_deflate(&z->zo, NULL, 0, Z_SYNC_FLUSH, &b);
	SP_CHECK(b.len < n / 500);
	size_t tail = held_back ? 4 : 0;
	SP_CHECK(memcmp(b.data + b.len - 4, "\x00\x00\xff\xff", 4) == 0);
	SP_CHECK_INT(raw_send(z, b.data, b.len - tail), 0);
	SP_CHECK_INT(zc_line(z, line, sizeof(line)), 0);
	SP_CHECK_INT(raw_send(z, b.data + b.len - tail, tail), 0);
	sp_buf_deinit(&b);
	char want[64];
	snprintf(want, sizeof(want), "DISCARDED %llu maxin=", (unsigned long long)n);
	SP_CHECK(strncmp(line, want, strlen(want)) == 0);
	uint64_t maxin = 0;
	SP_CHECK(sp_parse_u64(line + strlen(want), 1ULL << 40, &maxin) == 0);
	/* Never more inflated than the input limit (64 KiB). */
	SP_CHECK(maxin > 0 && maxin <= 64 * 1024);
}

/* Replays what the server's input filter does with the first len bytes
 * of a fresh stream (64 KiB windows taken 16 KiB at a time, each window
 * consumed before the next) and says whether some window ends with every
 * byte taken by zlib while zlib still holds inflated output. */
static bool stalls_at_window_end(const uint8_t *data, size_t len)
{
	static uint8_t out[16384];
	z_stream zs;
	memset(&zs, 0, sizeof(zs));
	inflateInit2(&zs, -15);
	zs.next_in = (Bytef *)(uintptr_t)data;
	zs.avail_in = (uInt)len;
	bool stall = false;
	for (;;) {
		size_t window = 0;
		int r = Z_OK;
		while (window < 65536 && r == Z_OK) {
			zs.next_out = out;
			zs.avail_out = sizeof(out);
			r = inflate(&zs, Z_SYNC_FLUSH);
			window += sizeof(out) - zs.avail_out;
			if (zs.avail_out > 0)
				break;
		}
		if (window < 65536 || r != Z_OK)
			break;
		if (zs.avail_in == 0) {
			uint8_t one;
			zs.next_out = &one;
			zs.avail_out = 1;
			inflate(&zs, Z_SYNC_FLUSH);
			stall = zs.avail_out == 0;
			break;
		}
	}
	inflateEnd(&zs);
	return stall;
}

/* A client that ends its stream with a final block (Z_FINISH, no sync
 * flush after it) can leave the server's zlib with every byte taken and
 * inflated output still inside at the moment the input buffer is full.
 * That output must come out when the protocol consumes, although no
 * compressed byte is left below and the client sends nothing more. The
 * size is found by replaying the server's windows over candidates. */
static void test_pending_inside_zlib(void)
{
	struct sp_buf b;
	sp_buf_init(&b);
	uint64_t n = 0;
	static const uint8_t zeros[65536];
	for (uint64_t cand = 65536 - 600; cand < 65536 + 600 && n == 0; cand++) {
		char cmd[64];
		snprintf(cmd, sizeof(cmd), "DISCARD %llu\r\n", (unsigned long long)cand);
		z_stream zs;
		deflater_init(&zs, Z_DEFAULT_COMPRESSION);
		sp_buf_reset(&b);
		zc_deflate(&zs, cmd, strlen(cmd), Z_NO_FLUSH, &b);
		zc_deflate(&zs, zeros, (size_t)cand, Z_FINISH, &b);
		deflateEnd(&zs);
		if (stalls_at_window_end(b.data, b.len))
			n = cand;
	}
	SP_CHECK(n > 0);
	if (n > 0) {
		struct zc z;
		char line[128], want[64];
		SP_CHECK(zc_open(&z, plain_addr, false, 0));
		SP_CHECK_INT(raw_send(&z, b.data, b.len), 0);
		SP_CHECK_INT(zc_line(&z, line, sizeof(line)), 0);
		snprintf(want, sizeof(want), "DISCARDED %llu ", (unsigned long long)n);
		SP_CHECK(strncmp(line, want, strlen(want)) == 0);
		zc_close(&z);
	}
	sp_buf_deinit(&b);
}

static void check_quit(struct zc *z)
{
	char line[64];
	SP_CHECK_INT(zc_send_str(z, "QUIT\r\n"), 0);
	SP_CHECK_INT(zc_line(z, line, sizeof(line)), 0);
	SP_CHECK_STR(line, "BYE");
	SP_CHECK(zc_eof(z));
}

/* No byte arrives within ms. */
static bool plain_quiet(struct zc *z, int ms)
{
	struct pollfd p = {.fd = z->c.fd, .events = POLLIN};
	return poll(&p, 1, ms) == 0;
}

/* ---- tests ----------------------------------------------------------- */

static void test_level(void)
{
	const char *err = NULL;
	/* Checked before anything touches the connection. */
	SP_CHECK_INT(sp_conn_start_deflate(NULL, 10, &err), -1);
	SP_CHECK_STR(err, "bad compression level");
	SP_CHECK_INT(sp_conn_start_deflate(NULL, -2, &err), -1);
}

/* RFC 4978 §3, §4: the OK is plain, then raw DEFLATE; a reply ends with a
 * sync flush, so it arrives whole without the client sending more, and
 * everything one command wrote is one flushed batch. The expected bytes
 * come from a zlib deflater in the same state as the server's. */
static void test_exact_bytes(void)
{
	struct zc z;
	SP_CHECK(zc_open(&z, plain_addr, false, 0));
	z_stream mirror;
	deflater_init(&mirror, server_level);
	struct sp_buf want;
	sp_buf_init(&want);
	zc_deflate(&mirror, "ping\r\n", 6, Z_SYNC_FLUSH, &want);
	SP_CHECK(want.len >= 4 && memcmp(want.data + want.len - 4, "\x00\x00\xff\xff", 4) == 0);
	SP_CHECK_INT(zc_send_str(&z, "ping\r\n"), 0);
	uint8_t got[256];
	SP_CHECK(want.len <= sizeof(got));
	SP_CHECK_INT(client_read_n(&z.c, got, want.len), 0);
	SP_CHECK(memcmp(got, want.data, want.len) == 0);
	SP_CHECK(plain_quiet(&z, 100));
	SP_CHECK_INT(zc_feed(&z, got, want.len), 0);
	char line[128];
	SP_CHECK_INT(zc_line(&z, line, sizeof(line)), 0);
	SP_CHECK_STR(line, "ping");

	/* Three writes in one callback: one batch, one flush. */
	sp_buf_reset(&want);
	const char *multi = "* one\r\n* two\r\nOK multi\r\n";
	zc_deflate(&mirror, multi, strlen(multi), Z_SYNC_FLUSH, &want);
	SP_CHECK_INT(zc_send_str(&z, "MULTI\r\n"), 0);
	SP_CHECK_INT(client_read_n(&z.c, got, want.len), 0);
	SP_CHECK(memcmp(got, want.data, want.len) == 0);
	SP_CHECK(plain_quiet(&z, 100));
	SP_CHECK_INT(zc_feed(&z, got, want.len), 0);
	const char *lines[] = {"* one", "* two", "OK multi"};
	for (int i = 0; i < 3; i++) {
		SP_CHECK_INT(zc_line(&z, line, sizeof(line)), 0);
		SP_CHECK_STR(line, lines[i]);
	}
	deflateEnd(&mirror);
	sp_buf_deinit(&want);

	/* RFC 4978 §3: COMPRESS again is the protocol's to refuse (BAD), in
	 * a compressed reply. */
	SP_CHECK_INT(zc_send_str(&z, "COMPRESS\r\n"), 0);
	SP_CHECK_INT(zc_line(&z, line, sizeof(line)), 0);
	SP_CHECK_STR(line, "BAD COMPRESS already active");
	check_quit(&z);
	zc_close(&z);
}

/* Commands sent in the same segment as COMPRESS (already buffered when
 * the filter is pushed) are inflated, not parsed as plain text. */
static void test_pipelined(void)
{
	struct zc z;
	memset(&z, 0, sizeof(z));
	char line[256];
	SP_CHECK_INT(client_connect(&z.c, plain_addr), 0);
	SP_CHECK_INT(client_line(&z.c, line, sizeof(line)), 0);
	deflater_init(&z.zo, Z_DEFAULT_COMPRESSION);
	inflateInit2(&z.zi, -15);
	z.z = true;
	struct sp_buf b;
	sp_buf_init(&b);
	sp_buf_append(&b, "COMPRESS\r\n", 10);
	zc_pack(&z, "first\r\nsecond\r\n", 15, &b);
	SP_CHECK_INT(raw_send(&z, b.data, b.len), 0);
	sp_buf_deinit(&b);
	SP_CHECK_INT(client_line(&z.c, line, sizeof(line)), 0);
	SP_CHECK_STR(line, "OK DEFLATE active");
	SP_CHECK_INT(zc_line(&z, line, sizeof(line)), 0);
	SP_CHECK_STR(line, "first");
	SP_CHECK_INT(zc_line(&z, line, sizeof(line)), 0);
	SP_CHECK_STR(line, "second");
	zc_close(&z);
}

/* One compressed stream (two messages, each flushed) cut at every byte
 * boundary, one connection per cut, then trickled a byte at a time. */
static void test_split(void)
{
	z_stream zs;
	deflater_init(&zs, Z_DEFAULT_COMPRESSION);
	struct sp_buf s;
	sp_buf_init(&s);
	zc_deflate(&zs, "hello one\r\n", 11, Z_SYNC_FLUSH, &s);
	zc_deflate(&zs, "hello hello two\r\n", 17, Z_SYNC_FLUSH, &s);
	deflateEnd(&zs);
	SP_CHECK(s.len > 20);
	int bad = 0;
	for (size_t k = 1; k < s.len; k++) {
		struct zc z;
		char l1[64] = "", l2[64] = "";
		bool ok = zc_open(&z, plain_addr, false, 0);
		ok = ok && raw_send(&z, s.data, k) == 0;
		echo_sleep_ms(3);
		ok = ok && raw_send(&z, s.data + k, s.len - k) == 0;
		ok = ok && zc_line(&z, l1, sizeof(l1)) == 0 && zc_line(&z, l2, sizeof(l2)) == 0;
		if (!ok || strcmp(l1, "hello one") != 0 || strcmp(l2, "hello hello two") != 0) {
			fprintf(stderr, "split at %zu: \"%s\" \"%s\"\n", k, l1, l2);
			bad++;
		}
		zc_close(&z);
	}
	SP_CHECK_INT(bad, 0);

	struct zc z;
	char line[64];
	SP_CHECK(zc_open(&z, plain_addr, false, 0));
	for (size_t i = 0; i < s.len; i++) {
		SP_CHECK_INT(raw_send(&z, s.data + i, 1), 0);
		echo_sleep_ms(1);
	}
	SP_CHECK_INT(zc_line(&z, line, sizeof(line)), 0);
	SP_CHECK_STR(line, "hello one");
	SP_CHECK_INT(zc_line(&z, line, sizeof(line)), 0);
	SP_CHECK_STR(line, "hello hello two");
	zc_close(&z);
	sp_buf_deinit(&s);
}

#define RT_LINE 100
#define RT_TOTAL (5 * 1024 * 1024)
#define RT_LINES (RT_TOTAL / (RT_LINE + 2))

static void rt_line(size_t i, char *out)
{
	for (size_t j = 0; j < RT_LINE; j++)
		out[j] = (char)big_byte(i * RT_LINE + j);
	out[RT_LINE] = '\r';
	out[RT_LINE + 1] = '\n';
}

static void *rt_writer(void *arg)
{
	struct zc *z = arg;
	char batch[64 * (RT_LINE + 2)];
	for (size_t i = 0; i < RT_LINES; i += 64) {
		size_t n = SP_MIN((size_t)64, (size_t)RT_LINES - i);
		for (size_t j = 0; j < n; j++)
			rt_line(i + j, batch + j * (RT_LINE + 2));
		if (zc_send(z, batch, n * (RT_LINE + 2)) < 0)
			return (void *)1;
	}
	return NULL;
}

/* 5 MB each way through the filter while the client reads slowly: the
 * server's buffers (queued output in every layer, inflated input) stay
 * bounded. */
static void test_roundtrip_slow_reader(void)
{
	struct zc z;
	atomic_store(&max_pending, 0);
	atomic_store(&max_input, 0);
	atomic_store(&pauses, 0);
	SP_CHECK(zc_open(&z, plain_addr, false, 32 * 1024));
	pthread_t th;
	pthread_create(&th, NULL, rt_writer, &z);
	char line[RT_LINE + 16], want[RT_LINE + 2];
	size_t i = 0;
	for (; i < RT_LINES; i++) {
		if (zc_line(&z, line, sizeof(line)) < 0)
			break;
		rt_line(i, want);
		if (strlen(line) != RT_LINE || memcmp(line, want, RT_LINE) != 0)
			break;
		/* Slow: first let everything fill up, then trickle. */
		if (i == 0)
			echo_sleep_ms(1000);
		if (i % 64 == 0)
			echo_sleep_ms(1);
	}
	void *rc = NULL;
	pthread_join(th, &rc);
	SP_CHECK(rc == NULL);
	SP_CHECK_INT(i, RT_LINES);
	/* The reader was slow enough for backpressure to matter... */
	SP_CHECK(atomic_load(&pauses) > 0);
	/* ...and nothing grew with the 5 MB: the echo's 256 KiB bound plus
	 * one layer's 64 KiB and a chunk in flight. */
	SP_CHECK(atomic_load(&max_pending) < 512 * 1024);
	SP_CHECK(atomic_load(&max_input) <= 64 * 1024);
	check_quit(&z);
	zc_close(&z);
}

static void test_big_and_bomb(void)
{
	struct zc z;
	SP_CHECK(zc_open(&z, plain_addr, false, 0));
	atomic_store(&max_pending, 0);
	check_big(&z, 3 * 1024 * 1024);
	SP_CHECK(atomic_load(&max_pending) < 256 * 1024);
	check_echo(&z, "after big");
	check_bomb(&z, 64ULL * 1024 * 1024, false);
	/* Sizes around the 64 KiB input windows, so that some window ends
	 * inside the last run of zeros. */
	for (uint64_t n = 65536 - 64; n <= 65536 + 64; n += 8)
		check_bomb(&z, 16 * n, true);
	check_echo(&z, "after bomb");
	zc_close(&z);
}

struct corrupt_case {
	const char *name;
	const char *valid_first; /* a message sent (and echoed) before, or NULL */
	const uint8_t *bytes;
	size_t len;
	bool finish; /* valid_first ends the stream (final block) */
};

/* RFC 1951 §3.2.3: BTYPE 11 is reserved; §3.2.4: NLEN must be ~LEN;
 * §3.2.7: HLIT above 286 codes. */
static const uint8_t bad_btype[] = {0x07, 0x00, 0x00};
static const uint8_t bad_stored[] = {0x00, 0x05, 0x00, 0x00, 0x00, 'x'};
static const uint8_t bad_hlit[] = {0x05, 0xff, 0xff, 0xff, 0xff};
static const uint8_t one_byte[] = {0x00};
static const uint8_t garbage[] = {0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0xfa};

static const struct corrupt_case corrupt_cases[] = {
    {.name = "reserved block type", .bytes = bad_btype, .len = sizeof(bad_btype)},
    {.name = "stored length mismatch", .bytes = bad_stored, .len = sizeof(bad_stored)},
    {.name = "too many literal codes", .bytes = bad_hlit, .len = sizeof(bad_hlit)},
    {.name = "garbage after a valid message",
     .valid_first = "fine\r\n",
     .bytes = garbage,
     .len = sizeof(garbage)},
    {.name = "data after the final block",
     .valid_first = "last\r\n",
     .bytes = one_byte,
     .len = sizeof(one_byte),
     .finish = true},
};

/* Every connection the client dropped is closed on the server too. */
static bool settle(void)
{
	for (int i = 0; i < 1500; i++) {
		if (atomic_load(&closed_count) == atomic_load(&accepted_count))
			return true;
		echo_sleep_ms(2);
	}
	return false;
}

static void test_corrupt(void)
{
	SP_CHECK(settle());
	for (size_t i = 0; i < sizeof(corrupt_cases) / sizeof(corrupt_cases[0]); i++) {
		const struct corrupt_case *tc = &corrupt_cases[i];
		struct zc z;
		char line[64];
		int closed = atomic_load(&closed_count);
		SP_CHECK(zc_open(&z, plain_addr, false, 0));
		if (tc->valid_first != NULL) {
			struct sp_buf b;
			sp_buf_init(&b);
			zc_deflate(&z.zo, tc->valid_first, strlen(tc->valid_first),
			           tc->finish ? Z_FINISH : Z_SYNC_FLUSH, &b);
			SP_CHECK_INT(raw_send(&z, b.data, b.len), 0);
			sp_buf_deinit(&b);
			if (!tc->finish) {
				SP_CHECK_INT(zc_line(&z, line, sizeof(line)), 0);
				SP_CHECK_STR(line, "fine");
			}
		}
		SP_CHECK_INT(raw_send(&z, tc->bytes, tc->len), 0);
		bool eof = zc_eof(&z);
		bool gone = echo_wait_int(&closed_count, closed + 1, 3000);
		if (!eof || !gone || atomic_load(&last_reason) != SP_CONN_CLOSED_ERROR) {
			fprintf(stderr, "corrupt case \"%s\": eof=%d closed=%d reason=%d\n",
			        tc->name, eof, gone, atomic_load(&last_reason));
			sp_test_checks_failed++;
		}
		zc_close(&z);
	}
	/* The server still serves. */
	struct zc z;
	SP_CHECK(zc_open(&z, plain_addr, false, 0));
	check_echo(&z, "still here");
	zc_close(&z);
}

/* The filter above TLS: echo, a large reply, a bomb, and QUIT's BYE
 * delivered before the close. */
static void test_tls(void)
{
	struct zc z;
	SP_CHECK(zc_open(&z, tls_addr, true, 0));
	check_echo(&z, "over tls");
	atomic_store(&max_pending, 0);
	check_big(&z, 1024 * 1024);
	SP_CHECK(atomic_load(&max_pending) < 256 * 1024);
	check_bomb(&z, 16ULL * 1024 * 1024, false);
	check_bomb(&z, 1024 * 1024 - 3, true);
	check_echo(&z, "still over tls");
	check_quit(&z);
	zc_close(&z);

	/* Corrupt input under TLS ends that connection as an error too. */
	SP_CHECK(settle());
	int closed = atomic_load(&closed_count);
	SP_CHECK(zc_open(&z, tls_addr, true, 0));
	check_echo(&z, "before garbage");
	SP_CHECK_INT(raw_send(&z, bad_btype, sizeof(bad_btype)), 0);
	SP_CHECK(zc_eof(&z));
	SP_CHECK(echo_wait_int(&closed_count, closed + 1, 3000));
	SP_CHECK_INT(atomic_load(&last_reason), SP_CONN_CLOSED_ERROR);
	zc_close(&z);
}

int main(void)
{
	char dir[64], crt[128], key[128];
	snprintf(dir, sizeof(dir), "/tmp/sp-net-deflate-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(crt, sizeof(crt), "%s/t.crt", dir);
	snprintf(key, sizeof(key), "%s/t.key", dir);
	const char *hosts[] = {"localhost", "127.0.0.1"};
	const char *err = NULL;
	struct sp_tls *tls = NULL;
	if (sp_tls_generate_self_signed(crt, key, hosts, 2, SP_TLS_KEY_EC_P256, &err) == 0)
		tls = sp_tls_new(
		    &(struct sp_tls_config){.default_cert = {.cert_path = crt, .key_path = key}},
		    &err);
	if (tls == NULL)
		fprintf(stderr, "tls: %s\n", err);
	SP_CHECK(tls != NULL);

	echo_start(&es, &(struct sp_server_config){0});
	SP_CHECK(z_listen(NULL, plain_addr, sizeof(plain_addr)));
	SP_CHECK(tls == NULL || z_listen(tls, tls_addr, sizeof(tls_addr)));
	SP_TEST_RUN(test_level);
	SP_TEST_RUN(test_exact_bytes);
	SP_TEST_RUN(test_pipelined);
	SP_TEST_RUN(test_split);
	SP_TEST_RUN(test_roundtrip_slow_reader);
	SP_TEST_RUN(test_big_and_bomb);
	SP_TEST_RUN(test_pending_inside_zlib);
	SP_TEST_RUN(test_corrupt);
	if (tls != NULL)
		SP_TEST_RUN(test_tls);
	echo_stop(&es);
	sp_tls_free(&tls);

	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		return 1;
	return sp_test_finish();
}
