/* Unit tests for modified UTF-7: RFC 3501 §5.1.3 examples, round trips,
 * and every kind of rejected input. */
#include "imap/imap_utf7.h"
#include "lib/sp_test.h"

SP_TEST_MAIN_DEFS

static void test_round_trips(void)
{
	static const struct {
		const char *utf8, *utf7;
	} cases[] = {
	    {"INBOX", "INBOX"},
	    {"", ""},
	    {"&", "&-"},
	    {"a&b&&", "a&-b&-&-"},
	    {"Entwürfe", "Entw&APw-rfe"},
	    {"Élément", "&AMk-l&AOk-ment"},
	    /* RFC 3501 §5.1.3's example */
	    {"~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
	     "~peter/mail/&U,BTFw-/&ZeVnLIqe-"},
	    /* a supplementary-plane character: a surrogate pair */
	    {"\xf0\x9f\x98\x80", "&2D3eAA-"},
	    {"x\xf0\x9f\x98\x80y\xf0\x9f\x98\x80", "x&2D3eAA-y&2D3eAA-"},
	    /* control characters are not printable: encoded */
	    {"a\tb", "a&AAk-b"},
	    {"\x7f", "&AH8-"},
	    /* one, two and three UTF-16 units: all padding lengths */
	    {"\xc3\xa9", "&AOk-"},
	    {"\xc3\xa9\xc3\xa9", "&AOkA6Q-"},
	    {"\xc3\xa9\xc3\xa9\xc3\xa9", "&AOkA6QDp-"},
	    {"\xe2\x82\xac&\xe2\x82\xac", "&IKw-&-&IKw-"},
	    {"[Gmail]/Gesendet", "[Gmail]/Gesendet"},
	};
	for (size_t i = 0; i < SP_N_ELEMENTS(cases); i++) {
		struct sp_buf out = SP_BUF_INIT, back = SP_BUF_INIT;
		const char *error = NULL;
		SP_CHECK_INT(imap_utf8_to_utf7(sp_slice_from_str(cases[i].utf8), &out, &error), 0);
		SP_CHECK_STR(sp_buf_cstr(&out), cases[i].utf7);
		SP_CHECK_INT(imap_utf7_to_utf8(sp_slice_from_str(cases[i].utf7), &back, &error), 0);
		SP_CHECK_STR(sp_buf_cstr(&back), cases[i].utf8);
		SP_CHECK(imap_utf7_is_valid(sp_slice_from_str(cases[i].utf7)));
		sp_buf_deinit(&out);
		sp_buf_deinit(&back);
	}

	/* a long run crosses the encoder's internal flush */
	struct sp_buf u8 = SP_BUF_INIT, u7 = SP_BUF_INIT, back = SP_BUF_INIT;
	for (int i = 0; i < 300; i++)
		sp_buf_append_str(&u8, i % 7 == 0 ? "\xf0\x9f\x98\x80" : "\xe6\x97\xa5");
	const char *error;
	SP_CHECK_INT(imap_utf8_to_utf7(sp_buf_slice(&u8), &u7, &error), 0);
	SP_CHECK_INT(imap_utf7_to_utf8(sp_buf_slice(&u7), &back, &error), 0);
	SP_CHECK_STR(sp_buf_cstr(&back), sp_buf_cstr(&u8));
	/* one shift sequence only */
	SP_CHECK(memchr(u7.data + 1, '&', u7.len - 1) == NULL);
	sp_buf_deinit(&u8);
	sp_buf_deinit(&u7);
	sp_buf_deinit(&back);
}

