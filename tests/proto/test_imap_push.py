"""Two sessions on one mailbox: what one session changes the other hears
about, in IDLE within 100 ms (RFC 2177) and at its next NOOP otherwise
(RFC 9051 section 7), with the mod-sequences of CONDSTORE and the
resynchronisation of QRESYNC (RFC 7162 sections 3.1, 3.2.5, 3.2.6), and a
revoked app password ending the sessions that logged in with it."""
import queue
import re
import smtplib
import socket
import threading
import time

import sp

ADDR = "alice@example.test"
LATENCY = 0.100  # seconds: the push bound of the issue

FETCH_RE = re.compile(r"^\* (\d+) FETCH \((.*)\)$")


def msg(n, extra=""):
    return (f"From: Bob <bob@example.org>\r\nTo: {ADDR}\r\n"
            f"Subject: push {n}{extra}\r\nMessage-ID: <push-{n}@example.org>\r\n"
            f"Date: Wed, 25 Nov 2026 10:00:{n % 60:02d} +0000\r\n\r\n"
            f"body {n}\r\n").encode()


def expand(seqset):
    """The numbers of a sequence set without '*' ("2,4:6" -> {2,4,5,6})."""
    out = set()
    for part in seqset.split(","):
        lo, _, hi = part.partition(":")
        lo, hi = int(lo), int(hi or lo)
        out.update(range(min(lo, hi), max(lo, hi) + 1))
    return out


def fetch_items(line):
    """The items of an untagged FETCH line: (seq, {"UID": n, "MODSEQ": n,
    "FLAGS": set}) or None when the line is no FETCH."""
    m = FETCH_RE.match(line)
    if not m:
        return None
    body = m.group(2)
    items = {}
    u = re.search(r"\bUID (\d+)", body)
    if u:
        items["UID"] = int(u.group(1))
    ms = re.search(r"\bMODSEQ \((\d+)\)", body)
    if ms:
        items["MODSEQ"] = int(ms.group(1))
    f = re.search(r"\bFLAGS \(([^)]*)\)", body)
    if f:
        # \Recent depends on which IMAP4rev1 session saw a message first
        # (RFC 3501 §2.3.2; imaptest checks it): not this file's concern.
        items["FLAGS"] = set(f.group(1).split()) - {"\\Recent"}
    return int(m.group(1)), items


