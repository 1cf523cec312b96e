/* Internals of src/spool shared by its files, tests and fuzz targets. */
#ifndef SPOOL_PRIVATE_H
#define SPOOL_PRIVATE_H

#include "spool/spool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>

#define SPOOL_MAGIC "SPOOL\x01\0\0"
#define SPOOL_FILE_HEADER_LEN 16
#define SPOOL_STANZA_ALIGN 1024
#define SPOOL_STANZA_VERSION 1
/* version, pad, index, key, received, L, P, id len, folder len, hdr len */
#define SPOOL_STANZA_FIXED (1 + 3 + 4 + 32 + 8 + 8 + 8 + 1 + 2 + 4)
#define SPOOL_STANZA_PLAIN_MAX                                                                     \
	(((SPOOL_STANZA_FIXED + SPOOL_ID_LEN + SPOOL_FOLDER_MAX + SPOOL_HEADERS_MAX) /             \
	      SPOOL_STANZA_ALIGN +                                                                 \
	  1) *                                                                                     \
	 SPOOL_STANZA_ALIGN)
#define SPOOL_CIPHER_CHUNK (SPOOL_CHUNK + 17) /* + crypto_secretstream ABYTES */

/* A stanza's content. key, folder and headers point into the caller's
 * memory (the parse input): keep that in locked memory, it holds the key. */
struct spool_stanza {
	uint32_t index;
	const uint8_t *key; /* 32 bytes */
	int64_t received;
	uint64_t body_size;   /* L */
	uint64_t stream_size; /* P */
	char spool_id[SPOOL_ID_SIZE];
	const char *folder; /* not NUL-terminated */
	size_t folder_len;
	const uint8_t *headers;
	size_t headers_len;
};

/* The plaintext length of a stanza for these field lengths, rounded up to
 * SPOOL_STANZA_ALIGN. */
size_t spool_stanza_plain_len(size_t folder_len, size_t headers_len);
/* Writes s into out (out_len bytes, >= spool_stanza_plain_len), zero-padded. */
void spool_stanza_encode(const struct spool_stanza *s, uint8_t *out, size_t out_len);
/* Parses a stanza plaintext of len bytes. 0 ok, -1 with *error_r. */
int spool_stanza_parse(const uint8_t *in, size_t len, struct spool_stanza *s, const char **error_r);
/* The padded stream length P for a body of L bytes. */
uint64_t spool_bucket(uint64_t body_size);
/* true for a well-formed spool id. */
bool spool_id_valid(const char *id, size_t len);
/* Parses an entry name into e (name copied). 0 ok, -1 when malformed. */
int spool_entry_parse_name(const char *name, struct spool_entry *e);
bool spool_mailbox_id_valid(const char *mailbox_id);

#define SPOOL_LOCKED_SLOT 4096
#define SPOOL_LOCKED_SLOTS 64

/* A recipient directory that a commit waits to see synced. */
struct spool_sync_req {
	int fd;
	dev_t dev;
	ino_t ino;
	int err; /* errno of the fsync that covered it, 0 ok */
	bool done;
	struct spool_dirsync *ds;
	struct spool_sync_req *next; /* caller's list, then the dir's queue */
};

/* Group commit state of one directory, alive while commits wait on it. */
struct spool_dirsync {
	dev_t dev;
	ino_t ino;
	bool running;                 /* an fsync of it is in progress */
	unsigned users;               /* requests referring to this entry */
	struct spool_sync_req *queue; /* linked, waiting for the next fsync */
	struct spool_dirsync *next;   /* hash chain */
};

#define SPOOL_DIRSYNC_BUCKETS 64

/* spool_usage() result of a directory that had not changed for a while,
 * valid while the directory's inode and mtime stay the same. */
struct spool_usage_cached {
	char mailbox_id[SPOOL_MAILBOX_ID_MAX + 1];
	ino_t ino;
	struct timespec mtime;
	uint64_t bytes, count;
};

#define SPOOL_USAGE_CACHE 256
/* Only a directory whose mtime is older than this when it is scanned is
 * cached: any later change then gets a later mtime, even with coarse
 * file system timestamps. */
#define SPOOL_USAGE_SETTLED_NS 1000000000LL

struct spool {
	char *path;
	int dirfd, tmpfd;
	bool use_tmpfile;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct spool_dirsync *dirsync[SPOOL_DIRSYNC_BUCKETS];
	/* statistics: directory fsync calls, and requests they served */
	atomic_uint_fast64_t dir_syncs, dir_requests;
	struct spool_usage_cached usage[SPOOL_USAGE_CACHE]; /* direct-mapped by id hash */
	atomic_uint_fast64_t usage_scans;
	/* Locked memory for writers' keys and stanzas, allocated once:
	 * sodium_malloc per message costs mmap/mprotect/munmap and TLB
	 * shootdowns across threads, which dominated the commit CPU. */
	uint8_t *locked;
	uint32_t locked_free[SPOOL_LOCKED_SLOTS];
	size_t locked_free_n;
};

/* A wiped SPOOL_LOCKED_SLOT-byte block of locked memory, or NULL when all
 * are in use (then use keys_secret_new). */
uint8_t *spool_locked_get(struct spool *spool);
/* Wipes and returns a block from spool_locked_get. */
void spool_locked_put(struct spool *spool, uint8_t *p);

/* Tests set this before spool_open to exercise the named-tmp fallback. */
extern bool spool_test_force_named_tmp;

/* Returns once every directory in reqs (a list linked by next; fd, dev
 * and ino set) was fsynced after the call began, with each req->err set.
 * Group commit per directory: a waiter that finds no fsync of its
 * directory running starts one that covers every request queued for that
 * directory so far; later arrivals queue for the next. Different
 * directories sync in parallel. */
void spool_sync_dirs(struct spool *spool, struct spool_sync_req *reqs);

#endif
