/* TLS tests over loopback: self-signed generation (modes, SAN, strict
 * verification), implicit TLS, STARTTLS with pipelined plaintext discarded
 * (CVE-2011-0411), SNI choosing per-domain and wildcard certificates,
 * reload serving new certificates while an open connection keeps working,
 * bad files keeping the old certificates, backpressure through TLS, and a
 * failed handshake not hurting the server. */
#include "net/testing_echo.h"
#include "lib/sp_str.h"
#include "lib/sp_test.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

SP_TEST_MAIN_DEFS

static char dir[64];
static char def_crt[128], def_key[128], mail_crt[128], mail_key[128], wild_crt[128], wild_key[128],
    bundle[128];

static void paths(void)
{
	snprintf(def_crt, sizeof(def_crt), "%s/default.crt", dir);
	snprintf(def_key, sizeof(def_key), "%s/default.key", dir);
	snprintf(mail_crt, sizeof(mail_crt), "%s/mail.crt", dir);
	snprintf(mail_key, sizeof(mail_key), "%s/mail.key", dir);
	snprintf(wild_crt, sizeof(wild_crt), "%s/wild.crt", dir);
	snprintf(wild_key, sizeof(wild_key), "%s/wild.key", dir);
	snprintf(bundle, sizeof(bundle), "%s/bundle.pem", dir);
}

static int gen(const char *crt, const char *key, const char *host, enum sp_tls_key_type type)
{
	const char *hosts[] = {host, "127.0.0.1"};
	const char *err = NULL;
	int rc = sp_tls_generate_self_signed(crt, key, hosts, 2, type, &err);
	if (rc < 0)
		fprintf(stderr, "generate %s: %s\n", host, err);
	return rc;
}

static void append_file(FILE *out, const char *path)
{
	FILE *in = fopen(path, "r");
	char buf[4096];
	size_t n;
	while (in != NULL && (n = fread(buf, 1, sizeof(buf), in)) > 0)
		fwrite(buf, 1, n, out);
	if (in != NULL)
		fclose(in);
}

/* Trust every generated certificate (each is its own anchor). */
static void write_bundle(void)
{
	FILE *out = fopen(bundle, "w");
	append_file(out, def_crt);
	append_file(out, mail_crt);
	append_file(out, wild_crt);
	fclose(out);
}

static void test_generate(void)
{
	SP_CHECK_INT(gen(def_crt, def_key, "default.test", SP_TLS_KEY_EC_P256), 0);
	SP_CHECK_INT(gen(mail_crt, mail_key, "mail.example.test", SP_TLS_KEY_RSA_2048), 0);
	SP_CHECK_INT(gen(wild_crt, wild_key, "*.wild.test", SP_TLS_KEY_EC_P256), 0);
	write_bundle();
	struct stat st;
	SP_CHECK_INT(stat(def_key, &st), 0);
	SP_CHECK_INT(st.st_mode & 0777, 0600);
	SP_CHECK_INT(stat(mail_key, &st), 0);
	SP_CHECK_INT(st.st_mode & 0777, 0600);
	SP_CHECK_INT(stat(def_crt, &st), 0);
	SP_CHECK_INT(st.st_mode & 0777, 0644);

	/* Ten years of validity, SAN with the names, CA:FALSE. */
	FILE *fp = fopen(def_crt, "r");
	X509 *x = fp != NULL ? PEM_read_X509(fp, NULL, NULL, NULL) : NULL;
	if (fp != NULL)
		fclose(fp);
	SP_CHECK(x != NULL);
	if (x != NULL) {
		int days = 0, secs = 0;
		ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(x), X509_get0_notAfter(x));
		SP_CHECK(days >= 3650 && days <= 3653);
		SP_CHECK_INT(X509_check_host(x, "default.test", 0, 0, NULL), 1);
		SP_CHECK_INT(X509_check_host(x, "other.test", 0, 0, NULL), 0);
		SP_CHECK_INT(X509_check_ip_asc(x, "127.0.0.1", 0), 1);
		SP_CHECK_INT(X509_check_ca(x), 0);
		SP_CHECK(X509_get_extended_key_usage(x) & XKU_SSL_SERVER);
		X509_free(x);
	}

	const char *err = NULL;
	const char *bad[] = {"a,DNS:evil.test"};
	char other_crt[128], other_key[128];
	snprintf(other_crt, sizeof(other_crt), "%s/x.crt", dir);
	snprintf(other_key, sizeof(other_key), "%s/x.key", dir);
	SP_CHECK_INT(
	    sp_tls_generate_self_signed(other_crt, other_key, bad, 1, SP_TLS_KEY_EC_P256, &err),
	    -1);
	SP_CHECK_STR(err, "invalid host name 'a,DNS:evil.test'");
	SP_CHECK(access(other_key, F_OK) < 0);
	SP_CHECK_INT(
	    sp_tls_generate_self_signed(other_crt, other_key, bad, 0, SP_TLS_KEY_EC_P256, &err),
	    -1);
	const char *good[] = {"x.test"};
	SP_CHECK_INT(sp_tls_generate_self_signed("/nonexistent-dir/x.crt", "/nonexistent-dir/x.key",
	                                         good, 1, SP_TLS_KEY_EC_P256, &err),
	             -1);
	SP_CHECK(err != NULL && strstr(err, "/nonexistent-dir/x.key") != NULL);
}

