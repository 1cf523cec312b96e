/* Listeners (TCP over IPv4/IPv6, Unix sockets), the connection set with
 * per-IP and global limits, accept pausing on descriptor exhaustion, and
 * graceful shutdown within a bound. */
#include "net/net_private.h"
#include "lib/sp_log.h"
#include "lib/sp_str.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <grp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct sp_listener {
	struct sp_server *srv;
	struct sp_listener *next;
	struct evconnlistener *lev; /* NULL once closed by shutdown */
	struct sp_timer *resume_timer;
	bool paused;
	char role[24];
	char unix_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	uint16_t port;
	struct sp_tls *tls;
	bool implicit_tls;
	char *busy_reply;
	sp_accept_fn *on_accept;
	void *ctx;
};

struct sp_server {
	struct sp_loop *loop;
	struct sp_server_config cfg;
	struct sp_listener *listeners;
	struct sp_conn *conns;
	unsigned n_conns;
	struct net_map per_ip; /* ip key -> count (as a pointer-sized integer) */
	struct sp_server_stats stats;
	bool shutting_down, shutdown_done;
	struct sp_timer *shutdown_timer;
	sp_loop_fn *shutdown_fn;
	void *shutdown_ctx;
};

static void config_defaults(struct sp_server_config *cfg)
{
	if (cfg->max_connections == 0)
		cfg->max_connections = 10000;
}

struct sp_server *sp_server_new(struct sp_loop *loop, const struct sp_server_config *config)
{
	struct sp_server *srv = sp_calloc(1, sizeof(*srv));
	srv->loop = loop;
	srv->cfg = *config;
	config_defaults(&srv->cfg);
	net_map_init(&srv->per_ip);
	return srv;
}

struct sp_loop *sp_server_loop(struct sp_server *srv)
{
	return srv->loop;
}

struct event_base *net_server_base(struct sp_server *srv)
{
	return sp_loop_base(srv->loop);
}

bool net_server_loopback_secure(const struct sp_server *srv)
{
	return !srv->cfg.loopback_insecure;
}

void sp_server_set_config(struct sp_server *srv, const struct sp_server_config *config)
{
	srv->cfg = *config;
	config_defaults(&srv->cfg);
}

static void listener_stop(struct sp_listener *l)
{
	if (l->lev != NULL) {
		evconnlistener_free(l->lev);
		l->lev = NULL;
		if (l->unix_path[0] != '\0')
			unlink(l->unix_path);
	}
	sp_timer_free(&l->resume_timer);
}

static void listener_free(struct sp_listener *l)
{
	listener_stop(l);
	free(l->busy_reply);
	free(l);
}

void sp_listener_close(struct sp_listener **lp)
{
	struct sp_listener *l = *lp;
	if (l == NULL)
		return;
	for (struct sp_listener **pp = &l->srv->listeners; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == l) {
			*pp = l->next;
			break;
		}
	}
	listener_free(l);
	*lp = NULL;
}

void sp_server_free(struct sp_server **srvp)
{
	struct sp_server *srv = *srvp;
	if (srv == NULL)
		return;
	while (srv->listeners != NULL) {
		struct sp_listener *l = srv->listeners;
		srv->listeners = l->next;
		listener_free(l);
	}
	srv->shutdown_done = true; /* no done callback from a freed server */
	while (srv->conns != NULL)
		net_conn_destroy(srv->conns, SP_CONN_CLOSED_SHUTDOWN);
	sp_timer_free(&srv->shutdown_timer);
	net_map_deinit(&srv->per_ip);
	free(srv);
	*srvp = NULL;
}

uint16_t sp_listener_port(const struct sp_listener *l)
{
	return l->port;
}

const char *sp_listener_role(const struct sp_listener *l)
{
	return l->role;
}

void sp_server_stats(struct sp_server *srv, struct sp_server_stats *stats_r)
{
	*stats_r = srv->stats;
	stats_r->connections = srv->n_conns;
}

/* ---- limits ---------------------------------------------------------- */

/* IPv4 (also IPv4-mapped) by address, IPv6 by /64. */
static void ip_key(const struct sockaddr *sa, uint8_t key[NET_MAP_KEY_LEN])
{
	memset(key, 0, NET_MAP_KEY_LEN);
	if (sa->sa_family == AF_INET) {
		key[0] = 4;
		memcpy(key + 1, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a)) {
			key[0] = 4;
			memcpy(key + 1, &a->s6_addr[12], 4);
		} else {
			key[0] = 6;
			memcpy(key + 1, a->s6_addr, 8);
		}
	}
}

