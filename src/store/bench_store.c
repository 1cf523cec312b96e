/* A rough store benchmark (not a test): appends N generated messages
 * (MULTIAPPEND batches of 500, 10% with a 200 KiB attachment drawn from 20
 * distinct ones), then reports medians of SEARCH TEXT of a rare word,
 * SEARCH FROM, SEARCH UNSEEN, FETCH of 1,000 ENVELOPEs, and the time to
 * open the file with its raw key.
 * Usage: bench_store [N] (default 20000), TMPDIR for the file. */
#include "store/store_private.h"
#include "lib/sp_str.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int count_cb(void *ctx, const struct store_message *m)
{
	size_t *n = ctx;
	*n += strlen(m->envelope);
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static uint64_t median(uint64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	return v[n / 2];
}

int main(int argc, char **argv)
{
	uint64_t n_msgs = 20000;
	if (argc > 1 && sp_parse_u64(argv[1], 10000000, &n_msgs) < 0)
		return 2;
	keys_init();
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char path[512];
	snprintf(path, sizeof(path), "%s/sp-bench-%d.sqlite", tmp, (int)getpid());
	struct keys_secret *dek = keys_secret_random(KEYS_KEY_LEN);
	struct store_session *s;
	const char *err;
	if (store_session_open(path, "bench", dek, true, &s, &err) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	static const char *const words[] = {"meeting",  "invoice", "report", "lunch",  "project",
	                                    "deadline", "review",  "budget", "travel", "update"};
	struct sp_buf att[20];
	for (int i = 0; i < 20; i++) {
		uint8_t raw[150000];
		randombytes_buf(raw, sizeof(raw));
		sp_buf_init(&att[i]);
		struct sp_buf b = SP_BUF_INIT;
		sp_base64_encode(raw, sizeof(raw), &b);
		for (size_t o = 0; o < b.len; o += 76) {
			sp_buf_append(&att[i], b.data + o, SP_MIN((size_t)76, b.len - o));
			sp_buf_append(&att[i], "\r\n", 2);
		}
		sp_buf_deinit(&b);
	}
	uint64_t raw_bytes = 0, t0 = sp_now_ms();
	struct store_append_msg batch[500];
	char *texts[500];
	for (uint64_t done = 0; done < n_msgs;) {
		size_t k = 0;
		for (; k < 500 && done + k < n_msgs; k++) {
			uint64_t i = done + k;
			struct sp_buf m = SP_BUF_INIT;
			sp_buf_printf(
			    &m,
			    "From: User %llu <user%llu@example.org>\r\nTo: me@example.com\r\n"
			    "Subject: %s %s %llu\r\nDate: Tue, 24 Nov 2026 10:00:00 +0000\r\n"
			    "Message-ID: <%llu@example.org>\r\nMIME-Version: 1.0\r\n",
			    (unsigned long long)(i % 500), (unsigned long long)(i % 500),
			    words[i % 10], words[(i / 10) % 10], (unsigned long long)i,
			    (unsigned long long)i);
			bool with_att = i % 10 == 0;
			if (with_att)
				sp_buf_append_str(
				    &m, "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
				        "--b\r\nContent-Type: text/plain\r\n\r\n");
			else
				sp_buf_append_str(&m, "Content-Type: text/plain\r\n\r\n");
			for (int l = 0; l < 20; l++)
				sp_buf_printf(&m,
				              "Line %d about the %s and the %s, number %llu.\r\n",
				              l, words[(i + (uint64_t)l) % 10],
				              words[(i * 7 + (uint64_t)l) % 10],
				              (unsigned long long)(i * 31 + (uint64_t)l));
			if (i == n_msgs / 2)
				sp_buf_append_str(&m, "The rare word is xylophonist.\r\n");
			if (with_att) {
				sp_buf_append_str(&m, "--b\r\nContent-Type: application/pdf\r\n"
				                      "Content-Transfer-Encoding: base64\r\n\r\n");
				sp_buf_append(&m, att[i % 20].data, att[i % 20].len);
				sp_buf_append_str(&m, "--b--\r\n");
			}
			raw_bytes += m.len;
			texts[k] = sp_buf_steal(&m);
			batch[k] = (struct store_append_msg){.data = (const uint8_t *)texts[k],
			                                     .len = strlen(texts[k]),
			                                     .flags = i % 3 ? STORE_FLAG_SEEN : 0};
		}
		uint32_t uidv, uids[500];
		if (store_append(s, "INBOX", batch, k, &uidv, uids, &err) < 0) {
			fprintf(stderr, "append: %s\n", err);
			return 1;
		}
		for (size_t j = 0; j < k; j++)
			free(texts[j]);
		done += k;
	}
	uint64_t t_append = sp_now_ms() - t0;
	struct store_usage u;
	store_usage(s, &u, &err);
	printf(
	    "append: %llu messages in %llu ms (%.0f/s); raw %llu bytes, file %llu bytes (%.2f)\n",
	    (unsigned long long)n_msgs, (unsigned long long)t_append,
	    (double)n_msgs * 1000.0 / (double)(t_append ? t_append : 1),
	    (unsigned long long)raw_bytes, (unsigned long long)u.file_bytes,
	    (double)u.file_bytes / (double)raw_bytes);
	int64_t inbox;
	store_folder_id(s, "INBOX", &inbox, NULL, &err);
	struct sp_arena *a = sp_arena_new(1 << 20);
	struct {
		const char *name;
		struct store_query q;
	} qs[] = {
	    {"SEARCH TEXT xylophonist", {.type = STORE_Q_TEXT, .str = "xylophonist"}},
	    {"SEARCH FROM user42@", {.type = STORE_Q_FROM, .str = "user42@"}},
	    {"SEARCH UNSEEN", {.type = STORE_Q_FLAGS_UNSET, .flags = STORE_FLAG_SEEN}},
	};
	for (size_t i = 0; i < SP_N_ELEMENTS(qs); i++) {
		uint64_t t[9];
		size_t n = 0;
		for (int r = 0; r < 9; r++) {
			uint32_t *uids;
			uint64_t t1 = sp_now_ms();
			store_search(s, inbox, &qs[i].q, a, &uids, &n, &err);
			t[r] = sp_now_ms() - t1;
			sp_arena_reset(a);
		}
		printf("%s: %zu hits, median %llu ms\n", qs[i].name, n,
		       (unsigned long long)median(t, 9));
	}
	uint64_t t[9];
	for (int r = 0; r < 9; r++) {
		struct store_uid_range rg = {1000, 1999};
		struct store_fetch_req req = {.uids = {&rg, 1}, .items = STORE_FETCH_ENVELOPE};
		size_t bytes = 0;
		uint64_t t1 = sp_now_ms();
		store_fetch(s, inbox, &req, count_cb, &bytes, &err);
		t[r] = sp_now_ms() - t1;
	}
	printf("FETCH 1000 ENVELOPE: median %llu ms\n", (unsigned long long)median(t, 9));
	sp_arena_free(&a);
	store_session_close(&s);
	/* Opening the encrypted file with its raw key (no KDF) and reading
	 * INBOX's row: what a session pays after a cached login. In us. */
	uint64_t us[31];
	for (int r = 0; r < 31; r++) {
		struct timespec b, e;
		clock_gettime(CLOCK_MONOTONIC, &b);
		struct store_session *o;
		if (store_session_open(path, "bench", dek, false, &o, &err) < 0) {
			fprintf(stderr, "%s\n", err);
			return 1;
		}
		struct sp_arena *oa = sp_arena_new(1024);
		struct store_folder f;
		store_folder_get(o, "INBOX", oa, &f, &err);
		sp_arena_free(&oa);
		store_session_close(&o);
		clock_gettime(CLOCK_MONOTONIC, &e);
		us[r] = (uint64_t)(e.tv_sec - b.tv_sec) * 1000000 +
		        (uint64_t)(e.tv_nsec - b.tv_nsec) / 1000;
	}
	printf("open + INBOX row + close: median %llu us\n", (unsigned long long)median(us, 31));
	keys_secret_free(&dek);
	for (int i = 0; i < 20; i++)
		sp_buf_deinit(&att[i]);
	char p2[600];
	unlink(path);
	snprintf(p2, sizeof(p2), "%s-wal", path);
	unlink(p2);
	snprintf(p2, sizeof(p2), "%s-shm", path);
	unlink(p2);
	return 0;
}
