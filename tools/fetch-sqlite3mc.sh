#!/usr/bin/env bash
# Fetch the SQLite3MultipleCiphers amalgamation from the pinned npm package
# better-sqlite3-multiple-ciphers, verify the tarball's SHA-256 and unpack
# sqlite3.c/sqlite3.h into DIR. Usage: fetch-sqlite3mc.sh DIR
set -euo pipefail
PKG=better-sqlite3-multiple-ciphers
VERSION=12.11.1    # SQLite 3.53.2, SQLite3 Multiple Ciphers 2.3.5
SHA256=01388c78f46ce63c6aec021f67b364cc67bd637edba64f7add0c0230ce5f777a
dir=${1:?usage: fetch-sqlite3mc.sh DIR}
mkdir -p "$dir"
tarball="$dir/$PKG-$VERSION.tgz"
if [ ! -f "$tarball" ] || ! echo "$SHA256  $tarball" | sha256sum -c --status; then
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	(cd "$tmp" && npm pack --silent "$PKG@$VERSION" >/dev/null)
	mv "$tmp/$PKG-$VERSION.tgz" "$tarball"
fi
if ! echo "$SHA256  $tarball" | sha256sum -c --status; then
	echo "fetch-sqlite3mc: checksum mismatch for $tarball" >&2
	rm -f "$tarball"
	exit 1
fi
tar -xzf "$tarball" -C "$dir" --strip-components=3 \
	package/deps/sqlite3/sqlite3.c package/deps/sqlite3/sqlite3.h package/deps/sqlite3/sqlite3ext.h
echo "fetch-sqlite3mc: $PKG@$VERSION verified" >&2
