/* Unit tests for SORT and THREAD (RFC 5256, RFC 5957): command arguments
 * (fed to the command parser whole and one byte at a time), the base
 * subject table of §2.1, message keys, SORT orders with REVERSE, the
 * thread shapes of §4 and §5 (missing parents, loops, duplicate and absent
 * Message-IDs, subject grouping) and 20,000-message runs. */
#include "imap/imap_search_parse.h"
#include "imap/imap_sort.h"
#include "lib/sp_test.h"

SP_TEST_MAIN_DEFS

/* ---- argument parsing ---- */

static const char *const crit_names[] = {
    [IMAP_SORT_ARRIVAL] = "ARRIVAL",
    [IMAP_SORT_CC] = "CC",
    [IMAP_SORT_DATE] = "DATE",
    [IMAP_SORT_FROM] = "FROM",
    [IMAP_SORT_SIZE] = "SIZE",
    [IMAP_SORT_SUBJECT] = "SUBJECT",
    [IMAP_SORT_TO] = "TO",
    [IMAP_SORT_DISPLAYFROM] = "DISPLAYFROM",
    [IMAP_SORT_DISPLAYTO] = "DISPLAYTO",
};

static void dump_error(const struct imap_error *err, struct sp_buf *out)
{
	sp_buf_printf(out, "%s ", err->kind == IMAP_ERROR_BAD ? "BAD" : "NO");
	if (err->code != NULL)
		sp_buf_printf(out, "[%s] ", err->code);
	sp_buf_append_str(out, err->text);
}

/* The search keys must be a complete SEARCH program for the hand-off. */
static void check_search(const struct imap_command *cmd, size_t start, struct sp_arena *arena,
                         struct sp_buf *out)
{
	struct imap_search_program sp;
	struct imap_error err;
	if (imap_search_parse(cmd->args + start, cmd->arg_count - start, arena, 0, &sp, &err) < 0)
		sp_buf_append_str(out, " search-failed");
	else if (sp.has_return || sp.charset != NULL)
		sp_buf_append_str(out, " search-options");
}

static void run_parse(const char *name, const char *args, size_t step, struct sp_buf *out)
{
	struct imap_parser *p = imap_parser_new(NULL);
	struct sp_arena *arena = sp_arena_new(1024);
	struct sp_buf in = SP_BUF_INIT;
	sp_buf_printf(&in, "T1 UID %s%s%s\r\n", name, args[0] != '\0' ? " " : "", args);
	const uint8_t *d = in.data;
	size_t left = in.len;
	bool done = false;
	while (left > 0 && !done) {
		size_t n = step == 0 ? left : SP_MIN(step, left);
		const uint8_t *c = d;
		d += n, left -= n;
		while (n > 0 && !done) {
			struct imap_event ev;
			size_t used;
			int rc = imap_parser_feed(p, c, n, &used, &ev);
			c += used, n -= used;
			if (rc == SP_AGAIN)
				break;
			if (ev.type == IMAP_EV_ERROR) {
				sp_buf_printf(out, "PARSER %s", ev.error.text);
				done = true;
			}
			if (ev.type != IMAP_EV_COMMAND)
				continue;
			done = true;
			struct imap_error err;
			size_t start = 0;
			if (strcmp(name, "SORT") == 0) {
				struct imap_sort_program sp;
				if (imap_sort_parse(ev.cmd->args, ev.cmd->arg_count, arena, &sp,
				                    &start, &err) < 0) {
					dump_error(&err, out);
					break;
				}
				for (size_t i = 0; i < sp.count; i++)
					sp_buf_printf(out, "%s%s%s", i > 0 ? "," : "",
					              sp.keys[i].reverse ? "REVERSE " : "",
					              crit_names[sp.keys[i].criterion]);
				sp_buf_printf(out, " charset=%s%s start=%zu", sp.charset,
				              sp.utf8 ? "(utf8)" : "", start);
			} else {
				struct imap_thread_program tp;
				if (imap_thread_parse(ev.cmd->args, ev.cmd->arg_count, arena, &tp,
				                      &start, &err) < 0) {
					dump_error(&err, out);
					break;
				}
				sp_buf_printf(out, "%s charset=%s%s start=%zu",
				              tp.algorithm == IMAP_THREAD_REFERENCES
				                  ? "REFERENCES"
				                  : "ORDEREDSUBJECT",
				              tp.charset, tp.utf8 ? "(utf8)" : "", start);
			}
			check_search(ev.cmd, start, arena, out);
		}
	}
	sp_buf_deinit(&in);
	sp_arena_free(&arena);
	imap_parser_free(&p);
}

struct pcase {
	const char *in, *out;
};

static void run_parse_cases(const char *name, const struct pcase *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct sp_buf whole = SP_BUF_INIT, trickle = SP_BUF_INIT;
		run_parse(name, cases[i].in, 0, &whole);
		run_parse(name, cases[i].in, 1, &trickle);
		if (strcmp(sp_buf_cstr(&whole), cases[i].out) != 0)
			fprintf(stderr, "case: %s %s\n", name, cases[i].in);
		SP_CHECK_STR(sp_buf_cstr(&whole), cases[i].out);
		SP_CHECK_STR(sp_buf_cstr(&trickle), sp_buf_cstr(&whole));
		sp_buf_deinit(&whole);
		sp_buf_deinit(&trickle);
	}
}