static struct sp_tls *load_tls(void)
{
	const struct sp_tls_cert domains[] = {
	    {.domain = "mail.example.test", .cert_path = mail_crt, .key_path = mail_key},
	    {.domain = "*.wild.test", .cert_path = wild_crt, .key_path = wild_key},
	};
	const char *err = NULL;
	struct sp_tls *tls = sp_tls_new(
	    &(struct sp_tls_config){.default_cert = {.cert_path = def_crt, .key_path = def_key},
	                            .domains = domains,
	                            .n_domains = 2},
	    &err);
	if (tls == NULL)
		fprintf(stderr, "sp_tls_new: %s\n", err);
	return tls;
}

static void test_load_errors(void)
{
	const char *err = NULL;
	char missing[160];
	snprintf(missing, sizeof(missing), "%s/missing.crt", dir);
	SP_CHECK(sp_tls_new(&(struct sp_tls_config){.default_cert = {.cert_path = missing,
	                                                             .key_path = def_key}},
	                    &err) == NULL);
	SP_CHECK(err != NULL && strstr(err, "cannot load certificate") != NULL &&
	         strstr(err, missing) != NULL);
	/* A key that does not belong to the certificate. */
	SP_CHECK(sp_tls_new(&(struct sp_tls_config){.default_cert = {.cert_path = def_crt,
	                                                             .key_path = mail_key}},
	                    &err) == NULL);
	SP_CHECK(err != NULL && strstr(err, mail_key) != NULL);
	const struct sp_tls_cert bad_domain = {
	    .domain = "bad domain", .cert_path = mail_crt, .key_path = mail_key};
	SP_CHECK(sp_tls_new(&(struct sp_tls_config){.default_cert = {.cert_path = def_crt,
	                                                             .key_path = def_key},
	                                            .domains = &bad_domain,
	                                            .n_domains = 1},
	                    &err) == NULL);
	SP_CHECK_STR(err, "invalid TLS domain name 'bad domain'");
}

static struct echo_server es;
static char tls_addr[64], plain_addr[64], notls_addr[64];

