"""IMAP acceptance tests for Sealpost (RFC 3501, RFC 9051 and the extensions
the server advertises), with a raw IMAP client and a per-class server
fixture that test_imap_bad.py shares. Python standard library only.
Expected responses are written from the RFC text; where an RFC leaves the
order of untagged responses or items open, the tests compare sets.

The client keeps the exact bytes: responses come back as text decoded with
UTF-8 and surrogateescape (so .encode("utf-8", "surrogateescape") gives the
octets back), literals included in place, CRLF between a line and the
literal that follows its {n}. A small tokenizer turns a response into
Python values (atoms and quoted strings as str, NIL as None, literals as
bytes, lists as lists)."""
import base64
import imaplib
import os
import re
import smtplib
import socket
import ssl
import unittest
import zlib

import sp

DOMAIN = "example.test"
ENC = ("utf-8", "surrogateescape")


def tls_context():
    """The server's certificate is self-signed: no verification."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def b2s(b):
    return b.decode(*ENC)


def s2b(s):
    return s.encode(*ENC) if isinstance(s, str) else s


class Conn:
    """One IMAP connection. cmd() sends a tagged command and returns
    (untagged responses, tagged response line)."""

    def __init__(self, port, tls=False, timeout=20, greeting=True):
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        if tls:
            s = tls_context().wrap_socket(s)
        self.sock = s
        self.buf = b""
        self.n = 0
        self.z_in = None
        self.z_out = None
        self.greeting = self.resp() if greeting else None

    # ---- transport ----
    def starttls(self):
        assert self.buf == b"", "data pipelined before the TLS handshake"
        self.sock = tls_context().wrap_socket(self.sock)

    def compress(self):
        """RFC 4978: raw DEFLATE both ways from now on."""
        self.z_in = zlib.decompressobj(-15)
        self.z_out = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)

    def send(self, data):
        data = s2b(data)
        if self.z_out is not None:
            data = self.z_out.compress(data) + self.z_out.flush(zlib.Z_SYNC_FLUSH)
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise EOFError(self.buf)
        if self.z_in is not None:
            chunk = self.z_in.decompress(chunk)
        self.buf += chunk

    def _take(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def rawline(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    skip_recent = False

    def resp(self):
        """One whole response (a continuation request, untagged or tagged),
        with its literals, as text. With skip_recent, IMAP4rev1's "* n
        RECENT" (RFC 3501 §7.3.2, checked by imaptest) is left out."""
        out = b""
        while True:
            line = self.rawline()
            if self.skip_recent and not out and re.fullmatch(rb"\* \d+ RECENT", line):
                continue
            out += line
            m = re.search(rb"~?\{(\d+)\+?\}$", line)
            if m is None or line.startswith(b"+"):
                return b2s(out)
            out += b"\r\n" + self._take(int(m.group(1)))

    def closed(self, timeout=5):
        """True if the server closed the connection (nothing more to read)."""
        try:
            self.sock.settimeout(timeout)
            while True:
                if self.buf:
                    return False
                self._fill()
        except EOFError:
            return True
        except (OSError, ssl.SSLError):
            return True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    # ---- commands ----
    def tag(self):
        self.n += 1
        return "T%04d" % self.n

    def read_until(self, tag):
        untagged = []
        while True:
            r = self.resp()
            if r.startswith(tag + " "):
                return untagged, r
            untagged.append(r)

    def cmd(self, text, tag=None):
        """text may be str or bytes; no literals needing a continuation."""
        tag = tag or self.tag()
        self.send(s2b(tag) + b" " + s2b(text) + b"\r\n")
        return self.read_until(tag)

    def cmd_lit(self, pieces, tag=None):
        """A command with synchronizing literals: pieces[0] ends with {n}
        (or ~{n}); each later piece starts with the literal's octets. The
        client waits for "+" before each literal. Returns (untagged, tagged,
        continuations); tagged may come instead of a "+", and then the rest
        is not sent."""
        tag = tag or self.tag()
        untagged, conts = [], []
        first = True
        for i, piece in enumerate(pieces):
            data = (s2b(tag) + b" " if first else b"") + s2b(piece)
            first = False
            last = i == len(pieces) - 1
            self.send(data + b"\r\n")
            if last:
                break
            while True:
                r = self.resp()
                if r.startswith("+"):
                    conts.append(r)
                    break
                if r.startswith(tag + " "):
                    return untagged, r, conts
                untagged.append(r)
        u, t = self.read_until(tag)
        return untagged + u, t, conts

    def login(self, user, password):
        u, t = self.cmd("LOGIN %s %s" % (quote(user), quote(password)))
        assert t.split()[1] == "OK", (u, t)
        return u, t

    def append(self, box, msg, flags=None, date=None, sync=False, binary=False):
        """APPEND one message with a LITERAL+ literal (or a synchronizing
        one); returns (untagged, tagged)."""
        msg = s2b(msg)
        head = "APPEND %s" % quote(box)
        if flags is not None:
            head += " (%s)" % flags
        if date is not None:
            head += ' "%s"' % date
        lit = "%s{%d%s}" % ("~" if binary else "", len(msg), "" if sync else "+")
        if sync:
            u, t, _ = self.cmd_lit([head + " " + lit, msg])
            return u, t
        tag = self.tag()
        self.send(s2b("%s %s %s\r\n" % (tag, head, lit)) + msg + b"\r\n")
        return self.read_until(tag)


def quote(s):
    """A quoted string (or the atom INBOX)."""
    if s == "INBOX":
        return s
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def plain_b64(user, password, authz=""):
    return base64.b64encode(("%s\0%s\0%s" % (authz, user, password)).encode()).decode()


def status_of(tagged):
    """'OK', 'NO' or 'BAD' of a tagged response line."""
    parts = tagged.split(" ", 2)
    return parts[1] if len(parts) > 1 else ""


def code_of(resp):
    """The response code of a status response ('APPENDUID 1 2'), or None."""
    m = re.match(r"^\S+ (?:OK|NO|BAD|BYE|PREAUTH) \[([^\]]*)\]", resp)
    return m.group(1) if m else None


# ---- Tokenizer for response data ----

class Atom(str):
    """An atom, as opposed to a quoted string."""


def tokenize(text):
    """Parses IMAP response data into Python values."""
    data = s2b(text)
    pos = 0
    out = []
    stack = [out]
    n = len(data)
    while pos < n:
        c = data[pos:pos + 1]
        if c in b" ":
            pos += 1
        elif c == b"(":
            new = []
            stack[-1].append(new)
            stack.append(new)
            pos += 1
        elif c == b")":
            stack.pop()
            pos += 1
        elif c == b'"':
            pos += 1
            s = b""
            while data[pos:pos + 1] != b'"':
                if data[pos:pos + 1] == b"\\":
                    pos += 1
                s += data[pos:pos + 1]
                pos += 1
            pos += 1
            stack[-1].append(b2s(s))
        elif c in (b"{", b"~") and re.match(rb"~?\{(\d+)\+?\}\r\n", data[pos:]):
            m = re.match(rb"~?\{(\d+)\+?\}\r\n", data[pos:])
            pos += m.end()
            size = int(m.group(1))
            stack[-1].append(data[pos:pos + size])
            pos += size
        else:
            start = pos
            depth = 0
            while pos < n:
                ch = data[pos:pos + 1]
                if ch == b"[":
                    depth += 1
                elif ch == b"]" and depth:
                    depth -= 1
                elif depth == 0 and ch in b" ()":
                    break
                pos += 1
            # a partial <n> after a section stays with it
            word = b2s(data[start:pos])
            stack[-1].append(None if word.upper() == "NIL" else Atom(word))
    return out


def fetch_items(resp):
    """'* 3 FETCH (UID 5 FLAGS (\\Seen))' -> (3, {'UID': '5', 'FLAGS': [...]});
    item names upper-cased."""
    m = re.match(r"^\* (\d+) FETCH ", resp)
    assert m, resp
    toks = tokenize(resp[m.end():])
    assert len(toks) == 1 and isinstance(toks[0], list), resp
    lst = toks[0]
    items = {}
    for i in range(0, len(lst), 2):
        items[lst[i].upper()] = lst[i + 1]
    if isinstance(items.get("FLAGS"), list):
        # \Recent (IMAP4rev1 only, session-dependent) is left out so that
        # flag comparisons hold whether or not the server implements it.
        items["FLAGS"] = [f for f in items["FLAGS"] if f.lower() != "\\recent"]
    return int(m.group(1)), items


def lower_tree(v):
    if isinstance(v, list):
        return [lower_tree(x) for x in v]
    if isinstance(v, str):
        return v.lower()
    return v


class Server:
    """A data directory, some users and one running server, shared by the
    tests of a TestCase class (setUpClass/tearDownClass)."""

    def __init__(self, users=("alice",), conf=None, alias_args=None):
        self.h = sp.DataDirTest()
        self.h.setUp()
        try:
            r = self.h.sp("domain", "add", DOMAIN)
            assert r.code == 0, r
            self.pw = {}
            for u in users:
                extra = (alias_args or {}).get(u, ())
                self.pw[u], _ = self.h.add_alias("%s@%s" % (u, DOMAIN), *extra)
            if conf is not None:
                path = os.path.join(self.h.dir, "sealpost.conf")
                with open(path) as f:
                    text = f.read()
                for old, new in conf:
                    assert old in text, old
                    text = text.replace(old, new)
                with open(path, "w") as f:
                    f.write(text)
            self.proc = self.h.serve()
            self.imap = self.h.port("imap")
            self.imaps = self.h.port("imaps")
            self.lmtp = self.h.lmtp_port()
        except BaseException:
            self.h.tearDown()
            raise
        self.conns = []

    def user(self, u):
        return "%s@%s" % (u, DOMAIN)

    def connect(self, tls=False, **kw):
        c = Conn(self.imaps if tls else self.imap, tls=tls, **kw)
        self.conns.append(c)
        return c

    def login(self, u="alice", tls=False):
        c = self.connect(tls=tls)
        c.login(self.user(u), self.pw[u])
        return c

    def alive(self):
        return self.proc.poll() is None

    def log(self):
        return self.h.server_log(self.proc)

    def close(self):
        """Stops the server (SIGTERM, so that LeakSanitizer reports too) and
        returns what a sanitizer or a bad exit left, or ""."""
        for c in self.conns:
            c.close()
        report = ""
        try:
            if self.alive():
                code = self.h.stop(self.proc)
                if code != 0:
                    report = "server exit status %s\n" % code
            log = self.log()
            ub = sorted(set(re.findall(r"^.*runtime error:.*$", log, re.M)))
            report += "".join(line + "\n" for line in ub)
            m = re.search(r"ERROR: (AddressSanitizer|LeakSanitizer)", log)
            if m:
                report += log[m.start():m.start() + 4000]
        finally:
            self.h.tearDown()
        return report


# ---- Test data ----

def message(subject, body="MARKER body line\r\n", frm="Alice <alice@example.test>",
            to="bob@example.test", date="Mon, 7 Feb 1994 21:52:25 -0800", msgid=None,
            extra=""):
    """A small RFC 5322 message with CRLF line ends."""
    h = "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\n" % (frm, to, subject, date)
    if msgid:
        h += "Message-ID: %s\r\n" % msgid
    return (h + extra + "\r\n" + body).encode()


def utf7_encode(name):
    """Modified UTF-7 (RFC 3501 §5.1.3), written from the RFC text."""
    out, run = "", ""

    def flush():
        b = base64.b64encode(run.encode("utf-16-be")).decode().rstrip("=")
        return "&" + b.replace("/", ",") + "-"

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7e:
            if run:
                out += flush()
                run = ""
            out += "&-" if ch == "&" else ch
        else:
            run += ch
    if run:
        out += flush()
    return out


CAPS_AUTHENTICATED = (
    "IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MOVE "
    "CHILDREN LIST-EXTENDED LIST-STATUS SPECIAL-USE CREATE-SPECIAL-USE MULTIAPPEND BINARY "
    "CONDSTORE QRESYNC ESEARCH SEARCHRES WITHIN SORT THREAD=REFERENCES THREAD=ORDEREDSUBJECT "
    "STATUS=SIZE SAVEDATE OBJECTID QUOTA QUOTA=RES-STORAGE UTF8=ACCEPT COMPRESS=DEFLATE").split()
APPENDLIMIT = 50 * 1024 * 1024


