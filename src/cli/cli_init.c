/* `sealpost init`: an empty data directory (commented config, accounts.db,
 * a self-signed certificate) and no domain; --demo adds example.test and
 * demo@example.test for the README's run command (DESIGN section 8). */
#include "cli/cli.h"
#include "lib/sp_str.h"
#include "net/sp_tls.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int make_dir(struct cli_ctx *ctx, const char *path, mode_t mode)
{
	if (mkdir(path, mode) < 0 && errno != EEXIST)
		return cli_fail(ctx, CLI_FAIL, "cannot create %s: %s", path, strerror(errno));
	/* An existing directory gets the intended mode too. */
	if (chmod(path, mode) < 0)
		return cli_fail(ctx, CLI_FAIL, "cannot chmod %s: %s", path, strerror(errno));
	return CLI_OK;
}

static int write_file(struct cli_ctx *ctx, const char *path, const struct sp_buf *content,
                      mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return cli_fail(ctx, CLI_FAIL, "cannot create %s: %s", path, strerror(errno));
	ssize_t n = write(fd, content->data, content->len);
	if (n != (ssize_t)content->len || fsync(fd) < 0) {
		close(fd);
		unlink(path);
		return cli_fail(ctx, CLI_FAIL, "cannot write %s: %s", path, strerror(errno));
	}
	close(fd);
	return CLI_OK;
}

int cli_cmd_init(struct cli_ctx *ctx, int argc, char **argv)
{
	bool demo = false;
	char hostname[256] = "";
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--demo") == 0) {
			demo = true;
		} else if (strcmp(argv[i], "--hostname") == 0 && i + 1 < argc) {
			sp_strlcpy(hostname, argv[++i], sizeof(hostname));
		} else if (strncmp(argv[i], "--hostname=", 11) == 0) {
			sp_strlcpy(hostname, argv[i] + 11, sizeof(hostname));
		} else {
			return cli_fail(ctx, CLI_USAGE, "unexpected argument %s", argv[i]);
		}
	}
	if (hostname[0] == '\0' && (gethostname(hostname, sizeof(hostname)) < 0 || !hostname[0]))
		sp_strlcpy(hostname, "localhost", sizeof(hostname));
	hostname[sizeof(hostname) - 1] = '\0';
	for (const char *p = hostname; *p != '\0'; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '.'))
			return cli_fail(ctx, CLI_FAIL, "invalid host name %s", hostname);
	}

	/* Like mkdir -p for the parents: they get the default mode. */
	char parent[4096];
	sp_strlcpy(parent, ctx->data_dir, sizeof(parent));
	for (char *p = parent + 1; *p != '\0'; p++) {
		if (*p == '/') {
			*p = '\0';
			if (mkdir(parent, 0755) < 0 && errno != EEXIST)
				return cli_fail(ctx, CLI_FAIL, "cannot create %s: %s", parent,
				                strerror(errno));
			*p = '/';
		}
	}
	if (make_dir(ctx, ctx->data_dir, 0750) != CLI_OK)
		return CLI_FAIL;
	struct sp_buf err = SP_BUF_INIT;
	int lock = cli_lock_data_dir(ctx->data_dir, false, &err);
	if (lock < 0) {
		int rc = cli_fail(ctx, CLI_FAIL, "%s",
		                  err.len ? sp_buf_cstr(&err) : "a server is running on it");
		sp_buf_deinit(&err);
		return rc;
	}
	int rc = CLI_FAIL;
	char *accounts_path = config_path(ctx->cfg, "accounts.db");
	char *conf_path = config_path(ctx->cfg, "sealpost.conf");
	char *tls_dir = config_path(ctx->cfg, "tls");
	char *cert = config_path(ctx->cfg, ctx->cfg->tls_cert);
	char *key = config_path(ctx->cfg, ctx->cfg->tls_key);
	char *run_dir = config_path(ctx->cfg, "run");
	char *mb_dir = config_path(ctx->cfg, "mailboxes");
	if (access(accounts_path, F_OK) == 0) {
		cli_fail(ctx, CLI_FAIL, "%s is already initialised", ctx->data_dir);
		goto out;
	}
	if (make_dir(ctx, tls_dir, 0700) != CLI_OK || make_dir(ctx, run_dir, 0755) != CLI_OK ||
	    make_dir(ctx, mb_dir, 0700) != CLI_OK)
		goto out;
	if (access(conf_path, F_OK) != 0) {
		struct sp_buf conf = SP_BUF_INIT;
		config_write_default(&conf, hostname);
		int wrc = write_file(ctx, conf_path, &conf, 0640);
		sp_buf_deinit(&conf);
		if (wrc != CLI_OK)
			goto out;
	}
	if (access(cert, F_OK) != 0 || access(key, F_OK) != 0) {
		const char *hosts[] = {hostname, "localhost", "127.0.0.1", "::1"};
		const char *error;
		/* "localhost" twice would be a duplicate SAN entry. */
		size_t skip = strcmp(hostname, "localhost") == 0 ? 1 : 0;
		if (sp_tls_generate_self_signed(cert, key, hosts + skip,
		                                SP_N_ELEMENTS(hosts) - skip, SP_TLS_KEY_EC_P256,
		                                &error) < 0) {
			cli_fail(ctx, CLI_FAIL, "cannot create the TLS certificate: %s", error);
			goto out;
		}
	}
	struct accounts *acc;
	const char *error;
	if (accounts_open(accounts_path, true, &acc, &error) < 0) {
		cli_fail(ctx, CLI_FAIL, "%s", error);
		goto out;
	}
	accounts_close(&acc);
	sp_buf_printf(&ctx->out, "Initialised %s (host name %s)\n", ctx->data_dir, hostname);
	rc = CLI_OK;
	if (demo) {
		char domain[] = "example.test", address[] = "demo@example.test";
		char *dargv[] = {domain}, *aargv[] = {address};
		rc = cli_cmd_domain_add(ctx, 1, dargv);
		if (rc == CLI_OK)
			rc = cli_cmd_alias_add(ctx, 1, aargv);
	}
out:
	close(lock);
	sp_buf_deinit(&err);
	free(accounts_path);
	free(conf_path);
	free(tls_dir);
	free(cert);
	free(key);
	free(run_dir);
	free(mb_dir);
	return rc;
}
