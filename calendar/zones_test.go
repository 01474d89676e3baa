package calendar

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-ical"
)

func TestWindowsTableLoads(t *testing.T) {
	if len(windowsZones) < 135 {
		t.Fatalf("only %d Windows zones: the CLDR table was cut", len(windowsZones))
	}
	seen := map[string]bool{}
	for _, z := range windowsZones {
		if seen[z.windows] {
			t.Errorf("%s twice", z.windows)
		}
		seen[z.windows] = true
		if loadIANA(z.iana) == nil {
			t.Errorf("%s → %s does not load from time/tzdata", z.windows, z.iana)
		}
		if zoneByDisplay(z.display) == nil {
			t.Errorf("display name %q does not resolve", z.display)
		}
	}
	for d, w := range olderDisplayNames {
		if !seen[w] {
			t.Errorf("older display name %q points at unknown %q", d, w)
		}
	}
	for _, name := range matchOrder {
		if loadIANA(name) == nil {
			t.Errorf("%s does not load", name)
		}
	}
}

func TestZoneNames(t *testing.T) {
	for in, want := range map[string]string{
		"Europe/Oslo":                             "Europe/Oslo",
		`"Europe/Stockholm"`:                      "Europe/Stockholm",
		"W. Europe Standard Time":                 "Europe/Berlin",
		"FLE Standard Time":                       "Europe/Kiev",
		"Pacific Standard Time":                   "America/Los_Angeles",
		"Eastern Standard Time":                   "America/New_York",
		"UTC":                                     "UTC",
		"Pacific Time (US & Canada)\\, Tijuana":   "America/Los_Angeles",
		"(UTC+02:00) Athens, Bucharest, Istanbul": "Europe/Bucharest",
		"(GMT) Greenwich Mean Time : Dublin, Edinburgh, Lisbon, London": "Europe/London",
		"(UTC) Dublin, Edinburgh, Lisbon, London":                       "Europe/London",
		"(UTC-05:00) Eastern Time (US & Canada)":                        "America/New_York",
		"/softwarestudio.org/Olson_20011030_5/Europe/Oslo":              "Europe/Oslo",
	} {
		z, _ := newZones(ical.NewCalendar(), time.Time{})
		loc, err := z.resolve(in, time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC))
		if err != nil || loc.String() != want {
			t.Errorf("%q: %v %v, want %s", in, loc, err, want)
		}
	}
	for _, bad := range []string{"", "Local", "../../etc/passwd", "zone.tab", "Mars/Olympus", "FLE", strings.Repeat("A/", 100)} {
		z, _ := newZones(ical.NewCalendar(), time.Time{})
		if loc, err := z.resolve(bad, time.Now()); err == nil {
			t.Errorf("%q resolved to %v", bad, loc)
		}
	}
}

// Every VTIMEZONE in the test data names a zone whose tzdata rules agree
// with the VTIMEZONE's own around the meeting — except Thunderbird's
// Europe/Berlin, which holds only its 1893 observance and is the reason a
// name wins over rules.
func TestCorpusVTimezonesAgree(t *testing.T) {
	files, _ := filepath.Glob("testdata/*/*")
	checked := 0
	for _, f := range files {
		if strings.HasSuffix(f, ".md") {
			continue
		}
		fh, _ := os.Open(f)
		raw, err := FromMessage(fh)
		fh.Close()
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		clean, err := normalize(raw)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		cal, err := ical.NewDecoder(bytes.NewReader(clean)).Decode()
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		var around time.Time
		for _, ev := range cal.Events() {
			if p := ev.Props.Get("DTSTART"); p != nil && around.IsZero() {
				if d, err := parseDate(p.Value, ""); err == nil {
					around = d.wall
				}
			}
		}
		z, _ := newZones(cal, time.Time{})
		for _, id := range z.order {
			def := z.defs[strings.ToLower(id)]
			vt, err := parseVTimezone(def)
			if err != nil {
				t.Errorf("%s %q: %v", f, id, err)
				continue
			}
			loc, err := z.resolve(id, around)
			if err != nil {
				t.Errorf("%s %q: %v", f, id, err)
				continue
			}
			agrees := z.agrees(vt, loc, around)
			if strings.Contains(f, "thunderbird115") {
				if agrees {
					t.Errorf("%s: the LMT-only VTIMEZONE should not agree with %v", f, loc)
				}
				continue
			}
			if !agrees {
				t.Errorf("%s %q → %v: rules disagree around %s", f, id, loc, around)
			}
			checked++
		}
	}
	if checked < 12 {
		t.Errorf("only %d VTIMEZONEs checked", checked)
	}
}

func TestVTimezoneTimeline(t *testing.T) {
	comp := &ical.Component{Name: "VTIMEZONE", Props: ical.Props{}}
	for _, c := range [][]string{
		{"STANDARD", "16011028T030000", "+0200", "+0100", "FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10"},
		{"DAYLIGHT", "16010325T020000", "+0100", "+0200", "FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3"},
	} {
		o := ical.NewComponent(c[0])
		for _, p := range [][2]string{{"DTSTART", c[1]}, {"TZOFFSETFROM", c[2]}, {"TZOFFSETTO", c[3]}, {"RRULE", c[4]}} {
			prop := ical.NewProp(p[0])
			prop.Value = p[1]
			o.Props.Set(prop)
		}
		comp.Children = append(comp.Children, o)
	}
	vt, err := parseVTimezone(comp)
	if err != nil {
		t.Fatal(err)
	}
	a := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	off, changes, ok := vt.timeline(a, a.AddDate(1, 0, 0))
	if !ok || off != 3600 || len(changes) != 2 ||
		!changes[0].at.Equal(time.Date(2025, 3, 30, 1, 0, 0, 0, time.UTC)) || changes[0].offset != 7200 ||
		!changes[1].at.Equal(time.Date(2025, 10, 26, 1, 0, 0, 0, time.UTC)) || changes[1].offset != 3600 {
		t.Fatalf("offset %d changes %+v", off, changes)
	}
	oslo := loadIANA("Europe/Oslo")
	if !vt.agrees(oslo, a, a.AddDate(1, 0, 0)) {
		t.Error("does not agree with Europe/Oslo")
	}
	if vt.agrees(loadIANA("Europe/London"), a, a.AddDate(1, 0, 0)) {
		t.Error("agrees with Europe/London")
	}
}

func TestParseOffset(t *testing.T) {
	for in, want := range map[string]int{"+0100": 3600, "-0800": -28800, "+005328": 3208, "+0000": 0} {
		if got, err := parseOffset(in); err != nil || got != want {
			t.Errorf("%q: %d %v", in, got, err)
		}
	}
	for _, bad := range []string{"0100", "+01", "+2500", "+01x0", ""} {
		if _, err := parseOffset(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
