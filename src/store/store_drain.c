/* The spool drain: sealed entries -> mailbox file, idempotent by spool id
 * (the drained table), unlinking entries only after their commit. */
#include "store/store_drain.h"
#include "store/store_private.h"
#include "lib/sp_log.h"
#include "lib/sp_str.h"

#include <stdio.h>
#include <string.h>

struct pending {
	struct spool_entry entry;
	struct sp_buf data;
	char folder[SPOOL_FOLDER_MAX + 1];
	char spool_id[SPOOL_ID_SIZE];
	int64_t received;
};

static int read_entry(struct spool *spool, const char *mailbox_id, const struct keys_secret *sk,
                      struct pending *p, const char **error_r)
{
	struct spool_reader *r = NULL;
	struct spool_meta meta;
	if (spool_entry_open(spool, mailbox_id, &p->entry, sk, &r, &meta, error_r) < 0)
		return -1;
	if (meta.size > STORE_MESSAGE_MAX) {
		spool_reader_free(&r);
		*error_r = "spooled message too large";
		return -1;
	}
	sp_buf_reserve(&p->data, (size_t)meta.size);
	for (;;) {
		size_t n;
		sp_buf_reserve(&p->data, 65536);
		if (spool_reader_read(r, p->data.data + p->data.len, 65536, &n, error_r) < 0) {
			spool_reader_free(&r);
			return -1;
		}
		if (n == 0)
			break;
		p->data.len += n;
		if (p->data.len > STORE_MESSAGE_MAX) {
			spool_reader_free(&r);
			*error_r = "spooled message too large";
			return -1;
		}
	}
	if (p->data.data != NULL)
		p->data.data[p->data.len] = '\0';
	spool_reader_free(&r);
	sp_strlcpy(p->folder, meta.folder, sizeof(p->folder));
	sp_strlcpy(p->spool_id, meta.spool_id, sizeof(p->spool_id));
	p->received = meta.received;
	return 0;
}

/* Appends pend[0..n) that share one folder; one transaction, or one per
 * message when the batch fails (so one bad message does not hold back
 * the others). */
static int append_group(struct store_session *s, struct pending *pend, size_t n, bool *ok_r,
                        const char **error_r)
{
	struct store_append_msg *m = sp_calloc(n, sizeof(*m));
	uint32_t *uids = sp_calloc(n, sizeof(*uids));
	for (size_t i = 0; i < n; i++) {
		m[i] = (struct store_append_msg){
		    .data = pend[i].data.data != NULL ? pend[i].data.data : (const uint8_t *)"",
		    .len = pend[i].data.len,
		    .internaldate = pend[i].received,
		    .spool_id = pend[i].spool_id,
		};
	}
	const char *folder = pend[0].folder;
	uint32_t uidv;
	int64_t fid;
	const char *ignored;
	if (store_folder_id(s, folder, &fid, NULL, &ignored) < 0)
		folder = "INBOX"; /* deleted meanwhile: the mail still arrives */
	int ret = 0;
	if (store_append(s, folder, m, n, &uidv, uids, error_r) == 0) {
		for (size_t i = 0; i < n; i++)
			ok_r[i] = true;
	} else if (store_last_error(s) == STORE_ERR_BUSY ||
	           store_last_error(s) == STORE_ERR_INTERNAL) {
		ret = -1;
	} else {
		for (size_t i = 0; i < n; i++) {
			ok_r[i] = store_append(s, folder, &m[i], 1, &uidv, &uids[i], error_r) == 0;
			if (!ok_r[i] && (store_last_error(s) == STORE_ERR_BUSY ||
			                 store_last_error(s) == STORE_ERR_INTERNAL)) {
				ret = -1;
				break;
			}
		}
	}
	free(m);
	free(uids);
	return ret;
}

int store_drain(struct store_session *s, struct spool *spool, const char *mailbox_id,
                const struct keys_secret *sk, struct store_drain_result *res_r,
                const char **error_r)
{
	memset(res_r, 0, sizeof(*res_r));
	struct spool_entry entries[STORE_DRAIN_BATCH];
	struct pending *pend = sp_calloc(STORE_DRAIN_BATCH, sizeof(*pend));
	bool ok[STORE_DRAIN_BATCH];
	char after[SPOOL_NAME_SIZE] = "";
	int ret = 0;
	for (;;) {
		size_t count;
		if (spool_list(spool, mailbox_id, after, entries, STORE_DRAIN_BATCH, &count,
		               error_r) < 0) {
			ret = -1;
			break;
		}
		if (count == 0)
			break;
		sp_strlcpy(after, entries[count - 1].name, sizeof(after));
		/* read a batch, bounded in bytes */
		size_t n = 0, bytes = 0;
		for (size_t i = 0; i < count; i++) {
			struct pending *p = &pend[n];
			sp_buf_reset(&p->data);
			p->entry = entries[i];
			const char *err = NULL;
			if (read_entry(spool, mailbox_id, sk, p, &err) < 0) {
				/* only the spool id: never content */
				sp_log_warn("store", "event=drain_skip spool_id=%s reason=\"%s\"",
				            entries[i].spool_id, err != NULL ? err : "");
				res_r->failed++;
				continue;
			}
			bytes += p->data.len;
			n++;
			if (bytes >= STORE_DRAIN_BATCH_BYTES && i + 1 < count) {
				sp_strlcpy(after, entries[i].name, sizeof(after));
				break;
			}
		}
		/* append in runs of one folder, then unlink what committed */
		for (size_t i = 0; ret == 0 && i < n;) {
			size_t j = i + 1;
			while (j < n && strcmp(pend[j].folder, pend[i].folder) == 0)
				j++;
			memset(ok + i, 0, (j - i) * sizeof(bool));
			if (append_group(s, pend + i, j - i, ok + i, error_r) < 0)
				ret = -1;
			i = j;
		}
		for (size_t i = 0; ret == 0 && i < n; i++) {
			if (!ok[i]) {
				res_r->failed++;
				continue;
			}
			const char *err;
			if (spool_entry_remove(spool, mailbox_id, &pend[i].entry, &err) < 0)
				sp_log_warn("store", "event=drain_unlink spool_id=%s reason=\"%s\"",
				            pend[i].spool_id, err);
			res_r->drained++;
		}
		if (ret < 0)
			break;
	}
	for (size_t i = 0; i < STORE_DRAIN_BATCH; i++)
		sp_buf_deinit(&pend[i].data);
	free(pend);
	return ret;
}
