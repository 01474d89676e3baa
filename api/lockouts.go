package api

import (
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"brygga/events"
	"brygga/pin"
)

// Lockouts is the PIN lockout of the bridge; *pin.Lockout is one.
type Lockouts interface {
	Locks() []pin.Lock
	Lift(scope, key string) bool
}

// lockoutJSON is one PIN lock in force.
type lockoutJSON struct {
	Scope    string    `json:"scope"` // room or source
	Key      string    `json:"key"`   // the room's extension or the source's address
	Failures int       `json:"failures"`
	Until    time.Time `json:"until"`
}

func (s *server) listLockouts(w http.ResponseWriter, r *http.Request) {
	locks := s.o.Lockouts.Locks()
	out := make([]lockoutJSON, 0, len(locks))
	for _, l := range locks {
		out = append(out, lockoutJSON{Scope: l.Scope, Key: l.Key, Failures: l.Failures, Until: l.Until.UTC()})
	}
	writeJSON(w, http.StatusOK, out)
}

// liftLockout ends a lock early, so the organizer of a room a guesser has
// locked gets back in before sip.pin_lockout.lock is over.
func (s *server) liftLockout(w http.ResponseWriter, r *http.Request) {
	scope, key := r.PathValue("scope"), r.PathValue("key")
	switch scope {
	case pin.ScopeRoom:
	case pin.ScopeSource:
		a, err := netip.ParseAddr(key)
		if err != nil {
			writeError(w, http.StatusBadRequest, "key: "+strconv.Quote(key)+" is not an IP address")
			return
		}
		key = a.Unmap().String()
	default:
		writeError(w, http.StatusBadRequest, "scope: "+strconv.Quote(scope)+": expected room or source")
		return
	}
	if !s.o.Lockouts.Lift(scope, key) {
		writeError(w, http.StatusNotFound, "no such lockout in force")
		return
	}
	if s.o.Conferences != nil {
		if bus := s.o.Conferences.Events(); bus != nil {
			e := events.Event{Type: events.PINUnlocked, Data: map[string]any{"scope": scope}}
			if scope == pin.ScopeRoom {
				e.Room = key
			} else {
				e.Data["source"] = key
			}
			bus.Publish(e)
		}
	}
	w.WriteHeader(http.StatusNoContent)
}
