/* Resumable parser of IMAP client commands (RFC 3501 §9, RFC 9051 §9).
 *
 * Bytes in, events out; no I/O and no session knowledge. The session feeds
 * whatever it read, at any byte boundary, and loops:
 *
 *	while (len > 0) {
 *		size_t used;
 *		int rc = imap_parser_feed(p, data, len, &used, &ev);
 *		data += used, len -= used;
 *		if (rc == SP_AGAIN)
 *			break;            // everything consumed, read more
 *		switch (ev.type) { ... }  // handle one event, then loop
 *	}
 *
 * A command is a tag, a name (UID FETCH is folded into name "FETCH" with
 * uid set) and a generic tree of arguments: atoms, quoted strings, literals,
 * NIL and parenthesised lists. Special grammar handled here:
 *  - in FETCH, BODY[...], BODY.PEEK[...], BINARY[...], BINARY.PEEK[...]
 *    and BINARY.SIZE[...] with an optional <origin.size> are one
 *    IMAP_ARG_SECTION token whose section is parsed (RFC 9051 §6.4.5);
 *  - flags such as \Seen and \* are atoms that start with a backslash;
 *  - '*', '%', '$', ':' and ']' are atom characters, so sequence sets
 *    (1:*,$), list patterns (INBOX.%) and [Gmail]/Sent parse as atoms.
 *
 * Literals: {n} (synchronizing: the parser returns IMAP_EV_CONTINUE and the
 * session must send "+ ..." before the client sends the octets), {n+}
 * (non-synchronizing, RFC 7888; the limit is limits.max_nonsync_literal:
 * max_literal when LITERAL+ is advertised, 4096 for LITERAL- alone; RFC 7888
 * uses the same {n+} syntax for both, so "{n-}" is a syntax error), and
 * ~{n} / ~{n+} (literal8, RFC 3516), which may hold NUL octets; a plain
 * literal may not (RFC 3501 CHAR8).
 * A literal of at most limits.inline_literal_max octets comes back inline
 * in the tree. A bigger one, one that would take the command's inline
 * literals past limits.max_inline_total, and every top-level literal of
 * APPEND after the mailbox name (the message, so the store always receives
 * it the same way) is streamed: IMAP_EV_LITERAL_BEGIN, then
 * IMAP_EV_LITERAL_DATA chunks that point into the caller's input (never
 * buffered here), then
 * IMAP_EV_LITERAL_END; its node in the tree has `streamed` set and no text.
 * A plain (non-literal8) streamed literal that held a NUL is reported by an
 * IMAP_EV_ERROR right after its LITERAL_END: discard what was streamed.
 * Any IMAP_EV_ERROR during a command likewise ends it.
 *
 * Errors (IMAP_EV_ERROR) carry {kind, code, text, tag}; the session replies
 * "<tag> BAD text" (or "<tag> NO [code] text" for kind NO; a code such as
 * TOOBIG goes in brackets with BAD too; "* BAD" when tag is NULL). The parser
 * then resynchronises by itself: it skips the rest of the line, including
 * the octets of a non-synchronizing literal announced at its end, without
 * buffering them, and the next command parses normally. After a rejected
 * synchronizing literal nothing is skipped: the client never sends it.
 *
 * Raw-line mode (imap_parser_set_line_mode) returns whole lines as
 * IMAP_EV_LINE: the IDLE "DONE" line and AUTHENTICATE continuation lines.
 */
#ifndef IMAP_PARSER_H
#define IMAP_PARSER_H

#include "lib/sp_arena.h"
#include "lib/sp_buf.h"

struct imap_parser_limits {
	size_t max_line;              /* non-literal command text; default 64 KiB */
	uint64_t max_literal;         /* any literal; default 64 MiB */
	uint64_t max_nonsync_literal; /* {n+}; default max_literal (LITERAL+) */
	size_t inline_literal_max;    /* bigger literals are streamed; default 64 KiB */
	size_t max_inline_total;      /* inline literal octets per command; default 1 MiB */
	unsigned max_depth;           /* parenthesis nesting; default 32 */
	unsigned max_args;            /* argument nodes per command; default 4096 */
};

/* Fills in the defaults above. */
void imap_parser_limits_default(struct imap_parser_limits *limits_r);

enum imap_arg_type {
	IMAP_ARG_ATOM,    /* str: the atom as sent (flags keep their '\') */
	IMAP_ARG_QUOTED,  /* str: the string with escapes removed */
	IMAP_ARG_LITERAL, /* str: the octets, unless streamed */
	IMAP_ARG_NIL,     /* str: "NIL" as sent; also a valid astring */
	IMAP_ARG_LIST,    /* list[0..count) */
	IMAP_ARG_SECTION, /* FETCH BODY[...]<...>; str: the whole token */
};

enum imap_section_text {
	IMAP_SECTION_NONE,              /* BODY[] or BODY[1.2] */
	IMAP_SECTION_HEADER,            /* [HEADER], [1.HEADER] */
	IMAP_SECTION_HEADER_FIELDS,     /* [HEADER.FIELDS (A B)] */
	IMAP_SECTION_HEADER_FIELDS_NOT, /* [HEADER.FIELDS.NOT (A B)] */
	IMAP_SECTION_TEXT,              /* [TEXT], [1.TEXT] */
	IMAP_SECTION_MIME,              /* [1.MIME]: only after a part number */
};

enum imap_section_kind {
	IMAP_SECTION_BODY,        /* BODY[...] */
	IMAP_SECTION_BODY_PEEK,   /* BODY.PEEK[...] */
	IMAP_SECTION_BINARY,      /* BINARY[...] (RFC 3516): part numbers only */
	IMAP_SECTION_BINARY_PEEK, /* BINARY.PEEK[...] */
	IMAP_SECTION_BINARY_SIZE, /* BINARY.SIZE[...]: no partial */
};

