/* Unit tests for SEARCH to store queries and the SEARCH/ESEARCH replies:
 * every key, sequence sets with "*" and "$" through the sequence map, an
 * empty mailbox, tree flattening, and exact reply bytes (RFC 9051 §6.4.4,
 * §7.3.4, RFC 4731, RFC 5182, RFC 7162 §3.1.5). */
#include "imap/imap_search_query.h"
#include "lib/sp_test.h"

SP_TEST_MAIN_DEFS

static const struct imap_command *command(struct imap_parser *p, const char *text)
{
	const uint8_t *d = (const uint8_t *)text;
	size_t len = strlen(text);
	while (len > 0) {
		struct imap_event ev;
		size_t used;
		int rc = imap_parser_feed(p, d, len, &used, &ev);
		d += used, len -= used;
		if (rc == SP_AGAIN)
			break;
		if (ev.type == IMAP_EV_COMMAND)
			return ev.cmd;
		if (ev.type == IMAP_EV_ERROR)
			return NULL;
	}
	return NULL;
}

static void dump(const struct store_query *q, struct sp_buf *b)
{
	static const char *const names[] = {
	    [STORE_Q_ALL] = "all",
	    [STORE_Q_AND] = "and",
	    [STORE_Q_OR] = "or",
	    [STORE_Q_NOT] = "not",
	    [STORE_Q_UID] = "uid",
	    [STORE_Q_SEQ] = "SEQ",
	    [STORE_Q_FLAGS_SET] = "set",
	    [STORE_Q_FLAGS_UNSET] = "unset",
	    [STORE_Q_KEYWORD] = "keyword",
	    [STORE_Q_UNKEYWORD] = "unkeyword",
	    [STORE_Q_BEFORE] = "before",
	    [STORE_Q_ON] = "on",
	    [STORE_Q_SINCE] = "since",
	    [STORE_Q_SENTBEFORE] = "sentbefore",
	    [STORE_Q_SENTON] = "senton",
	    [STORE_Q_SENTSINCE] = "sentsince",
	    [STORE_Q_SAVEDBEFORE] = "savedbefore",
	    [STORE_Q_SAVEDON] = "savedon",
	    [STORE_Q_SAVEDSINCE] = "savedsince",
	    [STORE_Q_OLDER] = "older",
	    [STORE_Q_YOUNGER] = "younger",
	    [STORE_Q_LARGER] = "larger",
	    [STORE_Q_SMALLER] = "smaller",
	    [STORE_Q_MODSEQ] = "modseq",
	    [STORE_Q_EMAILID] = "emailid",
	    [STORE_Q_THREADID] = "threadid",
	    [STORE_Q_FROM] = "from",
	    [STORE_Q_TO] = "to",
	    [STORE_Q_CC] = "cc",
	    [STORE_Q_BCC] = "bcc",
	    [STORE_Q_SUBJECT] = "subject",
	    [STORE_Q_BODY] = "body",
	    [STORE_Q_TEXT] = "text",
	    [STORE_Q_HEADER] = "header",
	    [STORE_Q_REGEX] = "regex",
	};
	static const char *const fields[] = {"subject", "from", "to",   "cc",
	                                     "bcc",     "body", "text", "header"};
	static const char *const flags[] = {"seen", "answered", "flagged", "deleted", "draft"};
	sp_buf_printf(b, "%s", names[q->type]);
	switch (q->type) {
	case STORE_Q_ALL:
		return;
	case STORE_Q_AND:
	case STORE_Q_OR:
	case STORE_Q_NOT:
		sp_buf_append_str(b, "(");
		for (size_t i = 0; i < q->n_children; i++) {
			if (i > 0)
				sp_buf_append_str(b, ",");
			dump(&q->children[i], b);
		}
		sp_buf_append_str(b, ")");
		return;
	case STORE_Q_UID:
	case STORE_Q_SEQ:
		sp_buf_append_str(b, "(");
		for (size_t i = 0; i < q->uids.n; i++)
			sp_buf_printf(b, "%s%u:%u", i ? "," : "", q->uids.ranges[i].lo,
			              q->uids.ranges[i].hi);
		sp_buf_append_str(b, ")");
		return;
	case STORE_Q_FLAGS_SET:
	case STORE_Q_FLAGS_UNSET:
		sp_buf_append_str(b, "(");
		for (unsigned i = 0; i < 5; i++)
			if (q->flags & (1u << i))
				sp_buf_append_str(b, flags[i]);
		sp_buf_append_str(b, ")");
		return;
	case STORE_Q_BEFORE:
	case STORE_Q_ON:
	case STORE_Q_SINCE:
	case STORE_Q_SENTBEFORE:
	case STORE_Q_SENTON:
	case STORE_Q_SENTSINCE:
	case STORE_Q_SAVEDBEFORE:
	case STORE_Q_SAVEDON:
	case STORE_Q_SAVEDSINCE:
		sp_buf_printf(b, "(%04u-%02u-%02u)", q->year, q->month, q->day);
		return;
	case STORE_Q_OLDER:
	case STORE_Q_YOUNGER:
	case STORE_Q_LARGER:
	case STORE_Q_SMALLER:
	case STORE_Q_MODSEQ:
		sp_buf_printf(b, "(%llu)", (unsigned long long)q->number);
		return;
	case STORE_Q_HEADER:
		sp_buf_printf(b, "(%s,%s)", q->header, q->str);
		return;
	case STORE_Q_REGEX:
		sp_buf_printf(b, "(%s,", fields[q->field]);
		if (q->field == STORE_FIELD_HEADER)
			sp_buf_printf(b, "%s,", q->header);
		sp_buf_printf(b, "%s)", q->str);
		return;
	default:
		sp_buf_printf(b, "(%s)", q->str);
		return;
	}
}

