package pin

import (
	"cmp"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// Lockout is the Guard against PIN guessing: it counts failed tries per
// source address and per room in a sliding window and, once a count reaches
// its threshold, refuses every try from that source (or at that room) for a
// while without checking the PIN at all, so a correct PIN found by chance
// during the lock does not get in either.
//
// The room threshold is higher than the source one (by default three
// times): a room lock refuses everyone, so one guesser must not be able to
// close a room with the few tries it takes to lock itself out. The room
// count is still needed because calls through the PBX all share one source
// (see Exempt), and because a guesser with many addresses stays under the
// source threshold on each of them.
//
// Memory is bounded by MaxEntries sources and as many rooms; when full, the
// record seen longest ago is forgotten. A Lockout is safe for concurrent
// use; set its fields before the first call and not after.
type Lockout struct {
	Failures     int           // failed tries from one source that lock it; <= 0: 10
	RoomFailures int           // failed tries at one room that lock it; <= 0: 3 × Failures
	Window       time.Duration // tries older than this are forgotten; <= 0: 10 minutes
	Lock         time.Duration // how long a lock lasts; <= 0: 15 minutes
	MaxEntries   int           // sources (and rooms) remembered; <= 0: 10000

	// Exempt sources are counted per room only: the PBX carries every
	// caller's tries, and locking it out would lock out everyone.
	Exempt func(netip.Addr) bool
	// Now is the clock; nil: time.Now.
	Now func() time.Time
	// Logger gets one line per lock; nil: slog.Default().
	Logger *slog.Logger
	// OnLockout is told of every lock as it starts (for a metric): the
	// source that made the last failed try, the room, and the scope,
	// "source" or "room". Called without the Lockout's lock held.
	OnLockout func(scope, source, room string)
	// Shared, when set, keeps the counts and locks where every bridge of
	// a cluster sees them (the store on PostgreSQL), so tries spread over
	// several bridges add up and a lock on one holds on all. The counts
	// in memory are then only the fallback for a try Shared could not
	// take (the database unreachable): a node still locks out a guesser
	// by itself rather than letting it guess freely.
	Shared Tallies

	mu      sync.Mutex
	sources map[netip.Addr]*tally
	rooms   map[string]*tally
}

// tally is the recent failures of one source or room.
type tally struct {
	fails  []time.Time // within the window, oldest first; at most the threshold
	until  time.Time   // locked until then
	locked int         // failed tries that started the lock
	seenAt time.Time   // last failure or lock, for eviction
}

// LockoutLogMsg is the message of the log line written when a lock starts.
// With the text handler a line looks like
//
//	time=… level=WARN msg="pin lockout" scope=source source=192.0.2.7 room=4711 failures=10 lock=15m0s
//
// (docs/config.md has the fail2ban filter). The keys and their order are fixed.
const LockoutLogMsg = "pin lockout"

// Allow reports whether a try may be checked: neither its source nor its
// room is locked.
func (l *Lockout) Allow(a Attempt) bool {
	if l.Shared != nil {
		src := a.Source.Unmap().String()
		if l.exempt(a.Source) {
			src = ""
		}
		locked, err := l.Shared.Locked(src, a.Room)
		if err != nil {
			l.logger().Error("pin lockout: reading the shared locks; the local ones apply", "err", err)
		} else if locked {
			return false
		}
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if t := l.sources[a.Source.Unmap()]; t != nil && now.Before(t.until) && !l.exempt(a.Source) {
		return false
	}
	if t := l.rooms[a.Room]; t != nil && now.Before(t.until) {
		return false
	}
	return true
}

// Failed counts a wrong PIN against the source and the room.
func (l *Lockout) Failed(a Attempt) {
	now := l.now()
	src := a.Source.Unmap()
	type lock struct {
		scope string
		n     int
	}
	var locks []lock
	// shared counts the failure in l.Shared and reports whether the
	// memory must count it instead.
	shared := func(scope, key string, threshold int) bool {
		if l.Shared == nil {
			return false
		}
		n, locked, err := l.Shared.Fail(scope, key, threshold, l.window(), l.lock())
		if err != nil {
			l.logger().Error("pin lockout: counting a failure in the shared store; counted here instead", "scope", scope, "err", err)
			return false
		}
		if locked {
			locks = append(locks, lock{scope, n})
		}
		return true
	}
	countSource := !l.exempt(src) && !shared(ScopeSource, src.String(), l.threshold())
	countRoom := !shared(ScopeRoom, a.Room, l.roomThreshold())
	l.mu.Lock()
	if l.sources == nil {
		l.sources = make(map[netip.Addr]*tally)
		l.rooms = make(map[string]*tally)
	}
	if countSource {
		if n, locked := count(l.sources, src, now, l.threshold(), l.window(), l.lock(), l.max()); locked {
			locks = append(locks, lock{ScopeSource, n})
		}
	}
	if countRoom {
		if n, locked := count(l.rooms, a.Room, now, l.roomThreshold(), l.window(), l.lock(), l.max()); locked {
			locks = append(locks, lock{ScopeRoom, n})
		}
	}
	l.mu.Unlock()
	for _, k := range locks {
		l.logger().Warn(LockoutLogMsg, "scope", k.scope, "source", src.String(), "room", a.Room, "failures", k.n, "lock", l.lock())
		if l.OnLockout != nil {
			l.OnLockout(k.scope, src.String(), a.Room)
		}
	}
}

// Succeeded forgets the source's failures: a caller who typed the PIN
// wrong once and then right starts afresh. The room's count stays; it
// protects against many sources.
func (l *Lockout) Succeeded(a Attempt) {
	if l.Shared != nil && !l.exempt(a.Source) {
		if err := l.Shared.Forget(a.Source.Unmap().String()); err != nil {
			l.logger().Error("pin lockout: forgetting a source's failures in the shared store", "err", err)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if t := l.sources[a.Source.Unmap()]; t != nil && !l.now().Before(t.until) {
		delete(l.sources, a.Source.Unmap())
	}
}

// Scopes of a Lock.
const (
	ScopeRoom   = "room"
	ScopeSource = "source"
)

// Lock is one lock in force, as operators see it.
type Lock struct {
	Scope    string    // ScopeRoom or ScopeSource
	Key      string    // the room's extension, or the source's address
	Failures int       // failed tries that started the lock
	Until    time.Time // when it ends by itself
}

// LiftLogMsg is the message of the log line written when Lift ends a
// lock early. It is not LockoutLogMsg, so a fail2ban filter on that one
// does not count it.
const LiftLogMsg = "pin lockout lifted"

// Locks lists the locks in force: rooms by extension, then sources by
// address. Exempt sources are left out, since Allow ignores their locks.
func (l *Lockout) Locks() []Lock {
	var all []Lock
	if l.Shared != nil {
		shared, err := l.Shared.Locks()
		if err != nil {
			l.logger().Error("pin lockout: reading the shared locks", "err", err)
		}
		all = shared
	}
	now := l.now()
	l.mu.Lock()
	for k, t := range l.rooms {
		if now.Before(t.until) {
			all = append(all, Lock{Scope: ScopeRoom, Key: k, Failures: t.locked, Until: t.until})
		}
	}
	for a, t := range l.sources {
		if now.Before(t.until) {
			all = append(all, Lock{Scope: ScopeSource, Key: a.String(), Failures: t.locked, Until: t.until})
		}
	}
	l.mu.Unlock()
	return l.ordered(all)
}

// ordered sorts locks for Locks, leaves out exempt sources, and of a key
// locked both in Shared and in memory keeps the one that ends last.
func (l *Lockout) ordered(all []Lock) []Lock {
	type keyed struct {
		Lock
		addr netip.Addr
	}
	var ks []keyed
	for _, k := range all {
		var a netip.Addr
		if k.Scope == ScopeSource {
			var err error
			if a, err = netip.ParseAddr(k.Key); err != nil || l.exempt(a) {
				continue
			}
		}
		ks = append(ks, keyed{k, a})
	}
	slices.SortFunc(ks, func(a, b keyed) int {
		if a.Scope != b.Scope {
			if a.Scope == ScopeRoom {
				return -1
			}
			return 1
		}
		if a.Scope == ScopeRoom {
			return cmp.Compare(a.Key, b.Key)
		}
		return a.addr.Compare(b.addr)
	})
	out := make([]Lock, 0, len(ks))
	for _, k := range ks {
		if n := len(out); n > 0 && out[n-1].Scope == k.Scope && out[n-1].Key == k.Key {
			if k.Until.After(out[n-1].Until) {
				out[n-1] = k.Lock
			}
			continue
		}
		out = append(out, k.Lock)
	}
	return out
}

// Lift ends the lock of a room (scope ScopeRoom, key its extension) or a
// source (ScopeSource, key its address) now and forgets its failures, so
// the organizer of a room under attack can get back in. It reports false
// when no such lock is in force: an unknown scope, a key that is not an
// address, a lock already over, or none at all.
func (l *Lockout) Lift(scope, key string) bool {
	// A source's key is its address as Allow writes it: Shared keys it
	// so, and the memory by the address itself (invalid: no such lock).
	var src netip.Addr
	if scope == ScopeSource {
		if a, err := netip.ParseAddr(key); err == nil {
			src = a.Unmap()
			key = src.String()
		}
	}
	lifted := false
	if l.Shared != nil && (scope == ScopeRoom || scope == ScopeSource) {
		ok, err := l.Shared.Lift(scope, key)
		if err != nil {
			l.logger().Error("pin lockout: lifting a shared lock", "scope", scope, "key", key, "err", err)
		}
		// Allow ignores an exempt source's lock anyway, as Locks does.
		lifted = ok && !(scope == ScopeSource && l.exempt(src))
	}
	now := l.now()
	l.mu.Lock()
	switch scope {
	case ScopeRoom:
		if t := l.rooms[key]; t != nil && now.Before(t.until) {
			delete(l.rooms, key)
			lifted = true
		}
	case ScopeSource:
		if t := l.sources[src]; src.IsValid() && t != nil && now.Before(t.until) && !l.exempt(src) {
			delete(l.sources, src)
			lifted = true
		}
	}
	l.mu.Unlock()
	if lifted {
		l.logger().Info(LiftLogMsg, "scope", scope, "key", key)
	}
	return lifted
}

// count adds a failure to m[key] and reports whether it starts a lock,
// with the number of failures that did. A key already locked stays locked
// until its time is up; failures during the lock are not counted (Allow
// refuses them before a PIN is checked).
func count[K comparable](m map[K]*tally, key K, now time.Time, threshold int, window, lock time.Duration, max int) (int, bool) {
	t := m[key]
	if t == nil {
		if len(m) >= max {
			evictOldest(m)
		}
		t = &tally{}
		m[key] = t
	}
	t.seenAt = now
	if now.Before(t.until) {
		return 0, false
	}
	i := 0
	for i < len(t.fails) && now.Sub(t.fails[i]) >= window {
		i++
	}
	t.fails = append(t.fails[i:], now)
	if len(t.fails) < threshold {
		return 0, false
	}
	n := len(t.fails)
	t.fails = t.fails[:0]
	t.until = now.Add(lock)
	t.locked = n
	return n, true
}

// evictOldest forgets the record seen longest ago. It scans: records are
// only added by a failed PIN, which takes a call and the IVR's time.
func evictOldest[K comparable](m map[K]*tally) {
	var (
		oldest K
		at     time.Time
		found  bool
	)
	for k, t := range m {
		if !found || t.seenAt.Before(at) {
			oldest, at, found = k, t.seenAt, true
		}
	}
	if found {
		delete(m, oldest)
	}
}

func (l *Lockout) exempt(a netip.Addr) bool { return l.Exempt != nil && l.Exempt(a) }

func (l *Lockout) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

func (l *Lockout) logger() *slog.Logger {
	if l.Logger != nil {
		return l.Logger
	}
	return slog.Default()
}

func (l *Lockout) threshold() int { return orInt(l.Failures, 10) }

func (l *Lockout) roomThreshold() int {
	if l.RoomFailures > 0 {
		return l.RoomFailures
	}
	return 3 * l.threshold()
}

func (l *Lockout) window() time.Duration { return orDur(l.Window, 10*time.Minute) }
func (l *Lockout) lock() time.Duration   { return orDur(l.Lock, 15*time.Minute) }
func (l *Lockout) max() int              { return orInt(l.MaxEntries, 10000) }

func orInt(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

func orDur(v, def time.Duration) time.Duration {
	if v > 0 {
		return v
	}
	return def
}
