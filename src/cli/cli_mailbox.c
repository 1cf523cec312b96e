/* `sealpost mailbox export`: the owner's password opens the mailbox, the
 * sealed spool is drained into it (as any session holding the key does),
 * and every message is written out byte-exact, as .eml files or as one
 * mboxrd file (issue 4; RFC 4155 for the mbox "From " lines). */
#include "cli/cli.h"
#include "lib/sp_str.h"
#include "spool/spool.h"
#include "store/store.h"
#include "store/store_drain.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct export_ctx {
	struct cli_ctx *cli;
	FILE *mbox;      /* mbox format */
	const char *dir; /* eml format: the folder's directory */
	size_t count;
	int error;
};

/* mboxrd: a line that matches ">*From " gets one more '>'. */
static int write_mboxrd(FILE *f, const uint8_t *data, size_t len, time_t when)
{
	char date[64];
	struct tm tm;
	gmtime_r(&when, &tm);
	strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Y", &tm);
	if (fprintf(f, "From MAILER-DAEMON %s\n", date) < 0)
		return -1;
	size_t i = 0;
	while (i < len) {
		const uint8_t *nl = memchr(data + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - data) + 1 : len;
		size_t j = i;
		while (j < end && data[j] == '>')
			j++;
		if (end - j >= 5 && memcmp(data + j, "From ", 5) == 0 && fputc('>', f) == EOF)
			return -1;
		if (fwrite(data + i, 1, end - i, f) != end - i)
			return -1;
		i = end;
	}
	if (len > 0 && data[len - 1] != '\n' && fputc('\n', f) == EOF)
		return -1;
	return fputc('\n', f) == EOF ? -1 : 0;
}

