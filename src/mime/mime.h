/* RFC 5322 / MIME (RFC 2045-2049, 2231, 6532) message parser, the IMAP
 * ENVELOPE and BODYSTRUCTURE builders (RFC 3501 §7.4.2, RFC 9051 §7.5.2)
 * and section addressing (RFC 3501/9051 §6.4.5).
 *
 * Input is one whole message in memory in its served form (CRLF line ends,
 * see mime_crlf_normalize); every offset, size and line count is on the
 * buffer passed to mime_parse. The parser accepts any bytes (bare LF, NUL,
 * 8-bit, huge headers) and never fails: it builds a best-effort tree and
 * records defects. Decoders (transfer encodings, RFC 2047, charsets,
 * addresses, dates, text extraction) are in mime_decode.h. */
#ifndef MIME_H
#define MIME_H

#include "lib/sp_arena.h"
#include "lib/sp_buf.h"

/* ---- CRLF normalisation (the served form) ---- */

/* Streaming converter: bare LF and bare CR become CRLF; CRLF stays. A CR at
 * the end of one chunk is held until the next chunk (or finish) tells
 * whether an LF follows. */
struct mime_crlf_state {
	bool pending_cr;
};
#define MIME_CRLF_STATE_INIT                                                                       \
	{                                                                                          \
		false                                                                              \
	}
void mime_crlf_feed(struct mime_crlf_state *st, const uint8_t *in, size_t len, struct sp_buf *out);
/* Flushes a CR held at the end of the input. */
void mime_crlf_finish(struct mime_crlf_state *st, struct sp_buf *out);
/* One-shot: appends the served form of in to out. */
void mime_crlf_normalize(const uint8_t *in, size_t len, struct sp_buf *out);
/* Size of the served form of in (RFC822.SIZE), without building it. */
size_t mime_served_size(const uint8_t *in, size_t len);

/* ---- The part tree ---- */

struct mime_limits {
	unsigned max_depth;      /* nesting of multipart/message; deeper = leaf */
	unsigned max_parts;      /* parts in the whole tree; more are not built */
	size_t max_header_bytes; /* header bytes per part parsed into fields */
};
#define MIME_LIMITS_DEFAULT                                                                        \
	{                                                                                          \
		40, 5000, 256 * 1024                                                               \
	}

enum mime_defect {
	MIME_DEFECT_NO_HEADER_END = 1u << 0,     /* no blank line after header */
	MIME_DEFECT_BAD_HEADER_LINE = 1u << 1,   /* line without a colon */
	MIME_DEFECT_NO_BOUNDARY_PARAM = 1u << 2, /* multipart without boundary */
	MIME_DEFECT_NO_START_BOUNDARY = 1u << 3, /* no delimiter line found */
	MIME_DEFECT_NO_CLOSE_BOUNDARY = 1u << 4, /* no close delimiter */
	MIME_DEFECT_DEPTH_LIMIT = 1u << 5,       /* nesting limit hit */
	MIME_DEFECT_PARTS_LIMIT = 1u << 6,       /* part count limit hit */
	MIME_DEFECT_HEADER_LIMIT = 1u << 7,      /* header larger than allowed */
	MIME_DEFECT_BAD_CONTENT_TYPE = 1u << 8,  /* unparsable Content-Type */
	MIME_DEFECT_8BIT_HEADER = 1u << 9,       /* raw 8-bit in header */
	MIME_DEFECT_NUL = 1u << 10,              /* NUL byte seen */
	MIME_DEFECT_BARE_EOL = 1u << 11,         /* bare LF or CR: not served form */
	MIME_DEFECT_BAD_ENCODING = 1u << 12,     /* unknown or bad C-T-E data */
};

/* A header field: offsets into the message buffer. The raw field spans
 * [off, end) including its folded lines and final line end. A line
 * without a colon is kept as a field with name_len 0 (no name matches). */
struct mime_field {
	size_t off, name_len, value_off, end;
};

/* A Content-Type or Content-Disposition parameter. name is lowercased;
 * value is decoded to UTF-8 (RFC 2231 continuations joined, charset
 * converted, quotes removed). imap_name/imap_value is the form
 * BODYSTRUCTURE sends: continuations joined, still RFC 2231-encoded
 * ("filename*" "utf-8''%E2%82%AC"), as the RFC leaves decoding to clients;
 * imap_name keeps the case the sender wrote. */
struct mime_param {
	const char *name, *value;
	const char *imap_name, *imap_value;
};

struct mime_part {
	size_t hdr_off, hdr_len;   /* header including the blank line */
	size_t body_off, body_len; /* content, excluding a boundary's CRLF */
	size_t body_lines;         /* line ends in the body, see mime_parse.c */
	unsigned depth;
	unsigned defects; /* enum mime_defect bits for this part */

	struct mime_field *fields; /* up to max_header_bytes of header */
	unsigned n_fields;

	/* Content-Type, lowercased; defaults per RFC 2045 §5.2 (text/plain
	 * with charset us-ascii) or RFC 2046 §5.1.5 (message/rfc822 in a
	 * digest). type_explicit says whether the header gave a usable one.
	 * A text part without charset gets charset=us-ascii (RFC 2046
	 * §4.1.2) appended to params. */
	const char *type, *subtype;
	const char *imap_type, *imap_subtype; /* as written, for BODYSTRUCTURE */
	bool type_explicit;
	struct mime_param *params;
	unsigned n_params;
	const char *boundary; /* multipart only, NULL otherwise */

