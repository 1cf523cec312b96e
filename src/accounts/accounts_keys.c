/* Key slot records in accounts.db and unlocking a mailbox with a secret. */
#include "accounts/accounts.h"
#include "lib/sp_str.h"

#include <string.h>

#define SLOT_RECORD_VERSION 1
#define SLOT_RECORD_LEN                                                                            \
	(1 + KEYS_SLOT_ID_LEN + 1 + KEYS_SALT_LEN + 8 + 8 + KEYS_NONCE_LEN + KEYS_WRAPPED_KEY_LEN)

static void put_u64(struct sp_buf *out, uint64_t v)
{
	uint8_t b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	sp_buf_append(out, b, 8);
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

void accounts_slot_encode(const struct keys_slot *k, struct sp_buf *out)
{
	sp_buf_reset(out);
	sp_buf_append_byte(out, SLOT_RECORD_VERSION);
	sp_buf_append(out, k->id, KEYS_SLOT_ID_LEN);
	sp_buf_append_byte(out, (uint8_t)k->kind);
	sp_buf_append(out, k->salt, KEYS_SALT_LEN);
	put_u64(out, k->opslimit);
	put_u64(out, k->memlimit);
	sp_buf_append(out, k->nonce, KEYS_NONCE_LEN);
	sp_buf_append(out, k->wrapped_ak, KEYS_WRAPPED_KEY_LEN);
}

int accounts_slot_decode(const struct accounts_slot *row, struct keys_slot *k)
{
	const uint8_t *p = row->record.data;
	if (row->record.len != SLOT_RECORD_LEN || p[0] != SLOT_RECORD_VERSION)
		return -1;
	p++;
	memcpy(k->id, p, KEYS_SLOT_ID_LEN);
	k->id[KEYS_SLOT_ID_LEN] = '\0';
	p += KEYS_SLOT_ID_LEN;
	k->kind = (enum keys_slot_kind) * p++;
	memcpy(k->salt, p, KEYS_SALT_LEN);
	p += KEYS_SALT_LEN;
	k->opslimit = get_u64(p);
	k->memlimit = get_u64(p + 8);
	p += 16;
	memcpy(k->nonce, p, KEYS_NONCE_LEN);
	p += KEYS_NONCE_LEN;
	memcpy(k->wrapped_ak, p, KEYS_WRAPPED_KEY_LEN);
	/* The row's id column and the record must agree. */
	return strcmp(k->id, row->id) == 0 ? 0 : -1;
}

struct unlock_ctx {
	const char *mailbox_id, *secret;
	struct keys_secret *ak;
	struct accounts_slot *slot_r;
};

static int try_slot(const struct accounts_slot *row, void *ctxp)
{
	struct unlock_ctx *u = ctxp;
	struct keys_slot k;
	if (accounts_slot_decode(row, &k) < 0)
		return 0;
	if (keys_slot_open(&k, u->mailbox_id, u->secret, &u->ak) < 0)
		return 0;
	if (u->slot_r != NULL) {
		accounts_slot_deinit(u->slot_r);
		memcpy(u->slot_r->id, row->id, sizeof(row->id));
		memcpy(u->slot_r->mailbox_id, row->mailbox_id, sizeof(row->mailbox_id));
		memcpy(u->slot_r->kind, row->kind, sizeof(row->kind));
		memcpy(u->slot_r->label, row->label, sizeof(row->label));
		memcpy(u->slot_r->created, row->created, sizeof(row->created));
	}
	return 1;
}

int accounts_unlock(struct accounts *acc, const char *mailbox_id, const char *secret,
                    struct keys_secret **ak_r, struct accounts_slot *slot_r)
{
	struct unlock_ctx u = {.mailbox_id = mailbox_id, .secret = secret, .slot_r = slot_r};
	char slot_id[KEYS_SLOT_ID_LEN + 1];
	if (keys_password_slot_id(secret, slot_id) == 1) {
		/* A generated secret names its slot: one derivation. */
		struct accounts_slot row;
		memset(&row, 0, sizeof(row));
		if (accounts_slot_get(acc, mailbox_id, slot_id, &row) == ACCOUNTS_OK) {
			try_slot(&row, &u);
			accounts_slot_deinit(&row);
		} else {
			keys_slot_open_dummy(secret, keys_kdf_params_default());
		}
	} else {
		accounts_slot_foreach(acc, mailbox_id, try_slot, &u);
	}
	if (u.ak == NULL)
		return -1;
	*ak_r = u.ak;
	return 0;
}

int accounts_mailbox_dek(const struct accounts_mailbox *mb, const struct keys_secret *ak,
                         struct keys_secret **dek_r, struct keys_secret **next_r)
{
	if (mb->dek_wrapped.len != KEYS_BLOB_LEN ||
	    keys_dek_unwrap(ak, mb->id, mb->dek_wrapped.data, dek_r) < 0)
		return -1;
	if (next_r != NULL) {
		*next_r = NULL;
		if (mb->dek_next_wrapped.len == KEYS_BLOB_LEN &&
		    keys_dek_unwrap(ak, mb->id, mb->dek_next_wrapped.data, next_r) < 0) {
			keys_secret_free(dek_r);
			return -1;
		}
	}
	return 0;
}
