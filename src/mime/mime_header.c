/* Header field values: unfolding (RFC 5322 §2.2.3), Content-Type and
 * Content-Disposition with parameters (RFC 2045 §5.1, RFC 2183), RFC 2231
 * parameter continuations and charsets, and the other MIME fields that
 * BODYSTRUCTURE reports (RFC 2045 §6-8, RFC 3282, RFC 2557, RFC 1864). */
#include "mime/mime_int.h"

#include <string.h>

bool mime_field_name_is(const struct mime_message *msg, const struct mime_field *f,
                        const char *name, size_t name_len)
{
	if (f->name_len != name_len)
		return false;
	const uint8_t *p = msg->data + f->off;
	for (size_t i = 0; i < name_len; i++) {
		if (sp_ascii_lower(p[i]) != sp_ascii_lower((uint8_t)name[i]))
			return false;
	}
	return true;
}

const struct mime_field *mime_part_field(const struct mime_message *msg,
                                         const struct mime_part *part, const char *name)
{
	size_t nl = strlen(name);

	for (unsigned i = 0; i < part->n_fields; i++) {
		if (mime_field_name_is(msg, &part->fields[i], name, nl))
			return &part->fields[i];
	}
	return NULL;
}

char *mime_field_value(const struct mime_message *msg, const struct mime_field *f,
                       struct sp_arena *arena, size_t *len_r)
{
	const uint8_t *p = msg->data + f->value_off, *end = msg->data + f->end;
	char *out = sp_arena_alloc(arena, (size_t)(end - p) + 1);
	size_t n = 0;

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	for (; p < end; p++) {
		if (*p != '\r' && *p != '\n')
			out[n++] = (char)*p;
	}
	while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\t'))
		n--;
	out[n] = '\0';
	if (len_r != NULL)
		*len_r = n;
	return out;
}

char *mime_part_value(const struct mime_message *msg, const struct mime_part *part,
                      const char *name, struct sp_arena *arena, size_t *len_r)
{
	const struct mime_field *f = mime_part_field(msg, part, name);

	return f == NULL ? NULL : mime_field_value(msg, f, arena, len_r);
}

const char *mime_param_get(const struct mime_param *params, unsigned n, const char *name)
{
	for (unsigned i = 0; i < n; i++) {
		if (strcmp(params[i].name, name) == 0)
			return params[i].value;
	}
	return NULL;
}

/* ---- a small RFC 2045 tokenizer over an unfolded value ---- */

struct tok {
	const char *p, *end;
};

static void skip_cfws(struct tok *t)
{
	int depth = 0;

	while (t->p < t->end) {
		char c = *t->p;
		if (depth > 0) {
			if (c == '\\' && t->p + 1 < t->end)
				t->p++;
			else if (c == '(')
				depth++;
			else if (c == ')')
				depth--;
		} else if (c == '(') {
			depth++;
		} else if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
			return;
		}
		t->p++;
	}
}

