/* libFuzzer target for the spool's parsers of untrusted bytes: the stanza
 * plaintext (after a seal opens, its content is still checked like input)
 * and directory entry names. Parsed values must re-encode identically. */
#include "spool/spool_private.h"

#include <stdio.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spool_stanza s;
	const char *error = NULL;
	if (spool_stanza_parse(data, size, &s, &error) == 0) {
		sp_assert(s.folder_len <= SPOOL_FOLDER_MAX && s.headers_len <= SPOOL_HEADERS_MAX);
		sp_assert(s.stream_size == spool_bucket(s.body_size));
		size_t len = spool_stanza_plain_len(s.folder_len, s.headers_len);
		sp_assert(len <= SPOOL_STANZA_PLAIN_MAX);
		uint8_t *out = sp_malloc(len);
		spool_stanza_encode(&s, out, len);
		struct spool_stanza t;
		sp_assert(spool_stanza_parse(out, len, &t, &error) == 0);
		sp_assert(t.index == s.index && t.body_size == s.body_size &&
		          t.received == s.received && t.folder_len == s.folder_len &&
		          t.headers_len == s.headers_len &&
		          memcmp(t.folder, s.folder, s.folder_len) == 0 &&
		          memcmp(t.key, s.key, 32) == 0 && strcmp(t.spool_id, s.spool_id) == 0);
		free(out);
	} else {
		sp_assert(error != NULL);
	}
	/* the same bytes as an entry name */
	char name[SPOOL_NAME_SIZE + 8];
	size_t n = SP_MIN(size, sizeof(name) - 1);
	memcpy(name, data, n);
	name[n] = '\0';
	struct spool_entry e;
	if (spool_entry_parse_name(name, &e) == 0) {
		char again[SPOOL_NAME_SIZE];
		snprintf(again, sizeof(again), "%s.%u.%llu", e.spool_id, e.stanza,
		         (unsigned long long)e.size);
		sp_assert(strcmp(again, name) == 0);
	}
	return 0;
}
