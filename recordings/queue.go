package recordings

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/jonboulle/clockwork"

	"brygga/events"
	"brygga/store"
)

// Queue delivers finished recordings: it takes due rows from the store,
// hands each to the Deliverer for its target's scheme, and records the
// outcome, so that a delivery interrupted by a restart is simply due again.
// Failed attempts are retried with back-off; a recording's file is removed
// only once delivered and KeepDays have passed.
//
// Several nodes may share the store. A recording's file is on the disk of
// the node that recorded it, so each node's queue delivers and expires
// only its own (Node), unless every node reaches every file (AnyNode).
// Each attempt claims its row first, so no two queues deliver one
// recording: the claim lasts as long as an attempt may, and one left by a
// node that died runs out (or is dropped when that node starts again).
type Queue struct {
	DB         *store.DB
	Deliverers map[string]Deliverer // by URI scheme: "sip", "mailto", "spool"
	KeepDays   int
	Events     *events.Bus // may be nil
	Logger     *slog.Logger
	Clock      clockwork.Clock // default the real clock

	// Backoff is the wait before attempt n+1 after n failed ones; default
	// 1 min doubling up to 1 h, so a mailbox down for a day is tried
	// about 30 times and delivered within the hour it comes back.
	Backoff func(failed int) time.Duration

	// OnResult is told each attempt's result: "delivered", "retry" or
	// "failed" (given up); may be nil.
	OnResult func(result string)

	// AttemptTimeout bounds one delivery; default 10 minutes. It is
	// stretched to twice the recording's length and 5 minutes more, since
	// a SIP deposit plays the recording in real time.
	AttemptTimeout time.Duration

	// Node is this node's name in the store (store.Recording.Node) and
	// on its claims. "": a single node, whose queue delivers every row.
	// Two nodes must not share a name.
	Node string
	// AnyNode delivers and expires the recordings of every node: for a
	// recordings folder all nodes mount (NFS), where any node can read
	// any file.
	AnyNode bool

	wake chan struct{}
}

// DefaultBackoff is Queue's default back-off.
func DefaultBackoff(failed int) time.Duration {
	d := time.Minute
	for i := 1; i < failed && d < time.Hour; i++ {
		d *= 2
	}
	return min(d, time.Hour)
}

func (q *Queue) init() {
	if q.wake == nil {
		q.wake = make(chan struct{}, 1)
	}
	if q.Clock == nil {
		q.Clock = clockwork.NewRealClock()
	}
	if q.Backoff == nil {
		q.Backoff = DefaultBackoff
	}
	if q.AttemptTimeout <= 0 {
		q.AttemptTimeout = 10 * time.Minute
	}
	if q.Logger == nil {
		q.Logger = slog.New(slog.DiscardHandler)
	}
}

// Wake makes a running queue look for due deliveries now (a recording was
// finished, or an operator asked for a retry).
func (q *Queue) Wake() {
	if q.wake == nil {
		return
	}
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// retentionEvery is how often files past retention are looked for.
const retentionEvery = time.Hour

// pollShared is how long a queue on a shared store waits at most before
// it looks for due deliveries again.
const pollShared = 30 * time.Second

// Run delivers until ctx ends. Call it once, on a goroutine of its own; set
// the fields before.
func (q *Queue) Run(ctx context.Context) {
	q.init()
	// Claims this node held when it stopped are of attempts that are
	// over: drop them rather than wait for them to run out.
	if n, err := q.DB.ReleaseClaims(q.claimer()); err != nil {
		q.Logger.Error("recordings: releasing the claims of the last run", "err", err)
	} else if n > 0 {
		q.Logger.Warn("recordings: deliveries claimed when this node stopped are due again", "count", n)
	}
	nextSweep := q.Clock.Now()
	for {
		q.RunOnce(ctx)
		if now := q.Clock.Now(); !now.Before(nextSweep) {
			q.Sweep()
			nextSweep = now.Add(retentionEvery)
		}
		wait := nextSweep.Sub(q.Clock.Now())
		if q.Node != "" {
			// Another node may queue one of ours again (a retry through
			// its API) without a way to wake this queue.
			wait = min(wait, pollShared)
		}
		if at, ok, err := q.DB.NextDue(q.rows()); err == nil && ok {
			wait = min(wait, at.Sub(q.Clock.Now()))
		}
		t := q.Clock.NewTimer(max(wait, time.Second))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-q.wake:
		case <-t.Chan():
		}
		t.Stop()
	}
}

// Prepare makes a Queue ready for Wake and RunOnce without Run (tests,
// and serve before Run has started).
func (q *Queue) Prepare() { q.init() }

// RunOnce makes one attempt at every delivery due now and returns how many
// succeeded.
func (q *Queue) RunOnce(ctx context.Context) int {
	q.init()
	due, err := q.DB.DueRecordings(q.rows(), q.Clock.Now())
	if err != nil {
		q.Logger.Error("recordings: reading the delivery queue", "err", err)
		return 0
	}
	n := 0
	for _, d := range due {
		if ctx.Err() != nil {
			return n
		}
		// The row as claimed: another queue may have made an attempt
		// since the list was read.
		r, ok, err := q.DB.ClaimRecording(d.ID, q.claimer(), q.timeout(d)+claimMargin, q.Clock.Now())
		if err != nil {
			q.Logger.Error("recordings: claiming a delivery", "recording", d.ID, "err", err)
			continue
		}
		if !ok {
			continue // another queue has it, or had it and is done
		}
		if q.attempt(ctx, r) {
			n++
		}
	}
	return n
}

