#!/usr/bin/env bash
# Installs what Sealpost needs to build and test on Debian 12, from
# Debian's packages only (SQLite3MultipleCiphers comes from the npm
# registry at build time: tools/fetch-sqlite3mc.sh). Idempotent: it skips
# apt-get when everything is already there.
set -euo pipefail
PACKAGES=(
	build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev
	libsodium-dev libevent-dev libssl-dev libzstd-dev libpcre2-dev libidn2-dev
	libinih-dev zlib1g-dev python3 openssl ca-certificates clang-format isync fetchmail curl
)
# npm fetches the SQLite3MC amalgamation; a machine with its own Node.js
# already has it.
command -v npm >/dev/null 2>&1 || PACKAGES+=(npm)
missing=()
for p in "${PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -q
	$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
