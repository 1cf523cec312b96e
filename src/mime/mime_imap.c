/* IMAP ENVELOPE and BODYSTRUCTURE/BODY (RFC 3501 §7.4.2, RFC 9051 §7.5.2)
 * from a parsed message, with the string rules of RFC 3501 §4.3: quoted
 * strings with \" and \\ escaped, literals for CR, LF and 8-bit text
 * (UTF-8 may be quoted after ENABLE UTF8=ACCEPT, RFC 6855 §4). */
#include "mime/mime_int.h"

#include <string.h>

void mime_imap_string(const char *s, size_t len, unsigned flags, struct sp_buf *out)
{
	const uint8_t *p = (const uint8_t *)s;
	bool literal = false;
	size_t nuls = 0;

	if (s == NULL) {
		sp_buf_append_str(out, "NIL");
		return;
	}
	for (size_t i = 0; i < len;) {
		uint8_t c = p[i];
		if (c == 0) {
			nuls++;
			i++;
			continue;
		}
		if (c == '\r' || c == '\n') {
			literal = true;
			i++;
		} else if (c >= 0x80) {
			size_t n =
			    (flags & MIME_IMAP_UTF8) != 0 ? mime_utf8_seq_len(p + i, len - i) : 0;
			if (n == 0)
				literal = true;
			i += n == 0 ? 1 : n;
		} else {
			i++;
		}
	}
	if (literal) {
		/* RFC 3501 §4.3: a literal is CHAR8, no NUL: NULs are dropped */
		sp_buf_printf(out, "{%zu}\r\n", len - nuls);
		for (size_t i = 0; i < len; i++) {
			if (p[i] != 0)
				sp_buf_append_byte(out, p[i]);
		}
		return;
	}
	sp_buf_append_byte(out, '"');
	for (size_t i = 0; i < len; i++) {
		if (p[i] == 0)
			continue;
		if (p[i] == '"' || p[i] == '\\')
			sp_buf_append_byte(out, '\\');
		sp_buf_append_byte(out, p[i]);
	}
	sp_buf_append_byte(out, '"');
}

static void imap_cstr(const char *s, unsigned flags, struct sp_buf *out)
{
	mime_imap_string(s, s == NULL ? 0 : strlen(s), flags, out);
}

/* ---- ENVELOPE ---- */

/* The values of every field called name, joined by ",": a message with
 * two To fields gets both lists, as Dovecot does. NULL when absent. */
static char *address_value(const struct mime_message *msg, const struct mime_part *root,
                           const char *name, struct sp_arena *arena, size_t *len_r)
{
	struct sp_buf b = SP_BUF_INIT;
	size_t nl = strlen(name);
	bool any = false;

	for (unsigned i = 0; i < root->n_fields; i++) {
		if (!mime_field_name_is(msg, &root->fields[i], name, nl))
			continue;
		size_t len;
		char *v = mime_field_value(msg, &root->fields[i], arena, &len);
		if (any)
			sp_buf_append_byte(&b, ',');
		sp_buf_append(&b, v, len);
		any = true;
	}
	if (!any)
		return NULL;
	char *r = sp_arena_strndup(arena, sp_buf_cstr(&b), b.len);
	*len_r = b.len;
	sp_buf_deinit(&b);
	return r;
}

static void envelope_addresses(const struct mime_message *msg, const struct mime_part *root,
                               const char *name, unsigned flags, struct sp_arena *arena,
                               struct sp_buf *out)
{
	size_t len = 0;
	unsigned n = 0;
	char *v = address_value(msg, root, name, arena, &len);

	if (v == NULL) {
		sp_buf_append_str(out, "NIL");
		return;
	}
	struct mime_address *a = mime_address_parse((const uint8_t *)v, len, arena, &n);
	if (n == 0) {
		sp_buf_append_str(out, "NIL");
		return;
	}
	sp_buf_append_byte(out, '(');
	for (unsigned i = 0; i < n; i++) {
		if (a[i].group_end) {
			/* RFC 3501 §7.4.2: end of group has a NIL host and a
			 * NIL mailbox */
			sp_buf_append_str(out, "(NIL NIL NIL NIL)");
			continue;
		}
		if (a[i].group_start) {
			sp_buf_append_str(out, "(NIL NIL ");
			imap_cstr(a[i].mailbox, flags, out);
			sp_buf_append_str(out, " NIL)");
			continue;
		}
		sp_buf_append_byte(out, '(');
		imap_cstr(a[i].name, flags, out);
		sp_buf_append_byte(out, ' ');
		imap_cstr(a[i].route, flags, out);
		sp_buf_append_byte(out, ' ');
		/* A NIL host would read as a group marker: a missing part
		 * gets a placeholder, as Dovecot sends. */
		imap_cstr(a[i].mailbox != NULL ? a[i].mailbox : "MISSING_MAILBOX", flags, out);
		sp_buf_append_byte(out, ' ');
		imap_cstr(a[i].domain != NULL ? a[i].domain : "MISSING_DOMAIN", flags, out);
		sp_buf_append_byte(out, ')');
	}
	sp_buf_append_byte(out, ')');
}

