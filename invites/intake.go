package invites

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-smtp"

	"brygga/calendar"
	"brygga/internal/connlimit"
)

// Limits of the intake.
const (
	MaxMessageBytes = 10 << 20         // a larger invite is refused (552) before it is read
	readTimeout     = 5 * time.Minute  // a command, or a whole DATA transfer (RFC 5321 4.5.3.2.7)
	writeTimeout    = time.Minute      // one answer
	handleTimeout   = 5 * time.Minute  // booking and mailing the replies of one message
	shutdownGrace   = 10 * time.Second // sessions under way get this long when Serve stops
	maxRecipients   = 20               // RCPTs in one transaction; only Address is taken anyway
	socketMode      = 0o660            // a unix socket: brygga's user and group (add the MTA's user to it)
)

// ListenConfig reads mail.listen: "HOST:PORT" is SMTP over TCP,
// "lmtp:HOST:PORT" LMTP over TCP, and "lmtp:/path" or "/path" LMTP on a
// unix socket (the path must be absolute).
func ListenConfig(spec string) (network, address string, lmtp bool, err error) {
	rest, lmtp := strings.CutPrefix(strings.TrimSpace(spec), "lmtp:")
	switch {
	case rest == "":
		return "", "", false, fmt.Errorf("invites: mail.listen %q names no address", spec)
	case strings.HasPrefix(rest, "/"):
		return "unix", rest, true, nil
	}
	host, port, err := net.SplitHostPort(rest)
	if err != nil {
		return "", "", false, fmt.Errorf("invites: mail.listen %q is not host:port, lmtp:host:port or a socket path: %w", spec, err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return "", "", false, fmt.Errorf("invites: mail.listen %q has a bad port %q", spec, port)
	}
	return "tcp", net.JoinHostPort(host, port), lmtp, nil
}

// Listen opens the listener that mail.listen names, for Serve. A socket
// file left behind by an earlier run is removed first (a socket that
// answers is in use, and a file that is no socket is never touched); the
// new socket gets mode 0660, so the mail server's user must be in
// brygga's group. Closing the listener removes the socket file.
func Listen(spec string) (l net.Listener, lmtp bool, err error) {
	network, addr, lmtp, err := ListenConfig(spec)
	if err != nil {
		return nil, false, err
	}
	if network == "unix" {
		if err := removeStale(addr); err != nil {
			return nil, false, err
		}
	}
	l, err = net.Listen(network, addr)
	if err != nil {
		return nil, false, fmt.Errorf("invites: listening on %s: %w", spec, err)
	}
	if network == "unix" {
		if err := os.Chmod(addr, socketMode); err != nil {
			l.Close()
			return nil, false, fmt.Errorf("invites: %w", err)
		}
	}
	return l, lmtp, nil
}

func removeStale(path string) error {
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("invites: %w", err)
	case fi.Mode()&fs.ModeSocket == 0:
		return fmt.Errorf("invites: %s exists and is not a socket; not replacing it", path)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return fmt.Errorf("invites: %s is in use by another process", path)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("invites: removing the stale socket: %w", err)
	}
	return nil
}

// Serve takes invites on l — SMTP, or LMTP when lmtp is set — until ctx
// ends or l fails; then it stops taking connections and gives the
// sessions under way a moment to finish. It returns nil after ctx ended.
//
// It is meant for the organization's mail server, which relays to it the
// mail for Address: there is no AUTH and no TLS, so bind it to loopback,
// a unix socket, or an address only that server can reach. Mail for any
// other recipient is refused (550 5.1.1). A message without a
// text/calendar part is refused (554 5.6.0) so that its sender gets a
// bounce that says why, and so is one whose sender is not proven to be
// the organizer it names or a delegate (550 5.7.1, see vouch); an invite
// that cannot be booked is taken (250) and declined by mail; a store
// failure, or a reply that could not be sent for a reason that may pass,
// is 451 4.3.0, and the mail server tries again.
func (d *Desk) Serve(ctx context.Context, l net.Listener, lmtp bool) error {
	if d.Address == "" {
		l.Close()
		return errors.New("invites: Desk.Address (mail.address) is not set")
	}
	s := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{d: d, ctx: ctx, remote: c.Conn().RemoteAddr().String()}, nil
	}))
	s.LMTP = lmtp
	s.Domain = domain(d.Address)
	s.MaxMessageBytes = MaxMessageBytes
	s.MaxRecipients = maxRecipients
	s.ReadTimeout = readTimeout
	s.WriteTimeout = writeTimeout
	s.ErrorLog = logger{d}

	// A mail server delivers over a few connections at once (Postfix
	// keeps to 20 per destination); one address holding more only ties
	// up descriptors and goroutines, five minutes per command at that.
	l = connlimit.Wrap(l, connlimit.Limits{
		PerSource: d.MaxConnsPerSource,
		OnRefuse: func(src netip.Addr, _ string, first bool) {
			if first {
				d.log().Warn("invites: connections refused", "source", src, "max", d.MaxConnsPerSource)
			}
			if d.OnRefused != nil {
				d.OnRefused()
			}
		},
	})
	d.log().Info("invites: taking invites", "listen", l.Addr().String(), "lmtp", lmtp, "address", d.Address)
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	select {
	case err := <-served:
		s.Close()
		return fmt.Errorf("invites: %w", err)
	case <-ctx.Done():
	}
	// The sessions' context has ended too: a message being handled
	// stops and is answered 451, so nothing is lost.
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := s.Shutdown(sctx); err != nil {
		s.Close() // idle connections the mail server keeps open
	}
	l.Close() // in case go-smtp had not registered it yet when ctx ended
	<-served
	return nil
}

