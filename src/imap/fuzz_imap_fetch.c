/* libFuzzer target for the FETCH/flags/date-time layer. The first input
 * byte picks imap_fetch_parse flags; the rest is fed to the IMAP parser as
 * client bytes. Each FETCH command's arguments go through
 * imap_fetch_parse and, when accepted, a response is formatted for a
 * synthetic message whose sections hold bytes from the input; each STORE
 * and APPEND argument tail goes through imap_flags_parse, and every quoted
 * string through imap_datetime_parse (a parsed date must format back to
 * the same instant). */
#include "imap/imap_fetch.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_fetch(const struct imap_command *cmd, unsigned mode, struct sp_arena *arena,
                        const uint8_t *data, size_t size)
{
	unsigned flags = (cmd->uid ? IMAP_FETCH_UID : 0) | ((mode & 1) ? IMAP_FETCH_QRESYNC : 0);
	struct imap_fetch_spec spec;
	const char *error = NULL;
	if (imap_fetch_parse(cmd->args + 1, cmd->arg_count - 1, flags, arena, &spec, &error) < 0) {
		sp_assert(error != NULL && error[0] != '\0');
		sp_assert(strchr(error, '\r') == NULL && strchr(error, '\n') == NULL);
		return;
	}
	sp_assert(spec.n_items > 0);
	sp_assert(spec.req.n_sections <= IMAP_FETCH_MAX_SECTIONS);
	sp_assert(!spec.vanished || (spec.has_changedsince && cmd->uid));
	for (size_t i = 0; i < spec.n_items; i++) {
		sp_assert(spec.items[i].name != NULL);
		if (spec.items[i].att >= IMAP_FETCH_ATT_SECTION)
			sp_assert(spec.items[i].section < spec.req.n_sections);
	}
	struct store_section_data *secs =
	    spec.req.n_sections > 0 ? sp_arena_zalloc(arena, spec.req.n_sections * sizeof(*secs))
	                            : NULL;
	for (size_t i = 0; i < spec.req.n_sections; i++) {
		sp_assert(spec.req.sections[i].spec != NULL);
		if ((i + mode) % 3 == 0)
			continue; /* NIL */
		size_t len = size > 0 ? (i * 7 + mode) % (size + 1) : 0;
		secs[i].data = data;
		secs[i].len = len;
		secs[i].size = len;
		secs[i].has_nul = memchr(data, 0, len) != NULL;
	}
	static const char *const kw[] = {"$Forwarded"};
	struct store_message m = {
	    .uid = 7,
	    .modseq = 9,
	    .flags = mode & STORE_FLAGS_ALL,
	    .keywords = kw,
	    .n_keywords = 1,
	    .internaldate = (time_t)(int32_t)(mode * 2654435761u),
	    .internaldate_offset = (int)(mode % 2879) - 1439,
	    .savedate = mode,
	    .size = size,
	    .envelope = "NIL",
	    .bodystructure = "NIL",
	    .body = "NIL",
	    .emailid = "Mx",
	    .threadid = (mode & 2) ? "Tx" : NULL,
	    .sections = secs,
	};
	(void)imap_fetch_unknown_cte(&spec, &m);
	struct sp_buf out = SP_BUF_INIT;
	imap_fetch_format(&out, 1, &spec, &m, mode & 7);
	sp_assert(out.len >= 14 && memcmp(out.data, "* 1 FETCH (", 11) == 0);
	sp_assert(memcmp(out.data + out.len - 3, ")\r\n", 3) == 0);
	sp_buf_deinit(&out);
}

static void check_args(const struct imap_command *cmd, struct sp_arena *arena)
{
	/* STORE set [+-]FLAGS[.SILENT] flags; APPEND mailbox [flags] [date] */
	size_t skip = strcmp(cmd->name, "STORE") == 0 ? 2 : 1;
	if (cmd->arg_count > skip) {
		unsigned flags;
		const char **kw;
		size_t n;
		const char *error = NULL;
		if (imap_flags_parse(cmd->args + skip, cmd->arg_count - skip, skip == 2, arena,
		                     &flags, &kw, &n, &error) == 0) {
			sp_assert((flags & ~(unsigned)STORE_FLAGS_ALL) == 0);
			sp_assert(n <= STORE_KEYWORDS_MAX);
			struct sp_buf out = SP_BUF_INIT;
			imap_flags_format(&out, flags, (const char *const *)kw, n);
			sp_buf_deinit(&out);
		} else {
			sp_assert(error != NULL);
		}
	}
	for (size_t i = 0; i < cmd->arg_count; i++) {
		if (cmd->args[i].type != IMAP_ARG_QUOTED)
			continue;
		time_t t, t2;
		int off, off2;
		if (imap_datetime_parse(cmd->args[i].str, &t, &off) < 0)
			continue;
		struct sp_buf out = SP_BUF_INIT;
		imap_datetime_format(&out, t, off);
		sp_assert(out.len == 28);
		sp_assert(imap_datetime_parse((struct sp_slice){out.data + 1, out.len - 2}, &t2,
		                              &off2) == 0);
		sp_assert(t2 == t && off2 == off);
		sp_buf_deinit(&out);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	unsigned mode = data[0];
	data++, size--;
	struct imap_parser *p = imap_parser_new(NULL);
	struct sp_arena *arena = sp_arena_new(4096);
	const uint8_t *d = data;
	size_t n = size;
	while (n > 0) {
		struct imap_event ev;
		size_t used;
		int rc = imap_parser_feed(p, d, n, &used, &ev);
		if (rc == SP_AGAIN)
			break;
		if (ev.type == IMAP_EV_COMMAND && ev.cmd->arg_count >= 1) {
			if (strcmp(ev.cmd->name, "FETCH") == 0)
				check_fetch(ev.cmd, mode, arena, data, size);
			else if (strcmp(ev.cmd->name, "STORE") == 0 ||
			         strcmp(ev.cmd->name, "APPEND") == 0)
				check_args(ev.cmd, arena);
			sp_arena_reset(arena);
		}
		d += used;
		n -= used;
	}
	sp_arena_free(&arena);
	imap_parser_free(&p);
	return 0;
}
