"""The LMTP server (RFC 2033) as Postfix and smtplib use it, and the bad
input they never send: one reply per accepted recipient in RCPT order,
pipelining, BDAT, refusals with precise enhanced status codes, the sealed
spool written durably (fsync of file and directory before each 250), and
no plaintext on disk."""
import os
import re
import signal
import smtplib
import subprocess
import time

import sp

MSG = ("From: Sender <sender@remote.test>\r\nTo: demo@example.test\r\n"
       "Subject: LMTP MARKER-7731\r\nMessage-ID: <m1@remote.test>\r\n\r\n"
       "Body line with MARKER-7731\r\n")


class LmtpTest(sp.DataDirTest):
    init_args = ("--demo",)

    def setUp(self):
        super().setUp()
        self.password, _ = self.add_alias("bob@example.test")
        self.add_alias("tiny@example.test", "--quota", "1K")
        r = self.sp("alias", "add", "fwd@example.test", "--no-mailbox", "--forward",
                    "x@elsewhere.test")
        self.assertEqual(r.code, 0, r)
        self.server = self.serve()
        self.port = self.lmtp_port()

    def client(self):
        c = sp.Client(self.port)
        greeting = c.reply()
        self.assertRegex(greeting[0], r"^220 mail\.example\.test LMTP")
        return c

    def lhlo(self, c):
        c.send("LHLO client.test\r\n")
        return c.reply()

    def total_entries(self):
        return sum(len(v) for v in self.spool_entries().values())

    def test_lhlo_capabilities(self):
        c = self.client()
        self.assertEqual(self.lhlo(c), [
            "250-mail.example.test", "250-PIPELINING", "250-SIZE 52428800", "250-8BITMIME",
            "250-SMTPUTF8", "250-ENHANCEDSTATUSCODES", "250-CHUNKING", "250 STARTTLS"])

    def test_one_reply_per_recipient_in_order(self):
        c = self.client()
        self.lhlo(c)
        c.send("MAIL FROM:<sender@remote.test> SIZE=2000\r\n")
        self.assertEqual(c.reply(), ["250 2.1.0 Sender OK"])
        replies = []
        for rcpt in ("demo@example.test", "nobody@example.test", "tiny@example.test",
                     "bob@example.test", "fwd@example.test"):
            c.send(f"RCPT TO:<{rcpt}>\r\n")
            replies.append(c.reply()[0])
        self.assertEqual(replies, [
            "250 2.1.5 OK", "550 5.1.1 No such user here", "552 5.2.2 Mailbox full",
            "250 2.1.5 OK",
            "550 5.1.1 No mailbox here (forwarding is not available yet)"])
        c.send("DATA\r\n")
        self.assertTrue(c.reply()[0].startswith("354 "))
        c.send(MSG + ".\r\n")
        first, second = c.reply(), c.reply()
        self.assertRegex(first[0], r"^250 2\.0\.0 \S+ Saved$")
        self.assertRegex(second[0], r"^250 2\.0\.0 \S+ Saved$")
        c.send("QUIT\r\n")
        self.assertEqual(c.reply(), ["221 2.0.0 Bye"])
        self.assertTrue(c.closed())
        entries = self.spool_entries()
        self.assertEqual(sorted(len(v) for v in entries.values()), [1, 1])
        # Encrypted once: both entries are links to one file.
        paths = [os.path.join(self.dir, "spool", mb, names[0]) for mb, names in entries.items()]
        self.assertEqual(os.stat(paths[0]).st_ino, os.stat(paths[1]).st_ino)
        self.assertEqual(os.stat(paths[0]).st_nlink, 2)

    def test_pipelined_transaction(self):
        c = self.client()
        # RFC 2920: LHLO ends its own group; the rest goes in one write.
        self.lhlo(c)
        c.send("MAIL FROM:<s@remote.test>\r\nRCPT TO:<demo@example.test>\r\n"
               "RCPT TO:<bob@example.test>\r\nDATA\r\n")
        self.assertEqual([c.reply()[0] for _ in range(3)],
                         ["250 2.1.0 Sender OK", "250 2.1.5 OK", "250 2.1.5 OK"])
        self.assertTrue(c.reply()[0].startswith("354"))
        c.send(MSG + ".\r\nRSET\r\nNOOP\r\n")
        self.assertRegex(c.reply()[0], "^250 2.0.0 .* Saved")
        self.assertRegex(c.reply()[0], "^250 2.0.0 .* Saved")
        self.assertEqual(c.reply(), ["250 2.0.0 OK"])
        self.assertEqual(c.reply(), ["250 2.0.0 OK"])
        self.assertEqual(self.total_entries(), 2)

    def test_recipient_changes_take_effect_at_once(self):
        # Resolved recipients are remembered between transactions; a CLI
        # command run while the server serves (through its control socket)
        # makes it forget them, so a removed alias is refused at once.
        r = self.sp("alias", "add", "carol@example.test")
        self.assertEqual(r.code, 0, r)
        c = self.client()
        self.lhlo(c)
        for _ in range(2):
            c.send("MAIL FROM:<s@remote.test>\r\nRCPT TO:<carol@example.test>\r\nDATA\r\n")
            self.assertEqual([c.reply()[0] for _ in range(2)],
                             ["250 2.1.0 Sender OK", "250 2.1.5 OK"])
            self.assertTrue(c.reply()[0].startswith("354"))
            c.send(MSG + ".\r\n")
            self.assertRegex(c.reply()[0], "^250 2.0.0 .* Saved")
        r = self.sp("alias", "remove", "carol@example.test")
        self.assertEqual(r.code, 0, r)
        c.send("MAIL FROM:<s@remote.test>\r\nRCPT TO:<carol@example.test>\r\n")
        self.assertEqual([c.reply()[0] for _ in range(2)],
                         ["250 2.1.0 Sender OK", "550 5.1.1 No such user here"])
        c.send("QUIT\r\n")
        self.assertEqual(c.reply(), ["221 2.0.0 Bye"])

    def test_bdat(self):
        c = self.client()
        self.lhlo(c)
        body = MSG.encode()
        c.send(b"MAIL FROM:<s@remote.test> BODY=8BITMIME\r\nRCPT TO:<demo@example.test>\r\n"
               b"RCPT TO:<bob+lists@example.test>\r\n")
        self.assertEqual([c.reply()[0] for _ in range(3)],
                         ["250 2.1.0 Sender OK", "250 2.1.5 OK", "250 2.1.5 OK"])
        c.send(b"BDAT 10\r\n" + body[:10])
        self.assertEqual(c.reply(), ["250 2.0.0 10 octets received"])
        rest = body[10:]
        c.send(b"BDAT %d LAST\r\n" % len(rest) + rest)
        self.assertRegex(c.reply()[0], "^250 2.0.0 .* Saved")
        self.assertRegex(c.reply()[0], "^250 2.0.0 .* Saved")
        # A refused BDAT still consumes its octets (RFC 3030).
        c.send(b"BDAT 5 LAST\r\nhelloRSET\r\nNOOP\r\n")
        self.assertEqual(c.reply(), ["503 5.5.1 Need MAIL command first"])
        self.assertEqual(c.reply(), ["250 2.0.0 OK"])
        self.assertEqual(c.reply(), ["250 2.0.0 OK"])
        self.assertEqual(self.total_entries(), 2)

    def test_smtplib_lmtp_client(self):
        client = smtplib.LMTP("127.0.0.1", self.port)
        client.ehlo("client.test")
        refused = client.sendmail("s@remote.test", ["demo@example.test", "ghost@example.test"],
                                  MSG)
        self.assertEqual(refused, {"ghost@example.test": (550, b"5.1.1 No such user here")})
        client.quit()
        self.assertEqual(self.total_entries(), 1)

    def test_unix_socket(self):
        path = [p for p in self.ports["lmtp"] if p.startswith("/")][0]
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o660)
        c = sp.Client(path=path)
        self.assertTrue(c.reply()[0].startswith("220 "))
        c.send("LHLO local\r\nMAIL FROM:<>\r\nRCPT TO:<postmaster@example.test>\r\nDATA\r\n")
        self.lhlo_reply = c.reply()
        self.assertEqual([c.reply()[0] for _ in range(2)], ["250 2.1.0 Sender OK",
                                                           "250 2.1.5 OK"])
        self.assertTrue(c.reply()[0].startswith("354"))
        c.send(MSG + ".\r\n")
        self.assertRegex(c.reply()[0], "^250 2.0.0")
        self.assertEqual(self.total_entries(), 1)

    def test_sequence_errors_and_refused_commands(self):
        c = self.client()
        cases = [
            ("MAIL FROM:<a@b.test>", "503 5.5.1 Send LHLO first"),
            ("HELO client.test", "500 5.5.1"),
            ("EHLO client.test", "500 5.5.1"),
            ("LHLO client.test", "250-mail.example.test"),
            ("RCPT TO:<demo@example.test>", "503 5.5.1 Need MAIL command first"),
            ("DATA", "503 5.5.1 Need MAIL command first"),
            ("MAIL FROM:<a@b.test>", "250 2.1.0 Sender OK"),
            ("MAIL FROM:<a@b.test>", "503 5.5.1 Nested MAIL command"),
            ("DATA", "503 5.5.1 No valid recipients"),
            ("RCPT TO:<bad address>", "501 5.1.3"),
            ("VRFY demo", "252 2.5.0"),
            ("EXPN list", "502 5.5.1"),
            ("NOOP", "250 2.0.0 OK"),
            ("RSET", "250 2.0.0 OK"),
            ("MAIL FROM:<a@b.test> SIZE=99999999999", "552 5.3.4"),
            ("MAIL FROM:<a@b.test> FROB=1", "555 5.5.4"),
            ("BOGUS", "500 5.5.1"),
        ]
        for command, expected in cases:
            c.send(command + "\r\n")
            got = c.reply()
            self.assertTrue(got[0].startswith(expected), (command, got))

    def test_bad_input_and_limits(self):
        c = self.client()
        self.lhlo(c)
        # A 1 MB command line: one error, and the connection goes on.
        c.send("NOOP " + "x" * (1024 * 1024) + "\r\n")
        self.assertTrue(c.reply()[0].startswith("500 5.5.2"))
        c.send("NOOP\r\n")
        self.assertEqual(c.reply(), ["250 2.0.0 OK"])
        # A NUL byte in a command.
        c.send(b"NOOP a\x00b\r\n")
        self.assertTrue(c.reply()[0].startswith("500 5.5.2"))
        # Bare LF ends no command line.
        c.send(b"NOOP\n")
        self.assertTrue(c.reply()[0].startswith("500 5.5.2"))
        # 10,000 recipients: past the limit (1000) each gets 452 4.5.3.
        c.send("MAIL FROM:<a@b.test>\r\n")
        c.reply()
        c.send("".join("RCPT TO:<demo@example.test>\r\n" for _ in range(10000)))
        replies = [c.reply()[0] for _ in range(10000)]
        self.assertEqual(replies[:1000], ["250 2.1.5 OK"] * 1000)
        self.assertEqual(set(replies[1000:]), {"452 4.5.3 Too many recipients"})
        c.send("RSET\r\n")
        self.assertEqual(c.reply(), ["250 2.0.0 OK"])
        self.assertEqual(self.total_entries(), 0)

    def test_smuggling_bare_lf_dot_is_content(self):
        c = self.client()
        self.lhlo(c)
        c.send("MAIL FROM:<a@b.test>\r\nRCPT TO:<demo@example.test>\r\nDATA\r\n")
        for _ in range(3):
            c.reply()
        # "\n.\n" and "\r.\r" must not end the data; only CRLF.CRLF does.
        c.send(b"Subject: smuggle\r\n\r\nline\n.\nMAIL FROM:<evil@x.test>\r\nmore\r.\r\n")
        c.send(b"NOOP\r\n")
        c.sock.settimeout(1)
        with self.assertRaises(OSError):
            c.line()
        c.sock.settimeout(10)
        c.send(b".\r\n")
        self.assertRegex(c.reply()[0], "^250 2.0.0 .* Saved")
        self.assertEqual(self.total_entries(), 1)

    def test_message_over_size_limit(self):
        r = self.sp("alias", "list")
        self.assertEqual(r.code, 0)
        self.stop(self.server)
        with open(os.path.join(self.dir, "sealpost.conf"), "a") as f:
            f.write("")
        conf = os.path.join(self.dir, "sealpost.conf")
        with open(conf) as f:
            text = f.read()
        with open(conf, "w") as f:
            f.write(text.replace("max_message_size = 50M", "max_message_size = 20K"))
        self.server = self.serve()
        self.port = self.lmtp_port()
        c = self.client()
        self.assertIn("250-SIZE 20480", self.lhlo(c))
        c.send("MAIL FROM:<a@b.test>\r\nRCPT TO:<demo@example.test>\r\n"
               "RCPT TO:<bob@example.test>\r\nDATA\r\n")
        for _ in range(4):
            c.reply()
        c.send("Subject: big\r\n\r\n" + ("y" * 998 + "\r\n") * 30 + ".\r\n")
        self.assertEqual([c.reply()[0] for _ in range(2)],
                         ["552 5.3.4 Message size exceeds fixed maximum message size"] * 2)
        c.send("NOOP\r\n")
        self.assertEqual(c.reply(), ["250 2.0.0 OK"])
        self.assertEqual(self.total_entries(), 0)

    def test_disconnect_before_final_dot_delivers_nothing(self):
        c = self.client()
        self.lhlo(c)
        c.send("MAIL FROM:<a@b.test>\r\nRCPT TO:<demo@example.test>\r\nDATA\r\n")
        for _ in range(3):
            c.reply()
        c.send(MSG)
        c.close()
        time.sleep(0.5)
        self.assertEqual(self.total_entries(), 0)
        self.assertEqual(os.listdir(os.path.join(self.dir, "spool", "tmp")), [])
        # And the server still serves others.
        c2 = self.client()
        self.assertEqual(self.lhlo(c2)[-1], "250 STARTTLS")

    def test_large_message_is_streamed(self):
        pid = int(re.search(r"\(pid (\d+)\)", self.banner).group(1))

        def hwm_kib():
            with open(f"/proc/{pid}/status") as f:
                return int(re.search(r"VmHWM:\s+(\d+)", f.read()).group(1))

        before = hwm_kib()
        c = self.client()
        self.lhlo(c)
        size = 48 * 1024 * 1024
        c.send(f"MAIL FROM:<a@b.test> SIZE={size}\r\nRCPT TO:<demo@example.test>\r\n"
               f"BDAT {size} LAST\r\n")
        self.assertEqual(c.reply()[0], "250 2.1.0 Sender OK")
        self.assertEqual(c.reply()[0], "250 2.1.5 OK")
        head = b"Subject: big\r\n\r\n"
        chunk = head + b"z" * (1024 * 1024 - len(head))
        for _ in range(48):
            c.send(chunk)
            chunk = b"z" * (1024 * 1024)
        c.sock.settimeout(120)
        self.assertRegex(c.reply()[0], "^250 2.0.0")
        growth = hwm_kib() - before
        sanitized = b"asan" in subprocess.run(["ldd", sp.BIN], capture_output=True).stdout
        if not sanitized:
            # Never the whole message in memory (issue 11): far below 48 MiB.
            self.assertLess(growth, 16 * 1024, f"peak RSS grew by {growth} KiB")
        entries = self.spool_entries()
        self.assertEqual(sum(len(v) for v in entries.values()), 1)

    def test_no_plaintext_on_disk_and_in_logs(self):
        client = smtplib.LMTP("127.0.0.1", self.port)
        client.ehlo("client.test")
        client.sendmail("sender@remote.test", ["demo@example.test"], MSG)
        client.quit()
        self.stop(self.server)
        log = self.server_log(self.server)
        for root, _, files in os.walk(self.dir):
            for name in files:
                with open(os.path.join(root, name), "rb") as f:
                    data = f.read()
                self.assertNotIn(b"MARKER-7731", data, name)
                self.assertNotIn(b"sender@remote.test", data, name)
        self.assertNotIn("MARKER-7731", log)
        self.assertNotIn("sender@remote.test", log)
        self.assertNotIn(self.password, log)


