/* LMTP sessions (RFC 2033) on the shared SMTP-family parser: the state
 * checks and replies of each command, recipients resolved on a worker,
 * message data streamed into the sealed spool, and after the final dot
 * (or BDAT LAST, RFC 3030) one reply per accepted recipient in RCPT order
 * (RFC 2033 §4.2), each 250 written only after that recipient's sealed
 * entry and its directory are fsynced. */
#include "lmtp/lmtp.h"
#include "lib/sp_log.h"
#include "lib/sp_str.h"
#include "net/sp_conn.h"
#include "smtp/smtp_parser.h"
#include "smtp/smtp_reply.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define LMTP_MAX_ERRORS 20
#define RCPT_ADDRESS_MAX 512 /* local@domain as the client sent it, NUL */
#define RCPT_CACHE_SLOTS 256
#define RCPT_CACHE_TTL_MS (60 * 1000)

/* A recipient resolved before, for a mailbox without a quota (whose
 * verdict depends on accounts.db alone): an RCPT that finds it needs no
 * worker. The cache is emptied whenever accounts.db may have changed:
 * while the server runs, every CLI command reaches it through the control
 * socket (lmtp_server_accounts_changed); entries also expire. */
struct rcpt_cache_entry {
	char address[RCPT_ADDRESS_MAX];
	struct delivery_rcpt rcpt;
	uint64_t stored_ms;
};

struct lmtp_server {
	struct lmtp_config cfg;
	char *hostname, *accounts_path;
	struct rcpt_cache_entry *cache; /* RCPT_CACHE_SLOTS, direct-mapped */
	uint64_t generation;            /* bumped when the cache is emptied */
};

struct lmtp_rcpt {
	struct delivery_rcpt d;
	size_t unique; /* index among distinct mailboxes (spool stanza) */
};

enum lmtp_xfer {
	XFER_NONE,
	XFER_DATA,
	XFER_BDAT,
};

struct lmtp_session {
	struct lmtp_server *srv;
	struct sp_conn *conn;
	uint64_t id;
	char id_text[24];
	struct smtp_parser parser;
	char helo[256];
	bool have_helo;
	/* The transaction. */
	bool in_mail;
	bool smtputf8;
	char *sender;
	uint64_t declared_size;
	struct lmtp_rcpt *rcpts;
	size_t n_rcpts, cap_rcpts, n_unique;
	enum lmtp_xfer xfer;
	struct spool_writer *writer;
	bool write_failed;
	bool bdat_refused; /* the current BDAT chunk is being discarded */
	bool bdat_last;
	uint64_t bdat_total;
	bool bdat_too_large;
	int64_t received;
	/* Connection state. */
	bool busy;             /* a worker job is in flight: input paused */
	bool restart_input;    /* STARTTLS emptied the input: stop parsing it */
	bool shutdown_pending; /* shutdown came while busy: 421 once done */
	bool closing;
	unsigned errors;
	struct sp_buf out;
};

struct lmtp_server *lmtp_server_new(const struct lmtp_config *config)
{
	struct lmtp_server *srv = sp_calloc(1, sizeof(*srv));
	srv->cfg = *config;
	srv->hostname = sp_strdup(config->hostname);
	srv->accounts_path = sp_strdup(config->accounts_path);
	srv->cfg.hostname = srv->hostname;
	srv->cfg.accounts_path = srv->accounts_path;
	srv->cache = sp_calloc(RCPT_CACHE_SLOTS, sizeof(*srv->cache));
	return srv;
}

void lmtp_server_accounts_changed(struct lmtp_server *srv)
{
	srv->generation++;
	for (size_t i = 0; i < RCPT_CACHE_SLOTS; i++)
		srv->cache[i].address[0] = '\0';
}

static struct rcpt_cache_entry *rcpt_cache_slot(struct lmtp_server *srv, const char *address)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (const char *p = address; *p != '\0'; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	return &srv->cache[h % RCPT_CACHE_SLOTS];
}

static const struct delivery_rcpt *rcpt_cache_find(struct lmtp_server *srv, const char *address)
{
	struct rcpt_cache_entry *e = rcpt_cache_slot(srv, address);
	if (strcmp(e->address, address) != 0 || sp_now_ms() - e->stored_ms > RCPT_CACHE_TTL_MS)
		return NULL;
	return &e->rcpt;
}

