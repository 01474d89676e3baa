// Package pin checks conference PINs and collects them digit by digit.
//
// It is pure logic: the IVR feeds it digits and timeouts and acts on what it
// says. Guessing protection is a Guard so that a lockout per source and per
// room can be added without touching the IVR.
package pin

import (
	"crypto/subtle"
	"errors"
	"net/netip"
)

// Role is what a correct PIN makes the caller.
type Role int

const (
	None        Role = iota // wrong PIN
	Participant             // the room's participant PIN, or a room without one
	Host                    // the room's host PIN
)

func (r Role) String() string {
	switch r {
	case Participant:
		return "participant"
	case Host:
		return "host"
	}
	return "none"
}

// Secrets are a room's PINs. An empty PIN means the room has none of that kind.
type Secrets struct {
	PIN     string
	HostPIN string
	// Other, when set, is asked about an entered PIN that is neither of
	// the room's: true means it is right for something else (a scheduled
	// meeting's PIN, perhaps outside its window), so it is no guess and
	// does not count towards a lockout.
	Other func(entered string) bool
}

// Required reports whether a caller must enter something before joining.
// A room with only a host PIN lets participants in without one.
func (s Secrets) Required() bool { return s.PIN != "" }

// Check compares entered with both PINs, each of which may be plain (a
// config file) or a Hash (the store). Both are always evaluated, and when
// either is hashed the other costs a key derivation too, even when it is
// empty or plain, so the time taken tells a guesser neither which PIN
// matched, how many digits did, nor whether the room has a host PIN.
func Check(s Secrets, entered string) Role {
	s.PIN, s.HostPIN = remembered(s.PIN), remembered(s.HostPIN)
	hashed := IsHash(s.PIN) || IsHash(s.HostPIN)
	host := matches(s.HostPIN, entered, hashed)
	part := matches(s.PIN, entered, hashed)
	switch {
	case host:
		return Host
	case part:
		return Participant
	}
	return None
}

// matches reports whether entered is the PIN stored as want. With even
// set, a plain or empty want costs one key derivation as a hashed one does.
func matches(want, entered string, even bool) bool {
	if IsHash(want) {
		return verify(want, entered)
	}
	if even {
		derive(entered, dummySalt[:], iterations)
	}
	return want != "" && equal(want, entered)
}

func equal(want, got string) bool {
	// ConstantTimeCompare returns early on a length mismatch; compare the
	// lengths separately and always run the byte comparison.
	w := []byte(want)
	g := []byte(got)
	pad := make([]byte, len(w))
	copy(pad, g)
	same := subtle.ConstantTimeCompare(w, pad)
	return same == 1 && len(w) == len(g)
}

// Attempt describes one PIN try for a Guard.
type Attempt struct {
	Source netip.Addr // where the call came from (the PBX for most calls)
	Room   string
}

// ErrLocked is returned when a Guard refuses to check a PIN at all.
var ErrLocked = errors.New("pin: too many failed attempts")

// Guard decides whether an attempt may be checked and learns its outcome.
// The lockout per source and room is a later Guard; Open allows everything.
type Guard interface {
	Allow(a Attempt) bool
	Failed(a Attempt)
	Succeeded(a Attempt)
}

// Open is the Guard that never locks anyone out.
type Open struct{}

func (Open) Allow(Attempt) bool { return true }
func (Open) Failed(Attempt)     {}
func (Open) Succeeded(Attempt)  {}

// Verifier checks PINs through a Guard.
type Verifier struct {
	Guard Guard
}

// Verify checks entered for attempt a. It reports ErrLocked without
// checking when the guard refuses.
func (v Verifier) Verify(a Attempt, s Secrets, entered string) (Role, error) {
	g := v.Guard
	if g == nil {
		g = Open{}
	}
	if !g.Allow(a) {
		return None, ErrLocked
	}
	r := Check(s, entered)
	if r == None && (s.Other == nil || !s.Other(entered)) {
		g.Failed(a)
	} else {
		g.Succeeded(a)
	}
	return r, nil
}
