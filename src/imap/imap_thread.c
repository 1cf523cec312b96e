/* THREAD (RFC 5256 §4-§5): ORDEREDSUBJECT and REFERENCES, written as the
 * thread list of the untagged THREAD response (RFC 5256 §4 thread-list).
 * Nodes live in one arena array and point to each other by index; every
 * traversal uses an explicit stack, so a 100,000-message chain is fine. */
#include "imap/imap_sort.h"

#include <string.h>

#define NONE UINT32_MAX

struct tnode {
	uint32_t msg; /* index into msgs; NONE for a dummy */
	uint32_t parent, first_child, last_child, next;
	uint32_t n_children;
};

struct thread_ctx {
	const struct imap_sort_msg *msgs;
	const struct imap_sort_keys *keys;
	struct sp_arena *arena;
	struct tnode *nodes;
	uint32_t n_nodes, cap;
	/* Steps left for the loop checks' walks up the tree; see would_loop. */
	uint64_t walk_budget;
};

static uint32_t node_new(struct thread_ctx *c, uint32_t msg)
{
	sp_assert(c->n_nodes < c->cap);
	struct tnode *t = &c->nodes[c->n_nodes];
	t->msg = msg;
	t->parent = t->first_child = t->last_child = t->next = NONE;
	t->n_children = 0;
	return c->n_nodes++;
}

static bool is_dummy(const struct thread_ctx *c, uint32_t x)
{
	return c->nodes[x].msg == NONE;
}

/* A dummy's date and sequence number are its first child's (RFC 5256
 * §5 step 6); dummies only ever have real messages as children. */
static uint32_t date_msg(const struct thread_ctx *c, uint32_t x)
{
	while (c->nodes[x].msg == NONE && c->nodes[x].first_child != NONE)
		x = c->nodes[x].first_child;
	return c->nodes[x].msg;
}

static void child_append(struct thread_ctx *c, uint32_t parent, uint32_t child)
{
	struct tnode *p = &c->nodes[parent];
	c->nodes[child].parent = parent;
	c->nodes[child].next = NONE;
	if (p->last_child == NONE)
		p->first_child = child;
	else
		c->nodes[p->last_child].next = child;
	p->last_child = child;
	p->n_children++;
}

/* Forgets a removed dummy's child list, whose nodes now belong to
 * another list. */
static void children_forget(struct thread_ctx *c, uint32_t x)
{
	c->nodes[x].first_child = c->nodes[x].last_child = NONE;
	c->nodes[x].n_children = 0;
}

/* ---- the id table: msg-id (case-sensitive, RFC 5256 §5) -> node ---- */

struct id_table {
	const char **ids;
	uint32_t *node;
	size_t mask;
};

static uint64_t hash_bytes(const char *s, size_t n, bool casemap)
{
	uint64_t h = 14695981039346656037ull; /* FNV-1a */
	for (size_t i = 0; i < n; i++) {
		uint8_t b = (uint8_t)s[i];
		if (casemap && b >= 'a' && b <= 'z')
			b = (uint8_t)(b - 32);
		h = (h ^ b) * 1099511628211ull;
	}
	return h;
}

static void id_table_init(struct id_table *t, size_t entries, struct sp_arena *arena)
{
	size_t size = 16;
	while (size < entries * 2)
		size *= 2;
	t->ids = sp_arena_zalloc(arena, size * sizeof(*t->ids));
	t->node = sp_arena_alloc(arena, size * sizeof(*t->node));
	t->mask = size - 1;
}

/* The slot of id: either holding it or empty. The table is sized for
 * every id it can receive, so an empty slot always exists. */
static size_t id_slot(const struct id_table *t, const char *id)
{
	size_t i = (size_t)hash_bytes(id, strlen(id), false) & t->mask;
	while (t->ids[i] != NULL && strcmp(t->ids[i], id) != 0)
		i = (i + 1) & t->mask;
	return i;
}

/* ---- step 1: links ---- */