static uintptr_t ip_count(struct sp_server *srv, const uint8_t *key)
{
	void **slot = net_map_find(&srv->per_ip, key);
	return slot != NULL ? (uintptr_t)*slot : 0;
}

void net_server_conn_added(struct sp_server *srv, struct sp_conn *conn)
{
	conn->next = srv->conns;
	if (srv->conns != NULL)
		srv->conns->prev = conn;
	srv->conns = conn;
	srv->n_conns++;
	if (conn->counted) {
		void **slot = net_map_insert(&srv->per_ip, conn->ip_key);
		*slot = (void *)((uintptr_t)*slot + 1);
	}
}

static void listeners_resume(struct sp_server *srv)
{
	for (struct sp_listener *l = srv->listeners; l != NULL; l = l->next) {
		if (l->paused && l->lev != NULL) {
			l->paused = false;
			sp_timer_stop(l->resume_timer);
			evconnlistener_enable(l->lev);
		}
	}
}

void net_server_conn_gone(struct sp_server *srv, struct sp_conn *conn)
{
	if (conn->prev != NULL)
		conn->prev->next = conn->next;
	else
		srv->conns = conn->next;
	if (conn->next != NULL)
		conn->next->prev = conn->prev;
	conn->prev = conn->next = NULL;
	srv->n_conns--;
	if (conn->counted) {
		void **slot = net_map_find(&srv->per_ip, conn->ip_key);
		sp_assert(slot != NULL && (uintptr_t)*slot > 0);
		uintptr_t n = (uintptr_t)*slot - 1;
		if (n == 0)
			net_map_remove(&srv->per_ip, conn->ip_key);
		else
			*slot = (void *)n;
		conn->counted = false;
	}
	/* A descriptor was freed: a listener paused on EMFILE may go on. */
	listeners_resume(srv);
	if (srv->shutting_down && srv->n_conns == 0 && !srv->shutdown_done)
		sp_timer_start(srv->shutdown_timer, 0, false);
}

/* ---- accepting ------------------------------------------------------- */

static void refuse(struct sp_listener *l, int fd, const char *why, const char *peer)
{
	if (l->busy_reply != NULL && !l->implicit_tls) {
		/* Best effort: the socket is fresh, its buffer empty. */
		ssize_t rc =
		    send(fd, l->busy_reply, strlen(l->busy_reply), MSG_NOSIGNAL | MSG_DONTWAIT);
		(void)rc;
	}
	close(fd);
	sp_log_info("net", "role=%s peer=%s event=refused reason=%s", l->role, peer, why);
}

static void accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
	struct sp_listener *l = arg;
	struct sp_server *srv = l->srv;
	char peer[SP_ADDR_STRLEN];
	struct net_conn_params p = {
	    .fd = fd,
	    .peer = sa,
	    .peer_len = (socklen_t)salen,
	    .role = l->role,
	    .tls = l->tls,
	    .implicit_tls = l->implicit_tls,
	};
	sp_addr_format_ip(sa, (socklen_t)salen, peer, sizeof(peer));
	if (srv->shutting_down) {
		close(fd);
		return;
	}
	if (srv->n_conns >= srv->cfg.max_connections) {
		srv->stats.refused_global++;
		refuse(l, fd, "max_connections", peer);
		return;
	}
	bool exempt =
	    sa->sa_family == AF_UNIX || (sp_addr_is_loopback(sa) && !srv->cfg.limit_loopback);
	if (!exempt && srv->cfg.max_per_ip > 0) {
		ip_key(sa, p.ip_key);
		if (ip_count(srv, p.ip_key) >= srv->cfg.max_per_ip) {
			srv->stats.refused_per_ip++;
			refuse(l, fd, "max_per_ip", peer);
			return;
		}
		p.counted = true;
	}
	if (sa->sa_family != AF_UNIX) {
		/* Replies are small and often follow a worker job: do not let
		 * Nagle hold them for the peer's delayed ACK. Keepalive finds
		 * peers that vanished during a long IDLE. */
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	}
	struct sp_conn *conn = net_conn_new(srv, &p);
	if (conn == NULL) {
		sp_log_error("net", "role=%s event=conn_failed", l->role);
		return;
	}
	srv->stats.accepted++;
	sp_log_debug("net", "conn=%llu role=%s peer=%s event=accept tls=%d",
	             (unsigned long long)conn->id, l->role, conn->peer, l->implicit_tls);
	if (srv->cfg.idle_timeout_ms > 0)
		sp_conn_set_idle_timeout(conn, srv->cfg.idle_timeout_ms);
	l->on_accept(l->ctx, conn);
	if (!conn->handlers_set && !conn->closing) {
		sp_log_error("net", "conn=%llu role=%s event=no_handlers",
		             (unsigned long long)conn->id, l->role);
		sp_conn_close(conn);
	}
}

