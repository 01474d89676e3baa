package calendar

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// corpusCase is the exact outcome expected for one file in testdata.
// Times are written as they read in the meeting's zone; occurrences as
// "start/end-clock".
type corpusCase struct {
	file string
	now  string

	reject   string // Rejection code; "" when the invite is accepted
	method   string
	declared string

	uid       string
	seq       int
	stamp     string
	organizer string
	orgName   string
	attendees []string
	summary   string
	record    bool
	sensitive bool

	zone          string
	start         string
	dur           time.Duration
	recurring     bool
	overridesOnly bool
	n             int      // occurrences in the horizon
	occ           []string // all of them, or the first ones when last is set
	last          string
	ids           map[string]string // occurrence start → its RECURRENCE-ID, for overrides
	cancelled     []string
	absent        []string // dates (2006-01-02) that must have no occurrence: EXDATEs
}

const (
	cdoUID     = "CD0000008B9511D182D800C04FB1625D17D373499F99F547A0016BEAC6AB5576"
	ol2007UID  = "040000008200E00074C5B7101A82E0080000000040D76F07BDCBCD0100000000000000001000000083E39564BB3D8D49AD2C623DDF5C06E5"
	w1252UID   = "040000008200E00074C5B7101A82E00800000000D1E2F3A4B5C6DB0100000000000000001000000011223344556677889900AABBCCDDEEFF"
	weeklyUID  = "040000008200E00074C5B7101A82E0080000000077AA88BB99CCDB01000000000000000010000000F0E1D2C3B4A5968778695A4B3C2D1E0F"
	imipAttend = "sender@example.com receiver@example.com other@example.com"
)

