/* Unit tests for the SMTP-family command parser: every command and ESMTP
 * parameter, path edge cases, line errors, DATA dot-unstuffing and the
 * smuggling variants, BDAT, AUTH lines. Each case runs on the whole input,
 * fed one byte at a time, and in several random chunkings, and all must
 * give the expected transcript (smtp_transcript_test.h). */
#include "smtp/smtp_transcript_test.h"
#include "lib/sp_test.h"

SP_TEST_MAIN_DEFS

struct tcase {
	const char *in;
	size_t len;
	enum smtp_mode mode;
	bool reject_bdat;
	size_t max_line;      /* 0: default */
	uint64_t max_message; /* 0: default */
	const char *expect;
};

#define IN(s) .in = (s), .len = sizeof(s) - 1

/* Runs one case under every chunking; reports the first mismatch. */
static void run_case(const struct tcase *c, size_t index)
{
	struct smtp_limits limits;
	smtp_limits_init(&limits);
	if (c->max_line)
		limits.max_line = c->max_line;
	if (c->max_message)
		limits.max_message = c->max_message;
	static const struct {
		enum smtp_chunking chunking;
		size_t max_chunk;
		uint32_t seed;
	} runs[] = {
	    {SMTP_CHUNK_WHOLE, 0, 0},  {SMTP_CHUNK_BYTE, 0, 0},    {SMTP_CHUNK_RANDOM, 3, 1},
	    {SMTP_CHUNK_RANDOM, 7, 2}, {SMTP_CHUNK_RANDOM, 16, 3}, {SMTP_CHUNK_RANDOM, 64, 4},
	};
	for (size_t r = 0; r < SP_N_ELEMENTS(runs); r++) {
		struct smtp_transcript_opts o = {
		    .mode = c->mode,
		    .limits = &limits,
		    .reject_bdat = c->reject_bdat,
		    .chunking = runs[r].chunking,
		    .max_chunk = runs[r].max_chunk,
		    .seed = runs[r].seed,
		};
		struct sp_buf out = SP_BUF_INIT;
		smtp_transcript((const uint8_t *)c->in, c->len, &o, &out);
		if (o.violation != NULL || strcmp(sp_buf_cstr(&out), c->expect) != 0) {
			fprintf(stderr, "case %zu, chunking %zu: %s\n", index, r,
			        o.violation ? o.violation : "transcript differs");
			SP_CHECK_STR(sp_buf_cstr(&out), c->expect);
			sp_buf_deinit(&out);
			return;
		}
		sp_buf_deinit(&out);
	}
}

static void run_table(const struct tcase *cases, size_t n)
{
	for (size_t i = 0; i < n; i++)
		run_case(&cases[i], i);
}

static void test_greetings(void)
{
	static const struct tcase cases[] = {
	    {IN("EHLO client.example\r\n"), .expect = "EHLO \"client.example\"\n"},
	    {IN("ehlo Client.Example\r\n"), .expect = "EHLO \"Client.Example\"\n"},
	    {IN("HELO [192.0.2.1]\r\n"), .expect = "HELO \"[192.0.2.1]\"\n"},
	    {IN("EHLO [IPv6:2001:db8::1]\r\n"), .expect = "EHLO \"[IPv6:2001:db8::1]\"\n"},
	    {IN("EHLO my_pc\r\n"), .expect = "EHLO \"my_pc\"\n"},
	    {IN("EHLO  spaced.example  \r\n"), .expect = "EHLO \"spaced.example\"\n"},
	    {IN("EHLO\r\n"), .expect = "ERR 501 5.5.4 argument EHLO\n"},
	    {IN("EHLO a.example b\r\n"), .expect = "ERR 501 5.5.4 argument EHLO\n"},
	    {IN("EHLO -bad.example\r\n"), .expect = "ERR 501 5.5.4 argument EHLO\n"},
	    {IN("EHLO bad-.example\r\n"), .expect = "ERR 501 5.5.4 argument EHLO\n"},
	    {IN("EHLO a..example\r\n"), .expect = "ERR 501 5.5.4 argument EHLO\n"},
	    {IN("EHLO [192.0.2.256]\r\n"), .expect = "ERR 501 5.5.4 argument EHLO\n"},
	    {IN("EHLO b\xc3\xbc"
	        "cher.example\r\n"),
	     .expect = "ERR 501 5.5.4 argument EHLO\n"},
	    {IN("LHLO client.example\r\n"), .expect = "ERR 500 5.5.1 unknown LHLO\n"},
	    {IN("LHLO client.example\r\n"), .mode = SMTP_MODE_LMTP,
	     .expect = "LHLO \"client.example\"\n"},
	    {IN("EHLO client.example\r\nHELO client.example\r\nLHLO\r\n"), .mode = SMTP_MODE_LMTP,
	     .expect = "ERR 500 5.5.1 unknown EHLO\nERR 500 5.5.1 unknown HELO\n"
	               "ERR 501 5.5.4 argument LHLO\n"},
	};
	run_table(cases, SP_N_ELEMENTS(cases));
}

