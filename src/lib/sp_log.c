/* key=value logging: a timestamped line built in a stack buffer and written
 * with one write(2), so lines from several threads never interleave. */
#include "lib/sp_log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_int log_fd = 2;
static atomic_int log_level = SP_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

int sp_log_set_fd(int fd)
{
	return atomic_exchange(&log_fd, fd);
}

void sp_log_set_level(enum sp_log_level level)
{
	atomic_store(&log_level, (int)level);
}

int sp_log_open(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	int old = sp_log_set_fd(fd);
	if (old > 2)
		close(old);
	return 0;
}

void sp_log_write(enum sp_log_level level, const char *module, const char *fmt, ...)
{
	if ((int)level < atomic_load(&log_level))
		return;
	char line[2048];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int n =
	    snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s mod=%s ",
	             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	             ts.tv_nsec / 1000000, level_names[level], module);
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	size_t len = (size_t)n + (m < 0 ? 0 : SP_MIN((size_t)m, sizeof(line) - (size_t)n - 2));
	/* Control bytes would let a peer forge log lines: replace them. */
	for (size_t i = (size_t)n; i < len; i++) {
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = '?';
	}
	line[len++] = '\n';
	int fd = atomic_load(&log_fd);
	int saved = errno;
	while (write(fd, line, len) < 0 && errno == EINTR)
		;
	errno = saved;
}
