package calendar

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

var testNow = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

// invite wraps VEVENT lines (and anything before them) in a calendar.
func invite(method string, body ...string) []byte {
	var b strings.Builder
	b.WriteString("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n")
	if method != "" {
		b.WriteString("METHOD:" + method + "\r\n")
	}
	for _, l := range body {
		b.WriteString(l + "\r\n")
	}
	b.WriteString("END:VCALENDAR\r\n")
	return []byte(b.String())
}

// event is a valid REQUEST VEVENT with lines replaced or added: a line
// "DTSTART;..." replaces the DTSTART line, "-DTEND" drops DTEND.
func event(changes ...string) []string {
	lines := []string{
		"BEGIN:VEVENT",
		"UID:test-1@example.org",
		"SEQUENCE:0",
		"DTSTAMP:20241220T100000Z",
		"ORGANIZER;CN=Kari:mailto:kari@example.org",
		"ATTENDEE:mailto:brygga@example.org",
		"SUMMARY:Møte",
		"DTSTART;TZID=Europe/Oslo:20250115T100000",
		"DTEND;TZID=Europe/Oslo:20250115T110000",
	}
	for _, c := range changes {
		fields := strings.FieldsFunc(strings.TrimPrefix(c, "-"), func(r rune) bool { return r == ';' || r == ':' })
		if len(fields) == 0 {
			lines = append(lines, c)
			continue
		}
		name := fields[0]
		i := -1
		for j, l := range lines {
			if strings.HasPrefix(l, name+";") || strings.HasPrefix(l, name+":") {
				i = j
			}
		}
		switch {
		case strings.HasPrefix(c, "-"):
			if i >= 0 {
				lines = append(lines[:i], lines[i+1:]...)
			}
		case i >= 0 && name != "EXDATE" && name != "RDATE" && name != "ATTENDEE" && name != "RRULE":
			lines[i] = c
		default:
			lines = append(lines, c)
		}
	}
	return append(lines, "END:VEVENT")
}

func rejection(t *testing.T, req *Request, err error) *Rejection {
	t.Helper()
	var r *Rejection
	if !errors.As(err, &r) {
		t.Fatalf("want a *Rejection, got %v", err)
	}
	if req == nil {
		t.Fatal("a rejection must come with the Request")
	}
	if r.Reason == "" || r.Error() == "" {
		t.Fatalf("rejection without a reason: %+v", r)
	}
	return r
}

