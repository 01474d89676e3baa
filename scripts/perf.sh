#!/usr/bin/env bash
# Rerunnable performance measurement for docs/performance.md.
#
# For every size it runs brygga and the floor (a plain Go RTP echo,
# `brygga load --reflect`) as separate processes on loopback, drives each
# with `brygga load` (real SIP calls, RFC 4733 PIN-less open rooms, 20 ms
# PCMU), and reads the server's CPU from /proc. Each figure is the median of
# RUNS runs. Output: one markdown table on stdout, raw JSON in OUT.
#
#   scripts/perf.sh                       # sizes 100 500 1000 2000, 60 s, 3 runs
#   SIZES="100 500" DURATION=30s RUNS=1 scripts/perf.sh
#
# Everything stays on 127.0.0.1 and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."

SIZES=${SIZES:-"100 500 1000 2000"}
PER_ROOM=${PER_ROOM:-20}
TALKERS=${TALKERS:-2}
DURATION=${DURATION:-60s}
RUNS=${RUNS:-3}
RAMP=${RAMP:-50}
EXTRA=${EXTRA:-}                  # more flags for brygga load, e.g. "--pause 0" (every talker continuous)
OUT=${OUT:-$(mktemp -d /tmp/brygga-perf.XXXXXX)}
SIP_PORT=${SIP_PORT:-5270}
FLOOR_PORT=${FLOOR_PORT:-5290}

bin="$OUT/brygga"
go build -o "$bin" ./cmd/brygga
# Open rooms as with no config, but names off: a recorded name is the
# caller's own talk burst, and replaying it in the room would be counted
# as a talker heard at the wrong time (delay) and costs 5 s per join.
cat >"$OUT/brygga.yaml" <<'YAML'
open_rooms: "^[0-9]{3,6}$"
defaults:
  names: false
YAML
echo "perf: raw results in $OUT" >&2

wait_up() { # log file, line that says the server listens
	for _ in $(seq 100); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "perf: server did not start, see $1" >&2
	return 1
}

run_one() { # kind size run
	local kind=$1 size=$2 run=$3 rooms=$(( $2 / PER_ROOM ))
	local json="$OUT/$kind-$size-$run.json" pid target ready echo=""
	if [ "$kind" = brygga ]; then
		"$bin" serve --config "$OUT/brygga.yaml" --sip "127.0.0.1:$SIP_PORT" --rtp-ports 20000-29999 --data "$OUT/data" --log-level warn >"$OUT/$kind-$size-$run.log" 2>&1 &
		pid=$!
		target="127.0.0.1:$SIP_PORT"
		ready="sip listening on udp"
	else
		"$bin" load --reflect --listen "127.0.0.1:$FLOOR_PORT" --rtp-ports 30000-39999 >"$OUT/$kind-$size-$run.log" 2>&1 &
		pid=$!
		target="127.0.0.1:$FLOOR_PORT"
		ready="$FLOOR_PORT"
		echo="--echo"
	fi
	wait_up "$OUT/$kind-$size-$run.log" "$ready"
	# shellcheck disable=SC2086
	"$bin" load --target "$target" --rooms "$rooms" --per-room "$PER_ROOM" --talkers "$TALKERS" \
		--duration "$DURATION" --ramp "$RAMP" --cpu-pid "$pid" --json $echo $EXTRA >"$json" 2>>"$OUT/$kind-$size-$run.log" || true
	kill -TERM "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

for size in $SIZES; do
	for run in $(seq "$RUNS"); do
		for kind in brygga floor; do
			echo "perf: $kind $size participants, run $run" >&2
			run_one "$kind" "$size" "$run"
		done
	done
done

python3 - "$OUT" "$SIZES" "$RUNS" <<'PY'
import json, statistics, sys, os
out, sizes, runs = sys.argv[1], sys.argv[2].split(), int(sys.argv[3])
def load(kind, size):
    rs = []
    for r in range(1, runs + 1):
        p = os.path.join(out, f"{kind}-{size}-{r}.json")
        try:
            rs.append(json.load(open(p)))
        except Exception:
            pass
    return rs
def med(rs, f):
    v = [f(r) for r in rs]
    return statistics.median(v) if v else float("nan")
print("| participants | brygga CPU-s/participant-min | floor | ratio | loss % | jitter p99 ms | delay p99 ms | RSS KiB/participant | failed calls | generator late ticks |")
print("|---|---|---|---|---|---|---|---|---|---|")
for s in sizes:
    b, f = load("brygga", s), load("floor", s)
    bc = med(b, lambda r: r["server"]["cpu_s_per_participant_minute"])
    fc = med(f, lambda r: r["server"]["cpu_s_per_participant_minute"])
    print(f"| {s} | {bc:.4f} | {fc:.4f} | {bc/fc if fc else float('nan'):.2f} "
          f"| {med(b, lambda r: r['packets']['loss_pct']):.3f} | {med(b, lambda r: r['jitter_ms']['p99']):.1f} "
          f"| {med(b, lambda r: r['delay_ms']['p99']):.1f} | {med(b, lambda r: r['server']['rss_per_participant_kib']):.0f} "
          f"| {med(b, lambda r: r['calls']['failed']):.0f} | {med(b, lambda r: r['generator']['late_sender_ticks']):.0f} |")
PY