static void resume_cb(void *arg)
{
	struct sp_listener *l = arg;
	if (l->paused && l->lev != NULL) {
		l->paused = false;
		evconnlistener_enable(l->lev);
	}
}

static void accept_error_cb(struct evconnlistener *lev, void *arg)
{
	struct sp_listener *l = arg;
	int err = EVUTIL_SOCKET_ERROR();
	if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
		/* The pending connection stays readable: accepting again at
		 * once would spin. Wait for a close or a second. */
		evconnlistener_disable(lev);
		l->paused = true;
		l->srv->stats.accept_paused++;
		sp_timer_start(l->resume_timer, 1000, false);
		sp_log_warn("net", "role=%s event=accept_paused errno=%d", l->role, err);
		return;
	}
	sp_log_warn("net", "role=%s event=accept_error errno=%d", l->role, err);
}

static int unix_prepare(const char *path, const char **error_r)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT
		           ? 0
		           : (*error_r = net_error_set("%s: %s", path, strerror(errno)), -1);
	if (!S_ISSOCK(st.st_mode)) {
		*error_r = net_error_set("%s: exists and is not a socket", path);
		return -1;
	}
	/* A socket file nobody accepts on is left over from a crash. */
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*error_r = net_error_set("socket: %s", strerror(errno));
		return -1;
	}
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	sp_strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	int rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	if (rc == 0) {
		*error_r = net_error_set("%s: in use by a running server", path);
		return -1;
	}
	unlink(path);
	return 0;
}

