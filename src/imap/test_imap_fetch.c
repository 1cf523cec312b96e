/* Unit tests for the FETCH/flags/date-time layer: FETCH arguments (taken
 * from real command lines through the IMAP parser) to store requests and
 * item plans, exact response bytes for every item (RFC 9051 §7.5.2, RFC
 * 3516, RFC 7162, RFC 8474, RFC 8514), flag lists, and date-time parsing
 * and formatting. */
#include "imap/imap_fetch.h"
#include "lib/sp_test.h"

#include <inttypes.h>

SP_TEST_MAIN_DEFS

/* Parses one command line with the IMAP parser and hands the arguments
 * after the first (the sequence set, or STORE's set) to fn. */
struct cmd_run {
	struct imap_parser *p;
	const struct imap_command *cmd;
};

/* trickle: the line is fed one byte at a time, as a slow client sends it. */
static bool cmd_open_fed(struct cmd_run *r, const char *line, bool trickle)
{
	r->p = imap_parser_new(NULL);
	struct imap_event ev = {0};
	const uint8_t *d = (const uint8_t *)line;
	size_t len = strlen(line), off = 0;
	int rc = SP_AGAIN;
	while (off < len) {
		size_t used, n = trickle ? 1 : len - off;
		rc = imap_parser_feed(r->p, d + off, n, &used, &ev);
		off += used;
		if (rc == 0)
			break;
	}
	if (rc != 0 || ev.type != IMAP_EV_COMMAND || ev.cmd->arg_count < 1) {
		fprintf(stderr, "line did not parse as a command: %s (%s)\n", line,
		        ev.type == IMAP_EV_ERROR ? ev.error.text : "?");
		imap_parser_free(&r->p);
		return false;
	}
	r->cmd = ev.cmd;
	return true;
}

static bool cmd_open(struct cmd_run *r, const char *line)
{
	return cmd_open_fed(r, line, false);
}

static int fetch_line_fed(const char *line, bool trickle, unsigned flags, struct sp_arena *arena,
                          struct imap_fetch_spec *spec, const char **error_r)
{
	struct cmd_run r;
	if (!cmd_open_fed(&r, line, trickle)) {
		*error_r = "(command did not parse)";
		return -2;
	}
	if (r.cmd->uid)
		flags |= IMAP_FETCH_UID;
	int rc =
	    imap_fetch_parse(r.cmd->args + 1, r.cmd->arg_count - 1, flags, arena, spec, error_r);
	imap_parser_free(&r.p);
	return rc;
}

static int fetch_line(const char *line, unsigned flags, struct sp_arena *arena,
                      struct imap_fetch_spec *spec, const char **error_r)
{
	return fetch_line_fed(line, false, flags, arena, spec, error_r);
}

static void describe_sections(const struct imap_fetch_spec *spec, struct sp_buf *b)
{
	for (size_t i = 0; i < spec->req.n_sections; i++) {
		const struct store_section_req *s = &spec->req.sections[i];
		static const char types[] = {[STORE_SECTION_BODY] = 'b',
		                             [STORE_SECTION_BINARY] = 'B',
		                             [STORE_SECTION_BINARY_SIZE] = 'S'};
		sp_buf_printf(b, "%s%c:%s", i > 0 ? "|" : "", types[s->type], s->spec);
		if (s->partial)
			sp_buf_printf(b, "<%" PRIu64 ".%" PRIu64 ">", s->offset, s->count);
	}
}

static void describe_items(const struct imap_fetch_spec *spec, struct sp_buf *b)
{
	for (size_t i = 0; i < spec->n_items; i++) {
		sp_buf_printf(b, "%s%s", i > 0 ? " " : "", spec->items[i].name);
		if (spec->items[i].att >= IMAP_FETCH_ATT_SECTION)
			sp_buf_printf(b, "#%zu", spec->items[i].section);
	}
}

#define F(x) STORE_FETCH_##x