static bool address_field_empty(const struct mime_message *msg, const struct mime_part *root,
                                const char *name, struct sp_arena *arena)
{
	size_t len = 0;
	unsigned n;
	char *v = address_value(msg, root, name, arena, &len);

	if (v == NULL)
		return true;
	(void)mime_address_parse((const uint8_t *)v, len, arena, &n);
	return n == 0;
}

static void envelope_string(const struct mime_message *msg, const struct mime_field *f,
                            unsigned flags, struct sp_arena *arena, struct sp_buf *out)
{
	size_t len;

	if (f == NULL) {
		sp_buf_append_str(out, "NIL");
		return;
	}
	char *v = mime_field_value(msg, f, arena, &len);
	mime_imap_string(v, len, flags, out);
}

static void envelope_in(const struct mime_message *msg, const struct mime_part *root,
                        unsigned flags, struct sp_arena *arena, struct sp_buf *out)
{
	sp_buf_append_byte(out, '(');
	envelope_string(msg, mime_part_field(msg, root, "date"), flags, arena, out);
	sp_buf_append_byte(out, ' ');
	envelope_string(msg, mime_part_field(msg, root, "subject"), flags, arena, out);
	sp_buf_append_byte(out, ' ');
	envelope_addresses(msg, root, "from", flags, arena, out);
	/* RFC 3501 §7.4.2: absent or empty Sender and Reply-To are taken
	 * from From. */
	sp_buf_append_byte(out, ' ');
	envelope_addresses(msg, root,
	                   address_field_empty(msg, root, "sender", arena) ? "from" : "sender",
	                   flags, arena, out);
	sp_buf_append_byte(out, ' ');
	envelope_addresses(msg, root,
	                   address_field_empty(msg, root, "reply-to", arena) ? "from" : "reply-to",
	                   flags, arena, out);
	static const char *const lists[] = {"to", "cc", "bcc"};
	for (size_t i = 0; i < SP_N_ELEMENTS(lists); i++) {
		sp_buf_append_byte(out, ' ');
		envelope_addresses(msg, root, lists[i], flags, arena, out);
	}
	sp_buf_append_byte(out, ' ');
	envelope_string(msg, mime_part_field(msg, root, "in-reply-to"), flags, arena, out);
	sp_buf_append_byte(out, ' ');
	envelope_string(msg, mime_part_field(msg, root, "message-id"), flags, arena, out);
	sp_buf_append_byte(out, ')');
}

void mime_envelope(const struct mime_message *msg, const struct mime_part *root, unsigned flags,
                   struct sp_buf *out)
{
	struct sp_arena *arena = sp_arena_new(4096);

	envelope_in(msg, root, flags, arena, out);
	sp_arena_free(&arena);
}

/* ---- BODYSTRUCTURE ---- */

static void params_out(const struct mime_param *p, unsigned n, unsigned flags, struct sp_buf *out)
{
	if (n == 0) {
		sp_buf_append_str(out, "NIL");
		return;
	}
	sp_buf_append_byte(out, '(');
	for (unsigned i = 0; i < n; i++) {
		if (i > 0)
			sp_buf_append_byte(out, ' ');
		imap_cstr(p[i].imap_name, flags, out);
		sp_buf_append_byte(out, ' ');
		imap_cstr(p[i].imap_value, flags, out);
	}
	sp_buf_append_byte(out, ')');
}

static void disposition_out(const struct mime_part *part, unsigned flags, struct sp_buf *out)
{
	if (part->disposition == NULL) {
		sp_buf_append_str(out, "NIL");
		return;
	}
	sp_buf_append_byte(out, '(');
	imap_cstr(part->imap_disposition, flags, out);
	sp_buf_append_byte(out, ' ');
	params_out(part->disp_params, part->n_disp_params, flags, out);
	sp_buf_append_byte(out, ')');
}