func TestRejections(t *testing.T) {
	manyEvents := []string{}
	for i := range MaxComponents + 1 {
		manyEvents = append(manyEvents, event(fmt.Sprintf("UID:u%d", i))...)
	}
	cases := []struct {
		name   string
		ics    []byte
		code   string
		detail string
	}{
		{"no event", invite("REQUEST", "BEGIN:VTODO", "UID:x", "END:VTODO"), RejectNoEvent, ""},
		{"no UID", invite("REQUEST", event("-UID")...), RejectNoUID, ""},
		{"no organizer", invite("REQUEST", event("-ORGANIZER")...), RejectNoOrganizer, ""},
		{"organizer not an address", invite("REQUEST", event("ORGANIZER:urn:uuid:1234")...), RejectNoOrganizer, ""},
		{"no start", invite("REQUEST", event("-DTSTART")...), RejectNoStart, ""},
		{"all-day", invite("REQUEST", event("DTSTART;VALUE=DATE:20250115", "DTEND;VALUE=DATE:20250116")...), RejectAllDay, ""},
		{"all-day without VALUE", invite("REQUEST", event("DTSTART:20250115", "-DTEND")...), RejectAllDay, ""},
		{"date end", invite("REQUEST", event("DTEND;VALUE=DATE:20250116")...), RejectAllDay, ""},
		{"floating, no VTIMEZONE", invite("REQUEST", event("DTSTART:20250115T100000", "DTEND:20250115T110000")...), RejectFloating, ""},
		{"floating, two VTIMEZONEs", invite("REQUEST", append(append(vtzLines("A"), vtzLines("B")...),
			event("DTSTART:20250115T100000", "DTEND:20250115T110000")...)...), RejectFloating, ""},
		{"unknown zone", invite("REQUEST", event("DTSTART;TZID=Mars/Olympus:20250115T100000", "DTEND;TZID=Mars/Olympus:20250115T110000")...), RejectUnknownZone, "Mars/Olympus"},
		{"unknown Windows-looking zone", invite("REQUEST", event("DTSTART;TZID=FLE:20250115T100000")...), RejectUnknownZone, "FLE"},
		{"end before start", invite("REQUEST", event("DTEND;TZID=Europe/Oslo:20250115T090000")...), RejectEndBeforeStart, ""},
		{"negative duration", invite("REQUEST", event("-DTEND", "DURATION:-PT1H")...), RejectEndBeforeStart, ""},
		{"hourly", invite("REQUEST", event("RRULE:FREQ=HOURLY;COUNT=5")...), RejectRecurrence, "FREQ=HOURLY"},
		{"byhour", invite("REQUEST", event("RRULE:FREQ=DAILY;BYHOUR=10,11")...), RejectRecurrence, "BYHOUR"},
		{"30 February", invite("REQUEST", event("RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30")...), RejectRecurrence, "the rule matches no date"},
		{"31st, every 12 months from April", invite("REQUEST", event("DTSTART;TZID=Europe/Oslo:20250415T100000", "DTEND;TZID=Europe/Oslo:20250415T110000", "RRULE:FREQ=MONTHLY;INTERVAL=12;BYMONTHDAY=31")...), RejectRecurrence, "the rule matches no date"},
		{"29 February every other year from an odd one", invite("REQUEST", event("DTSTART;TZID=Europe/Oslo:20250215T100000", "DTEND;TZID=Europe/Oslo:20250215T110000", "RRULE:FREQ=MONTHLY;INTERVAL=24;BYMONTHDAY=29")...), RejectRecurrence, "the rule matches no date"},
		{"29 February every fourth year from 2025", invite("REQUEST", event("RRULE:FREQ=YEARLY;INTERVAL=4;BYMONTH=2;BYMONTHDAY=29")...), RejectRecurrence, "the rule matches no date"},
		{"fifth Monday of February, every fourth year from 2025", invite("REQUEST", event("RRULE:FREQ=YEARLY;INTERVAL=4;BYMONTH=2;BYDAY=5MO")...), RejectRecurrence, "the rule matches no date"},
		{"Mondays that are second Tuesdays", invite("REQUEST", event("RRULE:FREQ=MONTHLY;BYDAY=MO,2TU")...), RejectRecurrence, "the rule matches no date"},
		{"sixth Monday", invite("REQUEST", event("RRULE:FREQ=MONTHLY;BYDAY=6MO")...), RejectRecurrence, "BYDAY=+6MO"},
		{"1st if 5th Monday", invite("REQUEST", event("RRULE:FREQ=MONTHLY;BYDAY=5MO;BYMONTHDAY=1")...), RejectRecurrence, "BYMONTHDAY with a numbered BYDAY or BYSETPOS"},
		{"every 7th day on Tuesdays", invite("REQUEST", event("RRULE:FREQ=DAILY;INTERVAL=7;BYDAY=TU")...), RejectRecurrence, "FREQ=DAILY with BYDAY and INTERVAL"},
		{"two rules", invite("REQUEST", event("RRULE:FREQ=DAILY;COUNT=2", "RRULE:FREQ=WEEKLY;COUNT=2")...), RejectRecurrence, "more than one RRULE"},
		{"exrule", invite("REQUEST", event("RRULE:FREQ=DAILY", "EXRULE:FREQ=WEEKLY")...), RejectRecurrence, "EXRULE"},
		{"past", invite("REQUEST", event("DTSTART;TZID=Europe/Oslo:20241215T100000", "DTEND;TZID=Europe/Oslo:20241215T110000")...), RejectPast, ""},
		{"past series", invite("REQUEST", event("DTSTART;TZID=Europe/Oslo:20241101T100000", "DTEND;TZID=Europe/Oslo:20241101T110000", "RRULE:FREQ=WEEKLY;COUNT=4")...), RejectPast, ""},
		{"too far", invite("REQUEST", event("DTSTART;TZID=Europe/Oslo:20260115T100000", "DTEND;TZID=Europe/Oslo:20260115T110000")...), RejectTooFar, ""},
		{"series too far", invite("REQUEST", event("DTSTART;TZID=Europe/Oslo:20260115T100000", "DTEND;TZID=Europe/Oslo:20260115T110000", "RRULE:FREQ=WEEKLY")...), RejectTooFar, ""},
		{"all excluded", invite("REQUEST", event("RRULE:FREQ=DAILY;COUNT=2", "EXDATE;TZID=Europe/Oslo:20250115T100000,20250116T100000")...), RejectNoOccurrence, ""},
		{"gap over the horizon", invite("REQUEST", event("DTSTART;TZID=Europe/Oslo:20200115T100000", "DTEND;TZID=Europe/Oslo:20200115T110000", "RRULE:FREQ=YEARLY;INTERVAL=10")...), RejectNoOccurrence, ""},
		{"too many events", invite("REQUEST", manyEvents...), RejectTooMany, "more than 500 events"},
		{"before 1900", invite("REQUEST", event("DTSTART;TZID=Europe/Oslo:18500115T100000")...), RejectDateRange, "1850-01-15"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, err := Parse(c.ics, testNow)
			r := rejection(t, req, err)
			if r.Code != c.code || r.Detail != c.detail {
				t.Fatalf("rejection %q %q (%s), want %q %q", r.Code, r.Detail, r.Reason, c.code, c.detail)
			}
			for _, lang := range []string{"en", "nb", "sv"} {
				if txt := r.Text(lang); txt == "" || strings.Contains(txt, "%!") {
					t.Errorf("%s text %q", lang, txt)
				}
			}
		})
	}
}

