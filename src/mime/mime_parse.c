/* The MIME structure parser: header fields (RFC 5322 §2.2), the part tree
 * of multipart bodies (RFC 2046 §5.1.1) and encapsulated messages (RFC
 * 2046 §5.2.1, RFC 6532 §3.7). One pass over the buffer with a stack of
 * the enclosing boundaries; never fails, records defects instead. */
#include "mime/mime_int.h"

#include <string.h>

struct parse_ctx {
	const uint8_t *d;
	size_t len;
	struct mime_limits lim;
	struct sp_arena *arena;
	struct mime_message *msg;
	/* Boundaries of the enclosing multiparts, outermost first. */
	const char **bnd;
	size_t *bnd_len;
	unsigned n_bnd;
	/* Scratch for the fields of the header being parsed. */
	struct mime_field *fields;
	unsigned fields_cap;
};

static size_t next_line(const struct parse_ctx *ctx, size_t pos)
{
	const uint8_t *lf = memchr(ctx->d + pos, '\n', ctx->len - pos);
	return lf == NULL ? ctx->len : (size_t)(lf - ctx->d) + 1;
}

static bool only_wsp(const uint8_t *p, const uint8_t *end)
{
	for (; p < end; p++) {
		if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
			return false;
	}
	return true;
}

/* Does the line at pos delimit one of the enclosing multiparts? Returns
 * the index in the boundary stack or -1; *close_r tells a close
 * delimiter. An exact delimiter (RFC 2046 §5.1.1: only transport padding
 * after it) of the innermost boundary wins; failing that, a line that
 * merely starts with "--boundary" is taken, as Dovecot and most clients
 * do with boundaries followed by junk. */
static int match_boundary(const struct parse_ctx *ctx, size_t pos, bool *close_r)
{
	const uint8_t *p = ctx->d + pos, *end = ctx->d + ctx->len;

	if (ctx->n_bnd == 0 || end - p < 2 || p[0] != '-' || p[1] != '-')
		return -1;
	const uint8_t *lf = memchr(p, '\n', (size_t)(end - p));
	const uint8_t *eol = lf == NULL ? end : lf;
	int prefix = -1;
	bool prefix_close = false;
	for (int i = (int)ctx->n_bnd - 1; i >= 0; i--) {
		size_t bl = ctx->bnd_len[i];
		if ((size_t)(eol - p) < 2 + bl || memcmp(p + 2, ctx->bnd[i], bl) != 0)
			continue;
		const uint8_t *rest = p + 2 + bl;
		bool close = eol - rest >= 2 && rest[0] == '-' && rest[1] == '-';
		if (only_wsp(close ? rest + 2 : rest, eol)) {
			*close_r = close;
			return i;
		}
		if (prefix < 0) {
			prefix = i;
			prefix_close = close;
		}
	}
	*close_r = prefix_close;
	return prefix;
}

/* Scans lines from pos (a line start) to the first boundary line of any
 * enclosing multipart; returns its offset or len. */
static size_t scan_to_boundary(const struct parse_ctx *ctx, size_t pos)
{
	bool close;

	if (ctx->n_bnd == 0)
		return ctx->len;
	while (pos < ctx->len) {
		if (ctx->d[pos] == '-' && match_boundary(ctx, pos, &close) >= 0)
			return pos;
		pos = next_line(ctx, pos);
	}
	return ctx->len;
}

/* The end of a part's content that stops at q: RFC 2046 §5.1.1 says the
 * line end before a boundary belongs to the boundary. */
static size_t content_end(const struct parse_ctx *ctx, size_t start, size_t q)
{
	if (q >= ctx->len)
		return ctx->len;
	if (q > start && ctx->d[q - 1] == '\n') {
		q--;
		if (q > start && ctx->d[q - 1] == '\r')
			q--;
	}
	return q < start ? start : q;
}

static size_t count_lines(const uint8_t *p, size_t len)
{
	size_t n = 0;
	const uint8_t *end = p + len;

	while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		n++;
		p++;
	}
	return n;
}

static void set_body_end(struct parse_ctx *ctx, struct mime_part *part, size_t q)
{
	size_t end = content_end(ctx, part->hdr_off, q);

	if (end < part->body_off && part->message == NULL && part->children == NULL) {
		/* "--b CRLF CRLF --b": the blank line's CRLF is the next
		 * delimiter's (RFC 2046 §5.1.1), so header and body are
		 * empty there. */
		part->body_off = end;
		part->hdr_len = end - part->hdr_off;
		for (unsigned i = 0; i < part->n_fields; i++) {
			struct mime_field *f = &part->fields[i];
			f->end = SP_MIN(f->end, end);
			f->value_off = SP_MIN(f->value_off, f->end);
		}
	}
	if (end < part->body_off)
		end = part->body_off;
	part->body_len = end - part->body_off;
	part->body_lines = mime_body_lines(ctx->d + part->body_off, part->body_len);
}

