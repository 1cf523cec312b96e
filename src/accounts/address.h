/* Canonical addresses, defined once for every protocol and the CLI.
 * The domain is lowercased and IDNA-encoded (A-labels, IDNA2008 via
 * libidn2), the local part is compared case-insensitively (ASCII letters
 * are folded; UTF-8 local parts of RFC 6531 are kept as given), and a
 * "+tag" subaddress is split off so it can resolve to its alias. */
#ifndef ACCOUNTS_ADDRESS_H
#define ACCOUNTS_ADDRESS_H

#include "lib/sp_mem.h"

#define ADDRESS_MAX_LEN 254  /* RFC 5321 §4.5.3.1.3 path minus the brackets */
#define ADDRESS_LOCAL_MAX 64 /* RFC 5321 §4.5.3.1.1 */
#define ADDRESS_DOMAIN_MAX 253

struct address {
	char local[ADDRESS_LOCAL_MAX + 1];   /* folded, without the +tag */
	char tag[ADDRESS_LOCAL_MAX + 1];     /* "" when none */
	char domain[ADDRESS_DOMAIN_MAX + 1]; /* A-label form, lowercase */
};

/* Canonicalises a domain name (U-labels or A-labels) into out (at least
 * ADDRESS_DOMAIN_MAX+1 bytes). 0 ok; -1 with *error_r set otherwise. */
int address_domain_canonical(const char *in, char *out, const char **error_r);

/* Parses "local@domain" into addr. Quoted local parts are refused (they are
 * legal but no mailbox here is created with one). 0 ok, -1 with *error_r. */
int address_parse(const char *in, struct address *addr, const char **error_r);

/* Formats "local@domain" (without the tag) into out (ADDRESS_MAX_LEN+1). */
void address_format(const struct address *addr, char *out, size_t size);

#endif
