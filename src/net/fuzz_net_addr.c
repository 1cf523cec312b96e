/* libFuzzer target for the listener address parser: any bytes must give
 * either a valid address that formats and re-parses to the same thing, or
 * a precise error; never a crash or an out-of-bounds read. */
#include "net/sp_addr.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char text[SP_ADDR_TEXT_MAX + 64];
	if (size >= sizeof(text))
		size = sizeof(text) - 1;
	memcpy(text, data, size);
	text[size] = '\0';
	struct sp_addr a;
	const char *err = NULL;
	if (sp_addr_parse(text, &a, &err) < 0) {
		if (err == NULL || err[0] == '\0')
			__builtin_trap();
		return 0;
	}
	char out[SP_ADDR_STRLEN];
	sp_addr_format((const struct sockaddr *)&a.ss, a.len, out, sizeof(out));
	(void)sp_addr_is_loopback((const struct sockaddr *)&a.ss);
	/* Canonical text must parse back to the same address. IPv4-mapped
	 * IPv6 prints as IPv4, so only compare kind-stable cases. */
	struct sp_addr b;
	if (sp_addr_parse(out, &b, &err) < 0)
		__builtin_trap();
	if (b.port != a.port)
		__builtin_trap();
	if (a.kind == b.kind && memcmp(&a.ss, &b.ss, a.len) != 0)
		__builtin_trap();
	return 0;
}
