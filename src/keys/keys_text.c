/* Text forms of generated secrets: slot ids, passwords, recovery keys, in
 * a lowercase base32 alphabet without look-alikes, and their parsing and
 * canonicalisation (any case; recovery key groups split by '-' or ' '). */
#include "keys/keys.h"
#include "keys/keys_private.h"

#include <sodium.h>
#include <string.h>

static const char keys_alphabet[] = "23456789abcdefghijkmnpqrstuvwxyz";

#define KEYS_RECOVERY_CHARS 52 /* 260 bits */
#define KEYS_PASSWORD_CHARS 26 /* 130 bits */

/* The index of c (any case) in the alphabet, or -1. */
static int alphabet_index(char c)
{
	if (c >= 'A' && c <= 'Z')
		c = (char)(c - 'A' + 'a');
	const char *p = memchr(keys_alphabet, c, 32);
	return (p == NULL || c == '\0') ? -1 : (int)(p - keys_alphabet);
}

/* n random alphabet characters into out, without modulo bias (32 divides
 * 256). The random bytes are wiped. */
static void random_chars(char *out, size_t n)
{
	uint8_t r[64];
	sp_assert(n <= sizeof(r));
	randombytes_buf(r, n);
	for (size_t i = 0; i < n; i++)
		out[i] = keys_alphabet[r[i] & 31];
	sodium_memzero(r, sizeof(r));
}

void keys_slot_id_generate(char id_r[KEYS_SLOT_ID_LEN + 1])
{
	keys_init();
	random_chars(id_r, KEYS_SLOT_ID_LEN);
	id_r[KEYS_SLOT_ID_LEN] = '\0';
}

bool keys_slot_id_valid(const char *id)
{
	for (size_t i = 0; i < KEYS_SLOT_ID_LEN; i++) {
		/* lowercase only: ids are stored canonical */
		if (id[i] == '\0' || memchr(keys_alphabet, id[i], 32) == NULL)
			return false;
	}
	return id[KEYS_SLOT_ID_LEN] == '\0';
}

const char *keys_slot_kind_name(enum keys_slot_kind kind)
{
	switch (kind) {
	case KEYS_SLOT_PASSWORD:
		return "password";
	case KEYS_SLOT_APP:
		return "app";
	case KEYS_SLOT_RECOVERY:
		return "recovery";
	}
	return NULL;
}

struct keys_secret *keys_password_generate(const char *slot_id)
{
	sp_assert(keys_slot_id_valid(slot_id));
	struct keys_secret *s = keys_secret_new(KEYS_PASSWORD_LEN);
	char *out = (char *)s->p;
	memcpy(out, slot_id, KEYS_SLOT_ID_LEN);
	out[KEYS_SLOT_ID_LEN] = '-';
	random_chars(out + KEYS_SLOT_ID_LEN + 1, KEYS_PASSWORD_CHARS);
	return s;
}

/* Writes the canonical recovery key for id and 52 body characters. */
static void recovery_format(char *out, const char *id, const char *body)
{
	size_t o = 0;
	out[o++] = 'R';
	out[o++] = '-';
	memcpy(out + o, id, KEYS_SLOT_ID_LEN);
	o += KEYS_SLOT_ID_LEN;
	for (size_t g = 0; g < KEYS_RECOVERY_CHARS / 4; g++) {
		out[o++] = '-';
		memcpy(out + o, body + g * 4, 4);
		o += 4;
	}
	out[o] = '\0';
	sp_assert(o == KEYS_RECOVERY_LEN);
}

struct keys_secret *keys_recovery_generate(const char *slot_id)
{
	sp_assert(keys_slot_id_valid(slot_id));
	struct keys_secret *body = keys_secret_new(KEYS_RECOVERY_CHARS);
	random_chars((char *)body->p, KEYS_RECOVERY_CHARS);
	struct keys_secret *s = keys_secret_new(KEYS_RECOVERY_LEN);
	recovery_format((char *)s->p, slot_id, (const char *)body->p);
	keys_secret_free(&body);
	return s;
}

/* Recognises a recovery key: 'R' or 'r', then 60 alphabet characters (id
 * and body) in any case, each run separated by '-' or ' ' (one or more
 * separators anywhere after the R, none required between characters).
 * On success writes the canonical form into canon (when not NULL, at
 * least KEYS_RECOVERY_LEN + 1 bytes) and the id into id_r. */
static bool parse_recovery(const char *text, char *canon, char id_r[KEYS_SLOT_ID_LEN + 1])
{
	if (text[0] != 'R' && text[0] != 'r')
		return false;
	if (text[1] != '-' && text[1] != ' ')
		return false;
	char chars[KEYS_SLOT_ID_LEN + KEYS_RECOVERY_CHARS];
	size_t n = 0;
	bool ok = true;
	for (const char *p = text + 2; *p != '\0'; p++) {
		if (*p == '-' || *p == ' ')
			continue;
		int v = alphabet_index(*p);
		if (v < 0 || n == sizeof(chars)) {
			ok = false;
			break;
		}
		chars[n++] = keys_alphabet[v];
	}
	ok = ok && n == sizeof(chars);
	if (ok) {
		memcpy(id_r, chars, KEYS_SLOT_ID_LEN);
		id_r[KEYS_SLOT_ID_LEN] = '\0';
		if (canon != NULL)
			recovery_format(canon, id_r, chars + KEYS_SLOT_ID_LEN);
	}
	sodium_memzero(chars, sizeof(chars));
	return ok;
}

/* Recognises a generated password "<8>-<26>" in any case. */
static bool parse_password(const char *text, char *canon, char id_r[KEYS_SLOT_ID_LEN + 1])
{
	for (size_t i = 0; i < KEYS_PASSWORD_LEN; i++) {
		if (i == KEYS_SLOT_ID_LEN ? text[i] != '-' : alphabet_index(text[i]) < 0)
			return false;
	}
	if (text[KEYS_PASSWORD_LEN] != '\0')
		return false;
	for (size_t i = 0; i < KEYS_SLOT_ID_LEN; i++)
		id_r[i] = keys_alphabet[alphabet_index(text[i])];
	id_r[KEYS_SLOT_ID_LEN] = '\0';
	if (canon != NULL) {
		for (size_t i = 0; i < KEYS_PASSWORD_LEN; i++)
			canon[i] =
			    i == KEYS_SLOT_ID_LEN ? '-' : keys_alphabet[alphabet_index(text[i])];
		canon[KEYS_PASSWORD_LEN] = '\0';
	}
	return true;
}

int keys_password_slot_id(const char *text, char id_r[KEYS_SLOT_ID_LEN + 1])
{
	if (parse_password(text, NULL, id_r) || parse_recovery(text, NULL, id_r))
		return 1;
	return 0;
}

int keys_text_canonical(const char *text, struct keys_secret **canon_r)
{
	size_t len = strnlen(text, KEYS_SECRET_TEXT_MAX + 1);
	if (len > KEYS_SECRET_TEXT_MAX)
		return -1;
	struct keys_secret *c = keys_secret_new(SP_MAX(len, (size_t)KEYS_RECOVERY_LEN));
	char id[KEYS_SLOT_ID_LEN + 1];
	if (!parse_password(text, (char *)c->p, id) && !parse_recovery(text, (char *)c->p, id))
		memcpy(c->p, text, len + 1);
	c->len = strlen((const char *)c->p);
	*canon_r = c;
	return 0;
}