/* RFC 5256 §5 step 1.A: "before making message A the parent of B, make
 * sure that A is not a descendent of B" (nor B itself). A node without
 * children has no descendants, which spares the walk up in the usual
 * case of a new message. Crafted References (deep chains linked late to
 * nodes that have children) could make the walks quadratic, so they share
 * a budget linear in the input; once it is spent a link that needs a walk
 * is refused as if it looped: the message then starts its own thread. */
static bool would_loop(struct thread_ctx *c, uint32_t a, uint32_t b)
{
	if (a == b)
		return true;
	if (c->nodes[b].n_children == 0)
		return false;
	for (uint32_t x = c->nodes[a].parent; x != NONE; x = c->nodes[x].parent) {
		if (c->walk_budget == 0)
			return true;
		c->walk_budget--;
		if (x == b)
			return true;
	}
	return false;
}

/* Only parents and child counts during step 1; the child lists are
 * built once the links are final. */
static void set_parent(struct thread_ctx *c, uint32_t child, uint32_t parent)
{
	uint32_t old = c->nodes[child].parent;
	if (old != NONE)
		c->nodes[old].n_children--;
	c->nodes[child].parent = parent;
	if (parent != NONE)
		c->nodes[parent].n_children++;
}

static uint32_t id_node(struct thread_ctx *c, struct id_table *t, const char *id)
{
	size_t s = id_slot(t, id);
	if (t->ids[s] == NULL) {
		/* "If no message can be found with a given Message ID, create
		 * a dummy message with this ID." */
		t->ids[s] = id;
		t->node[s] = node_new(c, NONE);
	}
	return t->node[s];
}

static void link_message(struct thread_ctx *c, struct id_table *t, uint32_t m)
{
	const struct imap_sort_keys *k = &c->keys[m];
	uint32_t self = NONE;

	if (k->message_id != NULL) {
		size_t s = id_slot(t, k->message_id);
		if (t->ids[s] == NULL) {
			t->ids[s] = k->message_id;
			t->node[s] = self = node_new(c, m);
		} else if (is_dummy(c, t->node[s])) {
			self = t->node[s];
			c->nodes[self].msg = m;
		}
		/* else a duplicate Message-ID: only the first (lowest
		 * sequence number) message keeps it; this one gets a unique
		 * id, i.e. a node nobody can reference. */
	}
	if (self == NONE)
		self = node_new(c, m);

	uint32_t prev = NONE;
	for (size_t i = 0; i < k->n_refs; i++) {
		uint32_t r = id_node(c, t, k->refs[i]);
		/* 1.A: link reference i as parent of i+1 unless i+1 already has
		 * a parent (References may be truncated) or it would loop. */
		if (prev != NONE && c->nodes[r].parent == NONE && !would_loop(c, prev, r))
			set_parent(c, r, prev);
		prev = r;
	}
	/* 1.B: "If the current message already has a parent, break the old
	 * link", then make the last reference the parent "unless doing so
	 * would introduce a loop": a message whose new parent would loop ends
	 * up with no parent at all, not with its old one. No references
	 * means no parent. (Dropping the old link first cannot change the
	 * loop check: it walks up from prev, and reaches self's old parent
	 * only through self.) */
	if (prev == NONE || c->nodes[self].parent == prev)
		set_parent(c, self, prev);
	else if (would_loop(c, prev, self))
		set_parent(c, self, NONE);
	else
		set_parent(c, self, prev);
}

/* ---- sorting helpers ---- */

static int node_cmp(size_t x, size_t y, const void *vctx)
{
	const struct thread_ctx *c = vctx;
	uint32_t a = date_msg(c, (uint32_t)x), b = date_msg(c, (uint32_t)y);
	if (a == NONE || b == NONE)
		return (a == NONE) - (b == NONE);
	time_t da = c->keys[a].sent_date, db = c->keys[b].sent_date;
	if (da != db)
		return da < db ? -1 : 1;
	uint32_t sa = c->msgs[a].seq, sb = c->msgs[b].seq;
	return (sa > sb) - (sa < sb);
}

