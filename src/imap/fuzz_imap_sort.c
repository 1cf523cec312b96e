/* libFuzzer target for SORT/THREAD. The input is either client text (first
 * byte 'C': every command's arguments go through imap_sort_parse and
 * imap_thread_parse) or header blocks separated by NUL bytes, which go
 * through key extraction, SORT and both THREAD algorithms; the outputs are
 * checked to be permutations / well-formed thread lists naming every
 * message exactly once. */
#include "imap/imap_sort.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_MSGS 256

static void fuzz_commands(const uint8_t *data, size_t size)
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
			struct imap_sort_program sp;
			struct imap_thread_program tp;
			struct imap_error err;
			size_t start;
			if (imap_sort_parse(ev.cmd->args, ev.cmd->arg_count, arena, &sp, &start,
			                    &err) == 0)
				sp_assert(sp.count >= 1 && start < ev.cmd->arg_count &&
				          sp.charset != NULL);
			else
				sp_assert(err.text != NULL);
			if (imap_thread_parse(ev.cmd->args, ev.cmd->arg_count, arena, &tp, &start,
			                      &err) == 0)
				sp_assert(start < ev.cmd->arg_count && tp.charset != NULL);
			else
				sp_assert(err.text != NULL);
			sp_arena_reset(arena);
		}
	}
	sp_arena_free(&arena);
	imap_parser_free(&p);
}

/* Every number 1..n exactly once, parentheses balanced, no "()". */
static void check_threads(const struct sp_buf *out, size_t n)
{
	uint8_t seen[MAX_MSGS + 1] = {0};
	size_t count = 0;
	int depth = 0;

	for (size_t i = 0; i < out->len;) {
		uint8_t c = out->data[i];
		if (c == '(') {
			sp_assert(i + 1 < out->len && out->data[i + 1] != ')');
			depth++;
			i++;
		} else if (c == ')') {
			sp_assert(--depth >= 0);
			i++;
		} else if (c == ' ') {
			i++;
		} else {
			sp_assert(c >= '1' && c <= '9');
			size_t v = 0;
			while (i < out->len && out->data[i] >= '0' && out->data[i] <= '9')
				v = v * 10 + (size_t)(out->data[i++] - '0');
			sp_assert(v >= 1 && v <= n && !seen[v]);
			seen[v] = 1;
			count++;
		}
	}
	sp_assert(depth == 0 && count == n);
}

static void fuzz_messages(const uint8_t *data, size_t size)
{
	struct imap_sort_msg msgs[MAX_MSGS];
	size_t n = 0;
	const uint8_t *p = data, *end = data + size;

	while (p <= end && n < MAX_MSGS) {
		const uint8_t *nul = memchr(p, '\0', (size_t)(end - p));
		const uint8_t *e = nul == NULL ? end : nul;
		/* sequence numbers in a shuffled order, UIDs equal to them */
		uint32_t seq = (uint32_t)n + 1;
		msgs[n] = (struct imap_sort_msg){
		    .uid = seq,
		    .seq = seq,
		    .internal_date = (time_t)((e - p) * 977 % 5000),
		    .size = (uint64_t)(e - p),
		    .header = p,
		    .header_len = (size_t)(e - p),
		};
		n++;
		if (nul == NULL)
			break;
		p = nul + 1;
	}
	/* reverse the array so that it is not in sequence order */
	for (size_t i = 0; i < n / 2; i++) {
		struct imap_sort_msg t = msgs[i];
		msgs[i] = msgs[n - 1 - i];
		msgs[n - 1 - i] = t;
	}

	struct sp_arena *arena = sp_arena_new(16384);
	struct sp_buf out = SP_BUF_INIT;
	imap_thread_run(msgs, n, IMAP_THREAD_REFERENCES, false, arena, &out);
	check_threads(&out, n);
	sp_buf_reset(&out);
	sp_arena_reset(arena);
	imap_thread_run(msgs, n, IMAP_THREAD_ORDEREDSUBJECT, true, arena, &out);
	check_threads(&out, n);
	sp_arena_reset(arena);

	struct imap_sort_program prog = {.count = 0};
	uint8_t sel = size > 0 ? data[0] : 0;
	for (unsigned i = 0; i < 3; i++) {
		prog.keys[prog.count].criterion =
		    (enum imap_sort_criterion)((sel + i * 3u) % (IMAP_SORT_DISPLAYTO + 1));
		prog.keys[prog.count].reverse = ((sel >> i) & 1) != 0;
		prog.count++;
	}
	const size_t *order = imap_sort_run(msgs, n, &prog, arena);
	uint8_t seen[MAX_MSGS] = {0};
	for (size_t i = 0; i < n; i++) {
		sp_assert(order[i] < n && !seen[order[i]]);
		seen[order[i]] = 1;
	}
	sp_buf_deinit(&out);
	sp_arena_free(&arena);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 0 && data[0] == 'C')
		fuzz_commands(data + 1, size - 1);
	else
		fuzz_messages(data, size);
	return 0;
}
