/* Unit tests for the listener address syntax (sp_addr_parse) and the peer
 * address formatting. The parser is not resumable (a whole config value),
 * so each case runs once. */
#include "net/sp_addr.h"
#include "lib/sp_test.h"

#include <arpa/inet.h>
#include <netinet/in.h>

SP_TEST_MAIN_DEFS

static void test_parse(void)
{
	static const struct {
		const char *in;
		int rc;
		enum sp_addr_kind kind;
		uint16_t port;
		const char *formatted; /* sp_addr_format of the result */
		const char *error;
	} cases[] = {
	    {.in = "127.0.0.1:143",
	     .kind = SP_ADDR_IPV4,
	     .port = 143,
	     .formatted = "127.0.0.1:143"},
	    {.in = "0.0.0.0:25", .kind = SP_ADDR_IPV4, .port = 25, .formatted = "0.0.0.0:25"},
	    {.in = "192.0.2.7:0", .kind = SP_ADDR_IPV4, .port = 0, .formatted = "192.0.2.7:0"},
	    {.in = "10.1.2.3:65535",
	     .kind = SP_ADDR_IPV4,
	     .port = 65535,
	     .formatted = "10.1.2.3:65535"},
	    {.in = "[::1]:143", .kind = SP_ADDR_IPV6, .port = 143, .formatted = "[::1]:143"},
	    {.in = "[::]:993", .kind = SP_ADDR_IPV6, .port = 993, .formatted = "[::]:993"},
	    {.in = "[2001:DB8::a]:587",
	     .kind = SP_ADDR_IPV6,
	     .port = 587,
	     .formatted = "[2001:db8::a]:587"},
	    {.in = "/run/sealpost/lmtp.sock",
	     .kind = SP_ADDR_UNIX,
	     .formatted = "/run/sealpost/lmtp.sock"},
	    {.in = "", .rc = -1, .error = "empty address"},
	    {.in = "127.0.0.1", .rc = -1, .error = "missing ':PORT'"},
	    {.in = "127.0.0.1:", .rc = -1, .error = "missing port after ':'"},
	    {.in = "127.0.0.1:65536", .rc = -1, .error = "port out of range (0-65535)"},
	    {.in = "127.0.0.1:000143", .rc = -1, .error = "port out of range (0-65535)"},
	    {.in = "127.0.0.1:-1", .rc = -1, .error = "port must be a decimal number"},
	    {.in = "127.0.0.1:14a", .rc = -1, .error = "port must be a decimal number"},
	    {.in = "127.0.0.1:+143", .rc = -1, .error = "port must be a decimal number"},
	    {.in = ":143",
	     .rc = -1,
	     .error = "missing address before ':' (0.0.0.0 or [::] listen on all)"},
	    {.in = "localhost:143",
	     .rc = -1,
	     .error = "host names are not accepted: use a numeric IPv4 or [IPv6] address"},
	    {.in = "256.0.0.1:143", .rc = -1, .error = "invalid IPv4 address"},
	    {.in = "1.2.3:143", .rc = -1, .error = "invalid IPv4 address"},
	    {.in = "01.2.3.4:143", .rc = -1, .error = "invalid IPv4 address"},
	    {.in = "1.2.3.4.5:143", .rc = -1, .error = "invalid IPv4 address"},
	    {.in = "::1:143",
	     .rc = -1,
	     .error = "IPv6 addresses must be in brackets, as in [::1]:143"},
	    {.in = "[::1:143", .rc = -1, .error = "missing ']' after IPv6 address"},
	    {.in = "[::1]", .rc = -1, .error = "missing ':PORT' after ']'"},
	    {.in = "[::1]143", .rc = -1, .error = "expected ':PORT' after ']'"},
	    {.in = "[]:143", .rc = -1, .error = "empty IPv6 address between '[' and ']'"},
	    {.in = "[::g]:143", .rc = -1, .error = "invalid IPv6 address"},
	    {.in = "[1.2.3.4]:143", .rc = -1, .error = "invalid IPv6 address"},
	    {.in = "[fe80::1%eth0]:143", .rc = -1, .error = "IPv6 scope ids are not supported"},
	    {.in = "[::1]:", .rc = -1, .error = "missing port after ':'"},
	    {.in = "127.0.0.1 :143",
	     .rc = -1,
	     .error = "address contains a space or control character"},
	    {.in = "127.0.0.1:143\n",
	     .rc = -1,
	     .error = "address contains a space or control character"},
	    {.in = "run/lmtp.sock", .rc = -1, .error = "missing ':PORT'"},
	    {.in = "./lmtp.sock", .rc = -1, .error = "Unix socket path must be absolute"},
	    {.in = "/run/sealpost/", .rc = -1, .error = "Unix socket path names a directory"},
	    {.in = "/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	           "aaaaaaaa"
	           "aaaaaaaaaaaaaaaaaaaaaaa",
	     .rc = -1,
	     .error = "Unix socket path too long (at most 107 bytes)"},
	};
	for (size_t i = 0; i < SP_N_ELEMENTS(cases); i++) {
		struct sp_addr a;
		const char *err = NULL;
		int rc = sp_addr_parse(cases[i].in, &a, &err);
		SP_CHECK_INT(rc, cases[i].rc);
		if (rc != cases[i].rc)
			fprintf(stderr, "  case \"%s\" (error %s)\n", cases[i].in, err ? err : "-");
		if (rc < 0) {
			SP_CHECK_STR(err, cases[i].error);
			continue;
		}
		SP_CHECK_INT(a.kind, cases[i].kind);
		SP_CHECK_INT(a.port, cases[i].port);
		char out[SP_ADDR_STRLEN];
		sp_addr_format((const struct sockaddr *)&a.ss, a.len, out, sizeof(out));
		SP_CHECK_STR(out, cases[i].formatted);
	}
}

