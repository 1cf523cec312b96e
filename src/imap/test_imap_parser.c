/* Unit tests for the IMAP command parser: every case runs on the whole
 * input, one byte at a time and in 3-byte pieces, and must give the same
 * events. Also limits, continuation and abort, raw-line mode, the
 * malformed-command file and every corpus message as an APPEND literal. */
#include "imap/imap_parser.h"
#include "lib/sp_str.h"
#include "lib/sp_test.h"

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>

SP_TEST_MAIN_DEFS

static const char *const section_kinds[] = {"BODY", "BODY.PEEK", "BINARY", "BINARY.PEEK",
                                            "BINARY.SIZE"};
static const char *const section_texts[] = {"",     "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT",
                                            "TEXT", "MIME"};

/* Appends bytes with NUL shown as "\\0", so the text stays a C string. */
static void append_escaped(struct sp_buf *out, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == 0)
			sp_buf_append_str(out, "\\0");
		else
			sp_buf_append_byte(out, p[i]);
	}
}

static int run_commands; /* COMMAND events seen by the last run() */

static void dump_arg(const struct imap_arg *a, struct sp_buf *out)
{
	switch (a->type) {
	case IMAP_ARG_ATOM:
	case IMAP_ARG_NIL:
		sp_buf_append(out, a->str.ptr, a->str.len);
		if (a->type == IMAP_ARG_NIL)
			sp_buf_append_str(out, "=nil");
		break;
	case IMAP_ARG_QUOTED:
		sp_buf_append_byte(out, '"');
		sp_buf_append(out, a->str.ptr, a->str.len);
		sp_buf_append_byte(out, '"');
		break;
	case IMAP_ARG_LITERAL:
		sp_buf_printf(out, "%s{%llu%s}", a->literal8 ? "~" : "",
		              (unsigned long long)a->literal_size, a->streamed ? "*" : "");
		append_escaped(out, a->str.ptr, a->str.len);
		break;
	case IMAP_ARG_LIST:
		sp_buf_append_byte(out, '(');
		for (size_t i = 0; i < a->count; i++) {
			if (i > 0)
				sp_buf_append_byte(out, ' ');
			dump_arg(&a->list[i], out);
		}
		sp_buf_append_byte(out, ')');
		break;
	case IMAP_ARG_SECTION: {
		const struct imap_section *s = a->section;
		sp_buf_printf(out, "SEC[%s|", section_kinds[s->kind]);
		for (size_t i = 0; i < s->part_count; i++)
			sp_buf_printf(out, "%s%u", i > 0 ? "." : "", s->parts[i]);
		sp_buf_printf(out, "|%s|", section_texts[s->text]);
		for (size_t i = 0; i < s->field_count; i++) {
			if (i > 0)
				sp_buf_append_byte(out, ',');
			sp_buf_append(out, s->fields[i].ptr, s->fields[i].len);
		}
		if (s->has_partial)
			sp_buf_printf(out, "|<%llu.%llu>", (unsigned long long)s->partial_origin,
			              (unsigned long long)s->partial_size);
		sp_buf_append_byte(out, ']');
		break;
	}
	}
}

static void dump_cmd(const struct imap_command *c, struct sp_buf *out)
{
	sp_buf_printf(out, "%s %s%s", c->tag, c->uid ? "UID " : "", c->name);
	for (size_t i = 0; i < c->arg_count; i++) {
		sp_buf_append_byte(out, ' ');
		dump_arg(&c->args[i], out);
	}
}

struct run_opts {
	size_t step;    /* 0: everything at once */
	bool line_mode; /* raw-line mode from the start */
	int abort_at;   /* abort on the n-th CONTINUE/BEGIN (1-based), 0: never */
};

/* Feeds in, records the events as text separated by '|'. LITERAL_DATA
 * chunks are merged, since their sizes depend on the feeding. */
static void run(struct imap_parser *p, const uint8_t *in, size_t len, const struct run_opts *o,
                struct sp_buf *out)
{
	size_t off = 0;
	int aborts = 0;
	bool in_data = false;
	run_commands = 0;
	if (o->line_mode)
		imap_parser_set_line_mode(p, true);
	while (off < len) {
		size_t n = o->step == 0 ? len - off : SP_MIN(o->step, len - off);
		const uint8_t *d = in + off;
		off += n;
		while (n > 0) {
			struct imap_event ev;
			size_t used;
			int rc = imap_parser_feed(p, d, n, &used, &ev);
			sp_assert(used <= n);
			d += used;
			n -= used;
			if (rc == SP_AGAIN) {
				sp_assert(n == 0);
				break;
			}
			if (ev.type == IMAP_EV_LITERAL_DATA) {
				if (!in_data)
					sp_buf_append_str(out, "DATA:");
				in_data = true;
				append_escaped(out, ev.data.ptr, ev.data.len);
				continue;
			}
			if (in_data)
				sp_buf_append_byte(out, '|');
			in_data = false;
			switch (ev.type) {
			case IMAP_EV_COMMAND:
				run_commands++;
				dump_cmd(ev.cmd, out);
				break;
			case IMAP_EV_CONTINUE:
				sp_buf_printf(out, "+%llu%s", (unsigned long long)ev.literal_size,
				              ev.literal_streamed ? "*" : "");
				if (++aborts == o->abort_at) {
					imap_parser_abort_command(p);
					sp_buf_append_str(out, " ABORT");
				}
				break;
			case IMAP_EV_LITERAL_BEGIN:
				sp_buf_printf(out, "BEGIN%llu:%s:%zu",
				              (unsigned long long)ev.literal_size, ev.cmd->name,
				              ev.cmd->arg_count);
				if (++aborts == o->abort_at) {
					imap_parser_abort_command(p);
					sp_buf_append_str(out, " ABORT");
				}
				break;
			case IMAP_EV_LITERAL_END:
				sp_buf_append_str(out, "END");
				break;
			case IMAP_EV_LINE:
				sp_buf_append_str(out, "LINE:");
				sp_buf_append(out, ev.data.ptr, ev.data.len);
				break;
			case IMAP_EV_ERROR:
				sp_buf_printf(out, "ERR %s %s ", ev.error.tag ? ev.error.tag : "*",
				              ev.error.kind == IMAP_ERROR_BAD ? "BAD" : "NO");
				if (ev.error.code != NULL)
					sp_buf_printf(out, "[%s] ", ev.error.code);
				sp_buf_append_str(out, ev.error.text);
				break;
			case IMAP_EV_LITERAL_DATA:
				break;
			}
			sp_buf_append_byte(out, '|');
		}
	}
	if (in_data)
		sp_buf_append_byte(out, '|');
	/* drop the final separator */
	if (out->len > 0 && out->data[out->len - 1] == '|')
		out->data[--out->len] = 0;
}