// domain is the bridge's mail domain, for its greeting and Message-IDs:
// that of addr, or "brygga" when addr has none.
func domain(addr string) string {
	if host := domainOf(addr); host != addr && host != "" {
		return host
	}
	return "brygga"
}

// logger passes go-smtp's internal errors to the Desk's log.
type logger struct{ d *Desk }

func (l logger) Printf(format string, v ...any) {
	l.d.log().Warn("invites: smtp: " + strings.TrimSpace(fmt.Sprintf(format, v...)))
}

func (l logger) Println(v ...any) {
	l.d.log().Warn("invites: smtp: " + strings.TrimSpace(fmt.Sprintln(v...)))
}

// Answers of the intake.
var (
	errNoCalendar = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0},
		Message: "brygga only reads meeting invitations (no text/calendar part)"}
	errRetry = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0},
		Message: "brygga could not finish with this invitation; please try again later"}
)

type session struct {
	d      *Desk
	ctx    context.Context
	remote string
	from   string
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if !strings.EqualFold(to, s.d.Address) {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1},
			Message: fmt.Sprintf("no mailbox %s here: brygga takes meeting invitations for %s only", to, s.d.Address)}
	}
	return nil
}

func (s *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err // too large (552), or the connection broke
	}
	log := s.d.log().With("remote", s.remote, "mail_from", s.from)
	req, err := calendar.ParseMessage(bytes.NewReader(data), s.d.now())
	var rej *calendar.Rejection
	switch {
	case errors.Is(err, calendar.ErrNoCalendar):
		log.Info("invites: refused a message without an invitation")
		return errNoCalendar
	case err != nil && !errors.As(err, &rej):
		log.Info("invites: refused an unreadable invitation", "error", err)
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0},
			Message: "brygga could not read the meeting invitation: " + strings.TrimPrefix(err.Error(), "calendar: ")}
	}

	id := identityOf(data, s.from)
	if err := s.d.refuse(req, id, log); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(s.ctx, handleTimeout)
	defer cancel()
	outcomes := s.d.submit(ctx, req, err, s.d.proven(id), id.who())
	for _, o := range outcomes {
		if o.Retry {
			log.Warn("invites: asking the mail server to send the invitation again", "uid", o.UID, "reason", o.Reason, "mail_error", o.MailError)
			return errRetry
		}
	}
	return nil
}

// refuse is the answer to a request that names an organizer its sender is
// not proven to be (see vouch): 550 5.7.1 with the reason, so that the
// sender's own server bounces it to them, and nothing is booked, cancelled
// or mailed to the organizer it named. nil when every organizer is proven.
func (d *Desk) refuse(req *calendar.Request, id identity, log *slog.Logger) error {
	if req == nil {
		return nil
	}
	seen := map[string]bool{}
	for _, m := range req.Meetings {
		org := strings.ToLower(m.Organizer)
		if org == "" || seen[org] {
			continue
		}
		seen[org] = true
		rooms, delegates := d.owned(m.Organizer)
		if ok, reason := vouch(id, m.Organizer, delegates, d.AuthservID); !ok {
			log.Warn("invites: refused an invitation its organizer is not proven to have sent",
				"rooms", rooms, "organizer", m.Organizer, "from", strings.Join(id.from, ", "), "sender", id.sender,
				"uid", m.UID, "reason", reason)
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
				Message: replyText("brygga takes invitations only from their organizer or a delegate: " + reason)}
		}
	}
	return nil
}

// proven is the From of a message when its sender is proven to be that
// address (vouch with no delegates): where the decline of an invite that
// names no organizer may go. "" when not: no mail then, since it would go
// to an address the sender merely wrote.
func (d *Desk) proven(id identity) string {
	if len(id.from) != 1 {
		return ""
	}
	if ok, _ := vouch(id, id.from[0], nil, d.AuthservID); !ok {
		return ""
	}
	return id.from[0]
}

// owned are the directory rooms whose owner is organizer, and the
// delegates they list.
func (d *Desk) owned(organizer string) (rooms, delegates []string) {
	if d.Booker == nil {
		return nil, nil
	}
	for _, r := range d.Booker.OwnedBy(organizer) {
		rooms = append(rooms, r.Extension)
		delegates = append(delegates, r.Delegates...)
	}
	return rooms, delegates
}

// replyText makes s fit one SMTP reply line: printable ASCII, bounded.
// Addresses in it come from the message, which may hold anything.
func replyText(s string) string {
	const limit = 400
	b := []byte(s)
	for i, c := range b {
		if c < ' ' || c > '~' {
			b[i] = '?'
		}
	}
	if len(b) > limit {
		b = append(b[:limit-3], "..."...)
	}
	return string(b)
}

func (s *session) Reset()        { s.from = "" }
func (s *session) Logout() error { return nil }