static int msg_cmp_seq(size_t x, size_t y, const void *vctx)
{
	const struct thread_ctx *c = vctx;
	uint32_t a = c->msgs[x].seq, b = c->msgs[y].seq;
	return (a > b) - (a < b);
}

/* Sorts the child list of x by sent date, then sequence number. */
static void sort_children(struct thread_ctx *c, uint32_t x, size_t *tmp)
{
	struct tnode *p = &c->nodes[x];
	if (p->n_children < 2)
		return;
	size_t n = 0;
	for (uint32_t k = p->first_child; k != NONE; k = c->nodes[k].next)
		tmp[n++] = k;
	imap_sort_indices(tmp, n, node_cmp, c, c->arena);
	p->first_child = (uint32_t)tmp[0];
	for (size_t i = 0; i + 1 < n; i++)
		c->nodes[tmp[i]].next = (uint32_t)tmp[i + 1];
	c->nodes[tmp[n - 1]].next = NONE;
	p->last_child = (uint32_t)tmp[n - 1];
}

static void sort_roots(struct thread_ctx *c, uint32_t *roots, size_t n_roots, size_t *tmp)
{
	for (size_t i = 0; i < n_roots; i++)
		tmp[i] = roots[i];
	imap_sort_indices(tmp, n_roots, node_cmp, c, c->arena);
	for (size_t i = 0; i < n_roots; i++)
		roots[i] = (uint32_t)tmp[i];
}

/* ---- output (RFC 5256 §4) ---- */

/* thread-list = "(" (thread-members / thread-nested) ")"
 * thread-members = nz-number *(SP nz-number) [SP thread-nested]
 * thread-nested = 2*thread-list
 * A chain of only children is one thread-members; a node with several
 * children lists each child as its own thread-list; a dummy writes no
 * number. */
static void write_threads(const struct thread_ctx *c, const uint32_t *roots, size_t n_roots,
                          bool use_uid, struct sp_buf *out)
{
	const uint32_t close = NONE;
	uint32_t *stack =
	    sp_arena_alloc(c->arena, (2 * (size_t)c->n_nodes + n_roots + 1) * sizeof(*stack));
	size_t sp = 0;

	for (size_t i = n_roots; i > 0; i--)
		stack[sp++] = roots[i - 1];
	while (sp > 0) {
		uint32_t x = stack[--sp];
		if (x == close) {
			sp_buf_append_byte(out, ')');
			continue;
		}
		sp_buf_append_byte(out, '(');
		bool wrote = false;
		for (;;) {
			const struct tnode *t = &c->nodes[x];
			if (t->msg != NONE) {
				const struct imap_sort_msg *m = &c->msgs[t->msg];
				sp_buf_printf(out, wrote ? " %u" : "%u",
				              (unsigned)(use_uid ? m->uid : m->seq));
				wrote = true;
			}
			if (t->n_children != 1)
				break;
			x = t->first_child;
		}
		if (c->nodes[x].n_children == 0) {
			sp_buf_append_byte(out, ')');
			continue;
		}
		if (wrote)
			sp_buf_append_byte(out, ' ');
		stack[sp++] = close;
		size_t first = sp;
		for (uint32_t k = c->nodes[x].first_child; k != NONE; k = c->nodes[k].next)
			stack[sp++] = k;
		/* reverse so that the first child is popped first */
		for (size_t i = first, j = sp - 1; i < j; i++, j--) {
			uint32_t tmp = stack[i];
			stack[i] = stack[j];
			stack[j] = tmp;
		}
	}
}

/* ---- ORDEREDSUBJECT ---- */

static int subject_cmp(size_t x, size_t y, const void *vctx)
{
	const struct thread_ctx *c = vctx;
	const struct imap_sort_keys *a = &c->keys[x], *b = &c->keys[y];
	int r = imap_sort_casemap_cmp(a->base_subject, a->base_subject_len, b->base_subject,
	                              b->base_subject_len);
	if (r != 0)
		return r;
	if (a->sent_date != b->sent_date)
		return a->sent_date < b->sent_date ? -1 : 1;
	return (c->msgs[x].seq > c->msgs[y].seq) - (c->msgs[x].seq < c->msgs[y].seq);
}