var corpus = []corpusCase{
	// Exchange CDO: no UID at all. (With one added, see written/.)
	{file: "ics/exchange-cdo-request-recurring-gmt-tzid-byday-spaces.ics", now: "2015-07-01T00:00:00Z",
		reject: RejectNoUID, method: "REQUEST", declared: "REQUEST"},
	// Escaped comma in the VTIMEZONE, plain comma in the reference; an
	// old display name resolved through CLDR's and checked by its 2004 rules.
	{file: "ics/exchange2003-cdo-request-tzid-escaped-comma.ics", now: "2004-10-10T00:00:00Z",
		method: "REQUEST", declared: "REQUEST", uid: cdoUID, stamp: "2004-10-12T00:18:49Z",
		organizer: "organizer@example.org", orgName: "Organizer Name",
		attendees: []string{"attendee1@example.org", "attendee2@example.org"}, summary: "Now with descriptoin",
		zone: "America/Los_Angeles", start: "2004-10-11T22:30-07:00", dur: 90 * time.Minute,
		n: 1, occ: []string{"2004-10-11T22:30-07:00/00:00"}},
	{file: "ics/exchange2010-publish-eastern-unquoted-tzid.ics", now: "2024-10-01T00:00:00Z",
		reject: RejectNoOrganizer, method: "REQUEST", declared: "PUBLISH",
		uid: "minimal-demo-event-est-20241028@example.com", stamp: "2025-05-14T02:39:16Z", summary: "Anonymous Test Event for TZID"},
	{file: "ics/exchange2010-request-pacific-quoted-tzid.ics", now: "2017-02-20T00:00:00Z",
		reject: RejectNoOrganizer, method: "REQUEST", declared: "REQUEST",
		uid: "040000008200E00074C5B7101A82E0080000000090E19664858ED20100000000000000", stamp: "2017-02-24T18:04:31Z", summary: "Test 4"},
	// The real event has no UID; the UID-only stub VEVENT books nothing.
	{file: "ics/exchange2010-request-w-europe-recurring-unfolded-description-malformed.ics", now: "2024-09-20T00:00:00Z",
		reject: RejectNoUID, method: "REQUEST", declared: "REQUEST"},
	{file: "ics/google-calendar-publish-utc-html-description.ics", now: "2024-09-29T00:00:00Z",
		reject: RejectNoOrganizer, method: "REQUEST", declared: "PUBLISH",
		uid: "al23c5kr943d42u3bqoqrkf455@google.com", stamp: "2024-09-29T12:16:53Z", summary: "Test Event"},
	// Cancelling a whole series that has no DTSTART: only the UID counts.
	{file: "ics/imip-cancel-recurring-exdate-no-dtstart.eml", now: "2022-03-16T00:00:00Z",
		method: "CANCEL", declared: "CANCEL", uid: "02e79b96", seq: 1, stamp: "2022-03-16T19:16:02Z",
		organizer: "sender@example.com", orgName: "Sender", attendees: strings.Fields(imipAttend), summary: "Repeat Event",
		recurring: true},
	{file: "ics/imip-cancel-single.eml", now: "2022-03-16T00:00:00Z",
		method: "CANCEL", declared: "CANCEL", uid: "02e79b96", seq: 1, stamp: "2022-03-17T19:16:02Z",
		organizer: "sender@example.com", orgName: "Sender", attendees: strings.Fields(imipAttend), summary: "Single Event",
		zone: "UTC", start: "2022-03-16T11:00Z", dur: 30 * time.Minute},
	// Only an override: the caller replaces that occurrence of its series.
	{file: "ics/imip-request-recurrence-id-override.eml", now: "2022-03-16T00:00:00Z",
		method: "REQUEST", declared: "REQUEST", uid: "02e79b96", seq: 2, stamp: "2022-03-16T19:16:02Z",
		organizer: "sender@example.com", orgName: "Sender", attendees: strings.Fields(imipAttend), summary: "Repeat Event",
		zone: "UTC", start: "2022-03-17T05:00Z", dur: 30 * time.Minute, recurring: true, overridesOnly: true,
		n: 1, occ: []string{"2022-03-17T05:00Z/05:30"}, ids: map[string]string{"2022-03-17T05:00Z": "2022-03-17T11:00Z"}},
	{file: "ics/imip-request-recurring-daily.eml", now: "2022-03-16T00:00:00Z",
		method: "REQUEST", declared: "REQUEST", uid: "02e79b96", stamp: "2022-03-16T19:16:02Z",
		organizer: "sender@example.com", orgName: "Sender", attendees: strings.Fields(imipAttend), summary: "Repeat Event",
		zone: "UTC", start: "2022-03-16T11:00Z", dur: 30 * time.Minute, recurring: true,
		n: 3, occ: []string{"2022-03-16T11:00Z/11:30", "2022-03-17T11:00Z/11:30", "2022-03-18T11:00Z/11:30"}},
	// DTEND and DURATION both present: DTEND wins.
	{file: "ics/imip-request-single.eml", now: "2022-03-16T00:00:00Z",
		method: "REQUEST", declared: "REQUEST", uid: "02e79b96", stamp: "2022-03-16T19:16:02Z",
		organizer: "sender@example.com", orgName: "Sender", attendees: strings.Fields(imipAttend), summary: "Single Event",
		zone: "UTC", start: "2022-03-16T11:00Z", dur: 30 * time.Minute, n: 1, occ: []string{"2022-03-16T11:00Z/11:30"}},
	{file: "ics/imip-request-update-sequence2.eml", now: "2022-03-16T00:00:00Z",
		method: "REQUEST", declared: "REQUEST", uid: "02e79b96", seq: 2, stamp: "2022-03-16T19:16:02Z",
		organizer: "sender@example.com", orgName: "Sender", attendees: strings.Fields(imipAttend), summary: "Single Event",
		zone: "UTC", start: "2022-03-16T05:00Z", dur: 30 * time.Minute, n: 1, occ: []string{"2022-03-16T05:00Z/05:30"}},
	// No METHOD inside (the part's method=REQUEST stands in), no
	// ORGANIZER; its TZID "FLE" has no VTIMEZONE and would be unknown too.
	{file: "ics/notes-style-request-missing-vtimezone-nested-multipart.eml", now: "2021-10-22T00:00:00Z",
		reject: RejectNoOrganizer, method: "REQUEST", declared: "",
		uid: "36138BFC6A7B03EFC2258776003DB5C5", stamp: "2021-10-22T11:15:20Z"},
	{file: "ics/o365-exchange-request-fle-base64.eml", now: "2021-11-19T20:00:31Z",
		method: "REQUEST", declared: "REQUEST",
		uid:   "030000008200E00074C5B7101A82E0080000000060B608D090DDD7010000000000000000100000004BE0CFFA54BCF64E956E34143362C3C0",
		stamp: "2021-11-19T20:00:29Z", organizer: "marge@example.org", orgName: "Marge", attendees: []string{"homer@example.org"},
		summary: "Testaus", zone: "Europe/Kiev", start: "2021-11-27T09:00+02:00", dur: 30 * time.Minute,
		n: 1, occ: []string{"2021-11-27T09:00+02:00/09:30"}},
	{file: "ics/o365-teams-meeting-request-base64.eml", now: "2020-12-02T16:52:34Z",
		method: "REQUEST", declared: "REQUEST",
		uid:   "056000008200E00074C5B7101A82E008000000001AF84C64CBC8D601000000000000000010000000403B5AC10A0EB444A947D2B499A4B98C",
		stamp: "2020-12-02T16:51:34Z", organizer: "marge@example.com", orgName: "Marge",
		attendees: []string{"bart@example.com", "homer@example.com"}, summary: "Teams meeting",
		zone: "Europe/Kiev", start: "2020-12-02T19:00+02:00", dur: 2 * time.Hour,
		n: 1, occ: []string{"2020-12-02T19:00+02:00/21:00"}},
	// No VERSION line (it is on the PRODID line); every other Thursday,
	// at 17:00 Warsaw time on both sides of the change to summer time.
	{file: "ics/outlook2003-publish-recurring-prodid-version-same-line.ics", now: "2008-01-01T00:00:00Z",
		method: "REQUEST", declared: "PUBLISH",
		uid:   "040000008200E00074C5B7101A82E00800000000203BC100BE99CA0100000000000000001000000086169DE46654E94FAC27686E5FB73EB8",
		stamp: "2010-01-20T09:47:47Z", organizer: "organizer@example.org", summary: "NIP",
		zone: "Europe/Warsaw", start: "2008-01-03T17:00+01:00", dur: 30 * time.Minute, recurring: true,
		n: 26, occ: []string{"2008-01-03T17:00+01:00/17:30", "2008-01-17T17:00+01:00/17:30", "2008-01-31T17:00+01:00/17:30",
			"2008-02-14T17:00+01:00/17:30", "2008-02-28T17:00+01:00/17:30", "2008-03-13T17:00+01:00/17:30",
			"2008-03-27T17:00+01:00/17:30", "2008-04-10T17:00+02:00/17:30"},
		last: "2008-12-18T17:00+01:00/17:30"},
	// TAB folds inside the UID and a mailto; all-day.
	{file: "ics/outlook2007-publish-tab-linefolds.ics", now: "2009-06-20T00:00:00Z",
		reject: RejectAllDay, method: "REQUEST", declared: "PUBLISH",
		uid:   "040000008200E00074C5B7101A82E00800000000900AD080B5F2C901000000000000000010000000B29680BF9E5DC246B5EDDE228038E71F",
		stamp: "2009-06-21T20:16:12Z", organizer: "some.attendee@somewhere.com", orgName: "Event Organizer",
		attendees: []string{"some.attendee@event.com", "event@calendardemo.net", "4th.floor.meeting.room@somewhere.com"},
		summary:   "Example Calendar Export that Blows Up DDay.iCal"},
	// No METHOD; a display-name TZID; five EXDATEs in one list; two
	// overrides in UTC that keep their time.
	{file: "ics/outlook2007-recurring-exdate-list-recurrence-id-excerpt.ics", now: "2013-01-01T00:00:00Z",
		method: "REQUEST", declared: "", uid: ol2007UID, seq: 4, stamp: "2013-04-03T07:09:26Z",
		organizer: "organizer@example.org", orgName: "Organizer Name",
		attendees: []string{"attendee1@example.org", "attendee2@example.org", "attendee3@example.org", "attendee4@example.org", "owner@example.org"},
		summary:   "Canceled: Automation Workshop",
		zone:      "Europe/Bucharest", start: "2012-12-07T16:00+02:00", dur: 2 * time.Hour, recurring: true,
		n: 47, occ: []string{"2013-01-04T16:00+02:00/18:00", "2013-01-11T16:00+02:00/18:00", "2013-01-25T16:00+02:00/18:00", "2013-02-01T16:00+02:00/18:00", "2013-02-22T16:00+02:00/18:00"},
		last:   "2013-12-27T16:00+02:00/18:00",
		absent: []string{"2013-01-18", "2013-02-08", "2013-02-15", "2013-03-01", "2013-03-08"},
		ids:    map[string]string{"2013-03-22T16:00+02:00": "2013-03-22T14:00Z", "2013-03-29T16:00+02:00": "2013-03-29T14:00Z", "2013-04-05T16:00+03:00": "2013-04-05T13:00Z"}},
	{file: "ics/outlook2016-publish-w-europe-tabfolded.ics", now: "2021-12-18T00:00:00Z",
		reject: RejectNoOrganizer, method: "REQUEST", declared: "PUBLISH",
		uid:   "040000008200E00074C5B7101A82E0080000000010FAA7D676F4D7010000000000000000100000006B7736529239644692E11B07FF619A97",
		stamp: "2021-12-19T00:22:59Z", summary: "Testeintrag"},
	// 99 weekdays, the first one EXDATEd.
	{file: "ics/outlookcom-request-recurring-exdate-pacific.ics", now: "2014-02-20T00:00:00Z",
		method: "REQUEST", declared: "REQUEST", uid: "181547ec-4781-453c-a50f-2064f46fa118", stamp: "2014-02-21T11:04:11Z",
		organizer: "organizer@example.org", orgName: "Organizer",
		attendees: []string{"attendee1@example.org", "attendee2@example.org"}, summary: "Rec from outlook",
		zone: "America/Los_Angeles", start: "2014-02-21T15:00-08:00", dur: time.Hour, recurring: true,
		n: 98, occ: []string{"2014-02-24T15:00-08:00/16:00", "2014-02-25T15:00-08:00/16:00"},
		last: "2014-07-09T15:00-07:00/16:00", absent: []string{"2014-02-21"}},
	{file: "ics/thunderbird115-event-europe-berlin-altrep-trailing-junk.ics", now: "2024-09-29T00:00:00Z",
		reject: RejectNoOrganizer, method: "REQUEST", declared: "",
		uid: "d23cef0d-9e58-43c4-9391-5ad8483ca346", stamp: "2024-09-29T12:07:31Z", summary: "Test Event"},

	// Written for these tests (testdata/README.md).
	{file: "written/exchange-cdo-custom-zone-with-uid.ics", now: "2015-07-01T00:00:00Z",
		method: "REQUEST", declared: "REQUEST", uid: "cdo-custom-zone-0001@example.org", stamp: "2015-07-03T07:10:09Z",
		organizer: "scrum.master@example.org", orgName: "Scrum Master", summary: "Sprint 25 Daily Standup",
		zone: "Europe/Oslo", start: "2015-07-03T10:00+02:00", dur: 30 * time.Minute, recurring: true,
		n: 14, occ: []string{"2015-07-03T10:00+02:00/10:30", "2015-07-06T10:00+02:00/10:30"}, last: "2015-07-22T10:00+02:00/10:30",
		absent: []string{"2015-07-04", "2015-07-05", "2015-07-11"}},
	{file: "written/exchange2010-floating-w-europe-with-uid.ics", now: "2024-09-20T00:00:00Z",
		method: "REQUEST", declared: "REQUEST",
		uid: "040000008200E00074C5B7101A82E00800000000343343343343DB01000000000000000010000000343343343343343343343343343343",
		seq: 7, stamp: "2024-10-07T14:20:56Z", organizer: "organizer@example.com", orgName: "Organizer Name",
		attendees: []string{"attendee1@example.com", "attendee2@example.com", "attendee3@example.com"}, summary: "Team Meeting",
		zone: "Europe/Berlin", start: "2024-09-23T10:00+02:00", dur: 30 * time.Minute, recurring: true,
		n: 2, occ: []string{"2024-09-23T10:00+02:00/10:30", "2024-10-07T10:00+02:00/10:30"}},
	{file: "written/google-request-stockholm-inspelning.eml", now: "2025-02-25T09:30:00Z",
		method: "REQUEST", declared: "REQUEST", uid: "5k2vq8m1c7t4h3j9p0r6s2n8bd@google.com", stamp: "2025-02-25T09:30:00Z",
		organizer: "anna.svensson@example.se", orgName: "Anna Svensson",
		attendees: []string{"anna.svensson@example.se", "brygga@example.org"}, summary: "Styrelsemöte", record: true,
		zone: "Europe/Stockholm", start: "2025-03-04T14:00+01:00", dur: time.Hour, recurring: true,
		n: 5, occ: []string{"2025-03-04T14:00+01:00/15:00", "2025-03-11T14:00+01:00/15:00", "2025-03-18T14:00+01:00/15:00",
			"2025-03-25T14:00+01:00/15:00", "2025-04-01T14:00+02:00/15:00"}},
	{file: "written/outlook-cancel-one-occurrence.ics", now: "2025-01-10T00:00:00Z",
		method: "CANCEL", declared: "CANCEL", uid: w1252UID, seq: 2, stamp: "2025-01-10T09:00:00Z",
		organizer: "ase.odegard@example.org", orgName: "Åse Ødegård", attendees: []string{"brygga@example.org"},
		summary: "Avlyst: Møte om økonomi [sensitiv]", sensitive: true,
		zone: "Europe/Berlin", start: "2025-01-14T13:00+01:00", dur: time.Hour,
		cancelled: []string{"2025-01-14T12:00Z"}},
	{file: "written/outlook-request-opptak-w-europe-base64.eml", now: "2025-03-01T08:15:00Z",
		method: "REQUEST", declared: "REQUEST",
		uid:   "040000008200E00074C5B7101A82E00800000000B0C1D2E3F4A5DB01000000000000000010000000AABBCCDDEEFF00112233445566778899",
		stamp: "2025-03-01T08:15:00Z", organizer: "kari.nordmann@example.org", orgName: "Kari Nordmann",
		attendees: []string{"brygga@example.org", "ola.hansen@example.org"}, summary: "[opptak] Budsjettmøte", record: true,
		zone: "Europe/Berlin", start: "2025-03-10T09:00+01:00", dur: 90 * time.Minute,
		n: 1, occ: []string{"2025-03-10T09:00+01:00/10:30"}},
	{file: "written/outlook-request-weekly-seq0.ics", now: "2025-01-01T12:00:00Z",
		method: "REQUEST", declared: "REQUEST", uid: weeklyUID, seq: 0, stamp: "2025-01-01T12:00:00Z",
		organizer: "per.berg@example.org", orgName: "Per Berg", attendees: []string{"brygga@example.org"}, summary: "Avdelingsmøte",
		zone: "Europe/Berlin", start: "2025-01-06T10:00+01:00", dur: 30 * time.Minute, recurring: true,
		n: 26, occ: []string{"2025-01-06T10:00+01:00/10:30"}, last: "2025-06-30T10:00+02:00/10:30"},
	{file: "written/outlook-request-weekly-seq1.ics", now: "2025-01-01T12:00:00Z",
		method: "REQUEST", declared: "REQUEST", uid: weeklyUID, seq: 1, stamp: "2025-01-02T08:00:00Z",
		organizer: "per.berg@example.org", orgName: "Per Berg", attendees: []string{"brygga@example.org"}, summary: "Avdelingsmøte",
		zone: "Europe/Berlin", start: "2025-01-06T11:00+01:00", dur: 30 * time.Minute, recurring: true,
		n: 26, occ: []string{"2025-01-06T11:00+01:00/11:30"}, last: "2025-06-30T11:00+02:00/11:30"},
	{file: "written/outlook-request-windows1252-qp.eml", now: "2024-12-20T10:15:00Z",
		method: "REQUEST", declared: "REQUEST", uid: w1252UID, seq: 1, stamp: "2024-12-20T10:15:00Z",
		organizer: "ase.odegard@example.org", orgName: "Åse Ødegård", attendees: []string{"brygga@example.org"},
		summary: "Møte om økonomi [sensitiv]", sensitive: true,
		zone: "Europe/Berlin", start: "2025-01-07T13:00+01:00", dur: time.Hour, recurring: true,
		n: 9, occ: []string{"2025-01-07T13:00+01:00/14:00", "2025-01-14T13:00+01:00/14:00", "2025-01-28T13:00+01:00/14:00"},
		last: "2025-03-11T13:00+01:00/14:00", absent: []string{"2025-01-21"}},
	{file: "written/thunderbird-request-rdate-overrides.eml", now: "2024-12-15T10:15:00Z",
		method: "REQUEST", declared: "REQUEST", uid: "8f0d6a2e-3b4c-4d5e-9f60-718293a4b5c6", seq: 3, stamp: "2024-12-15T10:15:00Z",
		organizer: "nils.lie@example.no", orgName: "Nils Lie", attendees: []string{"brygga@example.org"},
		summary: "Prosjektmøte [sensitive]", sensitive: true,
		zone: "Europe/Oslo", start: "2025-01-09T10:00+01:00", dur: time.Hour, recurring: true,
		n: 6, occ: []string{"2025-01-09T10:00+01:00/11:00", "2025-01-23T14:00+01:00/15:00", "2025-01-25T12:00+01:00/13:00",
			"2025-02-01T10:00+01:00/12:00", "2025-02-06T10:00+01:00/11:00", "2025-02-13T10:00+01:00/11:00"},
		ids:    map[string]string{"2025-01-23T14:00+01:00": "2025-01-23T09:00Z", "2025-02-01T10:00+01:00": "2025-02-01T09:00Z"},
		absent: []string{"2025-01-16", "2025-01-30"}},
}