static void test_simple_commands(void)
{
	static const struct tcase cases[] = {
	    {IN("RSET\r\nrset\r\nRSET \r\nRSET x\r\n"),
	     .expect = "RSET\nRSET\nRSET\nERR 501 5.5.4 argument RSET\n"},
	    {IN("QUIT\r\nQUIT now\r\n"), .expect = "QUIT\nERR 501 5.5.4 argument QUIT\n"},
	    {IN("STARTTLS\r\nSTARTTLS x\r\n"),
	     .expect = "STARTTLS\nERR 501 5.5.4 argument STARTTLS\n"},
	    {IN("NOOP\r\nNOOP hello  there\r\n"), .expect = "NOOP\nNOOP \"hello  there\"\n"},
	    {IN("HELP\r\nHELP MAIL\r\n"), .expect = "HELP\nHELP \"MAIL\"\n"},
	    {IN("VRFY postmaster\r\nVRFY\r\n"),
	     .expect = "VRFY \"postmaster\"\nERR 501 5.5.4 argument VRFY\n"},
	    {IN("EXPN staff\r\nEXPN \r\n"),
	     .expect = "EXPN \"staff\"\nERR 501 5.5.4 argument EXPN\n"},
	    {IN("VRFY \"Jo Smith\" <jo@example.com>\r\n"),
	     .expect = "VRFY \"\\\"Jo Smith\\\" <jo@example.com>\"\n"},
	    {IN("DATA x\r\n"), .expect = "ERR 501 5.5.4 argument DATA\n"},
	    {IN("FOO bar\r\nMAILFROM:<a@b>\r\n NOOP\r\nNOOP\r\n"),
	     .expect = "ERR 500 5.5.1 unknown\nERR 500 5.5.1 unknown\n"
	               "ERR 500 5.5.1 unknown\nNOOP\n"},
	    {IN("\r\n   \r\nNOOP\r\n"),
	     .expect = "ERR 500 5.5.2 empty\nERR 500 5.5.2 empty\nNOOP\n"},
	};
	run_table(cases, SP_N_ELEMENTS(cases));
}

static void test_line_errors(void)
{
	static const struct tcase cases[] = {
	    /* Bare LF ends a line but the line is refused. */
	    {IN("NOOP\nNOOP\r\n"), .expect = "ERR 500 5.5.2 bare-lf\nNOOP\n"},
	    {IN("\nNOOP\r\n"), .expect = "ERR 500 5.5.2 bare-lf\nNOOP\n"},
	    /* A bare CR does not end a line: the whole line is refused. */
	    {IN("NOOP\rRSET\r\nNOOP\r\n"), .expect = "ERR 500 5.5.2 bare-cr\nNOOP\n"},
	    {IN("NOOP\r\r\nNOOP\r\n"), .expect = "ERR 500 5.5.2 bare-cr\nNOOP\n"},
	    {IN("NOOP\r\r\r\n"), .expect = "ERR 500 5.5.2 bare-cr\n"},
	    /* NUL anywhere in a command line. */
	    {IN("NO\0OP\r\nNOOP\r\n"), .expect = "ERR 500 5.5.2 nul\nNOOP\n"},
	    {IN("MAIL FROM:<a@b.example>\0\r\nNOOP\r\n"), .expect = "ERR 500 5.5.2 nul\nNOOP\n"},
	    {IN("\0\n"), .expect = "ERR 500 5.5.2 nul\n"},
	    /* One error per line, the first problem found. */
	    {IN("A\0B\rC\n"), .expect = "ERR 500 5.5.2 nul\n"},
	    /* No LF yet: nothing to report. */
	    {IN("NOOP\r"), .expect = ""},
	    {IN("NOOP"), .expect = ""},
	};
	run_table(cases, SP_N_ELEMENTS(cases));
}

