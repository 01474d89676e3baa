package mailer

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	gomail "github.com/wneessen/go-mail"

	"brygga/mailer/mailertest"
)

// testMsg is a small message from brygga@example.org to kari@example.org.
func testMsg(t *testing.T) *gomail.Msg {
	t.Helper()
	msg := gomail.NewMsg()
	if err := msg.From("Konferanse <brygga@example.org>"); err != nil {
		t.Fatal(err)
	}
	if err := msg.To("kari@example.org"); err != nil {
		t.Fatal(err)
	}
	msg.Subject("Opptak av telefonmøtet")
	msg.SetBodyString(gomail.TypeTextPlain, "Her er opptaket.\n")
	return msg
}

func TestSendSTARTTLSAuth(t *testing.T) {
	srvTLS, cliTLS := mailertest.Cert(t)
	srv := mailertest.Start(t, mailertest.Options{TLS: srvTLS, User: "brygga", Pass: "hemm@lig:pass"})
	s := Server{URL: "smtp://brygga:hemm%40lig%3Apass@" + srv.Addr, TLSConfig: cliTLS}
	msg := testMsg(t)
	if err := s.Send(context.Background(), msg, Timeout(0)); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if !msg.IsDelivered() {
		t.Error("message not marked delivered")
	}
	got, logins := srv.Received()
	if len(got) != 1 || len(logins) != 1 {
		t.Fatalf("server has %d messages and %d logins, want 1 and 1", len(got), len(logins))
	}
	if l := logins[0]; !l.TLS || l.User != "brygga" || l.Pass != "hemm@lig:pass" {
		t.Errorf("login = %+v, want brygga / hemm@lig:pass over TLS", l)
	}
	r := got[0]
	if !r.TLS || r.User != "brygga" {
		t.Errorf("message sent with tls=%v user=%q", r.TLS, r.User)
	}
	if r.From != "brygga@example.org" || len(r.To) != 1 || r.To[0] != "kari@example.org" {
		t.Errorf("envelope %s -> %v", r.From, r.To)
	}
	if !bytes.Contains(r.Data, []byte("Her er opptaket.")) {
		t.Errorf("body missing from what the server got:\n%s", r.Data)
	}
}

func TestSendImplicitTLS(t *testing.T) {
	srvTLS, cliTLS := mailertest.Cert(t)
	srv := mailertest.Start(t, mailertest.Options{TLS: srvTLS, Implicit: true, User: "u", Pass: "p"})
	s := Server{URL: "smtps://u:p@" + srv.Addr, TLSConfig: cliTLS}
	if err := s.Send(context.Background(), testMsg(t), Timeout(0)); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got, logins := srv.Received()
	if len(got) != 1 || len(logins) != 1 || !logins[0].TLS || !got[0].TLS {
		t.Fatalf("messages %d, logins %+v", len(got), logins)
	}
}

func TestSendOpportunisticSTARTTLS(t *testing.T) {
	srvTLS, cliTLS := mailertest.Cert(t)
	srv := mailertest.Start(t, mailertest.Options{TLS: srvTLS})
	s := Server{URL: "smtp://" + srv.Addr, TLSConfig: cliTLS}
	if err := s.Send(context.Background(), testMsg(t), Timeout(0)); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if got, _ := srv.Received(); len(got) != 1 || !got[0].TLS || got[0].User != "" {
		t.Errorf("server got %+v, want one message over TLS without a login", got)
	}
}

func TestSendRefusesLoginWithoutSTARTTLS(t *testing.T) {
	// The server would even take the password in clear.
	srv := mailertest.Start(t, mailertest.Options{InsecureAuth: true, User: "brygga", Pass: "secret"})
	s := Server{URL: "smtp://brygga:secret@" + srv.Addr}
	err := s.Send(context.Background(), testMsg(t), Timeout(0))
	if err == nil {
		t.Fatal("Send succeeded without TLS")
	}
	if rejected(err) {
		t.Errorf("a configuration problem is a rejection: %v", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "STARTTLS") || !strings.Contains(msg, "in clear") {
		t.Errorf("error does not say why: %v", err)
	}
	if strings.Contains(msg, "secret") {
		t.Errorf("error leaks the password: %v", err)
	}
	got, logins := srv.Received()
	if len(got) != 0 || len(logins) != 0 {
		t.Errorf("server saw %d messages and logins %+v", len(got), logins)
	}
}

func TestSendRcptRefused(t *testing.T) {
	tests := []struct {
		code     int
		rejected bool
	}{
		{550, true},
		{553, true},
		{451, false},
		{452, false},
	}
	for _, tc := range tests {
		t.Run(strconv.Itoa(tc.code), func(t *testing.T) {
			srv := mailertest.Start(t, mailertest.Options{RcptCode: tc.code})
			s := Server{URL: "smtp://" + srv.Addr}
			err := s.Send(context.Background(), testMsg(t), Timeout(0))
			if err == nil {
				t.Fatal("Send succeeded despite the refused recipient")
			}
			var rej *RejectedError
			if errors.As(err, &rej) != tc.rejected {
				t.Errorf("err = %v (%T), want a RejectedError: %v", err, err, tc.rejected)
			}
			if tc.rejected {
				if rej.Code != tc.code || rej.Server != srv.Addr {
					t.Errorf("RejectedError{Code: %d, Server: %q}, want %d and %q", rej.Code, rej.Server, tc.code, srv.Addr)
				}
				var se *gomail.SendError
				if !errors.As(err, &se) || se.Reason != gomail.ErrSMTPRcptTo {
					t.Errorf("RejectedError does not wrap go-mail's RCPT TO error: %v", err)
				}
			}
			if got, _ := srv.Received(); len(got) != 0 {
				t.Errorf("server received %d messages", len(got))
			}
		})
	}
}

// A 5xx to MAIL FROM is the sender's or the configuration's fault, not
// the recipient's: fixing it mends the delivery.
func TestSendMailFromRefusedIsNotRejected(t *testing.T) {
	srvTLS, cliTLS := mailertest.Cert(t)
	srv := mailertest.Start(t, mailertest.Options{TLS: srvTLS, User: "brygga", Pass: "secret"})
	s := Server{URL: "smtp://" + srv.Addr, TLSConfig: cliTLS} // no credentials: 530
	err := s.Send(context.Background(), testMsg(t), Timeout(0))
	if err == nil {
		t.Fatal("Send succeeded without the required login")
	}
	if rejected(err) {
		t.Errorf("err = %v, want no RejectedError", err)
	}
}

func rejected(err error) bool {
	var rej *RejectedError
	return errors.As(err, &rej)
}

// closedAddr is an address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// silentAddr accepts connections and never greets, like a wedged server.
func silentAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	return l.Addr().String()
}

