/* LOGIN (RFC 9051 §6.2.3) and AUTHENTICATE PLAIN (RFC 9051 §6.2.2,
 * RFC 4616, SASL-IR RFC 4959) against the key slots: plaintext only on a
 * secure channel (TLS, or loopback as DESIGN section 8 allows); the
 * account's slow-down (auth_wait_ms) is waited out before Argon2id runs on
 * the capped "argon2" queue; success unwraps the mailbox's DEK and X25519
 * secret key, attaches the session to its mailbox and drains the spool
 * after the tagged OK is queued. */
#include "imap/imap_private.h"
#include "lib/sp_log.h"
#include "lib/sp_str.h"

#include <sodium.h>
#include <string.h>

struct login {
	char address[ADDRESS_MAX_LEN + 1];
	struct keys_secret *secret; /* NUL-terminated */
	struct sp_timer *timer;
	/* results */
	enum auth_status status;
	char mailbox_id[ACCOUNTS_MAILBOX_ID_LEN + 1];
	char slot_id[ACCOUNTS_SLOT_ID_LEN + 1];
	struct keys_secret *dek, *sk;
	uint64_t quota;
	bool cached;
};

static void login_free(void *data)
{
	struct login *l = data;
	keys_secret_free(&l->secret);
	keys_secret_free(&l->dek);
	keys_secret_free(&l->sk);
	sp_timer_free(&l->timer);
	sodium_memzero(l, sizeof(*l));
	free(l);
}

/* Worker: Argon2id (or the cache), then the mailbox's keys. */
static void login_work(struct imap_job *job)
{
	struct login *l = job->data;
	struct imap_server *srv = job->s->srv;
	struct auth_result res;
	memset(&res, 0, sizeof(res));
	l->status = auth_login(srv->cfg.auth, l->address, (const char *)l->secret->p, &res);
	if (l->status != AUTH_OK)
		return;
	l->cached = res.cached;
	sp_strlcpy(l->mailbox_id, res.mailbox_id, sizeof(l->mailbox_id));
	sp_strlcpy(l->slot_id, res.slot_id, sizeof(l->slot_id));
	const char *error = NULL;
	struct accounts *acc = accounts_thread_handle(srv->cfg.accounts_path, &error);
	struct accounts_mailbox mb;
	memset(&mb, 0, sizeof(mb));
	l->status = AUTH_TEMPFAIL;
	if (acc == NULL || accounts_mailbox_get(acc, res.mailbox_id, &mb) != ACCOUNTS_OK)
		goto out;
	if (accounts_mailbox_dek(&mb, res.ak, &l->dek, NULL) < 0 ||
	    mb.sk_wrapped.len != KEYS_BLOB_LEN ||
	    keys_box_sk_open(res.ak, mb.id, mb.sk_wrapped.data, &l->sk) < 0 ||
	    keys_box_check(mb.public_key, l->sk) < 0) {
		sp_log_error("imap", "mailbox=%s event=keys_damaged", mb.id);
		goto out;
	}
	l->quota = mb.quota;
	l->status = AUTH_OK;
out:
	accounts_mailbox_deinit(&mb);
	keys_secret_free(&res.ak);
}

static bool login_done(struct imap_job *job)
{
	struct imap_session *s = job->s;
	struct login *l = job->data;
	switch (l->status) {
	case AUTH_OK:
		break;
	case AUTH_FAILED:
		sp_log_info("imap", "conn=%s event=login_failed peer=%s", s->log_id,
		            sp_conn_peer_ip(s->conn));
		imap_job_reply(job, "NO [AUTHENTICATIONFAILED] Authentication failed");
		return false;
	case AUTH_TEMPFAIL:
		imap_job_reply(job, "NO [UNAVAILABLE] Temporary failure, try again later");
		return false;
	}
	imap_mailbox_attach(s, l->mailbox_id, &l->dek, &l->sk);
	sp_strlcpy(s->slot_id, l->slot_id, sizeof(s->slot_id));
	s->quota = l->quota;
	s->state = IMAP_STATE_AUTH;
	sp_log_info("imap", "conn=%s event=login mailbox=%s cached=%d", s->log_id, s->mbox->id,
	            (int)l->cached);
	struct sp_buf caps = SP_BUF_INIT;
	imap_capability_list(s, &caps);
	imap_job_reply(job, "OK [CAPABILITY %s] Logged in", sp_buf_cstr(&caps));
	sp_buf_deinit(&caps);
	/* The drain runs after the reply is queued (job_done writes it
	 * before the worker can finish anything started here). */
	imap_mailbox_drain(s->mbox);
	return false;
}

static void login_submit(struct imap_session *s)
{
	struct login *l = s->cmd_data;
	s->waiting = false;
	imap_job_start_on(s, s->srv->cfg.auth_queue, login_work, login_done, l);
	if (!s->busy && s->conn != NULL)
		sp_conn_resume_input(s->conn);
}

static void login_timer(void *ctx)
{
	login_submit(ctx);
}