/* Runs one case whole, byte by byte and in 3-byte steps; all must match. */
static void check_case(const char *name, const struct imap_parser_limits *limits, const char *in,
                       size_t len, const char *expect, bool line_mode, int abort_at)
{
	static const size_t steps[] = {0, 1, 3};
	for (size_t s = 0; s < SP_N_ELEMENTS(steps); s++) {
		struct imap_parser *p = imap_parser_new(limits);
		struct sp_buf out = SP_BUF_INIT;
		struct run_opts o = {
		    .step = steps[s], .line_mode = line_mode, .abort_at = abort_at};
		run(p, (const uint8_t *)in, len, &o, &out);
		if (strcmp(sp_buf_cstr(&out), expect) != 0) {
			fprintf(stderr, "case %s (step %zu)\n", name, steps[s]);
			SP_CHECK_STR(sp_buf_cstr(&out), expect);
		}
		sp_buf_deinit(&out);
		imap_parser_free(&p);
		SP_CHECK(p == NULL);
	}
}

struct pcase {
	const char *in;
	size_t len; /* for inputs with NULs; 0: strlen(in) */
	const char *expect;
};

static void run_table(const struct pcase *cases, size_t n, const struct imap_parser_limits *l)
{
	for (size_t i = 0; i < n; i++) {
		char name[32];
		snprintf(name, sizeof(name), "#%zu", i);
		size_t len = cases[i].len != 0 ? cases[i].len : strlen(cases[i].in);
		check_case(name, l, cases[i].in, len, cases[i].expect, false, 0);
	}
}

static void test_basic(void)
{
	static const struct pcase cases[] = {
	    {.in = "a1 noop\r\n", .expect = "a1 NOOP"},
	    {.in = "A1 NOOP\n", .expect = "A1 NOOP"},
	    {.in = "\r\n\r\nA1 NOOP\r\nA2 CAPABILITY\r\n", .expect = "A1 NOOP|A2 CAPABILITY"},
	    {.in = "A1 LOGIN alice \"p a\\\"s\\\\s\"\r\n",
	     .expect = "A1 LOGIN alice \"p a\"s\\s\""},
	    {.in = "A1 SELECT NIL\r\n", .expect = "A1 SELECT NIL=nil"},
	    {.in = "A1 SELECT \"\"\r\n", .expect = "A1 SELECT \"\""},
	    {.in = "A1 SELECT [Gmail]/Sent\r\n", .expect = "A1 SELECT [Gmail]/Sent"},
	    {.in = "A1 LIST \"\" %\r\nA2 LIST \"\" INBOX.*\r\n",
	     .expect = "A1 LIST \"\" %|A2 LIST \"\" INBOX.*"},
	    {.in = "A1 uid fetch 1:*,$ (FLAGS)\r\n", .expect = "A1 UID FETCH 1:*,$ (FLAGS)"},
	    {.in = "A1 STORE 1 +FLAGS.SILENT (\\Seen \\Deleted $Junk)\r\n",
	     .expect = "A1 STORE 1 +FLAGS.SILENT (\\Seen \\Deleted $Junk)"},
	    {.in = "A1 X (()) (a (b (c)))\r\n", .expect = "A1 X (()) (a (b (c)))"},
	    {.in = "A1 ID (\"name\" \"x\" \"version\" NIL)\r\n",
	     .expect = "A1 ID (\"name\" \"x\" \"version\" NIL=nil)"},
	    {.in = "A1 APPEND INBOX (\\Seen) \" 1-Jan-2020 10:00:00 +0000\" {3}\r\nabc\r\n",
	     .expect = "+3*|BEGIN3:APPEND:4|DATA:abc|END|A1 APPEND INBOX (\\Seen) \" 1-Jan-2020 "
	               "10:00:00 +0000\" {3*}"},
	    {.in = "A1 LOGIN {5}\r\nalice {3+}\r\nabc\r\n",
	     .expect = "+5|A1 LOGIN {5}alice {3}abc"},
	    {.in = "A1 LOGIN {0}\r\n {0+}\r\n\r\n", .expect = "+0|A1 LOGIN {0} {0}"},
	    {.in = "A1 X ~{3+}\r\na\0b\r\n", .len = 17, .expect = "A1 X ~{3}a\\0b"},
	    {.in = "A1 X ({2+}\r\nab {1+}\r\nc)\r\n", .expect = "A1 X ({2}ab {1}c)"},
	    {.in = "A1 APPEND {5+}\r\nINBOX {2+}\r\nhi (\\Flagged) {1+}\r\nx\r\n",
	     .expect = "BEGIN2:APPEND:2|DATA:hi|END|BEGIN1:APPEND:4|DATA:x|END|A1 APPEND "
	               "{5}INBOX {2*} (\\Flagged) {1*}"},
	    {.in = "A1 UID EXPUNGE 1:3\r\n", .expect = "A1 UID EXPUNGE 1:3"},
	    {.in = "A1 AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n",
	     .expect = "A1 AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA=="},
	    {.in = "A1 SEARCH CHARSET UTF-8 SUBJECT \"\xc3\xa9t\xc3\xa9\"\r\n",
	     .expect = "A1 SEARCH CHARSET UTF-8 SUBJECT \"\xc3\xa9t\xc3\xa9\""},
	    {.in = "A1 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))\r\n",
	     .expect = "A1 SELECT INBOX (QRESYNC (67890007 20050715194045000 "
	               "41,43:211,214:541))"},
	    {.in = "* NOOP\r\n", .expect = "ERR * BAD Invalid character '*' in tag"},
	    {.in = "+ NOOP\r\nA2 NOOP\r\n",
	     .expect = "ERR * BAD Invalid character '+' in tag|A2 NOOP"},
	};
	run_table(cases, SP_N_ELEMENTS(cases), NULL);
}