size_t mime_body_lines(const uint8_t *p, size_t len)
{
	/* Line ends in the body, as Dovecot counts: the last line before a
	 * boundary has none (its CRLF is the boundary's, RFC 2046 §5.1.1)
	 * and is not counted, nor is a last line without a line end. */
	return count_lines(p, len);
}

static void add_field(struct parse_ctx *ctx, unsigned *n, struct mime_field f)
{
	if (*n == ctx->fields_cap) {
		ctx->fields_cap = ctx->fields_cap == 0 ? 32 : ctx->fields_cap * 2;
		ctx->fields = sp_reallocarray(ctx->fields, ctx->fields_cap, sizeof(*ctx->fields));
	}
	ctx->fields[(*n)++] = f;
}

/* Reads the header at part->hdr_off up to the blank line, or up to an
 * enclosing boundary line, or the end. Sets hdr_len, body_off, fields. */
static void parse_header(struct parse_ctx *ctx, struct mime_part *part)
{
	size_t pos = part->hdr_off;
	unsigned n = 0;
	bool have = false, limited = false;
	bool close;

	for (;;) {
		if (pos >= ctx->len) {
			if (pos > part->hdr_off)
				part->defects |= MIME_DEFECT_NO_HEADER_END;
			part->body_off = ctx->len;
			break;
		}
		const uint8_t *line = ctx->d + pos;
		size_t nl = next_line(ctx, pos);
		if (line[0] == '\n' || (line[0] == '\r' && nl - pos == 2 && line[1] == '\n')) {
			part->body_off = nl;
			break;
		}
		if (line[0] == '-' && match_boundary(ctx, pos, &close) >= 0) {
			part->defects |= MIME_DEFECT_NO_HEADER_END;
			part->body_off = pos;
			break;
		}
		if ((part->defects & MIME_DEFECT_8BIT_HEADER) == 0) {
			for (size_t k = pos; k < nl; k++) {
				if (ctx->d[k] >= 0x80) {
					part->defects |= MIME_DEFECT_8BIT_HEADER;
					break;
				}
			}
		}
		if (!limited && nl - part->hdr_off > ctx->lim.max_header_bytes) {
			part->defects |= MIME_DEFECT_HEADER_LIMIT;
			limited = true;
		}
		if (limited) {
			have = false;
		} else if ((line[0] == ' ' || line[0] == '\t') && have) {
			ctx->fields[n - 1].end = nl; /* RFC 5322 §2.2.3 folding */
		} else {
			const uint8_t *colon = memchr(line, ':', nl - pos);
			if (colon == NULL || colon == line) {
				/* Kept as a nameless field: HEADER.FIELDS.NOT
				 * returns it, as Dovecot does; no name matches. */
				part->defects |= MIME_DEFECT_BAD_HEADER_LINE;
				add_field(
				    ctx, &n,
				    (struct mime_field){
				        .off = pos, .name_len = 0, .value_off = pos, .end = nl});
				have = true;
			} else {
				size_t name_len = (size_t)(colon - line);
				while (name_len > 0 &&
				       (line[name_len - 1] == ' ' || line[name_len - 1] == '\t'))
					name_len--;
				add_field(
				    ctx, &n,
				    (struct mime_field){.off = pos,
				                        .name_len = name_len,
				                        .value_off = (size_t)(colon - ctx->d) + 1,
				                        .end = nl});
				have = true;
			}
		}
		pos = nl;
	}
	part->hdr_len = part->body_off - part->hdr_off;
	part->n_fields = n;
	if (n > 0) {
		part->fields = sp_arena_alloc(ctx->arena, n * sizeof(*part->fields));
		memcpy(part->fields, ctx->fields, n * sizeof(*part->fields));
	}
}

static size_t parse_part(struct parse_ctx *ctx, struct mime_part *part);

static struct mime_part *new_part(struct parse_ctx *ctx, struct mime_part *parent, size_t off)
{
	struct mime_part *p = sp_arena_zalloc(ctx->arena, sizeof(*p));

	p->parent = parent;
	p->hdr_off = off;
	p->depth = parent == NULL ? 0 : parent->depth + 1;
	ctx->msg->n_parts++;
	return p;
}

static bool is_message_type(const struct mime_part *part)
{
	return strcmp(part->type, "message") == 0 &&
	       (strcmp(part->subtype, "rfc822") == 0 || strcmp(part->subtype, "global") == 0);
}

