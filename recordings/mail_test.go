package recordings

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// mailTestCert is a self-signed certificate for 127.0.0.1 and a client
// config that trusts exactly it.
func mailTestCert(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "brygga test smtp"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	client = &tls.Config{RootCAs: pool}
	return server, client
}

type mailTestLogin struct {
	user, pass string
	tls        bool
}

type mailTestReceived struct {
	from string
	to   []string
	tls  bool
	user string
	data []byte
}

// mailTestServer is a go-smtp server that records what it is told.
type mailTestServer struct {
	addr       string
	user, pass string          // AUTH required when set
	rcptErr    *smtp.SMTPError // answer to every RCPT TO

	mu     sync.Mutex
	logins []mailTestLogin
	got    []mailTestReceived
}

type mailTestServerOptions struct {
	tls          *tls.Config // offered by STARTTLS, or from the start if implicit
	implicit     bool
	insecureAuth bool
	user, pass   string
	rcptErr      *smtp.SMTPError
}

func startMailTestServer(t *testing.T, o mailTestServerOptions) *mailTestServer {
	t.Helper()
	ms := &mailTestServer{user: o.user, pass: o.pass, rcptErr: o.rcptErr}
	s := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &mailTestSession{srv: ms, conn: c}, nil
	}))
	s.Domain = "localhost"
	s.ReadTimeout = 10 * time.Second
	s.WriteTimeout = 10 * time.Second
	s.AllowInsecureAuth = o.insecureAuth
	var l net.Listener
	var err error
	if o.implicit {
		l, err = tls.Listen("tcp", "127.0.0.1:0", o.tls)
	} else {
		s.TLSConfig = o.tls
		l, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	ms.addr = l.Addr().String()
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	return ms
}

func (ms *mailTestServer) received() ([]mailTestReceived, []mailTestLogin) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return append([]mailTestReceived(nil), ms.got...), append([]mailTestLogin(nil), ms.logins...)
}

type mailTestSession struct {
	srv  *mailTestServer
	conn *smtp.Conn
	user string
	from string
	to   []string
}

func (s *mailTestSession) isTLS() bool {
	_, ok := s.conn.TLSConnectionState()
	return ok
}

func (s *mailTestSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *mailTestSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		s.srv.mu.Lock()
		s.srv.logins = append(s.srv.logins, mailTestLogin{user, pass, s.isTLS()})
		s.srv.mu.Unlock()
		if user != s.srv.user || pass != s.srv.pass {
			return smtp.ErrAuthFailed
		}
		s.user = user
		return nil
	}), nil
}

