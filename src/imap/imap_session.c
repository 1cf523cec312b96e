/* IMAP sessions (RFC 9051 §3, §5, §7): the greeting, parsing input into
 * commands and dispatching them by state (the table's rules), the tagged
 * and untagged replies, worker jobs with the session paused, IDLE's raw
 * lines (RFC 2177), timeouts (RFC 9051 §5.4: 30 minutes), BYE on shutdown,
 * and the ordered teardown of a session whose job is still running. */
#include "imap/imap_private.h"
#include "lib/sp_log.h"
#include "lib/sp_str.h"
#include "net/sp_deflate.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void session_on_read(struct sp_conn *conn, void *ctx);
static void session_free(struct imap_session *s);

/* ---- Replies ---- */

void imap_untagged(struct imap_session *s, const char *fmt, ...)
{
	if (s->conn == NULL)
		return;
	struct sp_buf b = SP_BUF_INIT;
	sp_buf_append_str(&b, "* ");
	va_list ap;
	va_start(ap, fmt);
	sp_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	sp_buf_append_str(&b, "\r\n");
	sp_conn_write_buf(s->conn, &b);
	sp_buf_deinit(&b);
}

static void command_end(struct imap_session *s)
{
	s->in_command = false;
	s->cmd = NULL;
	s->cmd_def = NULL;
	if (s->cmd_data_free != NULL)
		s->cmd_data_free(s->cmd_data);
	s->cmd_data = NULL;
	s->cmd_data_free = NULL;
	s->on_drain = NULL;
	sp_arena_reset(s->arena);
}

static void write_tagged(struct imap_session *s, const char *text, size_t len)
{
	if (s->conn == NULL)
		return;
	struct sp_buf b = SP_BUF_INIT;
	sp_buf_printf(&b, "%s ", s->tag);
	sp_buf_append(&b, text, len);
	sp_buf_append_str(&b, "\r\n");
	sp_conn_write_buf(s->conn, &b);
	sp_buf_deinit(&b);
}

void imap_reply(struct imap_session *s, const char *fmt, ...)
{
	struct sp_buf b = SP_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	sp_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	write_tagged(s, (const char *)b.data, b.len);
	if (strncmp(sp_buf_cstr(&b), "BAD", 3) != 0)
		s->bad_count = 0;
	sp_buf_deinit(&b);
	command_end(s);
}

void imap_bad(struct imap_session *s, const char *text)
{
	imap_reply(s, "BAD %s", text);
}

void imap_bye(struct imap_session *s, const char *text)
{
	if (s->conn == NULL || sp_conn_is_closing(s->conn))
		return;
	imap_untagged(s, "BYE %s", text);
	s->state = IMAP_STATE_LOGOUT;
	sp_conn_close_after_flush(s->conn);
}

void imap_capability_list(const struct imap_session *s, struct sp_buf *out)
{
	sp_buf_append_str(out, "IMAP4rev1 IMAP4rev2");
	if (s->state == IMAP_STATE_NOAUTH) {
		if (sp_conn_can_starttls(s->conn))
			sp_buf_append_str(out, " STARTTLS");
		if (!sp_conn_is_secure(s->conn))
			sp_buf_append_str(out, " LOGINDISABLED");
		else
			sp_buf_append_str(out, " AUTH=PLAIN");
		sp_buf_append_str(out, " SASL-IR ID ENABLE LITERAL+");
		return;
	}
	sp_buf_append_str(out, " LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MOVE"
	                       " CHILDREN LIST-EXTENDED LIST-STATUS SPECIAL-USE"
	                       " CREATE-SPECIAL-USE MULTIAPPEND BINARY CONDSTORE QRESYNC ESEARCH"
	                       " SEARCHRES WITHIN SORT SORT=DISPLAY THREAD=REFERENCES"
	                       " THREAD=ORDEREDSUBJECT STATUS=SIZE SAVEDATE OBJECTID QUOTA"
	                       " QUOTA=RES-STORAGE");
	sp_buf_printf(out, " APPENDLIMIT=%llu UTF8=ACCEPT COMPRESS=DEFLATE",
	              (unsigned long long)s->srv->cfg.max_message);
}

/* ---- Jobs ---- */

