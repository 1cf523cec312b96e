/* IMAP command parser: RFC 3501 §9 / RFC 9051 §9 command grammar as a
 * generic argument tree, literals of RFC 3501 §4.3, RFC 7888 (LITERAL+/-)
 * and RFC 3516 (literal8), FETCH section specs (RFC 9051 §6.4.5).
 * Text is collected a line at a time (a "segment": up to a CRLF, which
 * either ends the command or follows a literal's {n}); tokens never span
 * segments, so the tokenizer runs on whole segments and keeps only the
 * open-list stack between them, and the one token a literal can cut: a
 * section's header-field list. Literal octets never enter the line. */
#include "imap/imap_parser.h"

#include "lib/sp_str.h"

#include <stdio.h>
#include <string.h>

#define TAIL_MAX 24
#define LITERAL_MINUS_MAX 4096

enum parser_state {
	PS_START,       /* between commands */
	PS_LINE,        /* collecting a segment */
	PS_RAW,         /* raw-line mode: collecting a line */
	PS_LIT_PENDING, /* literal accepted, octets not yet read */
	PS_LIT_INLINE,  /* copying an inline literal */
	PS_LIT_STREAM,  /* passing a streamed literal through */
	PS_LIT_END,     /* streamed literal done: LITERAL_END next */
	PS_LIT_NUL,     /* the literal held a NUL: error next */
	PS_SKIP_LINE,   /* resync: discard to end of line */
	PS_SKIP_LIT,    /* resync: discard a non-synchronizing literal */
};

enum phase {
	PH_TAG,
	PH_NAME,
	PH_UIDNAME,
	PH_ARGS,
};

enum sep {
	SEP_START, /* after '(' */
	SEP_TOKEN, /* after a token or ')' */
	SEP_SPACE, /* after SP */
};

enum tok_result {
	TOK_DONE,
	TOK_LITERAL,
	TOK_ERROR,
};

struct level {
	struct imap_arg *items;
	size_t n, cap;
};

struct imap_parser {
	struct imap_parser_limits limits;
	struct sp_arena *arena; /* the command's tree */
	enum parser_state state;
	bool need_reset;   /* the last event ended a command (or a line) */
	bool line_mode;    /* raw-line mode */
	bool cont_pending; /* CONTINUE returned and no feed since */

	struct sp_buf line;    /* current segment */
	struct sp_buf scratch; /* unescaping quoted strings */
	size_t text_total;     /* non-literal octets of the command so far */
	size_t inline_total;   /* inline literal octets of the command so far */

	/* tokenizer */
	enum phase phase;
	enum sep sep;
	struct level *levels; /* max_depth + 1 */
	unsigned depth;
	unsigned argc;
	bool is_fetch, is_append;
	struct imap_command cmd;

	/* the literal announced or being read */
	uint64_t lit_size, lit_left;
	bool lit_sync, lit8, lit_streamed, lit_nul;
	unsigned lit_depth;
	size_t lit_index;
	uint8_t *lit_buf;

	/* A FETCH section whose header-field list a literal cut (RFC 9051 §9
	 * header-fld-name is an astring): the list resumes in the next
	 * segment. fl_names grows across commands; fl_token is the section
	 * token's text before the first literal. */
	struct imap_section *fl_sec;
	struct sp_slice fl_token;
	struct sp_slice *fl_names;
	size_t fl_n, fl_cap;

	/* resync */
	uint8_t tail[TAIL_MAX];
	size_t tail_len;
	uint64_t skip_left;

	char errbuf[160];
	struct imap_error err;
};

void imap_parser_limits_default(struct imap_parser_limits *l)
{
	l->max_line = 64 * 1024;
	l->max_literal = 64ULL * 1024 * 1024;
	l->max_nonsync_literal = l->max_literal;
	l->inline_literal_max = 64 * 1024;
	l->max_inline_total = 1024 * 1024;
	l->max_depth = 32;
	l->max_args = 4096;
}

struct imap_parser *imap_parser_new(const struct imap_parser_limits *limits)
{
	struct imap_parser *p = sp_calloc(1, sizeof(*p));
	if (limits != NULL)
		p->limits = *limits;
	else
		imap_parser_limits_default(&p->limits);
	sp_assert(p->limits.max_line >= 16);
	p->arena = sp_arena_new(8192);
	p->levels = sp_calloc(p->limits.max_depth + 1, sizeof(*p->levels));
	sp_buf_init(&p->line);
	p->need_reset = true;
	return p;
}

void imap_parser_free(struct imap_parser **pp)
{
	struct imap_parser *p = *pp;
	if (p == NULL)
		return;
	for (unsigned i = 0; i <= p->limits.max_depth; i++)
		free(p->levels[i].items);
	free(p->levels);
	free(p->fl_names);
	sp_buf_deinit(&p->line);
	sp_buf_deinit(&p->scratch);
	sp_arena_free(&p->arena);
	free(p);
	*pp = NULL;
}

static void command_reset(struct imap_parser *p)
{
	sp_arena_reset(p->arena);
	for (unsigned i = 0; i <= p->limits.max_depth; i++)
		p->levels[i].n = 0;
	p->depth = 0;
	p->argc = 0;
	p->phase = PH_TAG;
	p->sep = SEP_TOKEN;
	p->text_total = 0;
	p->inline_total = 0;
	p->is_fetch = p->is_append = false;
	p->fl_sec = NULL;
	p->fl_n = 0;
	memset(&p->cmd, 0, sizeof(p->cmd));
	sp_buf_reset(&p->line);
	p->lit_nul = false;
	p->need_reset = false;
}

void imap_parser_trim(struct imap_parser *p)
{
	sp_assert(p->need_reset || imap_parser_is_idle(p));
	command_reset(p);
	sp_arena_release(p->arena);
	for (unsigned i = 0; i <= p->limits.max_depth; i++) {
		free(p->levels[i].items);
		p->levels[i].items = NULL;
		p->levels[i].n = p->levels[i].cap = 0;
	}
	free(p->fl_names);
	p->fl_names = NULL;
	p->fl_cap = 0;
	sp_buf_deinit(&p->line);
	sp_buf_init(&p->line);
	sp_buf_deinit(&p->scratch);
	sp_buf_init(&p->scratch);
}

