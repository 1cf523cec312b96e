#!/bin/sh
# Seeds the store fuzzer: every corpus message as a message-mode input
# (a leading 0x00 byte). Usage: seed.sh OUTDIR [CORPUS_DIR]
set -eu
out=$1
corpus=${2:-$(dirname "$0")/../../../shared/corpus}
mkdir -p "$out"
for f in "$corpus"/*.eml; do
	{ printf '\000'; cat "$f"; } > "$out/$(basename "$f" .eml)"
done
