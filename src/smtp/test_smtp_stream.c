/* Streaming tests for the SMTP-family parser: every corpus message through
 * DATA (dot-stuffed here, byte-exact out), 10,000 pipelined commands, a
 * 1 MB command line in bounded memory, zero-copy content chunks, large
 * BDAT chunks across feeds, credential wiping and reset. */
#include "smtp/smtp_transcript_test.h"
#include "lib/sp_test.h"

#include <dirent.h>
#include <stdlib.h>

SP_TEST_MAIN_DEFS

static bool read_file(const char *path, struct sp_buf *out)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return false;
	uint8_t tmp[65536];
	size_t n;
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		sp_buf_append(out, tmp, n);
	bool ok = !ferror(f);
	fclose(f);
	return ok;
}

/* The client side of RFC 5321 §4.5.2: a '.' that starts a CRLF-delimited
 * line is doubled; a message not ending in CRLF gets one. */
static void dot_stuff(const uint8_t *msg, size_t len, struct sp_buf *out, struct sp_buf *expect)
{
	bool bol = true;
	for (size_t i = 0; i < len; i++) {
		if (bol && msg[i] == '.')
			sp_buf_append_byte(out, '.');
		sp_buf_append_byte(out, msg[i]);
		bol = msg[i] == '\n' && i > 0 && msg[i - 1] == '\r';
	}
	sp_buf_append(expect, msg, len);
	if (len > 0 && !bol) {
		sp_buf_append_str(out, "\r\n");
		sp_buf_append_str(expect, "\r\n");
	}
	sp_buf_append_str(out, ".\r\n");
}

static void test_corpus(void)
{
	const char *dir = getenv("SP_CORPUS");
	SP_CHECK(dir != NULL);
	if (dir == NULL)
		return;
	DIR *d = opendir(dir);
	SP_CHECK(d != NULL);
	if (d == NULL)
		return;
	struct smtp_limits limits;
	smtp_limits_init(&limits);
	limits.max_message = 0;
	int files = 0, dotted = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		size_t nl = strlen(de->d_name);
		if (nl < 4 || strcmp(de->d_name + nl - 4, ".eml") != 0)
			continue;
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		struct sp_buf msg = SP_BUF_INIT, in = SP_BUF_INIT, expect = SP_BUF_INIT;
		struct sp_buf want = SP_BUF_INIT;
		SP_CHECK(read_file(path, &msg));
		sp_buf_append_str(&in, "DATA\r\n");
		dot_stuff(msg.data, msg.len, &in, &expect);
		sp_buf_append_str(&in, "QUIT\r\n");
		if (in.len != msg.len + 6 + 3 + 6 + (expect.len - msg.len))
			dotted++;
		sp_buf_append_str(&want, "DATA\n");
		if (expect.len > 0) {
			sp_buf_append_str(&want, "CONTENT ");
			smtp_tr_escape(&want, expect.data, expect.len);
			sp_buf_append_byte(&want, '\n');
		}
		sp_buf_printf(&want, "END size=%zu\nQUIT\n", expect.len);
		static const struct {
			enum smtp_chunking chunking;
			size_t max;
		} runs[] = {{SMTP_CHUNK_WHOLE, 0},
		            {SMTP_CHUNK_BYTE, 0},
		            {SMTP_CHUNK_RANDOM, 5},
		            {SMTP_CHUNK_RANDOM, 8192}};
		for (size_t r = 0; r < SP_N_ELEMENTS(runs); r++) {
			struct smtp_transcript_opts o = {.limits = &limits,
			                                 .chunking = runs[r].chunking,
			                                 .max_chunk = runs[r].max,
			                                 .seed = (uint32_t)files};
			struct sp_buf got = SP_BUF_INIT;
			smtp_transcript(in.data, in.len, &o, &got);
			if (o.violation != NULL || got.len != want.len ||
			    memcmp(got.data, want.data, want.len) != 0) {
				fprintf(stderr, "corpus %s chunking %zu: %s\n", de->d_name, r,
				        o.violation ? o.violation : "content differs");
				SP_CHECK(false);
			}
			sp_buf_deinit(&got);
		}
		files++;
		sp_buf_deinit(&msg);
		sp_buf_deinit(&in);
		sp_buf_deinit(&expect);
		sp_buf_deinit(&want);
	}
	closedir(d);
	/* The shared corpus has 397 messages; some have dot lines. */
	SP_CHECK_INT(files, 397);
	SP_CHECK(dotted > 0);
}

