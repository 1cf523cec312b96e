/* Unit tests for the SEARCH parser: every key of RFC 3501/9051 §6.4.4 and
 * of the extensions, RETURN and CHARSET, and precise errors. Each command
 * goes through the command parser first, fed whole and one byte at a time,
 * and both trees must give the same program. */
#include "imap/imap_search_parse.h"
#include "lib/sp_test.h"

SP_TEST_MAIN_DEFS

static const char *const key_names[] = {
    [IMAP_SEARCH_ALL] = "all",
    [IMAP_SEARCH_ANSWERED] = "answered",
    [IMAP_SEARCH_DELETED] = "deleted",
    [IMAP_SEARCH_DRAFT] = "draft",
    [IMAP_SEARCH_FLAGGED] = "flagged",
    [IMAP_SEARCH_NEW] = "new",
    [IMAP_SEARCH_OLD] = "old",
    [IMAP_SEARCH_RECENT] = "recent",
    [IMAP_SEARCH_SEEN] = "seen",
    [IMAP_SEARCH_UNANSWERED] = "unanswered",
    [IMAP_SEARCH_UNDELETED] = "undeleted",
    [IMAP_SEARCH_UNDRAFT] = "undraft",
    [IMAP_SEARCH_UNFLAGGED] = "unflagged",
    [IMAP_SEARCH_UNSEEN] = "unseen",
    [IMAP_SEARCH_SAVEDATESUPPORTED] = "savedatesupported",
    [IMAP_SEARCH_BCC] = "bcc",
    [IMAP_SEARCH_BODY] = "body",
    [IMAP_SEARCH_CC] = "cc",
    [IMAP_SEARCH_FROM] = "from",
    [IMAP_SEARCH_SUBJECT] = "subject",
    [IMAP_SEARCH_TEXT] = "text",
    [IMAP_SEARCH_TO] = "to",
    [IMAP_SEARCH_HEADER] = "header",
    [IMAP_SEARCH_KEYWORD] = "keyword",
    [IMAP_SEARCH_UNKEYWORD] = "unkeyword",
    [IMAP_SEARCH_BEFORE] = "before",
    [IMAP_SEARCH_ON] = "on",
    [IMAP_SEARCH_SINCE] = "since",
    [IMAP_SEARCH_SENTBEFORE] = "sentbefore",
    [IMAP_SEARCH_SENTON] = "senton",
    [IMAP_SEARCH_SENTSINCE] = "sentsince",
    [IMAP_SEARCH_SAVEDBEFORE] = "savedbefore",
    [IMAP_SEARCH_SAVEDON] = "savedon",
    [IMAP_SEARCH_SAVEDSINCE] = "savedsince",
    [IMAP_SEARCH_LARGER] = "larger",
    [IMAP_SEARCH_SMALLER] = "smaller",
    [IMAP_SEARCH_OLDER] = "older",
    [IMAP_SEARCH_YOUNGER] = "younger",
    [IMAP_SEARCH_MODSEQ] = "modseq",
    [IMAP_SEARCH_SEQSET] = "set",
    [IMAP_SEARCH_UID] = "uid",
    [IMAP_SEARCH_EMAILID] = "emailid",
    [IMAP_SEARCH_THREADID] = "threadid",
    [IMAP_SEARCH_REGEX] = "regex",
    [IMAP_SEARCH_AND] = "and",
    [IMAP_SEARCH_OR] = "or",
    [IMAP_SEARCH_NOT] = "not",
};
static const char *const regex_fields[] = {"subject", "from", "to",   "cc",
                                           "bcc",     "body", "text", "header"};
static const char *const modseq_types[] = {"all", "priv", "shared"};

