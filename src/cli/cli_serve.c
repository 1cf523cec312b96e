/* `sealpost serve`: the data directory lock, the control socket, TLS,
 * signals (SIGHUP reloads the config's certificates and reopens the log;
 * SIGTERM/SIGINT stop accepting, let work in flight finish within the
 * configured grace and wipe keys), and detaching unless --foreground. */
#include "cli/cli.h"
#include "lib/sp_log.h"
#include "imap/imap.h"
#include "store/store.h"
#include "lmtp/lmtp.h"
#include "net/sp_addr.h"
#include "notify/notify.h"
#include "lib/sp_str.h"
#include "net/sp_loop.h"
#include "net/sp_process.h"
#include "net/sp_server.h"
#include "net/sp_tls.h"
#include "net/sp_workers.h"

#include <errno.h>
#include <pthread.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

struct server {
	struct config *cfg;
	struct sp_loop *loop;
	struct sp_workers *workers;
	struct sp_work_queue *admin_queue;
	struct sp_tls *tls;
	struct sp_server *net;
	struct spool *spool;
	struct notify *notify;
	struct lmtp_server *lmtp;
	struct imap_server *imap;
	struct auth *auth;
	struct sp_work_queue *store_queue, *auth_queue;
	struct sp_work_queue *delivery_queue;
	struct sp_listener **listeners;
	size_t n_listeners;
	int control_fd;
	struct event *control_ev;
	char *control_path;
	char *log_path; /* NULL when logging to stderr */
	bool stopping;
};

static void tls_config_from(const struct config *cfg, struct sp_tls_config *tc,
                            struct sp_tls_cert *domains, char **paths)
{
	/* paths holds 2 + 2 * n_sni strings the caller frees. */
	paths[0] = config_path(cfg, cfg->tls_cert);
	paths[1] = config_path(cfg, cfg->tls_key);
	memset(tc, 0, sizeof(*tc));
	tc->default_cert.cert_path = paths[0];
	tc->default_cert.key_path = paths[1];
	for (size_t i = 0; i < cfg->n_sni; i++) {
		paths[2 + 2 * i] = config_path(cfg, cfg->sni[i].cert);
		paths[3 + 2 * i] = config_path(cfg, cfg->sni[i].key);
		domains[i].domain = cfg->sni[i].domain;
		domains[i].cert_path = paths[2 + 2 * i];
		domains[i].key_path = paths[3 + 2 * i];
	}
	tc->domains = domains;
	tc->n_domains = cfg->n_sni;
}

/* Loads (or reloads) the certificates named by cfg. */
static int server_tls_load(struct server *srv, const struct config *cfg, const char **error_r)
{
	struct sp_tls_config tc;
	struct sp_tls_cert *domains = sp_calloc(cfg->n_sni + 1, sizeof(*domains));
	char **paths = sp_calloc(2 + 2 * cfg->n_sni, sizeof(char *));
	tls_config_from(cfg, &tc, domains, paths);
	int rc;
	if (srv->tls == NULL) {
		srv->tls = sp_tls_new(&tc, error_r);
		rc = srv->tls != NULL ? 0 : -1;
	} else {
		rc = sp_tls_reload(srv->tls, &tc, error_r);
	}
	for (size_t i = 0; i < 2 + 2 * cfg->n_sni; i++)
		free(paths[i]);
	free(paths);
	free(domains);
	return rc;
}

/* Hooks that let administrative commands reach live sessions. They run
 * on an admin worker; the sessions live on the loop, so each hook posts
 * there and waits until the sessions have been told to end (`password
 * --revoke` returns only after that, DESIGN section 8). */
static struct server *hook_server;

struct hook_call {
	char mailbox_id[ACCOUNTS_MAILBOX_ID_LEN + 1];
	char slot_id[ACCOUNTS_SLOT_ID_LEN + 1]; /* "" = every session */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
};

static void hook_on_loop(void *ctx)
{
	struct hook_call *h = ctx;
	struct server *srv = hook_server;
	const char *slot = h->slot_id[0] ? h->slot_id : NULL;
	if (srv->auth != NULL)
		auth_purge(srv->auth, h->mailbox_id, slot);
	unsigned n =
	    srv->imap != NULL ? imap_server_close_sessions(srv->imap, h->mailbox_id, slot) : 0;
	if (slot != NULL)
		sp_log_info("serve", "event=slot_revoked mailbox=%s slot=%s sessions_ended=%u",
		            h->mailbox_id, slot, n);
	else
		sp_log_info("serve", "event=mailbox_closed mailbox=%s sessions_ended=%u",
		            h->mailbox_id, n);
	pthread_mutex_lock(&h->lock);
	h->done = true;
	pthread_cond_signal(&h->cond);
	pthread_mutex_unlock(&h->lock);
}