/* RFC 5256 §4 ORDEREDSUBJECT: sort by base subject, then sent date; each
 * run of one base subject is a thread whose first message is the parent
 * of all the others (siblings, no grandchildren); threads are ordered by
 * the sent date of their first message. */
static void ordered_subject(struct thread_ctx *c, size_t n, bool use_uid, struct sp_buf *out)
{
	size_t *order = sp_arena_alloc(c->arena, n * sizeof(*order));
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	imap_sort_indices(order, n, subject_cmp, c, c->arena);

	uint32_t *roots = sp_arena_alloc(c->arena, n * sizeof(*roots));
	size_t n_roots = 0;
	uint32_t root = NONE;
	for (size_t i = 0; i < n; i++) {
		const struct imap_sort_keys *k = &c->keys[order[i]];
		uint32_t x = node_new(c, (uint32_t)order[i]);
		if (root != NONE) {
			const struct imap_sort_keys *r = &c->keys[c->nodes[root].msg];
			if (imap_sort_casemap_cmp(r->base_subject, r->base_subject_len,
			                          k->base_subject, k->base_subject_len) == 0) {
				child_append(c, root, x);
				continue;
			}
		}
		roots[n_roots++] = root = x;
	}
	sort_roots(c, roots, n_roots, order);
	write_threads(c, roots, n_roots, use_uid, out);
}

/* ---- REFERENCES ---- */

/* The thread subject of a root (RFC 5256 §5 step 5.B.i): its base subject,
 * or its first child's for a dummy. */
static const struct imap_sort_keys *thread_keys(const struct thread_ctx *c, uint32_t x)
{
	uint32_t m = c->nodes[x].msg;
	if (m == NONE && c->nodes[x].first_child != NONE)
		m = c->nodes[c->nodes[x].first_child].msg;
	return m == NONE ? NULL : &c->keys[m];
}

static bool is_reply(const struct thread_ctx *c, uint32_t x)
{
	return !is_dummy(c, x) && c->keys[c->nodes[x].msg].is_reply_or_fwd;
}

/* Step 4: prune dummies. Children are handled before their parent (the
 * reverse of a pre-order), so a dummy's list is final when it is spliced
 * into its parent's; no pruned list below the root holds a dummy. Returns
 * the new number of roots (compacted in place). */
static size_t prune(struct thread_ctx *c, uint32_t *roots, size_t n_roots)
{
	uint32_t *pre = sp_arena_alloc(c->arena, c->n_nodes * sizeof(*pre));
	uint32_t *stack = sp_arena_alloc(c->arena, c->n_nodes * sizeof(*stack));
	size_t n_pre = 0, sp = 0;

	for (size_t i = 0; i < n_roots; i++)
		stack[sp++] = roots[i];
	while (sp > 0) {
		uint32_t x = stack[--sp];
		pre[n_pre++] = x;
		for (uint32_t k = c->nodes[x].first_child; k != NONE; k = c->nodes[k].next)
			stack[sp++] = k;
	}
	for (size_t i = n_pre; i > 0; i--) {
		struct tnode *p = &c->nodes[pre[i - 1]];
		uint32_t k = p->first_child;
		p->first_child = p->last_child = NONE;
		p->n_children = 0;
		while (k != NONE) {
			uint32_t next = c->nodes[k].next;
			if (!is_dummy(c, k)) {
				child_append(c, pre[i - 1], k);
			} else {
				/* a dummy below the root: dropped, its children
				 * (none of them dummies by now) promoted */
				for (uint32_t g = c->nodes[k].first_child, gn; g != NONE; g = gn) {
					gn = c->nodes[g].next;
					child_append(c, pre[i - 1], g);
				}
				children_forget(c, k);
			}
			k = next;
		}
	}
	size_t o = 0;
	for (size_t i = 0; i < n_roots; i++) {
		uint32_t x = roots[i];
		if (is_dummy(c, x)) {
			/* "Do not promote the children if doing so would make
			 * them children of the root, unless there is only one
			 * child." */
			if (c->nodes[x].n_children == 0)
				continue;
			if (c->nodes[x].n_children == 1) {
				uint32_t d = x;
				x = c->nodes[d].first_child;
				children_forget(c, d);
				c->nodes[x].parent = NONE;
				c->nodes[x].next = NONE;
			}
		}
		roots[o++] = x;
	}
	return o;
}

