#!/usr/bin/env python3
"""Compares mime-dump (Sealpost) with Dovecot's answers saved by
dovecot_oracle.py, and optionally writes golden files.

  compare.py MIME_DUMP CORPUS ORACLE_DIR [--write NAME...] [--quiet]

For each corpus message: ENVELOPE and BODYSTRUCTURE must equal Dovecot's
byte for byte, or the difference is listed; each section range of ours is
checked against the bytes Dovecot returned for that section."""
import json, os, re, subprocess, sys


def crlf(data):
    return re.sub(rb"\r\n|\r|\n", b"\r\n", data)


def unescape(s):
    out = bytearray()
    i = 0
    b = s.encode("latin1")
    while i < len(b):
        c = b[i:i + 1]
        if c == b"\\":
            n = b[i + 1:i + 2]
            if n == b"r":
                out += b"\r"; i += 2
            elif n == b"n":
                out += b"\n"; i += 2
            elif n == b"x":
                out.append(int(b[i + 2:i + 4], 16)); i += 4
            else:
                out += n; i += 2
        else:
            out += c; i += 1
    return bytes(out)


def fnv(b):
    h = 0xcbf29ce484222325
    for c in b:
        h ^= c
        h = (h * 0x100000001b3) & 0xffffffffffffffff
    return h


def imap_value(v):
    """Bytes of an IMAP nstring as Dovecot sent it."""
    if v is None or v == "NIL":
        return None
    b = v.encode("latin1")
    m = re.match(rb"~?\{(\d+)\}\r\n", b)
    if m:
        return b[m.end():]
    if b.startswith(b'"'):
        return re.sub(rb"\\(.)", rb"\1", b[1:-1])
    return b


def compare(dump, corpus, oracle_dir, name):
    data = crlf(open(os.path.join(corpus, name), "rb").read())
    mine = subprocess.run([dump, os.path.join(corpus, name)], capture_output=True, check=True).stdout
    text = mine.decode("latin1")
    ora = json.load(open(os.path.join(oracle_dir, name + ".json")))
    diffs = []
    for line in text.splitlines():
        key, _, val = line.partition(" ")
        if key in ("ENVELOPE", "BODYSTRUCTURE"):
            if unescape(val) != ora.get(key, "").encode("latin1"):
                diffs.append((key, unescape(val), ora.get(key, "").encode("latin1")))
        elif key == "SECTION":
            spec, _, res = val.partition("\t")
            theirs = imap_value(ora.get("BODY[%s]" % spec, ora.get("BODY[%s]" % spec.upper())))
            if res == "NIL":
                if theirs not in (None, b""):
                    diffs.append(("SECTION " + spec, b"NIL", theirs[:200]))
                continue
            if res.startswith("built"):
                _, ln, h = res.split()
                if theirs is None or int(ln) != len(theirs) or int(h, 16) != fnv(theirs):
                    diffs.append(("SECTION " + spec, res.encode(), (theirs or b"NIL")[:300]))
                continue
            off, ln = map(int, res.split())
            ours = data[off:off + ln]
            if off + ln > len(data):
                diffs.append(("SECTION " + spec, b"OUT OF RANGE", b""))
            elif theirs is None or ours != theirs:
                diffs.append(("SECTION " + spec, ours[:300], (theirs or b"NIL")[:300]))
    return mine, diffs


def main():
    dump, corpus, oracle_dir = sys.argv[1:4]
    rest = sys.argv[4:]
    quiet = "--quiet" in rest
    write = rest[rest.index("--write") + 1:] if "--write" in rest else []
    names = sorted(n for n in os.listdir(corpus) if n.endswith(".eml"))
    if len(rest) and not rest[0].startswith("--"):
        names = [n for n in rest if n.endswith(".eml")]
    same = 0
    for name in names:
        mine, diffs = compare(dump, corpus, oracle_dir, name)
        if not diffs:
            same += 1
        elif not quiet:
            print("==", name)
            for k, a, b in diffs:
                print("  %s\n    ours:    %r\n    dovecot: %r" % (k, a, b))
        if name in write:
            here = os.path.dirname(os.path.abspath(__file__))
            with open(os.path.join(here, name[:-4] + ".golden"), "wb") as fh:
                fh.write(b"# " + name.encode() + b": reviewed, see README.md\n" + mine)
    print("%d of %d identical to Dovecot" % (same, len(names)))


main()
