/* Internal to src/net: a small open-addressing hash map from a 16-byte key
 * to a pointer-sized value, used for the owner-id registry and the per-IP
 * connection counts. Loop thread only; keys hashed with a per-process
 * random seed so peers cannot choose colliding addresses. */
#ifndef NET_MAP_H
#define NET_MAP_H

#include "lib/sp_mem.h"

#define NET_MAP_KEY_LEN 16

struct net_map_ent {
	uint8_t key[NET_MAP_KEY_LEN];
	void *val;
	bool used;
};

struct net_map {
	struct net_map_ent *ents; /* cap entries, cap a power of two */
	size_t cap, count;
};

void net_map_init(struct net_map *map);
void net_map_deinit(struct net_map *map);
/* The value slot for key, or NULL when absent. Valid until the next insert
 * or remove. */
void **net_map_find(struct net_map *map, const uint8_t key[NET_MAP_KEY_LEN]);
/* The value slot for key, created holding NULL when absent. */
void **net_map_insert(struct net_map *map, const uint8_t key[NET_MAP_KEY_LEN]);
/* Removes key if present. */
void net_map_remove(struct net_map *map, const uint8_t key[NET_MAP_KEY_LEN]);
/* Calls fn for each entry; fn must not change the map. */
void net_map_foreach(struct net_map *map, void (*fn)(const uint8_t *key, void *val, void *ctx),
                     void *ctx);

static inline void net_map_key_u64(uint8_t key[NET_MAP_KEY_LEN], uint64_t v)
{
	for (int i = 0; i < NET_MAP_KEY_LEN; i++)
		key[i] = i < 8 ? (uint8_t)(v >> (8 * i)) : 0;
}

/* Thread-local error text for messages that carry a file name or an OpenSSL
 * reason; valid until the next call into src/net on the same thread. */
const char *net_error_set(const char *fmt, ...) SP_PRINTF(1, 2);

#endif
