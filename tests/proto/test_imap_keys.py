"""The keys issue through IMAP: nothing of a mailbox reaches the disk in
plaintext while a session uses it (messages, searches that sort large
results, folder names), and a login with 20,000 messages waiting in the
sealed spool is answered at once while the drain runs behind it."""
import imaplib
import os
import re
import socket
import stat
import time

import sp

ADDR = "keys@example.test"
MARK = "ZQXMARK"


def lmtp_burst(port, rcpt, count, body_fn):
    """Delivers count messages over one LMTP connection, fully pipelined
    with BDAT (RFC 3030), and returns how many were accepted."""
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(120)
    buf = b""

    def line():
        nonlocal buf
        while b"\r\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                raise EOFError(buf)
            buf += chunk
        out, _, buf = buf.partition(b"\r\n")
        return out

    line()
    s.sendall(b"LHLO test.example\r\n")
    while not line().startswith(b"250 "):
        pass
    accepted = 0
    batch = 500
    for start in range(0, count, batch):
        n = min(batch, count - start)
        out = bytearray()
        for i in range(start, start + n):
            msg = body_fn(i)
            out += b"MAIL FROM:<sender@remote.test>\r\nRCPT TO:<%s>\r\n" % rcpt.encode()
            out += b"BDAT %d LAST\r\n" % len(msg) + msg
        s.sendall(out)
        for _ in range(n):
            replies = [line() for _ in range(3)]  # MAIL, RCPT, BDAT
            if all(r.startswith(b"250") for r in replies):
                accepted += 1
    s.sendall(b"QUIT\r\n")
    s.close()
    return accepted


class NoPlaintextTest(sp.DataDirTest):
    init_args = ()

    def setUp(self):
        super().setUp()
        # The server's temporary files (if SQLite or anything made one)
        # land where the scan looks.
        self.tmpdir = os.path.join(self.tmp.name, "tmp")
        os.mkdir(self.tmpdir)
        self.old_tmpdir = os.environ.get("TMPDIR")
        os.environ["TMPDIR"] = self.tmpdir
        self.assertEqual(self.sp("domain", "add", "example.test").code, 0)
        self.secret = self.add_alias(ADDR)[0]

    def test_no_marker_on_disk_after_appends_searches_and_sorts(self):
        p = self.serve()
        c = imaplib.IMAP4("127.0.0.1", self.port("imap"))
        c.login(ADDR, self.secret)
        folder = f"Folder-{MARK}-name"
        self.assertEqual(c.create(folder)[0], "OK")
        # Enough messages that SORT and SEARCH build large temporary
        # b-trees (SQLITE_TEMP_STORE=3 keeps them in memory).
        for i in range(300):
            msg = (f"From: Corr {MARK} <corr-{MARK.lower()}-{i}@partner.test>\r\n"
                   f"To: {ADDR}\r\nSubject: {MARK} subject {i:04d} {'x' * (i % 50)}\r\n"
                   f"Date: Mon, 2 Mar 2026 10:{i % 60:02d}:00 +0000\r\n\r\n"
                   f"{MARK} body line {i}\r\n" + "filler text\r\n" * (i % 40)).encode()
            self.assertEqual(c.append("INBOX" if i % 2 else folder, None, None, msg)[0], "OK")
        c.select("INBOX")
        typ, data = c.sort("(SUBJECT REVERSE DATE)", "UTF-8", "ALL")
        self.assertEqual(typ, "OK")
        self.assertEqual(len(data[0].split()), 150)
        typ, data = c.search(None, "BODY", MARK)
        self.assertEqual(len(data[0].split()), 150)
        typ, data = c.thread("REFERENCES", "UTF-8", "ALL")
        self.assertEqual(typ, "OK")
        c.uid("SEARCH", "X-REGEX", "SUBJECT", f'"{MARK} subject 0[0-9]+"')
        c.select(folder)
        typ, data = c.sort("(FROM)", "UTF-8", "SUBJECT", MARK)
        self.assertEqual(len(data[0].split()), 150)
        # While the session is open (WAL and all), then after shutdown.
        self.assert_no_marker()
        c.logout()
        self.assertEqual(self.stop(p), 0)
        self.assert_no_marker()

    def tearDown(self):
        if self.old_tmpdir is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = self.old_tmpdir
        super().tearDown()

    def assert_no_marker(self):
        """Every regular file under the test's directory: the data
        directory and the server's TMPDIR."""
        needles = [MARK.encode(), MARK.lower().encode()]
        scanned = 0
        for dirpath, _, files in os.walk(self.tmp.name):
            for name in files:
                path = os.path.join(dirpath, name)
                st = os.lstat(path)
                if not stat.S_ISREG(st.st_mode) or name.endswith(".log"):
                    continue  # logs are checked by check_log
                with open(path, "rb") as f:
                    data = f.read()
                scanned += 1
                for n in needles:
                    self.assertNotIn(n, data, path)
                if path.endswith((".sqlite", ".sqlite-wal")):
                    # no mailbox file names its owner
                    self.assertNotIn(ADDR.encode(), data, path)
        self.assertGreater(scanned, 3)


