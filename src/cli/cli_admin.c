/* Domain, alias and status commands. Every change runs in one accounts.db
 * transaction: a failure leaves no partial state behind. */
#include "cli/cli.h"
#include "lib/sp_str.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Fetches the value of "--name VALUE" or "--name=VALUE" at argv[*i]. */
static const char *option_value(int argc, char **argv, int *i, const char *name)
{
	size_t n = strlen(name);
	if (strncmp(argv[*i], name, n) != 0)
		return NULL;
	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (argv[*i][n] == '\0' && *i + 1 < argc)
		return argv[++*i];
	return NULL;
}

static int one_argument(struct cli_ctx *ctx, int argc, char **argv, const char *what)
{
	if (argc != 1 || argv[0][0] == '-')
		return cli_fail(ctx, CLI_USAGE, "expected one argument: %s", what);
	return CLI_OK;
}

/* domain add and domain remove: one canonical DOMAIN, one transaction. */
static int domain_change(struct cli_ctx *ctx, int argc, char **argv, bool add)
{
	if (one_argument(ctx, argc, argv, "DOMAIN") != CLI_OK)
		return CLI_USAGE;
	char domain[ADDRESS_DOMAIN_MAX + 1];
	const char *error;
	if (address_domain_canonical(argv[0], domain, &error) < 0)
		return cli_fail(ctx, CLI_FAIL, "invalid domain %s: %s", argv[0], error);
	struct accounts *acc;
	if (cli_accounts_open(ctx, &acc) < 0)
		return CLI_FAIL;
	int rc = CLI_OK;
	if (accounts_begin(acc) < 0 ||
	    (add ? accounts_domain_add(acc, domain) : accounts_domain_remove(acc, domain)) !=
	        ACCOUNTS_OK ||
	    accounts_commit(acc) < 0) {
		rc = cli_fail(ctx, CLI_FAIL, "cannot %s domain %s: %s", add ? "add" : "remove",
		              domain, accounts_error(acc));
		accounts_rollback(acc);
	} else if (add) {
		sp_buf_printf(&ctx->out, "Added domain %s (with postmaster@%s)\n", domain, domain);
	} else {
		sp_buf_printf(&ctx->out, "Removed domain %s\n", domain);
	}
	accounts_close(&acc);
	return rc;
}

int cli_cmd_domain_add(struct cli_ctx *ctx, int argc, char **argv)
{
	return domain_change(ctx, argc, argv, true);
}

int cli_cmd_domain_list(struct cli_ctx *ctx, int argc, char **argv)
{
	if (argc != 0)
		return cli_fail(ctx, CLI_USAGE, "domain list takes no arguments");
	struct accounts *acc;
	if (cli_accounts_open(ctx, &acc) < 0)
		return CLI_FAIL;
	accounts_domain_list(acc, &ctx->out);
	accounts_close(&acc);
	return CLI_OK;
}

int cli_cmd_domain_remove(struct cli_ctx *ctx, int argc, char **argv)
{
	return domain_change(ctx, argc, argv, false);
}

/* RFC 3986 enough for a webhook: http(s)://host[:port][/path], no spaces. */
static bool valid_webhook(const char *url)
{
	const char *rest;
	if (strncmp(url, "https://", 8) == 0)
		rest = url + 8;
	else if (strncmp(url, "http://", 7) == 0)
		rest = url + 7;
	else
		return false;
	if (*rest == '\0' || *rest == '/' || *rest == ':')
		return false;
	for (const char *p = url; *p != '\0'; p++) {
		if ((unsigned char)*p <= 0x20 || *p == 0x7f || *p == '"' || *p == '<' || *p == '>')
			return false;
	}
	return strlen(url) <= 2048;
}

#define ALIAS_MAX_TARGETS 64

