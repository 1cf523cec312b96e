/* Renders what the golden files of tests/data/mime hold for one message:
 * shared by the golden test runner and the mime-dump tool that writes
 * them. Lines: "ENVELOPE x", "BODYSTRUCTURE x", "BODY x", then for each
 * section "SECTION spec\t" followed by "off len", "NIL" (no such part) or
 * "built len fnv1a64" for HEADER.FIELDS. Values are escaped: \\ \r \n
 * \xHH for other control and 8-bit bytes. Include once per program. */
#ifndef GOLDEN_RENDER_H
#define GOLDEN_RENDER_H

#include "mime/mime.h"

#include <stdio.h>
#include <string.h>

static const char *const golden_sections[] = {
    "",
    "HEADER",
    "TEXT",
    "1",
    "1.MIME",
    "2",
    "2.MIME",
    "1.1",
    "1.2",
    "2.HEADER",
    "2.TEXT",
    "1.1.MIME",
    "2.1",
    "3",
    "HEADER.FIELDS (From Subject To)",
    "HEADER.FIELDS.NOT (Received From)",
};

static void golden_escape(const uint8_t *p, size_t len, struct sp_buf *out)
{
	for (size_t i = 0; i < len; i++) {
		uint8_t c = p[i];
		if (c == '\\')
			sp_buf_append_str(out, "\\\\");
		else if (c == '\r')
			sp_buf_append_str(out, "\\r");
		else if (c == '\n')
			sp_buf_append_str(out, "\\n");
		else if (c < 0x20 || c >= 0x7f)
			sp_buf_printf(out, "\\x%02x", c);
		else
			sp_buf_append_byte(out, c);
	}
}

static uint64_t golden_fnv1a(const uint8_t *p, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* Appends one "KEY value" line for an IMAP item. */
static void golden_item(const char *key, const struct sp_buf *v, struct sp_buf *out)
{
	sp_buf_printf(out, "%s ", key);
	golden_escape(v->data, v->len, out);
	sp_buf_append_byte(out, '\n');
}

static void golden_section_line(const struct mime_message *msg, const char *spec,
                                struct sp_arena *arena, struct sp_buf *out)
{
	struct mime_section sec;
	struct mime_section_result res;
	const char *error;

	sp_buf_printf(out, "SECTION %s\t", spec);
	if (mime_section_parse(spec, &sec, arena, &error) < 0) {
		sp_buf_printf(out, "BAD %s\n", error);
		return;
	}
	if (mime_section_fetch(msg, &sec, &res, NULL) < 0) {
		sp_buf_append_str(out, "NIL\n");
		return;
	}
	if (res.built) {
		sp_buf_printf(out, "built %zu %016llx\n", res.bytes.len,
		              (unsigned long long)golden_fnv1a(res.bytes.data, res.bytes.len));
		sp_buf_deinit(&res.bytes);
		return;
	}
	sp_buf_printf(out, "%zu %zu\n", res.off, res.len);
}

/* Renders the golden text of a message in served form. */
static void golden_render(const uint8_t *data, size_t len, struct sp_buf *out)
{
	struct sp_arena *arena = sp_arena_new(16384);
	struct mime_message *msg;
	struct sp_buf v = SP_BUF_INIT;

	mime_parse(data, len, NULL, arena, &msg);
	mime_envelope(msg, msg->root, 0, &v);
	golden_item("ENVELOPE", &v, out);
	sp_buf_reset(&v);
	mime_bodystructure(msg, msg->root, true, 0, &v);
	golden_item("BODYSTRUCTURE", &v, out);
	sp_buf_reset(&v);
	mime_bodystructure(msg, msg->root, false, 0, &v);
	golden_item("BODY", &v, out);
	sp_buf_deinit(&v);
	for (size_t i = 0; i < sizeof(golden_sections) / sizeof(golden_sections[0]); i++)
		golden_section_line(msg, golden_sections[i], arena, out);
	sp_arena_free(&arena);
}

#endif