static void rcpt_cache_store(struct lmtp_server *srv, const char *address,
                             const struct delivery_rcpt *rcpt)
{
	struct rcpt_cache_entry *e = rcpt_cache_slot(srv, address);
	sp_strlcpy(e->address, address, sizeof(e->address));
	e->rcpt = *rcpt;
	e->stored_ms = sp_now_ms();
}

void lmtp_server_free(struct lmtp_server **srvp)
{
	struct lmtp_server *srv = *srvp;
	if (srv == NULL)
		return;
	free(srv->hostname);
	free(srv->accounts_path);
	free(srv->cache);
	free(srv);
	*srvp = NULL;
}

static void reply(struct lmtp_session *s, unsigned code, const char *enhanced, const char *text)
{
	smtp_reply_append(&s->out, code, enhanced, text);
}

static void flush(struct lmtp_session *s)
{
	if (s->out.len > 0) {
		sp_conn_write_buf(s->conn, &s->out);
		sp_buf_reset(&s->out);
	}
}

static void transaction_reset(struct lmtp_session *s)
{
	spool_writer_abort(&s->writer);
	free(s->sender);
	s->sender = NULL;
	s->in_mail = false;
	s->smtputf8 = false;
	s->declared_size = 0;
	s->n_rcpts = 0;
	s->n_unique = 0;
	s->xfer = XFER_NONE;
	s->write_failed = false;
	s->bdat_refused = false;
	s->bdat_last = false;
	s->bdat_total = 0;
	s->bdat_too_large = false;
}

static void close_after(struct lmtp_session *s, unsigned code, const char *enhanced,
                        const char *text)
{
	reply(s, code, enhanced, text);
	flush(s);
	s->closing = true;
	sp_conn_close_after_flush(s->conn);
}

/* ---- RCPT: resolved on a worker ---- */

struct rcpt_job {
	struct lmtp_server *srv;
	uint64_t generation; /* the cache's when the job started */
	char address[RCPT_ADDRESS_MAX];
	uint64_t declared_size;
	struct delivery_rcpt rcpt;
	struct delivery_verdict verdict;
};

static void rcpt_work(void *ctx)
{
	struct rcpt_job *job = ctx;
	const char *error;
	struct accounts *acc = accounts_thread_handle(job->srv->accounts_path, &error);
	if (acc == NULL) {
		sp_log_error("lmtp", "event=accounts_open_failed error=\"%s\"", error);
		job->verdict = (struct delivery_verdict){451, "4.3.0", "Temporary lookup failure"};
		return;
	}
	struct delivery_limits limits = {.quota_tempfail = job->srv->cfg.quota_tempfail};
	delivery_resolve(acc, job->srv->cfg.spool, job->address, job->declared_size, &limits,
	                 &job->rcpt, &job->verdict);
}

static void session_resume(struct lmtp_session *s)
{
	s->busy = false;
	if (s->shutdown_pending) {
		/* The job in flight has replied; now say goodbye. */
		s->shutdown_pending = false;
		close_after(s, 421, "4.3.2", "Server shutting down");
		return;
	}
	flush(s);
	if (!s->closing)
		sp_conn_resume_input(s->conn);
}

static void rcpt_accept(struct lmtp_session *s, const struct delivery_rcpt *rcpt)
{
	/* The same mailbox twice (alias and +tag, say) gets one copy and a
	 * reply for each RCPT. */
	size_t unique = s->n_unique;
	for (size_t i = 0; i < s->n_rcpts; i++) {
		if (strcmp(s->rcpts[i].d.mailbox_id, rcpt->mailbox_id) == 0) {
			unique = s->rcpts[i].unique;
			break;
		}
	}
	if (unique == s->n_unique)
		s->n_unique++;
	if (s->n_rcpts == s->cap_rcpts) {
		s->cap_rcpts = s->cap_rcpts ? s->cap_rcpts * 2 : 8;
		s->rcpts = sp_reallocarray(s->rcpts, s->cap_rcpts, sizeof(*s->rcpts));
	}
	s->rcpts[s->n_rcpts].d = *rcpt;
	s->rcpts[s->n_rcpts].unique = unique;
	s->n_rcpts++;
}

