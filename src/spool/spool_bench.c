/* Spool throughput: deliveries per second with fsync from 20 producer
 * threads, 4 KiB messages, one recipient each (spread over 100 mailboxes),
 * median of 3 runs; then spool_usage() time on a directory of N entries.
 * Usage: spool_bench [DIR] [DELIVERIES_PER_RUN]. Not a test. */
#include "spool/spool_private.h"
#include "lib/sp_str.h"

#include <ftw.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { THREADS = 20, MAILBOXES = 100, MSG = 4096 };

struct bench_mbox {
	char id[24];
	uint8_t pk[32];
};

static struct spool *spool;
static struct bench_mbox boxes[MAILBOXES];
static _Atomic long remaining, failures;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *producer(void *arg)
{
	uint8_t msg[MSG];
	randombytes_buf(msg, sizeof(msg));
	long k = (long)(intptr_t)arg;
	while (atomic_fetch_sub(&remaining, 1) > 0) {
		struct bench_mbox *b = &boxes[(k++ * 7) % MAILBOXES];
		struct spool_rcpt rc = {.mailbox_id = b->id, .pk = b->pk, .folder = "INBOX"};
		struct spool_writer *w;
		const char *error;
		int result;
		if (spool_writer_begin(spool, &rc, 1, 0, &w, &error) < 0 ||
		    spool_writer_write(w, msg, sizeof(msg), &error) < 0 ||
		    spool_writer_commit(&w, &result, &error) < 0) {
			spool_writer_abort(&w);
			atomic_fetch_add(&failures, 1);
		}
	}
	return NULL;
}

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	const char *base = argc > 1 ? argv[1] : "/tmp";
	uint64_t per_run = 20000;
	if (argc > 2 && sp_parse_u64(argv[2], 10000000, &per_run) < 0)
		return 2;
	char dir[600], sdir[700];
	snprintf(dir, sizeof(dir), "%s/spool_bench_XXXXXX", base);
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(sdir, sizeof(sdir), "%s/spool", dir);
	const char *error;
	if (spool_open(sdir, &spool, &error) < 0) {
		fprintf(stderr, "spool_open: %s\n", error);
		return 1;
	}
	for (int i = 0; i < MAILBOXES; i++) {
		uint8_t sk[32];
		snprintf(boxes[i].id, sizeof(boxes[i].id), "bench%d", i);
		crypto_box_keypair(boxes[i].pk, sk);
	}
	double rates[3];
	for (int run = 0; run < 3; run++) {
		atomic_store(&remaining, (long)per_run);
		uint64_t s0 = atomic_load(&spool->dir_syncs),
		         b0 = atomic_load(&spool->dir_requests);
		clock_t c0 = clock();
		double t0 = now_s();
		pthread_t th[THREADS];
		for (long i = 0; i < THREADS; i++)
			pthread_create(&th[i], NULL, producer, (void *)(intptr_t)(i * 1000));
		for (int i = 0; i < THREADS; i++)
			pthread_join(th[i], NULL);
		double dt = now_s() - t0;
		double cpu = (double)(clock() - c0) / CLOCKS_PER_SEC;
		rates[run] = (double)per_run / dt;
		printf("run %d: %llu deliveries in %.2f s = %.0f/s, CPU %.1f us/delivery, "
		       "%llu dir fsyncs for %llu requests\n",
		       run + 1, (unsigned long long)per_run, dt, rates[run],
		       cpu * 1e6 / (double)per_run,
		       (unsigned long long)(atomic_load(&spool->dir_syncs) - s0),
		       (unsigned long long)(atomic_load(&spool->dir_requests) - b0));
	}
	qsort(rates, 3, sizeof(rates[0]), cmp_double);
	printf("median: %.0f deliveries/s (20 threads, 4 KiB, fsync), failures %ld\n", rates[1],
	       atomic_load(&failures));
	/* spool_usage on one mailbox holding USAGE_ENTRIES entries */
	enum { USAGE_ENTRIES = 5000 };
	uint8_t sk[32];
	snprintf(boxes[0].id, sizeof(boxes[0].id), "usage");
	crypto_box_keypair(boxes[0].pk, sk);
	for (int i = 0; i < USAGE_ENTRIES; i++) {
		struct spool_rcpt rc = {
		    .mailbox_id = "usage", .pk = boxes[0].pk, .folder = "INBOX"};
		struct spool_writer *w;
		int result;
		if (spool_writer_begin(spool, &rc, 1, 0, &w, &error) < 0 ||
		    spool_writer_commit(&w, &result, &error) < 0)
			atomic_fetch_add(&failures, 1);
	}
	uint64_t bytes, count;
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1)
			sleep(2); /* let the directory settle: then it is cached */
		double t0 = now_s();
		int reps = 50;
		for (int i = 0; i < reps; i++)
			spool_usage(spool, "usage", &bytes, &count, &error);
		printf("spool_usage (%s): %llu entries, %llu bytes, %.3f ms per call\n",
		       pass == 0 ? "directory just changed: scan" : "settled directory: cached",
		       (unsigned long long)count, (unsigned long long)bytes,
		       (now_s() - t0) * 1000 / reps);
	}
	spool_close(&spool);
	nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	return atomic_load(&failures) == 0 ? 0 : 1;
}
