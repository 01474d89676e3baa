package invites

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"brygga/booking"
	"brygga/calendar"
	"brygga/mailer"
	"brygga/mailer/mailertest"
	"brygga/pin"
)

// submit parses one test mail as the intake does and hands it to Submit.
func (f *fixture) submit(name string) []Outcome {
	f.t.Helper()
	req, err := calendar.ParseMessage(bytes.NewReader(testdata(f.t, name)), f.desk.now())
	if err != nil {
		f.t.Fatalf("%s: %v", name, err)
	}
	return f.desk.Submit(context.Background(), req, nil)
}

// Without outgoing mail the reply is logged, without its PIN, and kept
// in the outcome for the API caller.
func TestSubmitWithoutMail(t *testing.T) {
	f := newFixture(t, march2025, mailertest.Options{})
	f.desk.Mail = nil
	var logs bytes.Buffer // Submit logs before it returns
	f.desk.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	f.desk.Booker.Logger = f.desk.Logger
	out := f.submit(opptak)
	if len(out) != 1 {
		t.Fatalf("%d outcomes", len(out))
	}
	o := out[0]
	if o.Action != string(booking.ActionBooked) || o.Room != "4711" || !sixDigits.MatchString(o.PIN) ||
		o.Replied || o.MailError != "" || o.Retry {
		t.Errorf("outcome %+v", o)
	}
	if !bytes.Contains(o.Reply, []byte("METHOD:REPLY")) || !bytes.Contains(o.Reply, []byte("PARTSTAT=ACCEPTED")) {
		t.Errorf("kept reply:\n%s", o.Reply)
	}
	if !strings.Contains(logs.String(), "outgoing mail (mail.smtp) is not configured") || !strings.Contains(logs.String(), "to="+kari) {
		t.Errorf("log:\n%s", &logs)
	}
	if strings.Contains(logs.String(), o.PIN) {
		t.Errorf("the PIN is in the log:\n%s", &logs)
	}
}

// An organizer address the submission server refuses for good: the
// booking stands, the outcome says why no mail went, and nothing is retried.
func TestSubmitReplyRefused(t *testing.T) {
	f := newFixture(t, march2025, mailertest.Options{RcptCode: 550})
	o := f.submit(opptak)[0]
	if o.Action != string(booking.ActionBooked) || o.Replied || o.Retry || !strings.Contains(o.MailError, "refused the recipient") {
		t.Errorf("outcome %+v", o)
	}
	if s := f.schedule(o.UID); !pin.NewMatcher(o.PIN).Matches(s.PIN) {
		t.Errorf("stored %+v", s)
	}
}

// A reply that failed for now goes out when the invite comes again. The
// store keeps only the PIN's hash, so the first booking is undone rather
// than kept with a PIN nobody was told: the repeat books the meeting
// afresh and its answer carries the new PIN.
func TestSubmitRetriedReplySent(t *testing.T) {
	f := newFixture(t, march2025, mailertest.Options{RcptCode: 451})
	first := f.submit(opptak)[0]
	if first.Replied || !first.Retry || first.MailError == "" || first.Action != string(booking.ActionFailed) || first.PIN != "" {
		t.Fatalf("first outcome %+v", first)
	}
	if list, err := f.desk.Booker.List(); err != nil || len(list) != 0 {
		t.Fatalf("after the failed answer %d schedules stay (%v)", len(list), err)
	}
	later := mailertest.Start(t, mailertest.Options{})
	f.desk.Mail = &mailer.Server{URL: "smtp://" + later.Addr}
	again := f.submit(opptak)[0]
	if again.Action != string(booking.ActionBooked) || !again.Replied || again.Retry || !sixDigits.MatchString(again.PIN) {
		t.Fatalf("second outcome %+v", again)
	}
	first = again
	got, _ := later.Received()
	if len(got) != 1 {
		t.Fatalf("%d replies", len(got))
	}
	if r := readReply(t, got[0].Data); !strings.Contains(r.text, "4711*"+first.PIN) {
		t.Errorf("text:\n%s", r.text)
	}
}

