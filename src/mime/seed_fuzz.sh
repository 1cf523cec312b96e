#!/bin/sh
# Seeds a libFuzzer corpus directory for fuzz_mime from ../shared/corpus:
# every message up to 64 KiB whole, larger ones cut to their first 64 KiB.
#   seed_fuzz.sh CORPUS_DIR OUT_DIR
set -eu
src=${1:?usage: seed_fuzz.sh CORPUS_DIR OUT_DIR}
out=${2:?usage: seed_fuzz.sh CORPUS_DIR OUT_DIR}
mkdir -p "$out"
for f in "$src"/*.eml; do
	head -c 65536 "$f" >"$out/$(basename "$f")"
done
