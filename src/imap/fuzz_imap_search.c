/* libFuzzer target for the SEARCH parser (and sequence sets): the input is
 * client text for the command parser; every command's arguments go through
 * imap_search_parse, and every atom through imap_seqset_parse. */
#include "imap/imap_search_parse.h"
#include "imap/imap_seqset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void seqsets(const struct imap_arg *args, size_t count, struct imap_seqset *set)
{
	for (size_t i = 0; i < count; i++) {
		const struct imap_arg *a = &args[i];
		if (a->type == IMAP_ARG_LIST) {
			seqsets(a->list, a->count, set);
			continue;
		}
		if (a->type != IMAP_ARG_ATOM)
			continue;
		const char *error;
		int rc = imap_seqset_parse(a->str, 1000, IMAP_SEQSET_ALLOW_SAVED, set, &error);
		if (rc != 0)
			continue;
		/* normalised: sorted, disjoint, not adjacent */
		for (size_t k = 0; k < set->count; k++) {
			sp_assert(set->ranges[k].lo <= set->ranges[k].hi);
			if (k > 0)
				sp_assert((uint64_t)set->ranges[k - 1].hi + 1 < set->ranges[k].lo);
		}
		struct sp_buf out = SP_BUF_INIT;
		imap_seqset_format(set, &out);
		struct imap_seqset again = IMAP_SEQSET_INIT;
		sp_assert(imap_seqset_parse(sp_buf_slice(&out), 1000, 0, &again, &error) == 0);
		sp_assert(again.count == set->count);
		imap_seqset_deinit(&again);
		sp_buf_deinit(&out);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_parser *p = imap_parser_new(NULL);
	struct sp_arena *arena = sp_arena_new(4096);
	struct imap_seqset set = IMAP_SEQSET_INIT;
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
			struct imap_search_program prog;
			struct imap_error err;
			if (imap_search_parse(ev.cmd->args, ev.cmd->arg_count, arena, 8, &prog,
			                      &err) < 0)
				sp_assert(err.text != NULL);
			else
				sp_assert(prog.root != NULL && prog.root->count > 0);
			seqsets(ev.cmd->args, ev.cmd->arg_count, &set);
			sp_arena_reset(arena);
		}
	}
	imap_seqset_deinit(&set);
	sp_arena_free(&arena);
	imap_parser_free(&p);
	return 0;
}
