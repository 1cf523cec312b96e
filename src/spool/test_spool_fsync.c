/* Durability order of spool_writer_commit, observed from outside: this
 * test binary interposes fsync(), fdatasync() and linkat() (its own
 * definitions take precedence over libc's for the statically linked spool
 * code), records each call with the inode it touched, and passes it on to
 * the kernel. It fails unless, before commit returns, the message file was
 * synced, then linked into every recipient directory, then each of those
 * directories was synced; and unless a failing fsync makes commit fail. */
#include "test_spool_util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/syscall.h>

SP_TEST_MAIN_DEFS

enum ev_kind { EV_FSYNC, EV_LINK };

struct ev {
	enum ev_kind kind;
	ino_t ino;     /* file synced, or file linked */
	ino_t dir_ino; /* directory linked into (EV_LINK) */
	bool is_dir;   /* EV_FSYNC of a directory */
};

static pthread_mutex_t ev_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ev evs[4096];
static size_t n_evs;
static bool recording;
static ino_t fail_fsync_ino; /* inject EIO for this inode */

static void record(struct ev e)
{
	pthread_mutex_lock(&ev_lock);
	if (recording && n_evs < SP_N_ELEMENTS(evs))
		evs[n_evs++] = e;
	pthread_mutex_unlock(&ev_lock);
}

static int sync_common(int fd, long nr)
{
	struct stat st;
	if (fstat(fd, &st) == 0) {
		record(
		    (struct ev){.kind = EV_FSYNC, .ino = st.st_ino, .is_dir = S_ISDIR(st.st_mode)});
		if (fail_fsync_ino != 0 && st.st_ino == fail_fsync_ino) {
			errno = EIO;
			return -1;
		}
	}
	return (int)syscall(nr, fd);
}

int fsync(int fd)
{
	return sync_common(fd, SYS_fsync);
}

int fdatasync(int fd)
{
	return sync_common(fd, SYS_fdatasync);
}

int linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags)
{
	int rc = (int)syscall(SYS_linkat, olddirfd, oldpath, newdirfd, newpath, flags);
	if (rc == 0) {
		struct stat f, d;
		int frc =
		    oldpath[0] == '\0' ? fstat(olddirfd, &f) : fstatat(olddirfd, oldpath, &f, 0);
		if (frc == 0 && fstat(newdirfd, &d) == 0)
			record((struct ev){.kind = EV_LINK, .ino = f.st_ino, .dir_ino = d.st_ino});
	}
	return rc;
}

static ino_t ino_of(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? st.st_ino : 0;
}

static void run_commit(struct spool *spool, const char *dir, struct test_mbox *mb, size_t n,
                       bool named)
{
	struct spool_rcpt rc[3];
	for (size_t i = 0; i < n; i++)
		rc[i] =
		    (struct spool_rcpt){.mailbox_id = mb[i].id, .pk = mb[i].pk, .folder = "INBOX"};
	pthread_mutex_lock(&ev_lock);
	n_evs = 0;
	recording = true;
	pthread_mutex_unlock(&ev_lock);
	int results[3];
	char id[SPOOL_ID_SIZE];
	int rc_commit = test_deliver(spool, rc, n, (const uint8_t *)"Subject: x\r\n\r\nhi\r\n", 18,
	                             5, results, id);
	pthread_mutex_lock(&ev_lock);
	recording = false;
	pthread_mutex_unlock(&ev_lock);
	SP_CHECK_INT(rc_commit, 0);

	for (size_t i = 0; i < n; i++) {
		SP_CHECK_INT(results[i], 0);
		char dpath[700];
		snprintf(dpath, sizeof(dpath), "%s/spool/%s", dir, mb[i].id);
		ino_t dino = ino_of(dpath);
		SP_CHECK(dino != 0);
		/* find the link into this directory */
		size_t link_at = n_evs;
		ino_t file = 0;
		for (size_t k = 0; k < n_evs; k++) {
			if (evs[k].kind == EV_LINK && evs[k].dir_ino == dino) {
				link_at = k;
				file = evs[k].ino;
				break;
			}
		}
		SP_CHECK(link_at < n_evs);
		/* the file was synced before the link */
		bool file_synced = false;
		for (size_t k = 0; k < link_at; k++)
			file_synced |=
			    evs[k].kind == EV_FSYNC && evs[k].ino == file && !evs[k].is_dir;
		SP_CHECK(file_synced);
		/* the directory was synced after the link, before commit returned */
		bool dir_synced = false;
		for (size_t k = link_at + 1; k < n_evs; k++)
			dir_synced |=
			    evs[k].kind == EV_FSYNC && evs[k].ino == dino && evs[k].is_dir;
		SP_CHECK(dir_synced);
		if (!file_synced || !dir_synced)
			fprintf(stderr, "  recipient %zu: file synced %d, dir synced %d\n", i,
			        file_synced, dir_synced);
	}
	(void)named;
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

static void test_order(void)
{
	for (int named = 0; named < 2; named++) {
		char *dir = test_tmpdir();
		spool_test_force_named_tmp = named;
		struct spool *spool = open_spool(dir);
		spool_test_force_named_tmp = false;
		struct test_mbox mb[3];
		test_mbox_init(&mb[0], "fsA");
		test_mbox_init(&mb[1], "fsB");
		test_mbox_init(&mb[2], "fsC");
		/* first delivery creates the directories, the second reuses them */
		run_commit(spool, dir, mb, 3, named);
		run_commit(spool, dir, mb, 3, named);
		run_commit(spool, dir, mb, 1, named);
		for (int i = 0; i < 3; i++)
			test_mbox_deinit(&mb[i]);
		spool_close(&spool);
		test_rmtree(&dir);
	}
}

/* A directory whose fsync fails reports that recipient as failed and
 * leaves no entry for it; the others succeed. */
static void test_fsync_failure(void)
{
	char *dir = test_tmpdir();
	struct spool *spool = open_spool(dir);
	struct test_mbox mb[2];
	test_mbox_init(&mb[0], "okbox");
	test_mbox_init(&mb[1], "eiobox");
	struct spool_rcpt rc[2] = {
	    {.mailbox_id = mb[0].id, .pk = mb[0].pk, .folder = "INBOX"},
	    {.mailbox_id = mb[1].id, .pk = mb[1].pk, .folder = "INBOX"},
	};
	int results[2];
	SP_CHECK_INT(test_deliver(spool, rc, 2, (const uint8_t *)"a", 1, 1, results, NULL), 0);
	char dpath[700];
	snprintf(dpath, sizeof(dpath), "%s/spool/%s", dir, mb[1].id);
	fail_fsync_ino = ino_of(dpath);
	SP_CHECK_INT(test_deliver(spool, rc, 2, (const uint8_t *)"b", 1, 1, results, NULL), 0);
	SP_CHECK_INT(results[0], 0);
	SP_CHECK_INT(results[1], -1);
	fail_fsync_ino = 0;
	uint64_t bytes, count;
	const char *error;
	SP_CHECK_INT(spool_usage(spool, mb[0].id, &bytes, &count, &error), 0);
	SP_CHECK_INT(count, 2);
	SP_CHECK_INT(spool_usage(spool, mb[1].id, &bytes, &count, &error), 0);
	SP_CHECK_INT(count, 1);
	test_mbox_deinit(&mb[0]);
	test_mbox_deinit(&mb[1]);
	spool_close(&spool);
	test_rmtree(&dir);
}

int main(void)
{
	SP_CHECK_INT(keys_init(), 0);
	SP_TEST_RUN(test_order);
	SP_TEST_RUN(test_fsync_failure);
	return sp_test_finish();
}