static void test_fetch_parse(void)
{
	static const struct {
		const char *line;
		unsigned flags;
		int rc;
		const char *items; /* response names in order; "#n": store section */
		unsigned store;    /* store_fetch_item bits */
		const char *secs;  /* store sections: b body, B binary, S binary size */
		bool seen, vanished;
		uint64_t changedsince;
		const char *error;
	} cases[] = {
	    /* RFC 9051 §6.4.5 macros */
	    {.line = "a FETCH 1 ALL\r\n",
	     .items = "FLAGS INTERNALDATE RFC822.SIZE ENVELOPE",
	     .store = F(FLAGS) | F(INTERNALDATE) | F(SIZE) | F(ENVELOPE),
	     .secs = ""},
	    {.line = "a FETCH 1 fast\r\n",
	     .items = "FLAGS INTERNALDATE RFC822.SIZE",
	     .store = F(FLAGS) | F(INTERNALDATE) | F(SIZE),
	     .secs = ""},
	    {.line = "a FETCH 1 FULL\r\n",
	     .items = "FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY",
	     .store = F(FLAGS) | F(INTERNALDATE) | F(SIZE) | F(ENVELOPE) | F(BODY),
	     .secs = ""},
	    /* every simple item, single and in a list, in request order */
	    {.line = "a FETCH 1 UID\r\n", .items = "UID", .secs = ""},
	    {.line = "a FETCH 1 flags\r\n", .items = "FLAGS", .store = F(FLAGS), .secs = ""},
	    {.line = "a FETCH 1 (INTERNALDATE RFC822.SIZE ENVELOPE)\r\n",
	     .items = "INTERNALDATE RFC822.SIZE ENVELOPE",
	     .store = F(INTERNALDATE) | F(SIZE) | F(ENVELOPE),
	     .secs = ""},
	    {.line = "a FETCH 1 (BODYSTRUCTURE BODY UID)\r\n",
	     .items = "BODYSTRUCTURE BODY UID",
	     .store = F(BODYSTRUCTURE) | F(BODY),
	     .secs = ""},
	    {.line = "a FETCH 1 (MODSEQ EMAILID THREADID SAVEDATE)\r\n",
	     .items = "MODSEQ EMAILID THREADID SAVEDATE",
	     .store = F(MODSEQ) | F(OBJECTID) | F(SAVEDATE),
	     .secs = ""},
	    /* duplicates are answered once */
	    {.line = "a FETCH 1 (FLAGS UID flags)\r\n",
	     .items = "FLAGS UID",
	     .store = F(FLAGS),
	     .secs = ""},
	    /* RFC822* are BODY[] / BODY.PEEK[HEADER] / BODY[TEXT] */
	    {.line = "a FETCH 1 RFC822\r\n",
	     .items = "RFC822#0",
	     .store = F(FLAGS),
	     .secs = "b:",
	     .seen = true},
	    {.line = "a FETCH 1 RFC822.HEADER\r\n", .items = "RFC822.HEADER#0", .secs = "b:HEADER"},
	    {.line = "a FETCH 1 (RFC822.TEXT RFC822.SIZE)\r\n",
	     .items = "RFC822.TEXT#0 RFC822.SIZE",
	     .store = F(FLAGS) | F(SIZE),
	     .secs = "b:TEXT",
	     .seen = true},
	    /* RFC822 and BODY[] share one store section */
	    {.line = "a FETCH 1 (RFC822 BODY.PEEK[])\r\n",
	     .items = "RFC822#0 BODY[]#0",
	     .store = F(FLAGS),
	     .secs = "b:",
	     .seen = true},
	    /* sections: named BODY[...] even for BODY.PEEK, origin only */
	    {.line = "a FETCH 1 BODY.PEEK[]\r\n", .items = "BODY[]#0", .secs = "b:"},
	    {.line = "a FETCH 1 body[]\r\n",
	     .items = "BODY[]#0",
	     .store = F(FLAGS),
	     .secs = "b:",
	     .seen = true},
	    {.line = "a FETCH 1 BODY.PEEK[1.2.header]<0.2048>\r\n",
	     .items = "BODY[1.2.HEADER]<0>#0",
	     .secs = "b:1.2.HEADER<0.2048>"},
	    {.line = "a FETCH 1 (BODY.PEEK[TEXT]<100.5> BODY.PEEK[TEXT] BODY.PEEK[1.MIME])\r\n",
	     .items = "BODY[TEXT]<100>#0 BODY[TEXT]#1 BODY[1.MIME]#2",
	     .secs = "b:TEXT<100.5>|b:TEXT|b:1.MIME"},
	    {.line = "a FETCH 1 BODY.PEEK[HEADER.FIELDS (From To \"X-Y Z\")]\r\n",
	     .items = "BODY[HEADER.FIELDS (From To \"X-Y Z\")]#0",
	     .secs = "b:HEADER.FIELDS (From To \"X-Y Z\")"},
	    {.line = "a FETCH 1 BODY.PEEK[2.header.fields.not (Subject)]\r\n",
	     .items = "BODY[2.HEADER.FIELDS.NOT (Subject)]#0",
	     .secs = "b:2.HEADER.FIELDS.NOT (Subject)"},
	    /* a name that is not an atom in the response is quoted; ']' too */
	    {.line = "a FETCH 1 BODY.PEEK[HEADER.FIELDS (\"a\\\\b\" \"q]\")]\r\n",
	     .items = "BODY[HEADER.FIELDS (\"a\\\\b\" \"q]\")]#0",
	     .secs = "b:HEADER.FIELDS (a\\b q])"},
	    /* part numbers past the store's range name no part: clamped */
	    {.line = "a FETCH 1 BODY.PEEK[4294967295.1]\r\n",
	     .items = "BODY[4294967295.1]#0",
	     .secs = "b:1000000000.1"},
	    /* BODY[x] and BODY.PEEK[x] are the same response item; \Seen wins */
	    {.line = "a FETCH 1 (BODY.PEEK[1] BODY[1])\r\n",
	     .items = "BODY[1]#0",
	     .store = F(FLAGS),
	     .secs = "b:1",
	     .seen = true},
	    /* two partials from one origin share a response name: first wins */
	    {.line = "a FETCH 1 (BODY.PEEK[1]<0.10> BODY.PEEK[1]<0.20> BODY.PEEK[1]<5.10>)\r\n",
	     .items = "BODY[1]<0>#0 BODY[1]<5>#1",
	     .secs = "b:1<0.10>|b:1<5.10>"},
	    /* BINARY (RFC 3516) */
	    {.line = "a FETCH 1 BINARY[1]\r\n",
	     .items = "BINARY[1]#0",
	     .store = F(FLAGS),
	     .secs = "B:1",
	     .seen = true},
	    {.line = "a FETCH 1 (BINARY.PEEK[1.2]<0.10> BINARY.SIZE[1.2] BINARY.PEEK[])\r\n",
	     .items = "BINARY[1.2]<0>#0 BINARY.SIZE[1.2]#1 BINARY[]#2",
	     .secs = "B:1.2<0.10>|S:1.2|B:"},
	    /* modifiers (RFC 7162) */
	    {.line = "a FETCH 1:* (FLAGS) (CHANGEDSINCE 12345)\r\n",
	     .items = "FLAGS",
	     .store = F(FLAGS) | F(MODSEQ),
	     .secs = "",
	     .changedsince = 12345},
	    {.line = "a UID FETCH 1:* FLAGS (changedsince 9223372036854775807 vanished)\r\n",
	     .flags = IMAP_FETCH_QRESYNC,
	     .items = "FLAGS",
	     .store = F(FLAGS) | F(MODSEQ),
	     .secs = "",
	     .changedsince = INT64_MAX,
	     .vanished = true},
	    {.line = "a UID FETCH 1:* FLAGS (VANISHED CHANGEDSINCE 1)\r\n",
	     .flags = IMAP_FETCH_QRESYNC,
	     .items = "FLAGS",
	     .store = F(FLAGS) | F(MODSEQ),
	     .secs = "",
	     .changedsince = 1,
	     .vanished = true},

	    /* errors */
	    {.line = "a FETCH 1 ()\r\n", .rc = -1, .error = "Empty FETCH item list"},
	    {.line = "a FETCH 1\r\n", .rc = -1, .error = "Missing FETCH items"},
	    {.line = "a FETCH 1 XYZ\r\n", .rc = -1, .error = "Unknown FETCH item XYZ"},
	    {.line = "a FETCH 1 (FLAGS PREVIEW)\r\n",
	     .rc = -1,
	     .error = "Unknown FETCH item PREVIEW"},
	    {.line = "a FETCH 1 (FLAGS ALL)\r\n",
	     .rc = -1,
	     .error = "FETCH macro not allowed in a list: ALL"},
	    {.line = "a FETCH 1 BODY.PEEK\r\n",
	     .rc = -1,
	     .error = "Missing section after FETCH item BODY.PEEK"},
	    {.line = "a FETCH 1 (binary.size)\r\n",
	     .rc = -1,
	     .error = "Missing section after FETCH item binary.size"},
	    {.line = "a FETCH 1 \"FLAGS\"\r\n", .rc = -1, .error = "Invalid FETCH item"},
	    {.line = "a FETCH 1 NIL\r\n", .rc = -1, .error = "Invalid FETCH item"},
	    {.line = "a FETCH 1 (FLAGS (UID))\r\n",
	     .rc = -1,
	     .error = "Nested list in FETCH items"},
	    {.line = "a FETCH 1 FLAGS CHANGEDSINCE\r\n",
	     .rc = -1,
	     .error = "FETCH modifiers must be a parenthesised list"},
	    {.line = "a FETCH 1 FLAGS ()\r\n", .rc = -1, .error = "Empty FETCH modifier list"},
	    {.line = "a FETCH 1 FLAGS (CHANGEDSINCE 1) X\r\n",
	     .rc = -1,
	     .error = "Too many FETCH arguments"},
	    {.line = "a FETCH 1 FLAGS (CHANGEDSINCE)\r\n",
	     .rc = -1,
	     .error = "CHANGEDSINCE needs a positive mod-sequence"},
	    {.line = "a FETCH 1 FLAGS (CHANGEDSINCE 0)\r\n",
	     .rc = -1,
	     .error = "CHANGEDSINCE needs a positive mod-sequence"},
	    {.line = "a FETCH 1 FLAGS (CHANGEDSINCE 9223372036854775808)\r\n",
	     .rc = -1,
	     .error = "CHANGEDSINCE needs a positive mod-sequence"},
	    {.line = "a FETCH 1 FLAGS (CHANGEDSINCE -1)\r\n",
	     .rc = -1,
	     .error = "CHANGEDSINCE needs a positive mod-sequence"},
	    {.line = "a FETCH 1 FLAGS (CHANGEDSINCE 1 CHANGEDSINCE 2)\r\n",
	     .rc = -1,
	     .error = "Duplicate CHANGEDSINCE"},
	    {.line = "a FETCH 1 FLAGS (PARTIAL 1:10)\r\n",
	     .rc = -1,
	     .error = "Unknown FETCH modifier PARTIAL"},
	    {.line = "a FETCH 1 FLAGS (\"CHANGEDSINCE\" 1)\r\n",
	     .rc = -1,
	     .error = "Invalid FETCH modifier"},
	    {.line = "a FETCH 1 FLAGS (CHANGEDSINCE 1 VANISHED)\r\n",
	     .flags = IMAP_FETCH_QRESYNC,
	     .rc = -1,
	     .error = "VANISHED is only allowed in UID FETCH"},
	    {.line = "a UID FETCH 1 FLAGS (CHANGEDSINCE 1 VANISHED)\r\n",
	     .rc = -1,
	     .error = "VANISHED requires ENABLE QRESYNC"},
	    {.line = "a UID FETCH 1 FLAGS (VANISHED)\r\n",
	     .flags = IMAP_FETCH_QRESYNC,
	     .rc = -1,
	     .error = "VANISHED requires CHANGEDSINCE"},
	    {.line = "a UID FETCH 1 FLAGS (CHANGEDSINCE 4 VANISHED VANISHED)\r\n",
	     .flags = IMAP_FETCH_QRESYNC,
	     .rc = -1,
	     .error = "Duplicate VANISHED"},
	    {.line = "a FETCH 1 BODY.PEEK[HEADER.FIELDS (\"a\\\"b\")]\r\n",
	     .rc = -1,
	     .error = "Unsupported header field name in section"},
	};
	struct sp_arena *arena = sp_arena_new(4096);
	for (size_t run = 0; run < 2 * SP_N_ELEMENTS(cases); run++) {
		/* each line whole, then fed byte by byte */
		bool trickle = run >= SP_N_ELEMENTS(cases);
		size_t i = run % SP_N_ELEMENTS(cases);
		struct imap_fetch_spec spec;
		const char *error = NULL;
		int rc =
		    fetch_line_fed(cases[i].line, trickle, cases[i].flags, arena, &spec, &error);
		if (rc != cases[i].rc)
			fprintf(stderr, "case %s (error %s)\n", cases[i].line, error ? error : "-");
		SP_CHECK_INT(rc, cases[i].rc);
		if (rc < 0) {
			SP_CHECK_STR(error, cases[i].error);
			continue;
		}
		struct sp_buf b = SP_BUF_INIT;
		describe_items(&spec, &b);
		SP_CHECK_STR(sp_buf_cstr(&b), cases[i].items);
		sp_buf_reset(&b);
		describe_sections(&spec, &b);
		SP_CHECK_STR(sp_buf_cstr(&b), cases[i].secs);
		sp_buf_deinit(&b);
		SP_CHECK_INT(spec.req.items, cases[i].store);
		SP_CHECK_INT(spec.sets_seen, cases[i].seen);
		SP_CHECK_INT(spec.vanished, cases[i].vanished);
		SP_CHECK_INT(spec.has_changedsince, cases[i].changedsince != 0);
		SP_CHECK(spec.req.changedsince == cases[i].changedsince);
		SP_CHECK_INT(spec.uid_fetch, strncmp(cases[i].line, "a UID", 5) == 0);
		SP_CHECK(spec.req.uids.n == 0);
		sp_arena_reset(arena);
	}
	sp_arena_free(&arena);
}

