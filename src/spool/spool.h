/* The sealed spool: the durable store for inbound mail until a session
 * holding the mailbox key drains it (DESIGN section 2, issue 3). The MX
 * never holds a mailbox key: it writes each message once, encrypted with a
 * fresh key that is sealed to every recipient mailbox's X25519 public key.
 * One path for online and offline delivery: write sealed, notify, drain.
 *
 * On disk, under the spool directory (DATA_DIR/spool):
 *
 *   tmp/                    files being written (O_TMPFILE: unnamed, so a
 *                           crashed or aborted write leaves nothing; on a
 *                           file system without O_TMPFILE, named files
 *                           held under flock that spool_open removes once
 *                           their writer is gone)
 *   <mailbox-id>/<name>     one hard link per recipient of a message:
 *                           name = "<spool id>.<stanza index>.<file size>"
 *
 * The link count is the reference count: each recipient's drain unlinks
 * its own name and the last unlink frees the file. The spool id is 16 hex
 * digits of the receipt time in microseconds, '-', 8 random hex digits
 * ("0006283a1b2c3d4e-9af3b2c1"), so names sort in receipt order. The size
 * in the name lets spool_usage() sum a directory with one readdir and no
 * stat (the size is no secret: ls -l shows it too).
 *
 * File format, version 1 (integers little-endian):
 *
 *   0   "SPOOL\x01\0\0"     8-byte magic and version
 *   8   u32 n               number of stanzas (recipients), 1..SPOOL_RCPTS_MAX
 *   12  u32 stanza_len      length of each sealed stanza
 *   16  n x stanza_len      crypto_box_seal(stanza plaintext, recipient pk)
 *   ..  24 bytes            crypto_secretstream_xchacha20poly1305 header
 *   ..  chunks              each SPOOL_CHUNK plaintext bytes + 17 (ABYTES),
 *                           the last one shorter or equal and tagged FINAL
 *
 *   stanza plaintext (zero-padded to a multiple of 1 KiB, the same length
 *   for every stanza of a file):
 *     u8 version (1), 3 zero bytes, u32 index of this stanza,
 *     32-byte secretstream key, i64 receipt time (Unix seconds),
 *     u64 body size L, u64 stream size P,
 *     u8 id length + spool id, u16 folder length + folder name (UTF-8),
 *     u32 headers length + the recipient's own prepended header lines
 *     (Return-Path, Delivered-To, Received: they differ per recipient
 *     while the body is stored once).
 *
 * The stream carries the body followed by zero bytes up to P, a size
 * bucket of L: 1 KiB minimum, powers of two up to 64 KiB, then steps of
 * 1/16th of the enclosing power of two (at least 64 KiB), so a file's size
 * says little more than the order of magnitude of the message's. Nothing
 * in the spool is plaintext; what the disk shows is the number of entries
 * per mailbox, their bucketed sizes, receipt times, and the recipient
 * count of each file.
 *
 * Durability: spool_writer_commit() fsyncs the file, links it into each
 * recipient's directory, fsyncs those directories (a new mailbox directory
 * also fsyncs the spool directory), and only then reports success per
 * recipient. Concurrent commits in one process share directory fsyncs
 * (group commit: the first waiter syncs every directory queued so far
 * while later ones queue for the next round).
 *
 * Sealed boxes are anonymous: anyone holding a mailbox's public key (which
 * is not secret) can write an entry for it, so an attacker who can write
 * to the spool directory can inject mail, exactly as one who can connect
 * to the MX can. They cannot read or alter existing entries undetected.
 *
 * All functions are thread-safe; a writer or a reader is used by one
 * thread at a time. */
#ifndef SPOOL_H
#define SPOOL_H

#include "keys/keys.h"

#define SPOOL_ID_LEN 25 /* 16 hex '-' 8 hex */
#define SPOOL_ID_SIZE (SPOOL_ID_LEN + 1)
#define SPOOL_NAME_SIZE 64            /* entry name, NUL included */
#define SPOOL_MAILBOX_ID_MAX 64       /* [A-Za-z0-9_-], not "tmp" */
#define SPOOL_FOLDER_MAX 1000         /* bytes of a target folder name */
#define SPOOL_HEADERS_MAX (64 * 1024) /* prepended header bytes per recipient */
#define SPOOL_RCPTS_MAX 1000          /* recipients (stanzas) per message */
#define SPOOL_BODY_MAX (1ULL << 32)   /* hard ceiling; SMTP limits are lower */
#define SPOOL_CHUNK (64 * 1024)       /* plaintext bytes per stream chunk */

struct spool;
struct spool_writer;
struct spool_reader;

/* Opens (creating when missing, mode 0700) the spool directory dir and its
 * tmp/ directory; the parent must exist. Removes leftovers of crashed
 * named-tmp writers. 0 with *spool_r, or -1 with *error_r. */
int spool_open(const char *dir, struct spool **spool_r, const char **error_r);
/* Closes *spool (no writer or reader may be live); NULL ok; sets NULL. */
void spool_close(struct spool **spool);

