/* sealpost.conf parsing (inih) with defaults and validation. */
#include "cli/config.h"
#include "lib/sp_str.h"

#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const role_names[ROLE_COUNT] = {
    "smtp", "submission", "submissions", "imap", "imaps", "pop3", "pop3s", "http", "lmtp",
};

/* The roles this release serves. The others are later releases' work;
 * giving them an address is an error, not a silent no-op. */
static const bool role_served[ROLE_COUNT] = {
    [ROLE_IMAP] = true,
    [ROLE_IMAPS] = true,
    [ROLE_LMTP] = true,
};

const char *config_role_name(enum config_role role)
{
	return role_names[role];
}

bool config_role_served(enum config_role role)
{
	return role_served[role];
}

static void set_str(char **field, const char *value)
{
	free(*field);
	*field = sp_strdup(value);
}

static void config_defaults(struct config *cfg, const char *data_dir)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->data_dir = sp_strdup(data_dir);
	cfg->hostname = sp_strdup("localhost");
	cfg->log_level = sp_strdup("info");
	cfg->log_file = sp_strdup("");
	for (int r = 0; r < ROLE_COUNT; r++)
		cfg->listen[r] = sp_strdup("");
	cfg->lmtp_socket = sp_strdup("");
	cfg->lmtp_socket_mode = 0660;
	cfg->lmtp_socket_group = sp_strdup("");
	cfg->tls_cert = sp_strdup("tls/cert.pem");
	cfg->tls_key = sp_strdup("tls/key.pem");
	cfg->max_connections = 10000;
	cfg->max_connections_per_ip = 20;
	cfg->loopback_exempt = true;
	cfg->loopback_plaintext = true;
	cfg->max_message_size = 50 * 1024 * 1024;
	cfg->max_recipients = 1000;
	cfg->idle_timeout_imap = 30 * 60;
	cfg->shutdown_grace = 10;
	cfg->workers = 4;
}

struct load_state {
	struct config *cfg;
	struct sp_buf *err;
	const char *path;
};

static int parse_bool(const char *v, bool *out)
{
	if (strcasecmp(v, "yes") == 0 || strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0 ||
	    strcasecmp(v, "on") == 0)
		*out = true;
	else if (strcasecmp(v, "no") == 0 || strcasecmp(v, "false") == 0 || strcmp(v, "0") == 0 ||
	         strcasecmp(v, "off") == 0)
		*out = false;
	else
		return -1;
	return 0;
}

static int handle_sni(struct config *cfg, const char *value)
{
	/* "domain cert.pem key.pem" */
	char buf[1024];
	char *parts[3];
	int n = 0;
	if (sp_strlcpy(buf, value, sizeof(buf)) >= sizeof(buf))
		return -1;
	char *save = NULL;
	for (char *tok = strtok_r(buf, " \t", &save); tok != NULL && n < 3;
	     tok = strtok_r(NULL, " \t", &save))
		parts[n++] = tok;
	if (n != 3 || strtok_r(NULL, " \t", &save) != NULL)
		return -1;
	cfg->sni = sp_reallocarray(cfg->sni, cfg->n_sni + 1, sizeof(*cfg->sni));
	struct config_sni *s = &cfg->sni[cfg->n_sni++];
	s->domain = sp_strdup(parts[0]);
	sp_str_lower(s->domain);
	s->cert = sp_strdup(parts[1]);
	s->key = sp_strdup(parts[2]);
	return 0;
}