const stamp = "2006-01-02T15:04Z07:00"

func occString(o Occurrence) string {
	return o.Start.Format(stamp) + "/" + o.End.Format("15:04")
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestCorpus(t *testing.T) {
	for _, c := range corpus {
		t.Run(filepath.Base(c.file), func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", c.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			req, err := ParseMessage(f, mustTime(t, c.now))
			var rej *Rejection
			switch {
			case c.reject != "" && !errors.As(err, &rej):
				t.Fatalf("want rejection %q, got %v", c.reject, err)
			case c.reject != "" && rej.Code != c.reject:
				t.Fatalf("rejection %q (%s), want %q", rej.Code, rej.Reason, c.reject)
			case c.reject == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			}
			if req == nil {
				t.Fatal("no Request returned")
			}
			if req.Method != c.method || req.DeclaredMethod != c.declared {
				t.Errorf("method %q declared %q, want %q and %q", req.Method, req.DeclaredMethod, c.method, c.declared)
			}
			if c.uid == "" {
				if len(req.Meetings) != 0 {
					t.Errorf("meetings %v, want none", req.Meetings)
				}
				return
			}
			if len(req.Meetings) != 1 {
				t.Fatalf("%d meetings, want 1", len(req.Meetings))
			}
			checkMeeting(t, c, req.Meetings[0])
		})
	}
}

