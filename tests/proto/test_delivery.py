"""End to end: LMTP -> sealed spool -> the owner's key drains it into the
mailbox -> `sealpost mailbox export` gives every message back byte-exact,
with only the per-recipient header lines prepended (issues 3, 4 and 11)."""
import os
import re

import sp

CORPUS = os.environ.get("SP_CORPUS", "../../../shared/corpus")


class DeliveryTest(sp.DataDirTest):
    init_args = ("--demo",)

    def setUp(self):
        super().setUp()
        self.password, self.recovery = self.add_alias("reader@example.test")
        self.server = self.serve()
        self.port = self.lmtp_port()

    def export(self, fmt="eml", password=None):
        out = os.path.join(self.tmp.name, "export-" + fmt)
        r = self.sp("mailbox", "export", "reader@example.test", "--format", fmt, "--out", out,
                    stdin=(password or self.password) + "\n")
        self.assertEqual(r.code, 0, r)
        return out, r

    def deliver_bdat(self, c, data):
        c.send(b"MAIL FROM:<sender@remote.test>\r\nRCPT TO:<reader@example.test>\r\n")
        self.assertEqual(c.reply()[0], "250 2.1.0 Sender OK")
        self.assertEqual(c.reply()[0], "250 2.1.5 OK")
        c.send(b"BDAT %d LAST\r\n" % len(data) + data)
        reply = c.reply()[0]
        self.assertRegex(reply, r"^250 2\.0\.0 ")

    def test_every_corpus_message_round_trips_byte_exact(self):
        names = sorted(f for f in os.listdir(CORPUS) if f.endswith(".eml"))
        self.assertGreater(len(names), 300)
        c = sp.Client(self.port)
        c.reply()
        c.send("LHLO client.test\r\n")
        c.reply()
        originals = []
        for name in names:
            with open(os.path.join(CORPUS, name), "rb") as f:
                data = f.read()
            originals.append(data)
            self.deliver_bdat(c, data)
        c.send("QUIT\r\n")
        c.reply()
        self.assertEqual(sum(len(v) for v in self.spool_entries().values()), len(names))
        out, r = self.export()
        self.assertIn(f"Exported {len(names)} messages", r.out)
        # The spool is empty once drained.
        self.assertEqual(sum(len(v) for v in self.spool_entries().values()), 0)
        inbox = os.path.join(out, "INBOX")
        self.assertEqual(len(os.listdir(inbox)), len(names))
        for uid, (name, data) in enumerate(zip(names, originals), start=1):
            with open(os.path.join(inbox, f"{uid}.eml"), "rb") as f:
                got = f.read()
            head = re.match(rb"Return-Path: <sender@remote\.test>\r\n"
                            rb"Delivered-To: reader@example\.test\r\n"
                            rb"Received: from client\.test \(127\.0\.0\.1:\d+\)\r\n"
                            rb"\tby mail\.example\.test \(Sealpost\) with LMTP id \w+\r\n"
                            rb"\tfor <reader@example\.test>; [^\r\n]+\r\n", got)
            self.assertIsNotNone(head, name)
            self.assertEqual(got[head.end():], data, name)

    def test_data_and_export_formats(self):
        c = sp.Client(self.port)
        c.reply()
        c.send("LHLO client.test\r\n")
        c.reply()
        c.send("MAIL FROM:<>\r\nRCPT TO:<Reader+lists@Example.TEST>\r\nDATA\r\n")
        for _ in range(2):
            self.assertTrue(c.reply()[0].startswith("250"))
        self.assertTrue(c.reply()[0].startswith("354"))
        # Dot-stuffed lines lose one dot; a From_ line is escaped in mbox.
        c.send("Subject: dots\r\n\r\n..leading dot\r\nFrom the start\r\n.\r\n")
        self.assertRegex(c.reply()[0], "^250 2.0.0")
        out, _ = self.export("eml")
        with open(os.path.join(out, "INBOX", "1.eml"), "rb") as f:
            got = f.read()
        self.assertIn(b"Return-Path: <>\r\nDelivered-To: reader+lists@example.test\r\n", got)
        self.assertTrue(got.endswith(b"Subject: dots\r\n\r\n.leading dot\r\nFrom the start\r\n"))
        # mboxrd of the same mailbox (the spool is already drained).
        mbox, _ = self.export("mbox", password=self.recovery)
        with open(mbox, "rb") as f:
            text = f.read()
        self.assertTrue(text.startswith(b"From MAILER-DAEMON "))
        self.assertIn(b"\r\n>From the start\r\n", text)

    def test_alias_remove_deletes_spooled_mail(self):
        c = sp.Client(self.port)
        c.reply()
        c.send("LHLO client.test\r\n")
        c.reply()
        self.deliver_bdat(c, b"Subject: waiting\r\n\r\nx\r\n")
        self.assertEqual(sum(len(v) for v in self.spool_entries().values()), 1)
        r = self.sp("alias", "remove", "reader@example.test")
        self.assertEqual(r.code, 0, r)
        self.assertEqual(len(self.mailbox_files()), 1)  # the demo mailbox remains
        self.assertEqual(sum(len(v) for v in self.spool_entries().values()), 0)

    def test_export_needs_the_password(self):
        out = os.path.join(self.tmp.name, "x")
        r = self.sp("mailbox", "export", "reader@example.test", "--out", out, stdin="wrong\n")
        self.assertEqual(r.code, 1)
        self.assertIn("wrong password", r.err)
        self.assertFalse(os.path.exists(out))


