/* The SMTP-family command parser (SMTP, ESMTP, LMTP): bytes in, one event
 * out at a time: a parsed command, a chunk of message content, the end of
 * the content, or a precise protocol error. Pure: no I/O and no session
 * state beyond the bytes of the current line or message; which command a
 * session state allows, and what to reply, is the session's business.
 *
 * Driving it (the whole contract):
 *
 *	for (;;) {
 *		rc = smtp_parser_feed(p, data, len, &used, &ev);
 *		data += used;
 *		len -= used;
 *		if (rc == SP_AGAIN)
 *			break;          // used == len: every byte is taken
 *		handle(&ev);            // may call begin_data/begin_bdat/...
 *	}
 *
 * - Bytes may arrive at any boundary; the parser keeps what it needs.
 *   SP_AGAIN always means all of data was consumed, so the caller never
 *   keeps bytes for it. An event consumes only up to its own end, so
 *   commands pipelined in one read come out one by one and bytes after a
 *   DATA or BDAT command stay with the caller until the session has
 *   answered and switched the mode (RFC 2920).
 * - Keep calling until SP_AGAIN even with len == 0: "BDAT 0" ends without
 *   a byte of input.
 * - Slices in an event (command fields, content chunks, raw lines) point
 *   into the caller's data or into the parser, and stay valid until the
 *   next call of any smtp_parser_* function or until the caller changes
 *   or frees the bytes it passed, whichever comes first.
 *
 * Line rules for commands (RFC 5321 §2.3.8, §4.1.1): a command line ends
 * with CRLF. A line ended by a bare LF, or containing a bare CR or a NUL,
 * is rejected whole with 500 5.5.2 when its LF arrives; so is a line longer
 * than limits.max_line (CRLF included; max_auth_line for AUTH), which is
 * consumed up to its LF while the parser keeps at most max_auth_line bytes
 * of it. Each bad line gives exactly one error, and the next line is
 * parsed normally. Verbs are case-insensitive; runs of spaces
 * between arguments and trailing spaces or tabs are tolerated, as is a
 * space after "FROM:"/"TO:"; addresses must be in angle brackets. */
#ifndef SMTP_PARSER_H
#define SMTP_PARSER_H

#include "lib/sp_buf.h"
#include "smtp/smtp_path.h"

enum smtp_mode {
	SMTP_MODE_SMTP, /* HELO, EHLO; LHLO is unknown */
	SMTP_MODE_LMTP, /* LHLO; HELO and EHLO are refused (RFC 2033 §4.1) */
};

struct smtp_limits {
	/* Longest command line, CRLF included. RFC 5321 §4.5.3.1.4 sets 512
	 * as the minimum (smaller values are raised to 512). Default 4096. */
	size_t max_line;
	/* Longest AUTH command or SASL response line (RFC 4954 §4 asks for
	 * 12288). Default 12288; never below max_line. */
	size_t max_auth_line;
	/* Largest message content in octets (after dot-unstuffing) accepted
	 * through DATA; 0 = no limit. Default 64 MiB. */
	uint64_t max_message;
	/* Recipients per transaction: enforced by the session (452 4.5.3),
	 * kept here so that all limits travel together. Default 1000. */
	unsigned max_recipients;
};

/* Sets the defaults listed above. */
void smtp_limits_init(struct smtp_limits *limits);

enum smtp_verb {
	SMTP_VERB_NONE,
	SMTP_VERB_HELO,
	SMTP_VERB_EHLO,
	SMTP_VERB_LHLO,
	SMTP_VERB_MAIL,
	SMTP_VERB_RCPT,
	SMTP_VERB_DATA,
	SMTP_VERB_BDAT,
	SMTP_VERB_RSET,
	SMTP_VERB_NOOP,
	SMTP_VERB_QUIT,
	SMTP_VERB_VRFY,
	SMTP_VERB_EXPN,
	SMTP_VERB_HELP,
	SMTP_VERB_STARTTLS,
	SMTP_VERB_AUTH,
};

/* "MAIL", "RCPT", ...; "" for SMTP_VERB_NONE. */
const char *smtp_verb_name(enum smtp_verb verb);

enum smtp_body {
	SMTP_BODY_NONE, /* no BODY= parameter */
	SMTP_BODY_7BIT,
	SMTP_BODY_8BITMIME,
	SMTP_BODY_BINARYMIME,
};

enum smtp_ret {
	SMTP_RET_NONE,
	SMTP_RET_FULL,
	SMTP_RET_HDRS,
};