int cli_cmd_alias_add(struct cli_ctx *ctx, int argc, char **argv)
{
	const char *address = NULL;
	const char *forwards[ALIAS_MAX_TARGETS], *webhooks[ALIAS_MAX_TARGETS];
	char forward_store[ALIAS_MAX_TARGETS][ADDRESS_LOCAL_MAX * 2 + ADDRESS_DOMAIN_MAX + 4];
	size_t n_forwards = 0, n_webhooks = 0;
	bool no_mailbox = false;
	uint64_t quota = 0;
	for (int i = 0; i < argc; i++) {
		const char *v;
		if (strcmp(argv[i], "--no-mailbox") == 0) {
			no_mailbox = true;
		} else if ((v = option_value(argc, argv, &i, "--quota")) != NULL) {
			if (sp_parse_size(v, &quota) < 0)
				return cli_fail(ctx, CLI_FAIL,
				                "invalid size %s: use bytes with an optional K, M "
				                "or G suffix",
				                v);
		} else if ((v = option_value(argc, argv, &i, "--forward")) != NULL) {
			struct address fa;
			const char *error;
			if (address_parse(v, &fa, &error) < 0)
				return cli_fail(ctx, CLI_FAIL, "malformed forward address %s: %s",
				                v, error);
			if (n_forwards == ALIAS_MAX_TARGETS)
				return cli_fail(ctx, CLI_FAIL, "too many forward targets (max %d)",
				                ALIAS_MAX_TARGETS);
			/* Keep the tag: forwarding to a subaddress is deliberate. */
			snprintf(forward_store[n_forwards], sizeof(forward_store[0]), "%s%s%s@%s",
			         fa.local, fa.tag[0] ? "+" : "", fa.tag, fa.domain);
			forwards[n_forwards] = forward_store[n_forwards];
			n_forwards++;
		} else if ((v = option_value(argc, argv, &i, "--webhook")) != NULL) {
			if (!valid_webhook(v))
				return cli_fail(
				    ctx, CLI_FAIL,
				    "invalid webhook URL %s: expected http:// or https:// "
				    "and a host",
				    v);
			if (n_webhooks == ALIAS_MAX_TARGETS)
				return cli_fail(ctx, CLI_FAIL, "too many webhooks (max %d)",
				                ALIAS_MAX_TARGETS);
			webhooks[n_webhooks++] = v;
		} else if (argv[i][0] == '-') {
			return cli_fail(ctx, CLI_USAGE, "unknown or incomplete option %s", argv[i]);
		} else if (address == NULL) {
			address = argv[i];
		} else {
			return cli_fail(ctx, CLI_USAGE, "unexpected argument %s", argv[i]);
		}
	}
	if (address == NULL)
		return cli_fail(ctx, CLI_USAGE, "alias add needs an ADDRESS");
	if (no_mailbox && n_forwards == 0 && n_webhooks == 0)
		return cli_fail(ctx, CLI_FAIL,
		                "--no-mailbox needs a --forward or --webhook: the alias would "
		                "deliver nowhere");
	if (no_mailbox && quota != 0)
		return cli_fail(ctx, CLI_FAIL,
		                "--quota applies to a mailbox; not with --no-mailbox");
	struct address addr;
	if (cli_address(ctx, address, &addr) < 0)
		return CLI_FAIL;

	struct accounts *acc;
	if (cli_accounts_open(ctx, &acc) < 0)
		return CLI_FAIL;
	struct cli_new_mailbox mb;
	memset(&mb, 0, sizeof(mb));
	int rc = CLI_OK;
	char canonical[ADDRESS_MAX_LEN + 1];
	address_format(&addr, canonical, sizeof(canonical));
	if (accounts_begin(acc) < 0) {
		rc = cli_fail(ctx, CLI_FAIL, "%s", accounts_error(acc));
		goto out;
	}
	if (!accounts_domain_exists(acc, addr.domain)) {
		rc = cli_fail(ctx, CLI_FAIL, "unknown domain %s: add it with `sealpost domain add`",
		              addr.domain);
		goto rollback;
	}
	if (!no_mailbox && cli_mailbox_create(ctx, acc, quota, &mb) < 0) {
		rc = CLI_FAIL;
		goto rollback;
	}
	enum accounts_err aerr = accounts_alias_add(acc, &addr, no_mailbox ? NULL : mb.id, forwards,
	                                            n_forwards, webhooks, n_webhooks);
	if (aerr != ACCOUNTS_OK) {
		rc = cli_fail(ctx, CLI_FAIL, "cannot add alias %s: %s", canonical,
		              accounts_error(acc));
		goto rollback;
	}
	if (accounts_commit(acc) < 0) {
		rc = cli_fail(ctx, CLI_FAIL, "cannot add alias %s: %s", canonical,
		              accounts_error(acc));
		goto rollback;
	}
	if (no_mailbox) {
		sp_buf_printf(&ctx->out, "Added forward-only alias %s\n", canonical);
	} else {
		sp_buf_printf(&ctx->out, "Added alias %s with a new mailbox\n", canonical);
		sp_buf_printf(&ctx->out, "Recovery key: %s\n", mb.recovery_key);
		sp_buf_printf(&ctx->out, "%s\n", mb.password);
	}
	if (n_forwards > 0 || n_webhooks > 0)
		sp_buf_printf(&ctx->err,
		              "sealpost: note: forwards and webhooks are stored; they take effect "
		              "in a later release\n");
	goto out;
rollback:
	accounts_rollback(acc);
	cli_mailbox_create_abort(ctx, &mb);
out:
	cli_new_mailbox_free(&mb);
	accounts_close(&acc);
	return rc;
}

