/* Internals of src/keys shared by its files, its tests and fuzz targets. */
#ifndef KEYS_PRIVATE_H
#define KEYS_PRIVATE_H

#include "keys/keys.h"

/* The text that is fed to Argon2id for secret: a generated password or a
 * recovery key in canonical form (lowercase; recovery groups joined by
 * '-'), anything else unchanged. 0 with *canon_r (locked memory, NUL-
 * terminated, len = its length), -1 when text is longer than
 * KEYS_SECRET_TEXT_MAX. */
int keys_text_canonical(const char *text, struct keys_secret **canon_r);

#endif
