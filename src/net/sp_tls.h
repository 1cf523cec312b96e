/* Server TLS with OpenSSL 3: a default certificate and key, per-domain
 * certificates chosen by SNI (exact names, then one-label wildcards
 * "*.example.test"), TLS 1.2 and 1.3 only with forward-secret AEAD suites.
 *
 * Reload rebuilds every context from the same (or new) paths and swaps
 * them in only if all of them load: on any error the old set stays and the
 * error is returned as text, never an abort. New connections get the new
 * certificates; open connections hold their own references and keep
 * working. Loop thread only (sp_tls_generate_self_signed: any thread).
 *
 * Error texts (*error_r) name the file and OpenSSL's reason; they stay
 * valid until the next src/net call on the same thread. */
#ifndef SP_TLS_H
#define SP_TLS_H

#include "lib/sp_mem.h"

#include <openssl/ssl.h>

struct sp_tls;

struct sp_tls_cert {
	const char *domain;    /* "mail.example.test" or "*.example.test"; NULL for the default */
	const char *cert_path; /* PEM: the certificate, then its chain */
	const char *key_path;  /* PEM private key (EC or RSA) */
};

struct sp_tls_config {
	struct sp_tls_cert default_cert;
	const struct sp_tls_cert *domains; /* optional per-domain certificates */
	size_t n_domains;
};

/* Loads every certificate; NULL with *error_r on the first failure. The
 * configuration is copied. */
struct sp_tls *sp_tls_new(const struct sp_tls_config *config, const char **error_r);
void sp_tls_free(struct sp_tls **tls);

/* Reloads from config, or from the paths last loaded when config is NULL.
 * 0 on success; -1 with *error_r, the previous certificates still served. */
int sp_tls_reload(struct sp_tls *tls, const struct sp_tls_config *config, const char **error_r);

/* A new server-side SSL for one connection, holding its own reference to
 * the current contexts (for sp_conn). */
SSL *sp_tls_ssl_new(struct sp_tls *tls);

/* After the handshake: the SNI name the client sent (NULL if none), and
 * "TLSv1.3 TLS_AES_256_GCM_SHA384"-style text for logs. */
const char *sp_tls_ssl_sni(SSL *ssl);
void sp_tls_ssl_describe(SSL *ssl, char *out, size_t size);

enum sp_tls_key_type {
	SP_TLS_KEY_EC_P256,
	SP_TLS_KEY_RSA_2048,
};

/* Generates a self-signed certificate (for `sealpost init`): subject CN is
 * hosts[0], subjectAltName lists every host (DNS names, or IP addresses
 * when a host parses as one), valid from now for 10 years, serverAuth,
 * CA:FALSE. Writes key_path with mode 0600 and cert_path with 0644, each
 * through a temporary file renamed into place. 0 ok, -1 with *error_r. */
int sp_tls_generate_self_signed(const char *cert_path, const char *key_path,
                                const char *const *hosts, size_t n_hosts, enum sp_tls_key_type type,
                                const char **error_r);

#endif
