/* Bump-pointer arena in linked blocks; oversized requests get a block of
 * their own so a large allocation never wastes a normal block. */
#include "lib/sp_arena.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct arena_block {
	struct arena_block *next;
	size_t size, used;
	_Alignas(16) uint8_t data[];
};

struct arena_cleanup {
	struct arena_cleanup *next;
	void (*fn)(void *ctx);
	void *ctx;
};

struct sp_arena {
	struct arena_block *blocks; /* current block first */
	struct arena_block *first;  /* kept across resets */
	struct arena_cleanup *cleanups;
	size_t block_size;
};

static struct arena_block *block_new(size_t size)
{
	struct arena_block *b = sp_malloc(sizeof(*b) + size);
	b->next = NULL;
	b->size = size;
	b->used = 0;
	return b;
}

struct sp_arena *sp_arena_new(size_t block_size)
{
	struct sp_arena *a = sp_calloc(1, sizeof(*a));
	a->block_size = block_size < 256 ? 256 : block_size;
	/* The first block comes with the first allocation: an idle owner (a
	 * connection in IDLE among thousands) holds none. */
	return a;
}

static void run_cleanups(struct sp_arena *a)
{
	while (a->cleanups != NULL) {
		struct arena_cleanup *c = a->cleanups;
		a->cleanups = c->next;
		c->fn(c->ctx);
	}
}

void sp_arena_reset(struct sp_arena *a)
{
	run_cleanups(a);
	/* Every block is reachable from a->blocks: new blocks are pushed in
	 * front, big ones linked right after the current block. */
	struct arena_block *b = a->blocks;
	while (b != NULL) {
		struct arena_block *next = b->next;
		if (b != a->first)
			free(b);
		b = next;
	}
	if (a->first != NULL) {
		a->first->used = 0;
		a->first->next = NULL;
	}
	a->blocks = a->first;
}

void sp_arena_release(struct sp_arena *a)
{
	sp_arena_reset(a);
	free(a->first);
	a->first = a->blocks = NULL;
}

void sp_arena_free(struct sp_arena **ap)
{
	struct sp_arena *a = *ap;
	if (a == NULL)
		return;
	sp_arena_reset(a);
	free(a->first);
	free(a);
	*ap = NULL;
}

void *sp_arena_alloc(struct sp_arena *a, size_t size)
{
	size_t need = (size + 15) & ~(size_t)15;
	if (need < size)
		sp_panic("arena allocation overflow");
	struct arena_block *b = a->blocks;
	if (b == NULL)
		a->first = a->blocks = b = block_new(a->block_size);
	if (b->size - b->used < need) {
		if (need > a->block_size / 4) {
			/* Big: its own block, linked after the current one. */
			struct arena_block *big = block_new(need);
			big->used = need;
			big->next = b->next;
			b->next = big;
			return big->data;
		}
		struct arena_block *nb = block_new(a->block_size);
		nb->next = b;
		a->blocks = b = nb;
	}
	void *p = b->data + b->used;
	b->used += need;
	return p;
}

void *sp_arena_zalloc(struct sp_arena *a, size_t size)
{
	void *p = sp_arena_alloc(a, size);
	memset(p, 0, size);
	return p;
}

char *sp_arena_strndup(struct sp_arena *a, const char *s, size_t n)
{
	char *d = sp_arena_alloc(a, n + 1);
	if (n > 0) /* s may be NULL for an empty string */
		memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

char *sp_arena_strdup(struct sp_arena *a, const char *s)
{
	return sp_arena_strndup(a, s, strlen(s));
}

char *sp_arena_printf(struct sp_arena *a, const char *fmt, ...)
{
	va_list ap, ap2;
	va_start(ap, fmt);
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		sp_panic("vsnprintf failed");
	char *d = sp_arena_alloc(a, (size_t)n + 1);
	vsnprintf(d, (size_t)n + 1, fmt, ap2);
	va_end(ap2);
	return d;
}

void sp_arena_add_cleanup(struct sp_arena *a, void (*fn)(void *ctx), void *ctx)
{
	struct arena_cleanup *c = sp_arena_alloc(a, sizeof(*c));
	c->fn = fn;
	c->ctx = ctx;
	c->next = a->cleanups;
	a->cleanups = c;
}
