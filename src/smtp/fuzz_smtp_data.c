/* libFuzzer target for DATA content: the input is a message; it is
 * dot-stuffed as a client does (RFC 5321 §4.5.2, CRLF-delimited lines),
 * sent after DATA in chunks chosen by the first byte, and what comes out
 * must be the message byte for byte (plus the CRLF a client adds when the
 * message does not end with one), ended at the right place, with the
 * following command intact. Stray CR, LF and dots are where smuggling
 * bugs live, so the mutator gets them for free here. */
#include "smtp/smtp_transcript_test.h"

#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t flags = data[0];
	const uint8_t *msg = data + 1;
	size_t len = size - 1;
	struct sp_buf in = SP_BUF_INIT, expect = SP_BUF_INIT, want = SP_BUF_INIT;
	sp_buf_append_str(&in, "DATA\r\n");
	bool bol = true;
	for (size_t i = 0; i < len; i++) {
		if (bol && msg[i] == '.')
			sp_buf_append_byte(&in, '.');
		sp_buf_append_byte(&in, msg[i]);
		bol = msg[i] == '\n' && i > 0 && msg[i - 1] == '\r';
	}
	sp_buf_append(&expect, msg, len);
	if (len > 0 && !bol) {
		sp_buf_append_str(&in, "\r\n");
		sp_buf_append_str(&expect, "\r\n");
	}
	sp_buf_append_str(&in, ".\r\nQUIT\r\n");
	sp_buf_append_str(&want, "DATA\n");
	if (expect.len > 0) {
		sp_buf_append_str(&want, "CONTENT ");
		smtp_tr_escape(&want, expect.data, expect.len);
		sp_buf_append_byte(&want, '\n');
	}
	sp_buf_printf(&want, "END size=%zu\nQUIT\n", expect.len);

	struct smtp_limits limits;
	smtp_limits_init(&limits);
	limits.max_message = 0;
	struct smtp_transcript_opts o = {
	    .mode = (flags & 1) ? SMTP_MODE_LMTP : SMTP_MODE_SMTP,
	    .limits = &limits,
	    .chunking = (flags & 2) ? SMTP_CHUNK_BYTE : SMTP_CHUNK_RANDOM,
	    .max_chunk = (size_t)(flags >> 2) + 1,
	    .seed = flags,
	};
	struct sp_buf got = SP_BUF_INIT;
	smtp_transcript(in.data, in.len, &o, &got);
	if (o.violation != NULL || got.len != want.len || memcmp(got.data, want.data, want.len)) {
		fprintf(stderr, "violation: %s\n--- want\n%s\n--- got\n%s\n",
		        o.violation ? o.violation : "-", sp_buf_cstr(&want), sp_buf_cstr(&got));
		abort();
	}
	sp_buf_deinit(&got);
	sp_buf_deinit(&in);
	sp_buf_deinit(&expect);
	sp_buf_deinit(&want);
	return 0;
}
