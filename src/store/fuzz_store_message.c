/* libFuzzer target for the store: input byte 0 picks the mode.
 *   even: the rest is a message: append, then fetch it back — the
 *         original must come back byte-exact, BODY[] must be its CRLF
 *         form and RFC822.SIZE that form's length; a few sections and
 *         BINARY parts must resolve without error; then expunge.
 *   odd:  the rest is decoded into a store_query tree (keys, strings,
 *         numbers, dates, regexes) and run against a small mailbox:
 *         any result or a clean error, never a crash or a hang.
 * One mailbox for the whole run (synchronous=OFF: durability is not
 * what is fuzzed). Seeds: seed.sh in this directory. */
#include "store/store_private.h"
#include "mime/mime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct store_session *store;
static int64_t inbox;

static void setup(void)
{
	if (store != NULL)
		return;
	keys_init();
	char dir[] = "/tmp/sp-fuzz-store-XXXXXX";
	if (mkdtemp(dir) == NULL)
		abort();
	char path[128];
	snprintf(path, sizeof(path), "%s/m.sqlite", dir);
	struct keys_secret *dek = keys_secret_random(KEYS_KEY_LEN);
	const char *err;
	if (store_session_open(path, "fuzz", dek, true, &store, &err) < 0 ||
	    store_exec(store, "PRAGMA synchronous=OFF", &err) < 0 ||
	    store_folder_id(store, "INBOX", &inbox, NULL, &err) < 0)
		abort();
	keys_secret_free(&dek);
	static const char *const seeds[] = {
	    "From: Alice <a@example.org>\r\nSubject: Hello\r\nDate: 1 Jan 2026 00:00 "
	    "+0100\r\n\r\nbody text\r\n",
	    "Subject: =?UTF-8?B?7JWI64WV?=\r\nContent-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n5p2x5Lqs\r\n",
	};
	for (size_t i = 0; i < 2; i++) {
		struct store_append_msg m = {.data = (const uint8_t *)seeds[i],
		                             .len = strlen(seeds[i])};
		uint32_t uidv, uid;
		if (store_append(store, "INBOX", &m, 1, &uidv, &uid, &err) < 0)
			abort();
	}
}

struct check {
	const uint8_t *data;
	size_t size;
	struct sp_buf served;
	int seen;
};

static int on_message(void *ctx, const struct store_message *m)
{
	struct check *c = ctx;
	c->seen++;
	if (m->original_len != c->size || memcmp(m->original, c->data, c->size) != 0)
		abort(); /* not byte-exact */
	if (m->size != c->served.len || m->sections[0].data == NULL ||
	    m->sections[0].len != c->served.len ||
	    memcmp(m->sections[0].data, c->served.data, c->served.len) != 0)
		abort(); /* BODY[] is not the CRLF form */
	return 0;
}

static void fuzz_message(const uint8_t *data, size_t size)
{
	struct store_append_msg m = {.data = data, .len = size, .flags = STORE_FLAG_DELETED};
	uint32_t uidv, uid;
	const char *err;
	if (store_append(store, "INBOX", &m, 1, &uidv, &uid, &err) < 0)
		abort();
	struct check c = {.data = data, .size = size};
	mime_crlf_normalize(data, size, &c.served);
	struct store_section_req secs[] = {
	    {.type = STORE_SECTION_BODY, .spec = ""},
	    {.type = STORE_SECTION_BODY, .spec = "1.2.MIME"},
	    {.type = STORE_SECTION_BODY,
	     .spec = "2.TEXT",
	     .partial = true,
	     .offset = 3,
	     .count = 9},
	    {.type = STORE_SECTION_BODY, .spec = "HEADER.FIELDS (From Subject)"},
	    {.type = STORE_SECTION_BINARY, .spec = "1"},
	    {.type = STORE_SECTION_BINARY_SIZE, .spec = "2.1"},
	};
	struct store_uid_range r = {uid, uid};
	struct store_fetch_req req = {.uids = {&r, 1},
	                              .items = STORE_FETCH_ORIGINAL | STORE_FETCH_SIZE |
	                                       STORE_FETCH_ENVELOPE | STORE_FETCH_BODYSTRUCTURE |
	                                       STORE_FETCH_FLAGS,
	                              .sections = secs,
	                              .n_sections = SP_N_ELEMENTS(secs)};
	if (store_fetch(store, inbox, &req, on_message, &c, &err) < 0 || c.seen != 1)
		abort();
	sp_buf_deinit(&c.served);
	struct sp_arena *a = sp_arena_new(1024);
	uint32_t *gone;
	size_t n;
	if (store_expunge(store, inbox, NULL, a, &gone, &n, &err) < 0 || n != 1)
		abort();
	sp_arena_free(&a);
}

