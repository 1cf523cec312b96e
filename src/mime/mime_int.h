/* Internal declarations shared by the files of src/mime. */
#ifndef MIME_INT_H
#define MIME_INT_H

#include "mime/mime.h"
#include "mime/mime_decode.h"
#include "lib/sp_str.h"

/* The parser recurses once per nesting level. */
#define MIME_MAX_DEPTH_CAP 1000
/* Parameters kept per Content-Type/-Disposition; more are ignored. */
#define MIME_MAX_PARAMS 256

/* Lines of a body as BODYSTRUCTURE counts them. */
size_t mime_body_lines(const uint8_t *p, size_t len);
/* Fills type, params, boundary, id, ... from part->fields. */
void mime_part_read_fields(const struct mime_message *msg, struct mime_part *part,
                           struct sp_arena *arena);
/* Unfolded value of the first field called name, or NULL. */
char *mime_part_value(const struct mime_message *msg, const struct mime_part *part,
                      const char *name, struct sp_arena *arena, size_t *len_r);
bool mime_field_name_is(const struct mime_message *msg, const struct mime_field *f,
                        const char *name, size_t name_len);
/* Appends bytes that should be UTF-8: valid sequences are copied, others
 * are read as ISO-8859-1 when fallback_latin1, else become U+FFFD. Returns
 * the number of bytes that were not valid UTF-8. */
size_t mime_utf8_append(const uint8_t *in, size_t len, bool fallback_latin1, struct sp_buf *out);
/* Length of the valid UTF-8 sequence at p (1..4), or 0. */
size_t mime_utf8_seq_len(const uint8_t *p, size_t avail);

#endif