/* The session's view: 6 messages, UIDs 2 5 7 9 12 20; "$" holds 5, 9, 12
 * and 30 (30 expunged since: it simply matches nothing). */
static const uint32_t map6[] = {2, 5, 7, 9, 12, 20};

static void test_query(void)
{
	struct imap_seqset saved = IMAP_SEQSET_INIT;
	imap_seqset_add_range(&saved, 5, 5);
	imap_seqset_add_range(&saved, 9, 12);
	imap_seqset_add_range(&saved, 30, 30);
	imap_seqset_normalize(&saved);
	struct imap_seqset none = IMAP_SEQSET_INIT;
	static const struct {
		const char *args;
		int view;      /* 0: 6 messages and "$"; 1: empty mailbox; 2: nothing saved */
		const char *q; /* dumped query */
	} cases[] = {
	    {"ALL", 0, "all"},
	    {"ANSWERED", 0, "set(answered)"},
	    {"DELETED", 0, "set(deleted)"},
	    {"DRAFT", 0, "set(draft)"},
	    {"FLAGGED", 0, "set(flagged)"},
	    {"SEEN", 0, "set(seen)"},
	    {"UNANSWERED", 0, "unset(answered)"},
	    {"UNDELETED", 0, "unset(deleted)"},
	    {"UNDRAFT", 0, "unset(draft)"},
	    {"UNFLAGGED", 0, "unset(flagged)"},
	    {"UNSEEN", 0, "unset(seen)"},
	    /* without a \Recent set (IMAP4rev2 sessions): RECENT and NEW match
	     * nothing, OLD everything */
	    {"RECENT", 0, "not(all)"},
	    {"NEW", 0, "and(not(all),unset(seen))"},
	    {"OLD", 0, "not(not(all))"},
	    {"SAVEDATESUPPORTED", 0, "all"},
	    {"BCC bob", 0, "bcc(bob)"},
	    {"BODY \"two words\"", 0, "body(two words)"},
	    {"CC {3}\r\ncat", 0, "cc(cat)"},
	    {"FROM alice", 0, "from(alice)"},
	    {"SUBJECT \"\"", 0, "subject()"},
	    {"TEXT x", 0, "text(x)"},
	    {"TO y", 0, "to(y)"},
	    {"HEADER X-Spam yes", 0, "header(X-Spam,yes)"},
	    {"HEADER List-Id \"\"", 0, "header(List-Id,)"},
	    {"KEYWORD $Forwarded", 0, "keyword($Forwarded)"},
	    {"UNKEYWORD Junk", 0, "unkeyword(Junk)"},
	    {"BEFORE 1-Feb-2024", 0, "before(2024-02-01)"},
	    {"ON \"29-Feb-2024\"", 0, "on(2024-02-29)"},
	    {"SINCE 31-Dec-1999", 0, "since(1999-12-31)"},
	    {"SENTBEFORE 2-Jan-2020", 0, "sentbefore(2020-01-02)"},
	    {"SENTON 2-Jan-2020", 0, "senton(2020-01-02)"},
	    {"SENTSINCE 2-Jan-2020", 0, "sentsince(2020-01-02)"},
	    {"SAVEDBEFORE 3-Mar-2021", 0, "savedbefore(2021-03-03)"},
	    {"SAVEDON 3-Mar-2021", 0, "savedon(2021-03-03)"},
	    {"SAVEDSINCE 3-Mar-2021", 0, "savedsince(2021-03-03)"},
	    {"LARGER 1000", 0, "larger(1000)"},
	    {"SMALLER 0", 0, "smaller(0)"},
	    {"OLDER 3600", 0, "older(3600)"},
	    {"YOUNGER 60", 0, "younger(60)"},
	    {"MODSEQ 620162338", 0, "modseq(620162338)"},
	    /* RFC 7162 §3.1.5: the entry is accepted and ignored */
	    {"MODSEQ \"/flags/\\\\draft\" all 620162338", 0, "modseq(620162338)"},
	    {"EMAILID M6d99ac3275bb4e", 0, "emailid(M6d99ac3275bb4e)"},
	    {"THREADID T64b478a75b7ea9", 0, "threadid(T64b478a75b7ea9)"},
	    {"X-REGEX SUBJECT \"^re:\"", 0, "regex(subject,^re:)"},
	    {"X-REGEX FROM a", 0, "regex(from,a)"},
	    {"X-REGEX TO a", 0, "regex(to,a)"},
	    {"X-REGEX CC a", 0, "regex(cc,a)"},
	    {"X-REGEX BCC a", 0, "regex(bcc,a)"},
	    {"X-REGEX BODY \"\\\\d+\"", 0, "regex(body,\\d+)"},
	    {"X-REGEX TEXT a", 0, "regex(text,a)"},
	    {"X-REGEX HEADER List-Id \"^<x\"", 0, "regex(header,List-Id,^<x)"},
	    /* message numbers: through the map to UID ranges */
	    {"1", 0, "uid(2:2)"},
	    {"2:4", 0, "uid(5:9)"},
	    {"4:2", 0, "uid(5:9)"},
	    {"1,3,5:*", 0, "uid(2:2,7:7,12:20)"},
	    {"*", 0, "uid(20:20)"},
	    {"*:5", 0, "uid(12:20)"},
	    {"1:*", 0, "uid(2:20)"},
	    /* above n: nothing (RFC 9051 §9 says SHOULD BAD: the server's call) */
	    {"7", 0, "not(all)"},
	    {"5:9", 0, "uid(12:20)"},
	    {"7:*", 0, "uid(20:20)"},
	    {"1,100", 0, "uid(2:2)"},
	    /* UIDs: "*" is the largest UID in the map */
	    {"UID 5", 0, "uid(5:5)"},
	    {"UID 3:9", 0, "uid(3:9)"},
	    {"UID *", 0, "uid(20:20)"},
	    {"UID 15:*", 0, "uid(15:20)"},
	    /* RFC 3501 §6.4.8: "559:*" includes the last UID */
	    {"UID 559:*", 0, "uid(20:559)"},
	    {"UID 1,4294967295", 0, "uid(1:1,4294967295:4294967295)"},
	    /* "$": the saved UIDs, for both kinds of set (RFC 5182) */
	    {"$", 0, "uid(5:5,9:12,30:30)"},
	    {"UID $", 0, "uid(5:5,9:12,30:30)"},
	    {"$", 2, "not(all)"},
	    {"UID $", 2, "not(all)"},
	    /* empty mailbox: every set matches nothing */
	    {"1:*", 1, "not(all)"},
	    {"*", 1, "not(all)"},
	    {"UID 1:*", 1, "not(all)"},
	    {"UID 5", 1, "not(all)"},
	    {"$", 1, "not(all)"},
	    {"ALL", 1, "all"},
	    {"NOT 1:*", 1, "all"},
	    /* structure */
	    {"SEEN FLAGGED", 0, "and(set(seen),set(flagged))"},
	    {"(SEEN (FLAGGED (DRAFT)))", 0, "and(set(seen),set(flagged),set(draft))"},
	    {"ALL SEEN", 0, "set(seen)"},
	    {"ALL ALL", 0, "all"},
	    {"(ALL)", 0, "all"},
	    {"OR SEEN FLAGGED", 0, "or(set(seen),set(flagged))"},
	    {"OR SEEN OR FLAGGED OR DRAFT DELETED", 0,
	     "or(set(seen),set(flagged),set(draft),set(deleted))"},
	    {"OR (OR SEEN FLAGGED) (OR DRAFT DELETED)", 0,
	     "or(set(seen),set(flagged),set(draft),set(deleted))"},
	    {"OR SEEN (FLAGGED DRAFT)", 0, "or(set(seen),and(set(flagged),set(draft)))"},
	    {"OR SEEN ALL", 0, "all"},
	    {"OR OLD SEEN", 0, "or(not(not(all)),set(seen))"},
	    {"NOT SEEN", 0, "not(set(seen))"},
	    {"NOT NOT SEEN", 0, "set(seen)"},
	    {"NOT NOT NOT SEEN", 0, "not(set(seen))"},
	    {"NOT (SEEN FLAGGED)", 0, "not(and(set(seen),set(flagged)))"},
	    {"NOT RECENT", 0, "all"},
	    {"(SEEN OR 1 UID 9) NOT (NEW) SUBJECT x", 0,
	     "and(set(seen),or(uid(2:2),uid(9:9)),not(and(not(all),unset(seen))),subject(x))"},
	    {"CHARSET UTF-8 SUBJECT \"caf\xc3\xa9\" UNSEEN", 0,
	     "and(subject(caf\xc3\xa9),unset(seen))"},
	    {"RETURN (MIN) 2:4 UID 7", 0, "and(uid(5:9),uid(7:7))"},
	};
	for (size_t i = 0; i < SP_N_ELEMENTS(cases); i++) {
		struct imap_parser *p = imap_parser_new(NULL);
		struct sp_arena *arena = sp_arena_new(1024);
		char *line = sp_arena_printf(arena, "A1 SEARCH %s\r\n", cases[i].args);
		const struct imap_command *c = command(p, line);
		SP_CHECK(c != NULL);
		struct imap_search_program prog;
		struct imap_error err;
		int rc = c == NULL
		             ? -1
		             : imap_search_parse(c->args, c->arg_count, arena, 0, &prog, &err);
		SP_CHECK_INT(rc, 0);
		if (rc == 0) {
			struct imap_search_ctx ctx = {
			    .uids = cases[i].view == 1 ? NULL : map6,
			    .n = cases[i].view == 1 ? 0 : SP_N_ELEMENTS(map6),
			    .saved = cases[i].view == 2   ? NULL
			             : cases[i].view == 1 ? &none
			                                  : &saved,
			};
			struct store_query *q = imap_search_query_build(&prog, &ctx, arena);
			struct sp_buf b = SP_BUF_INIT;
			dump(q, &b);
			if (strcmp(sp_buf_cstr(&b), cases[i].q) != 0)
				fprintf(stderr, "  case SEARCH %s\n", cases[i].args);
			SP_CHECK_STR(sp_buf_cstr(&b), cases[i].q);
			sp_buf_deinit(&b);
		} else {
			fprintf(stderr, "  case SEARCH %s: %s\n", cases[i].args,
			        c == NULL ? "no command" : err.text);
		}
		sp_arena_free(&arena);
		imap_parser_free(&p);
	}
	imap_seqset_deinit(&saved);
}