/* RFC 7162 §3.1: FETCH MODSEQ and CHANGEDSINCE enable CONDSTORE. */
static void test_fetch_condstore(void)
{
	static const struct {
		const char *line;
		bool enables;
	} cases[] = {
	    {"a FETCH 1 (FLAGS MODSEQ)\r\n", true},
	    {"a FETCH 1 FLAGS (CHANGEDSINCE 3)\r\n", true},
	    {"a FETCH 1 (FLAGS UID BODY.PEEK[])\r\n", false},
	    {"a FETCH 1 FULL\r\n", false},
	};
	struct sp_arena *arena = sp_arena_new(1024);
	for (size_t i = 0; i < SP_N_ELEMENTS(cases); i++) {
		struct imap_fetch_spec spec;
		const char *error = NULL;
		SP_CHECK_INT(fetch_line(cases[i].line, 0, arena, &spec, &error), 0);
		SP_CHECK_INT(spec.enables_condstore, cases[i].enables);
	}
	sp_arena_free(&arena);
}

/* Sections the store can never produce a FETCH response for are refused
 * by the IMAP parser already; those errors must not reach us as items. */
static void test_fetch_parse_direct(void)
{
	struct sp_arena *arena = sp_arena_new(1024);
	const char *error = NULL;
	struct imap_fetch_spec spec;
	static const uint32_t parts[] = {1};
	struct imap_section bin = {.kind = IMAP_SECTION_BINARY,
	                           .parts = parts,
	                           .part_count = 1,
	                           .text = IMAP_SECTION_TEXT};
	struct imap_arg arg = {
	    .type = IMAP_ARG_SECTION, .str = SP_SLICE_STR("BINARY[1.TEXT]"), .section = &bin};
	SP_CHECK_INT(imap_fetch_parse(&arg, 1, 0, arena, &spec, &error), -1);
	SP_CHECK_STR(error, "BINARY takes part numbers only");
	struct imap_section size = {.kind = IMAP_SECTION_BINARY_SIZE,
	                            .parts = parts,
	                            .part_count = 1,
	                            .has_partial = true,
	                            .partial_size = 4};
	arg.section = &size;
	SP_CHECK_INT(imap_fetch_parse(&arg, 1, 0, arena, &spec, &error), -1);
	SP_CHECK_STR(error, "BINARY.SIZE takes no partial");
	/* a name with 8-bit octets is echoed as a literal */
	struct sp_slice names[] = {SP_SLICE_STR("X\xc3\xa9")};
	struct imap_section hf = {.kind = IMAP_SECTION_BODY_PEEK,
	                          .text = IMAP_SECTION_HEADER_FIELDS,
	                          .fields = names,
	                          .field_count = 1};
	arg.section = &hf;
	SP_CHECK_INT(imap_fetch_parse(&arg, 1, 0, arena, &spec, &error), 0);
	SP_CHECK_INT(spec.n_items, 1);
	SP_CHECK_STR(spec.items[0].name, "BODY[HEADER.FIELDS ({3}\r\nX\xc3\xa9)]");
	SP_CHECK_STR(spec.req.sections[0].spec, "HEADER.FIELDS (\"X\xc3\xa9\")");
	sp_arena_free(&arena);
}