/* NOTIFY= bits (RFC 3461 §4.1); 0 when the parameter is absent. */
#define SMTP_NOTIFY_NEVER 0x1u
#define SMTP_NOTIFY_SUCCESS 0x2u
#define SMTP_NOTIFY_FAILURE 0x4u
#define SMTP_NOTIFY_DELAY 0x8u

/* ESMTP parameters. MAIL takes SIZE, BODY, SMTPUTF8, RET, ENVID, AUTH;
 * RCPT takes NOTIFY and ORCPT. Keywords are case-insensitive; any other
 * keyword, or one given to the other command, is 555 5.5.4; a repeated one
 * or a bad value is 501 5.5.4. Whether the server advertised an extension
 * is for the session to check. */
struct smtp_params {
	bool has_size;
	uint64_t size;       /* SIZE= (RFC 1870); > 2^64-1 saturates */
	enum smtp_body body; /* BODY= (RFC 6152, RFC 3030) */
	bool smtputf8;       /* SMTPUTF8 (RFC 6531 §3.4) */
	enum smtp_ret ret;   /* RET= (RFC 3461 §4.3) */
	bool has_envid;
	struct sp_slice envid; /* ENVID=, xtext-decoded (at most 100) */
	bool has_auth;
	struct sp_slice auth; /* AUTH= (RFC 4954 §5), xtext-decoded; "<>" kept */
	unsigned notify;      /* NOTIFY= bits */
	bool has_orcpt;
	struct sp_slice orcpt_type; /* ORCPT= addr-type, e.g. "rfc822" */
	struct sp_slice orcpt;      /* ORCPT= address, xtext-decoded */
};

struct smtp_command {
	enum smtp_verb verb;
	/* HELO/EHLO/LHLO: the domain or address literal, which must be one
	 * ASCII Domain (with '_' allowed) or address literal, else 501 5.5.4
	 * (whether it matches the peer is policy). VRFY/EXPN (required)
	 * and HELP/NOOP (optional, may be empty): the argument as sent. AUTH:
	 * the mechanism, e.g. "PLAIN". */
	struct sp_slice arg;
	/* MAIL (reverse path, may be null) and RCPT (forward path). For MAIL,
	 * a non-ASCII path without the SMTPUTF8 parameter is already refused
	 * (553 5.6.7); for RCPT, path.utf8 tells the session to check that the
	 * transaction's MAIL had it (RFC 6531 §3.5). */
	struct smtp_path path;
	struct smtp_params params;
	uint64_t bdat_size; /* BDAT (RFC 3030) */
	bool bdat_last;
	/* AUTH initial response (RFC 4954 §4), base64 alphabet checked, not
	 * decoded; "=" (empty response) is given as has_response with len 0. */
	bool has_auth_response;
	struct sp_slice auth_response;
};

enum smtp_error_kind {
	SMTP_ERR_NONE,
	SMTP_ERR_LINE_TOO_LONG, /* 500 5.5.2 (5.5.6 for a SASL line, RFC 4954) */
	SMTP_ERR_BARE_LF,       /* 500 5.5.2 */
	SMTP_ERR_BARE_CR,       /* 500 5.5.2 */
	SMTP_ERR_NUL,           /* 500 5.5.2 */
	SMTP_ERR_EMPTY_LINE,    /* 500 5.5.2 */
	SMTP_ERR_UNKNOWN_VERB,  /* 500 5.5.1; also HELO/EHLO in LMTP mode */
	SMTP_ERR_SYNTAX,        /* 501 5.5.2: the command's shape is wrong */
	SMTP_ERR_ARGUMENT,      /* 501 5.5.4: an argument is wrong or missing */
	SMTP_ERR_SENDER_SYNTAX, /* 501 5.1.7 */
	SMTP_ERR_RCPT_SYNTAX,   /* 501 5.1.3 */
	SMTP_ERR_PARAM_UNKNOWN, /* 555 5.5.4 (RFC 5321 §4.1.1.11) */
	SMTP_ERR_PARAM_INVALID, /* 501 5.5.4, also a repeated parameter */
	SMTP_ERR_UTF8_REQUIRED, /* 553 5.6.7 (RFC 6531 §3.5) */
	SMTP_ERR_TOO_LARGE,     /* 552 5.3.4, on SMTP_EVENT_DATA_END */
};

/* A protocol error as data. code/enhanced/text are static strings the
 * session may send as they are (smtp_reply_error) or replace. */
struct smtp_error {
	enum smtp_error_kind kind;
	unsigned code;        /* 500, 501, 552, 553, 555 */
	const char *enhanced; /* RFC 3463 code, e.g. "5.5.2" */
	const char *text;     /* human text without code, e.g. "Line too long" */
	enum smtp_verb verb;  /* the command it concerns, when recognised */
};

