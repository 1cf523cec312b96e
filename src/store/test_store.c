/* Unit tests of the store: schema and folders, append and byte-exact
 * fetch of every corpus message, sections, dedup of large parts, flags,
 * copy/move, expunge and the change feed. */
#include "test_store_util.h"
#include "mime/mime.h"
#include "lib/sp_str.h"

#include <sodium.h>

SP_TEST_MAIN_DEFS

static const char simple_msg[] = "From: Alice <alice@example.org>\r\n"
                                 "To: bob@example.com\r\n"
                                 "Subject: Hello there\r\n"
                                 "Date: Tue, 24 Nov 2026 10:00:00 +0100\r\n"
                                 "Message-ID: <m1@example.org>\r\n"
                                 "\r\n"
                                 "Hi Bob,\r\nthis is a test.\r\n";

static void test_open_and_defaults(void)
{
	struct tmbox t;
	tmbox_open(&t);
	struct sp_arena *a = sp_arena_new(4096);
	struct store_folder *f;
	size_t n;
	const char *err;
	SP_CHECK_INT(store_folder_list(t.s, a, &f, &n, &err), 0);
	static const struct {
		const char *name;
		unsigned use;
	} want[] = {
	    {.name = "Archive", .use = STORE_USE_ARCHIVE},
	    {.name = "Drafts", .use = STORE_USE_DRAFTS},
	    {.name = "INBOX", .use = 0},
	    {.name = "Junk", .use = STORE_USE_JUNK},
	    {.name = "Sent", .use = STORE_USE_SENT},
	    {.name = "Trash", .use = STORE_USE_TRASH},
	};
	SP_CHECK_INT(n, SP_N_ELEMENTS(want));
	for (size_t i = 0; i < n && i < SP_N_ELEMENTS(want); i++) {
		SP_CHECK_STR(f[i].name, want[i].name);
		SP_CHECK_INT(f[i].special_use, want[i].use);
		SP_CHECK(f[i].subscribed);
		SP_CHECK(f[i].uidvalidity > 0);
		SP_CHECK_INT(f[i].uidnext, 1);
	}
	/* distinct UIDVALIDITY per folder */
	for (size_t i = 1; i < n; i++)
		SP_CHECK(f[i].uidvalidity != f[0].uidvalidity);
	SP_CHECK(tmbox_add(&t, "INBOX", simple_msg, 0, 0, 0) == 1);
	store_session_close(&t.s);

	/* reopen with the right key: data is there; with a wrong key: fails */
	SP_CHECK_INT(store_session_open(t.path, "test", t.dek, false, &t.s, &err), 0);
	struct store_status st;
	SP_CHECK_INT(store_folder_status(t.s, "inbox", a, &st, &err), 0);
	SP_CHECK_INT(st.messages, 1);
	SP_CHECK_INT(st.unseen, 1);
	SP_CHECK_INT(st.recent, 1); /* no session has claimed it yet */
	SP_CHECK_INT(st.folder.uidnext, 2);
	SP_CHECK_INT(st.size, strlen(simple_msg));
	struct keys_secret *bad = keys_secret_random(KEYS_KEY_LEN);
	struct store_session *s2 = NULL;
	SP_CHECK_INT(store_session_open(t.path, "test", bad, false, &s2, &err), -1);
	SP_CHECK(s2 == NULL);
	keys_secret_free(&bad);
	/* the file holds no plaintext */
	size_t len;
	store_session_close(&t.s);
	uint8_t *file = read_file(t.path, &len);
	SP_CHECK(file != NULL && len > 0);
	SP_CHECK(memmem(file, len, "Hello there", 11) == NULL);
	SP_CHECK(memmem(file, len, "SQLite format", 13) == NULL);
	free(file);
	SP_CHECK_INT(store_session_open(t.path, "test", t.dek, false, &t.s, &err), 0);
	/* rekey: the new key opens the file, the old one no longer does */
	struct keys_secret *dek2 = keys_secret_random(KEYS_KEY_LEN);
	SP_CHECK_INT(store_session_rekey(t.s, dek2, &err), 0);
	store_session_close(&t.s);
	SP_CHECK_INT(store_session_open(t.path, "test", t.dek, false, &s2, &err), -1);
	SP_CHECK_INT(store_session_open(t.path, "test", dek2, false, &t.s, &err), 0);
	SP_CHECK_INT(store_folder_status(t.s, "INBOX", a, &st, &err), 0);
	SP_CHECK_INT(st.messages, 1);
	keys_secret_free(&t.dek);
	t.dek = dek2;
	sp_arena_free(&a);
	tmbox_close(&t);
}