class Imap:
    """A raw IMAP client. A thread reads the socket and time-stamps every
    response line (literals inlined), so that a change made in another
    session can be timed to the moment its notification arrived."""

    def __init__(self, port, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.timeout = timeout
        self.q = queue.Queue()
        self.n = 0
        self.eof = False
        self.thread = threading.Thread(target=self._reader, daemon=True)
        self.thread.start()
        self.greeting = self.read()

    def _reader(self):
        buf = b""
        try:
            while True:
                while True:
                    i = buf.find(b"\r\n")
                    if i < 0:
                        break
                    line = buf[:i]
                    m = re.search(rb"\{(\d+)\}$", line)
                    if m:
                        need = i + 2 + int(m.group(1))
                        if len(buf) < need:
                            break
                        # Inline the literal and continue with the rest
                        # of the line after it.
                        lit = buf[i + 2:need]
                        j = buf.find(b"\r\n", need)
                        if j < 0:
                            break
                        line = line + b"\r\n" + lit + buf[need:j]
                        buf = buf[j + 2:]
                    else:
                        buf = buf[i + 2:]
                    text = line.decode("utf-8", "replace")
                    # "* n RECENT" follows EXISTS in IMAP4rev1 sessions
                    # (RFC 3501 §7.3.2); the counts are imaptest's to check.
                    if re.fullmatch(r"\* \d+ RECENT", text):
                        continue
                    self.q.put((time.monotonic(), text))
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                buf += chunk
        except OSError:
            pass
        self.q.put((time.monotonic(), None))

    def read_timed(self, timeout=None):
        """(arrival time, line); line None at end of stream."""
        if self.eof:
            return time.monotonic(), None
        try:
            t, line = self.q.get(timeout=self.timeout if timeout is None else timeout)
        except queue.Empty:
            raise TimeoutError("no response line") from None
        if line is None:
            self.eof = True
        return t, line

    def read(self, timeout=None):
        return self.read_timed(timeout)[1]

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def cmd(self, text, literal=None):
        """Sends one command (a LITERAL+ literal appended when given) and
        returns (untagged lines, tagged line, time the tagged line came)."""
        self.n += 1
        tag = "t%d" % self.n
        if literal is not None:
            self.send(f"{tag} {text} {{{len(literal)}+}}\r\n".encode() + literal + b"\r\n")
        else:
            self.send(f"{tag} {text}\r\n")
        untagged = []
        while True:
            t, line = self.read_timed()
            if line is None:
                raise EOFError(untagged)
            if line.startswith(tag + " "):
                return untagged, line, t
            untagged.append(line)

    def ok(self, text, literal=None):
        untagged, tagged, _ = self.cmd(text, literal)
        if not tagged.split(" ", 2)[1] == "OK":
            raise AssertionError(f"{text!r} -> {tagged!r} after {untagged!r}")
        return untagged

    def login(self, password):
        self.ok(f'LOGIN "{ADDR}" "{password}"')

    def idle(self):
        self.n += 1
        self.idle_tag = "t%d" % self.n
        self.send(self.idle_tag + " IDLE\r\n")
        line = self.read()
        if not line or not line.startswith("+"):
            raise AssertionError("IDLE -> %r" % line)

    def wait_for(self, pattern, timeout=5):
        """Reads until a line matches; returns (time, line, lines before)."""
        before = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {pattern!r} within {timeout}s; got {before!r}")
            try:
                t, line = self.read_timed(left)
            except TimeoutError:
                raise AssertionError(f"no {pattern!r} within {timeout}s; got {before!r}") from None
            if line is None:
                raise AssertionError(f"connection closed waiting for {pattern!r}; got {before!r}")
            if re.search(pattern, line):
                return t, line, before
            before.append(line)

    def done(self):
        """Ends IDLE; returns the untagged lines that came before its OK."""
        self.send("DONE\r\n")
        lines = []
        while True:
            line = self.read()
            if line is None:
                raise EOFError(lines)
            if line.startswith(self.idle_tag + " "):
                if line.split(" ", 2)[1] != "OK":
                    raise AssertionError("IDLE DONE -> %r" % line)
                return lines
            lines.append(line)

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.thread.join(5)


def resp_code(lines, code):
    """The value of an OK [CODE value] response code among lines."""
    for line in lines:
        m = re.match(r"\* OK \[%s ([^\]]*)\]" % code, line)
        if m:
            return m.group(1)
    return None


class PushTest(sp.DataDirTest):
    def setUp(self):
        super().setUp()
        self.assertEqual(self.sp("domain", "add", "example.test").code, 0)
        self.password, _ = self.add_alias(ADDR)
        self.serve()
        self.clients = []

    def tearDown(self):
        for c in self.clients:
            c.close()
        super().tearDown()

    def session(self, *enable, password=None, select=True):
        c = Imap(self.port("imap"))
        self.clients.append(c)
        self.assertTrue(c.greeting.startswith("* OK"), c.greeting)
        c.login(password or self.password)
        if enable:
            c.ok("ENABLE " + " ".join(enable))
        if select:
            c.selected = c.ok("SELECT INBOX")
        return c

    def append(self, c, n, flags="()"):
        untagged, tagged, t = c.cmd(f"APPEND INBOX {flags}", msg(n))
        self.assertRegex(tagged, r"^t\d+ OK \[APPENDUID \d+ \d+\]", untagged)
        return int(tagged.split("]")[0].split()[-1]), t

    def report(self, what, t_sent, t_done, t_seen):
        print(f"\n  {what}: seen {1000 * (t_seen - t_done):.1f} ms after the tagged OK "
              f"({1000 * (t_seen - t_sent):.1f} ms after the command was sent)", flush=True)

    def assert_pushed(self, what, t_sent, t_done, t_seen):
        self.report(what, t_sent, t_done, t_seen)
        # The other session must hear of it within 100 ms of the change
        # being done (the tagged OK in the session that made it).
        self.assertLess(t_seen - t_done, LATENCY, what)

    def test_idle_sees_append_store_expunge_with_modseqs(self):
        b = self.session("CONDSTORE")
        for n in (1, 2):
            self.append(b, n)
        a = self.session("CONDSTORE")
        highest = int(resp_code(a.selected, "HIGHESTMODSEQ"))
        self.assertIn("* 2 EXISTS", a.selected)
        a.idle()

        # APPEND in B: A hears "* 3 EXISTS" (RFC 9051 section 7.4.1).
        t0 = time.monotonic()
        uid3, t_ok = self.append(b, 3, r"(\Flagged)")
        t_seen, line, _ = a.wait_for(r"^\* \d+ EXISTS$")
        self.assertEqual(line, "* 3 EXISTS")
        self.assert_pushed("APPEND -> EXISTS", t0, t_ok, t_seen)

        # STORE in B: A hears a FETCH with the new flags, its UID and a
        # MODSEQ above every earlier one (RFC 7162 section 3.1: once
        # CONDSTORE is enabled, untagged FETCH carries UID and MODSEQ,
        # whoever caused it).
        t0 = time.monotonic()
        _, tagged, t_ok = b.cmd(r"STORE 1 +FLAGS (\Seen)")
        self.assertRegex(tagged, r"^t\d+ OK")
        t_seen, line, _ = a.wait_for(r"^\* 1 FETCH ")
        self.assert_pushed("STORE -> FETCH", t0, t_ok, t_seen)
        seq, items = fetch_items(line)
        self.assertIn(r"\Seen", items.get("FLAGS", set()), line)
        self.assertIn("MODSEQ", items, line)
        self.assertIn("UID", items, line)
        m_store = items["MODSEQ"]
        self.assertGreater(m_store, highest, line)

        # Mark 2 deleted and expunge it in B: A hears the flag change (with
        # a higher MODSEQ) and then "* 2 EXPUNGE" (RFC 9051 section 7.5.1).
        t0 = time.monotonic()
        _, tagged, t_ok = b.cmd(r"STORE 2 +FLAGS.SILENT (\Deleted)")
        self.assertRegex(tagged, r"^t\d+ OK")
        t_seen, line, _ = a.wait_for(r"^\* 2 FETCH ")
        self.assert_pushed("STORE \\Deleted -> FETCH", t0, t_ok, t_seen)
        _, items = fetch_items(line)
        self.assertIn(r"\Deleted", items.get("FLAGS", set()), line)
        self.assertGreater(items.get("MODSEQ", 0), m_store, line)
        m_deleted = items["MODSEQ"]
        t0 = time.monotonic()
        _, tagged, t_ok = b.cmd("EXPUNGE")
        self.assertRegex(tagged, r"^t\d+ OK")
        t_seen, line, before = a.wait_for(r"^\* \d+ EXPUNGE$")
        self.assertEqual(line, "* 2 EXPUNGE", before)
        self.assert_pushed("EXPUNGE -> EXPUNGE", t0, t_ok, t_seen)
        self.assertEqual(a.done(), [])

        # What A now sees agrees: two messages, their MODSEQs as pushed,
        # the appended one's MODSEQ above the HIGHESTMODSEQ A selected with.
        lines = a.ok("FETCH 1:* (UID FLAGS MODSEQ)")
        got = dict(fetch_items(l) for l in lines if fetch_items(l))
        self.assertEqual(sorted(got), [1, 2], lines)
        self.assertEqual(got[1]["MODSEQ"], m_store, lines)
        self.assertEqual(got[2]["UID"], uid3, lines)
        self.assertEqual(got[2]["FLAGS"], {r"\Flagged"}, lines)
        self.assertGreater(got[2]["MODSEQ"], highest, lines)
        # The expunge is a change of the mailbox too: HIGHESTMODSEQ moves
        # past the last flag change (RFC 7162 section 3.2 for a QRESYNC server).
        again = a.ok("SELECT INBOX")
        self.assertGreater(int(resp_code(again, "HIGHESTMODSEQ")), m_deleted, again)

    def test_qresync_session_hears_vanished_in_idle(self):
        # Once QRESYNC is enabled, expunges are told as VANISHED (without
        # EARLIER), never as EXPUNGE (RFC 7162 section 3.2.10); flag
        # changes carry UID and MODSEQ.
        b = self.session("CONDSTORE")
        for n in (1, 2, 3, 4):
            self.append(b, n)
        a = self.session("QRESYNC")
        a.idle()
        t0 = time.monotonic()
        _, tagged, t_ok = b.cmd(r"UID STORE 2,3 +FLAGS.SILENT (\Deleted)")
        self.assertRegex(tagged, r"^t\d+ OK")
        b.ok("UID EXPUNGE 2")
        t_ok = time.monotonic()
        t_seen, line, before = a.wait_for(r"^\* (VANISHED|\d+ EXPUNGE)")
        self.assertEqual(line, "* VANISHED 2", before)
        self.assert_pushed("UID EXPUNGE -> VANISHED", t0, t_ok, t_seen)
        for l in before:
            seq, items = fetch_items(l)
            self.assertIn("UID", items, l)
            self.assertIn("MODSEQ", items, l)
        self.assertEqual({fetch_items(l)[1]["UID"] for l in before}, {2, 3}, before)
        rest = a.done()
        self.assertFalse([l for l in rest if "EXPUNGE" in l or "VANISHED" in l], rest)
        got = [fetch_items(l)[1]["UID"] for l in a.ok("FETCH 1:* (UID)")]
        self.assertEqual(got, [1, 3, 4])

    def test_many_idlers_and_only_their_mailbox(self):
        # Ten sessions idle on INBOX, one on Archive. An APPEND to Archive
        # is news only to the Archive session; one to INBOX reaches all
        # ten INBOX sessions within 100 ms, and not the Archive one.
        idlers = [self.session() for _ in range(10)]
        archive = self.session(select=False)
        archive.ok("SELECT Archive")
        b = self.session()
        for c in idlers + [archive]:
            c.idle()
        t0 = time.monotonic()
        _, tagged, t_ok = b.cmd("APPEND Archive ()", msg(1))
        self.assertRegex(tagged, r"^t\d+ OK")
        t_seen, line, _ = archive.wait_for(r"^\* \d+ EXISTS$")
        self.assertEqual(line, "* 1 EXISTS")
        self.assert_pushed("APPEND Archive -> EXISTS (Archive session)", t0, t_ok, t_seen)
        time.sleep(0.2)
        for c in idlers:
            self.assertTrue(c.q.empty(), list(c.q.queue))
        t0 = time.monotonic()
        _, t_ok = self.append(b, 2)
        worst = 0.0
        for c in idlers:
            t_seen, line, before = c.wait_for(r"^\* \d+ EXISTS$")
            self.assertEqual((before, line), ([], "* 1 EXISTS"))
            worst = max(worst, t_seen - t_ok)
        self.report("APPEND INBOX -> EXISTS, slowest of 10 idlers", t0, t_ok, t_ok + worst)
        self.assertLess(worst, LATENCY)
        time.sleep(0.2)
        self.assertTrue(archive.q.empty(), list(archive.q.queue))
        for c in idlers + [archive]:
            self.assertEqual(c.done(), [])

    def test_highestmodseq_is_positive_even_when_empty(self):
        # resp-text-code =/ "HIGHESTMODSEQ" SP mod-sequence-value, and
        # mod-sequence-value is 1 or more (RFC 7162 section 7); 0 exists
        # only in STATUS (mod-sequence-valzer). After an APPEND and its
        # expunge the value must still grow (section 3.1.2.1).
        a = self.session("CONDSTORE")
        empty = int(resp_code(a.selected, "HIGHESTMODSEQ"))
        self.assertGreaterEqual(empty, 1, a.selected)
        self.append(a, 1)
        a.ok(r"STORE 1 +FLAGS.SILENT (\Deleted)")
        a.ok("EXPUNGE")
        again = a.ok("SELECT INBOX")
        self.assertIn("* 0 EXISTS", again)
        self.assertGreater(int(resp_code(again, "HIGHESTMODSEQ")), empty, again)

    def test_lmtp_delivery_is_seen_in_idle(self):
        a = self.session("CONDSTORE")
        a.idle()
        with smtplib.LMTP("127.0.0.1", self.lmtp_port()) as lmtp:
            lmtp.ehlo_or_helo_if_needed()
            for n in (1, 2, 3):
                t0 = time.monotonic()
                lmtp.sendmail("bob@example.org", [ADDR], msg(n, " MARKER"))
                t_ok = time.monotonic()
                t_seen, line, _ = a.wait_for(r"^\* \d+ EXISTS$")
                self.assertEqual(line, f"* {n} EXISTS")
                self.assert_pushed(f"LMTP delivery {n} -> EXISTS", t0, t_ok, t_seen)
        a.done()
        lines = a.ok("FETCH 1:* (UID MODSEQ BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        self.assertEqual(sum("FETCH" in l for l in lines), 3, lines)
        for n in (1, 2, 3):
            self.assertTrue(any(f"<push-{n}@example.org>" in l for l in lines), lines)

    def test_sealpost_deliver_is_seen_in_idle(self):
        # `sealpost deliver` (Postfix's pipe(8)) is another process: the
        # server sees its spool links through inotify and drains them.
        a = self.session()
        a.idle()
        for n in (1, 2):
            t0 = time.monotonic()
            r = self.sp("deliver", "-f", "bob@example.org", "-a", ADDR,
                        stdin=msg(n, " MARKER").decode())
            self.assertEqual(r.code, 0, r)
            t_ok = time.monotonic()
            t_seen, line, _ = a.wait_for(r"^\* \d+ EXISTS$")
            self.assertEqual(line, f"* {n} EXISTS")
            self.assert_pushed(f"sealpost deliver {n} -> EXISTS", t0, t_ok, t_seen)
        a.done()

    def test_non_idle_session_hears_at_next_noop(self):
        b = self.session()
        uids = [self.append(b, n)[0] for n in (1, 2, 3)]
        c = self.session("CONDSTORE")
        self.assertIn("* 3 EXISTS", c.selected)
        # Nothing pending yet.
        self.assertEqual(c.ok("NOOP"), [])
        b.ok(r"UID STORE %d +FLAGS (\Flagged)" % uids[1])
        b.ok(r"UID STORE %d +FLAGS.SILENT (\Deleted)" % uids[0])
        b.ok("UID EXPUNGE %d" % uids[0])
        uid4, _ = self.append(b, 4, r"(\Answered)")
        # A session that is not idling may be told of new messages at any
        # time, but never of an expunge while no command is in progress
        # (RFC 9051 section 7.5.1); give the server time to misbehave.
        time.sleep(0.3)
        early = []
        while not c.q.empty():
            early.append(c.read())
        self.assertFalse([l for l in early if l is None or "EXPUNGE" in l], early)
        lines = early + c.ok("NOOP")
        # Replay what C was told over its view [uids] and check it ends
        # where the mailbox is: sequence numbers move as told.
        view = list(uids)
        flags = {}
        for line in lines:
            m = re.match(r"^\* (\d+) (EXPUNGE|EXISTS)$", line)
            if m and m.group(2) == "EXPUNGE":
                del view[int(m.group(1)) - 1]
            elif m:
                n = int(m.group(1))
                self.assertGreaterEqual(n, len(view), lines)
                view.extend([None] * (n - len(view)))
            elif fetch_items(line):
                seq, items = fetch_items(line)
                self.assertLessEqual(seq, len(view), lines)
                if "UID" in items:
                    if view[seq - 1] is None:
                        view[seq - 1] = items["UID"]
                    self.assertEqual(view[seq - 1], items["UID"], lines)
                self.assertIn("MODSEQ", items, line)
                flags[view[seq - 1]] = items.get("FLAGS")
            else:
                self.fail("unexpected %r in %r" % (line, lines))
        self.assertEqual(len(view), 3, lines)
        self.assertEqual(view[:2], uids[1:], lines)
        # The flag change of a message C knows about was reported.
        self.assertEqual(flags.get(uids[1]), {r"\Flagged"}, lines)
        got = dict(fetch_items(l) for l in c.ok("FETCH 1:* (UID FLAGS)"))
        self.assertEqual([got[i]["UID"] for i in (1, 2, 3)], [uids[1], uids[2], uid4])
        self.assertEqual(got[3]["FLAGS"], {r"\Answered"})

    def qresync_setup(self):
        """Ten messages (UIDs 1..10); A records UIDVALIDITY/HIGHESTMODSEQ
        and logs out; B then expunges 2, 4, 5, 9 (4 after a flag change)
        and flags 3 and 7. Returns (uidvalidity, modseq)."""
        b = self.session("CONDSTORE")
        for n in range(1, 11):
            self.assertEqual(self.append(b, n)[0], n)
        b.ok(r"UID STORE 6 +FLAGS (\Answered)")  # before A's snapshot
        a = self.session("QRESYNC")
        uidvalidity = int(resp_code(a.selected, "UIDVALIDITY"))
        modseq = int(resp_code(a.selected, "HIGHESTMODSEQ"))
        a.ok("LOGOUT")
        b.ok(r"UID STORE 4 +FLAGS (\Seen)")
        b.ok(r"UID STORE 2,4,5,9 +FLAGS (\Deleted)")
        b.ok("UID EXPUNGE 2,4,5,9")
        b.ok(r"UID STORE 3 +FLAGS (\Flagged)")
        b.ok(r"UID STORE 7 FLAGS (\Seen \Answered)")
        return uidvalidity, modseq

    def check_resync(self, lines, modseq, what):
        """Exactly one VANISHED (EARLIER) 2,4,5,9 and one FETCH (UID FLAGS
        MODSEQ) per changed message, 3 and 7 (RFC 7162 section 3.2.5.1)."""
        vanished = [l for l in lines if l.startswith("* VANISHED")]
        self.assertEqual(len(vanished), 1, (what, lines))
        m = re.match(r"^\* VANISHED \(EARLIER\) ([0-9:,]+)$", vanished[0])
        self.assertTrue(m, (what, vanished))
        self.assertEqual(expand(m.group(1)), {2, 4, 5, 9}, (what, lines))
        fetches = [fetch_items(l) for l in lines if fetch_items(l)]
        by_uid = {items.get("UID"): (seq, items) for seq, items in fetches}
        self.assertEqual(len(fetches), 2, (what, lines))
        self.assertEqual(sorted(by_uid), [3, 7], (what, lines))
        # Sequence numbers after the expunges: 1 3 6 7 8 10 -> 3 is 2, 7 is 4.
        self.assertEqual(by_uid[3][0], 2, (what, lines))
        self.assertEqual(by_uid[7][0], 4, (what, lines))
        self.assertEqual(by_uid[3][1].get("FLAGS"), {r"\Flagged"}, (what, lines))
        self.assertEqual(by_uid[7][1].get("FLAGS"), {r"\Seen", r"\Answered"}, (what, lines))
        for uid in (3, 7):
            self.assertGreater(by_uid[uid][1].get("MODSEQ", 0), modseq, (what, lines))
        self.assertFalse([l for l in lines if re.match(r"^\* \d+ EXPUNGE", l)], (what, lines))

    def test_qresync_select_reports_vanished_and_changed(self):
        uidvalidity, modseq = self.qresync_setup()
        a = self.session("QRESYNC", select=False)
        lines = a.ok(f"SELECT INBOX (QRESYNC ({uidvalidity} {modseq} 1:10))")
        self.assertIn("* 6 EXISTS", lines)
        self.check_resync(lines, modseq, "SELECT QRESYNC with known UIDs")
        self.assertGreater(int(resp_code(lines, "HIGHESTMODSEQ")), modseq, lines)
        # Without the known UIDs the server knows the expunges since modseq.
        lines = a.ok(f"SELECT INBOX (QRESYNC ({uidvalidity} {modseq}))")
        self.check_resync(lines, modseq, "SELECT QRESYNC without known UIDs")
        # A stale UIDVALIDITY: the rest is ignored, a plain SELECT (RFC
        # 7162 section 3.2.5: no VANISHED, no FETCH).
        lines = a.ok(f"SELECT INBOX (QRESYNC ({uidvalidity + 1} {modseq} 1:10))")
        self.assertFalse([l for l in lines if "VANISHED" in l or " FETCH " in l], lines)
        self.assertIn("* 6 EXISTS", lines)

    def test_uid_fetch_changedsince_vanished(self):
        uidvalidity, modseq = self.qresync_setup()
        a = self.session("QRESYNC")
        lines = a.ok(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {modseq} VANISHED)")
        self.check_resync(lines, modseq, "UID FETCH CHANGEDSINCE VANISHED")
        # VANISHED only for UIDs in the requested set (RFC 7162 section 3.2.6).
        lines = a.ok(f"UID FETCH 3:8 (FLAGS) (CHANGEDSINCE {modseq} VANISHED)")
        vanished = [l for l in lines if l.startswith("* VANISHED")]
        self.assertEqual(len(vanished), 1, lines)
        self.assertEqual(expand(vanished[0].split()[-1]), {4, 5}, lines)
        # Nothing changed since the current HIGHESTMODSEQ: nothing reported.
        now = int(resp_code(a.selected, "HIGHESTMODSEQ"))
        self.assertEqual(a.ok(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {now} VANISHED)"), [])

    def test_revoked_app_password_ends_its_sessions(self):
        r = self.sp("password", ADDR, "--label", "phone", stdin=self.password + "\n")
        self.assertEqual(r.code, 0, r)
        app = r.last_line
        self.secrets.append(app)
        phone = self.session(password=app)
        phone.idle()
        phone2 = self.session(password=app, select=False)
        main = self.session()
        r = self.sp("password", ADDR, "--revoke", "phone")
        self.assertEqual(r.code, 0, r)
        # By the time the command returned, both sessions of the revoked
        # slot were told BYE (RFC 9051 section 7.1.5) and closed.
        for c in (phone, phone2):
            lines = []
            while True:
                try:
                    t, line = c.read_timed(0.05)
                except TimeoutError:
                    self.fail("session of the revoked slot still open; got %r" % lines)
                if line is None:
                    break
                lines.append(line)
            self.assertTrue(lines and lines[-1].startswith("* BYE"), lines)
        # The session of the main password carries on.
        self.assertEqual(main.cmd("NOOP")[1].split()[1], "OK")
        # And the app password no longer logs in.
        c = Imap(self.port("imap"))
        self.clients.append(c)
        _, tagged, _ = c.cmd(f'LOGIN "{ADDR}" "{app}"')
        self.assertRegex(tagged, r"^t1 NO")


if __name__ == "__main__":
    import unittest
    unittest.main()