static void hook_run(const char *mailbox_id, const char *slot_id)
{
	if (hook_server == NULL)
		return;
	struct hook_call h;
	memset(&h, 0, sizeof(h));
	sp_strlcpy(h.mailbox_id, mailbox_id, sizeof(h.mailbox_id));
	if (slot_id != NULL)
		sp_strlcpy(h.slot_id, slot_id, sizeof(h.slot_id));
	pthread_mutex_init(&h.lock, NULL);
	pthread_cond_init(&h.cond, NULL);
	sp_loop_post(hook_server->loop, hook_on_loop, &h);
	pthread_mutex_lock(&h.lock);
	while (!h.done)
		pthread_cond_wait(&h.cond, &h.lock);
	pthread_mutex_unlock(&h.lock);
	pthread_mutex_destroy(&h.lock);
	pthread_cond_destroy(&h.cond);
}

static void hook_slot_revoked(const char *mailbox_id, const char *slot_id)
{
	hook_run(mailbox_id, slot_id);
}

static void hook_mailbox_closed(const char *mailbox_id)
{
	hook_run(mailbox_id, NULL);
}

static const struct cli_hooks server_hooks = {
    .slot_revoked = hook_slot_revoked,
    .mailbox_closed = hook_mailbox_closed,
};

struct control_job {
	struct server *srv;
	int fd;
};