/* Content-Language is a list of tags (RFC 3282): sent as a list. */
static void language_out(const char *lang, unsigned flags, struct sp_buf *out)
{
	const char *p = lang;
	bool any = false;

	if (lang == NULL) {
		sp_buf_append_str(out, "NIL");
		return;
	}
	while (*p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '(') {
			int depth = 0;
			do {
				depth += *p == '(' ? 1 : *p == ')' ? -1 : 0;
				p++;
			} while (*p != '\0' && depth > 0);
			continue;
		}
		const char *s = p;
		while (*p != '\0' && *p != ' ' && *p != '\t' && *p != ',' && *p != '(')
			p++;
		if (p == s)
			continue;
		sp_buf_append_str(out, any ? " " : "(");
		any = true;
		mime_imap_string(s, (size_t)(p - s), flags, out);
	}
	sp_buf_append_str(out, any ? ")" : "NIL");
}

static void body_fields(const struct mime_part *part, unsigned flags, struct sp_buf *out)
{
	params_out(part->params, part->n_params, flags, out);
	sp_buf_append_byte(out, ' ');
	imap_cstr(part->id, flags, out);
	sp_buf_append_byte(out, ' ');
	imap_cstr(part->description, flags, out);
	sp_buf_append_byte(out, ' ');
	imap_cstr(part->encoding != NULL ? part->encoding : "7bit", flags, out);
	sp_buf_printf(out, " %zu", part->body_len);
}

static void extension_out(const struct mime_part *part, bool with_md5, unsigned flags,
                          struct sp_buf *out)
{
	if (with_md5) {
		sp_buf_append_byte(out, ' ');
		imap_cstr(part->md5, flags, out);
	} else {
		sp_buf_append_byte(out, ' ');
		params_out(part->params, part->n_params, flags, out);
	}
	sp_buf_append_byte(out, ' ');
	disposition_out(part, flags, out);
	sp_buf_append_byte(out, ' ');
	language_out(part->language, flags, out);
	sp_buf_append_byte(out, ' ');
	imap_cstr(part->location, flags, out);
}

/* A stand-in for a part that IMAP's grammar needs but the message does
 * not have: the child of a multipart without parts, the body of an
 * encapsulated message cut by the depth limit. */
static void empty_text_part(bool extended, struct sp_buf *out)
{
	sp_buf_append_str(out,
	                  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0");
	sp_buf_append_str(out, extended ? " NIL NIL NIL NIL)" : ")");
}

static void bodystructure(const struct mime_message *msg, const struct mime_part *part,
                          bool extended, unsigned flags, struct sp_arena *arena, struct sp_buf *out)
{
	if (strcmp(part->type, "multipart") == 0) {
		sp_buf_append_byte(out, '(');
		if (part->children == NULL)
			empty_text_part(extended, out);
		for (const struct mime_part *c = part->children; c != NULL; c = c->next)
			bodystructure(msg, c, extended, flags, arena, out);
		sp_buf_append_byte(out, ' ');
		imap_cstr(part->imap_subtype, flags, out);
		if (extended)
			extension_out(part, false, flags, out);
		sp_buf_append_byte(out, ')');
		return;
	}
	bool message =
	    strcmp(part->type, "message") == 0 &&
	    (strcmp(part->subtype, "rfc822") == 0 || strcmp(part->subtype, "global") == 0);
	sp_buf_append_byte(out, '(');
	/* media-message is a fixed pair: sent in one spelling, as Dovecot */
	imap_cstr(message ? "message" : part->imap_type, flags, out);
	sp_buf_append_byte(out, ' ');
	imap_cstr(message ? part->subtype : part->imap_subtype, flags, out);
	sp_buf_append_byte(out, ' ');
	body_fields(part, flags, out);
	if (strcmp(part->type, "text") == 0) {
		sp_buf_printf(out, " %zu", part->body_lines);
	} else if (message) {
		/* RFC 3501 §7.4.2 / RFC 9051 §7.5.2 (message/global) */
		sp_buf_append_byte(out, ' ');
		if (part->message != NULL) {
			envelope_in(msg, part->message, flags, arena, out);
			sp_buf_append_byte(out, ' ');
			bodystructure(msg, part->message, extended, flags, arena, out);
		} else {
			sp_buf_append_str(out, "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) ");
			empty_text_part(extended, out);
		}
		sp_buf_printf(out, " %zu", part->body_lines);
	}
	if (extended)
		extension_out(part, true, flags, out);
	sp_buf_append_byte(out, ')');
}

void mime_bodystructure(const struct mime_message *msg, const struct mime_part *part, bool extended,
                        unsigned flags, struct sp_buf *out)
{
	struct sp_arena *arena = sp_arena_new(4096);

	bodystructure(msg, part, extended, flags, arena, out);
	sp_arena_free(&arena);
}