struct subj_table {
	size_t *slot; /* root index + 1; 0 = empty */
	size_t mask;
};

/* The table slot for the thread subject of roots[i]: holding a root of the
 * same subject (i;ascii-casemap equality) or empty. */
static size_t subj_slot(const struct thread_ctx *c, const struct subj_table *t,
                        const uint32_t *roots, const struct imap_sort_keys *k)
{
	size_t i = (size_t)hash_bytes(k->base_subject, k->base_subject_len, true) & t->mask;
	while (t->slot[i] != 0) {
		const struct imap_sort_keys *o = thread_keys(c, roots[t->slot[i] - 1]);
		if (imap_sort_casemap_cmp(o->base_subject, o->base_subject_len, k->base_subject,
		                          k->base_subject_len) == 0)
			break;
		i = (i + 1) & t->mask;
	}
	return i;
}

/* Step 5: gather roots with the same base subject. */
static size_t group_subjects(struct thread_ctx *c, uint32_t *roots, size_t n_roots)
{
	struct subj_table t;
	size_t size = 16;
	while (size < n_roots * 2)
		size *= 2;
	t.slot = sp_arena_zalloc(c->arena, size * sizeof(*t.slot));
	t.mask = size - 1;

	/* 5.B: one root per subject, preferring a dummy, then a message that
	 * is not a reply or forward. */
	for (size_t i = 0; i < n_roots; i++) {
		const struct imap_sort_keys *k = thread_keys(c, roots[i]);
		if (k == NULL || k->base_subject_len == 0)
			continue;
		size_t s = subj_slot(c, &t, roots, k);
		if (t.slot[s] == 0) {
			t.slot[s] = i + 1;
			continue;
		}
		uint32_t cur = roots[i], old = roots[t.slot[s] - 1];
		if (!is_dummy(c, old) &&
		    (is_dummy(c, cur) || (is_reply(c, old) && !is_reply(c, cur))))
			t.slot[s] = i + 1;
	}
	/* 5.C: merge every other root of that subject into the table's. A
	 * merged root becomes NONE; table entries are never merged away. */
	for (size_t i = 0; i < n_roots; i++) {
		if (roots[i] == NONE)
			continue;
		const struct imap_sort_keys *k = thread_keys(c, roots[i]);
		if (k == NULL || k->base_subject_len == 0)
			continue;
		size_t j = t.slot[subj_slot(c, &t, roots, k)] - 1;
		if (j == i)
			continue;
		uint32_t cur = roots[i], tab = roots[j];
		if (is_dummy(c, cur) && is_dummy(c, tab)) {
			for (uint32_t g = c->nodes[cur].first_child, gn; g != NONE; g = gn) {
				gn = c->nodes[g].next;
				child_append(c, tab, g);
			}
			children_forget(c, cur);
		} else if (is_dummy(c, tab) || (is_reply(c, cur) && !is_reply(c, tab))) {
			child_append(c, tab, cur);
		} else if (is_dummy(c, cur)) {
			/* not reached: 5.B keeps a dummy in the table when
			 * there is one; kept for safety */
			child_append(c, cur, tab);
			roots[j] = cur;
		} else {
			uint32_t d = node_new(c, NONE);
			child_append(c, d, tab);
			child_append(c, d, cur);
			roots[j] = d;
		}
		roots[i] = NONE;
	}
	size_t o = 0;
	for (size_t i = 0; i < n_roots; i++) {
		if (roots[i] != NONE)
			roots[o++] = roots[i];
	}
	return o;
}

