/* Message flag lists for STORE and APPEND and their response form
 * (RFC 9051 §2.3.2, §6.3.12, §6.4.6 and §9 flag-list, flag-keyword;
 * RFC 3501 §9 for \Recent). Keywords are atoms kept as the client sent
 * them; the five system flags map to store_flag bits. */
#include "imap/imap_fetch.h"

#include <string.h>
#include <strings.h>

static const struct {
	const char *name;
	unsigned bit;
} imap_system_flags[] = {
    {"\\Seen", STORE_FLAG_SEEN},       {"\\Answered", STORE_FLAG_ANSWERED},
    {"\\Flagged", STORE_FLAG_FLAGGED}, {"\\Deleted", STORE_FLAG_DELETED},
    {"\\Draft", STORE_FLAG_DRAFT},
};

/* ATOM-CHAR (RFC 9051 §9): no atom-specials. The parser's atoms also let
 * through list-wildcards and ']' (ASTRING-CHAR), which a flag may not hold. */
static bool is_keyword_char(uint8_t c)
{
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return strchr("(){%*\"\\]", c) == NULL;
}

struct flags_ctx {
	struct sp_arena *arena;
	unsigned flags;
	const char **kw;
	size_t n;
	const char *error;
};

static int add_flag(struct flags_ctx *c, const struct imap_arg *a)
{
	/* NIL is an atom like any other here: the keyword "NIL". */
	if (a->type != IMAP_ARG_ATOM && a->type != IMAP_ARG_NIL) {
		c->error =
		    a->type == IMAP_ARG_LIST ? "Nested list in flags" : "Flags must be atoms";
		return -1;
	}
	struct sp_slice s = a->str;
	if (s.len > 0 && s.ptr[0] == '\\') {
		for (size_t i = 0; i < SP_N_ELEMENTS(imap_system_flags); i++) {
			if (sp_slice_case_eq_str(s, imap_system_flags[i].name)) {
				c->flags |= imap_system_flags[i].bit;
				return 0;
			}
		}
		if (sp_slice_case_eq_str(s, "\\Recent"))
			c->error = "\\Recent is not allowed";
		else if (sp_slice_eq_str(s, "\\*"))
			c->error = "\\* is not a valid flag";
		else
			c->error =
			    sp_arena_printf(c->arena, "Unknown system flag %.*s",
			                    (int)SP_MIN(s.len, (size_t)64), (const char *)s.ptr);
		return -1;
	}
	if (s.len == 0) {
		c->error = "Empty flag";
		return -1;
	}
	if (s.len > STORE_KEYWORD_MAX) {
		c->error = "Keyword too long";
		return -1;
	}
	for (size_t i = 0; i < s.len; i++) {
		if (!is_keyword_char(s.ptr[i])) {
			c->error = "Invalid character in keyword";
			return -1;
		}
	}
	for (size_t i = 0; i < c->n; i++) {
		if (strlen(c->kw[i]) == s.len &&
		    strncasecmp(c->kw[i], (const char *)s.ptr, s.len) == 0)
			return 0;
	}
	if (c->n == STORE_KEYWORDS_MAX) {
		c->error = "Too many keywords";
		return -1;
	}
	c->kw[c->n++] = sp_arena_strndup(c->arena, (const char *)s.ptr, s.len);
	return 0;
}

int imap_flags_parse(const struct imap_arg *args, size_t count, unsigned parse_flags,
                     struct sp_arena *arena, unsigned *flags_r, const char ***keywords_r,
                     size_t *n_r, const char **error_r)
{
	const struct imap_arg *list = args;
	size_t n = count;

	if (count == 1 && args[0].type == IMAP_ARG_LIST) {
		list = args[0].list;
		n = args[0].count;
	} else if ((parse_flags & IMAP_FLAGS_BARE) == 0 || count == 0) {
		*error_r = count == 0 ? "Missing flags" : "Flags must be a parenthesised list";
		return -1;
	}
	struct flags_ctx c = {.arena = arena};
	if (n > 0)
		c.kw = sp_arena_alloc(arena, SP_MIN(n, (size_t)STORE_KEYWORDS_MAX) * sizeof(*c.kw));
	for (size_t i = 0; i < n; i++) {
		if (add_flag(&c, &list[i]) < 0) {
			*error_r = c.error;
			return -1;
		}
	}
	*flags_r = c.flags;
	*keywords_r = c.n > 0 ? c.kw : NULL;
	*n_r = c.n;
	return 0;
}

void imap_flags_format(struct sp_buf *out, unsigned flags, const char *const *keywords, size_t n)
{
	bool first = true;

	sp_buf_append_byte(out, '(');
	for (size_t i = 0; i < SP_N_ELEMENTS(imap_system_flags); i++) {
		if ((flags & imap_system_flags[i].bit) == 0)
			continue;
		if (!first)
			sp_buf_append_byte(out, ' ');
		sp_buf_append_str(out, imap_system_flags[i].name);
		first = false;
	}
	if (flags & IMAP_FLAG_RECENT) {
		if (!first)
			sp_buf_append_byte(out, ' ');
		sp_buf_append_str(out, "\\Recent");
		first = false;
	}
	for (size_t i = 0; i < n; i++) {
		if (!first)
			sp_buf_append_byte(out, ' ');
		sp_buf_append_str(out, keywords[i]);
		first = false;
	}
	sp_buf_append_byte(out, ')');
}
