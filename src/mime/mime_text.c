/* Text of a message for the search index: each text leaf transfer-
 * decoded (RFC 2045 §6) and converted to UTF-8 from its charset; HTML
 * reduced to its text (tags and scripts removed, entities decoded). */
#include "mime/mime_int.h"

#include <string.h>
#include <strings.h>

static const struct {
	const char *name;
	uint32_t cp;
} entities[] = {
    {"amp", '&'},      {"lt", '<'},       {"gt", '>'},       {"quot", '"'},     {"apos", '\''},
    {"nbsp", 0xa0},    {"copy", 0xa9},    {"reg", 0xae},     {"euro", 0x20ac},  {"hellip", 0x2026},
    {"mdash", 0x2014}, {"ndash", 0x2013}, {"laquo", 0xab},   {"raquo", 0xbb},   {"trade", 0x2122},
    {"lsquo", 0x2018}, {"rsquo", 0x2019}, {"ldquo", 0x201c}, {"rdquo", 0x201d}, {"bull", 0x2022},
    {"middot", 0xb7},  {"eacute", 0xe9},  {"egrave", 0xe8},  {"agrave", 0xe0},  {"uuml", 0xfc},
    {"ouml", 0xf6},    {"auml", 0xe4},    {"szlig", 0xdf},   {"ccedil", 0xe7},  {"deg", 0xb0},
};