static void dump_key(const struct imap_search_key *k, struct sp_buf *out)
{
	const char *name = key_names[k->type];
	switch (k->type) {
	case IMAP_SEARCH_AND:
	case IMAP_SEARCH_OR:
	case IMAP_SEARCH_NOT:
		sp_buf_printf(out, "(%s", name);
		for (size_t i = 0; i < k->count; i++) {
			sp_buf_append_byte(out, ' ');
			dump_key(&k->children[i], out);
		}
		sp_buf_append_byte(out, ')');
		return;
	case IMAP_SEARCH_BCC:
	case IMAP_SEARCH_BODY:
	case IMAP_SEARCH_CC:
	case IMAP_SEARCH_FROM:
	case IMAP_SEARCH_SUBJECT:
	case IMAP_SEARCH_TEXT:
	case IMAP_SEARCH_TO:
		sp_buf_printf(out, "%s \"%s\"", name, (const char *)k->str.ptr);
		return;
	case IMAP_SEARCH_HEADER:
		sp_buf_printf(out, "header %s \"%s\"", (const char *)k->header.ptr,
		              (const char *)k->str.ptr);
		return;
	case IMAP_SEARCH_KEYWORD:
	case IMAP_SEARCH_UNKEYWORD:
	case IMAP_SEARCH_SEQSET:
	case IMAP_SEARCH_UID:
	case IMAP_SEARCH_EMAILID:
	case IMAP_SEARCH_THREADID:
		sp_buf_printf(out, "%s %s%s", name, (const char *)k->str.ptr,
		              k->saved ? "(saved)" : "");
		return;
	case IMAP_SEARCH_BEFORE:
	case IMAP_SEARCH_ON:
	case IMAP_SEARCH_SINCE:
	case IMAP_SEARCH_SENTBEFORE:
	case IMAP_SEARCH_SENTON:
	case IMAP_SEARCH_SENTSINCE:
	case IMAP_SEARCH_SAVEDBEFORE:
	case IMAP_SEARCH_SAVEDON:
	case IMAP_SEARCH_SAVEDSINCE:
		sp_buf_printf(out, "%s %04u-%02u-%02u", name, k->date.year, k->date.month,
		              k->date.day);
		return;
	case IMAP_SEARCH_MODSEQ:
		sp_buf_append_str(out, "modseq ");
		if (k->has_entry)
			sp_buf_printf(out, "%s %s ", (const char *)k->modseq_entry.ptr,
			              modseq_types[k->modseq_type]);
		sp_buf_printf(out, "%llu", (unsigned long long)k->number);
		return;
	case IMAP_SEARCH_LARGER:
	case IMAP_SEARCH_SMALLER:
	case IMAP_SEARCH_OLDER:
	case IMAP_SEARCH_YOUNGER:
		sp_buf_printf(out, "%s %llu", name, (unsigned long long)k->number);
		return;
	case IMAP_SEARCH_REGEX:
		sp_buf_printf(out, "regex %s ", regex_fields[k->regex_field]);
		if (k->regex_field == IMAP_REGEX_HEADER)
			sp_buf_printf(out, "%s ", (const char *)k->header.ptr);
		sp_buf_printf(out, "/%s/", (const char *)k->str.ptr);
		return;
	default:
		sp_buf_append_str(out, name);
		return;
	}
}

static void dump_program(const struct imap_search_program *p, struct sp_buf *out)
{
	if (p->charset != NULL)
		sp_buf_printf(out, "charset=%s%s ", p->charset, p->utf8 ? "(utf8)" : "");
	if (p->has_return) {
		static const char *const opts[] = {"min", "max", "count", "all", "save"};
		sp_buf_append_str(out, "return=");
		for (unsigned i = 0; i < 5; i++) {
			if ((p->return_opts & (1u << i)) != 0)
				sp_buf_printf(out, "%s,", opts[i]);
		}
		sp_buf_append_byte(out, ' ');
	}
	if (p->uses_modseq)
		sp_buf_append_str(out, "modseq! ");
	dump_key(p->root, out);
}

/* Parses "SEARCH args" as a client command fed with the given step, then
 * the program; returns its dump or "ERR BAD|NO [code] text". */
static void search(const char *args, size_t step, unsigned depth, struct sp_buf *out)
{
	struct imap_parser *p = imap_parser_new(NULL);
	struct sp_arena *arena = sp_arena_new(1024);
	struct sp_buf in = SP_BUF_INIT;
	sp_buf_printf(&in, "S1 UID SEARCH%s%s\r\n", args[0] != '\0' ? " " : "", args);
	const uint8_t *d = in.data;
	size_t left = in.len;
	bool done = false;
	while (left > 0 && !done) {
		size_t n = step == 0 ? left : SP_MIN(step, left);
		const uint8_t *c = d;
		d += n, left -= n;
		while (n > 0) {
			struct imap_event ev;
			size_t used;
			int rc = imap_parser_feed(p, c, n, &used, &ev);
			c += used, n -= used;
			if (rc == SP_AGAIN)
				break;
			if (ev.type == IMAP_EV_ERROR) {
				sp_buf_printf(out, "PARSER %s", ev.error.text);
				done = true;
				break;
			}
			if (ev.type != IMAP_EV_COMMAND)
				continue;
			struct imap_search_program prog;
			struct imap_error err;
			if (imap_search_parse(ev.cmd->args, ev.cmd->arg_count, arena, depth, &prog,
			                      &err) < 0) {
				sp_buf_printf(out, "ERR %s ",
				              err.kind == IMAP_ERROR_BAD ? "BAD" : "NO");
				if (err.code != NULL)
					sp_buf_printf(out, "[%s] ", err.code);
				sp_buf_append_str(out, err.text);
			} else {
				dump_program(&prog, out);
			}
			done = true;
			break;
		}
	}
	sp_buf_deinit(&in);
	sp_arena_free(&arena);
	imap_parser_free(&p);
}

