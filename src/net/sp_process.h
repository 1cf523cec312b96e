/* Process-wide hardening for the server process. */
#ifndef SP_PROCESS_H
#define SP_PROCESS_H

/* Disables core dumps (RLIMIT_CORE 0, then prctl(PR_SET_DUMPABLE, 0), which
 * also keeps other non-root processes of the same user from ptrace or
 * /proc/PID/mem): a core or a debugger would see keys and mail. Call in
 * `serve` before any key is loaded and after any setuid/setgid (a
 * credential change resets the dumpable flag). 0 ok, -1 with *error_r. */
int sp_process_harden(const char **error_r);

#endif