static void put_cp(struct sp_buf *out, uint32_t cp)
{
	uint8_t b[4];

	if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		cp = 0xfffd;
	if (cp < 0x80) {
		sp_buf_append_byte(out, (uint8_t)cp);
	} else if (cp < 0x800) {
		b[0] = (uint8_t)(0xc0 | (cp >> 6));
		b[1] = (uint8_t)(0x80 | (cp & 0x3f));
		sp_buf_append(out, b, 2);
	} else if (cp < 0x10000) {
		b[0] = (uint8_t)(0xe0 | (cp >> 12));
		b[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (uint8_t)(0x80 | (cp & 0x3f));
		sp_buf_append(out, b, 3);
	} else {
		b[0] = (uint8_t)(0xf0 | (cp >> 18));
		b[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (uint8_t)(0x80 | (cp & 0x3f));
		sp_buf_append(out, b, 4);
	}
}

/* Decodes the entity at in[i] == '&'; returns the bytes consumed (0 when
 * it is not an entity, and the '&' is kept). */
static size_t entity(const uint8_t *in, size_t len, size_t i, struct sp_buf *out)
{
	size_t j = i + 1;

	if (j < len && in[j] == '#') {
		uint32_t cp = 0;
		bool hex = j + 1 < len && (in[j + 1] == 'x' || in[j + 1] == 'X');
		j += hex ? 2 : 1;
		size_t start = j;
		while (j < len && j - start < 8) {
			uint8_t c = in[j];
			int d = c >= '0' && c <= '9'          ? c - '0'
			        : hex && c >= 'a' && c <= 'f' ? c - 'a' + 10
			        : hex && c >= 'A' && c <= 'F' ? c - 'A' + 10
			                                      : -1;
			if (d < 0)
				break;
			cp = cp * (hex ? 16 : 10) + (uint32_t)d;
			j++;
		}
		if (j == start)
			return 0;
		if (j < len && in[j] == ';')
			j++;
		put_cp(out, cp);
		return j - i;
	}
	size_t start = j;
	while (j < len && j - start < 10 &&
	       ((in[j] >= 'a' && in[j] <= 'z') || (in[j] >= 'A' && in[j] <= 'Z')))
		j++;
	for (size_t k = 0; k < SP_N_ELEMENTS(entities); k++) {
		if (strlen(entities[k].name) == j - start &&
		    memcmp(in + start, entities[k].name, j - start) == 0) {
			if (j < len && in[j] == ';')
				j++;
			put_cp(out, entities[k].cp == 0xa0 ? ' ' : entities[k].cp);
			return j - i;
		}
	}
	return 0;
}

static bool tag_is(const uint8_t *p, size_t avail, const char *name)
{
	size_t n = strlen(name);

	return avail > n && strncasecmp((const char *)p, name, n) == 0 &&
	       (p[n] == '>' || p[n] == ' ' || p[n] == '/' || p[n] == '\t' || p[n] == '\r' ||
	        p[n] == '\n');
}

static const uint8_t *find_ci(const uint8_t *p, const uint8_t *end, const char *needle)
{
	size_t n = strlen(needle);

	for (; (size_t)(end - p) >= n; p++) {
		if (strncasecmp((const char *)p, needle, n) == 0)
			return p;
	}
	return end;
}

void mime_html_to_text(const uint8_t *in, size_t len, struct sp_buf *out)
{
	if (len == 0)
		return;
	const uint8_t *end = in + len;
	size_t i = 0;

	while (i < len) {
		uint8_t c = in[i];
		if (c == '&') {
			size_t n = entity(in, len, i, out);
			if (n > 0) {
				i += n;
				continue;
			}
			sp_buf_append_byte(out, c);
			i++;
			continue;
		}
		if (c != '<') {
			sp_buf_append_byte(out, c);
			i++;
			continue;
		}
		const uint8_t *p = in + i + 1;
		if (end - p >= 3 && memcmp(p, "!--", 3) == 0) {
			const uint8_t *e = find_ci(p + 3, end, "-->");
			i = e == end ? len : (size_t)(e - in) + 3;
			continue;
		}
		const char *skip_to = tag_is(p, (size_t)(end - p), "script")  ? "</script"
		                      : tag_is(p, (size_t)(end - p), "style") ? "</style"
		                      : tag_is(p, (size_t)(end - p), "head")  ? "</head"
		                                                              : NULL;
		if (skip_to != NULL)
			p = find_ci(p, end, skip_to);
		bool block =
		    tag_is(p, (size_t)(end - p), "br") || tag_is(p, (size_t)(end - p), "p") ||
		    tag_is(p, (size_t)(end - p), "div") || tag_is(p, (size_t)(end - p), "/p") ||
		    tag_is(p, (size_t)(end - p), "/div") || tag_is(p, (size_t)(end - p), "tr") ||
		    tag_is(p, (size_t)(end - p), "li");
		const uint8_t *gt = memchr(p, '>', (size_t)(end - p));
		i = gt == NULL ? len : (size_t)(gt - in) + 1;
		sp_buf_append_byte(out, block ? '\n' : ' ');
	}
}

int mime_part_text(const struct mime_message *msg, const struct mime_part *part, struct sp_buf *out)
{
	if (strcmp(part->type, "text") != 0 || part->message != NULL)
		return -1;
	struct sp_buf raw = SP_BUF_INIT, utf8 = SP_BUF_INIT;
	if (mime_part_decode_body(msg, part, &raw) < 0)
		sp_buf_append(&raw, msg->data + part->body_off, part->body_len);
	const char *charset = mime_param_get(part->params, part->n_params, "charset");
	if (strcmp(part->subtype, "html") == 0) {
		mime_charset_to_utf8(charset, raw.data, raw.len, &utf8);
		mime_html_to_text(utf8.data, utf8.len, out);
	} else {
		mime_charset_to_utf8(charset, raw.data, raw.len, out);
	}
	sp_buf_deinit(&raw);
	sp_buf_deinit(&utf8);
	return 0;
}

void mime_message_text(const struct mime_message *msg, struct sp_buf *out)
{
	const struct mime_part *part = msg->root;

	/* Iterative walk: the tree may be deep. */
	while (part != NULL) {
		if (part->message != NULL) {
			part = part->message;
			continue;
		}
		if (part->children != NULL) {
			part = part->children;
			continue;
		}
		size_t before = out->len;
		if (mime_part_text(msg, part, out) == 0 && out->len > before)
			sp_buf_append_byte(out, '\n');
		while (part != NULL && part->next == NULL) {
			part = part->parent;
			/* leave an encapsulated message through its container */
		}
		if (part != NULL)
			part = part->next;
	}
}
