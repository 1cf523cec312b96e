/* Unit tests for the sealed spool: format pieces, corpus round trips for 1
 * and 3 recipients, a 50 MiB message in bounded memory, tampering and
 * truncation, wrong keys, partial failure, abort, receipt-ordered batches,
 * crash simulation with SIGKILL, and concurrent writers. */
#include "test_spool_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

SP_TEST_MAIN_DEFS

static void test_format(void)
{
	static const struct {
		uint64_t in, out;
	} buckets[] = {
	    {0, 1024},
	    {1, 1024},
	    {1024, 1024},
	    {1025, 2048},
	    {4096, 4096},
	    {4097, 8192},
	    {65536, 65536},
	    {65537, 131072},
	    {1048576, 1048576},
	    {1048577, 1048576 + 65536},
	    {10 * 1048576 + 1, 10 * 1048576 + 524288}, /* 1/16 of 8 MiB */
	    {50 * 1048576, 50 * 1048576},
	    {50 * 1048576 + 1, 52 * 1048576},
	};
	for (size_t i = 0; i < SP_N_ELEMENTS(buckets); i++) {
		SP_CHECK_INT(spool_bucket(buckets[i].in), buckets[i].out);
		SP_CHECK(spool_bucket(buckets[i].in) >= buckets[i].in);
	}
	/* at most 1/16 (+64 KiB) overhead above 64 KiB */
	for (uint64_t l = 65537; l < 200000000; l = l * 3 / 2)
		SP_CHECK(spool_bucket(l) - l <= SP_MAX(l / 16 * 2, (uint64_t)65536));

	static const struct {
		const char *name;
		int rc;
		uint32_t stanza;
		uint64_t size;
	} names[] = {
	    {"0006283a1b2c3d4e-9af3b2c1.0.2157", 0, 0, 2157},
	    {"0006283a1b2c3d4e-9af3b2c1.999.1", 0, 999, 1},
	    {"0006283a1b2c3d4e-9af3b2c1.1000.1", -1, 0, 0},
	    {"0006283a1b2c3d4e-9af3b2c1.01.1", -1, 0, 0},
	    {"0006283a1b2c3d4e-9af3b2c1.1.01", -1, 0, 0},
	    {"0006283a1b2c3d4e-9af3b2c1.1.", -1, 0, 0},
	    {"0006283a1b2c3d4e-9af3b2c1..1", -1, 0, 0},
	    {"0006283a1b2c3d4e-9af3b2c1.1", -1, 0, 0},
	    {"0006283A1b2c3d4e-9af3b2c1.1.1", -1, 0, 0},
	    {"0006283a1b2c3d4e_9af3b2c1.1.1", -1, 0, 0},
	    {"0006283a1b2c3d4e-9af3b2c.1.1", -1, 0, 0},
	    {"0006283a1b2c3d4e-9af3b2c1.1.1x", -1, 0, 0},
	    {".", -1, 0, 0},
	    {"", -1, 0, 0},
	};
	for (size_t i = 0; i < SP_N_ELEMENTS(names); i++) {
		struct spool_entry e;
		int rc = spool_entry_parse_name(names[i].name, &e);
		SP_CHECK_INT(rc, names[i].rc);
		if (rc == 0) {
			SP_CHECK_INT(e.stanza, names[i].stanza);
			SP_CHECK_INT(e.size, names[i].size);
			SP_CHECK_STR(e.spool_id, "0006283a1b2c3d4e-9af3b2c1");
		}
	}
	SP_CHECK(spool_mailbox_id_valid("mb_7-X"));
	SP_CHECK(!spool_mailbox_id_valid("tmp"));
	SP_CHECK(!spool_mailbox_id_valid(""));
	SP_CHECK(!spool_mailbox_id_valid("../x"));
	SP_CHECK(!spool_mailbox_id_valid("a.b"));

	uint8_t key[32] = {1, 2, 3};
	struct spool_stanza s = {.index = 7,
	                         .key = key,
	                         .received = -5,
	                         .body_size = 5000,
	                         .stream_size = 8192,
	                         .folder = "INBOX/\xc3\xa9t\xc3\xa9",
	                         .folder_len = 10,
	                         .headers = (const uint8_t *)"Delivered-To: a@b\r\n",
	                         .headers_len = 19};
	memcpy(s.spool_id, "0006283a1b2c3d4e-9af3b2c1", SPOOL_ID_SIZE);
	size_t len = spool_stanza_plain_len(s.folder_len, s.headers_len);
	SP_CHECK_INT(len, 1024);
	uint8_t buf[1024];
	spool_stanza_encode(&s, buf, sizeof(buf));
	struct spool_stanza p;
	const char *error = NULL;
	SP_CHECK_INT(spool_stanza_parse(buf, sizeof(buf), &p, &error), 0);
	SP_CHECK_INT(p.index, 7);
	SP_CHECK_INT(p.received, -5);
	SP_CHECK_INT(p.body_size, 5000);
	SP_CHECK(p.folder_len == 10 && memcmp(p.folder, s.folder, 10) == 0);
	SP_CHECK(p.headers_len == 19 && memcmp(p.headers, s.headers, 19) == 0);
	SP_CHECK(memcmp(p.key, key, 32) == 0);
	SP_CHECK_STR(p.spool_id, s.spool_id);
	/* a stream size that is not the body's bucket is refused */
	s.stream_size = 4096;
	spool_stanza_encode(&s, buf, sizeof(buf));
	SP_CHECK_INT(spool_stanza_parse(buf, sizeof(buf), &p, &error), -1);
	SP_CHECK_STR(error, "bad sizes in stanza");
}