class ImapCase(unittest.TestCase):
    """One server per class (setUpClass); each test works in folders of its
    own so that tests stay independent."""
    users = ("alice",)
    conf = None
    alias_args = None

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(users=cls.users, conf=cls.conf, alias_args=cls.alias_args)

    @classmethod
    def tearDownClass(cls):
        report = cls.srv.close()
        if report:
            raise AssertionError("the server's log or exit status: " + report)

    def tearDown(self):
        self.assertTrue(self.srv.alive(), "the server died: " + self.srv.log()[-2000:])

    # assertions on responses
    def assertTagged(self, tagged, status, code=None):
        self.assertEqual(status_of(tagged), status, tagged)
        if code is not None:
            got = code_of(tagged) or ""
            if code.endswith(" "):
                self.assertTrue(got.startswith(code), tagged)
            else:
                self.assertEqual(got.split(" ")[0] if " " not in code else got, code, tagged)

    def assertTokens(self, got, want):
        """Equal as IMAP data: an atom and the same quoted string match."""
        self.assertEqual(tokenize(got), tokenize(want), got)

    def ok(self, resp):
        u, t = resp
        self.assertTagged(t, "OK")
        return u

    def folder(self, c, name, msgs=(), flags=None):
        """Creates a folder and appends msgs; returns (uidvalidity, uids)."""
        u, t = c.cmd("CREATE %s" % quote(name))
        self.assertTagged(t, "OK")
        type(self).created = dict(getattr(type(self), "created", {}), **{name: code_of(t)})
        uids, v = [], None
        for m in msgs:
            u, t = c.append(name, m, flags=flags)
            self.assertTagged(t, "OK", "APPENDUID ")
            v, uid = code_of(t).split()[1:3]
            uids.append(int(uid))
        return v, uids

    def select(self, c, name, extra=""):
        u, t = c.cmd("SELECT %s%s" % (quote(name), extra))
        self.assertTagged(t, "OK", "READ-WRITE")
        return u

    def exists(self, c, name):
        """The message count of a folder, by EXAMINE (leaves it selected)."""
        u, t = c.cmd("EXAMINE %s" % quote(name))
        self.assertTagged(t, "OK")
        n = [int(r.split()[1]) for r in u if re.match(r"^\* \d+ EXISTS$", r)]
        self.assertEqual(len(n), 1, u)
        return n[0]

    def fetch(self, c, text, uid=False):
        """FETCH returning {seq: items}."""
        u, t = c.cmd(("UID FETCH " if uid else "FETCH ") + text)
        self.assertTagged(t, "OK")
        out = {}
        for r in u:
            if re.match(r"^\* \d+ FETCH ", r):
                seq, items = fetch_items(r)
                out.setdefault(seq, {}).update(items)
        return out

    def search(self, c, text):
        u, t = c.cmd(text)
        self.assertTagged(t, "OK")
        hits = [r for r in u if r.startswith("* SEARCH")]
        self.assertEqual(len(hits), 1, u)
        return [int(x) for x in hits[0].split()[2:]]


def caps_of(text):
    m = re.search(r"CAPABILITY ([^\]\r\n]*)", text)
    return m.group(1).split() if m else []


# ---- Not authenticated state (RFC 9051 §6.1, §6.2) ----

class TestNotAuthenticated(ImapCase):
    users = ("alice", "bob")

    def test_greeting_capability_noop_logout(self):
        c = self.srv.connect()
        # RFC 9051 §7.1.1: the greeting is an untagged OK; the CAPABILITY
        # response code saves the client a round trip.
        self.assertRegex(c.greeting, r"^\* OK \[CAPABILITY [^\]]+\] ")
        caps = caps_of(c.greeting)
        for cap in ("IMAP4rev1", "IMAP4rev2", "AUTH=PLAIN", "SASL-IR", "ID", "ENABLE",
                    "LITERAL+"):
            self.assertIn(cap, caps)
        # Loopback counts as a secure channel: LOGIN is allowed.
        self.assertNotIn("LOGINDISABLED", caps)
        u, t = c.cmd("CAPABILITY")
        self.assertTagged(t, "OK")
        self.assertEqual(len(u), 1, u)
        self.assertTrue(u[0].startswith("* CAPABILITY "), u)
        self.assertEqual(sorted(u[0].split()[2:]), sorted(caps))
        u, t = c.cmd("NOOP")
        self.assertEqual(u, [])
        self.assertTagged(t, "OK")
        # RFC 9051 §6.1.3: BYE, then the tagged OK, then the server closes.
        u, t = c.cmd("LOGOUT")
        self.assertEqual(len(u), 1, u)
        self.assertTrue(u[0].startswith("* BYE "), u)
        self.assertTagged(t, "OK")
        self.assertTrue(c.closed())

    def test_id_and_enable(self):
        c = self.srv.connect()
        # RFC 2971 §3.1: ID is valid in every state; the reply is one
        # untagged ID with NIL or field/value pairs.
        u, t = c.cmd('ID ("name" "sp-test" "version" "1")')
        self.assertTagged(t, "OK")
        self.assertEqual(len(u), 1, u)
        self.assertTrue(u[0].startswith("* ID "), u)
        v = tokenize(u[0][5:])[0]
        self.assertTrue(v is None or (isinstance(v, list) and len(v) % 2 == 0), u)
        u, t = c.cmd("ID NIL")
        self.assertTagged(t, "OK")
        # RFC 5161 §3.1: ENABLE is valid in the authenticated state only.
        u, t = c.cmd("ENABLE CONDSTORE")
        self.assertTagged(t, "BAD")
        self.assertEqual(u, [])

    def test_commands_need_login(self):
        c = self.srv.connect()
        # RFC 9051 §3.1: only CAPABILITY, NOOP, LOGOUT, STARTTLS,
        # AUTHENTICATE and LOGIN in the not-authenticated state.
        for cmd in ("SELECT INBOX", "EXAMINE INBOX", "CREATE x", "LIST \"\" *",
                    "STATUS INBOX (MESSAGES)", "NAMESPACE", "IDLE", "FETCH 1 FLAGS",
                    "UID FETCH 1 FLAGS", "UNSELECT", "GETQUOTAROOT INBOX"):
            u, t = c.cmd(cmd)
            self.assertTagged(t, "BAD")
        u, t = c.cmd("NOOP")
        self.assertTagged(t, "OK")

    def test_login(self):
        c = self.srv.connect()
        u, t = c.cmd("LOGIN %s %s" % (quote(self.srv.user("alice")),
                                       quote(self.srv.pw["alice"])))
        self.assertTagged(t, "OK")
        caps = caps_of(t) or caps_of(c.cmd("CAPABILITY")[0][0])
        for cap in CAPS_AUTHENTICATED:
            self.assertIn(cap, caps)
        self.assertIn("APPENDLIMIT=%d" % APPENDLIMIT, caps)
        # The authenticated state: LOGIN again is a protocol error.
        u, t = c.cmd("LOGIN a b")
        self.assertTagged(t, "BAD")
        u, t = c.cmd("AUTHENTICATE PLAIN")
        self.assertTagged(t, "BAD")
        u, t = c.cmd("NAMESPACE")
        self.assertTagged(t, "OK")

    def test_login_with_literals(self):
        c = self.srv.connect()
        user, pw = self.srv.user("alice"), self.srv.pw["alice"]
        # RFC 9051 §4.3: synchronizing literals, "+" before each.
        u, t, conts = c.cmd_lit(["LOGIN {%d}" % len(user), "%s {%d}" % (user, len(pw)), pw])
        self.assertTagged(t, "OK")
        self.assertEqual(len(conts), 2)
        for r in conts:
            self.assertTrue(r.startswith("+"), r)
        c2 = self.srv.connect()
        # RFC 7888 §3: {n+} needs no continuation.
        tag = c2.tag()
        c2.send("%s LOGIN {%d+}\r\n%s {%d+}\r\n%s\r\n" % (tag, len(user), user, len(pw), pw))
        u, t = c2.read_until(tag)
        self.assertTagged(t, "OK")
        self.assertEqual(u, [])

    def test_literal_plus_over_4096(self):
        # RFC 7888: LITERAL+ (not LITERAL-, §4) takes {n+} of any size:
        # the 5000 octets are read and the command answered (the password
        # is simply wrong), with no "+" and no TOOBIG.
        c = self.srv.connect()
        tag = c.tag()
        pw = "p" * 5000
        c.send("%s LOGIN nobody@example.test {%d+}\r\n%s\r\n" % (tag, len(pw), pw))
        u, t = c.read_until(tag)
        self.assertEqual(u, [])
        self.assertTagged(t, "NO", "AUTHENTICATIONFAILED")
        self.assertTagged(c.cmd("NOOP")[1], "OK")

    def test_wrong_password(self):
        c = self.srv.connect()
        # RFC 9051 §6.2.3, RFC 5530 §3: AUTHENTICATIONFAILED.
        u, t = c.cmd("LOGIN %s %s" % (quote(self.srv.user("bob")), "wrong-password"))
        self.assertTagged(t, "NO", "AUTHENTICATIONFAILED")
        u, t = c.cmd("LOGIN %s %s" % (quote("nobody@" + DOMAIN), "wrong-password"))
        self.assertTagged(t, "NO", "AUTHENTICATIONFAILED")
        u, t = c.cmd("AUTHENTICATE PLAIN " + plain_b64(self.srv.user("bob"), "nope"))
        self.assertTagged(t, "NO", "AUTHENTICATIONFAILED")
        # still not authenticated, still usable
        self.assertTagged(c.cmd("SELECT INBOX")[1], "BAD")
        c.login(self.srv.user("bob"), self.srv.pw["bob"])
        self.ok(c.cmd("SELECT INBOX"))

    def test_authenticate_plain(self):
        user, pw = self.srv.user("alice"), self.srv.pw["alice"]
        # SASL-IR (RFC 4959): the initial response on the command line.
        c = self.srv.connect()
        u, t = c.cmd("AUTHENTICATE PLAIN " + plain_b64(user, pw))
        self.assertTagged(t, "OK")
        # authzid equal to the user is fine (RFC 4616 §2)
        c = self.srv.connect()
        u, t = c.cmd("AUTHENTICATE PLAIN " + plain_b64(user, pw, authz=user))
        self.assertTagged(t, "OK")

    def test_authenticate_cancel_and_errors(self):
        c = self.srv.connect()
        # RFC 9051 §6.2.2: "*" cancels: tagged BAD.
        tag = c.tag()
        c.send("%s AUTHENTICATE PLAIN\r\n" % tag)
        self.assertTrue(c.resp().startswith("+"))
        c.send("*\r\n")
        u, t = c.read_until(tag)
        self.assertTagged(t, "BAD")
        # An invalid base64 response is BAD too.
        tag = c.tag()
        c.send("%s AUTHENTICATE PLAIN\r\n" % tag)
        self.assertTrue(c.resp().startswith("+"))
        c.send("!!!not-base64!!!\r\n")
        u, t = c.read_until(tag)
        self.assertTagged(t, "BAD")
        # An unsupported mechanism: NO.
        u, t = c.cmd("AUTHENTICATE X-UNKNOWN-MECH")
        self.assertTagged(t, "NO")
        # Proxy login refused (RFC 4616 §2, RFC 5530 AUTHORIZATIONFAILED).
        u, t = c.cmd("AUTHENTICATE PLAIN " + plain_b64(
            self.srv.user("alice"), self.srv.pw["alice"], authz=self.srv.user("bob")))
        self.assertTagged(t, "NO")
        u, t = c.cmd("NOOP")
        self.assertTagged(t, "OK")
        self.assertTagged(c.cmd("SELECT INBOX")[1], "BAD")


class TestAuthContinuation(ImapCase):
    """Its own server: AUTHENTICATE without an initial response."""

    def test_authenticate_plain_continuation(self):
        user, pw = self.srv.user("alice"), self.srv.pw["alice"]
        # Without SASL-IR: "+" then the response line (RFC 9051 §6.2.2).
        c = self.srv.connect()
        tag = c.tag()
        c.send("%s AUTHENTICATE PLAIN\r\n" % tag)
        r = c.resp()
        self.assertTrue(r.startswith("+"), r)
        c.send(plain_b64(user, pw) + "\r\n")
        u, t = c.read_until(tag)
        self.assertTagged(t, "OK")
        self.assertTagged(c.cmd("SELECT INBOX")[1], "OK")


# ---- TLS: STARTTLS, LOGINDISABLED, implicit TLS (RFC 9051 §6.2.1, §11) ----

