#!/usr/bin/env python3
"""Writes fuzz seeds: make_seeds.py OUTDIR. OUTDIR/parser (first byte is the
fuzzer's mode byte), OUTDIR/search and OUTDIR/utf7. Seeds are commands
written here, the malformed-command file, and a few small messages from
$SP_CORPUS (../shared/corpus by default) wrapped in APPEND literals."""
import os, sys

here = os.path.dirname(os.path.abspath(__file__))
out = sys.argv[1]
corpus = os.environ.get("SP_CORPUS", os.path.join(here, "../../../../shared/corpus"))

CMDS = [
    b"A1 CAPABILITY\r\n", b"A2 LOGIN alice \"s3cr\\\"et\"\r\n", b"A3 LOGIN {5}\r\nalice {6+}\r\nsecret\r\n",
    b"A4 SELECT INBOX (CONDSTORE)\r\n", b"A5 UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (From To Subject)]<0.512>)\r\n",
    b"A6 FETCH 1,3:5 (BODY[1.2.MIME] BINARY.PEEK[2]<0.100> BINARY.SIZE[1] RFC822.SIZE ENVELOPE)\r\n",
    b"A7 STORE 1:* +FLAGS.SILENT (\\Seen \\Deleted $Forwarded)\r\n",
    b"A8 APPEND INBOX (\\Seen) \" 5-Nov-2020 10:00:00 +0100\" {11}\r\nhello world\r\n",
    b"A9 APPEND Sent ~{4+}\r\na\x00bc (\\Draft) {2+}\r\nhi\r\n",
    b"B1 UID SEARCH RETURN (MIN MAX COUNT) CHARSET UTF-8 OR (FROM alice SINCE 1-Feb-1994) NOT SUBJECT \"x\" UID 1:*\r\n",
    b"B2 SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338 OLDER 3600 YOUNGER 60 SAVEDSINCE 1-Jan-2020 EMAILID M123 THREADID T-1\r\n",
    b"B3 SEARCH X-REGEX SUBJECT \"^\\\\[list\\\\] (?i)invoice\" X-REGEX HEADER X-Spam {4+}\r\nyes.\r\n",
    b"B4 SEARCH HEADER Message-ID <a@b> KEYWORD $Junk UNKEYWORD foo LARGER 100 SMALLER 5000 $\r\n",
    b"B5 SEARCH ALL ANSWERED DELETED DRAFT FLAGGED NEW OLD RECENT SEEN UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNSEEN SAVEDATESUPPORTED\r\n",
    b"B6 SEARCH BCC a BODY b CC c TEXT d TO e BEFORE 1-Jan-2000 ON 29-Feb-2000 SENTBEFORE 1-Jan-2000 SENTON 1-Jan-2000 SENTSINCE 1-Jan-2000 SAVEDBEFORE 1-Jan-2000 SAVEDON 1-Jan-2000\r\n",
    b"C1 IDLE\r\nDONE\r\n", b"C2 AUTHENTICATE PLAIN\r\nAGFsaWNlAHNlY3JldA==\r\n",
    b"C3 LIST (SUBSCRIBED) \"\" (\"INBOX\" \"Sent\") RETURN (CHILDREN STATUS (MESSAGES SIZE))\r\n",
    b"C4 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541 (1:5 3:7)))\r\n",
    b"C5 ID (\"name\" \"x\" \"version\" NIL)\r\nC6 ENABLE UTF8=ACCEPT QRESYNC\r\n",
    b"C7 CREATE \"&AMk-t&AOk-\" (USE (\\Sent))\r\nC8 RENAME [Gmail]/Sent \"Sent Items\"\r\n",
    b"C9 UID MOVE 1:3,7 Trash\r\nD1 UID EXPUNGE 4:*\r\nD2 COMPRESS DEFLATE\r\n",
]
UTF7 = [b"INBOX", b"&-", b"Entw&APw-rfe", b"&AMk-t&AOk-", b"&2D3eAA-", b"~peter/mail/&U,BTFw-/&ZeVnLIqe-",
        b"a&-b", b"&Jjo-!", b"Sent Items"]

def write(d, name, data):
    os.makedirs(os.path.join(out, d), exist_ok=True)
    with open(os.path.join(out, d, name), "wb") as f:
        f.write(data)

n = 0
for i, c in enumerate(CMDS):
    for mode in (0x00, 0x01, 0x83, 0xc7):
        write("parser", "cmd%02d-%02x" % (i, mode), bytes([mode]) + c); n += 1
    write("search", "cmd%02d" % i, c)
with open(os.path.join(here, "malformed.txt"), "rb") as f:
    for i, line in enumerate(f):
        line = line.rstrip(b"\n")
        if len(line) > 2000:
            continue
        write("parser", "bad%03d" % i, b"\x00" + line + b"\r\nZ1 NOOP\r\n"); n += 1
msgs = sorted(x for x in os.listdir(corpus) if x.endswith(".eml"))
small = [m for m in msgs if os.path.getsize(os.path.join(corpus, m)) < 4000][:20]
for m in small:
    body = open(os.path.join(corpus, m), "rb").read()
    cmd = b"A1 APPEND INBOX {%d+}\r\n" % len(body) + body + b"\r\nA2 NOOP\r\n"
    write("parser", "msg-" + m, b"\x00" + cmd); n += 1
for i, u in enumerate(UTF7):
    write("utf7", "u%02d" % i, u)
write("utf7", "utf8-1", "Entwürfe/日本語/😀".encode())
print(n, "parser seeds")
