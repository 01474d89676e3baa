package mixer

import "time"

// Run ticks the room from one monotonic clock until stop is closed: tick n
// is due at start + n×FrameDuration, so the timer's own jitter never adds
// up into drift. A tick that starts more than one frame after its deadline
// is counted late. When the goroutine was held up for several frames (GC,
// an overloaded machine), the missed ticks are made up back to back, at
// most Config.CatchUp of them, so that every listener's stream catches up
// without a burst its jitter buffer cannot absorb; frames missed beyond
// that are skipped and counted. Lateness is measured, not hidden.
//
// An empty room should not tick at all: the caller (the conference) starts
// Run when the first participant arrives and closes stop when the last one
// leaves. Call Run at most once at a time per Mixer.
func (m *Mixer) Run(stop <-chan struct{}) {
	p := pacer{start: time.Now(), frame: FrameDuration, catchUp: m.catchUp}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		if wait := time.Until(p.deadline()); wait > 0 {
			timer.Reset(wait)
			select {
			case <-stop:
				return
			case <-timer.C:
			}
		} else {
			select {
			case <-stop:
				return
			default:
			}
		}
		late, skipped := p.begin(time.Now())
		m.account(late, skipped)
		m.Tick()
	}
}

func (m *Mixer) account(late time.Duration, skipped int64) {
	if late > FrameDuration {
		m.lateTicks.Add(1)
	}
	if skipped > 0 {
		m.skipped.Add(uint64(skipped))
		m.resyncs.Add(1)
	}
	for {
		old := m.maxLateness.Load()
		if int64(late) <= old || m.maxLateness.CompareAndSwap(old, int64(late)) {
			return
		}
	}
}

// pacer is Run's schedule, kept apart from the timer so that stalls can be
// tested with made-up times.
type pacer struct {
	start   time.Time
	frame   time.Duration
	catchUp int
	next    int64 // index of the tick to run next
}

// deadline is when the next tick is due.
func (p *pacer) deadline() time.Time {
	return p.start.Add(time.Duration(p.next) * p.frame)
}

// begin starts the next tick at now. It returns how late the tick is
// against its own deadline and how many frames were skipped to keep the
// backlog within catchUp ticks.
func (p *pacer) begin(now time.Time) (late time.Duration, skipped int64) {
	late = now.Sub(p.deadline())
	if behind := int64(late / p.frame); behind > int64(p.catchUp) {
		skipped = behind - int64(p.catchUp)
		p.next += skipped
	}
	p.next++
	return late, skipped
}