bool imap_parser_is_idle(const struct imap_parser *p)
{
	if (p->state != PS_START && p->state != PS_LINE && p->state != PS_RAW)
		return false;
	if (p->need_reset)
		return p->state == PS_START;
	return p->phase == PH_TAG && p->line.len == 0;
}

void imap_parser_set_line_mode(struct imap_parser *p, bool on)
{
	/* Right after an event that ended a command or line (need_reset), a
	 * resync may still be skipping octets: the mode applies after it. */
	sp_assert(p->need_reset || imap_parser_is_idle(p));
	p->line_mode = on;
	if (p->state == PS_LINE || p->state == PS_RAW)
		p->state = PS_START;
}

/* ---- errors ---- */

static void set_error(struct imap_parser *p, enum imap_error_kind kind, const char *code,
                      const char *fmt, ...) SP_PRINTF(4, 5);

static void set_error(struct imap_parser *p, enum imap_error_kind kind, const char *code,
                      const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->errbuf, sizeof(p->errbuf), fmt, ap);
	va_end(ap);
	p->err.kind = kind;
	p->err.code = code;
	p->err.text = p->errbuf;
	p->err.tag = p->phase > PH_TAG ? p->cmd.tag : NULL;
}

static void tail_push(struct imap_parser *p, const uint8_t *data, size_t n)
{
	if (n >= TAIL_MAX) {
		memcpy(p->tail, data + n - TAIL_MAX, TAIL_MAX);
		p->tail_len = TAIL_MAX;
		return;
	}
	if (p->tail_len + n > TAIL_MAX) {
		size_t drop = p->tail_len + n - TAIL_MAX;
		memmove(p->tail, p->tail + drop, p->tail_len - drop);
		p->tail_len -= drop;
	}
	memcpy(p->tail + p->tail_len, data, n);
	p->tail_len += n;
}

/* At the end of a skipped line: if it announced a non-synchronizing literal
 * ("{123+}" or "~{123+}" before CRLF), returns true with its size. */
static bool tail_nonsync_literal(const uint8_t *t, size_t len, uint64_t *size_r)
{
	if (len > 0 && t[len - 1] == '\n')
		len--;
	if (len > 0 && t[len - 1] == '\r')
		len--;
	if (len < 4 || t[len - 1] != '}' || t[len - 2] != '+')
		return false;
	size_t end = len - 2, start = end;
	while (start > 0 && t[start - 1] >= '0' && t[start - 1] <= '9')
		start--;
	if (start == end || start == 0 || t[start - 1] != '{')
		return false;
	return sp_parse_u64_slice((struct sp_slice){t + start, end - start}, INT64_MAX, size_r) ==
	       0;
}

/* Starts resynchronisation after an error reported while the current
 * segment (still in p->line, CR/LF stripped or not) was being handled:
 * the line is complete, so only a non-synchronizing literal at its end is
 * left to skip. */
static void resync_after_segment(struct imap_parser *p, const uint8_t *seg, size_t len)
{
	uint64_t n;
	if (tail_nonsync_literal(seg, len, &n)) {
		p->skip_left = n;
		p->state = PS_SKIP_LIT;
	} else {
		p->state = PS_START;
	}
}

/* ---- tokenizer ---- */

static bool is_atom_char(uint8_t c)
{
	/* ATOM-CHAR plus resp-specials (ASTRING-CHAR) and list-wildcards. */
	if (c <= 0x20 || c >= 0x7f)
		return false;
	switch (c) {
	case '(':
	case ')':
	case '{':
	case '"':
	case '\\':
		return false;
	default:
		return true;
	}
}

static bool is_tag_char(uint8_t c)
{
	return is_atom_char(c) && c != '+' && c != '*' && c != '%';
}

static struct imap_arg *push_arg(struct imap_parser *p, enum imap_arg_type type)
{
	if (p->argc >= p->limits.max_args) {
		set_error(p, IMAP_ERROR_BAD, NULL, "Too many arguments (limit %u)",
		          p->limits.max_args);
		return NULL;
	}
	p->argc++;
	struct level *l = &p->levels[p->depth];
	if (l->n == l->cap) {
		l->cap = l->cap == 0 ? 16 : l->cap * 2;
		l->items = sp_reallocarray(l->items, l->cap, sizeof(*l->items));
	}
	struct imap_arg *a = &l->items[l->n++];
	memset(a, 0, sizeof(*a));
	a->type = type;
	return a;
}

static struct sp_slice arena_slice(struct imap_parser *p, const uint8_t *s, size_t n)
{
	/* an empty scratch buffer has no memory yet: never pass NULL on */
	char *copy = sp_arena_strndup(p->arena, n > 0 ? (const char *)s : "", n);
	return (struct sp_slice){(const uint8_t *)copy, n};
}

static const char *char_desc(uint8_t c, char buf[16])
{
	if (c > 0x20 && c < 0x7f)
		snprintf(buf, 16, "'%c'", c);
	else
		snprintf(buf, 16, "0x%02x", c);
	return buf;
}

static bool word_eq(const uint8_t *s, size_t n, const char *word)
{
	return sp_slice_case_eq_str((struct sp_slice){s, n}, word);
}

/* nz-number (or number when allow_zero) of at most max; no leading zeros. */
static bool parse_number(const uint8_t *s, size_t n, bool allow_zero, uint64_t max, uint64_t *v_r)
{
	if (n == 0 || (n > 1 && s[0] == '0'))
		return false;
	if (sp_parse_u64_slice((struct sp_slice){s, n}, max, v_r) < 0)
		return false;
	return allow_zero || *v_r != 0;
}

