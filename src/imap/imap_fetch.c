/* FETCH: the arguments of FETCH / UID FETCH to a store request and an
 * ordered plan of response items (RFC 9051 §6.4.5 and §9 fetch-att, BINARY
 * RFC 3516 §4, CHANGEDSINCE/VANISHED RFC 7162 §3.1.4 and §3.2.6, EMAILID/
 * THREADID RFC 8474 §5, SAVEDATE RFC 8514 §4), and one store message to an
 * untagged FETCH response (RFC 9051 §7.5.2 msg-att). */
#include "imap/imap_fetch.h"
#include "lib/sp_str.h"

#include <inttypes.h>
#include <string.h>

/* mime_section_parse() takes part numbers up to this; a bigger one names
 * a part no message has, and so does this one, so it is clamped. */
#define STORE_PART_MAX 1000000000u

struct fetch_ctx {
	struct sp_arena *arena;
	struct imap_fetch_spec *spec;
	struct imap_fetch_item *items;
	size_t n_items, cap_items;
	struct store_section_req *secs;
	size_t n_secs;
	const char *error;
};

static const struct {
	const char *name;
	enum imap_fetch_att att;
	unsigned store_items;
} fetch_simple[] = {
    {"UID", IMAP_FETCH_ATT_UID, 0},
    {"FLAGS", IMAP_FETCH_ATT_FLAGS, STORE_FETCH_FLAGS},
    {"INTERNALDATE", IMAP_FETCH_ATT_INTERNALDATE, STORE_FETCH_INTERNALDATE},
    {"RFC822.SIZE", IMAP_FETCH_ATT_RFC822_SIZE, STORE_FETCH_SIZE},
    {"ENVELOPE", IMAP_FETCH_ATT_ENVELOPE, STORE_FETCH_ENVELOPE},
    {"BODY", IMAP_FETCH_ATT_BODY, STORE_FETCH_BODY},
    {"BODYSTRUCTURE", IMAP_FETCH_ATT_BODYSTRUCTURE, STORE_FETCH_BODYSTRUCTURE},
    {"MODSEQ", IMAP_FETCH_ATT_MODSEQ, STORE_FETCH_MODSEQ},
    {"EMAILID", IMAP_FETCH_ATT_EMAILID, STORE_FETCH_OBJECTID},
    {"THREADID", IMAP_FETCH_ATT_THREADID, STORE_FETCH_OBJECTID},
    {"SAVEDATE", IMAP_FETCH_ATT_SAVEDATE, STORE_FETCH_SAVEDATE},
};

/* RFC 9051 §6.4.5: RFC822 = BODY[], RFC822.HEADER = BODY.PEEK[HEADER],
 * RFC822.TEXT = BODY[TEXT], each under its own response name. */
static const struct {
	const char *name, *spec;
	bool seen;
} fetch_rfc822[] = {
    {"RFC822", "", true},
    {"RFC822.HEADER", "HEADER", false},
    {"RFC822.TEXT", "TEXT", true},
};

/* RFC 9051 §6.4.5 macros; not allowed inside a list (§9 fetch). */
static const struct {
	const char *name;
	const char *items[5];
} fetch_macros[] = {
    {"ALL", {"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", NULL}},
    {"FAST", {"FLAGS", "INTERNALDATE", "RFC822.SIZE", NULL, NULL}},
    {"FULL", {"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"}},
};

static int fail_name(struct fetch_ctx *c, const char *what, struct sp_slice name)
{
	c->error = sp_arena_printf(c->arena, "%s %.*s", what, (int)SP_MIN(name.len, (size_t)64),
	                           (const char *)name.ptr);
	return -1;
}

static void add_item(struct fetch_ctx *c, enum imap_fetch_att att, size_t section, const char *name)
{
	for (size_t i = 0; i < c->n_items; i++) {
		if (c->items[i].att == att && strcmp(c->items[i].name, name) == 0)
			return; /* asked twice: answered once */
	}
	sp_assert(c->n_items < c->cap_items);
	c->items[c->n_items++] = (struct imap_fetch_item){att, section, name};
}

