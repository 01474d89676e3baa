package invites

import (
	"bytes"
	"strings"
	"testing"

	"brygga/mailer/mailertest"
	"brygga/store"
)

const (
	attacker  = "attacker@evil.org"
	assistent = "assistent@example.org" // Kari's delegate in the fixture
)

// invite is an Outlook invite from Kari for 10 March 2025 09:00–17:00
// with summary, sent with the given extra header fields.
func invite(summary string, fields ...string) []byte {
	msg := newMail("Kari Nordmann <"+kari+">", summary, `text/calendar; method=REQUEST; charset="utf-8"`,
		outlookRequest(
			"UID:040000008200E00074C5B7101A82E00800000000ABCDEF",
			"SUMMARY:"+summary,
			"DTSTART:20250310T080000Z",
			"DTEND:20250310T160000Z",
		))
	if len(fields) > 0 {
		msg = append([]byte(strings.Join(fields, "\r\n")+"\r\n"), msg...)
	}
	return msg
}

// from puts another From on msg.
func from(msg []byte, addr string) []byte {
	return bytes.Replace(msg, []byte("From: Kari Nordmann <"+kari+">"), []byte("From: "+addr), 1)
}

// The attack: mail from attacker@evil.org that names Kari as ORGANIZER is
// refused with 550 5.7.1 and the reason; nothing is booked, and neither
// Kari nor anyone else is mailed.
func TestForgedOrganizerRefused(t *testing.T) {
	f := newFixture(t, march2025, mailertest.Options{})
	addr := f.serve("127.0.0.1:0")
	tests := []struct {
		name     string
		envelope string
		data     []byte
		reason   string
	}{
		{"the attacker's own From and envelope, [opptak]", attacker, from(invite("[opptak] Kartlegging"), attacker),
			"From " + attacker + " is neither the organizer " + kari + " nor a delegate of theirs"},
		{"[sensitiv]", attacker, from(invite("[sensitiv] Heldag"), "Eve <"+attacker+">"), "From " + attacker},
		{"Kari's From, the attacker's envelope", attacker, invite("[opptak] Kartlegging"),
			"the envelope sender " + attacker + " is neither"},
		{"Kari's From, the attacker as Sender", attacker, invite("[opptak] Kartlegging", "Sender: "+attacker), "the envelope sender"},
		{"Outlook's own opptak invite from elsewhere", attacker, testdata(t, opptak), "the envelope sender"},
		// Not a room owner: once, the decline went to whoever was named.
		{"an outsider named as ORGANIZER", attacker,
			bytes.Replace(from(invite("Møte"), attacker), []byte("mailto:"+kari), []byte("mailto:victim@example.net"), 1),
			"From " + attacker + " is neither the organizer victim@example.net"},
	}
	for _, tt := range tests {
		c, msg := code(t, sendSMTP(t, addr, tt.envelope, bridge, tt.data))
		if c != 550 || !strings.HasPrefix(msg, "5.7.1 brygga takes invitations only from their organizer or a delegate: ") ||
			!strings.Contains(msg, tt.reason) {
			t.Errorf("%s: answer %d %q, want 550 5.7.1 with %q", tt.name, c, msg, tt.reason)
		}
	}
	if s, err := f.db.Schedules(); err != nil || len(s) != 0 {
		t.Errorf("stored %d schedules, %v", len(s), err)
	}
	// SendMail returned after each answer, which comes after any mail.
	if got, _ := f.out.Received(); len(got) != 0 {
		t.Errorf("%d mails went out, the first to %v", len(got), got[0].To)
	}
}

// A forged CANCEL does not cancel the organizer's meeting.
func TestForgedCancelRefused(t *testing.T) {
	f := newFixture(t, march2022, mailertest.Options{})
	addr := f.serve("127.0.0.1:0")
	if c, msg := code(t, sendSMTP(t, addr, sender, bridge, testdata(t, "ics/imip-request-single.eml"))); c != 250 {
		t.Fatalf("answer %d %s", c, msg)
	}
	forged := bytes.Replace(testdata(t, "ics/imip-cancel-single.eml"), []byte("From: Sender <sender@example.com>"), []byte("From: "+attacker), 1)
	if c, msg := code(t, sendSMTP(t, addr, attacker, bridge, forged)); c != 550 {
		t.Fatalf("answer %d %s, want 550", c, msg)
	}
	if s := f.schedule("02e79b96"); s.State != store.ScheduleActive {
		t.Errorf("after the forged CANCEL: %s", s.State)
	}
}

