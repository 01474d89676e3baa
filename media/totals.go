package media

import (
	"sync"
	"time"
)

// The process's RTP totals for metrics: live sessions are summed when
// asked, and a session's final figures are kept when it closes, so the
// per-packet path touches no shared counter.
var registry = struct {
	sync.Mutex
	live    map[*Session]struct{}
	retired Stats
}{live: make(map[*Session]struct{})}

func register(s *Session) {
	registry.Lock()
	registry.live[s] = struct{}{}
	registry.Unlock()
}

// retire moves a closing session's figures into the retired totals.
func retire(s *Session, final Stats) {
	registry.Lock()
	defer registry.Unlock()
	if _, ok := registry.live[s]; !ok {
		return
	}
	delete(registry.live, s)
	registry.retired.add(final)
}

func (t *Stats) add(s Stats) {
	t.PacketsIn += s.PacketsIn
	t.BytesIn += s.BytesIn
	t.PacketsOut += s.PacketsOut
	t.BytesOut += s.BytesOut
	t.Lost += s.Lost
	t.Late += s.Late
	t.Duplicates += s.Duplicates
	t.Concealed += s.Concealed
	t.Resyncs += s.Resyncs
	t.Underruns += s.Underruns
	t.Ignored += s.Ignored
	t.Strangers += s.Strangers
	t.Resets += s.Resets
	t.Digits += s.Digits
}

// Totals sums every session this process has had. Jitter is the largest
// among the live sessions (the worst caller now); Live counts them.
func Totals() (total Stats, live int, worstJitter time.Duration) {
	// Summed under the registry lock so that a session closing meanwhile
	// is counted once, live or retired, never both: counters must not
	// run backwards between two scrapes.
	registry.Lock()
	defer registry.Unlock()
	total = registry.retired
	for s := range registry.live {
		st := s.Stats()
		total.add(st)
		worstJitter = max(worstJitter, st.Jitter)
	}
	return total, len(registry.live), worstJitter
}
