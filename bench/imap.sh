#!/usr/bin/env bash
# IMAP throughput side by side (issue's IMAP benchmark): bench/imap_load
# runs N clients looping a mix of FETCH (FLAGS ENVELOPE), UID FETCH
# BODY.PEEK[], UID STORE, APPEND, UID SEARCH, IDLE and EXPUNGE against
# Sealpost, Dovecot (maildir) and Dovecot with mail_crypt (CRYPT=1), in
# interleaved rounds, every target's users holding the same MESSAGES
# messages (APPENDed by imap_load --populate, then warmed: every envelope
# read and each search run once, because Dovecot caches header fields on
# first use; cold, Dovecot with mail_crypt took 37 s for one SEARCH FROM
# over 2,000 messages). FETCH and STORE pick among the UIDs present at
# SELECT; each client expunges only what it appended. Reports medians of ops/s, p50/p99 latency per operation, server
# CPU seconds per 1,000 operations and the server's PSS (all its processes)
# in the middle of the run.
#   bench/imap.sh [CLIENTS] [SECONDS] [ROUNDS]      (defaults 8, 20 and 3)
# Environment: USERS (4), MESSAGES (2000 per user), TLS (1: implicit TLS,
# 0: plaintext IMAP), TARGETS ("sealpost dovecot dovecot-crypt"),
# SEALPOST_BIN (build/sealpost), LOAD_BIN (build/bench/imap_load),
# MIX (imap_load --mix), KEEP=1 keeps the work directory.
# Needs root (Dovecot runs as vmail). Everything listens on 127.0.0.1 only.
# Sourced (bench/imap-idle.sh does), it only defines the peer helpers.
set -euo pipefail

# Ports per target: plaintext IMAP, implicit TLS, and the rest of Dovecot's.
declare -A IMAP_PORT=([sealpost]=23143 [dovecot]=21143 [dovecot-crypt]=22143)
declare -A IMAPS_PORT=([sealpost]=23993 [dovecot]=21993 [dovecot-crypt]=22993)
declare -A PEER_BASE=([dovecot]=21 [dovecot-crypt]=22)
SP_LMTP_PORT=23424
HZ=$(getconf CLK_TCK)
# Sessions need descriptors (10,000 IDLE connections): the hard limit.
ulimit -n "$(ulimit -Hn)"

