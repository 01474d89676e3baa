package booking

import (
	"time"

	"brygga/store"
)

// OccurrenceState is where an occurrence stands at a given time.
type OccurrenceState string

// Occurrence states.
const (
	OccurrenceUpcoming  OccurrenceState = "upcoming"  // its window has not opened
	OccurrenceOpen      OccurrenceState = "open"      // callers may join; it has not started
	OccurrenceRunning   OccurrenceState = "running"   // between its start and its end
	OccurrenceEnded     OccurrenceState = "ended"     // over
	OccurrenceCancelled OccurrenceState = "cancelled" // the occurrence or the whole meeting
)

// View is a scheduled meeting as the admin API shows it. The meeting PIN
// is left out, as the rooms' PINs are: the organizer has it by mail.
type View struct {
	ID, UID, Room            string
	Organizer, OrganizerName string
	Summary                  string
	Sequence                 int
	Stamp                    time.Time
	Zone                     string // IANA name; the times below are in it
	OwnPIN                   bool   // the meeting has its own PIN; else callers use the room's
	Record, Sensitive        bool
	State                    string // store.ScheduleActive or store.ScheduleCancelled
	Created, Updated         time.Time
	Occurrences              []OccurrenceView
}

// OccurrenceView is one date of a View.
type OccurrenceView struct {
	ID         time.Time // the original start, UTC
	Start, End time.Time
	State      OccurrenceState
}

func (b *Booker) view(s store.Schedule, now time.Time) View {
	loc := zone(s.Zone)
	early := b.room(s.Room).Settings.EarlyJoinMinutes
	v := View{ID: s.ID, UID: s.UID, Room: s.Room, Organizer: s.Organizer, OrganizerName: s.OrganizerName,
		Summary: s.Summary, Sequence: s.Sequence, Stamp: s.Stamp, Zone: s.Zone, OwnPIN: s.PIN != "",
		Record: s.Record, Sensitive: s.Sensitive, State: s.State, Created: s.Created, Updated: s.Updated,
		Occurrences: make([]OccurrenceView, 0, len(s.Occurrences))}
	for _, o := range s.Occurrences {
		opens, _ := window(o, early)
		state := OccurrenceUpcoming
		switch {
		case o.Cancelled || s.State == store.ScheduleCancelled:
			state = OccurrenceCancelled
		case !now.Before(o.End):
			state = OccurrenceEnded
		case !now.Before(o.Start):
			state = OccurrenceRunning
		case !now.Before(opens):
			state = OccurrenceOpen
		}
		v.Occurrences = append(v.Occurrences, OccurrenceView{ID: o.ID, Start: o.Start.In(loc), End: o.End.In(loc), State: state})
	}
	return v
}

// List returns every scheduled meeting, cancelled ones too, by first
// occurrence, with each occurrence's state at Now.
func (b *Booker) List() ([]View, error) {
	list, err := b.DB.Schedules()
	if err != nil {
		return nil, err
	}
	now := b.now()
	out := make([]View, 0, len(list))
	for _, s := range list {
		out = append(out, b.view(s, now))
	}
	return out, nil
}

// Get returns one scheduled meeting; store.ErrNotFound when there is none.
func (b *Booker) Get(id string) (View, error) {
	s, err := b.DB.Schedule(id)
	if err != nil {
		return View{}, err
	}
	return b.view(s, b.now()), nil
}

// Delete removes a scheduled meeting at once, without telling its
// organizer: its PIN stops working. A later invite with its UID books it
// anew. store.ErrNotFound when there is none.
func (b *Booker) Delete(id string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.DB.DeleteSchedule(id)
}