static void control_work(void *ctx)
{
	struct control_job *job = ctx;
	/* A stuck client must not hold an admin worker forever. */
	struct timeval tv = {.tv_sec = 30};
	setsockopt(job->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(job->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	cli_control_serve_fd(job->fd, job->srv->cfg, &server_hooks);
}

static void control_done(void *ctx, void *owner, enum sp_work_status status)
{
	struct control_job *job = ctx;
	/* Whatever the command was, it may have changed accounts.db. */
	if (job->srv->lmtp != NULL)
		lmtp_server_accounts_changed(job->srv->lmtp);
	close(job->fd);
	free(job);
}

static void control_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct server *srv = arg;
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	struct control_job *job = sp_malloc(sizeof(*job));
	job->srv = srv;
	job->fd = fd;
	if (sp_workers_submit(srv->workers, srv->admin_queue, control_work, control_done, job, 0) <
	    0) {
		close(fd);
		free(job);
	}
}

static int control_listen(struct server *srv, struct sp_buf *err)
{
	srv->control_path = cli_control_path(srv->cfg->data_dir);
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	if (sp_strlcpy(sun.sun_path, srv->control_path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		sp_buf_printf(err, "control socket path too long: %s", srv->control_path);
		return -1;
	}
	char *run_dir = config_path(srv->cfg, "run");
	mkdir(run_dir, 0755);
	free(run_dir);
	/* We hold the data directory lock, so a socket file left here is a
	 * dead server's. */
	unlink(srv->control_path);
	srv->control_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	mode_t old = umask(0177);
	int rc = bind(srv->control_fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rc < 0 || listen(srv->control_fd, 16) < 0) {
		sp_buf_printf(err, "cannot listen on %s: %s", srv->control_path, strerror(errno));
		return -1;
	}
	srv->control_ev = event_new(sp_loop_base(srv->loop), srv->control_fd, EV_READ | EV_PERSIST,
	                            control_accept, srv);
	event_add(srv->control_ev, NULL);
	return 0;
}

static int listen_one(struct server *srv, const char *address, const char *role,
                      sp_accept_fn *accept, void *accept_ctx, bool implicit_tls,
                      struct sp_buf *banner, struct sp_buf *err)
{
	const char *error;
	struct sp_listen_config lc = {
	    .address = address,
	    .role = role,
	    .tls = srv->tls,
	    .unix_mode = srv->cfg->lmtp_socket_mode,
	    .unix_group = srv->cfg->lmtp_socket_group[0] ? srv->cfg->lmtp_socket_group : NULL,
	    .implicit_tls = implicit_tls,
	    .busy_reply = strncmp(role, "imap", 4) == 0 ? "* BYE Too many connections\r\n"
	                                                : "421 4.7.0 Too many connections\r\n",
	    .on_accept = accept,
	    .ctx = accept_ctx,
	};
	struct sp_listener *l = sp_server_listen(srv->net, &lc, &error);
	if (l == NULL) {
		sp_buf_printf(err, "sealpost: %s: %s\n", role, error);
		return -1;
	}
	srv->listeners = sp_reallocarray(srv->listeners, srv->n_listeners + 1, sizeof(l));
	srv->listeners[srv->n_listeners++] = l;
	if (address[0] == '/') {
		sp_buf_printf(banner, "  %s: %s\n", role, address);
	} else {
		/* The bound port: the real one when the address asked for 0. */
		struct sp_addr a;
		sp_addr_parse(address, &a, &error);
		char host[SP_ADDR_STRLEN];
		sp_addr_format_ip((const struct sockaddr *)&a.ss, a.len, host, sizeof(host));
		sp_buf_printf(banner, a.kind == SP_ADDR_IPV6 ? "  %s: [%s]:%u\n" : "  %s: %s:%u\n",
		              role, host, (unsigned)sp_listener_port(l));
	}
	return 0;
}

/* Listens on every address of a role's comma-separated list. */
static int listen_role(struct server *srv, enum config_role role, sp_accept_fn *accept,
                       void *accept_ctx, bool loopback_only, bool implicit_tls,
                       struct sp_buf *banner, struct sp_buf *err)
{
	char *list = sp_strdup(srv->cfg->listen[role]);
	int rc = 0;
	char *save = NULL;
	for (char *tok = strtok_r(list, ", \t", &save); tok != NULL && rc == 0;
	     tok = strtok_r(NULL, ", \t", &save)) {
		struct sp_addr a;
		const char *error;
		if (sp_addr_parse(tok, &a, &error) < 0) {
			sp_buf_printf(err, "sealpost: %s address %s: %s\n", config_role_name(role),
			              tok, error);
			rc = -1;
		} else if (loopback_only && a.kind != SP_ADDR_UNIX &&
		           !sp_addr_is_loopback((const struct sockaddr *)&a.ss)) {
			sp_buf_printf(err,
			              "sealpost: %s address %s is not a loopback address; LMTP "
			              "has no authentication (set lmtp_allow_remote = yes in "
			              "[listen] to allow it)\n",
			              config_role_name(role), tok);
			rc = -1;
		} else {
			rc = listen_one(srv, tok, config_role_name(role), accept, accept_ctx,
			                implicit_tls, banner, err);
		}
	}
	free(list);
	return rc;
}

/* The spool, shared by LMTP (writes) and IMAP (drains); opened once. */
static int server_spool_open(struct server *srv, struct sp_buf *err)
{
	if (srv->spool != NULL)
		return 0;
	const char *error;
	char *spool_dir = config_path(srv->cfg, "spool");
	int rc = spool_open(spool_dir, &srv->spool, &error);
	free(spool_dir);
	if (rc < 0)
		sp_buf_printf(err, "sealpost: spool: %s\n", error);
	return rc;
}

static int start_lmtp(struct server *srv, struct sp_buf *banner, struct sp_buf *err)
{
	struct config *cfg = srv->cfg;
	if (cfg->listen[ROLE_LMTP][0] == '\0' && cfg->lmtp_socket[0] == '\0')
		return 0;
	if (server_spool_open(srv, err) < 0)
		return -1;
	char *accounts_path = config_path(cfg, "accounts.db");
	struct lmtp_config lc = {
	    .hostname = cfg->hostname,
	    .accounts_path = accounts_path,
	    .spool = srv->spool,
	    .loop = srv->loop,
	    .workers = srv->workers,
	    .queue = srv->delivery_queue,
	    .notify = srv->notify,
	    .max_message = cfg->max_message_size,
	    .max_recipients = (unsigned)cfg->max_recipients,
	    .quota_tempfail = cfg->quota_tempfail,
	    .allow_remote = cfg->lmtp_allow_remote,
	    .idle_timeout_ms = 5 * 60 * 1000, /* RFC 5321 §4.5.3.2.7 */
	};
	srv->lmtp = lmtp_server_new(&lc);
	free(accounts_path);
	if (listen_role(srv, ROLE_LMTP, lmtp_accept, srv->lmtp, !cfg->lmtp_allow_remote, false,
	                banner, err) < 0)
		return -1;
	if (cfg->lmtp_socket[0] != '\0') {
		char *path = config_path(cfg, cfg->lmtp_socket);
		int rc = listen_one(srv, path, "lmtp", lmtp_accept, srv->lmtp, false, banner, err);
		free(path);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* The store's commit hook runs on the worker that committed: the
 * notifier lives on the loop. */
struct store_changed_msg {
	struct server *srv;
	char mailbox_id[ACCOUNTS_MAILBOX_ID_LEN + 1];
};

static void store_changed_on_loop(void *ctx)
{
	struct store_changed_msg *m = ctx;
	if (m->srv->notify != NULL)
		notify_mailbox(m->srv->notify, m->mailbox_id, NOTIFY_CHANGED, NULL);
	free(m);
}

static void store_changed(void *ctx, const char *mailbox_id, int64_t folder_id,
                          uint64_t highestmodseq)
{
	struct server *srv = ctx;
	struct store_changed_msg *m = sp_malloc(sizeof(*m));
	m->srv = srv;
	sp_strlcpy(m->mailbox_id, mailbox_id, sizeof(m->mailbox_id));
	sp_loop_post(srv->loop, store_changed_on_loop, m);
}

static int start_imap(struct server *srv, struct sp_buf *banner, struct sp_buf *err)
{
	struct config *cfg = srv->cfg;
	if (cfg->listen[ROLE_IMAP][0] == '\0' && cfg->listen[ROLE_IMAPS][0] == '\0')
		return 0;
	if (server_spool_open(srv, err) < 0)
		return -1;
	char *accounts_path = config_path(cfg, "accounts.db");
	char *mailboxes_dir = config_path(cfg, "mailboxes");
	char *spool_dir = config_path(cfg, "spool");
	srv->auth = auth_new(&(struct auth_config){.accounts_path = accounts_path});
	/* Argon2id takes a core and 64 MiB: at most one at a time, a short
	 * queue, so a login flood cannot starve the mailboxes. */
	srv->auth_queue = sp_workers_queue_add(srv->workers, "argon2", 1, 256);
	struct imap_config ic = {
	    .hostname = cfg->hostname,
	    .accounts_path = accounts_path,
	    .mailboxes_dir = mailboxes_dir,
	    .spool = srv->spool,
	    .spool_dir = spool_dir,
	    .auth = srv->auth,
	    .loop = srv->loop,
	    .workers = srv->workers,
	    .store_queue = srv->store_queue,
	    .auth_queue = srv->auth_queue,
	    .notify = srv->notify,
	    .max_message = cfg->max_message_size,
	    .idle_timeout_ms = cfg->idle_timeout_imap * 1000,
	};
	srv->imap = imap_server_new(&ic);
	free(accounts_path);
	free(mailboxes_dir);
	free(spool_dir);
	store_set_notifier(store_changed, srv);
	if (listen_role(srv, ROLE_IMAP, imap_accept, srv->imap, false, false, banner, err) < 0 ||
	    listen_role(srv, ROLE_IMAPS, imap_accept, srv->imap, false, true, banner, err) < 0)
		return -1;
	return 0;
}

static void on_sighup(void *ctx, int signo)
{
	struct server *srv = ctx;
	struct sp_buf err = SP_BUF_INIT;
	struct config fresh;
	if (srv->log_path != NULL && sp_log_open(srv->log_path) < 0)
		sp_log_error("serve", "event=log_reopen_failed");
	/* The certificate paths may have changed in the file too. */
	if (config_load(&fresh, srv->cfg->data_dir, &err) < 0) {
		sp_log_error("serve", "event=reload_failed error=\"%s\"", sp_buf_cstr(&err));
		sp_buf_deinit(&err);
		return;
	}
	const char *error;
	if (server_tls_load(srv, &fresh, &error) < 0)
		sp_log_error("serve", "event=reload_failed error=\"%s\"", error);
	else
		sp_log_info("serve", "event=reloaded");
	config_free(&fresh);
	sp_buf_deinit(&err);
}

static void shutdown_done(void *ctx)
{
	struct server *srv = ctx;
	sp_loop_stop(srv->loop);
}

static void on_sigterm(void *ctx, int signo)
{
	struct server *srv = ctx;
	if (srv->stopping)
		return;
	srv->stopping = true;
	sp_log_info("serve", "event=stopping signal=%d", signo);
	if (srv->control_ev != NULL)
		event_del(srv->control_ev);
	/* Stop accepting, let commands in flight finish within the grace,
	 * then close the rest; sessions wipe their keys as they close. */
	sp_server_shutdown(srv->net, srv->cfg->shutdown_grace * 1000, shutdown_done, srv);
}

/* Detaches: the parent waits on a pipe until the child reports that it is
 * listening (or why it could not), so `serve` fails loudly at start. */
static int daemonize(int *notify_fd_r)
{
	int pipefd[2];
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0) {
		close(pipefd[1]);
		char buf[1024];
		ssize_t n, total = 0;
		while ((n = read(pipefd[0], buf + total, sizeof(buf) - 1 - (size_t)total)) > 0)
			total += n;
		buf[total] = '\0';
		if (total > 0 && buf[0] == '+') {
			fputs(buf + 1, stdout);
			fflush(stdout);
			_exit(CLI_OK);
		}
		fputs(total > 0 ? buf + 1 : "sealpost: the server exited during start-up\n",
		      stderr);
		fflush(stderr);
		_exit(CLI_FAIL);
	}
	close(pipefd[0]);
	setsid();
	if (chdir("/") < 0)
		_exit(CLI_FAIL);
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull >= 0) {
		/* The log is its own file by now: keep no terminal or pipe
		 * of the caller's open. */
		dup2(devnull, STDIN_FILENO);
		dup2(devnull, STDOUT_FILENO);
		dup2(devnull, STDERR_FILENO);
		close(devnull);
	}
	*notify_fd_r = pipefd[1];
	return 0;
}

static void notify_parent(int fd, char status, const char *text)
{
	if (fd < 0)
		return;
	if (write(fd, &status, 1) != 1 || write(fd, text, strlen(text)) < 0)
		sp_log_warn("serve", "event=notify_parent_failed");
	close(fd);
}

int cli_cmd_serve(struct cli_ctx *ctx, int argc, char **argv)
{
	bool foreground = false;
	struct config *cfg = ctx->cfg;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--foreground") == 0) {
			foreground = true;
			continue;
		}
		const char *eq = strchr(argv[i], '=');
		if (strncmp(argv[i], "--", 2) == 0 && eq != NULL) {
			char role[32];
			size_t n = (size_t)(eq - argv[i] - 2);
			if (n < sizeof(role)) {
				memcpy(role, argv[i] + 2, n);
				role[n] = '\0';
				if (config_set_listen(cfg, role, eq + 1) == 0)
					continue;
			}
		}
		return cli_fail(ctx, CLI_USAGE, "unknown option %s", argv[i]);
	}
	if (config_check_roles(cfg, &ctx->err) < 0) {
		sp_buf_append_str(&ctx->err, "\n");
		return CLI_FAIL;
	}
	char *accounts_path = config_path(cfg, "accounts.db");
	bool initialised = access(accounts_path, F_OK) == 0;
	free(accounts_path);
	if (!initialised)
		return cli_fail(ctx, CLI_FAIL, "%s is not initialised; run `sealpost init` first",
		                ctx->data_dir);

	struct sp_buf err = SP_BUF_INIT;
	int lock = -1;
	/* A CLI command may hold the lock for a moment; another server holds
	 * it for good. */
	for (int attempt = 0; attempt < 100 && lock < 0; attempt++) {
		lock = cli_lock_data_dir(ctx->data_dir, false, &err);
		if (lock < 0 && err.len > 0)
			break;
		if (lock < 0)
			usleep(100 * 1000);
	}
	if (lock < 0) {
		int rc =
		    cli_fail(ctx, CLI_FAIL, "%s",
		             err.len ? sp_buf_cstr(&err)
		                     : "another sealpost server is running on this data directory");
		sp_buf_deinit(&err);
		return rc;
	}

	struct server srv;
	memset(&srv, 0, sizeof(srv));
	srv.cfg = cfg;
	srv.control_fd = -1;
	int notify_fd = -1;
	if (!foreground) {
		srv.log_path = config_path(cfg, cfg->log_file[0] ? cfg->log_file : "sealpost.log");
		if (sp_log_open(srv.log_path) < 0) {
			close(lock);
			free(srv.log_path);
			return cli_fail(ctx, CLI_FAIL, "cannot open log file");
		}
		if (daemonize(&notify_fd) < 0) {
			close(lock);
			return cli_fail(ctx, CLI_FAIL, "cannot detach: %s", strerror(errno));
		}
	} else if (cfg->log_file[0] != '\0') {
		srv.log_path = config_path(cfg, cfg->log_file);
		sp_log_open(srv.log_path);
	}
	sp_log_set_level(strcmp(cfg->log_level, "debug") == 0   ? SP_LOG_DEBUG
	                 : strcmp(cfg->log_level, "warn") == 0  ? SP_LOG_WARN
	                 : strcmp(cfg->log_level, "error") == 0 ? SP_LOG_ERROR
	                                                        : SP_LOG_INFO);
	const char *harden_error;
	if (sp_process_harden(&harden_error) < 0)
		sp_log_warn("serve", "event=harden_failed error=\"%s\"", harden_error);

	int rc = CLI_FAIL;
	const char *error = NULL;
	srv.loop = sp_loop_new(&error);
	if (srv.loop == NULL) {
		sp_buf_printf(&err, "sealpost: %s\n", error);
		goto out;
	}
	srv.workers = sp_workers_new(srv.loop, cfg->workers, &error);
	if (srv.workers == NULL) {
		sp_buf_printf(&err, "sealpost: %s\n", error);
		goto out;
	}
	srv.admin_queue = sp_workers_queue_add(srv.workers, "admin", 1, 16);
	srv.net = sp_server_new(srv.loop, &(struct sp_server_config){
	                                      .max_connections = (unsigned)cfg->max_connections,
	                                      .max_per_ip = (unsigned)cfg->max_connections_per_ip,
	                                      .limit_loopback = !cfg->loopback_exempt,
	                                      .loopback_insecure = !cfg->loopback_plaintext,
	                                  });
	if (server_tls_load(&srv, cfg, &error) < 0) {
		sp_buf_printf(&err, "sealpost: %s\n", error);
		goto out;
	}
	if (control_listen(&srv, &err) < 0) {
		sp_buf_append_str(&err, "\n");
		goto out;
	}
	if (sp_loop_on_signal(srv.loop, SIGHUP, on_sighup, &srv, &error) < 0 ||
	    sp_loop_on_signal(srv.loop, SIGTERM, on_sigterm, &srv, &error) < 0 ||
	    sp_loop_on_signal(srv.loop, SIGINT, on_sigterm, &srv, &error) < 0) {
		sp_buf_printf(&err, "sealpost: %s\n", error);
		goto out;
	}
	struct sp_buf banner = SP_BUF_INIT;
	sp_buf_printf(&banner, "sealpost %s serving %s (pid %d)\n", SEALPOST_VERSION, cfg->data_dir,
	              (int)getpid());
	srv.notify = notify_new();
	srv.delivery_queue = sp_workers_queue_add(srv.workers, "delivery", cfg->workers, 4096);
	srv.store_queue = sp_workers_queue_add(srv.workers, "store", cfg->workers, 100000);
	hook_server = &srv;
	if (start_lmtp(&srv, &banner, &err) < 0 || start_imap(&srv, &banner, &err) < 0) {
		sp_buf_deinit(&banner);
		goto out;
	}
	sp_buf_printf(&banner, "  control socket: %s\n", srv.control_path);
	sp_log_info("serve", "event=started pid=%d", (int)getpid());
	if (notify_fd >= 0) {
		notify_parent(notify_fd, '+', sp_buf_cstr(&banner));
		notify_fd = -1;
	} else {
		fputs(sp_buf_cstr(&banner), stdout);
		fflush(stdout);
	}
	sp_buf_deinit(&banner);
	rc = sp_loop_run(srv.loop) == 0 ? CLI_OK : CLI_FAIL;
	sp_log_info("serve", "event=stopped");
out:
	if (err.len > 0) {
		if (notify_fd >= 0)
			notify_parent(notify_fd, '-', sp_buf_cstr(&err));
		else
			sp_buf_append(&ctx->err, err.data, err.len);
		sp_log_error("serve", "event=start_failed");
	}
	if (srv.control_ev != NULL)
		event_free(srv.control_ev);
	if (srv.control_fd >= 0) {
		close(srv.control_fd);
		unlink(srv.control_path);
	}
	for (size_t i = 0; i < srv.n_listeners; i++)
		sp_listener_close(&srv.listeners[i]);
	free(srv.listeners);
	sp_server_free(&srv.net);
	sp_workers_free(&srv.workers);
	store_set_notifier(NULL, NULL);
	hook_server = NULL;
	lmtp_server_free(&srv.lmtp);
	imap_server_free(&srv.imap);
	auth_free(&srv.auth);
	spool_close(&srv.spool);
	notify_free(&srv.notify);
	sp_tls_free(&srv.tls);
	sp_loop_free(&srv.loop);
	free(srv.control_path);
	free(srv.log_path);
	sp_buf_deinit(&err);
	close(lock);
	return rc;
}
