#!/bin/sh
# Writes seed inputs for fuzz_keys_text into DIR (default ./seeds-keys).
set -eu
d=${1:-seeds-keys}
mkdir -p "$d"
printf 'abcdefgh-23456789abcdefghijkmnpqrst' >"$d/password"
printf 'ABCDEFGH-23456789ABCDEFGHIJKMNPQRST' >"$d/password-upper"
printf 'R-abcdefgh-2345-6789-abcd-efgh-ijkm-npqr-stuv-wxyz-2345-6789-abcd-efgh-ijkm' >"$d/recovery"
printf 'r abcdefgh 2345 6789 abcd efgh ijkm npqr stuv wxyz 2345 6789 abcd efgh ijkm' >"$d/recovery-spaces"
printf 'correct horse battery staple' >"$d/chosen"
printf 'R-' >"$d/r-only"
