#!/usr/bin/env bash
# Fails when a C file differs from what clang-format (.clang-format) makes of it.
set -euo pipefail
cd "$(dirname "$0")/.."
bad=0
while IFS= read -r f; do
	if ! clang-format --style=file "$f" | cmp -s - "$f"; then
		echo "check-format: $f is not formatted (clang-format -i $f)" >&2
		bad=1
	fi
done < <(git ls-files '*.c' '*.h' 2>/dev/null || find src tests bench -name '*.[ch]')
[ $bad -eq 0 ] && echo "check-format: ok"
exit $bad