static void login_start(struct imap_session *s, struct sp_slice user, struct sp_slice pass)
{
	if (user.len == 0 || user.len > ADDRESS_MAX_LEN || pass.len == 0 || pass.len > 1024 ||
	    memchr(user.ptr, '\0', user.len) != NULL || memchr(pass.ptr, '\0', pass.len) != NULL) {
		imap_reply(s, "NO [AUTHENTICATIONFAILED] Authentication failed");
		return;
	}
	struct login *l = sp_calloc(1, sizeof(*l));
	memcpy(l->address, user.ptr, user.len);
	l->secret = keys_secret_new(pass.len + 1);
	memcpy(l->secret->p, pass.ptr, pass.len);
	l->secret->p[pass.len] = '\0';
	s->cmd_data = l;
	s->cmd_data_free = login_free;
	/* Per-account slow-down: wait before the attempt starts, never lock
	 * out (issue 3). The session reads nothing meanwhile. */
	uint64_t wait = auth_wait_ms(s->srv->cfg.auth, l->address);
	if (wait > 0) {
		l->timer = sp_timer_new(s->srv->cfg.loop, login_timer, s);
		s->waiting = true;
		sp_conn_pause_input(s->conn);
		sp_timer_start(l->timer, wait, false);
		return;
	}
	login_submit(s);
}

static bool plaintext_allowed(struct imap_session *s)
{
	if (sp_conn_is_secure(s->conn))
		return true;
	imap_reply(s, "NO [PRIVACYREQUIRED] Plaintext authentication is disallowed on "
	              "non-secure connections: use STARTTLS or port 993");
	return false;
}

void imap_cmd_login(struct imap_session *s, const struct imap_command *cmd)
{
	struct sp_slice user, pass;
	if (cmd->arg_count != 2 || !imap_arg_get_astring(&cmd->args[0], &user) ||
	    !imap_arg_get_astring(&cmd->args[1], &pass)) {
		imap_bad(s, "LOGIN takes a user name and a password");
		return;
	}
	if (!plaintext_allowed(s))
		return;
	login_start(s, user, pass);
}

/* RFC 4616: [authzid] NUL authcid NUL passwd; an authzid other than the
 * user itself is refused (no proxy logins). */
static void plain_response(struct imap_session *s, struct sp_slice b64)
{
	struct sp_buf raw = SP_BUF_INIT;
	if (b64.len == 1 && b64.ptr[0] == '=')
		b64.len = 0;
	if (sp_base64_decode_strict(b64.ptr, b64.len, &raw) < 0) {
		sp_buf_deinit(&raw);
		imap_bad(s, "Invalid base64 in the SASL response");
		return;
	}
	const uint8_t *p = raw.data, *end = raw.data + raw.len;
	const uint8_t *z1 = memchr(p, '\0', raw.len);
	const uint8_t *z2 = z1 != NULL ? memchr(z1 + 1, '\0', (size_t)(end - z1 - 1)) : NULL;
	if (z2 == NULL) {
		sodium_memzero(raw.data, raw.len);
		sp_buf_deinit(&raw);
		imap_bad(s, "Invalid PLAIN response");
		return;
	}
	struct sp_slice authz = {p, (size_t)(z1 - p)};
	struct sp_slice user = {z1 + 1, (size_t)(z2 - z1 - 1)};
	struct sp_slice pass = {z2 + 1, (size_t)(end - z2 - 1)};
	if (authz.len != 0 &&
	    (authz.len != user.len || memcmp(authz.ptr, user.ptr, user.len) != 0)) {
		sodium_memzero(raw.data, raw.len);
		sp_buf_deinit(&raw);
		imap_reply(s, "NO [AUTHORIZATIONFAILED] Authorization identity must be the user");
		return;
	}
	login_start(s, user, pass);
	sodium_memzero(raw.data, raw.len);
	sp_buf_deinit(&raw);
}

void imap_cmd_authenticate(struct imap_session *s, const struct imap_command *cmd)
{
	if (cmd->arg_count < 1 || cmd->arg_count > 2 || cmd->args[0].type != IMAP_ARG_ATOM) {
		imap_bad(s, "AUTHENTICATE takes a mechanism and an optional initial response");
		return;
	}
	if (!imap_arg_atom_equals(&cmd->args[0], "PLAIN")) {
		imap_reply(s, "NO [CANNOT] Unsupported authentication mechanism");
		return;
	}
	if (!plaintext_allowed(s))
		return;
	if (cmd->arg_count == 2) {
		struct sp_slice ir;
		if (cmd->args[1].type != IMAP_ARG_ATOM ||
		    !imap_arg_get_astring(&cmd->args[1], &ir)) {
			imap_bad(s, "Invalid initial response");
			return;
		}
		plain_response(s, ir);
		return;
	}
	/* RFC 9051 §6.2.2: an empty challenge, the response on its own line. */
	sp_conn_write_str(s->conn, "+ \r\n");
	s->authenticating = true;
	imap_parser_set_line_mode(s->parser, true);
}

void imap_authenticate_line(struct imap_session *s, struct sp_slice line)
{
	s->authenticating = false;
	imap_parser_set_line_mode(s->parser, false);
	if (line.len == 1 && line.ptr[0] == '*') {
		imap_bad(s, "Authentication cancelled");
		return;
	}
	plain_response(s, line);
}
