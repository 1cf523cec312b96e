/* `sealpost deliver [-f SENDER] -a ADDRESS…`: local delivery for an MTA's
 * pipe transport, like dovecot-lda (issue 11). Reads one message on
 * stdin and seals it into the spool for every address, all or none. Exit
 * codes are sysexits(3), and stderr is one line starting with the
 * enhanced status code, which Postfix's pipe(8) reports:
 *   0 delivered, 64 usage, 67 unknown user, 73 over quota, 75 try later. */
#include "cli/cli.h"
#include "lib/sp_str.h"
#include "lmtp/delivery.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define EX_USAGE 64
#define EX_NOUSER 67
#define EX_CANTCREAT 73
#define EX_TEMPFAIL 75
#define DELIVER_MAX_RCPTS 100
/* Header bytes inspected for existing Return-Path/Delivered-To lines. */
#define DELIVER_HEAD_MAX (256 * 1024)

static int verdict_exit(const struct delivery_verdict *v)
{
	if (v->code / 100 == 4)
		return EX_TEMPFAIL;
	if (strcmp(v->enhanced, "5.2.2") == 0)
		return EX_CANTCREAT;
	return EX_NOUSER;
}

static int deliver_fail(struct cli_ctx *ctx, int code, const char *enhanced, const char *text,
                        const char *address)
{
	sp_buf_printf(&ctx->err, "%s %s%s%s\n", enhanced, text, address ? ": " : "",
	              address ? address : "");
	return code;
}

/* True when the header block in head (up to the first empty line) has a
 * field called name. */
static bool has_field(const struct sp_buf *head, const char *name)
{
	size_t n = strlen(name);
	const char *p = (const char *)head->data;
	const char *end = p + head->len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (len == 0 || (len == 1 && p[0] == '\r'))
			return false; /* end of the header */
		if (len > n && p[n] == ':' && strncasecmp(p, name, n) == 0)
			return true;
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	return false;
}

/* Removes mailbox_id's spool entry of message spool_id. */
static void withdraw(struct spool *spool, const char *mailbox_id, const char *spool_id)
{
	struct spool_entry entries[64];
	char after[SPOOL_NAME_SIZE] = "";
	size_t count;
	const char *error;
	while (spool_list(spool, mailbox_id, after, entries, SP_N_ELEMENTS(entries), &count,
	                  &error) == 0 &&
	       count > 0) {
		for (size_t i = 0; i < count; i++) {
			if (strcmp(entries[i].spool_id, spool_id) == 0)
				spool_entry_remove(spool, mailbox_id, &entries[i], &error);
		}
		sp_strlcpy(after, entries[count - 1].name, sizeof(after));
	}
}

