// Package mailer sends finished go-mail messages through the bridge's
// submission server (the config's mail.smtp): it parses the server URL,
// connects with the TLS and login rules below, sends within a context and
// a deadline, and tells a refused recipient, which retrying cannot help,
// from everything else.
package mailer

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
	gosmtp "github.com/wneessen/go-mail/smtp"
)

// Server is a submission server and how to reach it.
type Server struct {
	// URL is smtp://[user:pass@]host[:port] (STARTTLS; port 25 by
	// default) or smtps://… (implicit TLS; 465). With credentials, an
	// smtp:// server must offer STARTTLS: Send does not log in over a
	// clear connection.
	URL string
	// TLSConfig verifies the server; nil means the system roots.
	TLSConfig *tls.Config
}

// RejectedError is a 5xx answer to RCPT TO: the server refuses the
// recipient for good, so sending the message again cannot help. Every
// other failure of Send (4xx, network trouble, a misconfigured server or
// sender that fixing the configuration will mend) is worth retrying.
// go-mail sends nothing when any recipient is refused; Code is then the
// last refused one's.
type RejectedError struct {
	Code   int    // the SMTP reply code, 500–599
	Server string // host:port
	Err    error  // go-mail's *gomail.SendError
}

func (e *RejectedError) Error() string {
	return fmt.Sprintf("mail: %s refused the recipient: %v", e.Server, e.Err)
}

func (e *RejectedError) Unwrap() error { return e.Err }

const (
	dialTimeout = 30 * time.Second
	baseTimeout = time.Minute
	minRate     = 64 << 10 // bytes per second
)

// Timeout is the time to allow one SMTP exchange of a message carrying
// attached bytes of attachments. go-mail sets the deadline once before
// DATA, so the attachments' upload time is added on top of a base
// minute, at a pessimistic line speed, lest a big file on a slow link be
// cut off and resent forever.
func Timeout(attached int64) time.Duration {
	return baseTimeout + time.Duration(attached*4/3/minRate)*time.Second
}

// Check reports whether s.URL is a server URL Send can use, without
// connecting, so that a caller can fail early on the configuration.
func (s Server) Check() error {
	_, err := parse(s.URL)
	return err
}

// Send runs one SMTP session that submits msg, which names its sender and
// recipients, to s. timeout bounds the session (see Timeout); ctx ending
// interrupts it at any point, and the error then wraps the context's
// cause. A nil error means the server took the message.
//
// Send drives go-mail's steps itself rather than DialAndSend so that it
// can refuse to log in over a clear connection with a message that says
// so, and so that a failure after the server has taken the message
// (RSET, QUIT) does not count as a failed delivery: that would send the
// message twice.
func (s Server) Send(ctx context.Context, msg *gomail.Msg, timeout time.Duration) error {
	srv, err := parse(s.URL)
	if err != nil {
		return err
	}
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.TLSConfig != nil {
		tlsConf = s.TLSConfig.Clone()
	}
	if tlsConf.ServerName == "" {
		tlsConf.ServerName = srv.host
	}
	addr := net.JoinHostPort(srv.host, strconv.Itoa(srv.port))

	// go-mail heeds ctx only while dialling; closing the connection when
	// ctx ends is what interrupts a transfer in progress.
	var (
		conn net.Conn
		stop = func() bool { return false }
	)
	dial := func(dctx context.Context, network, _ string) (net.Conn, error) {
		d := net.Dialer{Timeout: dialTimeout}
		c, err := d.DialContext(dctx, network, addr)
		if err != nil {
			return nil, err
		}
		conn = c
		stop = context.AfterFunc(ctx, func() { c.Close() })
		// go-mail sets no deadline before its first NOOP: a server that
		// accepts and then says nothing would hang the greeting forever.
		if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
			c.Close()
			return nil, err
		}
		if !srv.implicit {
			return c, nil
		}
		tc := tls.Client(c, tlsConf)
		if err := tc.HandshakeContext(dctx); err != nil {
			c.Close()
			return nil, err
		}
		// Returned unwrapped: go-mail's SMTP client tells a TLS
		// connection by its type.
		return tc, nil
	}
	client, err := gomail.NewClient(srv.host,
		gomail.WithPort(srv.port),
		gomail.WithTimeout(timeout),
		gomail.WithTLSConfig(tlsConf),
		// On smtps the connection is already TLS and the server offers
		// no STARTTLS; the policy then just records that it is
		// encrypted. Whether a login may proceed is checked below.
		gomail.WithTLSPolicy(gomail.TLSOpportunistic),
		gomail.WithDialContextFunc(dial),
	)
	if err != nil {
		return fmt.Errorf("mail: %w", err)
	}

	sc, err := client.DialToSMTPClientWithContext(ctx)
	defer func() {
		stop()
		if conn != nil {
			conn.Close()
		}
	}()
	if err != nil {
		return failed(ctx, fmt.Errorf("mail: connecting to %s: %w", addr, err))
	}
	defer client.CloseWithSMTPClient(sc)

	if srv.user != "" || srv.pass != "" {
		if _, ok := sc.TLSConnectionState(); !ok {
			return fmt.Errorf("mail: %s offers no STARTTLS; not logging in without TLS, which would send the password in clear (use smtps:// or enable STARTTLS on the server)", addr)
		}
		auth, err := pickAuth(sc, srv)
		if err != nil {
			return fmt.Errorf("mail: %s: %w", addr, err)
		}
		if err := sc.Auth(auth); err != nil {
			return failed(ctx, fmt.Errorf("mail: logging in to %s as %q: %w", addr, srv.user, err))
		}
	}

	err = client.SendWithSMTPClient(sc, msg)
	if msg.IsDelivered() {
		return nil
	}
	if err == nil {
		// Not expected from go-mail, but nil must mean delivered.
		return fmt.Errorf("mail: %s did not confirm the message", addr)
	}
	var se *gomail.SendError
	if errors.As(err, &se) && se.Reason == gomail.ErrSMTPRcptTo && se.ErrorCode()/100 == 5 {
		return &RejectedError{Code: se.ErrorCode(), Server: addr, Err: err}
	}
	return failed(ctx, fmt.Errorf("mail: sending via %s: %w", addr, err))
}