static struct spool *open_spool(const char *dir)
{
	struct spool *spool = NULL;
	const char *error = NULL;
	char path[600];
	snprintf(path, sizeof(path), "%s/spool", dir);
	if (spool_open(path, &spool, &error) < 0)
		sp_panic("spool_open: %s", error);
	return spool;
}

static size_t count_dir(const char *dir, const char *sub)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/spool/%s", dir, sub);
	DIR *d = opendir(path);
	if (d == NULL)
		return 0;
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static bool file_contains(const char *path, const uint8_t *needle, size_t len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return false;
	struct sp_buf b = SP_BUF_INIT;
	uint8_t chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		sp_buf_append(&b, chunk, n);
	fclose(f);
	bool found = b.len >= len && memmem(b.data, b.len, needle, len) != NULL;
	sp_buf_deinit(&b);
	return found;
}

static int read_file(const char *path, struct sp_buf *out)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return -1;
	uint8_t chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		sp_buf_append(out, chunk, n);
	fclose(f);
	return 0;
}

/* Every corpus message, to 1 and then 3 recipients with different
 * prepended headers, read back byte-exact; no plaintext on disk; the
 * sealed file goes away with the last recipient's unlink. */
static void test_corpus(void)
{
	const char *corpus = getenv("SP_CORPUS");
	SP_CHECK(corpus != NULL);
	if (corpus == NULL)
		return;
	DIR *d = opendir(corpus);
	SP_CHECK(d != NULL);
	if (d == NULL)
		return;
	char *dir = test_tmpdir();
	struct spool *spool = open_spool(dir);
	struct test_mbox mb[3];
	test_mbox_init(&mb[0], "corpusA");
	test_mbox_init(&mb[1], "corpusB");
	test_mbox_init(&mb[2], "corpusC");
	static const char *hdrs[3] = {
	    "Return-Path: <s@x.example>\r\nDelivered-To: a@y.example\r\n",
	    "Delivered-To: b@y.example\r\nReceived: by y; Mon, 1 Jan 2024 00:00:00 +0000\r\n",
	    "",
	};
	static const char *folders[3] = {"INBOX", "Archive/2024", "Spam"};
	struct dirent *de;
	int files = 0, bad = 0, plaintext = 0;
	size_t pieces[] = {1, 7, 1000, 65536, 1 << 20};
	while ((de = readdir(d)) != NULL) {
		size_t nl = strlen(de->d_name);
		if (nl < 5 || strcmp(de->d_name + nl - 4, ".eml") != 0)
			continue;
		char path[1200];
		snprintf(path, sizeof(path), "%s/%s", corpus, de->d_name);
		struct sp_buf msg = SP_BUF_INIT;
		if (read_file(path, &msg) < 0) {
			bad++;
			continue;
		}
		files++;
		size_t piece = pieces[files % SP_N_ELEMENTS(pieces)];
		if (piece == 1 && msg.len > 20000)
			piece = 13;
		for (size_t nr = 1; nr <= 3; nr += 2) {
			struct spool_rcpt rc[3];
			for (size_t i = 0; i < nr; i++)
				rc[i] = (struct spool_rcpt){.mailbox_id = mb[i].id,
				                            .pk = mb[i].pk,
				                            .folder = folders[i],
				                            .headers = (const uint8_t *)hdrs[i],
				                            .headers_len = strlen(hdrs[i])};
			int results[3] = {-1, -1, -1};
			char id[SPOOL_ID_SIZE];
			if (test_deliver(spool, rc, nr, msg.data, msg.len, piece, results, id) <
			    0) {
				bad++;
				continue;
			}
			for (size_t i = 0; i < nr; i++) {
				bad += results[i] != 0;
				struct spool_entry e;
				size_t n = 0;
				const char *error = "";
				if (spool_list(spool, mb[i].id, NULL, &e, 1, &n, &error) < 0 ||
				    n != 1) {
					bad++;
					continue;
				}
				SP_CHECK_STR(e.spool_id, id);
				struct sp_buf got = SP_BUF_INIT;
				struct spool_meta meta;
				if (test_read_entry(spool, mb[i].id, &e, mb[i].sk,
				                    i == 1 ? 100 : 8192, &got, &meta, &error) < 0) {
					fprintf(stderr, "%s: %s\n", de->d_name, error);
					bad++;
				}
				size_t hl = strlen(hdrs[i]);
				if (got.len != hl + msg.len || memcmp(got.data, hdrs[i], hl) != 0 ||
				    (msg.len > 0 &&
				     memcmp(got.data + hl, msg.data, msg.len) != 0) ||
				    meta.size != got.len || meta.received != 1700000000 ||
				    strcmp(meta.folder, folders[i]) != 0 ||
				    strcmp(meta.spool_id, id) != 0) {
					fprintf(stderr, "%s: mismatch for recipient %zu\n",
					        de->d_name, i);
					bad++;
				}
				if (i == 0 && msg.len >= 48) {
					char fp[900];
					snprintf(fp, sizeof(fp), "%s/spool/%s/%s", dir, mb[i].id,
					         e.name);
					struct stat st;
					if (stat(fp, &st) < 0 || st.st_nlink != nr ||
					    (uint64_t)st.st_size != e.size)
						bad++;
					plaintext +=
					    file_contains(fp, msg.data + msg.len / 2 - 16, 32);
				}
				sp_buf_deinit(&got);
				SP_CHECK_INT(spool_entry_remove(spool, mb[i].id, &e, &error), 0);
				SP_CHECK_INT(spool_entry_remove(spool, mb[i].id, &e, &error), 0);
			}
		}
		sp_buf_deinit(&msg);
	}
	closedir(d);
	SP_CHECK(files >= 397);
	SP_CHECK_INT(bad, 0);
	SP_CHECK_INT(plaintext, 0);
	for (int i = 0; i < 3; i++) {
		uint64_t bytes, count;
		const char *error;
		SP_CHECK_INT(spool_usage(spool, mb[i].id, &bytes, &count, &error), 0);
		SP_CHECK(bytes == 0 && count == 0);
		SP_CHECK_INT(count_dir(dir, mb[i].id), 0);
		test_mbox_deinit(&mb[i]);
	}
	SP_CHECK_INT(count_dir(dir, "tmp"), 0);
	spool_close(&spool);
	test_rmtree(&dir);
}

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static void fill(uint8_t *p, size_t len, uint64_t *state)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(xorshift(state) >> 29);
}