static void references(struct thread_ctx *c, size_t n, bool use_uid, struct sp_buf *out)
{
	/* RFC 5256 §5 step 1 takes the messages in sequence order (the first
	 * of duplicate Message-IDs keeps it). */
	size_t *by_seq = sp_arena_alloc(c->arena, n * sizeof(*by_seq));
	size_t total_refs = 0;
	for (size_t i = 0; i < n; i++) {
		by_seq[i] = i;
		total_refs += c->keys[i].n_refs;
	}
	imap_sort_indices(by_seq, n, msg_cmp_seq, c, c->arena);

	size_t cap = 2 * n + total_refs + 1;
	c->walk_budget = 64 * (uint64_t)cap + 1000000;
	sp_assert(cap < NONE);
	c->cap = (uint32_t)cap;
	c->nodes = sp_arena_alloc(c->arena, cap * sizeof(*c->nodes));
	struct id_table ids;
	id_table_init(&ids, n + total_refs, c->arena);
	for (size_t i = 0; i < n; i++)
		link_message(c, &ids, (uint32_t)by_seq[i]);

	/* Child lists, in node creation order; step 2: the parentless
	 * nodes are the children of the root. */
	uint32_t *roots = sp_arena_alloc(c->arena, c->n_nodes * sizeof(*roots));
	size_t n_roots = 0;
	for (uint32_t x = 0; x < c->n_nodes; x++)
		c->nodes[x].n_children = 0;
	for (uint32_t x = 0; x < c->n_nodes; x++) {
		uint32_t p = c->nodes[x].parent;
		if (p == NONE)
			roots[n_roots++] = x;
		else
			child_append(c, p, x);
	}
	n_roots = prune(c, roots, n_roots); /* step 3 */

	/* Step 4: the roots by sent date, a dummy by its first child after
	 * sorting its children; step 5 then meets them in that order. */
	size_t *tmp = sp_arena_alloc(c->arena, (size_t)c->n_nodes * sizeof(*tmp));
	for (size_t i = 0; i < n_roots; i++) {
		if (is_dummy(c, roots[i]))
			sort_children(c, roots[i], tmp);
	}
	sort_roots(c, roots, n_roots, tmp);

	n_roots = group_subjects(c, roots, n_roots); /* step 5 */

	/* Step 6: siblings by sent date. Dummies are only at the top and have
	 * only real children, so sorting every list of the tree, then the
	 * roots, sorts the youngest sets of siblings first as required. */
	tmp = sp_arena_alloc(c->arena, (size_t)c->n_nodes * sizeof(*tmp));
	uint32_t *stack = sp_arena_alloc(c->arena, (size_t)c->n_nodes * sizeof(*stack));
	size_t sp = 0;
	for (size_t i = 0; i < n_roots; i++)
		stack[sp++] = roots[i];
	while (sp > 0) {
		uint32_t x = stack[--sp];
		sort_children(c, x, tmp);
		for (uint32_t k = c->nodes[x].first_child; k != NONE; k = c->nodes[k].next)
			stack[sp++] = k;
	}
	sort_roots(c, roots, n_roots, tmp);
	write_threads(c, roots, n_roots, use_uid, out);
}

void imap_thread_run(const struct imap_sort_msg *msgs, size_t n,
                     enum imap_thread_algorithm algorithm, bool use_uid, struct sp_arena *arena,
                     struct sp_buf *out)
{
	if (n == 0)
		return;
	sp_assert(n < NONE / 4);
	struct thread_ctx c = {
	    .msgs = msgs,
	    .arena = arena,
	};
	if (algorithm == IMAP_THREAD_ORDEREDSUBJECT) {
		c.keys = imap_sort_keys_extract_all(
		    msgs, n, IMAP_SORT_WANT_SUBJECT | IMAP_SORT_WANT_DATE, arena);
		c.cap = (uint32_t)n;
		c.nodes = sp_arena_alloc(arena, n * sizeof(*c.nodes));
		ordered_subject(&c, n, use_uid, out);
	} else {
		c.keys = imap_sort_keys_extract_all(
		    msgs, n, IMAP_SORT_WANT_SUBJECT | IMAP_SORT_WANT_DATE | IMAP_SORT_WANT_IDS,
		    arena);
		references(&c, n, use_uid, out);
	}
}
