/* SORT and THREAD (RFC 5256) with DISPLAYFROM/DISPLAYTO (RFC 5957): the pure
 * layer. No I/O, no store: the server runs the search part itself and hands
 * over, for each candidate message, a struct imap_sort_msg.
 *
 * Flow for "UID SORT (REVERSE DATE) UTF-8 UNSEEN":
 *
 *	struct imap_sort_program sort;
 *	size_t k;
 *	if (imap_sort_parse(cmd->args, cmd->arg_count, arena, &sort, &k, &err) < 0)
 *		reply BAD/NO from err;
 *	struct imap_search_program search;
 *	if (imap_search_parse(cmd->args + k, cmd->arg_count - k, arena, 0,
 *	                      &search, &err) < 0)
 *		reply from err;
 *	search.charset = sort.charset;  // imap_search_parse saw no CHARSET
 *	search.utf8 = sort.utf8;
 *	... run search; for each hit fill msgs[i] (uid, seq, INTERNALDATE,
 *	    RFC822.SIZE and the header block of IMAP_SORT_HEADER_FIELDS) ...
 *	const size_t *order = imap_sort_run(msgs, n, &sort, arena);
 *	sp_buf_append_str(out, "* SORT");
 *	imap_sort_write(msgs, order, n, cmd->uid, out);  // " 5 3 9"
 *
 * THREAD is the same with imap_thread_parse and imap_thread_run, which
 * writes the thread list "(2)(3 6 (4 23)(44 7 96))" after "* THREAD ".
 *
 * imap_sort_parse and imap_thread_parse consume the criteria/algorithm and
 * the charset (RFC 5256 §3 "The charset argument is mandatory"); the
 * search keys start at *search_start_r. They refuse a first key of CHARSET
 * or RETURN, which imap_search_parse would otherwise take as its own SEARCH
 * options, so that hand-off above is complete and safe. */
#ifndef IMAP_SORT_H
#define IMAP_SORT_H

#include "imap/imap_parser.h"

#include <time.h>

/* The fields the server fetches for every candidate:
 * BODY.PEEK[HEADER.FIELDS (<this list>)]. */
#define IMAP_SORT_HEADER_FIELDS "DATE SUBJECT FROM TO CC MESSAGE-ID IN-REPLY-TO REFERENCES"

/* What the server fills for each message that the search part matched.
 * header points to the raw header block (CRLF lines ending with the empty
 * line; a missing empty line or bare LFs are tolerated); it is read only
 * during imap_sort_run/imap_thread_run and need not outlive them. */
struct imap_sort_msg {
	uint32_t uid;
	uint32_t seq;          /* sequence number: ties and THREAD order */
	time_t internal_date;  /* INTERNALDATE (ARRIVAL; fallback sent date) */
	uint64_t size;         /* RFC822.SIZE */
	const uint8_t *header; /* may be NULL when header_len is 0 */
	size_t header_len;
};

/* ---- SORT command arguments (RFC 5256 §3, RFC 5957 §4) ---- */

enum imap_sort_criterion {
	IMAP_SORT_ARRIVAL,
	IMAP_SORT_CC,
	IMAP_SORT_DATE,
	IMAP_SORT_FROM,
	IMAP_SORT_SIZE,
	IMAP_SORT_SUBJECT,
	IMAP_SORT_TO,
	IMAP_SORT_DISPLAYFROM, /* RFC 5957 */
	IMAP_SORT_DISPLAYTO,   /* RFC 5957 */
};

#define IMAP_SORT_MAX_KEYS 16

struct imap_sort_key {
	enum imap_sort_criterion criterion;
	bool reverse;
};

struct imap_sort_program {
	struct imap_sort_key keys[IMAP_SORT_MAX_KEYS];
	size_t count;        /* >= 1 */
	const char *charset; /* as sent, NUL-terminated in the arena */
	bool utf8;           /* charset is UTF-8 (else US-ASCII) */
};

/* Parses the arguments of SORT: "(sort-criteria) charset search-keys".
 * On success returns 0, fills *prog_r and sets *search_start_r to the index
 * of the first search key (< count). Returns -1 with *error_r: BAD for bad
 * syntax (unknown criterion, REVERSE not followed by a criterion, empty or
 * missing list, more than IMAP_SORT_MAX_KEYS, missing charset or keys, a
 * first key CHARSET/RETURN), NO [BADCHARSET (US-ASCII UTF-8)] for another
 * charset. Error texts are static or in arena; error_r->tag is NULL. */
int imap_sort_parse(const struct imap_arg *args, size_t count, struct sp_arena *arena,
                    struct imap_sort_program *prog_r, size_t *search_start_r,
                    struct imap_error *error_r);

/* Orders msgs[0..n) by prog (RFC 5256 §3): each key in turn, REVERSE
 * inverting that key only; messages equal on every key are in ascending
 * sequence number order. Returns n indices into msgs, in the arena (NULL
 * when n is 0). O(n log n); temporary memory is the arena's too. */
size_t *imap_sort_run(const struct imap_sort_msg *msgs, size_t n,
                      const struct imap_sort_program *prog, struct sp_arena *arena);