struct scase {
	const char *in;
	const char *out;
};

static void run_cases(const struct scase *cases, size_t n, unsigned depth)
{
	for (size_t i = 0; i < n; i++) {
		struct sp_buf whole = SP_BUF_INIT, trickle = SP_BUF_INIT;
		search(cases[i].in, 0, depth, &whole);
		search(cases[i].in, 1, depth, &trickle);
		if (strcmp(sp_buf_cstr(&whole), cases[i].out) != 0)
			fprintf(stderr, "case: %s\n", cases[i].in);
		SP_CHECK_STR(sp_buf_cstr(&whole), cases[i].out);
		SP_CHECK_STR(sp_buf_cstr(&trickle), sp_buf_cstr(&whole));
		sp_buf_deinit(&whole);
		sp_buf_deinit(&trickle);
	}
}

static void test_keys(void)
{
	static const struct scase cases[] = {
	    {"ALL", "(and all)"},
	    {"ANSWERED DELETED DRAFT FLAGGED NEW OLD RECENT SEEN",
	     "(and answered deleted draft flagged new old recent seen)"},
	    {"unanswered UNDELETED UNDRAFT UNFLAGGED UNSEEN SAVEDATESUPPORTED",
	     "(and unanswered undeleted undraft unflagged unseen savedatesupported)"},
	    {"BCC a CC \"b c\" FROM {3}\r\nd e SUBJECT \"\" TEXT t TO x@y BODY \"\xc3\xa9\"",
	     "(and bcc \"a\" cc \"b c\" from \"d e\" subject \"\" text \"t\" to \"x@y\" body "
	     "\"\xc3\xa9\")"},
	    {"HEADER Message-ID \"<a@b>\" HEADER X-Spam \"\"",
	     "(and header Message-ID \"<a@b>\" header X-Spam \"\")"},
	    {"KEYWORD $Junk UNKEYWORD NonJunk", "(and keyword $Junk unkeyword NonJunk)"},
	    {"BEFORE 1-Feb-1994 ON \"29-Feb-2000\" SINCE 31-dec-1999",
	     "(and before 1994-02-01 on 2000-02-29 since 1999-12-31)"},
	    {"SENTBEFORE 1-Jan-2020 SENTON 15-Jul-2021 SENTSINCE 01-Mar-2022",
	     "(and sentbefore 2020-01-01 senton 2021-07-15 sentsince 2022-03-01)"},
	    {"SAVEDBEFORE 1-Jan-2020 SAVEDON 2-Jan-2020 SAVEDSINCE 3-Jan-2020",
	     "(and savedbefore 2020-01-01 savedon 2020-01-02 savedsince 2020-01-03)"},
	    {"LARGER 0 SMALLER 18446744073709551", "(and larger 0 smaller 18446744073709551)"},
	    {"OLDER 3600 YOUNGER 4294967295", "(and older 3600 younger 4294967295)"},
	    {"MODSEQ 620162338", "modseq! (and modseq 620162338)"},
	    {"MODSEQ \"/flags/\\\\draft\" all 620162338",
	     "modseq! (and modseq /flags/\\draft all 620162338)"},
	    {"MODSEQ \"/flags/$Junk\" priv 0 MODSEQ \"/flags/x\" shared 5",
	     "modseq! (and modseq /flags/$Junk priv 0 modseq /flags/x shared 5)"},
	    {"1:3,5 UID 2:* $ UID $", "(and set 1:3,5 uid 2:* set $(saved) uid $(saved))"},
	    {"* 4:*", "(and set * set 4:*)"},
	    {"EMAILID M6d99ac3275bb4e THREADID T64b478a75b7ea9",
	     "(and emailid M6d99ac3275bb4e threadid T64b478a75b7ea9)"},
	    {"NOT SEEN", "(and (not seen))"},
	    {"OR SEEN FLAGGED", "(and (or seen flagged))"},
	    {"OR (FROM a SINCE 1-Jan-2020) NOT (TO b)",
	     "(and (or (and from \"a\" since 2020-01-01) (not (and to \"b\"))))"},
	    {"NOT NOT OR OR A B C D", "ERR BAD Unknown search key 'A'"},
	    {"NOT NOT OR OR SEEN DRAFT DELETED FLAGGED",
	     "(and (not (not (or (or seen draft) deleted))) flagged)"},
	    {"((SEEN) (UNSEEN DRAFT))", "(and (and (and seen) (and unseen draft)))"},
	};
	run_cases(cases, SP_N_ELEMENTS(cases), 0);
}

