package sip

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"brygga/config"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time      { return c.t }
func (c *fakeClock) add(d time.Duration) { c.t = c.t.Add(d) }

var (
	flooder = netip.MustParseAddr("192.0.2.7")
	bystand = netip.MustParseAddr("192.0.2.8")
)

func testLimiter() (*limiter, *fakeClock) {
	c := &fakeClock{t: time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)}
	return newLimiter(config.RateLimit{InvitesPerSecond: 2, InviteBurst: 4, RequestsPerSecond: 10, RequestBurst: 20, DropFor: time.Minute}, c.now), c
}

// tally sends n requests at once and counts the verdicts.
func tally(l *limiter, src netip.Addr, invite bool, n int) map[verdict]int {
	got := map[verdict]int{}
	for range n {
		v, _ := l.check(src, invite)
		got[v]++
	}
	return got
}

func TestLimiterBurstThenRefuseThenDrop(t *testing.T) {
	l, c := testLimiter()
	// Burst 4: four INVITEs pass, the next seven are refused and the
	// eighth, at a debt of twice the burst (12 = 3 × burst sent), starts
	// the cool-down.
	got := tally(l, flooder, true, 13)
	if got[pass] != 4 || got[refuse] != 7 || got[dropStart] != 1 || got[drop] != 1 {
		t.Fatalf("verdicts %v, want 4 pass, 7 refuse, 1 dropStart, 1 drop", got)
	}
	if v, _ := l.check(bystand, true); v != pass {
		t.Fatalf("another source: %v, want pass", v)
	}
	c.add(time.Minute - time.Millisecond)
	if v, _ := l.check(flooder, false); v != drop {
		t.Fatalf("during the cool-down: %v, want drop", v)
	}
	c.add(time.Millisecond)
	if got := tally(l, flooder, true, 4); got[pass] != 4 {
		t.Fatalf("after the cool-down: %v, want the burst back", got)
	}
}

func TestLimiterRetryAfterAndRefill(t *testing.T) {
	l, c := testLimiter()
	tally(l, flooder, true, 4)
	v, wait := l.check(flooder, true)
	if v != refuse || wait != time.Second {
		// One token short at 2/s, plus the token this request cost: 1 s.
		t.Fatalf("%v %v, want refuse after 1s", v, wait)
	}
	c.add(wait)
	if v, _ := l.check(flooder, true); v != pass {
		t.Fatalf("after Retry-After: %v, want pass", v)
	}
	// A caller within the rate is never limited.
	for i := range 100 {
		c.add(time.Second)
		if v, _ := l.check(bystand, true); v != pass {
			t.Fatalf("call %d at 1/s refused", i)
		}
	}
}

func TestLimiterAllRequests(t *testing.T) {
	l, _ := testLimiter()
	got := tally(l, flooder, false, 20)
	if got[pass] != 20 {
		t.Fatalf("burst of 20 OPTIONS: %v", got)
	}
	// The all-requests bucket is empty: an INVITE is refused by it
	// without spending an INVITE token.
	if v, _ := l.check(flooder, true); v != refuse {
		t.Fatalf("INVITE after the request burst: %v, want refuse", v)
	}
	if l.source(flooder).invite.at != (time.Time{}) {
		t.Error("a refused request spent an INVITE token")
	}
}

func TestLimiterOffAndBlock(t *testing.T) {
	l := newLimiter(config.RateLimit{}, nil)
	if got := tally(l, flooder, true, 1000); got[pass] != 1000 {
		t.Fatalf("rates 0 must limit nothing: %v", got)
	}
	if !l.block(flooder) || l.block(flooder) {
		t.Error("block reports a new cool-down once")
	}
	if v, _ := l.check(flooder, false); v != drop {
		t.Errorf("blocked source: %v, want drop", v)
	}
}

func TestLimiterBoundedMemory(t *testing.T) {
	l, _ := testLimiter()
	l.max = 8
	tally(l, flooder, true, 13) // in a cool-down
	for i := range 8 {
		l.check(netip.MustParseAddr(fmt.Sprintf("198.51.100.%d", i)), false)
	}
	if len(l.sources) != 8 || l.lru.Len() != 8 {
		t.Fatalf("%d sources remembered, cap 8", len(l.sources))
	}
	if _, ok := l.sources[flooder]; ok {
		t.Error("the least recently seen source was kept")
	}
}

func TestIsScanner(t *testing.T) {
	for ua, want := range map[string]bool{
		"friendly-scanner":               true,
		"sipvicious":                     true,
		"SIPVicious 0.3.4":               true,
		"sipcli/v1.8":                    true,
		"VaxSIPUserAgent/3.1":            true,
		"sundayddr":                      true,
		"pplsip":                         true,
		"iWar":                           true,
		"SIVuS PBX Scanner":              true,
		"":                               false,
		"Asterisk PBX 20.5.0":            false,
		"baresip v3.10.0 (x86_64/linux)": false,
		"Cisco-CUCM14.0":                 false,
		"MicroSIP/3.21.3":                false,
		"brygga":                         false,
	} {
		if got := isScanner(ua); got != want {
			t.Errorf("isScanner(%q) = %v, want %v", ua, got, want)
		}
	}
}
