/* SEARCH program parser: RFC 3501 §6.4.4 and §9 search-key, RFC 9051
 * §6.4.4, RFC 4731 §3.1 search-return-opts, RFC 5182, RFC 7162 §3.1.5,
 * RFC 5032, RFC 8514 §4, RFC 8474 §6, and the X-REGEX key (see header). */
#include "imap/imap_search_parse.h"
#include "imap/imap_utf7.h"

#include "imap/imap_seqset.h"
#include "lib/sp_str.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum key_arg {
	KA_NONE,
	KA_STRING,
	KA_HEADER,
	KA_KEYWORD,
	KA_DATE,
	KA_NUMBER,
	KA_NZ_SECONDS,
	KA_MODSEQ,
	KA_UID,
	KA_OBJECTID,
	KA_REGEX,
	KA_NOT,
	KA_OR,
};

static const struct {
	const char *name;
	enum imap_search_key_type type;
	enum key_arg arg;
} keys[] = {
    {"ALL", IMAP_SEARCH_ALL, KA_NONE},
    {"ANSWERED", IMAP_SEARCH_ANSWERED, KA_NONE},
    {"DELETED", IMAP_SEARCH_DELETED, KA_NONE},
    {"DRAFT", IMAP_SEARCH_DRAFT, KA_NONE},
    {"FLAGGED", IMAP_SEARCH_FLAGGED, KA_NONE},
    {"NEW", IMAP_SEARCH_NEW, KA_NONE},
    {"OLD", IMAP_SEARCH_OLD, KA_NONE},
    {"RECENT", IMAP_SEARCH_RECENT, KA_NONE},
    {"SEEN", IMAP_SEARCH_SEEN, KA_NONE},
    {"UNANSWERED", IMAP_SEARCH_UNANSWERED, KA_NONE},
    {"UNDELETED", IMAP_SEARCH_UNDELETED, KA_NONE},
    {"UNDRAFT", IMAP_SEARCH_UNDRAFT, KA_NONE},
    {"UNFLAGGED", IMAP_SEARCH_UNFLAGGED, KA_NONE},
    {"UNSEEN", IMAP_SEARCH_UNSEEN, KA_NONE},
    {"SAVEDATESUPPORTED", IMAP_SEARCH_SAVEDATESUPPORTED, KA_NONE},
    {"BCC", IMAP_SEARCH_BCC, KA_STRING},
    {"BODY", IMAP_SEARCH_BODY, KA_STRING},
    {"CC", IMAP_SEARCH_CC, KA_STRING},
    {"FROM", IMAP_SEARCH_FROM, KA_STRING},
    {"SUBJECT", IMAP_SEARCH_SUBJECT, KA_STRING},
    {"TEXT", IMAP_SEARCH_TEXT, KA_STRING},
    {"TO", IMAP_SEARCH_TO, KA_STRING},
    {"HEADER", IMAP_SEARCH_HEADER, KA_HEADER},
    {"KEYWORD", IMAP_SEARCH_KEYWORD, KA_KEYWORD},
    {"UNKEYWORD", IMAP_SEARCH_UNKEYWORD, KA_KEYWORD},
    {"BEFORE", IMAP_SEARCH_BEFORE, KA_DATE},
    {"ON", IMAP_SEARCH_ON, KA_DATE},
    {"SINCE", IMAP_SEARCH_SINCE, KA_DATE},
    {"SENTBEFORE", IMAP_SEARCH_SENTBEFORE, KA_DATE},
    {"SENTON", IMAP_SEARCH_SENTON, KA_DATE},
    {"SENTSINCE", IMAP_SEARCH_SENTSINCE, KA_DATE},
    {"SAVEDBEFORE", IMAP_SEARCH_SAVEDBEFORE, KA_DATE},
    {"SAVEDON", IMAP_SEARCH_SAVEDON, KA_DATE},
    {"SAVEDSINCE", IMAP_SEARCH_SAVEDSINCE, KA_DATE},
    {"LARGER", IMAP_SEARCH_LARGER, KA_NUMBER},
    {"SMALLER", IMAP_SEARCH_SMALLER, KA_NUMBER},
    {"OLDER", IMAP_SEARCH_OLDER, KA_NZ_SECONDS},
    {"YOUNGER", IMAP_SEARCH_YOUNGER, KA_NZ_SECONDS},
    {"MODSEQ", IMAP_SEARCH_MODSEQ, KA_MODSEQ},
    {"UID", IMAP_SEARCH_UID, KA_UID},
    {"EMAILID", IMAP_SEARCH_EMAILID, KA_OBJECTID},
    {"THREADID", IMAP_SEARCH_THREADID, KA_OBJECTID},
    {"X-REGEX", IMAP_SEARCH_REGEX, KA_REGEX},
    {"NOT", IMAP_SEARCH_NOT, KA_NOT},
    {"OR", IMAP_SEARCH_OR, KA_OR},
};

