package conference

// The IVR without SIP: a fake call with a real media session (sending to a
// UDP socket the test reads) and key presses pushed straight in.

import (
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"brygga/config"
	"brygga/media"
	"brygga/media/codec"
	"brygga/media/tone"
	"brygga/prompts"
)

type fakeCall struct {
	id       string
	callerID string
	trusted  bool
	secure   bool
	sess     *media.Session
	ear      *net.UDPConn // what the caller hears arrives here
	digits   chan byte
	done     chan struct{}
	once     sync.Once
	hungUp   atomic.Bool

	mu    sync.Mutex
	heard []int16
	mouth chan struct{} // closed to stop talk
	seq   uint16
}

func newFakeCall(t *testing.T, id, callerID string) *fakeCall {
	t.Helper()
	// The call's SIP came from the loopback its SDP names: the bridge may
	// send there before the fake caller says a word.
	s, err := media.NewSession(media.SessionConfig{SignalIP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	ear, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	s.SetRemote(media.Remote{Addr: ear.LocalAddr().(*net.UDPAddr), Codec: codec.PCMU, DTMF: 101, Send: true})
	s.Start()
	c := &fakeCall{id: id, callerID: callerID, sess: s, ear: ear, digits: make(chan byte, 32), done: make(chan struct{})}
	go c.listen()
	t.Cleanup(func() { c.Hangup(); s.Close(); ear.Close() })
	return c
}

// listen decodes what the bridge sends; RTP headers are 12 bytes here.
func (c *fakeCall) listen() {
	buf := make([]byte, 1500)
	pcm := make([]int16, 1500)
	for {
		n, err := c.ear.Read(buf)
		if err != nil {
			return
		}
		if n <= 12 {
			continue
		}
		k := codec.PCMU.Decode(pcm, buf[12:n])
		c.mu.Lock()
		c.heard = append(c.heard, pcm[:k]...)
		c.mu.Unlock()
	}
}

func (c *fakeCall) heardLen() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.heard)
}

func (c *fakeCall) heardSince(n int) []int16 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int16(nil), c.heard[n:]...)
}

func (c *fakeCall) ID() string            { return c.id }
func (c *fakeCall) CallerID() string      { return c.callerID }
func (c *fakeCall) Source() netip.Addr    { return netip.MustParseAddr("127.0.0.1") }
func (c *fakeCall) Trusted() bool         { return c.trusted }
func (c *fakeCall) Secure() bool          { return c.secure }
func (c *fakeCall) Media() *media.Session { return c.sess }
func (c *fakeCall) Digits() <-chan byte   { return c.digits }
func (c *fakeCall) Done() <-chan struct{} { return c.done }
func (c *fakeCall) Hangup() {
	c.once.Do(func() { c.hungUp.Store(true); close(c.done) })
}

func (c *fakeCall) press(keys string) {
	for i := 0; i < len(keys); i++ {
		c.digits <- keys[i]
	}
}

var room4711 = config.Room{Extension: "4711", PIN: "2468", HostPIN: "97531", Settings: config.RoomSettings{Language: "en"}}

func newTestBridge(timeout time.Duration) *Bridge {
	return New(Options{Prompts: prompts.Builtin(), PINTimeout: timeout})
}

func serve(b *Bridge, c *fakeCall, rc config.Room, dialled string) chan struct{} {
	done := make(chan struct{})
	go func() { defer close(done); b.Serve(c, rc, dialled) }()
	return done
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func roleOf(b *Bridge, ext, id string) string {
	for _, r := range b.Rooms() {
		if r.Extension != ext {
			continue
		}
		for _, p := range r.Members {
			if p.ID == id {
				return p.Role
			}
		}
	}
	return ""
}

func TestAdmit(t *testing.T) {
	cases := []struct {
		name     string
		room     config.Room
		callerID string
		trusted  bool
		dialled  string
		keys     string
		role     string // "" = hung up
	}{
		{name: "participant pin", room: room4711, keys: "2468#", role: "participant"},
		{name: "host pin", room: room4711, keys: "97531#", role: "host"},
		{name: "star restarts", room: room4711, keys: "99*2468#", role: "participant"},
		{name: "wrong then right", room: room4711, keys: "1111#2468#", role: "participant"},
		{name: "three wrong", room: room4711, keys: "1#2#3#", role: ""},
		{name: "one-step dial-in", room: room4711, dialled: "2468", role: "participant"},
		{name: "one-step host", room: room4711, dialled: "97531", role: "host"},
		{name: "wrong in uri then typed", room: room4711, dialled: "1", keys: "2468#", role: "participant"},
		{name: "trusted owner is host without pin", room: room4711, callerID: "4711", trusted: true, role: "host"},
		{name: "untrusted owner id still needs pin", room: room4711, callerID: "4711", keys: "2468#", role: "participant"},
		{name: "open room", room: config.Room{Extension: "123", Settings: config.RoomSettings{Language: "sv"}}, role: "participant"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // each case waits through real prompts
			b := newTestBridge(3 * time.Second)
			c := newFakeCall(t, "c1", tc.callerID)
			c.trusted = tc.trusted
			done := serve(b, c, tc.room, tc.dialled)
			c.press(tc.keys)
			if tc.role == "" {
				select {
				case <-done:
				case <-time.After(30 * time.Second):
					t.Fatal("caller was not hung up")
				}
				if !c.hungUp.Load() {
					t.Fatal("Serve returned without hanging up")
				}
				if n := len(b.Rooms()); n != 0 {
					t.Fatalf("%d rooms live", n)
				}
				return
			}
			waitUntil(t, "caller in the room", func() bool { return roleOf(b, tc.room.Extension, "c1") != "" })
			if got := roleOf(b, tc.room.Extension, "c1"); got != tc.role {
				t.Fatalf("role %q, want %q", got, tc.role)
			}
			c.Hangup()
			<-done
			if n := len(b.Rooms()); n != 0 {
				t.Fatalf("%d rooms live after the last caller left", n)
			}
		})
	}
}

