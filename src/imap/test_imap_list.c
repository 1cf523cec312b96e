/* Unit tests for LIST/LSUB/STATUS: argument parsing with its errors,
 * '*'/'%' matching (and its cost on hostile patterns), mailbox name
 * conversions, and the exact response bytes for a fixed set of folders
 * (RFC 9051 §6.3.9, RFC 5258, RFC 5819, RFC 6154, RFC 3501 §6.3.9). Each
 * command goes through the command parser, fed whole and a byte at a time. */
#include "imap/imap_list.h"
#include "lib/sp_test.h"

#include <time.h>

SP_TEST_MAIN_DEFS

/* Parses "TAG CMD args\r\n" into a command (valid until the parser is
 * freed or fed again). bytewise feeds one octet at a time. */
static const struct imap_command *command(struct imap_parser *p, const char *text, bool bytewise)
{
	const uint8_t *d = (const uint8_t *)text;
	size_t len = strlen(text);
	while (len > 0) {
		struct imap_event ev;
		size_t used;
		int rc = imap_parser_feed(p, d, bytewise ? 1 : len, &used, &ev);
		d += used, len -= used;
		if (rc == SP_AGAIN)
			continue;
		if (ev.type == IMAP_EV_COMMAND)
			return ev.cmd;
		if (ev.type == IMAP_EV_ERROR)
			return NULL;
	}
	return NULL;
}

static void summarize(const struct imap_list_cmd *c, struct sp_buf *b)
{
	static const char *const sel[] = {"SUBSCRIBED", "REMOTE", "RECURSIVEMATCH", "SPECIAL-USE"};
	static const char *const ret[] = {"SUBSCRIBED", "CHILDREN", "SPECIAL-USE", "STATUS"};
	static const char *const st[] = {"MESSAGES", "UIDNEXT",       "UIDVALIDITY",
	                                 "UNSEEN",   "DELETED",       "SIZE",
	                                 "RECENT",   "HIGHESTMODSEQ", "APPENDLIMIT"};
	sp_buf_printf(b, "%s%s%s sel=", c->lsub ? "lsub" : "list", c->extended ? " ext" : "",
	              c->delimiter_only ? " delim" : "");
	for (unsigned i = 0; i < 4; i++)
		if (c->select & (1u << i))
			sp_buf_printf(b, "%s,", sel[i]);
	sp_buf_append_str(b, " ret=");
	for (unsigned i = 0; i < 4; i++)
		if (c->ret & (1u << i))
			sp_buf_printf(b, "%s,", ret[i]);
	if (c->ret & IMAP_LIST_RET_STATUS) {
		sp_buf_append_str(b, "(");
		for (size_t i = 0; i < c->status.count; i++)
			sp_buf_printf(b, "%s%s", i ? " " : "", st[c->status.order[i]]);
		sp_buf_append_str(b, ")");
	}
	sp_buf_printf(b, " ref=[%s] pats=", c->reference);
	for (size_t i = 0; i < c->n_patterns; i++)
		sp_buf_printf(b, "[%s]", c->patterns[i]);
}