int cli_cmd_alias_list(struct cli_ctx *ctx, int argc, char **argv)
{
	char domain[ADDRESS_DOMAIN_MAX + 1];
	const char *error;
	if (argc > 1 || (argc == 1 && argv[0][0] == '-'))
		return cli_fail(ctx, CLI_USAGE, "alias list takes at most a DOMAIN");
	if (argc == 1 && address_domain_canonical(argv[0], domain, &error) < 0)
		return cli_fail(ctx, CLI_FAIL, "invalid domain %s: %s", argv[0], error);
	struct accounts *acc;
	if (cli_accounts_open(ctx, &acc) < 0)
		return CLI_FAIL;
	int rc = CLI_OK;
	if (argc == 1 && !accounts_domain_exists(acc, domain))
		rc = cli_fail(ctx, CLI_FAIL, "unknown domain %s", domain);
	else
		accounts_alias_list(acc, argc == 1 ? domain : NULL, &ctx->out);
	accounts_close(&acc);
	return rc;
}

int cli_cmd_alias_remove(struct cli_ctx *ctx, int argc, char **argv)
{
	if (one_argument(ctx, argc, argv, "ADDRESS") != CLI_OK)
		return CLI_USAGE;
	struct address addr;
	if (cli_address(ctx, argv[0], &addr) < 0)
		return CLI_FAIL;
	struct accounts *acc;
	if (cli_accounts_open(ctx, &acc) < 0)
		return CLI_FAIL;
	char orphan[ACCOUNTS_MAILBOX_ID_LEN + 1];
	char canonical[ADDRESS_MAX_LEN + 1];
	address_format(&addr, canonical, sizeof(canonical));
	int rc = CLI_OK;
	if (accounts_begin(acc) < 0 || accounts_alias_remove(acc, &addr, orphan) != ACCOUNTS_OK ||
	    accounts_commit(acc) < 0) {
		rc = cli_fail(ctx, CLI_FAIL, "cannot remove alias %s: %s", canonical,
		              accounts_error(acc));
		accounts_rollback(acc);
		accounts_close(&acc);
		return rc;
	}
	accounts_close(&acc);
	sp_buf_printf(&ctx->out, "Removed alias %s\n", canonical);
	if (orphan[0] != '\0') {
		/* The mailbox row is gone; end its sessions, then one unlink
		 * deletes the mail (DESIGN section 1.3). */
		if (ctx->hooks != NULL && ctx->hooks->mailbox_closed != NULL)
			ctx->hooks->mailbox_closed(orphan);
		cli_mailbox_delete_files(ctx, orphan);
		sp_buf_printf(&ctx->out, "Deleted its mailbox\n");
	}
	return rc;
}

int cli_cmd_status(struct cli_ctx *ctx, int argc, char **argv)
{
	if (argc != 0)
		return cli_fail(ctx, CLI_USAGE, "status takes no arguments");
	struct accounts *acc;
	if (cli_accounts_open(ctx, &acc) < 0)
		return CLI_FAIL;
	sp_buf_printf(&ctx->out, "data directory: %s\n", ctx->data_dir);
	sp_buf_printf(&ctx->out, "server: %s\n", ctx->in_server ? "running" : "not running");
	struct sp_buf domains = SP_BUF_INIT, aliases = SP_BUF_INIT;
	accounts_domain_list(acc, &domains);
	accounts_alias_list(acc, NULL, &aliases);
	size_t nd = 0, na = 0;
	for (size_t i = 0; i < domains.len; i++)
		nd += domains.data[i] == '\n';
	for (size_t i = 0; i < aliases.len; i++)
		na += aliases.data[i] == '\n';
	sp_buf_printf(&ctx->out, "domains: %zu\naliases: %zu\n", nd, na);
	sp_buf_append(&ctx->out, aliases.data, aliases.len);
	sp_buf_deinit(&domains);
	sp_buf_deinit(&aliases);
	accounts_close(&acc);
	return CLI_OK;
}
