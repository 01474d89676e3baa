package interop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"brygga/mailer/mailertest"
	"brygga/phone"
)

// TestOutlookInviteBySMTPBooksAMeeting: an Outlook meeting request sent by
// SMTP books the organizer's room and is answered with the dial-in; the
// meeting's PIN gets a phone into the room in the meeting's window, while
// another meeting's PIN, tomorrow, is refused; both survive a restart.
func TestOutlookInviteBySMTPBooksAMeeting(t *testing.T) {
	out := mailertest.Start(t, mailertest.Options{})
	intake := freeTCPPort(t)
	cfg := mailConfig(out, intake, `{extension: "4714", name: "Kari Nordmann", email: kari.nordmann@example.org, language: nb, pin: "2468", host_pin: "97531"}`)
	dir := t.TempDir()
	b := StartBridgeIn(t, dir, cfg)

	send := func(msg string) {
		t.Helper()
		err := smtp.SendMail(fmt.Sprintf("127.0.0.1:%d", intake), nil, "kari.nordmann@example.org",
			[]string{"brygga@example.org"}, []byte(msg))
		if err != nil {
			t.Fatalf("sending the invite: %v", err)
		}
	}
	soon := time.Now().Truncate(time.Minute).Add(5 * time.Minute) // inside the 10 minutes of early join
	send(outlookInvite("040000008200E00074C5B7101A82E00800000000A1", "Budsjettmøte", soon))
	text := replyText(t, out, 1)
	m := oneStep.FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("the reply has no one-step dial string 4714*PIN:\n%s", text)
	}
	meetingPIN := m[1]
	t.Logf("the reply:\n%s", text)
	if !strings.Contains(text, soon.In(mustLoad(t, "Europe/Oslo")).Format("15.04")) || !strings.Contains(text, "Europe/Oslo") {
		t.Errorf("the reply does not give the start time (Norwegian style, 15.04):\n%s", text)
	}
	tomorrow := soon.Add(24 * time.Hour)
	send(outlookInvite("040000008200E00074C5B7101A82E00800000000B2", "Planlegging", tomorrow))
	later := oneStep.FindStringSubmatch(replyText(t, out, 2))
	if later == nil || later[1] == meetingPIN {
		t.Fatalf("second meeting's PIN %v, first %s", later, meetingPIN)
	}

	var list []struct {
		Summary     string
		Occurrences []struct{ State string }
	}
	if code := APICall(t, b, OpsToken, "GET", "/api/v1/schedules", "", &list); code != 200 || len(list) != 2 {
		t.Fatalf("schedules: %d %+v", code, list)
	}
	states := map[string]string{}
	for _, s := range list {
		states[s.Summary] = s.Occurrences[0].State
	}
	if states["Budsjettmøte"] != "open" || states["Planlegging"] != "upcoming" {
		t.Fatalf("occurrence states %v", states)
	}

	// Restart: the bookings are in the store.
	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
	b = StartBridgeIn(t, dir, cfg)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ph, err := phone.New(ctx, phone.Config{User: "guest"})
	if err != nil {
		t.Fatal(err)
	}
	defer ph.Close()
	// Tomorrow's PIN today: told the meeting is not open, and hung up.
	early, err := ph.Dial(ctx, "sip:4714@"+b.SIP)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if err := early.SendDigits(later[1] + "#"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-early.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("a PIN outside its meeting's window was not sent away")
	}
	if !strings.Contains(b.Log(), "scheduled meeting not open") {
		t.Error("the bridge did not log why it refused the caller")
	}
	// Today's meeting PIN: in.
	call, err := ph.Dial(ctx, "sip:4714@"+b.SIP)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if err := call.SendDigits(meetingPIN + "#"); err != nil {
		t.Fatal(err)
	}
	var conf struct {
		Members []struct{ ID, Role string }
		EndsAt  string `json:"ends_at"`
	}
	deadline := time.Now().Add(30 * time.Second)
	for conf.EndsAt == "" && time.Now().Before(deadline) { // set once the caller is past the joining prompt
		time.Sleep(300 * time.Millisecond)
		APICall(t, b, OpsToken, "GET", "/api/v1/conferences/4714", "", &conf)
	}
	if len(conf.Members) != 1 || conf.Members[0].Role != "participant" {
		t.Fatalf("the meeting PIN did not let the caller in: %+v", conf)
	}
	// The meeting's limit counts from its booked start: 60 minutes.
	if end, err := time.Parse(time.RFC3339, conf.EndsAt); err != nil || !end.Equal(soon.Add(60*time.Minute)) {
		t.Errorf("meeting ends %q, want %v", conf.EndsAt, soon.Add(60*time.Minute).UTC())
	}
	call.Hangup(ctx)
}

