// Package logtest gives tests a log sink that the code under test writes
// from its goroutines while the test reads it: the Writer of a slog
// handler, as in slog.New(slog.NewTextHandler(&buf, nil)).
package logtest

import (
	"bytes"
	"strings"
	"sync"
)

// Buffer is a bytes.Buffer that is safe for concurrent use. The zero
// value is empty and ready.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String is everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Lines is what was written, a line each without its newline; nil when
// nothing was.
func (b *Buffer) Lines() []string {
	s := strings.TrimRight(b.String(), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// Count is how many times sub occurs in what was written.
func (b *Buffer) Count(sub string) int {
	return strings.Count(b.String(), sub)
}
