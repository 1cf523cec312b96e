/* SEARCH / UID SEARCH arguments to an AST (RFC 3501 §6.4.4, RFC 9051
 * §6.4.4), with ESEARCH return options (RFC 4731, RFC 9051), SAVE and "$"
 * (SEARCHRES, RFC 5182), MODSEQ (CONDSTORE, RFC 7162 §3.1.5), OLDER and
 * YOUNGER (WITHIN, RFC 5032), SAVEDBEFORE/SAVEDON/SAVEDSINCE and
 * SAVEDATESUPPORTED (SAVEDATE, RFC 8514), EMAILID and THREADID (OBJECTID,
 * RFC 8474), and Sealpost's regex key:
 *
 *   X-REGEX <field> <pattern>
 *     field   = SUBJECT / FROM / TO / CC / BCC / BODY / TEXT
 *               / HEADER SP header-field-name
 *     pattern = astring: a PCRE2 regular expression (Perl syntax), matched
 *               in UTF mode against the decoded field (BODY: body text,
 *               TEXT: headers and body), case-sensitive unless the pattern
 *               starts with (?i); it matches if it is found anywhere
 *               (anchor with ^ and $). At most 1024 octets. In a quoted
 *               string a backslash must be doubled ("\\d+"); a literal
 *               carries the pattern as is.
 *   e.g. UID SEARCH X-REGEX SUBJECT "^\\[list\\] (?i)invoice" UNSEEN
 *
 * The parser checks that the pattern compiles (so a bad one is refused with BAD at
 * once) but keeps only its text; the store compiles it for matching.
 *
 * Dates are RFC 3501 date (d-Mmm-yyyy, optionally quoted), checked against
 * the calendar. Sequence sets are kept as validated text (IMAP_SEARCH_SEQSET,
 * IMAP_SEARCH_UID) because "*" depends on the mailbox at execution time:
 * parse them with imap_seqset_parse then; saved is set for "$".
 *
 * Everything (nodes and strings, each NUL-terminated) is allocated in the
 * arena passed in, valid until it is reset; nothing points into the args. */
#ifndef IMAP_SEARCH_PARSE_H
#define IMAP_SEARCH_PARSE_H

#include "imap/imap_parser.h"

enum imap_search_key_type {
	/* no argument */
	IMAP_SEARCH_ALL,
	IMAP_SEARCH_ANSWERED,
	IMAP_SEARCH_DELETED,
	IMAP_SEARCH_DRAFT,
	IMAP_SEARCH_FLAGGED,
	IMAP_SEARCH_NEW, /* RECENT UNSEEN (RFC 3501 only) */
	IMAP_SEARCH_OLD, /* NOT RECENT (RFC 3501 only) */
	IMAP_SEARCH_RECENT,
	IMAP_SEARCH_SEEN,
	IMAP_SEARCH_UNANSWERED,
	IMAP_SEARCH_UNDELETED,
	IMAP_SEARCH_UNDRAFT,
	IMAP_SEARCH_UNFLAGGED,
	IMAP_SEARCH_UNSEEN,
	IMAP_SEARCH_SAVEDATESUPPORTED,
	/* str: substring to find */
	IMAP_SEARCH_BCC,
	IMAP_SEARCH_BODY,
	IMAP_SEARCH_CC,
	IMAP_SEARCH_FROM,
	IMAP_SEARCH_SUBJECT,
	IMAP_SEARCH_TEXT,
	IMAP_SEARCH_TO,
	IMAP_SEARCH_HEADER, /* header: field name; str: substring ("" = has it) */
	/* str: the keyword */
	IMAP_SEARCH_KEYWORD,
	IMAP_SEARCH_UNKEYWORD,
	/* date */
	IMAP_SEARCH_BEFORE,
	IMAP_SEARCH_ON,
	IMAP_SEARCH_SINCE,
	IMAP_SEARCH_SENTBEFORE,
	IMAP_SEARCH_SENTON,
	IMAP_SEARCH_SENTSINCE,
	IMAP_SEARCH_SAVEDBEFORE,
	IMAP_SEARCH_SAVEDON,
	IMAP_SEARCH_SAVEDSINCE,
	/* number */
	IMAP_SEARCH_LARGER,
	IMAP_SEARCH_SMALLER,
	IMAP_SEARCH_OLDER,   /* seconds */
	IMAP_SEARCH_YOUNGER, /* seconds */
	IMAP_SEARCH_MODSEQ,  /* number; has_entry: modseq_entry, modseq_type */
	/* str: sequence set text; saved for "$" */
	IMAP_SEARCH_SEQSET,
	IMAP_SEARCH_UID,
	/* str: objectid */
	IMAP_SEARCH_EMAILID,
	IMAP_SEARCH_THREADID,
	/* regex_field (+ header for HEADER); str: the pattern */
	IMAP_SEARCH_REGEX,
	/* children */
	IMAP_SEARCH_AND, /* count >= 1: a parenthesised group or the program */
	IMAP_SEARCH_OR,  /* count == 2 */
	IMAP_SEARCH_NOT, /* count == 1 */
};

