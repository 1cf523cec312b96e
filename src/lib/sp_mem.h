/* Allocation, assertions and panics for all of Sealpost.
 * sp_malloc and friends never return NULL: allocation failure aborts, which
 * is safe because every input-driven size has an explicit limit (STYLE.md).
 * sp_assert/sp_panic log where and abort in every build. */
#ifndef SP_MEM_H
#define SP_MEM_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define SP_AGAIN 2 /* "need more input" from a resumable parser */

#define SP_N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))
#define SP_MIN(a, b) ((a) < (b) ? (a) : (b))
#define SP_MAX(a, b) ((a) > (b) ? (a) : (b))
#define SP_UNUSED __attribute__((unused))
#define SP_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define SP_NORETURN __attribute__((noreturn))

void *sp_malloc(size_t size);
void *sp_calloc(size_t n, size_t size);
void *sp_realloc(void *p, size_t size);
/* Reallocates an array of n elements of size each, aborting on overflow. */
void *sp_reallocarray(void *p, size_t n, size_t size);
char *sp_strdup(const char *s);
char *sp_strndup(const char *s, size_t n);
void *sp_memdup(const void *p, size_t n);

/* Frees *pp and sets it to NULL; accepts NULL. */
#define sp_free(pp)                                                                                \
	do {                                                                                       \
		free(*(pp));                                                                       \
		*(pp) = NULL;                                                                      \
	} while (0)

SP_NORETURN void sp_panic_at(const char *file, int line, const char *fmt, ...) SP_PRINTF(3, 4);
#define sp_panic(...) sp_panic_at(__FILE__, __LINE__, __VA_ARGS__)
#define sp_assert(expr)                                                                            \
	do {                                                                                       \
		if (__builtin_expect(!(expr), 0))                                                  \
			sp_panic_at(__FILE__, __LINE__, "assertion failed: %s", #expr);            \
	} while (0)

#include <stdlib.h>

#endif