func vtzLines(tzid string) []string {
	return []string{"BEGIN:VTIMEZONE", "TZID:" + tzid,
		"BEGIN:STANDARD", "DTSTART:16010101T030000", "TZOFFSETFROM:+0200", "TZOFFSETTO:+0100",
		"RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10", "END:STANDARD",
		"BEGIN:DAYLIGHT", "DTSTART:16010101T020000", "TZOFFSETFROM:+0100", "TZOFFSETTO:+0200",
		"RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3", "END:DAYLIGHT", "END:VTIMEZONE"}
}

// A rejected invite still says who to send the DECLINED reply to.
func TestRejectionKeepsIdentity(t *testing.T) {
	req, err := Parse(invite("REQUEST", event("DTSTART;VALUE=DATE:20250115", "-DTEND", "SEQUENCE:3")...), testNow)
	rejection(t, req, err)
	m := req.Meetings[0]
	if m.UID != "test-1@example.org" || m.Sequence != 3 || m.Organizer != "kari@example.org" || m.Summary != "Møte" {
		t.Fatalf("identity lost: %+v", m)
	}
	if _, err := Reply(m, "REPLY", "brygga@example.org", false, err.Error(), testNow); err != nil {
		t.Fatal(err)
	}
}

func TestMalformed(t *testing.T) {
	cases := map[string][]byte{
		"empty":                 {},
		"not a calendar":        []byte("hello"),
		"unterminated":          []byte("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\n"),
		"mismatched END":        []byte("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"),
		"character after quote": invite("REQUEST", "BEGIN:VEVENT", `ORGANIZER;CN="Kari"x:mailto:k@example.org`, "END:VEVENT"),
		"line ends in params":   invite("REQUEST", "BEGIN:VEVENT", "ORGANIZER;CN=Kari", "END:VEVENT"),
		"unterminated quote":    invite("REQUEST", "BEGIN:VEVENT", `ORGANIZER;CN="Kari:mailto:k@example.org`, "END:VEVENT"),
		"bad name":              invite("REQUEST", "BEGIN:VEVENT", "BAD NAME:x", "END:VEVENT"),
		"too deep":              []byte(strings.Repeat("BEGIN:VCALENDAR\r\n", 20)),
		"bad date":              invite("REQUEST", event("DTSTART;TZID=Europe/Oslo:20250230T100000")...),
		"bad time":              invite("REQUEST", event("DTSTART;TZID=Europe/Oslo:20250115T250000")...),
		"date garbage":          invite("REQUEST", event("DTSTART:soon")...),
		"two starts":            invite("REQUEST", event("DTSTART:20250115T100000Z,20250116T100000Z")...),
		"bad sequence":          invite("REQUEST", event("SEQUENCE:two")...),
		"bad duration":          invite("REQUEST", event("-DTEND", "DURATION:1 hour")...),
		"huge duration":         invite("REQUEST", event("-DTEND", "DURATION:P999999W")...),
		"rrule without freq":    invite("REQUEST", event("RRULE:COUNT=3")...),
		"rrule bad count":       invite("REQUEST", event("RRULE:FREQ=DAILY;COUNT=lots")...),
		"rrule unknown part":    invite("REQUEST", event("RRULE:FREQ=DAILY;SOMETIMES=1")...),
		"rrule part twice":      invite("REQUEST", event("RRULE:FREQ=DAILY;FREQ=WEEKLY")...),
		"bad exdate":            invite("REQUEST", event("RRULE:FREQ=DAILY", "EXDATE:yesterday")...),
		"bad dtstamp":           invite("REQUEST", event("DTSTAMP:now")...),
	}
	for name, ics := range cases {
		t.Run(name, func(t *testing.T) {
			req, err := Parse(ics, testNow)
			var r *Rejection
			if err == nil || errors.As(err, &r) {
				t.Fatalf("want a plain error, got %v", err)
			}
			if req != nil {
				t.Fatalf("a plain error comes without a Request")
			}
		})
	}
}