static void test_out_of_range(void)
{
	static const struct {
		const char *args;
		size_t n;
		bool out;
	} cases[] = {
	    {"1:6", 6, false},
	    {"*", 6, false},
	    {"7", 6, true},
	    {"1,7:*", 6, true},
	    {"*", 0, true},
	    {"1", 0, true},
	    {"$", 0, false},
	    {"UID 100", 6, false},
	    {"NOT (OR SEEN 9)", 6, true},
	    {"ALL", 0, false},
	    {"OR 1:6 UID 1:*", 6, false},
	};
	for (size_t i = 0; i < SP_N_ELEMENTS(cases); i++) {
		struct imap_parser *p = imap_parser_new(NULL);
		struct sp_arena *arena = sp_arena_new(1024);
		char *line = sp_arena_printf(arena, "A1 SEARCH %s\r\n", cases[i].args);
		const struct imap_command *c = command(p, line);
		struct imap_search_program prog;
		struct imap_error err;
		SP_CHECK(c != NULL);
		if (c != NULL &&
		    imap_search_parse(c->args, c->arg_count, arena, 0, &prog, &err) == 0)
			SP_CHECK_INT(imap_search_seq_out_of_range(&prog, cases[i].n), cases[i].out);
		else
			SP_CHECK(false);
		sp_arena_free(&arena);
		imap_parser_free(&p);
	}
}

