/* The store benchmark of issue 4 (not a test). Builds a mailbox of N
 * messages (default 100,000) from templates: 90 % are the messages of
 * SP_CORPUS (real-world mail of every shape and size) under new From, To,
 * Subject, Date and Message-ID headers, 10 % are multipart/mixed with an
 * attachment drawn from 50 distinct ones of 10 KiB to 500 KiB (so dedup has
 * work to do). Appends them in MULTIAPPEND batches of 500, then reports the
 * append rate, file size against raw bytes, and medians of 9 runs of
 * SEARCH TEXT of a rare word, SEARCH FROM, SEARCH UNSEEN, FETCH of 1,000
 * ENVELOPEs, and the time to open the file. The same content is built
 * twice, with encryption on and off (the same build, the cipher skipped),
 * and the two are printed side by side.
 * Usage: bench_store [N] [on|off|both]; SP_CORPUS (a directory of .eml
 * files; without it every message is generated text), TMPDIR for files. */
#include "store/store_file.h"
#include "store/store_private.h"
#include "lib/sp_str.h"

#include <dirent.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define BATCH 500
#define N_ATT 50
#define REPEAT 9

static const char *const words[] = {"meeting",  "invoice", "report", "lunch",  "project",
                                    "deadline", "review",  "budget", "travel", "update"};

/* A corpus message split for reuse: the headers that describe its MIME
 * structure (the addressing ones are dropped) and its body. */
struct template
{
	struct sp_buf mime_headers;
	const uint8_t *body;
	size_t body_len;
	const char *eol;
	struct sp_buf file;
};

struct templates {
	struct template *t;
	size_t n;
	struct sp_buf att[N_ATT];
};

static bool is_dropped(const char *line, size_t len)
{
	static const char *const drop[] = {
	    "from:",       "to:",          "cc:",         "bcc:",
	    "subject:",    "date:",        "message-id:", "in-reply-to:",
	    "references:", "return-path:", "received:",   "delivered-to:"};
	for (size_t i = 0; i < SP_N_ELEMENTS(drop); i++) {
		size_t l = strlen(drop[i]);
		if (len >= l && strncasecmp(line, drop[i], l) == 0)
			return true;
	}
	return false;
}

static void template_init(struct template *t)
{
	const uint8_t *p = t->file.data, *end = p + t->file.len;
	t->eol = memchr(p, '\r', t->file.len) != NULL ? "\r\n" : "\n";
	sp_buf_init(&t->mime_headers);
	bool keep = false;
	while (p < end) {
		const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl != NULL ? (size_t)(nl - p) + 1 : (size_t)(end - p);
		bool blank = len == 1 || (len == 2 && p[0] == '\r');
		if (blank) {
			p += len;
			break;
		}
		if (p[0] != ' ' && p[0] != '\t')
			keep = !is_dropped((const char *)p, len);
		if (keep)
			sp_buf_append(&t->mime_headers, p, len);
		p += len;
	}
	t->body = p;
	t->body_len = (size_t)(end - p);
}

static void templates_load(struct templates *ts, const char *dir)
{
	memset(ts, 0, sizeof(*ts));
	DIR *d = dir != NULL ? opendir(dir) : NULL;
	struct dirent *e;
	size_t cap = 0;
	while (d != NULL && (e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);
		if (l < 5 || strcmp(e->d_name + l - 4, ".eml") != 0)
			continue;
		char path[1024];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		FILE *f = fopen(path, "rb");
		if (f == NULL)
			continue;
		if (ts->n == cap) {
			cap = cap ? cap * 2 : 64;
			ts->t = sp_realloc(ts->t, cap * sizeof(*ts->t));
		}
		struct template *t = &ts->t[ts->n++];
		memset(t, 0, sizeof(*t));
		sp_buf_init(&t->file);
		uint8_t chunk[65536];
		size_t got;
		while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
			sp_buf_append(&t->file, chunk, got);
		fclose(f);
		template_init(t);
	}
	if (d != NULL)
		closedir(d);
	/* Attachments of 10 KiB to 500 KiB, spread on a log scale. */
	for (int i = 0; i < N_ATT; i++) {
		size_t size = (size_t)(10240.0 * pow(50.0, (double)i / (N_ATT - 1)));
		uint8_t *raw = sp_malloc(size);
		uint8_t seed[randombytes_SEEDBYTES] = {(uint8_t)i};
		randombytes_buf_deterministic(raw, size, seed);
		struct sp_buf b = SP_BUF_INIT;
		sp_base64_encode(raw, size, &b);
		free(raw);
		sp_buf_init(&ts->att[i]);
		for (size_t o = 0; o < b.len; o += 76) {
			sp_buf_append(&ts->att[i], b.data + o, SP_MIN((size_t)76, b.len - o));
			sp_buf_append(&ts->att[i], "\r\n", 2);
		}
		sp_buf_deinit(&b);
	}
}