/* 257 distinct sections: one more than the store takes. */
static void test_fetch_too_many_sections(void)
{
	struct sp_buf line = SP_BUF_INIT;
	sp_buf_append_str(&line, "a FETCH 1 (");
	for (int i = 1; i <= IMAP_FETCH_MAX_SECTIONS + 1; i++)
		sp_buf_printf(&line, "%sBODY.PEEK[%d]", i > 1 ? " " : "", i);
	sp_buf_append_str(&line, ")\r\n");
	struct sp_arena *arena = sp_arena_new(4096);
	struct imap_fetch_spec spec;
	const char *error = NULL;
	SP_CHECK_INT(fetch_line(sp_buf_cstr(&line), 0, arena, &spec, &error), -1);
	SP_CHECK_STR(error, "Too many sections in FETCH");
	/* exactly the limit, plus repeats of the same section, is fine */
	sp_buf_reset(&line);
	sp_buf_append_str(&line, "a FETCH 1 (");
	for (int i = 1; i <= IMAP_FETCH_MAX_SECTIONS + 10; i++)
		sp_buf_printf(&line, "%sBODY.PEEK[%d]", i > 1 ? " " : "",
		              i > IMAP_FETCH_MAX_SECTIONS ? 1 : i);
	sp_buf_append_str(&line, ")\r\n");
	SP_CHECK_INT(fetch_line(sp_buf_cstr(&line), 0, arena, &spec, &error), 0);
	SP_CHECK_INT(spec.req.n_sections, IMAP_FETCH_MAX_SECTIONS);
	SP_CHECK_INT(spec.n_items, IMAP_FETCH_MAX_SECTIONS);
	sp_arena_free(&arena);
	sp_buf_deinit(&line);
}

/* ---- responses ---- */

#define ENV                                                                                        \
	"(\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" \"IMAP4rev2 WG mtg summary and minutes\" "     \
	"((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) NIL NIL NIL NIL NIL NIL "          \
	"\"<B27397-0100000@cac.washington.edu>\")"
#define BODY1 "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 3028 92)"
#define BS1                                                                                        \
	"(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 3028 92 NIL NIL NIL NIL)"

struct sec_data {
	const char *data; /* NULL: NIL */
	size_t len;
	uint64_t size;
	bool has_nul, unknown_cte;
};

