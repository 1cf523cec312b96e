/* Unit tests for the decoders: CRLF normalisation (whole and byte by
 * byte), quoted-printable, RFC 2047 encoded-words and their common
 * malformations, charsets, address lists, dates and HTML text. */
#include "mime/mime_decode.h"
#include "lib/sp_str.h"
#include "lib/sp_test.h"

SP_TEST_MAIN_DEFS

static void test_crlf(void)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {.in = "", .out = ""},
	    {.in = "a\nb\n", .out = "a\r\nb\r\n"},
	    {.in = "a\rb\r", .out = "a\r\nb\r\n"},
	    {.in = "a\r\nb", .out = "a\r\nb"},
	    {.in = "\r\r\n\n", .out = "\r\n\r\n\r\n"},
	    {.in = "\n\r", .out = "\r\n\r\n"},
	    {.in = "x\r", .out = "x\r\n"},
	    {.in = "\r\n\r\n", .out = "\r\n\r\n"},
	};
	for (size_t i = 0; i < SP_N_ELEMENTS(cases); i++) {
		const uint8_t *in = (const uint8_t *)cases[i].in;
		size_t len = strlen(cases[i].in);
		struct sp_buf whole = SP_BUF_INIT, trickle = SP_BUF_INIT;
		struct mime_crlf_state st = MIME_CRLF_STATE_INIT;
		mime_crlf_normalize(in, len, &whole);
		SP_CHECK_STR(sp_buf_cstr(&whole), cases[i].out);
		/* fed one byte at a time: a CR at a chunk end must wait */
		for (size_t k = 0; k < len; k++)
			mime_crlf_feed(&st, in + k, 1, &trickle);
		mime_crlf_finish(&st, &trickle);
		SP_CHECK_STR(sp_buf_cstr(&trickle), cases[i].out);
		SP_CHECK_INT(mime_served_size(in, len), strlen(cases[i].out));
		sp_buf_deinit(&whole);
		sp_buf_deinit(&trickle);
	}
}

static void test_qp(void)
{
	static const struct {
		const char *in, *out;
		size_t bad;
	} cases[] = {
	    {.in = "caf=C3=A9", .out = "caf\xc3\xa9"},
	    {.in = "caf=c3=a9", .out = "caf\xc3\xa9"},
	    {.in = "soft=\r\nbreak", .out = "softbreak"},
	    {.in = "soft=  \r\nbreak", .out = "softbreak"},
	    {.in = "bare=\nlf", .out = "barelf"},
	    {.in = "trail  \r\nx", .out = "trail\r\nx"},
	    {.in = "a=ZZb", .out = "a=ZZb", .bad = 1},
	    {.in = "end=", .out = "end"},
	    {.in = "end=4", .out = "end=4", .bad = 1},
	    {.in = "under_score", .out = "under_score"},
	};
	for (size_t i = 0; i < SP_N_ELEMENTS(cases); i++) {
		struct sp_buf b = SP_BUF_INIT;
		size_t bad = mime_qp_decode((const uint8_t *)cases[i].in, strlen(cases[i].in), &b);
		SP_CHECK_STR(sp_buf_cstr(&b), cases[i].out);
		SP_CHECK_INT(bad, cases[i].bad);
		sp_buf_deinit(&b);
	}
	struct sp_buf b = SP_BUF_INIT;
	mime_q_decode((const uint8_t *)"a_b=5F", 6, &b);
	SP_CHECK_STR(sp_buf_cstr(&b), "a b_");
	sp_buf_deinit(&b);
}