static bool is_tspecial(char c)
{
	return strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

static bool is_token_char(char c)
{
	return (unsigned char)c > ' ' && c != 0x7f && !is_tspecial(c);
}

/* A token; lenient about 8-bit bytes. Returns its length (0 = none). */
static size_t read_token(struct tok *t, const char **start_r)
{
	*start_r = t->p;
	while (t->p < t->end && is_token_char(*t->p))
		t->p++;
	return (size_t)(t->p - *start_r);
}

static char *lower_dup(struct sp_arena *arena, const char *s, size_t n)
{
	char *r = sp_arena_strndup(arena, s, n);
	sp_str_lower(r);
	return r;
}

/* A parameter value: a quoted-string (quoted pairs unescaped) or, being
 * lenient with unquoted spaces as many mailers write them, everything up
 * to the next ';' with trailing space removed. */
static void read_value(struct tok *t, struct sp_buf *out)
{
	if (t->p < t->end && *t->p == '"') {
		t->p++;
		while (t->p < t->end && *t->p != '"') {
			if (*t->p == '\\' && t->p + 1 < t->end)
				t->p++;
			sp_buf_append_byte(out, (uint8_t)*t->p++);
		}
		if (t->p < t->end)
			t->p++;
		return;
	}
	const char *start = t->p;
	while (t->p < t->end && *t->p != ';' && *t->p != ' ' && *t->p != '\t')
		t->p++;
	/* More words up to the next ';' belong to the value (an unquoted
	 * file name with spaces) unless they look like another parameter
	 * whose ';' is missing. */
	const char *q = t->p;
	while (q < t->end && *q != ';' && *q != '=')
		q++;
	if (q == t->end || *q == ';')
		t->p = q;
	const char *e = t->p;
	while (e > start && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	sp_buf_append(out, start, (size_t)(e - start));
}

struct raw_param {
	char *base;     /* lowercased name without the RFC 2231 suffix */
	char *raw_base; /* the same as written */
	char *value;    /* unquoted */
	int section;    /* -1 when none */
	bool extended;
	bool used;
};

static int section_cmp(const void *a, const void *b)
{
	const struct raw_param *x = *(const struct raw_param *const *)a;
	const struct raw_param *y = *(const struct raw_param *const *)b;
	return (x->section > y->section) - (x->section < y->section);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)sp_ascii_lower((uint8_t)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static void percent_decode(const char *s, struct sp_buf *out)
{
	for (; *s != '\0'; s++) {
		int h, l;
		if (*s == '%' && (h = hexval(s[1])) >= 0 && (l = hexval(s[2])) >= 0) {
			sp_buf_append_byte(out, (uint8_t)(h * 16 + l));
			s += 2;
		} else {
			sp_buf_append_byte(out, (uint8_t)*s);
		}
	}
}

/* RFC 2231 §7 attribute-char: what may stay unencoded in an
 * extended value. */
static bool is_attr_char(char c)
{
	return is_token_char(c) && c != '*' && c != '\'' && c != '%';
}

static void percent_encode(const char *s, struct sp_buf *out)
{
	for (; *s != '\0'; s++) {
		if (is_attr_char(*s))
			sp_buf_append_byte(out, (uint8_t)*s);
		else
			sp_buf_printf(out, "%%%02X", (unsigned char)*s);
	}
}

/* Joins the RFC 2231 sections of one parameter (RFC 2231 §3, §4). */
static void merge_2231(struct raw_param **sec, unsigned n, struct mime_param *out,
                       struct sp_arena *arena)
{
	struct sp_buf imap = SP_BUF_INIT, raw = SP_BUF_INIT, utf8 = SP_BUF_INIT;
	const char *charset = NULL;
	bool ext = sec[0]->extended;

	qsort(sec, n, sizeof(*sec), section_cmp);
	ext = sec[0]->extended;
	for (unsigned i = 0; i < n; i++) {
		const char *v = sec[i]->value;
		if (i == 0 && ext) {
			/* charset'language'value */
			const char *q1 = strchr(v, '\'');
			const char *q2 = q1 == NULL ? NULL : strchr(q1 + 1, '\'');
			if (q2 != NULL) {
				charset = sp_arena_strndup(arena, v, (size_t)(q1 - v));
				sp_buf_append(&imap, v, (size_t)(q2 + 1 - v));
				v = q2 + 1;
			} else {
				sp_buf_append_str(&imap, "''");
			}
		}
		if (sec[i]->extended) {
			sp_buf_append_str(&imap, v);
			percent_decode(v, &raw);
		} else {
			if (ext)
				percent_encode(v, &imap);
			else
				sp_buf_append_str(&imap, v);
			sp_buf_append_str(&raw, v);
		}
	}
	if (ext)
		mime_charset_to_utf8(charset, raw.data, raw.len, &utf8);
	else
		mime_rfc2047_decode(raw.data, raw.len, &utf8);
	out->name = sec[0]->base;
	out->imap_name = ext ? sp_arena_printf(arena, "%s*", sec[0]->raw_base) : sec[0]->raw_base;
	out->imap_value = sp_arena_strndup(arena, sp_buf_cstr(&imap), imap.len);
	out->value = sp_arena_strndup(arena, sp_buf_cstr(&utf8), utf8.len);
	sp_buf_deinit(&imap);
	sp_buf_deinit(&raw);
	sp_buf_deinit(&utf8);
}

/* Parses ";" separated parameters from t into *params_r. */
static void parse_params(struct tok *t, struct sp_arena *arena, struct mime_param **params_r,
                         unsigned *n_r)
{
	struct raw_param raw[MIME_MAX_PARAMS];
	struct sp_buf v = SP_BUF_INIT;
	unsigned n = 0;

	while (t->p < t->end && n < MIME_MAX_PARAMS) {
		skip_cfws(t);
		if (t->p < t->end && *t->p != ';') {
			/* junk: skip to the next parameter */
			while (t->p < t->end && *t->p != ';')
				t->p++;
		}
		if (t->p >= t->end)
			break;
		t->p++; /* ';' */
		skip_cfws(t);
		const char *name;
		size_t nlen = read_token(t, &name);
		/* RFC 2231 names contain '*', which is a token char. */
		skip_cfws(t);
		if (nlen == 0 || t->p >= t->end || *t->p != '=')
			continue;
		t->p++;
		skip_cfws(t);
		sp_buf_reset(&v);
		read_value(t, &v);

		struct raw_param *r = &raw[n++];
		const char *star = memchr(name, '*', nlen);
		r->raw_base =
		    sp_arena_strndup(arena, name, star == NULL ? nlen : (size_t)(star - name));
		r->base = lower_dup(arena, name, star == NULL ? nlen : (size_t)(star - name));
		r->value = sp_arena_strndup(arena, sp_buf_cstr(&v), v.len);
		r->section = -1;
		r->extended = false;
		r->used = false;
		if (star != NULL) {
			const char *s = star + 1, *e = name + nlen;
			if (s < e && *s >= '0' && *s <= '9') {
				int num = 0;
				while (s < e && *s >= '0' && *s <= '9' && num < 100000)
					num = num * 10 + (*s++ - '0');
				r->section = num;
				if (s < e && *s == '*') {
					r->extended = true;
					s++;
				}
			} else {
				r->extended = true;
				if (s < e && *s == '*')
					s++;
			}
			if (s != e) {
				/* not RFC 2231 after all: keep the name whole */
				r->base = lower_dup(arena, name, nlen);
				r->raw_base = sp_arena_strndup(arena, name, nlen);
				r->section = -1;
				r->extended = false;
			}
		}
	}
	sp_buf_deinit(&v);

	struct mime_param *params = sp_arena_zalloc(arena, (n + 1) * sizeof(*params));
	struct raw_param *group[MIME_MAX_PARAMS];
	unsigned count = 0;
	for (unsigned i = 0; i < n; i++) {
		if (raw[i].used)
			continue;
		bool star = raw[i].extended || raw[i].section >= 0;
		unsigned g = 0;
		for (unsigned j = i; j < n; j++) {
			if (raw[j].used || strcmp(raw[j].base, raw[i].base) != 0)
				continue;
			bool jstar = raw[j].extended || raw[j].section >= 0;
			if (jstar != star)
				continue;
			/* a plain duplicate or a second unsectioned "name*"
			 * is not part of this value */
			if (g > 0 && (!star || raw[j].section < 0 || group[0]->section < 0))
				continue;
			raw[j].used = true;
			group[g++] = &raw[j];
		}
		merge_2231(group, g, &params[count++], arena);
	}
	/* RFC 2231 §4 allows both forms; the extended one wins. */
	*params_r = params;
	*n_r = count;
}

static void parse_content_type(const char *value, size_t len, struct mime_part *part,
                               struct sp_arena *arena)
{
	struct tok t = {value, value + len};
	const char *type, *sub;
	size_t tl, sl = 0;

	skip_cfws(&t);
	tl = read_token(&t, &type);
	skip_cfws(&t);
	if (tl > 0 && t.p < t.end && *t.p == '/') {
		t.p++;
		skip_cfws(&t);
		sl = read_token(&t, &sub);
	}
	if (tl == 0 || sl == 0) {
		/* RFC 2045 §5.2: an unparsable Content-Type is text/plain */
		part->defects |= MIME_DEFECT_BAD_CONTENT_TYPE;
		return;
	}
	part->type = lower_dup(arena, type, tl);
	part->subtype = lower_dup(arena, sub, sl);
	part->imap_type = sp_arena_strndup(arena, type, tl);
	part->imap_subtype = sp_arena_strndup(arena, sub, sl);
	part->type_explicit = true;
	parse_params(&t, arena, &part->params, &part->n_params);
}

static void parse_disposition(const char *value, size_t len, struct mime_part *part,
                              struct sp_arena *arena)
{
	struct tok t = {value, value + len};
	const char *type;
	size_t tl;

	skip_cfws(&t);
	tl = read_token(&t, &type);
	if (tl == 0)
		return;
	part->disposition = lower_dup(arena, type, tl);
	part->imap_disposition = sp_arena_strndup(arena, type, tl);
	parse_params(&t, arena, &part->disp_params, &part->n_disp_params);
}

static bool parent_is_digest(const struct mime_part *part)
{
	const struct mime_part *p = part->parent;

	return p != NULL && p->message != part && p->subtype != NULL &&
	       strcmp(p->type, "multipart") == 0 && strcmp(p->subtype, "digest") == 0;
}

void mime_part_read_fields(const struct mime_message *msg, struct mime_part *part,
                           struct sp_arena *arena)
{
	static const struct {
		const char *name;
		size_t off;
	} simple[] = {
	    {"content-id", offsetof(struct mime_part, id)},
	    {"content-description", offsetof(struct mime_part, description)},
	    {"content-transfer-encoding", offsetof(struct mime_part, encoding)},
	    {"content-language", offsetof(struct mime_part, language)},
	    {"content-location", offsetof(struct mime_part, location)},
	    {"content-md5", offsetof(struct mime_part, md5)},
	};
	const struct mime_field *ct = NULL, *cd = NULL;

	for (unsigned i = 0; i < part->n_fields; i++) {
		const struct mime_field *f = &part->fields[i];
		const uint8_t *name = msg->data + f->off;
		if (f->name_len < 8 || sp_ascii_lower(name[0]) != 'c' ||
		    sp_ascii_lower(name[7]) != '-')
			continue;
		if (ct == NULL && mime_field_name_is(msg, f, "content-type", 12)) {
			ct = f;
			continue;
		}
		if (cd == NULL && mime_field_name_is(msg, f, "content-disposition", 19)) {
			cd = f;
			continue;
		}
		for (size_t k = 0; k < SP_N_ELEMENTS(simple); k++) {
			const char **slot = (const char **)((char *)part + simple[k].off);
			if (*slot == NULL &&
			    mime_field_name_is(msg, f, simple[k].name, strlen(simple[k].name))) {
				*slot = mime_field_value(msg, f, arena, NULL);
				break;
			}
		}
	}
	if (ct != NULL) {
		size_t len;
		char *v = mime_field_value(msg, ct, arena, &len);
		parse_content_type(v, len, part, arena);
	}
	if (!part->type_explicit) {
		part->n_params = 0;
		if (parent_is_digest(part)) {
			/* RFC 2046 §5.1.5 */
			part->type = part->imap_type = "message";
			part->subtype = part->imap_subtype = "rfc822";
		} else {
			/* RFC 2045 §5.2 */
			part->type = part->imap_type = "text";
			part->subtype = part->imap_subtype = "plain";
			part->params = sp_arena_zalloc(arena, sizeof(*part->params));
			part->params[0] =
			    (struct mime_param){"charset", "us-ascii", "charset", "us-ascii"};
			part->n_params = 1;
		}
	}
	if (strcmp(part->type, "text") == 0 &&
	    mime_param_get(part->params, part->n_params, "charset") == NULL) {
		/* RFC 2046 §4.1.2: the default charset is US-ASCII; IMAP
		 * clients are told so, as Dovecot and the RFC 3501 examples do. */
		struct mime_param *np = sp_arena_alloc(arena, (part->n_params + 1) * sizeof(*np));
		if (part->n_params > 0)
			memcpy(np, part->params, part->n_params * sizeof(*np));
		np[part->n_params++] =
		    (struct mime_param){"charset", "us-ascii", "charset", "us-ascii"};
		part->params = np;
	}
	if (strcmp(part->type, "multipart") == 0) {
		/* The boundary is compared as bytes: take it undecoded
		 * unless RFC 2231 encoded it. */
		const char *b = NULL;
		for (unsigned i = 0; i < part->n_params; i++) {
			const struct mime_param *pm = &part->params[i];
			if (strcmp(pm->name, "boundary") == 0) {
				b = strcmp(pm->imap_name, "boundary") == 0 ? pm->imap_value
				                                           : pm->value;
				break;
			}
		}
		if (b != NULL && *b != '\0')
			part->boundary = b;
		else
			part->defects |= MIME_DEFECT_NO_BOUNDARY_PARAM;
	}
	if (cd != NULL) {
		size_t len;
		char *v = mime_field_value(msg, cd, arena, &len);
		parse_disposition(v, len, part, arena);
	}
	if (part->encoding != NULL && mime_cte_parse(part->encoding) == MIME_CTE_UNKNOWN)
		part->defects |= MIME_DEFECT_BAD_ENCODING;
}