static void rcpt_done(void *ctx, void *owner, enum sp_work_status status)
{
	struct rcpt_job *job = ctx;
	struct lmtp_session *s = owner;
	if (s == NULL || status != SP_WORK_DONE) {
		free(job);
		return;
	}
	const struct delivery_verdict *v = &job->verdict;
	if (v->code / 100 == 2) {
		rcpt_accept(s, &job->rcpt);
		if (job->rcpt.no_quota && job->generation == s->srv->generation)
			rcpt_cache_store(s->srv, job->address, &job->rcpt);
	}
	reply(s, v->code, v->enhanced, v->text);
	free(job);
	session_resume(s);
}

static void submit(struct lmtp_session *s, sp_work_fn *work, sp_work_done_fn *done, void *job)
{
	if (sp_workers_submit(s->srv->cfg.workers, s->srv->cfg.queue, work, done, job, s->id) < 0) {
		free(job);
		reply(s, 451, "4.3.2", "Server busy, try again later");
		return;
	}
	s->busy = true;
}

static void cmd_rcpt(struct lmtp_session *s, const struct smtp_command *cmd)
{
	if (!s->in_mail) {
		reply(s, 503, "5.5.1", "Need MAIL command first");
		return;
	}
	if (s->n_rcpts >= s->srv->cfg.max_recipients) {
		reply(s, 452, "4.5.3", "Too many recipients");
		return;
	}
	if (cmd->path.utf8 && !s->smtputf8) {
		reply(s, 553, "5.6.7", "SMTPUTF8 required for this address");
		return;
	}
	char address[RCPT_ADDRESS_MAX];
	if (cmd->path.postmaster) {
		snprintf(address, sizeof(address), "postmaster@%s", s->srv->hostname);
	} else if (cmd->path.domain_literal ||
	           cmd->path.local.len + cmd->path.domain.len + 2 > sizeof(address)) {
		reply(s, 550, "5.1.1", "No such user here");
		return;
	} else {
		snprintf(address, sizeof(address), "%.*s@%.*s", (int)cmd->path.local.len,
		         (const char *)cmd->path.local.ptr, (int)cmd->path.domain.len,
		         (const char *)cmd->path.domain.ptr);
	}
	const struct delivery_rcpt *known = rcpt_cache_find(s->srv, address);
	if (known != NULL) {
		rcpt_accept(s, known);
		reply(s, 250, "2.1.5", "OK");
		return;
	}
	struct rcpt_job *job = sp_calloc(1, sizeof(*job));
	job->srv = s->srv;
	job->generation = s->srv->generation;
	job->declared_size = s->declared_size;
	memcpy(job->address, address, sizeof(address));
	submit(s, rcpt_work, rcpt_done, job);
}

/* ---- the data: streamed into the spool, committed on a worker ---- */

struct commit_job {
	struct lmtp_server *srv;
	struct spool_writer *writer;
	int *results; /* per unique mailbox */
	size_t n;
	char error[128];
	uint64_t size;
	int64_t received;
};

static void commit_work(void *ctx)
{
	struct commit_job *job = ctx;
	const char *error = NULL;
	if (spool_writer_commit(&job->writer, job->results, &error) < 0)
		sp_strlcpy(job->error, error ? error : "commit failed", sizeof(job->error));
}

