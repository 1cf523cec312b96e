#!/usr/bin/env bash
# Sealpost's own CPU per LMTP delivery, to compare builds side by side:
# for each round and each BIN, a fresh server takes smtp-source -L -s 20
# -m N -l 4096; reported per round: messages/s and the server process's
# CPU time (utime + stime) per message. Every data directory stays until
# the end (MAIL_PARENT, default /var/lib): on this machine's ext4 without
# a journal, inodes deleted in the last minutes slow down every inode
# creation, and would weigh on whichever run came next.
#   bench/lmtp-cpu.sh MESSAGES ROUNDS BIN [BIN...]
# Needs smtp-source (Debian's postfix package); 127.0.0.1 only.
set -euo pipefail
N=${1:?usage: bench/lmtp-cpu.sh MESSAGES ROUNDS BIN [BIN...]}
ROUNDS=${2:?usage: bench/lmtp-cpu.sh MESSAGES ROUNDS BIN [BIN...]}
shift 2
PORT=${PORT:-12425}
WORK=$(mktemp -d "${MAIL_PARENT:-/var/lib}/sp-lmtpcpu-XXXXXX")
cleanup() {
	[ -n "${SP_PID:-}" ] && kill "$SP_PID" 2>/dev/null && wait "$SP_PID" 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT
unset SEALPOST_TEST_KDF
HZ=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$SP_PID/stat"; }

# run BIN DIR -> one line
run() {
	local bin=$1 data=$2 c0 c1 t0 t1
	"$bin" --data-dir "$data" init >/dev/null
	"$bin" --data-dir "$data" domain add peer.test >/dev/null
	"$bin" --data-dir "$data" alias add user1@peer.test >/dev/null
	"$bin" --data-dir "$data" serve --foreground --lmtp=127.0.0.1:$PORT >/dev/null 2>&1 &
	SP_PID=$!
	for _ in $(seq 50); do
		(exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break
		sleep 0.1
	done
	c0=$(cpu)
	t0=$(date +%s.%N)
	smtp-source -L -s 20 -m "$N" -l 4096 -f s@remote.test -t user1@peer.test "127.0.0.1:$PORT"
	t1=$(date +%s.%N)
	c1=$(cpu)
	kill "$SP_PID"
	wait "$SP_PID" 2>/dev/null || true
	SP_PID=
	awk -v a="$t0" -v b="$t1" -v n="$N" -v c=$((c1 - c0)) -v hz="$HZ" -v bin="$bin" \
		'BEGIN{printf "%-40s %6.0f msg/s, server cpu %.3f ms/msg\n", bin, n/(b-a), c/hz*1000/n}'
}

i=0
for round in $(seq "$ROUNDS"); do
	for bin in "$@"; do
		i=$((i + 1))
		run "$bin" "$WORK/$i"
	done
done
