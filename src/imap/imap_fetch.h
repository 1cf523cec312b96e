/* The pure FETCH, flags and date-time layer of the IMAP server: FETCH
 * arguments to a store request plus an output plan (RFC 9051 §6.4.5, BINARY
 * RFC 3516, CONDSTORE/QRESYNC RFC 7162 §3.1.4/§3.2.6, OBJECTID RFC 8474,
 * SAVEDATE RFC 8514), one store message to an untagged FETCH response
 * (RFC 9051 §7.5.2), flag lists for STORE/APPEND and the date-time of
 * INTERNALDATE/APPEND (RFC 9051 §9). No I/O, no session and no store calls:
 * only the store's types are used.
 *
 * Errors: functions return 0 or -1 with *error_r set to the text of a BAD
 * reply (protocol words only, never message data); the text is static or
 * in the arena passed in. */
#ifndef IMAP_FETCH_H
#define IMAP_FETCH_H

#include "imap/imap_parser.h"
#include "store/store.h"

/* ---- FETCH ---- */

/* imap_fetch_parse() flags */
#define IMAP_FETCH_UID (1u << 0)     /* UID FETCH: responses always carry UID */
#define IMAP_FETCH_QRESYNC (1u << 1) /* QRESYNC enabled: VANISHED allowed */

/* More distinct store sections than this in one FETCH are refused (the
 * store's own limit). */
#define IMAP_FETCH_MAX_SECTIONS 256

enum imap_fetch_att {
	IMAP_FETCH_ATT_UID,
	IMAP_FETCH_ATT_FLAGS,
	IMAP_FETCH_ATT_INTERNALDATE,
	IMAP_FETCH_ATT_RFC822_SIZE,
	IMAP_FETCH_ATT_ENVELOPE,
	IMAP_FETCH_ATT_BODY,          /* non-extended BODYSTRUCTURE */
	IMAP_FETCH_ATT_BODYSTRUCTURE, /* extended */
	IMAP_FETCH_ATT_MODSEQ,
	IMAP_FETCH_ATT_EMAILID,
	IMAP_FETCH_ATT_THREADID,
	IMAP_FETCH_ATT_SAVEDATE,
	/* data of req.sections[section], written as "<name> <literal>":
	 * BODY[...], BODY.PEEK[...] (named BODY[...]), RFC822, RFC822.HEADER
	 * and RFC822.TEXT */
	IMAP_FETCH_ATT_SECTION,
	/* BINARY[...] / BINARY.PEEK[...]: a literal8 when the data holds NUL */
	IMAP_FETCH_ATT_BINARY,
	/* BINARY.SIZE[...]: a number */
	IMAP_FETCH_ATT_BINARY_SIZE,
};

struct imap_fetch_item {
	enum imap_fetch_att att;
	/* SECTION, BINARY, BINARY_SIZE: index into spec.req.sections and the
	 * response name ("BODY[1.HEADER.FIELDS (From)]<0>", "RFC822",
	 * "BINARY[2]"); for other items name is the item's response name */
	size_t section;
	const char *name;
};

struct imap_fetch_spec {
	/* The store request: items, sections (deduplicated), n_sections and
	 * changedsince are filled in; uids is left empty for the caller.
	 * STORE_FETCH_FLAGS is included whenever sets_seen, so the caller has
	 * the keywords to send FLAGS after it set \Seen. */
	struct store_fetch_req req;
	/* The response items in request order, without duplicates. */
	const struct imap_fetch_item *items;
	size_t n_items;
	bool uid_fetch;         /* parsed with IMAP_FETCH_UID */
	bool sets_seen;         /* a non-PEEK BODY[]/BINARY[], RFC822 or RFC822.TEXT
	                         * (RFC 9051 §6.4.5): set \Seen unless read-only */
	bool has_changedsince;  /* (CHANGEDSINCE n): req.changedsince = n > 0;
	                         * every response then carries MODSEQ (RFC 7162
	                         * §3.1.4.1), and the client has enabled CONDSTORE */
	bool vanished;          /* (CHANGEDSINCE n VANISHED), RFC 7162 §3.2.6 */
	bool enables_condstore; /* MODSEQ asked or CHANGEDSINCE given: a
	                         * CONDSTORE enabling command (RFC 7162 §3.1) */
};

/* Parses the FETCH arguments after the sequence set (args[0..count)): a
 * macro (ALL, FAST, FULL), one item or a parenthesised list of items, then
 * optionally a modifier list. Item names are case-insensitive. flags:
 * IMAP_FETCH_*. Everything in *spec_r is allocated in arena (nothing
 * points into args) and stays valid until the arena is reset.
 * Returns 0, or -1 with *error_r the text for a tagged BAD. */
int imap_fetch_parse(const struct imap_arg *args, size_t count, unsigned flags,
                     struct sp_arena *arena, struct imap_fetch_spec *spec_r, const char **error_r);