func TestMethods(t *testing.T) {
	for _, m := range []string{"REPLY", "COUNTER", "REFRESH", "ADD", "DECLINECOUNTER", "FOO"} {
		_, err := Parse(invite(m, event()...), testNow)
		if !errors.Is(err, ErrMethod) {
			t.Errorf("%s: %v, want ErrMethod", m, err)
		}
	}
	for in, want := range map[string]string{"": "REQUEST", "PUBLISH": "REQUEST", "request": "REQUEST", "CANCEL": "CANCEL"} {
		req, err := Parse(invite(in, event()...), testNow)
		if err != nil || req.Method != want || req.DeclaredMethod != strings.ToUpper(in) {
			t.Errorf("METHOD %q: %v %+v", in, err, req)
		}
	}
}

func TestZoneForms(t *testing.T) {
	oslo := "2025-01-15T10:00+01:00"
	cases := []struct {
		name  string
		lines []string
		zone  string
		start string
	}{
		{"IANA", event(), "Europe/Oslo", oslo},
		{"quoted IANA", event(`DTSTART;TZID="Europe/Oslo":20250115T100000`, `DTEND;TZID="Europe/Oslo":20250115T110000`), "Europe/Oslo", oslo},
		{"Lightning prefix", event("DTSTART;TZID=/mozilla.org/20050126_1/Europe/Oslo:20250115T100000", "-DTEND"), "Europe/Oslo", oslo},
		{"Windows name", event("DTSTART;TZID=W. Europe Standard Time:20250115T100000", "-DTEND"), "Europe/Berlin", oslo},
		{"Windows name, other case", event("DTSTART;TZID=w. europe standard time:20250115T100000", "-DTEND"), "Europe/Berlin", oslo},
		{"Exchange's numbered copy", event(`DTSTART;TZID="W. Europe Standard Time 1":20250115T100000`, "-DTEND"), "Europe/Berlin", oslo},
		{"Romance", event("DTSTART;TZID=Romance Standard Time:20250115T100000", "-DTEND"), "Europe/Paris", oslo},
		{"GMT", event("DTSTART;TZID=GMT Standard Time:20250115T100000", "-DTEND"), "Europe/London", "2025-01-15T10:00Z"},
		{"US Eastern", event("DTSTART;TZID=Eastern Standard Time:20250115T100000", "-DTEND"), "America/New_York", "2025-01-15T10:00-05:00"},
		{"display name, quoted", event(`DTSTART;TZID="(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna":20250115T100000`, "-DTEND"), "Europe/Berlin", oslo},
		// Unquoted, with the colon of "+01:00" inside the parameter.
		{"display name, unquoted", event(`DTSTART;TZID=(UTC+01:00) Brussels, Copenhagen, Madrid, Paris:20250115T100000`, "-DTEND"), "Europe/Paris", oslo},
		{"older display name", event(`DTSTART;TZID="(GMT+02:00) Helsinki, Kiev, Riga, Sofia, Tallinn, Vilnius":20250115T100000`, "-DTEND"), "Europe/Kiev", "2025-01-15T10:00+02:00"},
		{"X-LIC-LOCATION", append([]string{"BEGIN:VTIMEZONE", "TZID:Oslo time", "X-LIC-LOCATION:Europe/Oslo",
			"BEGIN:STANDARD", "DTSTART:19700101T000000", "TZOFFSETFROM:+0100", "TZOFFSETTO:+0100", "END:STANDARD", "END:VTIMEZONE"},
			event(`DTSTART;TZID="Oslo time":20250115T100000`, "-DTEND")...), "Europe/Oslo", oslo},
		// Outlook's own name for a zone it cannot name: the rules decide.
		{"Customized Time Zone", append(vtzLines("Customized Time Zone"),
			event(`DTSTART;TZID="Customized Time Zone":20250115T100000`, "-DTEND")...), "Europe/Oslo", oslo},
		{"fixed offset zone", append([]string{"BEGIN:VTIMEZONE", "TZID:tzone://Microsoft/Custom",
			"BEGIN:STANDARD", "DTSTART:16010101T000000", "TZOFFSETFROM:+0000", "TZOFFSETTO:+0000", "END:STANDARD", "END:VTIMEZONE"},
			event(`DTSTART;TZID="tzone://Microsoft/Custom":20250115T100000`, "-DTEND")...), "Atlantic/Reykjavik", "2025-01-15T10:00Z"},
		// Floating times with one VTIMEZONE take it (Exchange, issue 343).
		{"floating beside one VTIMEZONE", append(vtzLines("W. Europe Standard Time"),
			event("DTSTART:20250115T100000", "DTEND:20250115T110000")...), "Europe/Berlin", oslo},
		// UTC times are shown in the calendar's X-WR-TIMEZONE.
		{"UTC with X-WR-TIMEZONE", append([]string{"X-WR-TIMEZONE:Europe/Stockholm"},
			event("DTSTART:20250115T090000Z", "DTEND:20250115T100000Z")...), "Europe/Stockholm", oslo},
		{"UTC", event("DTSTART:20250115T090000Z", "DTEND:20250115T100000Z"), "UTC", "2025-01-15T09:00Z"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, err := Parse(invite("REQUEST", c.lines...), testNow)
			if err != nil {
				t.Fatal(err)
			}
			m := req.Meetings[0]
			if m.Zone.String() != c.zone || m.Start.Format(stamp) != c.start {
				t.Fatalf("zone %v start %s, want %s %s", m.Zone, m.Start.Format(stamp), c.zone, c.start)
			}
		})
	}
}

