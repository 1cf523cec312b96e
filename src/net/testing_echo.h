/* Test support for src/net (not part of sp_net): a line-based echo
 * protocol served on a loop thread, and blocking clients (plain or TLS,
 * with OpenSSL) for the test's main thread.
 *
 * Commands (one per line): QUIT, STARTTLS, BIG n (stream n pattern bytes
 * then "END"), WORK ms (a worker job; reply "WORKED"), INFO, UPPER (stack
 * an uppercasing output filter), IDLE ms, STUBBORN (ignore shutdown);
 * anything else is echoed back. */
#ifndef TESTING_ECHO_H
#define TESTING_ECHO_H

#include "net/sp_conn.h"
#include "net/sp_server.h"
#include "net/sp_tls.h"
#include "net/sp_workers.h"

#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>

struct echo_server {
	struct sp_loop *loop;
	struct sp_server *srv;
	struct sp_workers *pool;
	struct sp_work_queue *queue;
	struct sp_tls *tls;
	pthread_t thread;
	/* Written on the loop thread, read by the test. */
	atomic_int accepted, closed, drain_calls, work_done, work_gone, timeouts, shutdowns;
	atomic_size_t max_pending;
	atomic_int last_reason;
	atomic_int shutdown_finished;
	atomic_ullong shutdown_ms; /* when the shutdown done callback ran */
};

void echo_start(struct echo_server *es, const struct sp_server_config *cfg);
void echo_stop(struct echo_server *es);
/* Runs fn(ctx) on the loop thread and waits for it. */
void echo_call(struct echo_server *es, void (*fn)(void *ctx), void *ctx);
/* Listens with the echo protocol (cfg->on_accept is ignored); NULL and
 * *error_r on failure. */
struct sp_listener *echo_listen(struct echo_server *es, const struct sp_listen_config *cfg,
                                const char **error_r);
/* Waits (polling) until *v == want or ms pass; returns whether it did. */
bool echo_wait_int(atomic_int *v, int want, unsigned ms);
void echo_sleep_ms(unsigned ms);

struct client {
	int fd;
	SSL *ssl;
	SSL_CTX *ctx;
};

/* Connects to "127.0.0.1:PORT", "[::1]:PORT" or a Unix path, with 5 s
 * receive timeouts. -1 on failure (errno kept). */
int client_connect(struct client *c, const char *address);
/* The same from a given local IPv4 address ("127.0.0.2"; NULL = any),
 * with a receive buffer of rcvbuf bytes (0 = default). */
int client_connect_from(struct client *c, const char *address, const char *source, int rcvbuf);
/* TLS handshake on the connected socket; sni may be NULL. cafile and
 * verify_host enable verification (X509 strict). 0 ok, -1 on failure. */
int client_tls(struct client *c, const char *sni, const char *cafile, const char *verify_host);
/* The common name of the server certificate ("" if none). */
void client_peer_cn(struct client *c, char *out, size_t size);
int client_send(struct client *c, const char *s);
/* Reads one line without its CRLF; -1 on EOF, error or timeout. */
int client_line(struct client *c, char *out, size_t size);
/* Reads exactly n bytes; -1 on EOF/timeout. */
int client_read_n(struct client *c, uint8_t *out, size_t n);
/* True if the server closed the connection (EOF or reset) within 5 s. */
bool client_eof(struct client *c);
void client_close(struct client *c);

#endif
