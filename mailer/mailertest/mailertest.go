// Package mailertest runs SMTP servers for the tests of code that sends
// mail through package mailer: a go-smtp server on 127.0.0.1 that keeps
// what it is told, with STARTTLS or implicit TLS, a required login, or a
// refusal of every recipient.
package mailertest

import (
	"crypto/tls"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"brygga/internal/testcert"
)

// Cert makes a self-signed certificate for 127.0.0.1 and localhost: a
// server config that presents it and a client config that trusts exactly
// it.
func Cert(t testing.TB) (server, client *tls.Config) {
	t.Helper()
	p := testcert.New(t)
	return p.Server, p.Client
}

// Options configure a Server.
type Options struct {
	// TLS is offered by STARTTLS, or spoken from the first byte when
	// Implicit; nil means a server without TLS.
	TLS      *tls.Config
	Implicit bool
	// User and Pass, when set, are the only login accepted (AUTH PLAIN),
	// and MAIL FROM is refused (530) until it is given.
	User, Pass string
	// InsecureAuth accepts a login without TLS.
	InsecureAuth bool
	// RcptCode, when set, is the answer to every RCPT TO, e.g. 550 or
	// 451.
	RcptCode int
}

// Login is an AUTH attempt.
type Login struct {
	User, Pass string
	TLS        bool // over TLS
}

// Message is a message the server took.
type Message struct {
	From string
	To   []string
	TLS  bool   // sent over TLS
	User string // logged in as; "" without a login
	Data []byte // as received: headers and body
}

// Server is a running test server; it stops when the test ends.
type Server struct {
	Addr string // host:port

	opts   Options
	mu     sync.Mutex
	logins []Login
	got    []Message
}

// Start starts a server on 127.0.0.1.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	ms := &Server{opts: o}
	s := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{srv: ms, conn: c}, nil
	}))
	s.Domain = "localhost"
	s.ReadTimeout = 10 * time.Second
	s.WriteTimeout = 10 * time.Second
	s.AllowInsecureAuth = o.InsecureAuth
	var l net.Listener
	var err error
	if o.Implicit {
		l, err = tls.Listen("tcp", "127.0.0.1:0", o.TLS)
	} else {
		s.TLSConfig = o.TLS
		l, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	ms.Addr = l.Addr().String()
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	return ms
}

// Received returns the messages taken and the logins tried so far.
func (ms *Server) Received() ([]Message, []Login) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return append([]Message(nil), ms.got...), append([]Login(nil), ms.logins...)
}

type session struct {
	srv  *Server
	conn *smtp.Conn
	user string
	from string
	to   []string
}

func (s *session) isTLS() bool {
	_, ok := s.conn.TLSConnectionState()
	return ok
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		s.srv.mu.Lock()
		s.srv.logins = append(s.srv.logins, Login{user, pass, s.isTLS()})
		s.srv.mu.Unlock()
		if user != s.srv.opts.User || pass != s.srv.opts.Pass {
			return smtp.ErrAuthFailed
		}
		s.user = user
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.srv.opts.User != "" && s.user == "" {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if c := s.srv.opts.RcptCode; c != 0 {
		return &smtp.SMTPError{Code: c, EnhancedCode: smtp.EnhancedCode{c / 100, 1, 1}, Message: "no such mailbox"}
	}
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.srv.mu.Lock()
	s.srv.got = append(s.srv.got, Message{s.from, s.to, s.isTLS(), s.user, data})
	s.srv.mu.Unlock()
	return nil
}

func (s *session) Reset()        { s.from, s.to = "", nil }
func (s *session) Logout() error { return nil }
