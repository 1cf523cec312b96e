/* libFuzzer target for the spool reader on altered files. A valid sealed
 * file (three chunks, two stanzas) is made at start-up; each input edits a
 * copy of it (overwrite at an offset, truncate, or replace whole) and the
 * reader must either return exactly the original message or fail: never
 * crash, never return different or partial mail as complete. */
#include "spool/spool_private.h"
#include "lib/sp_buf.h"

#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct spool *spool;
static struct keys_secret *sk;
static struct spool_entry entry;
static struct sp_buf original, message;
static char entry_dir[512];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	char base[] = "/tmp/fuzz_spool_XXXXXX";
	if (mkdtemp(base) == NULL)
		sp_panic("mkdtemp");
	char dir[600];
	snprintf(dir, sizeof(dir), "%s/spool", base);
	const char *error;
	if (spool_open(dir, &spool, &error) < 0)
		sp_panic("spool_open: %s", error);
	uint8_t pk[32], seed[32] = {7};
	sk = keys_secret_new(32);
	crypto_box_seed_keypair(pk, sk->p, seed);
	uint8_t pk2[32];
	crypto_box_seed_keypair(pk2, sk->p + 0, seed); /* same pair, re-derived */
	struct spool_rcpt rc[2] = {
	    {.mailbox_id = "fuzzbox",
	     .pk = pk,
	     .folder = "INBOX",
	     .headers = (const uint8_t *)"Delivered-To: f@x\r\n",
	     .headers_len = 19},
	    {.mailbox_id = "other", .pk = pk2, .folder = "Junk"},
	};
	struct spool_writer *w;
	if (spool_writer_begin(spool, rc, 2, 1700000000, &w, &error) < 0)
		sp_panic("begin: %s", error);
	sp_buf_append_str(&message, "Delivered-To: f@x\r\n");
	for (int i = 0; i < 150000; i++) {
		uint8_t c = (uint8_t)('a' + i % 26);
		sp_buf_append_byte(&message, c);
		if (spool_writer_write(w, &c, 1, &error) < 0)
			sp_panic("write: %s", error);
	}
	int results[2];
	if (spool_writer_commit(&w, results, &error) < 0)
		sp_panic("commit: %s", error);
	size_t n;
	if (spool_list(spool, "fuzzbox", NULL, &entry, 1, &n, &error) < 0 || n != 1)
		sp_panic("list");
	snprintf(entry_dir, sizeof(entry_dir), "%s/fuzzbox", dir);
	char path[700];
	snprintf(path, sizeof(path), "%s/%s", entry_dir, entry.name);
	FILE *f = fopen(path, "rb");
	uint8_t buf[65536];
	size_t got;
	while ((got = fread(buf, 1, sizeof(buf), f)) > 0)
		sp_buf_append(&original, buf, got);
	fclose(f);
	unlink(path);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 5)
		return 0;
	struct sp_buf file = SP_BUF_INIT;
	uint32_t off = (uint32_t)data[1] | (uint32_t)data[2] << 8 | (uint32_t)data[3] << 16 |
	               (uint32_t)data[4] << 24;
	switch (data[0] % 3) {
	case 0: /* overwrite at an offset */
		sp_buf_append(&file, original.data, original.len);
		off %= (uint32_t)original.len;
		memcpy(file.data + off, data + 5, SP_MIN(size - 5, file.len - off));
		break;
	case 1: /* truncate, then append the input */
		sp_buf_append(&file, original.data, off % (original.len + 1));
		sp_buf_append(&file, data + 5, size - 5);
		break;
	default: /* replace whole */
		sp_buf_append(&file, data + 5, size - 5);
		break;
	}
	struct spool_entry e = entry;
	snprintf(e.name, sizeof(e.name), "%s.0.%zu", entry.spool_id, file.len);
	e.size = file.len;
	char path[700];
	snprintf(path, sizeof(path), "%s/%s", entry_dir, e.name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	sp_assert(fd >= 0);
	sp_assert(file.len == 0 || write(fd, file.data, file.len) == (ssize_t)file.len);
	close(fd);

	struct spool_reader *r;
	struct spool_meta meta;
	const char *error;
	bool same = file.len == original.len && memcmp(file.data, original.data, file.len) == 0;
	if (spool_entry_open(spool, "fuzzbox", &e, sk, &r, &meta, &error) == 0) {
		struct sp_buf got = SP_BUF_INIT;
		uint8_t buf[7000];
		size_t n;
		int rc;
		while ((rc = spool_reader_read(r, buf, sizeof(buf), &n, &error)) == 0 && n > 0)
			sp_buf_append(&got, buf, n);
		if (rc == 0)
			sp_assert(got.len == message.len &&
			          memcmp(got.data, message.data, got.len) == 0);
		spool_reader_free(&r);
		sp_buf_deinit(&got);
	} else {
		sp_assert(!same);
	}
	unlink(path);
	sp_buf_deinit(&file);
	return 0;
}
