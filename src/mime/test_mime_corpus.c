/* Corpus and golden-file tests: every message of ../shared/corpus parses,
 * its ENVELOPE and BODYSTRUCTURE are balanced IMAP syntax and its parts
 * and sections lie inside the buffer; the golden files of tests/data/mime
 * (reviewed against the RFCs and an independent Dovecot, see README.md
 * there) match byte for byte. */
#include "mime/golden_render.h"
#include "mime/mime_decode.h"
#include "mime/mime_int.h"
#include "lib/sp_test.h"

#include <dirent.h>
#include <stdlib.h>

SP_TEST_MAIN_DEFS

static bool read_file(const char *path, struct sp_buf *out)
{
	uint8_t chunk[65536];
	size_t n;
	FILE *f = fopen(path, "rb");

	if (f == NULL)
		return false;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		sp_buf_append(out, chunk, n);
	fclose(f);
	return true;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names in dir ending in suffix; NULL-terminated, caller frees. */
static char **list_dir(const char *dir, const char *suffix, size_t *n_r)
{
	DIR *d = opendir(dir);
	char **v = NULL;
	size_t n = 0, sl = strlen(suffix);
	struct dirent *e;

	*n_r = 0;
	if (d == NULL)
		return NULL;
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);
		if (l <= sl || strcmp(e->d_name + l - sl, suffix) != 0)
			continue;
		v = sp_reallocarray(v, n + 2, sizeof(*v));
		v[n++] = sp_strdup(e->d_name);
	}
	closedir(d);
	if (v == NULL)
		return NULL;
	v[n] = NULL;
	qsort(v, n, sizeof(*v), name_cmp);
	*n_r = n;
	return v;
}

