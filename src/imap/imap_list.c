/* LIST, LSUB and STATUS for the IMAP server, without the store: argument
 * parsing (RFC 9051 §6.3.9/§6.3.11, RFC 5258 §3, RFC 5819 §2, RFC 6154
 * §3), mailbox pattern matching with '*' and '%' as a bit-parallel NFA
 * (no backtracking), and the untagged LIST/LSUB/STATUS responses from the
 * store's folder array (RFC 9051 §7.3.1, §7.3.4, RFC 3501 §7.2.3). */
#include "imap/imap_list.h"
#include "imap/imap_utf7.h"
#include "lib/sp_str.h"

#include <string.h>

#define BAD(err, msg)                                                                              \
	do {                                                                                       \
		(err)->kind = IMAP_ERROR_BAD;                                                      \
		(err)->code = NULL;                                                                \
		(err)->text = (msg);                                                               \
		(err)->tag = NULL;                                                                 \
		return -1;                                                                         \
	} while (0)

/* ---- Mailbox names ---- */

/* Decodes one valid UTF-8 sequence (the input was validated). */
static uint32_t utf8_decode(const uint8_t *s, size_t *i)
{
	uint8_t c = s[*i];
	size_t n = c < 0x80 ? 0 : c < 0xe0 ? 1 : c < 0xf0 ? 2 : 3;
	uint32_t cp = n == 0 ? c : n == 1 ? (c & 0x1fu) : n == 2 ? (c & 0x0fu) : (c & 0x07u);
	for (size_t k = 1; k <= n; k++)
		cp = (cp << 6) | (s[*i + k] & 0x3fu);
	*i += n + 1;
	return cp;
}

/* RFC 6855 §3: no C0/C1 controls, DEL, LINE or PARAGRAPH SEPARATOR. */
static bool name_chars_ok(const uint8_t *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		uint32_t cp = utf8_decode(s, &i);
		if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029)
			return false;
	}
	return true;
}

static bool is_inbox_prefix(const uint8_t *s, size_t len)
{
	return len >= 5 && strncasecmp((const char *)s, "INBOX", 5) == 0 &&
	       (len == 5 || s[5] == STORE_DELIMITER);
}

int imap_mailbox_name_decode(struct sp_slice in, unsigned flags, struct sp_arena *arena,
                             const char **name_r, const char **error_r)
{
	struct sp_buf b = SP_BUF_INIT;
	if ((flags & IMAP_NAME_UTF8) != 0) {
		if (!imap_utf8_is_valid(in)) {
			*error_r = "Mailbox name is not valid UTF-8";
			return -1;
		}
		sp_buf_append(&b, in.ptr, in.len);
	} else if (imap_utf7_to_utf8(in, &b, error_r) < 0) {
		sp_buf_deinit(&b);
		return -1;
	}
	if (!name_chars_ok(b.data, b.len)) {
		sp_buf_deinit(&b);
		*error_r = "Control character in mailbox name";
		return -1;
	}
	char *name = sp_arena_strndup(arena, sp_buf_cstr(&b), b.len);
	sp_buf_deinit(&b);
	/* RFC 9051 §5.1: INBOX is case-insensitive, also as a parent. */
	if (is_inbox_prefix((const uint8_t *)name, strlen(name)))
		memcpy(name, "INBOX", 5);
	*name_r = name;
	return 0;
}

int imap_mailbox_name_from_arg(const struct imap_arg *arg, unsigned flags, struct sp_arena *arena,
                               const char **name_r, struct imap_error *error_r)
{
	struct sp_slice s;
	const char *error;
	if (!imap_arg_get_astring(arg, &s))
		BAD(error_r, "Mailbox name expected");
	if (imap_mailbox_name_decode(s, flags, arena, name_r, &error) < 0)
		BAD(error_r, error);
	return 0;
}

/* A quoted string, or a synchronizing literal when it cannot be quoted. */
static void append_string(struct sp_buf *out, const uint8_t *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0') {
			sp_buf_printf(out, "{%zu}\r\n", len);
			sp_buf_append(out, s, len);
			return;
		}
	}
	sp_buf_append_byte(out, '"');
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"' || s[i] == '\\')
			sp_buf_append_byte(out, '\\');
		sp_buf_append_byte(out, s[i]);
	}
	sp_buf_append_byte(out, '"');
}