static void test_reply(void)
{
	/* the map: 9 messages, UIDs 3 4 5 6 10 11 15 16 40 */
	static const uint32_t map[] = {3, 4, 5, 6, 10, 11, 15, 16, 40};
	static const struct {
		const char *args;
		bool uid, rev2;
		uint32_t match[12]; /* 0-terminated */
		uint64_t mods[12];
		const char *want;
	} cases[] = {
	    {"ALL", false, false, {3, 5, 6, 11}, {0}, "* SEARCH 1 3 4 6\r\n"},
	    {"ALL", true, false, {3, 5, 6, 11}, {0}, "* SEARCH 3 5 6 11\r\n"},
	    {"ALL", false, false, {0}, {0}, "* SEARCH\r\n"},
	    /* UIDs the session does not know (expunged, or not announced) */
	    {"ALL", false, false, {1, 5, 7, 40, 41}, {0}, "* SEARCH 3 9\r\n"},
	    {"ALL", true, false, {1, 5, 7, 40, 41}, {0}, "* SEARCH 5 40\r\n"},
	    /* RFC 7162 §3.1.5 */
	    {"MODSEQ 5", false, false, {3, 5, 10}, {7, 90, 12}, "* SEARCH 1 3 5 (MODSEQ 90)\r\n"},
	    {"MODSEQ 5", true, false, {10, 77}, {12, 500}, "* SEARCH 10 (MODSEQ 12)\r\n"},
	    {"MODSEQ 5", false, false, {0}, {0}, "* SEARCH\r\n"},
	    {"SEEN", false, false, {3, 5}, {7, 90}, "* SEARCH 1 3\r\n"},
	    /* RFC 4731 §3.1 */
	    {"RETURN (MIN MAX COUNT ALL) ALL",
	     true,
	     false,
	     {3, 4, 5, 10, 15, 16},
	     {0},
	     "* ESEARCH (TAG \"A282\") UID MIN 3 MAX 16 COUNT 6 ALL 3:5,10,15:16\r\n"},
	    {"RETURN (ALL COUNT MAX MIN) ALL",
	     false,
	     false,
	     {3, 4, 5, 10, 15, 16},
	     {0},
	     "* ESEARCH (TAG \"A282\") MIN 1 MAX 8 COUNT 6 ALL 1:3,5,7:8\r\n"},
	    {"RETURN (MIN COUNT) ALL",
	     false,
	     false,
	     {5, 6, 10},
	     {0},
	     "* ESEARCH (TAG \"A282\") MIN 3 COUNT 3\r\n"},
	    {"RETURN () ALL",
	     false,
	     false,
	     {3, 4, 5, 6, 10, 11, 15, 16, 40},
	     {0},
	     "* ESEARCH (TAG \"A282\") ALL 1:9\r\n"},
	    {"RETURN (MIN MAX COUNT ALL) ALL",
	     false,
	     false,
	     {0},
	     {0},
	     "* ESEARCH (TAG \"A282\") COUNT 0\r\n"},
	    {"RETURN (MIN MAX) ALL", true, false, {0}, {0}, "* ESEARCH (TAG \"A282\") UID\r\n"},
	    {"RETURN (ALL) ALL", false, false, {0}, {0}, "* ESEARCH (TAG \"A282\")\r\n"},
	    {"RETURN (COUNT) ALL",
	     false,
	     false,
	     {1, 2},
	     {0},
	     "* ESEARCH (TAG \"A282\") COUNT 0\r\n"},
	    /* RFC 5182 §2.4: SAVE alone sends no ESEARCH */
	    {"RETURN (SAVE) ALL", false, false, {3}, {0}, ""},
	    {"RETURN (SAVE) ALL", false, true, {3}, {0}, ""},
	    {"RETURN (SAVE MIN) ALL",
	     false,
	     false,
	     {4, 5},
	     {0},
	     "* ESEARCH (TAG \"A282\") MIN 2\r\n"},
	    /* RFC 9051 §6.4.4: IMAP4rev2 always answers ESEARCH, ALL by default */
	    {"ALL", false, true, {3, 5, 6, 11}, {0}, "* ESEARCH (TAG \"A282\") ALL 1,3:4,6\r\n"},
	    {"ALL",
	     true,
	     true,
	     {3, 5, 6, 11},
	     {0},
	     "* ESEARCH (TAG \"A282\") UID ALL 3,5:6,11\r\n"},
	    {"ALL", false, true, {0}, {0}, "* ESEARCH (TAG \"A282\")\r\n"},
	    {"RETURN (COUNT) ALL",
	     true,
	     true,
	     {3},
	     {0},
	     "* ESEARCH (TAG \"A282\") UID COUNT 1\r\n"},
	    /* RFC 7162 §3.1.5 with ESEARCH: all matches for ALL/COUNT, else
	     * the MIN/MAX messages */
	    {"RETURN (ALL) MODSEQ 1",
	     true,
	     false,
	     {3, 4, 5},
	     {10, 30, 20},
	     "* ESEARCH (TAG \"A282\") UID ALL 3:5 MODSEQ 30\r\n"},
	    {"RETURN (COUNT) MODSEQ 1",
	     false,
	     false,
	     {3, 4, 5},
	     {10, 30, 20},
	     "* ESEARCH (TAG \"A282\") COUNT 3 MODSEQ 30\r\n"},
	    {"RETURN (MIN) MODSEQ 1",
	     false,
	     false,
	     {3, 4, 5},
	     {10, 30, 20},
	     "* ESEARCH (TAG \"A282\") MIN 1 MODSEQ 10\r\n"},
	    {"RETURN (MAX) MODSEQ 1",
	     false,
	     false,
	     {3, 4, 5},
	     {10, 30, 20},
	     "* ESEARCH (TAG \"A282\") MAX 3 MODSEQ 20\r\n"},
	    {"RETURN (MIN MAX) MODSEQ 1",
	     false,
	     false,
	     {3, 4, 5},
	     {10, 30, 20},
	     "* ESEARCH (TAG \"A282\") MIN 1 MAX 3 MODSEQ 20\r\n"},
	    {"RETURN (MIN MAX) MODSEQ 1", false, false, {0}, {0}, "* ESEARCH (TAG \"A282\")\r\n"},
	    {"MODSEQ 1",
	     false,
	     true,
	     {3, 4},
	     {10, 0},
	     "* ESEARCH (TAG \"A282\") ALL 1:2 MODSEQ 10\r\n"},
	};
	for (size_t i = 0; i < SP_N_ELEMENTS(cases); i++) {
		struct imap_parser *p = imap_parser_new(NULL);
		struct sp_arena *arena = sp_arena_new(1024);
		char *line = sp_arena_printf(arena, "A282 SEARCH %s\r\n", cases[i].args);
		const struct imap_command *c = command(p, line);
		struct imap_search_program prog;
		struct imap_error err;
		SP_CHECK(c != NULL);
		if (c == NULL ||
		    imap_search_parse(c->args, c->arg_count, arena, 0, &prog, &err) < 0) {
			SP_CHECK(false);
		} else {
			size_t n = 0;
			while (n < 12 && cases[i].match[n] != 0)
				n++;
			struct imap_search_reply r = {
			    .tag = c->tag,
			    .uid = cases[i].uid,
			    .imap4rev2 = cases[i].rev2,
			    .match = cases[i].match,
			    .n_match = n,
			    .modseqs = cases[i].mods,
			    .map = map,
			    .map_n = SP_N_ELEMENTS(map),
			};
			struct sp_buf out = SP_BUF_INIT;
			imap_search_reply_format(&prog, &r, &out);
			if (strcmp(sp_buf_cstr(&out), cases[i].want) != 0)
				fprintf(stderr, "  case SEARCH %s\n", cases[i].args);
			SP_CHECK_STR(sp_buf_cstr(&out), cases[i].want);
			sp_buf_deinit(&out);
		}
		sp_arena_free(&arena);
		imap_parser_free(&p);
	}
	/* a tag is quoted with escapes if it ever needs them */
	struct imap_search_program prog = {.has_return = true,
	                                   .return_opts = IMAP_SEARCH_RETURN_COUNT};
	struct imap_search_reply r = {.tag = "a\\b"};
	struct sp_buf out = SP_BUF_INIT;
	imap_search_reply_format(&prog, &r, &out);
	SP_CHECK_STR(sp_buf_cstr(&out), "* ESEARCH (TAG \"a\\\\b\") COUNT 0\r\n");
	sp_buf_deinit(&out);
}

