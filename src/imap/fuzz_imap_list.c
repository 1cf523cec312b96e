/* libFuzzer target for LIST/LSUB/STATUS: the input is client text for the
 * command parser; every command's arguments go through imap_list_parse
 * (as LIST and as LSUB, both name modes) and imap_status_parse, and each
 * parsed LIST is formatted against a small fixed account, whose output must
 * be whole lines. The patterns are also matched against every argument. */
#include "imap/imap_list.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct store_folder folders[] = {
    {.id = 1, .name = "INBOX", .subscribed = true},
    {.id = 2, .name = "INBOX/a"},
    {.id = 3, .name = "Sent", .special_use = STORE_USE_SENT},
    {.id = 4, .name = "a/b/c", .subscribed = true},
    {.id = 0, .name = "gone/x", .subscribed = true},
    {.id = 5, .name = "\xe6\x97\xa5/%*"},
};

static int status_cb(void *ctx, const char *name, struct store_status *st)
{
	st->messages = (uint32_t)strlen(name);
	return 0;
}

static void check_lines(const struct sp_buf *out)
{
	/* every response ends in CRLF (names here never need literals) */
	sp_assert(out->len == 0 || (out->len >= 2 && out->data[out->len - 2] == '\r' &&
	                            out->data[out->len - 1] == '\n'));
}

static void run(const struct imap_command *cmd, struct sp_arena *arena)
{
	for (unsigned mode = 0; mode < 4; mode++) {
		bool lsub = (mode & 1) != 0;
		unsigned flags = (mode & 2) != 0 ? IMAP_NAME_UTF8 : 0;
		struct imap_list_cmd lc;
		struct imap_error err;
		if (imap_list_parse(cmd->args, cmd->arg_count, lsub, flags, arena, &lc, &err) < 0) {
			sp_assert(err.kind == IMAP_ERROR_BAD && err.text != NULL);
			continue;
		}
		struct sp_buf out = SP_BUF_INIT;
		imap_list_format(&lc, folders, SP_N_ELEMENTS(folders), flags, status_cb, NULL, 1000,
		                 arena, &out);
		check_lines(&out);
		sp_buf_deinit(&out);
		for (size_t p = 0; p < lc.n_patterns; p++) {
			imap_list_match(lc.patterns[p], lc.reference);
			for (size_t f = 0; f < SP_N_ELEMENTS(folders); f++)
				imap_list_match(lc.patterns[p], folders[f].name);
		}
	}
	struct imap_status_cmd sc;
	struct imap_error err;
	if (imap_status_parse(cmd->args, cmd->arg_count, 0, arena, &sc, &err) == 0) {
		struct store_status st = {.folder = {.name = sc.name}};
		struct sp_buf out = SP_BUF_INIT;
		imap_status_format(&st, &sc.items, 0, 0, &out);
		check_lines(&out);
		sp_buf_deinit(&out);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_parser *p = imap_parser_new(NULL);
	struct sp_arena *arena = sp_arena_new(4096);
	while (size > 0) {
		struct imap_event ev;
		size_t used;
		int rc = imap_parser_feed(p, data, size, &used, &ev);
		data += used, size -= used;
		if (rc == SP_AGAIN)
			break;
		if (ev.type == IMAP_EV_CONTINUE || ev.type == IMAP_EV_LITERAL_BEGIN) {
			imap_parser_abort_command(p);
		} else if (ev.type == IMAP_EV_COMMAND) {
			run(ev.cmd, arena);
			sp_arena_reset(arena);
		}
	}
	sp_arena_free(&arena);
	imap_parser_free(&p);
	return 0;
}
