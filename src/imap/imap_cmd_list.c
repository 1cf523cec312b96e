/* LIST (RFC 9051 §6.3.9 with LIST-EXTENDED RFC 5258, LIST-STATUS RFC 5819,
 * SPECIAL-USE RFC 6154), LSUB (RFC 3501 §6.3.9) and STATUS (RFC 9051
 * §6.3.11): arguments and responses come from imap_list.c; the folders
 * and their counters from the store on a worker. */
#include "imap/imap_list.h"
#include "imap/imap_private.h"

#include <string.h>

static unsigned name_flags(const struct imap_session *s)
{
	return (s->enabled & IMAP_ENABLED_UTF8) ? IMAP_NAME_UTF8 : 0;
}

static int list_status(void *ctx, const char *name, struct store_status *st_r)
{
	struct imap_job *job = ctx;
	const char *error;
	return store_folder_status(job->s->store, name, job->s->arena, st_r, &error);
}

static void list_work(struct imap_job *job)
{
	struct imap_session *s = job->s;
	struct imap_list_cmd *lc = job->data;
	struct store_session *st = imap_job_store(job);
	if (st == NULL)
		return;
	struct store_folder *folders;
	size_t n;
	const char *error;
	if (store_folder_list(st, s->arena, &folders, &n, &error) < 0) {
		imap_job_store_error(job, error);
		return;
	}
	imap_list_format(lc, folders, n, name_flags(s), list_status, job, s->srv->cfg.max_message,
	                 s->arena, &job->out);
	imap_job_reply(job, "OK %s completed", lc->lsub ? "LSUB" : "LIST");
}

static void list_start(struct imap_session *s, const struct imap_command *cmd, bool lsub)
{
	struct imap_list_cmd *lc = sp_arena_zalloc(s->arena, sizeof(*lc));
	struct imap_error err;
	if (imap_list_parse(cmd->args, cmd->arg_count, lsub, name_flags(s), s->arena, lc, &err) <
	    0) {
		imap_bad(s, err.text);
		return;
	}
	if (lc->delimiter_only) {
		/* RFC 9051 §6.3.9: the hierarchy delimiter and root. */
		imap_untagged(s, "LIST (\\Noselect) \"/\" \"\"");
		imap_reply(s, "OK LIST completed");
		return;
	}
	imap_job_start(s, list_work, NULL, lc);
}

void imap_cmd_list(struct imap_session *s, const struct imap_command *cmd)
{
	list_start(s, cmd, false);
}

void imap_cmd_lsub(struct imap_session *s, const struct imap_command *cmd)
{
	list_start(s, cmd, true);
}

static void status_work(struct imap_job *job)
{
	struct imap_session *s = job->s;
	struct imap_status_cmd *sc = job->data;
	struct store_session *st = imap_job_store(job);
	if (st == NULL)
		return;
	struct store_status status;
	const char *error;
	if (store_folder_status(st, sc->name, s->arena, &status, &error) < 0) {
		imap_job_store_error(job, error);
		return;
	}
	imap_status_format(&status, &sc->items, s->srv->cfg.max_message, name_flags(s), &job->out);
	imap_job_reply(job, "OK STATUS completed");
}

void imap_cmd_status(struct imap_session *s, const struct imap_command *cmd)
{
	struct imap_status_cmd *sc = sp_arena_zalloc(s->arena, sizeof(*sc));
	struct imap_error err;
	if (imap_status_parse(cmd->args, cmd->arg_count, name_flags(s), s->arena, sc, &err) < 0) {
		imap_bad(s, err.text);
		return;
	}
	imap_job_start(s, status_work, NULL, sc);
}