func TestSendConnectionRefused(t *testing.T) {
	s := Server{URL: "smtp://" + closedAddr(t)}
	err := s.Send(context.Background(), testMsg(t), Timeout(0))
	if err == nil {
		t.Fatal("Send succeeded with no server")
	}
	if rejected(err) {
		t.Errorf("err = %v, want no RejectedError", err)
	}
}

func TestSendContextEnds(t *testing.T) {
	s := Server{URL: "smtp://" + silentAddr(t)}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := s.Send(ctx, testMsg(t), Timeout(0))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want the context's deadline", err)
	}
	if rejected(err) {
		t.Errorf("err = %v, want no RejectedError", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Send took %v after its context ended", d)
	}
}

// The timeout bounds the greeting too, which go-mail leaves unbounded.
func TestSendTimeoutBoundsGreeting(t *testing.T) {
	s := Server{URL: "smtp://" + silentAddr(t)}
	start := time.Now()
	err := s.Send(context.Background(), testMsg(t), 300*time.Millisecond)
	if err == nil {
		t.Fatal("Send succeeded against a silent server")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Send took %v with a timeout of 300ms", d)
	}
}

func TestCheck(t *testing.T) {
	// Each error names the fault, and never the password.
	bad := []struct{ raw, says string }{
		{"http://user:hunter2@example.org", "smtp:// or smtps://"},
		{"smtp://user:hunter2@:25", "no host"},
		{"smtp://user:hunter2@example.org:0", "bad port"},
		{"smtp://user:hunter2@example.org:65536", "bad port"},
		{"smtp://user:hunter2@example.org:x", "not a valid URL"},
		{"smtp://user:hunter2@exa mple.org", "not a valid URL"},
		{"", "smtp:// or smtps://"},
	}
	for _, tc := range bad {
		s := Server{URL: tc.raw}
		for what, err := range map[string]error{
			"Check": s.Check(),
			"Send":  s.Send(context.Background(), testMsg(t), Timeout(0)),
		} {
			if err == nil || !strings.Contains(err.Error(), tc.says) || strings.Contains(err.Error(), "hunter2") {
				t.Errorf("%s with %q: err = %v, want one that says %q without the password", what, tc.raw, err, tc.says)
			}
		}
	}

	tests := []struct {
		raw  string
		want server
	}{
		{"smtp://mail.example.org", server{host: "mail.example.org", port: 25}},
		{"smtps://mail.example.org", server{host: "mail.example.org", port: 465, implicit: true}},
		{"smtp://u:p%40ss@mail.example.org:587", server{host: "mail.example.org", port: 587, user: "u", pass: "p@ss"}},
		{"smtps://u@[::1]:2465", server{host: "::1", port: 2465, implicit: true, user: "u"}},
	}
	for _, tc := range tests {
		if err := (Server{URL: tc.raw}).Check(); err != nil {
			t.Errorf("Check(%q) = %v", tc.raw, err)
		}
		if got, err := parse(tc.raw); err != nil || got != tc.want {
			t.Errorf("parse(%q) = %+v, %v, want %+v", tc.raw, got, err, tc.want)
		}
	}
}

func TestTimeout(t *testing.T) {
	if got := Timeout(0); got != time.Minute {
		t.Errorf("Timeout(0) = %v, want 1m", got)
	}
	// 10 MiB of WAV is 13.3 MiB of base64, 213 s at 64 KiB/s.
	if got, want := Timeout(10<<20), time.Minute+213*time.Second; got != want {
		t.Errorf("Timeout(10 MiB) = %v, want %v", got, want)
	}
}