int imap_mailbox_name_write(const char *name, unsigned flags, struct sp_buf *out)
{
	struct sp_slice in = sp_slice_from_str(name);
	if ((flags & IMAP_NAME_UTF8) != 0) {
		if (!imap_utf8_is_valid(in))
			return -1;
		append_string(out, in.ptr, in.len);
		return 0;
	}
	struct sp_buf enc = SP_BUF_INIT;
	const char *error;
	if (imap_utf8_to_utf7(in, &enc, &error) < 0) {
		sp_buf_deinit(&enc);
		return -1;
	}
	append_string(out, enc.data, enc.len);
	sp_buf_deinit(&enc);
	return 0;
}

static void buf_truncate(struct sp_buf *b, size_t len)
{
	if (b->data != NULL && len < b->len) {
		b->len = len;
		b->data[len] = '\0';
	}
}

/* ---- STATUS ---- */

static const char *const status_names[IMAP_STATUS_ITEM_COUNT] = {
    [IMAP_STATUS_MESSAGES] = "MESSAGES",       [IMAP_STATUS_UIDNEXT] = "UIDNEXT",
    [IMAP_STATUS_UIDVALIDITY] = "UIDVALIDITY", [IMAP_STATUS_UNSEEN] = "UNSEEN",
    [IMAP_STATUS_DELETED] = "DELETED",         [IMAP_STATUS_SIZE] = "SIZE",
    [IMAP_STATUS_RECENT] = "RECENT",           [IMAP_STATUS_HIGHESTMODSEQ] = "HIGHESTMODSEQ",
    [IMAP_STATUS_APPENDLIMIT] = "APPENDLIMIT", [IMAP_STATUS_MAILBOXID] = "MAILBOXID",
};

int imap_status_items_parse(const struct imap_arg *list, struct imap_status_items *items_r,
                            struct imap_error *error_r)
{
	memset(items_r, 0, sizeof(*items_r));
	if (list == NULL || list->type != IMAP_ARG_LIST || list->count == 0)
		BAD(error_r, "STATUS items must be a non-empty list");
	for (size_t i = 0; i < list->count; i++) {
		const struct imap_arg *a = &list->list[i];
		size_t k = 0;
		while (k < IMAP_STATUS_ITEM_COUNT && !imap_arg_atom_equals(a, status_names[k]))
			k++;
		if (k == IMAP_STATUS_ITEM_COUNT)
			BAD(error_r, "Unknown STATUS item");
		if ((items_r->bits & (1u << k)) != 0)
			continue; /* said twice: answered once */
		items_r->bits |= 1u << k;
		items_r->order[items_r->count++] = (uint8_t)k;
	}
	return 0;
}

int imap_status_parse(const struct imap_arg *args, size_t count, unsigned flags,
                      struct sp_arena *arena, struct imap_status_cmd *cmd_r,
                      struct imap_error *error_r)
{
	memset(cmd_r, 0, sizeof(*cmd_r));
	if (count != 2)
		BAD(error_r, "STATUS needs a mailbox name and a list of items");
	if (imap_mailbox_name_from_arg(&args[0], flags, arena, &cmd_r->name, error_r) < 0)
		return -1;
	return imap_status_items_parse(&args[1], &cmd_r->items, error_r);
}

