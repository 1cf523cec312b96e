/* The command table and helpers shared by the command handlers. */
#include "cli/cli.h"
#include "lib/sp_str.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static bool password_needs(int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--revoke") == 0 || strncmp(argv[i], "--revoke=", 9) == 0)
			return false;
	}
	return true;
}

static bool always(int argc, char **argv)
{
	return true;
}

const struct cli_command cli_commands[] = {
    {.name = "init",
     .usage = "usage: sealpost [--data-dir DIR] init [--demo] [--hostname NAME]\n"
              "Creates the data directory: sealpost.conf (commented), accounts.db and a\n"
              "self-signed TLS certificate. It adds no domain; --demo also adds the\n"
              "domain example.test and the alias demo@example.test, printing its\n"
              "recovery key and, alone on the last line, its password.\n",
     .run = cli_cmd_init,
     .local_only = true},
    {.name = "serve",
     .usage = "usage: sealpost [--data-dir DIR] serve [--foreground] [--ROLE=ADDR:PORT]...\n"
              "Runs the server. ROLE is smtp, submission, submissions, imap, imaps,\n"
              "pop3, pop3s, http or lmtp; an empty value disables the role. An address\n"
              "for a role this release does not serve yet is refused.\n"
              "Without --foreground the server detaches and logs to sealpost.log.\n",
     .run = cli_cmd_serve,
     .local_only = true},
    {.name = "status",
     .usage = "usage: sealpost [--data-dir DIR] status\n"
              "Shows whether a server runs, and the domains, aliases and mailboxes.\n",
     .run = cli_cmd_status},
    {.name = "domain add",
     .usage = "usage: sealpost domain add DOMAIN\n"
              "Adds a domain (stored in its IDNA form) with its postmaster alias.\n",
     .run = cli_cmd_domain_add},
    {.name = "domain list", .usage = "usage: sealpost domain list\n", .run = cli_cmd_domain_list},
    {.name = "domain remove",
     .usage = "usage: sealpost domain remove DOMAIN\n"
              "Removes a domain that has no aliases left but its postmaster.\n",
     .run = cli_cmd_domain_remove},
    {.name = "alias add",
     .usage = "usage: sealpost alias add ADDRESS [--quota SIZE] [--no-mailbox]\n"
              "                         [--forward ADDR]... [--webhook URL]...\n"
              "Creates an alias and, unless --no-mailbox, its encrypted mailbox. Prints\n"
              "the recovery key on a line labelled as such, then the first password\n"
              "alone on the last line. Forward targets and webhooks are validated and\n"
              "stored; they take effect in a later release.\n",
     .run = cli_cmd_alias_add},
    {.name = "alias list",
     .usage = "usage: sealpost alias list [DOMAIN]\n",
     .run = cli_cmd_alias_list},
    {.name = "alias remove",
     .usage = "usage: sealpost alias remove ADDRESS\n"
              "Removes an alias; a mailbox no alias delivers to any more is deleted.\n",
     .run = cli_cmd_alias_remove},
    {.name = "password",
     .usage = "usage: sealpost password ADDRESS [--label NAME]\n"
              "       sealpost password ADDRESS --revoke LABEL\n"
              "Reads an existing password or the recovery key (first line of stdin, or a\n"
              "prompt) and adds a new generated password, printed alone on the last\n"
              "line. Without --label it replaces the main password; with --label it adds\n"
              "an app password. --revoke removes a labelled slot (no password needed)\n"
              "and ends the live sessions that logged in with it.\n",
     .run = cli_cmd_password,
     .needs_password = password_needs},
    {.name = "rekey",
     .usage = "usage: sealpost rekey ADDRESS\n"
              "Reads a password and rotates the mailbox file's data key; every password\n"
              "stays valid, a raw key printed before no longer opens the file.\n",
     .run = cli_cmd_rekey,
     .needs_password = always},
    {.name = "mailbox key",
     .usage = "usage: sealpost mailbox key ADDRESS\n"
              "Reads a password and prints the mailbox file's SQLite3MultipleCiphers key\n"
              "(raw: followed by 64 hex digits) alone on the last line.\n",
     .run = cli_cmd_mailbox_key,
     .needs_password = always},
    {.name = "mailbox export",
     .usage = "usage: sealpost mailbox export ADDRESS --out PATH [--format mbox|eml]\n"
              "                               [--folder NAME]\n"
              "Reads a password, moves mail waiting in the spool into the mailbox, and\n"
              "writes every message byte-exact: one mboxrd file (default), or with eml\n"
              "a directory per folder holding UID.eml files.\n",
     .run = cli_cmd_mailbox_export,
     .needs_password = always},
    {.name = "mailbox import",
     .usage = "usage: sealpost mailbox import ADDRESS FILE [--folder NAME]\n"
              "Reads a password and appends every message of the mboxrd FILE to the\n"
              "folder (INBOX by default), in batches; a progress count on a terminal.\n",
     .run = cli_cmd_mailbox_import,
     .needs_password = always},
    {.name = "deliver",
     .usage = "usage: sealpost deliver [-f SENDER] -a ADDRESS [-a ADDRESS]...\n"
              "Delivers one message from stdin to every address (all or none), for an\n"
              "MTA's pipe transport, like dovecot-lda. A leading mbox \"From \" line is\n"
              "skipped. Exit codes (sysexits): 0 delivered, 64 usage, 67 unknown\n"
              "address, 73 over quota, 75 temporary failure; stderr is one line that\n"
              "starts with the enhanced status code.\n",
     .run = cli_cmd_deliver,
     .local_only = true},
};
const size_t cli_n_commands = SP_N_ELEMENTS(cli_commands);