static void commit_done(void *ctx, void *owner, enum sp_work_status status)
{
	struct commit_job *job = ctx;
	struct lmtp_session *s = owner;
	if (status == SP_WORK_CANCELLED) {
		spool_writer_abort(&job->writer);
		for (size_t i = 0; i < job->n; i++)
			job->results[i] = -1;
	}
	if (job->error[0] != '\0')
		sp_log_error("lmtp", "event=spool_commit_failed error=\"%s\"", job->error);
	size_t delivered = 0;
	if (s != NULL && status == SP_WORK_DONE) {
		char text[96];
		for (size_t i = 0; i < s->n_rcpts; i++) {
			struct lmtp_rcpt *r = &s->rcpts[i];
			if (job->results[r->unique] == 0) {
				snprintf(text, sizeof(text), "%s Saved", s->id_text);
				reply(s, 250, "2.0.0", text);
			} else {
				reply(s, 451, "4.3.0", "Temporary failure saving the message");
			}
		}
	}
	if (s != NULL) {
		/* Tell live sessions of each mailbox that mail waits, once per
		 * mailbox (the first RCPT index of each unique one). */
		for (size_t i = 0; i < s->n_rcpts; i++) {
			struct lmtp_rcpt *r = &s->rcpts[i];
			bool first = true;
			for (size_t k = 0; k < i; k++)
				first = first && s->rcpts[k].unique != r->unique;
			if (first && job->results[r->unique] == 0) {
				delivered++;
				if (s->srv->cfg.notify != NULL)
					notify_mailbox(s->srv->cfg.notify, r->d.mailbox_id,
					               NOTIFY_SPOOL, NULL);
			}
		}
		sp_log_info("lmtp", "conn=%s event=delivered mailboxes=%zu size=%llu", s->id_text,
		            delivered, (unsigned long long)job->size);
		transaction_reset(s);
		session_resume(s);
	}
	free(job->results);
	free(job);
}

static int writer_begin(struct lmtp_session *s)
{
	struct spool_rcpt *rcpts = sp_calloc(s->n_unique, sizeof(*rcpts));
	struct sp_buf *headers = sp_calloc(s->n_unique, sizeof(*headers));
	s->received = (int64_t)time(NULL);
	for (size_t i = 0; i < s->n_rcpts; i++) {
		struct lmtp_rcpt *r = &s->rcpts[i];
		struct spool_rcpt *sr = &rcpts[r->unique];
		if (sr->mailbox_id != NULL)
			continue;
		delivery_headers(&headers[r->unique], s->sender ? s->sender : "", r->d.delivered_to,
		                 s->helo, sp_conn_peer(s->conn), s->srv->hostname, "LMTP",
		                 s->id_text, s->received);
		sr->mailbox_id = r->d.mailbox_id;
		sr->pk = r->d.pk;
		sr->folder = "INBOX";
		sr->headers = headers[r->unique].data;
		sr->headers_len = headers[r->unique].len;
	}
	const char *error;
	int rc = spool_writer_begin(s->srv->cfg.spool, rcpts, s->n_unique, s->received, &s->writer,
	                            &error);
	if (rc < 0)
		sp_log_error("lmtp", "conn=%s event=spool_begin_failed error=\"%s\"", s->id_text,
		             error);
	for (size_t i = 0; i < s->n_unique; i++)
		sp_buf_deinit(&headers[i]);
	free(headers);
	free(rcpts);
	return rc;
}

/* One reply per accepted recipient (RFC 2033 §4.2). */
static void reply_each(struct lmtp_session *s, unsigned code, const char *enhanced,
                       const char *text)
{
	for (size_t i = 0; i < s->n_rcpts; i++)
		reply(s, code, enhanced, text);
}

static void data_finished(struct lmtp_session *s, bool too_large, uint64_t size)
{
	if (too_large) {
		reply_each(s, 552, "5.3.4", "Message size exceeds fixed maximum message size");
		transaction_reset(s);
		return;
	}
	if (s->write_failed || s->writer == NULL) {
		reply_each(s, 451, "4.3.0", "Temporary failure saving the message");
		transaction_reset(s);
		return;
	}
	struct commit_job *job = sp_calloc(1, sizeof(*job));
	job->srv = s->srv;
	job->writer = s->writer;
	s->writer = NULL;
	job->n = s->n_unique;
	job->results = sp_calloc(job->n, sizeof(int));
	job->size = size;
	job->received = s->received;
	if (sp_workers_submit(s->srv->cfg.workers, s->srv->cfg.queue, commit_work, commit_done, job,
	                      s->id) < 0) {
		spool_writer_abort(&job->writer);
		free(job->results);
		free(job);
		reply_each(s, 451, "4.3.2", "Server busy, try again later");
		transaction_reset(s);
		return;
	}
	s->busy = true;
}

