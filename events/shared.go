package events

import (
	"context"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Log is where the nodes of a cluster keep their events, so that the
// event stream of any node carries every node's events under IDs that are
// the same on every node and never start again (store.DB on PostgreSQL).
type Log interface {
	// AppendEvents stores es in their order under IDs above every ID
	// stored before, made visible in ID order (a reader that sees an ID
	// sees every lower one), and wakes every node's ListenEvents.
	AppendEvents(ctx context.Context, es []Event) error
	// EventsAfter is up to limit events with IDs above after, by ID.
	EventsAfter(ctx context.Context, after uint64, limit int) ([]Event, error)
	// RecentEvents is the newest n events, by ID, and the ID of the
	// newest event that is no longer there (0: none is gone).
	RecentEvents(ctx context.Context, n int) (es []Event, floor uint64, err error)
	// ListenEvents calls wake when any node has appended events, until
	// ctx ends or the connection it listens on fails.
	ListenEvents(ctx context.Context, wake func()) error
	// TrimEvents deletes the events older than keep.
	TrimEvents(ctx context.Context, keep time.Duration) error
}

// SharedOptions configure a shared Bus.
type SharedOptions struct {
	Node    string        // this node's name, each event's Node
	Backlog int           // events kept in memory for resuming (DefaultBacklog if <= 0)
	Keep    time.Duration // how long the log keeps events (DefaultKeep if <= 0)
	Logger  *slog.Logger
}

// DefaultKeep is how long a shared log keeps events: a client may resume
// after an hour's absence, on any node, across any node's restart.
const DefaultKeep = time.Hour

// Limits of a shared bus. Events wait in a queue while the database is
// away (a client then sees them late rather than never) and are dropped
// when more than queued are waiting. A node reads the log when woken and
// at least every poll, so a missed notification delays events by no more.
const (
	queued      = 4096
	readBatch   = 512
	poll        = time.Second
	trimEvery   = time.Minute
	statementTO = 5 * time.Second
)

// shared is the part of a Bus that goes through a Log.
type shared struct {
	log  Log
	o    SharedOptions
	in   chan Event
	wake chan struct{}
	stop chan struct{}
	wg   sync.WaitGroup

	dropped atomic.Int64 // events not queued since the last warning
}

// NewShared makes a Bus whose events go through log: Publish queues an
// event for it, and what any node appended reaches this node's
// subscribers in ID order. The backlog starts with the log's newest
// events, so a client resumes across a restart. Close stops it.
func NewShared(log Log, o SharedOptions) (*Bus, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Keep <= 0 {
		o.Keep = DefaultKeep
	}
	b := New(o.Backlog, nil)
	ctx, cancel := context.WithTimeout(context.Background(), statementTO)
	recent, floor, err := log.RecentEvents(ctx, len(b.backlog))
	cancel()
	if err != nil {
		return nil, err
	}
	b.last, b.floor = floor, floor
	for _, e := range recent { // no more than the ring holds: none is evicted
		b.deliver(e)
	}
	s := &shared{log: log, o: o, in: make(chan Event, queued), wake: make(chan struct{}, 1), stop: make(chan struct{})}
	b.shared = s
	s.wg.Add(3)
	go s.write()
	go s.listen()
	go s.read(b)
	return b, nil
}

// Close stops a shared bus after one last attempt to store what is
// queued; on a Bus of New it does nothing.
func (b *Bus) Close() {
	if b.shared == nil {
		return
	}
	close(b.shared.stop)
	b.shared.wg.Wait()
}

func (s *shared) queue(e Event) {
	e.Node = s.o.Node
	select {
	case s.in <- e:
	default:
		s.dropped.Add(1)
	}
}

// write appends queued events in batches, the batch in hand again and
// again while the database is away.
func (s *shared) write() {
	defer s.wg.Done()
	var batch []Event
	down := false
	for {
		if len(batch) == 0 {
			select {
			case e := <-s.in:
				batch = append(batch, e)
			case <-s.stop:
				s.flush()
				return
			}
		}
		batch = s.take(batch, readBatch)
		ctx, cancel := context.WithTimeout(context.Background(), statementTO)
		err := s.log.AppendEvents(ctx, batch)
		cancel()
		if dropped := s.dropped.Swap(0); dropped > 0 {
			s.o.Logger.Warn("events: the queue for the database was full; events dropped", "dropped", dropped)
		}
		if err == nil {
			if down {
				s.o.Logger.Info("events: stored in the database again")
			}
			batch, down = batch[:0], false
			continue
		}
		if !down {
			s.o.Logger.Warn("events: the database does not take them; kept and tried again", "events", len(batch), "err", err)
			down = true
		}
		select {
		case <-time.After(poll):
		case <-s.stop:
			s.flush(batch...)
			return
		}
	}
}

// flush makes one attempt at storing held and what is queued.
func (s *shared) flush(held ...Event) {
	held = s.take(held, math.MaxInt)
	if len(held) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), statementTO)
	defer cancel()
	if err := s.log.AppendEvents(ctx, held); err != nil {
		s.o.Logger.Warn("events: lost at shutdown: the database did not take them", "events", len(held), "err", err)
	}
}

// take appends to batch what is queued, until batch holds limit events.
func (s *shared) take(batch []Event, limit int) []Event {
	for len(batch) < limit {
		select {
		case e := <-s.in:
			batch = append(batch, e)
		default:
			return batch
		}
	}
	return batch
}

// listen keeps a LISTEN open, so new events arrive at once rather than
// at the next poll.
func (s *shared) listen() {
	defer s.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { <-s.stop; cancel() }()
	for ctx.Err() == nil {
		err := s.log.ListenEvents(ctx, func() {
			select {
			case s.wake <- struct{}{}:
			default:
			}
		})
		if ctx.Err() != nil {
			return
		}
		s.o.Logger.Debug("events: listening again", "err", err)
		select {
		case <-time.After(poll):
		case <-ctx.Done():
		}
	}
}

// read hands what the log has after the newest event seen to the
// subscribers, when woken and at every poll, and trims the log.
func (s *shared) read(b *Bus) {
	defer s.wg.Done()
	tick := time.NewTicker(poll)
	defer tick.Stop()
	trimmed := time.Now()
	down := false
	for {
		select {
		case <-s.stop:
			return
		case <-s.wake:
		case <-tick.C:
		}
		err := s.catchUp(b)
		if err == nil && time.Since(trimmed) >= trimEvery {
			ctx, cancel := context.WithTimeout(context.Background(), statementTO)
			err = s.log.TrimEvents(ctx, s.o.Keep)
			cancel()
			trimmed = time.Now()
		}
		switch {
		case err != nil && !down:
			s.o.Logger.Warn("events: the database does not answer; other nodes' events wait", "err", err)
			down = true
		case err == nil && down:
			s.o.Logger.Info("events: reading the database again")
			down = false
		}
	}
}

func (s *shared) catchUp(b *Bus) error {
	for {
		b.mu.Lock()
		after := b.last
		b.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), statementTO)
		es, err := s.log.EventsAfter(ctx, after, readBatch)
		cancel()
		if err != nil {
			return err
		}
		b.mu.Lock()
		for _, e := range es {
			if e.ID > b.last {
				b.deliver(e)
			}
		}
		b.mu.Unlock()
		if len(es) < readBatch {
			return nil
		}
	}
}