static void test_too_long(void)
{
	char big[SP_ADDR_TEXT_MAX + 20];
	memset(big, '1', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	struct sp_addr a;
	const char *err = NULL;
	SP_CHECK_INT(sp_addr_parse(big, &a, &err), -1);
	SP_CHECK_STR(err, "address too long");
}

static void test_loopback(void)
{
	static const struct {
		const char *in;
		bool loopback;
		const char *ip;
	} cases[] = {
	    {"127.0.0.1:1", true, "127.0.0.1"},
	    {"127.0.0.2:1", true, "127.0.0.2"},
	    {"127.255.1.1:1", true, "127.255.1.1"},
	    {"128.0.0.1:1", false, "128.0.0.1"},
	    {"10.0.0.1:1", false, "10.0.0.1"},
	    {"[::1]:1", true, "::1"},
	    {"[::2]:1", false, "::2"},
	    {"[::ffff:127.0.0.9]:1", true, "127.0.0.9"},
	    {"[::ffff:10.0.0.9]:1", false, "10.0.0.9"},
	    {"/tmp/x.sock", false, "unix"},
	};
	for (size_t i = 0; i < SP_N_ELEMENTS(cases); i++) {
		struct sp_addr a;
		const char *err;
		SP_CHECK_INT(sp_addr_parse(cases[i].in, &a, &err), 0);
		const struct sockaddr *sa = (const struct sockaddr *)&a.ss;
		SP_CHECK_INT(sp_addr_is_loopback(sa), cases[i].loopback);
		char ip[SP_ADDR_STRLEN];
		sp_addr_format_ip(sa, a.len, ip, sizeof(ip));
		SP_CHECK_STR(ip, cases[i].ip);
	}
	/* A mapped address prints as IPv4 with its port. */
	struct sp_addr a;
	const char *err;
	SP_CHECK_INT(sp_addr_parse("[::ffff:192.0.2.1]:25", &a, &err), 0);
	char out[SP_ADDR_STRLEN];
	sp_addr_format((const struct sockaddr *)&a.ss, a.len, out, sizeof(out));
	SP_CHECK_STR(out, "192.0.2.1:25");
}

int main(void)
{
	SP_TEST_RUN(test_parse);
	SP_TEST_RUN(test_too_long);
	SP_TEST_RUN(test_loopback);
	return sp_test_finish();
}