static long max_rss_kib(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

/* 50 MiB + 1 byte streamed in and out with hashes: the process must not
 * grow by anything near the message size. */
static void test_large(void)
{
	char *dir = test_tmpdir();
	struct spool *spool = open_spool(dir);
	struct test_mbox mb;
	test_mbox_init(&mb, "large");
	struct spool_rcpt rc = {.mailbox_id = mb.id, .pk = mb.pk, .folder = "INBOX"};
	const size_t total = 50u * 1024 * 1024 + 1, piece = 10007;
	uint8_t *chunk = sp_malloc(piece);
	uint64_t state = 88172645463325252ULL;
	uint8_t h_in[32], h_out[32];
	crypto_generichash_state hs;
	crypto_generichash_init(&hs, NULL, 0, sizeof(h_in));
	long rss0 = max_rss_kib();
	struct spool_writer *w;
	const char *error = NULL;
	SP_CHECK_INT(spool_writer_begin(spool, &rc, 1, 0, &w, &error), 0);
	for (size_t off = 0; off < total; off += piece) {
		size_t n = SP_MIN(piece, total - off);
		fill(chunk, n, &state);
		crypto_generichash_update(&hs, chunk, n);
		SP_CHECK_INT(spool_writer_write(w, chunk, n, &error), 0);
	}
	crypto_generichash_final(&hs, h_in, sizeof(h_in));
	int result = -1;
	SP_CHECK_INT(spool_writer_commit(&w, &result, &error), 0);
	SP_CHECK_INT(result, 0);

	struct spool_entry e;
	size_t n = 0;
	SP_CHECK_INT(spool_list(spool, mb.id, NULL, &e, 1, &n, &error), 0);
	SP_CHECK_INT(n, 1);
	SP_CHECK(e.size > 52u * 1024 * 1024 && e.size < 52u * 1024 * 1024 + 64 * 1024);
	struct spool_reader *r;
	struct spool_meta meta;
	SP_CHECK_INT(spool_entry_open(spool, mb.id, &e, mb.sk, &r, &meta, &error), 0);
	SP_CHECK_INT(meta.size, total);
	crypto_generichash_init(&hs, NULL, 0, sizeof(h_out));
	uint64_t got_total = 0;
	for (;;) {
		size_t got;
		if (spool_reader_read(r, chunk, piece, &got, &error) < 0) {
			SP_CHECK(!"read failed");
			break;
		}
		if (got == 0)
			break;
		got_total += got;
		crypto_generichash_update(&hs, chunk, got);
	}
	crypto_generichash_final(&hs, h_out, sizeof(h_out));
	spool_reader_free(&r);
	long grew = max_rss_kib() - rss0;
	SP_CHECK_INT(got_total, total);
	SP_CHECK(memcmp(h_in, h_out, 32) == 0);
	SP_CHECK(grew < 16 * 1024); /* KiB: far below the 50 MiB message */
	if (grew >= 16 * 1024)
		fprintf(stderr, "  max RSS grew by %ld KiB\n", grew);
	free(chunk);
	test_mbox_deinit(&mb);
	spool_close(&spool);
	test_rmtree(&dir);
}

/* Reads the entry whole: 0 when intact and equal to expect, -1 otherwise. */
static int read_matches(struct spool *spool, const struct test_mbox *mb,
                        const struct spool_entry *e, const struct sp_buf *expect)
{
	struct sp_buf got = SP_BUF_INIT;
	struct spool_meta meta;
	const char *error;
	int rc = test_read_entry(spool, mb->id, e, mb->sk, 4096, &got, &meta, &error);
	if (rc == 0 && (got.len != expect->len || memcmp(got.data, expect->data, got.len) != 0))
		rc = -2; /* read "successfully" but wrong: the worst outcome */
	sp_buf_deinit(&got);
	return rc;
}

/* Every flipped byte, every truncation and every extension is an error,
 * never wrong or partial mail. */
static void test_tamper(void)
{
	char *dir = test_tmpdir();
	struct spool *spool = open_spool(dir);
	struct test_mbox mb[2];
	test_mbox_init(&mb[0], "tamperA");
	test_mbox_init(&mb[1], "tamperB");
	struct spool_rcpt rc[2] = {
	    {.mailbox_id = mb[0].id,
	     .pk = mb[0].pk,
	     .folder = "INBOX",
	     .headers = (const uint8_t *)"X-A: 1\r\n",
	     .headers_len = 8},
	    {.mailbox_id = mb[1].id, .pk = mb[1].pk, .folder = "INBOX"},
	};
	struct sp_buf msg = SP_BUF_INIT, expect = SP_BUF_INIT;
	uint64_t state = 12345;
	sp_buf_reserve(&msg, 200000);
	fill(msg.data, 200000, &state);
	msg.len = 200000;
	int results[2];
	SP_CHECK_INT(test_deliver(spool, rc, 2, msg.data, msg.len, 4096, results, NULL), 0);
	sp_buf_append(&expect, "X-A: 1\r\n", 8);
	sp_buf_append(&expect, msg.data, msg.len);
	struct spool_entry e, e1;
	size_t n;
	const char *error;
	SP_CHECK_INT(spool_list(spool, mb[0].id, NULL, &e, 1, &n, &error), 0);
	SP_CHECK_INT(spool_list(spool, mb[1].id, NULL, &e1, 1, &n, &error), 0);
	SP_CHECK_INT(read_matches(spool, &mb[0], &e, &expect), 0);

	char path[900];
	snprintf(path, sizeof(path), "%s/spool/%s/%s", dir, mb[0].id, e.name);
	int fd = open(path, O_RDWR);
	SP_CHECK(fd >= 0);
	int accepted = 0, tried = 0, b_flips = 0;
	uint8_t head[SPOOL_FILE_HEADER_LEN];
	SP_CHECK_INT(pread(fd, head, sizeof(head), 0), (long long)sizeof(head));
	uint64_t stanza_len = head[12] | (uint64_t)head[13] << 8;
	SP_CHECK_INT(stanza_len, 1024 + crypto_box_SEALBYTES);
	for (uint64_t off = 0; off < e.size; off += (off < 4200 ? 61 : 1999)) {
		uint8_t b;
		SP_CHECK_INT(pread(fd, &b, 1, (off_t)off), 1);
		b ^= 0x20;
		SP_CHECK_INT(pwrite(fd, &b, 1, (off_t)off), 1);
		tried++;
		/* stanza 1 is B's: a flip there must fail B and leave A intact */
		uint64_t s1 = SPOOL_FILE_HEADER_LEN + (e.size > 0 ? stanza_len : 0);
		bool in_b = off >= s1 && off < s1 + stanza_len;
		int ra = read_matches(spool, &mb[0], &e, &expect);
		int rb = in_b ? read_matches(spool, &mb[1], &e1, &msg) : -1;
		if ((in_b ? ra != 0 : ra != -1) || rb != -1) {
			fprintf(stderr, "  flip at %llu not detected\n", (unsigned long long)off);
			accepted++;
		}
		b_flips += in_b;
		b ^= 0x20;
		SP_CHECK_INT(pwrite(fd, &b, 1, (off_t)off), 1);
	}
	SP_CHECK_INT(accepted, 0);
	SP_CHECK(tried > 150);
	SP_CHECK(b_flips > 10);
	/* the last byte (end of the FINAL chunk's tag) */
	uint8_t last;
	SP_CHECK_INT(pread(fd, &last, 1, (off_t)e.size - 1), 1);
	last ^= 1;
	SP_CHECK_INT(pwrite(fd, &last, 1, (off_t)e.size - 1), 1);
	SP_CHECK_INT(read_matches(spool, &mb[0], &e, &expect), -1);
	last ^= 1;
	SP_CHECK_INT(pwrite(fd, &last, 1, (off_t)e.size - 1), 1);
	SP_CHECK_INT(read_matches(spool, &mb[0], &e, &expect), 0);

	/* Truncation and extension, with the name's size left alone and with
	 * a name that was renamed to agree (so the stream checks must catch it). */
	struct sp_buf orig = SP_BUF_INIT;
	SP_CHECK_INT(read_file(path, &orig), 0);
	uint64_t cuts[] = {e.size - 1, e.size - 17, e.size - 65553, e.size - 2 * 65553, 4000,
	                   16,         0,           e.size + 1,     e.size + 65553};
	for (size_t i = 0; i < SP_N_ELEMENTS(cuts); i++) {
		SP_CHECK_INT(ftruncate(fd, (off_t)cuts[i]), 0);
		SP_CHECK_INT(read_matches(spool, &mb[0], &e, &expect), -1);
		struct spool_entry fake = e;
		snprintf(fake.name, sizeof(fake.name), "%s.0.%llu", e.spool_id,
		         (unsigned long long)cuts[i]);
		fake.size = cuts[i];
		char fpath[900];
		snprintf(fpath, sizeof(fpath), "%s/spool/%s/%s", dir, mb[0].id, fake.name);
		SP_CHECK_INT(link(path, fpath), 0);
		int r = read_matches(spool, &mb[0], &fake, &expect);
		SP_CHECK_INT(r, -1);
		if (r != -1)
			fprintf(stderr, "  cut %zu at %llu read back\n", i,
			        (unsigned long long)cuts[i]);
		SP_CHECK_INT(unlink(fpath), 0);
		SP_CHECK_INT(pwrite(fd, orig.data, orig.len, 0), (long long)orig.len);
		SP_CHECK_INT(ftruncate(fd, (off_t)orig.len), 0);
	}
	SP_CHECK_INT(read_matches(spool, &mb[0], &e, &expect), 0);
	close(fd);

	/* wrong keys: another mailbox's key, or the other stanza */
	struct sp_buf got = SP_BUF_INIT;
	struct spool_meta meta;
	SP_CHECK_INT(test_read_entry(spool, mb[0].id, &e, mb[1].sk, 4096, &got, &meta, &error), -1);
	SP_CHECK_INT(got.len, 0);
	SP_CHECK_STR(error, "spool entry not sealed to this mailbox, or altered");
	/* B's link renamed to claim stanza 0 (A's): B's key cannot open it */
	struct spool_entry swapped = e1;
	char bpath[900], spath[900];
	snprintf(bpath, sizeof(bpath), "%s/spool/%s/%s", dir, mb[1].id, e1.name);
	snprintf(swapped.name, sizeof(swapped.name), "%s.0.%llu", e1.spool_id,
	         (unsigned long long)e1.size);
	swapped.stanza = 0;
	snprintf(spath, sizeof(spath), "%s/spool/%s/%s", dir, mb[1].id, swapped.name);
	SP_CHECK_INT(rename(bpath, spath), 0);
	SP_CHECK_INT(
	    test_read_entry(spool, mb[1].id, &swapped, mb[1].sk, 4096, &got, &meta, &error), -1);
	SP_CHECK_INT(rename(spath, bpath), 0);
	sp_buf_reset(&got);
	SP_CHECK_INT(test_read_entry(spool, mb[1].id, &e1, mb[1].sk, 4096, &got, &meta, &error), 0);
	SP_CHECK(got.len == msg.len && memcmp(got.data, msg.data, msg.len) == 0);

	sp_buf_deinit(&got);
	sp_buf_deinit(&orig);
	sp_buf_deinit(&msg);
	sp_buf_deinit(&expect);
	test_mbox_deinit(&mb[0]);
	test_mbox_deinit(&mb[1]);
	spool_close(&spool);
	test_rmtree(&dir);
}

/* Bad arguments, abort, one recipient failing while others succeed,
 * batches in receipt order, usage. */
static void test_api(void)
{
	char *dir = test_tmpdir();
	struct spool *spool = open_spool(dir);
	struct test_mbox mb[3];
	test_mbox_init(&mb[0], "apiA");
	test_mbox_init(&mb[1], "apiB");
	test_mbox_init(&mb[2], "apiC");
	struct spool_writer *w = NULL;
	const char *error = NULL;
	struct spool_rcpt bad[] = {
	    {.mailbox_id = "tmp", .pk = mb[0].pk, .folder = "INBOX"},
	    {.mailbox_id = "../etc", .pk = mb[0].pk, .folder = "INBOX"},
	    {.mailbox_id = "apiA", .pk = NULL, .folder = "INBOX"},
	    {.mailbox_id = "apiA", .pk = mb[0].pk, .folder = NULL},
	    {.mailbox_id = "apiA",
	     .pk = mb[0].pk,
	     .folder = "INBOX",
	     .headers_len = SPOOL_HEADERS_MAX + 1,
	     .headers = (const uint8_t *)""},
	};
	for (size_t i = 0; i < SP_N_ELEMENTS(bad); i++)
		SP_CHECK_INT(spool_writer_begin(spool, &bad[i], 1, 0, &w, &error), -1);
	struct spool_rcpt dup[2] = {
	    {.mailbox_id = "apiA", .pk = mb[0].pk, .folder = "INBOX"},
	    {.mailbox_id = "apiA", .pk = mb[0].pk, .folder = "Other"},
	};
	SP_CHECK_INT(spool_writer_begin(spool, dup, 2, 0, &w, &error), -1);
	SP_CHECK_STR(error, "duplicate recipient mailbox");
	SP_CHECK_INT(spool_writer_begin(spool, dup, 0, 0, &w, &error), -1);

	/* abort leaves nothing */
	SP_CHECK_INT(spool_writer_begin(spool, dup, 1, 0, &w, &error), 0);
	SP_CHECK_INT(spool_writer_write(w, "hello", 5, &error), 0);
	spool_writer_abort(&w);
	SP_CHECK(w == NULL);
	SP_CHECK_INT(count_dir(dir, "tmp"), 0);
	SP_CHECK_INT(count_dir(dir, "apiA"), 0);

	/* apiB's directory is a regular file: B fails, A and C succeed */
	char bpath[600];
	snprintf(bpath, sizeof(bpath), "%s/spool/apiB", dir);
	FILE *f = fopen(bpath, "w");
	SP_CHECK(f != NULL);
	if (f != NULL)
		fclose(f);
	struct spool_rcpt three[3];
	for (int i = 0; i < 3; i++)
		three[i] =
		    (struct spool_rcpt){.mailbox_id = mb[i].id, .pk = mb[i].pk, .folder = "INBOX"};
	int results[3];
	SP_CHECK_INT(
	    test_deliver(spool, three, 3, (const uint8_t *)"body\r\n", 6, 6, results, NULL), 0);
	SP_CHECK(results[0] == 0 && results[1] == -1 && results[2] == 0);
	/* all failing: -1 */
	SP_CHECK_INT(test_deliver(spool, &three[1], 1, (const uint8_t *)"x", 1, 1, results, NULL),
	             -1);
	SP_CHECK_INT(results[0], -1);
	unlink(bpath);

	/* 25 more to A: batches of 10 in receipt (= commit) order */
	char ids[26][SPOOL_ID_SIZE];
	struct spool_entry first;
	size_t n;
	SP_CHECK_INT(spool_list(spool, mb[0].id, NULL, &first, 1, &n, &error), 0);
	memcpy(ids[0], first.spool_id, SPOOL_ID_SIZE);
	for (int i = 1; i <= 25; i++) {
		char body[32];
		int len = snprintf(body, sizeof(body), "message %d\r\n", i);
		SP_CHECK_INT(test_deliver(spool, three, 1, (const uint8_t *)body, (size_t)len, 4,
		                          results, ids[i]),
		             0);
	}
	struct spool_entry batch[10];
	char after[SPOOL_NAME_SIZE] = "";
	int seen = 0, order_ok = 1;
	size_t sizes[4], nb = 0;
	for (;;) {
		SP_CHECK_INT(spool_list(spool, mb[0].id, after, batch, 10, &n, &error), 0);
		if (n == 0 || nb == 4)
			break;
		sizes[nb++] = n;
		for (size_t i = 0; i < n; i++) {
			if (seen > 25 || strcmp(batch[i].spool_id, ids[seen]) != 0)
				order_ok = 0;
			seen++;
		}
		memcpy(after, batch[n - 1].name, SPOOL_NAME_SIZE);
	}
	SP_CHECK_INT(nb, 3);
	SP_CHECK(sizes[0] == 10 && sizes[1] == 10 && sizes[2] == 6);
	SP_CHECK_INT(seen, 26);
	SP_CHECK(order_ok);

	uint64_t bytes, count;
	SP_CHECK_INT(spool_usage(spool, mb[0].id, &bytes, &count, &error), 0);
	SP_CHECK_INT(count, 26);
	SP_CHECK(bytes >= 26 * 1024 && bytes < 26 * 3000);
	/* the cache: a settled directory is served from it; any change to
	 * the directory, also one made outside this spool handle, is seen */
	char adir[700], src[900], dst[900];
	snprintf(adir, sizeof(adir), "%s/spool/%s", dir, mb[0].id);
	struct timespec old_times[2] = {{.tv_sec = time(NULL) - 3600},
	                                {.tv_sec = time(NULL) - 3600}};
	SP_CHECK_INT(utimensat(AT_FDCWD, adir, old_times, 0), 0);
	uint64_t scans = atomic_load(&spool->usage_scans), b2, c2;
	SP_CHECK_INT(spool_usage(spool, mb[0].id, &b2, &c2, &error), 0);
	SP_CHECK(b2 == bytes && c2 == 26);
	SP_CHECK_INT(spool_usage(spool, mb[0].id, &b2, &c2, &error), 0);
	SP_CHECK(b2 == bytes && c2 == 26);
	SP_CHECK_INT(atomic_load(&spool->usage_scans), scans + 1); /* second was cached */
	snprintf(src, sizeof(src), "%s/%s", adir, first.name);
	snprintf(dst, sizeof(dst), "%s/%s.0.%llu", adir, "ffffffffffffffff-00000000",
	         (unsigned long long)first.size);
	SP_CHECK_INT(link(src, dst), 0); /* as another process would */
	SP_CHECK_INT(spool_usage(spool, mb[0].id, &b2, &c2, &error), 0);
	SP_CHECK(b2 == bytes + first.size && c2 == 27);
	SP_CHECK_INT(unlink(dst), 0);
	SP_CHECK_INT(spool_usage(spool, mb[0].id, &b2, &c2, &error), 0);
	SP_CHECK(b2 == bytes && c2 == 26);
	SP_CHECK_INT(utimensat(AT_FDCWD, adir, old_times, 0), 0);
	SP_CHECK_INT(spool_usage(spool, mb[0].id, &b2, &c2, &error), 0);
	SP_CHECK_INT(test_deliver(spool, three, 1, (const uint8_t *)"x", 1, 1, results, NULL), 0);
	SP_CHECK_INT(spool_usage(spool, mb[0].id, &b2, &c2, &error), 0);
	SP_CHECK_INT(c2, 27);
	SP_CHECK_INT(spool_usage(spool, "nobody", &bytes, &count, &error), 0);
	SP_CHECK(bytes == 0 && count == 0);
	SP_CHECK_INT(spool_usage(spool, "../x", &bytes, &count, &error), -1);
	/* a message read with its metadata */
	struct sp_buf got = SP_BUF_INIT;
	struct spool_meta meta;
	SP_CHECK_INT(test_read_entry(spool, mb[0].id, &batch[5], mb[0].sk, 3, &got, &meta, &error),
	             0);
	SP_CHECK_STR(sp_buf_cstr(&got), "message 25\r\n");
	SP_CHECK_STR(meta.folder, "INBOX");
	sp_buf_deinit(&got);

	/* more live writers than the spool's locked-memory blocks */
	enum { LIVE = SPOOL_LOCKED_SLOTS + 6 };
	struct spool_writer *live[LIVE];
	int live_ok = 0;
	for (int i = 0; i < LIVE; i++) {
		SP_CHECK_INT(spool_writer_begin(spool, &three[2], 1, 0, &live[i], &error), 0);
		char body[32];
		int len = snprintf(body, sizeof(body), "live %d\r\n", i);
		SP_CHECK_INT(spool_writer_write(live[i], body, (size_t)len, &error), 0);
	}
	for (int i = LIVE - 1; i >= 0; i--) {
		int result = -1;
		live_ok += spool_writer_commit(&live[i], &result, &error) == 0 && result == 0;
	}
	SP_CHECK_INT(live_ok, LIVE);
	struct spool_entry *all = sp_calloc(LIVE + 1, sizeof(*all));
	SP_CHECK_INT(spool_list(spool, mb[2].id, NULL, all, LIVE + 1, &n, &error), 0);
	SP_CHECK_INT(n, LIVE + 1);
	int intact = 0;
	for (size_t i = 0; i < n; i++) {
		struct sp_buf b = SP_BUF_INIT;
		intact += test_read_entry(spool, mb[2].id, &all[i], mb[2].sk, 64, &b, &meta,
		                          &error) == 0 &&
		          b.len > 0;
		sp_buf_deinit(&b);
	}
	SP_CHECK_INT(intact, LIVE + 1);
	free(all);

	/* deleting a mailbox removes its spool; other mailboxes keep theirs */
	SP_CHECK_INT(spool_mailbox_delete(spool, mb[2].id, &error), 0);
	SP_CHECK_INT(spool_usage(spool, mb[2].id, &bytes, &count, &error), 0);
	SP_CHECK(bytes == 0 && count == 0);
	char cdir[700];
	snprintf(cdir, sizeof(cdir), "%s/spool/%s", dir, mb[2].id);
	SP_CHECK(access(cdir, F_OK) < 0);
	SP_CHECK_INT(spool_mailbox_delete(spool, mb[2].id, &error), 0);
	SP_CHECK_INT(spool_usage(spool, mb[0].id, &bytes, &count, &error), 0);
	SP_CHECK_INT(count, 27);

	for (int i = 0; i < 3; i++)
		test_mbox_deinit(&mb[i]);
	spool_close(&spool);
	test_rmtree(&dir);
}

/* Deterministic content of crash-test message k. */
static size_t crash_message(uint64_t k, uint8_t *buf, size_t cap)
{
	uint64_t s = k * 2654435761ULL + 1;
	size_t len = (size_t)(xorshift(&s) % cap);
	fill(buf, len, &s);
	return len;
}

/* The child: writes messages until killed, reporting each success. */
SP_NORETURN static void crash_child(const char *dir, const struct test_mbox *mb, int wfd,
                                    uint64_t base, bool named)
{
	spool_test_force_named_tmp = named;
	struct spool *spool = open_spool(dir);
	enum { CAP = 300000 };
	uint8_t *buf = sp_malloc(CAP);
	for (uint64_t k = base;; k++) {
		size_t len = crash_message(k, buf, CAP);
		struct spool_rcpt rc[2] = {
		    {.mailbox_id = mb[0].id, .pk = mb[0].pk, .folder = "INBOX"},
		    {.mailbox_id = mb[1].id, .pk = mb[1].pk, .folder = "INBOX"},
		};
		int results[2];
		char id[SPOOL_ID_SIZE];
		if (test_deliver(spool, rc, 1 + k % 2, buf, len, 8192, results, id) == 0) {
			char line[80];
			int n =
			    snprintf(line, sizeof(line), "%s %llu\n", id, (unsigned long long)k);
			if (write(wfd, line, (size_t)n) != n)
				_exit(3);
		}
	}
}

static void test_crash(void)
{
	char *dir = test_tmpdir();
	struct test_mbox mb[2];
	test_mbox_init(&mb[0], "crashA");
	test_mbox_init(&mb[1], "crashB");
	{
		struct spool *s = open_spool(dir); /* create it before forking */
		spool_close(&s);
	}
	srand((unsigned)time(NULL));
	int reported = 0, lost = 0, corrupt = 0, leftover = 0, extra = 0;
	enum { CAP = 300000 };
	uint8_t *buf = sp_malloc(CAP);
	for (int round = 0; round < 12; round++) {
		int p[2];
		SP_CHECK_INT(pipe(p), 0);
		pid_t pid = fork();
		if (pid == 0) {
			close(p[0]);
			crash_child(dir, mb, p[1], (uint64_t)round * 100000, round % 2 == 1);
		}
		close(p[1]);
		struct timespec ts = {0, (long)(5 + rand() % 80) * 1000000L};
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		int status;
		waitpid(pid, &status, 0);
		SP_CHECK(WIFSIGNALED(status));
		/* what the child reported as committed */
		struct sp_buf rep = SP_BUF_INIT;
		char rb[4096];
		ssize_t rn;
		while ((rn = read(p[0], rb, sizeof(rb))) > 0)
			sp_buf_append(&rep, rb, (size_t)rn);
		close(p[0]);
		struct spool *spool = open_spool(dir);
		leftover += (int)count_dir(dir, "tmp");
		/* every reported message is present for its recipients and intact */
		char *text = rep.data != NULL ? (char *)rep.data : (char *)"";
		for (char *line = text, *nl; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
			*nl = '\0';
			char id[SPOOL_ID_SIZE];
			unsigned long long k;
			if (sscanf(line, "%25s %llu", id, &k) != 2) {
				lost++;
				continue;
			}
			reported++;
			size_t len = crash_message(k, buf, CAP);
			for (uint64_t i = 0; i < 1 + k % 2; i++) {
				struct spool_entry all[64];
				size_t n = 0;
				const char *error;
				/* find it among this round's few entries */
				bool found = false;
				char after[SPOOL_NAME_SIZE] = "";
				while (!found &&
				       spool_list(spool, mb[i].id, after, all, 64, &n, &error) ==
				           0 &&
				       n > 0) {
					for (size_t j = 0; j < n && !found; j++) {
						if (strcmp(all[j].spool_id, id) != 0)
							continue;
						found = true;
						struct sp_buf expect = SP_BUF_INIT;
						sp_buf_append(&expect, buf, len);
						corrupt += read_matches(spool, &mb[i], &all[j],
						                        &expect) != 0;
						sp_buf_deinit(&expect);
					}
					memcpy(after, all[n - 1].name, SPOOL_NAME_SIZE);
				}
				lost += !found;
			}
		}
		sp_buf_deinit(&rep);
		/* every entry present (reported or not: killed between commit
		 * and report) reads back intact; then clear for the next round */
		for (int i = 0; i < 2; i++) {
			struct spool_entry all[64];
			size_t n;
			const char *error;
			while (spool_list(spool, mb[i].id, NULL, all, 64, &n, &error) == 0 &&
			       n > 0) {
				for (size_t j = 0; j < n; j++) {
					struct sp_buf got = SP_BUF_INIT;
					struct spool_meta meta;
					if (test_read_entry(spool, mb[i].id, &all[j], mb[i].sk,
					                    65536, &got, &meta, &error) != 0)
						corrupt++;
					extra++;
					sp_buf_deinit(&got);
					spool_entry_remove(spool, mb[i].id, &all[j], &error);
				}
			}
		}
		spool_close(&spool);
	}
	free(buf);
	fprintf(stderr, "  crash: %d reported commits checked, %d entries read back\n", reported,
	        extra);
	SP_CHECK(reported > 0);
	SP_CHECK_INT(lost, 0);
	SP_CHECK_INT(corrupt, 0);
	SP_CHECK_INT(leftover, 0);
	SP_CHECK_INT(count_dir(dir, "tmp"), 0);
	test_mbox_deinit(&mb[0]);
	test_mbox_deinit(&mb[1]);
	test_rmtree(&dir);
}

struct thread_arg {
	struct spool *spool;
	struct test_mbox *mb;
	int index, failures;
};

enum { THREADS = 8, PER_THREAD = 40 };

static void *thread_main(void *p)
{
	struct thread_arg *a = p;
	for (int k = 0; k < PER_THREAD; k++) {
		char body[64];
		int len = snprintf(body, sizeof(body), "thread %d message %d\r\n", a->index, k);
		int first = (a->index + k) % 4, second = (first + 1 + k % 3) % 4;
		struct spool_rcpt rc[2] = {
		    {.mailbox_id = a->mb[first].id, .pk = a->mb[first].pk, .folder = "INBOX"},
		    {.mailbox_id = a->mb[second].id, .pk = a->mb[second].pk, .folder = "INBOX"},
		};
		int results[2];
		if (test_deliver(a->spool, rc, 2, (const uint8_t *)body, (size_t)len, 5, results,
		                 NULL) < 0 ||
		    results[0] != 0 || results[1] != 0)
			a->failures++;
	}
	return NULL;
}

static void test_threads(void)
{
	char *dir = test_tmpdir();
	struct spool *spool = open_spool(dir);
	struct test_mbox mb[4];
	for (int i = 0; i < 4; i++) {
		char id[16];
		snprintf(id, sizeof(id), "thr%d", i);
		test_mbox_init(&mb[i], id);
	}
	pthread_t th[THREADS];
	struct thread_arg args[THREADS];
	for (int i = 0; i < THREADS; i++) {
		args[i] = (struct thread_arg){.spool = spool, .mb = mb, .index = i};
		pthread_create(&th[i], NULL, thread_main, &args[i]);
	}
	int failures = 0;
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		failures += args[i].failures;
	}
	SP_CHECK_INT(failures, 0);
	/* every message is there twice, once per recipient, and intact */
	int seen[THREADS][PER_THREAD] = {{0}};
	uint64_t total = 0;
	for (int i = 0; i < 4; i++) {
		struct spool_entry all[400];
		size_t n;
		const char *error;
		SP_CHECK_INT(spool_list(spool, mb[i].id, NULL, all, 400, &n, &error), 0);
		total += n;
		for (size_t j = 0; j < n; j++) {
			struct sp_buf got = SP_BUF_INIT;
			struct spool_meta meta;
			int t, k;
			if (test_read_entry(spool, mb[i].id, &all[j], mb[i].sk, 4096, &got, &meta,
			                    &error) == 0 &&
			    sscanf(sp_buf_cstr(&got), "thread %d message %d", &t, &k) == 2 &&
			    t >= 0 && t < THREADS && k >= 0 && k < PER_THREAD)
				seen[t][k]++;
			sp_buf_deinit(&got);
		}
	}
	SP_CHECK_INT(total, THREADS * PER_THREAD * 2);
	int wrong = 0;
	for (int t = 0; t < THREADS; t++)
		for (int k = 0; k < PER_THREAD; k++)
			wrong += seen[t][k] != 2;
	SP_CHECK_INT(wrong, 0);
	uint64_t syncs = atomic_load(&spool->dir_syncs),
	         batches = atomic_load(&spool->dir_requests);
	fprintf(stderr, "  threads: %d commits, %llu directory fsyncs for %llu requests\n",
	        THREADS * PER_THREAD, (unsigned long long)syncs, (unsigned long long)batches);
	SP_CHECK(batches == (uint64_t)THREADS * PER_THREAD * 2 && syncs <= batches);
	for (int i = 0; i < 4; i++)
		test_mbox_deinit(&mb[i]);
	spool_close(&spool);
	test_rmtree(&dir);
}

int main(void)
{
	SP_CHECK_INT(keys_init(), 0);
	SP_TEST_RUN(test_format);
	SP_TEST_RUN(test_api);
	SP_TEST_RUN(test_corpus);
	SP_TEST_RUN(test_large);
	SP_TEST_RUN(test_tamper);
	SP_TEST_RUN(test_crash);
	SP_TEST_RUN(test_threads);
	return sp_test_finish();
}