struct imap_section {
	enum imap_section_kind kind;
	const uint32_t *parts; /* section-part: nz-numbers, part_count of them */
	size_t part_count;
	enum imap_section_text text;
	const struct sp_slice *fields; /* HEADER.FIELDS[.NOT] names, as sent */
	size_t field_count;
	bool has_partial; /* <origin.size> */
	uint64_t partial_origin, partial_size;
};

struct imap_arg {
	enum imap_arg_type type;
	/* ATOM, QUOTED, LITERAL, NIL, SECTION: NUL-terminated after len (a
	 * literal8 may also hold NULs inside). */
	struct sp_slice str;
	const struct imap_arg *list; /* LIST children */
	size_t count;
	const struct imap_section *section; /* SECTION */
	uint64_t literal_size;              /* LITERAL */
	bool literal8;                      /* LITERAL: ~{n} */
	bool streamed;                      /* LITERAL: content went out as events */
};

/* astring (RFC 3501 §9): an atom, a string or NIL read as the word "NIL".
 * Streamed literals and lists are not. Returns false if arg is not one. */
bool imap_arg_get_astring(const struct imap_arg *arg, struct sp_slice *str_r);
/* string: a quoted string or a non-streamed literal only. */
bool imap_arg_get_string(const struct imap_arg *arg, struct sp_slice *str_r);
/* An atom equal to word, ASCII case-insensitively. */
bool imap_arg_atom_equals(const struct imap_arg *arg, const char *word);

struct imap_command {
	const char *tag;
	const char *name; /* upper-cased; "FETCH" for UID FETCH */
	bool uid;         /* the command was prefixed with UID */
	const struct imap_arg *args;
	size_t arg_count;
};

enum imap_error_kind {
	IMAP_ERROR_BAD, /* tagged (or untagged when tag is NULL) BAD */
	IMAP_ERROR_NO,  /* tagged NO: APPEND with a literal that is too big */
};

struct imap_error {
	enum imap_error_kind kind;
	const char *code; /* response code without brackets ("TOOBIG"), or NULL */
	const char *text; /* human text for the reply: protocol words and octet
	                   * codes only, never mailbox names or message data */
	const char *tag;  /* the command's tag, or NULL if none was read */
};

enum imap_event_type {
	/* A whole command: ev.cmd. */
	IMAP_EV_COMMAND = 1,
	/* A synchronizing literal was announced: send "+ ..." now (or reject
	 * the command with imap_parser_abort_command() and a tagged reply).
	 * ev.cmd holds the arguments so far; literal_* describe the literal. */
	IMAP_EV_CONTINUE,
	/* A streamed literal starts; ev.cmd holds the arguments so far (the last
	 * one is this literal's node). The session may refuse it with
	 * imap_parser_abort_command(). */
	IMAP_EV_LITERAL_BEGIN,
	/* ev.data: the next octets of the streamed literal, inside the caller's
	 * input buffer. */
	IMAP_EV_LITERAL_DATA,
	/* The streamed literal is complete; parsing of the command resumes. */
	IMAP_EV_LITERAL_END,
	/* Raw-line mode: ev.data is the line without its CRLF. */
	IMAP_EV_LINE,
	/* ev.error; the parser resynchronises by itself. */
	IMAP_EV_ERROR,
};

struct imap_event {
	enum imap_event_type type;
	const struct imap_command *cmd;
	struct sp_slice data;
	uint64_t literal_size;
	bool literal8, literal_sync, literal_streamed;
	struct imap_error error;
};

struct imap_parser;

/* limits may be NULL for the defaults; it is copied. */
struct imap_parser *imap_parser_new(const struct imap_parser_limits *limits);
void imap_parser_free(struct imap_parser **p);

/* Consumes a prefix of data (*consumed_r octets, possibly 0) and returns 0
 * with one event in *ev_r, or SP_AGAIN when all of data was consumed and no
 * event is complete.
 *
 * Lifetimes: ev.cmd, the argument tree, tags and error texts stay valid
 * until the next imap_parser_feed() call that follows an IMAP_EV_COMMAND or
 * IMAP_EV_ERROR event (the parser then starts the next command and reuses
 * its memory), or imap_parser_free(). Within a command the tree may only
 * grow, but the partial ev.cmd of CONTINUE and LITERAL_BEGIN is valid only
 * until the next feed. ev.data of LITERAL_DATA points into data; of LINE
 * into the parser, until the next feed. */
int imap_parser_feed(struct imap_parser *p, const uint8_t *data, size_t len, size_t *consumed_r,
                     struct imap_event *ev_r);

/* The session refuses the command in progress (after CONTINUE or
 * LITERAL_BEGIN/DATA, e.g. for APPENDLIMIT or a missing mailbox) and has
 * replied itself. The parser discards the rest of the command: the octets
 * of a non-synchronizing literal still to come and the rest of its line; a
 * synchronizing literal that got no "+" is simply never sent. */
void imap_parser_abort_command(struct imap_parser *p);

/* Switches raw-line mode on or off. Only between commands: after creation,
 * or right after a COMMAND, ERROR or LINE event or an abort (aborts the
 * process otherwise). If the parser is still skipping the rest of a bad
 * line, the new mode applies from the line after it. */
void imap_parser_set_line_mode(struct imap_parser *p, bool on);

/* Gives back the memory of the last command (its tree, line buffers) for
 * a session that will wait long (IDLE). Only where set_line_mode may be
 * called; the last command's tree is gone afterwards. */
void imap_parser_trim(struct imap_parser *p);

/* True when the parser is between commands (nothing of the next one read). */
bool imap_parser_is_idle(const struct imap_parser *p);

#endif
