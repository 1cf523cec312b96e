#!/usr/bin/env bash
# The README's run command: installs dependencies, builds the release
# binary, initialises a data directory with the demo domain example.test and
# the alias demo@example.test, prints the address, its password and every
# port, and runs the server in the foreground (Ctrl-C stops it).
# DATA (default ./demo-data) chooses the data directory.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build build -j"$(nproc)" --target sealpost
DATA=${DATA:-$PWD/demo-data}
bin=build/sealpost
if [ ! -f "$DATA/accounts.db" ]; then
	out=$($bin --data-dir "$DATA" init --demo --hostname localhost)
else
	# The demo's password was shown once; make a fresh demo mailbox so
	# there is a password to show again.
	$bin --data-dir "$DATA" alias remove demo@example.test >/dev/null
	out=$($bin --data-dir "$DATA" alias add demo@example.test)
fi
password=$(printf '%s\n' "$out" | tail -n 1)
recovery=$(printf '%s\n' "$out" | sed -n 's/^Recovery key: //p')
cat <<MSG

Sealpost demo
  data directory: $DATA
  address:        demo@example.test
  password:       $password
  recovery key:   $recovery

MSG
exec $bin --data-dir "$DATA" serve --foreground