static size_t parse_multipart(struct parse_ctx *ctx, struct mime_part *part)
{
	unsigned me = ctx->n_bnd;
	struct mime_part **tail = &part->children;
	bool close = false, popped = false;
	size_t q;

	ctx->bnd[me] = part->boundary;
	ctx->bnd_len[me] = strlen(part->boundary);
	ctx->n_bnd++;

	q = scan_to_boundary(ctx, part->body_off); /* the preamble */
	for (;;) {
		int idx = q < ctx->len ? match_boundary(ctx, q, &close) : -1;
		if (idx != (int)me) {
			/* The end, or an outer boundary: this multipart was
			 * never closed. */
			part->defects |= part->n_children == 0 ? MIME_DEFECT_NO_START_BOUNDARY
			                                       : MIME_DEFECT_NO_CLOSE_BOUNDARY;
			break;
		}
		if (close) {
			if (part->n_children == 0)
				part->defects |= MIME_DEFECT_NO_START_BOUNDARY;
			ctx->n_bnd = me;
			popped = true;
			q = scan_to_boundary(ctx, next_line(ctx, q)); /* the epilogue */
			break;
		}
		size_t start = next_line(ctx, q);
		if (ctx->msg->n_parts >= ctx->lim.max_parts) {
			part->defects |= MIME_DEFECT_PARTS_LIMIT;
			q = scan_to_boundary(ctx, start);
			continue;
		}
		struct mime_part *child = new_part(ctx, part, start);
		*tail = child;
		tail = &child->next;
		part->n_children++;
		q = parse_part(ctx, child);
	}
	if (!popped)
		ctx->n_bnd = me;
	set_body_end(ctx, part, q);
	return q;
}

/* Parses the part whose header starts at part->hdr_off; returns the offset
 * of the enclosing boundary line that ended it, or len. */
static size_t parse_part(struct parse_ctx *ctx, struct mime_part *part)
{
	parse_header(ctx, part);
	mime_part_read_fields(ctx->msg, part, ctx->arena);

	bool deep = part->depth >= ctx->lim.max_depth;
	if (part->boundary != NULL) {
		if (!deep)
			return parse_multipart(ctx, part);
		part->defects |= MIME_DEFECT_DEPTH_LIMIT;
	} else if (is_message_type(part)) {
		/* Parsed as a message whatever its (forbidden, RFC 2046
		 * §5.2.1) encoding, so BODYSTRUCTURE keeps its grammar. */
		if (!deep && ctx->msg->n_parts < ctx->lim.max_parts) {
			struct mime_part *enc = new_part(ctx, part, part->body_off);
			part->message = enc;
			size_t q = parse_part(ctx, enc);
			set_body_end(ctx, part, q);
			return q;
		}
		part->defects |= deep ? MIME_DEFECT_DEPTH_LIMIT : MIME_DEFECT_PARTS_LIMIT;
	}
	size_t q = scan_to_boundary(ctx, part->body_off);
	set_body_end(ctx, part, q);
	return q;
}

static void collect_defects(struct mime_message *msg, const struct mime_part *part)
{
	/* Iterative walk: the tree may be max_depth deep. */
	while (part != NULL) {
		msg->defects |= part->defects;
		if (part->message != NULL) {
			part = part->message;
			continue;
		}
		if (part->children != NULL) {
			part = part->children;
			continue;
		}
		while (part != NULL && part->next == NULL)
			part = part->parent;
		if (part != NULL)
			part = part->next;
	}
}

int mime_parse(const uint8_t *data, size_t len, const struct mime_limits *limits,
               struct sp_arena *arena, struct mime_message **msg_r)
{
	static const struct mime_limits defaults = MIME_LIMITS_DEFAULT;
	struct parse_ctx ctx = {.d = data, .len = len, .arena = arena};
	struct mime_message *msg = sp_arena_zalloc(arena, sizeof(*msg));

	if (data == NULL) /* an empty sp_buf */
		data = (const uint8_t *)"";
	ctx.d = data;
	ctx.lim = limits != NULL ? *limits : defaults;
	/* Recursion follows the nesting: keep it well inside the stack. */
	if (ctx.lim.max_depth > MIME_MAX_DEPTH_CAP)
		ctx.lim.max_depth = MIME_MAX_DEPTH_CAP;
	if (ctx.lim.max_parts == 0)
		ctx.lim.max_parts = 1;
	ctx.bnd = sp_arena_alloc(arena, (ctx.lim.max_depth + 2) * sizeof(*ctx.bnd));
	ctx.bnd_len = sp_arena_alloc(arena, (ctx.lim.max_depth + 2) * sizeof(*ctx.bnd_len));
	ctx.msg = msg;
	msg->data = data;
	msg->len = len;
	msg->root = new_part(&ctx, NULL, 0);
	(void)parse_part(&ctx, msg->root);
	free(ctx.fields);

	if (memchr(data, '\0', len) != NULL)
		msg->root->defects |= MIME_DEFECT_NUL;
	if (mime_served_size(data, len) != len)
		msg->root->defects |= MIME_DEFECT_BARE_EOL;
	collect_defects(msg, msg->root);
	*msg_r = msg;
	return 0;
}
