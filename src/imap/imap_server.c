/* The IMAP server object and its registry of mailboxes with live sessions:
 * each holds the mailbox's DEK and X25519 secret key in locked memory for
 * as long as one of its sessions lives and wipes them with the last
 * (DESIGN section 2), drains the sealed spool into the mailbox file on a
 * worker after a login and on every NOTIFY_SPOOL, and routes the
 * notifier's messages to its sessions. */
#include "imap/imap_private.h"
#include "lib/sp_log.h"
#include "lib/sp_str.h"
#include "store/store_drain.h"

#include <errno.h>
#include <malloc.h>
#include <event2/event.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

/* `sealpost deliver` runs in another process: its hard links in a
 * mailbox's spool directory wake the sessions through inotify as LMTP's
 * notification would. */
static void inotify_read(evutil_socket_t fd, short what, void *ctx)
{
	struct imap_server *srv = ctx;
	_Alignas(struct inotify_event) char buf[4096];
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			return;
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			for (struct imap_mailbox *m = srv->mailboxes; m != NULL; m = m->next) {
				if (m->watch == ev->wd) {
					imap_mailbox_drain(m);
					break;
				}
			}
			p += sizeof(*ev) + ev->len;
		}
	}
}

static void mailbox_watch(struct imap_mailbox *m)
{
	struct imap_server *srv = m->srv;
	m->watch = -1;
	if (srv->inotify_fd < 0 || srv->spool_dir == NULL)
		return;
	size_t n = strlen(srv->spool_dir) + strlen(m->id) + 2;
	char *dir = sp_malloc(n);
	snprintf(dir, n, "%s/%s", srv->spool_dir, m->id);
	/* The directory appears with the first delivery; create it now so
	 * there is something to watch. */
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		sp_log_warn("imap", "mailbox=%s event=spool_dir_failed errno=%d", m->id, errno);
	m->watch = inotify_add_watch(srv->inotify_fd, dir, IN_CREATE | IN_MOVED_TO | IN_ONLYDIR);
	free(dir);
}

/* Sessions going idle free their command memory, and IDLE closes their
 * SQLite handles, but glibc keeps freed heap (in the workers' arenas
 * above all) unless asked: with thousands of idle sessions that is most
 * of the process's memory. Asked at most every 5 seconds. */
static void trim_heap(void *ctx)
{
	struct imap_server *srv = ctx;
	if (!srv->idle_entered)
		return;
	srv->idle_entered = false;
	malloc_trim(0);
}

struct imap_server *imap_server_new(const struct imap_config *config)
{
	struct imap_server *srv = sp_calloc(1, sizeof(*srv));
	srv->cfg = *config;
	srv->hostname = sp_strdup(config->hostname);
	srv->accounts_path = sp_strdup(config->accounts_path);
	srv->mailboxes_dir = sp_strdup(config->mailboxes_dir);
	srv->cfg.hostname = srv->hostname;
	srv->cfg.accounts_path = srv->accounts_path;
	srv->cfg.mailboxes_dir = srv->mailboxes_dir;
	srv->spool_dir = config->spool_dir != NULL ? sp_strdup(config->spool_dir) : NULL;
	srv->cfg.spool_dir = srv->spool_dir;
	srv->inotify_fd = -1;
	if (srv->spool_dir != NULL) {
		srv->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (srv->inotify_fd >= 0) {
			srv->inotify_ev = event_new(sp_loop_base(config->loop), srv->inotify_fd,
			                            EV_READ | EV_PERSIST, inotify_read, srv);
			event_add(srv->inotify_ev, NULL);
		} else {
			sp_log_warn("imap", "event=inotify_unavailable errno=%d", errno);
		}
	}
	srv->trim_timer = sp_timer_new(config->loop, trim_heap, srv);
	sp_timer_start(srv->trim_timer, 5000, true);
	return srv;
}

void imap_server_free(struct imap_server **srvp)
{
	struct imap_server *srv = *srvp;
	if (srv == NULL)
		return;
	sp_assert(srv->mailboxes == NULL);
	sp_timer_free(&srv->trim_timer);
	if (srv->inotify_ev != NULL)
		event_free(srv->inotify_ev);
	if (srv->inotify_fd >= 0)
		close(srv->inotify_fd);
	free(srv->spool_dir);
	free(srv->hostname);
	free(srv->accounts_path);
	free(srv->mailboxes_dir);
	free(srv);
	*srvp = NULL;
}

static struct imap_mailbox *mailbox_find(struct imap_server *srv, const char *id)
{
	for (struct imap_mailbox *m = srv->mailboxes; m != NULL; m = m->next)
		if (strcmp(m->id, id) == 0)
			return m;
	return NULL;
}

static void mailbox_free(struct imap_mailbox *m)
{
	struct imap_server *srv = m->srv;
	if (m->prev != NULL)
		m->prev->next = m->next;
	else
		srv->mailboxes = m->next;
	if (m->next != NULL)
		m->next->prev = m->prev;
	if (m->watch >= 0)
		inotify_rm_watch(srv->inotify_fd, m->watch);
	sp_assert(m->store == NULL && m->store_holders == 0);
	pthread_mutex_destroy(&m->store_lock);
	keys_secret_free(&m->dek);
	keys_secret_free(&m->sk);
	sp_loop_owner_remove(srv->cfg.loop, m->owner_id);
	free(m->path);
	free(m);
}