// A display name whose rules disagree is not trusted: here "Amsterdam…"
// with rules that have no summer time falls to rule matching.
func TestDisplayNameCheckedByRules(t *testing.T) {
	lines := append([]string{"BEGIN:VTIMEZONE", "TZID:(UTC+01:00) Amsterdam\\, Berlin\\, Bern\\, Rome\\, Stockholm\\, Vienna",
		"BEGIN:STANDARD", "DTSTART:16010101T000000", "TZOFFSETFROM:+0100", "TZOFFSETTO:+0100", "END:STANDARD", "END:VTIMEZONE"},
		event(`DTSTART;TZID="(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna":20250715T100000`, "-DTEND")...)
	req, err := Parse(invite("REQUEST", lines...), testNow)
	if err != nil {
		t.Fatal(err)
	}
	if z := req.Meetings[0].Zone.String(); z != "Africa/Lagos" {
		t.Fatalf("zone %s, want the first zone at +01:00 without summer time (Africa/Lagos)", z)
	}
}

func TestRecurrenceForms(t *testing.T) {
	cases := []struct {
		name  string
		lines []string
		n     int
		first []string
	}{
		// Outlook: "every weekday" as DAILY with BYDAY, spaces and all.
		{"daily weekdays", event("RRULE:FREQ=DAILY;COUNT=6;BYDAY=MO, TU, WE, TH, FR"), 6,
			[]string{"2025-01-15T10:00+01:00/11:00", "2025-01-16T10:00+01:00/11:00", "2025-01-17T10:00+01:00/11:00", "2025-01-20T10:00+01:00/11:00"}},
		{"second Tuesday monthly", event("RRULE:FREQ=MONTHLY;COUNT=3;BYDAY=2TU"), 4,
			[]string{"2025-01-15T10:00+01:00/11:00", "2025-02-11T10:00+01:00/11:00", "2025-03-11T10:00+01:00/11:00", "2025-04-08T10:00+02:00/11:00"}},
		{"last weekday monthly", event("RRULE:FREQ=MONTHLY;COUNT=3;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1"), 4,
			[]string{"2025-01-15T10:00+01:00/11:00", "2025-01-31T10:00+01:00/11:00", "2025-02-28T10:00+01:00/11:00", "2025-03-31T10:00+02:00/11:00"}},
		// The horizon ends 366 days after now, on 2026-01-02.
		{"yearly", event("RRULE:FREQ=YEARLY"), 1, nil},
		{"yearly from before", event("DTSTART;TZID=Europe/Oslo:20200101T100000", "DTEND;TZID=Europe/Oslo:20200101T110000", "RRULE:FREQ=YEARLY"), 2,
			[]string{"2025-01-01T10:00+01:00/11:00", "2026-01-01T10:00+01:00/11:00"}},
		{"until date", event("RRULE:FREQ=DAILY;UNTIL=20250117"), 3, nil},
		{"floating until", event("RRULE:FREQ=DAILY;UNTIL=20250117T100000"), 3, nil},
		{"until in UTC before the last", event("RRULE:FREQ=DAILY;UNTIL=20250117T085959Z"), 2, nil},
		{"exdate as date", event("RRULE:FREQ=DAILY;COUNT=3", "EXDATE;VALUE=DATE:20250116"), 2,
			[]string{"2025-01-15T10:00+01:00/11:00", "2025-01-17T10:00+01:00/11:00"}},
		{"exdate in UTC", event("RRULE:FREQ=DAILY;COUNT=3", "EXDATE:20250116T090000Z"), 2, nil},
		{"two EXDATE lines", event("RRULE:FREQ=DAILY;COUNT=4", "EXDATE;TZID=Europe/Oslo:20250116T100000", "EXDATE;TZID=Europe/Oslo:20250117T100000"), 2, nil},
		{"rdate only", event("RDATE;TZID=Europe/Oslo:20250120T100000,20250127T120000"), 3,
			[]string{"2025-01-15T10:00+01:00/11:00", "2025-01-20T10:00+01:00/11:00", "2025-01-27T12:00+01:00/13:00"}},
		{"rdate period", event("RDATE;VALUE=PERIOD:20250120T090000Z/20250120T093000Z"), 2,
			[]string{"2025-01-15T10:00+01:00/11:00", "2025-01-20T10:00+01:00/10:30"}},
		// A daily series begun long ago is walked to today, cheaply.
		{"daily since 1990", event("DTSTART;TZID=Europe/Oslo:19900115T100000", "DTEND;TZID=Europe/Oslo:19900115T110000", "RRULE:FREQ=DAILY"), 367, nil},
		// The window starts a day before now.
		{"yesterday", event("DTSTART;TZID=Europe/Oslo:20241231T140000", "DTEND;TZID=Europe/Oslo:20241231T150000"), 1, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, err := Parse(invite("REQUEST", c.lines...), testNow)
			if err != nil {
				t.Fatal(err)
			}
			m := req.Meetings[0]
			var got []string
			for _, o := range m.Occurrences {
				got = append(got, occString(o))
			}
			if len(got) != c.n {
				t.Fatalf("%d occurrences %q, want %d", len(got), got, c.n)
			}
			for i, w := range c.first {
				if got[i] != w {
					t.Fatalf("occurrences %q, want them to begin %q", got, c.first)
				}
			}
		})
	}
}

