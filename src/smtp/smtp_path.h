/* SMTP envelope addresses: the Path and Mailbox grammar of RFC 5321 §4.1.2
 * with the UTF-8 extensions of RFC 6531 §3.3, and xtext (RFC 3461 §4).
 * Pure functions over bytes; the results are slices into the input or into
 * a caller-supplied scratch area (see struct smtp_scratch). */
#ifndef SMTP_PATH_H
#define SMTP_PATH_H

#include "lib/sp_buf.h"

/* A parsed envelope address. Slices point into the parsed input (mailbox,
 * domain, and local when not quoted) or into the scratch area (local when
 * quoted); they stay valid as long as both do. */
struct smtp_path {
	/* "local@domain" exactly as sent: no angle brackets, no source route.
	 * Empty for the null path "<>"; "Postmaster" for RCPT TO:<Postmaster>. */
	struct sp_slice mailbox;
	/* The local part with quoting undone (RFC 5321 §4.1.2: "\"john\"" and
	 * "john" are the same mailbox): what the session resolves. */
	struct sp_slice local;
	/* The domain as sent (not lowercased), or the address literal with
	 * its brackets; empty for "<>" and "<Postmaster>". */
	struct sp_slice domain;
	bool null;           /* "<>" (only accepted for a reverse path) */
	bool postmaster;     /* RCPT TO:<Postmaster> without a domain (§4.1.1.3) */
	bool quoted;         /* the local part was a quoted string */
	bool domain_literal; /* the domain is an address literal "[...]" */
	bool route_stripped; /* a source route "@a,@b:" was ignored (§4.1.1.3, App. C) */
	bool utf8;           /* non-ASCII (well-formed UTF-8) bytes present (RFC 6531) */
};

enum smtp_path_kind {
	SMTP_PATH_REVERSE, /* MAIL FROM: "<>" allowed */
	SMTP_PATH_FORWARD, /* RCPT TO: "<Postmaster>" allowed */
};

/* Fixed-capacity output area for decoded values. Decoding never makes a
 * value longer than its encoded form, so a scratch area as large as the
 * input always suffices; running out is a bug (sp_assert). */
struct smtp_scratch {
	uint8_t *buf;
	size_t len, cap;
};

/* Parses a Path starting at in[0] == '<' up to and including its '>'.
 * On success returns 0, fills *path_r and sets *used_r to the number of
 * bytes of the path. On a syntax error returns -1 with a static reason in
 * *error_r. Domains and local parts are checked as RFC 5321 says, with
 * three documented leniencies that real senders need: '_' in domain
 * labels, and empty atoms in a local part ("a..b", "a.", ".a", used by
 * some mobile carriers). The domain must not end in a dot. */
int smtp_path_parse(const uint8_t *in, size_t len, enum smtp_path_kind kind,
                    struct smtp_scratch *scratch, struct smtp_path *path_r, size_t *used_r,
                    const char **error_r);

/* Parses a whole bare Mailbox "local@domain" (no brackets), e.g. an
 * address given on the command line. Same rules and results as above. */
int smtp_mailbox_parse(const uint8_t *in, size_t len, struct smtp_scratch *scratch,
                       struct smtp_path *path_r, const char **error_r);

/* Checks a Domain (RFC 5321 §4.1.2, labels up to 63 octets, 255 in all;
 * U-labels only when allow_utf8) or an address literal "[...]" (IPv4,
 * "IPv6:" or a general literal). Returns true when the whole input is one. */
bool smtp_domain_is_valid(const uint8_t *in, size_t len, bool allow_utf8);

/* Length of the well-formed UTF-8 sequence at in[0] (1 for ASCII), or 0
 * when it is malformed, overlong, a surrogate or above U+10FFFF. */
size_t smtp_utf8_seq_len(const uint8_t *in, size_t len);

/* Decodes xtext (RFC 3461 §4: "+" followed by two hex digits encodes a
 * byte; other bytes are "!".."~" except "+" and "="), appending to scratch.
 * Non-ASCII input is accepted only when allow_utf8 (RFC 6533 unitext).
 * Decoded control characters (< 0x20, 0x7f) are refused, since these values
 * end up in DSN header fields. Returns 0 with *out_r, or -1. */
int smtp_xtext_decode(const uint8_t *in, size_t len, bool allow_utf8, struct smtp_scratch *scratch,
                      struct sp_slice *out_r);

#endif