static void test_fetch_sections(void)
{
	static const struct pcase cases[] = {
	    {.in = "A1 FETCH 1 BODY[]\r\n", .expect = "A1 FETCH 1 SEC[BODY|||]"},
	    {.in = "A1 FETCH 1 (BODY.PEEK[HEADER.FIELDS (From \"To\" X-A])]<0.10> FLAGS)\r\n",
	     .expect = "A1 FETCH 1 (SEC[BODY.PEEK||HEADER.FIELDS|From,To,X-A]|<0.10>] FLAGS)"},
	    {.in = "A1 UID FETCH 1:* (body[1.2.MIME] BODY[3.HEADER.FIELDS.NOT (A)] "
	           "BODY[2.TEXT] BODY[1.HEADER])\r\n",
	     .expect = "A1 UID FETCH 1:* (SEC[BODY|1.2|MIME|] SEC[BODY|3|HEADER.FIELDS.NOT|A] "
	               "SEC[BODY|2|TEXT|] SEC[BODY|1|HEADER|])"},
	    {.in = "A1 FETCH 1 (BINARY.PEEK[1.2]<5.100> BINARY.SIZE[3] BINARY[])\r\n",
	     .expect = "A1 FETCH 1 (SEC[BINARY.PEEK|1.2|||<5.100>] SEC[BINARY.SIZE|3||] "
	               "SEC[BINARY|||])"},
	    {.in = "A1 FETCH 1 BODY[TEXT]<0.4294967296>\r\n",
	     .expect = "A1 FETCH 1 SEC[BODY||TEXT||<0.4294967296>]"},
	    /* outside FETCH, '[' is an ordinary atom character */
	    {.in = "A1 SELECT BODY[x\r\n", .expect = "A1 SELECT BODY[x"},
	    {.in = "A1 FETCH 1 BODY[MIME]\r\n",
	     .expect = "ERR A1 BAD Invalid section text in BODY section"},
	    {.in = "A1 FETCH 1 BODY[HEADER.FIELDS ()]\r\n",
	     .expect = "ERR A1 BAD Invalid header field name in section"},
	    {.in = "A1 FETCH 1 BODY[HEADER.FIELDS]\r\n",
	     .expect = "ERR A1 BAD Missing header field list in section"},
	    {.in = "A1 FETCH 1 BODY[1.0]\r\n", .expect = "ERR A1 BAD Invalid section part number"},
	    {.in = "A1 FETCH 1 BODY[1.]\r\n", .expect = "ERR A1 BAD Invalid section part"},
	    {.in = "A1 FETCH 1 BINARY[TEXT]\r\n",
	     .expect = "ERR A1 BAD Invalid section text in BINARY section"},
	    {.in = "A1 FETCH 1 BODY[TEXT]<0.0>\r\n",
	     .expect = "ERR A1 BAD Invalid partial <origin.size>"},
	    {.in = "A1 FETCH 1 BODY[TEXT]<1>\r\n",
	     .expect = "ERR A1 BAD Invalid partial <origin.size>"},
	    {.in = "A1 FETCH 1 BINARY.SIZE[1]<0.5>\r\n",
	     .expect = "ERR A1 BAD BINARY.SIZE takes no partial"},
	    {.in = "A1 FETCH 1 BODY[TEXT]x\r\n",
	     .expect = "ERR A1 BAD Unexpected 'x' after section"},
	    {.in = "A1 FETCH 1 BODY[TEXT\r\n", .expect = "ERR A1 BAD Missing ']' after section"},
	    /* header-fld-name is an astring: literals inside the field list */
	    {.in = "A1 FETCH 1 (BODY.PEEK[HEADER.FIELDS (From {7}\r\nSubject To)]<0.9> "
	           "FLAGS)\r\n",
	     .expect = "+7|A1 FETCH 1 (SEC[BODY.PEEK||HEADER.FIELDS|From,Subject,To|<0.9>] FLAGS)"},
	    {.in = "A1 FETCH 1:2 BODY[1.HEADER.FIELDS.NOT ({2+}\r\nX1 {4}\r\nX\"2\\)] UID\r\n",
	     .expect = "+4|A1 FETCH 1:2 SEC[BODY|1|HEADER.FIELDS.NOT|X1,X\"2\\] UID"},
	    {.in = "A1 FETCH 1 (BODY[HEADER.FIELDS ({4}\r\nDate)] BODY[HEADER.FIELDS "
	           "({2}\r\nCc)])\r\n",
	     .expect =
	         "+4|+2|A1 FETCH 1 (SEC[BODY||HEADER.FIELDS|Date] SEC[BODY||HEADER.FIELDS|Cc])"},
	    {.in = "A1 FETCH 1 BODY[HEADER.FIELDS ({0}\r\n)]\r\nA2 NOOP\r\n",
	     .expect = "+0|ERR A1 BAD Invalid header field name literal in section|A2 NOOP"},
	    {.in = "A1 FETCH 1 BODY[HEADER.FIELDS ({3+}\r\na\r\n)]\r\nA2 NOOP\r\n",
	     .expect = "ERR A1 BAD Invalid header field name literal in section|A2 NOOP"},
	    {.in = "A1 FETCH 1 BODY[HEADER.FIELDS ({1+}\r\nA]\r\nA2 NOOP\r\n",
	     .expect = "ERR A1 BAD Invalid header field list in section|A2 NOOP"},
	    {.in = "A1 FETCH 1 BODY[HEADER.FIELDS ({1+}\r\nA)\r\nA2 NOOP\r\n",
	     .expect = "ERR A1 BAD Missing ']' after section|A2 NOOP"},
	    {.in = "A1 FETCH 1 BODY[HEADER.FIELDS ({1+}\r\nA)]x\r\nA2 NOOP\r\n",
	     .expect = "ERR A1 BAD Unexpected 'x' after section|A2 NOOP"},
	    {.in = "A1 FETCH 1 BODY[HEADER.FIELDS ({1+} A)]\r\nA2 NOOP\r\n",
	     .expect = "ERR A1 BAD Literal size must be followed by CRLF|A2 NOOP"},
	};
	run_table(cases, SP_N_ELEMENTS(cases), NULL);
}

