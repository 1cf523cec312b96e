#!/usr/bin/env python3
"""Writes seed inputs for the smtp fuzz targets under OUTDIR:
  parser/  every corpus message as DATA content of a pipelined transaction
           (dot-stuffed), and command sequences covering each verb and
           parameter (fuzz_smtp_parser; first byte = flags);
  data/    every corpus message and the smuggling shapes, raw
           (fuzz_smtp_data stuffs them itself; first byte = flags);
  path/    envelope addresses and xtext (fuzz_smtp_path).
Usage: fuzz_smtp_seeds.py CORPUS_DIR OUTDIR"""
import hashlib
import os
import sys

COMMANDS = [
    b"EHLO client.example\r\n", b"HELO [192.0.2.1]\r\n", b"LHLO lmtp.example\r\n",
    b"MAIL FROM:<a@b.example> SIZE=1000 BODY=8BITMIME\r\n",
    b"MAIL FROM:<> RET=HDRS ENVID=QQ+2B314 AUTH=<>\r\n",
    b"MAIL FROM:<jos\xc3\xa9@b.example> SMTPUTF8 BODY=BINARYMIME\r\n",
    b"RCPT TO:<c@d.example> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;c+2Bx@d.example\r\n",
    b"RCPT TO:<Postmaster>\r\n", b"RCPT TO:<@a.example,@b.example:u@[IPv6:::1]>\r\n",
    b"RCPT TO:<\"john \\\"q\\\" doe\"@[192.0.2.1]>\r\n", b"RCPT TO:<u@[x-tag:abc]>\r\n",
    b"RCPT TO:<u@b\xc3\xbccher.example> ORCPT=utf-8;u@b\xc3\xbccher.example\r\n",
    b"DATA\r\nline\r\n..dot\r\n.\r\n", b"DATA\r\na\n.\nb\r\n.\rc\r\n.\r\n",
    b"BDAT 5\r\nhelloBDAT 0 LAST\r\n", b"RSET\r\n", b"NOOP hi\r\n", b"QUIT\r\n",
    b"VRFY user\r\n", b"EXPN list\r\n", b"HELP\r\n", b"STARTTLS\r\n",
    b"AUTH PLAIN AGpvZQBzZWNyZXQ=\r\n", b"AUTH LOGIN\r\ndXNlcg==\r\n",
    b"NO\x00OP\r\n", b"NOOP\n", b"NOOP\rx\r\n", b"\r\n", b"FOO\r\n",
]


def stuff(msg):
    out = bytearray()
    bol = True
    for i, c in enumerate(msg):
        if bol and c == ord("."):
            out.append(c)
        out.append(c)
        bol = c == 10 and i > 0 and msg[i - 1] == 13
    if msg and not bol:
        out += b"\r\n"
    return bytes(out) + b".\r\n"


PATHS = [
    b"<a@b.example>", b"<>", b"<Postmaster>", b"<@a.example,@b.example:u@c.example>",
    b"<\"j \\\"d\"@[192.0.2.1]>", b"<u@[IPv6:2001:db8::1]>", b"<u@[tag:x]>",
    b"<jos\xc3\xa9@b\xc3\xbccher.example>", b"a+2Bb+3D", b"u@example.com",
    b"<a..b.@docomo.ne.jp>",
]

SMUGGLING = [
    b"a\n.\nb\r\n", b"a\r.\rb", b"a\r\n.\nMAIL FROM:<x@y>\r\n", b"a\n.\r\nb",
    b"a\r\n.\rb\r\n", b"a\r\n.\r\r\n", b".\r\n..\r\n.x\r\n", b"\r\n.\r", b"\0\xff.\r\n",
]


def write(outdir, data):
    os.makedirs(outdir, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(outdir, name), "wb") as f:
        f.write(data)


def main():
    corpus, top = sys.argv[1], sys.argv[2]
    outdir = os.path.join(top, "parser")
    head = (b"LHLO c.example\r\nMAIL FROM:<a@b.example> BODY=8BITMIME\r\n"
            b"RCPT TO:<c@d.example>\r\nDATA\r\n")
    for n, name in enumerate(sorted(os.listdir(corpus))):
        if not name.endswith(".eml"):
            continue
        with open(os.path.join(corpus, name), "rb") as f:
            msg = f.read()[:16384]
        flags = bytes([(n % 8) << 5 | (0x01 if n % 2 else 0) | (0x08 if n % 5 == 0 else 0)])
        write(outdir, flags + head + stuff(msg) + b"QUIT\r\n")
        write(os.path.join(top, "data"), flags + msg[:8192])
    for i, cmd in enumerate(COMMANDS):
        for flags in (0x00, 0x01, 0x12):
            write(outdir, bytes([flags]) + cmd)
    write(outdir, b"\x00" + b"".join(COMMANDS))
    for i, m in enumerate(SMUGGLING):
        write(os.path.join(top, "data"), bytes([i * 29 % 256]) + m)
    for p in PATHS:
        write(os.path.join(top, "path"), p)


if __name__ == "__main__":
    main()
