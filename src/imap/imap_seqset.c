/* Sequence sets: RFC 3501 §9 / RFC 9051 §9 sequence-set and seq-range,
 * "*" per RFC 3501 §6.4.8, "$" per RFC 5182 §2.1. */
#include "imap/imap_seqset.h"

#include <string.h>

void imap_seqset_init(struct imap_seqset *set)
{
	set->ranges = NULL;
	set->count = set->cap = 0;
}

void imap_seqset_deinit(struct imap_seqset *set)
{
	free(set->ranges);
	imap_seqset_init(set);
}

void imap_seqset_clear(struct imap_seqset *set)
{
	set->count = 0;
}

void imap_seqset_add_range(struct imap_seqset *set, uint32_t a, uint32_t b)
{
	if (set->count == set->cap) {
		set->cap = set->cap == 0 ? 8 : set->cap * 2;
		set->ranges = sp_reallocarray(set->ranges, set->cap, sizeof(*set->ranges));
	}
	set->ranges[set->count].lo = SP_MIN(a, b);
	set->ranges[set->count].hi = SP_MAX(a, b);
	set->count++;
}

static int range_cmp(const void *a, const void *b)
{
	const struct imap_seq_range *x = a, *y = b;
	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	if (x->hi != y->hi)
		return x->hi < y->hi ? -1 : 1;
	return 0;
}

void imap_seqset_normalize(struct imap_seqset *set)
{
	if (set->count < 2)
		return;
	qsort(set->ranges, set->count, sizeof(*set->ranges), range_cmp);
	size_t out = 0;
	for (size_t i = 1; i < set->count; i++) {
		struct imap_seq_range *cur = &set->ranges[out], *r = &set->ranges[i];
		/* overlapping or adjacent (hi + 1 computed in 64 bits) */
		if ((uint64_t)r->lo <= (uint64_t)cur->hi + 1) {
			if (r->hi > cur->hi)
				cur->hi = r->hi;
		} else {
			set->ranges[++out] = *r;
		}
	}
	set->count = out + 1;
}

void imap_seqset_clamp(struct imap_seqset *set, uint32_t max)
{
	size_t n = 0;
	while (n < set->count && set->ranges[n].lo <= max) {
		if (set->ranges[n].hi > max)
			set->ranges[n].hi = max;
		n++;
	}
	set->count = n;
}

/* One seq-number: nz-number or "*" (star_r set). */
static int parse_num(const uint8_t *s, size_t n, unsigned flags, uint32_t star, uint32_t *v_r,
                     const char **error_r)
{
	if (n == 0) {
		*error_r = "Empty element in sequence set";
		return -1;
	}
	if (n == 1 && s[0] == '*') {
		if ((flags & IMAP_SEQSET_NO_STAR) != 0) {
			*error_r = "'*' not allowed in this sequence set";
			return -1;
		}
		*v_r = star;
		return 0;
	}
	if (n == 1 && s[0] == '$') {
		*error_r = "'$' must be the whole sequence set";
		return -1;
	}
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9') {
			*error_r = "Invalid character in sequence set";
			return -1;
		}
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > UINT32_MAX) {
			*error_r = "Number in sequence set too big";
			return -1;
		}
	}
	if (v == 0) {
		*error_r = "0 is not a valid message number";
		return -1;
	}
	if (s[0] == '0') {
		*error_r = "Leading zero in sequence set number";
		return -1;
	}
	*v_r = (uint32_t)v;
	return 0;
}

int imap_seqset_parse(struct sp_slice text, uint32_t star, unsigned flags, struct imap_seqset *set,
                      const char **error_r)
{
	imap_seqset_clear(set);
	if (text.len == 1 && text.ptr[0] == '$') {
		if ((flags & IMAP_SEQSET_ALLOW_SAVED) == 0) {
			*error_r = "'$' (saved search result) not allowed here";
			return -1;
		}
		return 1;
	}
	if (text.len == 0) {
		*error_r = "Empty sequence set";
		return -1;
	}
	size_t i = 0;
	for (;;) {
		size_t st = i;
		while (i < text.len && text.ptr[i] != ',' && text.ptr[i] != ':')
			i++;
		uint32_t a, b;
		if (parse_num(text.ptr + st, i - st, flags, star, &a, error_r) < 0)
			goto fail;
		b = a;
		if (i < text.len && text.ptr[i] == ':') {
			st = ++i;
			while (i < text.len && text.ptr[i] != ',' && text.ptr[i] != ':')
				i++;
			if (i < text.len && text.ptr[i] == ':') {
				*error_r = "Invalid range in sequence set";
				goto fail;
			}
			if (parse_num(text.ptr + st, i - st, flags, star, &b, error_r) < 0)
				goto fail;
		}
		imap_seqset_add_range(set, a, b);
		if (i >= text.len)
			break;
		i++; /* ',' */
		if (i >= text.len) {
			*error_r = "Trailing ',' in sequence set";
			goto fail;
		}
	}
	imap_seqset_normalize(set);
	return 0;
fail:
	imap_seqset_clear(set);
	return -1;
}

bool imap_seqset_is_valid(struct sp_slice text, unsigned flags)
{
	struct imap_seqset set = IMAP_SEQSET_INIT;
	const char *error;
	int rc = imap_seqset_parse(text, 1, flags, &set, &error);
	imap_seqset_deinit(&set);
	return rc >= 0;
}

bool imap_seqset_contains(const struct imap_seqset *set, uint32_t n)
{
	size_t lo = 0, hi = set->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct imap_seq_range *r = &set->ranges[mid];
		if (n < r->lo)
			hi = mid;
		else if (n > r->hi)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

uint64_t imap_seqset_count(const struct imap_seqset *set)
{
	uint64_t total = 0;
	for (size_t i = 0; i < set->count; i++)
		total += (uint64_t)set->ranges[i].hi - set->ranges[i].lo + 1;
	return total;
}

uint32_t imap_seqset_max(const struct imap_seqset *set)
{
	return set->count == 0 ? 0 : set->ranges[set->count - 1].hi;
}

void imap_seqset_iter_init(struct imap_seqset_iter *it, const struct imap_seqset *set)
{
	it->set = set;
	it->range = 0;
	it->next = set->count > 0 ? set->ranges[0].lo : 0;
}

bool imap_seqset_iter_next(struct imap_seqset_iter *it, uint32_t *n_r)
{
	while (it->range < it->set->count) {
		const struct imap_seq_range *r = &it->set->ranges[it->range];
		if (it->next <= r->hi) {
			*n_r = (uint32_t)it->next++;
			return true;
		}
		if (++it->range < it->set->count)
			it->next = it->set->ranges[it->range].lo;
	}
	return false;
}

static void append_range(struct sp_buf *out, bool first, uint32_t lo, uint32_t hi)
{
	if (!first)
		sp_buf_append_byte(out, ',');
	if (lo == hi)
		sp_buf_printf(out, "%u", lo);
	else
		sp_buf_printf(out, "%u:%u", lo, hi);
}

void imap_seqset_format(const struct imap_seqset *set, struct sp_buf *out)
{
	for (size_t i = 0; i < set->count; i++)
		append_range(out, i == 0, set->ranges[i].lo, set->ranges[i].hi);
}

void imap_seq_list_format(const uint32_t *nums, size_t count, struct sp_buf *out)
{
	size_t i = 0;
	while (i < count) {
		size_t j = i;
		while (j + 1 < count && nums[j] != UINT32_MAX && nums[j + 1] == nums[j] + 1)
			j++;
		append_range(out, i == 0, nums[i], nums[j]);
		i = j + 1;
	}
}
