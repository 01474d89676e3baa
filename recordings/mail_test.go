package recordings

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	netmail "net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"brygga/mailer/mailertest"
)

// writeMailTestWAV writes a canonical 8 kHz 16-bit mono WAV of a
// sawtooth, so that any corruption of the attachment changes bytes.
func writeMailTestWAV(t *testing.T, path string, samples int) []byte {
	t.Helper()
	data := make([]byte, 2*samples)
	for i := range samples {
		binary.LittleEndian.PutUint16(data[2*i:], uint16(int16(i*257)))
	}
	wav := append(header(uint32(len(data))), data...)
	if err := os.WriteFile(path, wav, 0o600); err != nil {
		t.Fatal(err)
	}
	return wav
}

// mailTestZone stands for Europe/Oslo in November without depending on
// the system's time zone database.
var mailTestZone = time.FixedZone("CET", 3600)

func mailTestMessage(t *testing.T, lang string) (Message, []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rec.wav")
	wav := writeMailTestWAV(t, path, 4000)
	started := time.Date(2026, 11, 22, 13, 0, 0, 0, time.UTC) // 14:00 CET
	return Message{
		ID:       "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
		Room:     "4711",
		Owner:    "Kari Nordmann",
		Target:   "mailto:kari@example.org",
		Language: lang,
		Started:  started,
		Ended:    started.Add(44*time.Minute + 30*time.Second),
		Length:   44*time.Minute + 30*time.Second,
		Path:     path,
		Size:     int64(len(wav)),
	}, wav
}

type mailTestAttachment struct {
	contentType, filename string
	data                  []byte
}

type mailTestParsed struct {
	header  netmail.Header
	subject string
	text    string
	atts    []mailTestAttachment
}

func parseMailTest(t *testing.T, raw []byte) mailTestParsed {
	t.Helper()
	msg, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("received message does not parse: %v", err)
	}
	var p mailTestParsed
	p.header = msg.Header
	p.subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatalf("subject: %v", err)
	}
	p.walk(t, msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"),
		msg.Header.Get("Content-Disposition"), msg.Body)
	return p
}

func (p *mailTestParsed) walk(t *testing.T, ctype, cte, disp string, body io.Reader) {
	t.Helper()
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		t.Fatalf("content type %q: %v", ctype, err)
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			part, err := mr.NextPart()
			if err == io.EOF {
				return
			}
			if err != nil {
				t.Fatalf("multipart: %v", err)
			}
			// NextPart has already undone quoted-printable and dropped
			// the header that said so.
			p.walk(t, part.Header.Get("Content-Type"), part.Header.Get("Content-Transfer-Encoding"),
				part.Header.Get("Content-Disposition"), part)
		}
	}
	switch strings.ToLower(cte) {
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body)
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	}
	data, err := io.ReadAll(body)
	if err != nil {
		t.Fatalf("body of %s: %v", mt, err)
	}
	if d, dp, err := mime.ParseMediaType(disp); err == nil && d == "attachment" {
		p.atts = append(p.atts, mailTestAttachment{mt, dp["filename"], data})
		return
	}
	if mt == "text/plain" {
		p.text += string(data)
	}
}