static void test_sort_parse(void)
{
	static const struct pcase cases[] = {
	    /* RFC 5256 §3 examples */
	    {"(DATE) UTF-8 UNDELETED UNKEYWORD $Junk", "DATE charset=UTF-8(utf8) start=2"},
	    {"(ARRIVAL) US-ASCII ALL", "ARRIVAL charset=US-ASCII start=2"},
	    {"(SUBJECT REVERSE DATE) UTF-8 ALL",
	     "SUBJECT,REVERSE DATE charset=UTF-8(utf8) start=2"},
	    {"(REVERSE DATE) UTF-8 SUBJECT found", "REVERSE DATE charset=UTF-8(utf8) start=2"},
	    {"(reverse arrival cc Size to from) utf-8 1:5",
	     "REVERSE ARRIVAL,CC,SIZE,TO,FROM charset=utf-8(utf8) start=2"},
	    /* RFC 5957 §4 */
	    {"(DISPLAYFROM REVERSE DISPLAYTO) \"US-ASCII\" ALL",
	     "DISPLAYFROM,REVERSE DISPLAYTO charset=US-ASCII start=2"},
	    {"(DATE) {5}\r\nUTF-8 OR SEEN FLAGGED", "DATE charset=UTF-8(utf8) start=2"},
	    {"(SIZE SIZE SIZE SIZE SIZE SIZE SIZE SIZE SIZE SIZE SIZE SIZE SIZE SIZE SIZE "
	     "SIZE) UTF-8 ALL",
	     "SIZE,SIZE,SIZE,SIZE,SIZE,SIZE,SIZE,SIZE,SIZE,SIZE,SIZE,SIZE,SIZE,SIZE,SIZE,SIZE "
	     "charset=UTF-8(utf8) start=2"},
	    /* errors */
	    {"", "BAD Missing sort criteria"},
	    {"DATE UTF-8 ALL", "BAD Sort criteria must be a parenthesised list"},
	    {"() UTF-8 ALL", "BAD Empty sort criteria"},
	    {"(REVERSE) UTF-8 ALL", "BAD REVERSE must be followed by a sort key"},
	    {"(DATE REVERSE) UTF-8 ALL", "BAD REVERSE must be followed by a sort key"},
	    {"(REVERSE REVERSE DATE) UTF-8 ALL", "BAD REVERSE must be followed by a sort key"},
	    {"(FOO) UTF-8 ALL", "BAD Unknown sort criterion"},
	    {"(\"DATE\") UTF-8 ALL", "BAD Unknown sort criterion"},
	    {"((DATE)) UTF-8 ALL", "BAD Unknown sort criterion"},
	    {"(SIZE SIZE SIZE SIZE SIZE SIZE SIZE SIZE SIZE SIZE SIZE SIZE SIZE SIZE SIZE SIZE "
	     "SIZE) UTF-8 ALL",
	     "BAD Too many sort criteria"},
	    {"(DATE)", "BAD Missing charset"},
	    {"(DATE) (UTF-8) ALL", "BAD Invalid charset"},
	    {"(DATE) UTF-8", "BAD Missing search keys"},
	    {"(DATE) KOI8-R ALL", "NO [BADCHARSET (US-ASCII UTF-8)] Unsupported charset"},
	    {"(DATE) UTF-8 CHARSET UTF-8 ALL", "BAD Unknown search key"},
	    {"(DATE) UTF-8 RETURN (MIN) ALL", "BAD Unknown search key"},
	};
	run_parse_cases("SORT", cases, SP_N_ELEMENTS(cases));
}

static void test_thread_parse(void)
{
	static const struct pcase cases[] = {
	    /* RFC 5256 §4 examples */
	    {"ORDEREDSUBJECT UTF-8 SINCE 5-MAR-2000", "ORDEREDSUBJECT charset=UTF-8(utf8) start=2"},
	    {"REFERENCES US-ASCII TEXT \"gewp\"", "REFERENCES charset=US-ASCII start=2"},
	    {"references utf-8 ALL", "REFERENCES charset=utf-8(utf8) start=2"},
	    {"", "BAD Missing thread algorithm"},
	    {"REFS UTF-8 ALL", "BAD Unknown thread algorithm"},
	    {"(REFERENCES) UTF-8 ALL", "BAD Unknown thread algorithm"},
	    {"REFERENCES", "BAD Missing charset"},
	    {"REFERENCES UTF-8", "BAD Missing search keys"},
	    {"REFERENCES BIG5 ALL", "NO [BADCHARSET (US-ASCII UTF-8)] Unsupported charset"},
	    {"REFERENCES UTF-8 charset UTF-8 ALL", "BAD Unknown search key"},
	};
	run_parse_cases("THREAD", cases, SP_N_ELEMENTS(cases));
}

/* ---- base subject (RFC 5256 §2.1) ---- */

static void test_base_subject(void)
{
	static const struct {
		const char *in, *out;
		bool reply;
	} cases[] = {
	    {"Re: [list] Fwd: subj (fwd)", "subj", true},
	    {"re[2]: x", "x", true},
	    {"Re: Re: RE: hello", "hello", true},
	    {"Re:Re:x", "x", true},
	    {"Fw: fwd: FWD : a", "a", true},
	    {"Re : x", "x", true},
	    {"Re [1] : x", "x", true},
	    {"[a] Re: [b] Fwd: c", "c", true},
	    {"Re: [list]  Re:   [list] topic", "topic", true},
	    {"[list] hello", "hello", false},
	    {"[a] [b] c", "c", false},
	    /* (4): a blob stays when nothing would be left after it */
	    {"[blob]", "[blob]", false},
	    {"Re: [blob]", "[blob]", true},
	    {"[a][b]", "[b]", false},
	    {"[a] [b]  ", "[b]", false},
	    /* (6) [fwd: ...] */
	    {"[fwd: Re: hello]", "hello", true},
	    {"[Fwd: x] (fwd)", "x", true},
	    {"re: [fwd: re: x]", "x", true},
	    {"[fwd: [fwd: deep]]", "deep", true},
	    {"[fwd:]", "", true},
	    {"[fwd: x] y", "y", false},
	    /* (2) trailers */
	    {"Subject (fwd) (fwd)", "Subject", true},
	    {"x (Fwd)", "x", true},
	    {"(fwd)", "", true},
	    {"Re: (fwd)", "", true},
	    {"x(fwd)", "x", true},
	    {"x (fwd) y", "x (fwd) y", false},
	    /* whitespace */
	    {"", "", false},
	    {"   ", "", false},
	    {"Re:", "", true},
	    {"  hello\t  world  ", "hello world", false},
	    {"hello\r\n world", "hello world", false},
	    /* not leaders */
	    {"Ref: x", "Ref: x", false},
	    {"Reply: x", "Reply: x", false},
	    {"Rex: y", "Rex: y", false},
	    {"fwdx", "fwdx", false},
	    {"Re x", "Re x", false},
	    {"Re: [unclosed: x", "[unclosed: x", true},
	    {"Aw: German reply", "Aw: German reply", false},
	    /* (1) encoded words, decoded to UTF-8 before anything else */
	    {"=?UTF-8?Q?Re=3A_caf=C3=A9?=", "caf\xc3\xa9", true},
	    {"=?ISO-8859-1?Q?Fwd=3A_na=EFve?=", "na\xc3\xafve", true},
	    {"Re: =?UTF-8?B?W2xpc3RdIGhlbGxv?=", "hello", true},
	    {"=?utf-8?q?a?= =?utf-8?q?b?=", "ab", false},
	    {"caf\xc3\xa9 (fwd)", "caf\xc3\xa9", true},
	};
	struct sp_arena *arena = sp_arena_new(4096);
	for (size_t i = 0; i < SP_N_ELEMENTS(cases); i++) {
		size_t len;
		bool reply = !cases[i].reply;
		const char *r = imap_sort_base_subject((const uint8_t *)cases[i].in,
		                                       strlen(cases[i].in), arena, &len, &reply);
		if (strcmp(r, cases[i].out) != 0 || reply != cases[i].reply)
			fprintf(stderr, "case: \"%s\"\n", cases[i].in);
		SP_CHECK_STR(r, cases[i].out);
		SP_CHECK_INT(len, strlen(cases[i].out));
		SP_CHECK_INT(reply, cases[i].reply);
	}
	sp_arena_free(&arena);
}