static void test_paths(void)
{
	static const struct tcase cases[] = {
	    {IN("MAIL FROM:<a@example.com>\r\n"), .expect = "MAIL <a@example.com>\n"},
	    {IN("mail from:<A@Example.COM>\r\n"), .expect = "MAIL <A@Example.COM>\n"},
	    {IN("MAIL FROM: <a@example.com>\r\n"), .expect = "MAIL <a@example.com>\n"},
	    {IN("MAIL FROM:<>\r\n"), .expect = "MAIL <> null\n"},
	    {IN("RCPT TO:<>\r\n"), .expect = "ERR 501 5.1.3 rcpt RCPT\n"},
	    {IN("RCPT TO:<Postmaster>\r\nRCPT TO:<postMASTER>\r\n"),
	     .expect = "RCPT <Postmaster> postmaster\nRCPT <postMASTER> postmaster\n"},
	    {IN("RCPT TO:<postmaster@example.com>\r\n"),
	     .expect = "RCPT <postmaster@example.com>\n"},
	    {IN("MAIL FROM:<Postmaster>\r\n"), .expect = "ERR 501 5.1.7 sender MAIL\n"},
	    {IN("RCPT TO:<@a.example,@b.example:user@c.example>\r\n"),
	     .expect = "RCPT <user@c.example> route\n"},
	    {IN("RCPT TO:<@a.example:Postmaster>\r\n"),
	     .expect = "RCPT <Postmaster> postmaster route\n"},
	    {IN("RCPT TO:<@a.example,user@c.example>\r\n"), .expect = "ERR 501 5.1.3 rcpt RCPT\n"},
	    {IN("RCPT TO:<@a.example:>\r\n"), .expect = "ERR 501 5.1.3 rcpt RCPT\n"},
	    {IN("RCPT TO:<@-a.example:u@c.example>\r\n"), .expect = "ERR 501 5.1.3 rcpt RCPT\n"},
	    {IN("RCPT TO:<\"john doe\"@example.com>\r\n"),
	     .expect = "RCPT <\"john doe\"@example.com> quoted local=\"john doe\"\n"},
	    {IN("RCPT TO:<\"john\"@example.com>\r\n"),
	     .expect = "RCPT <\"john\"@example.com> quoted local=\"john\"\n"},
	    {IN("RCPT TO:<\"a\\\"b\\\\c\"@example.com>\r\n"),
	     .expect = "RCPT <\"a\\\"b\\\\c\"@example.com> quoted local=\"a\\\"b\\\\c\"\n"},
	    {IN("RCPT TO:<\"\"@example.com>\r\n"),
	     .expect = "RCPT <\"\"@example.com> quoted local=\"\"\n"},
	    {IN("RCPT TO:<\"unterminated@example.com>\r\n"), .expect = "ERR 501 5.1.3 rcpt RCPT\n"},
	    {IN("RCPT TO:<\"tab\there\"@example.com>\r\n"), .expect = "ERR 501 5.1.3 rcpt RCPT\n"},
	    {IN("RCPT TO:<user@[192.0.2.1]>\r\n"), .expect = "RCPT <user@[192.0.2.1]> literal\n"},
	    {IN("RCPT TO:<user@[IPv6:::1]>\r\n"), .expect = "RCPT <user@[IPv6:::1]> literal\n"},
	    {IN("RCPT TO:<user@[ipv6:2001:db8::1]>\r\n"),
	     .expect = "RCPT <user@[ipv6:2001:db8::1]> literal\n"},
	    {IN("RCPT TO:<user@[IPv6:2001:db8::g]>\r\n"), .expect = "ERR 501 5.1.3 rcpt RCPT\n"},
	    {IN("RCPT TO:<user@[x-tag:abc]>\r\n"), .expect = "RCPT <user@[x-tag:abc]> literal\n"},
	    {IN("RCPT TO:<user@[300.1.1.1]>\r\n"), .expect = "ERR 501 5.1.3 rcpt RCPT\n"},
	    {IN("RCPT TO:<user@[1.2.3]>\r\n"), .expect = "ERR 501 5.1.3 rcpt RCPT\n"},
	    {IN("RCPT TO:<user@[]>\r\n"), .expect = "ERR 501 5.1.3 rcpt RCPT\n"},
	    {IN("RCPT TO:<user>\r\n"), .expect = "ERR 501 5.1.3 rcpt RCPT\n"},
	    {IN("RCPT TO:user@example.com\r\n"), .expect = "ERR 501 5.1.3 rcpt RCPT\n"},
	    {IN("RCPT TO:<user@example.com\r\n"), .expect = "ERR 501 5.1.3 rcpt RCPT\n"},
	    {IN("RCPT TO:<user@example.com>x\r\n"), .expect = "ERR 501 5.1.3 rcpt RCPT\n"},
	    {IN("RCPT TO:<user@example.com.>\r\n"), .expect = "ERR 501 5.1.3 rcpt RCPT\n"},
	    {IN("RCPT TO:<user@.example.com>\r\n"), .expect = "ERR 501 5.1.3 rcpt RCPT\n"},
	    {IN("RCPT TO:<user@-example.com>\r\n"), .expect = "ERR 501 5.1.3 rcpt RCPT\n"},
	    {IN("RCPT TO:<user@>\r\n"), .expect = "ERR 501 5.1.3 rcpt RCPT\n"},
	    {IN("RCPT TO:<@example.com>\r\n"), .expect = "ERR 501 5.1.3 rcpt RCPT\n"},
	    {IN("RCPT TO:<a b@example.com>\r\n"), .expect = "ERR 501 5.1.3 rcpt RCPT\n"},
	    {IN("RCPT TO:<a@b@example.com>\r\n"), .expect = "ERR 501 5.1.3 rcpt RCPT\n"},
	    {IN("RCPT TO:<user@sub_domain.example>\r\n"),
	     .expect = "RCPT <user@sub_domain.example>\n"},
	    /* Leniency for real senders: empty atoms in the local part. */
	    {IN("RCPT TO:<a..b.@docomo.ne.jp>\r\n"), .expect = "RCPT <a..b.@docomo.ne.jp>\n"},
	    {IN("RCPT TO:<!#$%&'*+-/=?^_`{|}~@example.com>\r\n"),
	     .expect = "RCPT <!#$%&'*+-/=?^_`{|}~@example.com>\n"},
	    /* 63-octet labels pass, 64 do not. */
	    {IN("RCPT "
	        "TO:<u@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example>"
	        "\r\n"),
	     .expect =
	         "RCPT "
	         "<u@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example>\n"},
	    {IN("RCPT "
	        "TO:<u@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example>"
	        "\r\n"),
	     .expect = "ERR 501 5.1.3 rcpt RCPT\n"},
	    /* UTF-8 (RFC 6531). */
	    {IN("RCPT TO:<jos\xc3\xa9@example.com>\r\n"),
	     .expect = "RCPT <jos\\xc3\\xa9@example.com> utf8\n"},
	    {IN("RCPT TO:<user@b\xc3\xbc"
	        "cher.example>\r\n"),
	     .expect = "RCPT <user@b\\xc3\\xbccher.example> utf8\n"},
	    {IN("RCPT TO:<\"\xe6\x97\xa5 \xe6\x9c\xac\"@example.com>\r\n"),
	     .expect = "RCPT <\"\\xe6\\x97\\xa5 \\xe6\\x9c\\xac\"@example.com> quoted "
	               "local=\"\\xe6\\x97\\xa5 \\xe6\\x9c\\xac\" utf8\n"},
	    {IN("MAIL FROM:<jos\xc3\xa9@example.com>\r\n"), .expect = "ERR 553 5.6.7 utf8 MAIL\n"},
	    {IN("MAIL FROM:<jos\xc3\xa9@example.com> SMTPUTF8\r\n"),
	     .expect = "MAIL <jos\\xc3\\xa9@example.com> utf8 SMTPUTF8\n"},
	    {IN("RCPT TO:<jos\xc3@example.com>\r\n"), .expect = "ERR 501 5.1.3 rcpt RCPT\n"},
	    {IN("RCPT TO:<jos\xc0\xaf@example.com>\r\n"), .expect = "ERR 501 5.1.3 rcpt RCPT\n"},
	    {IN("RCPT TO:<jos\xed\xa0\x80@example.com>\r\n"),
	     .expect = "ERR 501 5.1.3 rcpt RCPT\n"},
	    {IN("RCPT TO:<x@\xff.example>\r\n"), .expect = "ERR 501 5.1.3 rcpt RCPT\n"},
	    /* Command shape. */
	    {IN("MAIL FROM <a@example.com>\r\n"), .expect = "ERR 501 5.5.2 syntax MAIL\n"},
	    {IN("MAIL\r\nRCPT\r\n"),
	     .expect = "ERR 501 5.5.2 syntax MAIL\nERR 501 5.5.2 syntax RCPT\n"},
	    {IN("MAIL FROM:\r\nRCPT TO:\r\n"),
	     .expect = "ERR 501 5.1.7 sender MAIL\nERR 501 5.1.3 rcpt RCPT\n"},
	    {IN("RCPT FROM:<a@example.com>\r\n"), .expect = "ERR 501 5.5.2 syntax RCPT\n"},
	};
	run_table(cases, SP_N_ELEMENTS(cases));
}