/* Runs in a job, under the mailbox's store_lock (job_work). */
struct store_session *imap_job_store(struct imap_job *job)
{
	struct imap_session *s = job->s;
	struct imap_mailbox *m = s->mbox;
	if (s->store != NULL)
		return s->store;
	const char *error;
	if (m->store == NULL) {
		if (store_session_open(m->path, m->id, m->dek, false, &m->store, &error) < 0) {
			sp_log_error("imap", "conn=%s event=store_open_failed error=\"%s\"",
			             s->log_id, error);
			imap_job_reply(job, "NO [SERVERBUG] The mailbox cannot be opened");
			return NULL;
		}
		/* Its fsyncs happen after the job lets go of it (job_work). */
		store_session_defer_sync(m->store, true);
		atomic_fetch_add(&s->srv->open_stores, 1);
	}
	m->store_holders++;
	s->store = m->store;
	return s->store;
}

/* The caller holds the mailbox's store_lock. */
static void store_let_go(struct imap_session *s)
{
	struct imap_mailbox *m = s->mbox;
	if (s->store == NULL)
		return;
	s->store = NULL;
	sp_assert(m->store_holders > 0);
	if (--m->store_holders == 0) {
		store_session_close(&m->store);
		atomic_fetch_sub(&s->srv->open_stores, 1);
	}
}

void imap_session_store_close(struct imap_session *s)
{
	if (s->store == NULL)
		return;
	pthread_mutex_lock(&s->mbox->store_lock);
	store_let_go(s);
	pthread_mutex_unlock(&s->mbox->store_lock);
}

void imap_job_reply(struct imap_job *job, const char *fmt, ...)
{
	sp_buf_reset(&job->tagged);
	va_list ap;
	va_start(ap, fmt);
	sp_buf_vprintf(&job->tagged, fmt, ap);
	va_end(ap);
}

void imap_job_store_error(struct imap_job *job, const char *error)
{
	const char *code = "SERVERBUG";
	switch (store_last_error(job->s->store)) {
	case STORE_ERR_NONEXISTENT:
		code = "NONEXISTENT";
		break;
	case STORE_ERR_EXISTS:
		code = "ALREADYEXISTS";
		break;
	case STORE_ERR_BAD_ARG:
		code = "CANNOT";
		break;
	case STORE_ERR_BUSY:
		code = "INUSE";
		break;
	case STORE_ERR_LIMIT:
		code = "LIMIT";
		break;
	case STORE_ERR_QUOTA:
		code = "OVERQUOTA";
		break;
	case STORE_ERR_NONE:
	case STORE_ERR_INTERNAL:
		sp_log_error("imap", "conn=%s event=store_error error=\"%s\"", job->s->log_id,
		             error);
		imap_job_reply(job, "NO [SERVERBUG] Internal error, try again later");
		return;
	}
	imap_job_reply(job, "NO [%s] %s", code, error);
}

static void job_work(void *ctx)
{
	struct imap_job *job = ctx;
	/* The mailbox's connection is shared by its sessions: one job at a
	 * time uses it. (s->mbox changes only on the loop, between jobs.) */
	struct imap_mailbox *m = job->s->mbox;
	if (m != NULL)
		pthread_mutex_lock(&m->store_lock);
	if (job->work != NULL)
		job->work(job);
	if (job->sync && job->s->state == IMAP_STATE_SELECTED && (job->dirty || job->wrote) &&
	    job->s->store != NULL)
		imap_sync(job);
	bool unsynced = job->s->store != NULL && store_session_take_unsynced(job->s->store);
	if (job->release_store)
		store_let_go(job->s);
	if (m == NULL)
		return;
	pthread_mutex_unlock(&m->store_lock);
	/* A message added, copied or expunged is made durable before the
	 * reply, but without holding the connection that the mailbox's other
	 * sessions are waiting for (and several such fsyncs may overlap). */
	const char *error;
	if (unsynced && store_wal_sync(m->path, &error) < 0) {
		sp_log_error("imap", "conn=%s event=sync_failed error=\"%s\"", job->s->log_id,
		             error);
		imap_job_reply(job, "NO [SERVERBUG] The change may not be on disk, try again");
	}
}

static void job_free(struct imap_job *job)
{
	sp_buf_deinit(&job->out);
	sp_buf_deinit(&job->tagged);
	free(job);
}