static void test_errors_resync(void)
{
	static const struct pcase cases[] = {
	    {.in = "A1\r\nA2 NOOP\r\n", .expect = "ERR A1 BAD Missing command name|A2 NOOP"},
	    {.in = " NOOP\r\nA2 NOOP\r\n", .expect = "ERR * BAD Missing tag|A2 NOOP"},
	    {.in = "A1 UID\r\nA2 NOOP\r\n",
	     .expect = "ERR A1 BAD Missing command after UID|A2 NOOP"},
	    {.in = "A1 NOOP \r\nA2 NOOP\r\n",
	     .expect = "ERR A1 BAD Unexpected space at end of line|A2 NOOP"},
	    {.in = "A1 X a  b\r\nA2 NOOP\r\n",
	     .expect = "ERR A1 BAD Double space between arguments|A2 NOOP"},
	    {.in = "A1 X ( a)\r\n", .expect = "ERR A1 BAD Unexpected space after '('"},
	    {.in = "A1 X (a )\r\n", .expect = "ERR A1 BAD Unexpected space before ')'"},
	    {.in = "A1 X (a\r\nA2 NOOP\r\n",
	     .expect = "ERR A1 BAD Missing ')' at end of line|A2 NOOP"},
	    {.in = "A1 X a)\r\n", .expect = "ERR A1 BAD Unexpected ')'"},
	    {.in = "A1 X a(b)\r\n", .expect = "ERR A1 BAD Missing space before '('"},
	    {.in = "A1 X (a)b\r\n", .expect = "ERR A1 BAD Missing space before 'b'"},
	    {.in = "A1 X \"abc\r\nA2 NOOP\r\n",
	     .expect = "ERR A1 BAD Unterminated quoted string|A2 NOOP"},
	    {.in = "A1 X \"a\\b\"\r\n",
	     .expect = "ERR A1 BAD Invalid escape in quoted string (only \\\\ and \\\")"},
	    {.in = "A1 X \"a\"b\r\n", .expect = "ERR A1 BAD Missing space after quoted string"},
	    {.in = "A1 X a\"b\r\n", .expect = "ERR A1 BAD Invalid character '\"' in atom"},
	    {.in = "A1 X a\x01\r\n", .expect = "ERR A1 BAD Invalid character 0x01 in atom"},
	    {.in = "A1 X \xc3\xa9\r\n",
	     .expect = "ERR A1 BAD 8-bit octet in atom; use a quoted string or literal"},
	    {.in = "A1 X \\\r\n", .expect = "ERR A1 BAD Invalid flag: '\\' without a name"},
	    {.in = "A1 X {}\r\n",
	     .expect = "ERR A1 BAD Invalid literal: expected a size in braces"},
	    {.in = "A1 X {5-}\r\nhello\r\nA2 NOOP\r\n",
	     .expect = "ERR A1 BAD Invalid literal: expected a size in braces|ERR hello BAD "
	               "Missing command name|A2 NOOP"},
	    {.in = "A1 X {3}abc\r\n", .expect = "ERR A1 BAD Literal size must be followed by CRLF"},
	    {.in = "A1 X {99999999999999999999}\r\n",
	     .expect = "ERR A1 BAD Literal size out of range"},
	    /* an error on a line that announced {n+}: its octets are skipped */
	    {.in = "A1 X a  {5+}\r\nA9 Y\r\n\r\nA2 NOOP\r\n",
	     .expect = "ERR A1 BAD Double space between arguments|A2 NOOP"},
	    /* ...even when they contain another literal announcement */
	    {.in = "A1 X a  {6+}\r\n{3+}\r\n\r\nA2 NOOP\r\n",
	     .expect = "ERR A1 BAD Double space between arguments|A2 NOOP"},
	    /* a synchronizing literal in a bad command is never sent */
	    {.in = "A1 X a  {5}\r\nA2 NOOP\r\n",
	     .expect = "ERR A1 BAD Double space between arguments|A2 NOOP"},
	    {.in = "A1 X {3+}\r\na\0b\r\nA2 NOOP\r\n",
	     .len = 25,
	     .expect = "ERR A1 BAD NUL octet in literal; send it as a literal8 (RFC 3516)|A2 NOOP"},
	    {.in = "A1 APPEND INBOX {3+}\r\na\0b more\r\nA2 NOOP\r\n",
	     .len = 41,
	     .expect = "BEGIN3:APPEND:2|DATA:a\\0b|END|ERR A1 BAD NUL octet in literal; send it "
	               "as a literal8 (RFC 3516)|A2 NOOP"},
	    {.in = "A1 LOGIN {3+}\r\nabcdef\r\nA2 NOOP\r\n",
	     .expect = "ERR A1 BAD Missing space before 'd'|A2 NOOP"},
	    {.in = "A1 {3}\r\nA2 NOOP\r\n",
	     .expect = "ERR A1 BAD Invalid character '{' in command name|A2 NOOP"},
	    {.in = "A1 NO\"OP\r\n", .expect = "ERR A1 BAD Invalid character '\"' in command name"},
	    {.in = "A\"1 NOOP\r\nA2 NOOP\r\n",
	     .expect = "ERR * BAD Invalid character '\"' in tag|A2 NOOP"},
	    {.in = "A1 X a\rb\r\n", .expect = "ERR A1 BAD Invalid character 0x0d in atom"},
	};
	run_table(cases, SP_N_ELEMENTS(cases), NULL);
}

