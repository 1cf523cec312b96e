/* Local delivery, shared by the LMTP server and `sealpost deliver`:
 * resolving a recipient with its quota, the per-recipient header lines
 * that travel in its sealed spool stanza (Return-Path, Delivered-To,
 * Received), and SMTP-style verdicts that each front end maps to its own
 * replies (LMTP codes, sysexits). Blocking (SQLite): worker threads only. */
#ifndef LMTP_DELIVERY_H
#define LMTP_DELIVERY_H

#include "accounts/accounts.h"
#include "spool/spool.h"

/* A verdict: an SMTP reply code with its enhanced status and text. */
struct delivery_verdict {
	unsigned code;        /* 250, 452, 550, 552, ... */
	const char *enhanced; /* "2.1.5", "5.1.1", ... */
	const char *text;     /* static */
};

struct delivery_rcpt {
	char address[ADDRESS_MAX_LEN + 1];          /* the alias, canonical */
	char delivered_to[ADDRESS_MAX_LEN * 2 + 2]; /* as addressed, +tag kept, canonical case */
	char mailbox_id[ACCOUNTS_MAILBOX_ID_LEN + 1];
	uint8_t pk[KEYS_KEY_LEN];
	bool no_quota; /* the mailbox has none: the verdict is accounts.db's alone */
};

struct delivery_limits {
	bool quota_tempfail; /* 452 4.2.2 instead of 552 5.2.2 */
};

/* Resolves address (as given by the client, without brackets) for a
 * message of declared_size bytes (0 when unknown). Fills *rcpt when the
 * verdict is 2xx. Checks: malformed (501 5.1.3), unknown (550 5.1.1),
 * disabled (550 5.2.1), forward-only (550 5.1.1: forwarding comes in a
 * later release), over quota counting stored + spooled + declared bytes
 * (552 5.2.2 or 452 4.2.2), accounts.db errors (451 4.3.0). */
void delivery_resolve(struct accounts *acc, struct spool *spool, const char *address,
                      uint64_t declared_size, const struct delivery_limits *limits,
                      struct delivery_rcpt *rcpt, struct delivery_verdict *verdict_r);

/* The header lines prepended for one recipient (RFC 5321 §4.4): a
 * Return-Path with the envelope sender, Delivered-To with the recipient,
 * and a Received line naming the peer, this host, the protocol and the
 * time. Appended to out, each line ending in CRLF. Values are sanitised:
 * no CR, LF or NUL reaches a header. */
void delivery_headers(struct sp_buf *out, const char *sender, const char *rcpt, const char *helo,
                      const char *peer, const char *hostname, const char *proto, const char *id,
                      int64_t received);

#endif