static void test_params(void)
{
	static const struct tcase cases[] = {
	    {IN("MAIL FROM:<a@b.example> SIZE=1000 BODY=8BITMIME\r\n"),
	     .expect = "MAIL <a@b.example> SIZE=1000 BODY=8BITMIME\n"},
	    {IN("MAIL FROM:<a@b.example> size=0 body=binarymime smtputf8\r\n"),
	     .expect = "MAIL <a@b.example> SIZE=0 BODY=BINARYMIME SMTPUTF8\n"},
	    {IN("MAIL FROM:<a@b.example>   BODY=7BIT   SIZE=5   \r\n"),
	     .expect = "MAIL <a@b.example> SIZE=5 BODY=7BIT\n"},
	    {IN("MAIL FROM:<> BODY=9BIT\r\n"), .expect = "ERR 501 5.5.4 param-invalid MAIL\n"},
	    {IN("MAIL FROM:<> SIZE=abc\r\n"), .expect = "ERR 501 5.5.4 param-invalid MAIL\n"},
	    {IN("MAIL FROM:<> SIZE=\r\n"), .expect = "ERR 501 5.5.4 param-invalid MAIL\n"},
	    {IN("MAIL FROM:<> SIZE\r\n"), .expect = "ERR 501 5.5.4 param-invalid MAIL\n"},
	    {IN("MAIL FROM:<> SIZE=-1\r\n"), .expect = "ERR 501 5.5.4 param-invalid MAIL\n"},
	    {IN("MAIL FROM:<> SIZE=1 SIZE=2\r\n"), .expect = "ERR 501 5.5.4 param-invalid MAIL\n"},
	    {IN("MAIL FROM:<> SIZE=99999999999999999999\r\n"),
	     .expect = "MAIL <> null SIZE=18446744073709551615\n"},
	    {IN("MAIL FROM:<> SIZE=18446744073709551615\r\n"),
	     .expect = "MAIL <> null SIZE=18446744073709551615\n"},
	    {IN("MAIL FROM:<> SIZE=123456789012345678901\r\n"),
	     .expect = "ERR 501 5.5.4 param-invalid MAIL\n"},
	    {IN("MAIL FROM:<> SMTPUTF8=yes\r\n"), .expect = "ERR 501 5.5.4 param-invalid MAIL\n"},
	    {IN("MAIL FROM:<> RET=HDRS ENVID=QQ314159\r\n"),
	     .expect = "MAIL <> null RET=HDRS ENVID=\"QQ314159\"\n"},
	    {IN("MAIL FROM:<> ret=full envid=a+2Bb+3d\r\n"),
	     .expect = "MAIL <> null RET=FULL ENVID=\"a+b=\"\n"},
	    {IN("MAIL FROM:<> RET=ALL\r\n"), .expect = "ERR 501 5.5.4 param-invalid MAIL\n"},
	    {IN("MAIL FROM:<> ENVID=a+2\r\n"), .expect = "ERR 501 5.5.4 param-invalid MAIL\n"},
	    {IN("MAIL FROM:<> ENVID=a+0D+0Ab\r\n"), .expect = "ERR 501 5.5.4 param-invalid MAIL\n"},
	    {IN("MAIL FROM:<> ENVID=a+zzb\r\n"), .expect = "ERR 501 5.5.4 param-invalid MAIL\n"},
	    {IN("MAIL FROM:<> ENVID=\xc3\xa9\r\n"), .expect = "ERR 501 5.5.4 param-invalid MAIL\n"},
	    {IN("MAIL FROM:<> ENVID="
	        "0123456789012345678901234567890123456789"
	        "0123456789012345678901234567890123456789"
	        "01234567890123456789\r\n"),
	     .expect = "MAIL <> null ENVID=\"0123456789012345678901234567890123456789"
	               "0123456789012345678901234567890123456789"
	               "01234567890123456789\"\n"},
	    {IN("MAIL FROM:<> ENVID="
	        "0123456789012345678901234567890123456789"
	        "0123456789012345678901234567890123456789"
	        "012345678901234567890\r\n"),
	     .expect = "ERR 501 5.5.4 param-invalid MAIL\n"},
	    {IN("MAIL FROM:<a@b.example> AUTH=<>\r\n"),
	     .expect = "MAIL <a@b.example> AUTH=\"<>\"\n"},
	    {IN("MAIL FROM:<a@b.example> AUTH=e+3Dmc2@example.com\r\n"),
	     .expect = "MAIL <a@b.example> AUTH=\"e=mc2@example.com\"\n"},
	    {IN("MAIL FROM:<a@b.example> AUTH=a+zz\r\n"),
	     .expect = "ERR 501 5.5.4 param-invalid MAIL\n"},
	    {IN("MAIL FROM:<> FOO=bar\r\n"), .expect = "ERR 555 5.5.4 param-unknown MAIL\n"},
	    {IN("MAIL FROM:<> NOTIFY=NEVER\r\n"), .expect = "ERR 555 5.5.4 param-unknown MAIL\n"},
	    {IN("MAIL FROM:<> -X=1\r\n"), .expect = "ERR 501 5.5.4 param-invalid MAIL\n"},
	    {IN("MAIL FROM:<> SIZE=1=2\r\n"), .expect = "ERR 501 5.5.4 param-invalid MAIL\n"},
	    {IN("MAIL FROM:<> =1\r\n"), .expect = "ERR 501 5.5.4 param-invalid MAIL\n"},
	    {IN("RCPT TO:<c@d.example> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a+2Bb@example.com\r\n"),
	     .expect = "RCPT <c@d.example> NOTIFY=SF ORCPT=rfc822;\"a+b@example.com\"\n"},
	    {IN("RCPT TO:<c@d.example> notify=delay,success\r\n"),
	     .expect = "RCPT <c@d.example> NOTIFY=SD\n"},
	    {IN("RCPT TO:<c@d.example> NOTIFY=NEVER\r\n"),
	     .expect = "RCPT <c@d.example> NOTIFY=N\n"},
	    {IN("RCPT TO:<c@d.example> NOTIFY=NEVER,DELAY\r\n"),
	     .expect = "ERR 501 5.5.4 param-invalid RCPT\n"},
	    {IN("RCPT TO:<c@d.example> NOTIFY=SUCCESS,,FAILURE\r\n"),
	     .expect = "ERR 501 5.5.4 param-invalid RCPT\n"},
	    {IN("RCPT TO:<c@d.example> NOTIFY=SOMETIMES\r\n"),
	     .expect = "ERR 501 5.5.4 param-invalid RCPT\n"},
	    {IN("RCPT TO:<c@d.example> ORCPT=a@b.example\r\n"),
	     .expect = "ERR 501 5.5.4 param-invalid RCPT\n"},
	    {IN("RCPT TO:<c@d.example> ORCPT=rfc822;\r\n"),
	     .expect = "ERR 501 5.5.4 param-invalid RCPT\n"},
	    {IN("RCPT TO:<c@d.example> ORCPT=;a@b.example\r\n"),
	     .expect = "ERR 501 5.5.4 param-invalid RCPT\n"},
	    {IN("RCPT TO:<c@d.example> ORCPT=rfc822;jos\xc3\xa9@b.example\r\n"),
	     .expect = "ERR 501 5.5.4 param-invalid RCPT\n"},
	    {IN("RCPT TO:<c@d.example> ORCPT=utf-8;jos\xc3\xa9@b.example\r\n"),
	     .expect = "RCPT <c@d.example> ORCPT=utf-8;\"jos\\xc3\\xa9@b.example\"\n"},
	    {IN("RCPT TO:<c@d.example> SIZE=1\r\n"),
	     .expect = "ERR 555 5.5.4 param-unknown RCPT\n"},
	    {IN("RCPT TO:<c@d.example> ORCPT=rfc822;a ORCPT=rfc822;b\r\n"),
	     .expect = "ERR 501 5.5.4 param-invalid RCPT\n"},
	};
	run_table(cases, SP_N_ELEMENTS(cases));
}

