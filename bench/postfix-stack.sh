#!/usr/bin/env bash
# The whole delivery stack side by side (issue 11): Postfix -> Sealpost
# (LMTP), Postfix -> Dovecot (LMTP, maildir) and Postfix -> smtp-sink -L
# (the bound Postfix itself sets). smtp-source -s 20 sends N messages of
# each size in SIZES (default "4096") to Postfix; the time runs until
# Postfix has logged every one of them as sent. Interleaved rounds,
# medians; also Sealpost's CPU seconds per 1,000 messages (its process,
# during its rounds) and its peak RSS.
#   bench/postfix-stack.sh [MESSAGES] [ROUNDS]    (defaults 2000 and 3)
# MAIL_PARENT puts the mail servers' data elsewhere (default /var/lib).
# Needs root; everything stays on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-2000}
ROUNDS=${2:-3}
BIN=${SEALPOST_BIN:-build/sealpost}
PEERS=${PEERS:-../shared/peers}
WORK=$(mktemp -d /tmp/sp-stack-XXXXXX)
# The mail servers' data lives in a tree of its own, as /var/lib/sealpost
# or /var/vmail do beside /var/spool/postfix: on this machine's ext4
# without a journal, creating an inode scans past every inode deleted in
# the last seconds in the same block group, and Postfix deletes one queue
# file per message. Sharing Postfix's tree cost Sealpost 40 % of its CPU
# in that scan (Dovecot the same kind of cost for its maildir files).
MAIL=$(mktemp -d "${MAIL_PARENT:-/var/lib}/sp-stack-XXXXXX")
chmod 755 "$WORK" "$MAIL"
declare -A SMTP=([sealpost]=12501 [dovecot]=12502 [smtp-sink]=12503)
declare -A LMTP=([sealpost]=12424 [dovecot]=10024 [smtp-sink]=12026)

cleanup() {
	for t in sealpost dovecot smtp-sink; do
		bash "$PEERS/postfix.sh" stop "$WORK/postfix-$t" >/dev/null 2>&1 || true
	done
	bash "$PEERS/dovecot.sh" stop "$MAIL/dovecot" >/dev/null 2>&1 || true
	[ -n "${SP_PID:-}" ] && kill "$SP_PID" 2>/dev/null || true
	[ -n "${SINK_PID:-}" ] && kill "$SINK_PID" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$WORK" "$MAIL"
}
trap cleanup EXIT

bash "$PEERS/dovecot.sh" start "$MAIL/dovecot" >/dev/null 2>&1
unset SEALPOST_TEST_KDF
"$BIN" --data-dir "$MAIL/sealpost" init --hostname bench.test >/dev/null
"$BIN" --data-dir "$MAIL/sealpost" domain add peer.test >/dev/null
"$BIN" --data-dir "$MAIL/sealpost" alias add user1@peer.test >/dev/null
"$BIN" --data-dir "$MAIL/sealpost" serve --foreground --lmtp=127.0.0.1:${LMTP[sealpost]} \
	>/dev/null 2>"$WORK/sealpost.log" &
SP_PID=$!
for t in sealpost dovecot smtp-sink; do
	SMTP_PORT=${SMTP[$t]} LMTP_TARGET=inet:127.0.0.1:${LMTP[$t]} \
		bash "$PEERS/postfix.sh" start "$WORK/postfix-$t" >/dev/null
done
smtp-sink -u postfix -L -c 127.0.0.1:${LMTP[smtp-sink]} 1000 >/dev/null 2>&1 &
SINK_PID=$!
sleep 1

sent() { grep -c "status=sent" "$WORK/postfix-$1/postfix.log" 2>/dev/null || true; }

# run TARGET -> seconds until Postfix logged N more messages as sent
run() {
	local t=$1 size=$2 before t0 now
	before=$(sent "$t")
	t0=$(date +%s.%N)
	smtp-source -s 20 -m "$N" -l "$size" -f sender@remote.test -t user1@peer.test \
		"127.0.0.1:${SMTP[$t]}" >/dev/null
	while [ "$(sent "$t")" -lt $((before + N)) ]; do
		sleep 0.05
		now=$(date +%s.%N)
		if awk -v a="$t0" -v b="$now" -v m="${STACK_TIMEOUT:-600}" 'BEGIN{exit !(b - a > m)}'; then
			echo "timeout: postfix -> $t logged $(($(sent "$t") - before)) of $N as sent" >&2
			grep -v "status=sent\|removed\|qmgr.*from=\|smtpd\|cleanup" \
				"$WORK/postfix-$t/postfix.log" | tail -5 >&2
			return 1
		fi
	done
	awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.3f\n", b - a}'
}

median() { sort -n | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

sp_cpu() { awk '{print $14 + $15}' "/proc/$SP_PID/stat"; }
HZ=$(getconf CLK_TCK)

echo "# smtp-source -s 20 -m $N via Postfix, $ROUNDS interleaved rounds, medians ($(date -u +%F))"
for size in ${SIZES:-4096}; do
	declare -A rates=()
	spcpu=""
	for round in $(seq "$ROUNDS"); do
		for t in sealpost dovecot smtp-sink; do
			c0=$(sp_cpu)
			secs=$(run "$t" "$size")
			c1=$(sp_cpu)
			rates[$t]+="$(awk -v n="$N" -v s="$secs" 'BEGIN{printf "%.1f", n/s}') "
			[ "$t" = sealpost ] && spcpu+="$(awk -v c=$((c1 - c0)) -v hz="$HZ" -v n="$N" \
				'BEGIN{printf "%.3f", c / hz * 1000 / n}') "
		done
	done
	printf "%-26s %6s %10s   %s\n" stack size msgs/s rounds
	for t in sealpost dovecot smtp-sink; do
		printf "%-26s %6s %10s   %s\n" "postfix -> $t" "$size" \
			"$(echo "${rates[$t]}" | tr ' ' '\n' | grep . | median)" "${rates[$t]}"
	done
	echo "sealpost cpu s/1000 msgs: $(echo "$spcpu" | tr ' ' '\n' | grep . | median)   ($spcpu)"
	unset rates
done
echo "sealpost peak RSS: $(awk '/VmHWM/{print $2, $3}' "/proc/$SP_PID/status")"