void imap_status_format(const struct store_status *st, const struct imap_status_items *items,
                        uint64_t appendlimit, unsigned flags, struct sp_buf *out)
{
	size_t mark = out->len;
	sp_buf_append_str(out, "* STATUS ");
	if (imap_mailbox_name_write(st->folder.name, flags, out) < 0) {
		buf_truncate(out, mark);
		return;
	}
	sp_buf_append_str(out, " (");
	for (size_t i = 0; i < items->count; i++) {
		unsigned k = items->order[i];
		uint64_t v = 0;
		switch ((enum imap_status_item)k) {
		case IMAP_STATUS_MESSAGES:
			v = st->messages;
			break;
		case IMAP_STATUS_UIDNEXT:
			v = st->folder.uidnext;
			break;
		case IMAP_STATUS_UIDVALIDITY:
			v = st->folder.uidvalidity;
			break;
		case IMAP_STATUS_UNSEEN:
			v = st->unseen;
			break;
		case IMAP_STATUS_DELETED:
			v = st->deleted;
			break;
		case IMAP_STATUS_SIZE:
			v = st->size;
			break;
		case IMAP_STATUS_RECENT:
			v = st->recent;
			break;
		case IMAP_STATUS_HIGHESTMODSEQ:
			v = st->folder.highestmodseq;
			break;
		case IMAP_STATUS_APPENDLIMIT:
			v = appendlimit;
			break;
		case IMAP_STATUS_MAILBOXID:
			/* RFC 8474 §4.2: the same id SELECT and CREATE give */
			sp_buf_printf(out, "%sMAILBOXID (F%llx%08x)", i > 0 ? " " : "",
			              (unsigned long long)st->folder.id, st->folder.uidvalidity);
			continue;
		case IMAP_STATUS_ITEM_COUNT:
			sp_panic("bad status item");
		}
		if (i > 0)
			sp_buf_append_byte(out, ' ');
		if (k == IMAP_STATUS_APPENDLIMIT && v == 0)
			sp_buf_printf(out, "%s NIL", status_names[k]); /* RFC 7889 §4: no limit */
		else
			sp_buf_printf(out, "%s %llu", status_names[k], (unsigned long long)v);
	}
	sp_buf_append_str(out, ")\r\n");
}

/* ---- LIST and LSUB arguments ---- */

static int parse_select(const struct imap_arg *list, unsigned *select_r, struct imap_error *error_r)
{
	static const struct {
		const char *name;
		unsigned bit;
	} opts[] = {
	    {"SUBSCRIBED", IMAP_LIST_SEL_SUBSCRIBED},
	    {"REMOTE", IMAP_LIST_SEL_REMOTE},
	    {"RECURSIVEMATCH", IMAP_LIST_SEL_RECURSIVEMATCH},
	    {"SPECIAL-USE", IMAP_LIST_SEL_SPECIAL_USE},
	};
	unsigned sel = 0;
	for (size_t i = 0; i < list->count; i++) {
		size_t k = 0;
		while (k < SP_N_ELEMENTS(opts) &&
		       !imap_arg_atom_equals(&list->list[i], opts[k].name))
			k++;
		if (k == SP_N_ELEMENTS(opts))
			BAD(error_r, "Unknown LIST selection option");
		sel |= opts[k].bit;
	}
	/* RFC 5258 §3.1 (RFC 9051 list-select-opts): RECURSIVEMATCH modifies
	 * a base option; alone or with REMOTE only it is a syntax error. */
	if ((sel & IMAP_LIST_SEL_RECURSIVEMATCH) != 0 &&
	    (sel & (IMAP_LIST_SEL_SUBSCRIBED | IMAP_LIST_SEL_SPECIAL_USE)) == 0)
		BAD(error_r, "RECURSIVEMATCH needs the SUBSCRIBED or SPECIAL-USE selection option");
	*select_r = sel;
	return 0;
}

static int parse_return(const struct imap_arg *list, struct imap_list_cmd *cmd,
                        struct imap_error *error_r)
{
	static const struct {
		const char *name;
		unsigned bit;
	} opts[] = {
	    {"SUBSCRIBED", IMAP_LIST_RET_SUBSCRIBED},
	    {"CHILDREN", IMAP_LIST_RET_CHILDREN},
	    {"SPECIAL-USE", IMAP_LIST_RET_SPECIAL_USE},
	    {"STATUS", IMAP_LIST_RET_STATUS},
	};
	for (size_t i = 0; i < list->count; i++) {
		size_t k = 0;
		while (k < SP_N_ELEMENTS(opts) &&
		       !imap_arg_atom_equals(&list->list[i], opts[k].name))
			k++;
		if (k == SP_N_ELEMENTS(opts))
			BAD(error_r, "Unknown LIST return option");
		if (opts[k].bit == IMAP_LIST_RET_STATUS) {
			/* RFC 5819 §2: STATUS (status-att *(SP status-att)) */
			if ((cmd->ret & IMAP_LIST_RET_STATUS) != 0)
				BAD(error_r, "LIST return option STATUS given twice");
			if (i + 1 >= list->count || list->list[i + 1].type != IMAP_ARG_LIST)
				BAD(error_r, "LIST return option STATUS needs a list of items");
			if (imap_status_items_parse(&list->list[++i], &cmd->status, error_r) < 0)
				return -1;
		}
		cmd->ret |= opts[k].bit;
	}
	return 0;
}