port_wait() {
	for _ in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# dovecot_start_as NAME CRYPT: Dovecot from the peer script, then restarted
# with an implicit-TLS listener and limits for many connections appended
# to the configuration the peer script wrote (it has no hook for them):
# imap-login in Dovecot's high-performance mode (service_count = 0, a few
# processes serving many clients each; its default of one process per
# connection stops at default_process_limit = 100; at its default
# vsz_limit of 256 MB a login process dies near 3,400 TLS clients, taking
# them all with it, so 1,000 clients each in up to 20 processes), enough
# imap processes.
dovecot_start_as() {
	local name=$1 crypt=$2 dir=$WORK/$1 b=${PEER_BASE[$1]}
	if ! IMAP_PORT=${IMAP_PORT[$name]} POP3_PORT=${b}110 LMTP_PORT=${b}024 CRYPT=$crypt \
		bash "$PEERS/dovecot.sh" start "$dir" >"$WORK/$name.start" 2>&1; then
		cat "$WORK/$name.start" >"$WORK/$name.why"
		return 1
	fi
	CRYPT=$crypt bash "$PEERS/dovecot.sh" stop "$dir" >/dev/null 2>&1
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$dir/tls-key.pem" -out "$dir/tls-cert.pem" -days 30 \
		-subj /CN=localhost 2>/dev/null
	cat >>"$dir/dovecot.conf" <<CONF
# Appended by bench/imap.sh
ssl = yes
ssl_cert = <$dir/tls-cert.pem
ssl_key = <$dir/tls-key.pem
service imap-login {
  inet_listener imaps {
    address = 127.0.0.1
    port = ${IMAPS_PORT[$name]}
    ssl = yes
  }
  service_count = 0
  process_min_avail = 4
  client_limit = 1000
  process_limit = 20
  vsz_limit = 1G
}
service imap {
  process_limit = 12000
}
CONF
	for _ in $(seq 50); do
		pgrep -F "$dir/run/master.pid" >/dev/null 2>&1 || break
		sleep 0.1
	done
	dovecot -c "$dir/dovecot.conf" 2>>"$WORK/$name.start"
	port_wait "${IMAPS_PORT[$name]}" || { echo "no TLS listener; see $dir/dovecot.log" >"$WORK/$name.why"; return 1; }
}
dovecot_start() { dovecot_start_as dovecot 0; }
dovecot_crypt_start() { dovecot_start_as dovecot-crypt 1; }

# sealpost_start USERS [FIRST]: a fresh data directory, USERS aliases
# user1@example.test..., their generated passwords in sealpost.accounts,
# then the server on IMAP and IMAPS.
sealpost_start() {
	local d=$WORK/sealpost users=$1 i pw
	[ -x "$BIN" ] || { echo "$BIN not built" >"$WORK/sealpost.why"; return 1; }
	"$BIN" --data-dir "$d" init --hostname bench.test >/dev/null
	"$BIN" --data-dir "$d" domain add example.test >/dev/null
	# Fail fast (before creating a thousand aliases) when this build
	# refuses the IMAP roles.
	"$BIN" --data-dir "$d" serve --foreground --imap="127.0.0.1:${IMAP_PORT[sealpost]}" \
		--imaps="127.0.0.1:${IMAPS_PORT[sealpost]}" --lmtp= >/dev/null 2>"$WORK/sealpost.probe" &
	SP_PID=$!
	if ! sp_listening; then
		{ echo "$BIN does not serve IMAP (the lead's IMAP server not in this build?):"; tail -2 "$WORK/sealpost.probe"; } >"$WORK/sealpost.why"
		kill "$SP_PID" 2>/dev/null; wait "$SP_PID" 2>/dev/null; SP_PID=
		return 1
	fi
	kill "$SP_PID"; wait "$SP_PID" 2>/dev/null || true; SP_PID=
	: >"$WORK/sealpost.accounts"
	for i in $(seq "$users"); do
		pw=$("$BIN" --data-dir "$d" alias add "user$i@example.test" | tail -1)
		echo "user$i@example.test $pw" >>"$WORK/sealpost.accounts"
	done
	# More than 10,000 sessions for the IDLE test.
	sed -i 's/^max_connections = .*/max_connections = 20000/' "$d/sealpost.conf"
	"$BIN" --data-dir "$d" serve --foreground --imap="127.0.0.1:${IMAP_PORT[sealpost]}" \
		--imaps="127.0.0.1:${IMAPS_PORT[sealpost]}" --lmtp="127.0.0.1:$SP_LMTP_PORT" \
		>"$WORK/sealpost.out" 2>"$WORK/sealpost.log" &
	SP_PID=$!
	sp_listening && return 0
	{ echo "sealpost serve did not start:"; tail -3 "$WORK/sealpost.log"; } >"$WORK/sealpost.why"
	kill "$SP_PID" 2>/dev/null; wait "$SP_PID" 2>/dev/null; SP_PID=
	return 1
}

# sp_listening: 0 once Sealpost ($SP_PID) accepts on its IMAPS port, 1 if
# it exits first or takes over 10 seconds.
sp_listening() {
	for _ in $(seq 100); do
		kill -0 "$SP_PID" 2>/dev/null || return 1
		(exec 3<>"/dev/tcp/127.0.0.1/${IMAPS_PORT[sealpost]}") 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

peers_stop() {
	local t
	for t in dovecot dovecot-crypt; do
		if [ -f "$WORK/$t/dovecot.conf" ]; then
			dovecot -c "$WORK/$t/dovecot.conf" stop 2>/dev/null || true
		fi
	done
	if [ -n "${SP_PID:-}" ]; then
		kill "$SP_PID" 2>/dev/null || true
		wait "$SP_PID" 2>/dev/null || true
		SP_PID=
	fi
}

# login_args TARGET: imap_load/imap_idle options naming the accounts.
login_args() {
	case $1 in
	sealpost) echo "--accounts $WORK/sealpost.accounts" ;;
	*) echo "--user-prefix user --pass pass" ;;
	esac
}

