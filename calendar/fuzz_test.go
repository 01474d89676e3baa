package calendar

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-ical"
)

// seeds are every file in testdata, and for the e-mails also the
// calendar inside, so that FuzzParse starts from real iCalendar.
func seeds(f *testing.F, calendars bool) {
	files, _ := filepath.Glob("testdata/*/*")
	for _, name := range files {
		if strings.HasSuffix(name, ".md") {
			continue
		}
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		if calendars && strings.HasSuffix(name, ".eml") {
			cal, err := FromMessage(bytes.NewReader(b))
			if err != nil {
				f.Fatal(err)
			}
			f.Add(cal)
		}
	}
	f.Add(invite("REQUEST", event("RRULE:FREQ=MONTHLY;BYDAY=MO,TU;BYSETPOS=-1", "EXDATE;VALUE=DATE:20250301")...))
	f.Add(invite("REQUEST", append(vtzLines("Customized Time Zone"), event(`DTSTART;TZID="Customized Time Zone":20250115T100000`)...)...))
}

var fuzzNow = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

func FuzzParse(f *testing.F) {
	seeds(f, true)
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := Parse(data, fuzzNow)
		checkParsed(t, req, err)
	})
}

func FuzzFromMessage(f *testing.F) {
	seeds(f, false)
	f.Fuzz(func(t *testing.T, data []byte) {
		cal, err := FromMessage(bytes.NewReader(data))
		if err != nil {
			return
		}
		if len(cal) > MaxBytes {
			t.Fatalf("calendar of %d bytes", len(cal))
		}
		req, err := ParseMessage(bytes.NewReader(data), fuzzNow)
		checkParsed(t, req, err)
	})
}

// checkParsed holds whatever Parse returns to its contract, and runs the
// answers over it: a Reply that go-ical reads back, and a Message.
func checkParsed(t *testing.T, req *Request, err error) {
	var r *Rejection
	switch {
	case err == nil && req == nil:
		t.Fatal("no error and no Request")
	case err != nil && !errors.As(err, &r) && req != nil:
		t.Fatalf("plain error %v with a Request", err)
	case r != nil && (req == nil || r.Reason == "" || r.Code == ""):
		t.Fatalf("incomplete rejection %+v", r)
	}
	if req == nil {
		return
	}
	if req.Method != "REQUEST" && req.Method != "CANCEL" {
		t.Fatalf("method %q", req.Method)
	}
	for _, m := range req.Meetings {
		if len(m.Occurrences) > MaxOccurrences {
			t.Fatalf("%d occurrences", len(m.Occurrences))
		}
		if err == nil && req.Method == "REQUEST" && !m.OverridesOnly && len(m.Occurrences) == 0 {
			t.Fatal("an accepted request without occurrences")
		}
		for i, o := range m.Occurrences {
			if o.End.Before(o.Start) || (i > 0 && o.Start.Before(m.Occurrences[i-1].Start)) {
				t.Fatalf("occurrence %d out of order or inverted: %+v", i, o)
			}
			if !m.OverridesOnly && (o.Start.Before(fuzzNow.Add(-24*time.Hour)) || o.Start.After(fuzzNow.Add(Horizon))) {
				t.Fatalf("occurrence %v outside the horizon", o.Start)
			}
		}
		for _, lang := range []string{"en", "nb", "sv"} {
			Message(lang, DialIn{PIN: "1", Extension: "2", Meeting: m, Occurrences: m.Occurrences, Declined: r != nil, Rejection: r, LimitMinutes: 60})
		}
		if m.UID == "" || m.Organizer == "" {
			continue
		}
		b, err := Reply(m, "REPLY", "brygga@example.org", r == nil, "fuzz", fuzzNow)
		if err != nil {
			t.Fatalf("Reply: %v", err)
		}
		if _, err := ical.NewDecoder(bytes.NewReader(b)).Decode(); err != nil {
			t.Fatalf("go-ical cannot read our reply: %v\n%s", err, b)
		}
	}
}