static void test_folder_ops(void)
{
	struct tmbox t;
	tmbox_open(&t);
	const char *err;
	static const struct {
		const char *name;
		int rc;
		enum store_err code;
	} creates[] = {
	    {.name = "Work", .rc = 0},
	    {.name = "Work", .rc = -1, .code = STORE_ERR_EXISTS},
	    {.name = "inbox", .rc = -1, .code = STORE_ERR_EXISTS},
	    {.name = "Projects/2026/Q4", .rc = 0},
	    {.name = "Ünïcødé 日本語", .rc = 0},
	    {.name = "", .rc = -1, .code = STORE_ERR_BAD_ARG},
	    {.name = "/lead", .rc = -1, .code = STORE_ERR_BAD_ARG},
	    {.name = "trail/", .rc = -1, .code = STORE_ERR_BAD_ARG},
	    {.name = "dou//ble", .rc = -1, .code = STORE_ERR_BAD_ARG},
	    {.name = "wild*", .rc = -1, .code = STORE_ERR_BAD_ARG},
	    {.name = "ctl\x01", .rc = -1, .code = STORE_ERR_BAD_ARG},
	    {.name = "bad\xff utf8", .rc = -1, .code = STORE_ERR_BAD_ARG},
	};
	for (size_t i = 0; i < SP_N_ELEMENTS(creates); i++) {
		int rc = store_folder_create(t.s, creates[i].name, 0, &err);
		SP_CHECK_INT(rc, creates[i].rc);
		if (rc < 0)
			SP_CHECK_INT(store_last_error(t.s), creates[i].code);
	}
	struct sp_arena *a = sp_arena_new(4096);
	struct store_folder f;
	/* parents were created */
	SP_CHECK_INT(store_folder_get(t.s, "Projects", a, &f, &err), 1);
	SP_CHECK_INT(store_folder_get(t.s, "Projects/2026", a, &f, &err), 1);
	SP_CHECK_INT(store_folder_get(t.s, "Nope", a, &f, &err), 0);

	/* rename moves children and gives a new UIDVALIDITY */
	SP_CHECK_INT(store_folder_get(t.s, "Projects/2026/Q4", a, &f, &err), 1);
	uint32_t old_v = f.uidvalidity;
	SP_CHECK(tmbox_add(&t, "Projects/2026/Q4", simple_msg, 0, 0, 0) == 1);
	SP_CHECK_INT(store_folder_rename(t.s, "Projects", "Old/Projects", &err), 0);
	SP_CHECK_INT(store_folder_get(t.s, "Projects/2026/Q4", a, &f, &err), 0);
	SP_CHECK_INT(store_folder_get(t.s, "Old/Projects/2026/Q4", a, &f, &err), 1);
	SP_CHECK_INT(store_folder_get(t.s, "Old", a, &f, &err), 1);
	struct store_status st;
	SP_CHECK_INT(store_folder_status(t.s, "Old/Projects/2026/Q4", a, &st, &err), 0);
	SP_CHECK_INT(st.messages, 1);
	SP_CHECK_INT(store_folder_rename(t.s, "Work", "Old", &err), -1);
	SP_CHECK_INT(store_last_error(t.s), STORE_ERR_EXISTS);
	SP_CHECK_INT(store_folder_rename(t.s, "Missing", "X", &err), -1);
	SP_CHECK_INT(store_last_error(t.s), STORE_ERR_NONEXISTENT);
	(void)old_v;
	SP_CHECK_INT(store_folder_rename(t.s, "Work", "Work/Sub", &err), -1);
	SP_CHECK_INT(store_last_error(t.s), STORE_ERR_BAD_ARG);

	/* renaming INBOX moves its messages and leaves it empty */
	SP_CHECK(tmbox_add(&t, "INBOX", simple_msg, 0, 0, 0) == 1);
	SP_CHECK(tmbox_add(&t, "INBOX", simple_msg, 0, 0, 0) == 2);
	SP_CHECK_INT(store_folder_rename(t.s, "INBOX", "Saved", &err), 0);
	SP_CHECK_INT(store_folder_status(t.s, "INBOX", a, &st, &err), 0);
	SP_CHECK_INT(st.messages, 0);
	SP_CHECK_INT(store_folder_status(t.s, "Saved", a, &st, &err), 0);
	SP_CHECK_INT(st.messages, 2);
	SP_CHECK_INT(st.folder.uidnext, 3);

	/* subscribe, delete */
	SP_CHECK_INT(store_folder_subscribe(t.s, "Work", true, &err), 0);
	SP_CHECK_INT(store_folder_get(t.s, "Work", a, &f, &err), 1);
	SP_CHECK(f.subscribed);
	SP_CHECK_INT(store_folder_delete(t.s, "INBOX", &err), -1);
	int64_t saved = tmbox_folder(&t, "Saved");
	SP_CHECK_INT(store_folder_delete(t.s, "Saved", &err), 0);
	/* another session still holding the id gets NONEXISTENT */
	struct fetched gone = {0};
	SP_CHECK_INT(tmbox_fetch(&t, saved, 1, STORE_FETCH_FLAGS, NULL, 0, &gone), -1);
	SP_CHECK_INT(store_last_error(t.s), STORE_ERR_NONEXISTENT);
	fetched_deinit(&gone);
	uint32_t *su;
	size_t sn;
	struct store_query all = {.type = STORE_Q_ALL};
	SP_CHECK_INT(store_search(t.s, saved, &all, a, &su, &sn, &err), -1);
	SP_CHECK_INT(store_last_error(t.s), STORE_ERR_NONEXISTENT);
	SP_CHECK_INT(store_folder_status(t.s, "Saved", a, &st, &err), -1);
	SP_CHECK_INT(store_last_error(t.s), STORE_ERR_NONEXISTENT);
	struct store_usage u;
	SP_CHECK_INT(store_usage(t.s, &u, &err), 0);
	SP_CHECK_INT(u.messages, 1);
	/* a recreated folder gets a new UIDVALIDITY */
	SP_CHECK_INT(store_folder_get(t.s, "Work", a, &f, &err), 1);
	uint32_t v1 = f.uidvalidity;
	SP_CHECK_INT(store_folder_delete(t.s, "Work", &err), 0);
	SP_CHECK_INT(store_folder_create(t.s, "Work", 0, &err), 0);
	SP_CHECK_INT(store_folder_get(t.s, "Work", a, &f, &err), 1);
	SP_CHECK(f.uidvalidity > v1);
	sp_arena_free(&a);
	tmbox_close(&t);
}

