/* The served form of a message: every bare LF and bare CR becomes CRLF
 * (RFC 5322 §2.3 allows no other line end), so that RFC822.SIZE, section
 * offsets and line counts are computed on the bytes IMAP and POP3 send. */
#include "mime/mime.h"

#include <string.h>

void mime_crlf_feed(struct mime_crlf_state *st, const uint8_t *in, size_t len, struct sp_buf *out)
{
	size_t i = 0, run = 0;

	if (len == 0)
		return;
	sp_buf_reserve(out, len + len / 8 + 2);
	if (st->pending_cr) {
		/* The CR ended the previous chunk: it becomes CRLF whatever
		 * follows, and an LF right here is that CRLF's LF. */
		sp_buf_append(out, "\r\n", 2);
		st->pending_cr = false;
		if (in[0] == '\n')
			i = 1;
	}
	run = i;
	for (; i < len; i++) {
		if (in[i] == '\n') {
			sp_buf_append(out, in + run, i - run);
			sp_buf_append(out, "\r\n", 2);
			run = i + 1;
		} else if (in[i] == '\r') {
			sp_buf_append(out, in + run, i - run);
			if (i + 1 == len) {
				st->pending_cr = true;
				run = len;
				break;
			}
			sp_buf_append(out, "\r\n", 2);
			if (in[i + 1] == '\n')
				i++;
			run = i + 1;
		}
	}
	if (run < len)
		sp_buf_append(out, in + run, len - run);
}

void mime_crlf_finish(struct mime_crlf_state *st, struct sp_buf *out)
{
	if (st->pending_cr)
		sp_buf_append(out, "\r\n", 2);
	st->pending_cr = false;
}

void mime_crlf_normalize(const uint8_t *in, size_t len, struct sp_buf *out)
{
	struct mime_crlf_state st = MIME_CRLF_STATE_INIT;

	mime_crlf_feed(&st, in, len, out);
	mime_crlf_finish(&st, out);
}

size_t mime_served_size(const uint8_t *in, size_t len)
{
	size_t size = len;

	for (size_t i = 0; i < len; i++) {
		if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r'))
			size++;
		else if (in[i] == '\r' && (i + 1 == len || in[i + 1] != '\n'))
			size++;
	}
	return size;
}
