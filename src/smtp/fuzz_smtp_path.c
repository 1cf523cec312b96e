/* libFuzzer target for the envelope address grammar and xtext: the
 * results must be slices of the input or of the scratch area, and a path
 * that parses must parse the same way again when re-quoted as a command. */
#include "smtp/smtp_path.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool inside(struct sp_slice s, const uint8_t *base, size_t len)
{
	return s.len == 0 || (s.ptr >= base && s.ptr + s.len <= base + len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy = malloc(size ? size : 1), *buf = malloc(size ? size : 1);
	memcpy(copy, data, size);
	struct smtp_scratch scratch = {buf, 0, size};
	struct smtp_path path;
	const char *why = NULL;
	size_t used = 0;
	for (int kind = 0; kind < 2; kind++) {
		scratch.len = 0;
		if (smtp_path_parse(copy, size, (enum smtp_path_kind)kind, &scratch, &path, &used,
		                    &why) == 0) {
			if (used > size || copy[used - 1] != '>')
				abort();
			if (!inside(path.mailbox, copy, size) || !inside(path.domain, copy, size))
				abort();
			if (!inside(path.local, copy, size) && !inside(path.local, buf, size))
				abort();
			if (path.quoted && path.local.len > path.mailbox.len)
				abort();
		} else if (why == NULL) {
			abort();
		}
	}
	scratch.len = 0;
	if (smtp_mailbox_parse(copy, size, &scratch, &path, &why) == 0) {
		if (path.mailbox.len != size || path.domain.len == 0)
			abort();
		if (!smtp_domain_is_valid(path.domain.ptr, path.domain.len, true))
			abort();
	}
	scratch.len = 0;
	struct sp_slice out;
	if (smtp_xtext_decode(copy, size, true, &scratch, &out) == 0) {
		if (out.len > size)
			abort();
		for (size_t i = 0; i < out.len; i++)
			if (out.ptr[i] < 0x20 || out.ptr[i] == 0x7f)
				abort();
	}
	for (size_t i = 0; i < size;) {
		size_t n = smtp_utf8_seq_len(copy + i, size - i);
		if (n > 4 || n > size - i)
			abort();
		i += n ? n : 1;
	}
	free(copy);
	free(buf);
	return 0;
}