class TestTls(ImapCase):
    # Loopback no longer counts as secure: the plain port is like a remote one.
    conf = [("loopback_plaintext = yes", "loopback_plaintext = no")]

    def test_logindisabled(self):
        c = self.srv.connect()
        caps = caps_of(c.greeting)
        # RFC 9051 §6.2.3, §7.2.2: LOGINDISABLED, and no plaintext mechanism
        # advertised before TLS; STARTTLS offered.
        self.assertIn("STARTTLS", caps)
        self.assertIn("LOGINDISABLED", caps)
        self.assertNotIn("AUTH=PLAIN", caps)
        u, t = c.cmd("LOGIN %s %s" % (quote(self.srv.user("alice")),
                                       quote(self.srv.pw["alice"])))
        self.assertTagged(t, "NO")
        u, t = c.cmd("AUTHENTICATE PLAIN " + plain_b64(self.srv.user("alice"),
                                                        self.srv.pw["alice"]))
        self.assertTagged(t, "NO")
        self.assertTagged(c.cmd("SELECT INBOX")[1], "BAD")

    def test_starttls(self):
        c = self.srv.connect()
        u, t = c.cmd("STARTTLS")
        self.assertTagged(t, "OK")
        self.assertEqual(u, [])
        c.starttls()
        u, t = c.cmd("CAPABILITY")
        self.assertTagged(t, "OK")
        caps = caps_of(u[0])
        # RFC 9051 §6.2.1: after TLS, no STARTTLS and LOGINDISABLED gone.
        self.assertNotIn("STARTTLS", caps)
        self.assertNotIn("LOGINDISABLED", caps)
        self.assertIn("AUTH=PLAIN", caps)
        self.assertTagged(c.cmd("STARTTLS")[1], "BAD")
        c.login(self.srv.user("alice"), self.srv.pw["alice"])
        self.ok(c.cmd("SELECT INBOX"))
        u, t = c.cmd("LOGOUT")
        self.assertTagged(t, "OK")

    def test_starttls_discards_pipelined(self):
        # RFC 9051 §6.2.1: a command pipelined after STARTTLS (before the
        # handshake) is discarded, never executed.
        c = self.srv.connect()
        c.send("a1 STARTTLS\r\na2 NOOP\r\n")
        r = c.resp()
        self.assertTrue(r.startswith("a1 OK"), r)
        self.assertEqual(c.buf, b"")  # nothing for a2 in plaintext
        c.starttls()
        u, t = c.cmd("NOOP")
        self.assertTagged(t, "OK")
        self.assertEqual(u, [])

    def test_imaps(self):
        c = self.srv.connect(tls=True)
        self.assertRegex(c.greeting, r"^\* OK ")
        caps = caps_of(c.greeting) or caps_of(c.cmd("CAPABILITY")[0][0])
        self.assertNotIn("STARTTLS", caps)
        self.assertNotIn("LOGINDISABLED", caps)
        self.assertIn("AUTH=PLAIN", caps)
        u, t = c.cmd("AUTHENTICATE PLAIN " + plain_b64(self.srv.user("alice"),
                                                        self.srv.pw["alice"]))
        self.assertTagged(t, "OK")
        self.ok(c.cmd("SELECT INBOX"))
        # imaplib works as well over implicit TLS
        m = imaplib.IMAP4_SSL("127.0.0.1", self.srv.imaps, ssl_context=tls_context())
        try:
            typ, _ = m.login(self.srv.user("alice"), self.srv.pw["alice"])
            self.assertEqual(typ, "OK")
            typ, data = m.select("INBOX")
            self.assertEqual(typ, "OK")
        finally:
            m.logout()


def list_entries(untagged, kind="LIST"):
    """'* LIST (\\HasNoChildren) "/" name' -> {name: (attrs, delim, extra)}."""
    out = {}
    for r in untagged:
        if r.startswith("* %s " % kind):
            toks = tokenize(r[len(kind) + 3:])
            name = toks[2]
            if isinstance(name, bytes):
                name = b2s(name)
            out[str(name)] = ([a for a in toks[0]], toks[1], toks[3:])
    return out


def status_items(untagged, name=None):
    """'* STATUS name (MESSAGES 2 ...)' -> {'MESSAGES': '2', ...}."""
    for r in untagged:
        if r.startswith("* STATUS "):
            toks = tokenize(r[9:])
            if name is not None and str(b2s(toks[0]) if isinstance(toks[0], bytes)
                                         else toks[0]) != name:
                continue
            lst = toks[1]
            return {lst[i].upper(): lst[i + 1] for i in range(0, len(lst), 2)}
    return None


# ---- Authenticated state: mailboxes (RFC 9051 §6.3) ----