/* 10,000 commands in one write come out one at a time, in order. */
static void test_pipelining(void)
{
	struct sp_buf in = SP_BUF_INIT, want = SP_BUF_INIT;
	for (int i = 0; i < 10000; i++) {
		sp_buf_printf(&in, "RCPT TO:<user%d@example.com>\r\n", i);
		sp_buf_printf(&want, "RCPT <user%d@example.com>\n", i);
	}
	sp_buf_append_str(&in, "DATA\r\nx\r\n.\r\nQUIT\r\n");
	sp_buf_append_str(&want, "DATA\nCONTENT \"x\\r\\n\"\nEND size=3\nQUIT\n");
	for (int chunking = 0; chunking < 3; chunking++) {
		struct smtp_transcript_opts o = {
		    .chunking = (enum smtp_chunking)chunking, .max_chunk = 100, .seed = 5};
		struct sp_buf got = SP_BUF_INIT;
		smtp_transcript(in.data, in.len, &o, &got);
		SP_CHECK(o.violation == NULL);
		SP_CHECK(got.len == want.len && memcmp(got.data, want.data, want.len) == 0);
		sp_buf_deinit(&got);
	}

	/* Each event consumes only its own line: what follows DATA stays
	 * with the caller until the session has switched modes. */
	struct smtp_parser p;
	struct smtp_event ev;
	size_t used;
	const char *s = "NOOP\r\nDATA\r\nbody\r\n.\r\n";
	smtp_parser_init(&p, SMTP_MODE_SMTP, NULL);
	SP_CHECK_INT(smtp_parser_feed(&p, (const uint8_t *)s, strlen(s), &used, &ev), 0);
	SP_CHECK_INT(used, 6);
	SP_CHECK_INT(ev.cmd.verb, SMTP_VERB_NOOP);
	SP_CHECK_INT(smtp_parser_feed(&p, (const uint8_t *)s + 6, strlen(s) - 6, &used, &ev), 0);
	SP_CHECK_INT(used, 6);
	SP_CHECK_INT(ev.cmd.verb, SMTP_VERB_DATA);
	/* The session refused DATA (554): the rest is read as commands. */
	SP_CHECK_INT(smtp_parser_feed(&p, (const uint8_t *)s + 12, 6, &used, &ev), 0);
	SP_CHECK_INT(ev.type, SMTP_EVENT_ERROR);
	SP_CHECK_INT(ev.error.code, 500);
	smtp_parser_deinit(&p);
	sp_buf_deinit(&in);
	sp_buf_deinit(&want);
}

/* A 1 MB command line is consumed in bounded memory and reported once. */
static void test_huge_line(void)
{
	struct smtp_parser p;
	struct smtp_event ev;
	smtp_parser_init(&p, SMTP_MODE_SMTP, NULL);
	size_t cap = p.line_cap;
	uint8_t chunk[4096];
	memset(chunk, 'a', sizeof(chunk));
	memcpy(chunk, "MAIL FROM:<", 11);
	int events = 0;
	for (int i = 0; i < 256; i++) {
		size_t used;
		SP_CHECK_INT(smtp_parser_feed(&p, chunk, sizeof(chunk), &used, &ev), SP_AGAIN);
		SP_CHECK_INT(used, sizeof(chunk));
		memset(chunk, 'a', 11);
	}
	const char *tail = "@example.com>\r\nNOOP\r\n";
	const uint8_t *t = (const uint8_t *)tail;
	size_t left = strlen(tail), used;
	while (smtp_parser_feed(&p, t, left, &used, &ev) == 0) {
		t += used;
		left -= used;
		events++;
		if (events == 1) {
			SP_CHECK_INT(ev.type, SMTP_EVENT_ERROR);
			SP_CHECK_INT(ev.error.kind, SMTP_ERR_LINE_TOO_LONG);
			SP_CHECK_INT(ev.error.code, 500);
			SP_CHECK_STR(ev.error.enhanced, "5.5.2");
		} else {
			SP_CHECK_INT(ev.cmd.verb, SMTP_VERB_NOOP);
		}
	}
	SP_CHECK_INT(events, 2);
	SP_CHECK_INT(p.line_cap, cap);
	smtp_parser_deinit(&p);
}