/* Index of the store section {type, spec, partial}, added if new. */
static int add_store_section(struct fetch_ctx *c, enum store_section_type type, const char *spec,
                             bool partial, uint64_t offset, uint64_t count, size_t *index_r)
{
	for (size_t i = 0; i < c->n_secs; i++) {
		const struct store_section_req *r = &c->secs[i];
		if (r->type == type && strcmp(r->spec, spec) == 0 && r->partial == partial &&
		    (!partial || (r->offset == offset && r->count == count))) {
			*index_r = i;
			return 0;
		}
	}
	if (c->n_secs == IMAP_FETCH_MAX_SECTIONS) {
		c->error = "Too many sections in FETCH";
		return -1;
	}
	c->secs[c->n_secs] = (struct store_section_req){
	    .type = type, .spec = spec, .partial = partial, .offset = offset, .count = count};
	*index_r = c->n_secs++;
	return 0;
}

static bool is_astring_atom_char(uint8_t c)
{
	/* ATOM-CHAR without resp-specials: ']' would end the section */
	return c > 0x20 && c < 0x7f && strchr("(){%*\"\\]", c) == NULL;
}

/* A header field name as the client's astring (RFC 9051 §9 header-fld-name):
 * an atom when possible, a quoted string for other 7-bit text, else a
 * literal (8-bit octets, which no field name has, but the client sent). */
static void append_astring(struct sp_buf *b, struct sp_slice s)
{
	bool atom = true, quotable = true;
	for (size_t i = 0; i < s.len; i++) {
		atom = atom && is_astring_atom_char(s.ptr[i]);
		quotable = quotable && s.ptr[i] >= 0x20 && s.ptr[i] < 0x7f;
	}
	if (atom && s.len > 0) {
		sp_buf_append(b, s.ptr, s.len);
	} else if (quotable) {
		sp_buf_append_byte(b, '"');
		for (size_t i = 0; i < s.len; i++) {
			if (s.ptr[i] == '"' || s.ptr[i] == '\\')
				sp_buf_append_byte(b, '\\');
			sp_buf_append_byte(b, s.ptr[i]);
		}
		sp_buf_append_byte(b, '"');
	} else {
		sp_buf_printf(b, "{%zu}\r\n", s.len);
		sp_buf_append(b, s.ptr, s.len);
	}
}

/* A header field name in the store's section syntax (mime_section_parse):
 * an atom, or "..." without escapes; a name holding '"' cannot be said. */
static int append_store_name(struct fetch_ctx *c, struct sp_buf *b, struct sp_slice s)
{
	bool atom = true;
	for (size_t i = 0; i < s.len; i++) {
		uint8_t ch = s.ptr[i];
		if (ch == '"') {
			c->error = "Unsupported header field name in section";
			return -1;
		}
		atom = atom && ch > ' ' && ch < 0x7f && ch != '(' && ch != ')';
	}
	if (atom) {
		sp_buf_append(b, s.ptr, s.len);
	} else {
		sp_buf_append_byte(b, '"');
		sp_buf_append(b, s.ptr, s.len);
		sp_buf_append_byte(b, '"');
	}
	return 0;
}

/* section-spec (RFC 9051 §9): the store's form (store: part numbers
 * clamped, names in mime_section_parse syntax) or the response's. */
static int section_spec(struct fetch_ctx *c, const struct imap_section *sec, bool store,
                        struct sp_buf *b)
{
	static const char *const texts[] = {
	    [IMAP_SECTION_NONE] = "",
	    [IMAP_SECTION_HEADER] = "HEADER",
	    [IMAP_SECTION_HEADER_FIELDS] = "HEADER.FIELDS",
	    [IMAP_SECTION_HEADER_FIELDS_NOT] = "HEADER.FIELDS.NOT",
	    [IMAP_SECTION_TEXT] = "TEXT",
	    [IMAP_SECTION_MIME] = "MIME",
	};
	for (size_t i = 0; i < sec->part_count; i++) {
		uint32_t part = sec->parts[i];
		if (store && part > STORE_PART_MAX)
			part = STORE_PART_MAX;
		sp_buf_printf(b, "%s%" PRIu32, i > 0 ? "." : "", part);
	}
	if (sec->text == IMAP_SECTION_NONE)
		return 0;
	if (sec->part_count > 0)
		sp_buf_append_byte(b, '.');
	sp_buf_append_str(b, texts[sec->text]);
	if (sec->text != IMAP_SECTION_HEADER_FIELDS && sec->text != IMAP_SECTION_HEADER_FIELDS_NOT)
		return 0;
	sp_buf_append_str(b, " (");
	for (size_t i = 0; i < sec->field_count; i++) {
		if (i > 0)
			sp_buf_append_byte(b, ' ');
		if (!store)
			append_astring(b, sec->fields[i]);
		else if (append_store_name(c, b, sec->fields[i]) < 0)
			return -1;
	}
	sp_buf_append_byte(b, ')');
	return 0;
}

