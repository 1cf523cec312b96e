/* Unit tests of SEARCH: every key of struct store_query against a small
 * mailbox with known answers (substrings, CJK, QP and base64 text, the
 * sender's-date comparisons around midnight, REGEXP and its match limit),
 * and a scan for plaintext after a large sorted search. */
#include "test_store_util.h"
#include "lib/sp_str.h"

#include <time.h>

SP_TEST_MAIN_DEFS

static const char *const msgs[] = {
    /* UID 1 */
    "From: Alice Example <alice@example.org>\r\n"
    "To: bob@example.com\r\n"
    "Subject: Hello world\r\n"
    "Date: Tue, 24 Nov 2026 23:30:00 -0500\r\n"
    "Message-ID: <m1@example.org>\r\n"
    "\r\n"
    "The quick brown fox jumps.\r\n",
    /* UID 2: Korean subject as an encoded-word, Japanese base64 body */
    "From: =?UTF-8?B?7ZWc6rWt7J20?= <kim@example.kr>\r\n"
    "To: team@example.kr\r\n"
    "Subject: =?UTF-8?B?7JWI64WV7ZWY7IS47JqUIO2ajOydmA==?=\r\n"
    "Date: Wed, 25 Nov 2026 00:10:00 +0900\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "5p2x5Lqs44Gn5Lya6K2w44GM44GC44KK44G+44GZ\r\n",
    /* UID 3: quoted-printable body, reply to UID 1 */
    "From: carol@example.net\r\n"
    "To: bob@example.com\r\n"
    "Cc: Carol <carol@example.net>\r\n"
    "Subject: Re: [list] Invoice 42\r\n"
    "Date: Tue, 10 Nov 2026 09:00:00 +0000\r\n"
    "In-Reply-To: <m1@example.org>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "Caf=C3=A9 meeting tomorrow with zebra=\r\n"
    "stripes.\r\n",
    /* UID 4: a base64 text attachment, an HTML part, Bcc, custom header */
    "From: eve@example.com\r\n"
    "Bcc: dave@example.com\r\n"
    "X-Custom: Foobar\r\n"
    "Subject: attachments\r\n"
    "Date: Sun, 01 Nov 2026 12:00:00 +0000\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
    "\r\n"
    "--b1\r\n"
    "Content-Type: text/html; charset=us-ascii\r\n"
    "\r\n"
    "<html><body><p>see <b>attached</b> notes</p></body></html>\r\n"
    "--b1\r\n"
    "Content-Type: text/plain; name=\"notes.txt\"\r\n"
    "Content-Disposition: attachment; filename=\"notes.txt\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "c2VjcmV0IHdvcmQ6IHBpbmVhcHBsZQo=\r\n"
    "--b1--\r\n",
    /* UID 5: no Date header (SENT* use the internal date, 24 Nov) */
    "From: frank@example.com\r\n"
    "Subject: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!\r\n"
    "\r\n"
    "short\r\n",
};

static const unsigned msg_flags[] = {
    STORE_FLAG_SEEN,
    0,
    STORE_FLAG_SEEN | STORE_FLAG_ANSWERED,
    STORE_FLAG_DELETED,
    STORE_FLAG_SEEN | STORE_FLAG_FLAGGED,
};

#define Q(...) ((struct store_query){__VA_ARGS__})
#define KIDS(...)                                                                                  \
	.children = (struct store_query[]){__VA_ARGS__},                                           \
	.n_children = sizeof((struct store_query[]){__VA_ARGS__}) / sizeof(struct store_query)
#define DATE(y, m, d) .year = (y), .month = (m), .day = (d)
#define UIDS(...) ((const uint32_t[]){__VA_ARGS__, 0})
#define NONE ((const uint32_t[]){0})
#define C(n, qq, w)                                                                                \
	{                                                                                          \
		.name = (n), .q = qq, .want = (w)                                                  \
	}

struct search_case {
	const char *name;
	struct store_query q;
	const uint32_t *want; /* 0-terminated */
};

