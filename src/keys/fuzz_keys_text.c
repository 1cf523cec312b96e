/* libFuzzer target for the parsing of generated passwords and recovery
 * keys: slot id extraction and canonicalisation must agree, never read
 * past the NUL, and canonical text must be a fixed point. */
#include "keys/keys.h"
#include "keys/keys_private.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > KEYS_SECRET_TEXT_MAX + 8)
		return 0;
	char *text = sp_malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	char id[KEYS_SLOT_ID_LEN + 1];
	int has_id = keys_password_slot_id(text, id);
	sp_assert(has_id == 0 || has_id == 1);
	if (has_id == 1)
		sp_assert(keys_slot_id_valid(id));
	struct keys_secret *c = NULL;
	if (keys_text_canonical(text, &c) == 0) {
		sp_assert(c->len == strlen((const char *)c->p));
		char id2[KEYS_SLOT_ID_LEN + 1];
		sp_assert(keys_password_slot_id((const char *)c->p, id2) == has_id);
		if (has_id == 1)
			sp_assert(strcmp(id, id2) == 0);
		struct keys_secret *c2 = NULL;
		sp_assert(keys_text_canonical((const char *)c->p, &c2) == 0);
		sp_assert(strcmp((const char *)c->p, (const char *)c2->p) == 0);
		keys_secret_free(&c2);
		keys_secret_free(&c);
	} else {
		sp_assert(strlen(text) > KEYS_SECRET_TEXT_MAX);
	}
	free(text);
	return 0;
}
