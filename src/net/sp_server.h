/* The server core shared by every protocol: listeners, the set of live
 * connections, connection limits and graceful shutdown.
 *
 *   struct sp_server *srv = sp_server_new(loop, &(struct sp_server_config){
 *           .max_connections = 10000, .max_per_ip = 20});
 *   sp_server_listen(srv, &(struct sp_listen_config){
 *           .address = "[::]:143", .role = "imap", .tls = tls,
 *           .on_accept = imap_accept}, &error);
 *
 * on_accept receives each new sp_conn and must call sp_conn_set_handlers()
 * (see sp_conn.h). Limits (DESIGN section 8): at most max_per_ip
 * concurrent connections per client address (IPv6 clients are counted per
 * /64, the block one subscriber gets), loopback peers (127.0.0.0/8, ::1) and
 * Unix peers exempt unless limit_loopback is set; at most max_connections
 * in all. A refused client gets busy_reply (plain listeners only) and is
 * closed. When accept() runs out of descriptors (EMFILE), the listener
 * pauses instead of spinning and resumes when a connection closes or after
 * a second. Loop thread only. */
#ifndef SP_SERVER_H
#define SP_SERVER_H

#include "net/sp_loop.h"

struct sp_server;
struct sp_listener;
struct sp_conn;
struct sp_tls;

struct sp_server_config {
	unsigned max_connections; /* 0 = 10000 */
	unsigned max_per_ip;      /* 0 = unlimited */
	bool limit_loopback;      /* count loopback peers too (default: exempt) */
	bool loopback_insecure;   /* loopback is not a secure channel (default: it is) */
	uint64_t idle_timeout_ms; /* initial idle timeout of new connections; 0 = none */
};

typedef void sp_accept_fn(void *ctx, struct sp_conn *conn);

struct sp_listen_config {
	const char *address;    /* "127.0.0.1:143", "[::]:993", "/run/sealpost/lmtp.sock" */
	const char *role;       /* tag for logs and sp_conn_role(), e.g. "imap"; copied */
	struct sp_tls *tls;     /* TLS for implicit TLS and STARTTLS; NULL = none */
	bool implicit_tls;      /* handshake first (imaps, pop3s, submissions) */
	unsigned unix_mode;     /* Unix socket file mode; 0 = 0660 */
	const char *unix_group; /* group to chown the socket to; NULL = keep */
	int backlog;            /* 0 = 511 */
	const char
	    *busy_reply; /* sent to a refused plain client, e.g. "* BYE Too many connections\r\n" */
	sp_accept_fn *on_accept;
	void *ctx;
};

struct sp_server *sp_server_new(struct sp_loop *loop, const struct sp_server_config *config);
/* Closes listeners, then closes every connection at once (on_close with
 * SP_CONN_CLOSED_SHUTDOWN). NULL ok. */
void sp_server_free(struct sp_server **srv);
struct sp_loop *sp_server_loop(struct sp_server *srv);
/* Changes limits (e.g. on SIGHUP); existing connections are kept even if
 * now over a limit. */
void sp_server_set_config(struct sp_server *srv, const struct sp_server_config *config);

/* Binds and listens. IPv6 sockets are IPV6_V6ONLY, so "[::]:143" and
 * "0.0.0.0:143" can both be listened on. A stale Unix socket file (nobody
 * accepting) is replaced; one in use is an error. NULL with *error_r (text
 * names the address and the errno reason). */
struct sp_listener *sp_server_listen(struct sp_server *srv, const struct sp_listen_config *config,
                                     const char **error_r);
/* Stops listening (a Unix socket file is removed). Open connections stay. */
void sp_listener_close(struct sp_listener **listener);
/* The bound port (the real one when listening on port 0); 0 for Unix. */
uint16_t sp_listener_port(const struct sp_listener *listener);
const char *sp_listener_role(const struct sp_listener *listener);

struct sp_server_stats {
	unsigned connections;    /* open now */
	uint64_t accepted;       /* in total */
	uint64_t refused_per_ip; /* over max_per_ip */
	uint64_t refused_global; /* over max_connections */
	uint64_t accept_paused;  /* times a listener paused on EMFILE/ENFILE */
};
void sp_server_stats(struct sp_server *srv, struct sp_server_stats *stats_r);

/* Graceful shutdown: closes every listener, calls each connection's
 * on_shutdown (default: close after flushing output), and once every
 * connection is gone, or bound_ms has passed and the rest was closed
 * forcibly (SP_CONN_CLOSED_SHUTDOWN), calls done(ctx) on a later loop
 * iteration. Calling it twice is a no-op. */
void sp_server_shutdown(struct sp_server *srv, uint64_t bound_ms, sp_loop_fn *done, void *ctx);
bool sp_server_is_shutting_down(const struct sp_server *srv);

#endif
