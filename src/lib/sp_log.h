/* key=value log lines, one write(2) per line, safe from any thread.
 * Never log a password, a key, a message body or subject, or an address of
 * a mailbox owner's correspondent: logs are disk too (STYLE.md). */
#ifndef SP_LOG_H
#define SP_LOG_H

#include "lib/sp_mem.h"

enum sp_log_level {
	SP_LOG_DEBUG,
	SP_LOG_INFO,
	SP_LOG_WARN,
	SP_LOG_ERROR,
};

/* Directs log lines to fd (default 2). Returns the previous fd. */
int sp_log_set_fd(int fd);
void sp_log_set_level(enum sp_log_level level);
/* Reopens the log file at path (O_APPEND); used on SIGHUP. -1 on error. */
int sp_log_open(const char *path);

/* Writes "TIME level=L mod=MODULE " followed by the formatted key=value text. */
void sp_log_write(enum sp_log_level level, const char *module, const char *fmt, ...)
    SP_PRINTF(3, 4);

#define sp_log_debug(mod, ...) sp_log_write(SP_LOG_DEBUG, mod, __VA_ARGS__)
#define sp_log_info(mod, ...) sp_log_write(SP_LOG_INFO, mod, __VA_ARGS__)
#define sp_log_warn(mod, ...) sp_log_write(SP_LOG_WARN, mod, __VA_ARGS__)
#define sp_log_error(mod, ...) sp_log_write(SP_LOG_ERROR, mod, __VA_ARGS__)

#endif