class TestMailboxes(ImapCase):
    users = ("alice", "carol", "dave")
    alias_args = {"dave": ("--quota", "10M")}

    def setUp(self):
        self.c = self.srv.login()

    def test_namespace(self):
        # RFC 2342 §5 with the server's one personal namespace, "/".
        u, t = self.c.cmd("NAMESPACE")
        self.assertTagged(t, "OK")
        self.assertEqual(u, ['* NAMESPACE (("" "/")) NIL NIL'])

    def test_list_root_and_defaults(self):
        # RFC 9051 §6.3.9: "" asks for the delimiter and root.
        u, t = self.c.cmd('LIST "" ""')
        self.assertTagged(t, "OK")
        self.assertEqual(u, ['* LIST (\\Noselect) "/" ""'])
        u, t = self.c.cmd('LIST "" "*"')
        self.assertTagged(t, "OK")
        names = list_entries(u)
        for n in ("INBOX", "Drafts", "Sent", "Junk", "Trash", "Archive"):
            self.assertIn(n, names)
            self.assertEqual(names[n][1], "/")
        # INBOX is case-insensitive (RFC 9051 §5.1) and listed as INBOX.
        u, t = self.c.cmd('LIST "" "inbox"')
        self.assertTagged(t, "OK")
        self.assertEqual(list(list_entries(u)), ["INBOX"])
        # RFC 6154 §2 / RFC 5258: RETURN (SPECIAL-USE) and the SPECIAL-USE
        # selection option.
        u, t = self.c.cmd('LIST "" "*" RETURN (SPECIAL-USE)')
        self.assertTagged(t, "OK")
        names = list_entries(u)
        for n, use in (("Drafts", "\\Drafts"), ("Sent", "\\Sent"), ("Junk", "\\Junk"),
                       ("Trash", "\\Trash"), ("Archive", "\\Archive")):
            self.assertIn(use, names[n][0], u)
        u, t = self.c.cmd('LIST (SPECIAL-USE) "" "*"')
        self.assertTagged(t, "OK")
        e = list_entries(u)
        self.assertTrue({"Archive", "Drafts", "Junk", "Sent", "Trash"} <= set(e), u)
        self.assertNotIn("INBOX", e)
        uses = {"\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent", "\\Trash"}
        for name, (attrs, _, _) in e.items():
            self.assertTrue(uses & set(attrs), (name, attrs))

    def test_create_delete_rename(self):
        c = self.c
        u, t = c.cmd("CREATE cdr1")
        self.assertTagged(t, "OK")
        # RFC 8474 §4.1: CREATE's OK carries MAILBOXID.
        self.assertRegex(code_of(t) or "", r"^MAILBOXID \([A-Za-z0-9_-]{1,255}\)$")
        self.assertTagged(c.cmd("CREATE cdr1")[1], "NO")
        self.assertEqual(list(list_entries(c.cmd('LIST "" cdr1')[0])), ["cdr1"])
        self.assertTagged(c.cmd("RENAME cdr1 cdr2")[1], "OK")
        self.assertEqual(list_entries(c.cmd('LIST "" cdr1')[0]), {})
        self.assertEqual(list(list_entries(c.cmd('LIST "" cdr2')[0])), ["cdr2"])
        self.assertTagged(c.cmd("RENAME nonexistent-x cdr3")[1], "NO")
        self.assertTagged(c.cmd("DELETE cdr2")[1], "OK")
        self.assertTagged(c.cmd("DELETE cdr2")[1], "NO")
        # RFC 9051 §6.3.5, §6.3.4: INBOX cannot be deleted nor created.
        self.assertTagged(c.cmd("DELETE INBOX")[1], "NO")
        self.assertTagged(c.cmd("CREATE INBOX")[1], "NO")
        self.assertTagged(c.cmd("CREATE inbox")[1], "NO")
        # A trailing delimiter only declares the intent to have children.
        self.assertTagged(c.cmd("CREATE cdr4/")[1], "OK")
        self.assertEqual(list(list_entries(c.cmd('LIST "" cdr4')[0])), ["cdr4"])

    def test_hierarchy_children(self):
        c = self.c
        # RFC 9051 §6.3.4: superior names are created as needed.
        self.assertTagged(c.cmd("CREATE hc1/kid")[1], "OK")
        u, t = c.cmd('LIST "" "hc1*" RETURN (CHILDREN)')
        self.assertTagged(t, "OK")
        e = list_entries(u)
        self.assertEqual(sorted(e), ["hc1", "hc1/kid"])
        # RFC 5258 §4 (CHILDREN return option), RFC 3348.
        self.assertIn("\\HasChildren", e["hc1"][0])
        self.assertIn("\\HasNoChildren", e["hc1/kid"][0])
        # "%" does not match the delimiter (RFC 9051 §6.3.9).
        self.assertEqual(sorted(list_entries(c.cmd('LIST "" "hc1%"')[0])), ["hc1"])
        self.assertEqual(sorted(list_entries(c.cmd('LIST "" "hc1/%"')[0])), ["hc1/kid"])
        self.assertEqual(sorted(list_entries(c.cmd('LIST "hc1/" "%"')[0])), ["hc1/kid"])
        # RFC 9051 §6.3.6: inferior names are renamed too.
        self.assertTagged(c.cmd("RENAME hc1 hc2")[1], "OK")
        self.assertEqual(sorted(list_entries(c.cmd('LIST "" "hc*"')[0])), ["hc2", "hc2/kid"])

    def test_list_extended(self):
        c = self.c
        # RFC 5258 §3: several patterns in parentheses.
        u, t = c.cmd('LIST "" (INBOX Drafts)')
        self.assertTagged(t, "OK")
        self.assertEqual(sorted(list_entries(u)), ["Drafts", "INBOX"])
        # RFC 5258 §3.5: RECURSIVEMATCH reports subscribed children with
        # CHILDINFO on a parent that is not itself subscribed.
        self.assertTagged(c.cmd("CREATE le1/kid")[1], "OK")
        self.assertTagged(c.cmd("SUBSCRIBE le1/kid")[1], "OK")
        u, t = c.cmd('LIST (SUBSCRIBED RECURSIVEMATCH) "" "le1"')
        self.assertTagged(t, "OK")
        e = list_entries(u)
        self.assertEqual(list(e), ["le1"], u)
        self.assertNotIn("\\Subscribed", e["le1"][0])
        self.assertEqual(lower_tree(e["le1"][2]), [["childinfo", ["subscribed"]]], u)
        # RETURN (SUBSCRIBED) marks without selecting (RFC 5258 §3.2).
        e = list_entries(c.cmd('LIST "" "le1*" RETURN (SUBSCRIBED)')[0])
        self.assertEqual(sorted(e), ["le1", "le1/kid"])
        self.assertIn("\\Subscribed", e["le1/kid"][0])
        self.assertNotIn("\\Subscribed", e["le1"][0])
        # RFC 9051 §6.3.7: DELETE keeps the subscription; RFC 5258 §3.4:
        # LIST (SUBSCRIBED) then shows \NonExistent.
        self.assertTagged(c.cmd("CREATE gone1")[1], "OK")
        self.assertTagged(c.cmd("SUBSCRIBE gone1")[1], "OK")
        self.assertTagged(c.cmd("DELETE gone1")[1], "OK")
        u, t = c.cmd('LIST (SUBSCRIBED) "" "gone1"')
        self.assertTagged(t, "OK")
        e = list_entries(u)
        self.assertEqual(list(e), ["gone1"], u)
        self.assertEqual(sorted(x.lower() for x in e["gone1"][0]),
                         ["\\nonexistent", "\\subscribed"])

    def test_subscriptions(self):
        c = self.c
        self.assertTagged(c.cmd("CREATE sub1")[1], "OK")
        self.assertTagged(c.cmd("SUBSCRIBE sub1")[1], "OK")
        # RFC 3501 §6.3.9 LSUB.
        u, t = c.cmd('LSUB "" "sub1"')
        self.assertTagged(t, "OK")
        self.assertEqual(len(u), 1, u)
        self.assertTokens(u[0], '* LSUB () "/" sub1')
        # RFC 5258 §3.1: the SUBSCRIBED selection option adds \Subscribed.
        u, t = c.cmd('LIST (SUBSCRIBED) "" "sub1"')
        self.assertTagged(t, "OK")
        e = list_entries(u)
        self.assertIn("\\Subscribed", e["sub1"][0])
        self.assertTagged(c.cmd("UNSUBSCRIBE sub1")[1], "OK")
        u, t = c.cmd('LSUB "" "sub1"')
        self.assertTagged(t, "OK")
        self.assertEqual(u, [])

    def test_modified_utf7_and_utf8_names(self):
        c = self.c
        name = "Été/日本"
        u7 = utf7_encode(name)
        self.assertEqual(u7, "&AMk-t&AOk-/&ZeVnLA-")
        self.assertTagged(c.cmd("CREATE %s" % quote(u7))[1], "OK")
        e = list_entries(c.cmd('LIST "" "&AMk-t&AOk-*"')[0])
        self.assertEqual(sorted(e), ["&AMk-t&AOk-", "&AMk-t&AOk-/&ZeVnLA-"])
        # "&" itself is "&-" (RFC 3501 §5.1.3).
        self.assertTagged(c.cmd('CREATE "a&-b"')[1], "OK")
        self.assertIn("a&-b", list_entries(c.cmd('LIST "" "a&-b"')[0]))
        # RFC 6855 §3: after ENABLE UTF8=ACCEPT names are UTF-8.
        c2 = self.srv.login()
        u, t = c2.cmd("ENABLE UTF8=ACCEPT")
        self.assertTagged(t, "OK")
        self.assertEqual(u, ["* ENABLED UTF8=ACCEPT"])
        e = list_entries(c2.cmd('LIST "" "*"')[0])
        self.assertIn("Été/日本", e)
        self.assertIn("a&b", e)
        self.assertTagged(c2.cmd('CREATE "Ünïcödé"')[1], "OK")
        self.assertIn("&ANw-n&AO8-c&APY-d&AOk-", list_entries(c.cmd('LIST "" "*"')[0]))
        u, t = c2.cmd('STATUS "Ünïcödé" (MESSAGES)')
        self.assertTagged(t, "OK")
        self.assertEqual(len(u), 1, u)
        self.assertTokens(u[0], '* STATUS "Ünïcödé" (MESSAGES 0)')
        self.assertTagged(c2.cmd('SELECT "Ünïcödé"')[1], "OK")
        # Without UTF8=ACCEPT an 8-bit name is not a valid mailbox name.
        self.assertNotEqual(status_of(c.cmd('CREATE "Ünï"')[1]), "OK")

    def test_status(self):
        c = self.c
        m1 = message("MARKER status one")
        m2 = message("MARKER status two")
        v, uids = self.folder(c, "st1", [m1])
        u, t = c.append("st1", m2, flags="\\Seen")
        self.assertTagged(t, "OK")
        u, t = c.cmd("STATUS st1 (MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE "
                     "HIGHESTMODSEQ APPENDLIMIT)")
        self.assertTagged(t, "OK")
        st = status_items(u, "st1")
        self.assertEqual(len(st), 8, u)
        self.assertEqual(st["MESSAGES"], "2")
        self.assertEqual(st["UIDNEXT"], "3")
        self.assertEqual(st["UIDVALIDITY"], v)
        self.assertEqual(st["UNSEEN"], "1")
        self.assertEqual(st["DELETED"], "0")                # RFC 9051 §6.3.11
        self.assertEqual(st["SIZE"], str(len(m1) + len(m2)))  # RFC 8438
        self.assertRegex(st["HIGHESTMODSEQ"], r"^[1-9]\d*$")  # RFC 7162 §3.1.6
        self.assertEqual(st["APPENDLIMIT"], str(APPENDLIMIT))  # RFC 7889 §3
        u, t = c.cmd("STATUS st1 (MESSAGES)")
        self.assertEqual(len(u), 1, u)
        self.assertTokens(u[0], "* STATUS st1 (MESSAGES 2)")
        self.assertTagged(c.cmd("STATUS no-such-box (MESSAGES)")[1], "NO")
        # RFC 5819: LIST-STATUS.
        u, t = c.cmd('LIST "" "st1" RETURN (STATUS (MESSAGES UNSEEN))')
        self.assertTagged(t, "OK")
        self.assertEqual(len(u), 2, u)
        self.assertTrue(u[0].startswith("* LIST "), u)
        self.assertTokens(u[1], "* STATUS st1 (MESSAGES 2 UNSEEN 1)")
        # RFC 8474 §4.2: STATUS MAILBOXID (OBJECTID is advertised), the
        # same id CREATE reported.
        u, t = c.cmd("STATUS st1 (MAILBOXID)")
        self.assertTagged(t, "OK")
        st = status_items(u, "st1")
        self.assertEqual(len(st["MAILBOXID"]), 1)
        self.assertRegex(st["MAILBOXID"][0], r"^[A-Za-z0-9_-]{1,255}$")
        self.assertEqual("MAILBOXID (%s)" % st["MAILBOXID"][0], self.created["st1"])

    def test_create_special_use(self):
        c = self.c
        # RFC 6154 §3 (CREATE-SPECIAL-USE).
        self.assertTagged(c.cmd("CREATE csu1 (USE (\\Flagged))")[1], "OK")
        e = list_entries(c.cmd('LIST "" csu1 RETURN (SPECIAL-USE)')[0])
        self.assertIn("\\Flagged", e["csu1"][0])
        u, t = c.cmd("CREATE csu2 (USE (\\NoSuchUse))")
        self.assertTagged(t, "NO", "USEATTR")
        self.assertEqual(list_entries(c.cmd('LIST "" csu2')[0]), {})

    def test_enable_and_id_authenticated(self):
        c = self.c
        # RFC 5161 §3.1: unknown capabilities are ignored; ENABLED lists
        # only what was enabled.
        u, t = c.cmd("ENABLE X-NO-SUCH-EXTENSION")
        self.assertTagged(t, "OK")
        self.assertEqual(u, ["* ENABLED"])
        u, t = c.cmd("ENABLE CONDSTORE")
        self.assertTagged(t, "OK")
        self.assertEqual(u, ["* ENABLED CONDSTORE"])
        u, t = c.cmd('ID NIL')
        self.assertTagged(t, "OK")

    def test_quota(self):
        d = self.srv.login("dave")
        # RFC 9208 §4.2-4.3: one root, STORAGE in units of 1024 octets.
        u, t = d.cmd("GETQUOTAROOT INBOX")
        self.assertTagged(t, "OK")
        # INBOX may be an atom or a quoted string (RFC 9051 §9 mailbox).
        self.assertEqual(len(u), 2, u)
        self.assertIn(u[0], ['* QUOTAROOT INBOX ""', '* QUOTAROOT "INBOX" ""'])
        self.assertEqual(u[1], '* QUOTA "" (STORAGE 0 10240)')
        msg = message("MARKER quota", body="x" * 5000 + "\r\n")
        self.assertTagged(d.append("INBOX", msg)[1], "OK")
        u, t = d.cmd('GETQUOTA ""')
        self.assertTagged(t, "OK")
        self.assertEqual(u, ['* QUOTA "" (STORAGE %d 10240)' % ((len(msg) + 1023) // 1024)])
        # RFC 9208 §4.1.3: SETQUOTA of a limit the user may not change: NO.
        self.assertTagged(d.cmd('SETQUOTA "" (STORAGE 1)')[1], "NO")
        self.assertTagged(d.cmd('GETQUOTA "no-such-root"')[1], "NO")
        # A user without a quota: quota-list needs at least one resource
        # (RFC 9208 §5 grammar), so no QUOTA response with an empty list.
        u, t = self.c.cmd("GETQUOTAROOT INBOX")
        self.assertTagged(t, "OK")
        for r in u:
            self.assertNotRegex(r, r"^\* QUOTA .*\(\)$", "RFC 9208 §5: quota-list is non-empty")

    def test_rename_inbox(self):
        c = self.srv.login("carol")
        self.assertTagged(c.append("INBOX", message("MARKER inbox rename"))[1], "OK")
        # RFC 9051 §6.3.6: renaming INBOX moves its messages to the new
        # name and leaves INBOX empty.
        self.assertTagged(c.cmd("RENAME INBOX old-inbox")[1], "OK")
        self.assertEqual(self.exists(c, "INBOX"), 0)
        self.assertEqual(self.exists(c, "old-inbox"), 1)


def apply_expunges(seqs, untagged):
    """Applies '* n EXPUNGE' responses to a list (index = seq - 1) and
    returns what was removed (RFC 9051 §7.5.1: each one renumbers)."""
    seqs = list(seqs)
    gone = []
    for r in untagged:
        m = re.match(r"^\* (\d+) EXPUNGE$", r)
        if m:
            gone.append(seqs.pop(int(m.group(1)) - 1))
    return seqs, gone


MULTIPART = (
    b"From: Alice <alice@example.test>\r\n"
    b"To: bob@example.test\r\n"
    b"Subject: MARKER multipart\r\n"
    b"Date: Tue, 8 Feb 1994 10:00:00 +0000\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=\"bnd\"\r\n"
    b"\r\n"
    b"preamble\r\n"
    b"--bnd\r\n"
    b"Content-Type: text/plain; charset=us-ascii\r\n"
    b"\r\n"
    b"MARKER part one\r\n"
    b"--bnd\r\n"
    b"Content-Type: application/octet-stream\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    + base64.encodebytes(bytes(range(256))).replace(b"\n", b"\r\n") +
    b"--bnd--\r\n")


class TestMessages(ImapCase):
    """The selected state: APPEND, SELECT/EXAMINE, FETCH, STORE, COPY, MOVE,
    EXPUNGE, CLOSE, UNSELECT, sequence sets, BINARY, UIDPLUS."""

    def setUp(self):
        self.c = self.srv.login()

    def test_append_uidplus_select(self):
        c = self.c
        self.assertTagged(c.cmd("CREATE sel1")[1], "OK")
        m1, m2 = message("MARKER one"), message("MARKER two")
        u, t = c.append("sel1", m1, flags="\\Seen", date="14-Jul-2020 02:44:25 -0700")
        # RFC 4315 §3: APPENDUID uidvalidity uid.
        self.assertTagged(t, "OK", "APPENDUID ")
        v = code_of(t).split()[1]
        self.assertEqual(code_of(t), "APPENDUID %s 1" % v)
        u, t = c.append("sel1", m2, sync=True)
        self.assertEqual(code_of(t), "APPENDUID %s 2" % v)
        # RFC 9051 §6.3.12: TRYCREATE for a missing mailbox.
        u, t = c.append("no-such-sel", m1)
        self.assertTagged(t, "NO", "TRYCREATE")
        # RFC 3501 §6.3.1 (IMAP4rev1 client): FLAGS, EXISTS, RECENT, UNSEEN,
        # PERMANENTFLAGS, UIDNEXT, UIDVALIDITY; READ-WRITE.
        u, t = c.cmd("SELECT sel1")
        self.assertTagged(t, "OK", "READ-WRITE")
        self.assertIn("* 2 EXISTS", u)
        # RECENT is required in IMAP4rev1; 2 if \Recent is implemented
        # (this session is the first to see them), 0 if not (RFC 9051 dropped it).
        self.assertEqual(len([r for r in u if re.match(r"^\* [02] RECENT$", r)]), 1, u)
        self.assertIn("* OK [UNSEEN 2]", [r[:len("* OK [UNSEEN 2]")] for r in u])
        codes = {code_of(r).split()[0]: code_of(r) for r in u if code_of(r)}
        self.assertEqual(codes["UIDVALIDITY"], "UIDVALIDITY " + v)
        self.assertEqual(codes["UIDNEXT"], "UIDNEXT 3")
        self.assertIn("HIGHESTMODSEQ", codes)  # RFC 7162 §3.1.2.1
        flags = [r for r in u if r.startswith("* FLAGS ")]
        self.assertEqual(len(flags), 1, u)
        fl = set(tokenize(flags[0][8:])[0])
        self.assertTrue({"\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"} <= fl)
        pf = set(tokenize(codes["PERMANENTFLAGS"][len("PERMANENTFLAGS "):])[0])
        self.assertTrue({"\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft", "\\*"}
                        <= pf, pf)
        # RFC 9051 §6.3.2 / RFC 7162 §3.2.11: another SELECT closes the
        # mailbox with an untagged OK [CLOSED] first.
        self.assertTagged(c.cmd("CREATE sel1b")[1], "OK")
        u, t = c.cmd("SELECT sel1b")
        self.assertTagged(t, "OK")
        self.assertTrue(u[0].startswith("* OK [CLOSED]"), u)
        self.assertIn("* 0 EXISTS", u)
        empty_select = u
        # INBOX in any case (RFC 9051 §5.1).
        self.assertTagged(c.cmd('SELECT "iNbOx"')[1], "OK", "READ-WRITE")
        # A failed SELECT leaves the authenticated state (RFC 9051 §6.3.2).
        self.assertTagged(c.cmd("SELECT no-such-sel")[1], "NO")
        self.assertTagged(c.cmd("FETCH 1 FLAGS")[1], "BAD")
        # RFC 7162 §7: HIGHESTMODSEQ carries a mod-sequence-value, which
        # is at least 1 (a server without mod-sequences says NOMODSEQ).
        hm = [code_of(r) for r in empty_select if "[HIGHESTMODSEQ " in r]
        self.assertEqual(len(hm), 1, empty_select)
        self.assertRegex(hm[0], r"^HIGHESTMODSEQ [1-9]\d*$")

    def test_select_imap4rev2(self):
        c = self.c
        self.folder(c, "rev2", [message("MARKER rev2")])
        u, t = c.cmd("ENABLE IMAP4rev2")
        self.assertEqual(u, ["* ENABLED IMAP4rev2"])
        u, t = c.cmd("SELECT rev2")
        self.assertTagged(t, "OK", "READ-WRITE")
        # RFC 9051 §6.3.2: REQUIRED FLAGS, EXISTS, LIST, and OK with
        # PERMANENTFLAGS, UIDNEXT, UIDVALIDITY; no RECENT (removed, App. E).
        self.assertIn("* 1 EXISTS", u)
        self.assertFalse([r for r in u if r.endswith(" RECENT")], u)
        self.assertFalse([r for r in u if "[UNSEEN " in r], u)
        select_resp = u
        # RFC 9051 §6.4.4: ESEARCH replaces SEARCH for an IMAP4rev2 client.
        u, t = c.cmd("SEARCH ALL", tag="srch1")
        self.assertTagged(t, "OK")
        self.assertEqual(u, ['* ESEARCH (TAG "srch1") ALL 1'])
        u, t = c.cmd("UID SEARCH ALL", tag="srch2")
        self.assertEqual(u, ['* ESEARCH (TAG "srch2") UID ALL 1'])
        u, t = c.cmd("SEARCH DELETED", tag="srch3")
        self.assertEqual(u, ['* ESEARCH (TAG "srch3")'])
        lists = [r for r in select_resp if r.startswith("* LIST ")]
        self.assertEqual(len(lists), 1,
                         "RFC 9051 §6.3.2: SELECT must return a LIST: %r" % select_resp)
        self.assertRegex(lists[0], r'^\* LIST \([^)]*\) "/" "?rev2"?$')

    def test_examine(self):
        c = self.c
        self.folder(c, "ex1", [message("MARKER examine")])
        u, t = c.cmd("EXAMINE ex1")
        # RFC 9051 §6.3.3: READ-ONLY, no permanent change.
        self.assertTagged(t, "OK", "READ-ONLY")
        self.assertIn("* 1 EXISTS", u)
        d = self.fetch(c, "1 BODY[]")
        self.assertNotIn("\\Seen", d[1].get("FLAGS", []))
        self.assertEqual(self.fetch(c, "1 FLAGS")[1]["FLAGS"], [])
        self.assertTagged(c.cmd("STORE 1 +FLAGS (\\Flagged)")[1], "NO")
        self.assertTagged(c.cmd("EXPUNGE")[1], "NO")

    def test_fetch_items(self):
        c = self.c
        msg = message("MARKER fetch items", msgid="<fi1@example.test>",
                      body="MARKER line one\r\nline two\r\n")
        self.folder(c, "fi", [])
        self.assertTagged(c.append("fi", msg, date="14-Jul-2020 02:44:25 -0700")[1], "OK")
        self.select(c, "fi")
        d = self.fetch(c, "1 (UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY BODYSTRUCTURE)")
        it = d[1]
        self.assertEqual(it["UID"], "1")
        self.assertEqual(it["FLAGS"], [])
        self.assertEqual(it["INTERNALDATE"], "14-Jul-2020 02:44:25 -0700")
        self.assertEqual(it["RFC822.SIZE"], str(len(msg)))
        # RFC 9051 §7.5.2 ENVELOPE; sender and reply-to default to from.
        alice = [["Alice", None, "alice", "example.test"]]
        self.assertEqual(it["ENVELOPE"], [
            "Mon, 7 Feb 1994 21:52:25 -0800", "MARKER fetch items", alice, alice, alice,
            [[None, None, "bob", "example.test"]], None, None, None, "<fi1@example.test>"])
        body = msg.split(b"\r\n\r\n", 1)[1]
        want = ["text", "plain", ["charset", "us-ascii"], None, None, "7bit",
                str(len(body)), "2"]
        self.assertEqual(lower_tree(it["BODY"]), want)
        self.assertEqual(lower_tree(it["BODYSTRUCTURE"][:8]), want)
        # Sections (RFC 9051 §6.4.5).
        d = self.fetch(c, "1 (BODY.PEEK[] BODY.PEEK[HEADER] BODY.PEEK[TEXT] BODY.PEEK[1] "
                          "BODY.PEEK[HEADER.FIELDS (Subject)] "
                          "BODY.PEEK[HEADER.FIELDS.NOT (Subject From To Date Message-ID)] "
                          "BODY.PEEK[]<0.10> BODY.PEEK[]<5.10000>)")
        it = d[1]
        head, _, text = msg.partition(b"\r\n\r\n")
        self.assertEqual(it["BODY[]"], msg)
        self.assertEqual(it["BODY[HEADER]"], head + b"\r\n\r\n")
        self.assertEqual(it["BODY[TEXT]"], text)
        self.assertEqual(it["BODY[1]"], text)
        self.assertEqual(it["BODY[HEADER.FIELDS (SUBJECT)]"],
                         b"Subject: MARKER fetch items\r\n\r\n")
        self.assertEqual(it["BODY[HEADER.FIELDS.NOT (SUBJECT FROM TO DATE MESSAGE-ID)]"],
                         b"\r\n")
        # A partial answer names only the origin (RFC 9051 §6.4.5).
        self.assertEqual(it["BODY[]<0>"], msg[:10])
        self.assertEqual(it["BODY[]<5>"], msg[5:])
        self.assertNotIn("FLAGS", it)
        self.assertEqual(self.fetch(c, "1 FLAGS")[1]["FLAGS"], [])
        # BODY[] without PEEK sets \Seen, and the change is reported.
        d = self.fetch(c, "1 BODY[TEXT]")
        self.assertEqual(d[1]["FLAGS"], ["\\Seen"])
        # RFC 3501 items and macros (§6.4.5): RFC822* and ALL/FAST/FULL.
        d = self.fetch(c, "1 (RFC822.HEADER RFC822.TEXT)")
        self.assertEqual(d[1]["RFC822.HEADER"], head + b"\r\n\r\n")
        self.assertEqual(d[1]["RFC822.TEXT"], text)
        self.assertEqual(self.fetch(c, "1 RFC822")[1]["RFC822"], msg)
        self.assertEqual(sorted(self.fetch(c, "1 FAST")[1]),
                         ["FLAGS", "INTERNALDATE", "RFC822.SIZE"])
        self.assertEqual(sorted(self.fetch(c, "1 ALL")[1]),
                         ["ENVELOPE", "FLAGS", "INTERNALDATE", "RFC822.SIZE"])
        self.assertEqual(sorted(self.fetch(c, "1 FULL")[1]),
                         ["BODY", "ENVELOPE", "FLAGS", "INTERNALDATE", "RFC822.SIZE"])
        # UID FETCH always includes UID (RFC 9051 §6.4.9).
        d = self.fetch(c, "1 FLAGS", uid=True)
        self.assertEqual(d[1]["UID"], "1")

    def test_fetch_multipart_binary(self):
        c = self.c
        self.folder(c, "mp", [MULTIPART])
        self.select(c, "mp")
        d = self.fetch(c, "1 (BODYSTRUCTURE BODY.PEEK[1] BODY.PEEK[2.MIME] BINARY.PEEK[2] "
                          "BINARY.SIZE[2] BINARY.PEEK[1])")
        it = d[1]
        bs = lower_tree(it["BODYSTRUCTURE"])
        self.assertEqual(bs[0][:2], ["text", "plain"])
        self.assertEqual(bs[1][:2], ["application", "octet-stream"])
        self.assertEqual(bs[1][5], "base64")
        self.assertEqual(bs[2], "mixed")
        self.assertEqual(it["BODY[1]"], b"MARKER part one")
        self.assertEqual(it["BODY[2.MIME]"], b"Content-Type: application/octet-stream\r\n"
                                             b"Content-Transfer-Encoding: base64\r\n\r\n")
        # RFC 3516 §4.2: BINARY decodes the transfer encoding.
        self.assertEqual(it["BINARY[2]"], bytes(range(256)))
        self.assertEqual(it["BINARY.SIZE[2]"], "256")
        self.assertEqual(it["BINARY[1]"], b"MARKER part one")

    def test_literal8_with_nul(self):
        c = self.c
        self.folder(c, "bin")
        payload = b"\x00\x01binary\x00\xff\r\nMARKER\x00"
        msg = (b"From: a@example.test\r\nSubject: MARKER binary\r\nMIME-Version: 1.0\r\n"
               b"Content-Type: application/octet-stream\r\n"
               b"Content-Transfer-Encoding: binary\r\n\r\n" + payload)
        # RFC 3516 §4.4: APPEND with literal8, synchronizing and LITERAL+.
        u, t, conts = c.cmd_lit(["APPEND bin ~{%d}" % len(msg), msg])
        self.assertTagged(t, "OK", "APPENDUID ")
        self.assertEqual(len(conts), 1)
        self.assertTagged(c.append("bin", msg, binary=True)[1], "OK", "APPENDUID ")
        self.select(c, "bin")
        for seq in (1, 2):
            u, t = c.cmd("FETCH %d (BINARY.PEEK[1] BINARY.SIZE[1] RFC822.SIZE)" % seq)
            self.assertTagged(t, "OK")
            # A NUL needs literal8 in the response (RFC 3516 §4.2).
            self.assertIn("BINARY[1] ~{%d}\r\n" % len(payload), u[0])
            it = fetch_items(u[0])[1]
            self.assertEqual(it["BINARY[1]"], payload)
            self.assertEqual(it["BINARY.SIZE[1]"], str(len(payload)))
            self.assertEqual(it["RFC822.SIZE"], str(len(msg)))

    def test_store_flags_keywords(self):
        c = self.c
        self.folder(c, "stf", [message("MARKER s1"), message("MARKER s2")])
        self.select(c, "stf")
        # RFC 9051 §6.4.6: the new flags come back in untagged FETCH.
        u, t = c.cmd("STORE 1 +FLAGS (\\Flagged \\Answered)")
        self.assertTagged(t, "OK")
        self.assertEqual(len(u), 1, u)
        seq, it = fetch_items(u[0])
        self.assertEqual((seq, sorted(it["FLAGS"])), (1, ["\\Answered", "\\Flagged"]))
        u, t = c.cmd("STORE 1 -FLAGS.SILENT (\\Answered)")
        self.assertTagged(t, "OK")
        self.assertEqual(u, [])
        u, t = c.cmd("STORE 1:2 FLAGS ($Forwarded kw1)")
        self.assertTagged(t, "OK")
        fetches = [r for r in u if " FETCH " in r]
        self.assertEqual(len(fetches), 2, u)
        for r in fetches:
            self.assertEqual(sorted(fetch_items(r)[1]["FLAGS"]), ["$Forwarded", "kw1"])
        # New keywords may be announced with FLAGS (RFC 9051 §7.3.5) and
        # PERMANENTFLAGS; if so, they list them.
        for r in u:
            if r.startswith("* FLAGS ") or "[PERMANENTFLAGS " in r:
                self.assertIn("$Forwarded", r)
                self.assertIn("kw1", r)
        self.assertEqual(len(u), len(fetches) + len([r for r in u if r.startswith("* FLAGS ")
                                                     or "[PERMANENTFLAGS " in r]), u)
        u, t = c.cmd("UID STORE 2 +FLAGS (\\Deleted)")
        self.assertEqual(len(u), 1, u)
        self.assertEqual(fetch_items(u[0])[1]["UID"], "2")
        d = self.fetch(c, "1:2 FLAGS")
        self.assertEqual(sorted(d[1]["FLAGS"]), ["$Forwarded", "kw1"])
        self.assertEqual(sorted(d[2]["FLAGS"]), ["$Forwarded", "\\Deleted", "kw1"])
        # \Recent cannot be stored (RFC 3501 §2.3.2).
        self.assertTagged(c.cmd("STORE 1 +FLAGS (\\Recent)")[1], "BAD")

    def test_sequence_sets(self):
        c = self.c
        self.folder(c, "seq", [message("MARKER %d" % i) for i in range(1, 6)])
        self.select(c, "seq")
        # RFC 9051 §9 sequence-set: ranges either way round, "*" = last.
        self.assertEqual(sorted(self.fetch(c, "2:4 UID")), [2, 3, 4])
        self.assertEqual(sorted(self.fetch(c, "4:2 UID")), [2, 3, 4])
        self.assertEqual(sorted(self.fetch(c, "*:4 UID")), [4, 5])
        self.assertEqual(sorted(self.fetch(c, "1,3,5 UID")), [1, 3, 5])
        self.assertEqual(sorted(self.fetch(c, "* UID")), [5])
        self.assertEqual(sorted(self.fetch(c, "1,2:3,3:1 UID")), [1, 2, 3])
        # RFC 9051 §6.4.8: n:* always includes the last UID.
        d = self.fetch(c, "999:* UID", uid=True)
        self.assertEqual(d, {5: {"UID": "5"}})
        # UIDs that do not exist are ignored (RFC 9051 §6.4.8).
        self.assertEqual(self.fetch(c, "100:200 UID", uid=True), {})
        # Sequence numbers beyond EXISTS are invalid (RFC 9051 §9, seq-number).
        self.assertTagged(c.cmd("FETCH 6 UID")[1], "BAD")
        self.assertTagged(c.cmd("FETCH 0 UID")[1], "BAD")

    def test_copy_move_expunge(self):
        c = self.c
        v, _ = self.folder(c, "cm", [message("MARKER cm%d" % i) for i in range(1, 6)])
        dv, _ = self.folder(c, "cm-dest")
        self.select(c, "cm")
        # RFC 4315 §3: COPYUID uidvalidity source-set dest-set.
        u, t = c.cmd("COPY 1:2 cm-dest")
        self.assertTagged(t, "OK", "COPYUID ")
        self.assertRegex(code_of(t), r"^COPYUID [1-9]\d* 1:2 1:2$")
        dv = code_of(t).split()[1]
        # RFC 9051 §6.4.7: flags and internal date SHOULD be preserved.
        self.assertTagged(c.cmd("STORE 1 +FLAGS.SILENT (\\Flagged kwcopy)")[1], "OK")
        src = self.fetch(c, "1 (FLAGS INTERNALDATE)")[1]
        self.assertTagged(c.cmd("COPY 1 cm-dest")[1], "OK")
        c2 = self.srv.login()
        u, t = c2.cmd("EXAMINE cm-dest")
        self.assertIn("* 3 EXISTS", u)
        dst = self.fetch(c2, "3 (FLAGS INTERNALDATE)")[3]
        self.assertEqual((sorted(dst["FLAGS"]), dst["INTERNALDATE"]),
                         (sorted(src["FLAGS"]), src["INTERNALDATE"]))
        self.assertTagged(c.cmd("STORE 1 -FLAGS.SILENT (\\Flagged kwcopy)")[1], "OK")
        # RFC 9051 §6.4.7: TRYCREATE for a missing target.
        self.assertTagged(c.cmd("COPY 1 no-such-cm")[1], "NO", "TRYCREATE")
        # RFC 6851 §3.3, §4.3: COPYUID in an untagged OK, then EXPUNGE.
        u, t = c.cmd("MOVE 1 cm-dest")
        self.assertTagged(t, "OK")
        oks = [r for r in u if code_of(r) and code_of(r).startswith("COPYUID ")]
        self.assertEqual(len(oks), 1, u)
        self.assertTrue(oks[0].startswith("* OK [COPYUID %s 1 4]" % dv), u)
        self.assertIn("* 1 EXPUNGE", u)
        self.assertLess(u.index(oks[0]), u.index("* 1 EXPUNGE"))
        # now UIDs 2 3 4 5 at 1..4; UID MOVE reports the same way
        u, t = c.cmd("UID MOVE 4 cm-dest")
        self.assertTagged(t, "OK")
        self.assertIn("* 3 EXPUNGE", u)
        # now UIDs 2 3 5; delete 2 and 5, EXPUNGE (RFC 9051 §6.4.3)
        self.assertTagged(c.cmd("STORE 1,3 +FLAGS.SILENT (\\Deleted)")[1], "OK")
        u, t = c.cmd("EXPUNGE")
        self.assertTagged(t, "OK")
        left, gone = apply_expunges([2, 3, 5], u)
        self.assertEqual((left, sorted(gone)), ([3], [2, 5]))
        self.assertEqual(len(u), 2, u)
        # UID EXPUNGE removes only the given UIDs (RFC 4315 §2.1).
        self.select(c, "cm-dest")
        self.assertTagged(c.cmd("STORE 1:* +FLAGS.SILENT (\\Deleted)")[1], "OK")
        u, t = c.cmd("UID EXPUNGE 3")
        self.assertTagged(t, "OK")
        self.assertEqual(u, ["* 3 EXPUNGE"])
        u, t = c.cmd("NOOP")
        self.assertEqual(u, [])
        self.assertEqual(self.exists(c, "cm"), 1)

    def test_close_unselect_check(self):
        c = self.c
        self.folder(c, "cu", [message("MARKER cu1"), message("MARKER cu2")])
        self.select(c, "cu")
        self.assertTagged(c.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)")[1], "OK")
        self.assertTagged(c.cmd("CHECK")[1], "OK")  # RFC 3501 §6.4.1
        # RFC 3691: UNSELECT does not expunge.
        u, t = c.cmd("UNSELECT")
        self.assertTagged(t, "OK")
        self.assertEqual(u, [])
        self.assertTagged(c.cmd("FETCH 1 FLAGS")[1], "BAD")
        u = self.select(c, "cu")
        self.assertIn("* 2 EXISTS", u)
        # RFC 9051 §6.4.1: CLOSE expunges silently.
        u, t = c.cmd("CLOSE")
        self.assertTagged(t, "OK")
        self.assertEqual(u, [])
        self.assertTagged(c.cmd("FETCH 1 FLAGS")[1], "BAD")
        u = self.select(c, "cu")
        self.assertIn("* 1 EXISTS", u)
        # CLOSE after EXAMINE expunges nothing.
        self.assertTagged(c.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)")[1], "OK")
        self.assertTagged(c.cmd("EXAMINE cu")[1], "OK")
        self.assertTagged(c.cmd("CLOSE")[1], "OK")
        self.assertIn("* 1 EXISTS", self.select(c, "cu"))

    def test_multiappend(self):
        c = self.c
        v, _ = self.folder(c, "ma")
        a, b = message("MARKER ma1"), message("MARKER ma2")
        # RFC 3502 §6.3.11: several messages, one APPENDUID with a uid-set.
        u, t, conts = c.cmd_lit(["APPEND ma (\\Seen) {%d}" % len(a),
                                 b"%s (\\Flagged) \"01-Jan-2020 00:00:00 +0000\" {%d}"
                                 % (a, len(b)), b])
        self.assertTagged(t, "OK", "APPENDUID ")
        self.assertRegex(code_of(t), r"^APPENDUID [1-9]\d* 1:2$")
        # All or nothing: a bad date in the second message appends neither.
        tag = c.tag()
        c.send(b"%s APPEND ma {%d+}\r\n%s \"99-Foo-2020 00:00:00 +0000\" {%d+}\r\n%s\r\n"
               % (tag.encode(), len(a), a, len(b), b))
        u, t = c.read_until(tag)
        self.assertTagged(t, "BAD")
        self.assertEqual(self.exists(c, "ma"), 2)
        self.select(c, "ma")
        d = self.fetch(c, "1:2 (FLAGS INTERNALDATE BODY.PEEK[])")
        self.assertEqual((d[1]["FLAGS"], d[1]["BODY[]"]), (["\\Seen"], a))
        self.assertEqual((d[2]["FLAGS"], d[2]["BODY[]"]), (["\\Flagged"], b))
        self.assertEqual(d[2]["INTERNALDATE"], "01-Jan-2020 00:00:00 +0000")

    def test_pipelining(self):
        c = self.c
        self.folder(c, "pipe")
        m = message("MARKER pipe")
        # RFC 9051 §5.5: commands may be sent without waiting; each gets
        # its tagged answer, in order here as none may run concurrently
        # with the APPEND that precedes it.
        c.send(b"p1 SELECT pipe\r\np2 APPEND pipe {%d+}\r\n%s\r\np3 NOOP\r\n"
               b"p4 FETCH 1 (UID RFC822.SIZE)\r\np5 UID SEARCH ALL\r\np6 LOGOUT\r\n"
               % (len(m), m))
        tags = []
        out = []
        while True:
            try:
                r = c.resp()
            except EOFError:
                break
            out.append(r)
            if re.match(r"^p\d ", r):
                tags.append(r[:5])
        self.assertEqual(tags, ["p1 OK", "p2 OK", "p3 OK", "p4 OK", "p5 OK", "p6 OK"], out)
        f = [fetch_items(r) for r in out if re.match(r"^\* \d+ FETCH ", r)]
        self.assertEqual(f, [(1, {"UID": "1", "RFC822.SIZE": str(len(m))})])
        self.assertIn("* SEARCH 1", out)

    def test_utf8_append(self):
        c = self.c
        self.folder(c, "u8")
        msg = ("From: Zoë <zoe@example.test>\r\nSubject: MARKER Été\r\n"
               "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
               "\r\nMARKER ünïcode body\r\n").encode()
        u, t = c.cmd("ENABLE UTF8=ACCEPT")
        self.assertEqual(u, ["* ENABLED UTF8=ACCEPT"])
        # RFC 6855 §4: APPEND ... UTF8 (literal8).
        tag = c.tag()
        c.send(b"%s APPEND u8 UTF8 (~{%d+}\r\n%s)\r\n" % (tag.encode(), len(msg), msg))
        u, t = c.read_until(tag)
        self.assertTagged(t, "OK", "APPENDUID ")
        self.select(c, "u8")
        d = self.fetch(c, "1 (BODY.PEEK[] ENVELOPE)")
        self.assertEqual(d[1]["BODY[]"], msg)
        # RFC 6855 §3: with UTF8=ACCEPT, header strings are sent as UTF-8.
        subj = d[1]["ENVELOPE"][1]
        self.assertEqual(b2s(subj) if isinstance(subj, bytes) else subj, "MARKER Été")

    def test_logout_selected(self):
        c = self.c
        self.folder(c, "lo", [message("MARKER lo")])
        self.select(c, "lo")
        # LOGOUT from the selected state (RFC 9051 §6.1.3).
        u, t = c.cmd("LOGOUT")
        self.assertEqual(len(u), 1, u)
        self.assertTrue(u[0].startswith("* BYE "), u)
        self.assertTagged(t, "OK")
        self.assertTrue(c.closed())

    def test_header_field_name_literals(self):
        c = self.c
        self.folder(c, "lp", [message("MARKER lp")])
        self.select(c, "lp")
        # header-fld-name is an astring (RFC 9051 §9): a client may send the
        # names inside a section's brackets as literals, synchronizing or
        # not; the response names them as atoms.
        tag = c.tag()
        c.send(b"%s FETCH 1 (BODY.PEEK[HEADER.FIELDS ({7+}\r\nSubject From)])\r\n"
               % tag.encode())
        u, t = c.read_until(tag)
        self.assertTagged(t, "OK")
        self.assertEqual(len(u), 1, u)
        self.assertIn("BODY[HEADER.FIELDS (Subject From)] {", u[0])
        self.assertIn("Subject: MARKER lp\r\n", u[0])
        u, t, conts = c.cmd_lit(["FETCH 1 (BODY.PEEK[HEADER.FIELDS.NOT (From {7}",
                                 "Subject)] UID)"])
        self.assertEqual(len(conts), 1, conts)
        self.assertTagged(t, "OK")
        self.assertEqual(len(u), 1, u)
        self.assertIn("BODY[HEADER.FIELDS.NOT (From Subject)] {", u[0])
        self.assertNotIn("MARKER lp", u[0])
        # an empty name is refused; the literal is consumed and the session
        # goes on
        tag = c.tag()
        c.send(b"%s FETCH 1 (BODY.PEEK[HEADER.FIELDS ({0+}\r\n)])\r\n" % tag.encode())
        u, t = c.read_until(tag)
        self.assertTagged(t, "BAD")
        self.assertIn("Invalid header field name literal", t)
        self.assertTagged(c.cmd("FETCH 1 (BODY.PEEK[HEADER.FIELDS (\"Subject\")])")[1], "OK")

    def test_appendlimit_toobig(self):
        c = self.c
        self.folder(c, "big")
        # RFC 7889 §4: a literal over APPENDLIMIT is refused with TOOBIG
        # before the client sends it (no "+").
        u, t, conts = c.cmd_lit(["APPEND big {%d}" % (APPENDLIMIT + 1), b"never sent"])
        self.assertEqual(conts, [])
        self.assertTagged(t, "NO", "TOOBIG")
        self.assertTagged(c.cmd("NOOP")[1], "OK")
        # With LITERAL+ the octets come anyway; the server reads them and
        # answers NO [TOOBIG] (RFC 7888 §4, RFC 7889 §4).
        tag = c.tag()
        c.send("%s APPEND big {%d+}\r\n" % (tag, APPENDLIMIT + 1))
        chunk = b"x" * (1 << 20)
        left = APPENDLIMIT + 1
        while left > 0:
            n = min(left, len(chunk))
            c.send(chunk[:n])
            left -= n
        c.send("\r\n")
        u, t = c.read_until(tag)
        self.assertTagged(t, "NO", "TOOBIG")
        self.assertTagged(c.cmd("NOOP")[1], "OK")
        self.assertEqual(self.exists(c, "big"), 0)


def expand_set(text):
    """'1:3,5' -> [1, 2, 3, 5]."""
    out = []
    for part in text.split(","):
        lo, _, hi = part.partition(":")
        lo, hi = int(lo), int(hi or lo)
        out.extend(range(min(lo, hi), max(lo, hi) + 1))
    return sorted(set(out))


def esearch(untagged, tag):
    """The ESEARCH response for tag -> (uid, {item: value})."""
    hits = [r for r in untagged if r.startswith("* ESEARCH")]
    assert len(hits) == 1, untagged
    prefix = '* ESEARCH (TAG "%s")' % tag
    assert hits[0].startswith(prefix), (hits[0], tag)
    toks = tokenize(hits[0][len(prefix):])
    uid = bool(toks) and toks[0] == "UID"
    if uid:
        toks = toks[1:]
    return uid, {toks[i].upper(): toks[i + 1] for i in range(0, len(toks), 2)}


SEARCH_MSGS = [
    # (message, flags, internal date)
    (message("MARKER alpha", frm="Alice <alice@example.test>", msgid="<s1@example.test>",
             date="Mon, 7 Feb 1994 10:00:00 +0000", body="MARKER apple\r\n"),
     "\\Seen", "01-Feb-2001 10:00:00 +0000"),
    (message("MARKER beta", frm="Bob <bob@example.test>", msgid="<s2@example.test>",
             date="Tue, 8 Feb 1994 10:00:00 +0000", body="MARKER banana\r\n"),
     "\\Flagged kw1", "01-Mar-2001 10:00:00 +0000"),
    (message("Re: MARKER alpha", frm="Carol <carol@example.test>", msgid="<s3@example.test>",
             date="Wed, 9 Feb 1994 10:00:00 +0000", body="MARKER cherry \u00e9\r\n",
             extra="References: <s1@example.test>\r\nIn-Reply-To: <s1@example.test>\r\n"
                   "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                   "Content-Transfer-Encoding: 8bit\r\n"),
     None, None),
    (message("MARKER gamma", frm="Dave <dave@example.test>", msgid="<s4@example.test>",
             date="Thu, 10 Feb 1994 10:00:00 +0000", body="MARKER " + "long " * 600 + "\r\n"),
     "\\Deleted", None),
]


class TestSearch(ImapCase):
    """SEARCH (RFC 9051 §6.4.4), ESEARCH (RFC 4731), SEARCHRES (RFC 5182),
    WITHIN (RFC 5032), X-REGEX, SORT and THREAD (RFC 5256), SAVEDATE
    (RFC 8514), OBJECTID (RFC 8474). One folder, four messages."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        c = cls.srv.login()
        u, t = c.cmd("CREATE srch")
        assert status_of(t) == "OK", t
        for m, flags, date in SEARCH_MSGS:
            u, t = c.append("srch", m, flags=flags, date=date)
            assert status_of(t) == "OK", t

    def setUp(self):
        self.c = self.srv.login()
        self.select(self.c, "srch")

    def implemented(self, cmd):
        """Fails once (instead of once per case) when cmd is refused."""
        u, t = self.c.cmd(cmd)
        self.assertTagged(t, "OK")

    def test_search_keys(self):
        cases = [
            ("ALL", [1, 2, 3, 4]), ("SEEN", [1]), ("UNSEEN", [2, 3, 4]), ("FLAGGED", [2]),
            ("DELETED", [4]), ("UNDELETED", [1, 2, 3]), ("KEYWORD kw1", [2]),
            ("UNKEYWORD kw1", [1, 3, 4]), ("ANSWERED", []), ("UNANSWERED", [1, 2, 3, 4]),
            ("DRAFT", []), ("UNDRAFT", [1, 2, 3, 4]), ("UNFLAGGED", [1, 3, 4]),
            ("SUBJECT alpha", [1, 3]), ('SUBJECT "re: marker"', [3]), ("FROM bob", [2]),
            ("TO bob", [1, 2, 3, 4]), ("CC bob", []), ("BCC bob", []),
            ("BODY banana", [2]), ("TEXT cherry", [3]), ('TEXT "marker beta"', [2]),
            ('HEADER Message-ID "<s1@"', [1]), ('HEADER References ""', [3]),
            ("LARGER 2000", [4]), ("SMALLER 2000", [1, 2, 3]),
            ("BEFORE 1-Mar-2001", [1]), ("ON 01-Mar-2001", [2]), ("SINCE 1-Jan-2020", [3, 4]),
            ('SENTBEFORE "8-Feb-1994"', [1]), ("SENTON 08-Feb-1994", [2]),
            ("SENTSINCE 09-Feb-1994", [3, 4]),
            ("OR FLAGGED SEEN", [1, 2]), ("NOT SEEN", [2, 3, 4]), ("(SEEN)", [1]),
            ("FLAGGED FROM bob", [2]), ("2:3 UNSEEN", [2, 3]), ("UID 1:2", [1, 2]),
            ("*", [4]), ("OR (SEEN FLAGGED) NOT (UNSEEN)", [1]),
            ("SUBJECT no-such-text", []),
            ("CHARSET UTF-8 SUBJECT alpha", [1, 3]), ("CHARSET US-ASCII FROM carol", [3]),
            # WITHIN (RFC 5032 §3): internal dates of 1 and 2 are in 2001
            ("YOUNGER 86400", [3, 4]), ("OLDER 86400", [1, 2]),
            # SAVEDATE (RFC 8514 §4.2): all saved today
            ("SAVEDSINCE 1-Jan-2020", [1, 2, 3, 4]), ("SAVEDBEFORE 1-Jan-2020", []),
            ("SAVEDATESUPPORTED", [1, 2, 3, 4]),
            # X-REGEX (src/imap/imap_search_parse.h)
            ('X-REGEX SUBJECT "^MARKER (alpha|beta)$"', [1, 2]),
            ('X-REGEX SUBJECT "(?i)^re:"', [3]), ("X-REGEX FROM ^Bob", [2]),
            ('X-REGEX BODY "ban+ana"', [2]), ('X-REGEX HEADER Message-ID "s[34]@"', [3, 4]),
            ('X-REGEX TEXT "apple|cherry"', [1, 3]), ('X-REGEX SUBJECT "\\\\bgam"', [4]),
            ('X-REGEX SUBJECT "^marker"', []),
            ("X-REGEX SUBJECT {9+}\r\n^MARKER b", [2]),
        ]
        self.implemented("SEARCH ALL")
        for key, want in cases:
            with self.subTest(key=key):
                u, t = self.c.cmd("SEARCH " + key)
                self.assertTagged(t, "OK")
                # RFC 9051 §7.3.4 (RFC 3501 §7.2.5): one SEARCH line; none
                # found is "* SEARCH" alone.
                self.assertEqual(u, ["* SEARCH" + "".join(" %d" % n for n in want)])
        # UTF-8 search strings in a literal (RFC 9051 §6.4.4 CHARSET)
        tag = self.c.tag()
        self.c.send(b"%s SEARCH CHARSET UTF-8 BODY {2+}\r\n\xc3\xa9\r\n" % tag.encode())
        u, t = self.c.read_until(tag)
        self.assertTagged(t, "OK")
        self.assertEqual(u, ["* SEARCH 3"])
        # UID SEARCH answers UIDs.
        self.assertEqual(self.search(self.c, "UID SEARCH FLAGGED"), [2])
        # RFC 9051 §6.4.4: unknown charset is NO [BADCHARSET].
        self.assertTagged(self.c.cmd("SEARCH CHARSET X-NO-SUCH ALL")[1], "NO", "BADCHARSET")
        # A pattern that does not compile is refused with BAD.
        self.assertTagged(self.c.cmd('SEARCH X-REGEX SUBJECT "("')[1], "BAD")

    def test_esearch(self):
        c = self.c
        # RFC 4731 §3.1
        u, t = c.cmd("SEARCH RETURN (MIN MAX COUNT) UNSEEN", tag="es1")
        self.assertTagged(t, "OK")
        self.assertEqual(esearch(u, "es1"), (False, {"MIN": "2", "MAX": "4", "COUNT": "3"}))
        u, t = c.cmd("SEARCH RETURN (ALL) UNSEEN", tag="es2")
        uid, items = esearch(u, "es2")
        self.assertEqual((uid, list(items)), (False, ["ALL"]))
        self.assertEqual(expand_set(items["ALL"]), [2, 3, 4])
        u, t = c.cmd("SEARCH RETURN () SEEN", tag="es3")  # () means ALL
        self.assertEqual(u, ['* ESEARCH (TAG "es3") ALL 1'])
        u, t = c.cmd("UID SEARCH RETURN (COUNT) ALL", tag="es4")
        self.assertEqual(u, ['* ESEARCH (TAG "es4") UID COUNT 4'])
        # No match: MIN, MAX and ALL are left out, COUNT is 0.
        u, t = c.cmd("SEARCH RETURN (MIN MAX ALL) ANSWERED", tag="es5")
        self.assertEqual(u, ['* ESEARCH (TAG "es5")'])
        u, t = c.cmd("SEARCH RETURN (COUNT) ANSWERED", tag="es6")
        self.assertEqual(u, ['* ESEARCH (TAG "es6") COUNT 0'])

    def test_searchres(self):
        c = self.c
        # RFC 5182 §2.1: "$" with nothing saved is the empty set.
        u, t = c.cmd("FETCH $ UID")
        self.assertTagged(t, "OK")
        self.assertEqual(u, [])
        # SAVE alone: no ESEARCH response (RFC 5182 §2.4).
        u, t = c.cmd("SEARCH RETURN (SAVE) FLAGGED")
        self.assertTagged(t, "OK")
        self.assertEqual(u, [])
        self.assertEqual(self.fetch(c, "$ UID"), {2: {"UID": "2"}})
        # SAVE with MIN alone saves the minimum only (RFC 5182 §2.4).
        u, t = c.cmd("SEARCH RETURN (SAVE MIN) UNSEEN", tag="sr1")
        self.assertEqual(u, ['* ESEARCH (TAG "sr1") MIN 2'])
        self.assertEqual(sorted(self.fetch(c, "$ UID", uid=True)), [2])
        # with COUNT the whole result is saved
        u, t = c.cmd("SEARCH RETURN (SAVE COUNT) UNSEEN", tag="sr2")
        self.assertEqual(u, ['* ESEARCH (TAG "sr2") COUNT 3'])
        self.assertEqual(sorted(self.fetch(c, "$ UID", uid=True)), [2, 3, 4])
        self.assertEqual(self.search(c, "SEARCH $ NOT FLAGGED"), [3, 4])
        self.assertEqual(self.search(c, "UID SEARCH UID $"), [2, 3, 4])
        self.assertTagged(c.cmd("STORE $ +FLAGS (kw2)")[1], "OK")
        self.assertEqual(self.search(c, "SEARCH KEYWORD kw2"), [2, 3, 4])
        self.assertTagged(c.cmd("STORE $ -FLAGS.SILENT (kw2)")[1], "OK")

    def test_sort(self):
        c = self.c
        sizes = [len(m) for m, _, _ in SEARCH_MSGS]
        by_size = [i + 1 for i in sorted(range(4), key=lambda i: (sizes[i], i))]
        cases = [
            # RFC 5256 §2.1 base subject: "Re: MARKER alpha" sorts as
            # "MARKER alpha"; ties by sequence number.
            ("(SUBJECT) UTF-8 ALL", [1, 3, 2, 4]), ("(DATE) UTF-8 ALL", [1, 2, 3, 4]),
            ("(REVERSE DATE) UTF-8 ALL", [4, 3, 2, 1]), ("(FROM) UTF-8 ALL", [1, 2, 3, 4]),
            ("(REVERSE FROM) UTF-8 ALL", [4, 3, 2, 1]), ("(SIZE) UTF-8 ALL", by_size),
            ("(SUBJECT) UTF-8 UNSEEN", [3, 2, 4]), ("(TO SUBJECT) US-ASCII ALL", [1, 3, 2, 4]),
            ("(CC DATE) UTF-8 ALL", [1, 2, 3, 4]),
            ("(DISPLAYFROM) UTF-8 ALL", [1, 2, 3, 4]),  # RFC 5957
        ]
        self.implemented("SORT (SUBJECT) UTF-8 ALL")
        for crit, want in cases:
            with self.subTest(crit=crit):
                u, t = c.cmd("SORT " + crit)
                self.assertTagged(t, "OK")
                self.assertEqual(u, ["* SORT" + "".join(" %d" % n for n in want)])
        # REVERSE reverses its key only; exact ties stay in mailbox order
        # (RFC 5256 §3).
        u, t = c.cmd("UID SORT (REVERSE SUBJECT) UTF-8 ALL")
        self.assertEqual(u, ["* SORT 4 2 1 3"])
        u, t = c.cmd("SORT (SUBJECT) UTF-8 ANSWERED")
        self.assertEqual(u, ["* SORT"])
        self.assertTagged(c.cmd("SORT (SUBJECT) X-NO-SUCH ALL")[1], "NO", "BADCHARSET")
        self.assertTagged(c.cmd("SORT (NO-SUCH-KEY) UTF-8 ALL")[1], "BAD")

    def test_thread(self):
        c = self.c
        # RFC 5256 §3: 3 answers 1 (References and base subject).
        self.implemented("THREAD REFERENCES UTF-8 ALL")
        for alg in ("ORDEREDSUBJECT", "REFERENCES"):
            with self.subTest(alg=alg):
                u, t = c.cmd("THREAD %s UTF-8 ALL" % alg)
                self.assertTagged(t, "OK")
                self.assertEqual(u, ["* THREAD (1 3)(2)(4)"])
                u, t = c.cmd("UID THREAD %s UTF-8 UNSEEN" % alg)
                self.assertEqual(u, ["* THREAD (2)(3)(4)"])
                u, t = c.cmd("THREAD %s UTF-8 ANSWERED" % alg)
                self.assertEqual(u, ["* THREAD"])
        self.assertTagged(c.cmd("THREAD NO-SUCH-ALG UTF-8 ALL")[1], "BAD")

    def test_objectid_savedate(self):
        c = self.c
        d = self.fetch(c, "1:4 (EMAILID THREADID SAVEDATE)")
        ids = []
        for seq in (1, 2, 3, 4):
            it = d[seq]
            # RFC 8474 §5.1-5.2: EMAILID (objectid); THREADID (objectid) or NIL
            self.assertIsInstance(it["EMAILID"], list)
            self.assertRegex(it["EMAILID"][0], r"^[A-Za-z0-9_-]{1,255}$")
            self.assertTrue(it["THREADID"] is None or
                            re.match(r"^[A-Za-z0-9_-]{1,255}$", it["THREADID"][0]), it)
            # RFC 8514 §4.1: SAVEDATE is a date-time (or NIL)
            self.assertRegex(it["SAVEDATE"],
                             r"^[ \d]\d-[A-Z][a-z]{2}-\d{4} \d\d:\d\d:\d\d [+-]\d{4}$")
            ids.append(it["EMAILID"][0])
        self.assertEqual(len(set(ids)), 4)
        self.assertEqual(self.search(c, "SEARCH EMAILID %s" % ids[1]), [2])
        # RFC 8474 §5.1: COPY keeps the EMAILID.
        self.assertTagged(c.cmd("CREATE oid-copy")[1], "OK")
        self.assertTagged(c.cmd("COPY 2 oid-copy")[1], "OK")
        c2 = self.srv.login()
        self.select(c2, "oid-copy")
        self.assertEqual(self.fetch(c2, "1 EMAILID")[1]["EMAILID"], [ids[1]])


class TestSync(ImapCase):
    """CONDSTORE and QRESYNC (RFC 7162), IDLE (RFC 2177), changes made by
    other sessions (RFC 9051 §7.5.1), COMPRESS=DEFLATE (RFC 4978)."""

    def setUp(self):
        self.c = self.srv.login()

    def modseq(self, items):
        self.assertIsInstance(items["MODSEQ"], list)
        self.assertEqual(len(items["MODSEQ"]), 1)
        return int(items["MODSEQ"][0])

    def test_condstore(self):
        c = self.c
        self.folder(c, "cs", [message("MARKER cs%d" % i) for i in (1, 2, 3)])
        u, t = c.cmd("ENABLE CONDSTORE")
        self.assertEqual(u, ["* ENABLED CONDSTORE"])
        u = self.select(c, "cs")
        # RFC 7162 §3.1.2.1: HIGHESTMODSEQ on SELECT.
        hms = [code_of(r) for r in u if (code_of(r) or "").startswith("HIGHESTMODSEQ ")]
        self.assertEqual(len(hms), 1, u)
        high = int(hms[0].split()[1])
        d = self.fetch(c, "1:3 (MODSEQ)")
        ms = {s: self.modseq(d[s]) for s in (1, 2, 3)}
        self.assertLessEqual(max(ms.values()), high)
        # RFC 7162 §3.1.3: STORE reports the new MODSEQ.
        u, t = c.cmd("STORE 1 +FLAGS (\\Flagged)")
        self.assertTagged(t, "OK")
        seq, it = fetch_items(u[0])
        m1 = self.modseq(it)
        self.assertGreater(m1, high)
        self.assertEqual(it["FLAGS"], ["\\Flagged"])
        # UNCHANGEDSINCE older than the message: MODIFIED, nothing stored.
        u, t = c.cmd("STORE 1,2 (UNCHANGEDSINCE %d) -FLAGS (\\Flagged)" % (m1 - 1))
        self.assertTagged(t, "OK", "MODIFIED")
        self.assertEqual(code_of(t), "MODIFIED 1")
        self.assertEqual(self.fetch(c, "1 FLAGS")[1]["FLAGS"], ["\\Flagged"])
        u, t = c.cmd("STORE 1 (UNCHANGEDSINCE %d) -FLAGS (\\Flagged)" % m1)
        self.assertTagged(t, "OK")
        self.assertIsNone(code_of(t))
        m2 = self.modseq(fetch_items(u[0])[1])
        self.assertGreater(m2, m1)
        # RFC 7162 §3.1.4: CHANGEDSINCE.
        d = self.fetch(c, "1:* (FLAGS) (CHANGEDSINCE %d)" % high)
        self.assertEqual(sorted(d), [1])
        self.assertEqual(self.modseq(d[1]), m2)
        # RFC 7162 §3.1.5: SEARCH MODSEQ adds the highest mod-sequence.
        u, t = c.cmd("SEARCH MODSEQ %d" % m2)
        self.assertTagged(t, "OK")
        self.assertEqual(u, ["* SEARCH 1 (MODSEQ %d)" % m2])
        # RFC 7162 §3.1.6: STATUS HIGHESTMODSEQ.
        u, t = c.cmd("STATUS cs (HIGHESTMODSEQ)")
        self.assertEqual(len(u), 1, u)
        self.assertTokens(u[0], "* STATUS cs (HIGHESTMODSEQ %d)" % m2)

    def test_select_condstore_parameter(self):
        c = self.c
        self.folder(c, "csp", [message("MARKER csp")])
        # RFC 7162 §3.1.8: SELECT (CONDSTORE) enables CONDSTORE too.
        u = self.select(c, "csp", " (CONDSTORE)")
        self.assertTrue([r for r in u if "[HIGHESTMODSEQ " in r], u)
        u, t = c.cmd("STORE 1 +FLAGS (\\Seen)")
        self.assertIn("MODSEQ", fetch_items(u[0])[1])

    def test_qresync(self):
        c = self.c
        v, uids = self.folder(c, "qr", [message("MARKER qr%d" % i) for i in range(1, 6)])
        u = self.select(c, "qr")
        high = int([code_of(r) for r in u if "[HIGHESTMODSEQ " in r][0].split()[1])
        # changes after `high`: expunge UID 2, flag UID 4
        self.assertTagged(c.cmd("STORE 2 +FLAGS.SILENT (\\Deleted)")[1], "OK")
        self.assertTagged(c.cmd("EXPUNGE")[1], "OK")
        self.assertTagged(c.cmd("UID STORE 4 +FLAGS.SILENT (\\Seen)")[1], "OK")
        self.assertTagged(c.cmd("UNSELECT")[1], "OK")
        q = self.srv.login()
        # QRESYNC before ENABLE is an error (RFC 7162 §3.2.5).
        self.assertTagged(q.cmd("SELECT qr (QRESYNC (%s %d))" % (v, high))[1], "BAD")
        u, t = q.cmd("ENABLE QRESYNC")
        self.assertTagged(t, "OK")
        self.assertEqual(len(u), 1)
        self.assertIn("QRESYNC", u[0].split()[2:])
        # RFC 7162 §3.2.5.1: VANISHED (EARLIER), then the changed flags.
        u = self.select(q, "qr", " (QRESYNC (%s %d))" % (v, high))
        self.assertIn("* VANISHED (EARLIER) 2", u)
        fetches = [fetch_items(r) for r in u if re.match(r"^\* \d+ FETCH ", r)]
        self.assertEqual(len(fetches), 1, u)
        seq, it = fetches[0]
        self.assertEqual((seq, it["UID"], it["FLAGS"]), (3, "4", ["\\Seen"]))
        self.assertIn("MODSEQ", it)
        # known-uids limits VANISHED to the given UIDs.
        self.assertTagged(q.cmd("UNSELECT")[1], "OK")
        u = self.select(q, "qr", " (QRESYNC (%s %d 3:5))" % (v, high))
        self.assertFalse([r for r in u if r.startswith("* VANISHED")], u)
        # A different UIDVALIDITY: no VANISHED/FETCH, a full resync.
        self.assertTagged(q.cmd("UNSELECT")[1], "OK")
        u = self.select(q, "qr", " (QRESYNC (%d %d))" % (int(v) + 1, high))
        self.assertFalse([r for r in u if r.startswith("* VANISHED") or " FETCH " in r], u)
        # RFC 7162 §3.2.6: UID FETCH ... (CHANGEDSINCE m VANISHED).
        u, t = q.cmd("UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)" % high)
        self.assertTagged(t, "OK")
        self.assertEqual([r for r in u if r.startswith("* VANISHED")],
                         ["* VANISHED (EARLIER) 2"])
        self.assertEqual([fetch_items(r)[1]["UID"] for r in u if " FETCH " in r], ["4"])
        # RFC 7162 §3.2.10: with QRESYNC, EXPUNGE answers VANISHED.
        self.assertTagged(q.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)")[1], "OK")
        u, t = q.cmd("EXPUNGE")
        self.assertTagged(t, "OK")
        self.assertEqual(u, ["* VANISHED 1"])
        # RFC 6851 §4.1: MOVE reports VANISHED too when QRESYNC is on.
        self.assertTagged(q.cmd("CREATE qr-dest")[1], "OK")
        u, t = q.cmd("UID MOVE 3 qr-dest")
        self.assertTagged(t, "OK")
        self.assertIn("* VANISHED 3", u)
        self.assertFalse([r for r in u if r.endswith(" EXPUNGE")], u)

    def test_other_session_changes_and_idle(self):
        a = self.c
        a.skip_recent = True
        self.addCleanup(setattr, a, "skip_recent", False)
        self.folder(a, "idle", [message("MARKER idle1"), message("MARKER idle2")])
        self.select(a, "idle")
        b = self.srv.login()
        self.select(b, "idle")
        # RFC 2177 §3: "+" then untagged updates while idling.
        tag = a.tag()
        a.send("%s IDLE\r\n" % tag)
        self.assertTrue(a.resp().startswith("+"))
        self.assertTagged(b.append("idle", message("MARKER idle3"))[1], "OK")
        self.assertEqual(a.resp(), "* 3 EXISTS")
        self.assertTagged(b.cmd("STORE 1 +FLAGS (\\Flagged)")[1], "OK")
        seq, it = fetch_items(a.resp())
        self.assertEqual((seq, it["FLAGS"]), (1, ["\\Flagged"]))
        self.assertTagged(b.cmd("STORE 2 +FLAGS.SILENT (\\Deleted)")[1], "OK")
        self.assertTagged(b.cmd("EXPUNGE")[1], "OK")
        r = a.resp()
        if r.startswith("* 2 FETCH"):  # the \Deleted flag change may come first
            r = a.resp()
        self.assertEqual(r, "* 2 EXPUNGE")
        a.send("DONE\r\n")
        u, t = a.read_until(tag)
        self.assertTagged(t, "OK")
        self.assertEqual(u, [])
        # Outside IDLE the updates wait for a command (RFC 9051 §7).
        self.assertTagged(b.append("idle", message("MARKER idle4"))[1], "OK")
        u, t = a.cmd("NOOP")
        self.assertEqual(u, ["* 3 EXISTS"])
        # FETCH must not send EXPUNGE (RFC 9051 §7.5.1); NOOP then may.
        self.assertTagged(b.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)")[1], "OK")
        self.assertTagged(b.cmd("EXPUNGE")[1], "OK")
        u, t = a.cmd("FETCH 1:3 UID")
        self.assertTagged(t, "OK")
        self.assertFalse([r for r in u if r.endswith(" EXPUNGE")], u)
        u, t = a.cmd("NOOP")
        self.assertIn("* 1 EXPUNGE", u)

    def test_idle_lmtp_delivery(self):
        a = self.c
        self.select(a, "INBOX")
        tag = a.tag()
        a.send("%s IDLE\r\n" % tag)
        self.assertTrue(a.resp().startswith("+"))
        with smtplib.LMTP("127.0.0.1", self.srv.lmtp) as l:
            l.sendmail("sender@example.org", [self.srv.user("alice")],
                       message("MARKER lmtp", to=self.srv.user("alice")))
        r = a.resp()
        self.assertRegex(r, r"^\* \d+ EXISTS$")
        a.send("DONE\r\n")
        u, t = a.read_until(tag)
        self.assertTagged(t, "OK")
        n = int(r.split()[1])
        d = self.fetch(a, "%d BODY.PEEK[HEADER.FIELDS (Subject)]" % n)
        self.assertEqual(d[n]["BODY[HEADER.FIELDS (SUBJECT)]"], b"Subject: MARKER lmtp\r\n\r\n")

    def test_compress(self):
        c = self.c
        self.folder(c, "cz", [message("MARKER cz")])
        u, t = c.cmd("COMPRESS DEFLATE")
        self.assertTagged(t, "OK")
        c.compress()
        u, t = c.cmd("NOOP")
        self.assertTagged(t, "OK")
        self.select(c, "cz")
        d = self.fetch(c, "1 BODY.PEEK[]")
        self.assertEqual(d[1]["BODY[]"], message("MARKER cz"))
        # RFC 4978 §3: a second COMPRESS is NO [COMPRESSIONACTIVE].
        self.assertTagged(c.cmd("COMPRESS DEFLATE")[1], "NO", "COMPRESSIONACTIVE")
        self.assertTagged(c.cmd("COMPRESS NO-SUCH-ALG")[1], "BAD")
        u, t = c.cmd("LOGOUT")
        self.assertTagged(t, "OK")


def corpus_files():
    d = os.environ.get("SP_CORPUS") or "/work/shared/corpus"
    if not os.path.isdir(d):
        return []
    out = []
    for f in sorted(os.listdir(d)):
        p = os.path.join(d, f)
        if f.endswith(".eml") and os.path.isfile(p) and os.path.getsize(p) < (1 << 20):
            out.append(p)
    return out


class TestCorpus(ImapCase):
    """Byte-exact BODY[] round trip of real messages (RFC 9051 §6.4.5:
    BODY[] is the whole message as stored; RFC822.SIZE is its length)."""

    def test_round_trip(self):
        files = corpus_files()
        if not files:
            self.skipTest("no corpus (SP_CORPUS)")
        # a few dozen, spread over the corpus
        step = max(1, len(files) // 40)
        picked = files[::step][:40]
        c = self.srv.login()
        self.folder(c, "corpus")
        sent = []
        for p in picked:
            with open(p, "rb") as f:
                raw = f.read()
            norm = re.sub(rb"\r?\n", b"\r\n", raw)
            if not norm:
                continue
            binary = b"\0" in norm
            u, t = c.append("corpus", norm, binary=binary)
            with self.subTest(file=os.path.basename(p)):
                self.assertTagged(t, "OK", "APPENDUID ")
                sent.append((os.path.basename(p), norm, int(code_of(t).split()[2]), binary))
        self.select(c, "corpus")
        for name, norm, uid, binary in sent:
            with self.subTest(file=name):
                item = "BINARY.PEEK[]" if binary else "BODY.PEEK[]"
                u, t = c.cmd("UID FETCH %d (RFC822.SIZE %s)" % (uid, item))
                self.assertTagged(t, "OK")
                self.assertEqual(len(u), 1, u[:3])
                it = fetch_items(u[0])[1]
                got = it["BINARY[]" if binary else "BODY[]"]
                self.assertEqual(got, norm)
                self.assertEqual(int(it["RFC822.SIZE"]), len(norm))
