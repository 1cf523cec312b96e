#!/usr/bin/env python3
"""Writes malformed.txt: one malformed IMAP command per line, each of which
the command parser must answer with an error event while staying usable.
"\\xHH" in a line stands for that octet (CTLs, NUL, 8-bit, CR LF inside a
command that carries a literal). Lines are written by hand below; a few
long ones (limits) are generated."""
import os

L = []
def add(*lines):
    L.extend(lines)

# tags
add(r"* NOOP", r"+ NOOP", r" NOOP", r'A"1 NOOP', r"A(1 NOOP", r"A)1 NOOP", r"A{1 NOOP",
    r"A%1 NOOP", r"A*1 NOOP", r"A+1 NOOP", r"A\1 NOOP", r"\x01A NOOP", r"\x7fA NOOP",
    r"\xffA NOOP", r"A1\x00 NOOP", r"A\x09 NOOP", r"(A1) NOOP", r'"A1" NOOP', r"{3}",
    r"\xc3\xa9 NOOP")
# command name
add(r"A1", r"A1 ", r"A1  NOOP", r"A1 UID", r"A1 UID ", r"A1 UID  FETCH 1 FLAGS",
    r'A1 NO"OP', r"A1 NO(OP", r'A1 "NOOP"', r"A1 (NOOP)", r"A1 \NOOP", r"A1 NOOP(",
    r"A1 {4}", r"A1 UID {5}", r"A1 NO\x00OP", r"A1 N\xc3\xb6OP", r"A1 NOOP\x0dX",
    r"A1 SELECT\x09INBOX", r"A1 UID\x0d", r"A1 UID FETCH\x01")
# spacing
add(r"A1 NOOP ", r"A1 SELECT INBOX ", r"A1 LOGIN  alice secret", r"A1 FETCH 1  FLAGS",
    r"A1 FETCH 1 ( FLAGS)", r"A1 FETCH 1 (FLAGS )", r"A1 FETCH 1 (FLAGS  UID)",
    r"A1 STORE 1 +FLAGS ( \Seen)", r"A1 STORE 1 +FLAGS (\Seen )", r"A1 LIST  \"\" *",
    r"A1 STATUS INBOX (MESSAGES  UNSEEN)", r"A1 SEARCH  ALL", r"A1 SEARCH ALL ",
    r"A1 APPEND INBOX  {3+}\x0d\x0aabc", r"A1 COPY 1:2  Trash", r"A1 UID FETCH 1 (FLAGS) ",
    r"A1 ENABLE  CONDSTORE", r"A1 ID ( \"name\" \"x\")", r"A1 SELECT INBOX (CONDSTORE )",
    r"A1 LOGOUT  ")
# parentheses
add(r"A1 FETCH 1 (FLAGS", r"A1 FETCH 1 FLAGS)", r"A1 FETCH 1 ((FLAGS)", r"A1 FETCH 1 (FLAGS))",
    r"A1 STORE 1 +FLAGS (\Seen", r"A1 SEARCH (OR SEEN DRAFT", r"A1 SEARCH OR SEEN DRAFT)",
    r"A1 FETCH 1(FLAGS)", r"A1 FETCH 1 (FLAGS)(UID)", r"A1 STATUS INBOX(MESSAGES)",
    r"A1 FETCH )", r"A1 SEARCH ())", r"A1 LIST (SUBSCRIBED \"\" *", r"A1 ID (\"a\" \"b\"",
    r"A1 SELECT INBOX (QRESYNC (1 2)", r"A1 FETCH 1 (FLAGS)x", r"A1 X ((a)b)", r"A1 X (a)(b)",
    r"A1 X )(", r"A1 SEARCH NOT (SEEN")
# quoted strings
add(r'A1 LOGIN "alice pass', r'A1 LOGIN "a\lice" x', r'A1 SELECT "IN\BOX"',
    r'A1 SELECT "INBOX"x', r'A1 SELECT "a\x0db"', r'A1 SELECT "a\x00b"', r'A1 LOGIN alice "',
    r'A1 LOGIN "alice\"', r'A1 SEARCH SUBJECT "a\n"', r'A1 LIST "" "a"b"',
    r'A1 SEARCH SUBJECT "abc"(', r'A1 RENAME "a" "b', r'A1 SELECT "', r'A1 CREATE "x\\\y"',
    r'A1 LOGIN "alice""secret"', r'A1 LOGIN "a\u0041"', r'A1 STATUS "INBOX(MESSAGES)',
    r'A1 SEARCH HEADER "X-A"x "b"', r'A1 SUBSCRIBE "\"', r'A1 DELETE "a\x0a')
# atoms
add(r"A1 SELECT Entw\xc3\xbcrfe", r"A1 SELECT IN\x01BOX", r'A1 SELECT a"b', r"A1 SELECT a{b",
    r'A1 LIST "" a\b', r"A1 SELECT IN\x7fBOX", r"A1 SEARCH SUBJECT caf\xc3\xa9",
    r"A1 LOGIN al\x00ice x", r"A1 FETCH 1:3\x0b FLAGS", r"A1 CREATE foo\x1bbar",
    r"A1 SELECT \x80", r'A1 FETCH 1 FLAGS"', r"A1 SEARCH TEXT ab{3}",
    r"A1 EXAMINE IN\x0dBOX", r"A1 STORE 1 FLAGS (\Seen\Draft)", r"A1 STORE 1 FLAGS (\)",
    r"A1 STORE 1 FLAGS \ ", r"A1 STORE 1 FLAGS (\Se\en)", r"A1 STORE 1 FLAGS (\(Seen)",
    r"A1 STORE 1 FLAGS (\\Seen)")
