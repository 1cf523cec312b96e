/* Commands that need a mailbox's keys: creating a mailbox (alias add),
 * password, rekey and mailbox key (DESIGN section 2 and 8). */
#include "cli/cli.h"
#include "lib/sp_str.h"
#include "spool/spool.h"
#include "store/store.h"
#include "store/store_file.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Seals ak into a new slot (drawing a fresh id on a collision) and stores
 * it; returns the generated secret in sodium memory, or NULL. */
static struct keys_secret *slot_create(struct cli_ctx *ctx, struct accounts *acc,
                                       const char *mailbox_id, const struct keys_secret *ak,
                                       enum keys_slot_kind kind, const char *label)
{
	for (int attempt = 0; attempt < 5; attempt++) {
		char id[KEYS_SLOT_ID_LEN + 1];
		keys_slot_id_generate(id);
		struct keys_secret *secret = kind == KEYS_SLOT_RECOVERY
		                                 ? keys_recovery_generate(id)
		                                 : keys_password_generate(id);
		struct keys_slot k;
		const char *error;
		if (keys_slot_seal(ak, mailbox_id, id, kind, (const char *)secret->p,
		                   keys_kdf_params_default(), &k, &error) < 0) {
			keys_secret_free(&secret);
			cli_fail(ctx, CLI_FAIL, "cannot create key slot: %s", error);
			return NULL;
		}
		struct accounts_slot row;
		memset(&row, 0, sizeof(row));
		memcpy(row.id, id, sizeof(row.id));
		sp_strlcpy(row.mailbox_id, mailbox_id, sizeof(row.mailbox_id));
		sp_strlcpy(row.kind, keys_slot_kind_name(kind), sizeof(row.kind));
		sp_strlcpy(row.label, label, sizeof(row.label));
		accounts_slot_encode(&k, &row.record);
		enum accounts_err err = accounts_slot_add(acc, &row);
		accounts_slot_deinit(&row);
		if (err == ACCOUNTS_OK)
			return secret;
		keys_secret_free(&secret);
		struct accounts_slot existing;
		memset(&existing, 0, sizeof(existing));
		bool id_taken = accounts_slot_get(acc, mailbox_id, id, &existing) == ACCOUNTS_OK;
		accounts_slot_deinit(&existing);
		if (!id_taken) {
			cli_fail(ctx, CLI_FAIL, "cannot store key slot: %s", accounts_error(acc));
			return NULL;
		}
	}
	cli_fail(ctx, CLI_FAIL, "cannot draw a free key slot id");
	return NULL;
}

static char *secret_text(struct keys_secret **s)
{
	char *copy = sodium_malloc((*s)->len + 1);
	if (copy == NULL)
		sp_panic("sodium_malloc failed");
	memcpy(copy, (*s)->p, (*s)->len + 1);
	keys_secret_free(s);
	return copy;
}

int cli_mailbox_create(struct cli_ctx *ctx, struct accounts *acc, uint64_t quota,
                       struct cli_new_mailbox *out)
{
	struct accounts_mailbox mb;
	memset(&mb, 0, sizeof(mb));
	accounts_mailbox_id_new(mb.id);
	mb.quota = quota;
	struct keys_secret *ak = keys_secret_random(KEYS_KEY_LEN);
	struct keys_secret *dek = keys_secret_random(KEYS_KEY_LEN);
	uint8_t sk_blob[KEYS_BLOB_LEN], dek_blob[KEYS_BLOB_LEN];
	keys_box_keypair_new(ak, mb.id, mb.public_key, sk_blob);
	keys_dek_wrap(ak, mb.id, dek, dek_blob);
	sp_buf_append(&mb.sk_wrapped, sk_blob, sizeof(sk_blob));
	sp_buf_append(&mb.dek_wrapped, dek_blob, sizeof(dek_blob));
	int rc = -1;
	struct keys_secret *recovery = NULL, *password = NULL;
	if (accounts_mailbox_add(acc, &mb) != ACCOUNTS_OK) {
		cli_fail(ctx, CLI_FAIL, "cannot add mailbox: %s", accounts_error(acc));
		goto out;
	}
	recovery = slot_create(ctx, acc, mb.id, ak, KEYS_SLOT_RECOVERY, "recovery");
	if (recovery == NULL)
		goto out;
	password = slot_create(ctx, acc, mb.id, ak, KEYS_SLOT_PASSWORD, "");
	if (password == NULL)
		goto out;

