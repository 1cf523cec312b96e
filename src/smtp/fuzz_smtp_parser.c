/* libFuzzer target for the SMTP-family parser. The first byte picks the
 * mode, limits and session behaviour; the rest is the client's byte
 * stream. The input is parsed whole, one byte at a time and in random
 * chunks: any crash, sanitizer report, broken feed contract or difference
 * between the three transcripts is a finding. */
#include "smtp/smtp_transcript_test.h"

#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t flags = data[0];
	data++;
	size--;
	struct smtp_limits limits;
	smtp_limits_init(&limits);
	if (flags & 0x02)
		limits.max_line = 512;
	if (flags & 0x04)
		limits.max_auth_line = 600;
	limits.max_message = (flags & 0x08) ? 64 : 0;
	struct sp_buf ref = SP_BUF_INIT;
	static const struct {
		enum smtp_chunking chunking;
		size_t max;
	} runs[] = {{SMTP_CHUNK_WHOLE, 0}, {SMTP_CHUNK_BYTE, 0}, {SMTP_CHUNK_RANDOM, 9}};
	for (size_t r = 0; r < SP_N_ELEMENTS(runs); r++) {
		struct smtp_transcript_opts o = {
		    .mode = (flags & 0x01) ? SMTP_MODE_LMTP : SMTP_MODE_SMTP,
		    .limits = &limits,
		    .reject_bdat = (flags & 0x10) != 0,
		    .chunking = runs[r].chunking,
		    .max_chunk = runs[r].max,
		    .seed = flags >> 5,
		};
		struct sp_buf out = SP_BUF_INIT;
		smtp_transcript(data, size, &o, &out);
		if (o.violation != NULL) {
			fprintf(stderr, "feed contract broken: %s\n", o.violation);
			abort();
		}
		if (r == 0) {
			ref = out;
			continue;
		}
		if (out.len != ref.len || memcmp(out.data, ref.data, ref.len) != 0) {
			fprintf(stderr, "chunking %zu differs:\n--- whole\n%s\n--- this\n%s\n", r,
			        sp_buf_cstr(&ref), sp_buf_cstr(&out));
			abort();
		}
		sp_buf_deinit(&out);
	}
	sp_buf_deinit(&ref);
	return 0;
}