static void test_limits(void)
{
	struct imap_parser_limits l;
	imap_parser_limits_default(&l);
	l.max_line = 40;
	l.max_literal = 100;
	l.max_nonsync_literal = 10; /* LITERAL- style */
	l.inline_literal_max = 8;
	l.max_inline_total = 12;
	l.max_depth = 3;
	l.max_args = 6;
	static const struct pcase cases[] = {
	    {.in = "A1 X 0123456789012345678901234567890123456789\r\nA2 NOOP\r\n",
	     .expect = "ERR A1 BAD Command line too long (limit 40)|A2 NOOP"},
	    /* the limit counts all the text of a command, not literals */
	    {.in =
	         "A1 X {20}\r\n01234567890123456789 abcdefghijklmnopqrstuvwxyz0123\r\nA2 NOOP\r\n",
	     .expect = "+20*|BEGIN20:X:1|DATA:01234567890123456789|END|ERR A1 BAD Command line too "
	               "long (limit 40)|A2 NOOP"},
	    {.in = "0123456789012345678901234567890123456789012345678\r\nA2 NOOP\r\n",
	     .expect = "ERR * BAD Command line too long (limit 40)|A2 NOOP"},
	    /* a too-long line ending in {n+}: the literal is skipped too */
	    {.in = "A1 X 0123456789012345678901234567890123456789 {4+}\r\nabcd\r\nA2 NOOP\r\n",
	     .expect = "ERR A1 BAD Command line too long (limit 40)|A2 NOOP"},
	    {.in = "A1 X {101}\r\nA2 NOOP\r\n",
	     .expect = "ERR A1 BAD [TOOBIG] Literal of 101 octets too big (limit 100)|A2 NOOP"},
	    {.in = "A1 APPEND INBOX {101}\r\nA2 NOOP\r\n",
	     .expect = "ERR A1 NO [TOOBIG] Literal of 101 octets too big (limit 100)|A2 NOOP"},
	    {.in = "A1 X {11+}\r\n01234567890\r\nA2 NOOP\r\n",
	     .expect = "ERR A1 BAD [TOOBIG] Non-synchronizing literal too big (limit 10); use a "
	               "synchronizing literal|A2 NOOP"},
	    {.in = "A1 X {101+}\r\nA2 NOOP\r\n",
	     .expect = "ERR A1 BAD [TOOBIG] Literal of 101 octets too big (limit 100)"},
	    {.in = "A1 X {9}\r\n012345678\r\n",
	     .expect = "+9*|BEGIN9:X:1|DATA:012345678|END|A1 X {9*}"},
	    {.in = "A1 X {8+}\r\n01234567 {5+}\r\nabcde {4+}\r\nwxyz\r\n",
	     .expect = "BEGIN5:X:2|DATA:abcde|END|A1 X {8}01234567 {5*} {4}wxyz"},
	    {.in = "A1 X (((a)))\r\n", .expect = "A1 X (((a)))"},
	    {.in = "A1 X ((((a))))\r\nA2 NOOP\r\n",
	     .expect = "ERR A1 BAD Parentheses nested too deeply (limit 3)|A2 NOOP"},
	    {.in = "A1 X a b c d e f\r\n", .expect = "A1 X a b c d e f"},
	    {.in = "A1 X a b c d e f g\r\n", .expect = "ERR A1 BAD Too many arguments (limit 6)"},
	    /* a literal that is one argument too many is skipped */
	    {.in = "A1 X a b c d e f {3+}\r\nabc\r\nA2 NOOP\r\n",
	     .expect = "ERR A1 BAD Too many arguments (limit 6)|A2 NOOP"},
	    {.in = "A1 X (a b) (c d) e\r\n", .expect = "ERR A1 BAD Too many arguments (limit 6)"},
	};
	run_table(cases, SP_N_ELEMENTS(cases), &l);
}

