package load

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func noEnv(string) string { return "" }

func TestBadFlagsExitTwoNamingTheFlag(t *testing.T) {
	cases := []struct {
		args []string
		flag string
	}{
		{[]string{"--rooms", "x"}, "--rooms"},
		{[]string{"--rooms", "0"}, "--rooms"},
		{[]string{"--per-room", "0"}, "--per-room"},
		{[]string{"--talkers", "5", "--per-room", "4"}, "--talkers"},
		{[]string{"--duration", "500ms"}, "--duration"},
		{[]string{"--duration", "soon"}, "--duration"},
		{[]string{"--ramp", "0"}, "--ramp"},
		{[]string{"--ramp", "NaN"}, "--ramp"},
		{[]string{"--codec", "opus"}, "--codec"},
		{[]string{"--transport", "sctp"}, "--transport"},
		{[]string{"--target", "sip:"}, "--target"},
		{[]string{"--target", "127.0.0.1:99999"}, "--target"},
		{[]string{"--pin", "24a8"}, "--pin"},
		{[]string{"--pin-in-uri"}, "--pin-in-uri"},
		{[]string{"--rooms-list", "4711,,4712"}, "--rooms-list"},
		{[]string{"--rooms-list", "4711,4712", "--rooms", "3"}, "--rooms"},
		{[]string{"--rooms-list", "4711", "--room-base", "100"}, "--room-base"},
		{[]string{"--burst", "10ms"}, "--burst"},
		{[]string{"--pause", "10ms"}, "--pause"},
		{[]string{"--cpu-pid", "-3"}, "--cpu-pid"},
		{[]string{"--cpu-pid", "999999999"}, "--cpu-pid"},
		{[]string{"--local-ip", "localhost"}, "--local-ip"},
		{[]string{"--log-level", "loud"}, "--log-level"},
		{[]string{"--max-loss", "lots"}, "--max-loss"},
		{[]string{"--frobnicate"}, "--frobnicate"},
		{[]string{"stray"}, "stray"},
		{[]string{"--listen", "127.0.0.1:5090"}, "--listen"},
		{[]string{"--reflect", "--rooms", "2"}, "--rooms"},
		{[]string{"--reflect", "--rtp-ports", "5000"}, "--rtp-ports"},
		{[]string{"--reflect", "--rtp-ports", "6000-5000"}, "--rtp-ports"},
		{[]string{"--reflect", "--listen", "localhost"}, "--listen"},
		{[]string{"--reflect", "--listen", "0.0.0.0:5090"}, "--listen"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Command(context.Background(), c.args, noEnv, &out, &errb)
			if code != ExitBadFlag {
				t.Fatalf("exit %d, want %d; stderr: %s", code, ExitBadFlag, errb.String())
			}
			first, _, _ := strings.Cut(errb.String(), "\n")
			if !strings.Contains(first, c.flag) {
				t.Errorf("stderr %q does not name %s", first, c.flag)
			}
			if out.Len() != 0 {
				t.Errorf("stdout %q on a flag error", out.String())
			}
			// ParseArgs says the same as a FlagError.
			_, err := ParseArgs(c.args, noEnv)
			var fe *FlagError
			if !errors.As(err, &fe) || !strings.Contains(fe.Flag, strings.TrimLeft(c.flag, "-")) {
				t.Errorf("ParseArgs: %v, want a FlagError for %s", err, c.flag)
			}
		})
	}
}