// Booking's notes that the message does not say itself are added.
func TestSubmitNotesAdded(t *testing.T) {
	f := newFixture(t, march2022, mailertest.Options{})
	f.desk.Booker.PINs = booking.PINsRoom
	f.submit("ics/imip-request-single.eml")
	r := readReply(t, f.received(1)[0].Data)
	if !strings.Contains(r.text, "Note: the meeting has no PIN of its own and room 4712 has none") {
		t.Errorf("text:\n%s", r.text)
	}
}

// A request naming many organizers answers only the first few.
func TestSubmitBoundsReplies(t *testing.T) {
	f := newFixture(t, march2025, mailertest.Options{})
	req := &calendar.Request{Method: "REQUEST"}
	for i := range maxReplies + 2 {
		req.Meetings = append(req.Meetings, calendar.Meeting{UID: fmt.Sprintf("uid-%d", i), Summary: "Spam",
			Organizer: fmt.Sprintf("victim%d@example.net", i), Start: march2025.Add(time.Hour), Duration: time.Hour})
	}
	out := f.desk.Submit(context.Background(), req, nil)
	if len(out) != maxReplies+2 {
		t.Fatalf("%d outcomes", len(out))
	}
	for i, o := range out {
		if want := i < maxReplies; o.Replied != want || (o.MailError != "") == want {
			t.Errorf("meeting %d: replied %v, %q", i, o.Replied, o.MailError)
		}
	}
	f.received(maxReplies)
}

// An attendee does not answer a CANCEL, not even one that cannot be read.
func TestSubmitRejectedCancelNotAnswered(t *testing.T) {
	f := newFixture(t, march2025, mailertest.Options{})
	req := &calendar.Request{Method: "CANCEL", Meetings: []calendar.Meeting{{UID: "u", Organizer: kari}}}
	out := f.desk.Submit(context.Background(), req, &calendar.Rejection{Code: calendar.RejectFloating, Reason: "no zone"})
	if len(out) != 1 || out[0].Action != string(booking.ActionIgnored) || out[0].Replied || out[0].Reply != nil {
		t.Errorf("outcomes %+v", out)
	}
	if got, _ := f.out.Received(); len(got) != 0 {
		t.Errorf("%d replies", len(got))
	}
}

// A repeated invite is answered without the PIN, which the store keeps
// only as a hash: the answer says it was in the first one, and the PIN
// mailed then still opens the meeting.
func TestSubmitDuplicateAnswerKeepsPIN(t *testing.T) {
	f := newFixture(t, march2025, mailertest.Options{})
	first := f.submit(opptak)[0]
	again := f.submit(opptak)[0]
	if first.Action != string(booking.ActionBooked) || !sixDigits.MatchString(first.PIN) ||
		again.Action != string(booking.ActionDuplicate) || !again.Replied || again.PIN != "" {
		t.Fatalf("outcomes %+v, %+v", first, again)
	}
	got, _ := f.out.Received()
	if len(got) != 2 {
		t.Fatalf("%d replies", len(got))
	}
	r := readReply(t, got[1].Data)
	for _, want := range []string{"tast inn møtets PIN-kode", "PIN-koden stod i det første svaret", "ring 4711*PIN med møtets PIN-kode"} {
		if !strings.Contains(r.text, want) {
			t.Errorf("second answer lacks %q:\n%s", want, r.text)
		}
	}
	if strings.Contains(r.text, "Ingen PIN-kode trengs") {
		t.Errorf("second answer says no PIN is needed:\n%s", r.text)
	}
	if s := f.schedule(first.UID); !pin.NewMatcher(first.PIN).Matches(s.PIN) {
		t.Errorf("stored %+v does not match the mailed PIN", s)
	}
}