static void test_casemap(void)
{
	SP_CHECK(imap_sort_casemap_cmp("abc", 3, "ABC", 3) == 0);
	SP_CHECK(imap_sort_casemap_cmp("ab", 2, "ABC", 3) < 0);
	SP_CHECK(imap_sort_casemap_cmp("b", 1, "A", 1) > 0);
	/* i;ascii-casemap maps to upper case: 'a' (A, 0x41) sorts before
	 * '_' (0x5f), which a lower-casing compare would reverse. */
	SP_CHECK(imap_sort_casemap_cmp("a", 1, "_", 1) < 0);
	SP_CHECK(imap_sort_casemap_cmp("\xc3\xa9", 2, "z", 1) > 0);
}

/* ---- messages ---- */

struct tmsg {
	uint32_t seq;
	int t; /* sent time: minutes after 2024-01-01 00:00 UTC, -1 none */
	const char *subject, *id, *refs, *irt;
};

#define T0 1704067200 /* 2024-01-01T00:00:00Z */

static struct sp_buf *headers_of(const struct tmsg *m, size_t n, struct imap_sort_msg *out)
{
	struct sp_buf *bufs = sp_calloc(n, sizeof(*bufs));
	for (size_t i = 0; i < n; i++) {
		struct sp_buf *b = &bufs[i];
		if (m[i].t >= 0)
			sp_buf_printf(b, "Date: Mon, 1 Jan 2024 %02d:%02d:00 +0000\r\n",
			              m[i].t / 60 % 24, m[i].t % 60);
		if (m[i].subject != NULL)
			sp_buf_printf(b, "Subject: %s\r\n", m[i].subject);
		if (m[i].id != NULL)
			sp_buf_printf(b, "Message-ID: <%s>\r\n", m[i].id);
		if (m[i].refs != NULL)
			sp_buf_printf(b, "References: %s\r\n", m[i].refs);
		if (m[i].irt != NULL)
			sp_buf_printf(b, "In-Reply-To: %s\r\n", m[i].irt);
		sp_buf_append_str(b, "\r\n");
		out[i] = (struct imap_sort_msg){
		    .uid = m[i].seq + 100,
		    .seq = m[i].seq,
		    .internal_date = T0 + 86400 * 30 + (time_t)m[i].seq,
		    .size = 1000,
		    .header = b->data,
		    .header_len = b->len,
		};
	}
	return bufs;
}

static void thread_str(const struct tmsg *m, size_t n, enum imap_thread_algorithm alg, bool use_uid,
                       struct sp_buf *out)
{
	struct imap_sort_msg *msgs = sp_calloc(n == 0 ? 1 : n, sizeof(*msgs));
	struct sp_buf *bufs = headers_of(m, n, msgs);
	struct sp_arena *arena = sp_arena_new(4096);
	imap_thread_run(msgs, n, alg, use_uid, arena, out);
	sp_arena_free(&arena);
	for (size_t i = 0; i < n; i++)
		sp_buf_deinit(&bufs[i]);
	free(bufs);
	free(msgs);
}

struct tcase {
	const char *name;
	struct tmsg m[12];
	size_t n;
	const char *out;
};

static void run_thread_cases(const struct tcase *cases, size_t n, enum imap_thread_algorithm alg)
{
	for (size_t i = 0; i < n; i++) {
		struct sp_buf out = SP_BUF_INIT;
		thread_str(cases[i].m, cases[i].n, alg, false, &out);
		if (strcmp(sp_buf_cstr(&out), cases[i].out) != 0)
			fprintf(stderr, "case: %s\n", cases[i].name);
		SP_CHECK_STR(sp_buf_cstr(&out), cases[i].out);
		/* the same messages in reverse array order give the same threads */
		struct tmsg rev[12];
		for (size_t k = 0; k < cases[i].n; k++)
			rev[k] = cases[i].m[cases[i].n - 1 - k];
		sp_buf_reset(&out);
		thread_str(rev, cases[i].n, alg, false, &out);
		SP_CHECK_STR(sp_buf_cstr(&out), cases[i].out);
		sp_buf_deinit(&out);
	}
}

