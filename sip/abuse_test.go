package sip_test

// Abuse limits end to end: raw UDP floods and scanners from distinct
// loopback addresses, and a PIN guesser locked out by pin.Lockout.

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"brygga/conference"
	"brygga/config"
	"brygga/media/codec"
	"brygga/phone"
	"brygga/pin"
	"brygga/prompts"
	"brygga/prompts/prompttest"
	"brygga/sip"
)

// rawSource sends hand-written SIP over UDP from one loopback address.
type rawSource struct {
	t    *testing.T
	conn *net.UDPConn
	to   *net.UDPAddr
	n    int
}

func newRawSource(t *testing.T, ip string, to string) *rawSource {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		t.Skipf("cannot bind %s (loopback aliases needed): %v", ip, err)
	}
	t.Cleanup(func() { conn.Close() })
	return &rawSource{t: t, conn: conn, to: net.UDPAddrFromAddrPort(netip.MustParseAddrPort(to))}
}

// send writes one request with a new transaction and Call-ID.
func (r *rawSource) send(method, user, userAgent string) {
	r.t.Helper()
	r.n++
	local := r.conn.LocalAddr().String()
	var b strings.Builder
	fmt.Fprintf(&b, "%s sip:%s@%s SIP/2.0\r\n", method, user, r.to)
	fmt.Fprintf(&b, "Via: SIP/2.0/UDP %s;branch=z9hG4bK-abuse-%d\r\n", local, r.n)
	b.WriteString("Max-Forwards: 70\r\n")
	fmt.Fprintf(&b, "From: <sip:probe@%s>;tag=t%d\r\n", local, r.n)
	fmt.Fprintf(&b, "To: <sip:%s@%s>\r\n", user, r.to)
	fmt.Fprintf(&b, "Call-ID: abuse-%d@%s\r\n", r.n, local)
	fmt.Fprintf(&b, "CSeq: 1 %s\r\n", method)
	fmt.Fprintf(&b, "Contact: <sip:probe@%s>\r\n", local)
	if userAgent != "" {
		fmt.Fprintf(&b, "User-Agent: %s\r\n", userAgent)
	}
	b.WriteString("Content-Length: 0\r\n\r\n")
	if _, err := r.conn.WriteToUDP([]byte(b.String()), r.to); err != nil {
		r.t.Fatal(err)
	}
}

// finals reads for d and returns the final status of each request that got
// one (retransmissions counted once), and whether a 503 lacked Retry-After.
func (r *rawSource) finals(d time.Duration) (map[string]int, bool) {
	got, _, noRetry := r.read(d)
	return got, noRetry
}

// silent reads for d and reports whether nothing at all came, not even a
// 100 Trying.
func (r *rawSource) silent(d time.Duration) bool {
	_, packets, _ := r.read(d)
	return packets == 0
}

func (r *rawSource) read(d time.Duration) (got map[string]int, packets int, noRetry bool) {
	got = map[string]int{}
	buf := make([]byte, 4096)
	_ = r.conn.SetReadDeadline(time.Now().Add(d))
	for {
		n, _, err := r.conn.ReadFromUDP(buf)
		if err != nil {
			return got, packets, noRetry
		}
		packets++
		msg := string(buf[:n])
		var code int
		if _, err := fmt.Sscanf(msg, "SIP/2.0 %d", &code); err != nil || code < 200 {
			continue
		}
		branch := msg[strings.Index(msg, "branch=")+7:]
		branch = branch[:strings.IndexAny(branch, ";\r")]
		got[branch] = code
		if code == 503 && !strings.Contains(strings.ToLower(msg), "\nretry-after: ") {
			noRetry = true
		}
	}
}

func count(finals map[string]int, code int) int {
	n := 0
	for _, c := range finals {
		if c == code {
			n++
		}
	}
	return n
}

// limitedBridge is a bridge that trusts no one, so loopback is limited.
func limitedBridge(t *testing.T, opts ...option) (*bridge, string) {
	t.Helper()
	opts = append([]option{withSIP(func(o *sip.Options) {
		o.Trusted = nil
		o.RateLimit = config.RateLimit{InvitesPerSecond: 1, InviteBurst: 3, RequestsPerSecond: 2, RequestBurst: 10, DropFor: time.Minute}
	})}, opts...)
	b := startBridge(t, roomYAML, opts...)
	return b, strings.TrimPrefix(b.target("x"), "sip:x@")
}

func TestFloodLimitedPerSource(t *testing.T) {
	_, addr := limitedBridge(t)
	flood := newRawSource(t, "127.0.0.1", addr)
	other := newRawSource(t, "127.0.0.2", addr)

	// Burst 10, then refusals until the debt is twice the burst, then
	// silence: 40 OPTIONS at once get 10 × 200, about 20 × 503, no more.
	for range 40 {
		flood.send("OPTIONS", "brygga", "")
	}
	got, noRetry := flood.finals(time.Second)
	if ok, busy := count(got, 200), count(got, 503); ok < 10 || ok > 12 || busy < 17 || busy > 20 || len(got) > 32 {
		t.Errorf("flood: %d × 200, %d × 503, %d answered of 40; want 10, about 20, the rest dropped", ok, busy, len(got))
	}
	if noRetry {
		t.Error("a 503 without Retry-After")
	}
	// The flooder is now ignored, whatever it sends.
	flood.send("OPTIONS", "brygga", "")
	flood.send("INVITE", "5000", "")
	if !flood.silent(700 * time.Millisecond) {
		t.Error("answers during the cool-down")
	}
	// A second address is not touched by the first one's flood.
	other.send("OPTIONS", "brygga", "")
	if got, _ := other.finals(2 * time.Second); count(got, 200) != 1 {
		t.Errorf("second source: %v, want one 200", got)
	}
}

