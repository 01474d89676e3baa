package sip_test

// End-to-end tests: the whole bridge (SIP, IVR, mixer, media) on loopback,
// called by real SIP phones built on sipgo and pion/rtp, with what every
// caller hears checked by Goertzel.

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"brygga/conference"
	"brygga/config"
	"brygga/media"
	"brygga/media/codec"
	"brygga/media/tone"
	"brygga/phone"
	"brygga/prompts"
	"brygga/sip"
	"brygga/store"
)

// Names are off in the signalling tests: they add a prompt and five
// seconds to every join (conference/ tests the names).
const roomYAML = `
open_rooms: ""
defaults:
  names: false
directory:
  - extension: "4711"
    name: "Kari Nordmann"
    pin: "2468"
    host_pin: "97531"
  - extension: "5000"
    name: "Open Room"
`

type bridge struct {
	srv    *sip.Server
	conf   *conference.Bridge
	ports  *media.PortPool
	target func(user string) string
	tcp    string
}

// option changes how startBridge builds the bridge: the conference's
// options (PIN timeout) or the SIP server's (MaxCalls, a slow directory).
type option func(*conference.Options, *sip.Options)

func withConference(f func(*conference.Options)) option {
	return func(co *conference.Options, _ *sip.Options) { f(co) }
}

func withSIP(f func(*sip.Options)) option {
	return func(_ *conference.Options, so *sip.Options) { f(so) }
}