static void test_decode_rejects(void)
{
	static const struct {
		const char *in;
		const char *error;
	} cases[] = {
	    {"a&b", "Unterminated modified BASE64 in mailbox name"},
	    {"a&!b-", "Invalid character in modified BASE64 mailbox name"},
	    {"&-&", "Unterminated modified BASE64 in mailbox name"},
	    {"&", "Unterminated modified BASE64 in mailbox name"},
	    {"a&AOk", "Unterminated modified BASE64 in mailbox name"},
	    {"&AOk/-", "Invalid character in modified BASE64 mailbox name"},
	    {"&AOk=-", "Invalid character in modified BASE64 mailbox name"},
	    {"Entw\xc3\xbcrfe", "Invalid octet in modified UTF-7 mailbox name"},
	    {"a\tb", "Invalid octet in modified UTF-7 mailbox name"},
	    /* printable ASCII must stand for itself: "&AGE-" is "a" */
	    {"&AGE-", "Printable US-ASCII encoded in modified BASE64"},
	    {"&ACY-", "Printable US-ASCII encoded in modified BASE64"},
	    /* adjacent sequences must be one */
	    {"&AOk-&AOk-", "Adjacent modified BASE64 sequences in mailbox name"},
	    /* unpaired surrogates */
	    {"&2D0-", "Unpaired UTF-16 surrogate in mailbox name"},
	    {"&3gA-", "Unpaired UTF-16 surrogate in mailbox name"},
	    {"&2D3YPQ-", "Unpaired UTF-16 surrogate in mailbox name"},
	    /* leftover bits: not zero, or a whole extra 6-bit group */
	    {"&AOl-", "Non-canonical modified BASE64 padding in mailbox name"},
	    {"&AOkA-", "Non-canonical modified BASE64 padding in mailbox name"},
	    {"&AOkA6QD-", "Non-canonical modified BASE64 padding in mailbox name"},
	    {"&A-", "Non-canonical modified BASE64 padding in mailbox name"},
	    {"&AAA-", "NUL in mailbox name"},
	};
	for (size_t i = 0; i < SP_N_ELEMENTS(cases); i++) {
		struct sp_buf out = SP_BUF_INIT;
		const char *error = NULL;
		if (imap_utf7_to_utf8(sp_slice_from_str(cases[i].in), &out, &error) != -1)
			fprintf(stderr, "accepted: %s\n", cases[i].in);
		SP_CHECK_STR(error, cases[i].error);
		SP_CHECK(!imap_utf7_is_valid(sp_slice_from_str(cases[i].in)));
		sp_buf_deinit(&out);
	}
}

static void test_encode_rejects(void)
{
	static const struct {
		const char *in;
		size_t len; /* 0: strlen */
	} cases[] = {
	    {"\xc3", 0},             /* truncated */
	    {"a\xe6\x97", 0},        /* truncated */
	    {"\xc0\xaf", 0},         /* overlong '/' */
	    {"\xe0\x80\xaf", 0},     /* overlong */
	    {"\xf0\x80\x80\xaf", 0}, /* overlong */
	    {"\xed\xa0\x80", 0},     /* encoded surrogate */
	    {"\xf4\x90\x80\x80", 0}, /* above U+10FFFF */
	    {"\xff", 0},
	    {"\x80", 0},         /* continuation without lead */
	    {"\xe6\x97\x41", 0}, /* bad continuation */
	    {"a\0b", 3},         /* NUL */
	};
	for (size_t i = 0; i < SP_N_ELEMENTS(cases); i++) {
		struct sp_slice in = {(const uint8_t *)cases[i].in,
		                      cases[i].len ? cases[i].len : strlen(cases[i].in)};
		struct sp_buf out = SP_BUF_INIT;
		const char *error = NULL;
		SP_CHECK_INT(imap_utf8_to_utf7(in, &out, &error), -1);
		SP_CHECK(error != NULL);
		if (cases[i].len == 0)
			SP_CHECK(!imap_utf8_is_valid(in));
		sp_buf_deinit(&out);
	}
	SP_CHECK(imap_utf8_is_valid(SP_SLICE_STR("\xf4\x8f\xbf\xbf")));
	SP_CHECK(imap_utf8_is_valid(SP_SLICE_STR("\xef\xbf\xbd")));
}

int main(void)
{
	SP_TEST_RUN(test_round_trips);
	SP_TEST_RUN(test_decode_rejects);
	SP_TEST_RUN(test_encode_rejects);
	return sp_test_finish();
}
