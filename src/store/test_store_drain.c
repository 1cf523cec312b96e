/* Unit tests of the spool drain: sealed entries land in their folders
 * with their receipt time and prepended headers, byte-exact; entries are
 * unlinked after commit; a second drain (or a crash before the unlink)
 * adds nothing twice; an entry sealed to another mailbox is left. */
#include "test_store_util.h"
#include "store/store_drain.h"

#include <sodium.h>

SP_TEST_MAIN_DEFS

struct box {
	char id[32];
	uint8_t pk[KEYS_KEY_LEN];
	struct keys_secret *sk;
};

static void box_init(struct box *b, const char *id)
{
	struct keys_secret *ak = keys_secret_random(KEYS_KEY_LEN);
	uint8_t blob[KEYS_BLOB_LEN];
	snprintf(b->id, sizeof(b->id), "%s", id);
	keys_box_keypair_new(ak, b->id, b->pk, blob);
	if (keys_box_sk_open(ak, b->id, blob, &b->sk) < 0)
		sp_panic("sk");
	keys_secret_free(&ak);
}

static void deliver(struct spool *sp, const struct box *b, const char *folder, const char *hdrs,
                    const char *body, int64_t received)
{
	struct spool_rcpt r = {.mailbox_id = b->id,
	                       .pk = b->pk,
	                       .folder = folder,
	                       .headers = (const uint8_t *)hdrs,
	                       .headers_len = strlen(hdrs)};
	struct spool_writer *w;
	const char *err;
	int res[1];
	if (spool_writer_begin(sp, &r, 1, received, &w, &err) < 0 ||
	    spool_writer_write(w, body, strlen(body), &err) < 0 ||
	    spool_writer_commit(&w, res, &err) < 0)
		sp_panic("deliver: %s", err);
}

static void test_drain(void)
{
	struct tmbox t;
	tmbox_open(&t);
	char spdir[400];
	snprintf(spdir, sizeof(spdir), "%s/spool", t.dir);
	struct spool *sp;
	const char *err;
	SP_CHECK_INT(spool_open(spdir, &sp, &err), 0);
	struct box me, other;
	box_init(&me, "mbox1");
	box_init(&other, "mbox2");
	static const char body[] = "From: a@example.org\r\nSubject: spooled\r\n\r\nhello\n";
	deliver(sp, &me, "INBOX", "Return-Path: <a@example.org>\r\n", body, 1795176000);
	deliver(sp, &me, "Junk", "", body, 1795176001);
	deliver(sp, &me, "Gone/Folder", "", body, 1795176002); /* no such folder: INBOX */
	/* sealed to another key but placed in our directory: cannot open */
	deliver(sp, &other, "INBOX", "", body, 1795176003);
	char src[600], dst[600];
	struct spool_entry e[4];
	size_t n;
	SP_CHECK_INT(spool_list(sp, other.id, NULL, e, 4, &n, &err), 0);
	SP_CHECK_INT(n, 1);
	snprintf(src, sizeof(src), "%s/%s/%s", spdir, other.id, e[0].name);
	snprintf(dst, sizeof(dst), "%s/%s/%s", spdir, me.id, e[0].name);
	SP_CHECK_INT(rename(src, dst), 0);

	struct store_drain_result res;
	SP_CHECK_INT(store_drain(t.s, sp, me.id, me.sk, &res, &err), 0);
	SP_CHECK_INT(res.drained, 3);
	SP_CHECK_INT(res.failed, 1);
	struct sp_arena *a = sp_arena_new(4096);
	struct store_status st;
	SP_CHECK_INT(store_folder_status(t.s, "INBOX", a, &st, &err), 0);
	SP_CHECK_INT(st.messages, 2);
	SP_CHECK_INT(store_folder_status(t.s, "Junk", a, &st, &err), 0);
	SP_CHECK_INT(st.messages, 1);
	struct fetched f = {0};
	SP_CHECK_INT(tmbox_fetch(&t, tmbox_folder(&t, "INBOX"), 1,
	                         STORE_FETCH_ORIGINAL | STORE_FETCH_INTERNALDATE, NULL, 0, &f),
	             0);
	SP_CHECK_STR(sp_buf_cstr(&f.original), "Return-Path: <a@example.org>\r\nFrom: "
	                                       "a@example.org\r\nSubject: spooled\r\n\r\nhello\n");
	SP_CHECK_INT(f.m.internaldate, 1795176000);
	fetched_deinit(&f);
	/* drained entries are gone; the foreign one stays */
	SP_CHECK_INT(spool_list(sp, me.id, NULL, e, 4, &n, &err), 0);
	SP_CHECK_INT(n, 1);
	/* draining again adds nothing */
	SP_CHECK_INT(store_drain(t.s, sp, me.id, me.sk, &res, &err), 0);
	SP_CHECK_INT(res.drained, 0);
	SP_CHECK_INT(store_folder_status(t.s, "INBOX", a, &st, &err), 0);
	SP_CHECK_INT(st.messages, 2);

	/* a crash after commit but before unlink: the entry comes back
	 * (simulated by delivering, draining, and restoring a hard link);
	 * the next drain only unlinks it */
	deliver(sp, &me, "INBOX", "", body, 1795176004);
	SP_CHECK_INT(spool_list(sp, me.id, NULL, e, 4, &n, &err), 0);
	SP_CHECK_INT(n, 2);
	size_t k = strcmp(e[0].spool_id, e[1].spool_id) < 0 ? 1 : 0;
	snprintf(src, sizeof(src), "%s/%s/%s", spdir, me.id, e[k].name);
	snprintf(dst, sizeof(dst), "%s/keep", t.dir);
	SP_CHECK_INT(link(src, dst), 0);
	SP_CHECK_INT(store_drain(t.s, sp, me.id, me.sk, &res, &err), 0);
	SP_CHECK_INT(res.drained, 1);
	SP_CHECK_INT(link(dst, src), 0);
	unlink(dst);
	SP_CHECK_INT(store_drain(t.s, sp, me.id, me.sk, &res, &err), 0);
	SP_CHECK_INT(res.drained, 1);
	SP_CHECK_INT(store_folder_status(t.s, "INBOX", a, &st, &err), 0);
	SP_CHECK_INT(st.messages, 3);
	SP_CHECK_INT(spool_list(sp, me.id, NULL, e, 4, &n, &err), 0);
	SP_CHECK_INT(n, 1);
	/* cleanup of the spool tree */
	SP_CHECK_INT(spool_list(sp, me.id, NULL, e, 4, &n, &err), 0);
	for (size_t i = 0; i < n; i++)
		spool_entry_remove(sp, me.id, &e[i], &err);
	spool_close(&sp);
	snprintf(src, sizeof(src), "%s/%s", spdir, me.id);
	rmdir(src);
	snprintf(src, sizeof(src), "%s/%s", spdir, other.id);
	rmdir(src);
	snprintf(src, sizeof(src), "%s/tmp", spdir);
	rmdir(src);
	rmdir(spdir);
	keys_secret_free(&me.sk);
	keys_secret_free(&other.sk);
	sp_arena_free(&a);
	tmbox_close(&t);
}

int main(void)
{
	SP_CHECK_INT(keys_init(), 0);
	SP_TEST_RUN(test_drain);
	return sp_test_finish();
}