func startBridge(t *testing.T, yaml string, opts ...option) *bridge {
	t.Helper()
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "brygga.yaml")
	if err := os.WriteFile(cfgFile, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse([]string{"--config", cfgFile, "--sip", "127.0.0.1:0", "--data", dir}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	w := &testWriter{t: t}
	log := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	lo := 30000 + (os.Getpid()%500)*20
	ports := media.NewPortPool(net.IPv4(127, 0, 0, 1), lo, lo+199)
	co := conference.Options{Prompts: prompts.Builtin(), Logger: log}
	so := sip.Options{
		Listen:    cfg.SIP.Listen,
		MediaIP:   netip.MustParseAddr("127.0.0.1"),
		Ports:     ports,
		Directory: store.ConfigDirectory{Config: cfg},
		Trusted:   cfg.SIP.Trusted,
		MaxCalls:  50,
		Logger:    log,
	}
	for _, o := range opts {
		o(&co, &so)
	}
	conf := conference.New(co)
	so.Bridge = conf
	srv, err := sip.New(so)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	b := &bridge{srv: srv, conf: conf, ports: ports}
	var udp string
	for _, l := range srv.Bound() {
		if l.Transport == "udp" {
			udp = l.Addr
		} else {
			b.tcp = l.Addr
		}
	}
	b.target = func(user string) string { return "sip:" + user + "@" + udp }
	t.Cleanup(func() {
		srv.Drain()
		conf.HangupAll(5 * time.Second)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Wait(ctx)
		srv.Close()
		// Timers inside sipgo may still log after Close; the test is over
		// by then and testing.T must not be written to.
		w.stop()
	})
	return b
}

// testWriter sends the bridge's log to the test log, shown only on failure.
type testWriter struct {
	t       *testing.T
	mu      sync.Mutex
	stopped bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.stopped {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *testWriter) stop() {
	w.mu.Lock()
	w.stopped = true
	w.mu.Unlock()
}

func newPhone(t *testing.T, user string, c codec.Codec) *phone.Phone {
	t.Helper()
	return newPhoneWith(t, phone.Config{LocalIP: netip.MustParseAddr("127.0.0.1"), User: user, Codec: c})
}

func newPhoneWith(t *testing.T, cfg phone.Config) *phone.Phone {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	p, err := phone.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func dial(t *testing.T, p *phone.Phone, target string) *phone.Call {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := p.Dial(ctx, target)
	if err != nil {
		t.Fatalf("dial %s: %v", target, err)
	}
	return c
}

func toneSource(freq float64) func([]int16) {
	var phase float64
	return func(pcm []int16) { tone.Sine(pcm, freq, 8000, 0.25, &phase) }
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func participants(b *bridge, ext string) int {
	for _, r := range b.conf.Rooms() {
		if r.Extension == ext {
			return r.Participants
		}
	}
	return 0
}

// checkHears asserts that pcm holds every tone in present and none in absent.
// "Absent" means: G.711 companding of a mix leaves products about
// 40 dB down, so an absent tone must be 20 dB under the weakest present one
// and under -35 dBFS, not digital silence.
func checkHears(t *testing.T, who string, pcm []int16, present, absent []float64) {
	t.Helper()
	if len(pcm) < 8000 {
		t.Fatalf("%s: only %d samples received", who, len(pcm))
	}
	weakest := 0.0
	for _, f := range present {
		p := tone.Power(pcm, f, 8000)
		if p < -30 {
			t.Errorf("%s: %.0f Hz at %.1f dBFS, want it clearly present", who, f, p)
		}
		weakest = min(weakest, p)
	}
	for _, f := range absent {
		p := tone.Power(pcm, f, 8000)
		if p > weakest-20 || p > -35 {
			t.Errorf("%s: %.0f Hz at %.1f dBFS (weakest present %.1f), want it absent", who, f, p, weakest)
		}
	}
}

func TestThreeCallersHearEachOtherNotThemselves(t *testing.T) {
	b := startBridge(t, roomYAML)
	freqs := []float64{500, 700, 1100}
	codecs := []codec.Codec{codec.PCMU, codec.PCMA, codec.PCMU} // a PCMA caller in a PCMU room
	calls := make([]*phone.Call, 3)
	for i, f := range freqs {
		p := newPhone(t, fmt.Sprintf("caller%d", i), codecs[i])
		c := dial(t, p, b.target("4711"))
		c.SetSource(toneSource(f))
		if err := c.SendDigits("2468#"); err != nil {
			t.Fatal(err)
		}
		calls[i] = c
	}
	waitFor(t, "three participants", 20*time.Second, func() bool { return participants(b, "4711") == 3 })
	time.Sleep(1500 * time.Millisecond) // let the join tones and prompts end
	marks := make([]int, 3)
	for i, c := range calls {
		marks[i] = c.Mark()
	}
	time.Sleep(2 * time.Second)
	for i, c := range calls {
		heard := c.ReceivedSince(marks[i])
		var others []float64
		for j, f := range freqs {
			if j != i {
				others = append(others, f)
			}
		}
		checkHears(t, fmt.Sprintf("caller %d (%s, %.0f Hz)", i, codecs[i].Name(), freqs[i]), heard, others, []float64{freqs[i]})
	}
	for _, c := range calls {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := c.Hangup(ctx); err != nil {
			t.Error("hangup:", err)
		}
		cancel()
	}
	waitFor(t, "empty bridge", 10*time.Second, func() bool { return b.conf.Calls() == 0 && b.srv.Calls() == 0 })
	waitFor(t, "all RTP ports free", 5*time.Second, func() bool { return b.ports.InUse() == 0 })
	if n := len(b.conf.Rooms()); n != 0 {
		t.Errorf("%d rooms still live after everyone left", n)
	}
}

func TestWrongPINThreeTimesHearsNoticeAndBye(t *testing.T) {
	b := startBridge(t, roomYAML)
	p := newPhone(t, "guesser", codec.PCMU)
	c := dial(t, p, b.target("4711"))
	for _, guess := range []string{"1111#", "2222#", "3333#"} {
		time.Sleep(1500 * time.Millisecond)
		if err := c.SendDigits(guess); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-c.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("bridge did not hang up after three wrong PINs")
	}
	if !c.EndedByRemote() {
		t.Error("call should have been ended by the bridge's BYE")
	}
	// The goodbye prompt is the last thing heard: find speech in the final
	// seconds (a prompt is well above -40 dBFS; silence is far below).
	heard := c.Received()
	bad := prompts.Builtin().Clip("en", prompts.PinBad)
	tail := heard[max(0, len(heard)-len(bad)-8000):]
	if lvl := tone.Level(tail); lvl < -40 {
		t.Errorf("final prompt level %.1f dBFS: the too-many-PINs notice was not heard", lvl)
	}
	if n := participants(b, "4711"); n != 0 {
		t.Errorf("guesser got into the room (%d participants)", n)
	}
	waitFor(t, "RTP port freed", 5*time.Second, func() bool { return b.ports.InUse() == 0 })
}
