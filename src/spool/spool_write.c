/* Spool writer: encrypts a message once with a fresh secretstream key in
 * SPOOL_CHUNK pieces into an unnamed file in spool/tmp, seals the key and
 * each recipient's metadata to that recipient's public key, then fsyncs
 * the file, links it into every recipient's directory and group-fsyncs
 * those directories before reporting success (format in spool.h). */
#include "spool/spool_private.h"
#include "lib/sp_str.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct writer_rcpt {
	char mailbox_id[SPOOL_MAILBOX_ID_MAX + 1];
	uint8_t pk[crypto_box_PUBLICKEYBYTES];
	char *folder;
	size_t folder_len;
	uint8_t *headers;
	size_t headers_len;
};

struct spool_writer {
	struct spool *spool;
	struct writer_rcpt *rcpts;
	size_t n;
	char id[SPOOL_ID_SIZE];
	char tmpname[SPOOL_ID_SIZE + 4]; /* named-tmp fallback only */
	int64_t received;
	int fd;
	/* locked memory: key at 0, secretstream state at 64, stanza at 256 */
	uint8_t *secrets;
	struct keys_secret *own; /* secrets when the spool's pool was empty */
	uint8_t *key;
	crypto_secretstream_xchacha20poly1305_state *state;
	uint8_t *buf, *cbuf;
	size_t buf_len;
	uint64_t body_size, stream_len;
	size_t stanza_plain_len, stanza_len;
	off_t off;
	bool failed;
};

static _Atomic uint64_t spool_last_us;

/* Receipt-ordered ids: microseconds, strictly increasing within a process,
 * then 32 random bits against collisions between processes. */
static void spool_id_generate(char id_r[SPOOL_ID_SIZE])
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
	uint64_t last = atomic_load(&spool_last_us), next;
	do {
		next = now > last ? now : last + 1;
	} while (!atomic_compare_exchange_weak(&spool_last_us, &last, next));
	snprintf(id_r, SPOOL_ID_SIZE, "%016llx-%08x", (unsigned long long)next,
	         (unsigned)randombytes_random());
}

static int pwrite_all(int fd, const void *data, size_t len, off_t off)
{
	const uint8_t *p = data;
	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

static void writer_free(struct spool_writer **wp)
{
	struct spool_writer *w = *wp;
	if (w == NULL)
		return;
	if (w->fd >= 0) {
		if (w->tmpname[0] != '\0')
			(void)unlinkat(w->spool->tmpfd, w->tmpname, 0);
		close(w->fd);
	}
	for (size_t i = 0; i < w->n; i++) {
		free(w->rcpts[i].folder);
		free(w->rcpts[i].headers);
	}
	free(w->rcpts);
	if (w->own != NULL)
		keys_secret_free(&w->own);
	else if (w->secrets != NULL)
		spool_locked_put(w->spool, w->secrets);
	if (w->buf != NULL)
		sodium_memzero(w->buf, SPOOL_CHUNK); /* plaintext of the message */
	free(w->buf);
	free(w->cbuf);
	free(w);
	*wp = NULL;
}

static int check_rcpts(const struct spool_rcpt *rcpts, size_t n, const char **error_r)
{
	if (n == 0 || n > SPOOL_RCPTS_MAX) {
		*error_r = "bad recipient count";
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		const struct spool_rcpt *r = &rcpts[i];
		if (r->mailbox_id == NULL || !spool_mailbox_id_valid(r->mailbox_id)) {
			*error_r = "invalid mailbox id";
			return -1;
		}
		if (r->pk == NULL || r->folder == NULL ||
		    strnlen(r->folder, SPOOL_FOLDER_MAX + 1) > SPOOL_FOLDER_MAX) {
			*error_r = "missing key or bad folder name";
			return -1;
		}
		if (r->headers_len > SPOOL_HEADERS_MAX ||
		    (r->headers == NULL && r->headers_len > 0)) {
			*error_r = "prepended header lines too long";
			return -1;
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(rcpts[j].mailbox_id, r->mailbox_id) == 0) {
				*error_r = "duplicate recipient mailbox";
				return -1;
			}
		}
	}
	return 0;
}

