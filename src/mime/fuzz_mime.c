/* libFuzzer target: parse any bytes (and their served form), build the
 * ENVELOPE and both BODYSTRUCTURE forms in both string modes, fetch every
 * section of every part, and extract the text; the first line is also
 * tried as a section spec. Seeds: seed_fuzz.sh; dictionary:
 * fuzz_mime.dict. Run: fuzz_mime -dict=fuzz_mime.dict -max_len=16384 DIR */
#include "mime/mime_decode.h"

#include <stdio.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_range(const struct mime_message *msg, const struct mime_section_result *r)
{
	if (!r->built && r->off + r->len > msg->len)
		__builtin_trap();
}

static void sections_of(const struct mime_message *msg, const unsigned *path, unsigned len,
                        struct sp_arena *arena)
{
	static const enum mime_section_kind kinds[] = {
	    MIME_SECTION_BODY, MIME_SECTION_HEADER, MIME_SECTION_TEXT,
	    MIME_SECTION_MIME, MIME_SECTION_FIELDS, MIME_SECTION_FIELDS_NOT,
	};
	static const char *fields[] = {"From", "Subject", "Content-Type"};
	struct mime_section sec;
	struct mime_section_result res;

	memset(&sec, 0, sizeof(sec));
	memcpy(sec.path, path, len * sizeof(*path));
	sec.path_len = len;
	sec.fields = fields;
	sec.n_fields = 3;
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		sec.kind = kinds[k];
		if (mime_section_fetch(msg, &sec, &res, NULL) == 0) {
			check_range(msg, &res);
			sp_buf_deinit(&res.bytes);
		}
	}
	(void)arena;
}

/* Visits parts by path (1-based), as IMAP clients address them. */
static void walk(const struct mime_message *msg, unsigned *path, unsigned len,
                 struct sp_arena *arena, unsigned *budget)
{
	for (unsigned n = 1; n <= 64 && *budget > 0; n++) {
		if (len == MIME_SECTION_MAX_PATH)
			return;
		path[len] = n;
		const struct mime_part *p = mime_part_by_path(msg, path, len + 1);
		if (p == NULL)
			return;
		(*budget)--;
		sections_of(msg, path, len + 1, arena);
		struct sp_buf text = SP_BUF_INIT, bin = SP_BUF_INIT;
		(void)mime_part_text(msg, p, &text);
		(void)mime_part_decode_body(msg, p, &bin);
		sp_buf_deinit(&text);
		sp_buf_deinit(&bin);
		/* a leaf's "N.1" is itself: only containers are entered */
		if (p->children != NULL || p->message != NULL)
			walk(msg, path, len + 1, arena, budget);
	}
}

static void one(const uint8_t *data, size_t size, const struct mime_limits *lim)
{
	struct sp_arena *arena = sp_arena_new(16384);
	struct mime_message *msg;
	struct sp_buf out = SP_BUF_INIT;
	unsigned path[MIME_SECTION_MAX_PATH];
	unsigned budget = 200;

	mime_parse(data, size, lim, arena, &msg);
	for (unsigned flags = 0; flags <= MIME_IMAP_UTF8; flags += MIME_IMAP_UTF8) {
		mime_envelope(msg, msg->root, flags, &out);
		mime_bodystructure(msg, msg->root, true, flags, &out);
		mime_bodystructure(msg, msg->root, false, flags, &out);
		sp_buf_reset(&out);
	}
	sections_of(msg, path, 0, arena);
	walk(msg, path, 0, arena, &budget);
	mime_message_text(msg, &out);
	sp_buf_deinit(&out);
	sp_arena_free(&arena);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct mime_limits small = {4, 20, 512};
	struct sp_buf served = SP_BUF_INIT;

	one(data, size, NULL);
	one(data, size, &small);
	mime_crlf_normalize(data, size, &served);
	if (mime_served_size(data, size) != served.len)
		__builtin_trap();
	one(served.data, served.len, NULL);
	sp_buf_deinit(&served);

	/* the decoders on the raw bytes too */
	struct sp_arena *arena = sp_arena_new(4096);
	struct sp_buf b = SP_BUF_INIT;
	unsigned n;
	time_t t;
	int off;
	/* the first line as a section spec, then fetched */
	const uint8_t *nl = size > 0 ? memchr(data, '\n', size) : NULL;
	size_t sl = nl == NULL ? size : (size_t)(nl - data);
	const char *spec =
	    size > 0 ? sp_arena_strndup(arena, (const char *)data, SP_MIN(sl, 256)) : "";
	struct mime_section sec;
	const char *error;
	if (size > 0 && strlen(spec) == SP_MIN(sl, 256) &&
	    mime_section_parse(spec, &sec, arena, &error) == 0) {
		struct mime_message *msg;
		struct mime_section_result res;
		mime_parse(data, size, NULL, arena, &msg);
		if (mime_section_fetch(msg, &sec, &res, NULL) == 0) {
			check_range(msg, &res);
			sp_buf_deinit(&res.bytes);
		}
	}
	(void)mime_address_parse(data, size, arena, &n);
	mime_address_text(data, size, &b);
	(void)mime_date_parse(data, size, &t, &off);
	mime_rfc2047_decode(data, size, &b);
	mime_qp_decode(data, size, &b);
	mime_html_to_text(data, size, &b);
	sp_buf_deinit(&b);
	sp_arena_free(&arena);
	return 0;
}