static void test_references(void)
{
	static const struct tcase cases[] = {
	    {.name = "RFC 5256 §4 response shape",
	     .m = {{2, 1, "two", "a", NULL, NULL},
	           {3, 2, "three", "b", NULL, NULL},
	           {4, 4, "Re: three", "d", "<b> <c>", NULL},
	           {6, 3, "Re: three", "c", "<b>", NULL},
	           {7, 7, "Re: three", "g", "<f>", NULL},
	           {23, 5, "Re: three", "e", "<b> <c> <d>", NULL},
	           {44, 6, "Re: three", "f", "<b> <c>", NULL},
	           {96, 8, "Re: three", "h", NULL, "<g>"}},
	     .n = 8,
	     .out = "(2)(3 6 (4 23)(44 7 96))"},
	    {.name = "missing parent, two children: root dummy kept",
	     .m = {{1, 1, "a", "m1", "<x>", NULL}, {2, 2, "b", "m2", "<x>", NULL}},
	     .n = 2,
	     .out = "((1)(2))"},
	    {.name = "missing parent, one child: promoted",
	     .m = {{1, 1, "a", "m1", "<x>", NULL}, {2, 2, "b", "m2", NULL, NULL}},
	     .n = 2,
	     .out = "(1)(2)"},
	    {.name = "nested dummies below a root dummy are spliced",
	     .m = {{1, 1, "s1", "m1", "<x> <y>", NULL}, {2, 2, "s2", "m2", "<x> <z>", NULL}},
	     .n = 2,
	     .out = "((1)(2))"},
	    {.name = "fuzz: dummies under a root dummy, children reordered",
	     .m = {{1, 5, "p", "c", "<d1> <d2>", NULL}, {2, 4, "q", NULL, "<a> <d1>", NULL}},
	     .n = 2,
	     .out = "((2)(1))"},
	    {.name = "step 4 sorts a root dummy before its thread subject is taken",
	     .m = {{1, 5, "alpha", "a", "<x>", NULL},
	           {2, 1, "beta", "b", "<x>", NULL},
	           {3, 9, "beta", "c", NULL, NULL}},
	     .n = 3,
	     .out = "((2)(1)(3))"},
	    {.name = "quoted local parts in msg-ids are the same id",
	     .m = {{1, 1, "one", "\"01KF8JCEOCBS0045PS\"@xxx.yyy.com", NULL, NULL},
	           {2, 2, "two", "b", "<01KF8JCEOCBS0045PS@xxx.yyy.com>", NULL},
	           {3, 3, "three", "c", NULL, "<\"b\">"}},
	     .n = 3,
	     .out = "(1 2 3)"},
	    {.name = "dummy in the middle of a chain",
	     .m = {{1, 1, "s", "m1", NULL, NULL}, {2, 2, "Re: s", "m2", "<m1> <gone>", NULL}},
	     .n = 2,
	     .out = "(1 2)"},
	    {.name = "dummy in the middle with two children",
	     .m = {{1, 1, "s", "m1", NULL, NULL},
	           {2, 3, "Re: s", "m2", "<m1> <gone>", NULL},
	           {3, 2, "Re: s", "m3", "<m1> <gone>", NULL}},
	     .n = 3,
	     .out = "(1 (3)(2))"},
	    {.name = "loop of two",
	     .m = {{1, 1, "one", "a", "<b>", NULL}, {2, 2, "two", "b", "<a>", NULL}},
	     .n = 2,
	     .out = "(2 1)"},
	    {.name = "1.B: a looping new parent also drops the old one (imaptest thread)",
	     .m = {{1, 17 * 60, NULL, "a@b", NULL, NULL},
	           {2, 15 * 60, NULL, "b@b", "<a@b> <c@b>", NULL},
	           {3, 16 * 60, NULL, "c@b", "<b@b>", NULL}},
	     .n = 3,
	     .out = "(3 2)(1)"},
	    {.name = "1.B: looping parent dropped, old parent's other child stays",
	     .m = {{1, 1, "s", "a", NULL, NULL},
	           {2, 2, "t", "b", "<a> <c>", NULL},
	           {3, 3, "u", "d", "<a> <c>", NULL},
	           {4, 4, "v", "c", "<b>", NULL}},
	     .n = 4,
	     .out = "(1)(4 (2)(3))"},
	    {.name = "self reference",
	     .m = {{1, 1, "one", "a", "<a>", "<a>"}},
	     .n = 1,
	     .out = "(1)"},
	    {.name = "loop of three",
	     .m = {{1, 1, "one", "a", "<c> <b>", NULL},
	           {2, 2, "two", "b", "<a> <c>", NULL},
	           {3, 3, "three", "c", "<b> <a>", NULL}},
	     .n = 3,
	     .out = "(3 2 1)"},
	    {.name = "duplicate Message-ID: the first keeps it",
	     .m = {{1, 1, "one", "x", NULL, NULL},
	           {2, 2, "two", "x", NULL, NULL},
	           {3, 3, "Re: one", "y", "<x>", NULL}},
	     .n = 3,
	     .out = "(1 3)(2)"},
	    {.name = "no Message-ID",
	     .m = {{1, 1, "a", NULL, NULL, NULL},
	           {2, 2, "b", NULL, NULL, "<nothing>"},
	           {3, 3, "c", NULL, NULL, NULL}},
	     .n = 3,
	     .out = "(1)(2)(3)"},
	    {.name = "In-Reply-To only when References has no msg-id",
	     .m = {{1, 1, "a", "p", NULL, NULL},
	           {2, 2, "b", "q", NULL, NULL},
	           {3, 3, "c", "r", "junk", "<p> <q>"},
	           {4, 4, "d", "s", "<q>", "<p>"}},
	     .n = 4,
	     .out = "(1 3)(2 4)"},
	    {.name = "1.B replaces a link made by truncated References",
	     .m = {{1, 1, "one", "x", "<m> <y>", NULL},
	           {2, 2, "two", "y", NULL, "<q>"},
	           {3, 3, "three", "m", NULL, NULL}},
	     .n = 3,
	     .out = "(2 1)(3)"},
	    {.name = "a message without references loses its parent",
	     .m = {{1, 1, "Re: one", "x", "<m> <y>", NULL},
	           {2, 2, "one", "y", NULL, NULL},
	           {3, 3, "three", "m", NULL, NULL}},
	     .n = 3,
	     .out = "(2 1)(3)"},
	    {.name = "siblings by date, then sequence number",
	     .m = {{1, 1, "p", "a", NULL, NULL},
	           {2, 5, "Re: p", "b", "<a>", NULL},
	           {3, 3, "Re: p", "c", "<a>", NULL},
	           {4, 3, "Re: p", "d", "<a>", NULL}},
	     .n = 4,
	     .out = "(1 (3)(4)(2))"},
	    {.name = "a root dummy sorts by its first child",
	     .m = {{1, 5, "z", "a", NULL, NULL},
	           {2, 7, "p", "b", "<x>", NULL},
	           {3, 3, "q", "c", "<x>", NULL}},
	     .n = 3,
	     .out = "((3)(2))(1)"},
	    {.name = "no Date: INTERNALDATE (later here)",
	     .m = {{1, -1, "a", "a", NULL, NULL}, {2, 5, "b", "b", NULL, NULL}},
	     .n = 2,
	     .out = "(2)(1)"},
	    /* step 5: subjects */
	    {.name = "a reply joins the original's thread",
	     .m = {{1, 1, "hello", "a", NULL, NULL}, {2, 2, "Re: HELLO", "b", NULL, NULL}},
	     .n = 2,
	     .out = "(1 2)"},
	    {.name = "two originals get a dummy",
	     .m = {{1, 1, "hello", "a", NULL, NULL}, {2, 2, "hello", "b", NULL, NULL}},
	     .n = 2,
	     .out = "((1)(2))"},
	    {.name = "two replies get a dummy",
	     .m = {{1, 1, "Re: hi", "a", NULL, NULL}, {2, 2, "re: hi", "b", NULL, NULL}},
	     .n = 2,
	     .out = "((1)(2))"},
	    {.name = "the original wins the subject table",
	     .m = {{1, 1, "Re: hi", "a", NULL, NULL}, {2, 2, "hi", "b", NULL, NULL}},
	     .n = 2,
	     .out = "(2 1)"},
	    {.name = "three of a subject",
	     .m = {{1, 1, "hi", "a", NULL, NULL},
	           {2, 2, "Fwd: hi", "b", NULL, NULL},
	           {3, 3, "hi", "c", NULL, NULL},
	           {4, 4, "hi (fwd)", "d", NULL, NULL}},
	     .n = 4,
	     .out = "((1 2)(3)(4))"},
	    {.name = "empty subjects are not gathered",
	     .m = {{1, 1, "", "a", NULL, NULL},
	           {2, 2, "Re:", "b", NULL, NULL},
	           {3, 3, NULL, "c", NULL, NULL}},
	     .n = 3,
	     .out = "(1)(2)(3)"},
	    {.name = "a dummy in the subject table takes the message",
	     .m = {{1, 1, "s", "m1", "<x>", NULL},
	           {2, 2, "s", "m2", "<x>", NULL},
	           {3, 3, "Re: s", "m3", NULL, NULL}},
	     .n = 3,
	     .out = "((1)(2)(3))"},
	    {.name = "two dummies of a subject merge",
	     .m = {{1, 1, "s", "m1", "<x>", NULL},
	           {2, 4, "s", "m2", "<x>", NULL},
	           {3, 2, "Re: s", "m3", "<y>", NULL},
	           {4, 3, "Re: s", "m4", "<y>", NULL}},
	     .n = 4,
	     .out = "((1)(3)(4)(2))"},
	    {.name = "the thread subject is the root's, not the replies'",
	     .m = {{1, 1, "alpha", "a", NULL, NULL},
	           {2, 2, "Re: beta", "b", "<a>", NULL},
	           {3, 3, "beta", "c", NULL, NULL}},
	     .n = 3,
	     .out = "(1 2)(3)"},
	    {.name = "blob prefixes and encoded words match",
	     .m = {{1, 1, "[list] news", "a", NULL, NULL},
	           {2, 2, "=?UTF-8?Q?Re=3A_=5Blist=5D_News?=", "b", NULL, NULL}},
	     .n = 2,
	     .out = "(1 2)"},
	};
	run_thread_cases(cases, SP_N_ELEMENTS(cases), IMAP_THREAD_REFERENCES);
}