static int decode_pattern(const struct imap_arg *arg, unsigned flags, struct sp_arena *arena,
                          const char *what, const char **out_r, struct imap_error *error_r)
{
	struct sp_slice s;
	const char *error;
	if (!imap_arg_get_astring(arg, &s)) {
		error_r->kind = IMAP_ERROR_BAD;
		error_r->code = NULL;
		error_r->text = what;
		error_r->tag = NULL;
		return -1;
	}
	if (imap_mailbox_name_decode(s, flags, arena, out_r, &error) < 0) {
		/* A pattern that is not valid modified UTF-7 names no mailbox
		 * (the store holds only valid names): keep its octets, so it
		 * matches nothing, rather than refuse the command. */
		*out_r = sp_arena_strndup(arena, (const char *)s.ptr, s.len);
	}
	return 0;
}

int imap_list_parse(const struct imap_arg *args, size_t count, bool lsub, unsigned flags,
                    struct sp_arena *arena, struct imap_list_cmd *cmd_r, struct imap_error *error_r)
{
	struct imap_list_cmd *cmd = cmd_r;
	memset(cmd, 0, sizeof(*cmd));
	cmd->lsub = lsub;
	size_t i = 0;
	if (!lsub && count > 0 && args[0].type == IMAP_ARG_LIST) {
		cmd->extended = true;
		if (parse_select(&args[0], &cmd->select, error_r) < 0)
			return -1;
		i++;
	}
	if (count - i < 2)
		BAD(error_r, lsub ? "LSUB needs a reference and a mailbox pattern"
		                  : "LIST needs a reference and a mailbox pattern");
	if (decode_pattern(&args[i], flags, arena, "Reference name must be a string",
	                   &cmd->reference, error_r) < 0)
		return -1;
	const struct imap_arg *pat = &args[i + 1];
	const struct imap_arg *pats = pat;
	size_t n = 1;
	if (pat->type == IMAP_ARG_LIST && !lsub) {
		/* RFC 5258 §3: patterns = "(" list-mailbox *(SP list-mailbox) ")" */
		if (pat->count == 0)
			BAD(error_r, "Empty list of mailbox patterns");
		if (pat->count > IMAP_LIST_MAX_PATTERNS)
			BAD(error_r, "Too many mailbox patterns");
		cmd->extended = true;
		pats = pat->list;
		n = pat->count;
	}
	const char **list = sp_arena_alloc(arena, n * sizeof(*list));
	for (size_t k = 0; k < n; k++) {
		if (decode_pattern(&pats[k], flags, arena, "Mailbox pattern must be a string",
		                   &list[k], error_r) < 0)
			return -1;
	}
	i += 2;
	if (i < count) {
		if (lsub)
			BAD(error_r, "Unexpected argument after the LSUB pattern");
		if (!imap_arg_atom_equals(&args[i], "RETURN") || i + 1 >= count ||
		    args[i + 1].type != IMAP_ARG_LIST)
			BAD(error_r, "Expected RETURN (options) after the mailbox pattern");
		if (parse_return(&args[i + 1], cmd, error_r) < 0)
			return -1;
		cmd->extended = true;
		i += 2;
		if (i < count)
			BAD(error_r, "Unexpected argument after the LIST return options");
	}
	if (!cmd->extended && !lsub && list[0][0] == '\0') {
		/* RFC 9051 §6.3.9: an empty name asks for the delimiter */
		cmd->delimiter_only = true;
	}
	/* RFC 5258 §3: in an extended LIST an empty pattern matches nothing
	 * (it is not the delimiter request); drop it. */
	size_t kept = 0;
	for (size_t k = 0; k < n; k++) {
		if (list[k][0] != '\0' || !cmd->extended)
			list[kept++] = list[k];
	}
	cmd->patterns = list;
	cmd->n_patterns = kept;
	return 0;
}