// failed prefers the context's reason to the closed-connection error
// that cancelling produces.
func failed(ctx context.Context, err error) error {
	if cerr := context.Cause(ctx); cerr != nil {
		return fmt.Errorf("%w (%w)", cerr, err)
	}
	return err
}

// pickAuth picks PLAIN, else LOGIN: both are safe only because the
// connection is known to be TLS by now, and one of them is what every
// submission server offers.
func pickAuth(sc *gosmtp.Client, srv server) (gosmtp.Auth, error) {
	ok, mechs := sc.Extension("AUTH")
	if !ok {
		return nil, errors.New("server offers no SMTP AUTH but credentials are configured")
	}
	fields := strings.Fields(strings.ToUpper(mechs))
	for _, f := range fields {
		if f == "PLAIN" {
			return gosmtp.PlainAuth("", srv.user, srv.pass, srv.host, false), nil
		}
	}
	for _, f := range fields {
		if f == "LOGIN" {
			return gosmtp.LoginAuth(srv.user, srv.pass, srv.host, false), nil
		}
	}
	return nil, fmt.Errorf("server offers AUTH %s, neither PLAIN nor LOGIN", mechs)
}

// server is a parsed Server.URL.
type server struct {
	host       string
	port       int
	implicit   bool // smtps: TLS from the first byte
	user, pass string
}

// parse never quotes the URL in its errors: it holds the password.
func parse(raw string) (server, error) {
	var s server
	u, err := url.Parse(raw)
	if err != nil {
		return s, errors.New("mail: mail.smtp is not a valid URL")
	}
	switch u.Scheme {
	case "smtp":
		s.port = 25
	case "smtps":
		s.port = 465
		s.implicit = true
	default:
		return s, fmt.Errorf("mail: mail.smtp must be smtp:// or smtps://, not %q", u.Scheme+":")
	}
	s.host = u.Hostname()
	if s.host == "" {
		return s, errors.New("mail: mail.smtp has no host")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return s, fmt.Errorf("mail: mail.smtp has a bad port %q", p)
		}
		s.port = n
	}
	if u.User != nil {
		s.user = u.User.Username()
		s.pass, _ = u.User.Password()
	}
	return s, nil
}
