/* SEARCH / UID SEARCH: the parser's program (imap_search_parse.h) to a
 * struct store_query, and the matching UIDs to the untagged SEARCH or
 * ESEARCH response (RFC 9051 §6.4.4, §7.3.4; RFC 3501 §6.4.4, §7.2.5;
 * RFC 4731 ESEARCH; RFC 5182 SEARCHRES; RFC 7162 §3.1.5 MODSEQ).
 *
 * Pure: no store calls. Sequence numbers never reach the store: they are
 * turned into UID ranges through the session's sequence map, so the
 * store's view (which may already hold messages the session has not
 * announced) cannot shift them. For the same reason the formatters drop
 * every UID that is not in the map. */
#ifndef IMAP_SEARCH_QUERY_H
#define IMAP_SEARCH_QUERY_H

#include "imap/imap_search_parse.h"
#include "imap/imap_seqset.h"
#include "store/store.h"

struct imap_search_ctx {
	/* The session's sequence map: uids[seq - 1], ascending; n messages. */
	const uint32_t *uids;
	size_t n;
	/* The saved result for "$" (RFC 5182), as UIDs; NULL or empty when
	 * nothing was saved (then "$" matches nothing, RFC 5182 §2.1). */
	const struct imap_seqset *saved;
	/* The session's \Recent messages (RFC 3501 §2.3.2), as UIDs; NULL or
	 * empty when none. */
	const struct imap_seqset *recent;
};

/* Builds the store query for prog in arena (valid until it is reset; its
 * strings point into prog, whose arena must live as long). Never fails (the parser validated every
 * sequence set):
 *  - message sequence sets: "*" is n; numbers above n match nothing;
 *    each range becomes the UID range between its first and last
 *    message (STORE_Q_UID, never STORE_Q_SEQ); on an empty mailbox any
 *    set matches nothing;
 *  - UID sets: "*" is the largest UID in the map (RFC 3501 §6.4.8: "559:*"
 *    includes it even when it is lower); on an empty mailbox any set
 *    matches nothing (nothing could be reported anyway);
 *  - "$": the saved UIDs, for both kinds of set;
 *  - RECENT and NEW match nothing, OLD everything (no \Recent is kept);
 *    SAVEDATESUPPORTED everything (the store keeps save dates);
 *  - MODSEQ: the optional entry name and type are accepted and ignored
 *    (there are no per-flag mod-sequences; Dovecot does the same);
 *  - nested ANDs and ORs are merged, NOT NOT x is x, an AND of one key
 *    is that key, ALL inside an AND is dropped. */
struct store_query *imap_search_query_build(const struct imap_search_program *prog,
                                            const struct imap_search_ctx *ctx,
                                            struct sp_arena *arena);

/* True when a message sequence set of prog names a number above n (or
 * "*" on an empty mailbox). RFC 9051 §9 (seq-number) says the server
 * SHOULD reply BAD to such a command; imap_search_query_build treats
 * those numbers as matching nothing instead. The server decides. */
bool imap_search_seq_out_of_range(const struct imap_search_program *prog, size_t n);

struct imap_search_reply {
	const char *tag;       /* the command's tag, for ESEARCH (TAG "...") */
	bool uid;              /* UID SEARCH: UIDs, and ESEARCH says UID */
	bool imap4rev2;        /* RFC 9051 §6.4.4: always ESEARCH, no RETURN = ALL */
	const uint32_t *match; /* matching UIDs from the store, ascending */
	size_t n_match;
	const uint64_t *modseqs; /* per match (MODSEQ of match[i]), needed
	                          * only when prog->uses_modseq; may be NULL */
	const uint32_t *map;     /* the sequence map, as in imap_search_ctx */
	size_t map_n;
};

/* Appends the untagged reply to out:
 *  - `* SEARCH 2 5 9\r\n` (`* SEARCH\r\n` when empty) when the command had
 *    no RETURN and the session is not IMAP4rev2; with a MODSEQ key (which
 *    enables CONDSTORE, RFC 7162 §3.1) and modseqs, ` (MODSEQ n)` with the highest MODSEQ of the
 * listed messages, when n > 0 (RFC 7162 §3.1.5);
 *  - otherwise `* ESEARCH (TAG "A282") UID MIN 2 MAX 9 COUNT 3 ALL 2,5,9`
 *    (RFC 4731 §3.1): the requested items in that order, MIN/MAX and ALL
 *    left out for an empty result (COUNT 0 is sent), ALL as a compact
 *    sequence set; with a MODSEQ key, ` MODSEQ n` (RFC 7162 §3.1.5): the
 *    highest of all the matches when ALL or COUNT was asked for,
 *    otherwise of the MIN/MAX messages;
 *  - nothing when SAVE is the only return option (RFC 5182 §2.4).
 * Matches not in the map are left out; non-UID replies give sequence
 * numbers. */
void imap_search_reply_format(const struct imap_search_program *prog,
                              const struct imap_search_reply *r, struct sp_buf *out);

/* RFC 5182 §2.4: the UIDs SEARCH RETURN (SAVE ...) saves: all the matches,
 * except with MIN and/or MAX but neither ALL nor COUNT, where only those
 * messages. set is cleared first; matches not in the map are left out. */
void imap_search_saved_result(const struct imap_search_program *prog,
                              const struct imap_search_reply *r, struct imap_seqset *set);

#endif
