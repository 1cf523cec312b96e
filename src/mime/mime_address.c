/* Address lists (RFC 5322 §3.4 and the obsolete forms of §4.4): mailboxes,
 * groups, angle-addrs with obsolete routes, comments, and the common
 * malformations (missing angle brackets, missing domain, stray
 * punctuation). Works on a token list so that no input can make it loop. */
#include "mime/mime_int.h"

#include <string.h>

enum tok_kind { T_ATOM, T_QUOTED, T_COMMENT, T_LITERAL, T_SPECIAL };

struct atok {
	enum tok_kind kind;
	const uint8_t *p; /* for QUOTED/COMMENT: inside the delimiters */
	size_t len;
	char c; /* T_SPECIAL */
	bool space_before;
};

static bool is_special(uint8_t c)
{
	return c == '<' || c == '>' || c == '@' || c == ',' || c == ';' || c == ':' || c == '(' ||
	       c == ')' || c == '"' || c == '[' || c == ']' || c == '\\';
}

static bool is_ws(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static unsigned tokenize(const uint8_t *s, size_t len, struct atok *toks, unsigned max)
{
	size_t i = 0;
	unsigned n = 0;
	bool sp = false;

	while (i < len && n < max) {
		uint8_t c = s[i];
		if (is_ws(c)) {
			sp = true;
			i++;
			continue;
		}
		struct atok *t = &toks[n];
		t->space_before = sp;
		sp = false;
		if (c == '"') {
			size_t j = i + 1;
			while (j < len && s[j] != '"') {
				if (s[j] == '\\' && j + 1 < len)
					j++;
				j++;
			}
			*t = (struct atok){T_QUOTED, s + i + 1, SP_MIN(j, len) - i - 1, 0,
			                   t->space_before};
			i = j + 1;
		} else if (c == '(') {
			int depth = 1;
			size_t j = i + 1;
			while (j < len && depth > 0) {
				if (s[j] == '\\' && j + 1 < len)
					j++;
				else if (s[j] == '(')
					depth++;
				else if (s[j] == ')')
					depth--;
				j++;
			}
			size_t inner_end = depth == 0 ? j - 1 : j;
			*t = (struct atok){T_COMMENT, s + i + 1, inner_end - i - 1, 0,
			                   t->space_before};
			i = j;
		} else if (c == '[') {
			size_t j = i + 1;
			while (j < len && s[j] != ']')
				j++;
			size_t e = j < len ? j + 1 : len;
			*t = (struct atok){T_LITERAL, s + i, e - i, 0, t->space_before};
			i = e;
		} else if (is_special(c)) {
			*t = (struct atok){T_SPECIAL, s + i, 1, (char)c, t->space_before};
			i++;
		} else {
			size_t j = i;
			while (j < len && !is_ws(s[j]) && !is_special(s[j]))
				j++;
			*t = (struct atok){T_ATOM, s + i, j - i, 0, t->space_before};
			i = j;
		}
		n++;
	}
	return n;
}

/* Unescapes quoted pairs (RFC 5322 §3.2.1) of a quoted-string or comment. */
static void append_unescaped(struct sp_buf *b, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '\\' && i + 1 < len)
			i++;
		if (p[i] != '\r' && p[i] != '\n')
			sp_buf_append_byte(b, p[i]);
	}
}

static const char *buf_dup(struct sp_arena *arena, const struct sp_buf *b)
{
	return b->len == 0 ? NULL : sp_arena_strndup(arena, sp_buf_cstr(b), b->len);
}

/* Display text of tokens [a, b): words joined by one space, quotes
 * removed; comments skipped. */
static const char *phrase_text(const struct atok *t, unsigned a, unsigned b, struct sp_arena *arena)
{
	struct sp_buf buf = SP_BUF_INIT;

	for (unsigned i = a; i < b; i++) {
		if (t[i].kind == T_COMMENT)
			continue;
		if (buf.len > 0 && t[i].space_before)
			sp_buf_append_byte(&buf, ' ');
		if (t[i].kind == T_QUOTED)
			append_unescaped(&buf, t[i].p, t[i].len);
		else
			sp_buf_append(&buf, t[i].p, t[i].len);
	}
	const char *r = buf_dup(arena, &buf);
	sp_buf_deinit(&buf);
	return r;
}