// TestMailAttachment checks the message; mailer's tests, the SMTP session.
func TestMailAttachment(t *testing.T) {
	srvTLS, cliTLS := mailertest.Cert(t)
	srv := mailertest.Start(t, mailertest.Options{TLS: srvTLS, User: "brygga", Pass: "hemm@lig:pass"})
	ml := Mail{
		URL:       "smtp://brygga:hemm%40lig%3Apass@" + srv.Addr,
		From:      "Konferanse <brygga@example.org>",
		MaxBytes:  1 << 20,
		LinkBase:  "https://brygga.example.org",
		TLSConfig: cliTLS,
		Location:  mailTestZone,
		Now:       func() time.Time { return time.Date(2026, 11, 22, 14, 50, 0, 0, time.UTC) },
	}

	tests := []struct {
		lang    string
		subject string
		body    []string
	}{
		{"en", "Recording of the conference call in room 4711, 22 November 2026", []string{
			"Here is the recording of the conference call in room 4711.",
			"Kari Nordmann", "Sunday 22 November 2026", "14:00–14:44 CET", "44:30 (minutes:seconds)",
			"attached", "brygga-4711-20261122-1400.wav",
		}},
		{"nb", "Opptak av telefonmøtet i rom 4711, 22. november 2026", []string{
			"Her er opptaket av telefonmøtet i rom 4711.",
			"Kari Nordmann", "søndag 22. november 2026", "kl. 14.00–14.44 (CET)", "44:30 (minutter:sekunder)",
			"Opptaket er vedlagt som lydfil",
		}},
		{"sv", "Inspelning av telefonmötet i rum 4711, 22 november 2026", []string{
			"Här är inspelningen av telefonmötet i rum 4711.",
			"Kari Nordmann", "söndag 22 november 2026", "kl. 14.00–14.44 (CET)", "44:30 (minuter:sekunder)",
			"Inspelningen är bifogad som ljudfil",
		}},
		{"de", "Recording of the conference call in room 4711", []string{"Sunday 22 November 2026"}},
	}
	for i, tc := range tests {
		t.Run(tc.lang, func(t *testing.T) {
			m, wav := mailTestMessage(t, tc.lang)
			if err := ml.Deliver(context.Background(), m); err != nil {
				t.Fatalf("Deliver: %v", err)
			}
			got, _ := srv.Received()
			if len(got) != i+1 {
				t.Fatalf("server has %d messages, want %d", len(got), i+1)
			}
			r := got[i]
			if !r.TLS || r.User != "brygga" {
				t.Errorf("message sent with tls=%v user=%q", r.TLS, r.User)
			}
			if r.From != "brygga@example.org" || len(r.To) != 1 || r.To[0] != "kari@example.org" {
				t.Errorf("envelope %s -> %v", r.From, r.To)
			}

			p := parseMailTest(t, r.Data)
			if !strings.Contains(p.subject, tc.subject) {
				t.Errorf("subject %q, want it to contain %q", p.subject, tc.subject)
			}
			for _, want := range tc.body {
				if !strings.Contains(p.text, want) {
					t.Errorf("body lacks %q:\n%s", want, p.text)
				}
			}
			if strings.Contains(p.text, "/api/v1/recordings/") {
				t.Errorf("attached recording also has a link:\n%s", p.text)
			}
			if len(p.atts) != 1 {
				t.Fatalf("%d attachments, want 1", len(p.atts))
			}
			a := p.atts[0]
			if a.contentType != "audio/wav" || a.filename != "brygga-4711-20261122-1400.wav" {
				t.Errorf("attachment %s %q", a.contentType, a.filename)
			}
			if !bytes.Equal(a.data, wav) {
				t.Errorf("attachment is %d bytes and differs from the %d-byte WAV", len(a.data), len(wav))
			}
			if v := p.header.Get("Auto-Submitted"); v != "auto-generated" {
				t.Errorf("Auto-Submitted = %q", v)
			}
			if d, err := p.header.Date(); err != nil || !d.Equal(ml.Now()) {
				t.Errorf("Date = %v, %v", d, err)
			}
			from, err := p.header.AddressList("From")
			if err != nil || len(from) != 1 || from[0].Name != "Konferanse" {
				t.Errorf("From = %v, %v", from, err)
			}
		})
	}
}