	char *dir = config_path(ctx->cfg, "mailboxes");
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		cli_fail(ctx, CLI_FAIL, "cannot create %s: %s", dir, strerror(errno));
		free(dir);
		goto out;
	}
	free(dir);
	memcpy(out->id, mb.id, sizeof(out->id));
	out->file_path = cli_mailbox_path(ctx, mb.id);
	struct store_session *session;
	const char *error;
	if (store_session_open(out->file_path, mb.id, dek, true, &session, &error) < 0) {
		cli_fail(ctx, CLI_FAIL, "cannot create mailbox file: %s", error);
		goto out;
	}
	store_session_close(&session);
	out->recovery_key = secret_text(&recovery);
	out->password = secret_text(&password);
	rc = 0;
out:
	keys_secret_free(&recovery);
	keys_secret_free(&password);
	keys_secret_free(&ak);
	keys_secret_free(&dek);
	accounts_mailbox_deinit(&mb);
	return rc;
}

int cli_mailbox_delete_files(struct cli_ctx *ctx, const char *mailbox_id)
{
	int rc = 0;
	char *path = cli_mailbox_path(ctx, mailbox_id);
	static const char *const suffixes[] = {"", "-wal", "-shm"};
	for (size_t i = 0; i < SP_N_ELEMENTS(suffixes); i++) {
		struct sp_buf p = SP_BUF_INIT;
		sp_buf_printf(&p, "%s%s", path, suffixes[i]);
		if (unlink(sp_buf_cstr(&p)) < 0 && errno != ENOENT) {
			cli_fail(ctx, CLI_OK, "warning: cannot delete %s: %s", sp_buf_cstr(&p),
			         strerror(errno));
			rc = -1;
		}
		sp_buf_deinit(&p);
	}
	free(path);
	/* Sealed mail still waiting for this mailbox goes with it. */
	char *spool_dir = config_path(ctx->cfg, "spool");
	struct spool *spool = NULL;
	const char *error;
	if (access(spool_dir, F_OK) == 0 && (spool_open(spool_dir, &spool, &error) < 0 ||
	                                     spool_mailbox_delete(spool, mailbox_id, &error) < 0)) {
		cli_fail(ctx, CLI_OK, "warning: cannot delete its spooled mail: %s", error);
		rc = -1;
	}
	spool_close(&spool);
	free(spool_dir);
	return rc;
}

void cli_mailbox_create_abort(struct cli_ctx *ctx, struct cli_new_mailbox *mb)
{
	if (mb->file_path != NULL)
		cli_mailbox_delete_files(ctx, mb->id);
}

void cli_new_mailbox_free(struct cli_new_mailbox *mb)
{
	if (mb->recovery_key != NULL)
		sodium_free(mb->recovery_key);
	if (mb->password != NULL)
		sodium_free(mb->password);
	free(mb->file_path);
	memset(mb, 0, sizeof(*mb));
}

/* Resolves ADDRESS to its mailbox row; writes the error and returns -1. */
static int mailbox_of(struct cli_ctx *ctx, struct accounts *acc, const char *arg,
                      struct accounts_mailbox *mb)
{
	struct address addr;
	struct accounts_alias alias;
	const char *error;
	/* Any form that delivers to the mailbox names it, +tag included. */
	if (address_parse(arg, &addr, &error) < 0) {
		cli_fail(ctx, CLI_FAIL, "malformed address %s: %s", arg, error);
		return -1;
	}
	if (accounts_resolve(acc, &addr, &alias) != ACCOUNTS_OK) {
		cli_fail(ctx, CLI_FAIL, "unknown address %s", arg);
		return -1;
	}
	if (alias.mailbox_id[0] == '\0') {
		cli_fail(ctx, CLI_FAIL, "%s is a forward-only alias: it has no mailbox", arg);
		return -1;
	}
	if (accounts_mailbox_get(acc, alias.mailbox_id, mb) != ACCOUNTS_OK) {
		cli_fail(ctx, CLI_FAIL, "%s: %s", arg, accounts_error(acc));
		return -1;
	}
	return 0;
}