static int open_tmp(struct spool_writer *w)
{
	struct spool *spool = w->spool;
	if (spool->use_tmpfile) {
		w->fd = openat(spool->tmpfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		return w->fd < 0 ? -1 : 0;
	}
	snprintf(w->tmpname, sizeof(w->tmpname), "%s.tmp", w->id);
	w->fd = openat(spool->tmpfd, w->tmpname, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
	if (w->fd < 0) {
		w->tmpname[0] = '\0';
		return -1;
	}
	/* held until commit or abort: spool_open removes only unlocked files */
	return flock(w->fd, LOCK_EX);
}

int spool_writer_begin(struct spool *spool, const struct spool_rcpt *rcpts, size_t n,
                       int64_t received, struct spool_writer **w_r, const char **error_r)
{
	if (check_rcpts(rcpts, n, error_r) < 0)
		return -1;
	struct spool_writer *w = sp_calloc(1, sizeof(*w));
	w->spool = spool;
	w->fd = -1;
	w->received = received != 0 ? received : (int64_t)time(NULL);
	w->rcpts = sp_calloc(n, sizeof(*w->rcpts));
	w->n = n;
	for (size_t i = 0; i < n; i++) {
		struct writer_rcpt *r = &w->rcpts[i];
		sp_strlcpy(r->mailbox_id, rcpts[i].mailbox_id, sizeof(r->mailbox_id));
		memcpy(r->pk, rcpts[i].pk, sizeof(r->pk));
		r->folder_len = strlen(rcpts[i].folder);
		r->folder = sp_strdup(rcpts[i].folder);
		r->headers_len = rcpts[i].headers_len;
		r->headers = sp_memdup(rcpts[i].headers, r->headers_len);
		w->stanza_plain_len = SP_MAX(w->stanza_plain_len,
		                             spool_stanza_plain_len(r->folder_len, r->headers_len));
	}
	w->stanza_len = w->stanza_plain_len + crypto_box_SEALBYTES;
	spool_id_generate(w->id);
	if (open_tmp(w) < 0) {
		*error_r = "cannot create a spool file";
		writer_free(&w);
		return -1;
	}
	uint8_t head[SPOOL_FILE_HEADER_LEN];
	memcpy(head, SPOOL_MAGIC, 8);
	for (int i = 0; i < 4; i++) {
		head[8 + i] = (uint8_t)(n >> (8 * i));
		head[12 + i] = (uint8_t)(w->stanza_len >> (8 * i));
	}
	/* stanzas are written at commit, when the body size is known */
	w->off = (off_t)(SPOOL_FILE_HEADER_LEN + n * w->stanza_len);
	w->secrets = spool_locked_get(spool);
	if (w->secrets == NULL) {
		w->own = keys_secret_new(SPOOL_LOCKED_SLOT);
		w->secrets = w->own->p;
	}
	w->key = w->secrets;
	w->state = (crypto_secretstream_xchacha20poly1305_state *)(void *)(w->secrets + 64);
	_Static_assert(sizeof(crypto_secretstream_xchacha20poly1305_state) <= 192, "state size");
	randombytes_buf(w->key, crypto_secretstream_xchacha20poly1305_KEYBYTES);
	uint8_t ss_head[crypto_secretstream_xchacha20poly1305_HEADERBYTES];
	crypto_secretstream_xchacha20poly1305_init_push(w->state, ss_head, w->key);
	if (pwrite_all(w->fd, head, sizeof(head), 0) < 0 ||
	    pwrite_all(w->fd, ss_head, sizeof(ss_head), w->off) < 0) {
		*error_r = "cannot write the spool file";
		writer_free(&w);
		return -1;
	}
	w->off += (off_t)sizeof(ss_head);
	w->buf = sp_malloc(SPOOL_CHUNK);
	w->cbuf = sp_malloc(SPOOL_CIPHER_CHUNK);
	*w_r = w;
	return 0;
}

const char *spool_writer_id(const struct spool_writer *w)
{
	return w->id;
}

static int push_chunk(struct spool_writer *w, uint8_t tag)
{
	unsigned long long clen;
	crypto_secretstream_xchacha20poly1305_push(w->state, w->cbuf, &clen, w->buf, w->buf_len,
	                                           NULL, 0, tag);
	w->stream_len += w->buf_len;
	w->buf_len = 0;
	if (pwrite_all(w->fd, w->cbuf, (size_t)clen, w->off) < 0) {
		w->failed = true;
		return -1;
	}
	w->off += (off_t)clen;
	return 0;
}

/* Appends len bytes of data (zeros when data is NULL) to the stream; a
 * full chunk is pushed only when more follows, so the last one can still
 * be tagged FINAL at commit. */
static int append(struct spool_writer *w, const uint8_t *data, size_t len)
{
	while (len > 0) {
		if (w->buf_len == SPOOL_CHUNK &&
		    push_chunk(w, crypto_secretstream_xchacha20poly1305_TAG_MESSAGE) < 0)
			return -1;
		size_t take = SP_MIN(len, SPOOL_CHUNK - w->buf_len);
		if (data != NULL) {
			memcpy(w->buf + w->buf_len, data, take);
			data += take;
		} else {
			memset(w->buf + w->buf_len, 0, take);
		}
		w->buf_len += take;
		len -= take;
	}
	return 0;
}

int spool_writer_write(struct spool_writer *w, const void *data, size_t len, const char **error_r)
{
	if (w->failed) {
		*error_r = "spool file write failed earlier";
		return -1;
	}
	if (len > SPOOL_BODY_MAX - w->body_size) {
		w->failed = true;
		*error_r = "message too large for the spool";
		return -1;
	}
	if (append(w, data, len) < 0) {
		*error_r = "cannot write the spool file";
		return -1;
	}
	w->body_size += len;
	return 0;
}

static int write_stanzas(struct spool_writer *w)
{
	/* the stanza holds the key: locked memory, in the block when it fits */
	struct keys_secret *big = NULL;
	uint8_t *plain = w->secrets + 256;
	if (w->stanza_plain_len > SPOOL_LOCKED_SLOT - 256) {
		big = keys_secret_new(w->stanza_plain_len);
		plain = big->p;
	}
	uint8_t *sealed = sp_malloc(w->stanza_len);
	int rc = 0;
	for (size_t i = 0; i < w->n && rc == 0; i++) {
		const struct writer_rcpt *r = &w->rcpts[i];
		struct spool_stanza s = {
		    .index = (uint32_t)i,
		    .key = w->key,
		    .received = w->received,
		    .body_size = w->body_size,
		    .stream_size = w->stream_len,
		    .folder = r->folder,
		    .folder_len = r->folder_len,
		    .headers = r->headers,
		    .headers_len = r->headers_len,
		};
		memcpy(s.spool_id, w->id, SPOOL_ID_SIZE);
		spool_stanza_encode(&s, plain, w->stanza_plain_len);
		crypto_box_seal(sealed, plain, w->stanza_plain_len, r->pk);
		rc = pwrite_all(w->fd, sealed, w->stanza_len,
		                (off_t)(SPOOL_FILE_HEADER_LEN + i * w->stanza_len));
	}
	free(sealed);
	if (big != NULL)
		keys_secret_free(&big);
	else
		sodium_memzero(plain, w->stanza_plain_len);
	return rc;
}

/* Links the file into dirfd as name. O_TMPFILE files are linked through
 * AT_EMPTY_PATH, or /proc/self/fd where that needs a capability. */
static int link_into(struct spool_writer *w, int dirfd, const char *name)
{
	if (w->tmpname[0] != '\0')
		return linkat(w->spool->tmpfd, w->tmpname, dirfd, name, 0);
	if (linkat(w->fd, "", dirfd, name, AT_EMPTY_PATH) == 0)
		return 0;
	if (errno != ENOENT && errno != EPERM)
		return -1;
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", w->fd);
	return linkat(AT_FDCWD, path, dirfd, name, AT_SYMLINK_FOLLOW);
}

static int open_rcpt_dir(struct spool *spool, const char *mailbox_id)
{
	int fd = openat(spool->dirfd, mailbox_id, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0 || errno != ENOENT)
		return fd;
	if (mkdirat(spool->dirfd, mailbox_id, 0700) < 0 && errno != EEXIST)
		return -1;
	/* the new directory's own entry must survive a crash too */
	if (fsync(spool->dirfd) < 0)
		return -1;
	return openat(spool->dirfd, mailbox_id, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

int spool_writer_commit(struct spool_writer **wp, int results_r[], const char **error_r)
{
	struct spool_writer *w = *wp;
	for (size_t i = 0; i < w->n; i++)
		results_r[i] = -1;
	int rc = -1;
	if (w->failed) {
		*error_r = "spool file write failed earlier";
		goto out;
	}
	uint64_t padded = spool_bucket(w->body_size);
	if (append(w, NULL, padded - w->body_size) < 0 ||
	    push_chunk(w, crypto_secretstream_xchacha20poly1305_TAG_FINAL) < 0 ||
	    write_stanzas(w) < 0) {
		*error_r = "cannot write the spool file";
		goto out;
	}
	sp_assert(w->stream_len == padded);
	if (fsync(w->fd) < 0) {
		*error_r = "cannot sync the spool file";
		goto out;
	}
	struct spool_sync_req *reqs = sp_calloc(w->n, sizeof(*reqs)), *list = NULL;
	char(*names)[SPOOL_NAME_SIZE] = sp_calloc(w->n, SPOOL_NAME_SIZE);
	for (size_t i = 0; i < w->n; i++) {
		reqs[i].fd = open_rcpt_dir(w->spool, w->rcpts[i].mailbox_id);
		if (reqs[i].fd < 0)
			continue;
		snprintf(names[i], SPOOL_NAME_SIZE, "%s.%zu.%llu", w->id, i,
		         (unsigned long long)w->off);
		struct stat st;
		if (link_into(w, reqs[i].fd, names[i]) < 0 || fstat(reqs[i].fd, &st) < 0) {
			close(reqs[i].fd);
			reqs[i].fd = -1;
			continue;
		}
		reqs[i].dev = st.st_dev;
		reqs[i].ino = st.st_ino;
		reqs[i].next = list;
		list = &reqs[i];
	}
	spool_sync_dirs(w->spool, list);
	size_t ok = 0;
	for (size_t i = 0; i < w->n; i++) {
		if (reqs[i].fd < 0)
			continue;
		if (reqs[i].err == 0) {
			results_r[i] = 0;
			ok++;
		} else {
			/* not known durable: do not let it be delivered later
			 * after the sender was told to retry */
			(void)unlinkat(reqs[i].fd, names[i], 0);
		}
		close(reqs[i].fd);
	}
	free(reqs);
	free(names);
	if (ok > 0)
		rc = 0;
	else
		*error_r = "cannot link the spool file for any recipient";
out:
	writer_free(wp);
	return rc;
}

void spool_writer_abort(struct spool_writer **w)
{
	writer_free(w);
}
