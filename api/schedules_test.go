package api

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"brygga/booking"
	"brygga/calendar"
	"brygga/store"
)

// fakeSchedules holds one meeting, s1, and answers submissions by their
// first line: REJECT (a rejection), GARBAGE (unreadable), else booked.
type fakeSchedules struct {
	mu        sync.Mutex
	views     map[string]booking.View
	submitted []string
}

func newFakeSchedules() *fakeSchedules {
	start := time.Date(2026, 11, 23, 14, 0, 0, 0, time.UTC)
	return &fakeSchedules{views: map[string]booking.View{"s1": {
		ID: "s1", UID: "040000008200E00074C5B7101A82E008", Room: "4711", Organizer: "kari@example.org",
		Summary: "Budget [opptak]", Sequence: 2, Zone: "Europe/Oslo", OwnPIN: true, Record: true, State: "active",
		Occurrences: []booking.OccurrenceView{
			{ID: start, Start: start, End: start.Add(time.Hour), State: booking.OccurrenceUpcoming},
			{ID: start.AddDate(0, 0, 7), Start: start.AddDate(0, 0, 7), End: start.AddDate(0, 0, 7).Add(time.Hour), State: booking.OccurrenceCancelled},
		},
	}}}
}

func (f *fakeSchedules) List() ([]booking.View, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []booking.View
	for _, v := range f.views {
		out = append(out, v)
	}
	return out, nil
}

func (f *fakeSchedules) Get(id string) (booking.View, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.views[id]
	if !ok {
		return v, fmt.Errorf("schedule %s: %w", id, store.ErrNotFound)
	}
	return v, nil
}

func (f *fakeSchedules) Delete(id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.views[id]; !ok {
		return store.ErrNotFound
	}
	delete(f.views, id)
	return nil
}

func (f *fakeSchedules) Submit(ctx context.Context, ics []byte) ([]Outcome, error) {
	f.mu.Lock()
	f.submitted = append(f.submitted, string(ics))
	f.mu.Unlock()
	switch {
	case strings.HasPrefix(string(ics), "REJECT"):
		return nil, &calendar.Rejection{Reason: "all-day events cannot be phone meetings"}
	case strings.HasPrefix(string(ics), "GARBAGE"):
		return nil, fmt.Errorf("%w: calendar: line 1 is not a property", store.ErrInvalid)
	}
	return []Outcome{{UID: "u1", Room: "4711", Action: "booked", PIN: "555111", Replied: true}}, nil
}

func TestSchedules(t *testing.T) {
	e := newEnv(t, nil)
	r := e.do(t, "GET", "/api/v1/schedules", viewSecret, "")
	want(t, r, 200)
	l := r.list(t)
	if len(l) != 1 || l[0]["id"] != "s1" || l[0]["zone"] != "Europe/Oslo" || l[0]["own_pin"] != true {
		t.Fatalf("list: %s", r.body)
	}
	if _, ok := l[0]["pin"]; ok {
		t.Fatal("the meeting's PIN is shown")
	}
	occ := l[0]["occurrences"].([]any)
	if len(occ) != 2 || occ[0].(map[string]any)["state"] != "upcoming" || occ[1].(map[string]any)["state"] != "cancelled" {
		t.Fatalf("occurrences: %v", occ)
	}
	want(t, e.do(t, "GET", "/api/v1/schedules/s1", viewSecret, ""), 200)
	want(t, e.do(t, "GET", "/api/v1/schedules/nope", viewSecret, ""), 404)

	r = e.doHeader(t, "POST", "/api/v1/schedules", opSecret, "Content-Type", "text/calendar", "BEGIN:VCALENDAR\r\n")
	want(t, r, 200)
	if l := r.list(t); len(l) != 1 || l[0]["action"] != "booked" || l[0]["pin"] != "555111" || l[0]["replied"] != true {
		t.Fatalf("submit: %s", r.body)
	}
	r = e.do(t, "POST", "/api/v1/schedules", opSecret, "REJECT")
	want(t, r, 422)
	if !strings.Contains(string(r.body), "all-day") {
		t.Errorf("422 without the reason: %s", r.body)
	}
	want(t, e.do(t, "POST", "/api/v1/schedules", opSecret, "GARBAGE"), 400)
	want(t, e.do(t, "POST", "/api/v1/schedules", opSecret, ""), 400)
	want(t, e.do(t, "POST", "/api/v1/schedules", opSecret, strings.Repeat("x", 1<<20+1)), 413)

	want(t, e.do(t, "DELETE", "/api/v1/schedules/s1", opSecret, ""), 204)
	want(t, e.do(t, "DELETE", "/api/v1/schedules/s1", opSecret, ""), 404)

	none := newEnv(t, func(o *Options) { o.Schedules = nil })
	want(t, none.do(t, "GET", "/api/v1/schedules", viewSecret, ""), 501)
}