server_pid() {
	case $1 in
	sealpost) echo "${SP_PID:-}" ;;
	*) cat "$WORK/$1/run/master.pid" 2>/dev/null ;;
	esac
}

# tree_pids PID: PID and all its descendants (Dovecot is many processes).
tree_pids() {
	[ -n "$1" ] || return 0
	ps -e -o pid=,ppid= | awk -v root="$1" '
		{ kids[$2] = kids[$2] " " $1 }
		END { n = split(root, q, " "); out = root
		      for (i = 1; i <= n; i++) { m = split(kids[q[i]], k, " ")
		        for (j = 1; j <= m; j++) { q[++n] = k[j]; out = out " " k[j] } }
		      print out }'
}

# tree_cpu PID: CPU seconds of the tree, including reaped children (a
# Dovecot imap process that exited is counted in its parent's cutime).
tree_cpu() {
	local p total=0
	for p in $(tree_pids "$1"); do
		[ -r "/proc/$p/stat" ] || continue
		total=$(awk -v t="$total" '{ sub(/^.*\) /, ""); print t + $12 + $13 + $14 + $15 }' "/proc/$p/stat")
	done
	awk -v t="$total" -v hz="$HZ" 'BEGIN { printf "%.3f\n", t / hz }'
}

# pss_kib PID / rss_kib PID: the tree's proportional (shared pages split
# among the sharers) and resident set sizes in KiB.
pss_kib() { tree_sum "$1" smaps_rollup Pss; }
rss_kib() { tree_sum "$1" status VmRSS; }
tree_sum() {
	local p files=()
	for p in $(tree_pids "$1"); do files+=("/proc/$p/$2"); done
	[ ${#files[@]} -gt 0 ] || { echo 0; return; }
	# One awk for all files (10,000 Dovecot processes); a process that
	# exited meanwhile is skipped.
	cat "${files[@]}" 2>/dev/null | awk -v key="$3:" '$1 == key { s += $2 } END { print s + 0 }'
}
tree_count() { tree_pids "$1" | wc -w; }

[[ "${BASH_SOURCE[0]}" != "$0" ]] && return 0

cd "$(dirname "$0")/.."
CLIENTS=${1:-8}
SECONDS_RUN=${2:-20}
ROUNDS=${3:-3}
USERS=${USERS:-4}
MESSAGES=${MESSAGES:-2000}
TLS=${TLS:-1}
TARGETS=${TARGETS:-sealpost dovecot dovecot-crypt}
BIN=${SEALPOST_BIN:-build/sealpost}
LOAD=${LOAD_BIN:-build/bench/imap_load}
PEERS=${PEERS:-../shared/peers}
WORK=$(mktemp -d /tmp/sp-imap-bench-XXXXXX)
chmod 755 "$WORK"

cleanup() {
	peers_stop
	if [ "${KEEP:-0}" = 1 ]; then
		echo "work directory kept: $WORK" >&2
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap 'exit 143' TERM INT

[ -x "$LOAD" ] || { echo "imap.sh: $LOAD not built (cmake --build ... --target imap_load)" >&2; exit 1; }

# Start the targets; a target that cannot start is reported and left out.
declare -A PORT=() ARGS=()
running=()
for t in $TARGETS; do
	case $t in
	sealpost) start=sealpost_start ;;
	dovecot) start=dovecot_start ;;
	dovecot-crypt) start=dovecot_crypt_start ;;
	*) echo "imap.sh: unknown target $t" >&2; exit 2 ;;
	esac
	if ! $start "$USERS"; then
		echo "imap.sh: $t left out: $(cat "$WORK/$t.why" 2>/dev/null || echo 'did not start')" >&2
		continue
	fi
	if [ "$TLS" = 1 ]; then
		PORT[$t]=${IMAPS_PORT[$t]}
		ARGS[$t]="--tls $(login_args "$t")"
	else
		PORT[$t]=${IMAP_PORT[$t]}
		ARGS[$t]=$(login_args "$t")
	fi
	# shellcheck disable=SC2086
	if ! "$LOAD" --port "${PORT[$t]}" ${ARGS[$t]} --users "$USERS" --populate "$MESSAGES" \
		--warmup >"$WORK/$t.populate" 2>&1; then
		echo "imap.sh: $t left out: populating failed: $(tail -3 "$WORK/$t.populate")" >&2
		continue
	fi
	running+=("$t")
