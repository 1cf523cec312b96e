/* Section addressing for BODY[...] and BINARY[...] (RFC 3501 §6.4.5,
 * RFC 9051 §6.4.5): part numbers, HEADER, HEADER.FIELDS[.NOT], TEXT and
 * MIME, resolved to byte ranges of the served form. */
#include "mime/mime_int.h"

#include <string.h>
#include <strings.h>

static bool is_message(const struct mime_part *p)
{
	return p->message != NULL;
}

const struct mime_part *mime_part_by_path(const struct mime_message *msg, const unsigned *path,
                                          unsigned path_len)
{
	const struct mime_part *part = msg->root;

	for (unsigned i = 0; i < path_len; i++) {
		if (i > 0 && is_message(part))
			part = part->message;
		if (strcmp(part->type, "multipart") == 0) {
			const struct mime_part *c = part->children;
			for (unsigned k = 1; c != NULL && k < path[i]; k++)
				c = c->next;
			if (c == NULL || path[i] == 0)
				return NULL;
			part = c;
		} else if (path[i] != 1) {
			/* RFC 3501 §6.4.5: a non-multipart part only has a
			 * part 1: itself. Dovecot does the same, except on a
			 * top-level single-part message ("1.1" is NIL). */
			return NULL;
		}
	}
	return part;
}

static void header_fields(const struct mime_message *msg, const struct mime_part *part,
                          const struct mime_section *sec, struct sp_buf *out)
{
	bool not = sec->kind == MIME_SECTION_FIELDS_NOT;

	for (unsigned i = 0; i < part->n_fields; i++) {
		const struct mime_field *f = &part->fields[i];
		bool match = false;
		for (unsigned k = 0; k < sec->n_fields && !match; k++)
			match = mime_field_name_is(msg, f, sec->fields[k], strlen(sec->fields[k]));
		if (match == not )
			continue;
		sp_buf_append(out, msg->data + f->off, f->end - f->off);
		/* a last field without its line end still ends a line here */
		if (f->end == f->off || msg->data[f->end - 1] != '\n')
			sp_buf_append(out, "\r\n", 2);
	}
	/* RFC 3501 §6.4.5: the subset includes the blank line */
	sp_buf_append(out, "\r\n", 2);
}

int mime_section_fetch(const struct mime_message *msg, const struct mime_section *sec,
                       struct mime_section_result *res, const struct mime_part **part_r)
{
	const struct mime_part *part = mime_part_by_path(msg, sec->path, sec->path_len);

	memset(res, 0, sizeof(*res));
	if (part_r != NULL)
		*part_r = part;
	if (part == NULL)
		return -1;
	if (sec->path_len == 0 && sec->kind == MIME_SECTION_BODY) {
		res->len = msg->len; /* BODY[]: the whole message */
		return 0;
	}
	switch (sec->kind) {
	case MIME_SECTION_BODY:
		res->off = part->body_off;
		res->len = part->body_len;
		return 0;
	case MIME_SECTION_MIME:
		if (sec->path_len == 0)
			return -1;
		res->off = part->hdr_off;
		res->len = part->hdr_len;
		return 0;
	case MIME_SECTION_HEADER:
	case MIME_SECTION_TEXT:
	case MIME_SECTION_FIELDS:
	case MIME_SECTION_FIELDS_NOT:
		break;
	}
	/* RFC 3501 §6.4.5: these address a message, the top level or the
	 * message a MESSAGE/RFC822 part encapsulates; on other parts the
	 * section is empty. */
	if (sec->path_len > 0) {
		if (!is_message(part))
			return -1;
		part = part->message;
	}
	if (sec->kind == MIME_SECTION_HEADER) {
		res->off = part->hdr_off;
		res->len = part->hdr_len;
	} else if (sec->kind == MIME_SECTION_TEXT) {
		res->off = part->body_off;
		res->len = part->body_len;
	} else {
		res->built = true;
		header_fields(msg, part, sec, &res->bytes);
	}
	return 0;
}

static bool word_is(const char **p, const char *word)
{
	size_t n = strlen(word);

	if (strncasecmp(*p, word, n) != 0)
		return false;
	*p += n;
	return true;
}

int mime_section_parse(const char *spec, struct mime_section *sec, struct sp_arena *arena,
                       const char **error_r)
{
	const char *p = spec;

	memset(sec, 0, sizeof(*sec));
	sec->kind = MIME_SECTION_BODY;
	while (*p >= '0' && *p <= '9') {
		uint64_t v = 0;
		while (*p >= '0' && *p <= '9') {
			v = v * 10 + (uint64_t)(*p - '0');
			if (v > 1000000000) {
				*error_r = "part number too large";
				return -1;
			}
			p++;
		}
		if (v == 0) {
			*error_r = "part numbers start at 1";
			return -1;
		}
		if (sec->path_len == MIME_SECTION_MAX_PATH) {
			*error_r = "part path too deep";
			return -1;
		}
		sec->path[sec->path_len++] = (unsigned)v;
		if (*p != '.')
			break;
		p++;
		if (*p < '0' || *p > '9')
			break;
	}
	if (*p == '\0') {
		if (p > spec && p[-1] == '.') {
			*error_r = "section ends with a dot";
			return -1;
		}
		return 0;
	}
	if (word_is(&p, "HEADER.FIELDS.NOT"))
		sec->kind = MIME_SECTION_FIELDS_NOT;
	else if (word_is(&p, "HEADER.FIELDS"))
		sec->kind = MIME_SECTION_FIELDS;
	else if (word_is(&p, "HEADER"))
		sec->kind = MIME_SECTION_HEADER;
	else if (word_is(&p, "TEXT"))
		sec->kind = MIME_SECTION_TEXT;
	else if (word_is(&p, "MIME"))
		sec->kind = MIME_SECTION_MIME;
	else {
		*error_r = "unknown section text";
		return -1;
	}
	if (sec->kind == MIME_SECTION_MIME && sec->path_len == 0) {
		*error_r = "MIME needs a part number";
		return -1;
	}
	if (sec->kind != MIME_SECTION_FIELDS && sec->kind != MIME_SECTION_FIELDS_NOT) {
		if (*p != '\0') {
			*error_r = "junk after section";
			return -1;
		}
		return 0;
	}
	if (*p++ != ' ' || *p++ != '(') {
		*error_r = "HEADER.FIELDS needs a list";
		return -1;
	}
	size_t cap = strlen(p) + 1; /* each name takes at least a byte */
	sec->fields = sp_arena_alloc(arena, cap * sizeof(*sec->fields));
	for (;;) {
		while (*p == ' ')
			p++;
		if (*p == ')')
			break;
		const char *s = p;
		/* astring: header names are atoms; quoted names are allowed */
		if (*p == '"') {
			s = ++p;
			while (*p != '\0' && *p != '"')
				p++;
			if (*p != '"') {
				*error_r = "unterminated header name";
				return -1;
			}
			sec->fields[sec->n_fields++] = sp_arena_strndup(arena, s, (size_t)(p - s));
			p++;
			continue;
		}
		while (*p > ' ' && *p != ')' && *p != '(' && *p != '"' && (unsigned char)*p < 0x7f)
			p++;
		if (p == s) {
			*error_r = "bad header name";
			return -1;
		}
		sec->fields[sec->n_fields++] = sp_arena_strndup(arena, s, (size_t)(p - s));
	}
	if (sec->n_fields == 0 || p[1] != '\0') {
		*error_r = sec->n_fields == 0 ? "empty header list" : "junk after header list";
		return -1;
	}
	return 0;
}
