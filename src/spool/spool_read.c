/* Spool reader for the drain: opens a recipient's stanza with the
 * mailbox's X25519 secret key and streams the prepended header lines and
 * the decrypted body, verifying every chunk, the FINAL tag, the padded
 * length and the end of file, so truncation or tampering is an error and
 * never partial mail (format in spool.h). */
#include "spool/spool_private.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct spool_reader {
	int fd;
	off_t off, file_size;
	struct keys_secret *state; /* crypto_secretstream state */
	uint8_t *cbuf, *pbuf;
	size_t p_off, p_len;
	uint8_t *headers;
	size_t headers_len, headers_off;
	uint64_t body_size, body_out, stream_size, stream_in;
	bool final_seen, failed;
};

void spool_reader_free(struct spool_reader **rp)
{
	struct spool_reader *r = *rp;
	if (r == NULL)
		return;
	if (r->fd >= 0)
		close(r->fd);
	keys_secret_free(&r->state);
	if (r->pbuf != NULL)
		sodium_memzero(r->pbuf, SPOOL_CHUNK);
	free(r->pbuf);
	free(r->cbuf);
	free(r->headers);
	free(r);
	*rp = NULL;
}

static ssize_t pread_full(int fd, void *buf, size_t len, off_t off)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = pread(fd, (uint8_t *)buf + got, len - got, off + (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The file size that a stream of stream_size plaintext bytes implies. */
static uint64_t expected_size(uint64_t n, uint64_t stanza_len, uint64_t stream_size)
{
	uint64_t chunks = stream_size == 0 ? 1 : (stream_size + SPOOL_CHUNK - 1) / SPOOL_CHUNK;
	return SPOOL_FILE_HEADER_LEN + n * stanza_len +
	       crypto_secretstream_xchacha20poly1305_HEADERBYTES + stream_size +
	       chunks * crypto_secretstream_xchacha20poly1305_ABYTES;
}

/* Reads the sealed stanza, opens it with sk, and starts the stream. */
static int open_stanza(struct spool_reader *r, const struct spool_entry *entry,
                       const struct keys_secret *sk, struct spool_meta *meta, const char **error_r)
{
	uint8_t head[SPOOL_FILE_HEADER_LEN];
	if (pread_full(r->fd, head, sizeof(head), 0) != (ssize_t)sizeof(head) ||
	    memcmp(head, SPOOL_MAGIC, 8) != 0) {
		*error_r = "not a spool file";
		return -1;
	}
	uint32_t n = get_u32(head + 8), stanza_len = get_u32(head + 12);
	if (n == 0 || n > SPOOL_RCPTS_MAX || entry->stanza >= n ||
	    stanza_len < crypto_box_SEALBYTES + SPOOL_STANZA_ALIGN ||
	    stanza_len > crypto_box_SEALBYTES + SPOOL_STANZA_PLAIN_MAX ||
	    (stanza_len - crypto_box_SEALBYTES) % SPOOL_STANZA_ALIGN != 0) {
		*error_r = "bad spool file header";
		return -1;
	}
	uint8_t *sealed = sp_malloc(stanza_len);
	struct keys_secret *plain = keys_secret_new(stanza_len - crypto_box_SEALBYTES);
	uint8_t pk[crypto_box_PUBLICKEYBYTES];
	int rc = -1;
	struct spool_stanza s;
	*error_r = "spool entry not sealed to this mailbox, or altered";
	if (pread_full(r->fd, sealed, stanza_len,
	               (off_t)(SPOOL_FILE_HEADER_LEN + (uint64_t)entry->stanza * stanza_len)) !=
	        (ssize_t)stanza_len ||
	    sk->len != crypto_box_SECRETKEYBYTES || crypto_scalarmult_base(pk, sk->p) != 0 ||
	    crypto_box_seal_open(plain->p, sealed, stanza_len, pk, sk->p) != 0)
		goto out;
	if (spool_stanza_parse(plain->p, plain->len, &s, error_r) < 0)
		goto out;
	if (s.index != entry->stanza || strcmp(s.spool_id, entry->spool_id) != 0) {
		*error_r = "spool entry name does not match its stanza";
		goto out;
	}
	if ((uint64_t)r->file_size != expected_size(n, stanza_len, s.stream_size)) {
		*error_r = "spool file truncated or extended";
		goto out;
	}
	off_t data = (off_t)(SPOOL_FILE_HEADER_LEN + (uint64_t)n * stanza_len);
	uint8_t ss_head[crypto_secretstream_xchacha20poly1305_HEADERBYTES];
	r->state = keys_secret_new(sizeof(crypto_secretstream_xchacha20poly1305_state));
	if (pread_full(r->fd, ss_head, sizeof(ss_head), data) != (ssize_t)sizeof(ss_head) ||
	    crypto_secretstream_xchacha20poly1305_init_pull(
	        (crypto_secretstream_xchacha20poly1305_state *)r->state->p, ss_head, s.key) != 0) {
		*error_r = "bad spool stream header";
		goto out;
	}
	r->off = data + (off_t)sizeof(ss_head);
	r->body_size = s.body_size;
	r->stream_size = s.stream_size;
	r->headers_len = s.headers_len;
	r->headers = sp_memdup(s.headers, s.headers_len);
	memset(meta, 0, sizeof(*meta));
	memcpy(meta->spool_id, s.spool_id, SPOOL_ID_SIZE);
	meta->received = s.received;
	memcpy(meta->folder, s.folder, s.folder_len);
	meta->folder[s.folder_len] = '\0';
	meta->body_size = s.body_size;
	meta->headers_len = s.headers_len;
	meta->size = s.body_size + s.headers_len;
	rc = 0;
out:
	free(sealed);
	keys_secret_free(&plain);
	return rc;
}

int spool_entry_open(struct spool *spool, const char *mailbox_id, const struct spool_entry *entry,
                     const struct keys_secret *sk, struct spool_reader **r_r,
                     struct spool_meta *meta_r, const char **error_r)
{
	struct spool_entry check;
	if (!spool_mailbox_id_valid(mailbox_id) ||
	    spool_entry_parse_name(entry->name, &check) < 0 || check.stanza != entry->stanza ||
	    check.size != entry->size || strcmp(check.spool_id, entry->spool_id) != 0) {
		*error_r = "invalid spool entry";
		return -1;
	}
	int dfd = openat(spool->dirfd, mailbox_id, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		*error_r = "spool entry not found";
		return -1;
	}
	struct spool_reader *r = sp_calloc(1, sizeof(*r));
	r->fd = openat(dfd, entry->name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	close(dfd);
	struct stat st;
	if (r->fd < 0 || fstat(r->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		*error_r = "spool entry not found";
		spool_reader_free(&r);
		return -1;
	}
	r->file_size = st.st_size;
	if ((uint64_t)st.st_size != entry->size) {
		*error_r = "spool file truncated or extended";
		spool_reader_free(&r);
		return -1;
	}
	if (open_stanza(r, entry, sk, meta_r, error_r) < 0) {
		spool_reader_free(&r);
		return -1;
	}
	r->cbuf = sp_malloc(SPOOL_CIPHER_CHUNK);
	r->pbuf = sp_malloc(SPOOL_CHUNK);
	*r_r = r;
	return 0;
}

/* Decrypts the next chunk into pbuf, enforcing chunk sizes, tags and the
 * end of file after FINAL. */
static int next_chunk(struct spool_reader *r, const char **error_r)
{
	if (r->final_seen) {
		*error_r = "spool stream ended early";
		return -1;
	}
	ssize_t got = pread_full(r->fd, r->cbuf, SPOOL_CIPHER_CHUNK, r->off);
	if (got < (ssize_t)crypto_secretstream_xchacha20poly1305_ABYTES) {
		*error_r = got < 0 ? "cannot read the spool file" : "spool file truncated";
		return -1;
	}
	unsigned long long mlen;
	uint8_t tag;
	if (crypto_secretstream_xchacha20poly1305_pull(
	        (crypto_secretstream_xchacha20poly1305_state *)r->state->p, r->pbuf, &mlen, &tag,
	        r->cbuf, (unsigned long long)got, NULL, 0) != 0) {
		*error_r = "spool file altered or truncated";
		return -1;
	}
	r->off += got;
	r->stream_in += mlen;
	r->p_off = 0;
	r->p_len = (size_t)mlen;
	if (r->stream_in > r->stream_size) {
		*error_r = "spool stream longer than announced";
		return -1;
	}
	if (tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL) {
		r->final_seen = true;
		uint8_t extra;
		if (r->stream_in != r->stream_size || pread_full(r->fd, &extra, 1, r->off) != 0) {
			*error_r = "spool stream length mismatch";
			return -1;
		}
		return 0;
	}
	if (tag != crypto_secretstream_xchacha20poly1305_TAG_MESSAGE || mlen != SPOOL_CHUNK) {
		*error_r = "spool file truncated";
		return -1;
	}
	return 0;
}

int spool_reader_read(struct spool_reader *r, void *buf, size_t cap, size_t *n_r,
                      const char **error_r)
{
	*n_r = 0;
	sp_assert(cap > 0); /* 0 bytes is how the end is reported */
	if (r->failed) {
		*error_r = "spool reader failed earlier";
		return -1;
	}
	if (r->headers_off < r->headers_len) {
		size_t take = SP_MIN(cap, r->headers_len - r->headers_off);
		memcpy(buf, r->headers + r->headers_off, take);
		r->headers_off += take;
		*n_r = take;
		return 0;
	}
	size_t n = 0;
	while (n == 0 && r->body_out < r->body_size) {
		if (r->p_off == r->p_len) {
			if (next_chunk(r, error_r) < 0)
				goto fail;
			continue;
		}
		uint64_t left = r->body_size - r->body_out;
		n = SP_MIN(cap,
		           SP_MIN(r->p_len - r->p_off, (size_t)SP_MIN(left, (uint64_t)SIZE_MAX)));
		memcpy(buf, r->pbuf + r->p_off, n);
		r->p_off += n;
		r->body_out += n;
	}
	/* Before the last byte goes out, verify the rest of the stream. */
	while (r->body_out == r->body_size && !r->final_seen) {
		if (next_chunk(r, error_r) < 0)
			goto fail;
	}
	*n_r = n;
	return 0;
fail:
	r->failed = true;
	*n_r = 0;
	return -1;
}