static void test_fetch_format(void)
{
	static const char *const kw[] = {"$Forwarded", "work"};
	static const struct {
		const char *line;
		unsigned fmt;
		bool no_threadid, no_savedate, no_keywords;
		struct sec_data secs[3];
		const char *out;
	} cases[] = {
	    {.line = "a FETCH 1 ALL\r\n",
	     .out = "* 7 FETCH (FLAGS (\\Seen \\Flagged $Forwarded work) "
	            "INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" RFC822.SIZE 4286 ENVELOPE " ENV
	            ")\r\n"},
	    {.line = "a FETCH 1 FULL\r\n",
	     .no_keywords = true,
	     .out =
	         "* 7 FETCH (FLAGS (\\Seen \\Flagged) INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" "
	         "RFC822.SIZE 4286 ENVELOPE " ENV " BODY " BODY1 ")\r\n"},
	    {.line = "a FETCH 1 (UID BODYSTRUCTURE)\r\n",
	     .out = "* 7 FETCH (UID 42 BODYSTRUCTURE " BS1 ")\r\n"},
	    {.line = "a FETCH 1 (MODSEQ EMAILID THREADID SAVEDATE)\r\n",
	     .out =
	         "* 7 FETCH (MODSEQ (12345) EMAILID (M6d99ac3275bb4e) THREADID (T64b478a75b7ea9) "
	         "SAVEDATE \"29-Feb-2024 23:30:00 +0000\")\r\n"},
	    {.line = "a FETCH 1 (THREADID SAVEDATE)\r\n",
	     .no_threadid = true,
	     .no_savedate = true,
	     .out = "* 7 FETCH (THREADID NIL SAVEDATE NIL)\r\n"},
	    /* UID FETCH: UID first although not asked (RFC 9051 §6.4.9) */
	    {.line = "a UID FETCH 1 FLAGS\r\n",
	     .no_keywords = true,
	     .out = "* 7 FETCH (UID 42 FLAGS (\\Seen \\Flagged))\r\n"},
	    {.line = "a UID FETCH 1 (FLAGS UID)\r\n",
	     .no_keywords = true,
	     .out = "* 7 FETCH (FLAGS (\\Seen \\Flagged) UID 42)\r\n"},
	    {.line = "a FETCH 1 RFC822.SIZE\r\n",
	     .fmt = IMAP_FETCH_FMT_UID | IMAP_FETCH_FMT_MODSEQ | IMAP_FETCH_FMT_FLAGS,
	     .no_keywords = true,
	     .out = "* 7 FETCH (UID 42 RFC822.SIZE 4286 FLAGS (\\Seen \\Flagged) MODSEQ "
	            "(12345))\r\n"},
	    {.line = "a FETCH 1 (MODSEQ FLAGS)\r\n",
	     .fmt = IMAP_FETCH_FMT_MODSEQ | IMAP_FETCH_FMT_FLAGS,
	     .no_keywords = true,
	     .out = "* 7 FETCH (MODSEQ (12345) FLAGS (\\Seen \\Flagged))\r\n"},
	    /* CHANGEDSINCE: MODSEQ in every response (RFC 7162 §3.1.4.1) */
	    {.line = "a FETCH 1 UID (CHANGEDSINCE 5)\r\n",
	     .out = "* 7 FETCH (UID 42 MODSEQ (12345))\r\n"},
	    /* sections */
	    {.line = "a FETCH 1 BODY[]\r\n",
	     .secs = {{.data = "Subject: x\r\n\r\nhi\r\n", .len = 18}},
	     .out = "* 7 FETCH (BODY[] {18}\r\nSubject: x\r\n\r\nhi\r\n)\r\n"},
	    {.line = "a FETCH 1 BODY.PEEK[1.2.HEADER]<0.2048>\r\n",
	     .secs = {{.data = "A: b\r\n\r\n", .len = 8}},
	     .out = "* 7 FETCH (BODY[1.2.HEADER]<0> {8}\r\nA: b\r\n\r\n)\r\n"},
	    {.line = "a FETCH 1 BODY.PEEK[TEXT]<100.5>\r\n",
	     .secs = {{.data = "", .len = 0}},
	     .out = "* 7 FETCH (BODY[TEXT]<100> {0}\r\n)\r\n"},
	    {.line = "a FETCH 1 (BODY.PEEK[9] UID)\r\n",
	     .secs = {{.data = NULL}},
	     .out = "* 7 FETCH (BODY[9] NIL UID 42)\r\n"},
	    {.line = "a FETCH 1 BODY.PEEK[HEADER.FIELDS (from \"X-Y Z\")]\r\n",
	     .secs = {{.data = "From: a\r\n\r\n", .len = 11}},
	     .out = "* 7 FETCH (BODY[HEADER.FIELDS (from \"X-Y Z\")] {11}\r\nFrom: a\r\n\r\n)\r\n"},
	    /* a NUL cannot travel in a plain literal */
	    {.line = "a FETCH 1 BODY.PEEK[1]\r\n",
	     .secs = {{.data = "a\0b", .len = 3, .has_nul = true}},
	     .out = "* 7 FETCH (BODY[1] {3}\r\na\x80"
	            "b)\r\n"},
	    {.line = "a FETCH 1 (RFC822.HEADER RFC822.TEXT RFC822)\r\n",
	     .secs = {{.data = "H: 1\r\n\r\n", .len = 8},
	              {.data = "body\r\n", .len = 6},
	              {.data = "H: 1\r\n\r\nbody\r\n", .len = 14}},
	     .out = "* 7 FETCH (RFC822.HEADER {8}\r\nH: 1\r\n\r\n RFC822.TEXT {6}\r\nbody\r\n "
	            "RFC822 {14}\r\nH: 1\r\n\r\nbody\r\n)\r\n"},
	    /* BINARY: literal8 only when the data holds NUL (RFC 3516 §4.2) */
	    {.line = "a FETCH 1 (BINARY.PEEK[1] BINARY.SIZE[1])\r\n",
	     .secs = {{.data = "abc", .len = 3, .size = 3}, {.size = 3}},
	     .out = "* 7 FETCH (BINARY[1] {3}\r\nabc BINARY.SIZE[1] 3)\r\n"},
	    {.line = "a FETCH 1 BINARY[2]<1.2>\r\n",
	     .secs = {{.data = "\0\1", .len = 2, .size = 2, .has_nul = true}},
	     .out = "* 7 FETCH (BINARY[2]<1> ~{2}\r\n\0\1)\r\n"},
	    {.line = "a FETCH 1 BINARY.PEEK[3]\r\n",
	     .secs = {{.data = NULL}},
	     .out = "* 7 FETCH (BINARY[3] NIL)\r\n"},
	};
	struct sp_arena *arena = sp_arena_new(4096);
	for (size_t i = 0; i < SP_N_ELEMENTS(cases); i++) {
		struct imap_fetch_spec spec;
		const char *error = NULL;
		if (fetch_line(cases[i].line, 0, arena, &spec, &error) != 0) {
			fprintf(stderr, "case %s: %s\n", cases[i].line, error);
			SP_CHECK(false);
			continue;
		}
		struct store_section_data data[3];
		memset(data, 0, sizeof(data));
		for (size_t k = 0; k < 3; k++) {
			data[k].data = (const uint8_t *)cases[i].secs[k].data;
			data[k].len = cases[i].secs[k].len;
			data[k].size = cases[i].secs[k].size;
			data[k].has_nul = cases[i].secs[k].has_nul;
			data[k].unknown_cte = cases[i].secs[k].unknown_cte;
		}
		struct store_message m = {
		    .uid = 42,
		    .modseq = 12345,
		    .flags = STORE_FLAG_SEEN | STORE_FLAG_FLAGGED,
		    .keywords = cases[i].no_keywords ? NULL : kw,
		    .n_keywords = cases[i].no_keywords ? 0 : 2,
		    .internaldate = 837596665,
		    .internaldate_offset = -420,
		    .savedate = cases[i].no_savedate ? 0 : 1709249400,
		    .size = 4286,
		    .envelope = ENV,
		    .bodystructure = BS1,
		    .body = BODY1,
		    .emailid = "M6d99ac3275bb4e",
		    .threadid = cases[i].no_threadid ? NULL : "T64b478a75b7ea9",
		    .sections = spec.req.n_sections > 0 ? data : NULL,
		};
		SP_CHECK(!imap_fetch_unknown_cte(&spec, &m));
		struct sp_buf out = SP_BUF_INIT;
		sp_buf_append_str(&out, "x"); /* appends, never resets */
		imap_fetch_format(&out, 7, &spec, &m, cases[i].fmt);
		/* compare as bytes: some cases hold NUL */
		size_t want_len = strlen(cases[i].out);
		if (strstr(cases[i].line, "BINARY[2]") != NULL)
			want_len = sizeof("* 7 FETCH (BINARY[2]<1> ~{2}\r\n\0\1)\r\n") - 1;
		bool same = out.len == want_len + 1 && out.data[0] == 'x' &&
		            memcmp(out.data + 1, cases[i].out, want_len) == 0;
		if (!same)
			fprintf(stderr, "case %s\n  got:      \"%s\"\n  expected: \"%s\"\n",
			        cases[i].line, sp_buf_cstr(&out) + 1, cases[i].out);
		SP_CHECK(same);
		sp_buf_deinit(&out);
		sp_arena_reset(arena);
	}
	sp_arena_free(&arena);
}