static void test_regex(void)
{
	static const struct scase cases[] = {
	    {"X-REGEX SUBJECT \"^\\\\[list\\\\] (?i)invoice\"",
	     "(and regex subject /^\\[list\\] (?i)invoice/)"},
	    {"X-REGEX FROM \"@example\\\\.(com|org)$\" X-REGEX TO x X-REGEX CC y X-REGEX BCC z",
	     "(and regex from /@example\\.(com|org)$/ regex to /x/ regex cc /y/ regex bcc /z/)"},
	    {"x-regex body {6}\r\n\\d{3}$ X-REGEX TEXT \"\xc3\xa9+\"",
	     "(and regex body /\\d{3}$/ regex text /\xc3\xa9+/)"},
	    {"X-REGEX HEADER X-Spam-Status \"^Yes\"", "(and regex header X-Spam-Status /^Yes/)"},
	    {"X-REGEX SUBJECT \"(unclosed\"",
	     "ERR BAD X-REGEX: invalid pattern at offset 9: missing closing parenthesis"},
	    {"X-REGEX SUBJECT \"\\\\C\"",
	     "ERR BAD X-REGEX: invalid pattern at offset 2: using \\C is disabled by the "
	     "application"},
	    {"X-REGEX DATE x",
	     "ERR BAD X-REGEX: field must be SUBJECT, FROM, TO, CC, BCC, BODY, TEXT or HEADER "
	     "<name>"},
	    {"X-REGEX", "ERR BAD X-REGEX: missing field"},
	    {"X-REGEX SUBJECT", "ERR BAD X-REGEX: missing pattern"},
	    {"X-REGEX HEADER \"a:b\" x", "ERR BAD X-REGEX HEADER: invalid field name"},
	    {"X-REGEX SUBJECT (a)", "ERR BAD X-REGEX: pattern must be a string"},
	    {"X-REGEX SUBJECT \"\xff\"", "ERR BAD X-REGEX: pattern is not valid UTF-8"},
	    {"SUBJECT \"caf\xe9\"", "ERR BAD SUBJECT: string is not valid UTF-8"},
	};
	run_cases(cases, SP_N_ELEMENTS(cases), 0);
	/* over the length limit */
	struct sp_buf in = SP_BUF_INIT, out = SP_BUF_INIT;
	sp_buf_append_str(&in, "X-REGEX SUBJECT {1025+}\r\n");
	for (int i = 0; i < 1025; i++)
		sp_buf_append_byte(&in, 'a');
	search(sp_buf_cstr(&in), 0, 0, &out);
	SP_CHECK_STR(sp_buf_cstr(&out), "ERR BAD X-REGEX: pattern longer than 1024 octets");
	sp_buf_deinit(&in);
	sp_buf_deinit(&out);
}

static void test_return_charset(void)
{
	static const struct scase cases[] = {
	    {"RETURN (MIN MAX COUNT ALL SAVE) ALL", "return=min,max,count,all,save, (and all)"},
	    {"RETURN () SEEN", "return=all, (and seen)"},
	    {"RETURN (count) CHARSET utf-8 SEEN", "charset=utf-8(utf8) return=count, (and seen)"},
	    {"CHARSET US-ASCII ALL", "charset=US-ASCII (and all)"},
	    {"CHARSET \"UTF-8\" SUBJECT x", "charset=UTF-8(utf8) (and subject \"x\")"},
	    {"CHARSET ISO-8859-1 ALL", "ERR NO [BADCHARSET (US-ASCII UTF-8)] Unsupported charset"},
	    {"RETURN (PARTIAL 1:10) ALL", "ERR BAD RETURN: unknown option 'PARTIAL'"},
	    {"RETURN (\"MIN\") ALL", "ERR BAD RETURN: options must be atoms"},
	    {"RETURN ALL", "ERR BAD RETURN: missing option list"},
	    {"RETURN", "ERR BAD RETURN: missing option list"},
	    {"RETURN (MIN)", "ERR BAD Missing search keys"},
	    {"CHARSET", "ERR BAD CHARSET: missing charset name"},
	    {"CHARSET UTF-8", "ERR BAD Missing search keys"},
	    /* RETURN after CHARSET is not the grammar: RETURN is then a key */
	    {"CHARSET UTF-8 RETURN (MIN) ALL", "ERR BAD Unknown search key 'RETURN'"},
	};
	run_cases(cases, SP_N_ELEMENTS(cases), 0);
}

