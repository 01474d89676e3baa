#!/usr/bin/env bash
# Rerunnable performance measurement for docs/performance.md.
#
# For every size it runs brygga and the floor (a plain Go RTP echo,
# `brygga load --reflect`) as separate processes on loopback, drives each
# with `brygga load` (real SIP calls to PIN-less open rooms, 20 ms PCMU),
# and reads the server's CPU from /proc. While brygga runs, its /metrics is
# sampled every SAMPLE seconds (goroutines, heap, RSS) to show whether they
# stay flat. Each figure is the median of RUNS runs. Output: one markdown
# table on stdout, raw JSON and samples in OUT.
#
#   scripts/perf.sh                                   # 100 500 1000 2000, 20 per room, 2 talkers, 60 s, 3 runs
#   SIZES="100 500" DURATION=30s RUNS=1 scripts/perf.sh
#   TALKERS=20 EXTRA="--pause 0" TAG=all scripts/perf.sh   # every caller talking, all the time
#   SIZES=500 PER_ROOM=500 TALKERS=3 TAG=one scripts/perf.sh   # one room of 500
#   KINDS=brygga SIZES=1000 DURATION=5m scripts/perf.sh       # the bridge alone, a long run
#   KINDS=brygga SIZES=1000 PIN=2468 DURATION=20s TAG=pin scripts/perf.sh  # 50 calls/s through PIN entry
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
KINDS=${KINDS:-"brygga floor"}
TAG=${TAG:-t$TALKERS}             # names this campaign's files, so several can share OUT
EXTRA=${EXTRA:-}                  # more flags for brygga load, e.g. "--pause 0" (talk without pause)
PIN=${PIN:-}                      # rooms with this PIN (call setup through PIN entry)
SAMPLE=${SAMPLE:-10}
OUT=${OUT:-$(mktemp -d /tmp/brygga-perf.XXXXXX)}
SIP_PORT=${SIP_PORT:-5270}
API_PORT=${API_PORT:-5280}
FLOOR_PORT=${FLOOR_PORT:-5290}

mkdir -p "$OUT"
bin="$OUT/brygga"
go build -o "$bin" ./cmd/brygga
# Open rooms as with no config, but names off: a recorded name is the
# caller's own talk burst, and replaying it in the room would be counted
# as a talker heard at the wrong time (delay) and costs 5 s per join.
# max_calls above the largest run (its default, 500, would refuse the rest
# with 486). With PIN set, the rooms are directory rooms with that PIN,
# and the callers key it as RFC 4733 events. The generator is one source
# for thousands of calls, as a PBX is: trusted, so the per-source rate
# limits and call cap (meant for strangers) do not apply to it.
cat >"$OUT/brygga.yaml" <<'YAML'
open_rooms: "^[0-9]{3,6}$"
sip:
  max_calls: 10000
  trusted: ["127.0.0.0/8"]
defaults:
  names: false
YAML
if [ -n "$PIN" ]; then
	echo "directory:" >>"$OUT/brygga.yaml"
	for ext in $(seq 4711 $(( 4711 + 109 ))); do
		printf '  - {extension: "%s", pin: "%s"}\n' "$ext" "$PIN" >>"$OUT/brygga.yaml"
	done
	EXTRA="$EXTRA --pin $PIN"
fi
echo "perf: raw results in $OUT" >&2

wait_up() { # log file, line that says the server listens
	for _ in $(seq 100); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "perf: server did not start, see $1" >&2
	return 1
}

# sample PID FILE: goroutines, heap in use and RSS from /metrics until the
# server is gone.
sample() {
	local pid=$1 file=$2 t0
	t0=$(date +%s)
	while kill -0 "$pid" 2>/dev/null; do
		curl -s --max-time 2 "http://127.0.0.1:$API_PORT/metrics" 2>/dev/null |
			awk -v t=$(( $(date +%s) - t0 )) '
				/^go_goroutines /{g=$2} /^go_memstats_heap_inuse_bytes /{h=$2} /^process_resident_memory_bytes /{r=$2}
				END { if (g != "") printf "%d %d %.0f %.0f\n", t, g, h, r }' >>"$file" || true
		sleep "$SAMPLE"
	done
}

