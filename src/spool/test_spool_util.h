/* Helpers shared by the spool's unit tests: scratch directories, test
 * mailboxes with X25519 pairs, and reading an entry back whole. */
#ifndef TEST_SPOOL_UTIL_H
#define TEST_SPOOL_UTIL_H

#include "spool/spool_private.h"
#include "lib/sp_buf.h"
#include "lib/sp_test.h"

#include <ftw.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

struct test_mbox {
	char id[32];
	uint8_t pk[KEYS_KEY_LEN];
	struct keys_secret *sk;
};

static inline void test_mbox_init(struct test_mbox *m, const char *id)
{
	struct keys_secret *ak = keys_secret_random(KEYS_KEY_LEN);
	uint8_t blob[KEYS_BLOB_LEN];
	snprintf(m->id, sizeof(m->id), "%s", id);
	keys_box_keypair_new(ak, m->id, m->pk, blob);
	m->sk = NULL;
	if (keys_box_sk_open(ak, m->id, blob, &m->sk) < 0)
		sp_panic("cannot open a fresh secret key");
	keys_secret_free(&ak);
}

static inline void test_mbox_deinit(struct test_mbox *m)
{
	keys_secret_free(&m->sk);
}

static inline char *test_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char tmpl[512];
	snprintf(tmpl, sizeof(tmpl), "%s/sp_spool_XXXXXX", base != NULL ? base : "/tmp");
	if (mkdtemp(tmpl) == NULL)
		sp_panic("mkdtemp failed");
	return sp_strdup(tmpl);
}

static inline int test_rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static inline void test_rmtree(char **path)
{
	if (*path != NULL)
		nftw(*path, test_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	sp_free(path);
}

/* Reads an entry whole into out with reads of at most cap bytes.
 * 0 when it read to the verified end, -1 on an error (out then holds
 * whatever came before the error). */
static inline int test_read_entry(struct spool *spool, const char *mailbox_id,
                                  const struct spool_entry *e, const struct keys_secret *sk,
                                  size_t cap, struct sp_buf *out, struct spool_meta *meta,
                                  const char **error_r)
{
	struct spool_reader *r;
	if (spool_entry_open(spool, mailbox_id, e, sk, &r, meta, error_r) < 0)
		return -1;
	uint8_t *buf = sp_malloc(cap);
	int rc;
	for (;;) {
		size_t n;
		rc = spool_reader_read(r, buf, cap, &n, error_r);
		if (rc < 0 || n == 0)
			break;
		sp_buf_append(out, buf, n);
	}
	free(buf);
	spool_reader_free(&r);
	return rc;
}

/* Writes one message to rcpts in pieces of `piece` bytes and commits. */
static inline int test_deliver(struct spool *spool, const struct spool_rcpt *rcpts, size_t n,
                               const uint8_t *body, size_t len, size_t piece, int *results,
                               char id_r[SPOOL_ID_SIZE])
{
	struct spool_writer *w;
	const char *error;
	if (spool_writer_begin(spool, rcpts, n, 1700000000, &w, &error) < 0) {
		fprintf(stderr, "begin: %s\n", error);
		return -1;
	}
	if (id_r != NULL)
		snprintf(id_r, SPOOL_ID_SIZE, "%s", spool_writer_id(w));
	for (size_t off = 0; off < len; off += piece) {
		if (spool_writer_write(w, body + off, SP_MIN(piece, len - off), &error) < 0) {
			spool_writer_abort(&w);
			return -1;
		}
	}
	if (spool_writer_commit(&w, results, &error) < 0) {
		fprintf(stderr, "commit: %s\n", error);
		return -1;
	}
	return 0;
}

#endif