static void test_data(void)
{
	static const struct tcase cases[] = {
	    {IN("DATA\r\nhello\r\n.\r\nQUIT\r\n"),
	     .expect = "DATA\nCONTENT \"hello\\r\\n\"\nEND size=7\nQUIT\n"},
	    {IN("DATA\r\n.\r\nNOOP\r\n"), .expect = "DATA\nEND size=0\nNOOP\n"},
	    /* Dot-unstuffing (RFC 5321 §4.5.2). */
	    {IN("DATA\r\n..leading\r\n.\r\n"),
	     .expect = "DATA\nCONTENT \".leading\\r\\n\"\nEND size=10\n"},
	    {IN("DATA\r\na\r\n..\r\n...\r\n.\r\n"),
	     .expect = "DATA\nCONTENT \"a\\r\\n.\\r\\n..\\r\\n\"\nEND size=10\n"},
	    {IN("DATA\r\n.x\r\n.\r\n"), .expect = "DATA\nCONTENT \"x\\r\\n\"\nEND size=3\n"},
	    {IN("DATA\r\nx.\r\n.y.\r\n.\r\n"),
	     .expect = "DATA\nCONTENT \"x.\\r\\ny.\\r\\n\"\nEND size=8\n"},
	    /* Smuggling (CVE-2023-51764): only CRLF.CRLF ends. */
	    {IN("DATA\r\na\n.\nb\r\n.\r\n"),
	     .expect = "DATA\nCONTENT \"a\\n.\\nb\\r\\n\"\nEND size=7\n"},
	    {IN("DATA\r\na\r.\rb\r\n.\r\n"),
	     .expect = "DATA\nCONTENT \"a\\r.\\rb\\r\\n\"\nEND size=7\n"},
	    {IN("DATA\r\na\r\n.\nMAIL FROM:<x@y.example>\r\n.\r\n"),
	     .expect = "DATA\nCONTENT \"a\\r\\n\\nMAIL FROM:<x@y.example>\\r\\n\"\nEND size=29\n"},
	    {IN("DATA\r\na\n.\r\nb\r\n.\r\n"),
	     .expect = "DATA\nCONTENT \"a\\n.\\r\\nb\\r\\n\"\nEND size=8\n"},
	    {IN("DATA\r\na\r\n.\rb\r\n.\r\n"),
	     .expect = "DATA\nCONTENT \"a\\r\\n\\rb\\r\\n\"\nEND size=7\n"},
	    {IN("DATA\r\na\r\n.\r\r\n.\r\n"),
	     .expect = "DATA\nCONTENT \"a\\r\\n\\r\\r\\n\"\nEND size=6\n"},
	    {IN("DATA\r\na\r\r\n.\r\n"), .expect = "DATA\nCONTENT \"a\\r\\r\\n\"\nEND size=4\n"},
	    {IN("DATA\r\na\n\r\n.\n\r\n.\r\n"),
	     .expect = "DATA\nCONTENT \"a\\n\\r\\n\\n\\r\\n\"\nEND size=7\n"},
	    {IN("DATA\r\n\n.\n.\r\n"), .expect = "DATA\nCONTENT \"\\n.\\n.\\r\\n\" (unfinished)\n"},
	    /* Everything else is content, byte for byte. */
	    {IN("DATA\r\n\0\xff\x80\x1b\r\n.\r\n"),
	     .expect = "DATA\nCONTENT \"\\x00\\xff\\x80\\x1b\\r\\n\"\nEND size=6\n"},
	    /* Pipelined transaction (RFC 2920). */
	    {IN("MAIL FROM:<a@b.example>\r\nRCPT "
	        "TO:<c@d.example>\r\nDATA\r\nbody\r\n.\r\nQUIT\r\n"),
	     .expect = "MAIL <a@b.example>\nRCPT <c@d.example>\nDATA\nCONTENT \"body\\r\\n\"\n"
	               "END size=6\nQUIT\n"},
	    {IN("DATA\r\nx\r\n.\r\nDATA\r\n.\r\nDATA\r\ny\r\n.\r\n"),
	     .expect = "DATA\nCONTENT \"x\\r\\n\"\nEND size=3\nDATA\nEND size=0\nDATA\n"
	               "CONTENT \"y\\r\\n\"\nEND size=3\n"},
	    /* SIZE limit: exactly max_message octets come out, all are
	     * counted, the end is still found. */
	    {IN("DATA\r\n0123456789abc\r\n.\r\nNOOP\r\n"), .max_message = 10,
	     .expect = "DATA\nCONTENT \"0123456789\"\nEND size=15 too_large 552 5.3.4\nNOOP\n"},
	    {IN("DATA\r\n01234567\r\n.\r\n"), .max_message = 10,
	     .expect = "DATA\nCONTENT \"01234567\\r\\n\"\nEND size=10\n"},
	    {IN("DATA\r\n012345678\r\n.\r\nDATA\r\n..\r\n.\r\n"), .max_message = 10,
	     .expect = "DATA\nCONTENT \"012345678\\r\"\nEND size=11 too_large 552 5.3.4\nDATA\n"
	               "CONTENT \".\\r\\n\"\nEND size=3\n"},
	    {IN("DATA\r\n0123456789\r\n.\rX\r\n.\r\n"), .max_message = 12,
	     .expect = "DATA\nCONTENT \"0123456789\\r\\n\"\nEND size=16 too_large 552 5.3.4\n"},
	};
	run_table(cases, SP_N_ELEMENTS(cases));
}