static void test_ordered_subject(void)
{
	static const struct tcase cases[] = {
	    {.name = "RFC 5256 §4 ORDEREDSUBJECT",
	     .m = {{1, 10, "beta", "a", NULL, NULL},
	           {2, 20, "alpha", "b", NULL, NULL},
	           {3, 30, "Re: beta", "c", NULL, NULL},
	           {4, 5, "alpha", "d", NULL, NULL},
	           {5, 1, "gamma", "e", NULL, NULL},
	           {6, 40, "Fwd: beta", "f", NULL, NULL},
	           {7, 25, "Re: ALPHA", "g", NULL, NULL},
	           {8, 50, "delta", "h", NULL, NULL},
	           {9, 60, "Re: delta", "i", NULL, NULL}},
	     .n = 9,
	     .out = "(5)(4 (2)(7))(1 (3)(6))(8 9)"},
	    {.name = "references are ignored, ties by sequence number",
	     .m = {{1, 1, "x", "a", NULL, NULL},
	           {2, 1, "y", "b", "<a>", NULL},
	           {3, 1, "x", "c", NULL, NULL},
	           {4, 1, NULL, "d", NULL, NULL},
	           {5, 1, "", "e", NULL, NULL}},
	     .n = 5,
	     .out = "(1 3)(2)(4 5)"},
	};
	run_thread_cases(cases, SP_N_ELEMENTS(cases), IMAP_THREAD_ORDEREDSUBJECT);

	struct sp_buf out = SP_BUF_INIT;
	thread_str(cases[0].m, cases[0].n, IMAP_THREAD_ORDEREDSUBJECT, true, &out);
	SP_CHECK_STR(sp_buf_cstr(&out), "(105)(104 (102)(107))(101 (103)(106))(108 109)");
	sp_buf_reset(&out);
	thread_str(cases[0].m, cases[0].n, IMAP_THREAD_REFERENCES, true, &out);
	SP_CHECK_STR(sp_buf_cstr(&out), "(105)((104)(102)(107))(101 (103)(106))(108 109)");
	sp_buf_reset(&out);
	thread_str(NULL, 0, IMAP_THREAD_REFERENCES, false, &out);
	SP_CHECK_STR(sp_buf_cstr(&out), "");
	sp_buf_deinit(&out);
}

