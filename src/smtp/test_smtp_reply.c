/* Unit tests for the SMTP reply writer: single and multi-line replies,
 * enhanced codes on every line, wrapping at 512 octets, control
 * characters neutralised, the EHLO/LHLO capability list. */
#include "smtp/smtp_reply.h"
#include "lib/sp_test.h"

SP_TEST_MAIN_DEFS

static void test_single(void)
{
	static const struct {
		unsigned code;
		const char *enhanced, *text, *expect;
	} cases[] = {
	    {250, "2.1.0", "Sender OK", "250 2.1.0 Sender OK\r\n"},
	    {220, NULL, "mx.example ESMTP ready", "220 mx.example ESMTP ready\r\n"},
	    {550, "5.1.1", "<jo@example.com>: no such user",
	     "550 5.1.1 <jo@example.com>: no such user\r\n"},
	    {354, NULL, "End data with <CR><LF>.<CR><LF>",
	     "354 End data with <CR><LF>.<CR><LF>\r\n"},
	    {250, "2.0.0", "", "250 2.0.0\r\n"},
	    {250, NULL, "", "250\r\n"},
	    {452, "4.5.3", "Too many recipients", "452 4.5.3 Too many recipients\r\n"},
	    /* Client text echoed back cannot end the line early. */
	    {501, "5.5.4", "bad\r\n250 injected\0x", "501 5.5.4 bad??250 injected\r\n"},
	    {550, "5.1.1", "tab\there \x7f", "550 5.1.1 tab?here ?\r\n"},
	    {250, "2.1.5", "<jos\xc3\xa9@example.com> OK",
	     "250 2.1.5 <jos\xc3\xa9@example.com> OK\r\n"},
	};
	for (size_t i = 0; i < SP_N_ELEMENTS(cases); i++) {
		struct sp_buf b = SP_BUF_INIT;
		smtp_reply_append(&b, cases[i].code, cases[i].enhanced, cases[i].text);
		SP_CHECK_STR(sp_buf_cstr(&b), cases[i].expect);
		sp_buf_deinit(&b);
	}
	struct sp_buf b = SP_BUF_INIT;
	smtp_reply_appendf(&b, 552, "5.3.4", "Message size exceeds %u bytes", 1000u);
	SP_CHECK_STR(sp_buf_cstr(&b), "552 5.3.4 Message size exceeds 1000 bytes\r\n");
	sp_buf_deinit(&b);
}

static void test_multi(void)
{
	struct sp_buf b = SP_BUF_INIT;
	struct smtp_reply r;
	smtp_reply_begin(&r, &b, 550, "5.7.1");
	smtp_reply_add(&r, "Message rejected.");
	smtp_reply_addf(&r, "See %s for details.", "https://example.com/why");
	smtp_reply_end(&r);
	SP_CHECK_STR(sp_buf_cstr(&b), "550-5.7.1 Message rejected.\r\n"
	                              "550 5.7.1 See https://example.com/why for details.\r\n");
	/* Replies append: several in one buffer (pipelined answers). */
	smtp_reply_append(&b, 250, "2.0.0", "OK");
	SP_CHECK_STR(sp_buf_cstr(&b), "550-5.7.1 Message rejected.\r\n"
	                              "550 5.7.1 See https://example.com/why for details.\r\n"
	                              "250 2.0.0 OK\r\n");
	sp_buf_reset(&b);
	/* No line at all: the bare code. */
	smtp_reply_begin(&r, &b, 221, "2.0.0");
	smtp_reply_end(&r);
	SP_CHECK_STR(sp_buf_cstr(&b), "221 2.0.0\r\n");
	sp_buf_reset(&b);
	smtp_reply_begin(&r, &b, 214, NULL);
	smtp_reply_add(&r, "Commands:");
	smtp_reply_add(&r, "");
	smtp_reply_end(&r);
	SP_CHECK_STR(sp_buf_cstr(&b), "214-Commands:\r\n214\r\n");
	sp_buf_deinit(&b);

	struct smtp_error err = {.code = 501, .enhanced = "5.1.3", .text = "Missing @domain"};
	smtp_reply_error(&b, &err);
	SP_CHECK_STR(sp_buf_cstr(&b), "501 5.1.3 Missing @domain\r\n");
	sp_buf_deinit(&b);
}

