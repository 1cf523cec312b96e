#!/usr/bin/env python3
"""Fetch ENVELOPE/BODYSTRUCTURE/sections of corpus messages from a Dovecot
peer (an independent oracle), for review against Sealpost's MIME parser.
Dovecot's answers are test data to review, not truth: see README.md.

  dovecot_oracle.py append CORPUS_DIR                 APPEND every *.eml (CRLF form)
  dovecot_oracle.py fetch NAME [SECTION...]           print items (raw IMAP text) as JSON
Env: ORACLE_PORT (default 20143), ORACLE_USER (default mimeoracle)."""
import json, os, re, socket, sys

PORT = int(os.environ.get("ORACLE_PORT", "20143"))
USER = os.environ.get("ORACLE_USER", "mimeoracle")


def crlf(data):
    return re.sub(rb"\r\n|\r|\n", b"\r\n", data)


class Conn:
    def __init__(self):
        self.s = socket.create_connection(("127.0.0.1", PORT))
        self.f = self.s.makefile("rb")
        self.n = 0
        self.f.readline()
        self.cmd(b"LOGIN " + USER.encode() + b" pass")
        self.cmd(b"SELECT INBOX")

    def read_resp(self):
        """One response line with its literals inlined, as raw bytes."""
        out = b""
        while True:
            line = self.f.readline()
            if not line:
                raise EOFError
            out += line
            m = re.search(rb"~?\{(\d+)\}\r\n$", line)
            if not m:
                return out
            out += self.f.read(int(m.group(1)))

    def cmd(self, c, literal=None):
        self.n += 1
        tag = b"T%d" % self.n
        if literal is not None:
            self.s.sendall(tag + b" " + c + b" ~{%d}\r\n" % len(literal))
            line = self.f.readline()
            if not line.startswith(b"+"):
                raise RuntimeError(line)
            self.s.sendall(literal + b"\r\n")
        else:
            self.s.sendall(tag + b" " + c + b"\r\n")
        resps = []
        while True:
            r = self.read_resp()
            if r.startswith(tag + b" "):
                if not r.startswith(tag + b" OK"):
                    raise RuntimeError(r)
                return resps
            resps.append(r)


def items(resp):
    """Splits '* N FETCH (K V K V)' into {K: raw V}."""
    i = resp.index(b"(") + 1
    res = {}
    while True:
        while resp[i:i + 1] == b" ":
            i += 1
        if resp[i:i + 1] == b")":
            return res
        m = re.compile(rb"[A-Z0-9.]+(\[[^\]]*\](<\d+>)?)?").match(resp, i)
        key = m.group(0).decode()
        i = m.end() + 1
        start = i
        i = skip(resp, i)
        res[key] = resp[start:i]


def skip(b, i):
    c = b[i:i + 1]
    if c == b"(":
        i += 1
        while b[i:i + 1] != b")":
            if b[i:i + 1] == b" ":
                i += 1
                continue
            i = skip(b, i)
        return i + 1
    if c == b'"':
        i += 1
        while b[i:i + 1] != b'"':
            i += 2 if b[i:i + 1] == b"\\" else 1
        return i + 1
    m = re.compile(rb"~?\{(\d+)\}\r\n").match(b, i)
    if m:
        return m.end() + int(m.group(1))
    m = re.compile(rb"[^ ()]+").match(b, i)
    return m.end()


def main():
    c = Conn()
    if sys.argv[1] == "append":
        names = sorted(n for n in os.listdir(sys.argv[2]) if n.endswith(".eml"))
        for n in names:
            with open(os.path.join(sys.argv[2], n), "rb") as fh:
                c.cmd(b"APPEND INBOX", crlf(fh.read()))
        with open(os.path.join(os.path.dirname(__file__) or ".", ".oracle-order"), "w") as fh:
            fh.write("\n".join(names) + "\n")
        return
    names = open(os.path.join(os.path.dirname(__file__) or ".", ".oracle-order")).read().split()
    seq = names.index(sys.argv[2]) + 1
    what = b"ENVELOPE BODYSTRUCTURE RFC822.SIZE"
    for s in sys.argv[3:]:
        what += b" BINARY.PEEK[]" if s == "BINARY" else b" BODY.PEEK[" + s.encode() + b"]"
    r = c.cmd(b"FETCH %d (%s)" % (seq, what))
    res = {}
    for resp in r:
        if b" FETCH " in resp:
            for k, v in items(resp).items():
                res[k] = v.decode("latin1")
    json.dump(res, sys.stdout)


main()
