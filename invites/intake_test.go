package invites

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-ical"
	gosmtp "github.com/emersion/go-smtp"

	"brygga/calendar"
	"brygga/mailer/mailertest"
	"brygga/pin"
	"brygga/store"
)

const opptak = "written/outlook-request-opptak-w-europe-base64.eml" // Kari's 90-minute [opptak] meeting, 10 March 2025

var sixDigits = regexp.MustCompile(`^[0-9]{6}$`)

// An Outlook invite over SMTP is booked, and Kari gets one mail with the
// dial-in in Norwegian and the ACCEPTED REPLY her Outlook files.
func TestSMTPInviteBookedAndAccepted(t *testing.T) {
	f := newFixture(t, march2025, mailertest.Options{})
	f.desk.Number = "+4722950"
	addr := f.serve("127.0.0.1:0")

	if c, msg := code(t, sendSMTP(t, addr, kari, bridge, testdata(t, opptak))); c != 250 {
		t.Fatalf("answer %d %s, want 250", c, msg)
	}
	got := f.received(1)[0]
	if len(got.To) != 1 || got.To[0] != kari || got.From != bridge {
		t.Errorf("envelope %s -> %v", got.From, got.To)
	}
	r := readReply(t, got.Data)
	if r.mimeType != "multipart/alternative" {
		t.Errorf("Content-Type %s, want multipart/alternative", r.mimeType)
	}
	if cc := r.header.Get("Content-Class"); cc != "urn:content-classes:calendarmessage" {
		t.Errorf("Content-Class %q", cc)
	}
	if id := r.header.Get("Message-Id"); !strings.HasSuffix(id, "@example.org>") {
		t.Errorf("Message-ID %q", id)
	}
	if as := r.header.Get("Auto-Submitted"); as != "auto-replied" {
		t.Errorf("Auto-Submitted %q", as)
	}
	if to := r.header.Get("To"); !strings.Contains(to, "Kari Nordmann") || !strings.Contains(to, kari) {
		t.Errorf("To %q", to)
	}
	if r.subject != "Godtatt: [opptak] Budsjettmøte" {
		t.Errorf("Subject %q", r.subject)
	}
	if !strings.Contains(r.calType, "method=REPLY") || !strings.Contains(strings.ToLower(r.calType), "charset=utf-8") {
		t.Errorf("calendar part Content-Type %q", r.calType)
	}

	s := f.schedule("040000008200E00074C5B7101A82E00800000000B0C1D2E3F4A5DB01000000000000000010000000AABBCCDDEEFF00112233445566778899")
	p := mailedPIN(t, r.text)
	if s.Room != "4711" || !pin.NewMatcher(p).Matches(s.PIN) || !s.Record {
		t.Fatalf("stored %+v, mailed PIN %q", s, p)
	}
	for _, want := range []string{"Telefonmøtet «[opptak] Budsjettmøte» er booket.", "+47229504711", "PIN-koden " + p,
		"Fra en intern telefon ringer du 4711.", "ring 4711*" + p, "tas opp", "avsluttes etter 60 minutter"} {
		if !strings.Contains(r.text, want) {
			t.Errorf("text lacks %q:\n%s", want, r.text)
		}
	}
	if strings.Contains(r.text, "Note:") {
		t.Errorf("the text repeats in English what it said in Norwegian:\n%s", r.text)
	}

	if r.method != "REPLY" {
		t.Errorf("METHOD %q", r.method)
	}
	if status, comment := r.partstat(t); status != "ACCEPTED" || comment != "" {
		t.Errorf("PARTSTAT %s, COMMENT %q", status, comment)
	}
	if uid, _ := r.event.Props.Text(ical.PropUID); uid != s.UID {
		t.Errorf("UID %q", uid)
	}
	if org := r.event.Props.Get(ical.PropOrganizer); org == nil || org.Value != "mailto:"+kari {
		t.Errorf("ORGANIZER %+v", org)
	}
	// brygga's own reader finds the REPLY where Outlook looks for it.
	if ics, err := calendar.FromMessage(bytes.NewReader(got.Data)); err != nil || !bytes.Contains(ics, []byte("PARTSTAT=ACCEPTED")) {
		t.Errorf("FromMessage: %v\n%s", err, ics)
	}
}