func TestInviteFloodLimited(t *testing.T) {
	_, addr := limitedBridge(t)
	src := newRawSource(t, "127.0.0.3", addr)
	// No such room: each INVITE that gets through is answered 404. Burst
	// 3: three 404s, then 503s until the debt is 6, then silence.
	for range 12 {
		src.send("INVITE", "9999", "")
	}
	got, noRetry := src.finals(1500 * time.Millisecond)
	if nf, busy := count(got, 404), count(got, 503); nf != 3 || busy < 5 || busy > 6 || len(got) > 9 {
		t.Errorf("INVITE flood: %d × 404, %d × 503 of %d answered; want 3, about 6, the rest dropped", nf, busy, len(got))
	}
	if noRetry {
		t.Error("a 503 without Retry-After")
	}
}

func TestScannerGetsNoAnswer(t *testing.T) {
	_, addr := limitedBridge(t)
	scanner := newRawSource(t, "127.0.0.4", addr)
	scanner.send("OPTIONS", "100", "friendly-scanner")
	scanner.send("INVITE", "100", "sipvicious")
	if !scanner.silent(time.Second) {
		t.Error("the scanner was answered")
	}
	// Its address is ignored for the cool-down, whatever it calls itself.
	scanner.send("OPTIONS", "brygga", "MicroSIP/3.21.3")
	if !scanner.silent(700 * time.Millisecond) {
		t.Error("the scanner's address was answered during its cool-down")
	}
	other := newRawSource(t, "127.0.0.5", addr)
	other.send("OPTIONS", "brygga", "MicroSIP/3.21.3")
	if got, _ := other.finals(2 * time.Second); count(got, 200) != 1 {
		t.Errorf("a softphone: %v, want one 200", got)
	}
}

func TestMaxCallsPerSource(t *testing.T) {
	b, _ := limitedBridge(t, withSIP(func(o *sip.Options) {
		o.RateLimit = config.RateLimit{}
		o.MaxCallsPerSource = 1
	}))
	first := dial(t, newPhone(t, "first", codec.PCMU), b.target("5000"))
	dialErr(t, newPhone(t, "second", codec.PCMU), b.target("5000"), 486)
	p := newPhoneWith(t, phone.Config{LocalIP: netip.MustParseAddr("127.0.0.6"), User: "elsewhere"})
	c := dial(t, p, b.target("5000"))
	hangup(t, c)
	hangup(t, first)
	checkIdle(t, b)
}

// lockLog collects OnLockout calls.
type lockLog struct {
	mu    sync.Mutex
	locks []string
}

func (l *lockLog) add(scope, source, room string) {
	l.mu.Lock()
	l.locks = append(l.locks, scope+" "+source+" "+room)
	l.mu.Unlock()
}

func (l *lockLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fmt.Sprint(l.locks)
}

func TestPINGuesserLockedOut(t *testing.T) {
	var locks lockLog
	guard := &pin.Lockout{Failures: 2, RoomFailures: 10, Window: time.Minute, Lock: time.Minute,
		OnLockout: locks.add, Logger: slog.New(slog.DiscardHandler)} // pin tests the log line
	lib, err := prompttest.Library()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := limitedBridge(t,
		withSIP(func(o *sip.Options) { o.RateLimit = config.RateLimit{} }),
		withConference(func(o *conference.Options) { o.PINGuard, o.Prompts = guard, lib }))

	// A wrong PIN in the URI and one typed lock the source; the right PIN
	// typed next is refused without being checked, and the caller hung up.
	guesser := newPhone(t, "guesser", codec.PCMU)
	c := dial(t, guesser, b.target("4711*1111"))
	for _, keys := range []string{"2222#", "2468#"} {
		time.Sleep(1500 * time.Millisecond)
		if err := c.SendDigits(keys); err != nil {
			t.Fatal(err)
		}
	}
	hungUp(t, c, "the guesser was not hung up")
	if !c.EndedByRemote() || participants(b, "4711") != 0 {
		t.Fatal("the guesser got in")
	}
	if got := locks.String(); got != "[source 127.0.0.1 4711]" {
		t.Errorf("lockouts %s", got)
	}

	// A new call from the same address with the right PIN: still locked.
	again := dial(t, guesser, b.target("4711*2468"))
	hungUp(t, again, "a locked-out source got a PIN checked")
	if participants(b, "4711") != 0 {
		t.Fatal("a locked-out source got in")
	}
	// Both calls were told why, not that the PIN was wrong.
	for _, call := range []*phone.Call{c, again} {
		if !prompttest.Heard(call.Received(), prompts.PinLockedOut) || prompttest.Heard(call.Received(), prompts.PinBad) {
			t.Error("a locked-out caller did not hear the lockout notice (or heard the wrong-PIN one)")
		}
	}

	// Another address is not locked out.
	p := newPhoneWith(t, phone.Config{LocalIP: netip.MustParseAddr("127.0.0.7"), User: "kari"})
	in := dial(t, p, b.target("4711*2468"))
	waitFor(t, "the other source in the room", 15*time.Second, func() bool { return participants(b, "4711") == 1 })
	hangup(t, in)
	checkIdle(t, b)
}

func hungUp(t *testing.T, c *phone.Call, fail string) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(30 * time.Second):
		t.Fatal(fail)
	}
}
