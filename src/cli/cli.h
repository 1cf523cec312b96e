/* The sealpost command line: every administrative command is a handler
 * that writes to ctx->out/ctx->err instead of stdio, so the same code runs
 * in the CLI process (no server running) or inside `serve` when the CLI
 * forwards the command over the control socket. Exit codes: 0 success,
 * 1 bad input or refused operation, 2 usage error (DESIGN section 8). */
#ifndef CLI_H
#define CLI_H

#include "accounts/accounts.h"
#include "cli/config.h"
#include "lib/sp_buf.h"

enum {
	CLI_OK = 0,
	CLI_FAIL = 1,
	CLI_USAGE = 2,
};

struct cli_hooks;

struct cli_ctx {
	const char *data_dir;
	struct config *cfg;
	struct sp_buf out, err;
	/* The password or recovery key read by the front end (sodium memory),
	 * NULL when the command did not need one. */
	char *password;
	/* Set inside a running server: lets commands end live sessions. */
	const struct cli_hooks *hooks;
	bool in_server;
};

struct cli_hooks {
	/* A key slot was revoked: end every live session that logged in
	 * with it and purge it from the login cache before returning. */
	void (*slot_revoked)(const char *mailbox_id, const char *slot_id);
	/* A mailbox was deleted or rekeyed: end its sessions. */
	void (*mailbox_closed)(const char *mailbox_id);
};

struct cli_command {
	const char *name;  /* "alias add" */
	const char *usage; /* the --help text */
	int (*run)(struct cli_ctx *ctx, int argc, char **argv);
	/* Whether the command (with these arguments) reads a password. */
	bool (*needs_password)(int argc, char **argv);
	bool local_only; /* init, serve: never forwarded to a server */
};

extern const struct cli_command cli_commands[];
extern const size_t cli_n_commands;
/* Finds the command named by the first one or two words of argv. */
const struct cli_command *cli_find_command(int argc, char **argv, int *consumed_r);

/* Formats an error line "sealpost: …" into ctx->err and returns code. */
int cli_fail(struct cli_ctx *ctx, int code, const char *fmt, ...) SP_PRINTF(3, 4);

/* Opens accounts.db of the data directory (must exist: run init). */
int cli_accounts_open(struct cli_ctx *ctx, struct accounts **acc_r);
/* Parses an address argument; on error writes the message, returns -1. */
int cli_address(struct cli_ctx *ctx, const char *arg, struct address *addr);
/* Path of a mailbox file: DATA_DIR/mailboxes/<id>.sqlite (caller frees). */
char *cli_mailbox_path(struct cli_ctx *ctx, const char *mailbox_id);

/* True when arg is "--help" or "-h". */
bool cli_wants_help(int argc, char **argv);

/* Command handlers, by file. */
int cli_cmd_init(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_serve(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_status(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_domain_add(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_domain_list(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_domain_remove(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_alias_add(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_alias_list(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_alias_remove(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_password(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_rekey(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_mailbox_key(struct cli_ctx *ctx, int argc, char **argv);

/* Creates a mailbox's keys, file and first slots (cli_keys.c), inside the
 * caller's accounts.db transaction. Appends the recovery key line and the
 * password (last) to ctx->out only after the caller commits: they are
 * returned in sodium memory for that. */
struct cli_new_mailbox {
	char id[ACCOUNTS_MAILBOX_ID_LEN + 1];
	char *recovery_key; /* sodium memory */
	char *password;     /* sodium memory */
	char *file_path;
};
int cli_mailbox_create(struct cli_ctx *ctx, struct accounts *acc, uint64_t quota,
                       struct cli_new_mailbox *mb);
/* Undoes the file part of a failed creation. */
void cli_mailbox_create_abort(struct cli_ctx *ctx, struct cli_new_mailbox *mb);
/* Deletes a mailbox's file (with its -wal and -shm) and its sealed spool
 * entries; warnings go to ctx->err. 0 ok, -1 when something remained. */
int cli_mailbox_delete_files(struct cli_ctx *ctx, const char *mailbox_id);
void cli_new_mailbox_free(struct cli_new_mailbox *mb);

/* Resolves ADDRESS, unlocks its mailbox with ctx->password and finds the
 * DEK that opens its file (completing an interrupted rekey). On failure
 * the error is written and -1 returned. */
int cli_open_mailbox(struct cli_ctx *ctx, struct accounts *acc, const char *address,
                     struct accounts_mailbox *mb, struct keys_secret **ak_r,
                     struct keys_secret **dek_r);
int cli_cmd_mailbox_export(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_mailbox_import(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_deliver(struct cli_ctx *ctx, int argc, char **argv);

/* The data directory lock (DATA_DIR/sealpost.lock): `serve` holds it for
 * its lifetime, a CLI command that works on the files directly holds it
 * for the command. Returns an fd, or -1 when another process holds it. */
int cli_lock_data_dir(const char *data_dir, bool wait, struct sp_buf *err);

/* Control socket (control.c). */
char *cli_control_path(const char *data_dir);
/* Forwards a command to the running server. Returns the command's exit
 * code, or -1 when no server answers on the socket. */
int cli_control_forward(struct cli_ctx *ctx, int argc, char **argv);
/* Runs one forwarded request (server side): reads it from fd, runs the
 * command with hooks, writes the reply. */
void cli_control_serve_fd(int fd, struct config *cfg, const struct cli_hooks *hooks);

#endif
