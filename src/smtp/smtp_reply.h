/* SMTP-family replies (RFC 5321 §4.2) with enhanced status codes
 * (RFC 2034, RFC 3463), written into an sp_buf for the connection's
 * output queue: single lines, multi-line replies ("250-..." continuation
 * lines, each carrying the enhanced code), wrapping of long text, and the
 * EHLO/LHLO capability list. */
#ifndef SMTP_REPLY_H
#define SMTP_REPLY_H

#include "lib/sp_buf.h"
#include "smtp/smtp_parser.h"

/* RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets with CRLF. */
#define SMTP_REPLY_LINE_MAX 512

/* Contracts shared by all functions here:
 * - code is 200..599; enhanced is NULL (no enhanced code: the greeting,
 *   the EHLO reply, or when ENHANCEDSTATUSCODES is off) or "C.S.D" whose
 *   class C matches the code's first digit (RFC 3463 §2). A violation is
 *   a bug and aborts.
 * - text is printed as given except that control characters (CR, LF, NUL,
 *   ...) become '?', so that text which echoes client data can never end
 *   a reply line early; text too long for one line is wrapped at spaces
 *   (or cut, never inside a UTF-8 sequence) into continuation lines. */

/* Builds a multi-line reply: begin, add one or more lines, end. Nothing
 * else may be appended to out in between. */
struct smtp_reply {
	struct sp_buf *out;
	unsigned code;
	const char *enhanced;
	size_t lines;
	bool last_empty; /* the last line so far has no text */
};

void smtp_reply_begin(struct smtp_reply *r, struct sp_buf *out, unsigned code,
                      const char *enhanced);
/* Adds one line of text (more if it has to be wrapped). */
void smtp_reply_add(struct smtp_reply *r, const char *text);
void smtp_reply_addf(struct smtp_reply *r, const char *fmt, ...) SP_PRINTF(2, 3);
/* Turns the last line into the final one ("250 " instead of "250-"); a
 * reply with no line added becomes the bare code (and enhanced code). */
void smtp_reply_end(struct smtp_reply *r);

/* A whole reply in one call, e.g. "250 2.1.0 Sender OK\r\n". */
void smtp_reply_append(struct sp_buf *out, unsigned code, const char *enhanced, const char *text);
void smtp_reply_appendf(struct sp_buf *out, unsigned code, const char *enhanced, const char *fmt,
                        ...) SP_PRINTF(4, 5);
/* The parser's error as a reply, e.g. "501 5.1.3 Missing @domain\r\n". */
void smtp_reply_error(struct sp_buf *out, const struct smtp_error *err);

/* Capabilities for the EHLO/LHLO reply, listed in this order. */
enum smtp_cap {
	SMTP_CAP_PIPELINING = 1u << 0,          /* RFC 2920 */
	SMTP_CAP_SIZE = 1u << 1,                /* RFC 1870: "SIZE n" */
	SMTP_CAP_8BITMIME = 1u << 2,            /* RFC 6152 */
	SMTP_CAP_SMTPUTF8 = 1u << 3,            /* RFC 6531 */
	SMTP_CAP_ENHANCEDSTATUSCODES = 1u << 4, /* RFC 2034 */
	SMTP_CAP_CHUNKING = 1u << 5,            /* RFC 3030 */
	SMTP_CAP_BINARYMIME = 1u << 6,          /* RFC 3030 */
	SMTP_CAP_DSN = 1u << 7,                 /* RFC 3461 */
	SMTP_CAP_STARTTLS = 1u << 8,            /* RFC 3207 */
	SMTP_CAP_AUTH = 1u << 9,                /* RFC 4954: "AUTH mechs" */
};

struct smtp_caps {
	unsigned flags;         /* SMTP_CAP_* bits */
	uint64_t size_max;      /* SIZE parameter; 0 = "SIZE" with no limit */
	const char *auth_mechs; /* for SMTP_CAP_AUTH, e.g. "PLAIN LOGIN" */
};

/* "250-DOMAIN GREETING" (no enhanced code, RFC 2034 §3) followed by one
 * line per capability; greeting may be NULL. */
void smtp_reply_ehlo(struct sp_buf *out, const char *domain, const char *greeting,
                     const struct smtp_caps *caps);

#endif