static void test_fetch_unknown_cte(void)
{
	struct sp_arena *arena = sp_arena_new(1024);
	struct imap_fetch_spec spec;
	const char *error = NULL;
	SP_CHECK_INT(
	    fetch_line("a FETCH 1 (BODY.PEEK[1] BINARY.PEEK[1])\r\n", 0, arena, &spec, &error), 0);
	struct store_section_data data[2] = {{.data = (const uint8_t *)"x", .len = 1},
	                                     {.unknown_cte = true}};
	struct store_message m = {.uid = 1, .sections = data};
	SP_CHECK(imap_fetch_unknown_cte(&spec, &m));
	data[1].unknown_cte = false;
	SP_CHECK(!imap_fetch_unknown_cte(&spec, &m));
	/* only BINARY counts */
	data[0].unknown_cte = true;
	SP_CHECK(!imap_fetch_unknown_cte(&spec, &m));
	sp_arena_free(&arena);
}

/* ---- flags ---- */

static void test_flags_parse(void)
{
	static const struct {
		const char *line; /* "a STORE 1 +FLAGS <flags>" or APPEND-like lists */
		unsigned pflags;
		int rc;
		unsigned flags;
		const char *kw; /* keywords joined by ',' */
		const char *error;
	} cases[] = {
	    {.line = "a STORE 1 (\\Seen \\answered \\FLAGGED \\Deleted \\Draft)\r\n",
	     .flags = STORE_FLAGS_ALL,
	     .kw = ""},
	    {.line = "a STORE 1 ()\r\n", .flags = 0, .kw = ""},
	    {.line = "a STORE 1 ($Forwarded \\Seen work $MDNSent)\r\n",
	     .flags = STORE_FLAG_SEEN,
	     .kw = "$Forwarded,work,$MDNSent"},
	    /* duplicates kept once, case-insensitively, first spelling wins */
	    {.line = "a STORE 1 (Work \\Seen work WORK \\seen)\r\n",
	     .flags = STORE_FLAG_SEEN,
	     .kw = "Work"},
	    /* keyword atoms may hold '[' and other ATOM-CHARs */
	    {.line = "a STORE 1 (a[b x.y_z! $#&')\r\n", .flags = 0, .kw = "a[b,x.y_z!,$#&'"},
	    /* STORE's bare form (RFC 9051 §6.4.6) */
	    {.line = "a STORE 1 \\Seen kw\r\n",
	     .pflags = IMAP_FLAGS_BARE,
	     .flags = STORE_FLAG_SEEN,
	     .kw = "kw"},
	    {.line = "a STORE 1 \\Deleted\r\n",
	     .pflags = IMAP_FLAGS_BARE,
	     .flags = STORE_FLAG_DELETED,
	     .kw = ""},
	    {.line = "a STORE 1 \\Deleted\r\n",
	     .rc = -1,
	     .error = "Flags must be a parenthesised list"},
	    {.line = "a STORE 1 (\\Seen) \\Deleted\r\n",
	     .rc = -1,
	     .error = "Flags must be a parenthesised list"},
	    {.line = "a STORE 1 (\\Seen) \\Deleted\r\n",
	     .pflags = IMAP_FLAGS_BARE,
	     .rc = -1,
	     .error = "Nested list in flags"},
	    {.line = "a STORE 1 (\\Recent)\r\n", .rc = -1, .error = "\\Recent is not allowed"},
	    {.line = "a STORE 1 (\\recent)\r\n", .rc = -1, .error = "\\Recent is not allowed"},
	    {.line = "a STORE 1 (\\*)\r\n", .rc = -1, .error = "\\* is not a valid flag"},
	    {.line = "a STORE 1 (\\Important)\r\n",
	     .rc = -1,
	     .error = "Unknown system flag \\Important"},
	    {.line = "a STORE 1 (\\Seen \"kw\")\r\n", .rc = -1, .error = "Flags must be atoms"},
	    /* NIL is an atom here: the keyword "NIL" (imaptest's nil script) */
	    {.line = "a STORE 1 (NIL)\r\n", .kw = "NIL"},
	    {.line = "a STORE 1 ((\\Seen))\r\n", .rc = -1, .error = "Nested list in flags"},
	    {.line = "a STORE 1 (a*b)\r\n", .rc = -1, .error = "Invalid character in keyword"},
	    {.line = "a STORE 1 (a%)\r\n", .rc = -1, .error = "Invalid character in keyword"},
	    {.line = "a STORE 1 (a])\r\n", .rc = -1, .error = "Invalid character in keyword"},
	};
	struct sp_arena *arena = sp_arena_new(1024);
	for (size_t i = 0; i < SP_N_ELEMENTS(cases); i++) {
		struct cmd_run r;
		if (!cmd_open(&r, cases[i].line)) {
			SP_CHECK(false);
			continue;
		}
		unsigned flags = 99;
		const char **kw = NULL;
		size_t n = 99;
		const char *error = NULL;
		int rc = imap_flags_parse(r.cmd->args + 1, r.cmd->arg_count - 1, cases[i].pflags,
		                          arena, &flags, &kw, &n, &error);
		if (rc != cases[i].rc)
			fprintf(stderr, "case %s (%s)\n", cases[i].line, error ? error : "-");
		SP_CHECK_INT(rc, cases[i].rc);
		if (rc == 0) {
			SP_CHECK_INT(flags, cases[i].flags);
			struct sp_buf b = SP_BUF_INIT;
			for (size_t k = 0; k < n; k++)
				sp_buf_printf(&b, "%s%s", k > 0 ? "," : "", kw[k]);
			SP_CHECK_STR(sp_buf_cstr(&b), cases[i].kw);
			SP_CHECK(n > 0 || kw == NULL);
			sp_buf_deinit(&b);
		} else {
			SP_CHECK_STR(error, cases[i].error);
		}
		imap_parser_free(&r.p);
		sp_arena_reset(arena);
	}
	sp_arena_free(&arena);
}