/* Every corpus message appends (in batches of MULTIAPPEND) and comes back
 * byte-exact; BODY[] is its CRLF form and RFC822.SIZE that form's length. */
static void test_corpus_roundtrip(void)
{
	const char *dir = getenv("SP_CORPUS");
	SP_CHECK(dir != NULL);
	if (dir == NULL)
		return;
	DIR *d = opendir(dir);
	SP_CHECK(d != NULL);
	if (d == NULL)
		return;
	struct tmbox t;
	tmbox_open(&t);
	int64_t inbox = tmbox_folder(&t, "INBOX");
	struct dirent *e;
	size_t files = 0, bare = 0;
	struct store_section_req whole = {.type = STORE_SECTION_BODY, .spec = ""};
	struct fetched f = {0};
	while ((e = readdir(d)) != NULL) {
		size_t nl = strlen(e->d_name);
		if (nl < 4 || strcmp(e->d_name + nl - 4, ".eml") != 0)
			continue;
		char p[1024];
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		size_t len;
		uint8_t *data = read_file(p, &len);
		SP_CHECK(data != NULL);
		if (data == NULL)
			continue;
		files++;
		struct store_append_msg m = {.data = data, .len = len, .flags = STORE_FLAG_SEEN};
		uint32_t uidv, uid = 0;
		const char *err;
		if (store_append(t.s, "INBOX", &m, 1, &uidv, &uid, &err) < 0) {
			fprintf(stderr, "%s: append: %s\n", e->d_name, err);
			SP_CHECK(0);
			free(data);
			continue;
		}
		struct sp_buf served = SP_BUF_INIT;
		mime_crlf_normalize(data, len, &served);
		if (served.len != len)
			bare++;
		int rc = tmbox_fetch(&t, inbox, uid,
		                     STORE_FETCH_ORIGINAL | STORE_FETCH_SIZE |
		                         STORE_FETCH_ENVELOPE | STORE_FETCH_BODYSTRUCTURE,
		                     &whole, 1, &f);
		SP_CHECK_INT(rc, 0);
		if (rc == 0) {
			bool exact =
			    f.original.len == len && memcmp(f.original.data, data, len) == 0;
			bool crlf = f.sec[0].len == served.len &&
			            memcmp(f.sec[0].data, served.data, served.len) == 0;
			if (!exact || !crlf || f.m.size != served.len) {
				fprintf(stderr, "%s: exact=%d crlf=%d size=%llu served=%zu\n",
				        e->d_name, exact, crlf, (unsigned long long)f.m.size,
				        served.len);
				SP_CHECK(0);
			}
			SP_CHECK(f.env.len > 2 && f.env.data[0] == '(');
			SP_CHECK(f.bs.len > 2 && f.bs.data[0] == '(');
		}
		sp_buf_deinit(&served);
		free(data);
	}
	closedir(d);
	fetched_deinit(&f);
	SP_CHECK(files >= 390);
	struct store_usage u;
	const char *err;
	SP_CHECK_INT(store_usage(t.s, &u, &err), 0);
	SP_CHECK_INT(u.messages, files);
	printf(
	    "corpus: %zu messages (%zu with bare line ends), %llu bytes served, file %llu bytes\n",
	    files, bare, (unsigned long long)u.message_bytes, (unsigned long long)u.file_bytes);
	tmbox_close(&t);
}

