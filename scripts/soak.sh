#!/usr/bin/env bash
# Soak test for docs/soak.md: a few hundred callers joining and leaving
# all the time for half an hour, to show that the bridge's memory and
# goroutines stay flat and no call fails.
#
# It is scripts/perf.sh run once, on brygga alone, with churning callers
# (`brygga load --hold MIN..MAX`: each call hangs up after a random hold and
# a new one takes its seat, so about PARTICIPANTS stay connected): perf.sh
# builds the binary, writes the config (open rooms, names off, max_calls
# above the run, the generator trusted so the rate limits do not refuse
# it), starts `brygga serve` on loopback and drives it. Beside it this
# script samples, every SAMPLE seconds, the bridge's /metrics (goroutines,
# heap, call counters, participants) and /proc (RSS, CPU, of the bridge
# and of the generator) and the machine's load average into a CSV, and
# prints a summary: calls placed/answered/failed, goroutines, heap, the
# GC's heap goal and RSS at start/middle/end of the window with a
# least-squares trend per 10 minutes (over the window, and without its
# first WARMUP seconds).
#
#   scripts/soak.sh                                   # 300 callers, 20 per room, 20-90 s holds, 30 min
#   DURATION=3m scripts/soak.sh                       # a quick check
#   PARTICIPANTS=500 HOLD=10s..30s DURATION=1h scripts/soak.sh
#   scripts/soak.sh --summary OUT                     # the summary of a finished run again
#
# Run by hand, not in CI. Everything stays on 127.0.0.1 and stops by
# itself; the raw files are in OUT.
set -euo pipefail
cd "$(dirname "$0")/.."

PARTICIPANTS=${PARTICIPANTS:-300}
PER_ROOM=${PER_ROOM:-20}
TALKERS=${TALKERS:-2}
HOLD=${HOLD:-20s..90s}
DURATION=${DURATION:-30m}
SAMPLE=${SAMPLE:-30}
RAMP=${RAMP:-50}
EXTRA=${EXTRA:-}                  # more flags for brygga load
WARMUP=${WARMUP:-300}             # seconds of the window left out of the second trend (the heap's and RSS's warm-up)
# Ports of their own, so a soak can run beside someone's perf.sh.
SIP_PORT=${SIP_PORT:-5470}
API_PORT=${API_PORT:-5480}