static void test_errors(void)
{
	static const struct scase cases[] = {
	    {"FOO", "ERR BAD Unknown search key 'FOO'"},
	    {"SEEN BOGUS\x01", "PARSER Invalid character 0x01 in atom"},
	    {"\"ALL\"", "ERR BAD Search key expected, got a string"},
	    {"NIL", "ERR BAD Search key expected, got a NIL"},
	    {"()", "ERR BAD Empty parenthesised search key list"},
	    {"FROM", "ERR BAD FROM: missing string"},
	    {"FROM (a)", "ERR BAD FROM: string must be a string"},
	    {"HEADER", "ERR BAD HEADER: missing field name"},
	    {"HEADER X", "ERR BAD HEADER: missing string"},
	    {"HEADER \"a b\" x", "ERR BAD HEADER: invalid field name"},
	    {"KEYWORD", "ERR BAD KEYWORD: missing keyword"},
	    {"KEYWORD \\Seen", "ERR BAD KEYWORD: keyword must be an atom (not a \\system flag)"},
	    {"KEYWORD \"x\"", "ERR BAD KEYWORD: keyword must be an atom (not a \\system flag)"},
	    {"UNKEYWORD a*", "ERR BAD UNKEYWORD: invalid character in keyword"},
	    {"SINCE", "ERR BAD SINCE: missing date"},
	    {"SINCE 1-Foo-2000",
	     "ERR BAD SINCE: invalid date (expected d-Mmm-yyyy, e.g. 1-Feb-1994)"},
	    {"BEFORE 29-Feb-1900",
	     "ERR BAD BEFORE: invalid date (expected d-Mmm-yyyy, e.g. 1-Feb-1994)"},
	    {"ON 31-Apr-2020", "ERR BAD ON: invalid date (expected d-Mmm-yyyy, e.g. 1-Feb-1994)"},
	    {"ON 0-Apr-2020", "ERR BAD ON: invalid date (expected d-Mmm-yyyy, e.g. 1-Feb-1994)"},
	    {"ON 1-Apr-20", "ERR BAD ON: invalid date (expected d-Mmm-yyyy, e.g. 1-Feb-1994)"},
	    {"ON 123-Apr-2020", "ERR BAD ON: invalid date (expected d-Mmm-yyyy, e.g. 1-Feb-1994)"},
	    {"SENTON 1/4/2020",
	     "ERR BAD SENTON: invalid date (expected d-Mmm-yyyy, e.g. 1-Feb-1994)"},
	    {"SAVEDON (1-Apr-2020)", "ERR BAD SAVEDON: date must be an atom or quoted string"},
	    {"LARGER", "ERR BAD LARGER: missing number"},
	    {"LARGER -1", "ERR BAD LARGER: invalid number (expected 0 up to 9223372036854775807)"},
	    {"SMALLER 1k",
	     "ERR BAD SMALLER: invalid number (expected 0 up to 9223372036854775807)"},
	    {"OLDER 0", "ERR BAD OLDER: invalid number (expected 1 up to 4294967295)"},
	    {"YOUNGER 4294967296", "ERR BAD YOUNGER: invalid number (expected 1 up to 4294967295)"},
	    {"MODSEQ", "ERR BAD MODSEQ: missing number"},
	    {"MODSEQ \"/flags/\\\\seen\"",
	     "ERR BAD MODSEQ: missing entry type (priv, shared or all)"},
	    {"MODSEQ \"/flags/\\\\seen\" both 5",
	     "ERR BAD MODSEQ: entry type must be priv, shared or all"},
	    {"MODSEQ \"/other/x\" all 5", "ERR BAD MODSEQ: entry name must be \"/flags/<flag>\""},
	    {"MODSEQ \"/flags/\\\\seen\" all", "ERR BAD MODSEQ: missing number"},
	    {"UID", "ERR BAD UID: missing sequence set"},
	    {"UID 0", "ERR BAD UID: invalid sequence set"},
	    {"UID \"1\"", "ERR BAD UID: invalid sequence set"},
	    {"1:2:3", "ERR BAD Invalid sequence set in search"},
	    {"1,$", "ERR BAD Invalid sequence set in search"},
	    {"EMAILID", "ERR BAD EMAILID: missing object id"},
	    {"EMAILID \"a b\"", "ERR BAD EMAILID: invalid object id"},
	    {"THREADID \"\"", "ERR BAD THREADID: invalid object id"},
	    {"NOT", "ERR BAD NOT: missing a search key"},
	    {"OR", "ERR BAD OR: missing two search key"},
	    {"OR SEEN", "ERR BAD OR: missing a second search key"},
	    {"OR SEEN (FOO)", "ERR BAD Unknown search key 'FOO'"},
	    {"", "ERR BAD Missing search keys"},
	    {"SEEN ((DRAFT) UNSEEN", "PARSER Missing ')' at end of line"},
	};
	run_cases(cases, SP_N_ELEMENTS(cases), 0);
}

