/* The spool directory: opening and crash clean-up, per-mailbox listing in
 * receipt order, removal, usage for quota, and the group commit of
 * directory fsyncs shared by concurrent writers (format in spool.h). */
#include "spool/spool_private.h"
#include "lib/sp_log.h"
#include "lib/sp_str.h"

#include <dirent.h>
#include <sodium.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

bool spool_test_force_named_tmp;

/* Opens (creating when asked) the directory name under dirfd. A created
 * directory is made durable by fsyncing its parent. */
static int open_dir_at(int dirfd, const char *name, bool create)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0 || errno != ENOENT || !create)
		return fd;
	if (mkdirat(dirfd, name, 0700) < 0 && errno != EEXIST)
		return -1;
	if (fsync(dirfd) < 0)
		return -1;
	return openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* Removes named tmp files whose writer is gone: a live writer holds an
 * exclusive flock on its file from creation to commit. */
static void clean_tmp(struct spool *spool)
{
	int fd = dup(spool->tmpfd);
	if (fd < 0)
		return;
	DIR *d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return;
	}
	rewinddir(d);
	unsigned removed = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		int f = openat(spool->tmpfd, de->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (f < 0)
			continue;
		if (flock(f, LOCK_EX | LOCK_NB) == 0 && unlinkat(spool->tmpfd, de->d_name, 0) == 0)
			removed++;
		close(f);
	}
	closedir(d);
	if (removed > 0)
		sp_log_info("spool", "event=tmp_cleanup removed=%u", removed);
}

int spool_open(const char *dir, struct spool **spool_r, const char **error_r)
{
	if (keys_init() < 0) {
		*error_r = "libsodium failed to initialise";
		return -1;
	}
	if (mkdir(dir, 0700) == 0) {
		/* make the new directory durable in its parent */
		char *parent = sp_strdup(dir);
		char *slash = strrchr(parent, '/');
		if (slash == parent)
			slash[1] = '\0';
		else if (slash != NULL)
			*slash = '\0';
		int pfd = open(slash != NULL ? parent : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (pfd >= 0) {
			(void)fsync(pfd);
			close(pfd);
		}
		free(parent);
	} else if (errno != EEXIST) {
		*error_r = "cannot create the spool directory";
		return -1;
	}
	struct spool *s = sp_calloc(1, sizeof(*s));
	s->path = sp_strdup(dir);
	s->tmpfd = -1;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	s->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0 || (s->tmpfd = open_dir_at(s->dirfd, "tmp", true)) < 0) {
		*error_r = "cannot open the spool directory";
		spool_close(&s);
		return -1;
	}
	int probe = openat(s->tmpfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
	s->use_tmpfile = probe >= 0 && !spool_test_force_named_tmp;
	if (probe >= 0)
		close(probe);
	clean_tmp(s);
	s->locked = sodium_malloc(SPOOL_LOCKED_SLOTS * SPOOL_LOCKED_SLOT);
	if (s->locked == NULL)
		sp_panic("out of locked memory");
	sodium_memzero(s->locked, SPOOL_LOCKED_SLOTS * SPOOL_LOCKED_SLOT);
	for (uint32_t i = 0; i < SPOOL_LOCKED_SLOTS; i++)
		s->locked_free[s->locked_free_n++] = i;
	*spool_r = s;
	return 0;
}

void spool_close(struct spool **spool)
{
	struct spool *s = *spool;
	if (s == NULL)
		return;
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	if (s->locked != NULL)
		sodium_free(s->locked);
	if (s->tmpfd >= 0)
		close(s->tmpfd);
	if (s->dirfd >= 0)
		close(s->dirfd);
	free(s->path);
	free(s);
	*spool = NULL;
}

uint8_t *spool_locked_get(struct spool *spool)
{
	uint8_t *p = NULL;
	pthread_mutex_lock(&spool->lock);
	if (spool->locked_free_n > 0)
		p = spool->locked +
		    (size_t)spool->locked_free[--spool->locked_free_n] * SPOOL_LOCKED_SLOT;
	pthread_mutex_unlock(&spool->lock);
	return p;
}

void spool_locked_put(struct spool *spool, uint8_t *p)
{
	sodium_memzero(p, SPOOL_LOCKED_SLOT);
	size_t i = (size_t)(p - spool->locked) / SPOOL_LOCKED_SLOT;
	sp_assert(i < SPOOL_LOCKED_SLOTS && p == spool->locked + i * SPOOL_LOCKED_SLOT);
	pthread_mutex_lock(&spool->lock);
	spool->locked_free[spool->locked_free_n++] = (uint32_t)i;
	pthread_mutex_unlock(&spool->lock);
}

static struct spool_dirsync **dirsync_slot(struct spool *spool, dev_t dev, ino_t ino)
{
	size_t h = ((size_t)ino * 0x9E3779B1u + (size_t)dev) % SPOOL_DIRSYNC_BUCKETS;
	struct spool_dirsync **pp = &spool->dirsync[h];
	while (*pp != NULL && ((*pp)->dev != dev || (*pp)->ino != ino))
		pp = &(*pp)->next;
	return pp;
}

void spool_sync_dirs(struct spool *spool, struct spool_sync_req *reqs)
{
	pthread_mutex_lock(&spool->lock);
	/* queue every request on its directory's entry */
	for (struct spool_sync_req *r = reqs; r != NULL; r = r->next) {
		struct spool_dirsync **pp = dirsync_slot(spool, r->dev, r->ino);
		if (*pp == NULL) {
			*pp = sp_calloc(1, sizeof(**pp));
			(*pp)->dev = r->dev;
			(*pp)->ino = r->ino;
		}
		r->ds = *pp;
		r->ds->users++;
		r->done = false;
	}
	/* the caller's list links are reused for the queues: save them */
	size_t n = 0;
	for (struct spool_sync_req *r = reqs; r != NULL; r = r->next)
		n++;
	struct spool_sync_req **mine = sp_reallocarray(NULL, n, sizeof(*mine));
	n = 0;
	for (struct spool_sync_req *r = reqs; r != NULL; r = r->next)
		mine[n++] = r;
	for (size_t i = 0; i < n; i++) {
		mine[i]->next = mine[i]->ds->queue;
		mine[i]->ds->queue = mine[i];
	}
	for (size_t i = 0; i < n; i++) {
		struct spool_sync_req *r = mine[i];
		struct spool_dirsync *ds = r->ds;
		while (!r->done) {
			if (ds->running) {
				pthread_cond_wait(&spool->cond, &spool->lock);
				continue;
			}
			/* lead: this fsync starts after every queued link */
			ds->running = true;
			struct spool_sync_req *batch = ds->queue;
			ds->queue = NULL;
			pthread_mutex_unlock(&spool->lock);
			int err = fsync(r->fd) < 0 ? errno : 0;
			atomic_fetch_add(&spool->dir_syncs, 1);
			pthread_mutex_lock(&spool->lock);
			for (struct spool_sync_req *b = batch; b != NULL; b = b->next) {
				b->err = err;
				b->done = true;
				atomic_fetch_add(&spool->dir_requests, 1);
			}
			ds->running = false;
			pthread_cond_broadcast(&spool->cond);
		}
	}
	for (size_t i = 0; i < n; i++) {
		struct spool_dirsync *ds = mine[i]->ds;
		if (--ds->users == 0) {
			sp_assert(!ds->running && ds->queue == NULL);
			struct spool_dirsync **pp = dirsync_slot(spool, ds->dev, ds->ino);
			*pp = ds->next;
			free(ds);
		}
		mine[i]->ds = NULL;
		mine[i]->next = i + 1 < n ? mine[i + 1] : NULL;
	}
	pthread_mutex_unlock(&spool->lock);
	free(mine);
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct spool_entry *)a)->name, ((const struct spool_entry *)b)->name);
}

