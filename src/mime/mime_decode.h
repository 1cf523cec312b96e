/* Decoders for message content: transfer encodings (RFC 2045 §6.7, §6.8),
 * encoded-words (RFC 2047), charsets to UTF-8 (iconv), address lists and
 * dates (RFC 5322 §3.3, §3.4, §4.3, §4.4) and text extraction for the
 * search index. None of them fails on bad input: they decode what they
 * can, replace what they cannot with U+FFFD and say so in the return. */
#ifndef MIME_DECODE_H
#define MIME_DECODE_H

#include "mime/mime.h"

#include <time.h>

/* Quoted-printable (RFC 2045 §6.7), lenient: a bad "=" sequence is kept
 * as is, soft line breaks are removed, trailing WSP before a line end is
 * dropped. Appends to out; returns the number of bad sequences. */
size_t mime_qp_decode(const uint8_t *in, size_t len, struct sp_buf *out);
/* RFC 2047 "Q" encoding: as QP, and "_" is a space. */
size_t mime_q_decode(const uint8_t *in, size_t len, struct sp_buf *out);

enum mime_cte {
	MIME_CTE_7BIT,
	MIME_CTE_8BIT,
	MIME_CTE_BINARY,
	MIME_CTE_QP,
	MIME_CTE_BASE64,
	MIME_CTE_UNKNOWN, /* e.g. x-uuencode: BINARY[] says UNKNOWN-CTE */
};
/* Classifies a Content-Transfer-Encoding value (NULL means 7bit). */
enum mime_cte mime_cte_parse(const char *value);
/* Appends the transfer-decoded body of part. -1 for MIME_CTE_UNKNOWN
 * (nothing appended), else 0 (bad data is decoded leniently). */
int mime_part_decode_body(const struct mime_message *msg, const struct mime_part *part,
                          struct sp_buf *out);

/* Converts in (in charset) to UTF-8, appending to out. Aliases and
 * supersets are applied (ks_c_5601-1987 -> CP949, iso-8859-1 ->
 * WINDOWS-1252, ...); an unknown charset is read as ISO-8859-1 unless the
 * bytes are valid UTF-8; invalid bytes become U+FFFD. charset NULL or ""
 * means US-ASCII. Returns the number of replacements (0 = clean). */
size_t mime_charset_to_utf8(const char *charset, const uint8_t *in, size_t len, struct sp_buf *out);
/* true when charset is known to iconv (after aliasing). */
bool mime_charset_known(const char *charset);

/* Decodes RFC 2047 encoded-words in an unstructured or phrase value to
 * UTF-8 and appends it; the rest of the text is taken as UTF-8 (raw 8-bit
 * bytes that are not valid UTF-8 are read as the default charset, or
 * ISO-8859-1). Lenient: words inside quotes, without surrounding spaces,
 * and multibyte characters split across adjacent words (decoded together)
 * are accepted; whitespace between adjacent words is dropped. */
void mime_rfc2047_decode(const uint8_t *in, size_t len, struct sp_buf *out);

/* ---- Addresses (RFC 5322 §3.4, §4.4) ---- */

/* One entry of an address list. A group is a start marker (mailbox =
 * group name, group_start) followed by its members and an end marker
 * (group_end), as ENVELOPE shows it. All strings are NUL-terminated in
 * the arena, raw (encoded-words not decoded, quotes removed, quoted
 * pairs unescaped); absent parts are NULL. */
struct mime_address {
	const char *name;    /* display name, or the comment if none */
	const char *route;   /* obsolete route "@a,@b" */
	const char *mailbox; /* local part, or the group name */
	const char *domain;
	bool group_start, group_end;
	bool invalid; /* no domain, or junk that could not be parsed */
};

/* Parses an address-list value (unfolded). Returns the entries in arena
 * (*count_r of them); never fails: junk becomes invalid entries. */
struct mime_address *mime_address_parse(const uint8_t *value, size_t len, struct sp_arena *arena,
                                        unsigned *count_r);

/* Appends an address-list value (unfolded) as parsed, the form address
 * searches (FROM, TO, CC, BCC of RFC 9051 §6.4.4) match against besides
 * the raw field: comments and quoting gone, encoded-words in names
 * decoded, each mailbox "Name <local@domain>" or "local@domain", groups
 * "name: member, member;", entries separated by ", ". Appends nothing
 * for an empty list. */
void mime_address_text(const uint8_t *value, size_t len, struct sp_buf *out);

/* ---- Dates (RFC 5322 §3.3, §4.3) ---- */

/* Parses a Date value: day-of-week optional, 2- and 3-digit years (+1900
 * or +2000 per §4.3), seconds optional, numeric or named zones, comments.
 * *utc_r is the instant, *offset_min_r the sender's zone in minutes east
 * of UTC (0 for unknown zones, which §4.3 says to take as -0000). 0 or -1
 * when no date could be read. */
int mime_date_parse(const uint8_t *value, size_t len, time_t *utc_r, int *offset_min_r);

/* ---- Text for the search index ---- */

/* Appends the text of one leaf part: transfer-decoded, converted to UTF-8
 * from its charset; text/html has its tags, scripts and styles removed and
 * entities decoded. Non-text parts append nothing and return -1. */
int mime_part_text(const struct mime_message *msg, const struct mime_part *part,
                   struct sp_buf *out);
/* Appends the text of every text leaf of the message (encapsulated
 * messages included), separated by newlines. */
void mime_message_text(const struct mime_message *msg, struct sp_buf *out);
/* Strips HTML to text: tags removed (block tags become line breaks),
 * <script>/<style> content dropped, entities decoded. Input is UTF-8. */
void mime_html_to_text(const uint8_t *in, size_t len, struct sp_buf *out);

#endif
