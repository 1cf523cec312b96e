/* Open-addressing hash map (linear probing, backward-shift deletion) keyed
 * by 16 bytes, and the thread-local error text of src/net. */
#include "net/net_map.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

static uint64_t map_seed[2];
static pthread_once_t map_seed_once = PTHREAD_ONCE_INIT;

static void map_seed_init(void)
{
	if (getrandom(map_seed, sizeof(map_seed), 0) != (ssize_t)sizeof(map_seed)) {
		map_seed[0] = 0x9e3779b97f4a7c15ULL ^ (uint64_t)(uintptr_t)&map_seed;
		map_seed[1] = 0xbf58476d1ce4e5b9ULL;
	}
}

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

static size_t map_hash(const uint8_t *key)
{
	uint64_t a, b;
	memcpy(&a, key, 8);
	memcpy(&b, key + 8, 8);
	return (size_t)mix64(mix64(a ^ map_seed[0]) ^ b ^ map_seed[1]);
}

void net_map_init(struct net_map *map)
{
	pthread_once(&map_seed_once, map_seed_init);
	map->cap = 16;
	map->count = 0;
	map->ents = sp_calloc(map->cap, sizeof(*map->ents));
}

void net_map_deinit(struct net_map *map)
{
	sp_free(&map->ents);
	map->cap = map->count = 0;
}

static struct net_map_ent *map_probe(struct net_map *map, const uint8_t *key)
{
	size_t mask = map->cap - 1;
	for (size_t i = map_hash(key) & mask;; i = (i + 1) & mask) {
		struct net_map_ent *e = &map->ents[i];
		if (!e->used || memcmp(e->key, key, NET_MAP_KEY_LEN) == 0)
			return e;
	}
}

void **net_map_find(struct net_map *map, const uint8_t key[NET_MAP_KEY_LEN])
{
	struct net_map_ent *e = map_probe(map, key);
	return e->used ? &e->val : NULL;
}

static void map_grow(struct net_map *map)
{
	struct net_map old = *map;
	map->cap = old.cap * 2;
	map->count = 0;
	map->ents = sp_calloc(map->cap, sizeof(*map->ents));
	for (size_t i = 0; i < old.cap; i++) {
		if (old.ents[i].used)
			*net_map_insert(map, old.ents[i].key) = old.ents[i].val;
	}
	sp_free(&old.ents);
}

void **net_map_insert(struct net_map *map, const uint8_t key[NET_MAP_KEY_LEN])
{
	if ((map->count + 1) * 2 > map->cap)
		map_grow(map);
	struct net_map_ent *e = map_probe(map, key);
	if (!e->used) {
		e->used = true;
		memcpy(e->key, key, NET_MAP_KEY_LEN);
		e->val = NULL;
		map->count++;
	}
	return &e->val;
}

void net_map_remove(struct net_map *map, const uint8_t key[NET_MAP_KEY_LEN])
{
	struct net_map_ent *e = map_probe(map, key);
	if (!e->used)
		return;
	size_t mask = map->cap - 1;
	size_t hole = (size_t)(e - map->ents);
	e->used = false;
	map->count--;
	/* Backward shift: move later entries of the run into the hole when
	 * their home slot does not lie cyclically in (hole, j]. */
	for (size_t j = (hole + 1) & mask; map->ents[j].used; j = (j + 1) & mask) {
		size_t home = map_hash(map->ents[j].key) & mask;
		bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
		if (stays)
			continue;
		map->ents[hole] = map->ents[j];
		map->ents[j].used = false;
		hole = j;
	}
}

void net_map_foreach(struct net_map *map, void (*fn)(const uint8_t *key, void *val, void *ctx),
                     void *ctx)
{
	for (size_t i = 0; i < map->cap; i++) {
		if (map->ents[i].used)
			fn(map->ents[i].key, map->ents[i].val, ctx);
	}
}

static _Thread_local char net_error_text[512];

const char *net_error_set(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(net_error_text, sizeof(net_error_text), fmt, ap);
	va_end(ap);
	return net_error_text;
}