/* Decodes a query tree from the input; strings are NUL-separated runs. */
struct reader {
	const uint8_t *p, *end;
	struct sp_arena *a;
};

static uint8_t rd_byte(struct reader *r)
{
	return r->p < r->end ? *r->p++ : 0;
}

static const char *rd_str(struct reader *r)
{
	size_t n = rd_byte(r) % 24;
	n = SP_MIN(n, (size_t)(r->end - r->p));
	char *s = sp_arena_strndup(r->a, (const char *)r->p, n);
	r->p += n;
	return s;
}

static void rd_query(struct reader *r, struct store_query *q, unsigned depth)
{
	memset(q, 0, sizeof(*q));
	q->type = (enum store_query_type)(rd_byte(r) % (STORE_Q_REGEX + 1));
	if (depth > 6 &&
	    (q->type == STORE_Q_AND || q->type == STORE_Q_OR || q->type == STORE_Q_NOT))
		q->type = STORE_Q_ALL;
	switch (q->type) {
	case STORE_Q_AND:
	case STORE_Q_OR:
	case STORE_Q_NOT:
		q->n_children = q->type == STORE_Q_NOT ? 1 : rd_byte(r) % 4;
		q->children = sp_arena_zalloc(r->a, (q->n_children + 1) * sizeof(*q));
		for (size_t i = 0; i < q->n_children; i++)
			rd_query(r, &q->children[i], depth + 1);
		break;
	case STORE_Q_UID:
	case STORE_Q_SEQ: {
		size_t n = rd_byte(r) % 4;
		struct store_uid_range *rg = sp_arena_zalloc(r->a, (n + 1) * sizeof(*rg));
		for (size_t i = 0; i < n; i++) {
			rg[i].lo = rd_byte(r);
			rg[i].hi = rd_byte(r) == 255 ? UINT32_MAX : rd_byte(r);
		}
		q->uids = (struct store_uidset){rg, n};
		break;
	}
	default:
		q->flags = rd_byte(r) & 0x3f;
		q->number = (uint64_t)rd_byte(r) << (rd_byte(r) % 64);
		q->year = (uint16_t)(1990 + rd_byte(r) % 60);
		q->month = rd_byte(r) % 14;
		q->day = rd_byte(r) % 33;
		q->field = (enum store_query_field)(rd_byte(r) % (STORE_FIELD_HEADER + 1));
		q->str = rd_str(r);
		q->header = rd_str(r);
		break;
	}
}

static void fuzz_query(const uint8_t *data, size_t size)
{
	struct sp_arena *a = sp_arena_new(4096);
	struct reader r = {data, data + size, a};
	struct store_query q;
	rd_query(&r, &q, 0);
	uint32_t *uids;
	size_t n;
	const char *err;
	if (store_search(store, inbox, &q, a, &uids, &n, &err) < 0 &&
	    store_last_error(store) == STORE_ERR_INTERNAL)
		abort(); /* only bad input or limits may fail */
	sp_arena_free(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > (1u << 20))
		return 0;
	setup();
	if (data[0] & 1)
		fuzz_query(data + 1, size - 1);
	else
		fuzz_message(data + 1, size - 1);
	return 0;
}
