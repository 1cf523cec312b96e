#!/usr/bin/env bash
# IDLE memory side by side (issue's IMAP benchmark): bench/imap_idle opens
# CONNS connections over implicit TLS spread across MAILBOXES mailboxes,
# each LOGIN, SELECT INBOX, IDLE, and holds them; once all are idling the
# server's whole process tree is measured (PSS: shared pages split among
# the sharers, and plain RSS summed, which counts shared pages once per
# process). Targets one after the other: Sealpost, Dovecot (maildir),
# Dovecot with mail_crypt. Target: Sealpost under 300 MiB for 10,000.
#   bench/imap-idle.sh [CONNS] [MAILBOXES]          (defaults 10000 and 1000)
# Environment: MESSAGES (20 per mailbox), TARGETS, SRC_ADDRS (source
# addresses 127.0.0.1..N, 4), IN_FLIGHT (connections in setup at once, 64),
# SETTLE (seconds between READY and measuring, 5), KDF=fast (Sealpost
# passwords with the tests' cheap Argon2id: setup only, the memory measured
# is the same), PLAIN=1 (plaintext IMAP instead of TLS, to tell the TLS
# share of the memory apart), SEALPOST_BIN, IDLE_BIN, LOAD_BIN, KEEP=1.
# Dovecot: imap-login in high-performance mode and one imap process per
# session (its only mode for IMAP), see dovecot_start_as in bench/imap.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
CONNS=${1:-10000}
MAILBOXES=${2:-1000}
MESSAGES=${MESSAGES:-20}
TARGETS=${TARGETS:-sealpost dovecot dovecot-crypt}
SRC_ADDRS=${SRC_ADDRS:-4}
IN_FLIGHT=${IN_FLIGHT:-64}
SETTLE=${SETTLE:-5}
BIN=${SEALPOST_BIN:-build/sealpost}
IDLE=${IDLE_BIN:-build/bench/imap_idle}
LOAD=${LOAD_BIN:-build/bench/imap_load}
PEERS=${PEERS:-../shared/peers}
WORK=$(mktemp -d /tmp/sp-idle-bench-XXXXXX)
chmod 755 "$WORK"
# The peer helpers (they use BIN, PEERS and WORK).
# shellcheck source=imap.sh disable=SC2034
source bench/imap.sh
if [ "${KDF:-}" = fast ]; then
	export SEALPOST_TEST_KDF=fast
else
	unset SEALPOST_TEST_KDF
fi

IDLE_PID=
cleanup() {
	[ -n "$IDLE_PID" ] && kill "$IDLE_PID" 2>/dev/null && wait "$IDLE_PID" 2>/dev/null
	peers_stop
	if [ "${KEEP:-0}" = 1 ]; then
		echo "work directory kept: $WORK" >&2
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap 'exit 143' TERM INT

for b in "$IDLE" "$LOAD"; do
	[ -x "$b" ] || { echo "imap-idle.sh: $b not built" >&2; exit 1; }
done
if [ "$(ulimit -n)" -lt $((CONNS + 100)) ]; then
	echo "imap-idle.sh: ulimit -n is $(ulimit -n) (hard limit), below $CONNS connections" >&2
	exit 1
fi

mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# measure TARGET -> one line of the table
measure() {
	local t=$1 pid base_pss pss rss procs ready done_line
	case $t in
	sealpost) sealpost_start "$MAILBOXES" || return 1 ;;
	dovecot) dovecot_start || return 1 ;;
	dovecot-crypt) dovecot_crypt_start || return 1 ;;
	esac
	# shellcheck disable=SC2046
	if [ "$MESSAGES" -gt 0 ] && ! "$LOAD" --port "${IMAPS_PORT[$t]}" --tls $(login_args "$t") \
		--users "$MAILBOXES" --clients 8 --populate "$MESSAGES" >"$WORK/$t.populate" 2>&1; then
		echo "populating failed: $(tail -2 "$WORK/$t.populate")" >"$WORK/$t.why"
		return 1
	fi
	sleep 2
	pid=$(server_pid "$t")
	base_pss=$(pss_kib "$pid")
	: >"$WORK/$t.idle"
	local port=${IMAPS_PORT[$t]} plain=
	[ "${PLAIN:-0}" = 1 ] && port=${IMAP_PORT[$t]} plain=--plain
	# shellcheck disable=SC2046
	"$IDLE" $plain --port "$port" $(login_args "$t") --users "$MAILBOXES" \
		--conns "$CONNS" --src-addrs "$SRC_ADDRS" --in-flight "$IN_FLIGHT" \
		>"$WORK/$t.idle" 2>"$WORK/$t.idle.err" &
	IDLE_PID=$!
	until grep -q '^READY' "$WORK/$t.idle"; do
		if ! kill -0 "$IDLE_PID" 2>/dev/null; then
			echo "imap_idle exited: $(tail -2 "$WORK/$t.idle.err")" >"$WORK/$t.why"
			IDLE_PID=
			return 1
		fi
		sleep 1
	done
	ready=$(grep '^READY' "$WORK/$t.idle")
	sleep "$SETTLE"
	pss=$(pss_kib "$pid")
	rss=$(rss_kib "$pid")
	procs=$(tree_count "$pid")
	local client_rss
	client_rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$IDLE_PID/status")
	kill "$IDLE_PID"
	wait "$IDLE_PID" || true
	IDLE_PID=
	done_line=$(grep '^DONE' "$WORK/$t.idle" || echo "DONE ?")
	local idling failed secs dropped
	idling=$(sed -n 's/.*idling=\([0-9]*\).*/\1/p' <<<"$ready")
	failed=$(sed -n 's/.*failed=\([0-9]*\).*/\1/p' <<<"$ready")
	secs=$(sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' <<<"$ready")
	dropped=$(sed -n 's/.*dropped=\([0-9]*\).*/\1/p' <<<"$done_line")
	printf "%-14s %7s %6s %7s %7s %9s %9s %9s %8s %6s %10s\n" "$t" "$idling" "$failed" \
		"${dropped:-?}" "$secs" "$(mib "$base_pss")" "$(mib "$pss")" "$(mib "$rss")" \
		"$(awk -v a="$pss" -v b="$base_pss" -v n="$idling" 'BEGIN { if (n) printf "%.1f", (a - b) / n; else print "-" }')" \
		"$procs" "$(mib "$client_rss")"
	grep -v '^imap_idle: idling' "$WORK/$t.idle.err" | head -3 | sed "s/^/    $t: /" >&2 || true
	peers_stop
}

echo "# imap_idle: $CONNS IDLE connections over $([ "${PLAIN:-0}" = 1 ] && echo plaintext || echo TLS) across $MAILBOXES mailboxes ($MESSAGES messages each), $SRC_ADDRS source addresses ($(date -u +%F))"
printf "%-14s %7s %6s %7s %7s %9s %9s %9s %8s %6s %10s\n" target idling failed dropped setup_s \
	"base_MiB" "PSS_MiB" "RSS_MiB" "KiB/conn" procs "client_MiB"
for t in $TARGETS; do
	if ! measure "$t"; then
		printf "%-14s not run: %s\n" "$t" "$(head -2 "$WORK/$t.why" 2>/dev/null | tr '\n' ' ')"
		peers_stop
	fi
done
echo "# PSS and RSS are sums over the server's process tree while all sessions idle;"
echo "# KiB/conn = (PSS - base PSS before connecting) / idling sessions."