static void data_chunk(struct lmtp_session *s, struct sp_slice data)
{
	if (s->writer == NULL || s->write_failed || s->bdat_refused)
		return;
	const char *error;
	if (spool_writer_write(s->writer, data.ptr, data.len, &error) < 0) {
		sp_log_error("lmtp", "conn=%s event=spool_write_failed error=\"%s\"", s->id_text,
		             error);
		s->write_failed = true;
	}
}

static void cmd_data(struct lmtp_session *s)
{
	if (!s->in_mail) {
		reply(s, 503, "5.5.1", "Need MAIL command first");
		return;
	}
	if (s->n_rcpts == 0) {
		/* RFC 2033 §4.2: DATA without a successful RCPT fails with 503. */
		reply(s, 503, "5.5.1", "No valid recipients");
		return;
	}
	if (s->writer == NULL && writer_begin(s) < 0) {
		reply(s, 451, "4.3.0", "Temporary failure, try again later");
		transaction_reset(s);
		return;
	}
	reply(s, 354, NULL, "Start mail input; end with <CRLF>.<CRLF>");
	s->xfer = XFER_DATA;
	smtp_parser_begin_data(&s->parser);
}

static void cmd_bdat(struct lmtp_session *s, const struct smtp_command *cmd)
{
	s->xfer = XFER_BDAT;
	s->bdat_last = cmd->bdat_last;
	s->bdat_refused = false;
	const char *refusal = NULL;
	if (!s->in_mail)
		refusal = "Need MAIL command first";
	else if (s->n_rcpts == 0)
		refusal = "No valid recipients";
	if (refusal != NULL) {
		/* RFC 3030 §2: the octets are read even though refused. */
		s->bdat_refused = true;
		reply(s, 503, "5.5.1", refusal);
		smtp_parser_begin_bdat(&s->parser, cmd->bdat_size, true);
		return;
	}
	if (s->bdat_total + cmd->bdat_size > s->srv->cfg.max_message ||
	    s->bdat_total + cmd->bdat_size < s->bdat_total)
		s->bdat_too_large = true;
	s->bdat_total += cmd->bdat_size;
	if (s->writer == NULL && !s->bdat_too_large && writer_begin(s) < 0)
		s->write_failed = true;
	smtp_parser_begin_bdat(&s->parser, cmd->bdat_size, s->bdat_too_large);
}

static void bdat_chunk_end(struct lmtp_session *s, uint64_t size)
{
	s->xfer = XFER_NONE;
	if (s->bdat_refused) {
		s->bdat_refused = false;
		return; /* replied when the command came */
	}
	if (s->bdat_last) {
		data_finished(s, s->bdat_too_large, s->bdat_total);
		return;
	}
	if (s->bdat_too_large) {
		reply(s, 552, "5.3.4", "Message size exceeds fixed maximum message size");
		transaction_reset(s);
		return;
	}
	char text[64];
	snprintf(text, sizeof(text), "%llu octets received", (unsigned long long)size);
	reply(s, 250, "2.0.0", text);
}

/* ---- the other commands ---- */

static void cmd_lhlo(struct lmtp_session *s, const struct smtp_command *cmd)
{
	transaction_reset(s);
	snprintf(s->helo, sizeof(s->helo), "%.*s", (int)SP_MIN(cmd->arg.len, sizeof(s->helo) - 1),
	         (const char *)cmd->arg.ptr);
	s->have_helo = true;
	struct smtp_caps caps = {
	    .flags = SMTP_CAP_PIPELINING | SMTP_CAP_SIZE | SMTP_CAP_8BITMIME | SMTP_CAP_SMTPUTF8 |
	             SMTP_CAP_ENHANCEDSTATUSCODES | SMTP_CAP_CHUNKING,
	    .size_max = s->srv->cfg.max_message,
	};
	if (sp_conn_can_starttls(s->conn))
		caps.flags |= SMTP_CAP_STARTTLS;
	smtp_reply_ehlo(&s->out, s->srv->hostname, NULL, &caps);
}