func TestParseArgs(t *testing.T) {
	env := map[string]string{"BRYGGA_LOAD_PER_ROOM": "7", "BRYGGA_LOAD_TARGET": "10.1.2.3:5070", "BRYGGA_LOAD_RAMP": "2"}
	o, err := ParseArgs([]string{"--target", "sip:127.0.0.1:5080", "--rooms", "3", "--room-base", "100", "--talkers", "1",
		"--pin", "2468", "--pin-in-uri", "--codec", "PCMA", "--pause", "0", "--max-loss", "0.5", "--max-delay", "60ms", "--json"},
		func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	g := o.Generator
	if g.Target != "127.0.0.1:5080" {
		t.Errorf("target %q: the flag beats BRYGGA_LOAD_TARGET", g.Target)
	}
	if g.PerRoom != 7 || g.Ramp != 2 {
		t.Errorf("per-room %d, ramp %g: from the environment", g.PerRoom, g.Ramp)
	}
	if strings.Join(g.Rooms, ",") != "100,101,102" || g.Talkers != 1 || g.Codec.Name() != "PCMA" || !o.JSON {
		t.Errorf("rooms %v talkers %d codec %s json %v", g.Rooms, g.Talkers, g.Codec.Name(), o.JSON)
	}
	if g.PIN != "2468" || !g.PINInURI || g.Pause >= 0 {
		t.Errorf("pin %q in URI %v, pause %s (0 on the command line is no pause)", g.PIN, g.PINInURI, g.Pause)
	}
	l := g.Limits
	if l.MaxLoss != 0.5 || l.MaxDelay != 60*time.Millisecond || l.MaxFailed != -1 || l.MaxLeaks != -1 || l.MaxJitter != 0 {
		t.Errorf("limits %+v", l)
	}

	o, err = ParseArgs([]string{"--rooms-list", "4711, 4712"}, noEnv)
	if err != nil || strings.Join(o.Generator.Rooms, ",") != "4711,4712" {
		t.Fatalf("rooms-list: %v %v", o, err)
	}
	if o.Generator.Target != "127.0.0.1:5060" || o.Generator.Transport != "udp" || o.Generator.Pause != 1400*time.Millisecond {
		t.Errorf("defaults: %+v", o.Generator)
	}

	o, err = ParseArgs([]string{"--reflect", "--listen", "127.0.0.1:5095", "--rtp-ports", "30000-30099"}, noEnv)
	if err != nil || !o.Reflect || o.Reflector.Listen != "127.0.0.1:5095" || o.Reflector.PortLo != 30000 || o.Reflector.PortHi != 30099 {
		t.Fatalf("reflect: %+v %v", o, err)
	}

	_, err = ParseArgs(nil, func(k string) string {
		if k == "BRYGGA_LOAD_ROOMS" {
			return "many"
		}
		return ""
	})
	if err == nil || !strings.Contains(err.Error(), "--rooms") || !strings.Contains(err.Error(), "BRYGGA_LOAD_ROOMS") {
		t.Errorf("a bad environment variable: %v", err)
	}
}

func TestParseTarget(t *testing.T) {
	for in, want := range map[string]string{
		"sip:127.0.0.1:5060":                    "127.0.0.1:5060",
		"127.0.0.1:5070":                        "127.0.0.1:5070",
		"127.0.0.1":                             "127.0.0.1:5060",
		"sip:4711@127.0.0.2:5061;transport=tcp": "127.0.0.2:5061",
		"sip:bridge.example.org":                "bridge.example.org:5060",
		"[::1]:5062":                            "[::1]:5062",
	} {
		got, err := parseTarget(in)
		if err != nil || got != want {
			t.Errorf("parseTarget(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "sip:", "host:0", "host:x", "a b:5060"} {
		if got, err := parseTarget(bad); err == nil {
			t.Errorf("parseTarget(%q) = %q, want an error", bad, got)
		}
	}
}

func TestHelp(t *testing.T) {
	var out, errb bytes.Buffer
	if code := Command(context.Background(), []string{"--help"}, noEnv, &out, &errb); code != ExitOK {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(out.String(), "--reflect") || !strings.Contains(out.String(), "--per-room") {
		t.Errorf("usage: %s", out.String())
	}
}

// TestCommandFailsALimit runs the whole command against the reflector with
// a jitter limit no real network meets: the run completes, the JSON says
// why it failed, and the exit status is 1.
func TestCommandFailsALimit(t *testing.T) {
	r := startReflector(t)
	var out, errb bytes.Buffer
	code := Command(context.Background(), []string{
		"--target", "sip:" + r.Addr().String(), "--rooms", "1", "--per-room", "3", "--talkers", "1",
		"--duration", "2s", "--settle", "500ms", "--echo", "--json", "--max-jitter", "1ns", "--max-failed", "0",
	}, noEnv, &out, &errb)
	if code != ExitFailed {
		t.Fatalf("exit %d, want %d; stderr: %s", code, ExitFailed, errb.String())
	}
	var rep Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("stdout is not the JSON report: %v\n%s", err, out.String())
	}
	if rep.OK || len(rep.Failures) != 1 || !strings.Contains(rep.Failures[0], "--max-jitter") {
		t.Errorf("ok %v, failures %q; want only the jitter limit", rep.OK, rep.Failures)
	}
	if rep.Calls.Answered != 3 || rep.Packets.Received == 0 || rep.Jitter.N == 0 {
		t.Errorf("calls %+v packets %+v jitter %+v", rep.Calls, rep.Packets, rep.Jitter)
	}
	if !strings.Contains(errb.String(), "placing 3 calls") {
		t.Errorf("no progress on stderr: %s", errb.String())
	}
}

func TestReportText(t *testing.T) {
	rep := &Report{
		Target: "127.0.0.1:5060", Transport: "udp", Codec: "PCMU", Rooms: 2, PerRoom: 3, Talkers: 1, Participants: 6,
		Calls:      Calls{Attempted: 6, Answered: 5, Failed: 1, ByStatus: map[string]int{"486": 1}, InWindow: 5},
		Packets:    Packets{Expected: 1000, Received: 990, Lost: 10, LossPercent: 1},
		Separation: Separation{Pairs: 4, PairsHeard: 3, Missed: 1, Leaks: 2, LeakListeners: 1},
		Server:     &Server{PID: 42, CPUSeconds: 1.5, Cores: 0.05, PerParticipantMinute: 0.01},
		Generator:  Gen{CPUSeconds: 0.9, Cores: 0.03, PerParticipantMinute: 0.006, LateTicks: 40, LateTicksInWindow: 7},
	}
	fails := rep.check(Limits{MaxFailed: 0, MaxLoss: 0.5, MaxLeaks: 0, MaxMissed: 0})
	if len(fails) != 4 {
		t.Fatalf("failures %q, want calls, loss, leaks and missed", fails)
	}
	if f := rep.check(NoLimits); len(f) != 0 {
		t.Errorf("no limits, yet %q", f)
	}
	rep.Failures = fails
	var b bytes.Buffer
	rep.WriteText(&b)
	for _, want := range []string{"486×1", "lost 10 (1.000 %)", "3/4 listener-talker pairs", "leaks 2", "0.0100 CPU-s per participant-minute",
		"0.0060 CPU-s per participant-minute; late sender ticks 7 in the window (40 in all)", "FAILED"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, b.String())
		}
	}
}
