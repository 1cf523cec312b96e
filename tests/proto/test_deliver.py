"""`sealpost deliver`, the pipe(8) delivery agent (issue 11): sysexits
codes with a one-line stderr starting with the enhanced status code, a
leading mbox From_ line skipped, Return-Path/Delivered-To not duplicated,
all recipients or none, and Postfix's pipe transport running it as an
unprivileged user."""
import os
import pwd
import re
import shutil
import subprocess
import time

import sp
from test_postfix import PEERS


class DeliverTest(sp.DataDirTest):
    init_args = ("--demo",)

    def deliver(self, *args, data=b"Subject: hi\r\n\r\nbody\r\n"):
        proc = subprocess.run([sp.BIN, "--data-dir", self.dir, "deliver", *args], input=data,
                              capture_output=True, timeout=60)
        return proc.returncode, proc.stderr.decode()

    def export(self, address, password):
        out = os.path.join(self.tmp.name, "export-" + address)
        r = self.sp("mailbox", "export", address, "--format", "eml", "--out", out,
                    stdin=password + "\n")
        self.assertEqual(r.code, 0, r)
        inbox = os.path.join(out, "INBOX")
        result = []
        for name in sorted(os.listdir(inbox), key=lambda n: int(n.split(".")[0])):
            with open(os.path.join(inbox, name), "rb") as f:
                result.append(f.read())
        return result

    def test_exit_codes_and_stderr(self):
        self.add_alias("full@example.test", "--quota", "1K")
        cases = [
            (("-a", "ghost@example.test"), 67, "5.1.1 "),
            (("-a", "not an address"), 67, "5.1.3 "),
            (("-a", "full@example.test"), 73, "5.2.2 Mailbox full"),
            ((), 64, "5.5.4 "),
            (("-x",), 64, "5.5.4 "),
        ]
        for args, code, prefix in cases:
            rc, err = self.deliver(*args, data=b"Subject: x\r\n\r\n" + b"y" * 3000)
            self.assertEqual(rc, code, (args, err))
            self.assertTrue(err.startswith(prefix), (args, err))
            self.assertEqual(len(err.strip().splitlines()), 1, err)
        # All or none: one bad address and nothing is delivered to the good one.
        rc, _ = self.deliver("-a", "demo@example.test", "-a", "ghost@example.test")
        self.assertEqual(rc, 67)
        self.assertEqual(sum(len(v) for v in self.spool_entries().values()), 0)
        # A temporary failure: the spool cannot be opened.
        spool = os.path.join(self.dir, "spool")
        shutil.rmtree(spool, ignore_errors=True)
        with open(spool, "w") as f:
            f.write("in the way")
        rc, err = self.deliver("-a", "demo@example.test")
        self.assertEqual(rc, 75)
        self.assertTrue(err.startswith("4.3.0 "), err)

    def test_from_line_skipped_and_headers_not_duplicated(self):
        password, _ = self.add_alias("lda@example.test")
        msg = (b"From sender@remote.test Mon Jan  5 10:00:00 2026\n"
               b"Return-Path: <sender@remote.test>\n"
               b"Delivered-To: lda@example.test\n"
               b"Subject: via local\n\nbody\n")
        rc, err = self.deliver("-f", "sender@remote.test", "-a", "lda@example.test", data=msg)
        self.assertEqual((rc, err), (0, ""))
        rc, err = self.deliver("-f", "other@remote.test", "-a", "LDA+x@example.test",
                               data=b"Subject: plain\n\nbody\n")
        self.assertEqual((rc, err), (0, ""))
        first, second = self.export("lda@example.test", password)
        self.assertEqual(first.count(b"Return-Path:"), 1)
        self.assertEqual(first.count(b"Delivered-To:"), 1)
        self.assertFalse(first.startswith(b"From "))
        self.assertRegex(first, rb"^Received: from localhost \(local\)\r\n")
        self.assertTrue(first.endswith(msg[msg.index(b"\n") + 1:]))
        self.assertTrue(second.startswith(b"Return-Path: <other@remote.test>\r\n"
                                          b"Delivered-To: lda+x@example.test\r\n"))


class PostfixPipeTest(sp.DataDirTest):
    init_args = ("--demo",)
    USER = "sealpost-test"

    def test_postfix_pipe_as_unprivileged_user(self):
        password, _ = self.add_alias("piped@example.test")
        try:
            pwd.getpwnam(self.USER)
        except KeyError:
            subprocess.run(["useradd", "-r", "-M", "-s", "/usr/sbin/nologin", self.USER],
                           check=True)
        # The data directory belongs to the unprivileged user; deliver runs as it.
        os.chmod(self.tmp.name, 0o755)
        subprocess.run(["chown", "-R", self.USER, self.dir], check=True)
        # The checkout may sit under a directory only root can enter (CI
        # clones into one): give the unprivileged user its own copy.
        binary = os.path.join(self.tmp.name, "sealpost")
        shutil.copy(sp.BIN, binary)
        os.chmod(binary, 0o755)
        pf_dir = os.path.join(self.tmp.name, "postfix")
        port = sp.free_port()
        env = dict(os.environ, DOMAIN="example.test", SMTP_PORT=str(port))
        script = os.path.join(PEERS, "postfix.sh")
        r = subprocess.run(["bash", script, "start", pf_dir], env=env, capture_output=True,
                           text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        try:
            conf = os.path.join(pf_dir, "conf")
            with open(os.path.join(conf, "master.cf"), "a") as f:
                f.write(f"sealpost unix - n n - - pipe\n"
                        f"  flags=DRhu user={self.USER} argv={binary} "
                        f"--data-dir {self.dir} deliver -f ${{sender}} -a ${{recipient}}\n")
            for setting in ("virtual_transport = sealpost",
                            "sealpost_destination_recipient_limit = 1"):
                subprocess.run(["postconf", "-c", conf, "-e", setting], check=True)
            subprocess.run(["postfix", "-c", conf, "reload"], check=True, capture_output=True)
            time.sleep(1)
            import smtplib
            with smtplib.SMTP("127.0.0.1", port) as s:
                s.sendmail("sender@remote.test", ["piped@example.test"],
                           "Subject: through pipe(8)\r\n\r\nhello\r\n")
            deadline = time.time() + 60
            while time.time() < deadline and not any(self.spool_entries().values()):
                time.sleep(0.2)
        finally:
            subprocess.run(["bash", script, "stop", pf_dir], env=env, capture_output=True)
        entries = self.spool_entries()
        self.assertEqual(sum(len(v) for v in entries.values()), 1,
                         open(os.path.join(pf_dir, "postfix.log")).read()[-2000:])
        for mb in entries:
            st = os.stat(os.path.join(self.dir, "spool", mb))
            self.assertEqual(pwd.getpwuid(st.st_uid).pw_name, self.USER)
        out = os.path.join(self.tmp.name, "export")
        r = self.sp("mailbox", "export", "piped@example.test", "--format", "eml", "--out", out,
                    stdin=password + "\n")
        self.assertEqual(r.code, 0, r)
        with open(os.path.join(out, "INBOX", "1.eml"), "rb") as f:
            data = f.read()
        self.assertEqual(data.count(b"Return-Path:"), 1)
        self.assertEqual(data.count(b"Delivered-To:"), 1)
        self.assertIn(b"Subject: through pipe(8)", data)