/* "{" number64 ["+"] "}" at the very end of the segment. */
static bool parse_literal_marker(struct imap_parser *p, const uint8_t *s, size_t len, size_t i,
                                 bool lit8)
{
	size_t st = ++i;
	while (i < len && s[i] >= '0' && s[i] <= '9')
		i++;
	size_t dn = i - st;
	bool sync = true;
	if (i < len && s[i] == '+') {
		sync = false;
		i++;
	}
	if (i >= len || s[i] != '}' || dn == 0) {
		set_error(p, IMAP_ERROR_BAD, NULL, "Invalid literal: expected a size in braces");
		return false;
	}
	uint64_t n;
	if (sp_parse_u64_slice((struct sp_slice){s + st, dn}, INT64_MAX, &n) < 0) {
		set_error(p, IMAP_ERROR_BAD, NULL, "Literal size out of range");
		return false;
	}
	if (i + 1 != len) {
		set_error(p, IMAP_ERROR_BAD, NULL, "Literal size must be followed by CRLF");
		return false;
	}
	p->lit_size = n;
	p->lit_sync = sync;
	p->lit8 = lit8;
	return true;
}

#define SECTION_FIELDS_MAX 256

static bool field_push(struct imap_parser *p, struct sp_slice name)
{
	if (p->fl_n == SECTION_FIELDS_MAX) {
		set_error(p, IMAP_ERROR_BAD, NULL, "Too many header fields in section");
		return false;
	}
	if (p->fl_n == p->fl_cap) {
		p->fl_cap = p->fl_cap == 0 ? 16 : p->fl_cap * 2;
		p->fl_names = sp_reallocarray(p->fl_names, p->fl_cap, sizeof(*p->fl_names));
	}
	p->fl_names[p->fl_n++] = name;
	return true;
}

/* The header-field list of sec after "(" (or, with after_name, after a
 * name that came as a literal) up to and including ")". A literal
 * announced at the end of the segment returns TOK_LITERAL. */
static enum tok_result parse_field_list(struct imap_parser *p, const uint8_t *s, size_t len,
                                        size_t *pos, struct imap_section *sec, bool after_name)
{
	size_t i = *pos;
	for (;;) {
		if (!after_name) {
			if (i >= len) {
				set_error(p, IMAP_ERROR_BAD, NULL,
				          "Unterminated header field list");
				return TOK_ERROR;
			}
			if (s[i] == '{') {
				if (!parse_literal_marker(p, s, len, i, false))
					return TOK_ERROR;
				*pos = len;
				return TOK_LITERAL;
			}
			struct sp_slice name;
			if (s[i] == '"') {
				sp_buf_reset(&p->scratch);
				i++;
				while (i < len && s[i] != '"') {
					if (s[i] == '\\' && i + 1 < len &&
					    (s[i + 1] == '"' || s[i + 1] == '\\'))
						i++;
					else if (s[i] == '\\' || s[i] < 0x20 || s[i] == 0x7f)
						break;
					sp_buf_append_byte(&p->scratch, s[i++]);
				}
				if (i >= len || s[i] != '"' || p->scratch.len == 0) {
					set_error(p, IMAP_ERROR_BAD, NULL,
					          "Invalid quoted header field name in section");
					return TOK_ERROR;
				}
				i++;
				name = arena_slice(p, p->scratch.data, p->scratch.len);
			} else {
				size_t st = i;
				while (i < len && (is_atom_char(s[i])))
					i++;
				if (i == st) {
					set_error(p, IMAP_ERROR_BAD, NULL,
					          "Invalid header field name in section");
					return TOK_ERROR;
				}
				name = arena_slice(p, s + st, i - st);
			}
			if (!field_push(p, name))
				return TOK_ERROR;
		}
		after_name = false;
		if (i < len && s[i] == ' ') {
			i++;
			continue;
		}
		if (i < len && s[i] == ')') {
			i++;
			break;
		}
		set_error(p, IMAP_ERROR_BAD, NULL, "Invalid header field list in section");
		return TOK_ERROR;
	}
	struct sp_slice *copy = sp_arena_alloc(p->arena, p->fl_n * sizeof(*copy));
	memcpy(copy, p->fl_names, p->fl_n * sizeof(*copy));
	sec->fields = copy;
	sec->field_count = p->fl_n;
	p->fl_n = 0;
	*pos = i;
	return TOK_DONE;
}

/* FETCH's section spec after "[" (RFC 9051 §9 section-spec, section-binary)
 * up to "]": part numbers, section text and header-field list. TOK_LITERAL
 * when a literal cut the field list (p->fl_sec is then sec). */