static void check_uids(const char *name, const uint32_t *got, size_t n, const uint32_t *want)
{
	size_t wn = 0;
	while (want[wn] != 0)
		wn++;
	bool ok = n == wn;
	for (size_t i = 0; ok && i < n; i++)
		ok = got[i] == want[i];
	if (!ok) {
		fprintf(stderr, "%s: got", name);
		for (size_t i = 0; i < n; i++)
			fprintf(stderr, " %u", got[i]);
		fprintf(stderr, ", want");
		for (size_t i = 0; i < wn; i++)
			fprintf(stderr, " %u", want[i]);
		fprintf(stderr, "\n");
	}
	SP_CHECK(ok);
}

static struct tmbox t;
static int64_t inbox;

static void setup(void)
{
	tmbox_open(&t);
	inbox = tmbox_folder(&t, "INBOX");
	time_t base = 1795176000; /* 2026-11-20 12:00:00 UTC */
	for (size_t i = 0; i < SP_N_ELEMENTS(msgs); i++) {
		const char *kw[] = {"$Important"};
		struct store_append_msg m = {
		    .data = (const uint8_t *)msgs[i],
		    .len = strlen(msgs[i]),
		    .flags = msg_flags[i],
		    .internaldate = base + (time_t)i * 86400,
		    .keywords = kw,
		    .n_keywords = i == 4,
		};
		uint32_t uidv, uid;
		const char *err;
		if (store_append(t.s, "INBOX", &m, 1, &uidv, &uid, &err) < 0 || uid != i + 1)
			sp_panic("setup append %zu", i);
	}
}

static void run_cases(const struct search_case *cases, size_t n)
{
	struct sp_arena *a = sp_arena_new(4096);
	for (size_t i = 0; i < n; i++) {
		uint32_t *uids;
		size_t nu;
		const char *err = NULL;
		int rc = store_search(t.s, inbox, &cases[i].q, a, &uids, &nu, &err);
		if (rc < 0) {
			fprintf(stderr, "%s: %s\n", cases[i].name, err);
			SP_CHECK(0);
			continue;
		}
		check_uids(cases[i].name, uids, nu, cases[i].want);
		sp_arena_reset(a);
	}
	sp_arena_free(&a);
}

static void test_text_keys(void)
{
	const struct search_case cases[] = {
	    C("all", Q(.type = STORE_Q_ALL), UIDS(1, 2, 3, 4, 5)),
	    C("subject ello", Q(.type = STORE_Q_SUBJECT, .str = "ello"), UIDS(1)),
	    C("subject HELLO", Q(.type = STORE_Q_SUBJECT, .str = "HELLO"), UIDS(1)),
	    C("subject lo", Q(.type = STORE_Q_SUBJECT, .str = "lo"), UIDS(1)),
	    C("subject ko 5", Q(.type = STORE_Q_SUBJECT, .str = "안녕하세요"), UIDS(2)),
	    C("subject ko 2", Q(.type = STORE_Q_SUBJECT, .str = "회의"), UIDS(2)),
	    C("body ja long", Q(.type = STORE_Q_BODY, .str = "会議があります"), UIDS(2)),
	    C("body ja short", Q(.type = STORE_Q_BODY, .str = "東京"), UIDS(2)),
	    C("from decoded ko", Q(.type = STORE_Q_FROM, .str = "한국이"), UIDS(2)),
	    C("qp soft break", Q(.type = STORE_Q_TEXT, .str = "zebrastripes"), UIDS(3)),
	    C("qp 8bit", Q(.type = STORE_Q_BODY, .str = "CAFÉ"), UIDS(3)),
	    C("base64 attachment text", Q(.type = STORE_Q_BODY, .str = "pineapple"), UIDS(4)),
	    C("text pineapple", Q(.type = STORE_Q_TEXT, .str = "PineApple"), UIDS(4)),
	    C("html stripped", Q(.type = STORE_Q_BODY, .str = "attached"), UIDS(4)),
	    C("html tags not text", Q(.type = STORE_Q_BODY, .str = "<b>"), NONE),
	    C("text finds header", Q(.type = STORE_Q_TEXT, .str = "eve@exa"), UIDS(4)),
	    C("body not header", Q(.type = STORE_Q_BODY, .str = "eve@exa"), NONE),
	    C("from", Q(.type = STORE_Q_FROM, .str = "alice"), UIDS(1)),
	    C("from short", Q(.type = STORE_Q_FROM, .str = "Al"), UIDS(1)),
	    C("to", Q(.type = STORE_Q_TO, .str = "bob@"), UIDS(1, 3)),
	    C("cc", Q(.type = STORE_Q_CC, .str = "carol"), UIDS(3)),
	    C("bcc", Q(.type = STORE_Q_BCC, .str = "dave"), UIDS(4)),
	    C("quote in needle", Q(.type = STORE_Q_SUBJECT, .str = "a\"b"), NONE),
	    C("header substring", Q(.type = STORE_Q_HEADER, .header = "X-Custom", .str = "oob"),
	      UIDS(4)),
	    C("header present", Q(.type = STORE_Q_HEADER, .header = "x-custom", .str = ""),
	      UIDS(4)),
	    C("header other field", Q(.type = STORE_Q_HEADER, .header = "Subject", .str = "oob"),
	      NONE),
	    C("header msgid", Q(.type = STORE_Q_HEADER, .header = "Message-ID", .str = "m1@"),
	      UIDS(1)),
	    C("header in-reply-to", Q(.type = STORE_Q_HEADER, .header = "In-Reply-To", .str = "m1"),
	      UIDS(3)),
	};
	run_cases(cases, SP_N_ELEMENTS(cases));
}