struct spool_rcpt {
	const char *mailbox_id; /* 1..SPOOL_MAILBOX_ID_MAX of [A-Za-z0-9_-] */
	const uint8_t *pk;      /* the mailbox's X25519 public key, 32 bytes */
	const char *folder;     /* target folder name, e.g. "INBOX" */
	const uint8_t *headers; /* prepended header lines, may be NULL */
	size_t headers_len;     /* <= SPOOL_HEADERS_MAX */
};

/* Starts a message for n recipients (1..SPOOL_RCPTS_MAX; a mailbox may
 * appear once). received is the receipt time in Unix seconds (it becomes
 * INTERNALDATE); 0 means now. Everything in rcpts is copied. 0 with *w_r,
 * -1 with *error_r on a bad argument or an I/O error. */
int spool_writer_begin(struct spool *spool, const struct spool_rcpt *rcpts, size_t n,
                       int64_t received, struct spool_writer **w_r, const char **error_r);
/* The spool id of the message being written (valid until commit/abort). */
const char *spool_writer_id(const struct spool_writer *w);
/* Appends len bytes of the message body (streamed: encrypted in
 * SPOOL_CHUNK pieces, never held whole). -1 with *error_r on an I/O error
 * or past SPOOL_BODY_MAX: then abort. */
int spool_writer_write(struct spool_writer *w, const void *data, size_t len, const char **error_r);
/* Makes the message durable and frees *w. results_r[i] (n entries) is 0
 * when recipient i's entry is durable, -1 when it failed (its link or
 * directory sync failed; no entry remains for it). Returns 0 when at least
 * one recipient succeeded, -1 with *error_r when none did. Blocks on fsync:
 * call it from a worker thread. */
int spool_writer_commit(struct spool_writer **w, int results_r[], const char **error_r);
/* Drops the message; nothing remains on disk. NULL ok; sets *w to NULL. */
void spool_writer_abort(struct spool_writer **w);

/* A directory entry of a mailbox's spool. */
struct spool_entry {
	char name[SPOOL_NAME_SIZE]; /* "<spool id>.<stanza>.<size>" */
	char spool_id[SPOOL_ID_SIZE];
	uint32_t stanza;
	uint64_t size; /* bytes on disk */
};

/* Up to max entries of mailbox_id's spool in receipt order whose names
 * sort after `after` (NULL or "" for the first batch; pass the last name
 * of the previous batch to continue). 0 with *count_r (0 when empty or the
 * mailbox never had mail), -1 with *error_r. Each call reads the whole
 * directory: O(entries). */
int spool_list(struct spool *spool, const char *mailbox_id, const char *after,
               struct spool_entry *entries, size_t max, size_t *count_r, const char **error_r);

struct spool_meta {
	char spool_id[SPOOL_ID_SIZE];
	int64_t received; /* Unix seconds */
	char folder[SPOOL_FOLDER_MAX + 1];
	uint64_t size;      /* bytes the reader yields: headers_len + body_size */
	uint64_t body_size; /* bytes given to spool_writer_write */
	size_t headers_len;
};

/* Opens an entry with the mailbox's X25519 secret key (keys_box_sk_open).
 * 0 with *r_r and *meta_r; -1 with *error_r when the entry is gone, is not
 * sealed to this key, or was altered (its stanza, name or size). */
int spool_entry_open(struct spool *spool, const char *mailbox_id, const struct spool_entry *entry,
                     const struct keys_secret *sk, struct spool_reader **r_r,
                     struct spool_meta *meta_r, const char **error_r);
/* Reads up to cap bytes of the message: the recipient's prepended header
 * lines, then the body. Returns 0 with *n_r > 0 for data, 0 with *n_r == 0
 * at the verified end, -1 with *error_r when the file is truncated or was
 * altered. The end of the stream is verified before the call that returns
 * the last byte returns, but a consumer must still treat what it got as
 * provisional until the 0-byte end: never commit partial mail. */
int spool_reader_read(struct spool_reader *r, void *buf, size_t cap, size_t *n_r,
                      const char **error_r);
void spool_reader_free(struct spool_reader **r);

/* Unlinks the entry (after the drain's transaction committed with
 * synchronous=FULL). An entry already gone is not an error: the drain is
 * idempotent (the store records spool ids in the same transaction). */
int spool_entry_remove(struct spool *spool, const char *mailbox_id, const struct spool_entry *entry,
                       const char **error_r);

/* Removes every entry of mailbox_id's spool and its directory (when the
 * mailbox itself is deleted). A commit racing with it may leave an entry
 * behind and the directory in place: call it after the mailbox can no
 * longer receive mail. 0 ok (also when there was nothing), -1 with
 * *error_r. */
int spool_mailbox_delete(struct spool *spool, const char *mailbox_id, const char **error_r);

/* Bytes on disk and entry count of mailbox_id's spool, for quota checks
 * at RCPT time. Correct across processes because it reads the directory
 * itself: one readdir summing the sizes in the names (no stat per entry),
 * about 0.7 us per entry here; a directory whose mtime is over a second old
 * is cached and then costs one open and fstat while its mtime and inode
 * stay the same (any link or unlink, by any process, changes the mtime). */
int spool_usage(struct spool *spool, const char *mailbox_id, uint64_t *bytes_r, uint64_t *count_r,
                const char **error_r);

#endif