func checkMeeting(t *testing.T, c corpusCase, m Meeting) {
	t.Helper()
	if m.UID != c.uid || m.Sequence != c.seq {
		t.Errorf("UID %q SEQUENCE %d, want %q %d", m.UID, m.Sequence, c.uid, c.seq)
	}
	if got := m.Stamp.Format(time.RFC3339); got != c.stamp {
		t.Errorf("DTSTAMP %s, want %s", got, c.stamp)
	}
	if m.Organizer != c.organizer || m.OrganizerName != c.orgName {
		t.Errorf("organizer %q %q, want %q %q", m.Organizer, m.OrganizerName, c.organizer, c.orgName)
	}
	if !slices.Equal(m.Attendees, c.attendees) {
		t.Errorf("attendees %q, want %q", m.Attendees, c.attendees)
	}
	if m.Summary != c.summary || m.Record != c.record || m.Sensitive != c.sensitive {
		t.Errorf("summary %q record %v sensitive %v, want %q %v %v", m.Summary, m.Record, m.Sensitive, c.summary, c.record, c.sensitive)
	}
	if c.reject != "" {
		return
	}
	zone := ""
	if m.Zone != nil {
		zone = m.Zone.String()
	}
	start := ""
	if !m.Start.IsZero() {
		start = m.Start.Format(stamp)
	}
	if zone != c.zone || start != c.start || m.Duration != c.dur {
		t.Errorf("zone %q start %q duration %v, want %q %q %v", zone, start, m.Duration, c.zone, c.start, c.dur)
	}
	if m.Recurring != c.recurring || m.OverridesOnly != c.overridesOnly {
		t.Errorf("recurring %v overridesOnly %v, want %v %v", m.Recurring, m.OverridesOnly, c.recurring, c.overridesOnly)
	}
	var cancelled []string
	for _, x := range m.Cancelled {
		cancelled = append(cancelled, x.Format(stamp))
	}
	if !slices.Equal(cancelled, c.cancelled) {
		t.Errorf("cancelled %q, want %q", cancelled, c.cancelled)
	}
	if len(m.Occurrences) != c.n {
		t.Errorf("%d occurrences, want %d", len(m.Occurrences), c.n)
	}
	var got []string
	for _, o := range m.Occurrences {
		got = append(got, occString(o))
		if o.Start.Location() != m.Zone || o.End.Location() != m.Zone || o.ID.Location() != time.UTC {
			t.Errorf("occurrence %s: zones %v %v %v", occString(o), o.Start.Location(), o.End.Location(), o.ID.Location())
		}
		if id, ok := c.ids[o.Start.Format(stamp)]; ok && o.ID.Format(stamp) != id {
			t.Errorf("occurrence %s has ID %s, want %s", occString(o), o.ID.Format(stamp), id)
		}
		for _, day := range c.absent {
			if o.Start.Format("2006-01-02") == day {
				t.Errorf("occurrence on %s, which is excluded", day)
			}
		}
	}
	if len(got) < len(c.occ) || !slices.Equal(got[:len(c.occ)], c.occ) {
		t.Errorf("occurrences %q,\nwant them to begin %q", got, c.occ)
	}
	if c.last != "" && (len(got) == 0 || got[len(got)-1] != c.last) {
		t.Errorf("last occurrence %q, want %q", got[len(got)-1:], c.last)
	}
	for s := range c.ids {
		if !slices.ContainsFunc(m.Occurrences, func(o Occurrence) bool { return o.Start.Format(stamp) == s }) {
			t.Errorf("no occurrence at %s", s)
		}
	}
}