static void test_parse(void)
{
	static const struct {
		const char *cmd; /* after the tag */
		unsigned flags;
		const char *want; /* summary, or the BAD text */
	} cases[] = {
	    {"LIST \"\" \"*\"", 0, "list sel= ret= ref=[] pats=[*]"},
	    {"LIST \"\" \"\"", 0, "list delim sel= ret= ref=[] pats=[]"},
	    {"LIST foo \"\"", 0, "list delim sel= ret= ref=[foo] pats=[]"},
	    {"LIST ~/Mail/ %", 0, "list sel= ret= ref=[~/Mail/] pats=[%]"},
	    {"list inbox/ %", 0, "list sel= ret= ref=[INBOX/] pats=[%]"},
	    {"LIST \"\" INBOX.%", 0, "list sel= ret= ref=[] pats=[INBOX.%]"},
	    {"LSUB \"\" \"*\"", 0, "lsub sel= ret= ref=[] pats=[*]"},
	    {"LSUB \"\" \"\"", 0, "lsub sel= ret= ref=[] pats=[]"},
	    /* RFC 5258 §3 */
	    {"LIST (SUBSCRIBED) \"\" \"*\"", 0, "list ext sel=SUBSCRIBED, ret= ref=[] pats=[*]"},
	    {"LIST () \"\" %", 0, "list ext sel= ret= ref=[] pats=[%]"},
	    {"LIST (subscribed recursivematch remote) \"\" %", 0,
	     "list ext sel=SUBSCRIBED,REMOTE,RECURSIVEMATCH, ret= ref=[] pats=[%]"},
	    {"LIST (SPECIAL-USE RECURSIVEMATCH) \"\" *", 0,
	     "list ext sel=RECURSIVEMATCH,SPECIAL-USE, ret= ref=[] pats=[*]"},
	    {"LIST (REMOTE) \"\" *", 0, "list ext sel=REMOTE, ret= ref=[] pats=[*]"},
	    {"LIST \"\" (\"INBOX\" \"Drafts\" Sent/%)", 0,
	     "list ext sel= ret= ref=[] pats=[INBOX][Drafts][Sent/%]"},
	    /* an empty pattern in an extended LIST is no delimiter request */
	    {"LIST \"\" (\"\" \"%\")", 0, "list ext sel= ret= ref=[] pats=[%]"},
	    {"LIST () \"\" \"\"", 0, "list ext sel= ret= ref=[] pats="},
	    {"LIST \"\" % RETURN (CHILDREN SUBSCRIBED SPECIAL-USE)", 0,
	     "list ext sel= ret=SUBSCRIBED,CHILDREN,SPECIAL-USE, ref=[] pats=[%]"},
	    {"LIST \"\" % RETURN ()", 0, "list ext sel= ret= ref=[] pats=[%]"},
	    /* RFC 5819 */
	    {"LIST \"\" % RETURN (STATUS (MESSAGES UNSEEN uidnext MESSAGES))", 0,
	     "list ext sel= ret=STATUS,(MESSAGES UNSEEN UIDNEXT) ref=[] pats=[%]"},
	    {"LIST (SUBSCRIBED) \"\" * RETURN (CHILDREN STATUS (SIZE HIGHESTMODSEQ DELETED "
	     "APPENDLIMIT RECENT UIDVALIDITY))",
	     0,
	     "list ext sel=SUBSCRIBED, ret=CHILDREN,STATUS,(SIZE HIGHESTMODSEQ DELETED "
	     "APPENDLIMIT RECENT UIDVALIDITY) ref=[] pats=[*]"},
	    /* modified UTF-7 and UTF-8 */
	    {"LIST \"\" \"&ZeVnLIqe-/%\"", 0, "list sel= ret= ref=[] pats=[日本語/%]"},
	    {"LIST \"\" \"&-*\"", 0, "list sel= ret= ref=[] pats=[&*]"},
	    {"LIST \"\" \"日本語/%\"", IMAP_NAME_UTF8, "list sel= ret= ref=[] pats=[日本語/%]"},
	    {"LIST \"\" \"&ZeVnLIqe-\"", IMAP_NAME_UTF8, "list sel= ret= ref=[] pats=[&ZeVnLIqe-]"},
	    /* errors */
	    {"LIST (RECURSIVEMATCH) \"\" %", 0,
	     "RECURSIVEMATCH needs the SUBSCRIBED or SPECIAL-USE selection option"},
	    {"LIST (RECURSIVEMATCH REMOTE) \"\" %", 0,
	     "RECURSIVEMATCH needs the SUBSCRIBED or SPECIAL-USE selection option"},
	    {"LIST (FOO) \"\" %", 0, "Unknown LIST selection option"},
	    {"LIST (\"SUBSCRIBED\") \"\" %", 0, "Unknown LIST selection option"},
	    {"LIST \"\" % RETURN (FOO)", 0, "Unknown LIST return option"},
	    {"LIST \"\" % RETURN (STATUS)", 0, "LIST return option STATUS needs a list of items"},
	    {"LIST \"\" % RETURN (STATUS ())", 0, "STATUS items must be a non-empty list"},
	    {"LIST \"\" % RETURN (STATUS (MESSAGES FOO))", 0, "Unknown STATUS item"},
	    {"LIST \"\" % RETURN (STATUS (MESSAGES) STATUS (UNSEEN))", 0,
	     "LIST return option STATUS given twice"},
	    {"LIST \"\" % RETURN CHILDREN", 0,
	     "Expected RETURN (options) after the mailbox pattern"},
	    {"LIST \"\" % FOO (CHILDREN)", 0,
	     "Expected RETURN (options) after the mailbox pattern"},
	    {"LIST \"\" % RETURN (CHILDREN) x", 0,
	     "Unexpected argument after the LIST return options"},
	    {"LIST \"\"", 0, "LIST needs a reference and a mailbox pattern"},
	    {"LIST (SUBSCRIBED) \"\"", 0, "LIST needs a reference and a mailbox pattern"},
	    {"LIST", 0, "LIST needs a reference and a mailbox pattern"},
	    {"LIST \"\" % RETURN", 0, "Expected RETURN (options) after the mailbox pattern"},
	    {"LIST (SUBSCRIBED) (a) %", 0, "Reference name must be a string"},
	    {"LIST \"\" ()", 0, "Empty list of mailbox patterns"},
	    {"LIST \"\" (a (b))", 0, "Mailbox pattern must be a string"},
	    {"LSUB \"\" (a)", 0, "Mailbox pattern must be a string"},
	    {"LSUB \"\" % RETURN (CHILDREN)", 0, "Unexpected argument after the LSUB pattern"},
	    {"LSUB \"\"", 0, "LSUB needs a reference and a mailbox pattern"},
	    /* a pattern that is not modified UTF-7 matches nothing (kept raw) */
	    {"LIST \"\" \"&ZeVnLIqe\"", 0, "list sel= ret= ref=[] pats=[&ZeVnLIqe]"},
	    {"LIST \"\" \"a&b\"", 0, "list sel= ret= ref=[] pats=[a&b]"},
	    {"LIST \"\" \"a&.-\"", 0, "list sel= ret= ref=[] pats=[a&.-]"},
	    {"LIST \"\" \"日本語\"", 0, "list sel= ret= ref=[] pats=[日本語]"},
	    {"LIST \"\" {3+}\r\na\xff*", IMAP_NAME_UTF8, "list sel= ret= ref=[] pats=[a\xff*]"},
	    /* names no mailbox can have: kept raw, they match nothing */
	    {"LIST \"\" \"a\xc2\x85%\"", IMAP_NAME_UTF8, "list sel= ret= ref=[] pats=[a\xc2\x85%]"},
	    {"LIST \"\" \"a\xe2\x80\xa8\"", IMAP_NAME_UTF8,
	     "list sel= ret= ref=[] pats=[a\xe2\x80\xa8]"},
	    {"LIST \"\" {2+}\r\na\t", IMAP_NAME_UTF8, "list sel= ret= ref=[] pats=[a\t]"},
	};
	for (size_t i = 0; i < SP_N_ELEMENTS(cases); i++) {
		for (int bytewise = 0; bytewise < 2; bytewise++) {
			struct imap_parser *p = imap_parser_new(NULL);
			struct sp_arena *arena = sp_arena_new(1024);
			char *line = sp_arena_printf(arena, "A1 %s\r\n", cases[i].cmd);
			const struct imap_command *c = command(p, line, bytewise);
			SP_CHECK(c != NULL);
			if (c == NULL) {
				fprintf(stderr, "  case %s\n", cases[i].cmd);
				imap_parser_free(&p);
				sp_arena_free(&arena);
				continue;
			}
			struct imap_list_cmd lc;
			struct imap_error err = {0};
			int rc =
			    imap_list_parse(c->args, c->arg_count, strcmp(c->name, "LSUB") == 0,
			                    cases[i].flags, arena, &lc, &err);
			struct sp_buf b = SP_BUF_INIT;
			if (rc == 0) {
				summarize(&lc, &b);
			} else {
				SP_CHECK_INT(err.kind, IMAP_ERROR_BAD);
				SP_CHECK(err.tag == NULL && err.code == NULL);
				sp_buf_append_str(&b, err.text);
			}
			SP_CHECK_STR(sp_buf_cstr(&b), cases[i].want);
			sp_buf_deinit(&b);
			imap_parser_free(&p);
			sp_arena_free(&arena);
		}
	}
}