// Outlook's "on behalf of": From Kari, Sender and envelope her delegate.
// It is booked; Kari gets the reply, and a notice that her room records,
// naming who sent it.
func TestDelegateBooksAndOwnerIsTold(t *testing.T) {
	f := newFixture(t, march2025, mailertest.Options{})
	addr := f.serve("127.0.0.1:0")
	data := invite("[opptak] Budsjett", "Sender: Assistent <"+assistent+">")
	if c, msg := code(t, sendSMTP(t, addr, assistent, bridge, data)); c != 250 {
		t.Fatalf("answer %d %s", c, msg)
	}
	s := f.schedule("040000008200E00074C5B7101A82E00800000000ABCDEF")
	if s.Room != "4711" || !s.Record {
		t.Fatalf("stored %+v", s)
	}
	got := f.received(2)
	var notice *reply
	for _, m := range got {
		if len(m.To) != 1 || !strings.EqualFold(m.To[0], kari) {
			t.Errorf("mail to %v", m.To)
		}
		if r := readReply(t, m.Data); r.event == nil {
			notice = &r
		}
	}
	if notice == nil {
		t.Fatal("no notice beside the reply")
	}
	if notice.subject != "Booket i rom 4711: [opptak] Budsjett" {
		t.Errorf("Subject %q", notice.subject)
	}
	for _, want := range []string{assistent + " on behalf of " + kari + " har booket møtet «[opptak] Budsjett» i rommet ditt 4711.",
		"Tid: mandag 10. mars 2025 kl. 08.00–16.00 (UTC)", "Opptak ([opptak]): møtet tas opp.", "de kan avlyse møtet"} {
		if !strings.Contains(notice.text, want) {
			t.Errorf("notice lacks %q:\n%s", want, notice.text)
		}
	}
	if strings.Contains(notice.text, "Sensitivt") {
		t.Errorf("notice says sensitive:\n%s", notice.text)
	}
}

// A [sensitiv] booking by the delegate as its own From is announced too,
// saying what it does to calls; Kari's own [sensitiv] booking is not (her
// reply tells her), and neither is a plain meeting from the delegate.
func TestSensitiveAnnounced(t *testing.T) {
	f := newFixture(t, march2025, mailertest.Options{})
	addr := f.serve("127.0.0.1:0")
	if c, msg := code(t, sendSMTP(t, addr, assistent, bridge, from(invite("[sensitiv] Barnevern"), assistent))); c != 250 {
		t.Fatalf("answer %d %s", c, msg)
	}
	got := f.received(2)
	r := readReply(t, got[1].Data)
	if r.event != nil {
		r = readReply(t, got[0].Data)
	}
	if r.subject != "Booket i rom 4711: [sensitiv] Barnevern" ||
		!strings.Contains(r.text, assistent+" har booket") ||
		!strings.Contains(r.text, "mens møtet pågår, slipper rom 4711 bare inn sikre anrop") ||
		strings.Contains(r.text, "Opptak") {
		t.Errorf("%s\n%s", r.subject, r.text)
	}

	own := bytes.Replace(invite("[sensitiv] Eget"), []byte("ABCDEF"), []byte("ABCDE0"), 1)
	own = bytes.Replace(own, []byte("20250310T"), []byte("20250311T"), 2)
	if c, msg := code(t, sendSMTP(t, addr, kari, bridge, own)); c != 250 {
		t.Fatalf("answer %d %s", c, msg)
	}
	plain := bytes.Replace(from(invite("Vanlig"), assistent), []byte("ABCDEF"), []byte("ABCDE1"), 1)
	plain = bytes.Replace(plain, []byte("20250310T"), []byte("20250312T"), 2)
	if c, msg := code(t, sendSMTP(t, addr, assistent, bridge, plain)); c != 250 {
		t.Fatalf("answer %d %s", c, msg)
	}
	f.received(4) // two replies, no notices
}

// With mail.authserv_id, the verdict of that mail server decides, and
// any other server's is ignored.
func TestAuthenticationResults(t *testing.T) {
	f := newFixture(t, march2025, mailertest.Options{})
	f.desk.AuthservID = "mx.example.org"
	addr := f.serve("127.0.0.1:0")

	// Forwarded: the envelope is a list's, DKIM proves Kari's domain.
	honoured := invite("Budsjett", "Authentication-Results: mx.example.org; dkim=pass header.d=example.org; spf=fail smtp.mailfrom=lists.example.net")
	if c, msg := code(t, sendSMTP(t, addr, "bounces@lists.example.net", bridge, honoured)); c != 250 {
		t.Fatalf("honoured: answer %d %s", c, msg)
	}
	f.schedule("040000008200E00074C5B7101A82E00800000000ABCDEF")

	// The same pass from another server, with Kari's envelope even, is not.
	other := invite("Budsjett 2", "Authentication-Results: mx.evil.org; dkim=pass header.d=example.org")
	other = bytes.Replace(other, []byte("ABCDEF"), []byte("ABCDE2"), 1)
	c, msg := code(t, sendSMTP(t, addr, kari, bridge, other))
	if c != 550 || !strings.Contains(msg, "no Authentication-Results from mx.example.org") {
		t.Errorf("another server's: answer %d %s", c, msg)
	}
	// A pass the sender wrote under the server's own fail is not either.
	under := invite("Budsjett 3",
		"Authentication-Results: mx.example.org; dkim=none; spf=softfail smtp.mailfrom=evil.org",
		"Received: from evil.org by mx.example.org",
		"Authentication-Results: mx.example.org; dkim=pass header.d=example.org")
	under = bytes.Replace(under, []byte("ABCDEF"), []byte("ABCDE3"), 1)
	c, msg = code(t, sendSMTP(t, addr, attacker, bridge, under))
	if c != 550 || !strings.Contains(msg, "found no DKIM, SPF or DMARC pass for example.org") {
		t.Errorf("the sender's own: answer %d %s", c, msg)
	}
	if s, err := f.db.Schedules(); err != nil || len(s) != 1 {
		t.Errorf("stored %d schedules, %v", len(s), err)
	}
	f.received(1) // the reply to the one booked
}
