/* Notifier: a list of subscriptions per mailbox id, in a small chained
 * hash table. Subscribers may unsubscribe (themselves or others) from
 * inside a callback: removal only marks, and a sweep runs after dispatch. */
#include "notify/notify.h"
#include "lib/sp_str.h"

#include <string.h>

#define NOTIFY_BUCKETS 1024

struct notify_sub {
	struct notify *n;
	struct notify_sub *next;
	char *mailbox_id;
	notify_fn *fn;
	void *ctx;
	bool dead;
};

struct notify {
	struct notify_sub *buckets[NOTIFY_BUCKETS];
	unsigned dispatching;
	bool dirty;
};

static size_t bucket_of(const char *id)
{
	uint64_t h = 1469598103934665603ULL;
	for (const char *p = id; *p != '\0'; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ULL;
	return (size_t)(h % NOTIFY_BUCKETS);
}

struct notify *notify_new(void)
{
	return sp_calloc(1, sizeof(struct notify));
}

static void sweep(struct notify *n)
{
	for (size_t b = 0; b < NOTIFY_BUCKETS; b++) {
		struct notify_sub **pp = &n->buckets[b];
		while (*pp != NULL) {
			struct notify_sub *s = *pp;
			if (s->dead) {
				*pp = s->next;
				free(s->mailbox_id);
				free(s);
			} else {
				pp = &s->next;
			}
		}
	}
	n->dirty = false;
}

void notify_free(struct notify **np)
{
	struct notify *n = *np;
	if (n == NULL)
		return;
	for (size_t b = 0; b < NOTIFY_BUCKETS; b++)
		sp_assert(n->buckets[b] == NULL || n->buckets[b]->dead);
	sweep(n);
	free(n);
	*np = NULL;
}

struct notify_sub *notify_subscribe(struct notify *n, const char *mailbox_id, notify_fn *fn,
                                    void *ctx)
{
	struct notify_sub *s = sp_calloc(1, sizeof(*s));
	s->n = n;
	s->mailbox_id = sp_strdup(mailbox_id);
	s->fn = fn;
	s->ctx = ctx;
	size_t b = bucket_of(mailbox_id);
	s->next = n->buckets[b];
	n->buckets[b] = s;
	return s;
}

void notify_unsubscribe(struct notify_sub **sp)
{
	struct notify_sub *s = *sp;
	if (s == NULL)
		return;
	s->dead = true;
	s->n->dirty = true;
	if (s->n->dispatching == 0)
		sweep(s->n);
	*sp = NULL;
}

unsigned notify_mailbox(struct notify *n, const char *mailbox_id, unsigned what,
                        const char *slot_id)
{
	unsigned count = 0;
	n->dispatching++;
	for (struct notify_sub *s = n->buckets[bucket_of(mailbox_id)]; s != NULL; s = s->next) {
		if (!s->dead && strcmp(s->mailbox_id, mailbox_id) == 0) {
			s->fn(s->ctx, mailbox_id, what, slot_id);
			count++;
		}
	}
	if (--n->dispatching == 0 && n->dirty)
		sweep(n);
	return count;
}