/* Local part or domain of tokens [a, b): concatenated without spaces;
 * quoted-strings keep their quotes (the local part is sent as written). */
static const char *spec_text(const struct atok *t, unsigned a, unsigned b, struct sp_arena *arena)
{
	struct sp_buf buf = SP_BUF_INIT;

	for (unsigned i = a; i < b; i++) {
		if (t[i].kind == T_COMMENT)
			continue;
		if (t[i].kind == T_QUOTED) {
			sp_buf_append_byte(&buf, '"');
			sp_buf_append(&buf, t[i].p, t[i].len);
			sp_buf_append_byte(&buf, '"');
		} else {
			sp_buf_append(&buf, t[i].p, t[i].len);
		}
	}
	const char *r = buf_dup(arena, &buf);
	sp_buf_deinit(&buf);
	return r;
}

static const char *first_comment(const struct atok *t, unsigned a, unsigned b,
                                 struct sp_arena *arena)
{
	for (unsigned i = a; i < b; i++) {
		if (t[i].kind == T_COMMENT && t[i].len > 0) {
			struct sp_buf buf = SP_BUF_INIT;
			append_unescaped(&buf, t[i].p, t[i].len);
			const char *r = buf_dup(arena, &buf);
			sp_buf_deinit(&buf);
			return r;
		}
	}
	return NULL;
}

static bool is_sp(const struct atok *t, char c)
{
	return t->kind == T_SPECIAL && t->c == c;
}

static bool is_word(const struct atok *t)
{
	return t->kind == T_ATOM || t->kind == T_QUOTED;
}

struct alist {
	struct mime_address *v;
	unsigned n, cap;
};

static struct mime_address *alist_add(struct alist *l)
{
	if (l->n == l->cap) {
		l->cap = l->cap == 0 ? 8 : l->cap * 2;
		l->v = sp_reallocarray(l->v, l->cap, sizeof(*l->v));
	}
	struct mime_address *a = &l->v[l->n++];
	memset(a, 0, sizeof(*a));
	return a;
}

/* Index of the first token in [i, n) that is one of the specials in
 * stops, or n. */
static unsigned find_special(const struct atok *t, unsigned i, unsigned n, const char *stops)
{
	for (; i < n; i++) {
		if (t[i].kind == T_SPECIAL && strchr(stops, t[i].c) != NULL)
			return i;
	}
	return n;
}

/* Parses one mailbox starting at token i; returns the index after it. */
static unsigned parse_mailbox(const struct atok *t, unsigned i, unsigned n, bool in_group,
                              struct alist *l, struct sp_arena *arena)
{
	unsigned end = find_special(t, i, n, in_group ? "<@,;:" : "<@,:;");

	if (end < n && is_sp(&t[end], '<')) {
		struct mime_address *a = alist_add(l);
		unsigned close = find_special(t, end + 1, n, ">");
		unsigned j = end + 1;
		a->name = phrase_text(t, i, end, arena);
		/* obs-route: "@a,@b:" before the addr-spec (RFC 5322 §4.4) */
		if (j < close && is_sp(&t[j], '@')) {
			unsigned colon = find_special(t, j, close, ":");
			if (colon < close) {
				a->route = spec_text(t, j, colon, arena);
				j = colon + 1;
			}
		}
		unsigned at = find_special(t, j, close, "@");
		a->mailbox = spec_text(t, j, at, arena);
		if (at < close)
			a->domain = spec_text(t, at + 1, close, arena);
		unsigned next = close < n ? close + 1 : n;
		unsigned stop = find_special(t, next, n, ",;");
		a->invalid = a->mailbox == NULL || a->domain == NULL;
		return stop;
	}
	if (end < n && is_sp(&t[end], '@')) {
		struct mime_address *a = alist_add(l);
		/* "John Doe john@example.com": the last word (and any
		 * dot-joined words touching it) is the local part. */
		unsigned lp = end;
		while (lp > i && is_word(&t[lp - 1])) {
			lp--;
			if (t[lp].space_before)
				break;
		}
		unsigned stop = find_special(t, end + 1, n, ",;<");
		a->name = phrase_text(t, i, lp, arena);
		a->mailbox = spec_text(t, lp, end, arena);
		a->domain = spec_text(t, end + 1, stop, arena);
		if (a->name == NULL)
			a->name = first_comment(t, i, stop, arena);
		a->invalid = a->mailbox == NULL || a->domain == NULL;
		if (stop < n && is_sp(&t[stop], '<'))
			stop = find_special(t, stop, n, ",;");
		return stop;
	}
	/* No address at all: a lone word is taken as a local part without
	 * domain, more words as a name without address (as Dovecot does). */
	unsigned words = 0;
	for (unsigned k = i; k < end; k++)
		words += is_word(&t[k]);
	if (words > 0) {
		struct mime_address *a = alist_add(l);
		if (words == 1) {
			a->mailbox = spec_text(t, i, end, arena);
			a->name = first_comment(t, i, end, arena);
		} else
			a->name = phrase_text(t, i, end, arena);
		a->invalid = true;
	}
	return end;
}

