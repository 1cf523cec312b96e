/* Draining the sealed spool into a mailbox (DESIGN section 2): the first
 * session that holds the mailbox's keys moves its waiting mail from the
 * spool (src/spool) into the mailbox file. Kept apart from store.h so
 * the store itself does not depend on the spool. */
#ifndef STORE_DRAIN_H
#define STORE_DRAIN_H

#include "spool/spool.h"
#include "store/store.h"

#define STORE_DRAIN_BATCH 64                /* entries per transaction */
#define STORE_DRAIN_BATCH_BYTES (32u << 20) /* bytes per transaction */

struct store_drain_result {
	size_t drained; /* entries appended (or found appended before) */
	size_t failed;  /* entries that could not be opened or read: left
	                 * in the spool (altered, truncated, not ours) */
};

/* Drains every entry of mailbox_id's spool into s: each entry is opened
 * with sk (the mailbox's X25519 secret key), read whole and appended to
 * its folder (INBOX when that folder no longer exists) with INTERNALDATE
 * = its receipt time and its spool id, many entries per transaction;
 * only after a transaction has committed are its entries unlinked. A
 * crash in between leaves entries that the next drain recognises by
 * their spool id and only unlinks, so nothing is lost or doubled.
 * Returns 0 (even when some entries failed: see res_r) or -1 with
 * *error_r when the mailbox could not be written (entries stay). */
int store_drain(struct store_session *s, struct spool *spool, const char *mailbox_id,
                const struct keys_secret *sk, struct store_drain_result *res_r,
                const char **error_r);

#endif