class LmtpConfigTest(sp.DataDirTest):
    init_args = ("--demo",)

    def test_non_loopback_address_refused(self):
        r = self.sp("serve", "--foreground", f"--lmtp=0.0.0.0:{sp.free_port()}")
        self.assertEqual(r.code, 1, r)
        self.assertIn("not a loopback address", r.err)

    def test_ipv6_loopback(self):
        port = sp.free_port()
        self.serve(f"--lmtp=[::1]:{port}")
        import socket
        s = socket.create_connection(("::1", port))
        self.assertTrue(s.recv(100).startswith(b"220 "))
        s.close()


class LmtpDurabilityTest(sp.DataDirTest):
    init_args = ("--demo",)

    def test_fsync_of_file_and_directory_before_250(self):
        trace = os.path.join(self.tmp.name, "trace")
        p = self.serve(prefix=("strace", "-f", "-y", "-o", trace, "-e",
                               "trace=fsync,fdatasync,linkat,write,writev,sendmsg,sendto"))
        port = self.lmtp_port()
        for i in range(3):
            client = smtplib.LMTP("127.0.0.1", port)
            client.ehlo("client.test")
            client.sendmail("a@b.test", ["demo@example.test"], MSG)
            client.quit()
        # Stop sealpost itself (strace's child), then strace follows.
        pid = int(re.search(r"\(pid (\d+)\)", self.banner).group(1))
        os.kill(pid, signal.SIGTERM)
        p.wait(timeout=30)
        with open(trace) as f:
            lines = f.read().splitlines()
        saved = [i for i, l in enumerate(lines) if "250 2.0.0" in l and "Saved" in l]
        self.assertEqual(len(saved), 3, "\n".join(lines[-40:]))
        spool = os.path.join(self.dir, "spool")
        previous = 0
        for idx in saved:
            window = lines[previous:idx]
            links = [l for l in window if "linkat(" in l and spool in l]
            file_syncs = [i for i, l in enumerate(window)
                          if re.search(r"f(data)?sync\(\d+<" + re.escape(spool) + r"/tmp/", l)]
            self.assertTrue(links, "no link into the mailbox spool before 250")
            mailbox_dir = re.search(r"(\d+<" + re.escape(spool) + r"/[a-z2-7]{26}>)",
                                    links[-1]).group(1)
            dir_syncs = [i for i, l in enumerate(window) if "fsync(" + mailbox_dir in l]
            link_at = max(i for i, l in enumerate(window) if l is links[-1])
            self.assertTrue(file_syncs and min(file_syncs) < link_at,
                            "spool file not fsynced before its link")
            self.assertTrue(dir_syncs and max(dir_syncs) > link_at,
                            "spool directory not fsynced after the link")
            previous = idx + 1
