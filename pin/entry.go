package pin

// MaxDigits bounds what a caller can type before '#': a stuck key must not
// grow memory, and no PIN is this long.
const MaxDigits = 32

// Action is what the IVR should do after a key press.
type Action int

const (
	Continue Action = iota // keep collecting
	Submit                 // the caller pressed '#': check Entry.Value
	Restart                // the caller pressed '*': the entry is cleared, replay the prompt
)

// Entry collects one PIN try from key presses: digits accumulate, '*'
// clears and restarts, '#' submits.
type Entry struct {
	buf [MaxDigits]byte
	n   int
}

// Key feeds one key press.
func (e *Entry) Key(d byte) Action {
	switch {
	case d == '#':
		return Submit
	case d == '*':
		e.n = 0
		return Restart
	case d >= '0' && d <= '9':
		if e.n < MaxDigits {
			e.buf[e.n] = d
			e.n++
		}
	}
	// A–D and overflow digits are ignored rather than failing the try.
	return Continue
}

// Value is what has been typed so far.
func (e *Entry) Value() string { return string(e.buf[:e.n]) }

// Len is the number of digits typed so far.
func (e *Entry) Len() int { return e.n }

// Reset clears the entry for the next try.
func (e *Entry) Reset() { e.n = 0 }

// Tries counts failed tries against a limit (3 in docs/keypad.md).
type Tries struct {
	Max    int
	failed int
}

// Fail records a failed try (a wrong PIN or a timeout) and reports whether
// the caller has run out of tries.
func (t *Tries) Fail() (exhausted bool) {
	t.failed++
	return t.failed >= t.Max
}

// Failed is the number of failed tries so far.
func (t *Tries) Failed() int { return t.failed }
