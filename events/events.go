// Package events is brygga's one in-process stream of state changes: a
// participant joined, was muted, raised a hand; a room was locked; a
// meeting was warned or ended. The admin API serves it as server-sent
// events, so every event has an increasing ID and a bounded backlog lets a
// reconnecting client resume after the last ID it saw.
package events

import (
	"sync"
	"time"
)

// Types of events. Names are those of docs/api.md (`participant.joined`, …).
const (
	ConferenceStarted = "conference.started"
	ConferenceEnded   = "conference.ended"
	ConferenceWarning = "conference.warning" // the limit is near: Data["minutes_left"]
	ConferenceLocked  = "conference.locked"  // Data["locked"]: true or false
	ConferenceLecture = "conference.lecture" // Data["lecture"]: true or false
	RecordingStarted  = "recording.started"
	RecordingStopped  = "recording.stopped"
	RecordingFailed   = "recording.failed"    // writing or a delivery attempt failed: Data["stage"], Data["error"]
	RecordingDone     = "recording.delivered" // in the owner's voicemail: Data["id"], Data["target"]
	MeetingOpened     = "meeting.opened"      // a scheduled meeting's window opened (early join): Data["schedule"], ["start"], ["end"]
	MeetingStarted    = "meeting.started"     // its booked start
	MeetingEnded      = "meeting.ended"       // its booked end: its PIN no longer works
	PINLockout        = "pin.lockout"         // wrong PINs locked a source or a room out: Data["scope"], ["source"]
	PINUnlocked       = "pin.unlocked"        // an operator lifted a lock: Data["scope"], and ["source"] for a source
	ParticipantJoined = "participant.joined"  // Data["role"], Data["caller_id"]
	ParticipantLeft   = "participant.left"
	ParticipantKicked = "participant.kicked"
	ParticipantMuted  = "participant.muted"
	ParticipantUnmute = "participant.unmuted"
	ParticipantTalk   = "participant.talking" // Data["talking"]: true or false
	ParticipantHand   = "participant.hand"    // Data["raised"]: true or false
	ParticipantFloor  = "participant.floor"   // given the floor by a host
	ParticipantLobby  = "participant.lobby"   // waiting in the lobby
	ParticipantAdmit  = "participant.admitted"
)

// Event is one state change.
type Event struct {
	ID          uint64         `json:"id"`
	Time        time.Time      `json:"time"`
	Type        string         `json:"type"`
	Room        string         `json:"room"`
	Participant string         `json:"participant,omitempty"`
	Data        map[string]any `json:"data,omitempty"`
	// Node is the node of a cluster the event happened on; "" on a
	// single bridge.
	Node string `json:"node,omitempty"`
}

// DefaultBacklog is how many past events a Bus keeps for resuming clients.
const DefaultBacklog = 1024

// subscriberBuffer is how far a subscriber may fall behind before it is
// cut off: a stuck client must never slow a room down.
const subscriberBuffer = 256

// Bus fans events out to subscribers. Publish never blocks.
type Bus struct {
	now func() time.Time

	mu      sync.Mutex
	last    uint64  // the newest event's ID
	floor   uint64  // the ID of the newest event no longer in the backlog
	backlog []Event // ring of the last len(backlog) events
	head    int     // index of the oldest event in the ring
	n       int
	subs    map[*Subscription]struct{}

	shared *shared // nil: this process's events only, numbered here
}

// New makes a Bus keeping backlog past events (DefaultBacklog if <= 0).
// now is the clock (time.Now if nil), so tests can fix event times.
func New(backlog int, now func() time.Time) *Bus {
	if backlog <= 0 {
		backlog = DefaultBacklog
	}
	if now == nil {
		now = time.Now
	}
	return &Bus{now: now, backlog: make([]Event, backlog), subs: make(map[*Subscription]struct{})}
}

// Publish stamps e with the time and the next ID, keeps it in the backlog
// and hands it to every subscriber whose filter matches. On a shared bus
// (NewShared) it only queues e for the log, which numbers it; the e it
// returns has ID 0, and e reaches the subscribers once read back.
func (b *Bus) Publish(e Event) Event {
	if e.Time.IsZero() {
		e.Time = b.now()
	}
	if b.shared != nil {
		b.shared.queue(e)
		return e
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	e.ID = b.last + 1
	b.deliver(e)
	return e
}

// deliver keeps e, whose ID is above every one before, in the backlog and
// hands it to the subscribers; b.mu is held.
func (b *Bus) deliver(e Event) {
	b.last = e.ID
	idx := (b.head + b.n) % len(b.backlog)
	if b.n == len(b.backlog) {
		b.floor = b.backlog[b.head].ID
		b.head = (b.head + 1) % len(b.backlog)
	} else {
		b.n++
	}
	b.backlog[idx] = e
	for s := range b.subs {
		if !s.match(e) {
			continue
		}
		select {
		case s.c <- e:
		default:
			// Too far behind: end the subscription; the client reconnects
			// with its last ID and gets what the backlog still has.
			delete(b.subs, s)
			close(s.c)
		}
	}
}

// Subscription receives events on C until Close, or until it falls too
// far behind (C is then closed).
type Subscription struct {
	C    <-chan Event
	c    chan Event
	room string
	bus  *Bus
}

func (s *Subscription) match(e Event) bool { return s.room == "" || s.room == e.Room }

// Subscribe returns the backlog events after afterID (0: none) for room
// ("" = every room), and a subscription for what follows. Complete is false
// when events after afterID have already left the backlog.
func (b *Bus) Subscribe(afterID uint64, room string) (past []Event, complete bool, s *Subscription) {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := make(chan Event, subscriberBuffer)
	s = &Subscription{C: c, c: c, room: room, bus: b}
	b.subs[s] = struct{}{}
	complete = true
	if afterID > 0 {
		complete = afterID >= b.floor
		for i := 0; i < b.n; i++ {
			e := b.backlog[(b.head+i)%len(b.backlog)]
			if e.ID > afterID && s.match(e) {
				past = append(past, e)
			}
		}
	}
	return past, complete, s
}

// Close ends the subscription.
func (s *Subscription) Close() {
	b := s.bus
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.subs[s]; ok {
		delete(b.subs, s)
		close(s.c)
	}
}

// LastID is the ID of the newest event (0 before the first).
func (b *Bus) LastID() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.last
}
