/* The in-process change notifier (DESIGN section 4): a delivery, an APPEND
 * or a STORE in one session wakes every other session of that mailbox
 * (IMAP IDLE, later webmail push). Subscribers register per mailbox id;
 * notify_mailbox() calls each of them. Loop thread only. Across machines a
 * Redis pub/sub implementation will take the same interface. */
#ifndef NOTIFY_H
#define NOTIFY_H

#include "lib/sp_mem.h"

enum notify_what {
	NOTIFY_SPOOL = 1u << 0,   /* new sealed mail waits in the spool */
	NOTIFY_CHANGED = 1u << 1, /* the mailbox file changed (modseq moved) */
	NOTIFY_CLOSE = 1u << 2,   /* sessions must end (slot revoked, rekey, delete) */
};

struct notify;
struct notify_sub;

/* what: NOTIFY_* bits; slot_id is set for NOTIFY_CLOSE of one key slot
 * (NULL: every session of the mailbox). */
typedef void notify_fn(void *ctx, const char *mailbox_id, unsigned what, const char *slot_id);

struct notify *notify_new(void);
/* Every subscription must be gone before. NULL ok. */
void notify_free(struct notify **n);

/* The subscription lives until notify_unsubscribe (also from inside fn). */
struct notify_sub *notify_subscribe(struct notify *n, const char *mailbox_id, notify_fn *fn,
                                    void *ctx);
void notify_unsubscribe(struct notify_sub **sub);

/* Calls every subscriber of mailbox_id now; returns how many. */
unsigned notify_mailbox(struct notify *n, const char *mailbox_id, unsigned what,
                        const char *slot_id);

#endif
