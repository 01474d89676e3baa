package conference

import "time"

// Meetings are the scheduled meetings (from calendar invites) the bridge
// knows of. A scheduled meeting has a PIN of its own that works only in
// its window, and while its window is open the room runs as that meeting:
// its options apply and its time limit counts from its start.
type Meetings interface {
	// Lookup finds the meeting in room whose PIN is pin and says whether
	// its window is open at now.
	Lookup(room, pin string, now time.Time) (ScheduledMeeting, MeetingState)
	// Current is the meeting whose window is open in room at now.
	Current(room string, now time.Time) (ScheduledMeeting, bool)
}

// MeetingState is where now is relative to a meeting's window.
type MeetingState int

const (
	NoMeeting MeetingState = iota // no meeting has that PIN
	NotYet                        // its window opens later
	Open                          // early join, running, or until its booked end
	Ended                         // its window has closed
)

// ScheduledMeeting is one occurrence of a scheduled meeting.
type ScheduledMeeting struct {
	ID, Summary       string
	Start, End        time.Time
	Record, Sensitive bool
}