static void test_continue_abort(void)
{
	/* abort at CONTINUE: the client never sends the literal */
	const char *in = "A1 APPEND Nope {5}\r\nA2 NOOP\r\n";
	check_case("abort-sync", NULL, in, strlen(in), "+5* ABORT|A2 NOOP", false, 1);
	/* abort at BEGIN of a non-synchronizing literal: octets skipped */
	in = "A1 APPEND Nope {5+}\r\nhello (\\Seen) {2+}\r\nhi\r\nA2 NOOP\r\n";
	check_case("abort-nonsync", NULL, in, strlen(in), "BEGIN5:APPEND:2 ABORT|A2 NOOP", false,
	           1);
	/* abort at the second message of a MULTIAPPEND */
	in = "A1 APPEND Box {2+}\r\nhi {3}\r\nA2 NOOP\r\n";
	check_case("abort-multi", NULL, in, strlen(in),
	           "BEGIN2:APPEND:2|DATA:hi|END|+3* ABORT|A2 NOOP", false, 2);
	/* abort at BEGIN after "+" was sent: the octets come and are skipped */
	in = "A1 APPEND Box {3}\r\nabc\r\nA2 NOOP\r\n";
	check_case("abort-after-plus", NULL, in, strlen(in), "+3*|BEGIN3:APPEND:2 ABORT|A2 NOOP",
	           false, 2);
}

static void test_line_mode(void)
{
	const char *in = "DONE\r\n";
	check_case("done", NULL, in, strlen(in), "LINE:DONE", true, 0);
	in = "AGFsaWNlAHNlY3JldA==\r\n*\n\r\n";
	check_case("auth", NULL, in, strlen(in), "LINE:AGFsaWNlAHNlY3JldA==|LINE:*|LINE:", true, 0);
	struct imap_parser_limits l;
	imap_parser_limits_default(&l);
	l.max_line = 16;
	in = "0123456789abcdefXYZ\r\nDONE\r\n";
	check_case("raw-long", &l, in, strlen(in), "ERR * BAD Line too long (limit 16)|LINE:DONE",
	           true, 0);

	/* switching back: IDLE, DONE, next command in one packet */
	struct imap_parser *p = imap_parser_new(NULL);
	const uint8_t *d = (const uint8_t *)"A1 IDLE\r\nDONE\r\nA2 NOOP\r\n";
	size_t n = strlen((const char *)d), used;
	struct imap_event ev;
	SP_CHECK(imap_parser_is_idle(p));
	SP_CHECK_INT(imap_parser_feed(p, d, n, &used, &ev), 0);
	SP_CHECK_INT(ev.type, IMAP_EV_COMMAND);
	SP_CHECK_STR(ev.cmd->name, "IDLE");
	SP_CHECK(imap_parser_is_idle(p));
	imap_parser_set_line_mode(p, true);
	d += used, n -= used;
	SP_CHECK_INT(imap_parser_feed(p, d, n, &used, &ev), 0);
	SP_CHECK_INT(ev.type, IMAP_EV_LINE);
	SP_CHECK(sp_slice_eq_str(ev.data, "DONE"));
	imap_parser_set_line_mode(p, false);
	d += used, n -= used;
	SP_CHECK_INT(imap_parser_feed(p, d, n, &used, &ev), 0);
	SP_CHECK_INT(ev.type, IMAP_EV_COMMAND);
	SP_CHECK_STR(ev.cmd->tag, "A2");
	SP_CHECK_INT(used, n);
	SP_CHECK_INT(imap_parser_feed(p, d + used, 0, &used, &ev), SP_AGAIN);
	/* leaving raw-line mode while the rest of a too-long line is skipped */
	imap_parser_free(&p);
	p = imap_parser_new(&l);
	imap_parser_set_line_mode(p, true);
	SP_CHECK_INT(imap_parser_feed(p, (const uint8_t *)"0123456789abcdefXYZ", 19, &used, &ev),
	             0);
	SP_CHECK_INT(ev.type, IMAP_EV_ERROR);
	SP_CHECK(ev.error.tag == NULL);
	imap_parser_set_line_mode(p, false);
	d = (const uint8_t *)"XYZ more\r\nA1 NOOP\r\n";
	n = strlen((const char *)d);
	d += used - 16, n -= used - 16; /* what the error event left unconsumed */
	SP_CHECK_INT(used, 16);
	SP_CHECK_INT(imap_parser_feed(p, d, n, &used, &ev), 0);
	SP_CHECK_INT(ev.type, IMAP_EV_COMMAND);
	SP_CHECK_STR(ev.cmd->tag, "A1");
	/* half a command is not idle */
	SP_CHECK_INT(imap_parser_feed(p, (const uint8_t *)"A3 NO", 5, &used, &ev), SP_AGAIN);
	SP_CHECK(!imap_parser_is_idle(p));
	imap_parser_free(&p);
}

