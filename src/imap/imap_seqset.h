/* IMAP sequence sets (RFC 3501 §9 sequence-set, RFC 9051 §9, RFC 5182 "$"):
 * parse "1:3,5,7:*" against the largest number in use, normalise to sorted
 * disjoint ranges, test membership, iterate, and format compactly (UIDPLUS
 * COPYUID, ESEARCH ALL, QRESYNC VANISHED).
 *
 * "*" is the largest number in use (RFC 9051 §9 seq-number): the number of
 * messages for sequence numbers, the largest UID for UIDs; the caller
 * passes it as star. A range is unordered ("5:2" == "2:5"), so a UID range
 * "559:*" always contains the last UID even when 559 is above it
 * (RFC 3501 §6.4.8). Numbers above star are kept: it is the caller's
 * decision whether they are an error (sequence numbers) or match nothing
 * (UIDs; see imap_seqset_clamp).
 *
 * A set owns a heap array; imap_seqset_deinit frees it. Nothing returned
 * points into the parsed text. */
#ifndef IMAP_SEQSET_H
#define IMAP_SEQSET_H

#include "lib/sp_buf.h"

struct imap_seq_range {
	uint32_t lo, hi; /* lo <= hi after normalisation */
};

struct imap_seqset {
	struct imap_seq_range *ranges;
	size_t count, cap;
};

#define IMAP_SEQSET_INIT                                                                           \
	{                                                                                          \
		NULL, 0, 0                                                                         \
	}

void imap_seqset_init(struct imap_seqset *set);
void imap_seqset_deinit(struct imap_seqset *set);
void imap_seqset_clear(struct imap_seqset *set);

enum imap_seqset_flags {
	IMAP_SEQSET_ALLOW_SAVED = 1 << 0, /* accept "$" (SEARCHRES, RFC 5182) */
	IMAP_SEQSET_NO_STAR = 1 << 1,     /* reject "*" (QRESYNC known-uids) */
};

/* Parses text (the whole of it) into set, which is cleared first and comes
 * back normalised. "*" becomes star. With IMAP_SEQSET_ALLOW_SAVED, a text
 * of exactly "$" returns 1 and leaves set empty: the caller substitutes the
 * saved search result. 0 on success, -1 with a precise *error_r (static
 * text) on a syntax error: empty element, 0, leading zero, number above
 * 4294967295, stray characters, "$" inside a set. */
int imap_seqset_parse(struct sp_slice text, uint32_t star, unsigned flags, struct imap_seqset *set,
                      const char **error_r);

/* Syntax check only, as for a set stored unresolved in a search program. */
bool imap_seqset_is_valid(struct sp_slice text, unsigned flags);

/* Adds [lo, hi] (either order); the set is no longer normalised. */
void imap_seqset_add_range(struct imap_seqset *set, uint32_t a, uint32_t b);
/* Sorts and merges overlapping and adjacent ranges. */
void imap_seqset_normalize(struct imap_seqset *set);
/* Drops the numbers above max (normalised set). */
void imap_seqset_clamp(struct imap_seqset *set, uint32_t max);

/* Membership in a normalised set: O(log n). */
bool imap_seqset_contains(const struct imap_seqset *set, uint32_t n);
/* Number of members of a normalised set. */
uint64_t imap_seqset_count(const struct imap_seqset *set);
/* Largest member of a normalised set, 0 if empty. */
uint32_t imap_seqset_max(const struct imap_seqset *set);

struct imap_seqset_iter {
	const struct imap_seqset *set;
	size_t range;
	uint64_t next;
};
/* Iterates a normalised set in ascending order. */
void imap_seqset_iter_init(struct imap_seqset_iter *it, const struct imap_seqset *set);
bool imap_seqset_iter_next(struct imap_seqset_iter *it, uint32_t *n_r);

/* Appends the set as "1:3,5,7:9" (ranges in the set's order, each "a" or
 * "lo:hi"); nothing for an empty set. */
void imap_seqset_format(const struct imap_seqset *set, struct sp_buf *out);
/* Appends nums in the given order, merging runs of consecutive ascending
 * numbers: {3,4,5,9,1} -> "3:5,9,1". For COPYUID, whose two sets must
 * correspond element by element. */
void imap_seq_list_format(const uint32_t *nums, size_t count, struct sp_buf *out);

#endif