/* Message i of a run of n: the same bytes for the same (i, n). */
static void message_build(const struct templates *ts, uint64_t i, uint64_t n, struct sp_buf *m)
{
	bool with_att = i % 10 == 5, synthetic = ts->n == 0 || with_att || i == n / 2;
	const struct template *t = synthetic ? NULL : &ts->t[(i * 7919) % ts->n];
	const char *eol = t != NULL ? t->eol : "\r\n";
	/* Dates over about a year, in a few offsets. */
	time_t when = 1764000000 - (time_t)((n - i) * 317);
	struct tm tm;
	gmtime_r(&when, &tm);
	char date[64];
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	sp_buf_printf(m,
	              "From: User %llu <user%llu@example.org>%sTo: me@example.com%s"
	              "Subject: %s %s %llu%sDate: %s%sMessage-ID: <%llu.bench@example.org>%s",
	              (unsigned long long)(i % 500), (unsigned long long)(i % 500), eol, eol,
	              words[i % 10], words[(i / 10) % 10], (unsigned long long)i, eol, date, eol,
	              (unsigned long long)i, eol);
	if (t != NULL) {
		sp_buf_append(m, t->mime_headers.data, t->mime_headers.len);
		sp_buf_append_str(m, eol);
		sp_buf_append(m, t->body, t->body_len);
		return;
	}
	sp_buf_append_str(m, "MIME-Version: 1.0\r\n");
	if (with_att)
		sp_buf_append_str(m, "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
		                     "--b\r\nContent-Type: text/plain\r\n\r\n");
	else
		sp_buf_append_str(m, "Content-Type: text/plain\r\n\r\n");
	for (int l = 0; l < 20; l++)
		sp_buf_printf(m, "Line %d about the %s and the %s, number %llu.\r\n", l,
		              words[(i + (uint64_t)l) % 10], words[(i * 7 + (uint64_t)l) % 10],
		              (unsigned long long)(i * 31 + (uint64_t)l));
	if (i == n / 2)
		sp_buf_append_str(m, "The rare word is xylophonist.\r\n");
	if (with_att) {
		const struct sp_buf *att = &ts->att[(i / 10) % N_ATT];
		sp_buf_append_str(m, "--b\r\nContent-Type: application/pdf\r\n"
		                     "Content-Transfer-Encoding: base64\r\n\r\n");
		sp_buf_append(m, att->data, att->len);
		sp_buf_append_str(m, "--b--\r\n");
	}
}