# literals
add(r"A1 LOGIN {}", r"A1 LOGIN {x}", r"A1 LOGIN {5-}", r"A1 LOGIN {5}x", r"A1 LOGIN {+}",
    r"A1 LOGIN {5++}", r"A1 LOGIN {-5}", r"A1 LOGIN {99999999999999999999}",
    r"A1 LOGIN { 5}", r"A1 LOGIN {5 }", r"A1 LOGIN ~{}", r"A1 LOGIN {5+} x",
    r"A1 APPEND INBOX {99999999999}", r"A1 APPEND INBOX ~{99999999999}",
    r"A1 LOGIN {3+}\x0d\x0aa\x00b c", r"A1 LOGIN {3+}\x0d\x0aabcdef",
    r"A1 LOGIN {3+}\x0d\x0aabc(", r"A1 LOGIN {1+}\x0d\x0aa  b", r"A1 LOGIN {5",
    r"A1 LOGIN {5}{6}", r"A1 LOGIN ~{5", r"A1 LOGIN ~x{5}", r"A1 SEARCH {4294967296000}",
    r"A1 LOGIN {0x10}", r"A1 LOGIN {1e3}", r"A1 APPEND INBOX {3+}\x0d\x0aa\x00c",
    r"A1 APPEND INBOX (\Seen) {4+}\x0d\x0aab\x00c x", r"A1 LOGIN {2+}\x0d\x0aab )",
    r"A1 X ({2+}\x0d\x0aab", r"A1 X {2+}\x0d\x0aab {0+}\x0d\x0a )")
# FETCH sections
for sec in [r"BODY[", r"BODY[MIME]", r"BODY[1.]", r"BODY[0]", r"BODY[01]", r"BODY[1..2]",
            r"BODY[HEADER.FIELDS]", r"BODY[HEADER.FIELDS ()]", r"BODY[HEADER.FIELDS (A]",
            r"BODY[HEADER.FIELDS(A)]", r"BODY[HEADER.FIELDS.NOT]", r"BODY[TEXT]<",
            r"BODY[TEXT]<1>", r"BODY[TEXT]<1.0>", r"BODY[TEXT]<a.b>", r"BODY[TEXT]<1.2",
            r"BODY[]x", r"BINARY[TEXT]", r"BINARY[1.MIME]", r"BINARY.SIZE[1]<0.1>",
            r"BODY.PEEK[FOO]", r"BODY[1.FOO]", r'BODY[HEADER.FIELDS ("A)]',
            r'BODY[HEADER.FIELDS ("")]', r"BODY[HEADER.FIELDS (A  B)]",
            r"BODY[HEADER.FIELDS ( A)]", r"BODY[99999999999]",
            r"BODY[TEXT]<99999999999999999999.1>", r"BINARY[1.2.]", r"BODY[HEADER]]",
            r"BODY[HEADER.FIELDS ({3}abc)]", r"BODY[TEXT ]", r"BODY[ TEXT]",
            r"BODY[HEADER.FIELDS (A) ]", r"BODY[1.2.3.TEXT.X]", r"BODY.PEEK[HEADER]<0.>",
            r"BINARY.PEEK[HEADER]", r"BODY[HEADER.FIELDS.NOT (A B]", r"BODY[TEXT]<0.1>(",
            r"BODY[1.HEADER.FIELDS.NOT ()]"]:
    add("A1 FETCH 1 (" + sec + ")")
add(r"A1 UID FETCH 1:* BODY[", r"A1 UID FETCH 1 (BODY.PEEK[HEADER.FIELDS (From To)] BODY[0])",
    r"A1 FETCH 1 BINARY[1]<5>", r"A1 FETCH 1 body[text]<1.2>>", r"A1 FETCH 1 BODY[\x01]")
# nesting, argument count and line length limits (defaults 32, 4096, 64 KiB)
add("A1 X " + "(" * 33 + "a" + ")" * 33)
add("A1 SEARCH " + "(" * 40 + "ALL" + ")" * 40)
add("A1 X " + " ".join(["a"] * 4097))
add("A1 FETCH " + ",".join(str(i) for i in range(1, 14000)) + " FLAGS")
add("A1 LOGIN " + "x" * 70000 + " y")
add("A1 X " + "(a " * 4000 + ")" * 4000)
# miscellaneous
add(r"A1 SELECT INBOX\x00", r"A1 IDLE\x00", r"A1 NOOP\x0d\x0d", r"A1 X\x0c",
    r"A1 AUTHENTICATE PLAIN AGFs\x00aWNl", r"A1 LOGIN alice secret\x1a",
    r"A1 ENABLE UTF8=ACCEPT\x08", r"A1 GETQUOTAROOT INBOX)", r'A1 ID ("name" "x") "',
    r"A1 COMPRESS DEFLATE(", r"A1 SETQUOTA \"\" (STORAGE 10", r"A1 MOVE 1:* \"Trash",
    r"A1 SORT (DATE) UTF-8 ALL)", r"A1 THREAD REFERENCES UTF-8 (ALL", r"A1 NAMESPACE ()x",
    r"A1 UNSELECT \x7f", r"A1 CHECK\x7f", r"A1 XLIST \"\" \"*",
    r"A1 GETMETADATA (DEPTH 1 INBOX", r"A1 STATUS INBOX (MESSAGES UIDNEXT) )")

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "malformed.txt"), "w") as f:
    for line in L:
        f.write(line + "\n")
print(len(L), "lines")