static int add_section(struct fetch_ctx *c, const struct imap_section *sec)
{
	static const struct {
		const char *prefix;
		enum imap_fetch_att att;
		enum store_section_type type;
		bool seen;
	} kinds[] = {
	    [IMAP_SECTION_BODY] = {"BODY", IMAP_FETCH_ATT_SECTION, STORE_SECTION_BODY, true},
	    [IMAP_SECTION_BODY_PEEK] = {"BODY", IMAP_FETCH_ATT_SECTION, STORE_SECTION_BODY, false},
	    [IMAP_SECTION_BINARY] = {"BINARY", IMAP_FETCH_ATT_BINARY, STORE_SECTION_BINARY, true},
	    [IMAP_SECTION_BINARY_PEEK] = {"BINARY", IMAP_FETCH_ATT_BINARY, STORE_SECTION_BINARY,
	                                  false},
	    [IMAP_SECTION_BINARY_SIZE] = {"BINARY.SIZE", IMAP_FETCH_ATT_BINARY_SIZE,
	                                  STORE_SECTION_BINARY_SIZE, false},
	};
	sp_assert((size_t)sec->kind < SP_N_ELEMENTS(kinds));
	/* the parser enforces both already (RFC 3516 §6 section-binary) */
	if (sec->kind >= IMAP_SECTION_BINARY && sec->text != IMAP_SECTION_NONE) {
		c->error = "BINARY takes part numbers only";
		return -1;
	}
	if (sec->kind == IMAP_SECTION_BINARY_SIZE && sec->has_partial) {
		c->error = "BINARY.SIZE takes no partial";
		return -1;
	}
	/* RFC 9051 §7.5.2: BODY[section]<origin>, named BODY even for
	 * BODY.PEEK; the origin only when a partial was asked. RFC 3516 §6
	 * names BINARY[section]<origin> the same way. */
	struct sp_buf b = SP_BUF_INIT;
	sp_buf_printf(&b, "%s[", kinds[sec->kind].prefix);
	section_spec(c, sec, false, &b);
	sp_buf_append_byte(&b, ']');
	if (sec->has_partial)
		sp_buf_printf(&b, "<%" PRIu64 ">", sec->partial_origin);
	const char *name = sp_arena_strdup(c->arena, sp_buf_cstr(&b));
	if (kinds[sec->kind].seen)
		c->spec->sets_seen = true;
	/* the same response name twice (BODY[1] and BODY.PEEK[1], or two
	 * partials from one origin) is answered once: the first one asked */
	for (size_t i = 0; i < c->n_items; i++) {
		if (c->items[i].att == kinds[sec->kind].att &&
		    strcmp(c->items[i].name, name) == 0) {
			sp_buf_deinit(&b);
			return 0;
		}
	}
	sp_buf_reset(&b);
	int ret = section_spec(c, sec, true, &b);
	size_t index = 0;
	if (ret == 0)
		ret = add_store_section(
		    c, kinds[sec->kind].type, sp_arena_strdup(c->arena, sp_buf_cstr(&b)),
		    sec->has_partial, sec->partial_origin, sec->partial_size, &index);
	if (ret == 0)
		add_item(c, kinds[sec->kind].att, index, name);
	sp_buf_deinit(&b);
	return ret;
}

