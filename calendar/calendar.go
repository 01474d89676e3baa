// Package calendar reads the meeting requests organizers send to brygga —
// Outlook and Exchange first, Google, Thunderbird and plain iMIP as they
// come — and writes the answers: an iMIP REPLY for the organizer's calendar
// and a human message with the dial-in.
//
// It is pure logic. Mail intake, storage of UID/SEQUENCE state and the
// scheduling of rooms belong to the callers; this package says what an
// invite means and why it cannot be booked.
//
// Reading happens in three layers, each with a real library underneath:
// MIME with go-message (and its charset tables), iCalendar structure with
// go-ical, recurrence with rrule-go. What Outlook needs beyond those — its
// Windows time-zone names, its unfolded or TAB-folded lines, floating times
// next to a lone VTIMEZONE — is handled here, next to the library call it
// corrects.
package calendar

import (
	"time"
)

// Limits. They bound the work one hostile invite can cause; real invites
// stay far below them (a weekly Outlook series with every occurrence
// moved once has about 60 components a year).
const (
	Horizon        = 366 * 24 * time.Hour // occurrences are expanded this far ahead of now
	MaxOccurrences = 500                  // at most this many occurrences per meeting
	MaxComponents  = 500                  // VEVENTs, and separately VTIMEZONEs, per object
	MaxDates       = 2000                 // EXDATE and RDATE values per meeting
	MaxBytes       = 4 << 20              // the iCalendar object
	MaxMessage     = 64 << 20             // a whole e-mail read by FromMessage
)

// Request is one iCalendar object as brygga understands it.
type Request struct {
	// Method is REQUEST or CANCEL. PUBLISH (Outlook's "save as" and
	// Google's export) and a missing METHOD (Outlook calendar exports) are
	// read as REQUEST: someone handed brygga a meeting to book, and
	// DeclaredMethod keeps what was written for the log.
	Method         string
	DeclaredMethod string // upper-cased METHOD as written, "" when absent

	// Meetings holds one entry per UID, in the order the UIDs first
	// appear; RECURRENCE-ID overrides are folded into their series.
	Meetings []Meeting
}

// Meeting is one UID: a single meeting or a whole series.
type Meeting struct {
	UID      string
	Sequence int       // SEQUENCE of the series (of the overrides when there is no master)
	Stamp    time.Time // DTSTAMP, UTC; zero when absent

	Organizer     string   // bare lower-case address, "mailto:" removed
	OrganizerName string   // CN of the organizer
	Attendees     []string // bare lower-case addresses, in order, without duplicates

	Summary, Description string // unescaped text

	// Record and Sensitive come from markers in the summary or the
	// description: [record], [opptak], [inspelning]; [sensitive],
	// [sensitiv]. Case does not matter.
	Record, Sensitive bool

	// Zone is the meeting's IANA zone: DTSTART's, or for a meeting
	// written in UTC the calendar's X-WR-TIMEZONE or only VTIMEZONE,
	// else UTC. Nil when the times were not read (a rejection before
	// them, a CANCEL without them).
	Zone     *time.Location
	Start    time.Time // DTSTART of the series (its first occurrence), in Zone
	Duration time.Duration
	// Recurring is set for a series (RRULE or RDATE).
	Recurring bool

	// Occurrences are the meeting's occurrences whose start lies between
	// now-24h and now+Horizon, sorted by start, at most MaxOccurrences:
	// the recurrence rule expanded, EXDATEs removed, RDATEs added,
	// RECURRENCE-ID overrides applied (moved, or removed when their
	// STATUS is CANCELLED). Empty for CANCEL.
	Occurrences []Occurrence

	// OverridesOnly is set when a REQUEST carries RECURRENCE-ID
	// components but not their series: Occurrences then replace those
	// occurrences (by ID) in the series the caller has stored, and
	// Cancelled lists the ones the organizer removed.
	OverridesOnly bool

	// Cancelled lists, for METHOD:CANCEL of single occurrences, their
	// RECURRENCE-IDs in UTC; empty means the whole meeting is cancelled.
	// With OverridesOnly, the overrides whose STATUS is CANCELLED.
	Cancelled []time.Time
}

// Occurrence is one instance of a meeting.
type Occurrence struct {
	ID         time.Time // original start (the RECURRENCE-ID value), UTC
	Start, End time.Time // in the meeting's zone; moved when an override says so
}

// End is the end of the series' first occurrence.
func (m Meeting) End() time.Time { return m.Start.Add(m.Duration) }

// Supersedes says whether m is a newer version of stored, the same UID
// as the caller keeps it: a higher SEQUENCE, or the same SEQUENCE with a
// later DTSTAMP (RFC 5546 section 2.1.5). A repeat of the stored version
// does not supersede it, and neither does an older one, which is ignored.
func (m Meeting) Supersedes(stored Meeting) bool {
	if m.Sequence != stored.Sequence {
		return m.Sequence > stored.Sequence
	}
	return m.Stamp.After(stored.Stamp)
}