static void test_depth(void)
{
	static const struct scase cases[] = {
	    {"NOT NOT NOT SEEN", "(and (not (not (not seen))))"},
	    {"NOT NOT NOT NOT SEEN", "ERR BAD Search keys nested too deeply (limit 3)"},
	    {"((( SEEN)))", "PARSER Unexpected space after '('"},
	    {"(((SEEN)))", "(and (and (and (and seen))))"},
	    {"((((SEEN))))", "ERR BAD Search keys nested too deeply (limit 3)"},
	    {"OR OR OR SEEN DRAFT DRAFT DRAFT", "(and (or (or (or seen draft) draft) draft))"},
	    {"OR OR OR OR SEEN DRAFT DRAFT DRAFT DRAFT",
	     "ERR BAD Search keys nested too deeply (limit 3)"},
	    {"NOT (OR SEEN DRAFT)", "(and (not (and (or seen draft))))"},
	    {"NOT (OR SEEN (DRAFT))", "ERR BAD Search keys nested too deeply (limit 3)"},
	};
	run_cases(cases, SP_N_ELEMENTS(cases), 3);

	/* the default limit stops a long NOT chain long before the stack */
	struct sp_buf in = SP_BUF_INIT, out = SP_BUF_INIT;
	for (int i = 0; i < 4000; i++)
		sp_buf_append_str(&in, "NOT ");
	sp_buf_append_str(&in, "SEEN");
	search(sp_buf_cstr(&in), 0, 0, &out);
	SP_CHECK_STR(sp_buf_cstr(&out), "ERR BAD Search keys nested too deeply (limit 32)");
	sp_buf_deinit(&in);
	sp_buf_deinit(&out);
}

static void test_dates(void)
{
	static const struct {
		const char *in;
		int rc;
		uint16_t y;
		uint8_t m, d;
	} cases[] = {
	    {"1-Feb-1994", 0, 1994, 2, 1},    {"29-Feb-2024", 0, 2024, 2, 29},
	    {"29-Feb-2000", 0, 2000, 2, 29},  {"29-Feb-2100", -1, 0, 0, 0},
	    {"31-DEC-9999", 0, 9999, 12, 31}, {"31-Nov-2020", -1, 0, 0, 0},
	    {"1-Feb-94", -1, 0, 0, 0},        {" 1-Feb-1994", -1, 0, 0, 0},
	    {"1-Feb-1994 ", -1, 0, 0, 0},     {"", -1, 0, 0, 0},
	    {"1-Fe-1994", -1, 0, 0, 0},       {"1 Feb 1994", -1, 0, 0, 0},
	};
	for (size_t i = 0; i < SP_N_ELEMENTS(cases); i++) {
		struct imap_date d = {0, 0, 0};
		SP_CHECK_INT(imap_date_parse(sp_slice_from_str(cases[i].in), &d), cases[i].rc);
		if (cases[i].rc == 0) {
			SP_CHECK_INT(d.year, cases[i].y);
			SP_CHECK_INT(d.month, cases[i].m);
			SP_CHECK_INT(d.day, cases[i].d);
		}
	}
}

int main(void)
{
	SP_TEST_RUN(test_keys);
	SP_TEST_RUN(test_regex);
	SP_TEST_RUN(test_return_charset);
	SP_TEST_RUN(test_errors);
	SP_TEST_RUN(test_depth);
	SP_TEST_RUN(test_dates);
	return sp_test_finish();
}