/* One fetch-att given as an atom (macros excluded). */
static int add_atom(struct fetch_ctx *c, struct sp_slice name)
{
	for (size_t i = 0; i < SP_N_ELEMENTS(fetch_simple); i++) {
		if (sp_slice_case_eq_str(name, fetch_simple[i].name)) {
			c->spec->req.items |= fetch_simple[i].store_items;
			add_item(c, fetch_simple[i].att, 0, fetch_simple[i].name);
			return 0;
		}
	}
	for (size_t i = 0; i < SP_N_ELEMENTS(fetch_rfc822); i++) {
		if (!sp_slice_case_eq_str(name, fetch_rfc822[i].name))
			continue;
		size_t index;
		if (add_store_section(c, STORE_SECTION_BODY, fetch_rfc822[i].spec, false, 0, 0,
		                      &index) < 0)
			return -1;
		add_item(c, IMAP_FETCH_ATT_SECTION, index, fetch_rfc822[i].name);
		if (fetch_rfc822[i].seen)
			c->spec->sets_seen = true;
		return 0;
	}
	if (sp_slice_case_eq_str(name, "BODY.PEEK") || sp_slice_case_eq_str(name, "BINARY") ||
	    sp_slice_case_eq_str(name, "BINARY.PEEK") || sp_slice_case_eq_str(name, "BINARY.SIZE"))
		return fail_name(c, "Missing section after FETCH item", name);
	for (size_t i = 0; i < SP_N_ELEMENTS(fetch_macros); i++) {
		if (sp_slice_case_eq_str(name, fetch_macros[i].name))
			return fail_name(c, "FETCH macro not allowed in a list:", name);
	}
	return fail_name(c, "Unknown FETCH item", name);
}

static int add_arg(struct fetch_ctx *c, const struct imap_arg *a)
{
	if (a->type == IMAP_ARG_SECTION)
		return add_section(c, a->section);
	if (a->type == IMAP_ARG_ATOM)
		return add_atom(c, a->str);
	c->error = a->type == IMAP_ARG_LIST ? "Nested list in FETCH items" : "Invalid FETCH item";
	return -1;
}

/* fetch-modifiers (RFC 4466 §2.4, RFC 7162 §3.1.4.1 and §3.2.6). */
static int parse_modifiers(struct fetch_ctx *c, const struct imap_arg *a, unsigned flags)
{
	struct imap_fetch_spec *spec = c->spec;

	if (a->type != IMAP_ARG_LIST) {
		c->error = "FETCH modifiers must be a parenthesised list";
		return -1;
	}
	if (a->count == 0) {
		c->error = "Empty FETCH modifier list";
		return -1;
	}
	for (size_t i = 0; i < a->count; i++) {
		const struct imap_arg *m = &a->list[i];
		if (m->type != IMAP_ARG_ATOM) {
			c->error = "Invalid FETCH modifier";
			return -1;
		}
		if (sp_slice_case_eq_str(m->str, "CHANGEDSINCE")) {
			if (spec->has_changedsince) {
				c->error = "Duplicate CHANGEDSINCE";
				return -1;
			}
			/* mod-sequence-value: 1*DIGIT, positive, < 2^63 */
			uint64_t v;
			if (i + 1 == a->count || a->list[i + 1].type != IMAP_ARG_ATOM ||
			    sp_parse_u64_slice(a->list[i + 1].str, INT64_MAX, &v) < 0 || v == 0) {
				c->error = "CHANGEDSINCE needs a positive mod-sequence";
				return -1;
			}
			i++;
			spec->has_changedsince = true;
			spec->req.changedsince = v;
			spec->req.items |= STORE_FETCH_MODSEQ;
		} else if (sp_slice_case_eq_str(m->str, "VANISHED")) {
			if (spec->vanished) {
				c->error = "Duplicate VANISHED";
				return -1;
			}
			if ((flags & IMAP_FETCH_UID) == 0) {
				c->error = "VANISHED is only allowed in UID FETCH";
				return -1;
			}
			if ((flags & IMAP_FETCH_QRESYNC) == 0) {
				c->error = "VANISHED requires ENABLE QRESYNC";
				return -1;
			}
			spec->vanished = true;
		} else {
			return fail_name(c, "Unknown FETCH modifier", m->str);
		}
	}
	/* RFC 7162 §3.2.6: VANISHED only together with CHANGEDSINCE */
	if (spec->vanished && !spec->has_changedsince) {
		c->error = "VANISHED requires CHANGEDSINCE";
		return -1;
	}
	return 0;
}

static int parse_items(struct fetch_ctx *c, const struct imap_arg *a)
{
	if (a->type == IMAP_ARG_ATOM) {
		for (size_t i = 0; i < SP_N_ELEMENTS(fetch_macros); i++) {
			if (!sp_slice_case_eq_str(a->str, fetch_macros[i].name))
				continue;
			for (size_t k = 0; k < 5 && fetch_macros[i].items[k] != NULL; k++) {
				if (add_atom(c, sp_slice_from_str(fetch_macros[i].items[k])) < 0)
					return -1;
			}
			return 0;
		}
	}
	if (a->type != IMAP_ARG_LIST)
		return add_arg(c, a);
	/* fetch = ... "(" fetch-att *(SP fetch-att) ")": at least one */
	if (a->count == 0) {
		c->error = "Empty FETCH item list";
		return -1;
	}
	for (size_t i = 0; i < a->count; i++) {
		if (add_arg(c, &a->list[i]) < 0)
			return -1;
	}
	return 0;
}