struct search_ctx {
	const struct imap_arg *args;
	size_t count, pos;
	struct sp_arena *arena;
	unsigned max_depth;
	struct imap_search_program *prog;
	struct imap_error *err;
};

static int fail(struct search_ctx *c, const char *fmt, ...) SP_PRINTF(2, 3);

static int fail(struct search_ctx *c, const char *fmt, ...)
{
	char buf[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	c->err->kind = IMAP_ERROR_BAD;
	c->err->code = NULL;
	c->err->text = sp_arena_strdup(c->arena, buf);
	c->err->tag = NULL;
	return -1;
}

/* A protocol word for an error message: printable ASCII, at most 32. */
static const char *word_for_error(struct search_ctx *c, struct sp_slice s)
{
	size_t n = SP_MIN(s.len, (size_t)32);
	char *w = sp_arena_alloc(c->arena, n + 1);
	for (size_t i = 0; i < n; i++)
		w[i] = s.ptr[i] > 0x20 && s.ptr[i] < 0x7f ? (char)s.ptr[i] : '?';
	w[n] = 0;
	return w;
}

static struct sp_slice copy_slice(struct search_ctx *c, struct sp_slice s)
{
	char *p = sp_arena_strndup(c->arena, (const char *)s.ptr, s.len);
	return (struct sp_slice){(const uint8_t *)p, s.len};
}

static const struct imap_arg *next_arg(struct search_ctx *c)
{
	return c->pos < c->count ? &c->args[c->pos++] : NULL;
}

static int get_astring(struct search_ctx *c, const char *key, const char *what,
                       struct sp_slice *str_r)
{
	const struct imap_arg *a = next_arg(c);
	if (a == NULL)
		return fail(c, "%s: missing %s", key, what);
	if (a->type == IMAP_ARG_LITERAL && a->streamed)
		return fail(c, "%s: %s too long", key, what);
	if (!imap_arg_get_astring(a, str_r))
		return fail(c, "%s: %s must be a string", key, what);
	/* Only US-ASCII and UTF-8 are accepted charsets: 8-bit octets must
	 * be UTF-8 (RFC 9051 §9 QUOTED-CHAR). */
	if (!imap_utf8_is_valid(*str_r))
		return fail(c, "%s: %s is not valid UTF-8", key, what);
	*str_r = copy_slice(c, *str_r);
	return 0;
}

static bool is_leap(unsigned y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int imap_date_parse(struct sp_slice s, struct imap_date *date_r)
{
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	static const uint8_t mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	size_t i = 0;
	unsigned day = 0, year = 0, month = 0;
	while (i < s.len && i < 2 && s.ptr[i] >= '0' && s.ptr[i] <= '9')
		day = day * 10 + (unsigned)(s.ptr[i++] - '0');
	if (i == 0 || s.len != i + 9 || s.ptr[i] != '-' || s.ptr[i + 4] != '-')
		return -1;
	for (unsigned m = 0; m < 12; m++) {
		if (sp_slice_case_eq_str((struct sp_slice){s.ptr + i + 1, 3}, months[m]))
			month = m + 1;
	}
	for (size_t k = i + 5; k < i + 9; k++) {
		if (s.ptr[k] < '0' || s.ptr[k] > '9')
			return -1;
		year = year * 10 + (unsigned)(s.ptr[k] - '0');
	}
	if (month == 0 || day == 0 || day > mdays[month - 1] ||
	    (month == 2 && day == 29 && !is_leap(year)))
		return -1;
	date_r->year = (uint16_t)year;
	date_r->month = (uint8_t)month;
	date_r->day = (uint8_t)day;
	return 0;
}

static int get_date(struct search_ctx *c, const char *key, struct imap_date *date_r)
{
	const struct imap_arg *a = next_arg(c);
	if (a == NULL)
		return fail(c, "%s: missing date", key);
	if (a->type != IMAP_ARG_ATOM && a->type != IMAP_ARG_QUOTED)
		return fail(c, "%s: date must be an atom or quoted string", key);
	if (imap_date_parse(a->str, date_r) < 0)
		return fail(c, "%s: invalid date (expected d-Mmm-yyyy, e.g. 1-Feb-1994)", key);
	return 0;
}

static int get_number(struct search_ctx *c, const char *key, bool allow_zero, uint64_t max,
                      uint64_t *v_r)
{
	const struct imap_arg *a = next_arg(c);
	if (a == NULL)
		return fail(c, "%s: missing number", key);
	if (a->type != IMAP_ARG_ATOM || sp_parse_u64_slice(a->str, max, v_r) < 0 ||
	    (!allow_zero && *v_r == 0))
		return fail(c, "%s: invalid number (expected %s up to %llu)", key,
		            allow_zero ? "0" : "1", (unsigned long long)max);
	return 0;
}

static bool is_objectid(struct sp_slice s)
{
	/* RFC 8474 §4: objectid = 1*255(ALPHA / DIGIT / "_" / "-") */
	if (s.len == 0 || s.len > 255)
		return false;
	for (size_t i = 0; i < s.len; i++) {
		uint8_t ch = s.ptr[i];
		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
			return false;
	}
	return true;
}

static bool is_header_name(struct sp_slice s)
{
	/* RFC 5322 §3.6.8 field-name: printable US-ASCII except ':' */
	if (s.len == 0)
		return false;
	for (size_t i = 0; i < s.len; i++) {
		if (s.ptr[i] <= 0x20 || s.ptr[i] >= 0x7f || s.ptr[i] == ':')
			return false;
	}
	return true;
}

static int check_regex(struct search_ctx *c, struct sp_slice pattern)
{
	if (pattern.len > IMAP_SEARCH_REGEX_MAX)
		return fail(c, "X-REGEX: pattern longer than %d octets", IMAP_SEARCH_REGEX_MAX);
	int errcode;
	PCRE2_SIZE erroff;
	pcre2_code *re = pcre2_compile(
	    pattern.ptr, pattern.len, PCRE2_UTF | PCRE2_NEVER_BACKSLASH_C, &errcode, &erroff, NULL);
	if (re == NULL) {
		PCRE2_UCHAR msg[120];
		if (pcre2_get_error_message(errcode, msg, sizeof(msg)) < 0)
			sp_strlcpy((char *)msg, "error", sizeof(msg));
		/* PCRE2 says "{}"; a brace at the start of a word in response
		 * text reads as a literal to parsers that tokenize it. */
		for (PCRE2_UCHAR *m = msg; *m != 0; m++)
			if (*m == '{' || *m == '}')
				*m = *m == '{' ? '(' : ')';
		return fail(c, "X-REGEX: invalid pattern at offset %zu: %s", (size_t)erroff,
		            (const char *)msg);
	}
	pcre2_code_free(re);
	return 0;
}

static int parse_key(struct search_ctx *c, const struct imap_arg *a, unsigned depth,
                     struct imap_search_key *key);

/* Keys from args[c->pos] until the end of the list into an AND node. */
static int parse_and(struct search_ctx *c, unsigned depth, struct imap_search_key *key)
{
	size_t n = c->count - c->pos;
	/* every key consumes at least one argument, so n bounds the keys */
	struct imap_search_key *kids = sp_arena_zalloc(c->arena, n * sizeof(*kids));
	size_t k = 0;
	while (c->pos < c->count) {
		const struct imap_arg *a = next_arg(c);
		if (parse_key(c, a, depth, &kids[k]) < 0)
			return -1;
		k++;
	}
	key->type = IMAP_SEARCH_AND;
	key->children = kids;
	key->count = k;
	return 0;
}

static int parse_key(struct search_ctx *c, const struct imap_arg *a, unsigned depth,
                     struct imap_search_key *key)
{
	memset(key, 0, sizeof(*key));
	if (a->type == IMAP_ARG_LIST) {
		if (depth >= c->max_depth)
			return fail(c, "Search keys nested too deeply (limit %u)", c->max_depth);
		if (a->count == 0)
			return fail(c, "Empty parenthesised search key list");
		struct search_ctx sub = *c;
		sub.args = a->list;
		sub.count = a->count;
		sub.pos = 0;
		return parse_and(&sub, depth + 1, key);
	}
	if (a->type != IMAP_ARG_ATOM)
		return fail(c, "Search key expected, got a %s",
		            a->type == IMAP_ARG_NIL ? "NIL" : "string");
	uint8_t first = a->str.len > 0 ? a->str.ptr[0] : 0;
	if ((first >= '0' && first <= '9') || first == '*' || first == '$') {
		if (!imap_seqset_is_valid(a->str, IMAP_SEQSET_ALLOW_SAVED))
			return fail(c, "Invalid sequence set in search");
		key->type = IMAP_SEARCH_SEQSET;
		key->str = copy_slice(c, a->str);
		key->saved = a->str.len == 1 && first == '$';
		return 0;
	}
	size_t k = 0;
	while (k < SP_N_ELEMENTS(keys) && !sp_slice_case_eq_str(a->str, keys[k].name))
		k++;
	if (k == SP_N_ELEMENTS(keys))
		return fail(c, "Unknown search key '%s'", word_for_error(c, a->str));
	const char *name = keys[k].name;
	key->type = keys[k].type;
	switch (keys[k].arg) {
	case KA_NONE:
		return 0;
	case KA_STRING:
		return get_astring(c, name, "string", &key->str);
	case KA_HEADER:
		if (get_astring(c, name, "field name", &key->header) < 0)
			return -1;
		if (!is_header_name(key->header))
			return fail(c, "HEADER: invalid field name");
		return get_astring(c, name, "string", &key->str);
	case KA_KEYWORD: {
		const struct imap_arg *f = next_arg(c);
		if (f == NULL)
			return fail(c, "%s: missing keyword", name);
		if (f->type != IMAP_ARG_ATOM || f->str.ptr[0] == '\\')
			return fail(c, "%s: keyword must be an atom (not a \\system flag)", name);
		for (size_t i = 0; i < f->str.len; i++) {
			uint8_t ch = f->str.ptr[i];
			if (ch == '*' || ch == '%' || ch == ']')
				return fail(c, "%s: invalid character in keyword", name);
		}
		key->str = copy_slice(c, f->str);
		return 0;
	}
	case KA_DATE:
		return get_date(c, name, &key->date);
	case KA_NUMBER:
		return get_number(c, name, true, INT64_MAX, &key->number);
	case KA_NZ_SECONDS:
		return get_number(c, name, false, UINT32_MAX, &key->number);
	case KA_MODSEQ: {
		/* MODSEQ [entry-name SP entry-type-req] SP mod-sequence-valzer */
		const struct imap_arg *e = c->pos < c->count ? &c->args[c->pos] : NULL;
		if (e != NULL && e->type != IMAP_ARG_ATOM && e->type != IMAP_ARG_LIST) {
			struct sp_slice entry;
			if (get_astring(c, name, "entry name", &entry) < 0)
				return -1;
			if (entry.len <= 7 || memcmp(entry.ptr, "/flags/", 7) != 0)
				return fail(c, "MODSEQ: entry name must be \"/flags/<flag>\"");
			const struct imap_arg *t = next_arg(c);
			if (t == NULL)
				return fail(c, "MODSEQ: missing entry type (priv, shared or all)");
			if (imap_arg_atom_equals(t, "priv"))
				key->modseq_type = IMAP_MODSEQ_PRIV;
			else if (imap_arg_atom_equals(t, "shared"))
				key->modseq_type = IMAP_MODSEQ_SHARED;
			else if (imap_arg_atom_equals(t, "all"))
				key->modseq_type = IMAP_MODSEQ_ALL;
			else
				return fail(c, "MODSEQ: entry type must be priv, shared or all");
			key->has_entry = true;
			key->modseq_entry = entry;
		}
		c->prog->uses_modseq = true;
		return get_number(c, name, true, INT64_MAX, &key->number);
	}
	case KA_UID: {
		const struct imap_arg *s = next_arg(c);
		if (s == NULL)
			return fail(c, "UID: missing sequence set");
		if (s->type != IMAP_ARG_ATOM ||
		    !imap_seqset_is_valid(s->str, IMAP_SEQSET_ALLOW_SAVED))
			return fail(c, "UID: invalid sequence set");
		key->str = copy_slice(c, s->str);
		key->saved = s->str.len == 1 && s->str.ptr[0] == '$';
		return 0;
	}
	case KA_OBJECTID:
		if (get_astring(c, name, "object id", &key->str) < 0)
			return -1;
		if (!is_objectid(key->str))
			return fail(c, "%s: invalid object id", name);
		return 0;
	case KA_REGEX: {
		static const struct {
			const char *name;
			enum imap_search_regex_field field;
		} fields[] = {
		    {"SUBJECT", IMAP_REGEX_SUBJECT}, {"FROM", IMAP_REGEX_FROM},
		    {"TO", IMAP_REGEX_TO},           {"CC", IMAP_REGEX_CC},
		    {"BCC", IMAP_REGEX_BCC},         {"BODY", IMAP_REGEX_BODY},
		    {"TEXT", IMAP_REGEX_TEXT},       {"HEADER", IMAP_REGEX_HEADER},
		};
		const struct imap_arg *f = next_arg(c);
		if (f == NULL)
			return fail(c, "X-REGEX: missing field");
		size_t i = 0;
		while (i < SP_N_ELEMENTS(fields) && !imap_arg_atom_equals(f, fields[i].name))
			i++;
		if (i == SP_N_ELEMENTS(fields))
			return fail(c, "X-REGEX: field must be SUBJECT, FROM, TO, CC, BCC, BODY, "
			               "TEXT or HEADER <name>");
		key->regex_field = fields[i].field;
		if (key->regex_field == IMAP_REGEX_HEADER) {
			if (get_astring(c, name, "field name", &key->header) < 0)
				return -1;
			if (!is_header_name(key->header))
				return fail(c, "X-REGEX HEADER: invalid field name");
		}
		if (get_astring(c, name, "pattern", &key->str) < 0)
			return -1;
		return check_regex(c, key->str);
	}
	case KA_NOT:
	case KA_OR: {
		if (depth >= c->max_depth)
			return fail(c, "Search keys nested too deeply (limit %u)", c->max_depth);
		size_t n = keys[k].arg == KA_OR ? 2 : 1;
		struct imap_search_key *kids = sp_arena_zalloc(c->arena, n * sizeof(*kids));
		for (size_t i = 0; i < n; i++) {
			const struct imap_arg *sub = next_arg(c);
			if (sub == NULL)
				return fail(c, "%s: missing %s search key", name,
				            n == 1 ? "a" : (i == 0 ? "two" : "a second"));
			if (parse_key(c, sub, depth + 1, &kids[i]) < 0)
				return -1;
		}
		key->children = kids;
		key->count = n;
		return 0;
	}
	}
	return fail(c, "internal error");
}

static int parse_return(struct search_ctx *c, const struct imap_arg *list)
{
	static const struct {
		const char *name;
		unsigned bit;
	} opts[] = {
	    {"MIN", IMAP_SEARCH_RETURN_MIN},     {"MAX", IMAP_SEARCH_RETURN_MAX},
	    {"COUNT", IMAP_SEARCH_RETURN_COUNT}, {"ALL", IMAP_SEARCH_RETURN_ALL},
	    {"SAVE", IMAP_SEARCH_RETURN_SAVE},
	};
	if (list == NULL || list->type != IMAP_ARG_LIST)
		return fail(c, "RETURN: missing option list");
	c->prog->has_return = true;
	for (size_t i = 0; i < list->count; i++) {
		const struct imap_arg *o = &list->list[i];
		size_t k = 0;
		while (k < SP_N_ELEMENTS(opts) && !imap_arg_atom_equals(o, opts[k].name))
			k++;
		if (k == SP_N_ELEMENTS(opts)) {
			if (o->type == IMAP_ARG_ATOM)
				return fail(c, "RETURN: unknown option '%s'",
				            word_for_error(c, o->str));
			return fail(c, "RETURN: options must be atoms");
		}
		c->prog->return_opts |= opts[k].bit;
	}
	/* RFC 4731 §3.1: "RETURN ()" is "RETURN (ALL)". */
	if (list->count == 0)
		c->prog->return_opts = IMAP_SEARCH_RETURN_ALL;
	return 0;
}

int imap_search_parse(const struct imap_arg *args, size_t count, struct sp_arena *arena,
                      unsigned max_depth, struct imap_search_program *prog,
                      struct imap_error *error_r)
{
	struct search_ctx c = {
	    .args = args,
	    .count = count,
	    .arena = arena,
	    .max_depth = max_depth == 0 ? IMAP_SEARCH_DEFAULT_DEPTH : max_depth,
	    .prog = prog,
	    .err = error_r,
	};
	memset(prog, 0, sizeof(*prog));
	if (c.pos < count && imap_arg_atom_equals(&args[c.pos], "RETURN")) {
		c.pos++;
		if (parse_return(&c, next_arg(&c)) < 0)
			return -1;
	}
	if (c.pos < count && imap_arg_atom_equals(&args[c.pos], "CHARSET")) {
		c.pos++;
		struct sp_slice cs;
		if (get_astring(&c, "CHARSET", "charset name", &cs) < 0)
			return -1;
		if (sp_slice_case_eq_str(cs, "UTF-8")) {
			prog->utf8 = true;
		} else if (!sp_slice_case_eq_str(cs, "US-ASCII")) {
			error_r->kind = IMAP_ERROR_NO;
			error_r->code = "BADCHARSET (US-ASCII UTF-8)";
			error_r->text = "Unsupported charset";
			error_r->tag = NULL;
			return -1;
		}
		prog->charset = (const char *)cs.ptr;
	}
	if (c.pos >= count)
		return fail(&c, "Missing search keys");
	prog->root = sp_arena_zalloc(arena, sizeof(*prog->root));
	return parse_and(&c, 0, prog->root);
}
