#!/usr/bin/env bash
# Fails when our C sources call a banned function (STYLE.md: strcpy,
# strcat, sprintf, vsprintf, gets, strtok, atoi, atol).
set -euo pipefail
cd "$(dirname "$0")/.."
if grep -rnE '\b(strcpy|strcat|sprintf|vsprintf|gets|strtok|atoi|atol)[[:space:]]*\(' \
	--include='*.c' --include='*.h' src tests bench tools 2>/dev/null; then
	echo "check-banned: banned function used (see STYLE.md)" >&2
	exit 1
fi
echo "check-banned: ok"