int imap_fetch_parse(const struct imap_arg *args, size_t count, unsigned flags,
                     struct sp_arena *arena, struct imap_fetch_spec *spec_r, const char **error_r)
{
	memset(spec_r, 0, sizeof(*spec_r));
	spec_r->uid_fetch = (flags & IMAP_FETCH_UID) != 0;
	if (count == 0) {
		*error_r = "Missing FETCH items";
		return -1;
	}
	if (count > 2) {
		*error_r = "Too many FETCH arguments";
		return -1;
	}
	size_t n = args[0].type == IMAP_ARG_LIST ? args[0].count : 1;
	struct fetch_ctx c = {
	    .arena = arena,
	    .spec = spec_r,
	    .cap_items = n + SP_N_ELEMENTS(fetch_macros[0].items),
	};
	c.items = sp_arena_alloc(arena, c.cap_items * sizeof(*c.items));
	c.secs =
	    sp_arena_alloc(arena, SP_MIN(n, (size_t)IMAP_FETCH_MAX_SECTIONS) * sizeof(*c.secs));
	if (parse_items(&c, &args[0]) < 0 ||
	    (count == 2 && parse_modifiers(&c, &args[1], flags) < 0)) {
		*error_r = c.error;
		memset(spec_r, 0, sizeof(*spec_r));
		return -1;
	}
	if (spec_r->sets_seen)
		spec_r->req.items |= STORE_FETCH_FLAGS;
	if (spec_r->has_changedsince || (spec_r->req.items & STORE_FETCH_MODSEQ))
		spec_r->enables_condstore = true;
	spec_r->req.sections = c.n_secs > 0 ? c.secs : NULL;
	spec_r->req.n_sections = c.n_secs;
	spec_r->items = c.items;
	spec_r->n_items = c.n_items;
	return 0;
}

/* ---- responses ---- */

bool imap_fetch_unknown_cte(const struct imap_fetch_spec *spec, const struct store_message *m)
{
	for (size_t i = 0; m->sections != NULL && i < spec->req.n_sections; i++) {
		if (spec->req.sections[i].type != STORE_SECTION_BODY && m->sections[i].unknown_cte)
			return true;
	}
	return false;
}

static void append_literal(struct sp_buf *out, const struct store_section_data *d, bool binary)
{
	if (binary && d->has_nul) {
		/* literal8 (RFC 3516 §4.2, RFC 9051 §4.3) */
		sp_buf_printf(out, "~{%zu}\r\n", d->len);
		sp_buf_append(out, d->data, d->len);
		return;
	}
	sp_buf_printf(out, "{%zu}\r\n", d->len);
	if (!d->has_nul) {
		sp_buf_append(out, d->data, d->len);
		return;
	}
	/* CHAR8 excludes NUL: a broken message's NULs go out as 0x80 */
	size_t start = out->len;
	sp_buf_append(out, d->data, d->len);
	for (size_t i = start; i < out->len; i++) {
		if (out->data[i] == 0)
			out->data[i] = 0x80;
	}
}

static void append_text_or_nil(struct sp_buf *out, const char *text)
{
	sp_buf_append_str(out, text != NULL ? text : "NIL");
}