static void test_flag_keys(void)
{
	const struct search_case cases[] = {
	    C("seen", Q(.type = STORE_Q_FLAGS_SET, .flags = STORE_FLAG_SEEN), UIDS(1, 3, 5)),
	    C("unseen", Q(.type = STORE_Q_FLAGS_UNSET, .flags = STORE_FLAG_SEEN), UIDS(2, 4)),
	    C("seen+answered",
	      Q(.type = STORE_Q_FLAGS_SET, .flags = STORE_FLAG_SEEN | STORE_FLAG_ANSWERED),
	      UIDS(3)),
	    C("deleted", Q(.type = STORE_Q_FLAGS_SET, .flags = STORE_FLAG_DELETED), UIDS(4)),
	    C("undeleted", Q(.type = STORE_Q_FLAGS_UNSET, .flags = STORE_FLAG_DELETED),
	      UIDS(1, 2, 3, 5)),
	    C("flagged", Q(.type = STORE_Q_FLAGS_SET, .flags = STORE_FLAG_FLAGGED), UIDS(5)),
	    C("draft", Q(.type = STORE_Q_FLAGS_SET, .flags = STORE_FLAG_DRAFT), NONE),
	    C("keyword", Q(.type = STORE_Q_KEYWORD, .str = "$important"), UIDS(5)),
	    C("unkeyword", Q(.type = STORE_Q_UNKEYWORD, .str = "$Important"), UIDS(1, 2, 3, 4)),
	    C("keyword absent", Q(.type = STORE_Q_KEYWORD, .str = "nothing"), NONE),
	    C("uid",
	      Q(.type = STORE_Q_UID, .uids = {(struct store_uid_range[]){{2, 3}, {5, 9}}, 2}),
	      UIDS(2, 3, 5)),
	    C("seq",
	      Q(.type = STORE_Q_SEQ, .uids = {(struct store_uid_range[]){{5, 5}, {1, 1}}, 2}),
	      UIDS(1, 5)),
	    C("not", Q(.type = STORE_Q_NOT, KIDS(Q(.type = STORE_Q_SUBJECT, .str = "hello"))),
	      UIDS(2, 3, 4, 5)),
	    C("or",
	      Q(.type = STORE_Q_OR, KIDS(Q(.type = STORE_Q_FROM, .str = "alice"),
	                                 Q(.type = STORE_Q_CC, .str = "carol"))),
	      UIDS(1, 3)),
	    C("and",
	      Q(.type = STORE_Q_AND,
	        KIDS(Q(.type = STORE_Q_FLAGS_SET, .flags = STORE_FLAG_SEEN),
	             Q(.type = STORE_Q_FLAGS_UNSET, .flags = STORE_FLAG_FLAGGED))),
	      UIDS(1, 3)),
	    C("larger", Q(.type = STORE_Q_LARGER, .number = 450), UIDS(4)),
	    C("smaller", Q(.type = STORE_Q_SMALLER, .number = 100), UIDS(5)),
	};
	run_cases(cases, SP_N_ELEMENTS(cases));
}

