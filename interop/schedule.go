package interop

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"regexp"
	"strings"
	"testing"
	"time"

	"brygga/mailer/mailertest"
)

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
	return fmt.Sprintf(`open_rooms: ""
defaults:
  names: false
api:
  tokens:
    - {name: interop-ops, token: "%s", role: operator}
mail:
  smtp: "smtp://%s"
  from: "Konferanse <brygga@example.org>"
  listen: "127.0.0.1:%d"
  address: "brygga@example.org"
directory:
  - %s
`, OpsToken, out.Addr, intake, room)
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
