/* libFuzzer target for modified UTF-7: whatever decodes must re-encode to
 * the same octets (one spelling per name), and whatever encodes must decode
 * back to the input. */
#include "imap/imap_utf7.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sp_slice in = {data, size};
	struct sp_buf a = SP_BUF_INIT, b = SP_BUF_INIT;
	const char *error;
	if (imap_utf7_to_utf8(in, &a, &error) == 0) {
		sp_assert(imap_utf8_is_valid(sp_buf_slice(&a)));
		sp_assert(imap_utf8_to_utf7(sp_buf_slice(&a), &b, &error) == 0);
		sp_assert(b.len == size && memcmp(b.data, data, size) == 0);
	}
	sp_buf_reset(&a);
	sp_buf_reset(&b);
	if (imap_utf8_to_utf7(in, &a, &error) == 0) {
		sp_assert(imap_utf8_is_valid(in));
		sp_assert(imap_utf7_to_utf8(sp_buf_slice(&a), &b, &error) == 0);
		sp_assert(b.len == size && memcmp(b.data, data, size) == 0);
	} else {
		sp_assert(!imap_utf8_is_valid(in) || memchr(data, 0, size) != NULL);
	}
	sp_buf_deinit(&a);
	sp_buf_deinit(&b);
	return 0;
}