static void test_multiappend_atomic(void)
{
	struct tmbox t;
	tmbox_open(&t);
	const char *bad_kw[] = {"bad keyword"};
	const char *good_kw[] = {"$Forwarded", "work"};
	struct store_append_msg m[3] = {
	    {.data = (const uint8_t *)simple_msg, .len = strlen(simple_msg)},
	    {.data = (const uint8_t *)simple_msg,
	     .len = strlen(simple_msg),
	     .keywords = good_kw,
	     .n_keywords = 2},
	    {.data = (const uint8_t *)simple_msg,
	     .len = strlen(simple_msg),
	     .keywords = bad_kw,
	     .n_keywords = 1},
	};
	uint32_t uidv = 0, uids[3] = {0};
	const char *err;
	SP_CHECK_INT(store_append(t.s, "INBOX", m, 3, &uidv, uids, &err), -1);
	SP_CHECK_INT(store_last_error(t.s), STORE_ERR_BAD_ARG);
	struct sp_arena *a = sp_arena_new(4096);
	struct store_status st;
	SP_CHECK_INT(store_folder_status(t.s, "INBOX", a, &st, &err), 0);
	SP_CHECK_INT(st.messages, 0);
	SP_CHECK_INT(st.folder.uidnext, 1);
	SP_CHECK_INT(store_append(t.s, "INBOX", m, 2, &uidv, uids, &err), 0);
	SP_CHECK_INT(uids[0], 1);
	SP_CHECK_INT(uids[1], 2);
	SP_CHECK_INT(uidv, st.folder.uidvalidity);
	SP_CHECK_INT(store_append(t.s, "Nope", m, 1, &uidv, uids, &err), -1);
	SP_CHECK_INT(store_last_error(t.s), STORE_ERR_NONEXISTENT);

	/* a spool id is drained once */
	struct store_append_msg sp = {.data = (const uint8_t *)simple_msg,
	                              .len = strlen(simple_msg),
	                              .spool_id = "0006283a1b2c3d4e-9af3b2c1"};
	uint32_t u1 = 0, u2 = 0;
	SP_CHECK_INT(store_append(t.s, "INBOX", &sp, 1, &uidv, &u1, &err), 0);
	SP_CHECK_INT(store_append(t.s, "INBOX", &sp, 1, &uidv, &u2, &err), 0);
	SP_CHECK_INT(u1, 3);
	SP_CHECK_INT(u2, 3);
	SP_CHECK_INT(store_folder_status(t.s, "INBOX", a, &st, &err), 0);
	SP_CHECK_INT(st.messages, 3);
	/* once its message is expunged, the id still adds nothing, even
	 * after newer rows were created */
	struct store_flags_req del = {.uids = {&(struct store_uid_range){3, 3}, 1},
	                              .op = STORE_FLAGS_ADD,
	                              .flags = STORE_FLAG_DELETED};
	struct store_flags_result fres;
	uint32_t *gone;
	size_t ngone;
	int64_t inbox = tmbox_folder(&t, "INBOX");
	SP_CHECK_INT(store_flags_update(t.s, inbox, &del, a, &fres, &err), 0);
	SP_CHECK_INT(store_expunge(t.s, inbox, NULL, a, &gone, &ngone, &err), 0);
	SP_CHECK_INT(ngone, 1);
	SP_CHECK_INT(tmbox_add(&t, "INBOX", simple_msg, 0, 0, 0), 4);
	SP_CHECK_INT(store_append(t.s, "INBOX", &sp, 1, &uidv, &u2, &err), 0);
	SP_CHECK_INT(u2, 0);
	SP_CHECK_INT(store_folder_status(t.s, "INBOX", a, &st, &err), 0);
	SP_CHECK_INT(st.messages, 3);

	struct fetched f = {0};
	SP_CHECK_INT(tmbox_fetch(&t, tmbox_folder(&t, "INBOX"), 2, STORE_FETCH_FLAGS, NULL, 0, &f),
	             0);
	SP_CHECK_INT(f.n_kw, 2);
	if (f.n_kw == 2) {
		SP_CHECK_STR(f.kw[0], "$Forwarded");
		SP_CHECK_STR(f.kw[1], "work");
	}
	fetched_deinit(&f);
	sp_arena_free(&a);
	tmbox_close(&t);
}

static const char multipart_msg[] = "From: a@example.org\r\n"
                                    "Subject: parts\r\n"
                                    "MIME-Version: 1.0\r\n"
                                    "Content-Type: multipart/mixed; boundary=\"XX\"\r\n"
                                    "\r\n"
                                    "preamble\r\n"
                                    "--XX\r\n"
                                    "Content-Type: text/plain; charset=utf-8\r\n"
                                    "Content-Transfer-Encoding: quoted-printable\r\n"
                                    "\r\n"
                                    "caf=C3=A9 au lait\r\n"
                                    "--XX\r\n"
                                    "Content-Type: application/octet-stream\r\n"
                                    "Content-Transfer-Encoding: base64\r\n"
                                    "\r\n"
                                    "AAECAwQ=\r\n"
                                    "--XX\r\n"
                                    "Content-Type: text/plain\r\n"
                                    "Content-Transfer-Encoding: x-uuencode\r\n"
                                    "\r\n"
                                    "begin 644 x\r\n"
                                    "--XX--\r\n";

static void test_sections(void)
{
	struct tmbox t;
	tmbox_open(&t);
	int64_t inbox = tmbox_folder(&t, "INBOX");
	uint32_t uid = tmbox_add(&t, "INBOX", multipart_msg, 0, 0, 0);
	SP_CHECK_INT(uid, 1);
	static const struct {
		struct store_section_req req;
		const char *want; /* NULL: NIL */
		size_t want_len;
		uint64_t size;
		bool unknown;
	} cases[] = {
	    {.req = {.type = STORE_SECTION_BODY, .spec = "1"}, .want = "caf=C3=A9 au lait"},
	    {.req = {.type = STORE_SECTION_BODY,
	             .spec = "1",
	             .partial = true,
	             .offset = 4,
	             .count = 5},
	     .want = "C3=A9"},
	    {.req = {.type = STORE_SECTION_BODY,
	             .spec = "1",
	             .partial = true,
	             .offset = 400,
	             .count = 5},
	     .want = ""},
	    {.req = {.type = STORE_SECTION_BODY, .spec = "HEADER.FIELDS (SUBJECT)"},
	     .want = "Subject: parts\r\n\r\n"},
	    {.req = {.type = STORE_SECTION_BODY, .spec = "1.MIME"},
	     .want = "Content-Type: text/plain; charset=utf-8\r\n"
	             "Content-Transfer-Encoding: quoted-printable\r\n\r\n"},
	    {.req = {.type = STORE_SECTION_BODY, .spec = "9"}, .want = NULL},
	    {.req = {.type = STORE_SECTION_BINARY, .spec = "1"}, .want = "caf\xc3\xa9 au lait"},
	    {.req = {.type = STORE_SECTION_BINARY, .spec = "2"},
	     .want = "\0\1\2\3\4",
	     .want_len = 5},
	    {.req = {.type = STORE_SECTION_BINARY_SIZE, .spec = "2"}, .want = "", .size = 5},
	    {.req = {.type = STORE_SECTION_BINARY, .spec = "3"}, .want = NULL, .unknown = true},
	};
	for (size_t i = 0; i < SP_N_ELEMENTS(cases); i++) {
		struct fetched f = {0};
		SP_CHECK_INT(tmbox_fetch(&t, inbox, uid, 0, &cases[i].req, 1, &f), 0);
		size_t wl = cases[i].want_len ? cases[i].want_len
		            : cases[i].want   ? strlen(cases[i].want)
		                              : 0;
		if (cases[i].unknown) {
			SP_CHECK(f.sec_unknown[0]);
		} else if (cases[i].want == NULL) {
			SP_CHECK(f.sec_nil[0]);
		} else if (cases[i].req.type == STORE_SECTION_BINARY_SIZE) {
			SP_CHECK_INT(f.sec_size[0], cases[i].size);
		} else {
			SP_CHECK_INT(f.sec[0].len, wl);
			SP_CHECK(f.sec[0].len == wl &&
			         memcmp(f.sec[0].data, cases[i].want, wl) == 0);
		}
		fetched_deinit(&f);
	}
	/* a bad section spec is refused before anything is returned */
	struct store_section_req bad = {.type = STORE_SECTION_BODY, .spec = "1.BOGUS"};
	struct fetched f = {0};
	SP_CHECK_INT(tmbox_fetch(&t, inbox, uid, 0, &bad, 1, &f), -1);
	SP_CHECK_INT(store_last_error(t.s), STORE_ERR_BAD_ARG);
	SP_CHECK_INT(f.count, 0);
	fetched_deinit(&f);
	tmbox_close(&t);
}

