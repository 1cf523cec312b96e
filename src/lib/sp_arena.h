/* Arenas by lifetime (a connection's, a command's, a worker job's): many
 * allocations freed at once by sp_arena_reset/sp_arena_free, plus cleanups
 * for anything owning an fd or a handle. Never put secrets in an arena. */
#ifndef SP_ARENA_H
#define SP_ARENA_H

#include "lib/sp_mem.h"

struct sp_arena;

struct sp_arena *sp_arena_new(size_t block_size);
/* Runs the cleanups (last registered first), frees everything; NULL ok. */
void sp_arena_free(struct sp_arena **arena);
/* Runs the cleanups and releases all but the first block for reuse. */
void sp_arena_reset(struct sp_arena *arena);
/* Resets and gives the memory back too (the next allocation starts a new
 * block): for owners that go idle for long. */
void sp_arena_release(struct sp_arena *arena);

/* Memory valid until the next reset or free; 16-byte aligned; never NULL. */
void *sp_arena_alloc(struct sp_arena *arena, size_t size);
void *sp_arena_zalloc(struct sp_arena *arena, size_t size);
char *sp_arena_strdup(struct sp_arena *arena, const char *s);
char *sp_arena_strndup(struct sp_arena *arena, const char *s, size_t n);
char *sp_arena_printf(struct sp_arena *arena, const char *fmt, ...) SP_PRINTF(2, 3);

/* Registers fn(ctx) to run at the next reset or free. */
void sp_arena_add_cleanup(struct sp_arena *arena, void (*fn)(void *ctx), void *ctx);

#endif