static void start_servers(struct sp_tls *tls)
{
	echo_start(&es, &(struct sp_server_config){0});
	es.tls = tls;
	const char *err = NULL;
	struct sp_listener *l = echo_listen(
	    &es,
	    &(struct sp_listen_config){
	        .address = "127.0.0.1:0", .role = "imaps", .tls = tls, .implicit_tls = true},
	    &err);
	sp_assert(l != NULL);
	snprintf(tls_addr, sizeof(tls_addr), "127.0.0.1:%u", sp_listener_port(l));
	l = echo_listen(
	    &es, &(struct sp_listen_config){.address = "127.0.0.1:0", .role = "imap", .tls = tls},
	    &err);
	sp_assert(l != NULL);
	snprintf(plain_addr, sizeof(plain_addr), "127.0.0.1:%u", sp_listener_port(l));
	l = echo_listen(&es, &(struct sp_listen_config){.address = "127.0.0.1:0", .role = "plain"},
	                &err);
	sp_assert(l != NULL);
	snprintf(notls_addr, sizeof(notls_addr), "127.0.0.1:%u", sp_listener_port(l));
}

static bool tls_greeted(struct client *c, const char *sni, const char *host)
{
	char line[256];
	if (client_connect(c, tls_addr) < 0 || client_tls(c, sni, bundle, host) < 0)
		return false;
	return client_line(c, line, sizeof(line)) == 0 && strcmp(line, "* OK echo") == 0;
}

static void check_echo(struct client *c, const char *text)
{
	char line[512], out[512];
	snprintf(out, sizeof(out), "%s\r\n", text);
	SP_CHECK_INT(client_send(c, out), 0);
	SP_CHECK_INT(client_line(c, line, sizeof(line)), 0);
	SP_CHECK_STR(line, text);
}

static void test_implicit_tls(void)
{
	struct client c;
	char line[512], cn[128];
	SP_CHECK(tls_greeted(&c, NULL, "default.test"));
	client_peer_cn(&c, cn, sizeof(cn));
	SP_CHECK_STR(cn, "default.test");
	SP_CHECK(SSL_version(c.ssl) >= TLS1_2_VERSION);
	check_echo(&c, "secret");
	SP_CHECK_INT(client_send(&c, "INFO\r\n"), 0);
	SP_CHECK_INT(client_line(&c, line, sizeof(line)), 0);
	SP_CHECK(strncmp(line, "INFO secure=1 tls=1 loopback=1 unix=0 role=imaps", 48) == 0);
	SP_CHECK(strstr(line, "sni=-") != NULL);
	client_close(&c);

	/* TLS 1.1 is refused. */
	SP_CHECK_INT(client_connect(&c, tls_addr), 0);
	c.ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_max_proto_version(c.ctx, TLS1_1_VERSION);
	SSL_CTX_set_security_level(c.ctx, 0);
	c.ssl = SSL_new(c.ctx);
	SSL_set_fd(c.ssl, c.fd);
	SP_CHECK(SSL_connect(c.ssl) != 1);
	ERR_clear_error();
	client_close(&c);

	/* A client speaking plaintext to the TLS port gets nothing and is
	 * dropped; the server goes on. */
	SP_CHECK(echo_wait_int(&es.closed, 2, 2000));
	SP_CHECK_INT(client_connect(&c, tls_addr), 0);
	SP_CHECK_INT(client_send(&c, "HELLO THERE\r\n\r\n"), 0);
	SP_CHECK(client_eof(&c));
	client_close(&c);
	SP_CHECK(echo_wait_int(&es.closed, 3, 2000));
	SP_CHECK_INT(atomic_load(&es.last_reason), SP_CONN_CLOSED_ERROR);
	SP_CHECK(tls_greeted(&c, NULL, "default.test"));
	client_close(&c);
}