/* ---- keys and SORT ---- */

static const char *const sort_headers[] = {
    "Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
    "Subject: Re: beta\r\n"
    "From: Zed <zed@x.org>\r\n"
    "To: amy@y.org\r\n"
    "\r\n",
    "Date: Mon, 1 Jan 2024 09:00:00 -0200\r\n"
    "Subject: alpha\r\n"
    "From: =?UTF-8?Q?=C3=89mile?= <bob@x.org>\r\n"
    "To: \"Carl\" <carl@z.org>, amy@y.org\r\n"
    "Cc: dan@z.org\r\n"
    "\r\n",
    "Subject: [list] Beta\r\n"
    "From: al@x.org\r\n"
    "To: Undisclosed:;\r\n"
    "\r\n",
    "Date: garbage\r\n"
    "Subject: ALPHA\r\n"
    "From: mallory <\"Mal\"@x.org>\r\n"
    "To: Zoe <b@x>\r\n"
    "\r\n",
};
static const time_t sort_idates[] = {1000, 900, 1100, 1000};
static const uint64_t sort_sizes[] = {300, 100, 200, 100};

static void sort_msgs(struct imap_sort_msg *m)
{
	for (size_t i = 0; i < 4; i++) {
		m[i] = (struct imap_sort_msg){
		    .uid = (uint32_t)(i + 1) * 10,
		    .seq = (uint32_t)i + 1,
		    .internal_date = sort_idates[i],
		    .size = sort_sizes[i],
		    .header = (const uint8_t *)sort_headers[i],
		    .header_len = strlen(sort_headers[i]),
		};
	}
}

static void test_keys(void)
{
	struct imap_sort_msg m[4];
	struct sp_arena *arena = sp_arena_new(4096);
	struct imap_sort_keys k;
	sort_msgs(m);

	imap_sort_keys_extract(&m[1], IMAP_SORT_WANT_ALL, arena, &k);
	SP_CHECK_STR(k.base_subject, "alpha");
	SP_CHECK(!k.is_reply_or_fwd);
	SP_CHECK_INT(k.sent_date, T0 + 11 * 3600); /* 09:00 -0200 in UTC */
	SP_CHECK_STR(k.from, "bob");
	SP_CHECK_STR(k.to, "carl");
	SP_CHECK_STR(k.cc, "dan");
	SP_CHECK_STR(k.display_from, "\xc3\x89mile");
	SP_CHECK_STR(k.display_to, "Carl");
	SP_CHECK(k.message_id == NULL);
	SP_CHECK_INT(k.n_refs, 0);

	imap_sort_keys_extract(&m[2], IMAP_SORT_WANT_ALL, arena, &k);
	SP_CHECK_INT(k.sent_date, 1100); /* no Date: INTERNALDATE */
	SP_CHECK_STR(k.to, "Undisclosed");
	SP_CHECK_STR(k.display_to, "Undisclosed");
	SP_CHECK_STR(k.display_from, "al@x.org");
	SP_CHECK_STR(k.cc, "");

	imap_sort_keys_extract(&m[3], IMAP_SORT_WANT_ALL, arena, &k);
	SP_CHECK_INT(k.sent_date, 1000); /* unparsable Date */
	SP_CHECK_STR(k.from, "Mal");
	SP_CHECK_STR(k.display_from, "mallory");

	static const char cmt[] = "From: ann@x.org (Ann Example)\r\n"
	                          "To: \"\" <empty@x.org>\r\n"
	                          "Cc: list: c1@x.org, c2@x.org;\r\n"
	                          "\r\n";
	struct imap_sort_msg cm = {
	    .seq = 1, .header = (const uint8_t *)cmt, .header_len = sizeof(cmt) - 1};
	imap_sort_keys_extract(&cm, IMAP_SORT_WANT_ALL, arena, &k);
	SP_CHECK_STR(k.from, "ann");
	SP_CHECK_STR(k.display_from, "Ann Example");
	SP_CHECK_STR(k.display_to, "empty@x.org"); /* empty name: addr-spec */
	SP_CHECK_STR(k.cc, "list");

	/* only what was asked for */
	imap_sort_keys_extract(&m[1], IMAP_SORT_WANT_DATE, arena, &k);
	SP_CHECK_STR(k.base_subject, "");
	SP_CHECK_STR(k.from, "");
	SP_CHECK_INT(k.sent_date, T0 + 11 * 3600);

	static const char ids[] = "Message-ID: junk <  me@here > <second@x>\r\n"
	                          "References: garbage <a@b> <bad <c@d> (x) <e\r\n"
	                          " @f> <> <unterminated\r\n"
	                          "In-Reply-To: <irt@x>\r\n"
	                          "\r\n";
	struct imap_sort_msg im = {
	    .seq = 1, .header = (const uint8_t *)ids, .header_len = sizeof(ids) - 1};
	imap_sort_keys_extract(&im, IMAP_SORT_WANT_IDS, arena, &k);
	SP_CHECK_STR(k.message_id, "me@here");
	SP_CHECK_INT(k.n_refs, 3);
	if (k.n_refs == 3) {
		SP_CHECK_STR(k.refs[0], "a@b");
		SP_CHECK_STR(k.refs[1], "c@d");
		SP_CHECK_STR(k.refs[2], "e@f");
	}
	static const char quoted[] = "Message-ID: <\"a b\\\"c>\"@x>\r\n\r\n";
	im.header = (const uint8_t *)quoted;
	im.header_len = sizeof(quoted) - 1;
	imap_sort_keys_extract(&im, IMAP_SORT_WANT_IDS, arena, &k);
	SP_CHECK_STR(k.message_id, "a b\"c>@x");
	static const char irt[] = "References: none here\r\n"
	                          "In-Reply-To: Your message of <irt@x> and <other@y>\r\n"
	                          "Message-ID: <>\r\n"
	                          "\r\n";
	im.header = (const uint8_t *)irt;
	im.header_len = sizeof(irt) - 1;
	imap_sort_keys_extract(&im, IMAP_SORT_WANT_IDS, arena, &k);
	SP_CHECK(k.message_id == NULL);
	SP_CHECK_INT(k.n_refs, 1);
	if (k.n_refs == 1)
		SP_CHECK_STR(k.refs[0], "irt@x");

	/* no header at all */
	im = (struct imap_sort_msg){.seq = 1, .internal_date = 77};
	imap_sort_keys_extract(&im, IMAP_SORT_WANT_ALL, arena, &k);
	SP_CHECK_INT(k.sent_date, 77);
	SP_CHECK_STR(k.base_subject, "");
	SP_CHECK_STR(k.display_from, "");
	sp_arena_free(&arena);
}

