// Package keypad turns a caller's key presses in the room into commands
// (docs/keypad.md): `*` and a digit, with `*0` `*0` to end the meeting. It is
// pure: the room feeds it keys and the time, and acts on what it returns.
package keypad

import "time"

// Command is what a key sequence asks for.
type Command int

const (
	None     Command = iota // nothing yet (a `*` waiting for its digit)
	Help                    // *1
	RollCall                // *2
	Count                   // *3
	Lecture                 // *4 (hosts)
	Hand                    // *5: raise/lower; hosts: give the floor
	Mute                    // *6
	Lock                    // *7 (hosts)
	Admit                   // *8 (hosts)
	Record                  // *9 (hosts)
	EndAsk                  // the first *0: ask to confirm
	End                     // *0 *0 within ConfirmWindow (hosts)
	Invalid                 // anything else
)

var names = [...]string{"none", "help", "roll-call", "count", "lecture", "hand", "mute", "lock", "admit", "record", "end-ask", "end", "invalid"}

func (c Command) String() string {
	if int(c) < len(names) {
		return names[c]
	}
	return "unknown"
}

// HostOnly reports whether only hosts may give the command; for others the
// room answers with "invalid option" (a participant pressing *7 learns
// nothing about how the room is run).
func (c Command) HostOnly() bool {
	switch c {
	case Lecture, Lock, Admit, Record, EndAsk, End:
		return true
	}
	return false
}

// ConfirmWindow is how long the second *0 may take (docs/keypad.md: 5 s).
const ConfirmWindow = 5 * time.Second

// StarTimeout is how long a `*` waits for its digit before it is an
// invalid option, so a stray star does not swallow the next command.
const StarTimeout = 3 * time.Second

// Reader is one caller's keypad state.
type Reader struct {
	star     bool
	starAt   time.Time
	endAsked time.Time // when the first *0 came; zero if none pending
}

// Key feeds one key press at time now.
func (r *Reader) Key(d byte, now time.Time) Command {
	if r.star && now.Sub(r.starAt) > StarTimeout {
		r.star = false
	}
	if !r.star {
		if d == '*' {
			r.star, r.starAt = true, now
			return None
		}
		if d == '#' {
			// A habitual # (after the PIN, say) is not worth a prompt.
			return None
		}
		return Invalid
	}
	r.star = false
	switch d {
	case '1':
		return Help
	case '2':
		return RollCall
	case '3':
		return Count
	case '4':
		return Lecture
	case '5':
		return Hand
	case '6':
		return Mute
	case '7':
		return Lock
	case '8':
		return Admit
	case '9':
		return Record
	case '0':
		if !r.endAsked.IsZero() && now.Sub(r.endAsked) <= ConfirmWindow {
			r.endAsked = time.Time{}
			return End
		}
		r.endAsked = now
		return EndAsk
	case '*':
		// `**`: the first star was a slip; the second starts afresh.
		r.star, r.starAt = true, now
		return None
	}
	return Invalid
}
