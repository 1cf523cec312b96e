/* libFuzzer target for address canonicalisation. */
#include "accounts/address.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char in[512];
	if (size >= sizeof(in))
		return 0;
	memcpy(in, data, size);
	in[size] = '\0';
	struct address a;
	const char *error;
	if (address_parse(in, &a, &error) == 0) {
		char out[ADDRESS_MAX_LEN + 1];
		address_format(&a, out, sizeof(out));
		struct address b;
		/* Canonical form is a fixed point. */
		if (address_parse(out, &b, &error) != 0 || strcmp(a.domain, b.domain) != 0)
			__builtin_trap();
	}
	return 0;
}
