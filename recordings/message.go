package recordings

import (
	"context"
	"errors"
	"time"
)

// Message is one finished recording on its way to the room owner's
// voicemail: what a Deliverer needs to deposit it and to say what it is.
type Message struct {
	ID       string        // the recording's ID in the store (also in links)
	Room     string        // the room's extension
	Owner    string        // the room owner's name from the directory; may be empty
	Target   string        // where it goes: sip:…, mailto:… or spool:/folder
	Language string        // en, nb or sv: the room's language for texts and prompts
	Started  time.Time     // when recording first started
	Ended    time.Time     // when the meeting ended
	Length   time.Duration // audio in the file (recorded segments joined)
	Path     string        // the WAV file: 8 kHz, 16-bit, mono PCM
	Size     int64         // bytes of Path
}

// Deliverer deposits a recording in one kind of voicemail (one URI scheme).
// Deliver returns nil only when the message is safely in the mailbox: the
// queue then marks it delivered and never sends it again. Any other error
// is retried with back-off, unless wrapped by Permanent.
type Deliverer interface {
	Deliver(ctx context.Context, m Message) error
}

// permanent marks a failure retrying cannot mend (no such mailbox, a
// target the deliverer cannot parse).
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// Permanent wraps err so that the queue gives up on the delivery at once
// instead of retrying it.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanent{err}
}

// IsPermanent reports whether err (or an error it wraps) came from
// Permanent.
func IsPermanent(err error) bool {
	var p permanent
	return errors.As(err, &p)
}