static void job_done(void *ctx, void *owner, enum sp_work_status status)
{
	struct imap_job *job = ctx;
	struct imap_session *s = job->s;
	s->busy = false;
	s->job = NULL;
	if (s->conn == NULL) {
		/* The connection closed while the job ran. */
		job_free(job);
		session_free(s);
		return;
	}
	if (status == SP_WORK_CANCELLED) {
		job_free(job);
		imap_bye(s, "Server shutting down");
		return;
	}
	if (job->done != NULL && job->done(job)) {
		/* The command continues (a FETCH chunk, a login step). */
		job_free(job);
		return;
	}
	if (job->out.len > 0)
		sp_conn_write_buf(s->conn, &job->out);
	if (job->still_dirty)
		s->dirty = true;
	if (job->release_store)
		s->srv->idle_entered = true; /* freed SQLite memory: trim the heap */
	if (job->bye) {
		job_free(job);
		s->state = IMAP_STATE_LOGOUT;
		sp_conn_close_after_flush(s->conn);
		return;
	}
	if (job->tagged.len > 0) {
		write_tagged(s, (const char *)job->tagged.data, job->tagged.len);
		s->bad_count = 0;
		command_end(s);
	}
	job_free(job);
	if (s->logout_pending) {
		sp_conn_close_after_flush(s->conn);
		return;
	}
	if (s->shutdown_pending) {
		imap_bye(s, "Server shutting down");
		return;
	}
	if (s->idling && s->dirty && !s->busy)
		imap_session_changed(s);
	else if (s->idling && !s->busy)
		sp_arena_release(s->arena); /* what a sync in IDLE allocated */
	if (!s->busy)
		sp_conn_resume_input(s->conn);
}

struct imap_job *imap_job_start(struct imap_session *s, imap_work_fn *work, imap_done_fn *done,
                                void *data)
{
	return imap_job_start_on(s, s->srv->cfg.store_queue, work, done, data);
}

struct imap_job *imap_job_start_on(struct imap_session *s, struct sp_work_queue *queue,
                                   imap_work_fn *work, imap_done_fn *done, void *data)
{
	sp_assert(!s->busy);
	struct imap_job *job = sp_calloc(1, sizeof(*job));
	job->s = s;
	job->work = work;
	job->done = done;
	job->data = data;
	sp_buf_init(&job->out);
	sp_buf_init(&job->tagged);
	job->sync = true;
	job->allow_expunge = true;
	if (s->cmd_def != NULL && (s->cmd_def->flags & IMAP_CMD_NO_EXPUNGE) && !s->cmd_uid)
		job->allow_expunge = false;
	job->dirty = s->dirty;
	s->dirty = false;
	if (sp_workers_submit(s->srv->cfg.workers, queue, job_work, job_done, job, s->id) < 0) {
		s->dirty = s->dirty || job->dirty;
		job_free(job);
		if (s->in_command)
			imap_reply(s, "NO [UNAVAILABLE] Server busy, try again later");
		return NULL;
	}
	s->busy = true;
	s->job = job;
	sp_conn_pause_input(s->conn);
	return job;
}

/* A sync-only job while idling: untagged responses, no tagged line. */
static void sync_work(struct imap_job *job)
{
	job->release_store = true; /* it idles on: close the handle again */
	if (imap_job_store(job) == NULL)
		sp_buf_reset(&job->tagged);
	job->dirty = true;
}

void imap_session_changed(struct imap_session *s)
{
	s->dirty = true;
	if (!s->idling || s->busy || s->state != IMAP_STATE_SELECTED || s->conn == NULL)
		return;
	imap_job_start(s, sync_work, NULL, NULL);
}

/* ---- Dispatch ---- */

static const char *state_error(const struct imap_session *s, unsigned flags)
{
	switch (s->state) {
	case IMAP_STATE_NOAUTH:
		return "Not logged in";
	case IMAP_STATE_AUTH:
		if (flags & IMAP_CMD_SELECTED)
			return "No mailbox selected";
		return "Command not allowed now";
	case IMAP_STATE_SELECTED:
	case IMAP_STATE_LOGOUT:
		break;
	}
	return "Already logged in";
}

static void dispatch(struct imap_session *s, const struct imap_command *cmd)
{
	sp_strlcpy(s->tag, cmd->tag, sizeof(s->tag));
	s->cmd = cmd;
	s->in_command = true;
	const struct imap_command_def *def = imap_command_find(cmd->name);
	if (def == NULL) {
		imap_reply(s, "BAD Unknown command %.40s", cmd->name);
		return;
	}
	if (cmd->uid && !(def->flags & IMAP_CMD_UID)) {
		imap_bad(s, "UID is not allowed with this command");
		return;
	}
	unsigned need = s->state == IMAP_STATE_NOAUTH ? IMAP_CMD_NOAUTH
	                : s->state == IMAP_STATE_AUTH ? IMAP_CMD_AUTH
	                                              : IMAP_CMD_SELECTED;
	if (!(def->flags & need)) {
		imap_bad(s, state_error(s, def->flags));
		return;
	}
	s->cmd_def = def;
	s->cmd_uid = cmd->uid;
	def->fn(s, cmd);
}

