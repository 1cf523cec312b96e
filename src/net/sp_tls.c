/* OpenSSL 3 server contexts: default certificate plus SNI-selected
 * per-domain ones (RFC 6066 §3), hot reload by swapping contexts, and the
 * self-signed certificate of `sealpost init` (RFC 5280 §4.2 extensions). */
#include "net/sp_tls.h"
#include "net/net_map.h"
#include "lib/sp_str.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Mozilla's "intermediate" TLS 1.2 suites: ECDHE/DHE with AEAD only.
 * TLS 1.3 suites are OpenSSL's defaults, all AEAD. */
#define SP_TLS12_CIPHERS                                                                           \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                               \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                               \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"                               \
	"DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384"

struct tls_domain {
	char *name; /* lowercase; "*.example.test" for a wildcard */
	SSL_CTX *ctx;
};

/* The per-domain contexts, owned by the default context through ex_data
 * so they live exactly as long as any connection still references it. */
struct tls_set {
	struct tls_domain *domains;
	size_t n;
};

struct tls_path {
	char *domain, *cert, *key;
};

struct sp_tls {
	SSL_CTX *ctx; /* the current default context, our reference */
	struct tls_path def;
	struct tls_path *domains;
	size_t n_domains;
};

static int set_index = -1;
static pthread_once_t set_index_once = PTHREAD_ONCE_INIT;

static void set_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	struct tls_set *set = ptr;
	if (set == NULL)
		return;
	for (size_t i = 0; i < set->n; i++) {
		free(set->domains[i].name);
		SSL_CTX_free(set->domains[i].ctx);
	}
	free(set->domains);
	free(set);
}

static void set_index_init(void)
{
	set_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, set_free);
}

/* "what path: OpenSSL reason", clearing OpenSSL's error queue. */
static const char *ssl_error(const char *what, const char *path)
{
	unsigned long e = ERR_peek_last_error();
	char reason[256] = "unknown error";
	if (e != 0)
		ERR_error_string_n(e, reason, sizeof(reason));
	ERR_clear_error();
	if (e == 0 && errno != 0)
		sp_strlcpy(reason, strerror(errno), sizeof(reason));
	return net_error_set("%s %s: %s", what, path != NULL ? path : "", reason);
}

static SSL_CTX *ctx_build(const char *cert, const char *key, const char **error_r)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		*error_r = ssl_error("cannot create TLS context", NULL);
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
	/* Idle IMAP connections are the common case: drop their buffers. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_dh_auto(ctx, 1);
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"sealpost", 8);
	if (SSL_CTX_set_cipher_list(ctx, SP_TLS12_CIPHERS) != 1) {
		*error_r = ssl_error("cannot set TLS 1.2 ciphers", NULL);
		goto fail;
	}
	errno = 0;
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		*error_r = ssl_error("cannot load certificate", cert);
		goto fail;
	}
	errno = 0;
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		*error_r = ssl_error("cannot load private key", key);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		*error_r = ssl_error("private key does not match the certificate", key);
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

/* RFC 6125 §6.4.3, simplified: "*." matches exactly one leftmost label. */
static SSL_CTX *set_lookup(const struct tls_set *set, const char *name)
{
	char lower[256];
	size_t len = strnlen(name, sizeof(lower));
	if (len == 0 || len >= sizeof(lower))
		return NULL;
	for (size_t i = 0; i < len; i++)
		lower[i] = (char)sp_ascii_lower((uint8_t)name[i]);
	if (lower[len - 1] == '.')
		len--;
	lower[len] = '\0';
	for (size_t i = 0; i < set->n; i++) {
		if (strcmp(set->domains[i].name, lower) == 0)
			return set->domains[i].ctx;
	}
	const char *dot = strchr(lower, '.');
	if (dot == NULL || dot == lower)
		return NULL;
	for (size_t i = 0; i < set->n; i++) {
		const char *d = set->domains[i].name;
		if (d[0] == '*' && d[1] == '.' && strcmp(d + 1, dot) == 0)
			return set->domains[i].ctx;
	}
	return NULL;
}

static int sni_callback(SSL *ssl, int *alert, void *arg)
{
	const struct tls_set *set = arg;
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	if (name == NULL || set == NULL)
		return SSL_TLSEXT_ERR_OK;
	SSL_CTX *ctx = set_lookup(set, name);
	if (ctx != NULL && SSL_set_SSL_CTX(ssl, ctx) == NULL)
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	/* Unknown names get the default certificate, as most servers do. */
	return SSL_TLSEXT_ERR_OK;
}

static void path_free(struct tls_path *p)
{
	free(p->domain);
	free(p->cert);
	free(p->key);
	memset(p, 0, sizeof(*p));
}

static void path_copy(struct tls_path *p, const struct sp_tls_cert *c)
{
	p->domain = c->domain != NULL ? sp_strdup(c->domain) : NULL;
	p->cert = sp_strdup(c->cert_path);
	p->key = sp_strdup(c->key_path);
	if (p->domain != NULL)
		sp_str_lower(p->domain);
}

