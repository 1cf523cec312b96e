/* libFuzzer target for the SEARCH parser (and sequence sets): the input is
 * client text for the command parser; every command's arguments go through
 * imap_search_parse, then the translation to a store query and the
 * SEARCH/ESEARCH reply writer, and every atom through imap_seqset_parse. */
#include "imap/imap_search_parse.h"
#include "imap/imap_search_query.h"
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

/* A fixed mailbox: UIDs 3, 5, 6, ... 60 (sequence numbers 1..), a saved
 * result and a \Recent set. */
static void translate(const struct imap_search_program *prog, struct imap_seqset *set,
                      struct sp_arena *arena)
{
	sp_assert(prog->root != NULL && prog->root->count > 0);
	uint32_t uids[30];
	for (uint32_t i = 0; i < 30; i++)
		uids[i] = i == 0 ? 3 : 3 + 2 * i - 1 + (i % 3 == 0);
	struct imap_seqset saved = IMAP_SEQSET_INIT, recent = IMAP_SEQSET_INIT;
	imap_seqset_add_range(&saved, 5, 9);
	imap_seqset_normalize(&saved);
	imap_seqset_add_range(&recent, 50, 70);
	imap_seqset_normalize(&recent);
	struct imap_search_ctx ctx = {uids, 30, &saved, &recent};
	struct store_query *q = imap_search_query_build(prog, &ctx, arena);
	sp_assert(q != NULL);
	(void)imap_search_seq_out_of_range(prog, 30);
	uint64_t modseqs[4] = {7, 9, 1, 12};
	const uint32_t match[4] = {uids[0], uids[4], uids[10], 999};
	for (int uid = 0; uid < 2; uid++) {
		struct imap_search_reply r = {"t", uid == 1, uid == 1, match, 4, modseqs, uids, 30};
		struct sp_buf out = SP_BUF_INIT;
		imap_search_reply_format(prog, &r, &out);
		sp_assert(out.len == 0 || (out.len >= 2 && out.data[out.len - 1] == '\n'));
		imap_search_saved_result(prog, &r, set);
		sp_buf_deinit(&out);
	}
	imap_seqset_deinit(&saved);
	imap_seqset_deinit(&recent);
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
				translate(&prog, &set, arena);
			seqsets(ev.cmd->args, ev.cmd->arg_count, &set);
			sp_arena_reset(arena);
		}
	}
	imap_seqset_deinit(&set);
	sp_arena_free(&arena);
	imap_parser_free(&p);
	return 0;
}