// claimMargin is how much longer a claim lasts than its attempt may take,
// for the store's writes after it.
const claimMargin = time.Minute

// claimer is the name this queue claims rows under.
func (q *Queue) claimer() string {
	if q.Node == "" {
		return "local"
	}
	return q.Node
}

// rows is the node whose rows this queue delivers and expires; "": all.
func (q *Queue) rows() string {
	if q.AnyNode {
		return ""
	}
	return q.Node
}

// mine reports whether this queue delivers and expires r: its file is on
// this node's disk, or on one every node reaches.
func (q *Queue) mine(r store.Recording) bool {
	return q.rows() == "" || r.Node == "" || r.Node == q.Node
}

// timeout bounds an attempt at delivering r.
func (q *Queue) timeout(r store.Recording) time.Duration {
	return max(q.AttemptTimeout, 2*length(r)+5*time.Minute)
}

func length(r store.Recording) time.Duration {
	return time.Duration(r.Samples) * time.Second / sampleRate
}

func (q *Queue) attempt(ctx context.Context, r store.Recording) bool {
	log := q.Logger.With("recording", r.ID, "room", r.Room, "target", r.Target, "attempt", r.Attempts+1)
	msg := Message{
		ID: r.ID, Room: r.Room, Owner: r.Owner, Target: r.Target, Language: r.Language,
		Started: r.Started, Ended: r.Ended, Length: length(r),
		Path: r.Path, Size: r.Bytes,
	}
	err := q.deliver(ctx, msg, q.timeout(r))
	now := q.Clock.Now()
	if err == nil {
		if err := q.DB.RecordingDelivered(r.ID, now); err != nil {
			log.Error("recording delivered, but the store could not record it: it may be delivered again", "err", err)
			return false
		}
		log.Info("recording delivered")
		q.result("delivered")
		q.publish(r, events.RecordingDone, map[string]any{"id": r.ID, "target": r.Target, "attempts": r.Attempts + 1})
		return true
	}
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		// Shutting down: not the mailbox's fault, and due again at start,
		// or at once on another node that can reach the file.
		if err := q.DB.ReleaseRecording(r.ID, q.claimer()); err != nil {
			log.Error("recordings: releasing an interrupted delivery", "err", err)
		}
		log.Info("recording delivery interrupted by shutdown")
		return false
	}
	giveUp := IsPermanent(err)
	next := now.Add(q.Backoff(r.Attempts + 1))
	if serr := q.DB.RecordingAttemptFailed(r.ID, err.Error(), next, giveUp); serr != nil {
		log.Error("recordings: storing a failed attempt", "err", serr)
	}
	data := map[string]any{"id": r.ID, "stage": "delivery", "error": err.Error(), "attempt": r.Attempts + 1, "permanent": giveUp}
	if giveUp {
		q.result("failed")
		log.Error("recording delivery failed for good; the file is kept", "err", err, "path", r.Path)
	} else {
		q.result("retry")
		data["next_attempt"] = next
		log.Warn("recording delivery failed; will retry", "err", err, "next_attempt", next)
	}
	q.publish(r, events.RecordingFailed, data)
	return false
}

func (q *Queue) deliver(ctx context.Context, m Message, timeout time.Duration) error {
	scheme, _, ok := strings.Cut(m.Target, ":")
	if !ok {
		return Permanent(fmt.Errorf("voicemail target %q has no scheme (sip:, mailto: or spool:)", m.Target))
	}
	d := q.Deliverers[strings.ToLower(scheme)]
	if d == nil {
		return Permanent(fmt.Errorf("no delivery by %s: is it configured? (mail needs mail.smtp)", scheme))
	}
	if _, err := os.Stat(m.Path); err != nil {
		return Permanent(fmt.Errorf("the recording's file is gone: %w", err))
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return d.Deliver(ctx, m)
}

func (q *Queue) result(r string) {
	if q.OnResult != nil {
		q.OnResult(r)
	}
}

func (q *Queue) publish(r store.Recording, typ string, data map[string]any) {
	if q.Events != nil {
		q.Events.Publish(events.Event{Type: typ, Room: r.Room, Data: data})
	}
}

// Sweep removes the files of recordings delivered more than KeepDays ago.
func (q *Queue) Sweep() {
	q.init()
	before := q.Clock.Now().Add(-time.Duration(q.KeepDays) * 24 * time.Hour)
	old, err := q.DB.ExpiredRecordings(q.rows(), before)
	if err != nil {
		q.Logger.Error("recordings: reading expired recordings", "err", err)
		return
	}
	for _, r := range old {
		if err := os.Remove(r.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			q.Logger.Error("recordings: removing an expired file", "err", err, "path", r.Path)
			continue
		}
		if err := q.DB.RecordingExpired(r.ID); err != nil {
			q.Logger.Error("recordings: marking a recording expired", "err", err)
			continue
		}
		q.Logger.Info("recording removed after its retention", "recording", r.ID, "keep_days", q.KeepDays)
	}
}
