/* The IMAP server (RFC 9051 IMAP4rev2 and RFC 3501 IMAP4rev1 with the
 * extensions listed in docs/imap.md): sessions on sp_conn, login against
 * the key slots, the mailbox's keys held while any of its sessions lives,
 * every store call on a worker, push through the notifier. Loop thread
 * only. */
#ifndef IMAP_H
#define IMAP_H

#include "auth/auth.h"
#include "net/sp_server.h"
#include "net/sp_workers.h"
#include "notify/notify.h"
#include "spool/spool.h"

struct imap_config {
	const char *hostname;      /* greeting */
	const char *accounts_path; /* DATA_DIR/accounts.db */
	const char *mailboxes_dir; /* DATA_DIR/mailboxes */
	struct spool *spool;
	const char *spool_dir; /* watched for deliveries by other processes */
	struct auth *auth;
	struct sp_loop *loop;
	struct sp_workers *workers;
	struct sp_work_queue *store_queue; /* store calls */
	struct sp_work_queue *auth_queue;  /* Argon2id: capped low */
	struct notify *notify;
	uint64_t max_message;     /* APPENDLIMIT */
	uint64_t idle_timeout_ms; /* 0 = 30 minutes (RFC 9051 §5.4) */
	size_t max_line;          /* 0 = parser default */
};

struct imap_server;

/* The config is copied (strings are duplicated; pointers must outlive the
 * server). */
struct imap_server *imap_server_new(const struct imap_config *config);
/* Every session must be closed first (sp_server_free). NULL ok. */
void imap_server_free(struct imap_server **srv);
/* The sp_listen_config.on_accept callback; ctx is the imap_server. */
void imap_accept(void *ctx, struct sp_conn *conn);

/* Ends the sessions of a mailbox (slot_id NULL) or of those that logged
 * in with one key slot, with "* BYE", and wipes the mailbox's keys once
 * its last session is gone. Returns how many sessions were ended. */
unsigned imap_server_close_sessions(struct imap_server *srv, const char *mailbox_id,
                                    const char *slot_id);

#endif