static void test_rfc2047(void)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {.in = "=?UTF-8?Q?caf=C3=A9?=", .out = "caf\xc3\xa9"},
	    {.in = "=?iso-8859-1?q?caf=E9?=", .out = "caf\xc3\xa9"},
	    {.in = "=?UTF-8?B?w6k=?=", .out = "\xc3\xa9"},
	    /* RFC 2047 §6.2: space between adjacent words is dropped */
	    {.in = "=?UTF-8?Q?a?= =?UTF-8?Q?b?=", .out = "ab"},
	    {.in = "=?UTF-8?Q?a?=\t =?UTF-8?Q?b?=", .out = "ab"},
	    {.in = "x =?UTF-8?Q?a?= y", .out = "x a y"},
	    /* a UTF-8 character split across two words */
	    {.in = "=?UTF-8?B?4oI=?= =?UTF-8?B?rA==?=", .out = "\xe2\x82\xac"},
	    /* missing spaces and words inside quotes */
	    {.in = "abc=?UTF-8?Q?d?=efg", .out = "abcdefg"},
	    {.in = "\"=?UTF-8?Q?Jos=C3=A9?=\" <j@x>", .out = "\"Jos\xc3\xa9\" <j@x>"},
	    /* RFC 2231 §5 language suffix */
	    {.in = "=?US-ASCII*EN?Q?Keith?=", .out = "Keith"},
	    {.in = "=?ks_c_5601-1987?B?x9Gx2w==?=", .out = "\xed\x95\x9c\xea\xb8\x80"},
	    {.in = "=?ISO-2022-JP?B?GyRCJEskWyQzGyhC?=",
	     .out = "\xe3\x81\xab\xe3\x81\xbb\xe3\x81\x93"},
	    {.in = "=?koi8-r?B?89DJ08/L?=",
	     .out = "\xd0\xa1\xd0\xbf\xd0\xb8\xd1\x81\xd0\xbe\xd0\xba"},
	    /* not encoded-words: kept */
	    {.in = "=?UTF-8?X?abc?=", .out = "=?UTF-8?X?abc?="},
	    {.in = "=?UTF-8?Q?unterminated", .out = "=?UTF-8?Q?unterminated"},
	    {.in = "plain", .out = "plain"},
	    /* raw 8-bit that is not UTF-8 is read as latin1 */
	    {.in = "J\xfcrgen", .out = "J\xc3\xbcrgen"},
	    /* invalid bytes in a declared charset become U+FFFD */
	    {.in = "=?UTF-8?Q?a=FFb?=",
	     .out = "a\xef\xbf\xbd"
	            "b"},
	    /* unknown charset: latin1 */
	    {.in = "=?x-nonesuch?Q?caf=E9?=", .out = "caf\xc3\xa9"},
	};
	for (size_t i = 0; i < SP_N_ELEMENTS(cases); i++) {
		struct sp_buf b = SP_BUF_INIT;
		mime_rfc2047_decode((const uint8_t *)cases[i].in, strlen(cases[i].in), &b);
		SP_CHECK_STR(sp_buf_cstr(&b), cases[i].out);
		sp_buf_deinit(&b);
	}
}

/* Many "=?" that never close: must stay linear (each used to scan to the
 * end of the value) and come out unchanged. */
static void test_rfc2047_unterminated(void)
{
	struct sp_buf in = SP_BUF_INIT, out = SP_BUF_INIT;

	for (int i = 0; i < 50000; i++)
		sp_buf_append_str(&in, "=?a?Q?x");
	uint64_t t0 = sp_now_ms();
	mime_rfc2047_decode(in.data, in.len, &out);
	SP_CHECK(out.len == in.len && memcmp(out.data, in.data, in.len) == 0);
	/* quadratic took minutes; linear takes milliseconds */
	SP_CHECK(sp_now_ms() - t0 < 5000);
	sp_buf_deinit(&in);
	sp_buf_deinit(&out);
}