static void test_bdat(void)
{
	static const struct tcase cases[] = {
	    {IN("BDAT 5\r\nhelloBDAT 3 LAST\r\nabcQUIT\r\n"),
	     .expect = "BDAT 5\nCONTENT \"hello\"\nEND size=5\nBDAT 3 LAST\nCONTENT \"abc\"\n"
	               "END size=3\nQUIT\n"},
	    {IN("BDAT 0 LAST\r\nQUIT\r\n"), .expect = "BDAT 0 LAST\nEND size=0\nQUIT\n"},
	    {IN("bdat 5 last\r\n\r\n.\r\nQUIT\r\n"),
	     .expect = "BDAT 5 LAST\nCONTENT \"\\r\\n.\\r\\n\"\nEND size=5\nQUIT\n"},
	    {IN("BDAT 4\r\n\0\r\n\nNOOP\r\n"),
	     .expect = "BDAT 4\nCONTENT \"\\x00\\r\\n\\n\"\nEND size=4\nNOOP\n"},
	    {IN("BDAT  7   LAST  \r\nabc\r\nde"),
	     .expect = "BDAT 7 LAST\nCONTENT \"abc\\r\\nde\"\nEND size=7\n"},
	    /* A refused BDAT still consumes its octets (RFC 3030 §2). */
	    {IN("BDAT 10\r\nMAIL FROM:NOOP\r\n"), .reject_bdat = true,
	     .expect = "BDAT 10\nEND size=10\nNOOP\n"},
	    {IN("BDAT\r\nBDAT x\r\nBDAT 5 NOTLAST\r\nBDAT 5 LAST x\r\nBDAT -1\r\n"),
	     .expect = "ERR 501 5.5.4 argument BDAT\nERR 501 5.5.4 argument BDAT\n"
	               "ERR 501 5.5.4 argument BDAT\nERR 501 5.5.4 argument BDAT\n"
	               "ERR 501 5.5.4 argument BDAT\n"},
	    {IN("BDAT 18446744073709551616\r\n"), .expect = "ERR 501 5.5.4 argument BDAT\n"},
	    {IN("BDAT 3\r\nab"), .expect = "BDAT 3\nCONTENT \"ab\" (unfinished)\n"},
	};
	run_table(cases, SP_N_ELEMENTS(cases));
}

