// Package scheduler runs brygga's timed work on gocron v2. Today that is
// the meeting limit: every meeting ends a fixed time after its first
// participant joined, with spoken warnings before. Calendar windows,
// delivery retries and retention join it in later issues.
//
// All times come from one clockwork.Clock so tests move a fake clock
// instead of waiting an hour.
package scheduler

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/jonboulle/clockwork"
)

// Limit describes one meeting's time limit.
type Limit struct {
	Room  string          // the room's extension; one meeting per room at a time
	Start time.Time       // when the first participant joined
	Max   time.Duration   // length of the meeting (60 minutes by default)
	Warn  []time.Duration // warnings this long before the end (5 and 1 minutes by default)

	// OnWarn is called at each warning with the time left; OnEnd at the
	// end. They run on the scheduler's goroutines and must not block long.
	OnWarn func(left time.Duration)
	OnEnd  func()
}

// Scheduler holds the running meetings' limits.
type Scheduler struct {
	clock clockwork.Clock
	cron  gocron.Scheduler

	mu       sync.Mutex
	meetings map[string]*meeting
}

type meeting struct {
	limit Limit
	end   time.Time
	gen   int // bumped on every reschedule so a stale job does nothing
}

// ErrNoMeeting is returned for a room without a running meeting.
var ErrNoMeeting = errors.New("scheduler: no meeting running in that room")

// New starts a Scheduler on clock (nil: the real clock).
func New(clock clockwork.Clock) (*Scheduler, error) {
	if clock == nil {
		clock = clockwork.NewRealClock()
	}
	cron, err := gocron.NewScheduler(gocron.WithClock(clock))
	if err != nil {
		return nil, err
	}
	cron.Start()
	return &Scheduler{clock: clock, cron: cron, meetings: make(map[string]*meeting)}, nil
}

// Now is the scheduler's clock.
func (s *Scheduler) Now() time.Time { return s.clock.Now() }

// Start arms the limit of a meeting. A meeting already running in the room
// is replaced.
func (s *Scheduler) Start(l Limit) error {
	if l.Room == "" || l.Max <= 0 {
		return fmt.Errorf("scheduler: limit needs a room and a positive length")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := &meeting{limit: l, end: l.Start.Add(l.Max)}
	if old := s.meetings[l.Room]; old != nil {
		m.gen = old.gen + 1
	}
	s.meetings[l.Room] = m
	return s.arm(m)
}

// Extend moves a running meeting's end by d (negative shortens it) and
// re-arms the warnings that now lie ahead, so a meeting extended from one
// minute left to eleven hears the five-minute warning again.
func (s *Scheduler) Extend(room string, d time.Duration) (time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.meetings[room]
	if m == nil {
		return time.Time{}, ErrNoMeeting
	}
	m.end = m.end.Add(d)
	m.gen++
	return m.end, s.arm(m)
}

// EndsAt is when the room's meeting ends.
func (s *Scheduler) EndsAt(room string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.meetings[room]; m != nil {
		return m.end, true
	}
	return time.Time{}, false
}

// Stop forgets a meeting that ended on its own (everyone left).
func (s *Scheduler) Stop(room string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.meetings[room] != nil {
		delete(s.meetings, room)
		s.cron.RemoveByTags(tag(room))
	}
}

// Close stops every job.
func (s *Scheduler) Close() error { return s.cron.Shutdown() }

func tag(room string) string { return "meeting:" + room }

// arm replaces the room's jobs with the warnings and the end still ahead.
// Called with s.mu held.
func (s *Scheduler) arm(m *meeting) error {
	room := m.limit.Room
	s.cron.RemoveByTags(tag(room))
	now := s.clock.Now()
	gen := m.gen
	if !m.end.After(now) {
		// Shortened into the past: end now, from a goroutine of our own so
		// the caller's lock is not held across OnEnd.
		go s.fire(room, gen, 0, true)
		return nil
	}
	warns := slices.Clone(m.limit.Warn)
	slices.SortFunc(warns, func(a, b time.Duration) int { return int(b - a) })
	for _, w := range warns {
		at := m.end.Add(-w)
		if w <= 0 || !at.After(now) {
			continue
		}
		if err := s.once(room, at, gen, w, false); err != nil {
			return err
		}
	}
	return s.once(room, m.end, gen, 0, true)
}

func (s *Scheduler) once(room string, at time.Time, gen int, left time.Duration, end bool) error {
	_, err := s.cron.NewJob(
		gocron.OneTimeJob(gocron.OneTimeJobStartDateTime(at)),
		gocron.NewTask(s.fire, room, gen, left, end),
		gocron.WithTags(tag(room)),
	)
	return err
}

// fire runs a warning or the end, unless the meeting was rescheduled or
// stopped since the job was made.
func (s *Scheduler) fire(room string, gen int, left time.Duration, end bool) {
	s.mu.Lock()
	m := s.meetings[room]
	if m == nil || m.gen != gen {
		s.mu.Unlock()
		return
	}
	if end {
		delete(s.meetings, room)
	}
	l := m.limit
	s.mu.Unlock()
	switch {
	case end && l.OnEnd != nil:
		l.OnEnd()
	case !end && l.OnWarn != nil:
		l.OnWarn(left)
	}
}