class DrainTest(sp.DataDirTest):
    init_args = ()

    def test_login_reply_does_not_wait_for_a_20000_message_drain(self):
        self.assertEqual(self.sp("domain", "add", "example.test").code, 0)
        password = self.add_alias(ADDR)[0]
        p = self.serve()
        count = 20000
        t0 = time.monotonic()
        accepted = lmtp_burst(self.lmtp_port(), ADDR, count,
                              lambda i: b"Subject: waiting %d\r\n\r\nbody %d\r\n" % (i, i))
        self.assertEqual(accepted, count)
        spooled = time.monotonic() - t0
        self.assertEqual(sum(len(v) for v in self.spool_entries().values()), count)
        c = imaplib.IMAP4("127.0.0.1", self.port("imap"))
        t1 = time.monotonic()
        c.login(ADDR, password)
        login_s = time.monotonic() - t1
        # The reply comes before the drain: under a second even on a slow
        # sanitizer build, while draining 20,000 takes many seconds.
        self.assertLess(login_s, 1.0)
        deadline = time.monotonic() + 600
        seen = 0
        while time.monotonic() < deadline:
            typ, data = c.status("INBOX", "(MESSAGES)")
            seen = int(data[0].split(b"MESSAGES ")[1].rstrip(b")"))
            if seen == count:
                break
            time.sleep(0.2)
        drained = time.monotonic() - t1
        self.assertEqual(seen, count)
        self.assertEqual(sum(len(v) for v in self.spool_entries().values()), 0)
        print(f"\n  20,000 spooled in {spooled:.1f} s; login reply {login_s * 1000:.0f} ms; "
              f"drained in {drained:.1f} s")
        c.logout()
        self.assertEqual(self.stop(p), 0)


class ImapDurabilityTest(sp.DataDirTest):
    """Promise 2 for IMAP: the mailbox's write-ahead log is fsynced after
    an APPEND, COPY or EXPUNGE commits and before its tagged OK is
    written (the connection is shared by the mailbox's sessions, so the
    fsync runs after the job lets go of it: a syscall trace is the only
    way to see the order; a kill cannot)."""
    init_args = ()

    def test_wal_fsynced_before_tagged_ok(self):
        self.assertEqual(self.sp("domain", "add", "example.test").code, 0)
        secret = self.add_alias(ADDR)[0]
        trace = os.path.join(self.tmp.name, "trace")
        p = self.serve(prefix=("strace", "-f", "-y", "-s", "512", "-o", trace, "-e",
                               "trace=fsync,fdatasync,write,writev,sendmsg,sendto"))
        c = imaplib.IMAP4("127.0.0.1", self.port("imap"))
        c.login(ADDR, secret)
        c.select("INBOX")
        msg = b"From: a@b.test\r\nSubject: durable\r\n\r\nbody\r\n"
        for _ in range(3):
            self.assertEqual(c.append("INBOX", None, None, msg)[0], "OK")
        self.assertEqual(c.copy("1:2", "Archive")[0], "OK")
        self.assertEqual(c.store("1", "+FLAGS", "\\Deleted")[0], "OK")
        self.assertEqual(c.expunge()[0], "OK")
        c.logout()
        pid = int(re.search(r"\(pid (\d+)\)", self.banner).group(1))
        os.kill(pid, 15)
        p.wait(timeout=30)
        with open(trace) as f:
            lines = f.read().splitlines()
        oks = [i for i, l in enumerate(lines)
               if any(w in l for w in ("OK [APPENDUID", "OK [COPYUID", "OK EXPUNGE completed"))]
        self.assertGreaterEqual(len(oks), 5, "\n".join(lines[-60:]))
        previous = 0
        for idx in oks:
            window = lines[previous:idx]
            self.assertTrue(any(("fdatasync(" in l or "fsync(" in l) and ".sqlite-wal>" in l
                                for l in window),
                            "no fsync of the WAL before: " + lines[idx][:200])
            previous = idx + 1