	/* Other MIME fields, unfolded raw values, NULL when absent. */
	const char *id, *description, *encoding, *language, *location, *md5;
	const char *disposition;      /* disposition type, lowercased */
	const char *imap_disposition; /* as written */
	struct mime_param *disp_params;
	unsigned n_disp_params;

	struct mime_part *parent, *children, *next; /* multipart children */
	unsigned n_children;
	/* message/rfc822 and message/global: the encapsulated message, whose
	 * header starts at this part's body_off. NULL otherwise. */
	struct mime_part *message;
};

struct mime_message {
	const uint8_t *data; /* the caller's buffer, not copied */
	size_t len;
	struct mime_part *root; /* the message itself: header + body */
	unsigned n_parts;
	unsigned defects; /* union of every part's defects */
};

/* Parses data[0..len) into a tree allocated in arena; limits may be NULL
 * for MIME_LIMITS_DEFAULT. Never fails: returns 0 and a best-effort tree.
 * The tree points into data, which must outlive it and not change; it is
 * valid until the arena is reset. Time is linear in len (times the
 * nesting depth for lines that start with "--"). */
int mime_parse(const uint8_t *data, size_t len, const struct mime_limits *limits,
               struct sp_arena *arena, struct mime_message **msg_r);

/* The first field called name (case-insensitive) in part's header, or
 * NULL. Fields past limits->max_header_bytes are not seen. */
const struct mime_field *mime_part_field(const struct mime_message *msg,
                                         const struct mime_part *part, const char *name);
/* Unfolded value of a field: CR and LF removed, leading/trailing WSP
 * trimmed (RFC 5322 §2.2.3); NUL-terminated in arena (NULs kept). */
char *mime_field_value(const struct mime_message *msg, const struct mime_field *f,
                       struct sp_arena *arena, size_t *len_r);
/* Value of a parameter by lowercased name, or NULL. */
const char *mime_param_get(const struct mime_param *params, unsigned n, const char *name);

/* ---- IMAP output ---- */

enum mime_imap_flags {
	MIME_IMAP_UTF8 = 1u << 0, /* UTF8=ACCEPT: valid UTF-8 may be quoted */
};

/* Appends the ENVELOPE of a message (its root, or an encapsulated
 * message's root part) as "(date subject from sender reply-to to cc bcc
 * in-reply-to message-id)". Values are raw unfolded header values;
 * encoded-words are not decoded. */
void mime_envelope(const struct mime_message *msg, const struct mime_part *root, unsigned flags,
                   struct sp_buf *out);
/* Appends BODYSTRUCTURE (extended) or BODY (!extended) of part. */
void mime_bodystructure(const struct mime_message *msg, const struct mime_part *part, bool extended,
                        unsigned flags, struct sp_buf *out);
/* Appends s as an IMAP string: NIL for NULL, quoted when possible (with
 * \" and \\ escaped), else a {n} literal. */
void mime_imap_string(const char *s, size_t len, unsigned flags, struct sp_buf *out);

/* ---- Sections (RFC 3501 §6.4.5) ---- */

enum mime_section_kind {
	MIME_SECTION_BODY,   /* "1.2" or "" (the whole message) */
	MIME_SECTION_HEADER, /* [path.]HEADER */
	MIME_SECTION_FIELDS, /* [path.]HEADER.FIELDS (names) */
	MIME_SECTION_FIELDS_NOT,
	MIME_SECTION_TEXT, /* [path.]TEXT */
	MIME_SECTION_MIME, /* path.MIME */
};

#define MIME_SECTION_MAX_PATH 64

struct mime_section {
	unsigned path[MIME_SECTION_MAX_PATH];
	unsigned path_len;
	enum mime_section_kind kind;
	const char **fields; /* FIELDS and FIELDS_NOT: header names */
	unsigned n_fields;
};

/* Parses a section spec as it appears between the brackets of BODY[...]:
 * "", "1.2", "HEADER", "2.MIME", "1.HEADER.FIELDS (From To)". Case-
 * insensitive. Field names are allocated in arena. 0 or -1 (bad syntax,
 * error_r says why). */
int mime_section_parse(const char *spec, struct mime_section *sec, struct sp_arena *arena,
                       const char **error_r);

/* The bytes a section denotes. For every kind but FIELDS/FIELDS_NOT they
 * are the range [off, off+len) of the message buffer; for those two,
 * built is true and bytes holds the matching raw header lines in order
 * plus the final CRLF (a buffer the caller deinitialises). */
struct mime_section_result {
	size_t off, len;
	bool built;
	struct sp_buf bytes;
};

/* Resolves sec on msg. 0 on success; -1 when the path names no part
 * (IMAP then returns an empty string). part_r (optional) is the part the
 * path named, for BINARY[] which needs its transfer encoding. */
int mime_section_fetch(const struct mime_message *msg, const struct mime_section *sec,
                       struct mime_section_result *res, const struct mime_part **part_r);
/* The part a path names (RFC 3501 §6.4.5 numbering), or NULL. */
const struct mime_part *mime_part_by_path(const struct mime_message *msg, const unsigned *path,
                                          unsigned path_len);

#endif
