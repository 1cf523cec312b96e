/* Unit tests for the envelope address helpers used outside a command line:
 * bare mailboxes (e.g. `deliver -a ADDRESS`), domain checks, UTF-8
 * sequences and xtext. These are not resumable parsers: whole input only. */
#include "smtp/smtp_path.h"
#include "lib/sp_test.h"

SP_TEST_MAIN_DEFS

#define B(s) (const uint8_t *)(s), sizeof(s) - 1

static void test_mailbox(void)
{
	static const struct {
		const char *in;
		int rc;
		const char *local, *domain;
		bool quoted, literal, utf8;
	} cases[] = {
	    {.in = "jo@example.com", .rc = 0, .local = "jo", .domain = "example.com"},
	    {.in = "Jo.Smith+tag@Example.COM",
	     .rc = 0,
	     .local = "Jo.Smith+tag",
	     .domain = "Example.COM"},
	    {.in = "\"jo smith\"@example.com",
	     .rc = 0,
	     .local = "jo smith",
	     .domain = "example.com",
	     .quoted = true},
	    {.in = "\"j\\\\o\"@example.com",
	     .rc = 0,
	     .local = "j\\o",
	     .domain = "example.com",
	     .quoted = true},
	    {.in = "jo@[192.0.2.7]",
	     .rc = 0,
	     .local = "jo",
	     .domain = "[192.0.2.7]",
	     .literal = true},
	    {.in = "jos\xc3\xa9@exampl\xc3\xa9.com",
	     .rc = 0,
	     .local = "jos\xc3\xa9",
	     .domain = "exampl\xc3\xa9.com",
	     .utf8 = true},
	    {.in = "jo@example.com ", .rc = -1},
	    {.in = "<jo@example.com>", .rc = -1},
	    {.in = "jo", .rc = -1},
	    {.in = "jo@", .rc = -1},
	    {.in = "@example.com", .rc = -1},
	    {.in = "jo@example..com", .rc = -1},
	    {.in = "jo@exa mple.com", .rc = -1},
	    {.in = "", .rc = -1},
	    {.in = "\"a\\\x01\"@example.com", .rc = -1},
	    {.in = "\"a\x01\"@example.com", .rc = -1},
	    {.in = "\"a\xc3\"@example.com", .rc = -1},
	    {.in = "\"a\\", .rc = -1},
	};
	for (size_t i = 0; i < SP_N_ELEMENTS(cases); i++) {
		uint8_t buf[256];
		struct smtp_scratch scratch = {buf, 0, sizeof(buf)};
		struct smtp_path path;
		const char *why = NULL;
		const char *in = cases[i].in;
		int rc = smtp_mailbox_parse((const uint8_t *)in, strlen(in), &scratch, &path, &why);
		SP_CHECK_INT(rc, cases[i].rc);
		if (rc != 0) {
			SP_CHECK(why != NULL);
			continue;
		}
		SP_CHECK(sp_slice_eq_str(path.local, cases[i].local));
		SP_CHECK(sp_slice_eq_str(path.domain, cases[i].domain));
		SP_CHECK(sp_slice_eq_str(path.mailbox, in));
		SP_CHECK_INT(path.quoted, cases[i].quoted);
		SP_CHECK_INT(path.domain_literal, cases[i].literal);
		SP_CHECK_INT(path.utf8, cases[i].utf8);
	}
}

static void test_domain(void)
{
	static const struct {
		const char *in;
		bool utf8_ok, valid;
	} cases[] = {
	    {.in = "example.com", .utf8_ok = false, .valid = true},
	    {.in = "a", .utf8_ok = false, .valid = true},
	    {.in = "a-b.c-d.e", .utf8_ok = false, .valid = true},
	    {.in = "xn--bcher-kva.example", .utf8_ok = false, .valid = true},
	    {.in = "b\xc3\xbc"
	           "cher.example",
	     .utf8_ok = false,
	     .valid = false},
	    {.in = "b\xc3\xbc"
	           "cher.example",
	     .utf8_ok = true,
	     .valid = true},
	    {.in = "b\xc3"
	           "cher.example",
	     .utf8_ok = true,
	     .valid = false},
	    {.in = "-a.example", .utf8_ok = false, .valid = false},
	    {.in = "a-.example", .utf8_ok = false, .valid = false},
	    {.in = "a..example", .utf8_ok = false, .valid = false},
	    {.in = "example.", .utf8_ok = false, .valid = false},
	    {.in = ".example", .utf8_ok = false, .valid = false},
	    {.in = "", .utf8_ok = false, .valid = false},
	    {.in = "[192.0.2.1]", .utf8_ok = false, .valid = true},
	    {.in = "[192.0.2.01]", .utf8_ok = false, .valid = true},
	    {.in = "[192.0.2.0001]", .utf8_ok = false, .valid = false},
	    {.in = "[192.0.2]", .utf8_ok = false, .valid = false},
	    {.in = "[IPv6:fe80::1]", .utf8_ok = false, .valid = true},
	    {.in = "[IPv6:1.2.3.4]", .utf8_ok = false, .valid = false},
	    {.in = "[IPv6:::ffff:192.0.2.1]", .utf8_ok = false, .valid = true},
	    {.in = "[tag:x]", .utf8_ok = false, .valid = true},
	    {.in = "[tag-:x]", .utf8_ok = false, .valid = false},
	    {.in = "[tag:]", .utf8_ok = false, .valid = false},
	    {.in = "[:x]", .utf8_ok = false, .valid = false},
	    {.in = "[t_g:x]", .utf8_ok = false, .valid = false},
	    {.in = "[IPv6:]", .utf8_ok = false, .valid = false},
	    {.in = "[IPv6:1111:2222:3333:4444:5555:6666:7777:8888:9999]",
	     .utf8_ok = false,
	     .valid = false},
	    {.in = "[192.0.2.1", .utf8_ok = false, .valid = false},
	    {.in = "[192.0.2.1]x", .utf8_ok = false, .valid = false},
	};
	for (size_t i = 0; i < SP_N_ELEMENTS(cases); i++) {
		const char *in = cases[i].in;
		bool v = smtp_domain_is_valid((const uint8_t *)in, strlen(in), cases[i].utf8_ok);
		if (v != cases[i].valid)
			fprintf(stderr, "domain case %zu: \"%s\"\n", i, in);
		SP_CHECK_INT(v, cases[i].valid);
	}
	/* Length limits: 63-octet labels, 255-octet names. */
	char name[300];
	memset(name, 'a', 64);
	SP_CHECK(!smtp_domain_is_valid((const uint8_t *)name, 64, false));
	SP_CHECK(smtp_domain_is_valid((const uint8_t *)name, 63, false));
	for (size_t i = 0; i < sizeof(name); i++)
		name[i] = (i % 2) ? '.' : 'a';
	SP_CHECK(smtp_domain_is_valid((const uint8_t *)name, 255, false));
	SP_CHECK(!smtp_domain_is_valid((const uint8_t *)name, 257, false));
}