/* ---- Pattern matching ----
 * A pattern is a sequence of tokens: literal octets, '*' (any octets) and
 * '%' (any octets but the delimiter), with runs of wildcards merged. The
 * NFA has a state per token plus the accepting one; its state set is a
 * bit vector advanced a word at a time, so a name costs O(len x words)
 * whatever the pattern ("*a*a*a*..." included). */

struct list_pattern {
	bool never;           /* more literal octets than any name can have */
	size_t m;             /* tokens; bit m is the accepting state */
	size_t words;         /* (m + 1 + 63) / 64 */
	uint64_t *star;       /* bit j: token j is '*' */
	uint64_t *pct;        /* bit j: token j is '%' */
	uint64_t *wild;       /* star | pct */
	uint64_t *lit;        /* per slot: bit j when token j is that octet */
	uint16_t slot[256];   /* octet -> 1 + its slot in lit, 0 if absent */
	uint64_t *cur, *next; /* scratch state sets */
};

enum { TOK_LIT = 0, TOK_STAR = 1, TOK_PCT = 2 };

static void pattern_compile(struct sp_arena *arena, const char *ref, const char *pattern,
                            struct list_pattern *p)
{
	memset(p, 0, sizeof(*p));
	/* RFC 9051 §6.3.9: the reference is prepended; a pattern that starts
	 * with the delimiter is absolute and the reference is ignored. */
	if (pattern[0] == STORE_DELIMITER)
		ref = "";
	size_t rl = strlen(ref), pl = strlen(pattern);
	uint8_t *kind = sp_arena_alloc(arena, rl + pl + 1);
	uint8_t *oct = sp_arena_alloc(arena, rl + pl + 1);
	size_t m = 0, literals = 0;
	for (size_t i = 0; i < rl + pl; i++) {
		uint8_t c = i < rl ? (uint8_t)ref[i] : (uint8_t)pattern[i - rl];
		/* wildcards in the reference are taken literally: it is a name */
		uint8_t k = i < rl ? TOK_LIT : c == '*' ? TOK_STAR : c == '%' ? TOK_PCT : TOK_LIT;
		if (k != TOK_LIT && m > 0 && kind[m - 1] != TOK_LIT) {
			if (k == TOK_STAR)
				kind[m - 1] = TOK_STAR; /* "%*", "*%", "**" are "*" */
			continue;
		}
		if (k == TOK_LIT)
			literals++;
		kind[m] = k;
		oct[m] = c;
		m++;
	}
	if (literals > STORE_FOLDER_NAME_MAX) {
		p->never = true;
		return;
	}
	size_t nslots = 0;
	for (size_t j = 0; j < m; j++) {
		if (kind[j] == TOK_LIT && p->slot[oct[j]] == 0)
			p->slot[oct[j]] = (uint16_t)++nslots;
	}
	p->m = m;
	p->words = (m + 1 + 63) / 64;
	size_t w = p->words;
	uint64_t *mem = sp_arena_zalloc(arena, (5 + nslots) * w * sizeof(uint64_t));
	p->star = mem;
	p->pct = mem + w;
	p->wild = mem + 2 * w;
	p->cur = mem + 3 * w;
	p->next = mem + 4 * w;
	p->lit = mem + 5 * w;
	for (size_t j = 0; j < m; j++) {
		uint64_t bit = 1ull << (j % 64);
		if (kind[j] == TOK_STAR)
			p->star[j / 64] |= bit;
		else if (kind[j] == TOK_PCT)
			p->pct[j / 64] |= bit;
		else
			p->lit[(p->slot[oct[j]] - 1u) * w + j / 64] |= bit;
		if (kind[j] != TOK_LIT)
			p->wild[j / 64] |= bit;
	}
}

/* A wildcard may match nothing: from state j (a wildcard) state j+1 is
 * active too. One pass is enough: j+1 is never a wildcard. */