enum smtp_event_type {
	SMTP_EVENT_COMMAND = 1, /* cmd */
	SMTP_EVENT_ERROR,       /* error: a command line was refused and consumed */
	SMTP_EVENT_DATA,        /* data: a chunk of message content */
	SMTP_EVENT_DATA_END,    /* end of DATA content or of a BDAT chunk */
	SMTP_EVENT_LINE,        /* data: a raw line asked for by smtp_parser_expect_line */
};

struct smtp_event {
	enum smtp_event_type type;
	struct smtp_command cmd;
	/* DATA: content bytes (never empty). LINE: the line without CRLF. */
	struct sp_slice data;
	/* ERROR; and DATA_END when too_large (552 5.3.4). */
	struct smtp_error error;
	/* DATA_END: content octets of this DATA message or BDAT chunk. */
	uint64_t size;
	/* DATA_END of DATA: the content exceeded limits.max_message. Content
	 * events stopped after exactly max_message octets, whatever the
	 * chunking, but the rest was consumed up to the final dot and counted
	 * in size, so the session can reply 552 5.3.4 now (RFC 1870 §6.3). */
	bool too_large;
};

/* Private state; embed the struct, use only the functions. */
struct smtp_parser {
	struct smtp_limits limits;
	enum smtp_mode mode;
	int state;
	/* command line being assembled */
	uint8_t *line;
	size_t line_cap, line_len;
	enum smtp_error_kind line_err;
	bool cr_pending;
	bool expect_line;
	size_t wipe_len; /* bytes of line/scratch to wipe at the next call */
	struct smtp_scratch scratch;
	/* DATA and BDAT */
	int dstate;
	uint64_t data_size;
	bool too_large;
	uint64_t bdat_left;
	bool bdat_discard;
};

/* limits may be NULL for the defaults. */
void smtp_parser_init(struct smtp_parser *p, enum smtp_mode mode, const struct smtp_limits *limits);
/* Wipes and frees the buffers; the struct may be re-initialised. */
void smtp_parser_deinit(struct smtp_parser *p);
/* Back to command mode, dropping any partial line or message state (after
 * STARTTLS, RFC 3207 §4.2, or when the session gives up on a transfer). */
void smtp_parser_reset(struct smtp_parser *p);

/* Takes up to len bytes. Returns 0 with *ev_r filled and *consumed_r set
 * to the bytes this event used, or SP_AGAIN with *consumed_r == len when
 * more input is needed. Never fails: bad input is an SMTP_EVENT_ERROR. */
int smtp_parser_feed(struct smtp_parser *p, const uint8_t *data, size_t len, size_t *consumed_r,
                     struct smtp_event *ev_r);

/* After replying 354 to DATA: the bytes that follow are message content
 * (RFC 5321 §4.5.2). The parser streams it out as SMTP_EVENT_DATA chunks,
 * removing the leading dot of each CRLF-delimited line that has one, and
 * ends with SMTP_EVENT_DATA_END at CRLF "." CRLF only (the CRLF before the
 * dot is content). A "." line ended by a bare LF or CR, or preceded by
 * one, is content (SMTP smuggling, CVE-2023-51764); so are bare CR, bare
 * LF, NUL, 8-bit bytes and lines of any length, byte for byte. Lines are
 * delimited by CRLF alone, so a dot right after a CRLF is always removed
 * (the inverse of the client's stuffing, §4.5.2), while a dot after a bare
 * LF is kept. The parser must be between commands (as it is right after
 * returning the DATA command). */
void smtp_parser_begin_data(struct smtp_parser *p);

/* After a BDAT command (RFC 3030 §2): exactly size octets follow, streamed
 * as SMTP_EVENT_DATA chunks with no dot handling, then SMTP_EVENT_DATA_END
 * and back to command mode. With discard (a refused BDAT, whose octets
 * must still be read), the octets are consumed without DATA events. */
void smtp_parser_begin_bdat(struct smtp_parser *p, uint64_t size, bool discard);

/* The next line is not a command but a SASL response (RFC 4954 §4): it is
 * returned whole as SMTP_EVENT_LINE (possibly empty; "*" is the client's
 * cancel, for the session to see), or refused by the line rules above as
 * an SMTP_EVENT_ERROR (a too-long line: 500 5.5.6). Either way the parser
 * is back to reading commands afterwards. Lines holding credentials (AUTH
 * commands and these) are wiped from the parser's memory at the next
 * call of any smtp_parser_* function. */
void smtp_parser_expect_line(struct smtp_parser *p);

#endif
