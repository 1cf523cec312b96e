#!/usr/bin/env bash
# LMTP delivery side by side (issue 11): smtp-source -L with 20 sessions
# straight into Sealpost's LMTP, Dovecot's LMTP (maildir) and Dovecot with
# mail_crypt (CRYPT=1), interleaved rounds, 4 KiB and 64 KiB messages.
# Reports messages/s, server CPU seconds per 1,000 messages (machine CPU
# during the run minus the client's) and Sealpost's peak RSS; medians.
#   bench/lmtp.sh [MESSAGES] [ROUNDS]     (defaults 2000 and 3)
# Needs root (Dovecot and Postfix packages are installed by the peers'
# scripts). Everything listens on 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-2000}
ROUNDS=${2:-3}
BIN=${SEALPOST_BIN:-build/sealpost}
PEERS=${PEERS:-../shared/peers}
# The servers' data lives in a tree of its own (MAIL_PARENT, default
# /var/lib), as a mail store does, away from /tmp: on this machine's ext4
# without a journal, creating an inode scans past every inode deleted in
# the last minute of its block group, and /tmp sees whole test trees go.
WORK=$(mktemp -d "${MAIL_PARENT:-/var/lib}/sp-bench-XXXXXX")
chmod 755 "$WORK"
SP_PORT=12424

cleanup() {
	bash "$PEERS/dovecot.sh" stop "$WORK/dovecot" >/dev/null 2>&1 || true
	CRYPT=1 bash "$PEERS/dovecot.sh" stop "$WORK/dovecot-crypt" >/dev/null 2>&1 || true
	[ -n "${SP_PID:-}" ] && kill "$SP_PID" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT

[ -x /usr/bin/time ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -q time >/dev/null
if ! command -v smtp-source >/dev/null; then
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q postfix >/dev/null
fi

# Dovecot plain and with mail_crypt, on their own ports.
bash "$PEERS/dovecot.sh" start "$WORK/dovecot" >/dev/null
IMAP_PORT=11143 POP3_PORT=11110 LMTP_PORT=11024 CRYPT=1 \
	bash "$PEERS/dovecot.sh" start "$WORK/dovecot-crypt" >/dev/null

# Sealpost with the real Argon2id setting (not the tests' fast one).
unset SEALPOST_TEST_KDF
"$BIN" --data-dir "$WORK/sealpost" init --hostname bench.test >/dev/null
"$BIN" --data-dir "$WORK/sealpost" domain add peer.test >/dev/null
"$BIN" --data-dir "$WORK/sealpost" alias add user1@peer.test >/dev/null
"$BIN" --data-dir "$WORK/sealpost" serve --foreground --lmtp=127.0.0.1:$SP_PORT \
	>"$WORK/sealpost.out" 2>"$WORK/sealpost.log" &
SP_PID=$!
for _ in $(seq 50); do
	(exec 3<>/dev/tcp/127.0.0.1/$SP_PORT) 2>/dev/null && break
	sleep 0.1
done

cpu_jiffies() { awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat; }
HZ=$(getconf CLK_TCK)

# run NAME PORT SIZE -> "seconds server_cpu_seconds"
run() {
	local port=$2 size=$3 t0 t1 c0 c1 client
	c0=$(cpu_jiffies)
	t0=$(date +%s.%N)
	client=$( { /usr/bin/time -f "%U %S" smtp-source -L -s 20 -m "$N" -l "$size" \
		-f sender@remote.test -t user1@peer.test "127.0.0.1:$port" >/dev/null; } 2>&1 | tail -1)
	t1=$(date +%s.%N)
	c1=$(cpu_jiffies)
	awk -v t0="$t0" -v t1="$t1" -v c0="$c0" -v c1="$c1" -v hz="$HZ" -v cl="$client" \
		'BEGIN { split(cl, a, " "); printf "%.3f %.3f\n", t1 - t0, (c1 - c0) / hz - a[1] - a[2] }'
}

median() { sort -n | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

echo "# smtp-source -L -s 20 -m $N, $ROUNDS interleaved rounds, medians ($(date -u +%F))"
printf "%-22s %7s %10s %14s\n" target size msgs/s "cpu s/1000"
for size in 4096 65536; do
	declare -A rate=() cpu=()
	for round in $(seq "$ROUNDS"); do
		for target in sealpost:$SP_PORT dovecot:10024 dovecot-crypt:11024; do
			name=${target%%:*}
			read -r secs cpus < <(run "$name" "${target##*:}" "$size")
			rate[$name]+="$(awk -v n="$N" -v s="$secs" 'BEGIN{printf "%.1f", n/s}') "
			cpu[$name]+="$(awk -v n="$N" -v c="$cpus" 'BEGIN{printf "%.3f", c*1000/n}') "
		done
	done
	for name in sealpost dovecot dovecot-crypt; do
		r=$(echo "${rate[$name]}" | tr ' ' '\n' | grep . | median)
		c=$(echo "${cpu[$name]}" | tr ' ' '\n' | grep . | median)
		printf "%-22s %7s %10s %14s\n" "$name" "$size" "$r" "$c"
	done
	unset rate cpu
done
echo "sealpost peak RSS: $(awk '/VmHWM/{print $2, $3}' /proc/$SP_PID/status)"
