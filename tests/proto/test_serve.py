"""`sealpost serve` as an administrator runs it: refusing roles this release
does not serve, the data-directory lock, commands forwarded over the
control socket, SIGHUP reload, SIGTERM shutdown, detaching, no core dumps,
and logs that never hold a password."""
import os
import re
import shutil
import signal
import subprocess
import time

import sp


class ServeTest(sp.DataDirTest):
    init_args = ("--demo",)

    def test_unserved_roles_are_refused(self):
        for role in ("smtp", "submission", "submissions", "pop3", "pop3s", "http"):
            r = self.sp("serve", "--foreground", f"--{role}=127.0.0.1:{sp.free_port()}")
            self.assertEqual(r.code, 1, (role, r))
            self.assertIn(f"does not serve {role} yet", r.err)
        # An empty value disables a role and is always accepted.
        p = self.serve("--smtp=", "--pop3=")
        self.assertEqual(self.stop(p), 0)

    def test_unknown_flag_is_a_usage_error(self):
        r = self.sp("serve", "--foreground", "--gopher=127.0.0.1:70")
        self.assertEqual(r.code, 2, r)

    def test_commands_go_through_the_running_server(self):
        p = self.serve()
        password, _ = self.add_alias("zoe@example.test")
        r = self.sp("password", "zoe@example.test", "--label", "tablet", stdin=password + "\n")
        self.assertEqual(r.code, 0, r)
        app = r.last_line
        r = self.sp("password", "zoe@example.test", "--revoke", "tablet")
        self.assertEqual(r.code, 0, r)
        r = self.sp("mailbox", "key", "zoe@example.test", stdin=app + "\n")
        self.assertEqual(r.code, 1, r)
        self.assertIn("wrong password", r.err)
        self.assertIn("server: running", self.sp("status").out)
        self.assertEqual(self.stop(p), 0)
        log = self.server_log(p)
        self.assertIn('event=command name="alias add" code=0', log)
        self.assertIn('event=command name="password" code=0', log)
        self.assertIn("event=slot_revoked", log)
        for secret in (password, app):
            self.assertNotIn(secret, log)
        self.assertIn("server: not running", self.sp("status").out)

    def test_a_second_server_is_refused(self):
        p = self.serve()
        r = self.sp("serve", "--foreground")
        self.assertEqual(r.code, 1, r)
        self.assertIn("another sealpost server is running", r.err)
        self.assertEqual(self.stop(p), 0)

    def test_sigterm_stops_within_the_grace(self):
        p = self.serve()
        start = time.time()
        self.assertEqual(self.stop(p, signal.SIGTERM), 0)
        self.assertLess(time.time() - start, 5)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "run/control.sock")))

    def test_sighup_reloads_and_survives_a_bad_certificate(self):
        p = self.serve()
        tls = os.path.join(self.dir, "tls")
        p.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        # A broken certificate file: the reload fails, the server stays up
        # with the certificate it had.
        shutil.copy(os.path.join(tls, "cert.pem"), os.path.join(tls, "cert.good"))
        with open(os.path.join(tls, "cert.pem"), "w") as f:
            f.write("not a certificate\n")
        p.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        self.assertIsNone(p.poll())
        self.assertEqual(self.sp("status").code, 0)
        self.assertEqual(self.stop(p), 0)
        log = self.server_log(p)
        self.assertIn("event=reloaded", log)
        self.assertIn("event=reload_failed", log)
        # A server cannot start on a broken certificate at all.
        r = self.sp("serve", "--foreground")
        self.assertEqual(r.code, 1, r)
        self.assertIn("cert.pem", r.err)

    def test_detached_server_logs_to_file_and_has_no_core_dumps(self):
        r = self.sp("serve", "--lmtp=127.0.0.1:0")
        self.assertEqual(r.code, 0, r)
        pid = int(re.search(r"\(pid (\d+)\)", r.out).group(1))
        try:
            with open(f"/proc/{pid}/limits") as f:
                limits = f.read()
            self.assertRegex(limits, r"Max core file size\s+0\s+0")
            self.assertEqual(self.sp("status").out.count("server: running"), 1)
        finally:
            os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            if not os.path.exists(f"/proc/{pid}"):
                break
            time.sleep(0.05)
        self.assertFalse(os.path.exists(f"/proc/{pid}"))
        with open(os.path.join(self.dir, "sealpost.log")) as f:
            log = f.read()
        self.assertIn("event=started", log)
        self.assertIn("event=stopped", log)


class ShutdownTest(sp.DataDirTest):
    init_args = ("--demo",)

    def test_sigterm_with_open_connections_loses_nothing(self):
        password, _ = self.add_alias("keep@example.test")
        p = self.serve()
        port = self.lmtp_port()
        # One client idle in a transaction, one that just got its 250.
        idle = sp.Client(port)
        idle.reply()
        idle.send("LHLO a\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<keep@example.test>\r\n")
        for _ in range(3):
            idle.reply()
        done = sp.Client(port)
        done.reply()
        done.send("LHLO a\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<keep@example.test>\r\n")
        for _ in range(3):
            done.reply()
        body = b"Subject: acknowledged\r\n\r\nkept\r\n"
        done.send(b"BDAT %d LAST\r\n" % len(body) + body)
        self.assertRegex(done.reply()[0], "^250 2.0.0")
        start = time.time()
        p.send_signal(signal.SIGTERM)
        # Open sessions are told, then closed.
        self.assertEqual(idle.reply(), ["421 4.3.2 Server shutting down"])
        self.assertTrue(idle.closed())
        self.assertEqual(p.wait(timeout=15), 0)
        self.assertLess(time.time() - start, 10)
        out = os.path.join(self.tmp.name, "export")
        r = self.sp("mailbox", "export", "keep@example.test", "--format", "eml", "--out", out,
                    stdin=password + "\n")
        self.assertEqual(r.code, 0, r)
        files = os.listdir(os.path.join(out, "INBOX"))
        self.assertEqual(len(files), 1)
        with open(os.path.join(out, "INBOX", files[0]), "rb") as f:
            self.assertTrue(f.read().endswith(body))