// Over LMTP on a unix socket, left behind by an earlier run, the same.
func TestLMTPUnixSocket(t *testing.T) {
	f := newFixture(t, march2022, mailertest.Options{})
	sock := filepath.Join(t.TempDir(), "invites.sock")
	stale, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close()

	f.serve("lmtp:" + sock)
	if fi, err := os.Stat(sock); err != nil || fi.Mode()&fs.ModeSocket == 0 || fi.Mode().Perm() != 0o660 {
		t.Fatalf("socket %v, %v", fi, err)
	}

	c := gosmtp.NewClientLMTP(dialLMTP(t, sock))
	if err := c.Hello("mx.example.org"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail(sender, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt(bridge, nil); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(testdata(t, "ics/imip-request-single.eml")); err != nil {
		t.Fatal(err)
	}
	status, err := w.CloseWithLMTPResponse()
	if err != nil || status[bridge] == nil {
		t.Fatalf("LMTP status %v, %v", status, err)
	}
	c.Quit()

	s := f.schedule("02e79b96")
	r := readReply(t, f.received(1)[0].Data)
	if st, _ := r.partstat(t); st != "ACCEPTED" {
		t.Errorf("PARTSTAT %s", st)
	}
	p := mailedPIN(t, r.text)
	if !pin.NewMatcher(p).Matches(s.PIN) {
		t.Errorf("mailed PIN %q is not the stored one", p)
	}
	for _, want := range []string{"Your phone meeting “Single Event” is booked.", "call 4712 and enter the PIN " + p, "dial 4712*" + p} {
		if !strings.Contains(r.text, want) {
			t.Errorf("text lacks %q:\n%s", want, r.text)
		}
	}
}

func TestListenRefusesSocketInUseAndPlainFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sock := filepath.Join(dir, "live.sock")
	live, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	if _, _, err := Listen(sock); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("a live socket: %v", err)
	}
	file := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(file, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Listen("lmtp:" + file); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("a plain file: %v", err)
	}
	if b, _ := os.ReadFile(file); string(b) != "keep me" {
		t.Error("the plain file was touched")
	}
}

// What the intake refuses, and how: the sending server bounces it to its
// sender with the text.
func TestRefused(t *testing.T) {
	f := newFixture(t, march2025, mailertest.Options{})
	addr := f.serve("127.0.0.1:0")
	accepted := bytes.Replace(allDay, []byte("METHOD:REQUEST"), []byte("METHOD:REPLY"), 1)
	tests := []struct {
		name, rcpt string
		data       []byte
		code       int
		msg        string
	}{
		{"unknown recipient", "someone@example.org", testdata(t, opptak), 550,
			"5.1.1 no mailbox someone@example.org here: brygga takes meeting invitations for " + bridge + " only"},
		{"no invitation", bridge, newMail("Kari Nordmann <"+kari+">", "Spørsmål", "text/plain; charset=utf-8", "Kan jeg booke et møte?"), 554,
			"5.6.0 brygga only reads meeting invitations (no text/calendar part)"},
		{"a reply", bridge, accepted, 554,
			`5.6.0 brygga could not read the meeting invitation: unsupported METHOD: "REPLY"`},
	}
	for _, tt := range tests {
		if c, msg := code(t, sendSMTP(t, addr, kari, tt.rcpt, tt.data)); c != tt.code || msg != tt.msg {
			t.Errorf("%s: answer %d %q, want %d %q", tt.name, c, msg, tt.code, tt.msg)
		}
	}
	if got, _ := f.out.Received(); len(got) != 0 {
		t.Errorf("%d replies", len(got))
	}
}

