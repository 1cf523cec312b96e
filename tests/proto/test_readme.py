"""The README's run command, as a new user runs it (issue 2 acceptance):
scripts/run.sh installs, builds, initialises the demo and starts the
server; a client connects over TLS to the printed port and the printed
password opens the demo mailbox (imaplib over implicit TLS and STARTTLS).
LMTP with STARTTLS stands in for the
protocols of later releases."""
import imaplib
import os
import re
import signal
import smtplib
import ssl
import subprocess
import time

import sp

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "../.."))


class ReadmeRunTest(sp.DataDirTest):
    init_args = None

    def test_run_command(self):
        data = os.path.join(self.tmp.name, "demo")
        env = dict(os.environ, DATA=data)
        p = subprocess.Popen(["bash", os.path.join(ROOT, "scripts/run.sh")], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.servers.append(p)
        p.log_path = os.path.join(data, "sealpost.log")
        lines = []
        deadline = time.time() + 800
        while time.time() < deadline:
            line = p.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("  control socket:"):
                break
        out = "".join(lines)
        self.assertIsNone(p.poll(), out)
        address = re.search(r"address:\s+(\S+)", out).group(1)
        password = re.search(r"password:\s+(\S+)", out).group(1)
        self.secrets.append(password)
        port = int(re.search(r"lmtp: 127\.0\.0\.1:(\d+)", out).group(1))
        self.assertEqual(address, "demo@example.test")
        # A client connects over TLS to the printed port and delivers.
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with smtplib.LMTP("127.0.0.1", port) as c:
            c.ehlo("client.test")
            c.starttls(context=ctx)
            c.ehlo("client.test")
            self.assertEqual(c.sendmail("a@b.test", [address], "Subject: readme\r\n\r\nhi\r\n"),
                             {})
        # imaplib reads it over implicit TLS on the printed imaps port, and
        # STARTTLS works on the printed imap port.
        imaps = int(re.search(r"imaps: [0-9.]+:(\d+)", out).group(1))
        imap = int(re.search(r"imap: [0-9.]+:(\d+)", out).group(1))
        with imaplib.IMAP4_SSL("127.0.0.1", imaps, ssl_context=ctx) as c:
            c.login(address, password)
            c.select("INBOX")
            deadline = time.time() + 10
            while c.search(None, "ALL")[1][0] == b"" and time.time() < deadline:
                time.sleep(0.1)
                c.noop()
            typ, fetched = c.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
            self.assertEqual(typ, "OK")
            self.assertEqual(fetched[0][1], b"Subject: readme\r\n\r\n")
        with imaplib.IMAP4("127.0.0.1", imap) as c:
            c.starttls(ssl_context=ctx)
            self.assertEqual(c.login(address, password)[0], "OK")
        p.send_signal(signal.SIGTERM)
        self.assertEqual(p.wait(timeout=30), 0)
        # The printed password opens the demo mailbox and the mail is there.
        exported = os.path.join(self.tmp.name, "export")
        r = subprocess.run([os.path.join(ROOT, "build/sealpost"), "--data-dir", data, "mailbox",
                            "export", address, "--format", "eml", "--out", exported],
                           input=password + "\n", capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(os.listdir(os.path.join(exported, "INBOX"))), 1)