int cli_cmd_deliver(struct cli_ctx *ctx, int argc, char **argv)
{
	const char *sender = "MAILER-DAEMON";
	const char *addresses[DELIVER_MAX_RCPTS];
	size_t n = 0;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "-f") == 0 && i + 1 < argc) {
			sender = argv[++i];
		} else if (strcmp(argv[i], "-a") == 0 && i + 1 < argc) {
			if (n == DELIVER_MAX_RCPTS)
				return deliver_fail(ctx, EX_USAGE, "5.5.3", "Too many recipients",
				                    NULL);
			addresses[n++] = argv[++i];
		} else {
			sp_buf_printf(&ctx->err, "5.5.4 sealpost deliver: unexpected argument %s\n",
			              argv[i]);
			return EX_USAGE;
		}
	}
	if (n == 0)
		return deliver_fail(ctx, EX_USAGE, "5.5.4", "sealpost deliver needs -a ADDRESS",
		                    NULL);
	if (strcmp(sender, "<>") == 0)
		sender = "";

	char *accounts_path = config_path(ctx->cfg, "accounts.db");
	char *spool_dir = config_path(ctx->cfg, "spool");
	struct accounts *acc = NULL;
	struct spool *spool = NULL;
	struct spool_writer *w = NULL;
	struct delivery_rcpt *rcpts = sp_calloc(n, sizeof(*rcpts));
	struct spool_rcpt *srcpts = sp_calloc(n, sizeof(*srcpts));
	struct sp_buf *headers = sp_calloc(n, sizeof(*headers));
	struct sp_buf head = SP_BUF_INIT;
	int *results = sp_calloc(n, sizeof(int));
	size_t unique = 0;
	int rc = EX_TEMPFAIL;
	const char *error;
	if (accounts_open(accounts_path, false, &acc, &error) < 0) {
		rc = deliver_fail(ctx, EX_TEMPFAIL, "4.3.0", "Cannot open accounts.db", NULL);
		goto out;
	}
	if (spool_open(spool_dir, &spool, &error) < 0) {
		rc = deliver_fail(ctx, EX_TEMPFAIL, "4.3.0", "Cannot open the spool", NULL);
		goto out;
	}
	struct delivery_limits limits = {.quota_tempfail = ctx->cfg->quota_tempfail};
	for (size_t i = 0; i < n; i++) {
		struct delivery_verdict v;
		struct delivery_rcpt r;
		delivery_resolve(acc, spool, addresses[i], 0, &limits, &r, &v);
		if (v.code / 100 != 2) {
			rc = deliver_fail(ctx, verdict_exit(&v), v.enhanced, v.text, addresses[i]);
			goto out;
		}
		bool dup = false;
		for (size_t k = 0; k < unique; k++)
			dup = dup || strcmp(rcpts[k].mailbox_id, r.mailbox_id) == 0;
		if (!dup)
			rcpts[unique++] = r;
	}

	/* The head of the message: skip an mbox "From " line, and look at the
	 * header for the lines Postfix's local(8) already added. */
	char buf[65536];
	size_t got;
	bool first = true;
	while (head.len < DELIVER_HEAD_MAX && (got = fread(buf, 1, sizeof(buf), stdin)) > 0) {
		size_t skip = 0;
		if (first && got >= 5 && memcmp(buf, "From ", 5) == 0) {
			const char *nl = memchr(buf, '\n', got);
			skip = nl ? (size_t)(nl - buf) + 1 : got;
		}
		first = false;
		sp_buf_append(&head, buf + skip, got - skip);
		if (memmem(head.data, head.len, "\n\r\n", 3) ||
		    memmem(head.data, head.len, "\n\n", 2))
			break;
	}
	bool keep_return_path = has_field(&head, "Return-Path");
	bool keep_delivered_to = has_field(&head, "Delivered-To");
	int64_t received = (int64_t)time(NULL);
	char hostname[256] = "localhost";
	sp_strlcpy(hostname, ctx->cfg->hostname, sizeof(hostname));
	for (size_t i = 0; i < unique; i++) {
		struct sp_buf all = SP_BUF_INIT;
		delivery_headers(&all, sender, rcpts[i].delivered_to, "localhost", "local",
		                 hostname, "local", "deliver", received);
		/* Drop the lines the MTA already wrote (first two of ours). */
		const char *p = sp_buf_cstr(&all);
		if (keep_return_path)
			p = strstr(p, "\r\n") + 2;
		if (keep_delivered_to)
			p = strstr(p, "\r\n") + 2;
		sp_buf_append_str(&headers[i], p);
		sp_buf_deinit(&all);
		srcpts[i] = (struct spool_rcpt){
		    .mailbox_id = rcpts[i].mailbox_id,
		    .pk = rcpts[i].pk,
		    .folder = "INBOX",
		    .headers = headers[i].data,
		    .headers_len = headers[i].len,
		};
	}
	if (spool_writer_begin(spool, srcpts, unique, received, &w, &error) < 0 ||
	    spool_writer_write(w, head.data, head.len, &error) < 0) {
		rc = deliver_fail(ctx, EX_TEMPFAIL, "4.3.0", "Cannot write to the spool", NULL);
		goto out;
	}
	uint64_t size = head.len;
	while ((got = fread(buf, 1, sizeof(buf), stdin)) > 0) {
		size += got;
		if (size > ctx->cfg->max_message_size) {
			rc = deliver_fail(ctx, EX_CANTCREAT, "5.3.4", "Message too big", NULL);
			goto out;
		}
		if (spool_writer_write(w, buf, got, &error) < 0) {
			rc = deliver_fail(ctx, EX_TEMPFAIL, "4.3.0", "Cannot write to the spool",
			                  NULL);
			goto out;
		}
	}
	if (ferror(stdin)) {
		rc = deliver_fail(ctx, EX_TEMPFAIL, "4.3.0", "Cannot read the message", NULL);
		goto out;
	}
	/* Quota, now that the size is known: all recipients or none. */
	for (size_t i = 0; i < n; i++) {
		struct delivery_verdict v;
		struct delivery_rcpt r;
		delivery_resolve(acc, spool, addresses[i], size, &limits, &r, &v);
		if (v.code / 100 != 2) {
			rc = deliver_fail(ctx, verdict_exit(&v), v.enhanced, v.text, addresses[i]);
			goto out;
		}
	}
	char spool_id[SPOOL_ID_SIZE];
	sp_strlcpy(spool_id, spool_writer_id(w), sizeof(spool_id));
	if (spool_writer_commit(&w, results, &error) < 0) {
		rc = deliver_fail(ctx, EX_TEMPFAIL, "4.3.0", "Cannot save the message", NULL);
		goto out;
	}
	rc = CLI_OK;
	for (size_t i = 0; i < unique; i++)
		rc = results[i] != 0 ? EX_TEMPFAIL : rc;
	if (rc != CLI_OK) {
		/* All or none: withdraw the copies that did land. */
		for (size_t i = 0; i < unique; i++) {
			if (results[i] == 0)
				withdraw(spool, rcpts[i].mailbox_id, spool_id);
		}
		deliver_fail(ctx, EX_TEMPFAIL, "4.3.0", "Cannot save the message", NULL);
	}
out:
	spool_writer_abort(&w);
	spool_close(&spool);
	accounts_close(&acc);
	for (size_t i = 0; i < n; i++)
		sp_buf_deinit(&headers[i]);
	sp_buf_deinit(&head);
	free(headers);
	free(srcpts);
	free(rcpts);
	free(results);
	free(accounts_path);
	free(spool_dir);
	return rc;
}