/* A huge literal is passed through without being buffered: 200 MiB
 * announced with a 300 MiB max, fed in 64 KiB pieces. */
static void test_streaming_large(void)
{
	struct imap_parser_limits l;
	imap_parser_limits_default(&l);
	l.max_literal = 300ULL * 1024 * 1024;
	l.max_nonsync_literal = l.max_literal;
	struct imap_parser *p = imap_parser_new(&l);
	const char *head = "A1 APPEND INBOX {209715200+}\r\n";
	struct imap_event ev;
	size_t used;
	SP_CHECK_INT(imap_parser_feed(p, (const uint8_t *)head, strlen(head), &used, &ev), 0);
	SP_CHECK_INT(ev.type, IMAP_EV_LITERAL_BEGIN);
	static uint8_t chunk[65536];
	memset(chunk, 'x', sizeof(chunk));
	uint64_t total = 0;
	int begins = 0;
	for (int i = 0; i < 3200; i++) {
		const uint8_t *d = chunk;
		size_t n = sizeof(chunk);
		while (n > 0) {
			int rc = imap_parser_feed(p, d, n, &used, &ev);
			d += used, n -= used;
			if (rc == SP_AGAIN)
				break;
			if (ev.type == IMAP_EV_LITERAL_DATA) {
				/* zero copy: the chunk is the caller's memory */
				SP_CHECK(ev.data.ptr >= chunk &&
				         ev.data.ptr < chunk + sizeof(chunk));
				total += ev.data.len;
			} else {
				begins++;
			}
		}
	}
	SP_CHECK(total == 209715200ULL);
	SP_CHECK_INT(begins, 0);
	SP_CHECK_INT(imap_parser_feed(p, (const uint8_t *)"\r\n", 2, &used, &ev), 0);
	SP_CHECK_INT(ev.type, IMAP_EV_LITERAL_END);
	SP_CHECK_INT(imap_parser_feed(p, (const uint8_t *)"\r\n", 2, &used, &ev), 0);
	SP_CHECK_INT(ev.type, IMAP_EV_COMMAND);
	SP_CHECK(ev.cmd->args[1].streamed && ev.cmd->args[1].literal_size == 209715200ULL);
	imap_parser_free(&p);
}

/* "\xHH" escapes in the malformed-command file (for CTLs, NUL, 8-bit). */
static size_t unescape(const char *s, size_t n, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		if (s[i] == '\\' && i + 3 < n && s[i + 1] == 'x' && isxdigit((uint8_t)s[i + 2]) &&
		    isxdigit((uint8_t)s[i + 3]) && sscanf(s + i + 2, "%2x", &v) == 1) {
			out[o++] = (char)v;
			i += 3;
		} else {
			out[o++] = s[i];
		}
	}
	return o;
}

static void test_malformed_file(void)
{
	const char *src = getenv("SP_SRC");
	SP_CHECK(src != NULL);
	if (src == NULL)
		return;
	char path[4096];
	snprintf(path, sizeof(path), "%s/src/imap/testdata/malformed.txt", src);
	FILE *f = fopen(path, "r");
	SP_CHECK(f != NULL);
	if (f == NULL)
		return;
	char *line = NULL;
	size_t cap = 0;
	ssize_t got;
	int count = 0;
	while ((got = getline(&line, &cap, f)) >= 0) {
		size_t n = (size_t)got;
		char *buf = sp_malloc(n + 16);
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			n--;
		count++;
		size_t bn = unescape(line, n, buf);
		memcpy(buf + bn, "\r\nZ9 NOOP\r\n", 11);
		bn += 11;
		static const size_t steps[] = {0, 1};
		for (size_t s = 0; s < 2; s++) {
			struct imap_parser *p = imap_parser_new(NULL);
			struct sp_buf out = SP_BUF_INIT;
			struct run_opts o = {.step = steps[s]};
			run(p, (const uint8_t *)buf, bn, &o, &out);
			const char *r = sp_buf_cstr(&out);
			size_t rl = strlen(r);
			bool ok = strstr(r, "ERR ") != NULL && rl >= 7 &&
			          strcmp(r + rl - 7, "Z9 NOOP") == 0;
			/* the bad command must not also come out as a command */
			ok = ok && run_commands == 1;
			if (s == 0 && getenv("SP_IMAP_VERBOSE") != NULL)
				printf("%d: %.60s\n    -> %.200s\n", count, buf, r);
			if (!ok) {
				fprintf(stderr, "malformed line %d: %.*s\n  events: %.300s\n",
				        count, (int)SP_MIN(n, (size_t)200), line, r);
				SP_CHECK(ok);
			}
			sp_buf_deinit(&out);
			imap_parser_free(&p);
		}
		free(buf);
	}
	free(line);
	fclose(f);
	SP_CHECK(count >= 200);
}

/* Every corpus message as an APPEND literal (literal8 when it has NULs)
 * streams through byte-exact, fed whole and one byte at a time; as a plain
 * literal a message with NULs is refused with BAD and the next command still parses. */