class ImportTest(sp.DataDirTest):
    init_args = ("--demo",)

    def test_mboxrd_import_and_round_trip(self):
        password, _ = self.add_alias("imp@example.test")
        messages = [b"Subject: one\n\nFrom the start\n>From quoted\nend\n",
                    b"Subject: two\r\n\r\nCRLF body\r\n",
                    b"Subject: three\n\n\nblank lines\n\n"]
        mbox = os.path.join(self.tmp.name, "in.mbox")
        with open(mbox, "wb") as f:
            for m in messages:
                f.write(b"From someone@remote.test Mon Jan  5 10:00:00 2026\n")
                escaped = re.sub(rb"(?m)^(>*From )", rb">\1", m)
                f.write(escaped + b"\n")
        r = self.sp("mailbox", "import", "imp@example.test", mbox, stdin=password + "\n")
        self.assertEqual(r.code, 0, r)
        self.assertIn("Imported 3 messages into INBOX", r.out)
        out = os.path.join(self.tmp.name, "out")
        r = self.sp("mailbox", "export", "imp@example.test", "--format", "eml", "--out", out,
                    stdin=password + "\n")
        self.assertEqual(r.code, 0, r)
        for uid, m in enumerate(messages, start=1):
            with open(os.path.join(out, "INBOX", f"{uid}.eml"), "rb") as f:
                self.assertEqual(f.read(), m)
        # Export as mbox, import into another mailbox: the same bytes again.
        other, _ = self.add_alias("other@example.test")
        out_mbox = os.path.join(self.tmp.name, "out.mbox")
        r = self.sp("mailbox", "export", "imp@example.test", "--out", out_mbox,
                    stdin=password + "\n")
        self.assertEqual(r.code, 0, r)
        r = self.sp("mailbox", "import", "other@example.test", out_mbox, "--folder", "Archive",
                    stdin=other + "\n")
        self.assertEqual(r.code, 0, r)
        out2 = os.path.join(self.tmp.name, "out2")
        r = self.sp("mailbox", "export", "other@example.test", "--format", "eml", "--folder",
                    "Archive", "--out", out2, stdin=other + "\n")
        self.assertEqual(r.code, 0, r)
        for uid, m in enumerate(messages, start=1):
            with open(os.path.join(out2, "Archive", f"{uid}.eml"), "rb") as f:
                self.assertEqual(f.read(), m)

    def test_import_refuses_a_non_mbox_file(self):
        password, _ = self.add_alias("imp@example.test")
        path = os.path.join(self.tmp.name, "junk")
        with open(path, "wb") as f:
            f.write(b"Subject: no separator\n\nbody\n")
        r = self.sp("mailbox", "import", "imp@example.test", path, stdin=password + "\n")
        self.assertEqual(r.code, 1, r)
        self.assertIn("not an mbox file", r.err)
