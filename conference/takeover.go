package conference

import (
	"context"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"sync"
	"time"

	"brygga/store"
)

// RoomStates keeps the live rooms' state where every node of a cluster
// reads it (store.DB on PostgreSQL), so that when a node dies the node its
// callers redial goes on with their meeting.
type RoomStates interface {
	SaveRoomState(ctx context.Context, st store.RoomState) error
	LoadRoomState(ctx context.Context, room string, within time.Duration) (store.RoomState, bool, error)
	ForgetRoomState(ctx context.Context, room string, within time.Duration) error
}

const (
	// TakeoverWindow is how long a room's state outlives its node: a
	// room started within it of the state's last refresh goes on with the
	// meeting; after it, the room starts afresh.
	TakeoverWindow = 10 * time.Minute
	// RejoinWindow is how long after a takeover the meeting's earlier
	// callers pass its lock.
	RejoinWindow = 5 * time.Minute
	// stateRefresh is how often a live room's state is written although
	// nothing changed, so that it stays within TakeoverWindow.
	stateRefresh = time.Minute
	// stateTimeout bounds one write or read of a room's state: a slow
	// database delays a takeover, never a call.
	stateTimeout = 5 * time.Second
)

// stateWriter writes the rooms' state on its own goroutine, so that a
// room never waits for the database under its lock. Only the newest
// state of each room is written: a burst of changes is one write.
type stateWriter struct {
	db  RoomStates
	log *slog.Logger

	mu      sync.Mutex
	pending map[string]*store.RoomState // nil: forget the room
	live    map[string]store.RoomState  // as last handed over, for the refresh
	wake    chan struct{}
}

func newStateWriter(db RoomStates, log *slog.Logger) *stateWriter {
	w := &stateWriter{db: db, log: log, pending: map[string]*store.RoomState{},
		live: map[string]store.RoomState{}, wake: make(chan struct{}, 1)}
	go w.run()
	return w
}

// save hands over a live room's state; unchanged state is no write.
func (w *stateWriter) save(st store.RoomState) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if old, ok := w.live[st.Room]; ok && reflect.DeepEqual(old, st) {
		return
	}
	w.live[st.Room] = st
	w.pending[st.Room] = &st
	w.signal()
}

// forget deletes a room's state: its meeting ended here.
func (w *stateWriter) forget(room string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.live, room)
	w.pending[room] = nil
	w.signal()
}

// drop stops refreshing a room's state without deleting it.
func (w *stateWriter) drop(room string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.live, room)
	delete(w.pending, room)
}

// forgotten is whether the room's state is about to be deleted: a room
// that has just ended here is not to be taken over from its own leftovers.
func (w *stateWriter) forgotten(room string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	st, ok := w.pending[room]
	return ok && st == nil
}

func (w *stateWriter) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *stateWriter) run() {
	t := time.NewTicker(stateRefresh)
	defer t.Stop()
	for {
		select {
		case <-w.wake:
		case <-t.C:
			w.mu.Lock()
			for room, st := range w.live {
				if _, queued := w.pending[room]; !queued {
					w.pending[room] = &st
				}
			}
			w.mu.Unlock()
		}
		w.flush()
	}
}

// flush writes what is pending, room by room in a stable order.
func (w *stateWriter) flush() {
	w.mu.Lock()
	batch := w.pending
	w.pending = map[string]*store.RoomState{}
	w.mu.Unlock()
	for _, room := range slices.Sorted(maps.Keys(batch)) {
		ctx, cancel := context.WithTimeout(context.Background(), stateTimeout)
		var err error
		if st := batch[room]; st != nil {
			err = w.db.SaveRoomState(ctx, *st)
		} else {
			err = w.db.ForgetRoomState(ctx, room, TakeoverWindow)
		}
		cancel()
		if err != nil {
			// The next change or refresh writes it again.
			w.log.Warn("room state not written: another node could not take the meeting over", "room", room, "err", err)
		}
	}
}

// carriedOver reads the state a meeting left in room, if a node died
// with it live within TakeoverWindow.
func (b *Bridge) carriedOver(room string) (store.RoomState, bool) {
	if b.states == nil || b.states.forgotten(room) {
		return store.RoomState{}, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), stateTimeout)
	defer cancel()
	st, ok, err := b.opts.States.LoadRoomState(ctx, room, TakeoverWindow)
	if err != nil {
		b.log.Warn("room state not read: the room starts afresh", "room", room, "err", err)
		return store.RoomState{}, false
	}
	return st, ok
}

// returning is whether callerID comes back to a meeting taken over from a
// dead node (or about to be: the room is not live here yet).
func (b *Bridge) returning(room, callerID string) bool {
	if b.states == nil || callerID == "" {
		return false
	}
	if r := b.live(room); r != nil {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.st.expire(time.Now())
		return r.st.returns(callerID)
	}
	st, ok := b.carriedOver(room)
	return ok && slices.ContainsFunc(st.Callers, func(c store.RoomCaller) bool { return c.ID == callerID })
}

// takeOver goes on with the meeting st describes; the room is new and
// not yet shared.
func (r *room) takeOver(st store.RoomState, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	callers := make(map[string]bool, len(st.Callers))
	for _, c := range st.Callers {
		callers[c.ID] = c.Host
	}
	r.carriedEnd = st.EndsAt
	if r.meeting != nil && st.Meeting != r.meeting.ID {
		// Another meeting's window has opened since: the limit is its own.
		r.carriedEnd = time.Time{}
	}
	r.log.Info("meeting taken over from a node that left it", "ends_at", st.EndsAt, "locked", st.Locked,
		"lecture", st.Lecture, "recording", st.Recording, "meeting", st.Meeting, "callers", len(callers))
	r.apply(r.st.restore(carried{locked: st.Locked, lecture: st.Lecture, recording: st.Recording,
		callers: callers, until: now.Add(RejoinWindow)}))
}

// saveState hands the room's state to the writer; r.mu is held.
func (r *room) saveState() {
	if r.states == nil || r.ending {
		return
	}
	c := r.st.carry()
	st := store.RoomState{Room: r.cfg.Extension, Locked: c.locked, Lecture: c.lecture, Recording: c.recording}
	if r.meeting != nil {
		st.Meeting = r.meeting.ID
	}
	st.EndsAt = r.carriedEnd // until the limit runs here
	if r.sched != nil {
		if end, ok := r.sched.EndsAt(r.cfg.Extension); ok {
			st.EndsAt = end
		}
	}
	for _, id := range slices.Sorted(maps.Keys(c.callers)) {
		st.Callers = append(st.Callers, store.RoomCaller{ID: id, Host: c.callers[id]})
	}
	r.states.save(st)
}
