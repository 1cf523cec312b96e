/* Canonical addresses: case folding, IDNA, subaddresses, bad input. */
#include "accounts/address.h"
#include "lib/sp_test.h"

SP_TEST_MAIN_DEFS

static void test_parse(void)
{
	static const struct {
		const char *in;
		int rc;
		const char *local, *tag, *domain;
	} cases[] = {
	    {.in = "alice@example.test",
	     .rc = 0,
	     .local = "alice",
	     .tag = "",
	     .domain = "example.test"},
	    {.in = "Alice@EXAMPLE.test",
	     .rc = 0,
	     .local = "alice",
	     .tag = "",
	     .domain = "example.test"},
	    {.in = "alice+news@example.test",
	     .rc = 0,
	     .local = "alice",
	     .tag = "news",
	     .domain = "example.test"},
	    {.in = "ALICE+News+x@Example.Test",
	     .rc = 0,
	     .local = "alice",
	     .tag = "News+x",
	     .domain = "example.test"},
	    {.in = "+only@example.test",
	     .rc = 0,
	     .local = "+only",
	     .tag = "",
	     .domain = "example.test"},
	    /* Found by fuzz_address: fits as UTF-8, too long as A-labels. */
	    {.in = "ezer@ro4t9eot-i.\330\214-Deso9t\303\221\330\214enin1-s99999999999999ent-i.1D"
	           "eso9t\303\221\330\214-Deso9t\303\221\330\214enin1-s9999999999999999ent-i.9t"
	           "\303\221\303\214-99999999ent-i.1Deso9t\303\221\330\214-Deso9t\303\221\330"
	           "\214enin1-s9999999999999999ent-i.9t\303\221\303\214-Deso9t\303\221\330\214en"
	           "in1-s99999999ndndfn",
	     .rc = -1},
	    /* Found by fuzz_address: the base "01." alone would not parse. */
	    {.in = "01.+@1.oo", .rc = 0, .local = "01.+", .tag = "", .domain = "1.oo"},
	    {.in = "a+@example.test", .rc = 0, .local = "a", .tag = "", .domain = "example.test"},
	    {.in = "user@bücher.example",
	     .rc = 0,
	     .local = "user",
	     .tag = "",
	     .domain = "xn--bcher-kva.example"},
	    {.in = "user@BÜCHER.example",
	     .rc = 0,
	     .local = "user",
	     .tag = "",
	     .domain = "xn--bcher-kva.example"},
	    {.in = "user@xn--bcher-kva.example",
	     .rc = 0,
	     .local = "user",
	     .tag = "",
	     .domain = "xn--bcher-kva.example"},
	    {.in = "josé@example.test",
	     .rc = 0,
	     .local = "josé",
	     .tag = "",
	     .domain = "example.test"},
	    {.in = "first.last@example.test",
	     .rc = 0,
	     .local = "first.last",
	     .tag = "",
	     .domain = "example.test"},
	    {.in = "", .rc = -1},
	    {.in = "alice", .rc = -1},
	    {.in = "@example.test", .rc = -1},
	    {.in = "alice@", .rc = -1},
	    {.in = "alice@localhost", .rc = -1},
	    {.in = "al ice@example.test", .rc = -1},
	    {.in = ".alice@example.test", .rc = -1},
	    {.in = "alice.@example.test", .rc = -1},
	    {.in = "al..ice@example.test", .rc = -1},
	    {.in = "\"q\"@example.test", .rc = -1},
	    {.in = "alice@exa_mple.test", .rc = -1},
	    {.in = "alice@-example.test", .rc = -1},
	    {.in = "alice@example.test.", .rc = -1},
	    {.in = "alice@example..test", .rc = -1},
	    {.in = "a\xff@example.test", .rc = -1},
	    {.in = "alice@ex\xc3"
	           "ample.test",
	     .rc = -1},
	    {.in = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.test",
	     .rc = -1},
	};
	for (size_t i = 0; i < SP_N_ELEMENTS(cases); i++) {
		struct address a;
		const char *error = NULL;
		int rc = address_parse(cases[i].in, &a, &error);
		if (rc != cases[i].rc)
			fprintf(stderr, "case %zu (%s): rc %d (%s)\n", i, cases[i].in, rc,
			        error ? error : "");
		SP_CHECK_INT(rc, cases[i].rc);
		if (rc == 0 && cases[i].rc == 0) {
			SP_CHECK_STR(a.local, cases[i].local);
			SP_CHECK_STR(a.tag, cases[i].tag);
			SP_CHECK_STR(a.domain, cases[i].domain);
		}
		if (rc < 0)
			SP_CHECK(error != NULL && error[0] != '\0');
	}
}

static void test_format(void)
{
	struct address a;
	const char *error;
	char out[ADDRESS_MAX_LEN + 1];
	SP_CHECK_INT(address_parse("Bob+x@Example.TEST", &a, &error), 0);
	address_format(&a, out, sizeof(out));
	SP_CHECK_STR(out, "bob@example.test");
}

int main(void)
{
	SP_TEST_RUN(test_parse);
	SP_TEST_RUN(test_format);
	return sp_test_finish();
}
