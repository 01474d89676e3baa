package store

import (
	"fmt"
	"log/slog"
	"net/netip"
	"testing"

	"brygga/internal/pgtest"
	"brygga/pin"
)

func benchLockout(b *testing.B) *pin.Lockout {
	db := open(b, pgtest.URL(b))
	return &pin.Lockout{Shared: db.PINTallies(), Logger: slog.New(slog.DiscardHandler)}
}

// BenchmarkPINAllowPostgres is the cost the shared lockout adds to every
// PIN try: one indexed read of the locks.
func BenchmarkPINAllowPostgres(b *testing.B) {
	l := benchLockout(b)
	a := pin.Attempt{Source: netip.MustParseAddr("192.0.2.7"), Room: "4711"}
	for b.Loop() {
		if !l.Allow(a) {
			b.Fatal("locked")
		}
	}
}

// BenchmarkPINFailedPostgres is the cost of a wrong PIN: counted against
// its source and its room, each in a transaction of its own, and the
// sweep. Sources differ and rooms rotate so that nothing locks.
func BenchmarkPINFailedPostgres(b *testing.B) {
	l := benchLockout(b)
	i := 0
	for b.Loop() {
		i++
		a := pin.Attempt{Source: netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), Room: fmt.Sprint(i % 1000)}
		l.Failed(a)
	}
	if len(l.Locks()) != 0 {
		b.Fatal("the benchmark locked something")
	}
}

// BenchmarkPINSucceededPostgres is the cost the shared lockout adds to a
// right PIN from a source without failures: one indexed read.
func BenchmarkPINSucceededPostgres(b *testing.B) {
	l := benchLockout(b)
	a := pin.Attempt{Source: netip.MustParseAddr("192.0.2.7"), Room: "4711"}
	for b.Loop() {
		l.Succeeded(a)
	}
}