static bool domain_valid(const char *d)
{
	size_t len = strlen(d);
	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = d[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		          (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		          (c == '*' && i == 0 && d[1] == '.');
		if (!ok)
			return false;
	}
	return true;
}

/* Builds a complete default context carrying its per-domain set. */
static SSL_CTX *build_all(const struct tls_path *def, const struct tls_path *domains, size_t n,
                          const char **error_r)
{
	pthread_once(&set_index_once, set_index_init);
	if (set_index < 0) {
		*error_r = "cannot allocate OpenSSL ex_data index";
		return NULL;
	}
	SSL_CTX *ctx = ctx_build(def->cert, def->key, error_r);
	if (ctx == NULL)
		return NULL;
	struct tls_set *set = sp_calloc(1, sizeof(*set));
	set->domains = sp_calloc(n > 0 ? n : 1, sizeof(*set->domains));
	/* Owned by ctx from here: set_free runs when its last reference goes. */
	SSL_CTX_set_ex_data(ctx, set_index, set);
	for (size_t i = 0; i < n; i++) {
		if (!domain_valid(domains[i].domain)) {
			*error_r = net_error_set("invalid TLS domain name '%s'", domains[i].domain);
			goto fail;
		}
		SSL_CTX *d = ctx_build(domains[i].cert, domains[i].key, error_r);
		if (d == NULL)
			goto fail;
		set->domains[set->n].name = sp_strdup(domains[i].domain);
		set->domains[set->n].ctx = d;
		set->n++;
	}
	SSL_CTX_set_tlsext_servername_callback(ctx, sni_callback);
	SSL_CTX_set_tlsext_servername_arg(ctx, set);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

static void config_store(struct sp_tls *tls, const struct sp_tls_config *config)
{
	path_free(&tls->def);
	for (size_t i = 0; i < tls->n_domains; i++)
		path_free(&tls->domains[i]);
	free(tls->domains);
	path_copy(&tls->def, &config->default_cert);
	tls->n_domains = config->n_domains;
	tls->domains =
	    sp_calloc(config->n_domains > 0 ? config->n_domains : 1, sizeof(*tls->domains));
	for (size_t i = 0; i < config->n_domains; i++) {
		struct sp_tls_cert c = config->domains[i];
		if (c.domain == NULL)
			c.domain = "";
		path_copy(&tls->domains[i], &c);
	}
}

int sp_tls_reload(struct sp_tls *tls, const struct sp_tls_config *config, const char **error_r)
{
	struct sp_tls staged = {0};
	const struct sp_tls *src = tls;
	if (config != NULL) {
		config_store(&staged, config);
		src = &staged;
	}
	SSL_CTX *ctx = build_all(&src->def, src->domains, src->n_domains, error_r);
	if (ctx == NULL) {
		if (config != NULL) {
			path_free(&staged.def);
			for (size_t i = 0; i < staged.n_domains; i++)
				path_free(&staged.domains[i]);
			free(staged.domains);
		}
		return -1;
	}
	if (config != NULL) {
		path_free(&tls->def);
		for (size_t i = 0; i < tls->n_domains; i++)
			path_free(&tls->domains[i]);
		free(tls->domains);
		tls->def = staged.def;
		tls->domains = staged.domains;
		tls->n_domains = staged.n_domains;
	}
	/* Connections hold their own references: dropping ours only frees
	 * the old contexts once the last such connection is gone. */
	SSL_CTX_free(tls->ctx);
	tls->ctx = ctx;
	return 0;
}

struct sp_tls *sp_tls_new(const struct sp_tls_config *config, const char **error_r)
{
	struct sp_tls *tls = sp_calloc(1, sizeof(*tls));
	if (sp_tls_reload(tls, config, error_r) < 0) {
		free(tls);
		return NULL;
	}
	return tls;
}

void sp_tls_free(struct sp_tls **tlsp)
{
	struct sp_tls *tls = *tlsp;
	if (tls == NULL)
		return;
	SSL_CTX_free(tls->ctx);
	path_free(&tls->def);
	for (size_t i = 0; i < tls->n_domains; i++)
		path_free(&tls->domains[i]);
	free(tls->domains);
	free(tls);
	*tlsp = NULL;
}

SSL *sp_tls_ssl_new(struct sp_tls *tls)
{
	SSL *ssl = SSL_new(tls->ctx);
	sp_assert(ssl != NULL);
	return ssl;
}

const char *sp_tls_ssl_sni(SSL *ssl)
{
	return SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
}

void sp_tls_ssl_describe(SSL *ssl, char *out, size_t size)
{
	snprintf(out, size, "%s %s", SSL_get_version(ssl), SSL_get_cipher_name(ssl));
}

/* ---- self-signed certificate ---------------------------------------- */

static int add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX v3;
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	if (ext == NULL)
		return -1;
	int rc = X509_add_ext(x, ext, -1) == 1 ? 0 : -1;
	X509_EXTENSION_free(ext);
	return rc;
}

static int write_pem(const char *path, mode_t mode, EVP_PKEY *key, X509 *cert, const char **error_r)
{
	char tmp[4096];
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= sizeof(tmp)) {
		*error_r = net_error_set("path too long: %s", path);
		return -1;
	}
	/* mkstemp creates the file 0600, so a key is never readable by others,
	 * not even between create and chmod. */
	int fd = mkstemp(tmp);
	if (fd < 0) {
		*error_r = net_error_set("cannot create %s: %s", tmp, strerror(errno));
		return -1;
	}
	FILE *fp = fdopen(fd, "w");
	if (fp == NULL) {
		close(fd);
		unlink(tmp);
		*error_r = net_error_set("cannot open %s: %s", tmp, strerror(errno));
		return -1;
	}
	int ok = key != NULL ? PEM_write_PrivateKey(fp, key, NULL, NULL, 0, NULL, NULL)
	                     : PEM_write_X509(fp, cert);
	if (ok == 1 && fchmod(fd, mode) == 0 && fflush(fp) == 0 && fsync(fd) == 0) {
		if (fclose(fp) == 0 && rename(tmp, path) == 0)
			return 0;
		*error_r = net_error_set("cannot write %s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	*error_r = ok != 1 ? ssl_error("cannot encode", path)
	                   : net_error_set("cannot write %s: %s", path, strerror(errno));
	fclose(fp);
	unlink(tmp);
	return -1;
}

int sp_tls_generate_self_signed(const char *cert_path, const char *key_path,
                                const char *const *hosts, size_t n_hosts, enum sp_tls_key_type type,
                                const char **error_r)
{
	if (n_hosts == 0) {
		*error_r = "at least one host name is needed";
		return -1;
	}
	struct sp_buf san = SP_BUF_INIT;
	for (size_t i = 0; i < n_hosts; i++) {
		unsigned char ip[16];
		bool is_ip =
		    inet_pton(AF_INET, hosts[i], ip) == 1 || inet_pton(AF_INET6, hosts[i], ip) == 1;
		/* Validated, so no ',' or ':' can smuggle extra SAN entries. */
		if (!is_ip && !domain_valid(hosts[i])) {
			sp_buf_deinit(&san);
			*error_r = net_error_set("invalid host name '%s'", hosts[i]);
			return -1;
		}
		sp_buf_printf(&san, "%s%s:%s", i > 0 ? "," : "", is_ip ? "IP" : "DNS", hosts[i]);
	}

	int rc = -1;
	X509 *x = NULL;
	BIGNUM *bn = NULL;
	EVP_PKEY *pkey = type == SP_TLS_KEY_RSA_2048
	                     ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)
	                     : EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (pkey == NULL) {
		*error_r = ssl_error("cannot generate key for", key_path);
		goto out;
	}
	x = X509_new();
	unsigned char serial[16];
	if (x == NULL || RAND_bytes(serial, sizeof(serial)) != 1) {
		*error_r = ssl_error("cannot create certificate", cert_path);
		goto out;
	}
	serial[0] &= 0x7f; /* RFC 5280 §4.1.2.2: positive, at most 20 octets */
	serial[0] |= 0x01;
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	X509_NAME *name = X509_get_subject_name(x);
	bool ok = X509_set_version(x, 2) == 1 && bn != NULL &&
	          BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL &&
	          X509_gmtime_adj(X509_getm_notBefore(x), 0) != NULL &&
	          X509_time_adj_ex(X509_getm_notAfter(x), 3650, 0, NULL) != NULL &&
	          X509_set_pubkey(x, pkey) == 1;
	/* CN is limited to 64 characters (RFC 5280 ub-common-name). */
	if (ok && strlen(hosts[0]) <= 64)
		ok = X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
		                                (const unsigned char *)hosts[0], -1, -1, 0) == 1;
	ok = ok && X509_set_issuer_name(x, name) == 1;
	ok = ok && add_ext(x, NID_basic_constraints, "critical,CA:FALSE") == 0;
	ok = ok && add_ext(x, NID_key_usage,
	                   type == SP_TLS_KEY_RSA_2048 ? "critical,digitalSignature,keyEncipherment"
	                                               : "critical,digitalSignature") == 0;
	ok = ok && add_ext(x, NID_ext_key_usage, "serverAuth") == 0;
	ok = ok && add_ext(x, NID_subject_key_identifier, "hash") == 0;
	ok = ok && add_ext(x, NID_authority_key_identifier, "keyid:always") == 0;
	ok = ok && add_ext(x, NID_subject_alt_name, sp_buf_cstr(&san)) == 0;
	ok = ok && X509_sign(x, pkey, EVP_sha256()) > 0;
	if (!ok) {
		*error_r = ssl_error("cannot build certificate", cert_path);
		goto out;
	}
	if (write_pem(key_path, 0600, pkey, NULL, error_r) < 0)
		goto out;
	if (write_pem(cert_path, 0644, NULL, x, error_r) < 0)
		goto out;
	rc = 0;
out:
	BN_free(bn);
	X509_free(x);
	EVP_PKEY_free(pkey);
	sp_buf_deinit(&san);
	return rc;
}
