/* Encoding and parsing of the spool's on-disk pieces: sealed-stanza
 * plaintext, entry names, spool ids, size buckets (format in spool.h). */
#include "spool/spool_private.h"
#include "lib/sp_str.h"

#include <string.h>

static void put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

size_t spool_stanza_plain_len(size_t folder_len, size_t headers_len)
{
	size_t raw = SPOOL_STANZA_FIXED + SPOOL_ID_LEN + folder_len + headers_len;
	return (raw + SPOOL_STANZA_ALIGN - 1) / SPOOL_STANZA_ALIGN * SPOOL_STANZA_ALIGN;
}

void spool_stanza_encode(const struct spool_stanza *s, uint8_t *out, size_t out_len)
{
	sp_assert(out_len >= spool_stanza_plain_len(s->folder_len, s->headers_len));
	sp_assert(strlen(s->spool_id) == SPOOL_ID_LEN);
	memset(out, 0, out_len);
	uint8_t *p = out;
	*p = SPOOL_STANZA_VERSION;
	p += 4;
	put_u32(p, s->index);
	p += 4;
	memcpy(p, s->key, 32);
	p += 32;
	put_u64(p, (uint64_t)s->received);
	p += 8;
	put_u64(p, s->body_size);
	p += 8;
	put_u64(p, s->stream_size);
	p += 8;
	*p++ = SPOOL_ID_LEN;
	memcpy(p, s->spool_id, SPOOL_ID_LEN);
	p += SPOOL_ID_LEN;
	put_u16(p, (uint16_t)s->folder_len);
	p += 2;
	memcpy(p, s->folder, s->folder_len);
	p += s->folder_len;
	put_u32(p, (uint32_t)s->headers_len);
	p += 4;
	if (s->headers_len > 0)
		memcpy(p, s->headers, s->headers_len);
}

int spool_stanza_parse(const uint8_t *in, size_t len, struct spool_stanza *s, const char **error_r)
{
	memset(s, 0, sizeof(*s));
	if (len < SPOOL_STANZA_FIXED || len > SPOOL_STANZA_PLAIN_MAX) {
		*error_r = "stanza length out of range";
		return -1;
	}
	const uint8_t *p = in, *end = in + len;
	if (p[0] != SPOOL_STANZA_VERSION || p[1] != 0 || p[2] != 0 || p[3] != 0) {
		*error_r = "unknown stanza version";
		return -1;
	}
	p += 4;
	s->index = (uint32_t)get_le(p, 4);
	p += 4;
	s->key = p;
	p += 32;
	s->received = (int64_t)get_le(p, 8);
	p += 8;
	s->body_size = get_le(p, 8);
	p += 8;
	s->stream_size = get_le(p, 8);
	p += 8;
	size_t id_len = *p++;
	if (id_len != SPOOL_ID_LEN || (size_t)(end - p) < id_len + 2) {
		*error_r = "bad spool id in stanza";
		return -1;
	}
	if (!spool_id_valid((const char *)p, id_len)) {
		*error_r = "bad spool id in stanza";
		return -1;
	}
	memcpy(s->spool_id, p, id_len);
	s->spool_id[id_len] = '\0';
	p += id_len;
	s->folder_len = (size_t)get_le(p, 2);
	p += 2;
	if (s->folder_len > SPOOL_FOLDER_MAX || (size_t)(end - p) < s->folder_len + 4 ||
	    memchr(p, '\0', s->folder_len) != NULL) {
		*error_r = "bad folder in stanza";
		return -1;
	}
	s->folder = (const char *)p;
	p += s->folder_len;
	s->headers_len = (size_t)get_le(p, 4);
	p += 4;
	if (s->headers_len > SPOOL_HEADERS_MAX || (size_t)(end - p) < s->headers_len) {
		*error_r = "bad header lines in stanza";
		return -1;
	}
	s->headers = p;
	if (s->body_size > SPOOL_BODY_MAX || s->stream_size != spool_bucket(s->body_size)) {
		*error_r = "bad sizes in stanza";
		return -1;
	}
	return 0;
}

uint64_t spool_bucket(uint64_t body_size)
{
	if (body_size <= 1024)
		return 1024;
	if (body_size <= 65536) {
		uint64_t b = 1024;
		while (b < body_size)
			b <<= 1;
		return b;
	}
	uint64_t top = 65536;
	while (top <= body_size / 2)
		top <<= 1; /* largest power of two <= body_size */
	uint64_t step = SP_MAX(top / 16, (uint64_t)65536);
	return (body_size + step - 1) / step * step;
}

static bool is_lower_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

bool spool_id_valid(const char *id, size_t len)
{
	if (len != SPOOL_ID_LEN)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (i == 16 ? id[i] != '-' : !is_lower_hex(id[i]))
			return false;
	}
	return true;
}

int spool_entry_parse_name(const char *name, struct spool_entry *e)
{
	size_t len = strnlen(name, SPOOL_NAME_SIZE);
	if (len >= SPOOL_NAME_SIZE || len < SPOOL_ID_LEN + 4 ||
	    !spool_id_valid(name, SPOOL_ID_LEN) || name[SPOOL_ID_LEN] != '.')
		return -1;
	const char *idx = name + SPOOL_ID_LEN + 1;
	const char *dot = strchr(idx, '.');
	if (dot == NULL || dot == idx || dot - idx > 4)
		return -1;
	char num[8];
	memcpy(num, idx, (size_t)(dot - idx));
	num[dot - idx] = '\0';
	uint64_t stanza, size;
	if (sp_parse_u64(num, SPOOL_RCPTS_MAX - 1, &stanza) < 0 ||
	    sp_parse_u64(dot + 1, UINT64_MAX, &size) < 0)
		return -1;
	/* one spelling per value: no leading zeros */
	if ((num[0] == '0' && num[1] != '\0') || (dot[1] == '0' && dot[2] != '\0'))
		return -1;
	memcpy(e->name, name, len + 1);
	memcpy(e->spool_id, name, SPOOL_ID_LEN);
	e->spool_id[SPOOL_ID_LEN] = '\0';
	e->stanza = (uint32_t)stanza;
	e->size = size;
	return 0;
}

bool spool_mailbox_id_valid(const char *mailbox_id)
{
	size_t len = strnlen(mailbox_id, SPOOL_MAILBOX_ID_MAX + 1);
	if (len == 0 || len > SPOOL_MAILBOX_ID_MAX || strcmp(mailbox_id, "tmp") == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = mailbox_id[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return false;
	}
	return true;
}