/* Opens a DIR stream on mailbox_id's directory: 0 with *d_r (NULL when the
 * directory does not exist), -1 with *error_r. */
static int open_mailbox_dir(struct spool *spool, const char *mailbox_id, DIR **d_r,
                            const char **error_r)
{
	*d_r = NULL;
	if (!spool_mailbox_id_valid(mailbox_id)) {
		*error_r = "invalid mailbox id";
		return -1;
	}
	int fd = openat(spool->dirfd, mailbox_id, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		*error_r = "cannot open the mailbox spool directory";
		return -1;
	}
	*d_r = fdopendir(fd);
	if (*d_r == NULL) {
		close(fd);
		*error_r = "cannot read the mailbox spool directory";
		return -1;
	}
	return 0;
}

int spool_list(struct spool *spool, const char *mailbox_id, const char *after,
               struct spool_entry *entries, size_t max, size_t *count_r, const char **error_r)
{
	*count_r = 0;
	DIR *d;
	if (open_mailbox_dir(spool, mailbox_id, &d, error_r) < 0)
		return -1;
	if (d == NULL || max == 0) {
		if (d != NULL)
			closedir(d);
		return 0;
	}
	if (after == NULL)
		after = "";
	/* Keep the max smallest names after `after`: collect, and whenever
	 * the array holds 2*max, sort and drop the larger half. */
	size_t cap = max * 2, n = 0;
	struct spool_entry *tmp = sp_reallocarray(NULL, cap, sizeof(*tmp));
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		struct spool_entry e;
		if (spool_entry_parse_name(de->d_name, &e) < 0 || strcmp(e.name, after) <= 0)
			continue;
		if (n == cap) {
			qsort(tmp, n, sizeof(*tmp), cmp_entry);
			n = max;
		}
		tmp[n++] = e;
	}
	closedir(d);
	qsort(tmp, n, sizeof(*tmp), cmp_entry);
	n = SP_MIN(n, max);
	memcpy(entries, tmp, n * sizeof(*tmp));
	free(tmp);
	*count_r = n;
	return 0;
}