/* Unlocks with ctx->password; on failure writes the error. */
static int unlock(struct cli_ctx *ctx, struct accounts *acc, const struct accounts_mailbox *mb,
                  const char *address, struct keys_secret **ak_r, struct accounts_slot *slot_r)
{
	if (ctx->password == NULL || ctx->password[0] == '\0') {
		cli_fail(ctx, CLI_FAIL, "no password given for %s", address);
		return -1;
	}
	if (accounts_unlock(acc, mb->id, ctx->password, ak_r, slot_r) < 0) {
		cli_fail(ctx, CLI_FAIL, "wrong password or recovery key for %s", address);
		return -1;
	}
	return 0;
}

static int password_revoke(struct cli_ctx *ctx, struct accounts *acc, const char *address,
                           const char *label)
{
	struct accounts_mailbox mb;
	memset(&mb, 0, sizeof(mb));
	int rc = CLI_FAIL;
	char slot_id[ACCOUNTS_SLOT_ID_LEN + 1];
	if (mailbox_of(ctx, acc, address, &mb) < 0)
		goto out;
	if (label[0] == '\0' || strcmp(label, "recovery") == 0) {
		rc = cli_fail(ctx, CLI_FAIL,
		              "the main password and the recovery key are replaced with "
		              "`sealpost password ADDRESS`, not revoked");
		goto out;
	}
	if (accounts_begin(acc) < 0 ||
	    accounts_slot_remove_label(acc, mb.id, label, slot_id) != ACCOUNTS_OK ||
	    accounts_commit(acc) < 0) {
		rc = cli_fail(ctx, CLI_FAIL, "cannot revoke %s of %s: %s", label, address,
		              accounts_error(acc));
		accounts_rollback(acc);
		goto out;
	}
	/* Inside a server: returns once the sessions of that slot ended. */
	if (ctx->hooks != NULL && ctx->hooks->slot_revoked != NULL)
		ctx->hooks->slot_revoked(mb.id, slot_id);
	sp_buf_printf(&ctx->out, "Revoked %s of %s\n", label, address);
	rc = CLI_OK;
out:
	accounts_mailbox_deinit(&mb);
	return rc;
}

int cli_cmd_password(struct cli_ctx *ctx, int argc, char **argv)
{
	const char *address = NULL, *label = NULL, *revoke = NULL;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--label") == 0 && i + 1 < argc)
			label = argv[++i];
		else if (strncmp(argv[i], "--label=", 8) == 0)
			label = argv[i] + 8;
		else if (strcmp(argv[i], "--revoke") == 0 && i + 1 < argc)
			revoke = argv[++i];
		else if (strncmp(argv[i], "--revoke=", 9) == 0)
			revoke = argv[i] + 9;
		else if (argv[i][0] == '-' || address != NULL)
			return cli_fail(ctx, CLI_USAGE, "unexpected argument %s", argv[i]);
		else
			address = argv[i];
	}
	if (address == NULL)
		return cli_fail(ctx, CLI_USAGE, "password needs an ADDRESS");
	if (label != NULL && revoke != NULL)
		return cli_fail(ctx, CLI_USAGE, "--label and --revoke do not go together");
	if (label != NULL) {
		size_t n = strlen(label);
		bool ok = n > 0 && n <= 64 && strcmp(label, "recovery") != 0;
		for (size_t i = 0; ok && i < n; i++)
			ok = (label[i] >= 'a' && label[i] <= 'z') ||
			     (label[i] >= 'A' && label[i] <= 'Z') ||
			     (label[i] >= '0' && label[i] <= '9') ||
			     strchr("-_.", label[i]) != NULL;
		if (!ok)
			return cli_fail(ctx, CLI_FAIL,
			                "invalid label %s: 1-64 letters, digits, '-', '_' or '.', "
			                "not \"recovery\"",
			                label);
	}
	struct accounts *acc;
	if (cli_accounts_open(ctx, &acc) < 0)
		return CLI_FAIL;
	int rc;
	if (revoke != NULL) {
		rc = password_revoke(ctx, acc, address, revoke);
		accounts_close(&acc);
		return rc;
	}
	rc = CLI_FAIL;
	struct accounts_mailbox mb;
	memset(&mb, 0, sizeof(mb));
	struct accounts_slot used;
	memset(&used, 0, sizeof(used));
	struct keys_secret *ak = NULL, *secret = NULL;
	if (mailbox_of(ctx, acc, address, &mb) < 0 ||
	    unlock(ctx, acc, &mb, address, &ak, &used) < 0)
		goto out;
	if (accounts_begin(acc) < 0)
		goto db_error;
	char old_id[ACCOUNTS_SLOT_ID_LEN + 1] = "";
	if (label == NULL) {
		/* A new main password replaces the old one; the mailbox file is
		 * untouched (only the AK is rewrapped). */
		if (accounts_slot_remove_label(acc, mb.id, "", old_id) == ACCOUNTS_ERR_IO)
			goto db_error;
	}
	secret = slot_create(ctx, acc, mb.id, ak, label ? KEYS_SLOT_APP : KEYS_SLOT_PASSWORD,
	                     label ? label : "");
	if (secret == NULL) {
		accounts_rollback(acc);
		goto out;
	}
	if (accounts_commit(acc) < 0)
		goto db_error;
	if (old_id[0] != '\0' && ctx->hooks != NULL && ctx->hooks->slot_revoked != NULL)
		ctx->hooks->slot_revoked(mb.id, old_id);
	if (label != NULL)
		sp_buf_printf(&ctx->out, "Added app password %s for %s\n", label, address);
	else
		sp_buf_printf(&ctx->out, "Replaced the password of %s\n", address);
	sp_buf_printf(&ctx->out, "%s\n", (const char *)secret->p);
	rc = CLI_OK;
	goto out;