static void test_charset(void)
{
	static const struct {
		const char *charset, *in, *out;
		size_t bad;
	} cases[] = {
	    {.charset = "utf-8", .in = "\xc3\xa9", .out = "\xc3\xa9"},
	    {.charset = "UTF8", .in = "\xc3\xa9", .out = "\xc3\xa9"},
	    {.charset = "utf-8", .in = "a\xc3", .out = "a\xef\xbf\xbd", .bad = 1},
	    {.charset = "utf-8",
	     .in = "\xed\xa0\x80",
	     .out = "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd",
	     .bad = 3},
	    /* windows-1252 for latin1 labels: 0x80 is the euro sign */
	    {.charset = "iso-8859-1", .in = "\x80\xe9", .out = "\xe2\x82\xac\xc3\xa9"},
	    {.charset = "iso-8859-15", .in = "\xa4", .out = "\xe2\x82\xac"},
	    {.charset = "windows-1251", .in = "\xcf\xf0\xe8", .out = "\xd0\x9f\xd1\x80\xd0\xb8"},
	    {.charset = "ks_c_5601-1987", .in = "\xc7\xd1", .out = "\xed\x95\x9c"},
	    {.charset = "euc-kr", .in = "\xc7\xd1", .out = "\xed\x95\x9c"},
	    {.charset = "shift_jis", .in = "\x82\xa0", .out = "\xe3\x81\x82"},
	    {.charset = "gb2312", .in = "\xc4\xe3", .out = "\xe4\xbd\xa0"},
	    {.charset = "us-ascii", .in = "plain", .out = "plain"},
	    {.charset = NULL, .in = "plain", .out = "plain"},
	    /* an unknown charset reads as latin1, or UTF-8 when valid */
	    {.charset = "x-unknown", .in = "\xe9", .out = "\xc3\xa9", .bad = 1},
	    {.charset = "x-unknown", .in = "\xc3\xa9", .out = "\xc3\xa9"},
	    /* a byte that is not in the charset: U+FFFD, the rest goes on */
	    {.charset = "iso-2022-jp", .in = "a\x1b$B\xff\xff", .out = NULL},
	};
	for (size_t i = 0; i < SP_N_ELEMENTS(cases); i++) {
		struct sp_buf b = SP_BUF_INIT;
		size_t bad = mime_charset_to_utf8(cases[i].charset, (const uint8_t *)cases[i].in,
		                                  strlen(cases[i].in), &b);
		if (cases[i].out != NULL) {
			SP_CHECK_STR(sp_buf_cstr(&b), cases[i].out);
			SP_CHECK_INT(bad, cases[i].bad);
		} else {
			SP_CHECK(bad > 0);
			SP_CHECK(b.len > 0 && b.data[0] == 'a');
		}
		sp_buf_deinit(&b);
	}
	SP_CHECK(mime_charset_known("ks_c_5601-1987"));
	SP_CHECK(mime_charset_known("ISO-8859-2"));
	SP_CHECK(!mime_charset_known("x-no-such-charset"));
}

static void test_cte(void)
{
	SP_CHECK_INT(mime_cte_parse(NULL), MIME_CTE_7BIT);
	SP_CHECK_INT(mime_cte_parse("Base64"), MIME_CTE_BASE64);
	SP_CHECK_INT(mime_cte_parse(" quoted-printable (comment)"), MIME_CTE_QP);
	SP_CHECK_INT(mime_cte_parse("8BIT"), MIME_CTE_8BIT);
	SP_CHECK_INT(mime_cte_parse("binary"), MIME_CTE_BINARY);
	SP_CHECK_INT(mime_cte_parse("x-uuencode"), MIME_CTE_UNKNOWN);
	SP_CHECK_INT(mime_cte_parse(""), MIME_CTE_7BIT);
}

/* Renders an address list as "name|route|mailbox|domain;" entries, with
 * "G:" and ":G" for group markers and "!" for invalid entries. */