static void cmd_mail(struct lmtp_session *s, const struct smtp_command *cmd)
{
	if (!s->have_helo) {
		reply(s, 503, "5.5.1", "Send LHLO first");
		return;
	}
	if (s->in_mail) {
		reply(s, 503, "5.5.1", "Nested MAIL command");
		return;
	}
	if (cmd->params.has_size && cmd->params.size > s->srv->cfg.max_message) {
		reply(s, 552, "5.3.4", "Message size exceeds fixed maximum message size");
		return;
	}
	if (cmd->params.body == SMTP_BODY_BINARYMIME) {
		reply(s, 555, "5.5.4", "BODY=BINARYMIME is not supported");
		return;
	}
	s->in_mail = true;
	s->smtputf8 = cmd->params.smtputf8;
	s->declared_size = cmd->params.has_size ? cmd->params.size : 0;
	s->sender = sp_strndup((const char *)cmd->path.mailbox.ptr, cmd->path.mailbox.len);
	reply(s, 250, "2.1.0", "Sender OK");
}

/* RFC 3207: after "220 Ready" the TLS handshake starts; the session then
 * starts over (no LHLO, no transaction), and bytes the client pipelined
 * after STARTTLS are discarded by sp_conn_starttls (CVE-2011-0411). */
static void cmd_starttls(struct lmtp_session *s)
{
	if (!sp_conn_can_starttls(s->conn)) {
		reply(s, sp_conn_is_tls(s->conn) ? 503 : 502, "5.5.1",
		      sp_conn_is_tls(s->conn) ? "TLS already active" : "STARTTLS not available");
		return;
	}
	reply(s, 220, "2.0.0", "Ready to start TLS");
	flush(s);
	const char *error;
	if (sp_conn_starttls(s->conn, &error) < 0) {
		sp_log_warn("lmtp", "conn=%s event=starttls_failed error=\"%s\"", s->id_text,
		            error);
		s->closing = true;
		sp_conn_close(s->conn);
		return;
	}
	transaction_reset(s);
	s->have_helo = false;
	s->helo[0] = '\0';
	smtp_parser_reset(&s->parser);
	s->restart_input = true;
}

static void handle_command(struct lmtp_session *s, const struct smtp_command *cmd)
{
	switch (cmd->verb) {
	case SMTP_VERB_LHLO:
		cmd_lhlo(s, cmd);
		break;
	case SMTP_VERB_MAIL:
		cmd_mail(s, cmd);
		break;
	case SMTP_VERB_RCPT:
		cmd_rcpt(s, cmd);
		break;
	case SMTP_VERB_DATA:
		cmd_data(s);
		break;
	case SMTP_VERB_BDAT:
		cmd_bdat(s, cmd);
		break;
	case SMTP_VERB_RSET:
		transaction_reset(s);
		reply(s, 250, "2.0.0", "OK");
		break;
	case SMTP_VERB_NOOP:
		reply(s, 250, "2.0.0", "OK");
		break;
	case SMTP_VERB_VRFY:
		reply(s, 252, "2.5.0", "Cannot VRFY user, but will accept message");
		break;
	case SMTP_VERB_QUIT:
		close_after(s, 221, "2.0.0", "Bye");
		break;
	case SMTP_VERB_STARTTLS:
		cmd_starttls(s);
		break;
	case SMTP_VERB_HELO:
	case SMTP_VERB_EHLO:
		/* RFC 2033 §4.1 (the parser reports these in LMTP mode). */
		reply(s, 500, "5.5.1", "This is LMTP: use LHLO");
		break;
	default:
		reply(s, 502, "5.5.1", "Command not implemented");
		break;
	}
}

static void handle_event(struct lmtp_session *s, const struct smtp_event *ev)
{
	switch (ev->type) {
	case SMTP_EVENT_COMMAND:
		handle_command(s, &ev->cmd);
		break;
	case SMTP_EVENT_ERROR:
		smtp_reply_error(&s->out, &ev->error);
		if (++s->errors > LMTP_MAX_ERRORS)
			close_after(s, 421, "4.7.0", "Too many errors, closing connection");
		break;
	case SMTP_EVENT_DATA:
		data_chunk(s, ev->data);
		break;
	case SMTP_EVENT_DATA_END:
		if (s->xfer == XFER_DATA) {
			s->xfer = XFER_NONE;
			data_finished(s, ev->too_large, ev->size);
		} else {
			bdat_chunk_end(s, ev->size);
		}
		break;
	case SMTP_EVENT_LINE:
		break;
	}
}