static int export_one(void *ctxp, const struct store_message *m)
{
	struct export_ctx *x = ctxp;
	if (x->mbox != NULL) {
		if (write_mboxrd(x->mbox, m->original, m->original_len, m->internaldate) < 0) {
			x->error = errno;
			return -1;
		}
	} else {
		struct sp_buf path = SP_BUF_INIT;
		sp_buf_printf(&path, "%s/%u.eml", x->dir, m->uid);
		int fd = open(sp_buf_cstr(&path), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		ssize_t n = fd >= 0 ? write(fd, m->original, m->original_len) : -1;
		if (fd < 0 || n != (ssize_t)m->original_len) {
			x->error = errno ? errno : EIO;
			if (fd >= 0)
				close(fd);
			sp_buf_deinit(&path);
			return -1;
		}
		close(fd);
		sp_buf_deinit(&path);
	}
	x->count++;
	return 0;
}

/* Opens the mailbox of ADDRESS with ctx->password, drains its spool.
 * The caller closes *s_r. */
static int open_and_drain(struct cli_ctx *ctx, const char *address, struct store_session **s_r)
{
	struct accounts *acc;
	if (cli_accounts_open(ctx, &acc) < 0)
		return -1;
	int rc = -1;
	struct accounts_mailbox mb;
	memset(&mb, 0, sizeof(mb));
	struct keys_secret *ak = NULL, *dek = NULL, *sk = NULL;
	struct spool *spool = NULL;
	const char *error;
	if (cli_open_mailbox(ctx, acc, address, &mb, &ak, &dek) < 0)
		goto out;
	if (mb.sk_wrapped.len != KEYS_BLOB_LEN ||
	    keys_box_sk_open(ak, mb.id, mb.sk_wrapped.data, &sk) < 0 ||
	    keys_box_check(mb.public_key, sk) < 0) {
		/* A public key that is not ours would divert new mail. */
		cli_fail(ctx, CLI_FAIL, "the mailbox's key pair does not match accounts.db");
		goto out;
	}
	char *path = cli_mailbox_path(ctx, mb.id);
	rc = store_session_open(path, mb.id, dek, false, s_r, &error);
	free(path);
	if (rc < 0) {
		cli_fail(ctx, CLI_FAIL, "cannot open the mailbox: %s", error);
		goto out;
	}
	char *spool_dir = config_path(ctx->cfg, "spool");
	if (spool_open(spool_dir, &spool, &error) == 0) {
		struct store_drain_result res;
		if (store_drain(*s_r, spool, mb.id, sk, &res, &error) < 0)
			cli_fail(ctx, CLI_OK, "warning: mail waiting in the spool: %s", error);
		else if (res.failed > 0)
			cli_fail(ctx, CLI_OK, "warning: %zu spooled messages could not be read",
			         res.failed);
	} else {
		cli_fail(ctx, CLI_OK, "warning: cannot open the spool: %s", error);
	}
	free(spool_dir);
	rc = 0;
out:
	spool_close(&spool);
	keys_secret_free(&sk);
	keys_secret_free(&dek);
	keys_secret_free(&ak);
	accounts_mailbox_deinit(&mb);
	accounts_close(&acc);
	return rc;
}

int cli_cmd_mailbox_export(struct cli_ctx *ctx, int argc, char **argv)
{
	const char *address = NULL, *format = "mbox", *out = NULL, *only = NULL;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--format") == 0 && i + 1 < argc)
			format = argv[++i];
		else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
			out = argv[++i];
		else if (strcmp(argv[i], "--folder") == 0 && i + 1 < argc)
			only = argv[++i];
		else if (argv[i][0] == '-' || address != NULL)
			return cli_fail(ctx, CLI_USAGE, "unexpected argument %s", argv[i]);
		else
			address = argv[i];
	}
	if (address == NULL || out == NULL)
		return cli_fail(ctx, CLI_USAGE, "mailbox export needs ADDRESS and --out PATH");
	bool mbox = strcmp(format, "mbox") == 0;
	if (!mbox && strcmp(format, "eml") != 0)
		return cli_fail(ctx, CLI_USAGE, "--format is mbox or eml");
	if (access(out, F_OK) == 0)
		return cli_fail(ctx, CLI_FAIL, "%s exists; export writes a new file or directory",
		                out);
	struct store_session *s = NULL;
	if (open_and_drain(ctx, address, &s) < 0)
		return CLI_FAIL;
	struct sp_arena *arena = sp_arena_new(16384);
	struct store_folder *folders;
	size_t n_folders = 0;
	const char *error;
	int rc = CLI_FAIL;
	struct export_ctx x = {.cli = ctx};
	if (store_folder_list(s, arena, &folders, &n_folders, &error) < 0) {
		cli_fail(ctx, CLI_FAIL, "%s", error);
		goto out;
	}
	if (mbox) {
		int fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		x.mbox = fd >= 0 ? fdopen(fd, "w") : NULL;
		if (x.mbox == NULL) {
			cli_fail(ctx, CLI_FAIL, "cannot create %s: %s", out, strerror(errno));
			goto out;
		}
	} else if (mkdir(out, 0700) < 0) {
		cli_fail(ctx, CLI_FAIL, "cannot create %s: %s", out, strerror(errno));
		goto out;
	}
	size_t exported_folders = 0;
	for (size_t i = 0; i < n_folders; i++) {
		if (only != NULL && strcmp(only, folders[i].name) != 0)
			continue;
		exported_folders++;
		struct sp_buf dir = SP_BUF_INIT;
		if (!mbox) {
			/* One directory per folder; '/' in a name nests. */
			sp_buf_printf(&dir, "%s/%s", out, folders[i].name);
			for (size_t k = strlen(out) + 1; k < dir.len; k++) {
				if (dir.data[k] == '/') {
					dir.data[k] = '\0';
					mkdir(sp_buf_cstr(&dir), 0700);
					dir.data[k] = '/';
				}
			}
			mkdir(sp_buf_cstr(&dir), 0700);
			x.dir = sp_buf_cstr(&dir);
		}
		struct store_uid_range all = {1, UINT32_MAX};
		struct store_fetch_req req = {
		    .uids = {&all, 1},
		    .items = STORE_FETCH_ORIGINAL | STORE_FETCH_INTERNALDATE,
		};
		int frc = store_fetch(s, folders[i].id, &req, export_one, &x, &error);
		sp_buf_deinit(&dir);
		if (frc < 0) {
			cli_fail(ctx, CLI_FAIL, "export failed: %s",
			         x.error ? strerror(x.error) : error);
			goto out;
		}
	}
	if (only != NULL && exported_folders == 0) {
		cli_fail(ctx, CLI_FAIL, "no folder %s", only);
		goto out;
	}
	if (x.mbox != NULL && (fflush(x.mbox) != 0 || fsync(fileno(x.mbox)) != 0)) {
		cli_fail(ctx, CLI_FAIL, "cannot write %s: %s", out, strerror(errno));
		goto out;
	}
	sp_buf_printf(&ctx->out, "Exported %zu messages to %s\n", x.count, out);
	rc = CLI_OK;
out:
	if (x.mbox != NULL)
		fclose(x.mbox);
	sp_arena_free(&arena);
	store_session_close(&s);
	return rc;
}