/* RFC 9051 §6.4.4: BEFORE/ON/SINCE on the internal date, SENT* on the
 * Date header's own calendar date, ignoring time and zone. UID 1 was sent
 * 24 Nov 23:30 -0500 (25 Nov in UTC); UID 2 on 25 Nov 00:10 +0900 (24 Nov
 * in UTC): each answers by the sender's calendar. */
static void test_date_keys(void)
{
	char today[16];
	store_iso_day(time(NULL), 0, today);
	unsigned ty = 0, tm = 0, td = 0;
	sscanf(today, "%u-%u-%u", &ty, &tm, &td);
	uint64_t age5 = (uint64_t)(time(NULL) - (1795176000 + 4 * 86400));
	struct search_case cases[] = {
	    C("before", Q(.type = STORE_Q_BEFORE, DATE(2026, 11, 21)), UIDS(1)),
	    C("on", Q(.type = STORE_Q_ON, DATE(2026, 11, 21)), UIDS(2)),
	    C("since", Q(.type = STORE_Q_SINCE, DATE(2026, 11, 22)), UIDS(3, 4, 5)),
	    C("senton 24", Q(.type = STORE_Q_SENTON, DATE(2026, 11, 24)), UIDS(1, 5)),
	    C("senton 25", Q(.type = STORE_Q_SENTON, DATE(2026, 11, 25)), UIDS(2)),
	    C("sentbefore 25", Q(.type = STORE_Q_SENTBEFORE, DATE(2026, 11, 25)), UIDS(1, 3, 4, 5)),
	    C("sentsince 25", Q(.type = STORE_Q_SENTSINCE, DATE(2026, 11, 25)), UIDS(2)),
	    C("sentsince 24", Q(.type = STORE_Q_SENTSINCE, DATE(2026, 11, 24)), UIDS(1, 2, 5)),
	    C("savedon today",
	      Q(.type = STORE_Q_SAVEDON, .year = (uint16_t)ty, .month = (uint8_t)tm,
	        .day = (uint8_t)td),
	      UIDS(1, 2, 3, 4, 5)),
	    C("savedbefore today",
	      Q(.type = STORE_Q_SAVEDBEFORE, .year = (uint16_t)ty, .month = (uint8_t)tm,
	        .day = (uint8_t)td),
	      NONE),
	    C("savedsince today",
	      Q(.type = STORE_Q_SAVEDSINCE, .year = (uint16_t)ty, .month = (uint8_t)tm,
	        .day = (uint8_t)td),
	      UIDS(1, 2, 3, 4, 5)),
	    /* UID 5's internal date is a day after UID 4's */
	    C("older", Q(.type = STORE_Q_OLDER, .number = age5 + 3600), UIDS(1, 2, 3, 4)),
	    C("younger", Q(.type = STORE_Q_YOUNGER, .number = age5 + 3600), UIDS(5)),
	};
	run_cases(cases, SP_N_ELEMENTS(cases));
	struct sp_arena *a = sp_arena_new(1024);
	uint32_t *u;
	size_t n;
	const char *err;
	struct store_query bad = Q(.type = STORE_Q_ON, DATE(2026, 13, 1));
	SP_CHECK_INT(store_search(t.s, inbox, &bad, a, &u, &n, &err), -1);
	SP_CHECK_INT(store_last_error(t.s), STORE_ERR_BAD_ARG);
	sp_arena_free(&a);
}

