"""Real IMAP clients against the real server (the issue's acceptance):
mbsync (Debian package isync) syncs a 2,000-message mailbox down and up
again, twice, with flag changes on both sides and no duplicates; curl
lists, fetches and searches over imap, imaps and STARTTLS; fetchmail reads
INBOX. Each client is used as its users configure it (no extensions
disabled)."""
import base64
import getpass
import imaplib
import os
import random
import re
import shutil
import subprocess
import time
import unittest

import sp

ADDR = "alice@example.test"
CORPUS = os.environ.get("SP_CORPUS", "../../../shared/corpus")
MSGID_RE = re.compile(rb"(?im)^message-id:[ \t]*(<[^>\r\n]*>)")
# Maildir info flags and the IMAP system flags they stand for.
MAILDIR_FLAGS = {"D": r"\Draft", "F": r"\Flagged", "R": r"\Answered", "S": r"\Seen",
                 "T": r"\Deleted"}


def crlf(data):
    """Data with every line ending made CRLF."""
    return data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")


def lf(data):
    return data.replace(b"\r\n", b"\n")


def no_tuid(data):
    """The message without the X-TUID field mbsync adds to the copies it
    makes (its own bookkeeping, either side)."""
    return re.sub(rb"(?m)^X-TUID: [^\r\n]*\r?\n", b"", data)


def tail_diff(got, want):
    """Where got stops ending with want: the differing tails, for failure
    messages."""
    k = 0
    while k < min(len(got), len(want)) and got[-1 - k] == want[-1 - k]:
        k += 1
    return {"got": got[max(0, len(got) - k - 80):len(got) - k + 40],
            "want": want[max(0, len(want) - k - 80):len(want) - k + 40]}


def with_message_id(data, msgid):
    """The message with its own Message-ID instead of any it had."""
    data = crlf(data)
    head, sep, body = data.partition(b"\r\n\r\n")
    out, skip = [], False
    for line in head.split(b"\r\n"):
        if skip and line[:1] in (b" ", b"\t"):
            continue
        skip = line.lower().startswith(b"message-id:")
        if not skip:
            out.append(line)
    if not sep:
        body = b""
    if body and not body.endswith(b"\r\n"):
        body += b"\r\n"  # as SMTP/LMTP transfer it (RFC 5321 section 4.1.1.4)
    return b"Message-ID: " + msgid.encode() + b"\r\n" + b"\r\n".join(out) + b"\r\n\r\n" + body


def corpus_messages(limit=200_000):
    """Corpus messages a maildir holds unchanged: no malformed line
    endings or NULs, a header field first, below limit bytes. Sorted, so
    runs are repeatable."""
    if not os.path.isdir(CORPUS):
        return []
    out = []
    for name in sorted(os.listdir(CORPUS)):
        if not name.endswith(".eml") or name.startswith("malformed"):
            continue
        with open(os.path.join(CORPUS, name), "rb") as f:
            data = f.read()
        # (A first line that is no header field, such as an mbox "From "
        # line, is something clients drop.)
        if len(data) < limit and b"\0" not in data and re.match(rb"[!-9;-~]+:", data):
            out.append(data)
    return out


def synthetic(i, rng):
    """A varied generated message: sizes from a line to ~40 KB, some with
    an attachment, some with an encoded-word subject."""
    lines = [f"line {k} of message {i}: " + "x" * rng.randrange(0, 70)
             for k in range(rng.choice((1, 5, 40, 400)))]
    subject = f"sync test {i}" if i % 7 else f"=?UTF-8?B?c3luYyB0ZXN0IMOpw6A=?= {i}"
    head = (f"From: Sender {i % 13} <s{i % 13}@example.org>\r\nTo: {ADDR}\r\n"
            f"Subject: {subject}\r\nDate: Tue, 24 Nov 2026 {i % 24:02d}:{i % 60:02d}:00 +0000\r\n"
            "MIME-Version: 1.0\r\n")
    text = "\r\n".join(lines) + "\r\n"
    if i % 11 == 0:
        blob = bytes(rng.randrange(256) for _ in range(3000))
        b64 = base64.encodebytes(blob).decode().replace("\n", "\r\n")
        return (head + 'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\n'
                "Content-Type: text/plain\r\n\r\n" + text + "--b1\r\n"
                "Content-Type: application/octet-stream\r\n"
                "Content-Transfer-Encoding: base64\r\n\r\n" + b64 + "--b1--\r\n").encode()
    return (head + "Content-Type: text/plain; charset=utf-8\r\n\r\n" + text).encode()


