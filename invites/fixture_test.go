package invites

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/smtp"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-ical"
	"github.com/emersion/go-message"
	gomessagemail "github.com/emersion/go-message/mail"

	"brygga/booking"
	"brygga/config"
	"brygga/mailer"
	"brygga/mailer/mailertest"
	"brygga/store"
)

const (
	bridge = "brygga@example.org"
	kari   = "kari.nordmann@example.org" // room 4711, Norwegian
	sender = "sender@example.com"        // room 4712, English: the organizer of the imip-* corpus mails
)

// When the test invites arrive: before the meetings in them.
var (
	march2025 = time.Date(2025, 3, 1, 8, 15, 0, 0, time.UTC) // written/outlook-request-opptak-w-europe-base64.eml
	march2022 = time.Date(2022, 3, 16, 0, 0, 0, 0, time.UTC) // ics/imip-*.eml
)

// fixture is a Desk on a real store, replying through a mailertest server.
type fixture struct {
	t    *testing.T
	desk *Desk
	db   *store.DB
	out  *mailertest.Server // the organization's submission server
}

// newFixture makes a Desk whose clock stands at now and whose replies go to
// a mailertest server started with o.
func newFixture(t *testing.T, now time.Time, o mailertest.Options) *fixture {
	t.Helper()
	t.Parallel()
	db, err := store.Open(filepath.Join(t.TempDir(), "brygga.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	cfg := config.Default()
	room := func(ext, name, email, lang string) config.Room {
		s := cfg.Defaults
		s.WarnMinutes = append([]int(nil), s.WarnMinutes...)
		s.Language = lang
		return config.Room{Extension: ext, Name: name, Email: email, Settings: s}
	}
	cfg.Directory = []config.Room{
		room("4711", "Kari Nordmann", "Kari.Nordmann@example.org", "nb"),
		room("4712", "Sender", sender, "en"),
	}
	cfg.Directory[0].Delegates = []string{"Assistent@example.org"}
	rooms, err := store.NewRooms(db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	clock := func() time.Time { return now }
	out := mailertest.Start(t, o)
	return &fixture{t: t, db: db, out: out, desk: &Desk{
		Booker:   &booking.Booker{DB: db, Rooms: rooms, Defaults: cfg.Defaults, Now: clock, Logger: logger},
		Mail:     &mailer.Server{URL: "smtp://" + out.Addr},
		From:     "Konferanse <" + bridge + ">",
		Address:  bridge,
		Defaults: cfg.Defaults,
		Now:      clock,
		Logger:   logger,
	}}
}

// serve runs the Desk's intake on spec until the test ends and returns
// the address it listens on.
func (f *fixture) serve(spec string) string {
	f.t.Helper()
	l, lmtp, err := Listen(spec)
	if err != nil {
		f.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.desk.Serve(ctx, l, lmtp) }()
	f.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			f.t.Errorf("Serve: %v", err)
		}
	})
	return l.Addr().String()
}

// testdata reads one of package calendar's test mails.
func testdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "calendar", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sendSMTP hands data to the intake at addr as a mail server would, with
// net/smtp; the error is the intake's answer (a *textproto.Error).
func sendSMTP(t *testing.T, addr, from, to string, data []byte) error {
	t.Helper()
	return smtp.SendMail(addr, nil, from, []string{to}, data)
}

// code is the SMTP reply code of err; 250 for nil.
func code(t *testing.T, err error) (int, string) {
	t.Helper()
	if err == nil {
		return 250, ""
	}
	var te *textproto.Error
	if !errors.As(err, &te) {
		t.Fatalf("not an SMTP answer: %v", err)
	}
	return te.Code, te.Msg
}

// received waits for the outgoing server to have n messages.
func (f *fixture) received(n int) []mailertest.Message {
	f.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, _ := f.out.Received()
		if len(got) >= n || time.Now().After(deadline) {
			if len(got) != n {
				f.t.Fatalf("the organizer got %d messages, want %d", len(got), n)
			}
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// schedule is the stored meeting of uid.
func (f *fixture) schedule(uid string) store.Schedule {
	f.t.Helper()
	s, err := f.db.ScheduleByUID(uid)
	if err != nil {
		f.t.Fatalf("schedule %s: %v", uid, err)
	}
	return s
}

// reply is a reply mail as the organizer's mail program reads it.
type reply struct {
	header   gomessagemail.Header
	subject  string
	mimeType string // of the whole message
	text     string // the text/plain part
	calType  string // the text/calendar part's Content-Type as written; "" without one
	event    *ical.Event
	method   string
}

// readReply takes a reply apart with go-message and go-ical.
func readReply(t *testing.T, data []byte) reply {
	t.Helper()
	e, err := message.Read(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("reading the reply: %v\n%s", err, data)
	}
	r := reply{header: gomessagemail.Header{Header: e.Header}}
	r.subject, _ = r.header.Subject()
	r.mimeType, _, _ = e.Header.ContentType()
	part := func(p *message.Entity) {
		mt, _, _ := p.Header.ContentType()
		body, err := io.ReadAll(p.Body)
		if err != nil {
			t.Fatal(err)
		}
		switch mt {
		case "text/plain":
			r.text = string(body)
		case "text/calendar":
			r.calType = p.Header.Get("Content-Type")
			cal, err := ical.NewDecoder(bytes.NewReader(body)).Decode()
			if err != nil {
				t.Fatalf("go-ical cannot read the REPLY: %v\n%s", err, body)
			}
			r.method, _ = cal.Props.Text(ical.PropMethod)
			if evs := cal.Events(); len(evs) == 1 {
				r.event = &evs[0]
			} else {
				t.Fatalf("the REPLY has %d events", len(evs))
			}
		default:
			t.Errorf("unexpected part %s", mt)
		}
	}
	mr := e.MultipartReader()
	if mr == nil {
		part(e)
		return r
	}
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return r
		}
		if err != nil {
			t.Fatal(err)
		}
		part(p)
	}
}

// partstat is the bridge's answer in the REPLY, with its comment.
func (r reply) partstat(t *testing.T) (status, comment string) {
	t.Helper()
	if r.event == nil {
		t.Fatalf("the reply has no REPLY part:\n%s", r.text)
	}
	att := r.event.Props.Get(ical.PropAttendee)
	if att == nil || att.Value != "mailto:"+bridge {
		t.Fatalf("ATTENDEE %+v", att)
	}
	comment, _ = r.event.Props.Text(ical.PropComment)
	return att.Params.Get(ical.ParamParticipationStatus), comment
}

// dialLMTP connects to the intake's unix socket.
func dialLMTP(t *testing.T, path string) net.Conn {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// newMail is a small message for the intake.
func newMail(from, subject, contentType, body string) []byte {
	return []byte(strings.Join([]string{
		"From: " + from,
		"To: Konferanse <" + bridge + ">",
		"Subject: " + subject,
		"Date: Sat, 1 Mar 2025 08:15:00 +0000",
		"MIME-Version: 1.0",
		"Content-Type: " + contentType,
		"",
		body,
	}, "\r\n"))
}
