#!/usr/bin/env bash
# The figures of docs/cluster.md, measured on the demo of scripts/cluster.sh
# (which this script brings up in DIR and down again at the end):
#
#   - call set-up time (INVITE sent → 200 OK) through Kamailio, p50/p99,
#     `brygga load` callers keying the PIN:
#       direct:     the node Kamailio's hash picks holds the room (or takes
#                   it: the rooms are free at the start of the run);
#       redirected: another node holds every room (a caller seated there
#                   directly first), so the picked node answers 302 and
#                   Kamailio follows it;
#     median of RUNS runs of CALLS calls each;
#   - CPU seconds of Kamailio (all its processes) and PostgreSQL (the
#     postmaster, its children, and its exited children) per 100 calls,
#     from /proc over each run, and over an idle spell of the same length
#     (the nodes' heartbeats alone);
#   - failover: kill -9 of the node holding a room with a caller in it;
#     the time until a caller redialling every second (through Kamailio)
#     is answered and in the room on another node. FAILOVERS runs; the
#     node is started again after each.
#
#   scripts/cluster-bench.sh [DIR]                      # 3 runs of 200 calls, 3 failovers
#   CALLS=100 RUNS=1 FAILOVERS=1 scripts/cluster-bench.sh /tmp/bench
#
# Output: a markdown table on stdout; each load report (JSON) in DIR/bench.
# Everything stays on loopback and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."

CALLS=${CALLS:-200}
RUNS=${RUNS:-3}
FAILOVERS=${FAILOVERS:-3}
RAMP=${RAMP:-20}
ROOMS=50 # 4711-4760: CALLS/ROOMS callers each
[ $((CALLS % ROOMS)) -eq 0 ] || {
	echo "CALLS must be a multiple of $ROOMS" >&2
	exit 2
}
PER_ROOM=$((CALLS / ROOMS))

DIR=${1:-$(mktemp -d /tmp/brygga-cluster-bench.XXXXXX)}
mkdir -p "$DIR/bench"
chmod 755 "$DIR"
OUT=$DIR/bench
scripts/cluster.sh up "$DIR" >"$OUT/up.txt"
trap 'scripts/cluster.sh down "$DIR" >/dev/null' EXIT
# shellcheck source=/dev/null
. "$DIR/cluster.env"
BIN=$DIR/bin/brygga
PROXY=127.0.0.1:$PROXY_PORT
IPS=(127.0.0.11 127.0.0.12 127.0.0.13)
HB=${HEARTBEAT%s}
[[ $HB =~ ^[0-9]+$ ]] || HB=2
TCK=$(getconf CLK_TCK)
ROOM_LIST=$(seq -s, 4711 $((4711 + ROOMS - 1)))

say() { echo "bench: $*" >&2; }

