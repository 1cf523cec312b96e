/* Recipient resolution, quota and per-recipient headers for local
 * delivery (RFC 2033, RFC 5321 §4.4, RFC 3463 status codes). */
#include "lmtp/delivery.h"
#include "lib/sp_str.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static void verdict(struct delivery_verdict *v, unsigned code, const char *enhanced,
                    const char *text)
{
	v->code = code;
	v->enhanced = enhanced;
	v->text = text;
}

void delivery_resolve(struct accounts *acc, struct spool *spool, const char *address,
                      uint64_t declared_size, const struct delivery_limits *limits,
                      struct delivery_rcpt *rcpt, struct delivery_verdict *v)
{
	struct address addr;
	const char *error;
	memset(rcpt, 0, sizeof(*rcpt));
	if (address_parse(address, &addr, &error) < 0) {
		verdict(v, 550, "5.1.3", "Bad recipient address syntax");
		return;
	}
	struct accounts_alias alias;
	enum accounts_err err = accounts_resolve(acc, &addr, &alias);
	if (err == ACCOUNTS_ERR_NOT_FOUND) {
		verdict(v, 550, "5.1.1", "No such user here");
		return;
	}
	if (err != ACCOUNTS_OK) {
		verdict(v, 451, "4.3.0", "Temporary failure looking up the recipient");
		return;
	}
	if (!alias.enabled) {
		verdict(v, 550, "5.2.1", "Mailbox disabled");
		return;
	}
	if (alias.mailbox_id[0] == '\0') {
		/* Forwarding is a later release's work: refusing is honest,
		 * accepting would lose the message. */
		verdict(v, 550, "5.1.1", "No mailbox here (forwarding is not available yet)");
		return;
	}
	struct accounts_mailbox mb;
	memset(&mb, 0, sizeof(mb));
	if (accounts_mailbox_get(acc, alias.mailbox_id, &mb) != ACCOUNTS_OK) {
		verdict(v, 451, "4.3.0", "Temporary failure looking up the mailbox");
		return;
	}
	if (mb.quota != 0) {
		uint64_t spooled = 0, count = 0;
		if (spool_usage(spool, mb.id, &spooled, &count, &error) < 0) {
			accounts_mailbox_deinit(&mb);
			verdict(v, 451, "4.3.0", "Temporary failure checking the quota");
			return;
		}
		uint64_t total = mb.bytes_used + spooled + declared_size;
		if (total > mb.quota || total < mb.bytes_used) {
			accounts_mailbox_deinit(&mb);
			if (limits->quota_tempfail)
				verdict(v, 452, "4.2.2", "Mailbox full");
			else
				verdict(v, 552, "5.2.2", "Mailbox full");
			return;
		}
	}
	sp_strlcpy(rcpt->address, alias.address, sizeof(rcpt->address));
	snprintf(rcpt->delivered_to, sizeof(rcpt->delivered_to), "%s%s%s@%s", addr.local,
	         addr.tag[0] ? "+" : "", addr.tag, addr.domain);
	sp_strlcpy(rcpt->mailbox_id, mb.id, sizeof(rcpt->mailbox_id));
	memcpy(rcpt->pk, mb.public_key, sizeof(rcpt->pk));
	rcpt->no_quota = mb.quota == 0;
	accounts_mailbox_deinit(&mb);
	verdict(v, 250, "2.1.5", "OK");
}

/* Appends s with control characters replaced, so no peer-supplied value
 * can end a header line or inject another one. */
static void append_clean(struct sp_buf *out, const char *s)
{
	for (; *s != '\0'; s++) {
		uint8_t c = (uint8_t)*s;
		sp_buf_append_byte(out, (c < 0x20 || c == 0x7f) ? '?' : c);
	}
}

void delivery_headers(struct sp_buf *out, const char *sender, const char *rcpt, const char *helo,
                      const char *peer, const char *hostname, const char *proto, const char *id,
                      int64_t received)
{
	char date[64];
	time_t t = (time_t)received;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	sp_buf_append_str(out, "Return-Path: <");
	append_clean(out, sender);
	sp_buf_append_str(out, ">\r\nDelivered-To: ");
	append_clean(out, rcpt);
	sp_buf_append_str(out, "\r\nReceived: from ");
	append_clean(out, helo[0] ? helo : "unknown");
	sp_buf_append_str(out, " (");
	append_clean(out, peer);
	sp_buf_append_str(out, ")\r\n\tby ");
	append_clean(out, hostname);
	sp_buf_append_str(out, " (Sealpost) with ");
	append_clean(out, proto);
	sp_buf_append_str(out, " id ");
	append_clean(out, id);
	sp_buf_append_str(out, "\r\n\tfor <");
	append_clean(out, rcpt);
	sp_buf_printf(out, ">; %s\r\n", date);
}