static void test_id_keys(void)
{
	struct fetched f2 = {0}, f1 = {0};
	SP_CHECK_INT(
	    tmbox_fetch(&t, inbox, 2, STORE_FETCH_OBJECTID | STORE_FETCH_MODSEQ, NULL, 0, &f2), 0);
	SP_CHECK_INT(tmbox_fetch(&t, inbox, 1, STORE_FETCH_OBJECTID, NULL, 0, &f1), 0);
	char emailid[64], threadid[64];
	snprintf(emailid, sizeof(emailid), "%s", f2.m.emailid ? f2.m.emailid : "");
	snprintf(threadid, sizeof(threadid), "%s", f1.m.threadid ? f1.m.threadid : "");
	uint64_t modseq2 = f2.m.modseq;
	struct search_case cases[] = {
	    C("emailid", Q(.type = STORE_Q_EMAILID, .str = emailid), UIDS(2)),
	    /* UID 3 replies to UID 1: same thread */
	    C("threadid", Q(.type = STORE_Q_THREADID, .str = threadid), UIDS(1, 3)),
	    C("modseq", Q(.type = STORE_Q_MODSEQ, .number = modseq2), UIDS(2, 3, 4, 5)),
	};
	run_cases(cases, SP_N_ELEMENTS(cases));
	fetched_deinit(&f1);
	fetched_deinit(&f2);
}

static void test_regex(void)
{
	const struct search_case cases[] = {
	    C("regex subject",
	      Q(.type = STORE_Q_REGEX, .field = STORE_FIELD_SUBJECT,
	        .str = "^Re: \\[list\\] Invoice \\d+$"),
	      UIDS(3)),
	    C("regex case", Q(.type = STORE_Q_REGEX, .field = STORE_FIELD_SUBJECT, .str = "hello"),
	      NONE),
	    C("regex (?i)",
	      Q(.type = STORE_Q_REGEX, .field = STORE_FIELD_SUBJECT, .str = "(?i)hello"), UIDS(1)),
	    C("regex header",
	      Q(.type = STORE_Q_REGEX, .field = STORE_FIELD_HEADER, .header = "X-Custom",
	        .str = "^Foo"),
	      UIDS(4)),
	    C("regex body", Q(.type = STORE_Q_REGEX, .field = STORE_FIELD_BODY, .str = "pine.pple"),
	      UIDS(4)),
	    C("regex utf8",
	      Q(.type = STORE_Q_REGEX, .field = STORE_FIELD_SUBJECT, .str = "^안녕.{3}\\s"),
	      UIDS(2)),
	    C("regex from",
	      Q(.type = STORE_Q_REGEX, .field = STORE_FIELD_FROM, .str = "@example\\.net"),
	      UIDS(3)),
	    C("regex text", Q(.type = STORE_Q_REGEX, .field = STORE_FIELD_TEXT, .str = "Bcc: dave"),
	      UIDS(4)),
	};
	run_cases(cases, SP_N_ELEMENTS(cases));

	struct sp_arena *a = sp_arena_new(1024);
	uint32_t *u;
	size_t n;
	const char *err;
	/* catastrophic backtracking on UID 5's subject: stopped by the limit */
	struct store_query evil =
	    Q(.type = STORE_Q_REGEX, .field = STORE_FIELD_SUBJECT, .str = "^(a|aa)+$");
	uint64_t t0 = sp_now_ms();
	SP_CHECK_INT(store_search(t.s, inbox, &evil, a, &u, &n, &err), -1);
	SP_CHECK_INT(store_last_error(t.s), STORE_ERR_LIMIT);
	SP_CHECK(sp_now_ms() - t0 < 10000);
	struct store_query bad = Q(.type = STORE_Q_REGEX, .field = STORE_FIELD_SUBJECT, .str = "(");
	SP_CHECK_INT(store_search(t.s, inbox, &bad, a, &u, &n, &err), -1);
	SP_CHECK_INT(store_last_error(t.s), STORE_ERR_BAD_ARG);
	/* the session still works after both */
	struct store_query ok = Q(.type = STORE_Q_SUBJECT, .str = "ello");
	SP_CHECK_INT(store_search(t.s, inbox, &ok, a, &u, &n, &err), 0);
	SP_CHECK_INT(n, 1);
	sp_arena_free(&a);
}

