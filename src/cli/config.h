/* sealpost.conf: an INI file written (commented) by `sealpost init` and
 * read by every command; `serve` flags override the [listen] entries.
 * Paths in it are relative to the data directory unless absolute. */
#ifndef CLI_CONFIG_H
#define CLI_CONFIG_H

#include "lib/sp_buf.h"

/* Every role of DESIGN section 8, in its order. */
enum config_role {
	ROLE_SMTP,
	ROLE_SUBMISSION,
	ROLE_SUBMISSIONS,
	ROLE_IMAP,
	ROLE_IMAPS,
	ROLE_POP3,
	ROLE_POP3S,
	ROLE_HTTP,
	ROLE_LMTP,
	ROLE_COUNT,
};

struct config_sni {
	char *domain, *cert, *key;
};

struct config {
	char *data_dir;
	char *hostname;
	char *log_level;
	char *log_file;
	/* Listener addresses per role: "ADDR:PORT[, ADDR:PORT…]", "" = off. */
	char *listen[ROLE_COUNT];
	char *lmtp_socket; /* path, "" = off */
	unsigned lmtp_socket_mode;
	char *lmtp_socket_group; /* "" = the server's group */
	bool lmtp_allow_remote;  /* LMTP has no auth: loopback only unless set */
	char *tls_cert, *tls_key;
	struct config_sni *sni;
	size_t n_sni;
	uint64_t max_connections;
	uint64_t max_connections_per_ip;
	bool loopback_exempt;    /* loopback/Unix peers skip per-IP limits */
	bool loopback_plaintext; /* plaintext login allowed over loopback */
	uint64_t max_message_size;
	uint64_t max_recipients;
	bool quota_tempfail;        /* over quota: 452 4.2.2 instead of 552 5.2.2 */
	uint64_t idle_timeout_imap; /* seconds */
	uint64_t shutdown_grace;    /* seconds SIGTERM waits for commands in flight */
	unsigned workers;
};

const char *config_role_name(enum config_role role);
/* Roles served by this release; an address for any other is refused. */
bool config_role_served(enum config_role role);

/* Defaults, then DATA_DIR/sealpost.conf if it exists. 0 ok; -1 with a
 * message "file:line: …" in err. */
int config_load(struct config *cfg, const char *data_dir, struct sp_buf *err);
void config_free(struct config *cfg);
/* Absolute form of a path from the config (relative to data_dir). */
char *config_path(const struct config *cfg, const char *path);
/* Sets a role's listeners from a --ROLE=VALUE flag; -1 for an unknown role. */
int config_set_listen(struct config *cfg, const char *role, const char *value);
/* Checks that no role that is not served has an address. */
int config_check_roles(const struct config *cfg, struct sp_buf *err);

/* The commented file `init` writes. */
void config_write_default(struct sp_buf *out, const char *hostname);

#endif