static int handle(void *user, const char *section, const char *name, const char *value)
{
	struct load_state *st = user;
	struct config *cfg = st->cfg;
	const char *problem = NULL;
	uint64_t n;
	if (strcmp(section, "server") == 0) {
		if (strcmp(name, "hostname") == 0)
			set_str(&cfg->hostname, value);
		else if (strcmp(name, "log_level") == 0) {
			if (strcmp(value, "debug") && strcmp(value, "info") &&
			    strcmp(value, "warn") && strcmp(value, "error"))
				problem = "log_level must be debug, info, warn or error";
			else
				set_str(&cfg->log_level, value);
		} else if (strcmp(name, "log_file") == 0)
			set_str(&cfg->log_file, value);
		else if (strcmp(name, "workers") == 0) {
			if (sp_parse_u64(value, 64, &n) < 0 || n == 0)
				problem = "workers must be 1 to 64";
			else
				cfg->workers = (unsigned)n;
		} else if (strcmp(name, "shutdown_grace") == 0) {
			if (sp_parse_u64(value, 3600, &n) < 0)
				problem = "shutdown_grace must be seconds (0-3600)";
			else
				cfg->shutdown_grace = n;
		} else
			problem = "unknown setting";
	} else if (strcmp(section, "listen") == 0) {
		if (strcmp(name, "lmtp_socket") == 0)
			set_str(&cfg->lmtp_socket, value);
		else if (strcmp(name, "lmtp_socket_mode") == 0) {
			char *end;
			errno = 0;
			unsigned long mode = strtoul(value, &end, 8);
			if (errno || *end != '\0' || value[0] == '\0' || mode > 0777)
				problem = "lmtp_socket_mode must be octal, e.g. 0660";
			else
				cfg->lmtp_socket_mode = (unsigned)mode;
		} else if (strcmp(name, "lmtp_socket_group") == 0)
			set_str(&cfg->lmtp_socket_group, value);
		else if (strcmp(name, "lmtp_allow_remote") == 0) {
			if (parse_bool(value, &cfg->lmtp_allow_remote) < 0)
				problem = "lmtp_allow_remote must be yes or no";
		} else if (config_set_listen(cfg, name, value) < 0)
			problem = "unknown listener role";
	} else if (strcmp(section, "tls") == 0) {
		if (strcmp(name, "cert") == 0)
			set_str(&cfg->tls_cert, value);
		else if (strcmp(name, "key") == 0)
			set_str(&cfg->tls_key, value);
		else if (strcmp(name, "sni") == 0) {
			if (handle_sni(cfg, value) < 0)
				problem = "sni takes: DOMAIN CERT-FILE KEY-FILE";
		} else
			problem = "unknown setting";
	} else if (strcmp(section, "limits") == 0) {
		bool *flag = NULL;
		uint64_t *num = NULL;
		bool size = false;
		if (strcmp(name, "max_connections") == 0)
			num = &cfg->max_connections;
		else if (strcmp(name, "max_connections_per_ip") == 0)
			num = &cfg->max_connections_per_ip;
		else if (strcmp(name, "max_recipients") == 0)
			num = &cfg->max_recipients;
		else if (strcmp(name, "imap_idle_timeout") == 0)
			num = &cfg->idle_timeout_imap;
		else if (strcmp(name, "max_message_size") == 0) {
			num = &cfg->max_message_size;
			size = true;
		} else if (strcmp(name, "loopback_exempt") == 0)
			flag = &cfg->loopback_exempt;
		else if (strcmp(name, "loopback_plaintext") == 0)
			flag = &cfg->loopback_plaintext;
		else if (strcmp(name, "quota_tempfail") == 0)
			flag = &cfg->quota_tempfail;
		if (flag != NULL) {
			if (parse_bool(value, flag) < 0)
				problem = "expected yes or no";
		} else if (num != NULL) {
			int rc =
			    size ? sp_parse_size(value, num) : sp_parse_u64(value, UINT32_MAX, num);
			if (rc < 0)
				problem = size ? "expected a size (bytes, or with K, M or G)"
				               : "expected a number";
		} else
			problem = "unknown setting";
	} else {
		problem = "unknown section";
	}
	if (problem != NULL) {
		if (st->err->len == 0)
			sp_buf_printf(st->err, "%s: [%s] %s: %s", st->path, section, name, problem);
		return 0;
	}
	return 1;
}

int config_set_listen(struct config *cfg, const char *role, const char *value)
{
	for (int r = 0; r < ROLE_COUNT; r++) {
		if (strcmp(role, role_names[r]) == 0) {
			set_str(&cfg->listen[r], value);
			return 0;
		}
	}
	return -1;
}

int config_check_roles(const struct config *cfg, struct sp_buf *err)
{
	for (int r = 0; r < ROLE_COUNT; r++) {
		if (cfg->listen[r][0] != '\0' && !role_served[r]) {
			sp_buf_printf(err,
			              "%s: this release of sealpost does not serve %s yet; remove "
			              "its address (--%s= disables it)",
			              role_names[r], role_names[r], role_names[r]);
			return -1;
		}
	}
	return 0;
}

int config_load(struct config *cfg, const char *data_dir, struct sp_buf *err)
{
	config_defaults(cfg, data_dir);
	char *path = config_path(cfg, "sealpost.conf");
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		int e = errno;
		if (e == ENOENT) {
			free(path);
			return 0;
		}
		sp_buf_printf(err, "%s: %s", path, strerror(e));
		free(path);
		return -1;
	}
	struct load_state st = {.cfg = cfg, .err = err, .path = path};
	int rc = ini_parse_file(f, handle, &st);
	fclose(f);
	if (rc != 0 && err->len == 0)
		sp_buf_printf(err, "%s:%d: syntax error", path, rc);
	free(path);
	return rc == 0 ? 0 : -1;
}