static enum tok_result parse_section(struct imap_parser *p, const uint8_t *s, size_t len,
                                     size_t *pos, struct imap_section *sec)
{
	size_t i = *pos;
	uint32_t parts[64];
	size_t nparts = 0;
	bool binary = sec->kind >= IMAP_SECTION_BINARY;

	while (i < len && s[i] >= '0' && s[i] <= '9') {
		size_t st = i;
		uint64_t v;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
		if (!parse_number(s + st, i - st, false, UINT32_MAX, &v)) {
			set_error(p, IMAP_ERROR_BAD, NULL, "Invalid section part number");
			return TOK_ERROR;
		}
		if (nparts == SP_N_ELEMENTS(parts)) {
			set_error(p, IMAP_ERROR_BAD, NULL, "Section part too deep");
			return TOK_ERROR;
		}
		parts[nparts++] = (uint32_t)v;
		if (i < len && s[i] == '.') {
			i++;
			if (i < len && s[i] >= '0' && s[i] <= '9')
				continue;
			if (binary || i >= len || s[i] == ']') {
				set_error(p, IMAP_ERROR_BAD, NULL, "Invalid section part");
				return TOK_ERROR;
			}
			break;
		}
		break;
	}
	if (nparts > 0) {
		uint32_t *copy = sp_arena_alloc(p->arena, nparts * sizeof(*copy));
		memcpy(copy, parts, nparts * sizeof(*copy));
		sec->parts = copy;
		sec->part_count = nparts;
	}
	if (i < len && s[i] != ']') {
		size_t st = i;
		while (i < len && ((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		                   s[i] == '.'))
			i++;
		const uint8_t *w = s + st;
		size_t wn = i - st;
		if (binary)
			sec->text = IMAP_SECTION_NONE;
		else if (word_eq(w, wn, "HEADER"))
			sec->text = IMAP_SECTION_HEADER;
		else if (word_eq(w, wn, "HEADER.FIELDS"))
			sec->text = IMAP_SECTION_HEADER_FIELDS;
		else if (word_eq(w, wn, "HEADER.FIELDS.NOT"))
			sec->text = IMAP_SECTION_HEADER_FIELDS_NOT;
		else if (word_eq(w, wn, "TEXT"))
			sec->text = IMAP_SECTION_TEXT;
		else if (word_eq(w, wn, "MIME") && nparts > 0)
			sec->text = IMAP_SECTION_MIME;
		if (sec->text == IMAP_SECTION_NONE) {
			set_error(p, IMAP_ERROR_BAD, NULL, "Invalid section text in %s",
			          binary ? "BINARY section" : "BODY section");
			return TOK_ERROR;
		}
	}
	if (sec->text == IMAP_SECTION_HEADER_FIELDS ||
	    sec->text == IMAP_SECTION_HEADER_FIELDS_NOT) {
		if (i + 1 >= len || s[i] != ' ' || s[i + 1] != '(') {
			set_error(p, IMAP_ERROR_BAD, NULL, "Missing header field list in section");
			return TOK_ERROR;
		}
		i += 2;
		p->fl_n = 0;
		enum tok_result r = parse_field_list(p, s, len, &i, sec, false);
		if (r == TOK_LITERAL)
			p->fl_sec = sec;
		if (r != TOK_DONE)
			return r;
	}
	*pos = i;
	return TOK_DONE;
}

/* The end of a section token at s[*pos]: "]", the partial after it, the
 * separator that must follow; pushes the SECTION argument with text str. */
static enum tok_result section_finish(struct imap_parser *p, const uint8_t *s, size_t len,
                                      size_t *pos, struct imap_section *sec, size_t token_start,
                                      const struct sp_slice *str)
{
	size_t i = *pos;
	char cb[16];
	if (i >= len || s[i] != ']') {
		set_error(p, IMAP_ERROR_BAD, NULL, "Missing ']' after section");
		return TOK_ERROR;
	}
	i++;
	if (i < len && s[i] == '<') {
		if (sec->kind == IMAP_SECTION_BINARY_SIZE) {
			set_error(p, IMAP_ERROR_BAD, NULL, "BINARY.SIZE takes no partial");
			return TOK_ERROR;
		}
		size_t a = ++i;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
		size_t an = i - a;
		if (i >= len || s[i] != '.' ||
		    !parse_number(s + a, an, true, INT64_MAX, &sec->partial_origin)) {
			set_error(p, IMAP_ERROR_BAD, NULL, "Invalid partial <origin.size>");
			return TOK_ERROR;
		}
		size_t b = ++i;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i >= len || s[i] != '>' ||
		    !parse_number(s + b, i - b, false, INT64_MAX, &sec->partial_size)) {
			set_error(p, IMAP_ERROR_BAD, NULL, "Invalid partial <origin.size>");
			return TOK_ERROR;
		}
		i++;
		sec->has_partial = true;
	}
	if (i < len && s[i] != ' ' && s[i] != ')') {
		set_error(p, IMAP_ERROR_BAD, NULL, "Unexpected %s after section",
		          char_desc(s[i], cb));
		return TOK_ERROR;
	}
	struct imap_arg *a = push_arg(p, IMAP_ARG_SECTION);
	if (a == NULL)
		return TOK_ERROR;
	a->str = str != NULL ? *str : arena_slice(p, s + token_start, i - token_start);
	a->section = sec;
	*pos = i;
	return TOK_DONE;
}

/* Resumes the section that a literal header field name cut, at the start
 * of the segment after the literal. */
static enum tok_result section_resume(struct imap_parser *p, const uint8_t *s, size_t len,
                                      size_t *pos)
{
	struct imap_section *sec = p->fl_sec;
	enum tok_result r = parse_field_list(p, s, len, pos, sec, true);
	if (r != TOK_DONE)
		return r;
	p->fl_sec = NULL;
	return section_finish(p, s, len, pos, sec, 0, &p->fl_token);
}

static bool section_kind(const uint8_t *s, size_t n, enum imap_section_kind *kind_r)
{
	static const struct {
		const char *name;
		enum imap_section_kind kind;
	} names[] = {
	    {"BODY", IMAP_SECTION_BODY},
	    {"BODY.PEEK", IMAP_SECTION_BODY_PEEK},
	    {"BINARY", IMAP_SECTION_BINARY},
	    {"BINARY.PEEK", IMAP_SECTION_BINARY_PEEK},
	    {"BINARY.SIZE", IMAP_SECTION_BINARY_SIZE},
	};
	for (size_t i = 0; i < SP_N_ELEMENTS(names); i++) {
		if (word_eq(s, n, names[i].name)) {
			*kind_r = names[i].kind;
			return true;
		}
	}
	return false;
}

