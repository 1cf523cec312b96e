/* sealpost: global options, the command table, password input, and the
 * choice between running a command on the files directly (under the data
 * directory lock) and forwarding it to a running server's control socket. */
#include "cli/cli.h"
#include "lib/sp_log.h"
#include "lib/sp_str.h"

#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define DEFAULT_DATA_DIR "/var/lib/sealpost"
#define PASSWORD_MAX 1024

static const char main_usage[] =
    "usage: sealpost [--data-dir DIR] COMMAND [ARGS]\n"
    "\n"
    "Commands:\n"
    "  init [--demo] [--hostname NAME]   create the data directory\n"
    "  serve [--foreground] [--ROLE=ADDR:PORT]...\n"
    "                                   run the server\n"
    "  status                           show the server and the accounts\n"
    "  domain add|list|remove           manage domains\n"
    "  alias add|list|remove            manage aliases and their mailboxes\n"
    "  password ADDRESS [--label NAME | --revoke LABEL]\n"
    "                                   add (or revoke) a password\n"
    "  rekey ADDRESS                    rotate a mailbox's data key\n"
    "  mailbox key ADDRESS              print a mailbox's raw SQLite3MC key\n"
    "\n"
    "The data directory is --data-dir, else $SEALPOST_DATA, else " DEFAULT_DATA_DIR ".\n"
    "`sealpost COMMAND --help` describes each command.\n";

/* Reads the first line of stdin, or prompts on the terminal without echo.
 * The result lives in sodium memory. */
static char *read_password(void)
{
	char *pw = sodium_malloc(PASSWORD_MAX + 1);
	if (pw == NULL)
		sp_panic("sodium_malloc failed");
	size_t len = 0;
	bool tty = isatty(STDIN_FILENO);
	struct termios saved, noecho;
	if (tty) {
		fputs("Password or recovery key: ", stderr);
		fflush(stderr);
		tcgetattr(STDIN_FILENO, &saved);
		noecho = saved;
		noecho.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &noecho);
	}
	/* Byte at a time: stdio would copy the secret into its own buffer. */
	for (;;) {
		char c;
		ssize_t n = read(STDIN_FILENO, &c, 1);
		if (n <= 0 || c == '\n')
			break;
		if (len < PASSWORD_MAX)
			pw[len++] = c;
	}
	if (len > 0 && pw[len - 1] == '\r')
		len--;
	pw[len] = '\0';
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
		fputs("\n", stderr);
	}
	return pw;
}

/* Runs cmd on the files under the data directory lock, or forwards it to
 * the server that holds the lock (so its live sessions and caches see the
 * change at once). A CLI command holding the lock briefly is waited for. */
static int run_or_forward(struct cli_ctx *ctx, const struct cli_command *cmd, int cargc,
                          char **cargv, int fargc, char **fargv)
{
	struct sp_buf err = SP_BUF_INIT;
	int rc = -1;
	for (int attempt = 0; attempt < 200; attempt++) {
		int lock = cli_lock_data_dir(ctx->data_dir, false, &err);
		if (lock >= 0) {
			rc = cmd->run(ctx, cargc, cargv);
			close(lock);
			break;
		}
		if (err.len > 0) {
			rc = cli_fail(ctx, CLI_FAIL, "%s", sp_buf_cstr(&err));
			break;
		}
		rc = cli_control_forward(ctx, fargc, fargv);
		if (rc >= 0)
			break;
		usleep(50 * 1000);
	}
	if (rc < 0)
		rc = cli_fail(ctx, CLI_FAIL,
		              "%s/sealpost.lock is held but no server answers on its control "
		              "socket",
		              ctx->data_dir);
	sp_buf_deinit(&err);
	return rc;
}

static void flush_output(struct cli_ctx *ctx)
{
	if (ctx->out.len > 0 && fwrite(ctx->out.data, 1, ctx->out.len, stdout) != ctx->out.len)
		perror("sealpost: stdout");
	fflush(stdout);
	if (ctx->err.len > 0 && fwrite(ctx->err.data, 1, ctx->err.len, stderr) != ctx->err.len)
		perror("sealpost: stderr");
}

int main(int argc, char **argv)
{
	const char *data_dir = getenv("SEALPOST_DATA");
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--data-dir") == 0 && i + 1 < argc) {
			data_dir = argv[++i];
		} else if (strncmp(argv[i], "--data-dir=", 11) == 0) {
			data_dir = argv[i] + 11;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(main_usage, stdout);
			return CLI_OK;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("sealpost %s\n", SEALPOST_VERSION);
			return CLI_OK;
		} else {
			fprintf(stderr, "sealpost: unknown option %s\n%s", argv[i], main_usage);
			return CLI_USAGE;
		}
	}
	if (data_dir == NULL || data_dir[0] == '\0')
		data_dir = DEFAULT_DATA_DIR;
	/* Absolute, so a detached server (cwd "/") and the control socket
	 * peer agree on every path. */
	char cwd[4096], abs_dir[8192];
	if (data_dir[0] != '/' && getcwd(cwd, sizeof(cwd)) != NULL) {
		snprintf(abs_dir, sizeof(abs_dir), "%s/%s", cwd, data_dir);
		data_dir = abs_dir;
	}
	int consumed = 0;
	const struct cli_command *cmd = cli_find_command(argc - i, argv + i, &consumed);
	if (cmd == NULL) {
		if (i < argc)
			fprintf(stderr, "sealpost: unknown command %s\n", argv[i]);
		fputs(main_usage, stderr);
		return CLI_USAGE;
	}
	int cargc = argc - i - consumed;
	char **cargv = argv + i + consumed;
	if (cli_wants_help(cargc, cargv)) {
		fputs(cmd->usage, stdout);
		return CLI_OK;
	}
	if (sodium_init() < 0) {
		fputs("sealpost: libsodium failed to initialise\n", stderr);
		return CLI_FAIL;
	}

	struct cli_ctx ctx;
	memset(&ctx, 0, sizeof(ctx));
	ctx.data_dir = data_dir;
	struct config cfg;
	struct sp_buf err = SP_BUF_INIT;
	if (config_load(&cfg, data_dir, &err) < 0) {
		fprintf(stderr, "sealpost: %s\n", sp_buf_cstr(&err));
		sp_buf_deinit(&err);
		return CLI_FAIL;
	}
	ctx.cfg = &cfg;
	int rc;
	/* Commands report on stdout/stderr; only the server logs routine
	 * events. */
	if (cmd->run != cli_cmd_serve)
		sp_log_set_level(SP_LOG_WARN);
	if (cmd->local_only) {
		rc = cmd->run(&ctx, cargc, cargv);
	} else {
		if (cmd->needs_password != NULL && cmd->needs_password(cargc, cargv))
			ctx.password = read_password();
		rc = run_or_forward(&ctx, cmd, cargc, cargv, consumed + cargc, argv + i);
	}
	flush_output(&ctx);
	if (ctx.password != NULL)
		sodium_free(ctx.password);
	sp_buf_deinit(&ctx.out);
	sp_buf_deinit(&ctx.err);
	sp_buf_deinit(&err);
	config_free(&cfg);
	return rc;
}
