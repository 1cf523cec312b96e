#!/bin/sh
# Writes seed inputs for fuzz_spool_format (a valid stanza plaintext and
# entry names) and fuzz_spool_file (edits of its template file) into
# DIR/format and DIR/file (default ./seeds-spool).
set -eu
d=${1:-seeds-spool}
mkdir -p "$d/format" "$d/file"
python3 - "$d" <<'PY'
import struct, sys
d = sys.argv[1]
def stanza(folder, headers, body, stream, index=0):
    sid = b"0006283a1b2c3d4e-9af3b2c1"
    raw = bytes([1, 0, 0, 0]) + struct.pack("<I", index) + bytes(range(32))
    raw += struct.pack("<qQQ", 1700000000, body, stream)
    raw += bytes([len(sid)]) + sid + struct.pack("<H", len(folder)) + folder
    raw += struct.pack("<I", len(headers)) + headers
    return raw + bytes(-len(raw) % 1024)
open(f"{d}/format/stanza", "wb").write(stanza(b"INBOX", b"Delivered-To: a@b\r\n", 5000, 8192))
open(f"{d}/format/stanza-big", "wb").write(stanza(b"Archive/2024", b"X: y\r\n" * 300, 70000, 131072, 3))
open(f"{d}/format/name", "wb").write(b"0006283a1b2c3d4e-9af3b2c1.0.2157")
open(f"{d}/format/name-2", "wb").write(b"0006283a1b2c3d4e-9af3b2c1.999.18446744073709551615")
# fuzz_spool_file: mode byte, u32 offset, data
open(f"{d}/file/overwrite-header", "wb").write(b"\x00" + struct.pack("<I", 9) + b"\x03")
open(f"{d}/file/overwrite-stream", "wb").write(b"\x00" + struct.pack("<I", 70000) + b"xyz")
open(f"{d}/file/truncate", "wb").write(b"\x01" + struct.pack("<I", 100000))
open(f"{d}/file/replace", "wb").write(b"\x02\0\0\0\0SPOOL\x01\0\0\x01\0\0\0\x30\x04\0\0")
PY