/* An atom, a \flag, or a FETCH section token at s[*pos]. */
static enum tok_result parse_atom(struct imap_parser *p, const uint8_t *s, size_t len, size_t *pos)
{
	size_t st = *pos, i = st;
	char cb[16];
	if (s[i] == '\\') {
		i++;
		if (i < len && s[i] == '*') {
			i++;
		} else {
			while (i < len && is_atom_char(s[i]))
				i++;
			if (i == st + 1) {
				set_error(p, IMAP_ERROR_BAD, NULL,
				          "Invalid flag: '\\' without a name");
				return TOK_ERROR;
			}
		}
	} else {
		while (i < len && is_atom_char(s[i])) {
			enum imap_section_kind kind;
			if (s[i] == '[' && p->is_fetch && section_kind(s + st, i - st, &kind)) {
				struct imap_section *sec = sp_arena_zalloc(p->arena, sizeof(*sec));
				sec->kind = kind;
				i++;
				enum tok_result r = parse_section(p, s, len, &i, sec);
				if (r == TOK_LITERAL)
					p->fl_token = arena_slice(p, s + st, len - st);
				if (r == TOK_DONE)
					r = section_finish(p, s, len, &i, sec, st, NULL);
				*pos = i;
				return r;
			}
			i++;
		}
	}
	if (i < len && s[i] != ' ' && s[i] != ')') {
		if (s[i] == '(')
			set_error(p, IMAP_ERROR_BAD, NULL, "Missing space before '('");
		else if (s[i] >= 0x80)
			set_error(p, IMAP_ERROR_BAD, NULL,
			          "8-bit octet in atom; use a quoted string or literal");
		else
			set_error(p, IMAP_ERROR_BAD, NULL, "Invalid character %s in atom",
			          char_desc(s[i], cb));
		return TOK_ERROR;
	}
	enum imap_arg_type type = word_eq(s + st, i - st, "NIL") ? IMAP_ARG_NIL : IMAP_ARG_ATOM;
	struct imap_arg *a = push_arg(p, type);
	if (a == NULL)
		return TOK_ERROR;
	a->str = arena_slice(p, s + st, i - st);
	*pos = i;
	return TOK_DONE;
}

/* quoted at s[*pos] == '"' (RFC 3501 quoted, RFC 9051 UTF-8 allowed). */
static bool parse_quoted(struct imap_parser *p, const uint8_t *s, size_t len, size_t *pos)
{
	size_t i = *pos + 1;
	sp_buf_reset(&p->scratch);
	for (;;) {
		if (i >= len) {
			set_error(p, IMAP_ERROR_BAD, NULL, "Unterminated quoted string");
			return false;
		}
		uint8_t c = s[i];
		if (c == '"')
			break;
		if (c == '\\') {
			if (i + 1 >= len) {
				set_error(p, IMAP_ERROR_BAD, NULL, "Unterminated quoted string");
				return false;
			}
			c = s[i + 1];
			if (c != '"' && c != '\\') {
				set_error(p, IMAP_ERROR_BAD, NULL,
				          "Invalid escape in quoted string (only \\\\ and \\\")");
				return false;
			}
			i++;
		} else if (c == 0 || c == '\r' || c == '\n') {
			set_error(p, IMAP_ERROR_BAD, NULL, "%s in quoted string; use a literal",
			          c == 0 ? "NUL" : "CR or LF");
			return false;
		}
		sp_buf_append_byte(&p->scratch, c);
		i++;
	}
	i++;
	if (i < len && s[i] != ' ' && s[i] != ')') {
		set_error(p, IMAP_ERROR_BAD, NULL, "Missing space after quoted string");
		return false;
	}
	struct imap_arg *a = push_arg(p, IMAP_ARG_QUOTED);
	if (a == NULL)
		return false;
	a->str = arena_slice(p, p->scratch.data, p->scratch.len);
	*pos = i;
	return true;
}

static bool close_list(struct imap_parser *p)
{
	struct level *l = &p->levels[p->depth];
	struct imap_arg *items = NULL;
	size_t n = l->n;
	if (n > 0) {
		items = sp_arena_alloc(p->arena, n * sizeof(*items));
		memcpy(items, l->items, n * sizeof(*items));
	}
	l->n = 0;
	p->depth--;
	struct level *parent = &p->levels[p->depth];
	/* the list node was pushed when '(' was read */
	struct imap_arg *a = &parent->items[parent->n - 1];
	a->list = items;
	a->count = n;
	return true;
}

static enum tok_result tokenize_args(struct imap_parser *p, const uint8_t *s, size_t len, size_t i)
{
	char cb[16];
	if (p->fl_sec != NULL) {
		enum tok_result r = section_resume(p, s, len, &i);
		if (r != TOK_DONE)
			return r;
		p->sep = SEP_TOKEN;
	}
	for (;;) {
		if (i >= len) {
			if (p->sep == SEP_SPACE) {
				set_error(p, IMAP_ERROR_BAD, NULL,
				          "Unexpected space at end of line");
				return TOK_ERROR;
			}
			if (p->depth > 0) {
				set_error(p, IMAP_ERROR_BAD, NULL, "Missing ')' at end of line");
				return TOK_ERROR;
			}
			return TOK_DONE;
		}
		uint8_t c = s[i];
		if (p->sep == SEP_TOKEN) {
			if (c == ' ') {
				p->sep = SEP_SPACE;
				i++;
			} else if (c == ')') {
				if (p->depth == 0) {
					set_error(p, IMAP_ERROR_BAD, NULL, "Unexpected ')'");
					return TOK_ERROR;
				}
				close_list(p);
				i++;
			} else {
				set_error(p, IMAP_ERROR_BAD, NULL, "Missing space before %s",
				          char_desc(c, cb));
				return TOK_ERROR;
			}
			continue;
		}
		switch (c) {
		case ' ':
			set_error(p, IMAP_ERROR_BAD, NULL,
			          p->sep == SEP_SPACE ? "Double space between arguments"
			                              : "Unexpected space after '('");
			return TOK_ERROR;
		case ')':
			if (p->sep == SEP_SPACE) {
				set_error(p, IMAP_ERROR_BAD, NULL, "Unexpected space before ')'");
				return TOK_ERROR;
			}
			close_list(p); /* "()" */
			p->sep = SEP_TOKEN;
			i++;
			continue;
		case '(':
			if (p->depth >= p->limits.max_depth) {
				set_error(p, IMAP_ERROR_BAD, NULL,
				          "Parentheses nested too deeply (limit %u)",
				          p->limits.max_depth);
				return TOK_ERROR;
			}
			if (push_arg(p, IMAP_ARG_LIST) == NULL)
				return TOK_ERROR;
			p->depth++;
			p->levels[p->depth].n = 0;
			p->sep = SEP_START;
			i++;
			continue;
		case '"':
			if (!parse_quoted(p, s, len, &i))
				return TOK_ERROR;
			break;
		case '{':
			if (!parse_literal_marker(p, s, len, i, false))
				return TOK_ERROR;
			return TOK_LITERAL;
		case '~':
			if (i + 1 < len && s[i + 1] == '{') {
				if (!parse_literal_marker(p, s, len, i + 1, true))
					return TOK_ERROR;
				return TOK_LITERAL;
			}
			if (parse_atom(p, s, len, &i) != TOK_DONE)
				return TOK_ERROR;
			break;
		default:
			if (c != '\\' && !is_atom_char(c)) {
				if (c >= 0x80)
					set_error(p, IMAP_ERROR_BAD, NULL,
					          "8-bit octet in atom; use a quoted string or "
					          "literal");
				else
					set_error(p, IMAP_ERROR_BAD, NULL, "Invalid character %s",
					          char_desc(c, cb));
				return TOK_ERROR;
			}
			enum tok_result r = parse_atom(p, s, len, &i);
			if (r != TOK_DONE)
				return r;
			break;
		}
		p->sep = SEP_TOKEN;
	}
}