/* Streamed literals belong to APPEND only (imap_cmd_append.c takes them
 * over through cmd_data); any other command with a literal too large to
 * keep inline is refused. */
static void handle_event(struct imap_session *s, const struct imap_event *ev)
{
	switch (ev->type) {
	case IMAP_EV_COMMAND:
		/* An APPEND that streamed its literals finds them in cmd_data. */
		dispatch(s, ev->cmd);
		return;
	case IMAP_EV_CONTINUE:
		if (s->state == IMAP_STATE_NOAUTH && strcmp(ev->cmd->name, "LOGIN") != 0 &&
		    strcmp(ev->cmd->name, "AUTHENTICATE") != 0) {
			/* No unauthenticated client gets to upload data. */
			sp_strlcpy(s->tag, ev->cmd->tag, sizeof(s->tag));
			imap_parser_abort_command(s->parser);
			imap_bad(s, "Literals are not allowed before login");
			return;
		}
		if (s->conn != NULL)
			sp_conn_write_str(s->conn, "+ OK\r\n");
		return;
	case IMAP_EV_LITERAL_BEGIN:
		sp_strlcpy(s->tag, ev->cmd->tag, sizeof(s->tag));
		if (strcmp(ev->cmd->name, "APPEND") != 0 || s->state == IMAP_STATE_NOAUTH) {
			imap_parser_abort_command(s->parser);
			s->in_command = true;
			imap_bad(s, "Literal too large for this command");
			return;
		}
		s->in_command = true;
		s->cmd = ev->cmd;
		imap_append_literal_begin(s, ev);
		return;
	case IMAP_EV_LITERAL_DATA:
		imap_append_literal_data(s, ev->data);
		return;
	case IMAP_EV_LITERAL_END:
		imap_append_literal_end(s);
		return;
	case IMAP_EV_LINE:
		/* IDLE's DONE (imap_cmd_idle.c) or an AUTHENTICATE response. */
		if (s->idling) {
			s->idling = false;
			imap_parser_set_line_mode(s->parser, false);
			if (ev->data.len == 4 && sp_slice_case_eq_str(ev->data, "DONE"))
				imap_reply(s, "OK IDLE terminated");
			else
				imap_bad(s, "Expected DONE");
			return;
		}
		if (s->authenticating) {
			s->cmd = NULL; /* the parser moved on */
			imap_authenticate_line(s, ev->data);
			return;
		}
		imap_parser_set_line_mode(s->parser, false);
		return;
	case IMAP_EV_ERROR:
		if (s->cmd_data_free != NULL && s->in_command) {
			/* A streamed APPEND went wrong: nothing of it is kept. */
			command_end(s);
		}
		if (ev->error.tag != NULL)
			sp_strlcpy(s->tag, ev->error.tag, sizeof(s->tag));
		{
			struct sp_buf b = SP_BUF_INIT;
			sp_buf_append_str(&b, ev->error.kind == IMAP_ERROR_NO ? "NO " : "BAD ");
			if (ev->error.code != NULL)
				sp_buf_printf(&b, "[%s] ", ev->error.code);
			sp_buf_append_str(&b, ev->error.text);
			if (ev->error.tag != NULL) {
				write_tagged(s, (const char *)b.data, b.len);
			} else if (s->conn != NULL) {
				sp_conn_printf(s->conn, "* %s\r\n", sp_buf_cstr(&b));
			}
			sp_buf_deinit(&b);
		}
		s->in_command = false;
		sp_arena_reset(s->arena);
		if (++s->bad_count > IMAP_MAX_BAD)
			imap_bye(s, "Too many invalid commands");
		return;
	}
}

