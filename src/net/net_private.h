/* Internal to src/net: what sp_server.c and sp_conn.c share. */
#ifndef NET_PRIVATE_H
#define NET_PRIVATE_H

#include "net/sp_addr.h"
#include "net/sp_conn.h"
#include "net/sp_server.h"
#include "net/net_map.h"

#define NET_CONN_MAX_LAYERS 4
/* Bound on bytes a lower layer holds below a filter (TLS, compression), so
 * backpressure reaches the protocol through the stack. */
#define NET_LAYER_WRITE_HIGH (64 * 1024)
#define NET_INPUT_LIMIT_DEFAULT (64 * 1024)
#define NET_LINGER_MS 10000

struct net_conn_params {
	int fd;
	const struct sockaddr *peer;
	socklen_t peer_len;
	const char *role;
	struct sp_tls *tls;
	bool implicit_tls;
	bool counted; /* holds a per-IP count under ip_key */
	uint8_t ip_key[NET_MAP_KEY_LEN];
};

struct sp_conn {
	struct sp_server *srv;
	struct sp_conn *prev, *next;
	uint64_t id;
	char role[24];
	char peer[SP_ADDR_STRLEN], peer_ip[SP_ADDR_STRLEN];
	bool loopback, is_unix, tls, counted;
	uint8_t ip_key[NET_MAP_KEY_LEN];
	struct sp_tls *tls_ctx;
	int fd;
	struct bufferevent *layers[NET_CONN_MAX_LAYERS]; /* [0] owns the fd */
	int n_layers;
	struct evbuffer_cb_entry *out_cb;
	struct sp_conn_handlers h;
	void *ctx;
	bool handlers_set;
	size_t input_limit;
	bool paused, closing, flush_close;
	enum sp_conn_close_reason reason;
	bool want_drain;
	size_t drain_low;
	uint64_t idle_ms, last_activity;
	struct event *idle_ev, *notify_ev;
	bool notify_close, notify_drain, notify_read;
	/* A plain socket with nothing above it writes its output itself at
	 * the end of the loop iteration (notify_flush): no EPOLLOUT to add
	 * and remove per reply; libevent's write event only takes over what
	 * the kernel did not accept at once. */
	bool direct, notify_flush;
};

/* sp_conn.c: creates a connection on an accepted fd (owned from here on),
 * registered as an owner; NULL if libevent fails (fd closed). */
struct sp_conn *net_conn_new(struct sp_server *srv, const struct net_conn_params *p);
/* Frees at once, calling on_close(reason): only from a top-level loop
 * callback, never from inside a handler's stack. */
void net_conn_destroy(struct sp_conn *conn, enum sp_conn_close_reason reason);
/* The shutdown notice: on_shutdown or close after flush. */
void net_conn_tell_shutdown(struct sp_conn *conn);

/* sp_server.c */
struct event_base *net_server_base(struct sp_server *srv);
bool net_server_loopback_secure(const struct sp_server *srv);
/* Links conn in (counts, list) and unlinks it when it goes. */
void net_server_conn_added(struct sp_server *srv, struct sp_conn *conn);
void net_server_conn_gone(struct sp_server *srv, struct sp_conn *conn);

#endif