/* Tag and command name at the start of the first segment. */
static enum tok_result tokenize(struct imap_parser *p, const uint8_t *s, size_t len)
{
	size_t i = 0;
	char cb[16];
	if (p->phase == PH_TAG) {
		while (i < len && is_tag_char(s[i]))
			i++;
		if (i == 0) {
			if (len > 0 && s[0] == ' ')
				set_error(p, IMAP_ERROR_BAD, NULL, "Missing tag");
			else
				set_error(p, IMAP_ERROR_BAD, NULL, "Invalid character %s in tag",
				          char_desc(s[0], cb));
			return TOK_ERROR;
		}
		if (i < len && s[i] != ' ') {
			set_error(p, IMAP_ERROR_BAD, NULL, "Invalid character %s in tag",
			          char_desc(s[i], cb));
			return TOK_ERROR;
		}
		p->cmd.tag = sp_arena_strndup(p->arena, (const char *)s, i);
		p->phase = PH_NAME;
		if (i >= len) {
			set_error(p, IMAP_ERROR_BAD, NULL, "Missing command name");
			return TOK_ERROR;
		}
		i++;
	}
	while (p->phase == PH_NAME || p->phase == PH_UIDNAME) {
		size_t st = i;
		while (i < len && is_atom_char(s[i]))
			i++;
		if (i == st) {
			if (i >= len)
				set_error(p, IMAP_ERROR_BAD, NULL, "Missing command name");
			else
				set_error(p, IMAP_ERROR_BAD, NULL,
				          "Invalid character %s in command name",
				          char_desc(s[i], cb));
			return TOK_ERROR;
		}
		if (i < len && s[i] != ' ') {
			set_error(p, IMAP_ERROR_BAD, NULL, "Invalid character %s in command name",
			          char_desc(s[i], cb));
			return TOK_ERROR;
		}
		char *name = sp_arena_strndup(p->arena, (const char *)s + st, i - st);
		for (char *c = name; *c != '\0'; c++)
			*c = (char)sp_ascii_upper((uint8_t)*c);
		if (p->phase == PH_NAME && strcmp(name, "UID") == 0) {
			p->cmd.uid = true;
			p->phase = PH_UIDNAME;
			if (i >= len) {
				set_error(p, IMAP_ERROR_BAD, NULL, "Missing command after UID");
				return TOK_ERROR;
			}
			i++;
			continue;
		}
		p->cmd.name = name;
		p->is_fetch = strcmp(name, "FETCH") == 0;
		p->is_append = strcmp(name, "APPEND") == 0;
		p->phase = PH_ARGS;
		p->sep = SEP_TOKEN;
	}
	return tokenize_args(p, s, len, i);
}

/* ---- literals ---- */

/* After refusing an announced literal of n octets: a synchronizing one is
 * never sent (no "+"), a non-synchronizing one is on its way: skip it. */
static void literal_refused(struct imap_parser *p, uint64_t n)
{
	if (p->lit_sync) {
		p->state = PS_START;
	} else {
		p->skip_left = n;
		p->state = PS_SKIP_LIT;
	}
}

/* A header field name that arrived as a literal, added to the cut field
 * list: non-empty and without control characters, as its quoted form. */
static bool field_literal_take(struct imap_parser *p, struct sp_slice name)
{
	bool ok = name.len > 0;
	for (size_t k = 0; ok && k < name.len; k++)
		ok = name.ptr[k] >= 0x20 && name.ptr[k] != 0x7f;
	if (!ok) {
		set_error(p, IMAP_ERROR_BAD, NULL, "Invalid header field name literal in section");
		return false;
	}
	return field_push(p, name);
}

/* A header field name sent as a literal: always read inline, into no
 * argument of its own (PS_LIT_INLINE hands it to the field list). */
static bool field_literal_announced(struct imap_parser *p, struct imap_event *ev)
{
	uint64_t n = p->lit_size;
	if (n > p->limits.inline_literal_max || p->inline_total + n > p->limits.max_inline_total) {
		set_error(p, IMAP_ERROR_BAD, NULL, "Header field name literal too long");
		literal_refused(p, n);
		return false;
	}
	p->inline_total += n;
	p->lit_streamed = false;
	p->lit_left = n;
	p->lit_nul = false;
	p->state = PS_LIT_PENDING;
	ev->literal_size = n;
	ev->literal_sync = p->lit_sync;
	return true;
}