static void closure(const struct list_pattern *p, uint64_t *s)
{
	uint64_t carry = 0;
	for (size_t w = 0; w < p->words; w++) {
		uint64_t t = s[w] & p->wild[w];
		s[w] |= (t << 1) | carry;
		carry = t >> 63;
	}
}

static const uint64_t *lit_mask(const struct list_pattern *p, uint8_t c)
{
	return p->slot[c] == 0 ? NULL : &p->lit[(p->slot[c] - 1u) * p->words];
}

static bool pattern_match(const struct list_pattern *p, const uint8_t *name, size_t len)
{
	if (p->never)
		return false;
	size_t nw = p->words;
	uint64_t *s = p->cur, *n = p->next;
	memset(s, 0, nw * sizeof(*s));
	s[0] = 1;
	closure(p, s);
	/* RFC 9051 §5.1: "INBOX" in any case, also as the first level */
	bool inbox = is_inbox_prefix(name, len);
	for (size_t i = 0; i < len; i++) {
		uint8_t c = name[i];
		const uint64_t *l1 = lit_mask(p, c);
		const uint64_t *l2 = inbox && i < 5 ? lit_mask(p, sp_ascii_lower(c)) : NULL;
		uint64_t carry = 0, any = 0;
		for (size_t w = 0; w < nw; w++) {
			uint64_t t =
			    (l1 != NULL ? s[w] & l1[w] : 0) | (l2 != NULL ? s[w] & l2[w] : 0);
			uint64_t v = (t << 1) | carry | (s[w] & p->star[w]);
			if (c != STORE_DELIMITER)
				v |= s[w] & p->pct[w];
			carry = t >> 63;
			n[w] = v;
		}
		closure(p, n);
		for (size_t w = 0; w < nw; w++)
			any |= n[w];
		if (any == 0)
			return false;
		uint64_t *tmp = s;
		s = n;
		n = tmp;
	}
	return (s[p->m / 64] >> (p->m % 64)) & 1;
}

bool imap_list_match(const char *pattern, const char *name)
{
	struct sp_arena *arena = sp_arena_new(4096);
	struct list_pattern *p = sp_arena_alloc(arena, sizeof(*p));
	pattern_compile(arena, "", pattern, p);
	bool ok = pattern_match(p, (const uint8_t *)name, strlen(name));
	sp_arena_free(&arena);
	return ok;
}

/* ---- LIST and LSUB responses ---- */

struct list_entry {
	const uint8_t *name; /* not NUL-terminated for a parent level */
	size_t len;
	const struct store_folder *f; /* NULL: a level with no folder */
	const char *cname;            /* NUL-terminated, made when needed */
	bool exists, subscribed, matched, sel;
	bool has_children;    /* an existing folder below */
	bool has_sel;         /* a name below that satisfies the selection */
	bool has_sel_unmatch; /* ... and that no pattern matches */
};

static int entry_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	/* INBOX and its children first, then by octets */
	int ra = is_inbox_prefix(a, al) ? 0 : 1, rb = is_inbox_prefix(b, bl) ? 0 : 1;
	if (ra != rb)
		return ra - rb;
	int c = memcmp(a, b, SP_MIN(al, bl));
	if (c != 0)
		return c;
	return al < bl ? -1 : al > bl ? 1 : 0;
}

static int entry_qsort_cmp(const void *x, const void *y)
{
	const struct list_entry *a = x, *b = y;
	return entry_cmp(a->name, a->len, b->name, b->len);
}