static int count_cb(void *ctx, const struct store_message *m)
{
	size_t *n = ctx;
	*n += strlen(m->envelope);
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return v[n / 2];
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

enum { R_APPEND_RATE, R_RAW, R_FILE, R_TEXT, R_FROM, R_UNSEEN, R_ENVELOPES, R_OPEN, R_COUNT };

static const char *const result_names[R_COUNT] = {
    "append, messages/s",        "raw message bytes, MiB",
    "mailbox file, MiB",         "SEARCH TEXT rare word, ms",
    "SEARCH FROM, ms",           "SEARCH UNSEEN, ms",
    "FETCH 1,000 ENVELOPEs, ms", "open + INBOX row + close, ms"};

static void remove_db(const char *path)
{
	char p2[600];
	unlink(path);
	snprintf(p2, sizeof(p2), "%s-wal", path);
	unlink(p2);
	snprintf(p2, sizeof(p2), "%s-shm", path);
	unlink(p2);
}

static int run(const struct templates *ts, uint64_t n_msgs, bool encrypted, double *r)
{
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char path[512];
	snprintf(path, sizeof(path), "%s/sp-bench-%d-%s.sqlite", tmp, (int)getpid(),
	         encrypted ? "on" : "off");
	struct keys_secret *dek = keys_secret_random(KEYS_KEY_LEN);
	struct store_session *s;
	const char *err;
	if (store_session_open(path, "bench", dek, true, &s, &err) < 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	uint64_t raw_bytes = 0;
	double t_append = 0;
	struct store_append_msg batch[BATCH];
	struct sp_buf texts[BATCH];
	for (size_t k = 0; k < BATCH; k++)
		sp_buf_init(&texts[k]);
	for (uint64_t done = 0; done < n_msgs;) {
		size_t k = 0;
		for (; k < BATCH && done + k < n_msgs; k++) {
			uint64_t i = done + k;
			sp_buf_reset(&texts[k]);
			message_build(ts, i, n_msgs, &texts[k]);
			raw_bytes += texts[k].len;
			batch[k] = (struct store_append_msg){.data = texts[k].data,
			                                     .len = texts[k].len,
			                                     .flags = i % 3 ? STORE_FLAG_SEEN : 0};
		}
		uint32_t uidv, uids[BATCH];
		double t0 = now_ms();
		if (store_append(s, "INBOX", batch, k, &uidv, uids, &err) < 0) {
			fprintf(stderr, "append: %s\n", err);
			return -1;
		}
		t_append += now_ms() - t0;
		done += k;
		if (isatty(2))
			fprintf(stderr, "\r%s: %llu/%llu", encrypted ? "encrypted" : "plaintext",
			        (unsigned long long)done, (unsigned long long)n_msgs);
	}
	if (isatty(2))
		fprintf(stderr, "\n");
	for (size_t k = 0; k < BATCH; k++)
		sp_buf_deinit(&texts[k]);
	/* The file as a backup would copy it: WAL folded in. */
	store_exec(s, "PRAGMA wal_checkpoint(TRUNCATE)", &err);
	struct store_usage u;
	store_usage(s, &u, &err);
	r[R_APPEND_RATE] = (double)n_msgs * 1000.0 / t_append;
	r[R_RAW] = (double)raw_bytes / 1048576.0;
	r[R_FILE] = (double)u.file_bytes / 1048576.0;
	int64_t inbox;
	store_folder_id(s, "INBOX", &inbox, NULL, &err);
	struct sp_arena *a = sp_arena_new(1 << 20);
	const struct store_query qs[] = {
	    {.type = STORE_Q_TEXT, .str = "xylophonist"},
	    {.type = STORE_Q_FROM, .str = "user42@"},
	    {.type = STORE_Q_FLAGS_UNSET, .flags = STORE_FLAG_SEEN},
	};
	for (size_t q = 0; q < SP_N_ELEMENTS(qs); q++) {
		double t[REPEAT];
		size_t n = 0;
		for (int rep = 0; rep < REPEAT; rep++) {
			uint32_t *uids;
			double t1 = now_ms();
			if (store_search(s, inbox, &qs[q], a, &uids, &n, &err) < 0) {
				fprintf(stderr, "search: %s\n", err);
				return -1;
			}
			t[rep] = now_ms() - t1;
			sp_arena_reset(a);
		}
		r[R_TEXT + q] = median(t, REPEAT);
		fprintf(stderr, "%s: %zu hits\n", result_names[R_TEXT + q], n);
	}
	double t[REPEAT];
	for (int rep = 0; rep < REPEAT; rep++) {
		uint32_t first = (uint32_t)(n_msgs / 3) + 1;
		struct store_uid_range rg = {first, first + 999};
		struct store_fetch_req req = {.uids = {&rg, 1}, .items = STORE_FETCH_ENVELOPE};
		size_t bytes = 0;
		double t1 = now_ms();
		store_fetch(s, inbox, &req, count_cb, &bytes, &err);
		t[rep] = now_ms() - t1;
	}
	r[R_ENVELOPES] = median(t, REPEAT);
	sp_arena_free(&a);
	store_session_close(&s);
	/* What a session pays after a cached login: open with the raw key (no
	 * KDF), read INBOX's row, close. */
	double o[31];
	for (int rep = 0; rep < 31; rep++) {
		double t1 = now_ms();
		struct store_session *os;
		if (store_session_open(path, "bench", dek, false, &os, &err) < 0) {
			fprintf(stderr, "%s\n", err);
			return -1;
		}
		struct sp_arena *oa = sp_arena_new(1024);
		struct store_folder f;
		store_folder_get(os, "INBOX", oa, &f, &err);
		sp_arena_free(&oa);
		store_session_close(&os);
		o[rep] = now_ms() - t1;
	}
	r[R_OPEN] = median(o, 31);
	keys_secret_free(&dek);
	remove_db(path);
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t n_msgs = 100000;
	if (argc > 1 && sp_parse_u64(argv[1], 10000000, &n_msgs) < 0)
		return 2;
	const char *mode = argc > 2 ? argv[2] : "both";
	bool on = strcmp(mode, "off") != 0, off = strcmp(mode, "on") != 0;
	keys_init();
	struct templates ts;
	templates_load(&ts, getenv("SP_CORPUS"));
	fprintf(stderr, "%zu corpus templates, %llu messages\n", ts.n, (unsigned long long)n_msgs);
	double r_on[R_COUNT] = {0}, r_off[R_COUNT] = {0};
	if (on && run(&ts, n_msgs, true, r_on) < 0)
		return 1;
	if (off) {
		store_file_plaintext_for_benchmark();
		if (run(&ts, n_msgs, false, r_off) < 0)
			return 1;
	}
	printf(
	    "| %llu messages | encrypted | plaintext | cost of encryption |\n|---|---|---|---|\n",
	    (unsigned long long)n_msgs);
	for (int i = 0; i < R_COUNT; i++) {
		/* For the rate a cost is the loss of rate; for times, the gain. */
		double cost = i == R_APPEND_RATE ? (r_off[i] / r_on[i] - 1) * 100
		                                 : (r_on[i] / r_off[i] - 1) * 100;
		printf("| %s | %.2f | %.2f | %+.0f %% |\n", result_names[i], r_on[i], r_off[i],
		       on && off && i != R_RAW ? cost : 0.0);
	}
	for (size_t i = 0; i < ts.n; i++) {
		sp_buf_deinit(&ts.t[i].file);
		sp_buf_deinit(&ts.t[i].mime_headers);
	}
	free(ts.t);
	for (int i = 0; i < N_ATT; i++)
		sp_buf_deinit(&ts.att[i]);
	return 0;
}