static bool literal_announced(struct imap_parser *p, struct imap_event *ev)
{
	uint64_t n = p->lit_size;
	if (n > p->limits.max_literal || (!p->lit_sync && n > p->limits.max_nonsync_literal)) {
		enum imap_error_kind kind = p->is_append ? IMAP_ERROR_NO : IMAP_ERROR_BAD;
		if (n > p->limits.max_literal)
			set_error(p, kind, "TOOBIG", "%s of %llu octets too big (limit %llu)",
			          p->lit8 ? "Literal8" : "Literal", (unsigned long long)n,
			          (unsigned long long)p->limits.max_literal);
		else
			set_error(p, kind, "TOOBIG",
			          "Non-synchronizing literal too big (limit %llu); "
			          "use a synchronizing literal",
			          (unsigned long long)p->limits.max_nonsync_literal);
		literal_refused(p, n);
		return false;
	}
	if (p->fl_sec != NULL)
		return field_literal_announced(p, ev);
	struct imap_arg *a = push_arg(p, IMAP_ARG_LITERAL);
	if (a == NULL) {
		resync_after_segment(p, p->line.data, p->line.len);
		return false;
	}
	a->literal_size = n;
	a->literal8 = p->lit8;
	p->lit_streamed = n > p->limits.inline_literal_max ||
	                  p->inline_total + n > p->limits.max_inline_total ||
	                  (p->is_append && p->depth == 0 && p->levels[0].n >= 2);
	a->streamed = p->lit_streamed;
	a->str = (struct sp_slice){(const uint8_t *)"", 0};
	if (!p->lit_streamed)
		p->inline_total += n;
	p->lit_depth = p->depth;
	p->lit_index = p->levels[p->depth].n - 1;
	p->lit_left = n;
	p->lit_nul = false;
	p->state = PS_LIT_PENDING;
	ev->literal_size = n;
	ev->literal8 = p->lit8;
	ev->literal_sync = p->lit_sync;
	ev->literal_streamed = p->lit_streamed;
	return true;
}

static void fill_partial_cmd(struct imap_parser *p, struct imap_event *ev)
{
	p->cmd.args = p->levels[0].items;
	p->cmd.arg_count = p->levels[0].n;
	ev->cmd = &p->cmd;
	ev->literal_size = p->lit_size;
	ev->literal8 = p->lit8;
	ev->literal_sync = p->lit_sync;
	ev->literal_streamed = p->lit_streamed;
}

void imap_parser_abort_command(struct imap_parser *p)
{
	switch (p->state) {
	case PS_LIT_PENDING:
		if (p->cont_pending && p->lit_sync) {
			p->state = PS_START; /* no "+": the client sends nothing */
			break;
		}
		p->skip_left = p->lit_left;
		p->state = PS_SKIP_LIT;
		break;
	case PS_LIT_INLINE:
	case PS_LIT_STREAM:
		p->skip_left = p->lit_left;
		p->state = PS_SKIP_LIT;
		break;
	case PS_LIT_END:
	case PS_LIT_NUL:
		p->tail_len = 0;
		p->state = PS_SKIP_LINE;
		break;
	case PS_LINE:
		if (p->phase != PH_TAG || p->line.len > 0) {
			p->tail_len = 0;
			tail_push(p, p->line.data, p->line.len);
			p->state = PS_SKIP_LINE;
		}
		break;
	default:
		break;
	}
	p->cont_pending = false;
	p->need_reset = true;
}

/* ---- the driver ---- */

int imap_parser_feed(struct imap_parser *p, const uint8_t *data, size_t len, size_t *consumed_r,
                     struct imap_event *ev)
{
	size_t pos = 0;
	memset(ev, 0, sizeof(*ev));
	p->cont_pending = false;
	if (p->need_reset)
		command_reset(p);