static void mailbox_unref(struct imap_mailbox *m)
{
	sp_assert(m->refs > 0);
	/* A drain in flight holds a reference too. */
	if (--m->refs == 0)
		mailbox_free(m);
}

/* ---- The notifier ---- */

static void session_notified(void *ctx, const char *mailbox_id, unsigned what, const char *slot_id)
{
	struct imap_session *s = ctx;
	if (s->conn == NULL)
		return;
	if (what & NOTIFY_CLOSE) {
		if (slot_id == NULL || strcmp(slot_id, s->slot_id) == 0) {
			sp_log_info("imap", "conn=%s event=session_ended reason=keys_changed",
			            s->log_id);
			imap_bye(s, "Access to this mailbox was revoked");
			s->state = IMAP_STATE_LOGOUT;
			return;
		}
	}
	if ((what & NOTIFY_SPOOL) && s->mbox != NULL)
		imap_mailbox_drain(s->mbox);
	if (what & NOTIFY_CHANGED)
		imap_session_changed(s);
}

void imap_mailbox_attach(struct imap_session *s, const char *mailbox_id, struct keys_secret **dek,
                         struct keys_secret **sk)
{
	struct imap_server *srv = s->srv;
	struct imap_mailbox *m = mailbox_find(srv, mailbox_id);
	if (m == NULL) {
		m = sp_calloc(1, sizeof(*m));
		m->srv = srv;
		pthread_mutex_init(&m->store_lock, NULL);
		sp_strlcpy(m->id, mailbox_id, sizeof(m->id));
		size_t n = strlen(srv->mailboxes_dir) + strlen(mailbox_id) + 16;
		m->path = sp_malloc(n);
		snprintf(m->path, n, "%s/%s.sqlite", srv->mailboxes_dir, mailbox_id);
		m->dek = *dek;
		m->sk = *sk;
		*dek = NULL;
		*sk = NULL;
		m->owner_id = sp_loop_owner_add(srv->cfg.loop, m);
		mailbox_watch(m);
		m->next = srv->mailboxes;
		if (m->next != NULL)
			m->next->prev = m;
		srv->mailboxes = m;
	} else {
		/* The keys in memory are the same (a rekey ends every session). */
		keys_secret_free(dek);
		keys_secret_free(sk);
	}
	m->refs++;
	s->mbox = m;
	s->sub = notify_subscribe(srv->cfg.notify, m->id, session_notified, s);
}

void imap_mailbox_detach(struct imap_session *s)
{
	notify_unsubscribe(&s->sub);
	if (s->mbox != NULL)
		mailbox_unref(s->mbox);
	s->mbox = NULL;
}

/* ---- Draining the spool ---- */

struct drain_job {
	struct imap_mailbox *m;
	struct store_drain_result res;
	int rc;
	char error[256];
};

static void drain_work(void *ctx)
{
	struct drain_job *job = ctx;
	struct imap_mailbox *m = job->m;
	struct store_session *st = NULL;
	const char *error = NULL;
	/* Its own handle: the sessions stay responsive while it runs, and
	 * each batch's commit notifies them (EXISTS after each batch). */
	job->rc = store_session_open(m->path, m->id, m->dek, false, &st, &error);
	if (job->rc == 0)
		job->rc = store_drain(st, m->srv->cfg.spool, m->id, m->sk, &job->res, &error);
	if (job->rc < 0)
		snprintf(job->error, sizeof(job->error), "%s", error);
	store_session_close(&st);
}

static void drain_done(void *ctx, void *owner, enum sp_work_status status)
{
	struct drain_job *job = ctx;
	struct imap_mailbox *m = job->m;
	m->draining = false;
	if (status == SP_WORK_DONE) {
		if (job->rc < 0)
			sp_log_error("imap", "mailbox=%s event=drain_failed error=\"%s\"", m->id,
			             job->error);
		else if (job->res.drained > 0 || job->res.failed > 0)
			sp_log_info("imap", "mailbox=%s event=drained messages=%zu failed=%zu",
			            m->id, job->res.drained, job->res.failed);
	}
	bool again = m->drain_again && status == SP_WORK_DONE;
	m->drain_again = false;
	free(job);
	if (again && m->refs > 1)
		imap_mailbox_drain(m);
	mailbox_unref(m);
}

void imap_mailbox_drain(struct imap_mailbox *m)
{
	if (m->srv->cfg.spool == NULL)
		return;
	if (m->draining) {
		m->drain_again = true;
		return;
	}
	struct drain_job *job = sp_calloc(1, sizeof(*job));
	job->m = m;
	m->refs++;
	m->draining = true;
	if (sp_workers_submit(m->srv->cfg.workers, m->srv->cfg.store_queue, drain_work, drain_done,
	                      job, 0) < 0) {
		/* The queue is full: the next notification or login retries. */
		m->draining = false;
		m->refs--;
		free(job);
	}
}

unsigned imap_server_close_sessions(struct imap_server *srv, const char *mailbox_id,
                                    const char *slot_id)
{
	return notify_mailbox(srv->cfg.notify, mailbox_id, NOTIFY_CLOSE, slot_id);
}