static void test_sni(void)
{
	static const struct {
		const char *sni, *verify, *cn;
	} cases[] = {
	    {.sni = "mail.example.test", .verify = "mail.example.test", .cn = "mail.example.test"},
	    {.sni = "MAIL.Example.TEST", .verify = "mail.example.test", .cn = "mail.example.test"},
	    {.sni = "a.wild.test", .verify = "a.wild.test", .cn = "*.wild.test"},
	    {.sni = "a.b.wild.test", .verify = "default.test", .cn = "default.test"},
	    {.sni = "wild.test", .verify = "default.test", .cn = "default.test"},
	    {.sni = "unknown.test", .verify = "default.test", .cn = "default.test"},
	};
	for (size_t i = 0; i < SP_N_ELEMENTS(cases); i++) {
		struct client c;
		char cn[128], line[512], want[256];
		SP_CHECK(tls_greeted(&c, cases[i].sni, cases[i].verify));
		client_peer_cn(&c, cn, sizeof(cn));
		SP_CHECK_STR(cn, cases[i].cn);
		SP_CHECK_INT(client_send(&c, "INFO\r\n"), 0);
		SP_CHECK_INT(client_line(&c, line, sizeof(line)), 0);
		snprintf(want, sizeof(want), "sni=%s", cases[i].sni);
		SP_CHECK(strstr(line, want) != NULL);
		client_close(&c);
	}
}

static void test_starttls(void)
{
	struct client c;
	char line[512], cn[128];
	SP_CHECK_INT(client_connect(&c, plain_addr), 0);
	SP_CHECK_INT(client_line(&c, line, sizeof(line)), 0);
	SP_CHECK_STR(line, "* OK echo");
	SP_CHECK_INT(client_send(&c, "INFO\r\n"), 0);
	SP_CHECK_INT(client_line(&c, line, sizeof(line)), 0);
	SP_CHECK(strncmp(line, "INFO secure=1 tls=0", 19) == 0);
	/* The injected command travels in the same segment as STARTTLS. */
	SP_CHECK_INT(client_send(&c, "STARTTLS\r\nINJECTED\r\n"), 0);
	SP_CHECK_INT(client_line(&c, line, sizeof(line)), 0);
	SP_CHECK_STR(line, "OK begin TLS");
	SP_CHECK_INT(client_tls(&c, "mail.example.test", bundle, "mail.example.test"), 0);
	client_peer_cn(&c, cn, sizeof(cn));
	SP_CHECK_STR(cn, "mail.example.test");
	SP_CHECK_INT(client_send(&c, "after\r\n"), 0);
	SP_CHECK_INT(client_line(&c, line, sizeof(line)), 0);
	SP_CHECK_STR(line, "after"); /* not "INJECTED" */
	SP_CHECK_INT(client_send(&c, "INFO\r\n"), 0);
	SP_CHECK_INT(client_line(&c, line, sizeof(line)), 0);
	SP_CHECK(strncmp(line, "INFO secure=1 tls=1 loopback=1 unix=0 role=imap", 47) == 0);
	/* A second STARTTLS is refused. */
	SP_CHECK_INT(client_send(&c, "STARTTLS\r\n"), 0);
	SP_CHECK_INT(client_line(&c, line, sizeof(line)), 0);
	SP_CHECK_STR(line, "NO TLS not available");
	/* Backpressure through the TLS layer. */
	atomic_store(&es.max_pending, 0);
	SP_CHECK_INT(client_send(&c, "BIG 4194304\r\n"), 0);
	echo_sleep_ms(200);
	uint8_t *buf = sp_malloc(4194304);
	SP_CHECK_INT(client_read_n(&c, buf, 4194304), 0);
	int bad = 0;
	for (size_t i = 0; i < 4194304; i++)
		bad += buf[i] != (uint8_t)('a' + i % 26);
	SP_CHECK_INT(bad, 0);
	free(buf);
	SP_CHECK_INT(client_line(&c, line, sizeof(line)), 0);
	SP_CHECK_STR(line, "END");
	SP_CHECK(atomic_load(&es.max_pending) <= 160 * 1024);
	SP_CHECK_INT(client_send(&c, "QUIT\r\n"), 0);
	SP_CHECK_INT(client_line(&c, line, sizeof(line)), 0);
	SP_CHECK_STR(line, "BYE");
	client_close(&c);

	/* Without TLS on the listener, STARTTLS is declined. */
	SP_CHECK_INT(client_connect(&c, notls_addr), 0);
	SP_CHECK_INT(client_line(&c, line, sizeof(line)), 0);
	SP_CHECK_INT(client_send(&c, "STARTTLS\r\n"), 0);
	SP_CHECK_INT(client_line(&c, line, sizeof(line)), 0);
	SP_CHECK_STR(line, "NO TLS not available");
	client_close(&c);
}