/* Content comes out as slices of the caller's input (no copy, nothing
 * buffered), except the one held CR of a ".\r" line start. */
static void test_zero_copy(void)
{
	struct sp_buf msg = SP_BUF_INIT;
	sp_buf_append_str(&msg, "DATA\r\n");
	uint64_t expect = 0;
	for (int i = 0; msg.len < 8 * 1024 * 1024; i++) {
		const char *line = (i % 7 == 0) ? "..dotted line\r\n" : "plain line of text\r\n";
		sp_buf_append_str(&msg, line);
		expect += strlen(line) - (line[0] == '.');
	}
	sp_buf_append_str(&msg, ".\r\n");
	struct smtp_limits limits;
	smtp_limits_init(&limits);
	limits.max_message = 0;
	struct smtp_parser p;
	smtp_parser_init(&p, SMTP_MODE_SMTP, &limits);
	uint64_t total = 0;
	bool ended = false, outside = false;
	for (size_t off = 0; off < msg.len;) {
		size_t n = SP_MIN((size_t)65536, msg.len - off);
		const uint8_t *d = msg.data + off;
		size_t left = n, used;
		struct smtp_event ev;
		while (smtp_parser_feed(&p, d, left, &used, &ev) == 0) {
			if (ev.type == SMTP_EVENT_COMMAND)
				smtp_parser_begin_data(&p);
			if (ev.type == SMTP_EVENT_DATA) {
				if (ev.data.ptr < msg.data + off ||
				    ev.data.ptr + ev.data.len > msg.data + off + n)
					outside = true;
				total += ev.data.len;
			}
			if (ev.type == SMTP_EVENT_DATA_END) {
				ended = true;
				SP_CHECK(ev.size == expect);
			}
			d += used;
			left -= used;
		}
		off += n;
	}
	SP_CHECK(ended);
	SP_CHECK(!outside);
	SP_CHECK(total == expect);
	smtp_parser_deinit(&p);
	sp_buf_deinit(&msg);
}

/* BDAT chunks far larger than a feed. */
static void test_big_bdat(void)
{
	struct sp_buf in = SP_BUF_INIT, want = SP_BUF_INIT, body = SP_BUF_INIT;
	for (int c = 0; c < 3; c++) {
		sp_buf_reset(&body);
		for (int i = 0; i < 100000; i++)
			sp_buf_append_byte(&body, (uint8_t)(i * 7 + c));
		sp_buf_printf(&in, "BDAT %zu%s\r\n", body.len, c == 2 ? " LAST" : "");
		sp_buf_append(&in, body.data, body.len);
		sp_buf_printf(&want, "BDAT %zu%s\nCONTENT ", body.len, c == 2 ? " LAST" : "");
		smtp_tr_escape(&want, body.data, body.len);
		sp_buf_printf(&want, "\nEND size=%zu\n", body.len);
	}
	sp_buf_append_str(&in, "QUIT\r\n");
	sp_buf_append_str(&want, "QUIT\n");
	for (int chunking = 0; chunking < 3; chunking++) {
		struct smtp_transcript_opts o = {
		    .chunking = (enum smtp_chunking)chunking, .max_chunk = 3000, .seed = 11};
		struct sp_buf got = SP_BUF_INIT;
		smtp_transcript(in.data, in.len, &o, &got);
		SP_CHECK(o.violation == NULL);
		SP_CHECK(got.len == want.len && memcmp(got.data, want.data, want.len) == 0);
		sp_buf_deinit(&got);
	}
	sp_buf_deinit(&in);
	sp_buf_deinit(&want);
	sp_buf_deinit(&body);
}

static bool line_holds(const struct smtp_parser *p, const char *needle)
{
	return memmem(p->line, p->line_cap, needle, strlen(needle)) != NULL;
}