// TestScheduleOrganizerProven: against the real binary, the reported
// attack, mail from attacker@evil.org naming the owner as ORGANIZER of a
// [sensitiv] day in her room, is refused with 550 5.7.1 and books nothing
// and mails no one; the same kind of invite sent on the owner's behalf by
// the delegate the directory lists is booked, and the owner is told.
func TestScheduleOrganizerProven(t *testing.T) {
	out := mailertest.Start(t, mailertest.Options{})
	intake := freeTCPPort(t)
	cfg := mailConfig(out, intake, `{extension: "4714", name: "Kari Nordmann", email: kari.nordmann@example.org, delegates: [assistent@example.org], language: nb, pin: "2468"}`)
	b := StartBridgeIn(t, t.TempDir(), cfg)
	send := func(envelope, msg string) error {
		return smtp.SendMail(fmt.Sprintf("127.0.0.1:%d", intake), nil, envelope, []string{"brygga@example.org"}, []byte(msg))
	}
	schedules := func() int {
		t.Helper()
		var list []struct{ Summary string }
		if code := APICall(t, b, OpsToken, "GET", "/api/v1/schedules", "", &list); code != 200 {
			t.Fatalf("schedules: %d", code)
		}
		return len(list)
	}

	day := time.Now().Truncate(24 * time.Hour).Add(24*time.Hour + 8*time.Hour) // tomorrow 08:00 UTC
	forged := strings.Replace(outlookInvite("040000008200E00074C5B7101A82E00800000000C3", "[sensitiv] Kartlegging", day),
		"From: Kari Nordmann <kari.nordmann@example.org>", "From: attacker@evil.org", 1)
	err := send("attacker@evil.org", forged)
	var te *textproto.Error
	if !errors.As(err, &te) || te.Code != 550 || !strings.HasPrefix(te.Msg, "5.7.1 ") || !strings.Contains(te.Msg, "attacker@evil.org") {
		t.Fatalf("the forged invite: %v, want 550 5.7.1 naming the sender", err)
	}
	if n := schedules(); n != 0 {
		t.Fatalf("the forged invite booked %d meetings", n)
	}
	if !strings.Contains(b.Log(), "refused an invitation its organizer is not proven to have sent") {
		t.Error("no warning in the bridge's log")
	}

	onBehalf := "Sender: Assistent <assistent@example.org>\r\n" +
		outlookInvite("040000008200E00074C5B7101A82E00800000000D4", "[opptak] Budsjett", day)
	if err := send("assistent@example.org", onBehalf); err != nil {
		t.Fatalf("the delegate's invite: %v", err)
	}
	if n := schedules(); n != 1 {
		t.Fatalf("the delegate's invite: %d meetings booked", n)
	}
	// The reply and the notice, both to Kari; none ever to the attacker.
	deadline := time.Now().Add(20 * time.Second)
	got, _ := out.Received()
	for len(got) < 2 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		got, _ = out.Received()
	}
	subjects := []string{}
	for _, m := range got {
		if len(m.To) != 1 || m.To[0] != "kari.nordmann@example.org" {
			t.Errorf("mail to %v", m.To)
		}
		msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
		if err != nil {
			t.Fatal(err)
		}
		s, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
		subjects = append(subjects, s)
	}
	if len(got) != 2 || !slices.Contains(subjects, "Booket i rom 4714: [opptak] Budsjett") {
		t.Errorf("mails %q, want the reply and the notice", subjects)
	}
}