/* Checks that every line is "CODE[- ]ENH ..." and at most 512 octets. */
static void check_lines(const struct sp_buf *b, const char *prefix, size_t *lines_r)
{
	size_t lines = 0, start = 0;
	for (size_t i = 0; i + 1 < b->len; i++) {
		if (b->data[i] != '\r')
			continue;
		SP_CHECK(b->data[i + 1] == '\n');
		size_t len = i + 2 - start;
		SP_CHECK(len <= SMTP_REPLY_LINE_MAX);
		SP_CHECK(memcmp(b->data + start, prefix, 3) == 0);
		SP_CHECK(memcmp(b->data + start + 4, prefix + 4, strlen(prefix) - 4) == 0);
		bool last = i + 2 == b->len;
		SP_CHECK(b->data[start + 3] == (last ? ' ' : '-'));
		lines++;
		start = i + 2;
	}
	SP_CHECK(start == b->len);
	*lines_r = lines;
}

static void test_wrap(void)
{
	struct sp_buf text = SP_BUF_INIT, b = SP_BUF_INIT;
	for (int i = 0; i < 200; i++)
		sp_buf_printf(&text, "%sword%d", i ? " " : "", i);
	smtp_reply_append(&b, 550, "5.7.1", sp_buf_cstr(&text));
	size_t lines;
	check_lines(&b, "550 5.7.1 ", &lines);
	SP_CHECK(lines == 3);
	/* No word is split: each line ends with a whole "wordN". */
	SP_CHECK(strstr(sp_buf_cstr(&b), "wor\r\n") == NULL);
	SP_CHECK(strstr(sp_buf_cstr(&b), "word199\r\n") != NULL);

	/* One unbreakable run is cut, never inside a UTF-8 sequence. */
	sp_buf_reset(&text);
	sp_buf_reset(&b);
	sp_buf_append_str(&text, "x"); /* puts a continuation byte at the cut */
	for (int i = 0; i < 700; i++)
		sp_buf_append_str(&text, "\xc3\xa9");
	smtp_reply_append(&b, 250, NULL, sp_buf_cstr(&text));
	check_lines(&b, "250 ", &lines);
	SP_CHECK(lines == 3);
	size_t bytes = 0;
	for (size_t i = 0; i < b.len; i++) {
		if (b.data[i] == 0xc3) {
			SP_CHECK(i + 1 < b.len && b.data[i + 1] == 0xa9);
			bytes += 2;
		}
	}
	SP_CHECK_INT(bytes, 1400);
	sp_buf_deinit(&text);
	sp_buf_deinit(&b);
}

static void test_ehlo(void)
{
	struct sp_buf b = SP_BUF_INIT;
	struct smtp_caps lmtp = {
	    .flags = SMTP_CAP_PIPELINING | SMTP_CAP_8BITMIME | SMTP_CAP_SMTPUTF8 |
	             SMTP_CAP_ENHANCEDSTATUSCODES | SMTP_CAP_SIZE | SMTP_CAP_CHUNKING,
	    .size_max = 52428800,
	};
	smtp_reply_ehlo(&b, "mail.example", "Sealpost LMTP", &lmtp);
	SP_CHECK_STR(sp_buf_cstr(&b), "250-mail.example Sealpost LMTP\r\n"
	                              "250-PIPELINING\r\n"
	                              "250-SIZE 52428800\r\n"
	                              "250-8BITMIME\r\n"
	                              "250-SMTPUTF8\r\n"
	                              "250-ENHANCEDSTATUSCODES\r\n"
	                              "250 CHUNKING\r\n");
	sp_buf_reset(&b);
	struct smtp_caps mx = {
	    .flags = SMTP_CAP_SIZE | SMTP_CAP_STARTTLS | SMTP_CAP_AUTH | SMTP_CAP_DSN |
	             SMTP_CAP_BINARYMIME,
	    .auth_mechs = "PLAIN LOGIN",
	};
	smtp_reply_ehlo(&b, "mx.example", NULL, &mx);
	SP_CHECK_STR(sp_buf_cstr(&b), "250-mx.example\r\n"
	                              "250-SIZE\r\n"
	                              "250-BINARYMIME\r\n"
	                              "250-DSN\r\n"
	                              "250-STARTTLS\r\n"
	                              "250 AUTH PLAIN LOGIN\r\n");
	sp_buf_reset(&b);
	struct smtp_caps none = {0};
	smtp_reply_ehlo(&b, "h.example", "hi", &none);
	SP_CHECK_STR(sp_buf_cstr(&b), "250 h.example hi\r\n");
	sp_buf_deinit(&b);
}

int main(void)
{
	SP_TEST_RUN(test_single);
	SP_TEST_RUN(test_multi);
	SP_TEST_RUN(test_wrap);
	SP_TEST_RUN(test_ehlo);
	return sp_test_finish();
}