/* AUTH lines and SASL responses are wiped from the parser at the next call. */
static void test_wipe(void)
{
	struct smtp_parser p;
	struct smtp_event ev;
	size_t used;
	smtp_parser_init(&p, SMTP_MODE_SMTP, NULL);
	const char *a = "AUTH PLAIN AHVzZXIAaHVudGVyMg==\r\n";
	SP_CHECK_INT(smtp_parser_feed(&p, (const uint8_t *)a, strlen(a), &used, &ev), 0);
	SP_CHECK(ev.cmd.has_auth_response);
	SP_CHECK(sp_slice_eq_str(ev.cmd.auth_response, "AHVzZXIAaHVudGVyMg=="));
	SP_CHECK(line_holds(&p, "AHVzZXIAaHVudGVyMg=="));
	SP_CHECK_INT(smtp_parser_feed(&p, NULL, 0, &used, &ev), SP_AGAIN);
	SP_CHECK(!line_holds(&p, "AHVzZXIAaHVudGVyMg=="));

	const char *b = "AUTH LOGIN\r\nc2VjcmV0LXBhc3N3b3Jk\r\n";
	SP_CHECK_INT(smtp_parser_feed(&p, (const uint8_t *)b, strlen(b), &used, &ev), 0);
	smtp_parser_expect_line(&p);
	SP_CHECK_INT(smtp_parser_feed(&p, (const uint8_t *)b + used, strlen(b) - used, &used, &ev),
	             0);
	SP_CHECK_INT(ev.type, SMTP_EVENT_LINE);
	SP_CHECK(line_holds(&p, "c2VjcmV0LXBhc3N3b3Jk"));
	SP_CHECK_INT(smtp_parser_feed(&p, NULL, 0, &used, &ev), SP_AGAIN);
	SP_CHECK(!line_holds(&p, "c2VjcmV0LXBhc3N3b3Jk"));

	/* An ordinary command is not wiped (nothing secret, no cost). */
	const char *c = "NOOP keepme\r\n";
	SP_CHECK_INT(smtp_parser_feed(&p, (const uint8_t *)c, strlen(c), &used, &ev), 0);
	SP_CHECK_INT(smtp_parser_feed(&p, NULL, 0, &used, &ev), SP_AGAIN);
	SP_CHECK(line_holds(&p, "keepme"));
	smtp_parser_deinit(&p);
}

/* reset drops a partial line (STARTTLS, RFC 3207 §4.2) or a transfer. */
static void test_reset(void)
{
	struct smtp_parser p;
	struct smtp_event ev;
	size_t used;
	smtp_parser_init(&p, SMTP_MODE_LMTP, NULL);
	SP_CHECK_INT(smtp_parser_feed(&p, (const uint8_t *)"MAIL FR", 7, &used, &ev), SP_AGAIN);
	smtp_parser_reset(&p);
	SP_CHECK_INT(smtp_parser_feed(&p, (const uint8_t *)"NOOP\r\n", 6, &used, &ev), 0);
	SP_CHECK_INT(ev.cmd.verb, SMTP_VERB_NOOP);
	smtp_parser_begin_data(&p);
	SP_CHECK_INT(smtp_parser_feed(&p, (const uint8_t *)"partial", 7, &used, &ev), 0);
	SP_CHECK_INT(ev.type, SMTP_EVENT_DATA);
	SP_CHECK_INT(smtp_parser_feed(&p, NULL, 0, &used, &ev), SP_AGAIN);
	SP_CHECK_INT(used, 0);
	smtp_parser_reset(&p);
	SP_CHECK_INT(smtp_parser_feed(&p, (const uint8_t *)"RSET\r\n", 6, &used, &ev), 0);
	SP_CHECK_INT(ev.type, SMTP_EVENT_COMMAND);
	SP_CHECK_INT(ev.cmd.verb, SMTP_VERB_RSET);
	/* Limits below RFC 5321's 512 are raised to it. */
	struct smtp_limits small;
	smtp_limits_init(&small);
	small.max_line = 10;
	smtp_parser_deinit(&p);
	smtp_parser_init(&p, SMTP_MODE_SMTP, &small);
	SP_CHECK_INT(p.limits.max_line, 512);
	smtp_parser_deinit(&p);
}

int main(void)
{
	SP_TEST_RUN(test_corpus);
	SP_TEST_RUN(test_pipelining);
	SP_TEST_RUN(test_huge_line);
	SP_TEST_RUN(test_zero_copy);
	SP_TEST_RUN(test_big_bdat);
	SP_TEST_RUN(test_wipe);
	SP_TEST_RUN(test_reset);
	return sp_test_finish();
}