int spool_entry_remove(struct spool *spool, const char *mailbox_id, const struct spool_entry *entry,
                       const char **error_r)
{
	struct spool_entry check;
	if (!spool_mailbox_id_valid(mailbox_id) ||
	    spool_entry_parse_name(entry->name, &check) < 0) {
		*error_r = "invalid spool entry";
		return -1;
	}
	int fd = openat(spool->dirfd, mailbox_id, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		*error_r = "cannot open the mailbox spool directory";
		return -1;
	}
	int rc = unlinkat(fd, entry->name, 0);
	int err = errno;
	close(fd);
	if (rc < 0 && err != ENOENT) {
		*error_r = "cannot remove the spool entry";
		return -1;
	}
	return 0;
}

int spool_mailbox_delete(struct spool *spool, const char *mailbox_id, const char **error_r)
{
	DIR *d;
	if (open_mailbox_dir(spool, mailbox_id, &d, error_r) < 0)
		return -1;
	if (d == NULL)
		return 0;
	int fd = dirfd(d), rc = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (unlinkat(fd, de->d_name, 0) < 0 && errno != ENOENT)
			rc = -1;
	}
	closedir(d);
	if (unlinkat(spool->dirfd, mailbox_id, AT_REMOVEDIR) < 0 && errno != ENOENT)
		rc = -1;
	if (rc < 0)
		*error_r = "cannot remove the mailbox spool directory";
	return rc;
}

static size_t usage_slot(const char *mailbox_id)
{
	size_t h = 5381;
	for (const char *p = mailbox_id; *p != '\0'; p++)
		h = h * 33 + (uint8_t)*p;
	return h % SPOOL_USAGE_CACHE;
}

/* Sums the sizes in the entry names: one readdir pass, no stat. The size
 * is part of the name precisely so that this needs no per-entry syscall. */
int spool_usage(struct spool *spool, const char *mailbox_id, uint64_t *bytes_r, uint64_t *count_r,
                const char **error_r)
{
	*bytes_r = 0;
	*count_r = 0;
	if (!spool_mailbox_id_valid(mailbox_id)) {
		*error_r = "invalid mailbox id";
		return -1;
	}
	int fd = openat(spool->dirfd, mailbox_id, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		*error_r = "cannot open the mailbox spool directory";
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		close(fd);
		*error_r = "cannot stat the mailbox spool directory";
		return -1;
	}
	struct spool_usage_cached *c = &spool->usage[usage_slot(mailbox_id)];
	pthread_mutex_lock(&spool->lock);
	bool hit = strcmp(c->mailbox_id, mailbox_id) == 0 && c->ino == st.st_ino &&
	           c->mtime.tv_sec == st.st_mtim.tv_sec && c->mtime.tv_nsec == st.st_mtim.tv_nsec;
	if (hit) {
		*bytes_r = c->bytes;
		*count_r = c->count;
	}
	pthread_mutex_unlock(&spool->lock);
	if (hit) {
		close(fd);
		return 0;
	}
	/* The stat above precedes the scan, so a change during or after the
	 * scan leaves a different mtime behind, unless the clock has not yet
	 * moved past st_mtim: hence only settled directories are cached. */
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	DIR *d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		*error_r = "cannot read the mailbox spool directory";
		return -1;
	}
	atomic_fetch_add(&spool->usage_scans, 1);
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		struct spool_entry e;
		if (spool_entry_parse_name(de->d_name, &e) < 0)
			continue;
		*bytes_r += e.size;
		(*count_r)++;
	}
	closedir(d);
	long long age = ((long long)now.tv_sec - (long long)st.st_mtim.tv_sec) * 1000000000LL +
	                (now.tv_nsec - st.st_mtim.tv_nsec);
	if (age > SPOOL_USAGE_SETTLED_NS) {
		pthread_mutex_lock(&spool->lock);
		sp_strlcpy(c->mailbox_id, mailbox_id, sizeof(c->mailbox_id));
		c->ino = st.st_ino;
		c->mtime = st.st_mtim;
		c->bytes = *bytes_r;
		c->count = *count_r;
		pthread_mutex_unlock(&spool->lock);
	}
	return 0;
}