static void test_flags_limits(void)
{
	struct sp_arena *arena = sp_arena_new(1024);
	struct sp_buf kw = SP_BUF_INIT;
	for (int i = 0; i < STORE_KEYWORD_MAX; i++)
		sp_buf_append_byte(&kw, 'k');
	unsigned flags;
	const char **kws;
	size_t n;
	const char *error = NULL;
	struct imap_arg a = {.type = IMAP_ARG_ATOM, .str = sp_buf_slice(&kw)};
	SP_CHECK_INT(imap_flags_parse(&a, 1, IMAP_FLAGS_BARE, arena, &flags, &kws, &n, &error), 0);
	SP_CHECK_INT(n, 1);
	SP_CHECK_INT(strlen(kws[0]), STORE_KEYWORD_MAX);
	sp_buf_append_byte(&kw, 'k');
	a.str = sp_buf_slice(&kw);
	SP_CHECK_INT(imap_flags_parse(&a, 1, IMAP_FLAGS_BARE, arena, &flags, &kws, &n, &error), -1);
	SP_CHECK_STR(error, "Keyword too long");
	SP_CHECK_INT(imap_flags_parse(&a, 0, IMAP_FLAGS_BARE, arena, &flags, &kws, &n, &error), -1);
	SP_CHECK_STR(error, "Missing flags");

	/* STORE_KEYWORDS_MAX distinct keywords, then one more */
	struct imap_arg list[STORE_KEYWORDS_MAX + 2];
	char names[STORE_KEYWORDS_MAX + 2][16];
	for (int i = 0; i < STORE_KEYWORDS_MAX + 2; i++) {
		snprintf(names[i], sizeof(names[i]), "k%d", i < STORE_KEYWORDS_MAX + 1 ? i : 0);
		list[i] =
		    (struct imap_arg){.type = IMAP_ARG_ATOM, .str = sp_slice_from_str(names[i])};
	}
	/* the last is a duplicate of k0: fine at exactly the limit */
	struct imap_arg l = {.type = IMAP_ARG_LIST, .list = list, .count = STORE_KEYWORDS_MAX};
	SP_CHECK_INT(imap_flags_parse(&l, 1, 0, arena, &flags, &kws, &n, &error), 0);
	SP_CHECK_INT(n, STORE_KEYWORDS_MAX);
	list[STORE_KEYWORDS_MAX] = list[STORE_KEYWORDS_MAX + 1];
	l.count = STORE_KEYWORDS_MAX + 1;
	SP_CHECK_INT(imap_flags_parse(&l, 1, 0, arena, &flags, &kws, &n, &error), 0);
	SP_CHECK_INT(n, STORE_KEYWORDS_MAX);
	snprintf(names[STORE_KEYWORDS_MAX], sizeof(names[0]), "new");
	list[STORE_KEYWORDS_MAX].str = sp_slice_from_str(names[STORE_KEYWORDS_MAX]);
	SP_CHECK_INT(imap_flags_parse(&l, 1, 0, arena, &flags, &kws, &n, &error), -1);
	SP_CHECK_STR(error, "Too many keywords");
	sp_buf_deinit(&kw);
	sp_arena_free(&arena);
}

static void test_flags_format(void)
{
	static const char *const kw[] = {"$Junk", "a[b"};
	static const struct {
		unsigned flags;
		size_t n;
		const char *out;
	} cases[] = {
	    {0, 0, "()"},
	    {STORE_FLAGS_ALL, 0, "(\\Seen \\Answered \\Flagged \\Deleted \\Draft)"},
	    {STORE_FLAG_DRAFT | STORE_FLAG_SEEN, 1, "(\\Seen \\Draft $Junk)"},
	    {0, 2, "($Junk a[b)"},
	    /* bits the store does not define are not flags */
	    {1u << 7, 0, "()"},
	};
	for (size_t i = 0; i < SP_N_ELEMENTS(cases); i++) {
		struct sp_buf b = SP_BUF_INIT;
		imap_flags_format(&b, cases[i].flags, kw, cases[i].n);
		SP_CHECK_STR(sp_buf_cstr(&b), cases[i].out);
		sp_buf_deinit(&b);
	}
}

/* ---- date-time ---- */

