/* libFuzzer target for the IMAP command parser. The first input byte picks
 * the feeding step and whether tight limits apply; the rest is fed as
 * client bytes. Checks: consumption bounds, progress (no endless stream of
 * empty events), literal chunks inside the input, NUL-terminated strings,
 * and the tree walk. Some CONTINUE/BEGIN events are aborted, and LINE mode
 * is toggled after commands, as a session would. */
#include "imap/imap_parser.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* partial: the last top-level argument may be a literal still to come. */
static size_t walk(const struct imap_arg *args, size_t count, unsigned depth, bool partial)
{
	size_t n = 0;
	sp_assert(depth <= 64);
	for (size_t i = 0; i < count; i++) {
		const struct imap_arg *a = &args[i];
		n++;
		if (a->type == IMAP_ARG_LIST) {
			n += walk(a->list, a->count, depth + 1, false);
			continue;
		}
		sp_assert(a->str.ptr != NULL);
		sp_assert(a->str.ptr[a->str.len] == 0);
		if (a->type == IMAP_ARG_LITERAL && !a->streamed && !(partial && i + 1 == count))
			sp_assert(a->str.len == a->literal_size);
		if (a->type == IMAP_ARG_SECTION) {
			const struct imap_section *s = a->section;
			for (size_t k = 0; k < s->part_count; k++)
				sp_assert(s->parts[k] != 0);
			for (size_t k = 0; k < s->field_count; k++)
				sp_assert(s->fields[k].len > 0);
		}
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t mode = data[0];
	data++, size--;
	struct imap_parser_limits l;
	imap_parser_limits_default(&l);
	if ((mode & 0x80) != 0) {
		l.max_line = 64;
		l.max_literal = 300;
		l.max_nonsync_literal = (mode & 0x40) != 0 ? 20 : 300;
		l.inline_literal_max = 16;
		l.max_inline_total = 40;
		l.max_depth = 4;
		l.max_args = 12;
	}
	size_t step = (mode & 0x0f) == 0 ? size : (mode & 0x0f);
	struct imap_parser *p = imap_parser_new(&l);
	unsigned nevents = 0;
	size_t off = 0;
	while (off < size) {
		size_t n = SP_MIN(step, size - off);
		const uint8_t *d = data + off;
		off += n;
		unsigned empty = 0;
		while (n > 0) {
			struct imap_event ev;
			size_t used;
			int rc = imap_parser_feed(p, d, n, &used, &ev);
			sp_assert(used <= n);
			if (rc == SP_AGAIN) {
				sp_assert(used == n);
				break;
			}
			sp_assert(rc == 0);
			empty = used == 0 ? empty + 1 : 0;
			sp_assert(empty < 4);
			nevents++;
			switch (ev.type) {
			case IMAP_EV_COMMAND:
				sp_assert(ev.cmd->tag != NULL && ev.cmd->name != NULL);
				walk(ev.cmd->args, ev.cmd->arg_count, 0, false);
				if ((nevents & 7) == ((mode >> 4) & 7))
					imap_parser_set_line_mode(p, true);
				break;
			case IMAP_EV_LINE:
				sp_assert(ev.data.len <= l.max_line);
				if ((nevents & 1) != 0)
					imap_parser_set_line_mode(p, false);
				break;
			case IMAP_EV_LITERAL_DATA:
				sp_assert(ev.data.ptr >= d &&
				          ev.data.ptr + ev.data.len <= d + used);
				sp_assert(ev.data.len > 0);
				break;
			case IMAP_EV_CONTINUE:
			case IMAP_EV_LITERAL_BEGIN:
				sp_assert(ev.literal_size <= l.max_literal);
				walk(ev.cmd->args, ev.cmd->arg_count, 0, true);
				if ((nevents % 5) == (mode & 3))
					imap_parser_abort_command(p);
				break;
			case IMAP_EV_ERROR:
				sp_assert(ev.error.text != NULL && ev.error.text[0] != '\0');
				if (ev.error.code != NULL)
					sp_assert(strcmp(ev.error.code, "TOOBIG") == 0);
				break;
			case IMAP_EV_LITERAL_END:
				break;
			}
			d += used;
			n -= used;
		}
	}
	imap_parser_free(&p);
	return 0;
}
