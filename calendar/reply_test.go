package calendar

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-ical"
)

func parsedMeeting(t *testing.T, file, now string) Meeting {
	t.Helper()
	f, err := os.Open("testdata/" + file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	req, err := ParseMessage(f, mustTime(t, now))
	if err != nil {
		t.Fatal(err)
	}
	return req.Meetings[0]
}

func decodeReply(t *testing.T, b []byte) *ical.Event {
	t.Helper()
	for _, line := range bytes.Split(bytes.TrimSuffix(b, []byte("\r\n")), []byte("\r\n")) {
		if len(line) > 75 {
			t.Errorf("line of %d octets: %q", len(line), line)
		}
		if bytes.ContainsAny(line, "\r\n") {
			t.Errorf("bare CR or LF in %q", line)
		}
		if !utf8.Valid(line) {
			t.Errorf("fold inside a UTF-8 sequence: %q", line)
		}
	}
	if !bytes.HasSuffix(b, []byte("END:VCALENDAR\r\n")) {
		t.Errorf("reply does not end with END:VCALENDAR CRLF")
	}
	cal, err := ical.NewDecoder(bytes.NewReader(b)).Decode()
	if err != nil {
		t.Fatalf("go-ical cannot read the reply: %v\n%s", err, b)
	}
	if m := cal.Props.Get(ical.PropMethod); m == nil || m.Value != "REPLY" {
		t.Errorf("METHOD %v", m)
	}
	evs := cal.Events()
	if len(evs) != 1 {
		t.Fatalf("%d events", len(evs))
	}
	return &evs[0]
}

func TestReplyAccepted(t *testing.T) {
	m := parsedMeeting(t, "written/outlook-request-opptak-w-europe-base64.eml", "2025-03-01T08:15:00Z")
	now := time.Date(2025, 3, 1, 8, 16, 0, 0, time.UTC)
	b, err := Reply(m, "REPLY", "Konferanse <Brygga@Example.org>", true, "", now)
	if err != nil {
		t.Fatal(err)
	}
	ev := decodeReply(t, b)
	if uid, _ := ev.Props.Text(ical.PropUID); uid != m.UID {
		t.Errorf("UID %q", uid)
	}
	if s := ev.Props.Get(ical.PropSequence); s == nil || s.Value != "0" {
		t.Errorf("SEQUENCE %v", s)
	}
	att := ev.Props.Get(ical.PropAttendee)
	if att == nil || att.Value != "mailto:brygga@example.org" || att.Params.Get("PARTSTAT") != "ACCEPTED" || att.Params.Get("CN") != "Konferanse" {
		t.Errorf("ATTENDEE %+v", att)
	}
	if org := ev.Props.Get(ical.PropOrganizer); org == nil || org.Value != "mailto:kari.nordmann@example.org" || org.Params.Get("CN") != "Kari Nordmann" {
		t.Errorf("ORGANIZER %+v", org)
	}
	if st, _ := ev.Props.DateTime(ical.PropDateTimeStamp, nil); !st.Equal(now) {
		t.Errorf("DTSTAMP %v", st)
	}
	if s, _ := ev.Props.DateTime(ical.PropDateTimeStart, nil); !s.Equal(m.Start) {
		t.Errorf("DTSTART %v", s)
	}
	if ev.Props.Get(ical.PropRecurrenceID) != nil {
		t.Error("RECURRENCE-ID in a reply to a whole meeting")
	}
	// brygga must not reply to its own reply.
	if _, err := Parse(b, now); !errors.Is(err, ErrMethod) {
		t.Errorf("Parse of a REPLY: %v", err)
	}
}

func TestReplyDeclined(t *testing.T) {
	m := parsedMeeting(t, "written/outlook-request-windows1252-qp.eml", "2024-12-20T10:15:00Z")
	comment := "Tidssonen «Mars/Olympus» er ukjent.\nVelg en vanlig tidssone; takk, hilsen brygga – og en lang linje som må brettes flere ganger: æøå æøå æøå æøå æøå."
	b, err := Reply(m, "", "brygga@example.org", false, comment, testNow)
	if err != nil {
		t.Fatal(err)
	}
	ev := decodeReply(t, b)
	if att := ev.Props.Get(ical.PropAttendee); att.Params.Get("PARTSTAT") != "DECLINED" {
		t.Errorf("PARTSTAT %q", att.Params.Get("PARTSTAT"))
	}
	if s := ev.Props.Get(ical.PropSequence); s.Value != "1" {
		t.Errorf("SEQUENCE %v", s.Value)
	}
	if c := unescapeText(ev.Props.Get(ical.PropComment).Value); c != comment {
		t.Errorf("COMMENT %q", c)
	}
	if org := ev.Props.Get(ical.PropOrganizer); org.Params.Get("CN") != "Åse Ødegård" {
		t.Errorf("ORGANIZER CN %q", org.Params.Get("CN"))
	}
}

func TestReplyToOverride(t *testing.T) {
	m := parsedMeeting(t, "ics/imip-request-recurrence-id-override.eml", "2022-03-16T00:00:00Z")
	b, err := Reply(m, "REPLY", "receiver@example.com", true, "", testNow)
	if err != nil {
		t.Fatal(err)
	}
	ev := decodeReply(t, b)
	rid, err := ev.Props.DateTime(ical.PropRecurrenceID, nil)
	if err != nil || !rid.Equal(time.Date(2022, 3, 17, 11, 0, 0, 0, time.UTC)) {
		t.Errorf("RECURRENCE-ID %v %v", rid, err)
	}
	if s := ev.Props.Get(ical.PropSequence); s.Value != "2" {
		t.Errorf("SEQUENCE %v", s.Value)
	}
}

func TestReplyRefuses(t *testing.T) {
	m := parsedMeeting(t, "ics/imip-request-single.eml", "2022-03-16T00:00:00Z")
	if _, err := Reply(m, "COUNTER", "a@example.org", true, "", testNow); err == nil {
		t.Error("COUNTER written")
	}
	if _, err := Reply(m, "REPLY", "not an address", true, "", testNow); err == nil {
		t.Error("bad attendee accepted")
	}
	if _, err := Reply(Meeting{UID: "x"}, "REPLY", "a@example.org", true, "", testNow); err == nil {
		t.Error("reply without organizer written")
	}
	// Values that would break the encoder are made safe, not refused.
	m.OrganizerName = "Ola \"Boss\" Nordmann\r\n"
	m.Summary = "a\rb"
	if _, err := Reply(m, "REPLY", "a@example.org", true, "x\r\ny", testNow); err != nil {
		t.Error(err)
	}
}

func TestFoldLines(t *testing.T) {
	long := "COMMENT:" + strings.Repeat("ø", 100) + "\r\n"
	out := foldLines([]byte(long))
	for _, l := range strings.Split(strings.TrimSuffix(string(out), "\r\n"), "\r\n") {
		if len(l) > 75 || !utf8.ValidString(l) {
			t.Fatalf("bad fold %q", l)
		}
	}
	if got := strings.ReplaceAll(string(out), "\r\n ", ""); got != long {
		t.Fatalf("unfolds to %q", got)
	}
	if got := foldLines([]byte(strings.Repeat("\x80", 200))); len(got) < 200 {
		t.Fatal("broken UTF-8 lost")
	}
}