func TestMailOverMaxBytesSendsLink(t *testing.T) {
	srvTLS, cliTLS := mailertest.Cert(t)
	srv := mailertest.Start(t, mailertest.Options{TLS: srvTLS})
	base := Mail{
		URL:       "smtp://" + srv.Addr,
		From:      "Konferanse <brygga@example.org>",
		LinkBase:  "https://brygga.example.org/",
		TLSConfig: cliTLS,
		Location:  mailTestZone,
	}
	const link = "https://brygga.example.org/api/v1/recordings/0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b/audio"

	tests := []struct {
		name     string
		lang     string
		maxBytes int64
		noFile   bool
		want     []string
	}{
		{"too large", "en", 100, false, []string{link, "is too large to send by email", "operator token", "retention"}},
		{"too large nb", "nb", 100, false, []string{link, "er for stort til å sendes på e-post", "operatørtoken"}},
		{"too large sv", "sv", 100, false, []string{link, "är för stor för att skickas med e-post", "operatörstoken"}},
		// With MaxBytes 0 the file is never read, so it need not exist here.
		{"always link", "nb", 0, true, []string{link, "Du kan laste ned opptaket her:"}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := mailTestMessage(t, tc.lang)
			if tc.noFile {
				m.Path = filepath.Join(t.TempDir(), "gone.wav")
			}
			ml := base
			ml.MaxBytes = tc.maxBytes
			if err := ml.Deliver(context.Background(), m); err != nil {
				t.Fatalf("Deliver: %v", err)
			}
			got, _ := srv.Received()
			if len(got) != i+1 {
				t.Fatalf("server has %d messages, want %d", len(got), i+1)
			}
			p := parseMailTest(t, got[i].Data)
			if len(p.atts) != 0 {
				t.Errorf("%d attachments, want none", len(p.atts))
			}
			for _, want := range tc.want {
				if !strings.Contains(p.text, want) {
					t.Errorf("body lacks %q:\n%s", want, p.text)
				}
			}
			if tc.maxBytes == 0 && strings.Contains(p.text, "stort") {
				t.Errorf("always-link body calls the recording too large:\n%s", p.text)
			}
		})
	}
}

// TestMailRejectedIsPermanent checks that a recipient the server refuses
// for good is not retried, and one refused for now is.
func TestMailRejectedIsPermanent(t *testing.T) {
	for code, permanent := range map[int]bool{550: true, 451: false} {
		srv := mailertest.Start(t, mailertest.Options{RcptCode: code})
		ml := Mail{URL: "smtp://" + srv.Addr, From: "brygga@example.org", MaxBytes: 1 << 20}
		m, _ := mailTestMessage(t, "en")
		err := ml.Deliver(context.Background(), m)
		if err == nil || IsPermanent(err) != permanent {
			t.Errorf("%d: err = %v, want permanent: %v", code, err, permanent)
		}
	}
}

func TestMailBadTarget(t *testing.T) {
	ml := Mail{URL: "smtp://127.0.0.1:1", From: "brygga@example.org"}
	for _, target := range []string{
		"",
		"sip:4711@pbx.example.org",
		"spool:/var/spool/asterisk/voicemail/default/4711",
		"mailto:",
		"mailto:not an address",
		"mailto:kari@example.org,ola@example.org",
		"mailto://example.org",
		"mailto:%zz",
	} {
		m, _ := mailTestMessage(t, "en")
		m.Target = target
		if err := ml.Deliver(context.Background(), m); !IsPermanent(err) {
			t.Errorf("target %q: err = %v, want permanent", target, err)
		}
	}
}

func TestMailBadServerURL(t *testing.T) {
	ml := Mail{URL: "http://user:hunter2@example.org", From: "brygga@example.org"}
	m, _ := mailTestMessage(t, "en")
	err := ml.Deliver(context.Background(), m)
	if err == nil || IsPermanent(err) || !strings.Contains(err.Error(), "smtp://") || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("err = %v, want a retryable error about the URL without the password", err)
	}
}

func TestMailRecordingGone(t *testing.T) {
	ml := Mail{URL: "smtp://127.0.0.1:1", From: "brygga@example.org", MaxBytes: 1 << 20}
	m, _ := mailTestMessage(t, "en")
	m.Path = filepath.Join(t.TempDir(), "gone.wav")
	if err := ml.Deliver(context.Background(), m); !IsPermanent(err) {
		t.Errorf("err = %v, want permanent", err)
	}
}