/* Bare LF: export gives the original, IMAP the CRLF form and its size. */
static void test_bare_lf(void)
{
	struct tmbox t;
	tmbox_open(&t);
	static const char lf[] = "From: a@example.org\nSubject: lf\n\nline one\nline two\n";
	static const char crlf[] =
	    "From: a@example.org\r\nSubject: lf\r\n\r\nline one\r\nline two\r\n";
	uint32_t uid = tmbox_add(&t, "INBOX", lf, 0, 1795176000, 120);
	struct store_section_req secs[2] = {{.type = STORE_SECTION_BODY, .spec = ""},
	                                    {.type = STORE_SECTION_BODY, .spec = "TEXT"}};
	struct fetched f = {0};
	SP_CHECK_INT(tmbox_fetch(&t, tmbox_folder(&t, "INBOX"), uid,
	                         STORE_FETCH_ORIGINAL | STORE_FETCH_SIZE, secs, 2, &f),
	             0);
	SP_CHECK_STR(sp_buf_cstr(&f.original), lf);
	SP_CHECK_STR(sp_buf_cstr(&f.sec[0]), crlf);
	SP_CHECK_STR(sp_buf_cstr(&f.sec[1]), "line one\r\nline two\r\n");
	SP_CHECK_INT(f.m.size, strlen(crlf));
	/* INTERNALDATE keeps the instant and the zone it was given in;
	 * SAVEDATE is when it was stored */
	SP_CHECK_INT(f.m.internaldate, 1795176000);
	SP_CHECK_INT(f.m.internaldate_offset, 120);
	SP_CHECK(f.m.savedate <= time(NULL) && f.m.savedate >= time(NULL) - 60);
	fetched_deinit(&f);
	tmbox_close(&t);
}

/* BINARY of a "binary" part is its bytes as stored even when the message
 * has bare line ends (served as CRLF): NUL, LF and CR are data (RFC 3516
 * §4.2). Other parts, and BODY[], keep the CRLF form. */
static void test_binary_cte_bare_lf(void)
{
	struct tmbox t;
	tmbox_open(&t);
	static const char single[] = "From: a@example.org\r\n"
	                             "Content-Type: application/octet-stream\r\n"
	                             "Content-Transfer-Encoding: binary\r\n"
	                             "\r\n"
	                             "\0-\xe4\n\r\n\n";
	static const char multi[] = "From: a@example.org\n"
	                            "Content-Type: multipart/mixed; boundary=b\n"
	                            "\n"
	                            "--b\n"
	                            "Content-Type: text/plain\n"
	                            "\n"
	                            "one\ntwo\n"
	                            "--b\n"
	                            "Content-Transfer-Encoding: binary\n"
	                            "\n"
	                            "\x01\r\0\n\n"
	                            "\n--b--\n";
	static const struct {
		const char *msg;
		size_t len;
		const char *spec, *want;
		size_t want_len;
	} cases[] = {
	    {single, sizeof(single) - 1, "1", "\0-\xe4\n\r\n\n", 7},
	    {multi, sizeof(multi) - 1, "2", "\x01\r\0\n\n", 5},
	    {multi, sizeof(multi) - 1, "1", "one\r\ntwo", 8},
	};
	int64_t inbox = tmbox_folder(&t, "INBOX");
	for (size_t i = 0; i < SP_N_ELEMENTS(cases); i++) {
		struct store_append_msg m = {.data = (const uint8_t *)cases[i].msg,
		                             .len = cases[i].len,
		                             .internaldate = 1795176000};
		uint32_t uidv, uid = 0;
		const char *err;
		SP_CHECK_INT(store_append(t.s, "INBOX", &m, 1, &uidv, &uid, &err), 0);
		struct store_section_req secs[3] = {
		    {.type = STORE_SECTION_BINARY, .spec = cases[i].spec},
		    {.type = STORE_SECTION_BINARY_SIZE, .spec = cases[i].spec},
		    {.type = STORE_SECTION_BINARY,
		     .spec = cases[i].spec,
		     .partial = true,
		     .offset = 1,
		     .count = 3},
		};
		struct fetched f = {0};
		SP_CHECK_INT(tmbox_fetch(&t, inbox, uid, 0, secs, 3, &f), 0);
		SP_CHECK_INT(f.sec[0].len, cases[i].want_len);
		SP_CHECK(f.sec[0].len == cases[i].want_len &&
		         memcmp(f.sec[0].data, cases[i].want, cases[i].want_len) == 0);
		SP_CHECK_INT(f.sec_size[1], cases[i].want_len);
		SP_CHECK_INT(f.sec[2].len, 3);
		SP_CHECK(f.sec[2].len == 3 && memcmp(f.sec[2].data, cases[i].want + 1, 3) == 0);
		fetched_deinit(&f);
	}
	tmbox_close(&t);
}

