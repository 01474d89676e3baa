package booking

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"brygga/calendar"
)

// parse reads one of package calendar's test invites as the mail intake
// would: a whole e-mail (.eml) or a bare iCalendar object.
func parse(t *testing.T, name string) *calendar.Request {
	t.Helper()
	path := filepath.Join("..", "calendar", "testdata", "written", name)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var req *calendar.Request
	if strings.HasSuffix(name, ".eml") {
		req, err = calendar.ParseMessage(strings.NewReader(string(data)), now)
	} else {
		req, err = calendar.Parse(data, now)
	}
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return req
}

func (f *fixture) invite(name string) Result {
	f.t.Helper()
	res := f.b.Handle(parse(f.t, name))
	if len(res) != 1 || res[0].Err != nil {
		f.t.Fatalf("%s: %+v", name, res)
	}
	return res[0]
}

func TestInviteOutlookWeeklyUpdated(t *testing.T) {
	f := newFixture(t)
	first := f.invite("outlook-request-weekly-seq0.ics")
	if first.Action != ActionBooked || first.Room.Extension != "4712" || !sixDigits.MatchString(first.PIN) {
		t.Fatalf("seq 0: %+v", first)
	}
	occ := first.Schedule.Occurrences
	if len(occ) != 26 || !occ[0].Start.Equal(time.Date(2025, 1, 6, 9, 0, 0, 0, time.UTC)) ||
		occ[0].End.Sub(occ[0].Start) != 30*time.Minute || first.Schedule.Zone == "UTC" {
		t.Fatalf("seq 0 occurrences: %d, first %+v, zone %s", len(occ), occ[0], first.Schedule.Zone)
	}

	r := f.invite("outlook-request-weekly-seq1.ics")
	if r.Action != ActionUpdated || !kept(r) || r.Schedule.ID != first.Schedule.ID ||
		!r.Schedule.Occurrences[0].Start.Equal(time.Date(2025, 1, 6, 10, 0, 0, 0, time.UTC)) {
		t.Fatalf("seq 1: %+v", r)
	}
	if r := f.invite("outlook-request-weekly-seq0.ics"); !r.Ignored {
		t.Fatalf("seq 0 after seq 1: %+v", r)
	}
	if r := f.invite("outlook-request-weekly-seq1.ics"); r.Action != ActionDuplicate || !kept(r) {
		t.Fatalf("seq 1 again: %+v", r)
	}
}

func TestInviteOutlookSensitiveSeriesCancelOne(t *testing.T) {
	f := newFixture(t)
	r := f.invite("outlook-request-windows1252-qp.eml")
	if r.Action != ActionBooked || r.Room.Extension != "4713" || !r.Schedule.Sensitive || r.Schedule.Record {
		t.Fatalf("request: %+v", r)
	}
	tuesday := time.Date(2025, 1, 14, 12, 0, 0, 0, time.UTC)
	if _, state := f.lookup("4713", r.PIN, tuesday); state != Open {
		t.Fatalf("before the cancel: %v", state)
	}
	c := f.invite("outlook-cancel-one-occurrence.ics")
	if c.Action != ActionCancelled || c.Schedule.State != "active" || c.Schedule.Sequence != 2 {
		t.Fatalf("cancel: %+v", c)
	}
	if _, state := f.lookup("4713", r.PIN, tuesday); state != Cancelled {
		t.Fatalf("the cancelled Tuesday: %v", state)
	}
	if _, state := f.lookup("4713", r.PIN, tuesday.AddDate(0, 0, 14)); state != Open {
		t.Fatalf("two weeks later: %v", state)
	}
}

func TestInviteRecordLong(t *testing.T) {
	f := newFixture(t)
	r := f.invite("outlook-request-opptak-w-europe-base64.eml")
	if r.Action != ActionBooked || r.Room.Extension != "4711" || !r.Schedule.Record ||
		!hasNote(r, "the meeting is booked for 90 minutes; phone meetings stop after 60") {
		t.Fatalf("request: %+v", r)
	}
}
