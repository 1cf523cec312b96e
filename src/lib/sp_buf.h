/* Owning growable byte buffer, always NUL-terminated after len, and the
 * non-owning slice {ptr, len} that parsers return into their input. */
#ifndef SP_BUF_H
#define SP_BUF_H

#include "lib/sp_mem.h"

#include <stdarg.h>

struct sp_slice {
	const uint8_t *ptr;
	size_t len;
};

#define SP_SLICE_STR(s) ((struct sp_slice){(const uint8_t *)(s), sizeof(s) - 1})
struct sp_slice sp_slice_from_str(const char *s);
bool sp_slice_eq_str(struct sp_slice s, const char *str);
/* ASCII case-insensitive comparison with a NUL-terminated string. */
bool sp_slice_case_eq_str(struct sp_slice s, const char *str);

struct sp_buf {
	uint8_t *data; /* NULL until the first append; then NUL-terminated */
	size_t len;
	size_t cap;
};

#define SP_BUF_INIT                                                                                \
	{                                                                                          \
		NULL, 0, 0                                                                         \
	}

void sp_buf_init(struct sp_buf *b);
/* Frees the memory; the buffer may be reused after sp_buf_init. */
void sp_buf_deinit(struct sp_buf *b);
/* Ensures room for extra more bytes (plus the NUL). */
void sp_buf_reserve(struct sp_buf *b, size_t extra);
void sp_buf_append(struct sp_buf *b, const void *data, size_t len);
void sp_buf_append_str(struct sp_buf *b, const char *s);
void sp_buf_append_byte(struct sp_buf *b, uint8_t c);
void sp_buf_printf(struct sp_buf *b, const char *fmt, ...) SP_PRINTF(2, 3);
void sp_buf_vprintf(struct sp_buf *b, const char *fmt, va_list ap) SP_PRINTF(2, 0);
/* Sets len to 0, keeping the allocation. */
void sp_buf_reset(struct sp_buf *b);
/* Removes the first n bytes. */
void sp_buf_consume(struct sp_buf *b, size_t n);
/* Returns data as a C string ("" for an empty, never-allocated buffer). */
const char *sp_buf_cstr(const struct sp_buf *b);
/* Hands the allocation to the caller (NUL-terminated) and reinitialises b. */
char *sp_buf_steal(struct sp_buf *b);
static inline struct sp_slice sp_buf_slice(const struct sp_buf *b)
{
	return (struct sp_slice){b->data, b->len};
}

#endif
