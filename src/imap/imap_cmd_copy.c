/* COPY (RFC 9051 §6.4.7), MOVE (RFC 6851), with COPYUID (RFC 4315), and
 * EXPUNGE / UID EXPUNGE (RFC 9051 §6.4.3, RFC 4315 §2.1). The expunged
 * messages are reported by the sync that runs after the job, from the
 * store's expunge log, as EXPUNGE or (QRESYNC) VANISHED. */
#include "imap/imap_private.h"

#include <string.h>

struct copy_job {
	struct store_uidset uids;
	const char *dst;
	bool move;
};

static void copy_work(struct imap_job *job)
{
	struct imap_session *s = job->s;
	struct copy_job *cj = job->data;
	struct store_session *st = imap_job_store(job);
	if (st == NULL)
		return;
	struct store_copy_result res;
	const char *error;
	if (store_copy(st, s->folder_id, &cj->uids, cj->dst, cj->move, s->arena, &res, &error) <
	    0) {
		if (store_last_error(st) == STORE_ERR_NONEXISTENT)
			imap_job_reply(job, "NO [TRYCREATE] No such mailbox");
		else
			imap_job_store_error(job, error);
		return;
	}
	const char *verb = cj->move ? "MOVE" : "COPY";
	if (res.n == 0) {
		imap_job_reply(job, "OK %s completed (no messages)", verb);
		return;
	}
	struct sp_buf src = SP_BUF_INIT, dst = SP_BUF_INIT;
	imap_seq_list_format(res.src_uids, res.n, &src);
	imap_seq_list_format(res.dst_uids, res.n, &dst);
	if (cj->move) {
		/* RFC 6851 §4.3: COPYUID untagged, before the expunges. */
		sp_buf_printf(&job->out, "* OK [COPYUID %u %s %s] Moved\r\n", res.uidvalidity,
		              sp_buf_cstr(&src), sp_buf_cstr(&dst));
		imap_job_reply(job, "OK MOVE completed");
		job->wrote = true;
	} else {
		imap_job_reply(job, "OK [COPYUID %u %s %s] COPY completed", res.uidvalidity,
		               sp_buf_cstr(&src), sp_buf_cstr(&dst));
		job->wrote = s->folder_name != NULL && strcmp(s->folder_name, cj->dst) == 0;
	}
	sp_buf_deinit(&src);
	sp_buf_deinit(&dst);
}

void imap_cmd_copy(struct imap_session *s, const struct imap_command *cmd)
{
	const char *error;
	struct copy_job *cj = sp_arena_zalloc(s->arena, sizeof(*cj));
	cj->move = strcmp(cmd->name, "MOVE") == 0;
	if (cmd->arg_count != 2) {
		imap_reply(s, "BAD %s takes a sequence set and a mailbox name", cmd->name);
		return;
	}
	if (imap_seqset_to_uids(s, &cmd->args[0], cmd->uid, &cj->uids, &error) < 0) {
		imap_bad(s, error);
		return;
	}
	if (imap_mailbox_arg(s, &cmd->args[1], &cj->dst) < 0)
		return;
	if (cj->move && s->readonly) {
		imap_reply(s, "NO [READ-ONLY] The mailbox is read-only");
		return;
	}
	imap_job_start(s, copy_work, NULL, cj);
}

static void expunge_work(struct imap_job *job)
{
	struct imap_session *s = job->s;
	const struct store_uidset *uids = job->data;
	struct store_session *st = imap_job_store(job);
	if (st == NULL)
		return;
	uint32_t *gone;
	size_t n;
	const char *error;
	if (store_expunge(st, s->folder_id, uids, s->arena, &gone, &n, &error) < 0) {
		imap_job_store_error(job, error);
		return;
	}
	job->wrote = true;
	imap_job_reply(job, "OK EXPUNGE completed");
}

void imap_cmd_expunge(struct imap_session *s, const struct imap_command *cmd)
{
	const char *error;
	struct store_uidset *uids = NULL;
	if (cmd->arg_count != (cmd->uid ? 1u : 0u)) {
		imap_bad(s,
		         cmd->uid ? "UID EXPUNGE takes a UID set" : "EXPUNGE takes no arguments");
		return;
	}
	if (cmd->uid) {
		uids = sp_arena_zalloc(s->arena, sizeof(*uids));
		if (imap_seqset_to_uids(s, &cmd->args[0], true, uids, &error) < 0) {
			imap_bad(s, error);
			return;
		}
	}
	if (s->readonly) {
		imap_reply(s, "NO [READ-ONLY] The mailbox is read-only");
		return;
	}
	imap_job_start(s, expunge_work, NULL, uids);
}