// TestCorpusComplete keeps the table and testdata in step.
func TestCorpusComplete(t *testing.T) {
	files, _ := filepath.Glob("testdata/*/*")
	listed := map[string]bool{}
	for _, c := range corpus {
		listed[c.file] = true
	}
	for _, f := range files {
		rel := strings.TrimPrefix(filepath.ToSlash(f), "testdata/")
		if strings.HasSuffix(rel, ".md") {
			continue
		}
		if !listed[rel] {
			t.Errorf("%s has no expected outcome in the table", rel)
		}
		delete(listed, rel)
	}
	for f := range listed {
		t.Errorf("%s is in the table but not in testdata", f)
	}
}

// The corpus' iMIP sequence replayed as a caller would: by UID, keeping
// the newest version.
func TestSupersedes(t *testing.T) {
	first := parsedMeeting(t, "ics/imip-request-single.eml", "2022-03-16T00:00:00Z")
	update := parsedMeeting(t, "ics/imip-request-update-sequence2.eml", "2022-03-16T00:00:00Z")
	f, _ := os.Open("testdata/ics/imip-cancel-single.eml")
	defer f.Close()
	cancel, err := ParseMessage(f, mustTime(t, "2022-03-16T00:00:00Z"))
	if err != nil {
		t.Fatal(err)
	}
	if first.UID != update.UID || !update.Supersedes(first) || first.Supersedes(update) || first.Supersedes(first) {
		t.Error("SEQUENCE 2 must supersede SEQUENCE 0, and not the other way")
	}
	// The CANCEL (SEQUENCE 1) arrived after the update (SEQUENCE 2):
	// it is older and must be ignored.
	if cancel.Meetings[0].Supersedes(update) {
		t.Error("a CANCEL with a lower SEQUENCE superseded the update")
	}
	later := first
	later.Stamp = later.Stamp.Add(time.Minute)
	if !later.Supersedes(first) {
		t.Error("same SEQUENCE, later DTSTAMP must supersede")
	}
	seq0 := parsedMeeting(t, "written/outlook-request-weekly-seq0.ics", "2025-01-01T12:00:00Z")
	seq1 := parsedMeeting(t, "written/outlook-request-weekly-seq1.ics", "2025-01-01T12:00:00Z")
	if !seq1.Supersedes(seq0) || seq0.Supersedes(seq1) {
		t.Error("Outlook update not ordered")
	}
}
