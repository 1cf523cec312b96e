/* Connection tests over loopback with ephemeral ports: the echo protocol
 * of testing_echo.c on IPv4, IPv6 and a Unix socket; per-IP and global
 * limits; output backpressure; idle timeout; worker completions dropped for
 * a closed connection; a filter layer; graceful shutdown within its bound;
 * accept pausing on EMFILE. */
#include "net/testing_echo.h"
#include "lib/sp_str.h"
#include "lib/sp_test.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

SP_TEST_MAIN_DEFS

static char tmpdir[64];

static void addr_of(char *out, size_t size, const char *host, struct sp_listener *l)
{
	snprintf(out, size, "%s:%u", host, sp_listener_port(l));
}

static struct sp_listener *listen_ok(struct echo_server *es, struct sp_listen_config cfg)
{
	const char *err = NULL;
	struct sp_listener *l = echo_listen(es, &cfg, &err);
	if (l == NULL)
		fprintf(stderr, "listen %s: %s\n", cfg.address, err);
	return l;
}

/* Connects and reads the greeting; false if refused or no greeting. */
static bool greeted(struct client *c, const char *address)
{
	char line[256];
	if (client_connect(c, address) < 0)
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

static void test_echo_tcp(void)
{
	struct echo_server es;
	echo_start(&es, &(struct sp_server_config){0});
	struct sp_listener *l =
	    listen_ok(&es, (struct sp_listen_config){.address = "127.0.0.1:0", .role = "echo"});
	SP_CHECK(l != NULL && sp_listener_port(l) != 0);
	char addr[64], line[512];
	addr_of(addr, sizeof(addr), "127.0.0.1", l);
	struct client c;
	SP_CHECK(greeted(&c, addr));
	check_echo(&c, "hello");
	/* Pipelined lines in one segment are all answered, in order. */
	SP_CHECK_INT(client_send(&c, "one\r\ntwo\r\nthree\r\n"), 0);
	const char *want[] = {"one", "two", "three"};
	for (int i = 0; i < 3; i++) {
		SP_CHECK_INT(client_line(&c, line, sizeof(line)), 0);
		SP_CHECK_STR(line, want[i]);
	}
	/* A line split over two segments is reassembled. */
	SP_CHECK_INT(client_send(&c, "spl"), 0);
	echo_sleep_ms(30);
	SP_CHECK_INT(client_send(&c, "it\r\n"), 0);
	SP_CHECK_INT(client_line(&c, line, sizeof(line)), 0);
	SP_CHECK_STR(line, "split");
	SP_CHECK_INT(client_send(&c, "INFO\r\n"), 0);
	SP_CHECK_INT(client_line(&c, line, sizeof(line)), 0);
	SP_CHECK(strncmp(line, "INFO secure=1 tls=0 loopback=1 unix=0 role=echo peer=127.0.0.1:",
	                 63) == 0);
	SP_CHECK_INT(client_send(&c, "QUIT\r\n"), 0);
	SP_CHECK_INT(client_line(&c, line, sizeof(line)), 0);
	SP_CHECK_STR(line, "BYE");
	SP_CHECK(client_eof(&c));
	client_close(&c);
	SP_CHECK(echo_wait_int(&es.closed, 1, 2000));
	SP_CHECK_INT(atomic_load(&es.last_reason), SP_CONN_CLOSED_LOCAL);

	/* The client hanging up is reported as such. */
	SP_CHECK(greeted(&c, addr));
	client_close(&c);
	SP_CHECK(echo_wait_int(&es.closed, 2, 2000));
	SP_CHECK_INT(atomic_load(&es.last_reason), SP_CONN_CLOSED_PEER);
	echo_stop(&es);
}

static void test_echo_ipv6(void)
{
	struct echo_server es;
	echo_start(&es, &(struct sp_server_config){0});
	struct sp_listener *l =
	    listen_ok(&es, (struct sp_listen_config){.address = "[::1]:0", .role = "imap"});
	SP_CHECK(l != NULL);
	char addr[64], line[512];
	addr_of(addr, sizeof(addr), "[::1]", l);
	struct client c;
	SP_CHECK(greeted(&c, addr));
	check_echo(&c, "over v6");
	SP_CHECK_INT(client_send(&c, "INFO\r\n"), 0);
	SP_CHECK_INT(client_line(&c, line, sizeof(line)), 0);
	SP_CHECK(strncmp(line, "INFO secure=1 tls=0 loopback=1 unix=0 role=imap peer=[::1]:", 59) ==
	         0);
	client_close(&c);
	/* V6ONLY: the same port is free for IPv4. */
	addr_of(addr, sizeof(addr), "127.0.0.1", l);
	SP_CHECK(client_connect(&c, addr) < 0);
	client_close(&c);
	echo_stop(&es);
}

static void test_echo_unix(void)
{
	struct echo_server es;
	echo_start(&es, &(struct sp_server_config){0});
	char path[128], line[512];
	snprintf(path, sizeof(path), "%s/lmtp.sock", tmpdir);
	struct sp_listener *l = listen_ok(
	    &es, (struct sp_listen_config){.address = path, .role = "lmtp", .unix_mode = 0600});
	SP_CHECK(l != NULL);
	SP_CHECK_INT(sp_listener_port(l), 0);
	struct stat st;
	SP_CHECK_INT(stat(path, &st), 0);
	SP_CHECK(S_ISSOCK(st.st_mode));
	SP_CHECK_INT(st.st_mode & 0777, 0600);
	struct client c;
	SP_CHECK(greeted(&c, path));
	check_echo(&c, "over unix");
	SP_CHECK_INT(client_send(&c, "INFO\r\n"), 0);
	SP_CHECK_INT(client_line(&c, line, sizeof(line)), 0);
	SP_CHECK_STR(line, "INFO secure=1 tls=0 loopback=0 unix=1 role=lmtp peer=unix sni=-");
	SP_CHECK_INT(client_send(&c, "CRED\r\n"), 0);
	SP_CHECK_INT(client_line(&c, line, sizeof(line)), 0);
	char want[64];
	snprintf(want, sizeof(want), "CRED uid=%u pid=%d", (unsigned)getuid(), (int)getpid());
	SP_CHECK_STR(line, want);

	/* A second listener on a socket in use is refused. */
	const char *err = NULL;
	SP_CHECK(echo_listen(&es, &(struct sp_listen_config){.address = path}, &err) == NULL);
	SP_CHECK(err != NULL && strstr(err, "in use by a running server") != NULL);
	client_close(&c);
	echo_stop(&es);
	/* Closing removes the socket file. */
	SP_CHECK(stat(path, &st) < 0);

	/* A stale socket file (left by a crash) is replaced. */
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	sp_strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	SP_CHECK_INT(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	echo_start(&es, &(struct sp_server_config){0});
	l = listen_ok(&es, (struct sp_listen_config){.address = path, .role = "lmtp"});
	SP_CHECK(l != NULL);
	SP_CHECK(greeted(&c, path));
	client_close(&c);
	/* A regular file in the way is not deleted. */
	char file[128];
	snprintf(file, sizeof(file), "%s/plain", tmpdir);
	FILE *fp = fopen(file, "w");
	fclose(fp);
	SP_CHECK(echo_listen(&es, &(struct sp_listen_config){.address = file}, &err) == NULL);
	SP_CHECK(err != NULL && strstr(err, "exists and is not a socket") != NULL);
	SP_CHECK_INT(stat(file, &st), 0);
	unlink(file);

	/* The socket can be handed to a group (here our own). */
	struct group *gr = getgrgid(getegid());
	SP_CHECK(gr != NULL);
	char gpath[128];
	snprintf(gpath, sizeof(gpath), "%s/group.sock", tmpdir);
	if (gr != NULL) {
		l = listen_ok(
		    &es, (struct sp_listen_config){.address = gpath, .unix_group = gr->gr_name});
		SP_CHECK(l != NULL);
		SP_CHECK_INT(stat(gpath, &st), 0);
		SP_CHECK_INT(st.st_gid, getegid());
		SP_CHECK_INT(st.st_mode & 0777, 0660);
	}
	SP_CHECK(echo_listen(
	             &es,
	             &(struct sp_listen_config){.address = file, .unix_group = "no-such-group-sp"},
	             &err) == NULL);
	SP_CHECK(err != NULL && strstr(err, "unknown group 'no-such-group-sp'") != NULL);
	SP_CHECK(stat(file, &st) < 0);
	echo_stop(&es);
}

static void test_listen_errors(void)
{
	struct echo_server es;
	echo_start(&es, &(struct sp_server_config){0});
	const char *err = NULL;
	SP_CHECK(echo_listen(&es, &(struct sp_listen_config){.address = "localhost:143"}, &err) ==
	         NULL);
	SP_CHECK_STR(err,
	             "localhost:143: host names are not accepted: use a numeric IPv4 or [IPv6] "
	             "address");
	SP_CHECK(
	    echo_listen(&es,
	                &(struct sp_listen_config){.address = "127.0.0.1:0", .implicit_tls = true},
	                &err) == NULL);
	SP_CHECK_STR(err, "127.0.0.1:0: implicit TLS needs a certificate");
	struct sp_listener *l =
	    listen_ok(&es, (struct sp_listen_config){.address = "127.0.0.1:0", .role = "x"});
	char addr[64];
	addr_of(addr, sizeof(addr), "127.0.0.1", l);
	SP_CHECK(echo_listen(&es, &(struct sp_listen_config){.address = addr}, &err) == NULL);
	SP_CHECK(err != NULL && strstr(err, "bind: Address already in use") != NULL);
	echo_stop(&es);
}

static void test_loopback_insecure(void)
{
	struct echo_server es;
	echo_start(&es, &(struct sp_server_config){.loopback_insecure = true});
	struct sp_listener *l =
	    listen_ok(&es, (struct sp_listen_config){.address = "127.0.0.1:0", .role = "r"});
	char addr[64], line[512];
	addr_of(addr, sizeof(addr), "127.0.0.1", l);
	struct client c;
	SP_CHECK(greeted(&c, addr));
	SP_CHECK_INT(client_send(&c, "INFO\r\n"), 0);
	SP_CHECK_INT(client_line(&c, line, sizeof(line)), 0);
	SP_CHECK(strncmp(line, "INFO secure=0 tls=0 loopback=1", 30) == 0);
	client_close(&c);
	echo_stop(&es);
}

struct stats_call {
	struct echo_server *es;
	struct sp_server_stats st;
	struct sp_server_config cfg;
};

static void stats_run(void *arg)
{
	struct stats_call *sc = arg;
	sp_server_stats(sc->es->srv, &sc->st);
}

static void config_run(void *arg)
{
	struct stats_call *sc = arg;
	sp_server_set_config(sc->es->srv, &sc->cfg);
}

static struct sp_server_stats stats_of(struct echo_server *es)
{
	struct stats_call sc = {.es = es};
	echo_call(es, stats_run, &sc);
	return sc.st;
}

static void test_per_ip_limit(void)
{
	struct echo_server es;
	/* 127.0.0.1 is loopback, exempt by default: count it for the test. */
	echo_start(&es, &(struct sp_server_config){.max_per_ip = 2, .limit_loopback = true});
	struct sp_listener *l = listen_ok(
	    &es, (struct sp_listen_config){.address = "127.0.0.1:0",
	                                   .busy_reply = "* BYE Too many connections\r\n"});
	char addr[64], line[256];
	addr_of(addr, sizeof(addr), "127.0.0.1", l);
	struct client c[4];
	SP_CHECK(greeted(&c[0], addr));
	SP_CHECK(greeted(&c[1], addr));
	/* The third from the same address is refused with the busy reply. */
	SP_CHECK_INT(client_connect(&c[2], addr), 0);
	SP_CHECK_INT(client_line(&c[2], line, sizeof(line)), 0);
	SP_CHECK_STR(line, "* BYE Too many connections");
	SP_CHECK(client_eof(&c[2]));
	client_close(&c[2]);
	SP_CHECK_INT(stats_of(&es).refused_per_ip, 1);
	/* Another address has its own count. */
	SP_CHECK_INT(client_connect_from(&c[3], addr, "127.0.0.2", 0), 0);
	SP_CHECK_INT(client_line(&c[3], line, sizeof(line)), 0);
	SP_CHECK_STR(line, "* OK echo");
	client_close(&c[3]);
	/* One leaves: there is room again. */
	SP_CHECK_INT(client_send(&c[0], "QUIT\r\n"), 0);
	SP_CHECK(client_eof(&c[0]));
	client_close(&c[0]);
	SP_CHECK(echo_wait_int(&es.closed, 2, 2000));
	SP_CHECK(greeted(&c[0], addr));
	SP_CHECK_INT(stats_of(&es).refused_per_ip, 1);

	/* With the loopback exemption (the default), no per-IP limit. */
	struct stats_call sc = {.es = &es, .cfg = {.max_per_ip = 2}};
	echo_call(&es, config_run, &sc);
	SP_CHECK(greeted(&c[2], addr));
	SP_CHECK(greeted(&c[3], addr));
	SP_CHECK_INT(stats_of(&es).refused_per_ip, 1);
	SP_CHECK_INT(stats_of(&es).connections, 4);

	/* The global cap applies to everyone. */
	sc.cfg = (struct sp_server_config){.max_connections = 4};
	echo_call(&es, config_run, &sc);
	struct client extra;
	SP_CHECK_INT(client_connect(&extra, addr), 0);
	SP_CHECK_INT(client_line(&extra, line, sizeof(line)), 0);
	SP_CHECK_STR(line, "* BYE Too many connections");
	client_close(&extra);
	SP_CHECK_INT(stats_of(&es).refused_global, 1);
	for (int i = 0; i < 4; i++)
		client_close(&c[i]);
	echo_stop(&es);
}

static void test_backpressure(void)
{
	struct echo_server es;
	echo_start(&es, &(struct sp_server_config){0});
	struct sp_listener *l = listen_ok(&es, (struct sp_listen_config){.address = "127.0.0.1:0"});
	char addr[64], line[256];
	addr_of(addr, sizeof(addr), "127.0.0.1", l);
	struct client c;
	/* A small receive buffer so the kernel cannot absorb it all. */
	SP_CHECK_INT(client_connect_from(&c, addr, NULL, 16 * 1024), 0);
	SP_CHECK_INT(client_line(&c, line, sizeof(line)), 0);
	enum { TOTAL = 8 * 1024 * 1024 };
	SP_CHECK_INT(client_send(&c, "BIG 8388608\r\n"), 0);
	echo_sleep_ms(300); /* a slow reader */
	uint8_t *buf = sp_malloc(TOTAL);
	SP_CHECK_INT(client_read_n(&c, buf, TOTAL), 0);
	int bad = 0;
	for (size_t i = 0; i < TOTAL; i++)
		bad += buf[i] != (uint8_t)('a' + i % 26);
	SP_CHECK_INT(bad, 0);
	free(buf);
	SP_CHECK_INT(client_line(&c, line, sizeof(line)), 0);
	SP_CHECK_STR(line, "END");
	/* The server never queued more than its bound plus one chunk. */
	SP_CHECK(atomic_load(&es.max_pending) <= 80 * 1024);
	SP_CHECK(atomic_load(&es.drain_calls) >= 10);
	check_echo(&c, "still there");
	client_close(&c);
	echo_stop(&es);
}

static void test_idle_timeout(void)
{
	struct echo_server es;
	echo_start(&es, &(struct sp_server_config){0});
	struct sp_listener *l = listen_ok(&es, (struct sp_listen_config){.address = "127.0.0.1:0"});
	char addr[64], line[256];
	addr_of(addr, sizeof(addr), "127.0.0.1", l);
	struct client c;
	SP_CHECK(greeted(&c, addr));
	SP_CHECK_INT(client_send(&c, "IDLE 200\r\n"), 0);
	SP_CHECK_INT(client_line(&c, line, sizeof(line)), 0);
	SP_CHECK_STR(line, "OK idle");
	/* Activity keeps it alive past the timeout... */
	for (int i = 0; i < 5; i++) {
		echo_sleep_ms(80);
		check_echo(&c, "ping");
	}
	SP_CHECK_INT(atomic_load(&es.timeouts), 0);
	/* ...silence ends it. */
	uint64_t t0 = sp_now_ms();
	SP_CHECK_INT(client_line(&c, line, sizeof(line)), 0);
	SP_CHECK_STR(line, "TIMEOUT");
	SP_CHECK(client_eof(&c));
	uint64_t waited = sp_now_ms() - t0;
	SP_CHECK(waited >= 150 && waited < 3000);
	SP_CHECK(echo_wait_int(&es.closed, 1, 2000));
	SP_CHECK_INT(atomic_load(&es.timeouts), 1);
	client_close(&c);

	/* A server-wide default applies from the first byte. */
	struct stats_call sc = {.es = &es, .cfg = {.idle_timeout_ms = 100}};
	echo_call(&es, config_run, &sc);
	SP_CHECK(greeted(&c, addr));
	SP_CHECK_INT(client_line(&c, line, sizeof(line)), 0);
	SP_CHECK_STR(line, "TIMEOUT");
	client_close(&c);
	echo_stop(&es);
}

static void test_work_completion(void)
{
	struct echo_server es;
	echo_start(&es, &(struct sp_server_config){0});
	struct sp_listener *l = listen_ok(&es, (struct sp_listen_config){.address = "127.0.0.1:0"});
	char addr[64], line[256];
	addr_of(addr, sizeof(addr), "127.0.0.1", l);
	struct client c;
	SP_CHECK(greeted(&c, addr));
	/* Input is paused during the job: the pipelined line waits for it. */
	SP_CHECK_INT(client_send(&c, "WORK 50\r\nafter\r\n"), 0);
	SP_CHECK_INT(client_line(&c, line, sizeof(line)), 0);
	SP_CHECK_STR(line, "WORKED");
	SP_CHECK_INT(client_line(&c, line, sizeof(line)), 0);
	SP_CHECK_STR(line, "after");
	SP_CHECK_INT(atomic_load(&es.work_done), 1);
	/* The client leaves while the job runs: the completion is dropped. */
	SP_CHECK_INT(client_send(&c, "WORK 200\r\n"), 0);
	echo_sleep_ms(30);
	client_close(&c);
	SP_CHECK(echo_wait_int(&es.closed, 1, 2000));
	SP_CHECK(echo_wait_int(&es.work_gone, 1, 3000));
	SP_CHECK_INT(atomic_load(&es.work_done), 1);
	echo_stop(&es);
}

static void test_filter(void)
{
	struct echo_server es;
	echo_start(&es, &(struct sp_server_config){0});
	struct sp_listener *l = listen_ok(&es, (struct sp_listen_config){.address = "127.0.0.1:0"});
	char addr[64], line[256];
	addr_of(addr, sizeof(addr), "127.0.0.1", l);
	struct client c;
	SP_CHECK(greeted(&c, addr));
	/* Pipelined input after UPPER goes through the new filter too. */
	SP_CHECK_INT(client_send(&c, "UPPER\r\nfirst\r\n"), 0);
	SP_CHECK_INT(client_line(&c, line, sizeof(line)), 0);
	SP_CHECK_STR(line, "OK upper");
	SP_CHECK_INT(client_line(&c, line, sizeof(line)), 0);
	SP_CHECK_STR(line, "FIRST");
	SP_CHECK_INT(client_send(&c, "hello\r\n"), 0);
	SP_CHECK_INT(client_line(&c, line, sizeof(line)), 0);
	SP_CHECK_STR(line, "HELLO");
	/* Backpressure still works through the filter. */
	SP_CHECK_INT(client_send(&c, "BIG 1048576\r\n"), 0);
	uint8_t *buf = sp_malloc(1048576);
	SP_CHECK_INT(client_read_n(&c, buf, 1048576), 0);
	SP_CHECK(buf[0] == 'A' && buf[1048575] == (uint8_t)('A' + 1048575 % 26));
	free(buf);
	SP_CHECK_INT(client_line(&c, line, sizeof(line)), 0);
	SP_CHECK_STR(line, "END");
	SP_CHECK(atomic_load(&es.max_pending) <= 160 * 1024);
	client_close(&c);
	echo_stop(&es);
}

struct shutdown_call {
	struct echo_server *es;
	uint64_t bound;
};

static void shutdown_done(void *arg)
{
	struct echo_server *es = arg;
	atomic_store(&es->shutdown_ms, sp_now_ms());
	atomic_store(&es->shutdown_finished, 1);
}

static void shutdown_run(void *arg)
{
	struct shutdown_call *sc = arg;
	sp_server_shutdown(sc->es->srv, sc->bound, shutdown_done, sc->es);
}

static void test_shutdown(void)
{
	struct echo_server es;
	echo_start(&es, &(struct sp_server_config){0});
	struct sp_listener *l = listen_ok(&es, (struct sp_listen_config){.address = "127.0.0.1:0"});
	char addr[64], line[256];
	addr_of(addr, sizeof(addr), "127.0.0.1", l);
	struct client polite, stubborn, late;
	SP_CHECK(greeted(&polite, addr));
	SP_CHECK(greeted(&stubborn, addr));
	SP_CHECK_INT(client_send(&stubborn, "STUBBORN\r\n"), 0);
	SP_CHECK_INT(client_line(&stubborn, line, sizeof(line)), 0);
	SP_CHECK_STR(line, "OK stubborn");

	uint64_t t0 = sp_now_ms();
	struct shutdown_call sc = {&es, 400};
	echo_call(&es, shutdown_run, &sc);
	/* Listening stops at once. */
	SP_CHECK(client_connect(&late, addr) < 0 && errno == ECONNREFUSED);
	client_close(&late);
	SP_CHECK_INT(client_line(&polite, line, sizeof(line)), 0);
	SP_CHECK_STR(line, "BYE shutdown");
	SP_CHECK(client_eof(&polite));
	/* The stubborn one still works until the bound... */
	check_echo(&stubborn, "still here");
	SP_CHECK_INT(atomic_load(&es.shutdown_finished), 0);
	/* ...and is cut at the bound. */
	SP_CHECK(client_eof(&stubborn));
	SP_CHECK(echo_wait_int(&es.shutdown_finished, 1, 3000));
	uint64_t took = atomic_load(&es.shutdown_ms) - t0;
	SP_CHECK(took >= 380 && took < 3000);
	SP_CHECK_INT(atomic_load(&es.shutdowns), 2);
	SP_CHECK_INT(atomic_load(&es.closed), 2);
	SP_CHECK_INT(atomic_load(&es.last_reason), SP_CONN_CLOSED_SHUTDOWN);
	client_close(&polite);
	client_close(&stubborn);
	echo_stop(&es);

	/* Without connections, shutdown completes at once. */
	echo_start(&es, &(struct sp_server_config){0});
	listen_ok(&es, (struct sp_listen_config){.address = "127.0.0.1:0"});
	t0 = sp_now_ms();
	sc = (struct shutdown_call){&es, 5000};
	echo_call(&es, shutdown_run, &sc);
	SP_CHECK(echo_wait_int(&es.shutdown_finished, 1, 1000));
	SP_CHECK(sp_now_ms() - t0 < 500);
	echo_stop(&es);
}

/* The lowest descriptor number not in use. */
static int lowest_free_fd(void)
{
	int fd = 0;
	while (fcntl(fd, F_GETFD) >= 0)
		fd++;
	return fd;
}

static void test_emfile(void)
{
	struct echo_server es;
	echo_start(&es, &(struct sp_server_config){0});
	struct sp_listener *l = listen_ok(&es, (struct sp_listen_config){.address = "127.0.0.1:0"});
	char addr[64], line[256];
	addr_of(addr, sizeof(addr), "127.0.0.1", l);
	struct client a, b;
	SP_CHECK(greeted(&a, addr));
	/* The second client's socket exists before the limit drops. */
	memset(&b, 0, sizeof(b));
	b.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct timeval tv = {.tv_sec = 5};
	setsockopt(b.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	struct rlimit old, low;
	getrlimit(RLIMIT_NOFILE, &old);
	low = old;
	low.rlim_cur = (rlim_t)lowest_free_fd(); /* no descriptor can be opened */
	setrlimit(RLIMIT_NOFILE, &low);
	struct sockaddr_in sin = {.sin_family = AF_INET,
	                          .sin_port = htons(sp_listener_port(l)),
	                          .sin_addr.s_addr = htonl(0x7f000001)};
	SP_CHECK_INT(connect(b.fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	echo_sleep_ms(200);
	struct sp_server_stats st = stats_of(&es);
	/* Paused once, not spinning on the readable listener. */
	SP_CHECK_INT(st.accept_paused, 1);
	SP_CHECK_INT(st.accepted, 1);
	/* A connection closing frees a descriptor: accepting resumes. */
	SP_CHECK_INT(client_send(&a, "QUIT\r\n"), 0);
	SP_CHECK(client_eof(&a));
	client_close(&a);
	SP_CHECK_INT(client_line(&b, line, sizeof(line)), 0);
	SP_CHECK_STR(line, "* OK echo");
	setrlimit(RLIMIT_NOFILE, &old);
	check_echo(&b, "after emfile");
	client_close(&b);
	echo_stop(&es);
}

int main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/sp-net-test-XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return 1;
	SP_TEST_RUN(test_echo_tcp);
	SP_TEST_RUN(test_echo_ipv6);
	SP_TEST_RUN(test_echo_unix);
	SP_TEST_RUN(test_listen_errors);
	SP_TEST_RUN(test_loopback_insecure);
	SP_TEST_RUN(test_per_ip_limit);
	SP_TEST_RUN(test_backpressure);
	SP_TEST_RUN(test_idle_timeout);
	SP_TEST_RUN(test_work_completion);
	SP_TEST_RUN(test_filter);
	SP_TEST_RUN(test_shutdown);
	SP_TEST_RUN(test_emfile);
	rmdir(tmpdir);
	return sp_test_finish();
}
