package calendar

import (
	"strings"
	"testing"
	"time"
)

// The owner's notice names who booked what, when, and what it does to the
// room, in each language.
func TestNotice(t *testing.T) {
	start := time.Date(2025, 3, 10, 9, 0, 0, 0, time.UTC)
	c := Change{Meeting: Meeting{Summary: "[sensitive] [record] Review"}, Extension: "4711", By: "eve@example.org",
		First: Occurrence{Start: start, End: start.Add(8 * time.Hour)}, Dates: 3, Sensitive: true, Record: false}
	for lang, want := range map[string][]string{
		"en": {"Booked in room 4711: [sensitive] [record] Review", "eve@example.org booked the meeting “[sensitive] [record] Review” in your room 4711.",
			"When: Monday 10 March 2025, 09:00–17:00 (UTC)", "It has 3 dates.", "room 4711 admits only secure calls", "they can cancel the meeting"},
		"sv": {"Bokat i rum 4711:", "eve@example.org har bokat mötet ”[sensitive] [record] Review” i ditt rum 4711.",
			"Tid: måndag 10 mars 2025 kl. 09.00–17.00 (UTC)", "släpper rum 4711 bara in säkra samtal", "de kan ställa in mötet"},
	} {
		subject, body := Notice(lang, c)
		text := subject + "\n" + body
		for _, w := range want {
			if !strings.Contains(text, w) {
				t.Errorf("%s: lacks %q:\n%s", lang, w, text)
			}
		}
		if strings.Contains(body, "record") && lang == "en" && strings.Contains(body, "Recording ([record])") {
			t.Errorf("%s: recording announced for a meeting that will not record:\n%s", lang, body)
		}
	}
	c.Sensitive, c.Record, c.Dates = false, true, 1
	_, body := Notice("en", c)
	if !strings.Contains(body, "Recording ([record]): the meeting is recorded.") || strings.Contains(body, "secure") || strings.Contains(body, "dates") {
		t.Errorf("record only:\n%s", body)
	}
}
