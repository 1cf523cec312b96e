/* Allocation that aborts instead of returning NULL, and the panic path. */
#include "lib/sp_mem.h"
#include "lib/sp_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

SP_NORETURN static void sp_oom(size_t size)
{
	sp_panic("out of memory allocating %zu bytes", size);
}

void *sp_malloc(size_t size)
{
	void *p = malloc(size ? size : 1);
	if (p == NULL)
		sp_oom(size);
	return p;
}

void *sp_calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (p == NULL)
		sp_oom(n * size);
	return p;
}

void *sp_realloc(void *p, size_t size)
{
	void *q = realloc(p, size ? size : 1);
	if (q == NULL)
		sp_oom(size);
	return q;
}

void *sp_reallocarray(void *p, size_t n, size_t size)
{
	size_t total;
	if (__builtin_mul_overflow(n, size, &total))
		sp_panic("array size overflow: %zu * %zu", n, size);
	return sp_realloc(p, total);
}

char *sp_strdup(const char *s)
{
	return sp_memdup(s, strlen(s) + 1);
}

char *sp_strndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *d = sp_malloc(len + 1);
	memcpy(d, s, len);
	d[len] = '\0';
	return d;
}

void *sp_memdup(const void *p, size_t n)
{
	void *d = sp_malloc(n);
	if (n > 0)
		memcpy(d, p, n);
	return d;
}

void sp_panic_at(const char *file, int line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sp_log_write(SP_LOG_ERROR, "panic", "file=%s line=%d msg=\"%s\"", file, line, msg);
	abort();
}
