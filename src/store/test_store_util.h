/* Helpers shared by the store's unit tests: a fresh mailbox file in a
 * temporary directory, appending text messages, fetching one message. */
#ifndef TEST_STORE_UTIL_H
#define TEST_STORE_UTIL_H

#include "store/store_private.h"
#include "lib/sp_test.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A fresh temporary directory under TMPDIR in dir (size len). */
static inline void tdir_make(char *dir, size_t len)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, len, "%s/sp-store-XXXXXX", tmp != NULL ? tmp : "/tmp");
	sp_assert(mkdtemp(dir) != NULL);
}

/* Removes a directory from tdir_make with the files in it (a mailbox
 * file, its -wal and -shm). */
static inline void tdir_remove(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d != NULL && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char p[600];
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		unlink(p);
	}
	if (d != NULL)
		closedir(d);
	rmdir(dir);
}

struct tmbox {
	char dir[256];
	char path[300];
	struct keys_secret *dek;
	struct store_session *s;
};

static inline void tmbox_open(struct tmbox *t)
{
	tdir_make(t->dir, sizeof(t->dir));
	snprintf(t->path, sizeof(t->path), "%s/mbox.sqlite", t->dir);
	t->dek = keys_secret_random(KEYS_KEY_LEN);
	const char *err = NULL;
	if (store_session_open(t->path, "test", t->dek, true, &t->s, &err) < 0)
		sp_panic("open: %s", err);
}

static inline void tmbox_close(struct tmbox *t)
{
	store_session_close(&t->s);
	keys_secret_free(&t->dek);
	tdir_remove(t->dir);
}

static inline int64_t tmbox_folder(struct tmbox *t, const char *name)
{
	int64_t id = 0;
	const char *err;
	if (store_folder_id(t->s, name, &id, NULL, &err) < 0)
		return -1;
	return id;
}

/* Appends text to folder; returns the UID (0 on failure). */
static inline uint32_t tmbox_add(struct tmbox *t, const char *folder, const char *text,
                                 unsigned flags, time_t idate, int offset)
{
	struct store_append_msg m = {.data = (const uint8_t *)text,
	                             .len = strlen(text),
	                             .flags = flags,
	                             .internaldate = idate,
	                             .internaldate_offset = offset};
	uint32_t uidv, uid = 0;
	const char *err;
	if (store_append(t->s, folder, &m, 1, &uidv, &uid, &err) < 0) {
		fprintf(stderr, "append: %s\n", err);
		return 0;
	}
	return uid;
}

struct fetched {
	struct store_message m;
	struct sp_buf env, bs, body, original;
	struct sp_buf sec[4];
	bool sec_nil[4];
	uint64_t sec_size[4];
	bool sec_unknown[4];
	char **kw;
	size_t n_kw;
	char emailid[64], threadid[64];
	size_t n_sections;
	int count;
};

static inline int fetched_cb(void *ctx, const struct store_message *m)
{
	struct fetched *f = ctx;
	f->count++;
	f->m = *m;
	sp_buf_reset(&f->env);
	sp_buf_reset(&f->bs);
	sp_buf_reset(&f->body);
	sp_buf_reset(&f->original);
	if (m->envelope)
		sp_buf_append_str(&f->env, m->envelope);
	if (m->bodystructure)
		sp_buf_append_str(&f->bs, m->bodystructure);
	if (m->body)
		sp_buf_append_str(&f->body, m->body);
	if (m->original)
		sp_buf_append(&f->original, m->original, m->original_len);
	for (size_t i = 0; i < f->n_kw; i++)
		free(f->kw[i]);
	free(f->kw);
	f->kw = sp_calloc(m->n_keywords + 1, sizeof(char *));
	f->n_kw = m->n_keywords;
	for (size_t i = 0; i < m->n_keywords; i++)
		f->kw[i] = sp_strdup(m->keywords[i]);
	for (size_t i = 0; i < f->n_sections && i < 4; i++) {
		sp_buf_reset(&f->sec[i]);
		f->sec_nil[i] = m->sections[i].data == NULL;
		f->sec_size[i] = m->sections[i].size;
		f->sec_unknown[i] = m->sections[i].unknown_cte;
		if (m->sections[i].data != NULL)
			sp_buf_append(&f->sec[i], m->sections[i].data, m->sections[i].len);
	}
	snprintf(f->emailid, sizeof(f->emailid), "%s", m->emailid ? m->emailid : "");
	snprintf(f->threadid, sizeof(f->threadid), "%s", m->threadid ? m->threadid : "");
	f->m.emailid = f->emailid;
	f->m.threadid = f->threadid;
	f->m.envelope = f->m.bodystructure = f->m.body = NULL;
	f->m.keywords = NULL;
	f->m.sections = NULL;
	f->m.original = NULL;
	return 0;
}

static inline void fetched_deinit(struct fetched *f)
{
	sp_buf_deinit(&f->env);
	sp_buf_deinit(&f->bs);
	sp_buf_deinit(&f->body);
	sp_buf_deinit(&f->original);
	for (size_t i = 0; i < 4; i++)
		sp_buf_deinit(&f->sec[i]);
	for (size_t i = 0; i < f->n_kw; i++)
		free(f->kw[i]);
	free(f->kw);
	memset(f, 0, sizeof(*f));
}

/* Fetches one UID with items and up to 4 sections; 0 or -1. */
static inline int tmbox_fetch(struct tmbox *t, int64_t folder, uint32_t uid, unsigned items,
                              const struct store_section_req *secs, size_t n_secs,
                              struct fetched *f)
{
	struct store_uid_range r = {uid, uid};
	struct store_fetch_req req = {
	    .uids = {&r, 1}, .items = items, .sections = secs, .n_sections = n_secs};
	f->n_sections = n_secs;
	f->count = 0;
	const char *err;
	if (store_fetch(t->s, folder, &req, fetched_cb, f, &err) < 0) {
		fprintf(stderr, "fetch: %s\n", err);
		return -1;
	}
	return f->count == 1 ? 0 : -1;
}

static inline uint8_t *read_file(const char *path, size_t *len_r)
{
	FILE *fp = fopen(path, "rb");
	if (fp == NULL)
		return NULL;
	struct sp_buf b = SP_BUF_INIT;
	uint8_t chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		sp_buf_append(&b, chunk, n);
	fclose(fp);
	*len_r = b.len;
	if (b.data == NULL)
		sp_buf_append(&b, "", 0);
	return (uint8_t *)sp_buf_steal(&b);
}

#endif