done
[ ${#running[@]} -gt 0 ] || { echo "imap.sh: no target running" >&2; exit 1; }

mkdir -p "$WORK/out"
for round in $(seq "$ROUNDS"); do
	for t in "${running[@]}"; do
		c0=$(tree_cpu "$(server_pid "$t")")
		# shellcheck disable=SC2086
		"$LOAD" --port "${PORT[$t]}" ${ARGS[$t]} --users "$USERS" --clients "$CLIENTS" \
			--duration "$SECONDS_RUN" --quiet ${MIX:+--mix "$MIX"} \
			>"$WORK/out/$t.$round" 2>"$WORK/out/$t.$round.err" &
		load=$!
		# The server's memory in the middle of the run, sessions open.
		sleep "$(awk -v s="$SECONDS_RUN" 'BEGIN { print s / 2 }')"
		pss=$(pss_kib "$(server_pid "$t")")
		wait "$load" || true
		sleep 0.5 # let the server reap the sessions' processes
		c1=$(tree_cpu "$(server_pid "$t")")
		echo "cpu $(awk -v a="$c0" -v b="$c1" 'BEGIN{printf "%.3f", b - a}')" >>"$WORK/out/$t.$round"
		echo "pss $pss" >>"$WORK/out/$t.$round"
	done
done

median() { sort -n | awk '{v[NR]=$1} END {if (NR == 0) print "-"; else print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
# col T OP FIELD: the median over rounds of FIELD (2 count, 3 ops/s, 4 p50,
# 5 p99, 6 errors) of operation OP.
col() {
	for r in $(seq "$ROUNDS"); do
		awk -v op="$2" -v f="$3" '$1 == op {print $f}' "$WORK/out/$1.$r"
	done | median
}

proto=$([ "$TLS" = 1 ] && echo "implicit TLS" || echo "plaintext")
echo "# imap_load: $CLIENTS clients, $USERS users x $MESSAGES messages, ${SECONDS_RUN}s x $ROUNDS interleaved rounds, $proto, medians ($(date -u +%F))"
printf "%-11s" op
for t in "${running[@]}"; do printf " | %-29s" "$t ops/s p50/p99 ms"; done
echo
for op in fetch_hdr fetch_body store append search idle expunge total; do
	printf "%-11s" "$op"
	for t in "${running[@]}"; do
		printf " | %9s %8s %10s" "$(col "$t" "$op" 3)" "$(col "$t" "$op" 4)" "$(col "$t" "$op" 5)"
	done
	echo
done
printf "%-11s" errors
for t in "${running[@]}"; do printf " | %29s" "$(col "$t" total 6)"; done
echo
printf "%-11s" "cpu s/1k"
for t in "${running[@]}"; do
	printf " | %29s" "$(for r in $(seq "$ROUNDS"); do
		awk '$1 == "total" {n = $2} $1 == "cpu" {c = $2} END {if (n) printf "%.3f\n", c * 1000 / n}' "$WORK/out/$t.$r"
	done | median)"
done
echo
printf "%-11s" "PSS MiB"
for t in "${running[@]}"; do
	printf " | %29s" "$(for r in $(seq "$ROUNDS"); do
		awk '$1 == "pss" {printf "%.1f\n", $2 / 1024}' "$WORK/out/$t.$r"
	done | median)"
done
echo
for t in "${running[@]}"; do
	for r in $(seq "$ROUNDS"); do
		if grep -q 'failed_clients=[1-9]' "$WORK/out/$t.$r"; then
			echo "warning: $t round $r had failed clients: $(head -3 "$WORK/out/$t.$r.err")"
		fi
	done
done
for t in $TARGETS; do
	[ -s "$WORK/$t.why" ] && echo "$t: not run: $(cat "$WORK/$t.why")"
done
exit 0