// outlookInvite is a meeting request as Outlook 16 writes it, in W. Europe
// Standard Time, for start (a whole minute) lasting 30 minutes.
func outlookInvite(uid, summary string, start time.Time) string {
	oslo, _ := time.LoadLocation("Europe/Berlin") // the zone CLDR gives "W. Europe Standard Time"
	local := start.In(oslo)
	ics := strings.Join([]string{
		"BEGIN:VCALENDAR",
		"PRODID:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN",
		"VERSION:2.0",
		"METHOD:REQUEST",
		"BEGIN:VTIMEZONE",
		"TZID:W. Europe Standard Time",
		"BEGIN:STANDARD",
		"DTSTART:16010101T030000",
		"TZOFFSETFROM:+0200",
		"TZOFFSETTO:+0100",
		"RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10",
		"END:STANDARD",
		"BEGIN:DAYLIGHT",
		"DTSTART:16010101T020000",
		"TZOFFSETFROM:+0100",
		"TZOFFSETTO:+0200",
		"RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3",
		"END:DAYLIGHT",
		"END:VTIMEZONE",
		"BEGIN:VEVENT",
		"ATTENDEE;CN=Konferanse;RSVP=TRUE:mailto:brygga@example.org",
		"DTSTART;TZID=\"W. Europe Standard Time\":" + local.Format("20060102T150405"),
		"DTEND;TZID=\"W. Europe Standard Time\":" + local.Add(30*time.Minute).Format("20060102T150405"),
		"DTSTAMP:" + time.Now().UTC().Format("20060102T150405Z"),
		"ORGANIZER;CN=\"Kari Nordmann\":mailto:kari.nordmann@example.org",
		"SEQUENCE:0",
		"SUMMARY;LANGUAGE=nb:" + summary,
		"UID:" + uid,
		"END:VEVENT",
		"END:VCALENDAR",
		"",
	}, "\r\n")
	return "From: Kari Nordmann <kari.nordmann@example.org>\r\n" +
		"To: Konferanse <brygga@example.org>\r\n" +
		"Subject: " + summary + "\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: text/calendar; charset=\"utf-8\"; method=REQUEST\r\n" +
		"Content-Transfer-Encoding: 8bit\r\n\r\n" + ics
}

// replyText waits for the n-th reply mail and returns its text part.
func replyText(t *testing.T, out *mailertest.Server, n int) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if got, _ := out.Received(); len(got) >= n {
			msg, err := mail.ReadMessage(bytes.NewReader(got[n-1].Data))
			if err != nil {
				t.Fatal(err)
			}
			_, params, _ := mime.ParseMediaType(msg.Header.Get("Content-Type"))
			mr := multipart.NewReader(msg.Body, params["boundary"])
			for {
				p, err := mr.NextPart()
				if err != nil {
					break
				}
				if strings.HasPrefix(p.Header.Get("Content-Type"), "text/plain") {
					b, _ := io.ReadAll(p)
					return string(b)
				}
			}
			t.Fatalf("reply without a text part:\n%s", got[n-1].Data)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("no reply %d arrived", n)
	return ""
}

// mailConfig is a bridge that takes invites on port intake and mails
// through out, with the one directory entry room.
func mailConfig(out *mailertest.Server, intake int, room string) string {
	return opsConfig + fmt.Sprintf(`mail:
  smtp: "smtp://%s"
  from: "Konferanse <brygga@example.org>"
  listen: "127.0.0.1:%d"
  address: "brygga@example.org"
directory:
  - %s
`, out.Addr, intake, room)
}

var oneStep = regexp.MustCompile(`4714\*(\d{4,8})`)

func mustLoad(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}