// Overrides: moved, cancelled, moved in from outside the window, and two
// versions of one override.
func TestOverrides(t *testing.T) {
	lines := event("RRULE:FREQ=WEEKLY;COUNT=60")
	lines = append(lines,
		"BEGIN:VEVENT", "UID:test-1@example.org", "SEQUENCE:1", "RECURRENCE-ID;TZID=Europe/Oslo:20250122T100000",
		"DTSTART;TZID=Europe/Oslo:20250123T080000", "DTEND;TZID=Europe/Oslo:20250123T083000", "END:VEVENT",
		"BEGIN:VEVENT", "UID:test-1@example.org", "SEQUENCE:2", "RECURRENCE-ID;TZID=Europe/Oslo:20250122T100000",
		"DTSTART;TZID=Europe/Oslo:20250123T090000", "DTEND;TZID=Europe/Oslo:20250123T093000", "END:VEVENT",
		"BEGIN:VEVENT", "UID:test-1@example.org", "RECURRENCE-ID:20250129T090000Z", "STATUS:CANCELLED",
		"DTSTART;TZID=Europe/Oslo:20250129T100000", "END:VEVENT",
		// The 57th instance (2026-02-04) lies beyond the horizon; moved into it.
		"BEGIN:VEVENT", "UID:test-1@example.org", "RECURRENCE-ID;TZID=Europe/Oslo:20260204T100000",
		"DTSTART;TZID=Europe/Oslo:20251230T100000", "END:VEVENT",
		// Moved out of the window: gone from it.
		"BEGIN:VEVENT", "UID:test-1@example.org", "RECURRENCE-ID;TZID=Europe/Oslo:20250205T100000",
		"DTSTART;TZID=Europe/Oslo:20270205T100000", "END:VEVENT",
	)
	req, err := Parse(invite("REQUEST", lines...), testNow)
	if err != nil {
		t.Fatal(err)
	}
	m := req.Meetings[0]
	byStart := map[string]Occurrence{}
	for _, o := range m.Occurrences {
		byStart[occString(o)] = o
	}
	moved, ok := byStart["2025-01-23T09:00+01:00/09:30"]
	if !ok || moved.ID.Format(stamp) != "2025-01-22T09:00Z" {
		t.Errorf("override with the higher SEQUENCE not applied: %v", byStart)
	}
	for _, gone := range []string{"2025-01-22T10:00+01:00/11:00", "2025-01-23T08:00+01:00/08:30", "2025-01-29T10:00+01:00/11:00", "2025-02-05T10:00+01:00/11:00"} {
		if _, ok := byStart[gone]; ok {
			t.Errorf("%s should not be there", gone)
		}
	}
	in, ok := byStart["2025-12-30T10:00+01:00/11:00"]
	if !ok || in.ID.Format(stamp) != "2026-02-04T09:00Z" {
		t.Errorf("occurrence moved into the window missing: %v", in)
	}
	// Weekly from 2025-01-15 to the horizon (2026-01-02): 51 instances,
	// one cancelled, one moved out, one moved in.
	if len(m.Occurrences) != 50 {
		t.Errorf("%d occurrences, want 50", len(m.Occurrences))
	}
}