func TestUnknownOrganizerDeclined(t *testing.T) {
	f := newFixture(t, march2025, mailertest.Options{})
	addr := f.serve("127.0.0.1:0")
	const anna = "anna.svensson@example.se"
	if c, msg := code(t, sendSMTP(t, addr, anna, bridge, testdata(t, "written/google-request-stockholm-inspelning.eml"))); c != 250 {
		t.Fatalf("answer %d %s", c, msg)
	}
	got := f.received(1)[0]
	if len(got.To) != 1 || got.To[0] != anna {
		t.Errorf("sent to %v", got.To)
	}
	r := readReply(t, got.Data)
	status, comment := r.partstat(t)
	if status != "DECLINED" || !strings.Contains(comment, "unknown organizer") {
		t.Errorf("PARTSTAT %s, COMMENT %q", status, comment)
	}
	if !strings.Contains(r.text, "could not be booked") || !strings.Contains(r.text, "unknown organizer: "+anna) {
		t.Errorf("text:\n%s", r.text)
	}
	if _, err := f.db.ScheduleByUID("5k2vq8m1c7t4h3j9p0r6s2n8bd@google.com"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("stored: %v", err)
	}
}

// allDay is an Outlook all-day event from Kari.
var allDay = newMail("Kari Nordmann <"+kari+">", "Planleggingsdag", `text/calendar; method=REQUEST; charset="utf-8"`,
	outlookRequest(
		"UID:040000008200E00074C5B7101A82E0080000000012345678",
		"SUMMARY;LANGUAGE=nb-NO:Planleggingsdag",
		"DTSTART;VALUE=DATE:20250312",
		"DTEND;VALUE=DATE:20250313",
		"X-MICROSOFT-CDO-ALLDAYEVENT:TRUE",
	))

// outlookRequest is the calendar of a REQUEST as Outlook writes it, from
// Kari to the bridge, with the event's own properties.
func outlookRequest(props ...string) string {
	lines := []string{
		"BEGIN:VCALENDAR",
		"METHOD:REQUEST",
		"PRODID:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN",
		"VERSION:2.0",
		"BEGIN:VEVENT",
		"ORGANIZER;CN=Kari Nordmann:mailto:" + kari,
		"ATTENDEE;ROLE=REQ-PARTICIPANT;RSVP=TRUE;CN=Konferanse:mailto:" + bridge,
		"DTSTAMP:20250301T081500Z",
		"SEQUENCE:0",
	}
	lines = append(lines, props...)
	return strings.Join(append(lines, "END:VEVENT", "END:VCALENDAR", ""), "\r\n")
}

// An invite calendar refuses is taken and declined in the room's language.
func TestAllDayDeclined(t *testing.T) {
	f := newFixture(t, march2025, mailertest.Options{})
	addr := f.serve("127.0.0.1:0")
	if c, msg := code(t, sendSMTP(t, addr, kari, bridge, allDay)); c != 250 {
		t.Fatalf("answer %d %s", c, msg)
	}
	r := readReply(t, f.received(1)[0].Data)
	status, comment := r.partstat(t)
	if status != "DECLINED" || !strings.HasPrefix(comment, "Heldagshendelser kan ikke bookes") {
		t.Errorf("PARTSTAT %s, COMMENT %q", status, comment)
	}
	if r.subject != "Avslått: Planleggingsdag" || !strings.Contains(r.text, "Årsak: Heldagshendelser") {
		t.Errorf("%s\n%s", r.subject, r.text)
	}
}

