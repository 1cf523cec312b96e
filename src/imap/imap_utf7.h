/* Modified UTF-7 for IMAP mailbox names (RFC 3501 §5.1.3), to and from
 * UTF-8. Decoding is strict so that one name has one spelling: it rejects
 * a bare '&' (it must be "&-"), 8-bit and control octets, characters
 * outside the modified BASE64 alphabet, an empty or unterminated shift
 * sequence ("&" ... "-"), leftover bits that are not zero or form a whole
 * 6-bit group, unpaired UTF-16 surrogates, printable US-ASCII that was
 * encoded instead of written directly, and two adjacent shift sequences
 * (they must be merged). Encoding rejects invalid UTF-8 (overlong forms,
 * encoded surrogates, code points above U+10FFFF, truncated sequences).
 *
 * Output is appended to out (NUL-terminated as sp_buf always is); on error
 * out may hold a partial result: discard it. error_r receives static text. */
#ifndef IMAP_UTF7_H
#define IMAP_UTF7_H

#include "lib/sp_buf.h"

/* 0 or -1 with *error_r. */
int imap_utf8_to_utf7(struct sp_slice in, struct sp_buf *out, const char **error_r);
int imap_utf7_to_utf8(struct sp_slice in, struct sp_buf *out, const char **error_r);

/* True when in is valid modified UTF-7 as described above. */
bool imap_utf7_is_valid(struct sp_slice in);

/* True when in is valid UTF-8 (RFC 3629): for UTF8=ACCEPT names. */
bool imap_utf8_is_valid(struct sp_slice in);

#endif
