package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"brygga/booking"
	"brygga/calendar"
)

// Schedules is the bridge's scheduled meetings.
type Schedules interface {
	List() ([]booking.View, error)
	Get(id string) (booking.View, error)
	Delete(id string) error
	// Submit books, updates or cancels from an iCalendar object; a
	// *calendar.Rejection says why it cannot be booked at all, an error
	// wrapping store.ErrInvalid that it cannot be read (400).
	Submit(ctx context.Context, ics []byte) ([]Outcome, error)
}

// Outcome is what became of one meeting of a submitted object.
type Outcome struct {
	UID, Room, Action, Reason string
	PIN                       string // the meeting's own PIN, when it has one
	Replied                   bool   // the organizer was mailed the answer
	MailError                 string // why mailing the answer failed
}

type occurrenceJSON struct {
	ID    time.Time `json:"id"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	State string    `json:"state"` // upcoming, open, running, ended, cancelled
}

// scheduleJSON is a scheduled meeting. Its PIN is not shown: it went to
// the organizer by mail; own_pin says whether it has one of its own.
type scheduleJSON struct {
	ID            string           `json:"id"`
	UID           string           `json:"uid"`
	Room          string           `json:"room"`
	Organizer     string           `json:"organizer"`
	OrganizerName string           `json:"organizer_name"`
	Summary       string           `json:"summary"`
	Sequence      int              `json:"sequence"`
	Zone          string           `json:"zone"`
	OwnPIN        bool             `json:"own_pin"`
	Record        bool             `json:"record"`
	Sensitive     bool             `json:"sensitive"`
	State         string           `json:"state"` // active, cancelled
	Created       time.Time        `json:"created"`
	Updated       time.Time        `json:"updated"`
	Occurrences   []occurrenceJSON `json:"occurrences"`
}

// outcomeJSON is what became of one meeting of a submitted object.
type outcomeJSON struct {
	UID       string `json:"uid"`
	Room      string `json:"room"`
	Action    string `json:"action"`
	Reason    string `json:"reason,omitempty"`
	PIN       string `json:"pin,omitempty"`
	Replied   bool   `json:"replied"`
	MailError string `json:"mail_error,omitempty"`
}

func scheduleOf(v booking.View) scheduleJSON {
	out := scheduleJSON{
		ID: v.ID, UID: v.UID, Room: v.Room, Organizer: v.Organizer, OrganizerName: v.OrganizerName,
		Summary: v.Summary, Sequence: v.Sequence, Zone: v.Zone, OwnPIN: v.OwnPIN, Record: v.Record,
		Sensitive: v.Sensitive, State: v.State, Created: v.Created, Updated: v.Updated,
		Occurrences: make([]occurrenceJSON, 0, len(v.Occurrences)),
	}
	for _, o := range v.Occurrences {
		out.Occurrences = append(out.Occurrences, occurrenceJSON{ID: o.ID, Start: o.Start, End: o.End, State: string(o.State)})
	}
	return out
}

func (s *server) listSchedules(w http.ResponseWriter, r *http.Request) {
	vs, err := s.o.Schedules.List()
	if err != nil {
		s.fail(w, err)
		return
	}
	out := make([]scheduleJSON, 0, len(vs))
	for _, v := range vs {
		out = append(out, scheduleOf(v))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *server) getSchedule(w http.ResponseWriter, r *http.Request) {
	v, err := s.o.Schedules.Get(r.PathValue("id"))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, scheduleOf(v))
}

func (s *server) deleteSchedule(w http.ResponseWriter, r *http.Request) {
	if err := s.o.Schedules.Delete(r.PathValue("id")); err != nil {
		s.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// maxCalendar bounds an uploaded iCalendar object: Outlook's invites with
// a long series and HTML descriptions stay well under 1 MiB.
const maxCalendar = 1 << 20

func (s *server) submitSchedule(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxCalendar))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", maxCalendar))
			return
		}
		writeError(w, http.StatusBadRequest, "reading body: "+err.Error())
		return
	}
	if len(body) == 0 {
		writeError(w, http.StatusBadRequest, "a text/calendar body is required")
		return
	}
	outs, err := s.o.Schedules.Submit(r.Context(), body)
	var rej *calendar.Rejection
	switch {
	case errors.As(err, &rej):
		writeError(w, http.StatusUnprocessableEntity, rej.Reason)
		return
	case err != nil:
		s.fail(w, err)
		return
	}
	// The object of a submission is only known from its body: the
	// meetings' UIDs and rooms name it in the audit line.
	uids, rooms := make([]string, 0, len(outs)), make([]string, 0, len(outs))
	for _, o := range outs {
		uids, rooms = append(uids, o.UID), append(rooms, o.Room)
	}
	auditNote(r, "uids", uids)
	auditNote(r, "rooms", rooms)
	out := make([]outcomeJSON, 0, len(outs))
	for _, o := range outs {
		out = append(out, outcomeJSON{UID: o.UID, Room: o.Room, Action: o.Action, Reason: o.Reason,
			PIN: o.PIN, Replied: o.Replied, MailError: o.MailError})
	}
	writeJSON(w, http.StatusOK, out)
}
