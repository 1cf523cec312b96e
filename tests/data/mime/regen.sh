#!/bin/sh
# Rewrites the golden files listed in golden.list from mime-dump's output
# and prints every difference from Dovecot's answers (see README.md).
#   regen.sh BUILD_DIR [ORACLE_DIR]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: regen.sh BUILD_DIR [ORACLE_DIR]}
oracle=${2:-/tmp/mime-oracle}
corpus=$here/../../../../shared/corpus
names=$(cat "$here/golden.list")
# shellcheck disable=SC2086
python3 "$here/compare.py" "$build/src/mime/mime-dump" "$corpus" "$oracle" $names --write $names