static void format_item(struct sp_buf *out, const struct imap_fetch_item *it,
                        const struct imap_fetch_spec *spec, const struct store_message *m)
{
	const struct store_section_data *d = NULL;

	sp_buf_append_str(out, it->name);
	sp_buf_append_byte(out, ' ');
	switch (it->att) {
	case IMAP_FETCH_ATT_UID:
		sp_buf_printf(out, "%" PRIu32, m->uid);
		break;
	case IMAP_FETCH_ATT_FLAGS:
		imap_flags_format(out, m->flags, m->keywords, m->n_keywords);
		break;
	case IMAP_FETCH_ATT_INTERNALDATE:
		imap_datetime_format(out, m->internaldate, m->internaldate_offset);
		break;
	case IMAP_FETCH_ATT_RFC822_SIZE:
		sp_buf_printf(out, "%" PRIu64, m->size);
		break;
	case IMAP_FETCH_ATT_ENVELOPE:
		append_text_or_nil(out, m->envelope);
		break;
	case IMAP_FETCH_ATT_BODY:
		append_text_or_nil(out, m->body);
		break;
	case IMAP_FETCH_ATT_BODYSTRUCTURE:
		append_text_or_nil(out, m->bodystructure);
		break;
	case IMAP_FETCH_ATT_MODSEQ:
		sp_buf_printf(out, "(%" PRIu64 ")", m->modseq);
		break;
	case IMAP_FETCH_ATT_EMAILID:
	case IMAP_FETCH_ATT_THREADID: {
		/* RFC 8474 §5: objectid in parentheses; THREADID NIL when the
		 * server has no thread for the message */
		const char *id = it->att == IMAP_FETCH_ATT_EMAILID ? m->emailid : m->threadid;
		if (id != NULL && id[0] != '\0')
			sp_buf_printf(out, "(%s)", id);
		else
			sp_buf_append_str(out, "NIL");
		break;
	}
	case IMAP_FETCH_ATT_SAVEDATE:
		/* RFC 8514 §4: NIL when the save date is unknown; shown in UTC */
		if (m->savedate != 0)
			imap_datetime_format(out, m->savedate, 0);
		else
			sp_buf_append_str(out, "NIL");
		break;
	case IMAP_FETCH_ATT_SECTION:
	case IMAP_FETCH_ATT_BINARY:
	case IMAP_FETCH_ATT_BINARY_SIZE:
		if (m->sections != NULL && it->section < spec->req.n_sections)
			d = &m->sections[it->section];
		if (it->att == IMAP_FETCH_ATT_BINARY_SIZE)
			sp_buf_printf(out, "%" PRIu64, d != NULL ? d->size : 0);
		else if (d == NULL || d->data == NULL || d->unknown_cte)
			sp_buf_append_str(out, "NIL"); /* no such part (RFC 9051 §6.4.5) */
		else
			append_literal(out, d, it->att == IMAP_FETCH_ATT_BINARY);
		break;
	}
}

void imap_fetch_format(struct sp_buf *out, uint32_t seq, const struct imap_fetch_spec *spec,
                       const struct store_message *m, unsigned fmt_flags)
{
	static const struct imap_fetch_item uid = {IMAP_FETCH_ATT_UID, 0, "UID"};
	static const struct imap_fetch_item flags = {IMAP_FETCH_ATT_FLAGS, 0, "FLAGS"};
	static const struct imap_fetch_item modseq = {IMAP_FETCH_ATT_MODSEQ, 0, "MODSEQ"};
	bool has_uid = false, has_flags = false, has_modseq = false, first = true;

	for (size_t i = 0; i < spec->n_items; i++) {
		has_uid = has_uid || spec->items[i].att == IMAP_FETCH_ATT_UID;
		has_flags = has_flags || spec->items[i].att == IMAP_FETCH_ATT_FLAGS;
		has_modseq = has_modseq || spec->items[i].att == IMAP_FETCH_ATT_MODSEQ;
	}
	sp_buf_printf(out, "* %" PRIu32 " FETCH (", seq);
	/* RFC 9051 §6.4.9: every response to UID FETCH carries UID */
	if (!has_uid && (spec->uid_fetch || (fmt_flags & IMAP_FETCH_FMT_UID))) {
		format_item(out, &uid, spec, m);
		first = false;
	}
	for (size_t i = 0; i < spec->n_items; i++) {
		if (!first)
			sp_buf_append_byte(out, ' ');
		format_item(out, &spec->items[i], spec, m);
		first = false;
	}
	if (!has_flags && (fmt_flags & IMAP_FETCH_FMT_FLAGS)) {
		if (!first)
			sp_buf_append_byte(out, ' ');
		format_item(out, &flags, spec, m);
		first = false;
	}
	/* RFC 7162 §3.1.4.1: MODSEQ in every response once CONDSTORE is on,
	 * which CHANGEDSINCE turns on */
	if (!has_modseq && (spec->has_changedsince || (fmt_flags & IMAP_FETCH_FMT_MODSEQ))) {
		if (!first)
			sp_buf_append_byte(out, ' ');
		format_item(out, &modseq, spec, m);
	}
	sp_buf_append_str(out, ")\r\n");
}