func TestCancelOverrides(t *testing.T) {
	lines := []string{"BEGIN:VEVENT", "UID:test-1@example.org", "SEQUENCE:4", "ORGANIZER:mailto:kari@example.org",
		"RECURRENCE-ID;TZID=Europe/Oslo:20250122T100000", "STATUS:CANCELLED", "END:VEVENT",
		"BEGIN:VEVENT", "UID:test-1@example.org", "SEQUENCE:4", "ORGANIZER:mailto:kari@example.org",
		"RECURRENCE-ID:20250115T090000Z", "STATUS:CANCELLED", "END:VEVENT"}
	req, err := Parse(invite("CANCEL", lines...), testNow)
	if err != nil {
		t.Fatal(err)
	}
	m := req.Meetings[0]
	if len(m.Cancelled) != 2 || m.Cancelled[0].Format(stamp) != "2025-01-15T09:00Z" || m.Cancelled[1].Format(stamp) != "2025-01-22T09:00Z" {
		t.Fatalf("cancelled %v", m.Cancelled)
	}
	if m.Sequence != 4 || len(m.Occurrences) != 0 {
		t.Fatalf("%+v", m)
	}
}

func TestOverridesOnlyCancelled(t *testing.T) {
	lines := []string{"BEGIN:VEVENT", "UID:test-1@example.org", "SEQUENCE:5", "ORGANIZER:mailto:kari@example.org",
		"RECURRENCE-ID;TZID=Europe/Oslo:20250122T100000", "STATUS:CANCELLED", "DTSTART;TZID=Europe/Oslo:20250122T100000", "END:VEVENT"}
	req, err := Parse(invite("REQUEST", lines...), testNow)
	if err != nil {
		t.Fatal(err)
	}
	m := req.Meetings[0]
	if !m.OverridesOnly || len(m.Cancelled) != 1 || len(m.Occurrences) != 0 || m.Zone.String() != "Europe/Oslo" {
		t.Fatalf("%+v", m)
	}
}