void config_free(struct config *cfg)
{
	free(cfg->data_dir);
	free(cfg->hostname);
	free(cfg->log_level);
	free(cfg->log_file);
	for (int r = 0; r < ROLE_COUNT; r++)
		free(cfg->listen[r]);
	free(cfg->lmtp_socket);
	free(cfg->lmtp_socket_group);
	free(cfg->tls_cert);
	free(cfg->tls_key);
	for (size_t i = 0; i < cfg->n_sni; i++) {
		free(cfg->sni[i].domain);
		free(cfg->sni[i].cert);
		free(cfg->sni[i].key);
	}
	free(cfg->sni);
	memset(cfg, 0, sizeof(*cfg));
}

char *config_path(const struct config *cfg, const char *path)
{
	struct sp_buf b = SP_BUF_INIT;
	if (path[0] == '/')
		sp_buf_append_str(&b, path);
	else
		sp_buf_printf(&b, "%s/%s", cfg->data_dir, path);
	return sp_buf_steal(&b);
}

void config_write_default(struct sp_buf *out, const char *hostname)
{
	sp_buf_printf(
	    out,
	    "# Sealpost configuration, written by `sealpost init`.\n"
	    "# Relative paths are relative to this data directory. Sizes are bytes\n"
	    "# with an optional K, M or G suffix (1024-based). `sealpost serve`\n"
	    "# flags (--imap=ADDR:PORT, ...) override the [listen] entries.\n"
	    "\n"
	    "[server]\n"
	    "# Name used in protocol greetings and Received: headers.\n"
	    "hostname = %s\n"
	    "# debug, info, warn or error. Logs never contain passwords, keys or mail.\n"
	    "log_level = info\n"
	    "# Empty: stderr with --foreground, else sealpost.log in this directory.\n"
	    "log_file =\n"
	    "# Threads for blocking work (SQLite, Argon2id).\n"
	    "workers = 4\n"
	    "# Seconds SIGTERM waits for commands in flight before closing.\n"
	    "shutdown_grace = 10\n"
	    "\n"
	    "[listen]\n"
	    "# ADDR:PORT, several separated by commas (\"127.0.0.1:1143, [::1]:1143\");\n"
	    "# empty disables the role. This release serves IMAP and LMTP: an address\n"
	    "# for another role is refused at start (see the README).\n"
	    "# IMAP with STARTTLS (RFC 9051; plaintext login only after STARTTLS, or\n"
	    "# from loopback) and IMAP over implicit TLS, on unprivileged ports.\n"
	    "imap = 0.0.0.0:1143\n"
	    "imaps = 0.0.0.0:1993\n"
	    "# LMTP (RFC 2033) for an MTA such as Postfix: loopback addresses only\n"
	    "# unless lmtp_allow_remote = yes.\n"
	    "lmtp = 127.0.0.1:2424\n"
	    "smtp =\n"
	    "submission =\n"
	    "submissions =\n"
	    "pop3 =\n"
	    "pop3s =\n"
	    "http =\n"
	    "# LMTP over a Unix socket, for Postfix's lmtp(8) client. Debian runs\n"
	    "# that client chrooted in /var/spool/postfix, so either put the socket\n"
	    "# there (lmtp_socket = /var/spool/postfix/private/sealpost-lmtp,\n"
	    "# lmtp_socket_group = postfix) and use\n"
	    "#   virtual_transport = lmtp:unix:private/sealpost-lmtp\n"
	    "# or set `chroot = n` on the lmtp line of master.cf and use this path.\n"
	    "lmtp_socket = run/lmtp.sock\n"
	    "lmtp_socket_mode = 0660\n"
	    "lmtp_socket_group =\n"
	    "# LMTP has no authentication: only loopback peers unless this is yes.\n"
	    "lmtp_allow_remote = no\n"
	    "\n"
	    "[tls]\n"
	    "# Default certificate (self-signed by `init`); replace the files and send\n"
	    "# SIGHUP to reload without dropping sessions.\n"
	    "cert = tls/cert.pem\n"
	    "key = tls/key.pem\n"
	    "# One line per domain with its own certificate, chosen by SNI:\n"
	    "# sni = example.org tls/example.org.pem tls/example.org.key\n"
	    "\n"
	    "[limits]\n"
	    "max_connections = 10000\n"
	    "max_connections_per_ip = 20\n"
	    "# Loopback and Unix-socket peers are exempt from per-IP limits.\n"
	    "loopback_exempt = yes\n"
	    "# Plaintext LOGIN/AUTH allowed without TLS from loopback (as Dovecot).\n"
	    "loopback_plaintext = yes\n"
	    "max_message_size = 50M\n"
	    "max_recipients = 1000\n"
	    "# Over quota: no = 552 5.2.2 (permanent), yes = 452 4.2.2 (the MTA retries).\n"
	    "quota_tempfail = no\n"
	    "# Seconds (RFC 9051 §5.4: at least 30 minutes).\n"
	    "imap_idle_timeout = 1800\n",
	    hostname);
}