static void test_saved(void)
{
	static const uint32_t map[] = {3, 4, 5, 6, 10};
	static const struct {
		unsigned opts;
		const char *want;
	} cases[] = {
	    {IMAP_SEARCH_RETURN_SAVE, "4:5,10"},
	    {IMAP_SEARCH_RETURN_SAVE | IMAP_SEARCH_RETURN_MIN, "4"},
	    {IMAP_SEARCH_RETURN_SAVE | IMAP_SEARCH_RETURN_MAX, "10"},
	    {IMAP_SEARCH_RETURN_SAVE | IMAP_SEARCH_RETURN_MIN | IMAP_SEARCH_RETURN_MAX, "4,10"},
	    {IMAP_SEARCH_RETURN_SAVE | IMAP_SEARCH_RETURN_MIN | IMAP_SEARCH_RETURN_COUNT, "4:5,10"},
	    {IMAP_SEARCH_RETURN_SAVE | IMAP_SEARCH_RETURN_MAX | IMAP_SEARCH_RETURN_ALL, "4:5,10"},
	};
	/* 7 is not in the map: never saved */
	static const uint32_t match[] = {4, 5, 7, 10};
	for (size_t i = 0; i < SP_N_ELEMENTS(cases); i++) {
		struct imap_search_program prog = {.has_return = true,
		                                   .return_opts = cases[i].opts};
		struct imap_search_reply r = {
		    .uid = false, .match = match, .n_match = 4, .map = map, .map_n = 5};
		struct imap_seqset set = IMAP_SEQSET_INIT;
		imap_seqset_add_range(&set, 100, 200); /* cleared first */
		imap_search_saved_result(&prog, &r, &set);
		struct sp_buf out = SP_BUF_INIT;
		imap_seqset_format(&set, &out);
		SP_CHECK_STR(sp_buf_cstr(&out), cases[i].want);
		sp_buf_deinit(&out);
		imap_seqset_deinit(&set);
	}
	/* nothing matched: an empty saved result */
	struct imap_search_program prog = {
	    .has_return = true, .return_opts = IMAP_SEARCH_RETURN_SAVE | IMAP_SEARCH_RETURN_MIN};
	struct imap_search_reply r = {.map = map, .map_n = 5};
	struct imap_seqset set = IMAP_SEQSET_INIT;
	imap_search_saved_result(&prog, &r, &set);
	SP_CHECK_INT(set.count, 0);
	imap_seqset_deinit(&set);
}

int main(void)
{
	SP_TEST_RUN(test_query);
	SP_TEST_RUN(test_out_of_range);
	SP_TEST_RUN(test_reply);
	SP_TEST_RUN(test_saved);
	return sp_test_finish();
}