static void test_auth(void)
{
	static const struct tcase cases[] = {
	    {IN("AUTH PLAIN AGpvZQBzZWNyZXQ=\r\n"),
	     .expect = "AUTH \"PLAIN\" resp=\"AGpvZQBzZWNyZXQ=\"\n"},
	    {IN("auth plain =\r\n"), .expect = "AUTH \"plain\" resp=\"\"\n"},
	    {IN("AUTH LOGIN\r\ndXNlcg==\r\nNOOP\r\n"),
	     .expect = "AUTH \"LOGIN\"\nLINE \"dXNlcg==\"\nNOOP\n"},
	    /* A SASL line is not a command, even when it looks like one. */
	    {IN("AUTH LOGIN\r\nQUIT\r\n*\r\n"), .expect = "AUTH \"LOGIN\"\nLINE \"QUIT\"\n"
	                                                  "ERR 500 5.5.1 unknown\n"},
	    {IN("AUTH LOGIN\r\n\r\n"), .expect = "AUTH \"LOGIN\"\nLINE \"\"\n"},
	    {IN("AUTH LOGIN\r\nab\ncd\r\n"),
	     .expect = "AUTH \"LOGIN\"\nERR 500 5.5.2 bare-lf\nERR 500 5.5.1 unknown\n"},
	    {IN("AUTH PLAIN abc!\r\n"), .expect = "ERR 501 5.5.2 syntax AUTH\n"},
	    {IN("AUTH PLAIN abc\r\n"), .expect = "ERR 501 5.5.2 syntax AUTH\n"},
	    {IN("AUTH PLAIN ab=c\r\n"), .expect = "ERR 501 5.5.2 syntax AUTH\n"},
	    {IN("AUTH PLAIN a===\r\n"), .expect = "ERR 501 5.5.2 syntax AUTH\n"},
	    {IN("AUTH\r\n"), .expect = "ERR 501 5.5.4 argument AUTH\n"},
	    {IN("AUTH PLAIN abcd efgh\r\n"), .expect = "ERR 501 5.5.4 argument AUTH\n"},
	    {IN("AUTH ABCDEFGHIJKLMNOPQRSTU\r\n"), .expect = "ERR 501 5.5.4 argument AUTH\n"},
	    {IN("AUTH SCRAM-SHA-256\r\n"), .expect = "AUTH \"SCRAM-SHA-256\"\n"},
	    {IN("AUTH PL@IN\r\n"), .expect = "ERR 501 5.5.4 argument AUTH\n"},
	};
	run_table(cases, SP_N_ELEMENTS(cases));
}