/* After searches over many messages whose results are sorted, neither the
 * mailbox file (and its WAL) nor the temporary directory holds the
 * marker in plaintext: SQLite keeps temporary data in memory. */
static void test_no_plaintext(void)
{
	struct tmbox m;
	char tmpdir[256];
	snprintf(tmpdir, sizeof(tmpdir), "%s/sp-tmp-XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	SP_CHECK(mkdtemp(tmpdir) != NULL);
	char *old = getenv("TMPDIR") ? sp_strdup(getenv("TMPDIR")) : NULL;
	setenv("TMPDIR", tmpdir, 1);
	setenv("SQLITE_TMPDIR", tmpdir, 1);
	tmbox_open(&m);
	struct sp_buf b = SP_BUF_INIT;
	struct store_append_msg batch[50];
	char *texts[50];
	for (int round = 0; round < 40; round++) {
		for (int i = 0; i < 50; i++) {
			sp_buf_reset(&b);
			sp_buf_printf(&b,
			              "From: x%d@example.org\r\nSubject: PLAINMARKER%05d\r\n\r\n",
			              i, round * 50 + i);
			for (int k = 0; k < 20; k++)
				sp_buf_printf(&b, "PLAINMARKER body line %d %d\r\n", round, k);
			texts[i] = sp_buf_steal(&b);
			batch[i] = (struct store_append_msg){.data = (const uint8_t *)texts[i],
			                                     .len = strlen(texts[i])};
		}
		uint32_t uidv, uids[50];
		const char *err;
		SP_CHECK_INT(store_append(m.s, "INBOX", batch, 50, &uidv, uids, &err), 0);
		for (int i = 0; i < 50; i++)
			free(texts[i]);
	}
	struct sp_arena *a = sp_arena_new(4096);
	int64_t f = tmbox_folder(&m, "INBOX");
	struct store_query qs[] = {
	    Q(.type = STORE_Q_TEXT, .str = "PLAINMARKER"),
	    Q(.type = STORE_Q_OR, KIDS(Q(.type = STORE_Q_SUBJECT, .str = "MARKER0"),
	                               Q(.type = STORE_Q_BODY, .str = "line 3"))),
	    Q(.type = STORE_Q_NOT, KIDS(Q(.type = STORE_Q_FROM, .str = "x1"))),
	    Q(.type = STORE_Q_REGEX, .field = STORE_FIELD_SUBJECT, .str = "MARKER\\d+"),
	};
	for (size_t i = 0; i < SP_N_ELEMENTS(qs); i++) {
		uint32_t *u;
		size_t n;
		const char *err;
		SP_CHECK_INT(store_search(m.s, f, &qs[i], a, &u, &n, &err), 0);
		SP_CHECK(n > 100);
	}
	/* Every FTS5 block fits in a table leaf of a page that keeps 32 bytes
	 * for the cipher (4,064 usable: at most 4,029 bytes of record, 4
	 * of them its header); a larger one would spill into an overflow
	 * page of its own (schema v4). */
	sqlite3_stmt *st;
	SP_CHECK_INT(sqlite3_prepare_v2(m.s->db,
	                                "SELECT count(*), max(length(block)) FROM fts_data", -1,
	                                &st, NULL),
	             SQLITE_OK);
	SP_CHECK_INT(sqlite3_step(st), SQLITE_ROW);
	SP_CHECK(sqlite3_column_int(st, 0) > 50);
	SP_CHECK(sqlite3_column_int(st, 1) > 3500 && sqlite3_column_int(st, 1) <= 4025);
	sqlite3_finalize(st);
	/* scan while the session is still open (WAL present) */
	const char *dirs[] = {tmpdir, m.dir};
	for (size_t d = 0; d < 2; d++) {
		DIR *dd = opendir(dirs[d]);
		struct dirent *e;
		while (dd != NULL && (e = readdir(dd)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			char p[600];
			snprintf(p, sizeof(p), "%s/%s", dirs[d], e->d_name);
			size_t len;
			uint8_t *data = read_file(p, &len);
			if (data != NULL && memmem(data, len, "PLAINMARKER", 11) != NULL) {
				fprintf(stderr, "plaintext in %s\n", p);
				SP_CHECK(0);
			}
			free(data);
		}
		if (dd != NULL)
			closedir(dd);
	}
	sp_buf_deinit(&b);
	sp_arena_free(&a);
	tmbox_close(&m);
	rmdir(tmpdir);
	if (old != NULL) {
		setenv("TMPDIR", old, 1);
		free(old);
	} else {
		unsetenv("TMPDIR");
	}
	unsetenv("SQLITE_TMPDIR");
}

/* Address keys match the addresses as parsed as well as the field as
 * written: comments gone, "Name <local@domain>" re-rendered, groups. */
static const char *const addr_msgs[] = {
    /* UID 1 */
    "From: ann@site.example\r\nTo: ben@site.example\r\n\r\nx\r\n",
    /* UID 2 */
    "From: Ann Person <ann@site.example>\r\nTo: \"Ben, Dr.\" <ben@site.example>\r\n\r\nx\r\n",
    /* UID 3: comments inside the addr-spec */
    "From: <ann (first)@ (second) site.example>\r\nCc: <cal@site.example>\r\n\r\nx\r\n",
    /* UID 4: a comment as the name */
    "From: ann@site.example (Ann Person)\r\nBcc: dee@site.example (Dee)\r\n\r\nx\r\n",
    /* UID 5: two addresses */
    "From: ann1@site.example, ann2@site.example\r\n\r\nx\r\n",
    /* UID 6: groups, folded */
    "From: =?utf-8?q?Ann_P=C3=A9rson?= <ann@site.example>\r\n"
    "To: crew: m1@site.example, m2@site.example;,\r\n  crew2: m3@site.example;\r\n\r\nx\r\n",
    /* UID 7: an empty group */
    "From: Ann Person <ann@site.example>\r\nTo: crew:;\r\n\r\nx\r\n",
};

static const struct search_case addr_cases[] = {
    C("from full", Q(.type = STORE_Q_FROM, .str = "ann@site.example"), UIDS(1, 2, 3, 4, 6, 7)),
    C("from comments removed", Q(.type = STORE_Q_FROM, .str = "n@site.ex"), UIDS(1, 2, 3, 4, 6, 7)),
    C("from substring", Q(.type = STORE_Q_FROM, .str = "nn"), UIDS(1, 2, 3, 4, 5, 6, 7)),
    C("from name", Q(.type = STORE_Q_FROM, .str = "ann person"), UIDS(2, 4, 7)),
    C("from name decoded", Q(.type = STORE_Q_FROM, .str = "Pérson"), UIDS(6)),
    C("from rendered", Q(.type = STORE_Q_FROM, .str = "Ann Person <ann@"), UIDS(2, 4, 7)),
    C("from second", Q(.type = STORE_Q_FROM, .str = "ann2@"), UIDS(5)),
    C("from raw comment", Q(.type = STORE_Q_FROM, .str = "(first)"), UIDS(3)),
    C("to quoted name", Q(.type = STORE_Q_TO, .str = "Ben, Dr."), UIDS(2)),
    C("to", Q(.type = STORE_Q_TO, .str = "ben@site.example"), UIDS(1, 2)),
    C("cc angle only", Q(.type = STORE_Q_CC, .str = "cal@site.example"), UIDS(3)),
    C("bcc comment name", Q(.type = STORE_Q_BCC, .str = "Dee <dee@"), UIDS(4)),
    C("to group name", Q(.type = STORE_Q_TO, .str = "crew"), UIDS(6, 7)),
    C("to second group", Q(.type = STORE_Q_TO, .str = "crew2"), UIDS(6)),
    C("to group member", Q(.type = STORE_Q_TO, .str = "m3@site"), UIDS(6)),
    C("to no such member", Q(.type = STORE_Q_TO, .str = "m4@site"), NONE),
    C("to short", Q(.type = STORE_Q_TO, .str = "m2"), UIDS(6)),
};

static void addr_setup(struct tmbox *m)
{
	tmbox_open(m);
	for (size_t i = 0; i < SP_N_ELEMENTS(addr_msgs); i++)
		SP_CHECK_INT(tmbox_add(m, "INBOX", addr_msgs[i], 0, 1795176000, 0), (int)i + 1);
}

static void run_addr_cases(struct tmbox *m)
{
	struct sp_arena *a = sp_arena_new(4096);
	int64_t f = tmbox_folder(m, "INBOX");
	for (size_t i = 0; i < SP_N_ELEMENTS(addr_cases); i++) {
		uint32_t *uids;
		size_t nu;
		const char *err = NULL;
		if (store_search(m->s, f, &addr_cases[i].q, a, &uids, &nu, &err) < 0) {
			fprintf(stderr, "%s: %s\n", addr_cases[i].name, err);
			SP_CHECK(0);
			continue;
		}
		check_uids(addr_cases[i].name, uids, nu, addr_cases[i].want);
		sp_arena_reset(a);
	}
	sp_arena_free(&a);
}

static void test_address_keys(void)
{
	struct tmbox m;
	addr_setup(&m);
	run_addr_cases(&m);
	tmbox_close(&m);
}

/* A file of schema version 2 (the fts address columns held the decoded
 * field only) is migrated on open and then matches the parsed forms. */
static void test_address_migration(void)
{
	struct tmbox m;
	addr_setup(&m);
	SP_CHECK_INT(sqlite3_exec(m.s->db,
	                          "UPDATE fts SET from_ = c.from_addr, to_ = c.to_addr,"
	                          " cc_ = c.cc_addr, bcc_ = c.bcc_addr FROM contents c"
	                          " WHERE c.id = fts.rowid;"
	                          "UPDATE meta SET value = 2 WHERE key = 'schema_version';",
	                          NULL, NULL, NULL),
	             SQLITE_OK);
	/* the old form really fails the comment case */
	struct sp_arena *a = sp_arena_new(1024);
	uint32_t *uids;
	size_t nu;
	const char *err = NULL;
	struct store_query q = {.type = STORE_Q_FROM, .str = "ann@site.example"};
	SP_CHECK_INT(store_search(m.s, tmbox_folder(&m, "INBOX"), &q, a, &uids, &nu, &err), 0);
	check_uids("v2 from full", uids, nu, UIDS(1, 2, 4, 6, 7));
	sp_arena_free(&a);

	store_session_close(&m.s);
	if (store_session_open(m.path, "test", m.dek, false, &m.s, &err) < 0)
		sp_panic("reopen: %s", err);
	sqlite3_stmt *st = NULL;
	SP_CHECK_INT(sqlite3_prepare_v2(m.s->db,
	                                "SELECT value FROM meta WHERE key = 'schema_version'", -1,
	                                &st, NULL),
	             SQLITE_OK);
	SP_CHECK_INT(sqlite3_step(st), SQLITE_ROW);
	SP_CHECK_INT(sqlite3_column_int(st, 0), STORE_SCHEMA_VERSION);
	sqlite3_finalize(st);
	run_addr_cases(&m);
	tmbox_close(&m);
}

int main(void)
{
	SP_CHECK_INT(keys_init(), 0);
	setup();
	SP_TEST_RUN(test_text_keys);
	SP_TEST_RUN(test_flag_keys);
	SP_TEST_RUN(test_date_keys);
	SP_TEST_RUN(test_id_keys);
	SP_TEST_RUN(test_regex);
	SP_TEST_RUN(test_address_keys);
	SP_TEST_RUN(test_address_migration);
	tmbox_close(&t);
	SP_TEST_RUN(test_no_plaintext);
	return sp_test_finish();
}
