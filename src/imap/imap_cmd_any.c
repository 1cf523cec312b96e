/* The command table and the commands valid in any state or needing no
 * mailbox data: CAPABILITY, NOOP, CHECK, LOGOUT (RFC 9051 §6.1, §6.4.1),
 * ID (RFC 2971), ENABLE (RFC 5161), NAMESPACE (RFC 2342), STARTTLS
 * (RFC 9051 §6.2.1), IDLE (RFC 2177) and QUOTA (RFC 9208). */
#include "imap/imap_private.h"
#include "lib/sp_log.h"
#include "lib/sp_str.h"

#include <string.h>

#define ANY IMAP_CMD_ANY
#define AUTHED (IMAP_CMD_AUTH | IMAP_CMD_SELECTED)
#define SEL IMAP_CMD_SELECTED

static const struct imap_command_def commands[] = {
    {"APPEND", AUTHED, imap_cmd_append},
    {"AUTHENTICATE", IMAP_CMD_NOAUTH, imap_cmd_authenticate},
    {"CAPABILITY", ANY, imap_cmd_capability},
    {"CHECK", SEL, imap_cmd_check},
    {"CLOSE", SEL, imap_cmd_close},
    {"COMPRESS", AUTHED, imap_cmd_compress},
    {"COPY", SEL | IMAP_CMD_UID, imap_cmd_copy},
    {"CREATE", AUTHED, imap_cmd_create},
    {"DELETE", AUTHED, imap_cmd_delete},
    {"ENABLE", AUTHED, imap_cmd_enable},
    {"EXAMINE", AUTHED, imap_cmd_select},
    {"EXPUNGE", SEL | IMAP_CMD_UID, imap_cmd_expunge},
    {"FETCH", SEL | IMAP_CMD_UID | IMAP_CMD_NO_EXPUNGE, imap_cmd_fetch},
    {"GETQUOTA", AUTHED, imap_cmd_getquota},
    {"GETQUOTAROOT", AUTHED, imap_cmd_getquotaroot},
    {"ID", ANY, imap_cmd_id},
    {"IDLE", AUTHED, imap_cmd_idle},
    {"LIST", AUTHED, imap_cmd_list},
    {"LOGIN", IMAP_CMD_NOAUTH, imap_cmd_login},
    {"LOGOUT", ANY, imap_cmd_logout},
    {"LSUB", AUTHED, imap_cmd_lsub},
    {"MOVE", SEL | IMAP_CMD_UID, imap_cmd_copy},
    {"NAMESPACE", AUTHED, imap_cmd_namespace},
    {"NOOP", ANY, imap_cmd_noop},
    {"RENAME", AUTHED, imap_cmd_rename},
    {"SEARCH", SEL | IMAP_CMD_UID | IMAP_CMD_NO_EXPUNGE, imap_cmd_search},
    {"SELECT", AUTHED, imap_cmd_select},
    {"SETQUOTA", AUTHED, imap_cmd_getquota},
    {"SORT", SEL | IMAP_CMD_UID | IMAP_CMD_NO_EXPUNGE, imap_cmd_sort},
    {"STARTTLS", IMAP_CMD_NOAUTH, imap_cmd_starttls},
    {"STATUS", AUTHED, imap_cmd_status},
    {"STORE", SEL | IMAP_CMD_UID | IMAP_CMD_NO_EXPUNGE, imap_cmd_store},
    {"SUBSCRIBE", AUTHED, imap_cmd_subscribe},
    {"THREAD", SEL | IMAP_CMD_UID | IMAP_CMD_NO_EXPUNGE, imap_cmd_thread},
    {"UNSELECT", SEL, imap_cmd_unselect},
    {"UNSUBSCRIBE", AUTHED, imap_cmd_subscribe},
};