// An invite without a UID cannot be named in a REPLY: its sender gets the
// reason as a plain message.
func TestNoUIDDeclinedToSender(t *testing.T) {
	f := newFixture(t, march2025, mailertest.Options{})
	addr := f.serve("127.0.0.1:0")
	data := bytes.Replace(allDay, []byte("UID:040000008200E00074C5B7101A82E0080000000012345678\r\n"), nil, 1)
	data = bytes.Replace(data, []byte("From: Kari Nordmann <"+kari+">"), []byte("From: =?utf-8?Q?Ola_Hansen?= <ola.hansen@example.org>"), 1)
	// From another envelope sender, From is an address the sender merely
	// wrote: it gets nothing.
	if c, msg := code(t, sendSMTP(t, addr, "bounces@example.org", bridge, data)); c != 250 {
		t.Fatalf("answer %d %s", c, msg)
	}
	if c, msg := code(t, sendSMTP(t, addr, "ola.hansen@example.org", bridge, data)); c != 250 {
		t.Fatalf("answer %d %s", c, msg)
	}
	got := f.received(1)[0]
	if len(got.To) != 1 || got.To[0] != "ola.hansen@example.org" {
		t.Errorf("sent to %v, want the From of the invite", got.To)
	}
	r := readReply(t, got.Data)
	if r.event != nil || r.mimeType != "text/plain" || r.header.Get("Content-Class") != "" {
		t.Errorf("a REPLY without a UID: %s, %+v", r.mimeType, r.event)
	}
	if !strings.Contains(r.text, "no UID") {
		t.Errorf("text:\n%s", r.text)
	}
}

// An attendee does not answer a CANCEL: the meeting is cancelled, and the
// organizer gets no mail for it.
func TestCancelNotAnswered(t *testing.T) {
	f := newFixture(t, march2022, mailertest.Options{})
	addr := f.serve("127.0.0.1:0")
	for _, name := range []string{"ics/imip-request-single.eml", "ics/imip-cancel-single.eml"} {
		if c, msg := code(t, sendSMTP(t, addr, sender, bridge, testdata(t, name))); c != 250 {
			t.Fatalf("%s: answer %d %s", name, c, msg)
		}
	}
	if s := f.schedule("02e79b96"); s.State != store.ScheduleCancelled || s.Sequence != 1 {
		t.Errorf("after the CANCEL: %s, SEQUENCE %d", s.State, s.Sequence)
	}
	if r := readReply(t, f.received(1)[0].Data); r.method != "REPLY" {
		t.Errorf("the one reply is %q", r.method)
	}
}

// A store that fails asks the mail server to try again.
func TestStoreFailureAsksAgain(t *testing.T) {
	f := newFixture(t, march2025, mailertest.Options{})
	addr := f.serve("127.0.0.1:0")
	f.db.Close()
	c, msg := code(t, sendSMTP(t, addr, kari, bridge, testdata(t, opptak)))
	if c != 451 || !strings.HasPrefix(msg, "4.3.0 ") {
		t.Errorf("answer %d %s, want 451 4.3.0", c, msg)
	}
	if got, _ := f.out.Received(); len(got) != 0 {
		t.Errorf("%d replies", len(got))
	}
}

// A reply the submission server turns away for now asks the mail server to
// try again; the new booking is undone (its PIN, kept only as a hash,
// would be lost), so the retry books it with the PIN its answer carries.
func TestReplyDeferredAsksAgain(t *testing.T) {
	f := newFixture(t, march2025, mailertest.Options{RcptCode: 451})
	addr := f.serve("127.0.0.1:0")
	if c, msg := code(t, sendSMTP(t, addr, kari, bridge, testdata(t, opptak))); c != 451 {
		t.Errorf("answer %d %s, want 451", c, msg)
	}
	if s, err := f.db.Schedules(); err != nil || len(s) != 0 {
		t.Errorf("stored %d, %v", len(s), err)
	}
}

func TestListenConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		spec, network, address string
		lmtp, bad              bool
	}{
		{spec: "127.0.0.1:2525", network: "tcp", address: "127.0.0.1:2525"},
		{spec: "[::1]:25", network: "tcp", address: "[::1]:25"},
		{spec: ":2525", network: "tcp", address: ":2525"},
		{spec: "lmtp:127.0.0.1:24", network: "tcp", address: "127.0.0.1:24", lmtp: true},
		{spec: "lmtp:/run/brygga/lmtp.sock", network: "unix", address: "/run/brygga/lmtp.sock", lmtp: true},
		{spec: "/run/brygga/lmtp.sock", network: "unix", address: "/run/brygga/lmtp.sock", lmtp: true},
		{spec: "", bad: true},
		{spec: "lmtp:", bad: true},
		{spec: "mail.example.org", bad: true},
		{spec: "127.0.0.1:smtp", bad: true},
		{spec: "127.0.0.1:70000", bad: true},
		{spec: "lmtp:relative.sock", bad: true},
	}
	for _, tt := range tests {
		network, address, lmtp, err := ListenConfig(tt.spec)
		if tt.bad {
			if err == nil {
				t.Errorf("%q: no error", tt.spec)
			}
			continue
		}
		if err != nil || network != tt.network || address != tt.address || lmtp != tt.lmtp {
			t.Errorf("%q: %s %s lmtp=%v %v", tt.spec, network, address, lmtp, err)
		}
	}
}

// Serve returns at once when its context has already ended.
func TestServeStopsWithContext(t *testing.T) {
	t.Parallel()
	l, lmtp, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	d := &Desk{Address: bridge, Logger: slog.New(slog.DiscardHandler)}
	if err := d.Serve(ctx, l, lmtp); err != nil {
		t.Errorf("Serve: %v", err)
	}
	if c, err := net.Dial("tcp", l.Addr().String()); err == nil {
		c.Close()
		t.Error("the listener is still open")
	}
}

// mailedPIN is the meeting PIN an answer's text gives in its one-step
// dial string (extension*PIN).
func mailedPIN(t *testing.T, text string) string {
	t.Helper()
	m := regexp.MustCompile(`[0-9]+\*([0-9]{6})\b`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no extension*PIN in the answer:\n%s", text)
	}
	return m[1]
}

// TestConnectionsPerSource: one address holding mail.max_connections_per_source
// connections has its next one closed unanswered, while another address
// is greeted; closing one lets the first address in again.
func TestConnectionsPerSource(t *testing.T) {
	f := newFixture(t, march2025, mailertest.Options{})
	f.desk.MaxConnsPerSource = 2
	refused := make(chan struct{}, 8)
	f.desk.OnRefused = func() {
		select {
		case refused <- struct{}{}:
		default:
		}
	}
	addr := f.serve("127.0.0.1:0")
	dial := func(src string) net.Conn {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	// greeting is the server's first line, or "" when it closed the
	// connection without one.
	greeting := func(c net.Conn) string {
		t.Helper()
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("reading the greeting: %v", err)
		}
		return line
	}
	held := []net.Conn{dial("127.0.0.66"), dial("127.0.0.66")}
	for _, c := range held {
		if g := greeting(c); !strings.HasPrefix(g, "220 ") {
			t.Fatalf("greeting %q, want 220", g)
		}
	}
	if g := greeting(dial("127.0.0.66")); g != "" {
		t.Fatalf("a third connection from 127.0.0.66 was greeted: %q", g)
	}
	select {
	case <-refused:
	case <-time.After(5 * time.Second):
		t.Fatal("the refusal was not counted")
	}
	if g := greeting(dial("127.0.0.67")); !strings.HasPrefix(g, "220 ") {
		t.Fatalf("127.0.0.67 got %q, want 220", g)
	}
	held[0].Close()
	for i := 0; ; i++ {
		if g := greeting(dial("127.0.0.66")); strings.HasPrefix(g, "220 ") {
			break
		}
		if i == 50 {
			t.Fatal("127.0.0.66 was not let in again after closing a connection")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