static void lmtp_on_read(struct sp_conn *conn, void *ctx)
{
	struct lmtp_session *s = ctx;
	while (!s->busy && !s->closing) {
		struct sp_slice in = sp_conn_input(conn);
		size_t used = 0;
		struct smtp_event ev;
		int rc = smtp_parser_feed(&s->parser, in.ptr, in.len, &used, &ev);
		if (rc == SP_AGAIN) {
			sp_conn_consume(conn, used);
			break;
		}
		/* The event's slices point into the input: handle it before
		 * consuming, and call no other sp_conn function in between. */
		handle_event(s, &ev);
		if (s->restart_input) {
			/* STARTTLS discarded the buffered input already. */
			s->restart_input = false;
			continue;
		}
		sp_conn_consume(conn, used);
	}
	if (s->busy)
		sp_conn_pause_input(conn);
	flush(s);
}

static void lmtp_on_timeout(struct sp_conn *conn, void *ctx)
{
	struct lmtp_session *s = ctx;
	if (s->busy)
		return; /* a commit in flight: the timer re-arms */
	close_after(s, 421, "4.4.2", "Idle timeout, closing connection");
}

static void lmtp_on_shutdown(struct sp_conn *conn, void *ctx)
{
	struct lmtp_session *s = ctx;
	if (s->busy) {
		/* Let the job in flight finish and reply, then close; the
		 * server's shutdown bound closes the connection if it does not. */
		s->closing = true;
		s->shutdown_pending = true;
		return;
	}
	close_after(s, 421, "4.3.2", "Server shutting down");
}

static void lmtp_on_close(struct sp_conn *conn, void *ctx, enum sp_conn_close_reason reason)
{
	struct lmtp_session *s = ctx;
	transaction_reset(s);
	smtp_parser_deinit(&s->parser);
	/* Jobs still in flight find no owner and clean up after themselves. */
	sp_loop_owner_remove(s->srv->cfg.loop, s->id);
	sp_buf_deinit(&s->out);
	free(s->rcpts);
	free(s);
}

static const struct sp_conn_handlers lmtp_handlers = {
    .on_read = lmtp_on_read,
    .on_timeout = lmtp_on_timeout,
    .on_shutdown = lmtp_on_shutdown,
    .on_close = lmtp_on_close,
};

void lmtp_accept(void *ctx, struct sp_conn *conn)
{
	struct lmtp_server *srv = ctx;
	struct lmtp_session *s = sp_calloc(1, sizeof(*s));
	s->srv = srv;
	s->conn = conn;
	/* Worker completions find the session by this id (STYLE.md). */
	s->id = sp_loop_owner_add(srv->cfg.loop, s);
	snprintf(s->id_text, sizeof(s->id_text), "%016llx", (unsigned long long)sp_conn_id(conn));
	struct smtp_limits limits;
	smtp_limits_init(&limits);
	limits.max_message = srv->cfg.max_message;
	limits.max_recipients = srv->cfg.max_recipients;
	if (srv->cfg.max_line != 0)
		limits.max_line = srv->cfg.max_line;
	smtp_parser_init(&s->parser, SMTP_MODE_LMTP, &limits);
	sp_conn_set_handlers(conn, &lmtp_handlers, s);
	if (srv->cfg.idle_timeout_ms != 0)
		sp_conn_set_idle_timeout(conn, srv->cfg.idle_timeout_ms);
	if (!srv->cfg.allow_remote && !sp_conn_is_loopback(conn) && !sp_conn_is_unix(conn)) {
		/* LMTP has no authentication (DESIGN section 8). */
		sp_log_warn("lmtp", "conn=%s event=refused_remote", s->id_text);
		close_after(s, 421, "4.7.0", "LMTP is for local clients only");
		return;
	}
	sp_buf_printf(&s->out, "220 %s LMTP Sealpost ready\r\n", srv->hostname);
	flush(s);
}