run_one() { # kind size run
	local kind=$1 size=$2 run=$3 rooms=$(( $2 / PER_ROOM ))
	local base="$OUT/$TAG-$kind-$size-$run" pid target ready echo="" sampler=""
	if [ "$kind" = brygga ]; then
		# A fresh data folder each run: the directory store keeps rooms (and
		# their PINs) from one run to the next otherwise.
		rm -rf "$base.data"
		"$bin" serve --config "$OUT/brygga.yaml" --sip "127.0.0.1:$SIP_PORT" --api "127.0.0.1:$API_PORT" \
			--rtp-ports 20000-29999 --data "$base.data" --log-level warn >"$base.log" 2>&1 &
		pid=$!
		target="127.0.0.1:$SIP_PORT"
		ready="sip listening on udp"
	else
		"$bin" load --reflect --listen "127.0.0.1:$FLOOR_PORT" --rtp-ports 30000-39999 >"$base.log" 2>&1 &
		pid=$!
		target="127.0.0.1:$FLOOR_PORT"
		ready="$FLOOR_PORT"
		echo="--echo"
	fi
	wait_up "$base.log" "$ready"
	if [ "$kind" = brygga ] && command -v curl >/dev/null; then
		: >"$base.samples"
		sample "$pid" "$base.samples" &
		sampler=$!
	fi
	# shellcheck disable=SC2086
	"$bin" load --target "$target" --rooms "$rooms" --per-room "$PER_ROOM" --talkers "$TALKERS" \
		--duration "$DURATION" --ramp "$RAMP" --cpu-pid "$pid" --json $echo $EXTRA >"$base.json" 2>>"$base.log" || true
	kill -TERM "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	if [ -n "$sampler" ]; then
		wait "$sampler" 2>/dev/null || true
	fi
}

for size in $SIZES; do
	for run in $(seq "$RUNS"); do
		for kind in $KINDS; do
			echo "perf: $TAG $kind $size participants, run $run" >&2
			run_one "$kind" "$size" "$run"
		done
	done
done

python3 - "$OUT" "$TAG" "$SIZES" "$RUNS" <<'PY'
import json, statistics, sys, os
out, tag, sizes, runs = sys.argv[1], sys.argv[2], sys.argv[3].split(), int(sys.argv[4])
nan = float("nan")
def load(kind, size):
    rs = []
    for r in range(1, runs + 1):
        p = os.path.join(out, f"{tag}-{kind}-{size}-{r}.json")
        try:
            rs.append(json.load(open(p)))
        except Exception:
            pass
    return rs
def samples(size):
    # per run: (goroutines first, last, max), (heap MiB first, last) over the
    # samples taken after the ramp (the last two thirds of the run)
    out_ = []
    for r in range(1, runs + 1):
        p = os.path.join(out, f"{tag}-brygga-{size}-{r}.samples")
        try:
            rows = [list(map(float, l.split())) for l in open(p) if l.strip()]
        except Exception:
            continue
        rows = rows[len(rows) // 3:-1] or rows
        if rows:
            out_.append((rows[0][1], rows[-1][1], max(x[1] for x in rows), rows[0][2] / 2**20, rows[-1][2] / 2**20))
    return out_
def med(rs, f):
    v = []
    for r in rs:
        try:
            v.append(f(r))
        except Exception:
            pass
    return statistics.median(v) if v else nan
print("| participants | brygga CPU-s/p·min | cores | floor CPU-s/p·min | brygga/floor | loss % | jitter p99 ms | delay p99 ms | RSS KiB/p | goroutines | heap MiB (start→end) | failed calls | leaks | generator cores | generator late ticks |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for s in sizes:
    b, f = load("brygga", s), load("floor", s)
    bc = med(b, lambda r: r["server"]["cpu_s_per_participant_minute"])
    fc = med(f, lambda r: r["server"]["cpu_s_per_participant_minute"])
    sm = samples(s)
    gor = f"{statistics.median(x[1] for x in sm):.0f}" if sm else "–"
    heap = f"{statistics.median(x[3] for x in sm):.0f}→{statistics.median(x[4] for x in sm):.0f}" if sm else "–"
    print(f"| {s} | {bc:.4f} | {med(b, lambda r: r['server']['cores']):.2f} | {fc:.4f} | {bc/fc if fc == fc and fc else nan:.2f} "
          f"| {med(b, lambda r: r['packets']['loss_pct']):.3f} | {med(b, lambda r: r['jitter_ms']['p99']):.1f} "
          f"| {med(b, lambda r: r['delay_ms']['p99']):.1f} | {med(b, lambda r: r['server']['rss_per_participant_kib']):.0f} "
          f"| {gor} | {heap} | {med(b, lambda r: r['calls']['failed']):.0f} | {med(b, lambda r: r['separation']['leaks']):.0f} "
          f"| {med(b, lambda r: r['generator']['cores']):.2f} | {med(b, lambda r: r['generator']['late_sender_ticks_in_window']):.0f} |")
PY