db_error:
	rc = cli_fail(ctx, CLI_FAIL, "cannot change the password of %s: %s", address,
	              accounts_error(acc));
	accounts_rollback(acc);
out:
	keys_secret_free(&secret);
	keys_secret_free(&ak);
	accounts_slot_deinit(&used);
	accounts_mailbox_deinit(&mb);
	accounts_close(&acc);
	return rc;
}

/* Opens the mailbox file with its DEK, or with the pending next DEK left
 * by an interrupted rekey (then completes that rekey's bookkeeping). */
static int open_mailbox_file(struct cli_ctx *ctx, struct accounts *acc,
                             const struct accounts_mailbox *mb, const struct keys_secret *ak,
                             sqlite3 **db_r, struct keys_secret **dek_r)
{
	struct keys_secret *dek = NULL, *next = NULL;
	if (accounts_mailbox_dek(mb, ak, &dek, &next) < 0) {
		cli_fail(ctx, CLI_FAIL, "the mailbox's wrapped data key is damaged");
		return -1;
	}
	char *path = cli_mailbox_path(ctx, mb->id);
	char err[256];
	int rc = store_file_open(path, dek, false, db_r, err, sizeof(err));
	if (rc < 0 && next != NULL) {
		rc = store_file_open(path, next, false, db_r, err, sizeof(err));
		if (rc == 0) {
			accounts_mailbox_set_dek(acc, mb->id, mb->dek_next_wrapped.data,
			                         mb->dek_next_wrapped.len);
			keys_secret_free(&dek);
			dek = next;
			next = NULL;
		}
	}
	free(path);
	keys_secret_free(&next);
	if (rc < 0) {
		keys_secret_free(&dek);
		cli_fail(ctx, CLI_FAIL, "%s", err);
		return -1;
	}
	*dek_r = dek;
	return 0;
}

int cli_open_mailbox(struct cli_ctx *ctx, struct accounts *acc, const char *address,
                     struct accounts_mailbox *mb, struct keys_secret **ak_r,
                     struct keys_secret **dek_r)
{
	sqlite3 *db = NULL;
	if (mailbox_of(ctx, acc, address, mb) < 0 || unlock(ctx, acc, mb, address, ak_r, NULL) < 0)
		return -1;
	if (open_mailbox_file(ctx, acc, mb, *ak_r, &db, dek_r) < 0) {
		keys_secret_free(ak_r);
		return -1;
	}
	store_file_close(&db);
	return 0;
}