struct mime_address *mime_address_parse(const uint8_t *value, size_t len, struct sp_arena *arena,
                                        unsigned *count_r)
{
	/* Each token takes at least one byte. */
	unsigned max = len > 65536 ? 65536 : (unsigned)len + 1;
	struct atok *t = sp_malloc(max * sizeof(*t));
	unsigned n = tokenize(value, len, t, max);
	struct alist l = {0};
	bool in_group = false;
	unsigned i = 0;

	while (i < n) {
		if (is_sp(&t[i], ',') || t[i].kind == T_COMMENT || is_sp(&t[i], '>') ||
		    is_sp(&t[i], '\\') || is_sp(&t[i], ')') || is_sp(&t[i], '"')) {
			i++;
			continue;
		}
		if (is_sp(&t[i], ';')) {
			if (in_group) {
				alist_add(&l)->group_end = true;
				in_group = false;
			}
			i++;
			continue;
		}
		unsigned end = find_special(t, i, n, "<@,;:");
		if (!in_group && end < n && is_sp(&t[end], ':')) {
			struct mime_address *g = alist_add(&l);
			g->group_start = true;
			g->mailbox = phrase_text(t, i, end, arena);
			if (g->mailbox == NULL)
				g->mailbox = "";
			in_group = true;
			i = end + 1;
			continue;
		}
		if (end < n && is_sp(&t[end], ':')) {
			i = end + 1; /* a nested group is not allowed: skip */
			continue;
		}
		unsigned next = parse_mailbox(t, i, n, in_group, &l, arena);
		i = next > i ? next : i + 1;
	}
	if (in_group)
		alist_add(&l)->group_end = true;
	free(t);

	struct mime_address *res = sp_arena_alloc(arena, (l.n + 1) * sizeof(*res));
	if (l.n > 0)
		memcpy(res, l.v, l.n * sizeof(*res));
	free(l.v);
	*count_r = l.n;
	return res;
}

/* One entry's text: the display name decoded, the address bare or in
 * angle brackets after a name. */
static void address_text(const struct mime_address *a, struct sp_buf *out)
{
	bool named = a->name != NULL && a->name[0] != '\0';
	if (named) {
		mime_rfc2047_decode((const uint8_t *)a->name, strlen(a->name), out);
		if (a->mailbox == NULL && a->domain == NULL)
			return;
		sp_buf_append_str(out, " <");
	}
	if (a->mailbox != NULL)
		sp_buf_append_str(out, a->mailbox);
	if (a->domain != NULL) {
		sp_buf_append_byte(out, '@');
		sp_buf_append_str(out, a->domain);
	}
	if (named)
		sp_buf_append_byte(out, '>');
}

void mime_address_text(const uint8_t *value, size_t len, struct sp_buf *out)
{
	struct sp_arena *arena = sp_arena_new(1024);
	unsigned n;
	struct mime_address *a = mime_address_parse(value, len, arena, &n);
	const char *sep = ""; /* what goes before the next entry */
	for (unsigned i = 0; i < n; i++) {
		if (a[i].group_end) {
			sp_buf_append_byte(out, ';');
			sep = ", ";
			continue;
		}
		sp_buf_append_str(out, sep);
		if (a[i].group_start) {
			mime_rfc2047_decode((const uint8_t *)a[i].mailbox, strlen(a[i].mailbox),
			                    out);
			sp_buf_append_byte(out, ':');
			sep = " ";
			continue;
		}
		address_text(&a[i], out);
		sep = ", ";
	}
	sp_arena_free(&arena);
}
