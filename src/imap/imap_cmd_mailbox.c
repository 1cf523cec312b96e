/* Folder commands: CREATE (RFC 9051 §6.3.4, CREATE-SPECIAL-USE RFC 6154
 * §3, MAILBOXID RFC 8474 §4.1), DELETE (§6.3.5), RENAME (§6.3.6),
 * SUBSCRIBE and UNSUBSCRIBE (§6.3.7-8). */
#include "imap/imap_private.h"

#include <string.h>

struct folder_job {
	const char *name, *to;
	unsigned special_use;
	bool subscribe;
};

static void create_work(struct imap_job *job)
{
	struct folder_job *fj = job->data;
	struct store_session *st = imap_job_store(job);
	if (st == NULL)
		return;
	const char *error;
	if (store_folder_create(st, fj->name, fj->special_use, &error) < 0) {
		imap_job_store_error(job, error);
		return;
	}
	struct store_folder f;
	if (store_folder_get(st, fj->name, job->s->arena, &f, &error) == 1)
		imap_job_reply(job, "OK [MAILBOXID (F%llx%08x)] CREATE completed",
		               (unsigned long long)f.id, f.uidvalidity);
	else
		imap_job_reply(job, "OK CREATE completed");
}

static void delete_work(struct imap_job *job)
{
	struct folder_job *fj = job->data;
	struct store_session *st = imap_job_store(job);
	const char *error;
	if (st == NULL)
		return;
	if (store_folder_delete(st, fj->name, &error) < 0)
		imap_job_store_error(job, error);
	else
		imap_job_reply(job, "OK DELETE completed");
}

static void rename_work(struct imap_job *job)
{
	struct folder_job *fj = job->data;
	struct store_session *st = imap_job_store(job);
	const char *error;
	if (st == NULL)
		return;
	if (store_folder_rename(st, fj->name, fj->to, &error) < 0)
		imap_job_store_error(job, error);
	else
		imap_job_reply(job, "OK RENAME completed");
}

static void subscribe_work(struct imap_job *job)
{
	struct folder_job *fj = job->data;
	struct store_session *st = imap_job_store(job);
	const char *error;
	if (st == NULL)
		return;
	if (store_folder_subscribe(st, fj->name, fj->subscribe, &error) < 0)
		imap_job_store_error(job, error);
	else
		imap_job_reply(job, "OK %s completed", fj->subscribe ? "SUBSCRIBE" : "UNSUBSCRIBE");
}

static const struct {
	const char *name;
	unsigned bit;
} special_uses[] = {
    {"\\Drafts", STORE_USE_DRAFTS},   {"\\Sent", STORE_USE_SENT},       {"\\Junk", STORE_USE_JUNK},
    {"\\Trash", STORE_USE_TRASH},     {"\\Archive", STORE_USE_ARCHIVE}, {"\\All", STORE_USE_ALL},
    {"\\Flagged", STORE_USE_FLAGGED},
};

/* RFC 6154 §3: (USE (\Drafts ...)). An unknown attribute is
 * NO [USEATTR]. Returns 0, -1 for BAD, 1 for USEATTR. */
static int parse_create_params(const struct imap_arg *list, unsigned *use_r)
{
	for (size_t i = 0; i < list->count; i++) {
		if (!imap_arg_atom_equals(&list->list[i], "USE") || i + 1 >= list->count ||
		    list->list[i + 1].type != IMAP_ARG_LIST)
			return -1;
		const struct imap_arg *uses = &list->list[++i];
		for (size_t j = 0; j < uses->count; j++) {
			bool known = false;
			for (size_t k = 0; k < sizeof(special_uses) / sizeof(special_uses[0]);
			     k++) {
				if (imap_arg_atom_equals(&uses->list[j], special_uses[k].name)) {
					*use_r |= special_uses[k].bit;
					known = true;
				}
			}
			if (!known)
				return 1;
		}
	}
	return 0;
}

static struct folder_job *folder_args(struct imap_session *s, const struct imap_command *cmd,
                                      size_t min, size_t max)
{
	struct folder_job *fj = sp_arena_zalloc(s->arena, sizeof(*fj));
	if (cmd->arg_count < min || cmd->arg_count > max) {
		imap_reply(s, "BAD Wrong number of arguments for %s", cmd->name);
		return NULL;
	}
	if (imap_mailbox_arg(s, &cmd->args[0], &fj->name) < 0)
		return NULL;
	return fj;
}

void imap_cmd_create(struct imap_session *s, const struct imap_command *cmd)
{
	struct folder_job *fj = folder_args(s, cmd, 1, 2);
	if (fj == NULL)
		return;
	if (cmd->arg_count == 2) {
		int rc = cmd->args[1].type == IMAP_ARG_LIST
		             ? parse_create_params(&cmd->args[1], &fj->special_use)
		             : -1;
		if (rc < 0) {
			imap_bad(s, "Invalid CREATE parameters");
			return;
		}
		if (rc > 0) {
			imap_reply(s, "NO [USEATTR] Unsupported special-use attribute");
			return;
		}
	}
	/* RFC 9051 §6.3.4: a trailing delimiter only says the name will have
	 * children; the folder is created without it. */
	size_t len = strlen(fj->name);
	if (len > 1 && fj->name[len - 1] == STORE_DELIMITER)
		((char *)fj->name)[len - 1] = '\0';
	if (strcmp(fj->name, "INBOX") == 0) {
		imap_reply(s, "NO [ALREADYEXISTS] INBOX always exists");
		return;
	}
	imap_job_start(s, create_work, NULL, fj);
}

void imap_cmd_delete(struct imap_session *s, const struct imap_command *cmd)
{
	struct folder_job *fj = folder_args(s, cmd, 1, 1);
	if (fj == NULL)
		return;
	if (strcmp(fj->name, "INBOX") == 0) {
		imap_reply(s, "NO [CANNOT] INBOX cannot be deleted");
		return;
	}
	imap_job_start(s, delete_work, NULL, fj);
}

void imap_cmd_rename(struct imap_session *s, const struct imap_command *cmd)
{
	struct folder_job *fj = folder_args(s, cmd, 2, 2);
	if (fj == NULL)
		return;
	if (imap_mailbox_arg(s, &cmd->args[1], &fj->to) < 0)
		return;
	if (strcmp(fj->to, "INBOX") == 0) {
		imap_reply(s, "NO [ALREADYEXISTS] INBOX always exists");
		return;
	}
	imap_job_start(s, rename_work, NULL, fj);
}

void imap_cmd_subscribe(struct imap_session *s, const struct imap_command *cmd)
{
	struct folder_job *fj = folder_args(s, cmd, 1, 1);
	if (fj == NULL)
		return;
	fj->subscribe = strcmp(cmd->name, "SUBSCRIBE") == 0;
	imap_job_start(s, subscribe_work, NULL, fj);
}