const struct imap_command_def *imap_command_find(const char *name)
{
	/* The binary search needs the table sorted: a misplaced entry would
	 * make a command unknown, so check it once. */
	static bool checked;
	if (!checked) {
		for (size_t i = 1; i < sizeof(commands) / sizeof(commands[0]); i++)
			sp_assert(strcmp(commands[i - 1].name, commands[i].name) < 0);
		checked = true;
	}
	size_t lo = 0, hi = sizeof(commands) / sizeof(commands[0]);
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(name, commands[mid].name);
		if (c == 0)
			return &commands[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static bool no_args(struct imap_session *s, const struct imap_command *cmd)
{
	if (cmd->arg_count == 0)
		return true;
	imap_reply(s, "BAD %s takes no arguments", cmd->name);
	return false;
}

void imap_cmd_capability(struct imap_session *s, const struct imap_command *cmd)
{
	if (!no_args(s, cmd))
		return;
	struct sp_buf b = SP_BUF_INIT;
	imap_capability_list(s, &b);
	imap_untagged(s, "CAPABILITY %s", sp_buf_cstr(&b));
	sp_buf_deinit(&b);
	imap_reply(s, "OK CAPABILITY completed");
}

/* NOOP and CHECK: a chance for the server to report changes (RFC 9051
 * §6.1.2); in the selected state that is a store round trip. */
static void noop_work(struct imap_job *job)
{
	imap_job_reply(job, "OK %s completed", job->s->cmd_def->name);
	if (imap_job_store(job) != NULL)
		job->dirty = true;
}

void imap_cmd_noop(struct imap_session *s, const struct imap_command *cmd)
{
	if (!no_args(s, cmd))
		return;
	if (s->state != IMAP_STATE_SELECTED) {
		imap_reply(s, "OK NOOP completed");
		return;
	}
	imap_job_start(s, noop_work, NULL, NULL);
}

void imap_cmd_check(struct imap_session *s, const struct imap_command *cmd)
{
	imap_cmd_noop(s, cmd);
}

void imap_cmd_logout(struct imap_session *s, const struct imap_command *cmd)
{
	if (!no_args(s, cmd))
		return;
	imap_untagged(s, "BYE Logging out");
	s->state = IMAP_STATE_LOGOUT;
	imap_reply(s, "OK LOGOUT completed");
	if (s->conn != NULL)
		sp_conn_close_after_flush(s->conn);
}

/* RFC 2971: the client's list is checked (at most 30 pairs, fields of
 * at most 1024 octets, §3.3) but not logged: it may name a person. */
void imap_cmd_id(struct imap_session *s, const struct imap_command *cmd)
{
	if (cmd->arg_count != 1) {
		imap_bad(s, "ID takes one argument: a list or NIL");
		return;
	}
	const struct imap_arg *a = &cmd->args[0];
	if (a->type == IMAP_ARG_LIST) {
		if (a->count % 2 != 0 || a->count > 60) {
			imap_bad(s, "ID list must hold at most 30 field-value pairs");
			return;
		}
		for (size_t i = 0; i < a->count; i++) {
			struct sp_slice v;
			bool ok = i % 2 == 0 ? imap_arg_get_string(&a->list[i], &v)
			                     : (a->list[i].type == IMAP_ARG_NIL ||
			                        imap_arg_get_string(&a->list[i], &v));
			if (!ok || (a->list[i].type != IMAP_ARG_NIL && v.len > 1024)) {
				imap_bad(s, "ID fields are strings of at most 1024 octets");
				return;
			}
		}
	} else if (a->type != IMAP_ARG_NIL) {
		imap_bad(s, "ID takes a list or NIL");
		return;
	}
	imap_untagged(s, "ID (\"name\" \"Sealpost\" \"vendor\" \"Sealpost\")");
	imap_reply(s, "OK ID completed");
}

/* RFC 5161; RFC 7162 §3.2.3 (QRESYNC implies CONDSTORE); RFC 6855 §3;
 * RFC 9051 §6.3.1. Unknown extensions are ignored. The RFCs mean ENABLE
 * for the authenticated state; it is accepted with a mailbox selected
 * too, as Dovecot does, since clients send it there. */
void imap_cmd_enable(struct imap_session *s, const struct imap_command *cmd)
{
	if (cmd->arg_count == 0) {
		imap_bad(s, "ENABLE needs at least one capability");
		return;
	}
	unsigned newly = 0;
	for (size_t i = 0; i < cmd->arg_count; i++) {
		const struct imap_arg *a = &cmd->args[i];
		if (a->type != IMAP_ARG_ATOM) {
			imap_bad(s, "ENABLE takes capability names");
			return;
		}
		unsigned bit = imap_arg_atom_equals(a, "CONDSTORE")     ? IMAP_ENABLED_CONDSTORE
		               : imap_arg_atom_equals(a, "QRESYNC")     ? IMAP_ENABLED_QRESYNC
		               : imap_arg_atom_equals(a, "UTF8=ACCEPT") ? IMAP_ENABLED_UTF8
		               : imap_arg_atom_equals(a, "IMAP4rev2")   ? IMAP_ENABLED_REV2
		                                                        : 0;
		if (bit == IMAP_ENABLED_QRESYNC && !(s->enabled & IMAP_ENABLED_CONDSTORE))
			newly |= IMAP_ENABLED_CONDSTORE;
		newly |= bit & ~s->enabled;
	}
	if (newly & IMAP_ENABLED_CONDSTORE) {
		imap_condstore_enable(s);
		newly |= IMAP_ENABLED_CONDSTORE;
	}
	s->enabled |= newly;
	struct sp_buf b = SP_BUF_INIT;
	sp_buf_append_str(&b, "ENABLED");
	if (newly & IMAP_ENABLED_CONDSTORE)
		sp_buf_append_str(&b, " CONDSTORE");
	if (newly & IMAP_ENABLED_QRESYNC)
		sp_buf_append_str(&b, " QRESYNC");
	if (newly & IMAP_ENABLED_UTF8)
		sp_buf_append_str(&b, " UTF8=ACCEPT");
	if (newly & IMAP_ENABLED_REV2)
		sp_buf_append_str(&b, " IMAP4rev2");
	imap_untagged(s, "%s", sp_buf_cstr(&b));
	sp_buf_deinit(&b);
	imap_reply(s, "OK ENABLE completed");
}

void imap_cmd_namespace(struct imap_session *s, const struct imap_command *cmd)
{
	if (!no_args(s, cmd))
		return;
	imap_untagged(s, "NAMESPACE ((\"\" \"/\")) NIL NIL");
	imap_reply(s, "OK NAMESPACE completed");
}

void imap_cmd_starttls(struct imap_session *s, const struct imap_command *cmd)
{
	if (!no_args(s, cmd))
		return;
	if (!sp_conn_can_starttls(s->conn)) {
		imap_bad(s, sp_conn_is_tls(s->conn) ? "TLS is already active"
		                                    : "TLS is not available");
		return;
	}
	imap_reply(s, "OK Begin TLS negotiation now");
	const char *error;
	if (sp_conn_starttls(s->conn, &error) < 0) {
		sp_log_warn("imap", "conn=%s event=starttls_failed error=\"%s\"", s->log_id, error);
		sp_conn_close_after_flush(s->conn);
		return;
	}
	/* RFC 9051 §6.2.1: whatever the client pipelined after STARTTLS was
	 * discarded; the parser is between commands. */
	s->restart_input = true;
}

/* RFC 4978: the OK goes out uncompressed; the session starts the filter
 * once the command's bytes are consumed (imap_session.c). */
void imap_cmd_compress(struct imap_session *s, const struct imap_command *cmd)
{
	if (cmd->arg_count != 1 || cmd->args[0].type != IMAP_ARG_ATOM) {
		imap_bad(s, "COMPRESS takes a mechanism name");
		return;
	}
	if (!imap_arg_atom_equals(&cmd->args[0], "DEFLATE")) {
		imap_bad(s, "Unknown compression mechanism");
		return;
	}
	if (s->compressed) {
		imap_reply(s, "NO [COMPRESSIONACTIVE] DEFLATE is already active");
		return;
	}
	imap_reply(s, "OK DEFLATE active");
	s->compress_pending = true;
}

/* Worker: only closes the session's store handle (after work). */
static void release_work(struct imap_job *job)
{
	job->sync = false;
	job->release_store = true;
}

/* RFC 2177 / RFC 9051 §6.3.13: "+ idling", then updates as they happen
 * until DONE (handled as a raw line by the session). */
void imap_cmd_idle(struct imap_session *s, const struct imap_command *cmd)
{
	if (!no_args(s, cmd))
		return;
	sp_conn_write_str(s->conn, "+ idling\r\n");
	s->idling = true;
	imap_parser_set_line_mode(s->parser, true);
	/* Thousands of sessions wait here: keep no command memory. */
	s->cmd = NULL;
	imap_parser_trim(s->parser);
	sp_arena_release(s->arena);
	s->srv->idle_entered = true;
	if (s->dirty) {
		imap_session_changed(s);
	} else if (s->store != NULL) {
		/* An idle session need not keep its SQLite handle (and its page
		 * cache) open: thousands of them wait in IDLE. */
		imap_job_start(s, release_work, NULL, NULL);
	}
}

/* ---- QUOTA (RFC 9208): one root "" per mailbox, STORAGE in KiB ---- */

struct quota_job {
	bool root; /* GETQUOTAROOT */
	const char *name;
	struct sp_buf name_out;
};

static void quota_work(struct imap_job *job)
{
	struct quota_job *q = job->data;
	struct store_session *st = imap_job_store(job);
	if (st == NULL)
		return;
	const char *error;
	if (q->root) {
		struct store_folder f;
		if (imap_job_folder(job, q->name, &f) < 0)
			return;
		/* RFC 9208 §5.2: a mailbox without a quota has no root. */
		sp_buf_append_str(&job->out, "* QUOTAROOT ");
		sp_buf_append(&job->out, q->name_out.data, q->name_out.len);
		sp_buf_append_str(&job->out, job->s->quota != 0 ? " \"\"\r\n" : "\r\n");
		if (job->s->quota == 0) {
			imap_job_reply(job, "OK GETQUOTAROOT completed");
			return;
		}
	}
	struct store_usage u;
	if (store_usage(st, &u, &error) < 0) {
		imap_job_store_error(job, error);
		return;
	}
	sp_buf_printf(&job->out, "* QUOTA \"\" (STORAGE %llu %llu)\r\n",
	              (unsigned long long)((u.message_bytes + 1023) / 1024),
	              (unsigned long long)(job->s->quota / 1024));
	imap_job_reply(job, "OK %s completed", q->root ? "GETQUOTAROOT" : "GETQUOTA");
}

static void quota_free(void *data)
{
	struct quota_job *q = data;
	sp_buf_deinit(&q->name_out);
	free(q);
}

static void quota_start(struct imap_session *s, bool root, const char *name)
{
	struct quota_job *q = sp_calloc(1, sizeof(*q));
	q->root = root;
	q->name = name;
	sp_buf_init(&q->name_out);
	if (root)
		imap_mailbox_write(s, name, &q->name_out);
	s->cmd_data = q;
	s->cmd_data_free = quota_free;
	imap_job_start(s, quota_work, NULL, q);
}

void imap_cmd_getquota(struct imap_session *s, const struct imap_command *cmd)
{
	if (strcmp(cmd->name, "SETQUOTA") == 0) {
		/* RFC 9208 §4.3: limits are the administrator's. */
		if (cmd->arg_count != 2 || cmd->args[1].type != IMAP_ARG_LIST)
			imap_bad(s, "SETQUOTA takes a quota root and a list of limits");
		else
			imap_reply(s, "NO [NOPERM] Quotas are set by the administrator");
		return;
	}
	struct sp_slice root;
	if (cmd->arg_count != 1 || !imap_arg_get_astring(&cmd->args[0], &root)) {
		imap_bad(s, "GETQUOTA takes a quota root");
		return;
	}
	if (root.len != 0 || s->quota == 0) {
		imap_reply(s, "NO [NONEXISTENT] No such quota root");
		return;
	}
	quota_start(s, false, NULL);
}

void imap_cmd_getquotaroot(struct imap_session *s, const struct imap_command *cmd)
{
	const char *name;
	if (cmd->arg_count != 1) {
		imap_bad(s, "GETQUOTAROOT takes a mailbox name");
		return;
	}
	if (imap_mailbox_arg(s, &cmd->args[0], &name) < 0)
		return;
	quota_start(s, true, name);
}