static void test_sort_run(void)
{
	static const struct {
		struct imap_sort_key keys[3];
		size_t count;
		bool uid;
		const char *out;
	} cases[] = {
	    {{{IMAP_SORT_DATE, false}}, 1, false, " 4 3 1 2"},
	    {{{IMAP_SORT_DATE, true}}, 1, false, " 2 1 3 4"},
	    {{{IMAP_SORT_ARRIVAL, false}}, 1, false, " 2 1 4 3"},
	    /* ties stay in sequence order under REVERSE (RFC 5256 §3) */
	    {{{IMAP_SORT_ARRIVAL, true}}, 1, false, " 3 1 4 2"},
	    {{{IMAP_SORT_ARRIVAL, true}, {IMAP_SORT_SIZE, false}}, 2, false, " 3 4 1 2"},
	    {{{IMAP_SORT_SIZE, false}}, 1, false, " 2 4 3 1"},
	    {{{IMAP_SORT_SIZE, true}}, 1, false, " 1 3 2 4"},
	    {{{IMAP_SORT_SUBJECT, false}}, 1, false, " 2 4 1 3"},
	    {{{IMAP_SORT_SUBJECT, false}}, 1, true, " 20 40 10 30"},
	    {{{IMAP_SORT_SUBJECT, true}}, 1, false, " 1 3 2 4"},
	    {{{IMAP_SORT_SUBJECT, false}, {IMAP_SORT_DATE, false}}, 2, false, " 4 2 3 1"},
	    {{{IMAP_SORT_SUBJECT, true}, {IMAP_SORT_DATE, true}}, 2, false, " 1 3 2 4"},
	    {{{IMAP_SORT_FROM, false}}, 1, false, " 3 2 4 1"},
	    {{{IMAP_SORT_FROM, true}}, 1, false, " 1 4 2 3"},
	    {{{IMAP_SORT_TO, false}}, 1, false, " 1 4 2 3"},
	    {{{IMAP_SORT_CC, false}}, 1, false, " 1 3 4 2"},
	    {{{IMAP_SORT_CC, true}}, 1, false, " 2 1 3 4"},
	    {{{IMAP_SORT_CC, false}, {IMAP_SORT_SIZE, true}}, 2, false, " 1 3 4 2"},
	    {{{IMAP_SORT_DISPLAYFROM, false}}, 1, false, " 3 4 1 2"},
	    {{{IMAP_SORT_DISPLAYTO, false}}, 1, false, " 1 2 3 4"},
	    {{{IMAP_SORT_DISPLAYTO, true}}, 1, false, " 4 3 2 1"},
	};
	struct imap_sort_msg m[4];
	sort_msgs(m);
	for (size_t i = 0; i < SP_N_ELEMENTS(cases); i++) {
		struct imap_sort_program prog = {.count = cases[i].count};
		memcpy(prog.keys, cases[i].keys, sizeof(cases[i].keys));
		struct sp_arena *arena = sp_arena_new(4096);
		struct sp_buf out = SP_BUF_INIT;
		const size_t *order = imap_sort_run(m, 4, &prog, arena);
		imap_sort_write(m, order, 4, cases[i].uid, &out);
		if (strcmp(sp_buf_cstr(&out), cases[i].out) != 0)
			fprintf(stderr, "case %zu\n", i);
		SP_CHECK_STR(sp_buf_cstr(&out), cases[i].out);
		sp_buf_deinit(&out);
		sp_arena_free(&arena);
	}
	struct imap_sort_program prog = {.count = 1};
	struct sp_arena *arena = sp_arena_new(4096);
	SP_CHECK(imap_sort_run(m, 0, &prog, arena) == NULL);
	sp_arena_free(&arena);
}

/* ---- 20,000 messages ---- */

#define BIG 20000

/* A well-formed thread list naming each of 1..n exactly once. */
static bool all_listed_once(const struct sp_buf *out, unsigned n)
{
	uint8_t *seen = sp_calloc(n + 1, 1);
	int depth = 0;
	bool ok = true;
	for (size_t i = 0; i < out->len;) {
		uint8_t ch = out->data[i];
		if (ch == '(' || ch == ')' || ch == ' ') {
			depth += ch == '(' ? 1 : ch == ')' ? -1 : 0;
			ok = ok && depth >= 0;
			i++;
			continue;
		}
		unsigned v = 0;
		while (i < out->len && out->data[i] >= '0' && out->data[i] <= '9' && v < 100000000)
			v = v * 10 + (unsigned)(out->data[i++] - '0');
		ok = ok && v >= 1 && v <= n && !seen[v];
		if (v >= 1 && v <= n)
			seen[v] = 1;
		else
			i++;
	}
	for (unsigned i = 1; i <= n; i++)
		ok = ok && seen[i];
	free(seen);
	return ok && depth == 0;
}

