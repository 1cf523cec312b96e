/* The control socket: DATA_DIR/run/control.sock, mode 0600, owned by the
 * server's user and checked with SO_PEERCRED (root or that same user). A
 * CLI command that finds the data directory locked by `serve` sends its
 * argv and the password it read; the server runs the very same handler
 * with hooks into its live sessions and returns exit code, stdout, stderr.
 *
 * Wire format (all integers u32 big-endian): "SPCTL1" argc {len bytes}…
 * pwlen bytes  ->  code outlen bytes errlen bytes. */
#include "cli/cli.h"
#include "lib/sp_log.h"
#include "lib/sp_str.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define CONTROL_MAGIC "SPCTL1"
#define CONTROL_MAX_ARGS 64
#define CONTROL_MAX_ARG 4096
#define CONTROL_MAX_REPLY (16 * 1024 * 1024)

char *cli_control_path(const char *data_dir)
{
	struct sp_buf b = SP_BUF_INIT;
	sp_buf_printf(&b, "%s/run/control.sock", data_dir);
	return sp_buf_steal(&b);
}

static int write_all(int fd, const void *p, size_t len)
{
	const uint8_t *b = p;
	while (len > 0) {
		ssize_t n = write(fd, b, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

static int read_all(int fd, void *p, size_t len)
{
	uint8_t *b = p;
	while (len > 0) {
		ssize_t n = read(fd, b, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

static void put_u32(struct sp_buf *b, uint32_t v)
{
	uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
	sp_buf_append(b, x, 4);
}

static int read_u32(int fd, uint32_t *v)
{
	uint8_t x[4];
	if (read_all(fd, x, 4) < 0)
		return -1;
	*v = (uint32_t)x[0] << 24 | (uint32_t)x[1] << 16 | (uint32_t)x[2] << 8 | x[3];
	return 0;
}

/* Reads a u32-prefixed string of at most max bytes into a fresh buffer. */
static int read_blob(int fd, uint32_t max, struct sp_buf *out)
{
	uint32_t len;
	if (read_u32(fd, &len) < 0 || len > max)
		return -1;
	sp_buf_reserve(out, len);
	if (read_all(fd, out->data + out->len, len) < 0)
		return -1;
	out->len += len;
	out->data[out->len] = '\0';
	return 0;
}

int cli_control_forward(struct cli_ctx *ctx, int argc, char **argv)
{
	char *path = cli_control_path(ctx->data_dir);
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	if (sp_strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >= sizeof(sun.sun_path)) {
		free(path);
		return -1;
	}
	free(path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		close(fd);
		return -1;
	}
	struct sp_buf req = SP_BUF_INIT;
	sp_buf_append_str(&req, CONTROL_MAGIC);
	put_u32(&req, (uint32_t)argc);
	for (int i = 0; i < argc; i++) {
		put_u32(&req, (uint32_t)strlen(argv[i]));
		sp_buf_append_str(&req, argv[i]);
	}
	size_t pwlen = ctx->password ? strlen(ctx->password) : 0;
	put_u32(&req, (uint32_t)pwlen);
	int rc = -1;
	uint32_t code;
	/* The password goes in its own write so it never sits in req. */
	if (write_all(fd, req.data, req.len) == 0 &&
	    (pwlen == 0 || write_all(fd, ctx->password, pwlen) == 0) && read_u32(fd, &code) == 0 &&
	    read_blob(fd, CONTROL_MAX_REPLY, &ctx->out) == 0 &&
	    read_blob(fd, CONTROL_MAX_REPLY, &ctx->err) == 0)
		rc = (int)code;
	sp_buf_deinit(&req);
	close(fd);
	return rc;
}

void cli_control_serve_fd(int fd, struct config *cfg, const struct cli_hooks *hooks)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
	    (cred.uid != 0 && cred.uid != geteuid())) {
		sp_log_warn("control", "event=refused uid=%d", (int)cred.uid);
		return;
	}
	char magic[sizeof(CONTROL_MAGIC) - 1];
	uint32_t argc;
	if (read_all(fd, magic, sizeof(magic)) < 0 || memcmp(magic, CONTROL_MAGIC, sizeof(magic)) ||
	    read_u32(fd, &argc) < 0 || argc == 0 || argc > CONTROL_MAX_ARGS)
		return;
	struct sp_buf args[CONTROL_MAX_ARGS];
	char *argv[CONTROL_MAX_ARGS + 1];
	uint32_t n = 0;
	struct cli_ctx ctx;
	memset(&ctx, 0, sizeof(ctx));
	bool ok = true;
	for (; n < argc && ok; n++) {
		sp_buf_init(&args[n]);
		ok = read_blob(fd, CONTROL_MAX_ARG, &args[n]) == 0 &&
		     strlen(sp_buf_cstr(&args[n])) == args[n].len;
		argv[n] = (char *)sp_buf_cstr(&args[n]);
	}
	argv[n] = NULL;
	uint32_t pwlen = 0;
	if (ok && read_u32(fd, &pwlen) == 0 && pwlen <= 1024) {
		if (pwlen > 0) {
			ctx.password = sodium_malloc(pwlen + 1);
			if (ctx.password == NULL)
				sp_panic("sodium_malloc failed");
			ok = read_all(fd, ctx.password, pwlen) == 0;
			ctx.password[pwlen] = '\0';
		}
	} else {
		ok = false;
	}
	int consumed = 0;
	const struct cli_command *cmd = ok ? cli_find_command((int)argc, argv, &consumed) : NULL;
	if (cmd != NULL && !cmd->local_only) {
		ctx.data_dir = cfg->data_dir;
		ctx.cfg = cfg;
		ctx.hooks = hooks;
		ctx.in_server = true;
		int code = cmd->run(&ctx, (int)argc - consumed, argv + consumed);
		sp_log_info("control", "event=command name=\"%s\" code=%d", cmd->name, code);
		struct sp_buf reply = SP_BUF_INIT;
		put_u32(&reply, (uint32_t)code);
		put_u32(&reply, (uint32_t)ctx.out.len);
		sp_buf_append(&reply, ctx.out.data, ctx.out.len);
		put_u32(&reply, (uint32_t)ctx.err.len);
		sp_buf_append(&reply, ctx.err.data, ctx.err.len);
		if (write_all(fd, reply.data, reply.len) < 0)
			sp_log_warn("control", "event=reply_failed");
		/* The reply may carry a new password: wipe it. */
		sodium_memzero(reply.data, reply.len);
		sp_buf_deinit(&reply);
	}
	if (ctx.out.data != NULL)
		sodium_memzero(ctx.out.data, ctx.out.len);
	sp_buf_deinit(&ctx.out);
	sp_buf_deinit(&ctx.err);
	if (ctx.password != NULL)
		sodium_free(ctx.password);
	for (uint32_t i = 0; i < n; i++)
		sp_buf_deinit(&args[i]);
}