int cli_cmd_mailbox_key(struct cli_ctx *ctx, int argc, char **argv)
{
	if (argc != 1 || argv[0][0] == '-')
		return cli_fail(ctx, CLI_USAGE, "mailbox key needs one ADDRESS");
	struct accounts *acc;
	if (cli_accounts_open(ctx, &acc) < 0)
		return CLI_FAIL;
	int rc = CLI_FAIL;
	struct accounts_mailbox mb;
	memset(&mb, 0, sizeof(mb));
	struct keys_secret *ak = NULL, *dek = NULL;
	sqlite3 *db = NULL;
	if (mailbox_of(ctx, acc, argv[0], &mb) == 0 &&
	    unlock(ctx, acc, &mb, argv[0], &ak, NULL) == 0 &&
	    open_mailbox_file(ctx, acc, &mb, ak, &db, &dek) == 0) {
		struct keys_secret *raw = keys_secret_new(KEYS_DEK_RAW_HEX_SIZE);
		keys_dek_raw_hex(dek, (char *)raw->p);
		sp_buf_printf(&ctx->out, "Mailbox file: %s/mailboxes/%s.sqlite (cipher chacha20)\n",
		              ctx->data_dir, mb.id);
		sp_buf_printf(&ctx->out, "%s\n", (const char *)raw->p);
		keys_secret_free(&raw);
		rc = CLI_OK;
	}
	store_file_close(&db);
	keys_secret_free(&dek);
	keys_secret_free(&ak);
	accounts_mailbox_deinit(&mb);
	accounts_close(&acc);
	return rc;
}

int cli_cmd_rekey(struct cli_ctx *ctx, int argc, char **argv)
{
	if (argc != 1 || argv[0][0] == '-')
		return cli_fail(ctx, CLI_USAGE, "rekey needs one ADDRESS");
	struct accounts *acc;
	if (cli_accounts_open(ctx, &acc) < 0)
		return CLI_FAIL;
	int rc = CLI_FAIL;
	struct accounts_mailbox mb;
	memset(&mb, 0, sizeof(mb));
	struct keys_secret *ak = NULL, *dek = NULL, *new_dek = NULL;
	sqlite3 *db = NULL;
	if (mailbox_of(ctx, acc, argv[0], &mb) < 0 || unlock(ctx, acc, &mb, argv[0], &ak, NULL) < 0)
		goto out;
	/* Live sessions hold the old key: end them first. */
	if (ctx->hooks != NULL && ctx->hooks->mailbox_closed != NULL)
		ctx->hooks->mailbox_closed(mb.id);
	if (open_mailbox_file(ctx, acc, &mb, ak, &db, &dek) < 0)
		goto out;
	new_dek = keys_secret_random(KEYS_KEY_LEN);
	uint8_t blob[KEYS_BLOB_LEN];
	keys_dek_wrap(ak, mb.id, new_dek, blob);
	/* Record the next key durably before the file changes: a crash at
	 * any point leaves a key in accounts.db that opens the file. */
	if (accounts_mailbox_set_dek_next(acc, mb.id, blob, sizeof(blob)) != ACCOUNTS_OK) {
		cli_fail(ctx, CLI_FAIL, "cannot record the new key: %s", accounts_error(acc));
		goto out;
	}
	char err[256];
	if (store_file_rekey(db, new_dek, err, sizeof(err)) < 0) {
		accounts_mailbox_set_dek_next(acc, mb.id, NULL, 0);
		cli_fail(ctx, CLI_FAIL, "%s", err);
		goto out;
	}
	if (accounts_mailbox_set_dek(acc, mb.id, blob, sizeof(blob)) != ACCOUNTS_OK) {
		cli_fail(ctx, CLI_FAIL, "cannot store the new key: %s", accounts_error(acc));
		goto out;
	}
	sp_buf_printf(&ctx->out, "Rotated the data key of %s; every password stays valid\n",
	              argv[0]);
	rc = CLI_OK;
out:
	store_file_close(&db);
	keys_secret_free(&dek);
	keys_secret_free(&new_dek);
	keys_secret_free(&ak);
	accounts_mailbox_deinit(&mb);
	accounts_close(&acc);
	return rc;
}
