package interop

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"

	"brygga/load"
)

// TestLoadSmoke is CI's smoke load through the real bridge: 20 callers
// dial the PIN room, key the PIN as RFC 4733 events, two of them talk in
// tone bursts, and for 10 s every listener must hear both talkers (each
// talker the other), nothing from elsewhere and nothing of itself, with no
// failed call and at most 1 % loss. Counts, not times: delay and jitter
// are logged, never asserted, as a shared machine makes them noisy.
func TestLoadSmoke(t *testing.T) {
	b := StartBridge(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := load.Run(ctx, load.Config{
		Target:   b.SIP,
		Rooms:    []string{RoomExt},
		PerRoom:  20, // the bridge has RTP ports for 20 calls
		Talkers:  2,
		Duration: 10 * time.Second,
		// The PIN prompt, the entry prompt and the join tones of 20
		// callers are over well within this after the last PIN.
		Settle: 6 * time.Second,
		Ramp:   10,
		PIN:    RoomPIN,
		CPUPID: b.proc.Cmd.Process.Pid,
		Limits: load.Limits{MaxFailed: 0, MaxLoss: 1, MaxLeaks: 0, MaxMissed: 0},
		Logger: loadLog(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	logReport(t, rep)
	if !rep.OK {
		t.Errorf("the run failed: %q", rep.Failures)
	}
	c := rep.Calls
	if c.Attempted != 20 || c.Answered != 20 || c.Failed != 0 || c.PINFailed != 0 || c.Dropped != 0 || c.InWindow != 20 {
		t.Errorf("calls %+v: want all 20 answered, admitted and up for the window", c)
	}
	p := rep.Packets
	// 20 listeners, 50 packets a second, 10 s: the bridge sends to everyone
	// on every tick.
	if p.Received < 9000 || p.LossPercent > 1 || p.Silent != 0 {
		t.Errorf("packets %+v: want about 10000 received, loss ≤ 1 %%", p)
	}
	s := rep.Separation
	// 18 silent listeners hear 2 talkers, each talker hears the other.
	if s.Pairs != 18*2+2*1 || s.PairsHeard != s.Pairs {
		t.Errorf("%d of %d listener-talker pairs heard, want all 38", s.PairsHeard, s.Pairs)
	}
	if s.Violations() != 0 {
		t.Errorf("%d separation violations: %d leaks (%v), %d times a talker heard itself", s.Violations(), s.Leaks, s.LeakedFreqs, s.SelfEcho)
	}
	if s.BurstsHeard == 0 || rep.Delay.N == 0 {
		t.Errorf("no burst onset was heard (%d of %d)", s.BurstsHeard, s.BurstsExpected)
	}
}

// TestLoadReflectorSmoke runs the generator against the floor, both in this
// process: two rooms, where every caller hears exactly itself (the
// reflector echoes) and nothing else.
func TestLoadReflectorSmoke(t *testing.T) {
	lo, hi := PortBlock(t, 40)
	r, err := load.StartReflector(load.ReflectConfig{Listen: "127.0.0.1:0", PortLo: lo, PortHi: hi})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := load.Run(ctx, load.Config{
		Target:   r.Addr().String(),
		Rooms:    []string{"100", "200"},
		PerRoom:  10,
		Talkers:  2,
		Duration: 5 * time.Second,
		Settle:   time.Second,
		PIN:      RoomPIN,
		Echo:     true,
		Limits:   load.Limits{MaxFailed: 0, MaxLoss: 1, MaxLeaks: 0, MaxMissed: 0},
		Logger:   loadLog(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	logReport(t, rep)
	if !rep.OK {
		t.Errorf("the run failed: %q", rep.Failures)
	}
	if rep.Calls.InWindow != 20 || rep.Packets.Received < 4500 {
		t.Errorf("calls %+v, packets %+v", rep.Calls, rep.Packets)
	}
	if s := rep.Separation; s.Pairs != 4 || s.PairsHeard != 4 || s.Distinct != 2 {
		t.Errorf("separation %+v: want each of the 4 talkers to hear itself", s)
	}
	if st := r.Stats(); st.Calls != 20 {
		t.Errorf("the reflector answered %d calls, want 20", st.Calls)
	}
}

// loadLog gives a run's SIP log a file, shown when the test fails.
func loadLog(t *testing.T) *slog.Logger {
	t.Helper()
	return testLogger(t, "load.log", "load generator log", slog.LevelInfo, 200)
}

func logReport(t *testing.T, rep *load.Report) {
	t.Helper()
	var b bytes.Buffer
	rep.WriteText(&b)
	t.Logf("load report:\n%s", b.String())
}