static void render_addresses(const char *in, struct sp_buf *out)
{
	struct sp_arena *arena = sp_arena_new(4096);
	unsigned n;
	struct mime_address *a = mime_address_parse((const uint8_t *)in, strlen(in), arena, &n);

	for (unsigned i = 0; i < n; i++) {
		if (a[i].group_start) {
			sp_buf_printf(out, "G:%s;", a[i].mailbox);
			continue;
		}
		if (a[i].group_end) {
			sp_buf_append_str(out, ":G;");
			continue;
		}
		sp_buf_printf(out, "%s%s|%s|%s|%s;", a[i].invalid ? "!" : "",
		              a[i].name ? a[i].name : "-", a[i].route ? a[i].route : "-",
		              a[i].mailbox ? a[i].mailbox : "-", a[i].domain ? a[i].domain : "-");
	}
	sp_arena_free(&arena);
}

static void test_address(void)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {.in = "a@b.example", .out = "-|-|a|b.example;"},
	    {.in = "Joe Q. Public <john.q.public@example.com>",
	     .out = "Joe Q. Public|-|john.q.public|example.com;"},
	    {.in = "\"Doe, John\" <jd@x.org>, m@y.org", .out = "Doe, John|-|jd|x.org;-|-|m|y.org;"},
	    {.in = "\"quoted \\\" pair\" <q@x>", .out = "quoted \" pair|-|q|x;"},
	    /* RFC 5322 §A.1.3 groups */
	    {.in = "A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;",
	     .out = "G:A Group;Ed Jones|-|c|a.test;-|-|joe|where.test;John|-|jdoe|one.test;:G;"},
	    {.in = "Undisclosed recipients:;", .out = "G:Undisclosed recipients;:G;"},
	    /* obsolete route (RFC 5322 §4.4) */
	    {.in = "<@relay1.test,@relay2.test:user@host.test>",
	     .out = "-|@relay1.test,@relay2.test|user|host.test;"},
	    /* comments: a comment names a bare addr-spec */
	    {.in = "barry@python.org (Barry A. Warsaw)",
	     .out = "Barry A. Warsaw|-|barry|python.org;"},
	    {.in = "Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>",
	     .out = "Pete|-|pete|silly.test;"},
	    /* missing angle brackets */
	    {.in = "John Doe john@example.com", .out = "John Doe|-|john|example.com;"},
	    /* missing domain, lone words */
	    {.in = "foo", .out = "!-|-|foo|-;"},
	    {.in = "MAILER DAEMON", .out = "!MAILER DAEMON|-|-|-;"},
	    {.in = "<>", .out = "!-|-|-|-;"},
	    {.in = "", .out = ""},
	    {.in = " , ,", .out = ""},
	    /* unclosed quote and bracket do not loop */
	    {.in = "\"unclosed <a@b", .out = "!-|-|\"unclosed <a@b\"|-;"},
	    {.in = "x <a@b", .out = "x|-|a|b;"},
	    {.in = "a@b, c@d", .out = "-|-|a|b;-|-|c|d;"},
	    {.in = "=?utf-8?Q?J=C3=B6rg?= <j@x>", .out = "=?utf-8?Q?J=C3=B6rg?=|-|j|x;"},
	};
	for (size_t i = 0; i < SP_N_ELEMENTS(cases); i++) {
		struct sp_buf b = SP_BUF_INIT;
		render_addresses(cases[i].in, &b);
		SP_CHECK_STR(sp_buf_cstr(&b), cases[i].out);
		sp_buf_deinit(&b);
	}
}