/* imap_fetch_format() flags */
#define IMAP_FETCH_FMT_UID (1u << 0) /* add UID if not requested */
#define IMAP_FETCH_FMT_MODSEQ                                                                      \
	(1u << 1) /* add MODSEQ if not requested                                                   \
	           * (CHANGEDSINCE, CONDSTORE active) */
#define IMAP_FETCH_FMT_FLAGS                                                                       \
	(1u << 2) /* add FLAGS if not requested (after                                             \
	           * an implicit \Seen changed them) */

/* True when a BINARY[...] or BINARY.SIZE[...] section of m could not be
 * decoded (unknown Content-Transfer-Encoding): the command must then fail
 * with "NO [UNKNOWN-CTE]" (RFC 3516 §4.3) instead of this response. */
bool imap_fetch_unknown_cte(const struct imap_fetch_spec *spec, const struct store_message *m);

/* Appends one complete untagged response "* <seq> FETCH (...)\r\n" for m,
 * which the store produced for spec->req (m->sections has
 * spec->req.n_sections entries). Items come in request order; an added
 * UID comes first, added FLAGS and MODSEQ last. Section data always goes
 * out as a literal; a missing part is NIL; BINARY data holding NUL is a
 * literal8 ~{n}; BODY data holding NUL (a broken message) has each NUL
 * sent as 0x80, since a plain literal cannot carry NUL (RFC 9051 §4.3).
 * m->flags should be the flags as they are now (after an implicit \Seen).
 * A missing ENVELOPE/BODY/BODYSTRUCTURE/EMAILID text (a store bug) goes
 * out as NIL rather than crashing the session. */
void imap_fetch_format(struct sp_buf *out, uint32_t seq, const struct imap_fetch_spec *spec,
                       const struct store_message *m, unsigned fmt_flags);

/* ---- Flags ---- */

/* imap_flags_parse() flags */
#define IMAP_FLAGS_BARE                                                                            \
	(1u << 0) /* STORE: flags may also come as one or more                                     \
	           * bare flags instead of a list (RFC 9051                                        \
	           * §6.4.6 store-att-flags) */

/* Parses a flag list (args[0..count)): with count 1 and a list argument,
 * the list's flags (may be empty: "()"); with IMAP_FLAGS_BARE, otherwise
 * every argument must be one flag. A flag is a system flag (\Seen
 * \Answered \Flagged \Deleted \Draft, case-insensitive) or a keyword: an
 * atom without atom-specials (RFC 9051 §9 flag-keyword) of at most
 * STORE_KEYWORD_MAX octets, kept as sent. Duplicate keywords (compared
 * ASCII case-insensitively, RFC 9051 §2.3.2) are kept once; more than
 * STORE_KEYWORDS_MAX distinct keywords are refused.
 * Refused with BAD: \Recent (RFC 3501 §9 flag: "Does not include
 * \Recent"; RFC 9051 dropped it and clients cannot set it in either), \*
 * (only meaningful in PERMANENTFLAGS), any other unknown \system flag
 * (flag-extension: we define none), strings and nested lists.
 * *flags_r gets store_flag bits; *keywords_r (*n_r of them, NULL when 0)
 * and the keywords are NUL-terminated copies in arena. */
int imap_flags_parse(const struct imap_arg *args, size_t count, unsigned parse_flags,
                     struct sp_arena *arena, unsigned *flags_r, const char ***keywords_r,
                     size_t *n_r, const char **error_r);

/* Appends "(\Seen \Answered \Flagged \Deleted \Draft kw1 kw2)" with the
 * set store_flag bits in that order, then the keywords as given. Never
 * \Recent (the store keeps none). */
void imap_flags_format(struct sp_buf *out, unsigned flags, const char *const *keywords, size_t n);
/* Not a store flag: the session's \Recent (RFC 3501 §2.3.2), which
 * imap_flags_format writes after the system flags when set in flags. */
#define IMAP_FLAG_RECENT (1u << 16)

/* ---- date-time ---- */

/* Parses the contents of an RFC 9051 §9 date-time (without the quotes):
 * "dd-Mmm-yyyy hh:mm:ss +zzzz", day space-padded (" 1-Jan-2024") or two
 * digits; a single-digit day without padding ("1-Jan-2024") is accepted
 * too, as most servers do. Month names are case-insensitive; the date is
 * checked against the calendar (29-Feb only in leap years), year 1..9999,
 * seconds up to 60 (a leap second counts as the next second), zone hours
 * up to 23. *t_r is the instant (UTC seconds), *offset_minutes_r the
 * zone in minutes east of UTC. Returns 0 or -1. */
int imap_datetime_parse(struct sp_slice text, time_t *t_r, int *offset_minutes_r);

/* Appends "\"17-Jul-1996 02:44:25 -0700\"" (quotes included): t shown in
 * the zone offset_minutes east of UTC, day as two digits. An offset of
 * 24 hours or more (not valid in the grammar) is shown as +0000. */
void imap_datetime_format(struct sp_buf *out, time_t t, int offset_minutes);

#endif
