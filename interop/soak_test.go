package interop

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"brygga/media/tone"
	"brygga/phone"
)

// TestSoakRoom measures one room with real callers over a fixed time: the
// bridge process's CPU (from /proc, so the phones' own work is not
// counted) and its mixer clock's health (from the "room closed" log line).
// It is a measurement, not a timed assertion: it runs only when asked,
//
//	BRYGGA_SOAK=60s BRYGGA_SOAK_CALLERS=10 BRYGGA_SOAK_TALKERS=2 go test -run Soak -v ./interop/
//
// and fails only when a listener cannot hear the talkers or ticks are lost.
func TestSoakRoom(t *testing.T) {
	d, err := time.ParseDuration(os.Getenv("BRYGGA_SOAK"))
	if err != nil || d <= 0 {
		t.Skip("soak measurement: set BRYGGA_SOAK=60s (and BRYGGA_SOAK_CALLERS, BRYGGA_SOAK_TALKERS) to run it")
	}
	callers := envInt("BRYGGA_SOAK_CALLERS", 10)
	talkers := envInt("BRYGGA_SOAK_TALKERS", 2)
	b := StartBridge(t)

	ctx, cancel := context.WithTimeout(context.Background(), d+2*time.Minute)
	defer cancel()
	ph, err := phone.New(ctx, phone.Config{User: "soak"})
	if err != nil {
		t.Fatal(err)
	}
	defer ph.Close()
	freqs := []float64{500, 700, 1100, 1300}
	calls := make([]*phone.Call, callers)
	for i := range calls {
		dctx, dcancel := context.WithTimeout(ctx, 10*time.Second)
		c, err := ph.Dial(dctx, "sip:"+RoomExt+"*"+RoomPIN+"@"+b.SIP)
		dcancel()
		if err != nil {
			t.Fatalf("caller %d: %v", i, err)
		}
		if i < talkers {
			c.SetSource(Sine(freqs[i%len(freqs)]))
		}
		calls[i] = c
	}
	// One-step dial-in: everyone is in after the join prompt.
	time.Sleep(5 * time.Second)

	cpu0, err := processCPU(b.proc.Cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	mark := calls[callers-1].Mark()
	time.Sleep(d)
	cpu1, _ := processCPU(b.proc.Cmd.Process.Pid)
	wall := time.Since(start)

	// A silent listener must hear every talker (up to K=4).
	heard := calls[callers-1].ReceivedSince(mark)
	for i := 0; i < min(talkers, 4); i++ {
		if p := tone.Power(heard, freqs[i%len(freqs)], SampleRate); p < -30 {
			t.Errorf("listener hears talker %d's %.0f Hz at only %.1f dBFS", i, freqs[i%len(freqs)], p)
		}
	}
	for _, c := range calls {
		hctx, hcancel := context.WithTimeout(ctx, 5*time.Second)
		_ = c.Hangup(hctx)
		hcancel()
	}
	var st phone.Stats
	for _, c := range calls {
		s := c.Stats()
		st.PacketsReceived += s.PacketsReceived
		st.SeqGaps += s.SeqGaps
		st.Jitter = max(st.Jitter, s.Jitter)
	}
	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
	ticks, late, maxLate := roomClockHealth(b.Log())
	cpu := cpu1 - cpu0
	perMin := cpu.Seconds() / (float64(callers) * wall.Minutes())
	report := fmt.Sprintf("soak: %d callers (%d talking) for %s: bridge CPU %.2f s = %.1f%% of one core, %.4f CPU-s per participant-minute; "+
		"room ticks %d, late %d (%.3f%%), max lateness %s; callers received %d packets, %d sequence gaps, worst jitter %s",
		callers, talkers, wall.Round(time.Second), cpu.Seconds(), 100*cpu.Seconds()/wall.Seconds(), perMin,
		ticks, late, 100*float64(late)/float64(max(ticks, 1)), maxLate, st.PacketsReceived, st.SeqGaps, st.Jitter)
	t.Log(report)
	fmt.Println(report)
	if ticks == 0 {
		t.Error("no 'room closed' line with tick counts in the bridge log")
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// processCPU is user+system CPU time of a process, from /proc/PID/stat.
func processCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name (which may hold spaces) start at ')'.
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc stat: %q", data)
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const clkTck = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / clkTck, nil
}

var roomClosedRE = regexp.MustCompile(`room closed.* ticks=(\d+) late_ticks=(\d+) skipped=\d+ max_lateness=(\S+)`)

func roomClockHealth(log string) (ticks, late int, maxLate string) {
	m := roomClosedRE.FindStringSubmatch(log)
	if m == nil {
		return 0, 0, ""
	}
	ticks, _ = strconv.Atoi(m[1])
	late, _ = strconv.Atoi(m[2])
	return ticks, late, m[3]
}