const struct cli_command *cli_find_command(int argc, char **argv, int *consumed_r)
{
	for (size_t i = 0; i < cli_n_commands; i++) {
		const char *name = cli_commands[i].name;
		const char *space = strchr(name, ' ');
		if (space != NULL) {
			size_t n = (size_t)(space - name);
			if (argc >= 2 && strlen(argv[0]) == n && strncmp(argv[0], name, n) == 0 &&
			    strcmp(argv[1], space + 1) == 0) {
				*consumed_r = 2;
				return &cli_commands[i];
			}
		} else if (argc >= 1 && strcmp(argv[0], name) == 0) {
			*consumed_r = 1;
			return &cli_commands[i];
		}
	}
	return NULL;
}

int cli_fail(struct cli_ctx *ctx, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	sp_buf_append_str(&ctx->err, "sealpost: ");
	sp_buf_vprintf(&ctx->err, fmt, ap);
	sp_buf_append_str(&ctx->err, "\n");
	va_end(ap);
	return code;
}

bool cli_wants_help(int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return true;
	}
	return false;
}

int cli_accounts_open(struct cli_ctx *ctx, struct accounts **acc_r)
{
	char *path = config_path(ctx->cfg, "accounts.db");
	const char *error;
	int rc = 0;
	if (access(path, F_OK) != 0) {
		cli_fail(ctx, CLI_FAIL, "%s has no accounts.db; run `sealpost init` first",
		         ctx->data_dir);
		rc = -1;
	} else if (accounts_open(path, false, acc_r, &error) < 0) {
		cli_fail(ctx, CLI_FAIL, "%s", error);
		rc = -1;
	}
	free(path);
	return rc;
}

int cli_address(struct cli_ctx *ctx, const char *arg, struct address *addr)
{
	const char *error;
	if (address_parse(arg, addr, &error) < 0) {
		cli_fail(ctx, CLI_FAIL, "malformed address %s: %s", arg, error);
		return -1;
	}
	if (addr->tag[0] != '\0') {
		cli_fail(ctx, CLI_FAIL,
		         "%s has a +tag: aliases are created without one "
		         "(mail to any +tag reaches its alias)",
		         arg);
		return -1;
	}
	return 0;
}

char *cli_mailbox_path(struct cli_ctx *ctx, const char *mailbox_id)
{
	struct sp_buf b = SP_BUF_INIT;
	sp_buf_printf(&b, "%s/mailboxes/%s.sqlite", ctx->data_dir, mailbox_id);
	return sp_buf_steal(&b);
}

int cli_lock_data_dir(const char *data_dir, bool wait, struct sp_buf *err)
{
	struct sp_buf path = SP_BUF_INIT;
	sp_buf_printf(&path, "%s/sealpost.lock", data_dir);
	int fd = open(sp_buf_cstr(&path), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		if (errno == ENOENT)
			sp_buf_printf(err, "%s does not exist; run `sealpost init` first",
			              data_dir);
		else
			sp_buf_printf(err, "%s: %s", sp_buf_cstr(&path), strerror(errno));
		sp_buf_deinit(&path);
		return -1;
	}
	sp_buf_deinit(&path);
	if (flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) < 0) {
		close(fd);
		return -1; /* held by another process: err stays empty */
	}
	return fd;
}
