/* The LMTP server (RFC 2033): local delivery from an MTA such as Postfix
 * into the sealed spool, one reply per accepted recipient after the data.
 * Commands: LHLO, MAIL, RCPT, DATA, BDAT (RFC 3030), RSET, NOOP, QUIT,
 * VRFY (252); HELO and EHLO are refused (RFC 2033 §4.1). Extensions:
 * PIPELINING, SIZE, 8BITMIME, SMTPUTF8, ENHANCEDSTATUSCODES, CHUNKING.
 * Loop thread only; recipient lookups and spool commits run on workers. */
#ifndef LMTP_H
#define LMTP_H

#include "lmtp/delivery.h"
#include "net/sp_server.h"
#include "net/sp_workers.h"
#include "notify/notify.h"

struct lmtp_config {
	const char *hostname;      /* greeting and Received lines */
	const char *accounts_path; /* DATA_DIR/accounts.db */
	struct spool *spool;
	struct sp_loop *loop;
	struct sp_workers *workers;
	struct sp_work_queue *queue; /* blocking work: lookups and commits */
	struct notify *notify;       /* NOTIFY_SPOOL after each delivery */
	uint64_t max_message;        /* SIZE */
	unsigned max_recipients;
	size_t max_line;
	bool quota_tempfail;
	bool allow_remote; /* accept non-loopback TCP peers */
	uint64_t idle_timeout_ms;
};

struct lmtp_server;

/* The config is copied (strings and pointers must outlive the server). */
struct lmtp_server *lmtp_server_new(const struct lmtp_config *config);
void lmtp_server_free(struct lmtp_server **srv);
/* The sp_listen_config.on_accept callback; ctx is the lmtp_server. */
void lmtp_accept(void *ctx, struct sp_conn *conn);
/* accounts.db may have changed (a CLI command ran through the control
 * socket): forgets the recipients resolved so far. Loop thread. */
void lmtp_server_accounts_changed(struct lmtp_server *srv);

#endif