static void free_list(char **v)
{
	for (size_t i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

/* Checks IMAP syntax enough to catch imbalance: parentheses outside
 * strings balance, quoted strings end, literals have their bytes. */
static bool imap_balanced(const uint8_t *p, size_t len)
{
	int depth = 0;

	for (size_t i = 0; i < len; i++) {
		if (p[i] == '"') {
			for (i++; i < len && p[i] != '"'; i++) {
				if (p[i] == '\\')
					i++;
				if (i < len && (p[i] == '\r' || p[i] == '\n'))
					return false;
			}
			if (i >= len)
				return false;
		} else if (p[i] == '{') {
			size_t n = 0;
			for (i++; i < len && p[i] >= '0' && p[i] <= '9'; i++)
				n = n * 10 + (p[i] - '0');
			if (i + 2 >= len || p[i] != '}' || p[i + 1] != '\r' || p[i + 2] != '\n')
				return false;
			i += 2 + n;
			if (i >= len)
				return false;
		} else if (p[i] == '(') {
			depth++;
		} else if (p[i] == ')') {
			if (--depth < 0)
				return false;
		}
	}
	return depth == 0;
}

static bool part_inside(const struct mime_message *msg, const struct mime_part *part,
                        unsigned *count)
{
	(*count)++;
	if (part->hdr_off + part->hdr_len > msg->len || part->body_off + part->body_len > msg->len)
		return false;
	if (part->hdr_off + part->hdr_len != part->body_off)
		return false;
	for (unsigned i = 0; i < part->n_fields; i++) {
		const struct mime_field *f = &part->fields[i];
		if (f->off < part->hdr_off || f->end > part->body_off || f->value_off > f->end)
			return false;
	}
	if (part->message != NULL && !part_inside(msg, part->message, count))
		return false;
	for (const struct mime_part *c = part->children; c != NULL; c = c->next) {
		if (c->hdr_off < part->body_off ||
		    c->body_off + c->body_len > part->body_off + part->body_len)
			return false;
		if (!part_inside(msg, c, count))
			return false;
	}
	return true;
}

static bool valid_utf8(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len;) {
		size_t n = mime_utf8_seq_len(p + i, len - i);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

static void check_corpus_message(const char *name, const struct sp_buf *raw)
{
	struct sp_buf served = SP_BUF_INIT, trickle = SP_BUF_INIT, v = SP_BUF_INIT;
	struct mime_crlf_state st = MIME_CRLF_STATE_INIT;
	struct sp_arena *arena = sp_arena_new(65536);
	struct mime_message *msg;
	unsigned count = 0;

	sp_test_current = name;
	mime_crlf_normalize(raw->data, raw->len, &served);
	SP_CHECK_INT(mime_served_size(raw->data, raw->len), served.len);
	SP_CHECK_INT(mime_served_size(served.data, served.len), served.len);
	for (size_t i = 0; i < raw->len; i++)
		mime_crlf_feed(&st, raw->data + i, 1, &trickle);
	mime_crlf_finish(&st, &trickle);
	SP_CHECK(trickle.len == served.len && memcmp(trickle.data, served.data, served.len) == 0);

	SP_CHECK_INT(mime_parse(served.data, served.len, NULL, arena, &msg), 0);
	SP_CHECK((msg->defects & MIME_DEFECT_BARE_EOL) == 0);
	SP_CHECK(part_inside(msg, msg->root, &count));
	SP_CHECK_INT(count, msg->n_parts);
	for (unsigned flags = 0; flags <= MIME_IMAP_UTF8; flags += MIME_IMAP_UTF8) {
		sp_buf_reset(&v);
		mime_envelope(msg, msg->root, flags, &v);
		SP_CHECK(imap_balanced(v.data, v.len));
		sp_buf_reset(&v);
		mime_bodystructure(msg, msg->root, true, flags, &v);
		SP_CHECK(imap_balanced(v.data, v.len));
		sp_buf_reset(&v);
		mime_bodystructure(msg, msg->root, false, flags, &v);
		SP_CHECK(imap_balanced(v.data, v.len));
	}
	for (size_t i = 0; i < SP_N_ELEMENTS(golden_sections); i++) {
		struct mime_section sec;
		struct mime_section_result res;
		const char *error;
		SP_CHECK_INT(mime_section_parse(golden_sections[i], &sec, arena, &error), 0);
		if (mime_section_fetch(msg, &sec, &res, NULL) == 0) {
			SP_CHECK(res.off + res.len <= served.len);
			sp_buf_deinit(&res.bytes);
		}
	}
	sp_buf_reset(&v);
	mime_message_text(msg, &v);
	SP_CHECK(valid_utf8(v.data, v.len));

	sp_arena_free(&arena);
	sp_buf_deinit(&served);
	sp_buf_deinit(&trickle);
	sp_buf_deinit(&v);
}

static void test_corpus(void)
{
	const char *dir = getenv("SP_CORPUS");
	size_t n;

	SP_CHECK(dir != NULL);
	if (dir == NULL)
		return;
	char **names = list_dir(dir, ".eml", &n);
	/* The corpus must be there: a missing one is a failure. */
	SP_CHECK(n >= 397);
	for (size_t i = 0; i < n; i++) {
		struct sp_buf raw = SP_BUF_INIT;
		char *path = sp_malloc(strlen(dir) + strlen(names[i]) + 2);
		snprintf(path, strlen(dir) + strlen(names[i]) + 2, "%s/%s", dir, names[i]);
		SP_CHECK(read_file(path, &raw));
		check_corpus_message(names[i], &raw);
		sp_buf_deinit(&raw);
		free(path);
	}
	sp_test_current = "test_corpus";
	free_list(names);
}

static void test_golden(void)
{
	const char *src = getenv("SP_SRC"), *corpus = getenv("SP_CORPUS");
	size_t n, passed = 0;

	SP_CHECK(src != NULL && corpus != NULL);
	if (src == NULL || corpus == NULL)
		return;
	char *dir = sp_malloc(strlen(src) + 32);
	snprintf(dir, strlen(src) + 32, "%s/tests/data/mime", src);
	char **names = list_dir(dir, ".golden", &n);
	SP_CHECK(n >= 40);
	for (size_t i = 0; i < n; i++) {
		struct sp_buf golden = SP_BUF_INIT, raw = SP_BUF_INIT, served = SP_BUF_INIT,
		              got = SP_BUF_INIT;
		size_t pl = strlen(dir) + strlen(names[i]) + strlen(corpus) + 16;
		char *path = sp_malloc(pl);
		snprintf(path, pl, "%s/%s", dir, names[i]);
		SP_CHECK(read_file(path, &golden));
		/* NAME.golden describes corpus/NAME.eml */
		snprintf(path, pl, "%s/%.*s.eml", corpus, (int)(strlen(names[i]) - 7), names[i]);
		SP_CHECK(read_file(path, &raw));
		mime_crlf_normalize(raw.data, raw.len, &served);
		golden_render(served.data, served.len, &got);
		/* the first line is a comment */
		const uint8_t *nl = golden.len > 0 ? memchr(golden.data, '\n', golden.len) : NULL;
		size_t skip = nl == NULL ? 0 : (size_t)(nl - golden.data) + 1;
		bool same = golden.len - skip == got.len &&
		            memcmp(golden.data + skip, got.data, got.len) == 0;
		if (!same) {
			/* print the first differing line */
			size_t k = 0;
			while (k < got.len && skip + k < golden.len &&
			       got.data[k] == golden.data[skip + k])
				k++;
			size_t ls = k;
			while (ls > 0 && got.data[ls - 1] != '\n')
				ls--;
			fprintf(stderr, "%s: differs at byte %zu:\n  got:      %.200s\n", names[i],
			        k, (const char *)got.data + ls);
		}
		SP_CHECK(same);
		passed += same;
		free(path);
		sp_buf_deinit(&golden);
		sp_buf_deinit(&raw);
		sp_buf_deinit(&served);
		sp_buf_deinit(&got);
	}
	printf("golden: %zu of %zu files match\n", passed, n);
	free_list(names);
	free(dir);
}

int main(void)
{
	SP_TEST_RUN(test_corpus);
	SP_TEST_RUN(test_golden);
	return sp_test_finish();
}
