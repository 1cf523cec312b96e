/* mime-dump FILE: prints the golden-file text (see golden_render.h) of a
 * message after CRLF normalisation; used to write tests/data/mime. */
#include "mime/golden_render.h"

#include <stdlib.h>

int main(int argc, char **argv)
{
	struct sp_buf raw = SP_BUF_INIT, served = SP_BUF_INIT, out = SP_BUF_INIT;
	uint8_t chunk[65536];
	size_t n;

	if (argc != 2) {
		fprintf(stderr, "usage: mime-dump FILE\n");
		return 2;
	}
	FILE *f = fopen(argv[1], "rb");
	if (f == NULL) {
		perror(argv[1]);
		return 1;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		sp_buf_append(&raw, chunk, n);
	fclose(f);
	mime_crlf_normalize(raw.data, raw.len, &served);
	golden_render(served.data, served.len, &out);
	fwrite(out.data, 1, out.len, stdout);
	sp_buf_deinit(&raw);
	sp_buf_deinit(&served);
	sp_buf_deinit(&out);
	return 0;
}