static int listen_socket(const struct sp_addr *addr, const struct sp_listen_config *cfg,
                         const char **error_r)
{
	int family = addr->kind == SP_ADDR_IPV4   ? AF_INET
	             : addr->kind == SP_ADDR_IPV6 ? AF_INET6
	                                          : AF_UNIX;
	const char *path = ((const struct sockaddr_un *)&addr->ss)->sun_path;
	if (family == AF_UNIX && unix_prepare(path, error_r) < 0)
		return -1;
	int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*error_r = net_error_set("%s: socket: %s", cfg->address, strerror(errno));
		return -1;
	}
	int one = 1;
	if (family != AF_UNIX)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* "[::]:143" must not also take IPv4, so "0.0.0.0:143" can coexist. */
	if (family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) {
		*error_r = net_error_set("%s: IPV6_V6ONLY: %s", cfg->address, strerror(errno));
		goto fail;
	}
	if (bind(fd, (const struct sockaddr *)&addr->ss, addr->len) < 0) {
		*error_r = net_error_set("%s: bind: %s", cfg->address, strerror(errno));
		goto fail;
	}
	if (family == AF_UNIX) {
		if (chmod(path, cfg->unix_mode != 0 ? cfg->unix_mode : 0660) < 0) {
			*error_r = net_error_set("%s: chmod: %s", path, strerror(errno));
			unlink(path);
			goto fail;
		}
		if (cfg->unix_group != NULL) {
			struct group gr, *res = NULL;
			char buf[4096];
			if (getgrnam_r(cfg->unix_group, &gr, buf, sizeof(buf), &res) != 0 ||
			    res == NULL) {
				*error_r =
				    net_error_set("%s: unknown group '%s'", path, cfg->unix_group);
				unlink(path);
				goto fail;
			}
			if (chown(path, (uid_t)-1, gr.gr_gid) < 0) {
				*error_r = net_error_set("%s: chown: %s", path, strerror(errno));
				unlink(path);
				goto fail;
			}
		}
	}
	if (listen(fd, cfg->backlog > 0 ? cfg->backlog : 511) < 0) {
		*error_r = net_error_set("%s: listen: %s", cfg->address, strerror(errno));
		if (family == AF_UNIX)
			unlink(path);
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

struct sp_listener *sp_server_listen(struct sp_server *srv, const struct sp_listen_config *cfg,
                                     const char **error_r)
{
	struct sp_addr addr;
	const char *perr;
	if (sp_addr_parse(cfg->address, &addr, &perr) < 0) {
		*error_r = net_error_set("%s: %s", cfg->address, perr);
		return NULL;
	}
	if (cfg->implicit_tls && cfg->tls == NULL) {
		*error_r = net_error_set("%s: implicit TLS needs a certificate", cfg->address);
		return NULL;
	}
	if (cfg->on_accept == NULL) {
		*error_r = "listener without an accept callback";
		return NULL;
	}
	int fd = listen_socket(&addr, cfg, error_r);
	if (fd < 0)
		return NULL;
	struct sp_listener *l = sp_calloc(1, sizeof(*l));
	l->srv = srv;
	sp_strlcpy(l->role, cfg->role != NULL ? cfg->role : "", sizeof(l->role));
	if (addr.kind == SP_ADDR_UNIX)
		sp_strlcpy(l->unix_path, ((struct sockaddr_un *)&addr.ss)->sun_path,
		           sizeof(l->unix_path));
	struct sockaddr_storage bound;
	socklen_t blen = sizeof(bound);
	if (addr.kind != SP_ADDR_UNIX && getsockname(fd, (struct sockaddr *)&bound, &blen) == 0)
		l->port =
		    ntohs(bound.ss_family == AF_INET ? ((struct sockaddr_in *)&bound)->sin_port
		                                     : ((struct sockaddr_in6 *)&bound)->sin6_port);
	l->tls = cfg->tls;
	l->implicit_tls = cfg->implicit_tls;
	l->busy_reply = cfg->busy_reply != NULL ? sp_strdup(cfg->busy_reply) : NULL;
	l->on_accept = cfg->on_accept;
	l->ctx = cfg->ctx;
	l->resume_timer = sp_timer_new(srv->loop, resume_cb, l);
	l->lev = evconnlistener_new(net_server_base(srv), accept_cb, l,
	                            LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
	if (l->lev == NULL) {
		close(fd);
		*error_r = net_error_set("%s: cannot create listener", cfg->address);
		l->unix_path[0] = '\0';
		if (addr.kind == SP_ADDR_UNIX)
			unlink(((struct sockaddr_un *)&addr.ss)->sun_path);
		listener_free(l);
		return NULL;
	}
	evconnlistener_set_error_cb(l->lev, accept_error_cb);
	l->next = srv->listeners;
	srv->listeners = l;
	sp_log_info("net", "role=%s event=listen address=%s port=%u", l->role, cfg->address,
	            l->port);
	return l;
}

/* ---- shutdown -------------------------------------------------------- */

static void shutdown_timer_cb(void *arg)
{
	struct sp_server *srv = arg;
	if (srv->shutdown_done)
		return;
	srv->shutdown_done = true;
	if (srv->n_conns > 0)
		sp_log_info("net", "event=shutdown_bound closing=%u", srv->n_conns);
	while (srv->conns != NULL)
		net_conn_destroy(srv->conns, SP_CONN_CLOSED_SHUTDOWN);
	if (srv->shutdown_fn != NULL)
		srv->shutdown_fn(srv->shutdown_ctx);
}

void sp_server_shutdown(struct sp_server *srv, uint64_t bound_ms, sp_loop_fn *done, void *ctx)
{
	if (srv->shutting_down)
		return;
	srv->shutting_down = true;
	srv->shutdown_fn = done;
	srv->shutdown_ctx = ctx;
	for (struct sp_listener *l = srv->listeners; l != NULL; l = l->next)
		listener_stop(l);
	srv->shutdown_timer = sp_timer_new(srv->loop, shutdown_timer_cb, srv);
	sp_log_info("net", "event=shutdown connections=%u bound_ms=%llu", srv->n_conns,
	            (unsigned long long)bound_ms);
	/* Closing is deferred, so the list stays intact while we walk it. */
	for (struct sp_conn *c = srv->conns; c != NULL; c = c->next)
		net_conn_tell_shutdown(c);
	sp_timer_start(srv->shutdown_timer, srv->n_conns == 0 ? 0 : bound_ms, false);
}

bool sp_server_is_shutting_down(const struct sp_server *srv)
{
	return srv->shutting_down;
}