# ticks kamailio|postgres: CPU ticks (user+system) of all of its processes.
ticks() {
	local leader pid line rest t=0
	local -a f
	leader=$(head -n1 "$DIR/$1.pid")
	for pid in /proc/[0-9]*; do
		pid=${pid#/proc/}
		line=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
		rest=${line##*) }
		read -r -a f <<<"$rest"
		# f: 0 state, 1 ppid, 2 pgrp, 11 utime, 12 stime, 13 cutime, 14 cstime
		if [ "$pid" = "$leader" ]; then
			t=$((t + f[11] + f[12] + f[13] + f[14]))
		elif { [ "$1" = kamailio ] && [ "${f[2]}" = "$leader" ]; } || { [ "$1" = postgres ] && [ "${f[1]}" = "$leader" ]; }; then
			t=$((t + f[11] + f[12]))
		fi
	done
	echo "$t"
}

secs() { awk -v t="$1" -v k="$TCK" 'BEGIN { printf "%.2f", t / k }'; }

# load ARGS…: one `brygga load` run, its JSON report on stdout.
load() {
	"$BIN" load --json --log-level error --talkers 0 --pin 2468 --ramp "$RAMP" "$@"
}

# rooms_on N: the live rooms of node N (0-2), one a line.
rooms_on() {
	curl -fsS -m 5 -H "Authorization: Bearer $TOKEN" "http://${IPS[$1]}:$API_PORT/api/v1/conferences" | jq -r '.[].room'
}

redirects() {
	local n t=0 v
	for n in 0 1 2; do
		v=$(curl -fsS -m 5 "http://${IPS[$n]}:$API_PORT/metrics" | awk '$1 == "brygga_cluster_redirects_total" { print $2 }')
		t=$((t + ${v:-0}))
	done
	echo "$t"
}

# free: every room's lease let go (one heartbeat after its last call; three
# to be sure).
free() { sleep $((3 * HB + 1)); }

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# measure KIND RUN ARGS…: a run through Kamailio, with the CPU of Kamailio
# and PostgreSQL over it; appends "p50 p99 answered kamCPU pgCPU redirects"
# to $OUT/KIND.txt.
measure() {
	local kind=$1 run=$2 k0 p0 r0 k1 p1 r1 json
	shift 2
	k0=$(ticks kamailio)
	p0=$(ticks postgres)
	r0=$(redirects)
	load --target "$PROXY" --rooms-list "$ROOM_LIST" --per-room "$PER_ROOM" --settle 1s --duration 1s "$@" >"$OUT/$kind-$run.json"
	k1=$(ticks kamailio)
	p1=$(ticks postgres)
	r1=$(redirects)
	json=$OUT/$kind-$run.json
	echo "$(jq -r '.calls | "\(.setup_ms.p50) \(.setup_ms.p99) \(.answered)"' "$json") $(secs $((k1 - k0))) $(secs $((p1 - p0))) $((r1 - r0))" >>"$OUT/$kind.txt"
	say "$kind run $run: $(tail -n1 "$OUT/$kind.txt") (p50 p99 answered kamailio-s postgres-s redirects)"
}

rm -f "$OUT"/*.txt
# Which node the hash gives each room: one caller a room, through Kamailio.
say "finding each room's node"
load --target "$PROXY" --rooms-list "$ROOM_LIST" --per-room 1 --settle 25s --duration 1s >"$OUT/discover.json" &
pid=$!
for ((i = 0; i < 100; i++)); do
	sleep 0.3
	for n in 0 1 2; do
		rooms_on "$n" | sed "s/\$/ $n/"
	done >"$OUT/home.txt"
	[ "$(wc -l <"$OUT/home.txt")" -lt "$ROOMS" ] || break
done
wait "$pid"
[ "$(wc -l <"$OUT/home.txt")" -eq "$ROOMS" ] || {
	say "found $(wc -l <"$OUT/home.txt") of $ROOMS rooms' nodes"
	exit 1
}

for ((run = 1; run <= RUNS; run++)); do
	free
	measure direct "$run"

	# Each room held by the node after its hash node: a caller seated
	# there directly.
	free
	pids=()
	for n in 0 1 2; do
		list=$(awk -v n="$n" '$2 == (n + 2) % 3 { print $1 }' "$OUT/home.txt" | paste -sd,)
		[ -n "$list" ] || continue
		load --target "${IPS[$n]}:$SIP_PORT" --rooms-list "$list" --per-room 1 --settle 1s \
			--duration $((CALLS / RAMP + 25))s >"$OUT/holders-$run-$n.json" &
		pids+=($!)
	done
	for ((i = 0; i < 100; i++)); do
		sleep 0.3
		seated=0
		for n in 0 1 2; do
			seated=$((seated + $(rooms_on "$n" | wc -l)))
		done
		[ "$seated" -lt "$ROOMS" ] || break
	done
	measure redirected "$run"
	wait "${pids[@]}"

	# The same time idle: the heartbeats' share.
	k0=$(ticks kamailio)
	p0=$(ticks postgres)
	sleep $((CALLS / RAMP + 2))
	echo "$(secs $(($(ticks kamailio) - k0))) $(secs $(($(ticks postgres) - p0)))" >>"$OUT/idle.txt"
done

# Failover: a caller in room R (through Kamailio), kill -9 of its node, a
# caller redialling R every second until answered with the PIN taken.
for ((run = 1; run <= FAILOVERS; run++)); do
	free
	room=$((4790 + run))
	load --target "$PROXY" --rooms-list "$room" --per-room 1 --settle 1s --duration 60s >/dev/null 2>&1 &
	holder=$!
	dead=""
	for ((i = 0; i < 50 && ${#dead} == 0; i++)); do
		sleep 0.2
		for n in 0 1 2; do
			if rooms_on "$n" | grep -qx "$room"; then dead=$n; fi
		done
	done
	[ -n "$dead" ] || {
		say "room $room never came up"
		exit 1
	}
	node=$((dead + 1))
	mapfile -d '' -t argv <"/proc/$(head -n1 "$DIR/node$node.pid")/cmdline"
	t0=$(date +%s.%N)
	kill -KILL "$(head -n1 "$DIR/node$node.pid")"
	took=""
	for ((i = 0; i < 40; i++)); do
		start=$(date +%s.%N)
		json=$(load --target "$PROXY" --rooms-list "$room" --per-room 1 --settle 0s --duration 1s --setup-timeout 15s 2>/dev/null || true)
		if [ "$(jq -r '"\(.calls.answered) \(.calls.pin_failed)"' <<<"$json" 2>/dev/null)" = "1 0" ]; then
			took=$(awk -v s="$start" -v t="$t0" -v u="$(jq -r .calls.setup_ms.p50 <<<"$json")" 'BEGIN { printf "%.1f", s - t + u / 1000 }')
			break
		fi
		sleep 1
	done
	echo "${took:--} $((i + 1))" >>"$OUT/failover.txt"
	say "failover $run: room $room, node$node killed: back in the room after ${took:-?} s (attempt $((i + 1)))"
	kill "$holder" 2>/dev/null || true
	wait "$holder" 2>/dev/null || true
	# The node again, as cluster.sh started it.
	(
		cd "$DIR"
		exec setsid "${argv[@]}" </dev/null >>"$DIR/node$node.log" 2>&1
	) &
	echo $! >"$DIR/node$node.pid"
	disown $! # killed in a later run: no "Killed" from this shell
	for ((i = 0; i < 300; i++)); do
		curl -fsS -m 1 -o /dev/null "http://${IPS[$dead]}:$API_PORT/readyz" 2>/dev/null && break
		sleep 0.1
	done
	sleep 3 # Kamailio's probe takes it back in
done

col() { awk -v c="$1" '{ print $c }' "$2" | median; }
per100() { awk -v s="$1" -v n="$CALLS" 'BEGIN { printf "%.2f", s * 100 / n }'; }
echo
echo "Cluster demo (3 nodes, Kamailio, PostgreSQL on one machine, $(nproc) cores); $CALLS calls a run over $ROOMS rooms at $RAMP/s, PIN keyed; median of $RUNS runs."
echo
echo "| through Kamailio | set-up p50 | set-up p99 | answered | redirects (302) | Kamailio CPU / 100 calls | PostgreSQL CPU / 100 calls |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for kind in direct redirected; do
	f=$OUT/$kind.txt
	echo "| $kind | $(col 1 "$f") ms | $(col 2 "$f") ms | $(col 3 "$f") of $CALLS | $(col 6 "$f") | $(per100 "$(col 4 "$f")") s | $(per100 "$(col 5 "$f")") s |"
done
echo "| idle, as long | | | | | $(per100 "$(col 1 "$OUT/idle.txt")") s | $(per100 "$(col 2 "$OUT/idle.txt")") s |"
echo
echo "Failover (kill -9 of the room's node → a redialling caller back in the room), heartbeat $HEARTBEAT: $(awk '{ print $1 " s" }' "$OUT/failover.txt" | paste -sd, | sed 's/,/, /g') (attempts: $(awk '{ print $2 }' "$OUT/failover.txt" | paste -sd, | sed 's/,/, /g'))"