	for (;;) {
		switch (p->state) {
		case PS_START:
			p->state = p->line_mode ? PS_RAW : PS_LINE;
			continue;

		case PS_RAW:
		case PS_LINE: {
			if (pos >= len)
				goto again;
			const uint8_t *lf = memchr(data + pos, '\n', len - pos);
			size_t n = lf != NULL ? (size_t)(lf - (data + pos)) + 1 : len - pos;
			size_t room = p->limits.max_line -
			              SP_MIN(p->limits.max_line, p->text_total + p->line.len);
			if (n > room) {
				/* Keep what fits, to name the tag in the error. */
				sp_buf_append(&p->line, data + pos, room);
				pos += room;
				if (p->phase == PH_TAG && p->state == PS_LINE) {
					size_t t = 0;
					while (t < p->line.len && is_tag_char(p->line.data[t]))
						t++;
					if (t > 0 && t < p->line.len && p->line.data[t] == ' ') {
						p->cmd.tag = sp_arena_strndup(
						    p->arena, (const char *)p->line.data, t);
						p->phase = PH_NAME;
					}
				}
				set_error(p, IMAP_ERROR_BAD, NULL,
				          p->state == PS_RAW ? "Line too long (limit %zu)"
				                             : "Command line too long (limit %zu)",
				          p->limits.max_line);
				p->tail_len = 0;
				tail_push(p, p->line.data, p->line.len);
				p->state = PS_SKIP_LINE;
				goto error;
			}
			sp_buf_append(&p->line, data + pos, n);
			pos += n;
			if (lf == NULL)
				goto again;
			size_t sl = p->line.len - 1;
			if (sl > 0 && p->line.data[sl - 1] == '\r')
				sl--;
			if (p->state == PS_RAW) {
				ev->type = IMAP_EV_LINE;
				ev->data = (struct sp_slice){p->line.data, sl};
				p->state = PS_START;
				p->need_reset = true;
				goto event;
			}
			if (p->phase == PH_TAG && sl == 0) {
				/* An empty line between commands is ignored. */
				sp_buf_reset(&p->line);
				continue;
			}
			p->text_total += p->line.len;
			enum tok_result r = p->phase == PH_ARGS
			                        ? tokenize_args(p, p->line.data, sl, 0)
			                        : tokenize(p, p->line.data, sl);
			if (r == TOK_ERROR) {
				resync_after_segment(p, p->line.data, sl);
				goto error;
			}
			if (r == TOK_DONE) {
				p->cmd.args = p->levels[0].items;
				p->cmd.arg_count = p->levels[0].n;
				ev->type = IMAP_EV_COMMAND;
				ev->cmd = &p->cmd;
				p->state = PS_START;
				p->need_reset = true;
				goto event;
			}
			if (!literal_announced(p, ev))
				goto error;
			sp_buf_reset(&p->line);
			if (p->lit_sync) {
				ev->type = IMAP_EV_CONTINUE;
				fill_partial_cmd(p, ev);
				p->cont_pending = true;
				goto event;
			}
			continue;
		}

		case PS_LIT_PENDING:
			if (p->lit_streamed) {
				ev->type = IMAP_EV_LITERAL_BEGIN;
				fill_partial_cmd(p, ev);
				p->state = PS_LIT_STREAM;
				goto event;
			}
			p->lit_buf = sp_arena_alloc(p->arena, p->lit_size + 1);
			p->state = PS_LIT_INLINE;
			continue;

		case PS_LIT_INLINE: {
			size_t n = (size_t)SP_MIN((uint64_t)(len - pos), p->lit_left);
			uint8_t *dst = p->lit_buf + (p->lit_size - p->lit_left);
			if (n > 0) {
				memcpy(dst, data + pos, n);
				if (!p->lit8 && memchr(dst, 0, n) != NULL)
					p->lit_nul = true;
			}
			pos += n;
			p->lit_left -= n;
			if (p->lit_left > 0)
				goto again;
			p->lit_buf[p->lit_size] = 0;
			struct sp_slice lit = {p->lit_buf, (size_t)p->lit_size};
			if (p->lit_nul) {
				p->state = PS_LIT_NUL;
				continue;
			}
			if (p->fl_sec == NULL) {
				p->levels[p->lit_depth].items[p->lit_index].str = lit;
			} else if (!field_literal_take(p, lit)) {
				p->tail_len = 0;
				p->state = PS_SKIP_LINE;
				goto error;
			}
			p->sep = SEP_TOKEN;
			p->state = PS_LINE;
			continue;
		}

		case PS_LIT_STREAM: {
			if (p->lit_left == 0) {
				p->state = PS_LIT_END;
				continue;
			}
			if (pos >= len)
				goto again;
			size_t n = (size_t)SP_MIN((uint64_t)(len - pos), p->lit_left);
			if (!p->lit8 && memchr(data + pos, 0, n) != NULL)
				p->lit_nul = true;
			ev->type = IMAP_EV_LITERAL_DATA;
			ev->data = (struct sp_slice){data + pos, n};
			ev->cmd = &p->cmd;
			pos += n;
			p->lit_left -= n;
			goto event;
		}

		case PS_LIT_END:
			ev->type = IMAP_EV_LITERAL_END;
			ev->cmd = &p->cmd;
			ev->literal_size = p->lit_size;
			ev->literal8 = p->lit8;
			ev->literal_streamed = true;
			if (p->lit_nul) {
				p->state = PS_LIT_NUL;
			} else {
				p->sep = SEP_TOKEN;
				p->state = PS_LINE;
			}
			goto event;

		case PS_LIT_NUL:
			set_error(p, IMAP_ERROR_BAD, NULL,
			          "NUL octet in literal; send it as a literal8 (RFC 3516)");
			p->tail_len = 0;
			p->state = PS_SKIP_LINE;
			goto error;

		case PS_SKIP_LINE: {
			if (pos >= len)
				goto again;
			const uint8_t *lf = memchr(data + pos, '\n', len - pos);
			size_t n = lf != NULL ? (size_t)(lf - (data + pos)) : len - pos;
			tail_push(p, data + pos, n);
			pos += n;
			if (lf == NULL)
				goto again;
			pos++;
			uint64_t lit;
			if (tail_nonsync_literal(p->tail, p->tail_len, &lit)) {
				p->skip_left = lit;
				p->state = PS_SKIP_LIT;
			} else {
				p->state = PS_START;
			}
			p->tail_len = 0;
			continue;
		}

		case PS_SKIP_LIT: {
			size_t n = (size_t)SP_MIN((uint64_t)(len - pos), p->skip_left);
			pos += n;
			p->skip_left -= n;
			if (p->skip_left > 0)
				goto again;
			p->tail_len = 0;
			p->state = PS_SKIP_LINE;
			continue;
		}
		}
	}

again:
	*consumed_r = len;
	return SP_AGAIN;
error:
	ev->type = IMAP_EV_ERROR;
	ev->error = p->err;
	ev->cmd = &p->cmd;
	p->need_reset = true;
event:
	*consumed_r = pos;
	return 0;
}

/* ---- argument helpers ---- */

bool imap_arg_get_astring(const struct imap_arg *arg, struct sp_slice *str_r)
{
	switch (arg->type) {
	case IMAP_ARG_ATOM:
	case IMAP_ARG_NIL:
	case IMAP_ARG_QUOTED:
		*str_r = arg->str;
		return true;
	case IMAP_ARG_LITERAL:
		/* literal8 (RFC 3516) is no astring: only APPEND takes it */
		if (arg->streamed || arg->literal8)
			return false;
		*str_r = arg->str;
		return true;
	default:
		return false;
	}
}

bool imap_arg_get_string(const struct imap_arg *arg, struct sp_slice *str_r)
{
	if (arg->type == IMAP_ARG_QUOTED ||
	    (arg->type == IMAP_ARG_LITERAL && !arg->streamed && !arg->literal8)) {
		*str_r = arg->str;
		return true;
	}
	return false;
}

bool imap_arg_atom_equals(const struct imap_arg *arg, const char *word)
{
	return arg->type == IMAP_ARG_ATOM && sp_slice_case_eq_str(arg->str, word);
}
