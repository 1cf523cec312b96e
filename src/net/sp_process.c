/* Process hardening: no core dumps, not dumpable (prctl(2) PR_SET_DUMPABLE,
 * setrlimit(2) RLIMIT_CORE). */
#include "net/sp_process.h"
#include "net/net_map.h"

#include <errno.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

int sp_process_harden(const char **error_r)
{
	struct rlimit rl = {0, 0};
	if (setrlimit(RLIMIT_CORE, &rl) < 0) {
		*error_r = net_error_set("setrlimit(RLIMIT_CORE): %s", strerror(errno));
		return -1;
	}
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
		*error_r = net_error_set("prctl(PR_SET_DUMPABLE): %s", strerror(errno));
		return -1;
	}
	return 0;
}