func (s *mailTestSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.srv.user != "" && s.user == "" {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *mailTestSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.srv.rcptErr != nil {
		return s.srv.rcptErr
	}
	s.to = append(s.to, to)
	return nil
}

func (s *mailTestSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.srv.mu.Lock()
	s.srv.got = append(s.srv.got, mailTestReceived{s.from, s.to, s.isTLS(), s.user, data})
	s.srv.mu.Unlock()
	return nil
}

func (s *mailTestSession) Reset()        { s.from, s.to = "", nil }
func (s *mailTestSession) Logout() error { return nil }

// writeMailTestWAV writes a canonical 8 kHz 16-bit mono WAV of a
// sawtooth, so that any corruption of the attachment changes bytes.
func writeMailTestWAV(t *testing.T, path string, samples int) []byte {
	t.Helper()
	data := make([]byte, 2*samples)
	for i := range samples {
		binary.LittleEndian.PutUint16(data[2*i:], uint16(int16(i*257)))
	}
	h := make([]byte, 44)
	copy(h[0:], "RIFF")
	binary.LittleEndian.PutUint32(h[4:], uint32(36+len(data)))
	copy(h[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(h[16:], 16)
	binary.LittleEndian.PutUint16(h[20:], 1)
	binary.LittleEndian.PutUint16(h[22:], 1)
	binary.LittleEndian.PutUint32(h[24:], 8000)
	binary.LittleEndian.PutUint32(h[28:], 16000)
	binary.LittleEndian.PutUint16(h[32:], 2)
	binary.LittleEndian.PutUint16(h[34:], 16)
	copy(h[36:], "data")
	binary.LittleEndian.PutUint32(h[40:], uint32(len(data)))
	wav := append(h, data...)
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

func TestMailSTARTTLSAuthAttachment(t *testing.T) {
	srvTLS, cliTLS := mailTestCert(t)
	srv := startMailTestServer(t, mailTestServerOptions{tls: srvTLS, user: "brygga", pass: "hemm@lig:pass"})
	ml := Mail{
		URL:       "smtp://brygga:hemm%40lig%3Apass@" + srv.addr,
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
			got, logins := srv.received()
			if len(got) != i+1 || len(logins) != i+1 {
				t.Fatalf("server has %d messages and %d logins, want %d", len(got), len(logins), i+1)
			}
			if l := logins[i]; !l.tls || l.user != "brygga" || l.pass != "hemm@lig:pass" {
				t.Errorf("login = %+v, want brygga / hemm@lig:pass over TLS", l)
			}
			r := got[i]
			if !r.tls || r.user != "brygga" {
				t.Errorf("message sent with tls=%v user=%q", r.tls, r.user)
			}
			if r.from != "brygga@example.org" || len(r.to) != 1 || r.to[0] != "kari@example.org" {
				t.Errorf("envelope %s -> %v", r.from, r.to)
			}

			p := parseMailTest(t, r.data)
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

func TestMailImplicitTLS(t *testing.T) {
	srvTLS, cliTLS := mailTestCert(t)
	srv := startMailTestServer(t, mailTestServerOptions{tls: srvTLS, implicit: true, user: "u", pass: "p"})
	ml := Mail{URL: "smtps://u:p@" + srv.addr, From: "brygga@example.org", MaxBytes: 1 << 20, TLSConfig: cliTLS}
	m, wav := mailTestMessage(t, "nb")
	if err := ml.Deliver(context.Background(), m); err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	got, logins := srv.received()
	if len(got) != 1 || len(logins) != 1 || !logins[0].tls || !got[0].tls {
		t.Fatalf("messages %d, logins %+v", len(got), logins)
	}
	p := parseMailTest(t, got[0].data)
	if len(p.atts) != 1 || !bytes.Equal(p.atts[0].data, wav) {
		t.Errorf("attachment missing or damaged")
	}
}

func TestMailOverMaxBytesSendsLink(t *testing.T) {
	srvTLS, cliTLS := mailTestCert(t)
	srv := startMailTestServer(t, mailTestServerOptions{tls: srvTLS})
	base := Mail{
		URL:       "smtp://" + srv.addr,
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
			got, _ := srv.received()
			if len(got) != i+1 {
				t.Fatalf("server has %d messages, want %d", len(got), i+1)
			}
			if !got[i].tls {
				t.Errorf("opportunistic STARTTLS not used")
			}
			p := parseMailTest(t, got[i].data)
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

func TestMailRcptRejected(t *testing.T) {
	tests := []struct {
		code      int
		permanent bool
	}{
		{550, true},
		{553, true},
		{451, false},
		{452, false},
	}
	for _, tc := range tests {
		t.Run(strconv.Itoa(tc.code), func(t *testing.T) {
			srv := startMailTestServer(t, mailTestServerOptions{rcptErr: &smtp.SMTPError{
				Code: tc.code, EnhancedCode: smtp.EnhancedCode{tc.code / 100, 1, 1}, Message: "no such mailbox",
			}})
			ml := Mail{URL: "smtp://" + srv.addr, From: "brygga@example.org", MaxBytes: 1 << 20}
			m, _ := mailTestMessage(t, "en")
			err := ml.Deliver(context.Background(), m)
			if err == nil {
				t.Fatal("Deliver succeeded despite the refused recipient")
			}
			if IsPermanent(err) != tc.permanent {
				t.Errorf("IsPermanent(%v) = %v, want %v", err, IsPermanent(err), tc.permanent)
			}
			if got, _ := srv.received(); len(got) != 0 {
				t.Errorf("server received %d messages", len(got))
			}
		})
	}
}

func TestMailRefusesLoginWithoutSTARTTLS(t *testing.T) {
	// The server would even take the password in clear.
	srv := startMailTestServer(t, mailTestServerOptions{insecureAuth: true, user: "brygga", pass: "secret"})
	ml := Mail{URL: "smtp://brygga:secret@" + srv.addr, From: "brygga@example.org", MaxBytes: 1 << 20}
	m, _ := mailTestMessage(t, "en")
	err := ml.Deliver(context.Background(), m)
	if err == nil {
		t.Fatal("Deliver succeeded without TLS")
	}
	if IsPermanent(err) {
		t.Errorf("a configuration problem is permanent: %v", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "STARTTLS") || !strings.Contains(msg, "in clear") {
		t.Errorf("error does not say why: %v", err)
	}
	if strings.Contains(msg, "secret") {
		t.Errorf("error leaks the password: %v", err)
	}
	got, logins := srv.received()
	if len(got) != 0 || len(logins) != 0 {
		t.Errorf("server saw %d messages and logins %+v", len(got), logins)
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

func TestMailRetryableFailures(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()

	// silent accepts and never greets, like a wedged server.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { silent.Close() })
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()

	t.Run("connection refused", func(t *testing.T) {
		ml := Mail{URL: "smtp://" + closed, From: "brygga@example.org", MaxBytes: 1 << 20}
		m, _ := mailTestMessage(t, "en")
		if err := ml.Deliver(context.Background(), m); err == nil || IsPermanent(err) {
			t.Errorf("err = %v, want a retryable error", err)
		}
	})
	t.Run("context ends", func(t *testing.T) {
		ml := Mail{URL: "smtp://" + silent.Addr().String(), From: "brygga@example.org", MaxBytes: 1 << 20}
		m, _ := mailTestMessage(t, "en")
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := ml.Deliver(ctx, m)
		if !errors.Is(err, context.DeadlineExceeded) || IsPermanent(err) {
			t.Errorf("err = %v, want a retryable deadline error", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("Deliver took %v after its context ended", d)
		}
	})
	t.Run("bad server URL", func(t *testing.T) {
		ml := Mail{URL: "http://user:hunter2@example.org", From: "brygga@example.org"}
		m, _ := mailTestMessage(t, "en")
		err := ml.Deliver(context.Background(), m)
		if err == nil || IsPermanent(err) || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("err = %v, want a retryable error without the password", err)
		}
	})
}

func TestMailRecordingGone(t *testing.T) {
	ml := Mail{URL: "smtp://127.0.0.1:1", From: "brygga@example.org", MaxBytes: 1 << 20}
	m, _ := mailTestMessage(t, "en")
	m.Path = filepath.Join(t.TempDir(), "gone.wav")
	if err := ml.Deliver(context.Background(), m); !IsPermanent(err) {
		t.Errorf("err = %v, want permanent", err)
	}
}
