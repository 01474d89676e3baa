package invites

import (
	"testing"
	"time"

	"brygga/calendar"
)

func TestLocalZone(t *testing.T) {
	load := func(n string) *time.Location {
		l, err := time.LoadLocation(n)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	berlin, ny := load("Europe/Berlin"), load("America/New_York")
	at := func(loc *time.Location) calendar.Meeting {
		s := time.Date(2026, 3, 20, 10, 0, 0, 0, loc)
		return calendar.Meeting{Zone: loc, Start: s, Occurrences: []calendar.Occurrence{
			{Start: s, End: s.Add(time.Hour)}, {Start: s.AddDate(0, 0, 14), End: s.AddDate(0, 0, 14).Add(time.Hour)}}}
	}
	for _, c := range []struct {
		lang string
		m    calendar.Meeting
		want string
	}{
		{"nb", at(berlin), "Europe/Oslo"},
		{"sv", at(berlin), "Europe/Stockholm"},
		{"en", at(berlin), ""},
		{"nb", at(ny), ""}, // another clock: the meeting's own zone
	} {
		got := ""
		if l := localZone(c.lang, c.m); l != nil {
			got = l.String()
		}
		if got != c.want {
			t.Errorf("%s meeting in %s: %q, want %q", c.lang, c.m.Zone, got, c.want)
		}
	}
}
