/* Growable buffer and slices. */
#include "lib/sp_buf.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

struct sp_slice sp_slice_from_str(const char *s)
{
	return (struct sp_slice){(const uint8_t *)s, strlen(s)};
}

bool sp_slice_eq_str(struct sp_slice s, const char *str)
{
	size_t n = strlen(str);
	return s.len == n && (n == 0 || memcmp(s.ptr, str, n) == 0);
}

bool sp_slice_case_eq_str(struct sp_slice s, const char *str)
{
	size_t n = strlen(str);
	return s.len == n && (n == 0 || strncasecmp((const char *)s.ptr, str, n) == 0);
}

void sp_buf_init(struct sp_buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void sp_buf_deinit(struct sp_buf *b)
{
	free(b->data);
	sp_buf_init(b);
}

void sp_buf_reserve(struct sp_buf *b, size_t extra)
{
	size_t need;
	if (__builtin_add_overflow(b->len, extra, &need) || need == SIZE_MAX)
		sp_panic("buffer size overflow");
	need++;
	if (need <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	b->data = sp_realloc(b->data, cap);
	b->cap = cap;
	b->data[b->len] = '\0';
}

void sp_buf_append(struct sp_buf *b, const void *data, size_t len)
{
	sp_buf_reserve(b, len);
	if (len > 0)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
}

void sp_buf_append_str(struct sp_buf *b, const char *s)
{
	sp_buf_append(b, s, strlen(s));
}

void sp_buf_append_byte(struct sp_buf *b, uint8_t c)
{
	sp_buf_append(b, &c, 1);
}

void sp_buf_vprintf(struct sp_buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		sp_panic("vsnprintf failed for format %s", fmt);
	sp_buf_reserve(b, (size_t)n);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

void sp_buf_printf(struct sp_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	sp_buf_vprintf(b, fmt, ap);
	va_end(ap);
}

void sp_buf_reset(struct sp_buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

void sp_buf_consume(struct sp_buf *b, size_t n)
{
	sp_assert(n <= b->len);
	if (n == 0)
		return;
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = '\0';
}

const char *sp_buf_cstr(const struct sp_buf *b)
{
	return b->data != NULL ? (const char *)b->data : "";
}

char *sp_buf_steal(struct sp_buf *b)
{
	if (b->data == NULL)
		return sp_strdup("");
	char *s = (char *)b->data;
	sp_buf_init(b);
	return s;
}
