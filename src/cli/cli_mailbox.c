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
		if (folders[i].id == 0)
			continue; /* a subscription to a name that is no folder */
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

/* ---- import ---- */

#define IMPORT_BATCH_MESSAGES 200
#define IMPORT_BATCH_BYTES (32u << 20)

struct import_batch {
	struct store_append_msg msgs[IMPORT_BATCH_MESSAGES];
	struct sp_buf data[IMPORT_BATCH_MESSAGES];
	size_t n, bytes;
};

/* asctime() form after the sender on an mbox From_ line; 0 when absent. */
static time_t from_line_date(const char *line)
{
	const char *sp = strchr(line + 5, ' ');
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	if (sp == NULL || strptime(sp + 1, "%a %b %e %H:%M:%S %Y", &tm) == NULL)
		return 0;
	return timegm(&tm);
}

static int import_flush(struct store_session *s, const char *folder, struct import_batch *b,
                        const char **error_r)
{
	if (b->n == 0)
		return 0;
	uint32_t uids[IMPORT_BATCH_MESSAGES], uidvalidity;
	for (size_t i = 0; i < b->n; i++) {
		b->msgs[i].data = b->data[i].data;
		b->msgs[i].len = b->data[i].len;
	}
	int rc = store_append(s, folder, b->msgs, b->n, &uidvalidity, uids, error_r);
	for (size_t i = 0; i < b->n; i++)
		sp_buf_deinit(&b->data[i]);
	memset(b->msgs, 0, sizeof(b->msgs));
	b->n = 0;
	b->bytes = 0;
	return rc;
}

/* Ends the message being read: drops the empty line that separates it
 * from the next From_ line (RFC 4155). */
static void import_end_message(struct import_batch *b)
{
	struct sp_buf *m = &b->data[b->n];
	if (m->len >= 2 && m->data[m->len - 1] == '\n' && m->data[m->len - 2] == '\n')
		m->len--;
	else if (m->len >= 3 && memcmp(m->data + m->len - 3, "\n\r\n", 3) == 0)
		m->len -= 2;
	b->bytes += m->len;
	b->n++;
}

int cli_cmd_mailbox_import(struct cli_ctx *ctx, int argc, char **argv)
{
	const char *address = NULL, *file = NULL, *folder = "INBOX";
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--folder") == 0 && i + 1 < argc)
			folder = argv[++i];
		else if (argv[i][0] == '-' && argv[i][1] != '\0')
			return cli_fail(ctx, CLI_USAGE, "unexpected argument %s", argv[i]);
		else if (address == NULL)
			address = argv[i];
		else if (file == NULL)
			file = argv[i];
		else
			return cli_fail(ctx, CLI_USAGE, "unexpected argument %s", argv[i]);
	}
	if (address == NULL || file == NULL)
		return cli_fail(ctx, CLI_USAGE, "mailbox import needs ADDRESS and FILE");
	FILE *in = fopen(file, "rb");
	if (in == NULL)
		return cli_fail(ctx, CLI_FAIL, "cannot open %s: %s", file, strerror(errno));
	struct store_session *s = NULL;
	if (open_and_drain(ctx, address, &s) < 0) {
		fclose(in);
		return CLI_FAIL;
	}
	struct import_batch *b = sp_calloc(1, sizeof(*b));
	bool progress = !ctx->in_server && isatty(STDERR_FILENO);
	char *line = NULL;
	size_t cap = 0, total = 0;
	ssize_t len;
	bool in_message = false;
	const char *error = NULL;
	int rc = CLI_FAIL;
	while ((len = getline(&line, &cap, in)) > 0) {
		if (len >= 5 && memcmp(line, "From ", 5) == 0) {
			if (in_message) {
				import_end_message(b);
				total++;
			}
			if (b->n == IMPORT_BATCH_MESSAGES || b->bytes >= IMPORT_BATCH_BYTES) {
				if (import_flush(s, folder, b, &error) < 0)
					goto out;
				if (progress)
					fprintf(stderr, "\rimported %zu messages", total);
			}
			memset(&b->msgs[b->n], 0, sizeof(b->msgs[b->n]));
			b->msgs[b->n].internaldate = from_line_date(line);
			in_message = true;
			continue;
		}
		if (!in_message) {
			cli_fail(ctx, CLI_FAIL,
			         "%s is not an mbox file: it does not start with \"From \"", file);
			goto out_quiet;
		}
		/* mboxrd: one '>' less on every ">…>From " line. */
		size_t skip = 0;
		size_t q = 0;
		while (q < (size_t)len && line[q] == '>')
			q++;
		if (q > 0 && (size_t)len - q >= 5 && memcmp(line + q, "From ", 5) == 0)
			skip = 1;
		sp_buf_append(&b->data[b->n], line + skip, (size_t)len - skip);
	}
	if (in_message) {
		import_end_message(b);
		total++;
	}
	if (import_flush(s, folder, b, &error) < 0)
		goto out;
	if (progress)
		fprintf(stderr, "\r");
	sp_buf_printf(&ctx->out, "Imported %zu messages into %s\n", total, folder);
	rc = CLI_OK;
	goto out_quiet;
out:
	cli_fail(ctx, CLI_FAIL, "import stopped after %zu messages: %s", total,
	         error ? error : "error");
out_quiet:
	for (size_t i = 0; i < IMPORT_BATCH_MESSAGES; i++)
		sp_buf_deinit(&b->data[i]);
	free(b);
	free(line);
	fclose(in);
	store_session_close(&s);
	return rc;
}