/* The same 5 MiB attachment in 100 messages is stored about once;
 * deleting 99 keeps the last readable, deleting all frees the blob. */
static void test_dedup(void)
{
	struct tmbox t;
	tmbox_open(&t);
	size_t raw_len = 5u << 20;
	uint8_t *raw = sp_malloc(raw_len);
	randombytes_buf(raw, raw_len); /* incompressible */
	struct sp_buf b64 = SP_BUF_INIT, msg = SP_BUF_INIT;
	sp_base64_encode(raw, raw_len, &b64);
	free(raw);
	const char *err;
	struct store_usage u0, u1;
	SP_CHECK_INT(store_usage(t.s, &u0, &err), 0);
	uint32_t last = 0;
	int64_t inbox = tmbox_folder(&t, "INBOX");
	for (int i = 0; i < 100; i++) {
		sp_buf_reset(&msg);
		sp_buf_printf(&msg,
		              "From: a@example.org\r\nSubject: report %d\r\nMIME-Version: 1.0\r\n"
		              "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
		              "--b\r\nContent-Type: text/plain\r\n\r\nmessage %d\r\n"
		              "--b\r\nContent-Type: application/pdf\r\n"
		              "Content-Transfer-Encoding: base64\r\n\r\n",
		              i, i);
		for (size_t off = 0; off < b64.len; off += 76) {
			sp_buf_append(&msg, b64.data + off, SP_MIN((size_t)76, b64.len - off));
			sp_buf_append(&msg, "\r\n", 2);
		}
		sp_buf_append_str(&msg, "--b--\r\n");
		struct store_append_msg m = {
		    .data = msg.data, .len = msg.len, .flags = i < 99 ? STORE_FLAG_DELETED : 0};
		uint32_t uidv;
		SP_CHECK_INT(store_append(t.s, "INBOX", &m, 1, &uidv, &last, &err), 0);
	}
	SP_CHECK_INT(store_usage(t.s, &u1, &err), 0);
	uint64_t growth = u1.file_bytes - u0.file_bytes;
	printf("dedup: 100 x %zu bytes -> file grew %llu bytes\n", msg.len,
	       (unsigned long long)growth);
	SP_CHECK(u1.message_bytes >= 100ull * (msg.len - 4));
	SP_CHECK(growth < msg.len + msg.len / 4); /* about one copy, not 100 */
	SP_CHECK_INT(store_debug_blob_count(t.s), 1);

	struct sp_arena *a = sp_arena_new(4096);
	uint32_t *gone;
	size_t n;
	SP_CHECK_INT(store_expunge(t.s, inbox, NULL, a, &gone, &n, &err), 0);
	SP_CHECK_INT(n, 99);
	SP_CHECK_INT(store_debug_blob_count(t.s), 1);
	struct fetched f = {0};
	SP_CHECK_INT(tmbox_fetch(&t, inbox, last, STORE_FETCH_ORIGINAL, NULL, 0, &f), 0);
	SP_CHECK(f.original.len == msg.len && memcmp(f.original.data, msg.data, msg.len) == 0);
	fetched_deinit(&f);

	struct store_flags_req fr = {.uids = {&(struct store_uid_range){1, UINT32_MAX}, 1},
	                             .op = STORE_FLAGS_ADD,
	                             .flags = STORE_FLAG_DELETED};
	struct store_flags_result res;
	SP_CHECK_INT(store_flags_update(t.s, inbox, &fr, a, &res, &err), 0);
	SP_CHECK_INT(store_expunge(t.s, inbox, NULL, a, &gone, &n, &err), 0);
	SP_CHECK_INT(n, 1);
	SP_CHECK_INT(store_debug_blob_count(t.s), 0);
	sp_arena_free(&a);
	sp_buf_deinit(&b64);
	sp_buf_deinit(&msg);
	tmbox_close(&t);
}

/* Large parts of messages with bare LF or bare CR line ends are cut at the
 * right original offsets: the bytes come back exact and the part is
 * shared with the CRLF copy of the same attachment only when its bytes
 * are the same. */
static void test_dedup_line_ends(void)
{
	struct tmbox t;
	tmbox_open(&t);
	int64_t inbox = tmbox_folder(&t, "INBOX");
	static const char *const eols[] = {"\n", "\r", "\r\n", "\n"};
	struct sp_buf msgs[4];
	for (size_t k = 0; k < SP_N_ELEMENTS(eols); k++) {
		const char *eol = eols[k];
		struct sp_buf *m = &msgs[k];
		sp_buf_init(m);
		sp_buf_printf(m,
		              "From: a@example.org%sSubject: eol %zu%sMIME-Version: 1.0%s"
		              "Content-Type: multipart/mixed; boundary=zz%s%s--zz%s"
		              "Content-Type: application/octet-stream%s%s",
		              eol, k, eol, eol, eol, eol, eol, eol, eol);
		for (int i = 0; i < 2000; i++)
			sp_buf_printf(m, "line %04d of a large attachment body%s", i, eol);
		sp_buf_printf(m, "--zz--%s", eol);
		struct store_append_msg am = {.data = m->data, .len = m->len};
		uint32_t uidv, uid;
		const char *err;
		SP_CHECK_INT(store_append(t.s, "INBOX", &am, 1, &uidv, &uid, &err), 0);
		struct fetched f = {0};
		SP_CHECK_INT(tmbox_fetch(&t, inbox, uid, STORE_FETCH_ORIGINAL, NULL, 0, &f), 0);
		SP_CHECK(f.original.len == m->len && memcmp(f.original.data, m->data, m->len) == 0);
		fetched_deinit(&f);
	}
	/* LF, CR, CRLF bodies differ; the second LF one is shared */
	SP_CHECK_INT(store_debug_blob_count(t.s), 3);
	for (size_t k = 0; k < SP_N_ELEMENTS(eols); k++)
		sp_buf_deinit(&msgs[k]);
	tmbox_close(&t);
}