/* The address text that FROM/TO/CC/BCC searches match (mime_address_text). */
static void test_address_text(void)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {.in = "user-from@domain.org", .out = "user-from@domain.org"},
	    {.in = "RealFrom <user-from@domain.org>", .out = "RealFrom <user-from@domain.org>"},
	    {.in = "<user-from (comment)@ (comment) domain.org>", .out = "user-from@domain.org"},
	    {.in = "user-from@domain.org (RealFrom)", .out = "RealFrom <user-from@domain.org>"},
	    {.in = "a@b.org,  \"Doe, John\" <jd@x.org>", .out = "a@b.org, Doe, John <jd@x.org>"},
	    {.in = "groupname: groupuser1@domain.org, groupuser2@domain.org;,\r\n"
	           "  groupname2: groupuser3@domain.org;",
	     .out = "groupname: groupuser1@domain.org, groupuser2@domain.org;, "
	            "groupname2: groupuser3@domain.org;"},
	    {.in = "groupname:;", .out = "groupname:;"},
	    {.in = "=?utf-8?Q?J=C3=B6rg?= <j@x>", .out = "J\xc3\xb6rg <j@x>"},
	    {.in = "<@relay.test:user@host.test>", .out = "user@host.test"},
	    {.in = "MAILER DAEMON", .out = "MAILER DAEMON"},
	    {.in = "foo", .out = "foo"},
	    {.in = "", .out = ""},
	};
	for (size_t i = 0; i < SP_N_ELEMENTS(cases); i++) {
		struct sp_buf b = SP_BUF_INIT;
		mime_address_text((const uint8_t *)cases[i].in, strlen(cases[i].in), &b);
		SP_CHECK_STR(sp_buf_cstr(&b), cases[i].out);
		sp_buf_deinit(&b);
	}
}

static void test_date(void)
{
	static const struct {
		const char *in;
		int rc;
		long long utc;
		int offset;
	} cases[] = {
	    {.in = "Thu, 13 Sep 2001 17:28:42 -0400", .utc = 1000416522, .offset = -240},
	    {.in = "13 Sep 2001 17:28:42 -0400", .utc = 1000416522, .offset = -240},
	    {.in = "Thu, 13 Sep 2001 21:28:42 +0000 (UTC)", .utc = 1000416522},
	    {.in = "Thu, 13 Sep 2001 21:28:42 GMT", .utc = 1000416522},
	    /* named US zones (RFC 5322 §4.3) */
	    {.in = "Thu, 13 Sep 2001 17:28:42 EDT", .utc = 1000416522, .offset = -240},
	    {.in = "Thu, 13 Sep 2001 14:28:42 PDT", .utc = 1000416522, .offset = -420},
	    /* military and unknown zones are -0000 */
	    {.in = "Thu, 13 Sep 2001 21:28:42 Z", .utc = 1000416522},
	    {.in = "Thu, 13 Sep 2001 21:28:42 CEST", .utc = 1000416522},
	    /* two- and three-digit years */
	    {.in = "Wed, 11 Feb 98 11:51 CST", .utc = 887219460, .offset = -360},
	    {.in = "1 Jan 05 00:00:00 +0000", .utc = 1104537600},
	    {.in = "1 Jan 105 00:00:00 +0000", .utc = 1104537600},
	    {.in = "1 Jan 49 00:00:00 +0000", .utc = 2493072000LL},
	    {.in = "1 Jan 50 00:00:00 +0000", .utc = -631152000LL},
	    /* no seconds, folding whitespace, comments */
	    {.in = "Fri, 21 Nov 1997 09:55 -0600", .utc = 880127700, .offset = -360},
	    {.in = "Fri, 21 Nov 1997 09(comment):   55  :  06 -0600",
	     .rc = 0,
	     .utc = 880127706,
	     .offset = -360},
	    /* ctime-like order */
	    {.in = "Thu Sep 13 21:28:42 2001", .utc = 1000416522},
	    /* near midnight in a non-UTC zone: UTC is the previous day */
	    {.in = "Mon, 2 Jan 2006 00:30:00 +0200", .utc = 1136154600, .offset = 120},
	    {.in = "Malformed Date.", .rc = -1},
	    {.in = "", .rc = -1},
	    {.in = "32 Jan 2001 00:00 +0000", .rc = -1},
	    {.in = "1 Jan 2001 25:00 +0000", .rc = -1},
	};
	for (size_t i = 0; i < SP_N_ELEMENTS(cases); i++) {
		time_t t = 0;
		int off = 12345;
		int rc =
		    mime_date_parse((const uint8_t *)cases[i].in, strlen(cases[i].in), &t, &off);
		SP_CHECK_INT(rc, cases[i].rc);
		if (rc == 0 && cases[i].rc == 0) {
			SP_CHECK_INT(t, cases[i].utc);
			SP_CHECK_INT(off, cases[i].offset);
		}
	}
}