static struct list_entry *entry_find(struct list_entry *e, size_t n, const uint8_t *name,
                                     size_t len)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = entry_cmp(e[mid].name, e[mid].len, name, len);
		if (c == 0)
			return &e[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static const char *entry_cname(struct sp_arena *arena, struct list_entry *e)
{
	if (e->cname == NULL)
		e->cname = sp_arena_strndup(arena, (const char *)e->name, e->len);
	return e->cname;
}

static void append_special_use(struct sp_buf *attrs, unsigned use)
{
	/* RFC 6154 §2, in its order */
	static const struct {
		unsigned bit;
		const char *name;
	} uses[] = {
	    {STORE_USE_ALL, "\\All"},       {STORE_USE_ARCHIVE, "\\Archive"},
	    {STORE_USE_DRAFTS, "\\Drafts"}, {STORE_USE_FLAGGED, "\\Flagged"},
	    {STORE_USE_JUNK, "\\Junk"},     {STORE_USE_SENT, "\\Sent"},
	    {STORE_USE_TRASH, "\\Trash"},
	};
	for (size_t i = 0; i < SP_N_ELEMENTS(uses); i++) {
		if ((use & uses[i].bit) != 0) {
			if (attrs->len > 0)
				sp_buf_append_byte(attrs, ' ');
			sp_buf_append_str(attrs, uses[i].name);
		}
	}
}

static void attr_add(struct sp_buf *attrs, const char *a)
{
	if (attrs->len > 0)
		sp_buf_append_byte(attrs, ' ');
	sp_buf_append_str(attrs, a);
}

/* All names and every level above them, sorted, each once. */
static struct list_entry *entries_build(const struct store_folder *folders, size_t n,
                                        struct sp_arena *arena, size_t *n_r)
{
	size_t total = 0;
	for (size_t i = 0; i < n; i++) {
		total++;
		for (const char *s = folders[i].name; *s != '\0'; s++)
			total += *s == STORE_DELIMITER;
	}
	struct list_entry *e = sp_arena_zalloc(arena, (total + 1) * sizeof(*e));
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		const uint8_t *name = (const uint8_t *)folders[i].name;
		size_t len = strlen(folders[i].name);
		e[k++] = (struct list_entry){.name = name, .len = len, .f = &folders[i]};
		for (size_t j = 1; j < len; j++) {
			if (name[j] == STORE_DELIMITER)
				e[k++] = (struct list_entry){.name = name, .len = j};
		}
	}
	qsort(e, k, sizeof(*e), entry_qsort_cmp);
	size_t out = 0;
	for (size_t i = 0; i < k; i++) {
		if (out > 0 &&
		    entry_cmp(e[out - 1].name, e[out - 1].len, e[i].name, e[i].len) == 0) {
			if (e[out - 1].f == NULL)
				e[out - 1].f = e[i].f;
			continue;
		}
		e[out++] = e[i];
	}
	*n_r = out;
	return e;
}