struct notes {
	int calls;
	int64_t folder;
	uint64_t modseq;
};

static void on_notify(void *ctx, const char *mailbox_id, int64_t folder_id, uint64_t m)
{
	struct notes *n = ctx;
	n->calls++;
	n->folder = folder_id;
	n->modseq = m;
	(void)mailbox_id;
}

static void test_flags_copy_expunge(void)
{
	struct tmbox t;
	tmbox_open(&t);
	struct notes notes = {0};
	store_set_notifier(on_notify, &notes);
	int64_t inbox = tmbox_folder(&t, "INBOX");
	for (int i = 0; i < 5; i++)
		SP_CHECK_INT(tmbox_add(&t, "INBOX", simple_msg, 0, 0, 0), i + 1);
	SP_CHECK_INT(notes.calls, 5);
	SP_CHECK_INT(notes.folder, inbox);
	struct sp_arena *a = sp_arena_new(4096);
	const char *err;
	struct store_folder fo;
	SP_CHECK_INT(store_folder_get(t.s, "INBOX", a, &fo, &err), 1);
	SP_CHECK_INT(notes.modseq, fo.highestmodseq);
	uint64_t base = fo.highestmodseq;

	const char *kw[] = {"Urgent"};
	struct store_uid_range r13 = {1, 3};
	static const struct {
		enum store_flag_op op;
		unsigned flags;
		size_t n_kw;
		uint64_t unchangedsince;
		size_t n_changed, n_failed;
		unsigned want_flags; /* of UID 1 afterwards */
	} steps[] = {
	    {.op = STORE_FLAGS_ADD,
	     .flags = STORE_FLAG_SEEN,
	     .n_changed = 3,
	     .want_flags = STORE_FLAG_SEEN},
	    /* no change: no new MODSEQ */
	    {.op = STORE_FLAGS_ADD,
	     .flags = STORE_FLAG_SEEN,
	     .n_changed = 0,
	     .want_flags = STORE_FLAG_SEEN},
	    {.op = STORE_FLAGS_ADD, .n_kw = 1, .n_changed = 3, .want_flags = STORE_FLAG_SEEN},
	    {.op = STORE_FLAGS_REPLACE,
	     .flags = STORE_FLAG_FLAGGED,
	     .n_changed = 3,
	     .want_flags = STORE_FLAG_FLAGGED},
	    {.op = STORE_FLAGS_REMOVE,
	     .flags = STORE_FLAG_FLAGGED,
	     .n_changed = 3,
	     .want_flags = 0},
	    /* UNCHANGEDSINCE older than every message's MODSEQ: all fail */
	    {.op = STORE_FLAGS_ADD,
	     .flags = STORE_FLAG_DELETED,
	     .unchangedsince = 1,
	     .n_failed = 3,
	     .want_flags = 0},
	    /* UNCHANGEDSINCE far ahead: applies */
	    {.op = STORE_FLAGS_ADD,
	     .flags = STORE_FLAG_DRAFT,
	     .unchangedsince = 1000000,
	     .n_changed = 3,
	     .want_flags = STORE_FLAG_DRAFT},
	    {.op = STORE_FLAGS_REMOVE, .flags = STORE_FLAG_DRAFT, .n_changed = 3, .want_flags = 0},
	};
	uint64_t last = base;
	for (size_t i = 0; i < SP_N_ELEMENTS(steps); i++) {
		struct store_flags_req req = {.uids = {&r13, 1},
		                              .op = steps[i].op,
		                              .flags = steps[i].flags,
		                              .keywords = kw,
		                              .n_keywords = steps[i].n_kw,
		                              .has_unchangedsince = steps[i].unchangedsince != 0,
		                              .unchangedsince = steps[i].unchangedsince};
		struct store_flags_result res;
		SP_CHECK_INT(store_flags_update(t.s, inbox, &req, a, &res, &err), 0);
		SP_CHECK_INT(res.n_changed, steps[i].n_changed);
		SP_CHECK_INT(res.n_failed, steps[i].n_failed);
		for (size_t k = 0; k < res.n_changed; k++) {
			SP_CHECK(res.changed[k].modseq > last);
			last = res.changed[k].modseq;
		}
		SP_CHECK_INT(res.highestmodseq, last);
		struct fetched f = {0};
		SP_CHECK_INT(
		    tmbox_fetch(&t, inbox, 1, STORE_FETCH_FLAGS | STORE_FETCH_MODSEQ, NULL, 0, &f),
		    0);
		SP_CHECK_INT(f.m.flags, steps[i].want_flags);
		fetched_deinit(&f);
	}
	/* the keyword is still there after REPLACE without keywords? no:
	 * REPLACE with n_kw 0 removed it */
	struct fetched f = {0};
	SP_CHECK_INT(tmbox_fetch(&t, inbox, 1, STORE_FETCH_FLAGS, NULL, 0, &f), 0);
	SP_CHECK_INT(f.n_kw, 0);
	fetched_deinit(&f);

	/* copy keeps flags and EMAILID, new UIDs in the target */
	struct store_flags_req seen = {.uids = {&r13, 1},
	                               .op = STORE_FLAGS_ADD,
	                               .flags = STORE_FLAG_SEEN,
	                               .keywords = kw,
	                               .n_keywords = 1};
	struct store_flags_result res;
	SP_CHECK_INT(store_flags_update(t.s, inbox, &seen, a, &res, &err), 0);
	struct store_copy_result cr;
	SP_CHECK_INT(
	    store_copy(t.s, inbox, &(struct store_uidset){&r13, 1}, "Archive", false, a, &cr, &err),
	    0);
	SP_CHECK_INT(cr.n, 3);
	SP_CHECK_INT(cr.src_uids[0], 1);
	SP_CHECK_INT(cr.dst_uids[0], 1);
	SP_CHECK_INT(cr.dst_uids[2], 3);
	int64_t archive = tmbox_folder(&t, "Archive");
	struct fetched g = {0};
	SP_CHECK_INT(tmbox_fetch(&t, inbox, 2, STORE_FETCH_OBJECTID, NULL, 0, &f), 0);
	SP_CHECK_INT(
	    tmbox_fetch(&t, archive, 2, STORE_FETCH_OBJECTID | STORE_FETCH_FLAGS, NULL, 0, &g), 0);
	SP_CHECK_INT(g.m.flags, STORE_FLAG_SEEN);
	SP_CHECK_INT(g.n_kw, 1);
	fetched_deinit(&f);
	fetched_deinit(&g);

	/* move: sources vanish and are logged */
	struct store_folder before;
	SP_CHECK_INT(store_folder_get(t.s, "INBOX", a, &before, &err), 1);
	struct store_uid_range r45 = {4, 5};
	SP_CHECK_INT(
	    store_copy(t.s, inbox, &(struct store_uidset){&r45, 1}, "Trash", true, a, &cr, &err),
	    0);
	SP_CHECK_INT(cr.n, 2);
	struct store_changes ch;
	SP_CHECK_INT(store_changes_since(t.s, inbox, before.highestmodseq, a, &ch, &err), 0);
	SP_CHECK_INT(ch.n_expunged, 2);
	SP_CHECK_INT(ch.n_changed, 0);
	if (ch.n_expunged == 2) {
		SP_CHECK_INT(ch.expunged[0], 4);
		SP_CHECK_INT(ch.expunged[1], 5);
	}

	/* expunge only \Deleted ones, UID EXPUNGE limits to the set */
	struct store_flags_req del = {
	    .uids = {&r13, 1}, .op = STORE_FLAGS_ADD, .flags = STORE_FLAG_DELETED};
	SP_CHECK_INT(store_flags_update(t.s, inbox, &del, a, &res, &err), 0);
	struct store_uid_range r2 = {2, 2};
	uint32_t *gone;
	size_t n;
	SP_CHECK_INT(store_expunge(t.s, inbox, &(struct store_uidset){&r2, 1}, a, &gone, &n, &err),
	             0);
	SP_CHECK_INT(n, 1);
	SP_CHECK_INT(store_expunge(t.s, inbox, NULL, a, &gone, &n, &err), 0);
	SP_CHECK_INT(n, 2);
	uint32_t *uids;
	SP_CHECK_INT(store_uids(t.s, inbox, a, &uids, &n, &err), 0);
	SP_CHECK_INT(n, 0);
	/* the archive copies still read (content shared) */
	struct fetched h = {0};
	SP_CHECK_INT(tmbox_fetch(&t, archive, 3, STORE_FETCH_ORIGINAL, NULL, 0, &h), 0);
	SP_CHECK_STR(sp_buf_cstr(&h.original), simple_msg);
	fetched_deinit(&h);
	/* changes since the start: all 5 UIDs vanished, none changed */
	SP_CHECK_INT(store_changes_since(t.s, inbox, base, a, &ch, &err), 0);
	SP_CHECK_INT(ch.n_expunged, 5);
	SP_CHECK_INT(ch.uidnext, 6);
	/* deleting a folder is notified with HIGHESTMODSEQ 0 */
	int64_t trash = tmbox_folder(&t, "Trash");
	SP_CHECK_INT(store_folder_delete(t.s, "Trash", &err), 0);
	SP_CHECK_INT(notes.folder, trash);
	SP_CHECK_INT(notes.modseq, 0);
	store_set_notifier(NULL, NULL);
	sp_arena_free(&a);
	tmbox_close(&t);
}

int main(void)
{
	SP_CHECK_INT(keys_init(), 0);
	SP_TEST_RUN(test_open_and_defaults);
	SP_TEST_RUN(test_folder_ops);
	SP_TEST_RUN(test_multiappend_atomic);
	SP_TEST_RUN(test_sections);
	SP_TEST_RUN(test_bare_lf);
	SP_TEST_RUN(test_binary_cte_bare_lf);
	SP_TEST_RUN(test_flags_copy_expunge);
	SP_TEST_RUN(test_corpus_roundtrip);
	SP_TEST_RUN(test_dedup);
	SP_TEST_RUN(test_dedup_line_ends);
	return sp_test_finish();
}