func TestSeveralUIDs(t *testing.T) {
	ics := invite("REQUEST", append(event(), event("UID:test-2@example.org", "SUMMARY:Annet")...)...)
	req, err := Parse(ics, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if len(req.Meetings) != 2 || req.Meetings[0].UID != "test-1@example.org" || req.Meetings[1].Summary != "Annet" {
		t.Fatalf("%+v", req.Meetings)
	}
}

func TestText(t *testing.T) {
	req, err := Parse(invite("REQUEST", event(
		`SUMMARY:Budsjett, plan\; og mål \[ikke opptak]`,
		`DESCRIPTION:Linje 1\nLinje 2\NC:\Users\, ferdig`,
		"ATTENDEE;CN=\"Ola\":MAILTO:Ola@Example.ORG",
		"ATTENDEE;EMAIL=per@example.org:urn:uuid:1234",
		"ATTENDEE:mailto:brygga@example.org",
	)...), testNow)
	if err != nil {
		t.Fatal(err)
	}
	m := req.Meetings[0]
	if m.Summary != `Budsjett, plan; og mål \[ikke opptak]` {
		t.Errorf("summary %q", m.Summary)
	}
	if m.Description != "Linje 1\nLinje 2\nC:\\Users, ferdig" {
		t.Errorf("description %q", m.Description)
	}
	if strings.Join(m.Attendees, " ") != "brygga@example.org ola@example.org per@example.org" {
		t.Errorf("attendees %q", m.Attendees)
	}
	if m.Record {
		t.Errorf("an escaped bracket is no marker")
	}
}

func TestMarkers(t *testing.T) {
	for _, c := range []struct {
		summary, description string
		record, sensitive    bool
	}{
		{"[record] Board", "", true, false},
		{"Styre [OPPTAK]", "", true, false},
		{"Styrelse", "Vi kör [ Inspelning ] idag", true, false},
		{"[Sensitive]", "", false, true},
		{"Barnevern", "[sensitiv]", false, true},
		{"[sensitiv][opptak]", "", true, true},
		{"record the minutes", "sensitive matters", false, false},
		{"[recording]", "", false, false},
	} {
		r, s := markers(c.summary, c.description)
		if r != c.record || s != c.sensitive {
			t.Errorf("%q %q: record %v sensitive %v", c.summary, c.description, r, s)
		}
	}
}

// Exchange's raw newlines inside DESCRIPTION are part of it; a raw line
// after a property that is not text is an error.
func TestRawNewlines(t *testing.T) {
	ics := invite("REQUEST", event("DESCRIPTION:Hei,", "", "Møtet handler om: budsjett", "Passcode: 1234", "ATTENDEE:mailto:ola@example.org")...)
	req, err := Parse(ics, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if d := req.Meetings[0].Description; d != "Hei,\n\nMøtet handler om: budsjett\nPasscode: 1234" {
		t.Errorf("description %q", d)
	}
	if a := req.Meetings[0].Attendees; len(a) != 2 || a[1] != "ola@example.org" {
		t.Errorf("the property after the raw lines was lost: %q", a)
	}
	if _, err := Parse(invite("REQUEST", event("stray text")...), testNow); err == nil {
		t.Error("a stray line after DTEND must be an error")
	}
}

// Outlook 2003 exports saved as ANSI are windows-1252, not UTF-8.
func TestWindows1252Body(t *testing.T) {
	ics := invite("REQUEST", event("SUMMARY:M\xf8te \x96 \xe6\xf8\xe5")...)
	req, err := Parse(ics, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if s := req.Meetings[0].Summary; s != "Møte – æøå" {
		t.Fatalf("summary %q", s)
	}
}

func TestLongParameterDropped(t *testing.T) {
	long := strings.Repeat("x", 100000)
	req, err := Parse(invite("REQUEST", event(`DESCRIPTION;ALTREP="data:text/html,`+long+`":Tekst`)...), testNow)
	if err != nil {
		t.Fatal(err)
	}
	if req.Meetings[0].Description != "Tekst" {
		t.Fatalf("description %q", req.Meetings[0].Description)
	}
}

func TestSizeLimit(t *testing.T) {
	big := make([]byte, MaxBytes+1)
	if _, err := Parse(big, testNow); err == nil {
		t.Fatal("oversized input accepted")
	}
}

func TestOccurrenceCap(t *testing.T) {
	var dates []string
	for d := range 600 {
		dates = append(dates, time.Date(2025, 1, 2, 10, 0, 0, 0, time.UTC).Add(time.Duration(d)*12*time.Hour).Format("20060102T150405Z"))
	}
	req, err := Parse(invite("REQUEST", event("RDATE:"+strings.Join(dates, ","))...), testNow)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(req.Meetings[0].Occurrences); n != MaxOccurrences {
		t.Fatalf("%d occurrences, want the cap %d", n, MaxOccurrences)
	}
}