static void session_on_read(struct sp_conn *conn, void *ctx)
{
	struct imap_session *s = ctx;
	while (!s->busy && s->conn != NULL && !sp_conn_is_closing(conn)) {
		if (s->waiting)
			break; /* a command waits for a timer (login slow-down) */
		struct sp_slice in = sp_conn_input(conn);
		if (in.len == 0)
			break;
		size_t used = 0;
		struct imap_event ev;
		int rc = imap_parser_feed(s->parser, in.ptr, in.len, &used, &ev);
		if (rc == SP_AGAIN) {
			sp_conn_consume(conn, used);
			break;
		}
		/* The event may point into the input: handle it before
		 * consuming it. */
		handle_event(s, &ev);
		if (s->restart_input) {
			s->restart_input = false;
			continue;
		}
		if (s->conn != NULL)
			sp_conn_consume(conn, used);
		if (s->compress_pending && s->conn != NULL) {
			/* RFC 4978 §3: everything after the OK is compressed, in
			 * both directions; buffered input is inflated now. */
			const char *error;
			s->compress_pending = false;
			if (sp_conn_start_deflate(conn, -1, &error) < 0) {
				sp_log_warn("imap", "conn=%s event=compress_failed error=\"%s\"",
				            s->log_id, error);
				sp_conn_close_after_flush(conn);
				break;
			}
			s->compressed = true;
		}
	}
	if (s->busy && s->conn != NULL)
		sp_conn_pause_input(conn);
}

static void session_on_drain(struct sp_conn *conn, void *ctx)
{
	struct imap_session *s = ctx;
	void (*fn)(struct imap_session *) = s->on_drain;
	s->on_drain = NULL;
	if (fn != NULL)
		fn(s);
}

static void session_on_timeout(struct sp_conn *conn, void *ctx)
{
	struct imap_session *s = ctx;
	if (s->busy)
		return;
	imap_bye(s, "Autologout; idle for too long");
}

static void session_on_shutdown(struct sp_conn *conn, void *ctx)
{
	struct imap_session *s = ctx;
	if (s->busy) {
		s->shutdown_pending = true;
		return;
	}
	imap_bye(s, "Server shutting down");
}

static void session_free(struct imap_session *s)
{
	if (s->cmd_data_free != NULL)
		s->cmd_data_free(s->cmd_data);
	imap_session_store_close(s);
	imap_session_unselect(s);
	imap_mailbox_detach(s);
	imap_parser_free(&s->parser);
	sp_arena_free(&s->arena);
	imap_seqset_deinit(&s->saved);
	imap_seqset_deinit(&s->recent);
	sp_loop_owner_remove(s->srv->cfg.loop, s->id);
	free(s);
}

static void session_on_close(struct sp_conn *conn, void *ctx, enum sp_conn_close_reason reason)
{
	struct imap_session *s = ctx;
	sp_log_debug("imap", "conn=%s event=closed reason=%d", s->log_id, (int)reason);
	s->conn = NULL;
	if (s->busy) {
		/* The worker still uses the session: job_done frees it. */
		s->job_closed = true;
		return;
	}
	/* The store handle is closed on the loop here; no job is running. */
	session_free(s);
}

static const struct sp_conn_handlers session_handlers = {
    .on_read = session_on_read,
    .on_drain = session_on_drain,
    .on_timeout = session_on_timeout,
    .on_shutdown = session_on_shutdown,
    .on_close = session_on_close,
};

void imap_accept(void *ctx, struct sp_conn *conn)
{
	struct imap_server *srv = ctx;
	struct imap_session *s = sp_calloc(1, sizeof(*s));
	s->srv = srv;
	s->conn = conn;
	s->id = sp_loop_owner_add(srv->cfg.loop, s);
	snprintf(s->log_id, sizeof(s->log_id), "%016llx", (unsigned long long)sp_conn_id(conn));
	struct imap_parser_limits limits;
	imap_parser_limits_default(&limits);
	if (srv->cfg.max_line != 0)
		limits.max_line = srv->cfg.max_line;
	if (srv->cfg.max_message != 0)
		limits.max_literal = srv->cfg.max_message;
	limits.max_nonsync_literal = limits.max_literal;
	s->parser = imap_parser_new(&limits);
	s->arena = sp_arena_new(4096);
	imap_seqset_init(&s->saved);
	imap_seqset_init(&s->recent);
	sp_conn_set_handlers(conn, &session_handlers, s);
	sp_conn_set_idle_timeout(conn, srv->cfg.idle_timeout_ms != 0 ? srv->cfg.idle_timeout_ms
	                                                             : 30 * 60 * 1000);
	sp_conn_set_input_limit(conn, 256 * 1024);
	struct sp_buf b = SP_BUF_INIT;
	sp_buf_append_str(&b, "* OK [CAPABILITY ");
	imap_capability_list(s, &b);
	sp_buf_append_str(&b, "] Sealpost ready\r\n");
	sp_conn_write_buf(conn, &b);
	sp_buf_deinit(&b);
	sp_log_debug("imap", "conn=%s event=connect peer=%s", s->log_id, sp_conn_peer(conn));
}