struct reload_call {
	struct sp_tls *tls;
	const struct sp_tls_config *config;
	int rc;
	char error[512];
};

static void reload_run(void *arg)
{
	struct reload_call *rc = arg;
	const char *err = "";
	rc->rc = sp_tls_reload(rc->tls, rc->config, &err);
	sp_strlcpy(rc->error, rc->rc < 0 ? err : "", sizeof(rc->error));
}

static void test_reload(void)
{
	struct client old, fresh;
	char cn[128];
	SP_CHECK(tls_greeted(&old, NULL, "default.test"));
	check_echo(&old, "before reload");
	/* Replace the default certificate files, then reload. */
	SP_CHECK_INT(gen(def_crt, def_key, "renewed.test", SP_TLS_KEY_EC_P256), 0);
	write_bundle();
	struct reload_call rc = {.tls = es.tls};
	echo_call(&es, reload_run, &rc);
	SP_CHECK_INT(rc.rc, 0);
	SP_CHECK(tls_greeted(&fresh, NULL, "renewed.test"));
	client_peer_cn(&fresh, cn, sizeof(cn));
	SP_CHECK_STR(cn, "renewed.test");
	client_close(&fresh);
	/* Per-domain certificates were reloaded too and still selected. */
	SP_CHECK(tls_greeted(&fresh, "mail.example.test", "mail.example.test"));
	client_close(&fresh);
	/* The connection opened before the reload keeps working. */
	check_echo(&old, "after reload");

	/* A broken file: reload fails with the path, old certificates stay. */
	FILE *fp = fopen(def_crt, "w");
	fputs("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n", fp);
	fclose(fp);
	echo_call(&es, reload_run, &rc);
	SP_CHECK_INT(rc.rc, -1);
	SP_CHECK(strstr(rc.error, def_crt) != NULL);
	SP_CHECK(tls_greeted(&fresh, NULL, "renewed.test"));
	client_peer_cn(&fresh, cn, sizeof(cn));
	SP_CHECK_STR(cn, "renewed.test");
	client_close(&fresh);
	check_echo(&old, "still fine");
	client_close(&old);

	/* A new configuration: the wildcard domain is dropped, the default
	 * becomes the mail certificate. */
	const struct sp_tls_cert keep = {
	    .domain = "mail.example.test", .cert_path = mail_crt, .key_path = mail_key};
	const struct sp_tls_config next = {
	    .default_cert = {.cert_path = mail_crt, .key_path = mail_key},
	    .domains = &keep,
	    .n_domains = 1,
	};
	rc.config = &next;
	echo_call(&es, reload_run, &rc);
	SP_CHECK_INT(rc.rc, 0);
	SP_CHECK(tls_greeted(&fresh, "a.wild.test", "mail.example.test"));
	client_peer_cn(&fresh, cn, sizeof(cn));
	SP_CHECK_STR(cn, "mail.example.test");
	client_close(&fresh);
	/* Later reloads without a config use the new paths. */
	rc.config = NULL;
	echo_call(&es, reload_run, &rc);
	SP_CHECK_INT(rc.rc, 0);
	SP_CHECK(tls_greeted(&fresh, NULL, "mail.example.test"));
	client_close(&fresh);
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/sp-net-tls-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 1;
	paths();
	SP_TEST_RUN(test_generate);
	SP_TEST_RUN(test_load_errors);
	struct sp_tls *tls = load_tls();
	SP_CHECK(tls != NULL);
	if (tls != NULL) {
		start_servers(tls);
		SP_TEST_RUN(test_implicit_tls);
		SP_TEST_RUN(test_sni);
		SP_TEST_RUN(test_starttls);
		SP_TEST_RUN(test_reload);
		echo_stop(&es);
		sp_tls_free(&tls);
	}
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		return 1;
	return sp_test_finish();
}
