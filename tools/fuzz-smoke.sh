#!/usr/bin/env bash
# Runs every libFuzzer target in BUILD_DIR for SECONDS each, seeded from
# the shared corpus and the target's own seeds (a directory named like the
# target under its source directory's fuzz-seeds/, when present).
set -euo pipefail
build=${1:?usage: fuzz-smoke.sh BUILD_DIR SECONDS}
seconds=${2:-20}
root=$(cd "$(dirname "$0")/.." && pwd)
corpus="$root/../shared/corpus"
status=0
while IFS= read -r target; do
	name=$(basename "$target")
	work=$(mktemp -d)
	seeds=()
	for d in "$root"/src/*/fuzz-seeds/"$name"; do
		[ -d "$d" ] && seeds+=("$d")
	done
	[ -d "$corpus" ] && seeds+=("$corpus")
	echo "fuzz: $name for ${seconds}s"
	if ! "$target" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$work/" \
		-print_final_stats=0 "$work" "${seeds[@]}" >"$work.log" 2>&1; then
		echo "fuzz: $name FAILED" >&2
		tail -50 "$work.log" >&2
		status=1
	fi
	rm -rf "$work" "$work.log"
done < <(find "$build" -maxdepth 3 -type f -executable -name 'fuzz_*' | sort)
exit $status