def make_messages(n, prefix, corpus_every=10):
    """n messages, every corpus_every-th from the corpus, each with its own
    Message-ID <prefix-i@example.org>; returns {msgid: bytes (CRLF)}."""
    rng = random.Random(prefix)
    corpus = corpus_messages()
    out = {}
    for i in range(n):
        msgid = f"<{prefix}-{i}@example.org>"
        if corpus and i % corpus_every == 0:
            base = corpus[(i // corpus_every) % len(corpus)]
        else:
            base = synthetic(i, rng)
        out[msgid] = with_message_id(base, msgid)
    return out


def lmtp_deliver(port, messages, rcpt=ADDR):
    """Delivers each message over one LMTP connection, MAIL/RCPT/DATA
    pipelined (RFC 2920) so that a message costs two round trips."""
    c = sp.Client(port, timeout=60)
    try:
        assert c.reply()[0].startswith("220")
        c.send("LHLO client.example.org\r\n")
        lines = c.reply()
        assert any("PIPELINING" in l for l in lines), lines
        for data in messages:
            c.send(f"MAIL FROM:<bob@example.org>\r\nRCPT TO:<{rcpt}>\r\nDATA\r\n")
            for want in ("250", "250", "354"):
                r = c.reply()
                assert r[0].startswith(want), r
            stuffed = re.sub(rb"(?m)^\.", b"..", data)
            if not stuffed.endswith(b"\r\n"):
                stuffed += b"\r\n"
            c.send(stuffed + b".\r\n")
            r = c.reply()
            assert r[0].startswith("250"), r
        c.send("QUIT\r\n")
    finally:
        c.close()


class ClientTest(sp.DataDirTest):
    def setUp(self):
        super().setUp()
        self.assertEqual(self.sp("domain", "add", "example.test").code, 0)
        self.password, _ = self.add_alias(ADDR)
        self.serve()
        self.cert = os.path.join(self.dir, "tls", "cert.pem")
        self.work = os.path.join(self.tmp.name, "client")
        os.mkdir(self.work)

    def imap(self):
        m = imaplib.IMAP4("127.0.0.1", self.port("imap"), timeout=60)
        m.login(ADDR, self.password)
        return m

    def populate(self, messages):
        """Delivers messages by LMTP and waits until INBOX holds them all."""
        t0 = time.monotonic()
        lmtp_deliver(self.lmtp_port(), list(messages))
        m = self.imap()
        try:
            deadline = time.monotonic() + 120
            while True:
                typ, data = m.select("INBOX")
                self.assertEqual(typ, "OK", data)
                if int(data[0]) >= len(messages) or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            self.assertEqual(int(data[0]), len(messages))
        finally:
            m.logout()
        print(f"\n  delivered {len(messages)} messages in {time.monotonic() - t0:.1f}s", flush=True)

    def far_state(self):
        """{Message-ID: (uid, flags)} of INBOX, and the list of all IDs."""
        m = self.imap()
        try:
            typ, data = m.select("INBOX")
            self.assertEqual(typ, "OK", data)
            if int(data[0]) == 0:
                return {}, []
            typ, data = m.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
            self.assertEqual(typ, "OK", data)
        finally:
            m.logout()
        state, ids = {}, []
        for item in data:
            if not isinstance(item, tuple):
                continue
            meta, header = item
            uid = int(re.search(rb"UID (\d+)", meta).group(1))
            flags = set(re.search(rb"FLAGS \(([^)]*)\)", meta).group(1).decode().split())
            mid = MSGID_RE.search(header)
            self.assertTrue(mid, (meta, header))
            mid = mid.group(1).decode()
            ids.append(mid)
            state[mid] = (uid, {f for f in flags if f in MAILDIR_FLAGS.values()})
        return state, ids


@unittest.skipUnless(shutil.which("mbsync"), "mbsync (Debian package isync) not installed")
class MbsyncTest(ClientTest):
    N = 2000

    def setUp(self):
        super().setUp()
        self.maildir = os.path.join(self.work, "mail")
        self.inbox = os.path.join(self.maildir, "INBOX")
        os.makedirs(os.path.join(self.work, "state"))
        os.makedirs(self.maildir)
        self.rc = os.path.join(self.work, "mbsyncrc")
        with open(self.rc, "w") as f:
            f.write(f"""IMAPAccount sealpost
Host 127.0.0.1
Port {self.port("imaps")}
User {ADDR}
Pass "{self.password}"
SSLType IMAPS
CertificateFile {self.cert}

IMAPStore far
Account sealpost

MaildirStore near
Path {self.maildir}/
Inbox {self.inbox}

Channel inbox
Far :far:INBOX
Near :near:INBOX
Create Both
Expunge Both
SyncState {self.work}/state/
""")

    def mbsync(self):
        t0 = time.monotonic()
        r = subprocess.run(["mbsync", "-c", self.rc, "-V", "inbox"], capture_output=True,
                           text=True, timeout=600)
        took = time.monotonic() - t0
        # The last lines of a failure say why (the IMAP exchange is in -V).
        self.assertEqual(r.returncode, 0, (r.stdout[-4000:], r.stderr[-4000:]))
        print(f"\n  mbsync took {took:.1f}s", flush=True)
        return r

    def near_state(self):
        """{Message-ID: (path, flags)} of the maildir, and all IDs."""
        state, ids = {}, []
        for sub in ("new", "cur"):
            d = os.path.join(self.inbox, sub)
            for name in sorted(os.listdir(d)):
                path = os.path.join(d, name)
                with open(path, "rb") as f:
                    data = f.read()
                mid = MSGID_RE.search(data)
                self.assertTrue(mid, path)
                mid = mid.group(1).decode()
                ids.append(mid)
                info = name.split(":2,", 1)[1] if ":2," in name else ""
                state[mid] = (path, {MAILDIR_FLAGS[c] for c in info if c in MAILDIR_FLAGS})
        return state, ids

    def set_near_flags(self, path, flags):
        """Renames a maildir file to carry exactly flags (into cur/)."""
        base = os.path.basename(path).split(":2,", 1)[0]
        info = "".join(sorted(k for k, v in MAILDIR_FLAGS.items() if v in flags))
        new = os.path.join(self.inbox, "cur", base + ":2," + info)
        os.rename(path, new)

    def add_near(self, messages):
        for k, data in enumerate(messages.values()):
            name = f"{int(time.time())}.h8_{k}_{os.getpid()}.test"
            tmp = os.path.join(self.inbox, "tmp", name)
            with open(tmp, "wb") as f:
                f.write(lf(data))
            os.rename(tmp, os.path.join(self.inbox, "new", name))

    def assert_in_sync(self, expected_ids, what):
        near, near_ids = self.near_state()
        far, far_ids = self.far_state()
        # No duplicates on either side, and the same messages on both.
        self.assertEqual(len(near_ids), len(set(near_ids)), what + ": duplicates near")
        self.assertEqual(len(far_ids), len(set(far_ids)), what + ": duplicates far")
        self.assertEqual(set(near), set(expected_ids), what)
        self.assertEqual(set(far), set(expected_ids), what)
        diff = {mid: (near[mid][1], far[mid][1]) for mid in near if near[mid][1] != far[mid][1]}
        self.assertEqual(diff, {}, what + ": flags differ (near, far)")
        return near, far

    def change_both_sides(self, rnd, near, far, current, expect_flags):
        """Flag changes, deletions and new messages on both sides (and
        twenty messages changed on both); updates current (IDs) and
        expect_flags in place."""
        rng = random.Random(rnd)
        ids = sorted(current)
        rng.shuffle(ids)
        near_flag, far_flag = ids[:150], ids[150:300]
        near_del, far_del = ids[300:320], ids[320:340]
        # Both sides change these: \Seen added near, \Flagged added far;
        # mbsync merges the two changes.
        both = ids[340:360]
        for mid in both:
            path, flags = near[mid]
            self.set_near_flags(path, set(flags) | {r"\Seen"})
            expect_flags[mid] = set(far[mid][1]) | {r"\Seen", r"\Flagged"}
        # Near side: maildir renames (add or clear \Seen, \Flagged, \Answered).
        for k, mid in enumerate(near_flag):
            path, flags = near[mid]
            flags = set(flags)
            flag = (r"\Seen", r"\Flagged", r"\Answered")[k % 3]
            flags.symmetric_difference_update({flag})
            self.set_near_flags(path, flags)
            expect_flags[mid] = flags
        for mid in near_del:
            os.unlink(near[mid][0])
            current.discard(mid)
        new_near = make_messages(10, f"near{rnd}", corpus_every=3)
        self.add_near(new_near)
        current.update(new_near)
        for mid in new_near:
            expect_flags[mid] = set()
        # Far side: STORE, EXPUNGE and APPEND over IMAP.
        m = self.imap()
        try:
            self.assertEqual(m.select("INBOX")[0], "OK")
            for k, mid in enumerate(far_flag):
                uid, flags = far[mid]
                flag = (r"\Flagged", r"\Seen", r"\Answered")[k % 3]
                op = "-FLAGS" if flag in flags else "+FLAGS"
                typ, data = m.uid("STORE", str(uid), op, f"({flag})")
                self.assertEqual(typ, "OK", data)
                expect_flags[mid] = set(flags) ^ {flag}
            uids = ",".join(str(far[mid][0]) for mid in both)
            typ, data = m.uid("STORE", uids, "+FLAGS.SILENT", r"(\Flagged)")
            self.assertEqual(typ, "OK", data)
            uids = ",".join(str(far[mid][0]) for mid in far_del)
            typ, data = m.uid("STORE", uids, "+FLAGS.SILENT", r"(\Deleted)")
            self.assertEqual(typ, "OK", data)
            typ, data = m.uid("EXPUNGE", uids)
            self.assertEqual(typ, "OK", data)
            for mid in far_del:
                current.discard(mid)
            new_far = make_messages(10, f"far{rnd}", corpus_every=4)
            for k, data in enumerate(new_far.values()):
                flags = r"(\Flagged)" if k % 2 else None
                typ, resp = m.append("INBOX", flags, None, data)
                self.assertEqual(typ, "OK", resp)
                expect_flags[with_id(data)] = {r"\Flagged"} if k % 2 else set()
            current.update(new_far)
        finally:
            m.logout()
        return new_near, new_far

    def test_mbsync_two_thousand_messages_twice_both_ways(self):
        messages = make_messages(self.N, "sync")
        self.populate(messages.values())

        # Down: 2,000 maildir files with the delivered content (the server
        # puts its trace fields above the message; the maildir has LF).
        self.mbsync()
        near, near_ids = self.near_state()
        self.assertEqual(len(near_ids), self.N)
        self.assertEqual(set(near), set(messages))
        for mid, (path, flags) in near.items():
            with open(path, "rb") as f:
                data = no_tuid(f.read())
            self.assertTrue(data.endswith(lf(messages[mid])),
                            (mid, path, tail_diff(data, lf(messages[mid]))))
            self.assertEqual(flags, set(), path)
        current = set(messages)
        self.assert_in_sync(current, "after the first sync")
        expect_flags = {mid: set() for mid in current}

        for rnd in (1, 2):
            near, _ = self.near_state()
            far, _ = self.far_state()
            new_near, new_far = self.change_both_sides(rnd, near, far, current, expect_flags)
            self.mbsync()
            near, far = self.assert_in_sync(current, f"after round {rnd}")
            got = {mid: far[mid][1] for mid in current}
            want = {mid: expect_flags.get(mid, set()) for mid in current}
            self.assertEqual({k: (got[k], want[k]) for k in current if got[k] != want[k]}, {},
                             f"round {rnd}: flags (got, want)")
            # What went up is what was written near, what came down is
            # what was appended far.
            for mid, data in new_far.items():
                with open(near[mid][0], "rb") as f:
                    self.assertEqual(no_tuid(f.read()), lf(data), mid)
            self.check_far_content(new_near, far)
        self.assertEqual(len(current), self.N - 2 * 40 + 2 * 20)

        # A third run with nothing changed changes nothing.
        before = self.near_state()[0], self.far_state()[0]
        self.mbsync()
        self.assertEqual((self.near_state()[0], self.far_state()[0]), before)

    def check_far_content(self, sent, far):
        m = self.imap()
        try:
            self.assertEqual(m.select("INBOX", readonly=True)[0], "OK")
            for mid, data in sent.items():
                typ, resp = m.uid("FETCH", str(far[mid][0]), "(BODY.PEEK[])")
                self.assertEqual(typ, "OK", resp)
                self.assertEqual(no_tuid(resp[0][1]), data, mid)
        finally:
            m.logout()


@unittest.skipUnless(shutil.which("mbsync"), "mbsync (Debian package isync) not installed")
class MbsyncFoldersTest(ClientTest):
    """All folders (Patterns *), over STARTTLS on the plain port (mbsync's
    default SSLType): folders made on either side appear on the other,
    with their messages, hierarchy delimiter "/"."""

    def folder_counts(self, m):
        typ, data = m.list()
        self.assertEqual(typ, "OK", data)
        out = {}
        for line in data:
            mm = re.match(rb'^\(([^)]*)\) "/" "?([^"]*)"?$', line)
            self.assertTrue(mm, line)
            if b"\\Noselect" in mm.group(1) or b"\\NonExistent" in mm.group(1):
                continue
            name = mm.group(2).decode()
            typ, n = m.select('"%s"' % name, readonly=True)
            self.assertEqual(typ, "OK", (name, n))
            out[name] = int(n[0])
        return out

    def near_counts(self, root):
        out = {}
        for dirpath, dirnames, _ in os.walk(root):
            if "cur" in dirnames and "new" in dirnames:
                rel = os.path.relpath(dirpath, root)
                out[rel] = sum(len(os.listdir(os.path.join(dirpath, d))) for d in ("cur", "new"))
        return out

    def test_mbsync_all_folders_starttls(self):
        maildir = os.path.join(self.work, "mail")
        os.makedirs(maildir)
        os.makedirs(os.path.join(self.work, "state"))
        rc = os.path.join(self.work, "mbsyncrc")
        with open(rc, "w") as f:
            f.write(f"""IMAPAccount sealpost
Host 127.0.0.1
Port {self.port("imap")}
User {ADDR}
Pass "{self.password}"
CertificateFile {self.cert}

IMAPStore far
Account sealpost

MaildirStore near
Path {maildir}/
Inbox {maildir}/INBOX
SubFolders Verbatim

Channel all
Far :far:
Near :near:
Patterns *
Create Both
Expunge Both
SyncState *
""")
        self.populate(make_messages(20, "inbox", corpus_every=5).values())
        m = self.imap()
        try:
            self.assertEqual(m.create("Lists/dev")[0], "OK")
            for box, n in (("Archive", 5), ("Sent", 3), ("Lists/dev", 4)):
                for data in make_messages(n, "box-" + box.replace("/", "-")).values():
                    typ, resp = m.append(box, None, None, data)
                    self.assertEqual(typ, "OK", resp)
            far = self.folder_counts(m)
        finally:
            m.logout()
        want = {"INBOX": 20, "Drafts": 0, "Sent": 3, "Junk": 0, "Trash": 0, "Archive": 5,
                "Lists/dev": 4}
        self.assertEqual({k: v for k, v in far.items() if k in want}, want, far)

        def run():
            r = subprocess.run(["mbsync", "-c", rc, "-V", "all"], capture_output=True,
                               text=True, timeout=600)
            self.assertEqual(r.returncode, 0, (r.stdout[-4000:], r.stderr[-4000:]))

        run()
        near = self.near_counts(maildir)
        self.assertEqual({k: v for k, v in near.items() if k in want}, want, near)
        # A folder made near, with a subfolder, goes up with its messages.
        box = os.path.join(maildir, "Projects", "2026")
        for d in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(box, d))
        for k, data in enumerate(make_messages(6, "projects").values()):
            with open(os.path.join(box, "new", f"{int(time.time())}.p{k}.test"), "wb") as f:
                f.write(lf(data))
        run()
        m = self.imap()
        try:
            far = self.folder_counts(m)
        finally:
            m.logout()
        want["Projects/2026"] = 6
        self.assertEqual({k: v for k, v in far.items() if k in want}, want, far)
        # Nothing more to do: a third run changes nothing on either side.
        run()
        m = self.imap()
        try:
            self.assertEqual(self.folder_counts(m), far)
        finally:
            m.logout()
        self.assertEqual({k: v for k, v in self.near_counts(maildir).items() if k in want}, want)


def with_id(data):
    return MSGID_RE.search(data).group(1).decode()


@unittest.skipUnless(shutil.which("curl"), "curl not installed")
class CurlTest(ClientTest):
    def setUp(self):
        super().setUp()
        self.messages = make_messages(30, "curl", corpus_every=3)
        self.populate(self.messages.values())
        m = self.imap()
        try:
            m.select("INBOX")
            typ, data = m.uid("FETCH", "1:*", "(BODY.PEEK[])")
            self.assertEqual(typ, "OK", data)
        finally:
            m.logout()
        self.bodies = {}
        for item in data:
            if isinstance(item, tuple):
                uid = int(re.search(rb"UID (\d+)", item[0]).group(1))
                self.bodies[uid] = item[1]
        self.assertEqual(len(self.bodies), 30)

    def curl(self, url, *args):
        r = subprocess.run(["curl", "-sS", "--max-time", "30", "-u", f"{ADDR}:{self.password}",
                            *args, url], capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, (url, args, r.stderr))
        return r.stdout

    def test_list(self):
        out = self.curl(f"imap://127.0.0.1:{self.port('imap')}/").decode()
        names = set()
        for line in out.splitlines():
            m = re.match(r'^\* LIST \(([^)]*)\) "/" "?([^"]*)"?$', line)
            self.assertTrue(m, (line, out))
            names.add(m.group(2))
        self.assertEqual(names, {"INBOX", "Drafts", "Sent", "Junk", "Trash", "Archive"}, out)
        self.assertIn(r"\Trash", [l for l in out.splitlines() if "Trash" in l][0])

    def test_fetch_by_uid_over_imap_imaps_and_starttls(self):
        imap = f"imap://127.0.0.1:{self.port('imap')}/INBOX"
        imaps = f"imaps://127.0.0.1:{self.port('imaps')}/INBOX"
        for uid, body in sorted(self.bodies.items())[::7]:
            mid = with_id(body)
            self.assertTrue(body.endswith(self.messages[mid]), mid)
            self.assertEqual(self.curl(f"{imap};UID={uid}"), body, uid)
            self.assertEqual(self.curl(f"{imaps};UID={uid}", "--cacert", self.cert), body, uid)
            self.assertEqual(self.curl(f"imaps://localhost:{self.port('imaps')}/INBOX;UID={uid}",
                                       "--insecure"), body, uid)
            self.assertEqual(self.curl(f"{imap};UID={uid}", "--ssl-reqd", "--cacert", self.cert),
                             body, uid)
        # A section: the header fields of one message.
        uid, body = sorted(self.bodies.items())[1]
        got = self.curl(f"{imap}/;UID={uid}/;SECTION=HEADER.FIELDS%20(MESSAGE-ID)")
        self.assertEqual(got, b"Message-ID: " + with_id(body).encode() + b"\r\n\r\n")

    def test_search(self):
        imap = f"imap://127.0.0.1:{self.port('imap')}/INBOX"
        # Message i (not from the corpus) has Subject "sync test i"; the
        # corpus ones are i = 0, 3, 6, ...
        want = {uid for uid, b in self.bodies.items()
                if re.search(rb"(?m)^Subject: sync test 1\d?\r", b)}
        self.assertTrue(want)
        out = self.curl(imap, "-X", 'UID SEARCH SUBJECT "sync test 1"').decode()
        m = re.match(r"^\* SEARCH((?: \d+)*)\r?\n$", out)
        self.assertTrue(m, out)
        self.assertEqual({int(x) for x in m.group(1).split()}, want, out)
        # curl's own query form: SEARCH (sequence numbers = UIDs here).
        out = self.curl(imap + "?SUBJECT%20%22sync%20test%201%22").decode()
        m = re.match(r"^\* SEARCH((?: \d+)*)\r?\n$", out)
        self.assertTrue(m, out)
        self.assertEqual({int(x) for x in m.group(1).split()}, want, out)
        out = self.curl(imap, "-X", "UID SEARCH HEADER Message-ID <curl-1@example.org>").decode()
        uid1 = [u for u, b in self.bodies.items() if with_id(b) == "<curl-1@example.org>"]
        self.assertEqual(out.split(), ["*", "SEARCH", *map(str, uid1)], out)
        out = self.curl(imap, "-X", "UID SEARCH NOT ALL").decode()
        self.assertEqual(out.split(), ["*", "SEARCH"], out)


@unittest.skipUnless(shutil.which("fetchmail"), "fetchmail not installed")
class FetchmailTest(ClientTest):
    def fetchmail(self, rc, *args):
        r = subprocess.run(["fetchmail", "-f", rc, "-v", "--nosyslog", "--nodetach",
                            "--pidfile", os.path.join(self.work, "fm.pid"), *args],
                           capture_output=True, text=True, timeout=300,
                           env={**os.environ, "HOME": self.work, "FETCHMAILHOME": self.work})
        # fetchmail works around commands that fail (SEARCH UNSEEN ->
        # FETCH FLAGS); a server it talks to answers all of them OK.
        failed = re.findall(r"(?m)^fetchmail: IMAP< A\d+ (?:NO|BAD).*$", r.stdout + r.stderr)
        sent = re.findall(r"(?m)^fetchmail: IMAP> A\d+ (?:SEARCH|SELECT|EXAMINE).*$",
                          r.stdout + r.stderr)
        self.assertEqual(failed, [], sent)
        return r

    def test_fetchmail_reads_inbox(self):
        messages = make_messages(40, "fm", corpus_every=2)
        self.populate(messages.values())
        out = os.path.join(self.work, "out")
        os.mkdir(out)
        rc = os.path.join(self.work, "fetchmailrc")
        with open(rc, "w") as f:
            f.write(f'poll 127.0.0.1 service {self.port("imap")} protocol IMAP\n'
                    f'  user "{ADDR}" password "{self.password}" is "{getpass.getuser()}" here\n'
                    f'  folder INBOX sslproto "" keep fetchall no rewrite\n'
                    f'  mda "cat > {out}/m.$$"\n')
        os.chmod(rc, 0o600)
        r = self.fetchmail(rc)
        self.assertEqual(r.returncode, 0, (r.stdout[-3000:], r.stderr[-3000:]))
        got = {}
        for name in os.listdir(out):
            with open(os.path.join(out, name), "rb") as f:
                data = f.read()
            got.setdefault(with_id(data), []).append(data)
        self.assertEqual(set(got), set(messages))
        for mid, copies in got.items():
            self.assertEqual(len(copies), 1, mid)
            # fetchmail adds its Received field on top; the rest is what
            # was delivered (with LF line ends).
            self.assertTrue(copies[0].endswith(lf(messages[mid])),
                            (mid, tail_diff(copies[0], lf(messages[mid]))))
        # keep: the messages stay, now \Seen; a second run without fetchall
        # finds nothing new (fetchmail asks the server for UNSEEN).
        far, ids = self.far_state()
        self.assertEqual(len(ids), 40)
        self.assertTrue(all(r"\Seen" in flags for _, flags in far.values()), far)
        with open(rc, "w") as f:
            f.write(f'poll 127.0.0.1 service {self.port("imap")} protocol IMAP\n'
                    f'  user "{ADDR}" password "{self.password}" is "{getpass.getuser()}" here\n'
                    f'  folder INBOX sslproto "" keep no rewrite\n'
                    f'  mda "cat > {out}/again.$$"\n')
        r = self.fetchmail(rc)
        self.assertEqual(r.returncode, 1, (r.stdout[-3000:], r.stderr[-3000:]))  # 1: no mail
        self.assertEqual([n for n in os.listdir(out) if n.startswith("again")], [])
        # A new message is the one the next run reads.
        new = make_messages(1, "fm-new")
        lmtp_deliver(self.lmtp_port(), list(new.values()))
        deadline = time.monotonic() + 10
        while len(self.far_state()[1]) < 41 and time.monotonic() < deadline:
            time.sleep(0.2)
        r = self.fetchmail(rc)
        self.assertEqual(r.returncode, 0, (r.stdout[-3000:], r.stderr[-3000:]))
        again = [n for n in os.listdir(out) if n.startswith("again")]
        self.assertEqual(len(again), 1, again)
        with open(os.path.join(out, again[0]), "rb") as f:
            self.assertTrue(f.read().endswith(lf(new["<fm-new-0@example.org>"])))


if __name__ == "__main__":
    unittest.main()