static void test_match(void)
{
	static const struct {
		const char *pattern, *name;
		bool match;
	} cases[] = {
	    {"*", "a", true},
	    {"*", "a/b/c", true},
	    {"%", "a", true},
	    {"%", "a/b", false},
	    {"%/%", "a/b", true},
	    {"%/%", "a/b/c", false},
	    {"a/*", "a/b/c", true},
	    {"a/*", "a", false},
	    {"a*", "a", true},
	    {"a%", "ab/c", false},
	    {"a%c", "abbbc", true},
	    {"a%c", "ab/bc", false},
	    {"a*c", "ab/bc", true},
	    {"*/c", "a/b/c", true},
	    {"%/c", "a/b/c", false},
	    {"", "", true},
	    {"", "a", false},
	    {"abc", "abc", true},
	    {"abc", "abd", false},
	    {"abc", "ab", false},
	    {"ab", "abc", false},
	    {"%*%", "x/y", true},
	    {"*%", "x/y", true},
	    {"%%", "x/y", false},
	    /* the name's INBOX part is case-insensitive (RFC 9051 §5.1) */
	    {"inbox", "INBOX", true},
	    {"InBoX/%", "INBOX/Sub", true},
	    {"in%", "INBOX", true},
	    {"inbox/sub", "INBOX/Sub", false},
	    {"inbox%", "INBOXES", false},
	    {"Sent", "sent", false},
	    {"日本語/%", "日本語/x", true},
	    {"*a*a*a*a*a*a*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false},
	    {"%a%a%a%a%a%a%a%a%a%a%a%a%b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab", true},
	};
	for (size_t i = 0; i < SP_N_ELEMENTS(cases); i++) {
		bool m = imap_list_match(cases[i].pattern, cases[i].name);
		if (m != cases[i].match)
			fprintf(stderr, "  pattern [%s] name [%s]\n", cases[i].pattern,
			        cases[i].name);
		SP_CHECK_INT(m, cases[i].match);
	}
}

/* A hostile pattern against a long name costs O(len x pattern / 64):
 * 400 wildcards, a 1000-octet name, 200 times, well under a second (a
 * backtracking matcher would not finish). */
static void test_match_cost(void)
{
	char pattern[1002], name[1001];
	size_t k = 0;
	for (int i = 0; i < 400; i++) {
		pattern[k++] = i % 2 ? '%' : '*';
		pattern[k++] = 'a';
	}
	pattern[k++] = 'b';
	pattern[k] = '\0';
	memset(name, 'a', 1000);
	name[1000] = '\0';
	clock_t t0 = clock();
	for (int i = 0; i < 200; i++)
		SP_CHECK(!imap_list_match(pattern, name));
	double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
	SP_CHECK(secs < 2.0);
	name[999] = 'b';
	SP_CHECK(imap_list_match(pattern, name));
	/* more literal octets than a name can hold: matches nothing */
	char big[STORE_FOLDER_NAME_MAX + 2];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	SP_CHECK(!imap_list_match(big, big));
}

static void test_names(void)
{
	static const struct {
		const char *in;
		unsigned flags;
		const char *name;  /* decoded, or NULL */
		const char *error; /* when name is NULL */
		const char *wire;  /* imap_mailbox_name_write(name) */
	} cases[] = {
	    {"INBOX", 0, "INBOX", NULL, "\"INBOX\""},
	    {"inbox", 0, "INBOX", NULL, "\"INBOX\""},
	    {"iNbOx/Sub", 0, "INBOX/Sub", NULL, "\"INBOX/Sub\""},
	    {"inboxes", 0, "inboxes", NULL, "\"inboxes\""},
	    {"Sent", 0, "Sent", NULL, "\"Sent\""},
	    {"a \"q\" \\b", 0, "a \"q\" \\b", NULL, "\"a \\\"q\\\" \\\\b\""},
	    {"&ZeVnLIqe-", 0, "日本語", NULL, "\"&ZeVnLIqe-\""},
	    {"Tom &- Jerry", 0, "Tom & Jerry", NULL, "\"Tom &- Jerry\""},
	    {"日本語", IMAP_NAME_UTF8, "日本語", NULL, "\"日本語\""},
	    {"&ZeVnLIqe-", IMAP_NAME_UTF8, "&ZeVnLIqe-", NULL, "\"&ZeVnLIqe-\""},
	    {"", 0, "", NULL, "\"\""},
	    {"&ZeVnLIqe", 0, NULL, "Unterminated modified BASE64 in mailbox name", NULL},
	    {"a&", 0, NULL, "Unterminated modified BASE64 in mailbox name", NULL},
	    {"日本語", 0, NULL, "Invalid octet in modified UTF-7 mailbox name", NULL},
	    {"&AAk-", 0, NULL, "Control character in mailbox name", NULL},
	    {"\xc0\xaf", IMAP_NAME_UTF8, NULL, "Mailbox name is not valid UTF-8", NULL},
	    {"a\x7f", IMAP_NAME_UTF8, NULL, "Control character in mailbox name", NULL},
	    {"\xe2\x80\xa9", IMAP_NAME_UTF8, NULL, "Control character in mailbox name", NULL},
	};
	for (size_t i = 0; i < SP_N_ELEMENTS(cases); i++) {
		struct sp_arena *arena = sp_arena_new(256);
		const char *name = NULL, *error = NULL;
		int rc = imap_mailbox_name_decode(sp_slice_from_str(cases[i].in), cases[i].flags,
		                                  arena, &name, &error);
		if (cases[i].name != NULL) {
			SP_CHECK_INT(rc, 0);
			SP_CHECK_STR(name, cases[i].name);
			struct sp_buf out = SP_BUF_INIT;
			SP_CHECK_INT(imap_mailbox_name_write(cases[i].name, cases[i].flags, &out),
			             0);
			SP_CHECK_STR(sp_buf_cstr(&out), cases[i].wire);
			sp_buf_deinit(&out);
		} else {
			SP_CHECK_INT(rc, -1);
			SP_CHECK_STR(error, cases[i].error);
		}
		sp_arena_free(&arena);
	}
	/* names that cannot be quoted go out as literals; bad UTF-8 not at all */
	struct sp_buf out = SP_BUF_INIT;
	SP_CHECK_INT(imap_mailbox_name_write("a\r\nb", IMAP_NAME_UTF8, &out), 0);
	SP_CHECK_STR(sp_buf_cstr(&out), "{4}\r\na\r\nb");
	sp_buf_reset(&out);
	SP_CHECK_INT(imap_mailbox_name_write("a\xff", 0, &out), -1);
	SP_CHECK_INT(imap_mailbox_name_write("a\xff", IMAP_NAME_UTF8, &out), -1);
	SP_CHECK_INT(out.len, 0);
	sp_buf_deinit(&out);

	/* from an argument: astrings only */
	struct imap_parser *p = imap_parser_new(NULL);
	const struct imap_command *c = command(p, "A1 SELECT (inbox)\r\n", false);
	SP_CHECK(c != NULL);
	struct sp_arena *arena = sp_arena_new(256);
	struct imap_error err;
	const char *name;
	SP_CHECK_INT(imap_mailbox_name_from_arg(&c->args[0], 0, arena, &name, &err), -1);
	SP_CHECK_STR(err.text, "Mailbox name expected");
	c = command(p, "A2 SELECT {5}\r\ninBox\r\n", false);
	SP_CHECK(c != NULL);
	SP_CHECK_INT(imap_mailbox_name_from_arg(&c->args[0], 0, arena, &name, &err), 0);
	SP_CHECK_STR(name, "INBOX");
	c = command(p, "A3 SELECT &Jjo-!\r\n", false);
	SP_CHECK(c != NULL);
	SP_CHECK_INT(imap_mailbox_name_from_arg(&c->args[0], 0, arena, &name, &err), 0);
	SP_CHECK_STR(name, "\xe2\x98\xba!");
	sp_arena_free(&arena);
	imap_parser_free(&p);
}

static void test_status(void)
{
	static const struct {
		const char *cmd;
		unsigned flags;
		uint64_t appendlimit;
		const char *want; /* the response, or the BAD text */
	} cases[] = {
	    {"STATUS blurdybloop (UIDNEXT MESSAGES)", 0, 0,
	     "* STATUS \"blurdybloop\" (UIDNEXT 44292 MESSAGES 231)\r\n"},
	    {"STATUS inbox (messages recent unseen deleted size uidvalidity highestmodseq "
	     "appendlimit)",
	     0, 0,
	     "* STATUS \"INBOX\" (MESSAGES 231 RECENT 0 UNSEEN 12 DELETED 3 SIZE 123456789012 "
	     "UIDVALIDITY 1700000000 HIGHESTMODSEQ 90000000001 APPENDLIMIT NIL)\r\n"},
	    {"STATUS \"&ZeVnLIqe-\" (APPENDLIMIT UNSEEN UNSEEN)", 0, 35651584,
	     "* STATUS \"&ZeVnLIqe-\" (APPENDLIMIT 35651584 UNSEEN 12)\r\n"},
	    {"STATUS \"日本語\" (MESSAGES)", IMAP_NAME_UTF8, 0,
	     "* STATUS \"日本語\" (MESSAGES 231)\r\n"},
	    {"STATUS INBOX ()", 0, 0, "STATUS items must be a non-empty list"},
	    {"STATUS INBOX MESSAGES", 0, 0, "STATUS items must be a non-empty list"},
	    {"STATUS INBOX (MESSAGES X-FOO)", 0, 0, "Unknown STATUS item"},
	    {"STATUS INBOX (MESSAGES (UNSEEN))", 0, 0, "Unknown STATUS item"},
	    {"STATUS INBOX", 0, 0, "STATUS needs a mailbox name and a list of items"},
	    {"STATUS INBOX (MESSAGES) x", 0, 0, "STATUS needs a mailbox name and a list of items"},
	    {"STATUS (INBOX) (MESSAGES)", 0, 0, "Mailbox name expected"},
	    {"STATUS \"&Jjo\" (MESSAGES)", 0, 0, "Unterminated modified BASE64 in mailbox name"},
	};
	for (size_t i = 0; i < SP_N_ELEMENTS(cases); i++) {
		struct imap_parser *p = imap_parser_new(NULL);
		struct sp_arena *arena = sp_arena_new(1024);
		char *line = sp_arena_printf(arena, "A1 %s\r\n", cases[i].cmd);
		const struct imap_command *c = command(p, line, false);
		SP_CHECK(c != NULL);
		struct imap_status_cmd sc;
		struct imap_error err = {0};
		struct sp_buf out = SP_BUF_INIT;
		if (imap_status_parse(c->args, c->arg_count, cases[i].flags, arena, &sc, &err) ==
		    0) {
			struct store_status st = {
			    .folder = {.name = sc.name,
			               .uidvalidity = 1700000000,
			               .uidnext = 44292,
			               .highestmodseq = 90000000001ull},
			    .messages = 231,
			    .unseen = 12,
			    .deleted = 3,
			    .size = 123456789012ull,
			};
			imap_status_format(&st, &sc.items, cases[i].appendlimit, cases[i].flags,
			                   &out);
		} else {
			SP_CHECK_INT(err.kind, IMAP_ERROR_BAD);
			sp_buf_append_str(&out, err.text);
		}
		SP_CHECK_STR(sp_buf_cstr(&out), cases[i].want);
		sp_buf_deinit(&out);
		sp_arena_free(&arena);
		imap_parser_free(&p);
	}
}

/* The account used by the response tests: INBOX with a child, the
 * default special-use folders, a level that does not exist ("Work" has
 * only children), a subscription to a deleted name (id 0), a name that
 * needs modified UTF-7 and one that needs quoting. */
static const struct store_folder folders[] = {
    {.id = 5, .name = "Archive", .special_use = STORE_USE_ARCHIVE},
    {.id = 3, .name = "Sent", .special_use = STORE_USE_SENT, .subscribed = true},
    {.id = 1, .name = "INBOX", .subscribed = true},
    {.id = 7, .name = "INBOX/Lists", .subscribed = false},
    {.id = 2, .name = "Drafts", .special_use = STORE_USE_DRAFTS, .subscribed = true},
    {.id = 4, .name = "Trash", .special_use = STORE_USE_TRASH | STORE_USE_JUNK},
    {.id = 8, .name = "Work/Projects", .subscribed = true},
    {.id = 9, .name = "Work/Projects/2026"},
    {.id = 10, .name = "Work/Old", .special_use = STORE_USE_ARCHIVE},
    {.id = 11, .name = "日本語", .subscribed = true},
    {.id = 12, .name = "Say \"hi\""},
    {.id = 0, .name = "Gone/Away", .subscribed = true},
    {.id = 13, .name = "Family"},
    {.id = 14, .name = "Family/Kids", .subscribed = true},
};

static int status_cb(void *ctx, const char *name, struct store_status *st)
{
	(*(int *)ctx)++;
	if (strcmp(name, "Drafts") == 0)
		return 1; /* e.g. the selected mailbox: no STATUS line */
	st->messages = (uint32_t)strlen(name);
	st->unseen = 1;
	st->folder.uidnext = 100;
	return 0;
}

static void test_format(void)
{
	static const struct {
		const char *cmd;
		unsigned flags;
		const char *want;
	} cases[] = {
	    {"LIST \"\" \"\"", 0, "* LIST (\\Noselect) \"/\" \"\"\r\n"},
	    {"LIST \"\" %", 0,
	     "* LIST (\\HasChildren) \"/\" \"INBOX\"\r\n"
	     "* LIST (\\HasNoChildren \\Archive) \"/\" \"Archive\"\r\n"
	     "* LIST (\\HasNoChildren \\Drafts) \"/\" \"Drafts\"\r\n"
	     "* LIST (\\HasChildren) \"/\" \"Family\"\r\n"
	     "* LIST (\\HasNoChildren) \"/\" \"Say \\\"hi\\\"\"\r\n"
	     "* LIST (\\HasNoChildren \\Sent) \"/\" \"Sent\"\r\n"
	     "* LIST (\\HasNoChildren \\Junk \\Trash) \"/\" \"Trash\"\r\n"
	     "* LIST (\\Noselect \\HasChildren) \"/\" \"Work\"\r\n"
	     "* LIST (\\HasNoChildren) \"/\" \"&ZeVnLIqe-\"\r\n"},
	    {"LIST \"\" %", IMAP_NAME_UTF8,
	     "* LIST (\\HasChildren) \"/\" \"INBOX\"\r\n"
	     "* LIST (\\HasNoChildren \\Archive) \"/\" \"Archive\"\r\n"
	     "* LIST (\\HasNoChildren \\Drafts) \"/\" \"Drafts\"\r\n"
	     "* LIST (\\HasChildren) \"/\" \"Family\"\r\n"
	     "* LIST (\\HasNoChildren) \"/\" \"Say \\\"hi\\\"\"\r\n"
	     "* LIST (\\HasNoChildren \\Sent) \"/\" \"Sent\"\r\n"
	     "* LIST (\\HasNoChildren \\Junk \\Trash) \"/\" \"Trash\"\r\n"
	     "* LIST (\\Noselect \\HasChildren) \"/\" \"Work\"\r\n"
	     "* LIST (\\HasNoChildren) \"/\" \"日本語\"\r\n"},
	    {"LIST Work/ *", 0,
	     "* LIST (\\HasNoChildren \\Archive) \"/\" \"Work/Old\"\r\n"
	     "* LIST (\\HasChildren) \"/\" \"Work/Projects\"\r\n"
	     "* LIST (\\HasNoChildren) \"/\" \"Work/Projects/2026\"\r\n"},
	    {"LIST Work/ %", 0,
	     "* LIST (\\HasNoChildren \\Archive) \"/\" \"Work/Old\"\r\n"
	     "* LIST (\\HasChildren) \"/\" \"Work/Projects\"\r\n"},
	    /* an absolute pattern ignores the reference; ours are never rooted */
	    {"LIST Work/ /Work/%", 0, ""},
	    {"LIST \"\" inbox", 0, "* LIST (\\HasChildren) \"/\" \"INBOX\"\r\n"},
	    {"LIST \"\" Inbox/%", 0, "* LIST (\\HasNoChildren) \"/\" \"INBOX/Lists\"\r\n"},
	    {"LIST inbox/ %", 0, "* LIST (\\HasNoChildren) \"/\" \"INBOX/Lists\"\r\n"},
	    {"LIST \"\" NoSuch", 0, ""},
	    {"LIST \"\" (Sent Trash Nope)", 0,
	     "* LIST (\\HasNoChildren \\Sent) \"/\" \"Sent\"\r\n"
	     "* LIST (\\HasNoChildren \\Junk \\Trash) \"/\" \"Trash\"\r\n"},
	    /* RFC 5258: the non-existent level is \NonExistent in an extended LIST */
	    {"LIST () \"\" W%", 0, "* LIST (\\NonExistent \\HasChildren) \"/\" \"Work\"\r\n"},
	    {"LIST \"\" % RETURN (SUBSCRIBED)", 0,
	     "* LIST (\\HasChildren \\Subscribed) \"/\" \"INBOX\"\r\n"
	     "* LIST (\\HasNoChildren \\Archive) \"/\" \"Archive\"\r\n"
	     "* LIST (\\HasNoChildren \\Subscribed \\Drafts) \"/\" \"Drafts\"\r\n"
	     "* LIST (\\HasChildren) \"/\" \"Family\"\r\n"
	     "* LIST (\\HasNoChildren) \"/\" \"Say \\\"hi\\\"\"\r\n"
	     "* LIST (\\HasNoChildren \\Subscribed \\Sent) \"/\" \"Sent\"\r\n"
	     "* LIST (\\HasNoChildren \\Junk \\Trash) \"/\" \"Trash\"\r\n"
	     "* LIST (\\NonExistent \\HasChildren) \"/\" \"Work\"\r\n"
	     "* LIST (\\HasNoChildren \\Subscribed) \"/\" \"&ZeVnLIqe-\"\r\n"},
	    /* RFC 5258 §3.1: SUBSCRIBED lists subscribed names, existing or not */
	    {"LIST (SUBSCRIBED) \"\" *", 0,
	     "* LIST (\\HasChildren \\Subscribed) \"/\" \"INBOX\"\r\n"
	     "* LIST (\\HasNoChildren \\Subscribed \\Drafts) \"/\" \"Drafts\"\r\n"
	     "* LIST (\\HasNoChildren \\Subscribed) \"/\" \"Family/Kids\"\r\n"
	     "* LIST (\\NonExistent \\Subscribed) \"/\" \"Gone/Away\"\r\n"
	     "* LIST (\\HasNoChildren \\Subscribed \\Sent) \"/\" \"Sent\"\r\n"
	     "* LIST (\\HasChildren \\Subscribed) \"/\" \"Work/Projects\"\r\n"
	     "* LIST (\\HasNoChildren \\Subscribed) \"/\" \"&ZeVnLIqe-\"\r\n"},
	    {"LIST (SUBSCRIBED) \"\" %", 0,
	     "* LIST (\\HasChildren \\Subscribed) \"/\" \"INBOX\"\r\n"
	     "* LIST (\\HasNoChildren \\Subscribed \\Drafts) \"/\" \"Drafts\"\r\n"
	     "* LIST (\\HasNoChildren \\Subscribed \\Sent) \"/\" \"Sent\"\r\n"
	     "* LIST (\\HasNoChildren \\Subscribed) \"/\" \"&ZeVnLIqe-\"\r\n"},
	    /* RFC 5258 §3.5: parents of subscribed names the pattern misses */
	    {"LIST (SUBSCRIBED RECURSIVEMATCH) \"\" %", 0,
	     "* LIST (\\HasChildren \\Subscribed) \"/\" \"INBOX\"\r\n"
	     "* LIST (\\HasNoChildren \\Subscribed \\Drafts) \"/\" \"Drafts\"\r\n"
	     "* LIST (\\HasChildren) \"/\" \"Family\" (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n"
	     "* LIST (\\NonExistent) \"/\" \"Gone\" (\"CHILDINFO\" "
	     "(\"SUBSCRIBED\"))\r\n"
	     "* LIST (\\HasNoChildren \\Subscribed \\Sent) \"/\" \"Sent\"\r\n"
	     "* LIST (\\NonExistent \\HasChildren) \"/\" \"Work\" (\"CHILDINFO\" "
	     "(\"SUBSCRIBED\"))\r\n"
	     "* LIST (\\HasNoChildren \\Subscribed) \"/\" \"&ZeVnLIqe-\"\r\n"},
	    {"LIST (SUBSCRIBED RECURSIVEMATCH) \"\" Work/*", 0,
	     "* LIST (\\HasChildren \\Subscribed) \"/\" \"Work/Projects\"\r\n"},
	    /* RFC 6154 §3 */
	    {"LIST (SPECIAL-USE) \"\" *", 0,
	     "* LIST (\\HasNoChildren \\Archive) \"/\" \"Archive\"\r\n"
	     "* LIST (\\HasNoChildren \\Drafts) \"/\" \"Drafts\"\r\n"
	     "* LIST (\\HasNoChildren \\Sent) \"/\" \"Sent\"\r\n"
	     "* LIST (\\HasNoChildren \\Junk \\Trash) \"/\" \"Trash\"\r\n"
	     "* LIST (\\HasNoChildren \\Archive) \"/\" \"Work/Old\"\r\n"},
	    {"LIST (SPECIAL-USE RECURSIVEMATCH) \"\" %", 0,
	     "* LIST (\\HasNoChildren \\Archive) \"/\" \"Archive\"\r\n"
	     "* LIST (\\HasNoChildren \\Drafts) \"/\" \"Drafts\"\r\n"
	     "* LIST (\\HasNoChildren \\Sent) \"/\" \"Sent\"\r\n"
	     "* LIST (\\HasNoChildren \\Junk \\Trash) \"/\" \"Trash\"\r\n"
	     "* LIST (\\NonExistent \\HasChildren) \"/\" \"Work\" (\"CHILDINFO\" "
	     "(\"SPECIAL-USE\"))\r\n"},
	    {"LIST (SPECIAL-USE SUBSCRIBED) \"\" *", 0,
	     "* LIST (\\HasNoChildren \\Subscribed \\Drafts) \"/\" \"Drafts\"\r\n"
	     "* LIST (\\HasNoChildren \\Subscribed \\Sent) \"/\" \"Sent\"\r\n"},
	    {"LIST \"\" % RETURN (SPECIAL-USE CHILDREN)", 0,
	     "* LIST (\\HasChildren) \"/\" \"INBOX\"\r\n"
	     "* LIST (\\HasNoChildren \\Archive) \"/\" \"Archive\"\r\n"
	     "* LIST (\\HasNoChildren \\Drafts) \"/\" \"Drafts\"\r\n"
	     "* LIST (\\HasChildren) \"/\" \"Family\"\r\n"
	     "* LIST (\\HasNoChildren) \"/\" \"Say \\\"hi\\\"\"\r\n"
	     "* LIST (\\HasNoChildren \\Sent) \"/\" \"Sent\"\r\n"
	     "* LIST (\\HasNoChildren \\Junk \\Trash) \"/\" \"Trash\"\r\n"
	     "* LIST (\\NonExistent \\HasChildren) \"/\" \"Work\"\r\n"
	     "* LIST (\\HasNoChildren) \"/\" \"&ZeVnLIqe-\"\r\n"},
	    /* RFC 5819: STATUS right after its LIST line, none for \NonExistent
	     * or when the callback declines (Drafts) */
	    {"LIST \"\" (Drafts Sent W%) RETURN (STATUS (MESSAGES UIDNEXT))", 0,
	     "* LIST (\\HasNoChildren \\Drafts) \"/\" \"Drafts\"\r\n"
	     "* LIST (\\HasNoChildren \\Sent) \"/\" \"Sent\"\r\n"
	     "* STATUS \"Sent\" (MESSAGES 4 UIDNEXT 100)\r\n"
	     "* LIST (\\NonExistent \\HasChildren) \"/\" \"Work\"\r\n"},
	    {"LIST (SUBSCRIBED) \"\" * RETURN (STATUS (UNSEEN))", IMAP_NAME_UTF8,
	     "* LIST (\\HasChildren \\Subscribed) \"/\" \"INBOX\"\r\n"
	     "* STATUS \"INBOX\" (UNSEEN 1)\r\n"
	     "* LIST (\\HasNoChildren \\Subscribed \\Drafts) \"/\" \"Drafts\"\r\n"
	     "* LIST (\\HasNoChildren \\Subscribed) \"/\" \"Family/Kids\"\r\n"
	     "* STATUS \"Family/Kids\" (UNSEEN 1)\r\n"
	     "* LIST (\\NonExistent \\Subscribed) \"/\" \"Gone/Away\"\r\n"
	     "* LIST (\\HasNoChildren \\Subscribed \\Sent) \"/\" \"Sent\"\r\n"
	     "* STATUS \"Sent\" (UNSEEN 1)\r\n"
	     "* LIST (\\HasChildren \\Subscribed) \"/\" \"Work/Projects\"\r\n"
	     "* STATUS \"Work/Projects\" (UNSEEN 1)\r\n"
	     "* LIST (\\HasNoChildren \\Subscribed) \"/\" \"日本語\"\r\n"
	     "* STATUS \"日本語\" (UNSEEN 1)\r\n"},
	    /* LSUB (RFC 3501 §6.3.9) */
	    {"LSUB \"\" *", 0,
	     "* LSUB () \"/\" \"INBOX\"\r\n"
	     "* LSUB () \"/\" \"Drafts\"\r\n"
	     "* LSUB () \"/\" \"Family/Kids\"\r\n"
	     "* LSUB (\\Noselect) \"/\" \"Gone/Away\"\r\n"
	     "* LSUB () \"/\" \"Sent\"\r\n"
	     "* LSUB () \"/\" \"Work/Projects\"\r\n"
	     "* LSUB () \"/\" \"&ZeVnLIqe-\"\r\n"},
	    {"LSUB \"\" %", 0,
	     "* LSUB () \"/\" \"INBOX\"\r\n"
	     "* LSUB () \"/\" \"Drafts\"\r\n"
	     "* LSUB (\\Noselect) \"/\" \"Family\"\r\n"
	     "* LSUB (\\Noselect) \"/\" \"Gone\"\r\n"
	     "* LSUB () \"/\" \"Sent\"\r\n"
	     "* LSUB (\\Noselect) \"/\" \"Work\"\r\n"
	     "* LSUB () \"/\" \"&ZeVnLIqe-\"\r\n"},
	    {"LSUB Work/ %", 0, "* LSUB () \"/\" \"Work/Projects\"\r\n"},
	    {"LSUB \"\" \"\"", 0, ""},
	};
	for (size_t i = 0; i < SP_N_ELEMENTS(cases); i++) {
		struct imap_parser *p = imap_parser_new(NULL);
		struct sp_arena *arena = sp_arena_new(1024);
		char *line = sp_arena_printf(arena, "A1 %s\r\n", cases[i].cmd);
		const struct imap_command *c = command(p, line, false);
		SP_CHECK(c != NULL);
		struct imap_list_cmd lc;
		struct imap_error err;
		int rc = imap_list_parse(c->args, c->arg_count, strcmp(c->name, "LSUB") == 0,
		                         cases[i].flags, arena, &lc, &err);
		SP_CHECK_INT(rc, 0);
		if (rc == 0) {
			struct sp_buf out = SP_BUF_INIT;
			int calls = 0;
			size_t lines =
			    imap_list_format(&lc, folders, SP_N_ELEMENTS(folders), cases[i].flags,
			                     status_cb, &calls, 0, arena, &out);
			if (strcmp(sp_buf_cstr(&out), cases[i].want) != 0)
				fprintf(stderr, "  case %s\n", cases[i].cmd);
			SP_CHECK_STR(sp_buf_cstr(&out), cases[i].want);
			/* the count is of LIST/LSUB lines */
			size_t want_lines = 0;
			for (const char *s = cases[i].want; (s = strstr(s, "* L")) != NULL; s++)
				want_lines++;
			SP_CHECK_INT(lines, want_lines);
			sp_buf_deinit(&out);
		}
		sp_arena_free(&arena);
		imap_parser_free(&p);
	}
}

/* A name the store could never hold (not UTF-8) is left out, and an
 * empty account lists nothing but the delimiter. */
static void test_format_edge(void)
{
	static const struct store_folder odd[] = {
	    {.id = 1, .name = "INBOX"},
	    {.id = 2, .name = "bad\xff"},
	};
	struct sp_arena *arena = sp_arena_new(1024);
	const char *pats[] = {"*"};
	struct imap_list_cmd lc = {.reference = "", .patterns = pats, .n_patterns = 1};
	struct sp_buf out = SP_BUF_INIT;
	SP_CHECK_INT(imap_list_format(&lc, odd, 2, 0, NULL, NULL, 0, arena, &out), 1);
	SP_CHECK_STR(sp_buf_cstr(&out), "* LIST (\\HasNoChildren) \"/\" \"INBOX\"\r\n");
	sp_buf_reset(&out);
	SP_CHECK_INT(imap_list_format(&lc, NULL, 0, 0, NULL, NULL, 0, arena, &out), 0);
	SP_CHECK_STR(sp_buf_cstr(&out), "");
	sp_buf_deinit(&out);
	sp_arena_free(&arena);
}

int main(void)
{
	SP_TEST_RUN(test_parse);
	SP_TEST_RUN(test_match);
	SP_TEST_RUN(test_match_cost);
	SP_TEST_RUN(test_names);
	SP_TEST_RUN(test_status);
	SP_TEST_RUN(test_format);
	SP_TEST_RUN(test_format_edge);
	return sp_test_finish();
}
