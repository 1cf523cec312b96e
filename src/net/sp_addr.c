/* The ADDR:PORT syntax of listeners (DESIGN section 8) and the formatting
 * of peer addresses for logs and sessions. */
#include "net/sp_addr.h"
#include "lib/sp_str.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

static int parse_port(const char *s, uint16_t *port_r, const char **error_r)
{
	if (*s == '\0') {
		*error_r = "missing port after ':'";
		return -1;
	}
	for (const char *p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '9') {
			*error_r = "port must be a decimal number";
			return -1;
		}
	}
	uint64_t v;
	if (strlen(s) > 5 || sp_parse_u64(s, 65535, &v) < 0) {
		*error_r = "port out of range (0-65535)";
		return -1;
	}
	*port_r = (uint16_t)v;
	return 0;
}

static int parse_unix(const char *text, size_t len, struct sp_addr *addr, const char **error_r)
{
	struct sockaddr_un *sun = (struct sockaddr_un *)&addr->ss;
	if (len >= sizeof(sun->sun_path)) {
		*error_r = "Unix socket path too long (at most 107 bytes)";
		return -1;
	}
	if (text[len - 1] == '/') {
		*error_r = "Unix socket path names a directory";
		return -1;
	}
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, text, len + 1);
	addr->kind = SP_ADDR_UNIX;
	addr->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
	return 0;
}

static int parse_ipv6(const char *text, struct sp_addr *addr, const char **error_r)
{
	const char *close = strchr(text, ']');
	if (close == NULL) {
		*error_r = "missing ']' after IPv6 address";
		return -1;
	}
	size_t hlen = (size_t)(close - text - 1);
	if (hlen == 0) {
		*error_r = "empty IPv6 address between '[' and ']'";
		return -1;
	}
	if (close[1] != ':') {
		*error_r =
		    close[1] == '\0' ? "missing ':PORT' after ']'" : "expected ':PORT' after ']'";
		return -1;
	}
	char host[INET6_ADDRSTRLEN + 1];
	if (hlen >= sizeof(host)) {
		*error_r = "invalid IPv6 address";
		return -1;
	}
	memcpy(host, text + 1, hlen);
	host[hlen] = '\0';
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&addr->ss;
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1) {
		*error_r = strchr(host, '%') != NULL ? "IPv6 scope ids are not supported"
		                                     : "invalid IPv6 address";
		return -1;
	}
	if (parse_port(close + 2, &addr->port, error_r) < 0)
		return -1;
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(addr->port);
	addr->kind = SP_ADDR_IPV6;
	addr->len = sizeof(*sin6);
	return 0;
}

static int parse_ipv4(const char *text, struct sp_addr *addr, const char **error_r)
{
	const char *colon = strrchr(text, ':');
	if (colon == NULL) {
		*error_r = "missing ':PORT'";
		return -1;
	}
	if (memchr(text, ':', (size_t)(colon - text)) != NULL) {
		*error_r = "IPv6 addresses must be in brackets, as in [::1]:143";
		return -1;
	}
	size_t hlen = (size_t)(colon - text);
	if (hlen == 0) {
		*error_r = "missing address before ':' (0.0.0.0 or [::] listen on all)";
		return -1;
	}
	char host[INET_ADDRSTRLEN + 1];
	bool name = false;
	for (size_t i = 0; i < hlen; i++) {
		char c = text[i];
		if ((c < '0' || c > '9') && c != '.')
			name = true;
	}
	if (hlen >= sizeof(host) && !name) {
		*error_r = "invalid IPv4 address";
		return -1;
	}
	if (name) {
		*error_r = "host names are not accepted: use a numeric IPv4 or [IPv6] address";
		return -1;
	}
	memcpy(host, text, hlen);
	host[hlen] = '\0';
	struct sockaddr_in *sin = (struct sockaddr_in *)&addr->ss;
	/* glibc's inet_pton takes exactly four decimal parts without leading
	 * zeros, so "1.2.3", "01.2.3.4" and "256.1.1.1" are all refused. */
	if (inet_pton(AF_INET, host, &sin->sin_addr) != 1) {
		*error_r = "invalid IPv4 address";
		return -1;
	}
	if (parse_port(colon + 1, &addr->port, error_r) < 0)
		return -1;
	sin->sin_family = AF_INET;
	sin->sin_port = htons(addr->port);
	addr->kind = SP_ADDR_IPV4;
	addr->len = sizeof(*sin);
	return 0;
}

int sp_addr_parse(const char *text, struct sp_addr *addr_r, const char **error_r)
{
	memset(addr_r, 0, sizeof(*addr_r));
	size_t len = strnlen(text, SP_ADDR_TEXT_MAX + 1);
	if (len == 0) {
		*error_r = "empty address";
		return -1;
	}
	if (len > SP_ADDR_TEXT_MAX) {
		*error_r = "address too long";
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		if (c <= ' ' || c == 0x7f) {
			*error_r = "address contains a space or control character";
			return -1;
		}
	}
	if (text[0] == '/')
		return parse_unix(text, len, addr_r, error_r);
	if (text[0] == '[')
		return parse_ipv6(text, addr_r, error_r);
	if (text[0] == '.' || text[0] == '~') {
		*error_r = "Unix socket path must be absolute";
		return -1;
	}
	return parse_ipv4(text, addr_r, error_r);
}

static bool v4_mapped(const struct sockaddr_in6 *sin6)
{
	return IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr);
}

static void format_any(const struct sockaddr *sa, socklen_t len, char *out, size_t size,
                       bool with_port)
{
	char host[INET6_ADDRSTRLEN];
	if (size == 0)
		return;
	out[0] = '\0';
	switch (sa->sa_family) {
	case AF_INET: {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		if (with_port)
			snprintf(out, size, "%s:%u", host, ntohs(sin->sin_port));
		else
			snprintf(out, size, "%s", host);
		break;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
		bool mapped = v4_mapped(sin6);
		if (mapped)
			inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], host, sizeof(host));
		else
			inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		if (!with_port)
			snprintf(out, size, "%s", host);
		else if (mapped)
			snprintf(out, size, "%s:%u", host, ntohs(sin6->sin6_port));
		else
			snprintf(out, size, "[%s]:%u", host, ntohs(sin6->sin6_port));
		break;
	}
	case AF_UNIX: {
		const struct sockaddr_un *sun = (const struct sockaddr_un *)sa;
		size_t off = offsetof(struct sockaddr_un, sun_path);
		if (!with_port || len <= off || sun->sun_path[0] == '\0')
			snprintf(out, size, "unix");
		else
			snprintf(out, size, "%.*s", (int)strnlen(sun->sun_path, len - off),
			         sun->sun_path);
		break;
	}
	default:
		snprintf(out, size, "unknown");
		break;
	}
}

void sp_addr_format(const struct sockaddr *sa, socklen_t len, char *out, size_t size)
{
	format_any(sa, len, out, size, true);
}

void sp_addr_format_ip(const struct sockaddr *sa, socklen_t len, char *out, size_t size)
{
	format_any(sa, len, out, size, false);
}

bool sp_addr_is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
		return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
			return true;
		return v4_mapped(sin6) && sin6->sin6_addr.s6_addr[12] == 127;
	}
	return false;
}
