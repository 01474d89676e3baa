package ctl

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"brygga/api"
	"brygga/booking"
	"brygga/store"
)

// fakeBookings has one meeting, m-1, and books whatever is submitted.
type fakeBookings struct{ got string }

func (f *fakeBookings) List() ([]booking.View, error) {
	v, err := f.Get("m-1")
	return []booking.View{v}, err
}

func (f *fakeBookings) Get(id string) (booking.View, error) {
	if id != "m-1" {
		return booking.View{}, store.ErrNotFound
	}
	start := time.Date(2026, 11, 23, 14, 0, 0, 0, time.UTC)
	return booking.View{ID: "m-1", Room: "4711", Organizer: "kari.nordmann@example.org", Summary: "Budsjett",
		Zone: "Europe/Oslo", State: "active", Occurrences: []booking.OccurrenceView{
			{ID: start, Start: start, End: start.Add(time.Hour), State: booking.OccurrenceUpcoming}}}, nil
}

func (f *fakeBookings) Delete(id string) error {
	_, err := f.Get(id)
	return err
}

func (f *fakeBookings) Submit(_ context.Context, ics []byte) ([]api.Outcome, error) {
	f.got = string(ics)
	return []api.Outcome{{UID: "u", Room: "4711", Action: "booked", PIN: "808080", Replied: true}}, nil
}

func TestSchedulesCommands(t *testing.T) {
	b := newBridge(t)
	r := ctl(t, opEnv(b), "schedules")
	if r.code != ExitOK || !strings.Contains(r.stdout, "m-1") || !strings.Contains(r.stdout, "Budsjett") || !strings.Contains(r.stdout, "(upcoming)") {
		t.Fatalf("schedules: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = ctl(t, opEnv(b), "schedule", "m-1")
	if r.code != ExitOK || !strings.Contains(r.stdout, "Europe/Oslo") {
		t.Fatalf("schedule: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	ics := filepath.Join(t.TempDir(), "invite.ics")
	os.WriteFile(ics, []byte("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"), 0o600)
	r = ctl(t, opEnv(b), "schedule", "submit", ics)
	if r.code != ExitOK || !strings.Contains(r.stdout, "4711: booked, PIN 808080, dial 4711*808080") {
		t.Fatalf("submit: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if got := b.lastRequest(); got.Method != "POST" || got.Path != "/api/v1/schedules" || !strings.HasPrefix(got.Body, "BEGIN:VCALENDAR") {
		t.Errorf("request %+v", got)
	}
	r = ctl(t, opEnv(b), "schedule", "delete", "m-1")
	if r.code != ExitOK || !strings.Contains(r.stdout, "deleted") {
		t.Fatalf("delete: exit %d %s%s", r.code, r.stdout, r.stderr)
	}
	if r = ctl(t, opEnv(b), "schedule", "delete", "m-2"); r.code != ExitFailure {
		t.Errorf("unknown schedule: exit %d", r.code)
	}
}