/* Lines at and past limits.max_line, and the AUTH allowance. */
static void test_line_limits(void)
{
	struct smtp_limits limits;
	smtp_limits_init(&limits);
	limits.max_line = 512;
	static const struct {
		const char *prefix;
		size_t total; /* line length with CRLF */
		const char *expect;
	} cases[] = {
	    {"NOOP ", 512, "NOOP"},
	    {"NOOP ", 513, "ERR 500 5.5.2 too-long\n"},
	    {"AUTH PLAIN    ", 12288, "AUTH"},
	    {"AUTH PLAIN ", 12289, "ERR 500 5.5.2 too-long\n"},
	    {"NOOP ", 1024 * 1024, "ERR 500 5.5.2 too-long\n"},
	};
	for (size_t i = 0; i < SP_N_ELEMENTS(cases); i++) {
		struct sp_buf in = SP_BUF_INIT, out = SP_BUF_INIT;
		sp_buf_append_str(&in, cases[i].prefix);
		while (in.len < cases[i].total - 2)
			sp_buf_append_byte(&in, 'A');
		sp_buf_append_str(&in, "\r\nQUIT\r\n");
		for (int chunking = 0; chunking < 3; chunking++) {
			struct smtp_transcript_opts o = {.limits = &limits,
			                                 .chunking = (enum smtp_chunking)chunking,
			                                 .max_chunk = 5000,
			                                 .seed = 9};
			sp_buf_reset(&out);
			smtp_transcript(in.data, in.len, &o, &out);
			SP_CHECK(o.violation == NULL);
			const char *got = sp_buf_cstr(&out);
			size_t plen = strlen(cases[i].expect);
			SP_CHECK(strncmp(got, cases[i].expect, plen) == 0);
			SP_CHECK(out.len >= 5 && strcmp(got + out.len - 5, "QUIT\n") == 0);
		}
		sp_buf_deinit(&in);
		sp_buf_deinit(&out);
	}

	/* A too-long SASL response line gets RFC 4954's 5.5.6. */
	struct sp_buf in = SP_BUF_INIT, out = SP_BUF_INIT;
	sp_buf_append_str(&in, "AUTH LOGIN\r\n");
	for (int i = 0; i < 20000; i++)
		sp_buf_append_byte(&in, 'Q');
	sp_buf_append_str(&in, "\r\nNOOP\r\n");
	struct smtp_transcript_opts o = {.limits = &limits};
	smtp_transcript(in.data, in.len, &o, &out);
	SP_CHECK_STR(sp_buf_cstr(&out), "AUTH \"LOGIN\"\nERR 500 5.5.6 too-long\nNOOP\n");
	sp_buf_deinit(&in);
	sp_buf_deinit(&out);
}

int main(void)
{
	SP_TEST_RUN(test_greetings);
	SP_TEST_RUN(test_simple_commands);
	SP_TEST_RUN(test_line_errors);
	SP_TEST_RUN(test_paths);
	SP_TEST_RUN(test_params);
	SP_TEST_RUN(test_data);
	SP_TEST_RUN(test_bdat);
	SP_TEST_RUN(test_auth);
	SP_TEST_RUN(test_line_limits);
	return sp_test_finish();
}