summary() { # OUT
	python3 - "$1" "$WARMUP" <<'PY'
import csv, glob, json, os, sys
out, warmup = sys.argv[1], float(sys.argv[2])
rows = list(csv.DictReader(open(os.path.join(out, "soak.csv"))))
rep = {}
for p in glob.glob(os.path.join(out, "soak-brygga-*-1.json")):
    try:
        rep = json.load(open(p))
    except Exception:
        pass
f = lambda r, k: float(r[k]) if r.get(k) not in (None, "") else float("nan")
w0 = rep.get("window_start_ms", 0) / 1000
w1 = w0 + rep.get("window_ms", 0) / 1000
win = [r for r in rows if w0 <= f(r, "t_s") <= w1] or rows
warm = [r for r in win if f(r, "t_s") >= w0 + warmup]
def trend(key, rs=win):
    xs = [f(r, "t_s") for r in rs]
    ys = [f(r, key) for r in rs]
    pts = [(x, y) for x, y in zip(xs, ys) if y == y]
    if len(pts) < 2:
        return float("nan")
    mx = sum(x for x, _ in pts) / len(pts)
    my = sum(y for _, y in pts) / len(pts)
    sxx = sum((x - mx) ** 2 for x, _ in pts)
    return sum((x - mx) * (y - my) for x, y in pts) / sxx * 600 if sxx else float("nan")
def series(key, fmt):
    a, m, b = win[0], win[len(win) // 2], win[-1]
    vals = [f(r, key) for r in win]
    after = f"; after the first {warmup / 60:g} min {trend(key, warm):+.2f}" if len(warm) > 1 else ""
    return (f"{fmt.format(f(a, key))} / {fmt.format(f(m, key))} / {fmt.format(f(b, key))}"
            f"  (min {fmt.format(min(vals))}, max {fmt.format(max(vals))}; trend {trend(key):+.2f} per 10 min{after})")
c = rep.get("calls", {})
ch = rep.get("churn", {})
pk = rep.get("packets", {})
sep = rep.get("separation", {})
print(f"soak: {rep.get('participants', '?')} seats ({rep.get('rooms', '?')} rooms × {rep.get('per_room', '?')}, "
      f"{rep.get('talkers', '?')} talkers each), holds {ch.get('hold_min_ms', 0)/1000:g}..{ch.get('hold_max_ms', 0)/1000:g} s, "
      f"window {rep.get('window_ms', 0)/60000:.1f} min from {w0:.0f} s; {len(win)} samples in it")
print(f"calls (generator)  placed {c.get('attempted')}  answered {c.get('answered')}  failed {c.get('failed')} "
      f"{c.get('failed_by_status') or ''}  PIN failed {c.get('pin_failed')}  dropped by the bridge {c.get('dropped')}  "
      f"BYE failed {ch.get('bye_failed')}  placed in the window {ch.get('placed_in_window')}")
last = rows[-1]
print(f"calls (bridge)     answered {f(last, 'calls_answered'):.0f}  rejected {f(last, 'calls_rejected'):.0f}  "
      f"failed {f(last, 'calls_failed'):.0f}  bad PIN {f(last, 'calls_bad_pin'):.0f}  (brygga_calls_total at the last sample)")
print(f"connected          min {ch.get('connected_min')}  mean {ch.get('connected_mean')}  max {ch.get('connected_max')} (generator, every second)")
print(f"goroutines         start/middle/end {series('goroutines', '{:.0f}')}")
print(f"heap in use MiB    start/middle/end {series('heap_inuse_mib', '{:.1f}')}")
print(f"heap alloc MiB     start/middle/end {series('heap_alloc_mib', '{:.1f}')}")
if "heap_objects" in rows[0]:
    print(f"heap objects       start/middle/end {series('heap_objects', '{:.0f}')}")
if "next_gc_mib" in rows[0]:
    # The GC's goal is twice the heap live after the last collection
    # (GOGC=100): unlike the heap figures above it does not depend on
    # where in a GC cycle the sample falls.
    print(f"GC goal MiB        start/middle/end {series('next_gc_mib', '{:.1f}')}")
print(f"RSS MiB            start/middle/end {series('rss_mib', '{:.1f}')}")
print(f"bridge cores       mean {sum(f(r, 'cpu_cores') for r in win[1:]) / max(len(win) - 1, 1):.3f}; "
      f"generator cores mean {sum(f(r, 'gen_cores') for r in win[1:]) / max(len(win) - 1, 1):.3f}")
print(f"load average (1m)  min {min(f(r, 'load1') for r in win):.2f}  mean {sum(f(r, 'load1') for r in win) / len(win):.2f}  "
      f"max {max(f(r, 'load1') for r in win):.2f}  ({os.cpu_count()} cores)")
print(f"audio              loss {pk.get('loss_pct')} % of {pk.get('expected')} packets; jitter p50/p99 "
      f"{rep.get('jitter_ms', {}).get('p50')}/{rep.get('jitter_ms', {}).get('p99')} ms; delay p50/p99 "
      f"{rep.get('delay_ms', {}).get('p50')}/{rep.get('delay_ms', {}).get('p99')} ms; pairs heard "
      f"{sep.get('pairs_heard')}/{sep.get('pairs')}, bursts {sep.get('bursts_heard')}/{sep.get('bursts_expected')}, "
      f"leaks {sep.get('leaks')}, self-echo {sep.get('self_echo')}")
print(f"load result        {'ok' if rep.get('ok') else 'FAILED: ' + '; '.join(rep.get('failures') or ['no report'])}")
PY
}

if [ "${1:-}" = --summary ]; then
	summary "$2"
	exit 0
fi

OUT=${OUT:-$(mktemp -d /tmp/brygga-soak.XXXXXX)}
mkdir -p "$OUT"
echo "soak: raw results in $OUT" >&2

# perf.sh does the run: one size, one run, the bridge alone.
OUT=$OUT KINDS=brygga SIZES=$PARTICIPANTS PER_ROOM=$PER_ROOM TALKERS=$TALKERS RUNS=1 DURATION=$DURATION \
	RAMP=$RAMP TAG=soak SAMPLE=$SAMPLE SIP_PORT=$SIP_PORT API_PORT=$API_PORT EXTRA="--hold $HOLD $EXTRA" \
	scripts/perf.sh >"$OUT/perf-table.md" 2>"$OUT/perf.log" &
perf=$!

# The bridge perf.sh started: its binary is in OUT, which is ours alone.
pid=""
for _ in $(seq 600); do
	pid=$(pgrep -f -x "$OUT/brygga serve .*" | head -1 || true)
	[ -n "$pid" ] && break
	kill -0 "$perf" 2>/dev/null || break
	sleep 0.1
done
if [ -z "$pid" ]; then
	echo "soak: the bridge did not start, see $OUT/perf.log" >&2
	wait "$perf" || true
	exit 1
fi
echo "soak: bridge pid $pid; sampling every $SAMPLE s into $OUT/soak.csv" >&2

tck=$(getconf CLK_TCK)
cpu_of() { # PID: CPU-seconds (user + system) so far, empty when gone
	awk -v t="$tck" '{ sub(/.*\) /, ""); printf "%.2f", ($12 + $13) / t }' "/proc/$1/stat" 2>/dev/null || true
}
echo "t_s,goroutines,heap_inuse_mib,heap_alloc_mib,heap_objects,next_gc_mib,rss_mib,cpu_s,cpu_cores,calls_answered,calls_rejected,calls_failed,calls_bad_pin,participants_room,participants_lobby,conferences,gen_cpu_s,gen_cores,load1" >"$OUT/soak.csv"
t0=$(date +%s.%N)
prev_t="" prev_cpu="" prev_gen=""
while kill -0 "$pid" 2>/dev/null; do
	now=$(date +%s.%N)
	gen=$(pgrep -f -x "$OUT/brygga load .*" | head -1 || true)
	cpu=$(cpu_of "$pid")
	gcpu=""
	[ -n "$gen" ] && gcpu=$(cpu_of "$gen")
	rss=$(awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status" 2>/dev/null || true)
	load1=$(cut -d' ' -f1 /proc/loadavg)
	metrics=$(curl -s --max-time 5 "http://127.0.0.1:$API_PORT/metrics" || true)
	[ -n "$cpu" ] && [ -n "$metrics" ] || break
	awk -v t0="$t0" -v rss="$rss" -v cpu="$cpu" -v gcpu="$gcpu" -v load1="$load1" \
		-v pt="$prev_t" -v pc="$prev_cpu" -v pg="$prev_gen" -v now="$now" '
		/^go_goroutines /                            { g = $2 }
		/^go_memstats_heap_inuse_bytes /             { hi = $2 / 1048576 }
		/^go_memstats_heap_alloc_bytes /             { ha = $2 / 1048576 }
		/^go_memstats_heap_objects /                 { ho = $2 }
		/^go_memstats_next_gc_bytes /                { ng = $2 / 1048576 }
		/^brygga_calls_total\{result="answered"\}/   { ans = $2 }
		/^brygga_calls_total\{result="rejected"\}/   { rej = $2 }
		/^brygga_calls_total\{result="failed"\}/     { fail = $2 }
		/^brygga_calls_total\{result="bad_pin"\}/    { bad = $2 }
		/^brygga_participants\{where="room"\}/       { room = $2 }
		/^brygga_participants\{where="lobby"\}/      { lobby = $2 }
		/^brygga_conferences /                       { conf = $2 }
		END {
			cores = (pt != "" && now > pt) ? (cpu - pc) / (now - pt) : ""
			gcores = (pt != "" && pg != "" && gcpu != "" && now > pt) ? (gcpu - pg) / (now - pt) : ""
			printf "%.0f,%d,%.1f,%.1f,%d,%.1f,%s,%s,%s,%d,%d,%d,%d,%d,%d,%d,%s,%s,%s\n", now - t0, g, hi, ha, ho, ng, rss, cpu,
				(cores == "" ? "" : sprintf("%.3f", cores)), ans, rej, fail, bad, room, lobby, conf, gcpu,
				(gcores == "" ? "" : sprintf("%.3f", gcores)), load1
		}' <<<"$metrics" >>"$OUT/soak.csv"
	prev_t=$now prev_cpu=$cpu prev_gen=$gcpu
	sleep "$SAMPLE"
done
wait "$perf" || true
cp "$OUT"/soak-brygga-*-1.json "$OUT/soak.json" 2>/dev/null || true
summary "$OUT" | tee "$OUT/summary.txt"