static void test_datetime(void)
{
	static const struct {
		const char *in;
		int rc;
		int64_t t;
		int offset;
		const char *out; /* formatted back (quoted) */
	} cases[] = {
	    /* RFC 9051 §7.5.2 example */
	    {"17-Jul-1996 02:44:25 -0700", 0, 837596665, -420, "\"17-Jul-1996 02:44:25 -0700\""},
	    {"17-jul-1996 09:44:25 +0000", 0, 837596665, 0, "\"17-Jul-1996 09:44:25 +0000\""},
	    /* leap day, a positive offset that moves the UTC date */
	    {"01-Mar-2024 00:30:00 +0100", 0, 1709249400, 60, "\"01-Mar-2024 00:30:00 +0100\""},
	    {"29-Feb-2024 23:30:00 +0000", 0, 1709249400, 0, "\"29-Feb-2024 23:30:00 +0000\""},
	    {"29-Feb-2000 00:00:00 +0000", 0, 951782400, 0, "\"29-Feb-2000 00:00:00 +0000\""},
	    /* space-padded day (date-day-fixed) and the tolerated short form */
	    {" 1-Mar-2024 05:00:00 +0000", 0, 1709269200, 0, "\"01-Mar-2024 05:00:00 +0000\""},
	    {"1-Mar-2024 00:00:00 -0500", 0, 1709269200, -300, "\"01-Mar-2024 00:00:00 -0500\""},
	    /* a negative offset with minutes, crossing back over a leap day */
	    {"29-Feb-2024 19:29:00 -0930", 0, 1709269140, -570, "\"29-Feb-2024 19:29:00 -0930\""},
	    {"31-Dec-1969 23:59:59 +0000", 0, -1, 0, "\"31-Dec-1969 23:59:59 +0000\""},
	    {"31-Dec-9999 23:59:59 +0000", 0, 253402300799, 0, "\"31-Dec-9999 23:59:59 +0000\""},
	    {"01-Jan-0001 00:00:00 +0000", 0, -62135596800, 0, "\"01-Jan-0001 00:00:00 +0000\""},
	    {"31-Dec-1969 23:59:59 -0000", 0, -1, 0, "\"31-Dec-1969 23:59:59 +0000\""},
	    /* a leap second counts as the next second */
	    {"31-Dec-2016 23:59:60 +0000", 0, 1483228800, 0, "\"01-Jan-2017 00:00:00 +0000\""},
	    {"29-Feb-2023 00:00:00 +0000", -1, 0, 0, NULL},
	    {"29-Feb-1900 00:00:00 +0000", -1, 0, 0, NULL},
	    {"31-Apr-2024 00:00:00 +0000", -1, 0, 0, NULL},
	    {"00-Jan-2024 00:00:00 +0000", -1, 0, 0, NULL},
	    {"32-Jan-2024 00:00:00 +0000", -1, 0, 0, NULL},
	    {"01-Foo-2024 00:00:00 +0000", -1, 0, 0, NULL},
	    {"01-Jan-0000 00:00:00 +0000", -1, 0, 0, NULL},
	    {"01-Jan-2024 24:00:00 +0000", -1, 0, 0, NULL},
	    {"01-Jan-2024 00:60:00 +0000", -1, 0, 0, NULL},
	    {"01-Jan-2024 00:00:61 +0000", -1, 0, 0, NULL},
	    {"01-Jan-2024 00:00:00 +2400", -1, 0, 0, NULL},
	    {"01-Jan-2024 00:00:00 +0060", -1, 0, 0, NULL},
	    {"01-Jan-2024 00:00:00 0000", -1, 0, 0, NULL},
	    {"01-Jan-2024 00:00:00 +000", -1, 0, 0, NULL},
	    {"01-Jan-2024 00:00:00 +00000", -1, 0, 0, NULL},
	    {"01-Jan-2024 00:00:00", -1, 0, 0, NULL},
	    {"01-Jan-24 00:00:00 +0000", -1, 0, 0, NULL},
	    {"01 Jan 2024 00:00:00 +0000", -1, 0, 0, NULL},
	    {" 01-Jan-2024 00:00:00 +0000", -1, 0, 0, NULL},
	    {"  1-Jan-2024 00:00:00 +0000", -1, 0, 0, NULL},
	    {"001-Jan-2024 00:00:00 +0000", -1, 0, 0, NULL},
	    {"-1-Jan-2024 00:00:00 +0000", -1, 0, 0, NULL},
	    {"01-Jan-2024 0:00:00 +0000", -1, 0, 0, NULL},
	    {"01-Jan-2024 00:00:00 +00a0", -1, 0, 0, NULL},
	    {"", -1, 0, 0, NULL},
	    {" ", -1, 0, 0, NULL},
	    {"1", -1, 0, 0, NULL},
	};
	for (size_t i = 0; i < SP_N_ELEMENTS(cases); i++) {
		time_t t = 12345;
		int off = 12345;
		int rc = imap_datetime_parse(sp_slice_from_str(cases[i].in), &t, &off);
		if (rc != cases[i].rc)
			fprintf(stderr, "case \"%s\"\n", cases[i].in);
		SP_CHECK_INT(rc, cases[i].rc);
		if (rc != 0)
			continue;
		SP_CHECK_INT(t, cases[i].t);
		SP_CHECK_INT(off, cases[i].offset);
		struct sp_buf b = SP_BUF_INIT;
		imap_datetime_format(&b, t, off);
		SP_CHECK_STR(sp_buf_cstr(&b), cases[i].out);
		/* and what was formatted parses back to the same instant */
		time_t t2;
		int off2;
		SP_CHECK_INT(
		    imap_datetime_parse((struct sp_slice){b.data + 1, b.len - 2}, &t2, &off2), 0);
		SP_CHECK_INT(t2, t);
		SP_CHECK_INT(off2, off);
		sp_buf_deinit(&b);
	}
	/* an offset outside the grammar is shown in UTC */
	struct sp_buf b = SP_BUF_INIT;
	imap_datetime_format(&b, 837596665, 24 * 60);
	SP_CHECK_STR(sp_buf_cstr(&b), "\"17-Jul-1996 09:44:25 +0000\"");
	sp_buf_deinit(&b);
}

/* Every day from 1899 to 2101 at several offsets round-trips. */
static void test_datetime_sweep(void)
{
	int failures = 0;
	static const int offsets[] = {-1439, -720, -1, 0, 1, 330, 1439};
	for (int64_t t = -2240524800LL; t < 4133980800LL && failures < 5; t += 86400 - 1237) {
		for (size_t k = 0; k < SP_N_ELEMENTS(offsets); k++) {
			struct sp_buf b = SP_BUF_INIT;
			imap_datetime_format(&b, (time_t)t, offsets[k]);
			time_t t2 = 0;
			int off2 = 0;
			int rc = imap_datetime_parse((struct sp_slice){b.data + 1, b.len - 2}, &t2,
			                             &off2);
			if (rc != 0 || t2 != t || off2 != offsets[k]) {
				fprintf(stderr, "round trip of %lld at %d: %s\n", (long long)t,
				        offsets[k], sp_buf_cstr(&b));
				failures++;
			}
			sp_buf_deinit(&b);
		}
	}
	SP_CHECK_INT(failures, 0);
}

int main(void)
{
	SP_TEST_RUN(test_fetch_parse);
	SP_TEST_RUN(test_fetch_condstore);
	SP_TEST_RUN(test_fetch_parse_direct);
	SP_TEST_RUN(test_fetch_too_many_sections);
	SP_TEST_RUN(test_fetch_format);
	SP_TEST_RUN(test_fetch_unknown_cte);
	SP_TEST_RUN(test_flags_parse);
	SP_TEST_RUN(test_flags_limits);
	SP_TEST_RUN(test_flags_format);
	SP_TEST_RUN(test_datetime);
	SP_TEST_RUN(test_datetime_sweep);
	return sp_test_finish();
}