// TestPINTimeout: silence counts as a failed try; three end the call.
func TestPINTimeout(t *testing.T) {
	b := newTestBridge(300 * time.Millisecond)
	c := newFakeCall(t, "c1", "")
	done := serve(b, c, room4711, "")
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("silent caller was not hung up")
	}
	if !c.hungUp.Load() {
		t.Fatal("not hung up")
	}
}

// TestPromptsAreHeardAndTypeAheadCutsThem checks that the greeting is
// really sent as audio, and that a key press stops it at once.
func TestPromptsAreHeardAndTypeAheadCutsThem(t *testing.T) {
	b := newTestBridge(10 * time.Second)
	c := newFakeCall(t, "c1", "")
	done := serve(b, c, room4711, "")
	waitUntil(t, "greeting audio", func() bool { return c.heardLen() >= 8000 })
	if lvl := tone.Level(c.heardSince(0)[:8000]); lvl < -40 {
		t.Fatalf("greeting at %.1f dBFS: no prompt heard", lvl)
	}
	// A key cuts the prompt: within a few frames the caller hears silence.
	c.press("2")
	time.Sleep(300 * time.Millisecond)
	mark := c.heardLen()
	time.Sleep(400 * time.Millisecond)
	if lvl := tone.Level(c.heardSince(mark)); lvl > -60 {
		t.Fatalf("prompt still playing after a key (%.1f dBFS)", lvl)
	}
	c.press("468#")
	waitUntil(t, "joined", func() bool { return roleOf(b, "4711", "c1") == "participant" })
	c.Hangup()
	<-done
}

func TestHangupAll(t *testing.T) {
	b := newTestBridge(10 * time.Second)
	var calls []*fakeCall
	for i := 0; i < 5; i++ {
		c := newFakeCall(t, string(rune('a'+i)), "")
		serve(b, c, room4711, "2468")
		calls = append(calls, c)
	}
	waitUntil(t, "five joined", func() bool {
		rs := b.Rooms()
		return len(rs) == 1 && rs[0].Participants == 5
	})
	if !b.HangupAll(10 * time.Second) {
		t.Fatal("HangupAll timed out")
	}
	for _, c := range calls {
		if !c.hungUp.Load() {
			t.Errorf("%s not hung up", c.id)
		}
	}
	if b.Calls() != 0 || len(b.Rooms()) != 0 {
		t.Fatalf("calls %d rooms %d after HangupAll", b.Calls(), len(b.Rooms()))
	}
}

func TestGreetingUsesRecordedOwnerName(t *testing.T) {
	name := tone.Generate(440, 8000, 0.2, 4000)
	b := New(Options{Prompts: prompts.Builtin(), OwnerName: func(ext string) []int16 {
		if ext == "4711" {
			return name
		}
		return nil
	}})
	v := &ivr{lib: b.opts.Prompts, lang: "nb"}
	g := b.greeting(v, room4711)
	if len(g) != 2 || &g[0][0] != &prompts.Builtin().Clip("nb", prompts.WelcomeOf)[0] || &g[1][0] != &name[0] {
		t.Fatalf("greeting for a room with a recorded owner is not welcome-of + name")
	}
	g = b.greeting(v, config.Room{Extension: "123"})
	if len(g) != 1 || &g[0][0] != &prompts.Builtin().Clip("nb", prompts.WelcomeConf)[0] {
		t.Fatalf("greeting without a recorded owner is not the plain welcome")
	}
}

// TestTwoArrivalsOnlyOneAlone: callers admitted at the same moment must
// not both be told they are the only person.
func TestTwoArrivalsOnlyOneAlone(t *testing.T) {
	r := newRoom(room4711, Options{Prompts: prompts.Builtin(), MaxTalkers: 4}, slogDiscard())
	a := &participant{call: &fakeCall{id: "a", done: make(chan struct{})}, id: "a", admitted: make(chan struct{})}
	b := &participant{call: &fakeCall{id: "b", done: make(chan struct{})}, id: "b", admitted: make(chan struct{})}
	r.arrive(a, nil)
	if !r.alone() {
		t.Fatal("first arrival should be alone")
	}
	r.arrive(b, nil)
	if r.alone() {
		t.Fatal("second arrival told it is alone too")
	}
	r.leave(a)
	r.leave(b)
	r.arrive(a, nil)
	if !r.alone() {
		t.Fatal("after both left, the next arrival is alone")
	}
}

func slogDiscard() *slog.Logger { return slog.New(slog.DiscardHandler) }