static void test_corpus_append(void)
{
	const char *dir = getenv("SP_CORPUS");
	SP_CHECK(dir != NULL);
	if (dir == NULL)
		return;
	DIR *d = opendir(dir);
	SP_CHECK(d != NULL);
	if (d == NULL)
		return;
	struct dirent *de;
	int files = 0, with_nul = 0;
	while ((de = readdir(d)) != NULL) {
		size_t nl = strlen(de->d_name);
		if (nl < 5 || strcmp(de->d_name + nl - 4, ".eml") != 0)
			continue;
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		FILE *f = fopen(path, "rb");
		SP_CHECK(f != NULL);
		if (f == NULL)
			continue;
		struct sp_buf msg = SP_BUF_INIT, in = SP_BUF_INIT, expect = SP_BUF_INIT;
		uint8_t tmp[65536];
		size_t r;
		while ((r = fread(tmp, 1, sizeof(tmp), f)) > 0)
			sp_buf_append(&msg, tmp, r);
		fclose(f);
		bool nul = memchr(msg.data, 0, msg.len) != NULL;
		with_nul += nul;
		files++;
		sp_buf_printf(&in,
		              "A1 APPEND INBOX (\\Seen) \"1-Jan-2020 00:00:00 +0000\" %s{%zu}\r\n",
		              nul ? "~" : "", msg.len);
		sp_buf_append(&in, msg.data, msg.len);
		sp_buf_append_str(&in, "\r\nA2 NOOP\r\n");
		sp_buf_printf(&expect, "+%zu*|BEGIN%zu:APPEND:4|DATA:", msg.len, msg.len);
		append_escaped(&expect, msg.data, msg.len);
		sp_buf_printf(&expect,
		              "|END|A1 APPEND INBOX (\\Seen) \"1-Jan-2020 00:00:00 +0000\" "
		              "%s{%zu*}|A2 NOOP",
		              nul ? "~" : "", msg.len);
		static const size_t steps[] = {0, 1, 4096};
		for (size_t s = 0; s < SP_N_ELEMENTS(steps); s++) {
			struct imap_parser *p = imap_parser_new(NULL);
			struct sp_buf out = SP_BUF_INIT;
			struct run_opts o = {.step = steps[s]};
			run(p, in.data, in.len, &o, &out);
			if (out.len != expect.len || memcmp(out.data, expect.data, out.len) != 0) {
				fprintf(stderr, "corpus %s step %zu differs\n", de->d_name,
				        steps[s]);
				SP_CHECK(false);
			}
			sp_buf_deinit(&out);
			imap_parser_free(&p);
		}
		if (nul) {
			sp_buf_reset(&in);
			sp_buf_printf(&in, "A1 APPEND INBOX {%zu+}\r\n", msg.len);
			sp_buf_append(&in, msg.data, msg.len);
			sp_buf_append_str(&in, "\r\nA2 NOOP\r\n");
			struct imap_parser *p = imap_parser_new(NULL);
			struct sp_buf out = SP_BUF_INIT;
			struct run_opts o = {.step = 0};
			run(p, in.data, in.len, &o, &out);
			const char *tail = "|END|ERR A1 BAD NUL octet in literal; send it as a "
			                   "literal8 (RFC 3516)|A2 NOOP";
			SP_CHECK(out.len > strlen(tail) && memcmp(out.data + out.len - strlen(tail),
			                                          tail, strlen(tail)) == 0);
			sp_buf_deinit(&out);
			imap_parser_free(&p);
		}
		sp_buf_deinit(&msg);
		sp_buf_deinit(&in);
		sp_buf_deinit(&expect);
	}
	closedir(d);
	SP_CHECK(files >= 397);
	printf("corpus: %d messages (%d with NUL) appended\n", files, with_nul);
}

static void test_arg_helpers(void)
{
	struct imap_parser *p = imap_parser_new(NULL);
	const char *in = "A1 X atom \"q\" {1+}\r\nl NIL (a) \\Seen\r\n";
	const uint8_t *d = (const uint8_t *)in;
	size_t n = strlen(in), used;
	struct imap_event ev;
	while (imap_parser_feed(p, d, n, &used, &ev) == 0 && ev.type != IMAP_EV_COMMAND)
		d += used, n -= used;
	SP_CHECK_INT(ev.type, IMAP_EV_COMMAND);
	SP_CHECK_INT(ev.cmd->arg_count, 6);
	const struct imap_arg *a = ev.cmd->args;
	struct sp_slice s;
	SP_CHECK(imap_arg_get_astring(&a[0], &s) && sp_slice_eq_str(s, "atom"));
	SP_CHECK(!imap_arg_get_string(&a[0], &s));
	SP_CHECK(imap_arg_get_string(&a[1], &s) && sp_slice_eq_str(s, "q"));
	SP_CHECK(imap_arg_get_string(&a[2], &s) && sp_slice_eq_str(s, "l"));
	SP_CHECK(imap_arg_get_astring(&a[3], &s) && sp_slice_eq_str(s, "NIL"));
	SP_CHECK(!imap_arg_get_astring(&a[4], &s));
	SP_CHECK(imap_arg_atom_equals(&a[5], "\\SEEN"));
	SP_CHECK(!imap_arg_atom_equals(&a[1], "q"));
	imap_parser_free(&p);
	imap_parser_free(&p); /* NULL is fine */
}

int main(void)
{
	SP_TEST_RUN(test_basic);
	SP_TEST_RUN(test_fetch_sections);
	SP_TEST_RUN(test_errors_resync);
	SP_TEST_RUN(test_limits);
	SP_TEST_RUN(test_continue_abort);
	SP_TEST_RUN(test_line_mode);
	SP_TEST_RUN(test_streaming_large);
	SP_TEST_RUN(test_arg_helpers);
	SP_TEST_RUN(test_malformed_file);
	SP_TEST_RUN(test_corpus_append);
	return sp_test_finish();
}