static void test_html(void)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {.in = "<p>Hello&nbsp;<b>world</b> &amp; you</p>", .out = "\nHello  world  & you\n"},
	    {.in = "a<br>b", .out = "a\nb"},
	    {.in = "<style>p{}</style>x<script>var a='<b>';</script>y", .out = " x y"},
	    {.in = "<!-- hidden -->shown", .out = "shown"},
	    {.in = "&#233;&#xE9;&eacute;&bogus;", .out = "\xc3\xa9\xc3\xa9\xc3\xa9&bogus;"},
	    {.in = "&#0;", .out = "\xef\xbf\xbd"},
	    {.in = "unclosed <tag", .out = "unclosed  "},
	    {.in = "<head><title>t</title></head>body", .out = " body"},
	};
	for (size_t i = 0; i < SP_N_ELEMENTS(cases); i++) {
		struct sp_buf b = SP_BUF_INIT;
		mime_html_to_text((const uint8_t *)cases[i].in, strlen(cases[i].in), &b);
		SP_CHECK_STR(sp_buf_cstr(&b), cases[i].out);
		sp_buf_deinit(&b);
	}
}

static void test_imap_string(void)
{
	static const struct {
		const char *in;
		unsigned flags;
		const char *out;
	} cases[] = {
	    {.in = "plain", .out = "\"plain\""},
	    {.in = "say \"hi\" \\o/", .out = "\"say \\\"hi\\\" \\\\o/\""},
	    {.in = "two\r\nlines", .out = "{10}\r\ntwo\r\nlines"},
	    {.in = "caf\xc3\xa9", .out = "{5}\r\ncaf\xc3\xa9"},
	    {.in = "caf\xc3\xa9", .flags = MIME_IMAP_UTF8, .out = "\"caf\xc3\xa9\""},
	    /* invalid UTF-8 is a literal even in UTF8=ACCEPT mode */
	    {.in = "caf\xe9", .flags = MIME_IMAP_UTF8, .out = "{4}\r\ncaf\xe9"},
	    {.in = "", .out = "\"\""},
	};
	for (size_t i = 0; i < SP_N_ELEMENTS(cases); i++) {
		struct sp_buf b = SP_BUF_INIT;
		mime_imap_string(cases[i].in, strlen(cases[i].in), cases[i].flags, &b);
		SP_CHECK_STR(sp_buf_cstr(&b), cases[i].out);
		sp_buf_deinit(&b);
	}
	struct sp_buf b = SP_BUF_INIT;
	mime_imap_string(NULL, 0, 0, &b);
	SP_CHECK_STR(sp_buf_cstr(&b), "NIL");
	sp_buf_reset(&b);
	/* NUL is not CHAR8 (RFC 3501 §4.3): dropped */
	mime_imap_string("a\0b\n", 4, 0, &b);
	SP_CHECK(b.len == 8 && memcmp(b.data, "{3}\r\nab\n", 8) == 0);
	sp_buf_deinit(&b);
}

int main(void)
{
	SP_TEST_RUN(test_crlf);
	SP_TEST_RUN(test_qp);
	SP_TEST_RUN(test_rfc2047);
	SP_TEST_RUN(test_rfc2047_unterminated);
	SP_TEST_RUN(test_charset);
	SP_TEST_RUN(test_cte);
	SP_TEST_RUN(test_address);
	SP_TEST_RUN(test_address_text);
	SP_TEST_RUN(test_date);
	SP_TEST_RUN(test_html);
	SP_TEST_RUN(test_imap_string);
	return sp_test_finish();
}
