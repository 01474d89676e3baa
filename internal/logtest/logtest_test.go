package logtest

import (
	"log/slog"
	"slices"
	"sync"
	"testing"
)

// Lines written from several goroutines come back whole, each once.
func TestBufferConcurrent(t *testing.T) {
	var b Buffer
	if b.Lines() != nil || b.String() != "" {
		t.Fatalf("empty buffer: %q %q", b.Lines(), b.String())
	}
	log := slog.New(slog.NewTextHandler(&b, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { log.Info("hello there") })
	}
	wg.Wait()
	want := slices.Repeat([]string{`level=INFO msg="hello there"`}, 8)
	if got := b.Lines(); !slices.Equal(got, want) {
		t.Errorf("lines %q", got)
	}
	if n := b.Count(`msg="hello there"`); n != 8 {
		t.Errorf("count %d", n)
	}
}