static void test_utf8(void)
{
	SP_CHECK_INT(smtp_utf8_seq_len(B("a")), 1);
	SP_CHECK_INT(smtp_utf8_seq_len(B("\xc3\xa9")), 2);
	SP_CHECK_INT(smtp_utf8_seq_len(B("\xe6\x97\xa5")), 3);
	SP_CHECK_INT(smtp_utf8_seq_len(B("\xf0\x9f\x93\xa7")), 4);
	SP_CHECK_INT(smtp_utf8_seq_len(B("\xc3")), 0);             /* truncated */
	SP_CHECK_INT(smtp_utf8_seq_len(B("\xc0\xaf")), 0);         /* overlong */
	SP_CHECK_INT(smtp_utf8_seq_len(B("\xe0\x80\xaf")), 0);     /* overlong */
	SP_CHECK_INT(smtp_utf8_seq_len(B("\xed\xa0\x80")), 0);     /* surrogate */
	SP_CHECK_INT(smtp_utf8_seq_len(B("\xf4\x90\x80\x80")), 0); /* > U+10FFFF */
	SP_CHECK_INT(smtp_utf8_seq_len(B("\x80")), 0);
	SP_CHECK_INT(smtp_utf8_seq_len(B("\xff")), 0);
	SP_CHECK_INT(smtp_utf8_seq_len(B("\xc3\x28")), 0);
	SP_CHECK_INT(smtp_utf8_seq_len((const uint8_t *)"a", 0), 0);
}

static void test_xtext(void)
{
	static const struct {
		const char *in;
		bool utf8;
		int rc;
		const char *out;
	} cases[] = {
	    {.in = "plain", .utf8 = false, .rc = 0, .out = "plain"},
	    {.in = "a+2Bb", .utf8 = false, .rc = 0, .out = "a+b"},
	    {.in = "a+2bb", .utf8 = false, .rc = 0, .out = "a+b"},
	    {.in = "+3D+20", .utf8 = false, .rc = 0, .out = "= "},
	    {.in = "", .utf8 = false, .rc = 0, .out = ""},
	    {.in = "a+2", .utf8 = false, .rc = -1},
	    {.in = "a+", .utf8 = false, .rc = -1},
	    {.in = "a+G0", .utf8 = false, .rc = -1},
	    {.in = "a=b", .utf8 = false, .rc = -1},
	    {.in = "a b", .utf8 = false, .rc = -1},
	    {.in = "a+00", .utf8 = false, .rc = -1},
	    {.in = "a+0A", .utf8 = false, .rc = -1},
	    {.in = "a+7F", .utf8 = false, .rc = -1},
	    {.in = "jos\xc3\xa9", .utf8 = false, .rc = -1},
	    {.in = "jos\xc3\xa9", .utf8 = true, .rc = 0, .out = "jos\xc3\xa9"},
	    {.in = "jos\xc3", .utf8 = true, .rc = -1},
	};
	for (size_t i = 0; i < SP_N_ELEMENTS(cases); i++) {
		uint8_t buf[64];
		struct smtp_scratch scratch = {buf, 0, sizeof(buf)};
		struct sp_slice out;
		const char *in = cases[i].in;
		int rc = smtp_xtext_decode((const uint8_t *)in, strlen(in), cases[i].utf8, &scratch,
		                           &out);
		SP_CHECK_INT(rc, cases[i].rc);
		if (rc == 0)
			SP_CHECK(sp_slice_eq_str(out, cases[i].out));
	}
}

int main(void)
{
	SP_TEST_RUN(test_mailbox);
	SP_TEST_RUN(test_domain);
	SP_TEST_RUN(test_utf8);
	SP_TEST_RUN(test_xtext);
	return sp_test_finish();
}