enum imap_search_regex_field {
	IMAP_REGEX_SUBJECT,
	IMAP_REGEX_FROM,
	IMAP_REGEX_TO,
	IMAP_REGEX_CC,
	IMAP_REGEX_BCC,
	IMAP_REGEX_BODY,
	IMAP_REGEX_TEXT,
	IMAP_REGEX_HEADER,
};

enum imap_modseq_type {
	IMAP_MODSEQ_ALL,
	IMAP_MODSEQ_PRIV,
	IMAP_MODSEQ_SHARED,
};

struct imap_date {
	uint16_t year;
	uint8_t month; /* 1..12 */
	uint8_t day;   /* 1..31 */
};

struct imap_search_key {
	enum imap_search_key_type type;
	struct sp_slice str;
	struct sp_slice header;
	enum imap_search_regex_field regex_field;
	uint64_t number;
	struct imap_date date;
	bool saved;
	bool has_entry;
	struct sp_slice modseq_entry; /* "/flags/\\Seen" as sent, unquoted */
	enum imap_modseq_type modseq_type;
	struct imap_search_key *children;
	size_t count;
};

enum imap_search_return {
	IMAP_SEARCH_RETURN_MIN = 1 << 0,
	IMAP_SEARCH_RETURN_MAX = 1 << 1,
	IMAP_SEARCH_RETURN_COUNT = 1 << 2,
	IMAP_SEARCH_RETURN_ALL = 1 << 3,
	IMAP_SEARCH_RETURN_SAVE = 1 << 4,
};

struct imap_search_program {
	const char *charset;          /* as sent, or NULL when absent (US-ASCII/UTF-8) */
	bool utf8;                    /* CHARSET UTF-8 */
	bool has_return;              /* RETURN (...) given: reply with ESEARCH */
	unsigned return_opts;         /* imap_search_return bits; RETURN () = ALL */
	bool uses_modseq;             /* a MODSEQ key: CONDSTORE adds (MODSEQ n) */
	struct imap_search_key *root; /* IMAP_SEARCH_AND */
};

#define IMAP_SEARCH_DEFAULT_DEPTH 32
#define IMAP_SEARCH_REGEX_MAX 1024

/* Parses the arguments of SEARCH (args after the command name). max_depth
 * limits the nesting of NOT, OR and parentheses (0: the default). Returns 0
 * or -1 with *error_r: BAD with a precise text (its text in arena), or NO
 * with code "BADCHARSET (US-ASCII UTF-8)" for an unknown charset. The
 * error's tag is left NULL: the caller knows it. */
int imap_search_parse(const struct imap_arg *args, size_t count, struct sp_arena *arena,
                      unsigned max_depth, struct imap_search_program *prog_r,
                      struct imap_error *error_r);

/* Parses an RFC 3501 date (d-Mmm-yyyy); 0 or -1. */
int imap_date_parse(struct sp_slice text, struct imap_date *date_r);

#endif