size_t imap_list_format(const struct imap_list_cmd *cmd, const struct store_folder *folders,
                        size_t n, unsigned flags, imap_list_status_fn *status_fn, void *ctx,
                        uint64_t appendlimit, struct sp_arena *arena, struct sp_buf *out)
{
	if (cmd->delimiter_only) {
		/* RFC 9051 §6.3.9: our names are not rooted, the root is "" */
		sp_buf_append_str(out, "* LIST (\\Noselect) \"/\" \"\"\r\n");
		return 1;
	}
	struct list_pattern *pats = sp_arena_alloc(arena, (cmd->n_patterns + 1) * sizeof(*pats));
	for (size_t i = 0; i < cmd->n_patterns; i++)
		pattern_compile(arena, cmd->reference, cmd->patterns[i], &pats[i]);

	size_t ne;
	struct list_entry *e = entries_build(folders, n, arena, &ne);
	unsigned base = cmd->select & (IMAP_LIST_SEL_SUBSCRIBED | IMAP_LIST_SEL_SPECIAL_USE);
	if (cmd->lsub)
		base = IMAP_LIST_SEL_SUBSCRIBED;
	for (size_t i = 0; i < ne; i++) {
		struct list_entry *x = &e[i];
		x->exists = x->f != NULL && x->f->id != 0;
		x->subscribed = x->f != NULL && x->f->subscribed;
		for (size_t k = 0; k < cmd->n_patterns && !x->matched; k++)
			x->matched = pattern_match(&pats[k], x->name, x->len);
		x->sel = base != 0;
		if ((base & IMAP_LIST_SEL_SUBSCRIBED) != 0 && !x->subscribed)
			x->sel = false;
		if ((base & IMAP_LIST_SEL_SPECIAL_USE) != 0 &&
		    !(x->exists && x->f->special_use != 0))
			x->sel = false;
	}
	/* Tell every level above a name about it. */
	for (size_t i = 0; i < ne; i++) {
		const struct list_entry *x = &e[i];
		if (!x->exists && !x->sel)
			continue;
		for (size_t j = 1; j < x->len; j++) {
			if (x->name[j] != STORE_DELIMITER)
				continue;
			struct list_entry *up = entry_find(e, ne, x->name, j);
			sp_assert(up != NULL);
			up->has_children |= x->exists;
			up->has_sel |= x->sel;
			up->has_sel_unmatch |= x->sel && !x->matched;
		}
	}

	bool recursive = (cmd->select & IMAP_LIST_SEL_RECURSIVEMATCH) != 0;
	bool show_sub = (cmd->ret & IMAP_LIST_RET_SUBSCRIBED) != 0 ||
	                (cmd->select & IMAP_LIST_SEL_SUBSCRIBED) != 0;
	struct sp_buf attrs = SP_BUF_INIT;
	size_t lines = 0;
	for (size_t i = 0; i < ne; i++) {
		struct list_entry *x = &e[i];
		if (!x->matched)
			continue;
		bool show;
		if (cmd->lsub)
			show = x->subscribed || x->has_sel_unmatch;
		else if (base != 0)
			show = x->sel || (recursive && x->has_sel_unmatch);
		else
			show = x->exists || x->has_children;
		if (!show)
			continue;
		sp_buf_reset(&attrs);
		if (cmd->lsub) {
			/* RFC 3501 §6.3.9: a level reached by "%" whose
			 * subscribed child is not listed is \Noselect */
			if (!x->subscribed || !x->exists)
				attr_add(&attrs, "\\Noselect");
		} else {
			/* RFC 5258 §3.4: \NonExistent (implies \Noselect) is a
			 * LIST-EXTENDED attribute; a basic LIST says \Noselect */
			if (!x->exists)
				attr_add(&attrs, cmd->extended ? "\\NonExistent" : "\\Noselect");
			/* RFC 3348 §4: the child attributes describe a mailbox;
			 * a name that does not exist has none unless it has
			 * children (the level above them). */
			if (x->has_children)
				attr_add(&attrs, "\\HasChildren");
			else if (x->exists)
				attr_add(&attrs, "\\HasNoChildren");
			if (show_sub && x->subscribed)
				attr_add(&attrs, "\\Subscribed");
			if (x->exists)
				append_special_use(&attrs, x->f->special_use);
		}
		size_t mark = out->len;
		sp_buf_printf(out, "* %s (%s) \"/\" ", cmd->lsub ? "LSUB" : "LIST",
		              sp_buf_cstr(&attrs));
		if (imap_mailbox_name_write(entry_cname(arena, x), flags, out) < 0) {
			buf_truncate(out, mark); /* not UTF-8: cannot be named */
			continue;
		}
		if (!cmd->lsub && recursive && x->has_sel) {
			/* RFC 5258 §3.5 */
			sp_buf_append_str(out, " (\"CHILDINFO\" (");
			if ((base & IMAP_LIST_SEL_SUBSCRIBED) != 0)
				sp_buf_append_str(out, "\"SUBSCRIBED\"");
			if (base == (IMAP_LIST_SEL_SUBSCRIBED | IMAP_LIST_SEL_SPECIAL_USE))
				sp_buf_append_byte(out, ' ');
			if ((base & IMAP_LIST_SEL_SPECIAL_USE) != 0)
				sp_buf_append_str(out, "\"SPECIAL-USE\"");
			sp_buf_append_str(out, "))");
		}
		sp_buf_append_str(out, "\r\n");
		lines++;
		if (!cmd->lsub && (cmd->ret & IMAP_LIST_RET_STATUS) != 0 && x->exists) {
			sp_assert(status_fn != NULL);
			struct store_status st;
			memset(&st, 0, sizeof(st));
			if (status_fn(ctx, x->cname, &st) == 0) {
				st.folder.name = x->cname;
				imap_status_format(&st, &cmd->status, appendlimit, flags, out);
			}
		}
	}
	sp_buf_deinit(&attrs);
	return lines;
}