/* Appends " N" for each message in order: its UID when use_uid, else its
 * sequence number (the body of "* SORT"; nothing when n is 0). */
void imap_sort_write(const struct imap_sort_msg *msgs, const size_t *order, size_t n, bool use_uid,
                     struct sp_buf *out);

/* ---- THREAD (RFC 5256 §4-§5) ---- */

enum imap_thread_algorithm {
	IMAP_THREAD_ORDEREDSUBJECT,
	IMAP_THREAD_REFERENCES,
};

struct imap_thread_program {
	enum imap_thread_algorithm algorithm;
	const char *charset; /* as in struct imap_sort_program */
	bool utf8;
};

/* Parses "algorithm charset search-keys" of THREAD; same contract as
 * imap_sort_parse (an unknown algorithm is BAD). */
int imap_thread_parse(const struct imap_arg *args, size_t count, struct sp_arena *arena,
                      struct imap_thread_program *prog_r, size_t *search_start_r,
                      struct imap_error *error_r);

/* Threads msgs[0..n) (any order; they are taken in sequence number order
 * as the RFC requires) and appends the thread list to out, e.g.
 * "(2)(3 6 (4 23)(44 7 96))", nothing when n is 0: UIDs when use_uid,
 * else sequence numbers. Temporary memory comes from arena. O(n log n)
 * plus the References lengths; never recursive, so deep threads are safe. */
void imap_thread_run(const struct imap_sort_msg *msgs, size_t n,
                     enum imap_thread_algorithm algorithm, bool use_uid, struct sp_arena *arena,
                     struct sp_buf *out);

/* ---- Keys (exposed for tests, the fuzzer and other users) ---- */

enum imap_sort_want {
	IMAP_SORT_WANT_SUBJECT = 1u << 0,
	IMAP_SORT_WANT_DATE = 1u << 1,
	IMAP_SORT_WANT_ADDR = 1u << 2,    /* from, to, cc */
	IMAP_SORT_WANT_DISPLAY = 1u << 3, /* display_from, display_to */
	IMAP_SORT_WANT_IDS = 1u << 4,     /* message_id, refs */
	IMAP_SORT_WANT_ALL = 0x1f,
};

/* The sort and thread keys of one message. Strings are NUL-terminated in
 * the arena passed to imap_sort_keys_extract, "" when absent (never NULL
 * except message_id); keys not asked for are "" / 0 / NULL. */
struct imap_sort_keys {
	const char *base_subject; /* RFC 5256 §2.1, UTF-8 */
	size_t base_subject_len;
	bool is_reply_or_fwd; /* §2.1 removed a subj-refwd, "(fwd)" or "[fwd:" */
	time_t sent_date;     /* §2.2: Date in UTC, else INTERNALDATE */
	/* RFC 5256 §3: addr-mailbox (local part, unquoted) of the first
	 * address of From, To and Cc; for a group ("list:;") that is the
	 * group name, as in the first ENVELOPE address structure. */
	const char *from, *to, *cc;
	/* RFC 5957 §3: decoded display name of the first address, else
	 * mailbox@host, else mailbox. As in ENVELOPE, a comment stands in
	 * for a missing display name ("a@b (Ann)" gives "Ann"). */
	const char *display_from, *display_to;
	/* Message-ID without its angle brackets, NULL if none is valid. */
	const char *message_id;
	/* The message's references (RFC 5256 §5 step 1): the msg-ids of
	 * References, or if it has none the first of In-Reply-To; at most
	 * IMAP_THREAD_MAX_REFS (the last ones). Without angle brackets. */
	const char **refs;
	size_t n_refs;
};

#define IMAP_THREAD_MAX_REFS 1000

/* Extracts the keys in want (enum imap_sort_want bits) from msg's header
 * block. Never fails; any bytes are accepted. */
void imap_sort_keys_extract(const struct imap_sort_msg *msg, unsigned want, struct sp_arena *arena,
                            struct imap_sort_keys *keys_r);

/* RFC 5256 §2.1: the base subject of a Subject value (unfolded or not,
 * encoded-words not yet decoded). Returns it NUL-terminated in arena with
 * its length in *len_r; *is_reply_r (optional) says whether a reply or
 * forward marker was removed. */
const char *imap_sort_base_subject(const uint8_t *subject, size_t len, struct sp_arena *arena,
                                   size_t *len_r, bool *is_reply_r);

/* imap_sort_keys_extract for msgs[0..n): an array of n keys in arena. */
struct imap_sort_keys *imap_sort_keys_extract_all(const struct imap_sort_msg *msgs, size_t n,
                                                  unsigned want, struct sp_arena *arena);

/* i;ascii-casemap (RFC 4790 §9.2): octets compared after mapping a-z to
 * A-Z; <0, 0, >0. */
int imap_sort_casemap_cmp(const char *a, size_t alen, const char *b, size_t blen);

/* Stable O(n log n) merge sort of n indices by cmp(a, b, ctx) (<0, 0, >0);
 * scratch from arena. */
typedef int imap_sort_cmp_fn(size_t a, size_t b, const void *ctx);
void imap_sort_indices(size_t *items, size_t n, imap_sort_cmp_fn *cmp, const void *ctx,
                       struct sp_arena *arena);

#endif
