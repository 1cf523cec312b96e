/* libFuzzer target for the reply writer: whatever the text, every line is
 * "CODE-" or "CODE " plus the enhanced code, at most 512 octets, ends in
 * CRLF, and holds no other CR or LF. */
#include "smtp/smtp_reply.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	char *text = malloc(size);
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	const char *enhanced = (data[0] & 1) ? "5.5.2" : NULL;
	struct sp_buf b = SP_BUF_INIT;
	struct smtp_reply r;
	smtp_reply_begin(&r, &b, 550, enhanced);
	/* Each NUL-separated piece of the input is one added line. */
	for (size_t off = 0; off < size - 1;) {
		smtp_reply_add(&r, text + off);
		off += strlen(text + off) + 1;
	}
	smtp_reply_end(&r);
	size_t start = 0;
	for (size_t i = 0; i < b.len; i++) {
		if (b.data[i] == '\n')
			abort();
		if (b.data[i] != '\r')
			continue;
		if (i + 1 >= b.len || b.data[i + 1] != '\n')
			abort();
		size_t len = i + 2 - start;
		if (len > SMTP_REPLY_LINE_MAX || memcmp(b.data + start, "550", 3) != 0)
			abort();
		bool last = i + 2 == b.len;
		if (b.data[start + 3] != (last ? ' ' : '-') && !(last && len == 5))
			abort();
		if (enhanced && memcmp(b.data + start + 4, "5.5.2", 5) != 0)
			abort();
		start = i + 2;
		i++;
	}
	if (start != b.len || b.len == 0)
		abort();
	sp_buf_deinit(&b);
	free(text);
	return 0;
}