static void test_big(void)
{
	struct imap_sort_msg *m = sp_calloc(BIG, sizeof(*m));
	struct sp_buf *bufs = sp_calloc(BIG, sizeof(*bufs));
	struct sp_buf out = SP_BUF_INIT, want = SP_BUF_INIT;
	struct sp_arena *arena = sp_arena_new(65536);

	/* One chain: message i replies to i-1 with a full References of
	 * its last 20 ancestors; the array holds them in reverse order. */
	for (uint32_t i = 1; i <= BIG; i++) {
		struct sp_buf *b = &bufs[BIG - i];
		sp_buf_printf(b, "Message-ID: <m%u@x>\r\nSubject: %sbig thread\r\n", i,
		              i > 1 ? "Re: " : "");
		sp_buf_printf(b, "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n");
		if (i > 1) {
			sp_buf_append_str(b, "References:");
			for (uint32_t r = i > 20 ? i - 20 : 1; r < i; r++)
				sp_buf_printf(b, " <m%u@x>", r);
			sp_buf_append_str(b, "\r\n");
		}
		sp_buf_append_str(b, "\r\n");
		m[BIG - i] = (struct imap_sort_msg){.uid = i,
		                                    .seq = i,
		                                    .internal_date = i,
		                                    .size = i % 7,
		                                    .header = b->data,
		                                    .header_len = b->len};
	}
	sp_buf_append_byte(&want, '(');
	for (uint32_t i = 1; i <= BIG; i++)
		sp_buf_printf(&want, i > 1 ? " %u" : "%u", i);
	sp_buf_append_byte(&want, ')');
	imap_thread_run(m, BIG, IMAP_THREAD_REFERENCES, true, arena, &out);
	SP_CHECK_STR(sp_buf_cstr(&out), sp_buf_cstr(&want));
	sp_arena_reset(arena);

	/* ORDEREDSUBJECT: one subject, equal dates: 1 then 2..BIG as children */
	sp_buf_reset(&out);
	imap_thread_run(m, BIG, IMAP_THREAD_ORDEREDSUBJECT, false, arena, &out);
	SP_CHECK(out.len > 0 && memcmp(out.data, "(1 (2)(3)(4)", 12) == 0);
	SP_CHECK(out.len > 0 && out.data[out.len - 1] == ')');
	sp_arena_reset(arena);

	/* SORT (REVERSE ARRIVAL) and (SIZE) */
	struct imap_sort_program prog = {.count = 1, .keys = {{IMAP_SORT_ARRIVAL, true}}};
	const size_t *order = imap_sort_run(m, BIG, &prog, arena);
	bool ok = true;
	for (size_t i = 0; i < BIG; i++)
		ok = ok && m[order[i]].seq == BIG - i;
	SP_CHECK(ok);
	prog.keys[0] = (struct imap_sort_key){IMAP_SORT_SIZE, false};
	prog.keys[1] = (struct imap_sort_key){IMAP_SORT_SUBJECT, false};
	prog.count = 2;
	order = imap_sort_run(m, BIG, &prog, arena);
	ok = true;
	for (size_t i = 1; i < BIG; i++) {
		const struct imap_sort_msg *a = &m[order[i - 1]], *b = &m[order[i]];
		ok = ok && (a->size < b->size || (a->size == b->size && a->seq < b->seq));
	}
	SP_CHECK(ok);
	sp_arena_reset(arena);

	/* Many threads of 4 with shuffled subjects: every message appears
	 * exactly once in the output. */
	for (uint32_t i = 0; i < BIG; i++) {
		struct sp_buf *b = &bufs[i];
		sp_buf_reset(b);
		uint32_t root = i - i % 4;
		sp_buf_printf(b, "Message-ID: <t%u@x>\r\nSubject: %stopic %u\r\n", i,
		              i == root ? "" : "Re: ", (root * 7919u) % 1000u);
		sp_buf_printf(b, "Date: Mon, 1 Jan 2024 %02u:%02u:00 +0000\r\n", i % 24,
		              (i * 13) % 60);
		if (i != root)
			sp_buf_printf(b, "In-Reply-To: <t%u@x>\r\n", i - 1);
		sp_buf_append_str(b, "\r\n");
		m[i] = (struct imap_sort_msg){.uid = i + 1,
		                              .seq = i + 1,
		                              .internal_date = i,
		                              .header = b->data,
		                              .header_len = b->len};
	}
	sp_buf_reset(&out);
	imap_thread_run(m, BIG, IMAP_THREAD_REFERENCES, false, arena, &out);
	SP_CHECK(all_listed_once(&out, BIG));
	sp_arena_reset(arena);

	/* Crafted: a 4,000-deep chain, then 4,000 messages that are already
	 * parents (of the next 4,000) link to its end: each loop check walks
	 * the chain, until the walk budget runs out. Completes, lists all. */
	enum { DEEP = 4000 };
	for (uint32_t i = 0; i < 3 * DEEP; i++) {
		struct sp_buf *b = &bufs[i];
		sp_buf_reset(b);
		if (i < DEEP)
			sp_buf_printf(b, "Message-ID: <c%u@x>\r\nReferences: <c%u@x>\r\n", i,
			              i == 0 ? 0 : i - 1);
		else if (i < 2 * DEEP)
			sp_buf_printf(b, "Message-ID: <x%u@x>\r\nReferences: <b%u@x>\r\n", i,
			              i - DEEP);
		else
			sp_buf_printf(b, "Message-ID: <b%u@x>\r\nReferences: <c%u@x>\r\n",
			              i - 2 * DEEP, DEEP - 1);
		sp_buf_printf(b, "Subject: s%u\r\n\r\n", i);
		m[i] = (struct imap_sort_msg){.uid = i + 1,
		                              .seq = i + 1,
		                              .internal_date = i,
		                              .header = b->data,
		                              .header_len = b->len};
	}
	sp_buf_reset(&out);
	imap_thread_run(m, 3 * DEEP, IMAP_THREAD_REFERENCES, false, arena, &out);
	SP_CHECK(all_listed_once(&out, 3 * DEEP));
	SP_CHECK(out.len > 0 && memcmp(out.data, "(1 2 3 4 5 ", 11) == 0);

	for (size_t i = 0; i < BIG; i++)
		sp_buf_deinit(&bufs[i]);
	free(bufs);
	free(m);
	sp_buf_deinit(&out);
	sp_buf_deinit(&want);
	sp_arena_free(&arena);
}

int main(void)
{
	SP_TEST_RUN(test_sort_parse);
	SP_TEST_RUN(test_thread_parse);
	SP_TEST_RUN(test_base_subject);
	SP_TEST_RUN(test_casemap);
	SP_TEST_RUN(test_keys);
	SP_TEST_RUN(test_sort_run);
	SP_TEST_RUN(test_references);
	SP_TEST_RUN(test_ordered_subject);
	SP_TEST_RUN(test_big);
	return sp_test_finish();
}
