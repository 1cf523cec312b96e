/* Listener addresses as administrators write them (DESIGN section 8):
 * "127.0.0.1:143", "0.0.0.0:143", "[::1]:143", "[::]:143", or an absolute
 * Unix socket path "/run/sealpost/lmtp.sock". Numeric only: host names are
 * refused, so a listener never depends on DNS. Port 0 asks the kernel for an
 * ephemeral port (tests use it). */
#ifndef SP_ADDR_H
#define SP_ADDR_H

#include "lib/sp_mem.h"

#include <sys/socket.h>
#include <sys/un.h>

enum sp_addr_kind {
	SP_ADDR_IPV4,
	SP_ADDR_IPV6,
	SP_ADDR_UNIX,
};

struct sp_addr {
	enum sp_addr_kind kind;
	struct sockaddr_storage ss; /* sockaddr_in, sockaddr_in6 or sockaddr_un */
	socklen_t len;              /* bytes of ss to pass to bind() */
	uint16_t port;              /* 0 for Unix sockets */
};

#define SP_ADDR_TEXT_MAX 300 /* longer input is refused */
/* Enough for "[v6%scope]:65535" and for any Unix socket path. */
#define SP_ADDR_STRLEN 128

/* Parses text into *addr_r. 0 on success; -1 with a precise static message
 * in *error_r ("missing ':PORT'", "port out of range (0-65535)", ...). */
int sp_addr_parse(const char *text, struct sp_addr *addr_r, const char **error_r);

/* Writes "192.0.2.1:143", "[2001:db8::1]:143" or the Unix path into out
 * (size >= SP_ADDR_STRLEN is always enough; shorter output is truncated).
 * IPv4-mapped IPv6 addresses are shown as IPv4. */
void sp_addr_format(const struct sockaddr *sa, socklen_t len, char *out, size_t size);

/* The address alone, without port ("192.0.2.1", "2001:db8::1", "unix"). */
void sp_addr_format_ip(const struct sockaddr *sa, socklen_t len, char *out, size_t size);

/* True for 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104. */
bool sp_addr_is_loopback(const struct sockaddr *sa);

#endif
