// Package sip is brygga's SIP front: it answers INVITEs for rooms, owns the
// dialogs (BYE, re-INVITE, INFO, CANCEL) and hands each answered call, with
// its media session, to the conference.
package sip

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	ssip "github.com/emiago/sipgo/sip"

	"brygga/conference"
	"brygga/config"
	"brygga/internal/connlimit"
	"brygga/media"
	"brygga/media/codec"
	"brygga/media/dtmf"
	"brygga/sip/sdp"
	"brygga/store"
)

// Allow is what brygga answers to in a dialog and outside one.
const allowMethods = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE"

// dtmfPayloadType is the telephone-event payload type we offer when the
// offer is ours to make (an INVITE without SDP); the common choice.
const dtmfPayloadType = 101

// byeTimeout bounds how long a BYE may retransmit before the call is
// considered gone anyway (a vanished peer must not hold shutdown).
const byeTimeout = 8 * time.Second

// Options configure a Server.
type Options struct {
	Listen    []config.Listen
	TLS       *tls.Config // for tls listeners: the certificate, TLS 1.2 at least
	MediaIP   netip.Addr
	Ports     *media.PortPool
	Symmetric media.Symmetric
	Directory store.Directory
	Bridge    *conference.Bridge
	Trusted   []netip.Prefix
	Allow     []netip.Prefix
	// AuthUsers (user name → password) lets a source outside Allow and
	// Trusted in with digest authentication in AuthRealm; without them
	// such a source gets 403.
	AuthRealm string
	AuthUsers map[string]string
	MaxCalls  int
	UserAgent string
	// MaxCallsPerSource caps the calls (answered or being answered) from
	// one source outside Trusted; more get 486. 0: no cap.
	MaxCallsPerSource int
	// RateLimit limits each source outside Trusted (the PBX carries
	// everyone's calls): 503 with Retry-After over the rate, then no
	// answer at all for a cool-down. Zero rates: no limit.
	RateLimit config.RateLimit
	Codecs    []codec.Codec // what we accept, in our order of preference
	Logger    *slog.Logger
	// Homes places each room on one node when this bridge is a node of a
	// cluster: a new caller's room is claimed here, or the caller is sent
	// (302) to the node that holds it. Nil: a single bridge.
	Homes Homes

	// Connections limits the TCP and TLS connections: their deadlines
	// (zero: 10 s per message, 2 minutes idle) and how many may be open
	// in total and per source outside Trusted (zero: no cap).
	Connections config.Connections
	// OnConnectionRefused counts a connection closed at once for a cap:
	// "total" or "source". OnConnectionTimeout counts one cut by a
	// deadline: "message", "idle" or "write". Nil: not counted.
	OnConnectionRefused func(reason string)
	OnConnectionTimeout func(reason string)

	// OnCallResult counts how new calls end up: "answered", "rejected"
	// (a final error response to the INVITE) or "failed" (accepted but
	// never established). Nil: not counted.
	OnCallResult func(result string)
	// OnRefused counts requests refused to keep the bridge from being
	// used against others: "media_address" (an SDP address that is
	// multicast, broadcast, unspecified or someone's loopback: 488) and
	// "foreign_source" (a request in a dialog from another source than
	// the dialog's: 403). Nil: not counted.
	OnRefused func(reason string)
}

// Homes says which node of a cluster mixes a room (cluster.Node does).
type Homes interface {
	// Claim places a new caller of room. elsewhere "": the room is mixed
	// here, and release must be called once when the call ends, answered
	// or not. Otherwise elsewhere is the HOST:PORT of the node that mixes
	// it. An error: nobody can say now (the shared database is away).
	Claim(ctx context.Context, room string) (elsewhere string, release func(), err error)
}

// homeRetryAfter is the Retry-After of the 503 a caller gets when the
// cluster cannot say which node mixes its room: about the time a database
// restart or a proxy's failover takes.
const homeRetryAfter = "5"

// Server is the SIP side of the bridge.
type Server struct {
	opts    Options
	log     *slog.Logger
	ua      *sipgo.UserAgent
	srv     *sipgo.Server
	client  *sipgo.Client
	dialogs *sipgo.DialogUA

	mu        sync.Mutex
	calls     map[string]*call   // by SIP dialog ID
	answering int                // new INVITEs past the checks and not yet a call or refused
	answerFor map[netip.Addr]int // answering, by source
	origins   map[string]bool    // Call-ID and From tag of every INVITE being answered or call up (merged requests)
	limits    *limiter
	auth      *digestAuth // nil: no digest authentication
	listeners []io
	conns     *connlimit.Limiter // the TCP and TLS listeners' caps, shared
	bound     []config.Listen
	contacts  map[string]ssip.ContactHeader // by transport
	// broadcasts are our interfaces' directed broadcast addresses, which
	// no SDP may name (mediaRefusal); read once at New.
	broadcasts []netip.Addr

	draining  atomic.Bool
	fullSince atomic.Int64 // when max_connections was last logged as reached (Unix ns)
	wg        sync.WaitGroup
}

type io interface{ Close() error }

// New makes a Server; Start opens its listeners.
func New(o Options) (*Server, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if len(o.Codecs) == 0 {
		o.Codecs = []codec.Codec{codec.PCMU, codec.PCMA}
	}
	if o.UserAgent == "" {
		o.UserAgent = "brygga"
	}
	// The transport and transaction layers log too (connection trouble);
	// without their own logger sipgo writes to the process default.
	ua, err := sipgo.NewUA(sipgo.WithUserAgent(o.UserAgent),
		sipgo.WithUserAgentTransactionLayerOptions(ssip.WithTransactionLayerLogger(o.Logger.With("sipgo", "transaction"))),
		sipgo.WithUserAgentTransportLayerOptions(ssip.WithTransportLayerLogger(o.Logger.With("sipgo", "transport")), ssip.WithTransportLayerReadFilter(udpReadFilter)))
	if err != nil {
		return nil, err
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(o.Logger.With("sipgo", "server")))
	if err != nil {
		return nil, err
	}
	client, err := sipgo.NewClient(ua, sipgo.WithClientHostname(o.MediaIP.String()),
		sipgo.WithClientLogger(o.Logger.With("sipgo", "client")))
	if err != nil {
		return nil, err
	}
	s := &Server{
		opts:      o,
		log:       o.Logger,
		ua:        ua,
		srv:       srv,
		client:    client,
		calls:     make(map[string]*call),
		answerFor: make(map[netip.Addr]int),
		origins:   make(map[string]bool),
		contacts:  make(map[string]ssip.ContactHeader),
		limits:    newLimiter(o.RateLimit, nil),

		broadcasts: directedBroadcasts(),
	}
	s.conns = connlimit.New(connlimit.Limits{
		Max:       o.Connections.Max,
		PerSource: o.Connections.MaxPerSource,
		Exempt:    s.isTrusted,
		OnRefuse:  s.connectionRefused,
	})
	if len(o.AuthUsers) > 0 {
		realm := o.AuthRealm
		if realm == "" {
			realm = "brygga"
		}
		s.auth = newDigestAuth(realm, o.AuthUsers)
	}
	s.dialogs = &sipgo.DialogUA{Client: client}
	srv.OnInvite(s.guard(s.onInvite))
	srv.OnAck(s.guard(s.onAck))
	srv.OnBye(s.guard(s.onBye))
	srv.OnCancel(s.guard(s.onCancel))
	srv.OnOptions(s.guard(s.onOptions))
	srv.OnInfo(s.guard(s.onInfo))
	srv.OnUpdate(s.guard(s.onUpdate))
	for _, m := range []ssip.RequestMethod{ssip.REGISTER, ssip.SUBSCRIBE, ssip.NOTIFY, ssip.MESSAGE, ssip.REFER, ssip.PUBLISH, ssip.PRACK} {
		srv.OnRequest(m, s.guard(s.notAllowed))
	}
	srv.OnNoRoute(s.guard(s.notAllowed))
	return s, nil
}

// guard turns a panic in a handler into a 500 and a log line: no caller
// should bring the bridge down.
func (s *Server) guard(h sipgo.RequestHandler) sipgo.RequestHandler {
	return func(req *ssip.Request, tx ssip.ServerTransaction) {
		defer func() {
			if r := recover(); r != nil {
				s.log.Error("panic in SIP handler", "method", req.Method, "panic", r)
				if tx != nil && !req.IsAck() {
					_ = tx.Respond(ssip.NewResponseFromRequest(req, 500, "Server Internal Error", nil))
				}
			}
		}()
		if s.screen(req, tx) && s.withinLimits(req, tx) {
			h(req, tx)
		}
	}
}

// screen applies the abuse limits to a request before its handler runs and
// reports whether the handler may have it. Trusted sources pass: the PBX
// carries everyone's calls. A known scanner gets no answer and its source
// none for the cool-down; a source over its rate gets 503 with
// Retry-After, and one far over it nothing for the cool-down. Each
// cool-down is logged once, with fixed keys for fail2ban:
// msg="sip flood" source=ADDR or msg="sip scanner" source=ADDR.
func (s *Server) screen(req *ssip.Request, tx ssip.ServerTransaction) bool {
	src := sourceAddr(req)
	if s.isTrusted(src) {
		return true
	}
	if h := req.GetHeader("User-Agent"); h != nil && isScanner(h.Value()) {
		if s.limits.block(src) {
			s.log.Warn("sip scanner", "source", src, "drop_for", s.limits.dropFor, "user_agent", h.Value())
		}
		return false
	}
	v, wait := s.limits.check(src, isNewCall(req))
	switch v {
	case pass:
		return true
	case refuse:
		if !req.IsAck() { // an ACK has no response
			secs := max(1, int((wait+time.Second-1)/time.Second))
			s.log.Debug("rate limited", "source", src, "method", req.Method, "retry_after", secs)
			s.respond(req, tx, 503, "Service Unavailable", ssip.NewHeader("Retry-After", strconv.Itoa(secs)))
		}
	case dropStart:
		s.log.Warn("sip flood", "source", src, "drop_for", s.limits.dropFor)
	}
	return false
}

// Start opens every listener and serves in the background.
func (s *Server) Start() error {
	for _, l := range s.opts.Listen {
		switch l.Transport {
		case "udp":
			pc, err := net.ListenPacket("udp", l.Addr)
			if err != nil {
				s.Close()
				return fmt.Errorf("sip: listen udp %s: %w", l.Addr, err)
			}
			s.addListener(pc, "udp", pc.LocalAddr().String())
			go func() { _ = s.srv.ServeUDP(pc) }()
		case "tcp":
			ln, err := net.Listen("tcp", l.Addr)
			if err != nil {
				s.Close()
				return fmt.Errorf("sip: listen tcp %s: %w", l.Addr, err)
			}
			s.addListener(ln, "tcp", ln.Addr().String())
			sl := s.stream(ln, nil)
			go func() { _ = s.srv.ServeTCP(sl) }()
		case "tls":
			if s.opts.TLS == nil {
				s.Close()
				return fmt.Errorf("sip: listen tls %s: no certificate", l.Addr)
			}
			ln, err := net.Listen("tcp", l.Addr)
			if err != nil {
				s.Close()
				return fmt.Errorf("sip: listen tls %s: %w", l.Addr, err)
			}
			s.addListener(ln, "tls", ln.Addr().String())
			sl := s.stream(ln, s.opts.TLS)
			go func() { _ = s.srv.ServeTLS(sl) }()
		default:
			return fmt.Errorf("sip: unknown transport %q", l.Transport)
		}
	}
	return nil
}

// stream wraps a TCP listener in the connection caps and deadlines of
// Options.Connections; the caps count the TCP and TLS listeners together.
// Trusted sources are exempt from both caps: the PBX carries everyone's
// calls, and a flood from many addresses filling the total must not lock
// it out.
func (s *Server) stream(ln net.Listener, tc *tls.Config) streamListener {
	o := s.opts.Connections
	lim := &streamLimits{
		message:   cmp.Or(o.MessageTimeout, defaultMessageTimeout),
		idle:      cmp.Or(o.IdleTimeout, defaultIdleTimeout),
		busy:      s.carriesCall,
		onTimeout: s.opts.OnConnectionTimeout,
		log:       s.log,
	}
	return streamListener{Listener: s.conns.Wrap(ln), tls: tc, lim: lim}
}

// Connections is the number of TCP and TLS connections open.
func (s *Server) Connections() int { return s.conns.Open() }

func (s *Server) addListener(c io, transport, addr string) {
	ap := netip.MustParseAddrPort(addr)
	host := ap.Addr()
	if host.IsUnspecified() {
		host = s.opts.MediaIP
	}
	ct := ssip.ContactHeader{Address: ssip.Uri{Scheme: "sip", User: "brygga", Host: host.String(), Port: int(ap.Port())}}
	if transport != "udp" {
		ct.Address.UriParams = ssip.NewParams()
		ct.Address.UriParams.Add("transport", transport)
	}
	s.mu.Lock()
	s.listeners = append(s.listeners, c)
	s.bound = append(s.bound, config.Listen{Transport: transport, Addr: addr})
	if len(s.contacts) == 0 {
		// sipgo puts the dialog layer's Contact into every response and
		// in-dialog request that has none; left empty it would be
		// "<sip:>". Set before this listener serves, so handlers see it.
		s.dialogs.ContactHDR = ct
	}
	if _, ok := s.contacts[transport]; !ok {
		s.contacts[transport] = ct
	}
	s.mu.Unlock()
}

// Bound lists the listeners with their real addresses (port 0 resolved).
func (s *Server) Bound() []config.Listen {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]config.Listen(nil), s.bound...)
}

// Drain stops taking new calls: INVITEs get 503 from now on, and so does
// OPTIONS, so that a PBX or proxy health check fails over.
func (s *Server) Drain() {
	s.mu.Lock()
	s.draining.Store(true)
	s.mu.Unlock()
}

// reserve admits a new INVITE, or returns the status to refuse it with.
// Counting the INVITEs being answered keeps MaxCalls exact when INVITEs
// arrive together, and lets Wait cover an INVITE still being answered
// (its room looked up, its port taken) when draining starts.
func (s *Server) reserve(src netip.Addr, trusted bool) (code int, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.draining.Load():
		return 503, "Service Unavailable"
	case s.opts.MaxCalls > 0 && len(s.calls)+s.answering >= s.opts.MaxCalls:
		return 486, "Busy Here"
	case s.opts.MaxCallsPerSource > 0 && !trusted && s.callsFrom(src) >= s.opts.MaxCallsPerSource:
		return 486, "Busy Here"
	}
	s.answering++
	s.answerFor[src]++
	s.wg.Add(1)
	return 0, ""
}

// callsFrom counts the calls from src and its INVITEs being answered.
// Called with s.mu held; it scans, but only for a new INVITE and at most
// MaxCalls calls.
func (s *Server) callsFrom(src netip.Addr) int {
	n := s.answerFor[src]
	for _, c := range s.calls {
		if c.source == src {
			n++
		}
	}
	return n
}

// unanswer ends src's reservation. Called with s.mu held.
func (s *Server) unanswer(src netip.Addr) {
	s.answering--
	if s.answerFor[src]--; s.answerFor[src] <= 0 {
		delete(s.answerFor, src)
	}
}

// originOf names the request a new INVITE starts: its Call-ID and From
// tag. Another INVITE with the same while the first is answered or its
// call is up is a merged request. The CSeq is left out on purpose: a
// caller starting a call afresh takes a new Call-ID.
func originOf(req *ssip.Request) string {
	var id, tag string
	if h := req.CallID(); h != nil {
		id = h.Value()
	}
	if f := req.From(); f != nil {
		tag, _ = f.Params.Get("tag")
	}
	return id + "\x00" + tag
}

// claim takes origin for a new INVITE; false when another INVITE of the
// same origin holds it.
func (s *Server) claim(origin string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.origins[origin] {
		return false
	}
	s.origins[origin] = true
	return true
}

func (s *Server) release(origin string) {
	s.mu.Lock()
	delete(s.origins, origin)
	s.mu.Unlock()
}

// unreserve ends the INVITE handler's reservation. A tracked call has
// taken over the count already.
func (s *Server) unreserve(src netip.Addr, tracked bool) {
	if !tracked {
		s.mu.Lock()
		s.unanswer(src)
		s.mu.Unlock()
	}
	s.wg.Done()
}

// track makes c one of the server's calls until c.end, in place of the
// reservation of its INVITE.
func (s *Server) track(c *call) {
	s.mu.Lock()
	s.calls[c.dlg.ID] = c
	s.unanswer(c.source)
	s.wg.Add(1)
	s.mu.Unlock()
}

// Calls is the number of dialogs the server holds.
func (s *Server) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls)
}

// Wait blocks until every call has been released (its BYE answered or
// given up on) and no INVITE is still being answered, or ctx ends. Call it
// after Drain: a new call may start until then.
func (s *Server) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close shuts the listeners and the SIP stack.
func (s *Server) Close() {
	s.mu.Lock()
	ls := s.listeners
	s.listeners = nil
	s.mu.Unlock()
	for _, l := range ls {
		_ = l.Close()
	}
	_ = s.client.Close()
	_ = s.ua.Close()
}

func (s *Server) contact(transport string) ssip.ContactHeader {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.contacts[strings.ToLower(transport)]; ok {
		return c
	}
	for _, c := range s.contacts {
		return c
	}
	return ssip.ContactHeader{}
}

func (s *Server) result(r string) {
	if s.opts.OnCallResult != nil {
		s.opts.OnCallResult(r)
	}
}

func (s *Server) refused(reason string) {
	if s.opts.OnRefused != nil {
		s.opts.OnRefused(reason)
	}
}

// mediaRefusal applies mediaRefusal (mediaaddr.go) to an SDP address from
// src, counting a refusal; hold allows 0.0.0.0 (a re-INVITE's).
func (s *Server) mediaRefusal(a, src netip.Addr, trusted, hold bool) string {
	why := mediaRefusal(a, src, trusted, hold, s.broadcasts)
	if why != "" {
		s.refused("media_address")
	}
	return why
}

// fromDialog reports whether an in-dialog request may act on c: it comes
// from the source of c's INVITE, or from a trusted proxy. Knowing the
// dialog's Call-ID and tags is not enough: they travel in the clear over
// UDP, and whoever has them could hang up, move the media or key digits.
// A refusal is answered 403 (none for an ACK) and logged with fixed keys
// for fail2ban: msg="sip request from outside the dialog" source=ADDR.
func (s *Server) fromDialog(c *call, req *ssip.Request, tx ssip.ServerTransaction) bool {
	src := sourceAddr(req)
	if src == c.source || s.isTrusted(src) {
		return true
	}
	s.log.Warn("sip request from outside the dialog", "source", src, "method", req.Method, "call", c.id, "dialog_source", c.source)
	s.refused("foreign_source")
	if !req.IsAck() {
		s.respond(req, tx, 403, "Forbidden", ssip.NewHeader("Warning", `399 brygga "not from the dialog's source"`))
	}
	return false
}

// dialogCall is the call of an in-dialog request that may act on it
// (fromDialog), or nil when the request has been answered: 481 without
// such a call, 403 from outside the dialog.
func (s *Server) dialogCall(req *ssip.Request, tx ssip.ServerTransaction) *call {
	c := s.findCall(req)
	if c == nil {
		s.respond(req, tx, 481, "Call/Transaction Does Not Exist")
		return nil
	}
	if !s.fromDialog(c, req, tx) {
		return nil
	}
	return c
}

func (s *Server) respond(req *ssip.Request, tx ssip.ServerTransaction, code int, reason string, hdrs ...ssip.Header) {
	if code >= 400 && isNewCall(req) {
		s.result("rejected") // a 302 is no refusal
	}
	res := ssip.NewResponseFromRequest(req, code, reason, nil)
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	if err := tx.Respond(res); err != nil {
		s.log.Debug("respond failed", "code", code, "err", err)
	}
}

// isNewCall reports whether req is an INVITE that starts a call: without a
// To tag, so not a re-INVITE.
func isNewCall(req *ssip.Request) bool {
	to := req.To()
	return req.IsInvite() && (to == nil || !to.Params.Has("tag"))
}

func sourceAddr(req *ssip.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(req.Source())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// isTrusted reports whether a is in sip.trusted: the PBX or its proxy.
func (s *Server) isTrusted(a netip.Addr) bool { return inAny(a, s.opts.Trusted) }

func inAny(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// splitUser parses the Request-URI user: the extension, and a PIN after a
// '*' for one-step dial-in from a calendar link ("4711*2468").
func splitUser(user string) (ext, pinDigits string) {
	if i := strings.IndexAny(user, "*#,"); i >= 0 {
		return user[:i], strings.TrimRight(user[i+1:], "#")
	}
	return user, ""
}

func newID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (s *Server) onOptions(req *ssip.Request, tx ssip.ServerTransaction) {
	if s.draining.Load() {
		// Shutting down: a PBX or proxy health check fails over now.
		s.respond(req, tx, 503, "Service Unavailable", ssip.NewHeader("Retry-After", "30"))
		return
	}
	s.respond(req, tx, 200, "OK",
		ssip.NewHeader("Allow", allowMethods),
		ssip.NewHeader("Accept", "application/sdp, application/dtmf-relay, application/dtmf"),
		ssip.NewHeader("Supported", ""))
}

func (s *Server) notAllowed(req *ssip.Request, tx ssip.ServerTransaction) {
	s.respond(req, tx, 405, "Method Not Allowed", ssip.NewHeader("Allow", allowMethods))
}

// onCancel only sees a CANCEL that matched no pending INVITE: sipgo answers
// the others itself (200, then 487 on the INVITE).
func (s *Server) onCancel(req *ssip.Request, tx ssip.ServerTransaction) {
	s.respond(req, tx, 481, "Call/Transaction Does Not Exist")
}

func (s *Server) findCall(req *ssip.Request) *call {
	id, err := ssip.DialogIDFromRequestUAS(req)
	if err != nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[id]
}

func (s *Server) onAck(req *ssip.Request, tx ssip.ServerTransaction) {
	if c := s.findCall(req); c != nil && s.fromDialog(c, req, tx) {
		// The answer an ACK may carry is applied before ReadAck tells the
		// INVITE handler the call is confirmed, so that the call has its
		// media when the IVR starts.
		c.acked(req)
		_ = c.dlg.ReadAck(req, tx)
	}
}

func (s *Server) onBye(req *ssip.Request, tx ssip.ServerTransaction) {
	c := s.dialogCall(req, tx)
	if c == nil {
		return
	}
	if err := c.dlg.ReadBye(req, tx); err != nil {
		s.respond(req, tx, 500, "Server Internal Error")
	}
}

func (s *Server) onInfo(req *ssip.Request, tx ssip.ServerTransaction) {
	c := s.dialogCall(req, tx)
	if c == nil {
		return
	}
	ct := ""
	if h := req.ContentType(); h != nil {
		ct = h.Value()
	}
	d, ok := dtmf.ParseInfo(ct, req.Body())
	if !ok {
		s.respond(req, tx, 415, "Unsupported Media Type", ssip.NewHeader("Accept", "application/dtmf-relay, application/dtmf"))
		return
	}
	c.digit(d)
	s.respond(req, tx, 200, "OK")
}

// onInvite answers a new call, or hands a re-INVITE to its dialog.
func (s *Server) onInvite(req *ssip.Request, tx ssip.ServerTransaction) {
	if !isNewCall(req) {
		if c := s.dialogCall(req, tx); c != nil {
			s.reinvite(c, req, tx)
		}
		return
	}
	src := sourceAddr(req)
	trusted := s.isTrusted(src)
	log := s.log.With("call-id", req.CallID().Value(), "from", src)
	// Trusted sources (the PBX) call without authenticating too.
	if !trusted && !s.allowed(src) && !s.authenticated(req, tx, src, log) {
		return
	}
	origin := originOf(req)
	if !s.claim(origin) {
		// The same request on another branch (RFC 3261 §8.2.2.2): a
		// forking proxy delivered it twice. Answering both would put the
		// caller in the room twice.
		log.Info("merged request refused")
		s.respond(req, tx, 482, "Loop Detected")
		return
	}
	if code, reason := s.reserve(src, trusted); code != 0 {
		s.release(origin)
		log.Warn("call refused", "code", code, "calls", s.Calls())
		s.respond(req, tx, code, reason, ssip.NewHeader("Retry-After", "30"))
		return
	}
	tracked := false
	defer func() {
		if !tracked {
			s.release(origin)
		}
		s.unreserve(src, tracked)
	}()
	// 100 at once, before the directory is asked: a lookup that takes a
	// while must not make the caller retransmit, and a caller may CANCEL
	// only after a provisional response (RFC 3261 §9.1). Sent outside the
	// dialog: a 100 carries no To tag and no Contact.
	s.respond(req, tx, 100, "Trying")
	ext, dialled := splitUser(req.Recipient.User)
	rc, ok := s.opts.Directory.Room(ext)
	if !ok {
		log.Info("no such room", "extension", ext)
		s.respond(req, tx, 404, "Not Found")
		return
	}
	var choice sdp.Choice
	offer, err := sdp.ParseOffer(req.Body())
	delayed := errors.Is(err, sdp.ErrNoOffer)
	switch {
	case delayed:
		// Delayed offer (RFC 3261 §13.2.1): we offer in the 200 and the
		// caller answers in the ACK. Cisco CUCM and some trunks send this.
	case errors.Is(err, sdp.ErrMalformed):
		log.Info("malformed SDP", "err", err)
		s.respond(req, tx, 400, "Bad Request", ssip.NewHeader("Warning", `399 brygga "malformed SDP"`))
		return
	case err != nil:
		s.respond(req, tx, 488, "Not Acceptable Here", ssip.NewHeader("Warning", `304 brygga "no audio stream"`))
		return
	default:
		if choice, err = sdp.Negotiate(offer, s.opts.Codecs); err != nil {
			s.respond(req, tx, 488, "Not Acceptable Here", ssip.NewHeader("Warning", `305 brygga "incompatible media format"`))
			return
		}
		if why := s.mediaRefusal(offer.Addr, src, trusted, false); why != "" {
			log.Warn("media address refused", "addr", offer.Addr, "why", why)
			s.respond(req, tx, 488, "Not Acceptable Here", ssip.NewHeader("Warning", `399 brygga "`+why+`"`))
			return
		}
	}
	// Claimed before any media and before the IVR: two callers of a new
	// room reaching two nodes at once race on the claim, and the loser's
	// caller is sent to the winner before it hears anything.
	leave, placed := s.home(req, tx, ext, log)
	if !placed {
		return
	}
	defer func() {
		if !tracked && leave != nil {
			leave()
		}
	}()
	c := &call{
		srv:       s,
		id:        newID(),
		callerID:  callerID(req, trusted),
		source:    src,
		trusted:   trusted,
		transport: req.Transport(),
		digits:    make(chan byte, 32),
		acks:      make(chan uint32, 4),
		done:      make(chan struct{}),
		sessionID: uint64(time.Now().UnixNano()),
		origin:    origin,
		leave:     leave,
	}
	sess, err := media.NewSession(media.SessionConfig{
		Pool:      s.opts.Ports,
		Symmetric: s.opts.Symmetric,
		SignalIP:  net.IP(src.AsSlice()),
		Trusted:   trusted,
		OnDigit:   c.digit,
		Logger:    log,
	})
	if err != nil {
		log.Error("no media port", "err", err)
		s.respond(req, tx, 503, "Service Unavailable", ssip.NewHeader("Retry-After", "5"))
		return
	}
	c.sess = sess
	dlg, err := s.dialogs.ReadInvite(req, tx)
	if err != nil {
		sess.Close()
		if errors.Is(err, ssip.ErrTransactionCanceled) {
			// sipgo has answered the CANCEL (200) and the INVITE (487).
			log.Info("call cancelled before answer")
			return
		}
		log.Info("invite refused", "err", err)
		s.respond(req, tx, 400, "Bad Request")
		return
	}
	c.dlg = dlg
	c.target = dlg.InviteRequest.Contact().Address // ReadInvite insists on a Contact

	var body []byte
	if delayed {
		body, err = c.offer(req.CSeq().SeqNo)
	} else {
		c.choice = choice
		if body, err = c.answer(offer); err == nil {
			err = c.apply(offer, choice)
		}
	}
	if err != nil {
		log.Error("build SDP", "err", err)
		sess.Close()
		_ = dlg.Respond(500, "Server Internal Error", nil)
		return
	}
	sess.Start()

	s.track(c)
	tracked = true
	go c.watch()

	res := ssip.NewSDPResponseFromRequest(dlg.InviteRequest, body)
	res.AppendHeader(ptr(s.contact(c.transport)))
	res.AppendHeader(ssip.NewHeader("Allow", allowMethods))
	// WriteResponse retransmits the 2xx until the ACK arrives; it fails
	// when the INVITE was cancelled before the 2xx could go.
	if err := dlg.WriteResponse(res); err != nil {
		if errors.Is(err, ssip.ErrTransactionCanceled) {
			// As before ReadInvite: sipgo answered the CANCEL and the
			// INVITE (487). The caller gave up; no failure of ours.
			log.Info("call cancelled before answer")
		} else {
			log.Info("call not established", "err", err)
			s.result("failed")
		}
		c.end()
		return
	}
	switch {
	case c.ended():
		// The caller hung up before its ACK came.
		s.result("failed")
		return
	case c.codec() == nil:
		log.Info("no usable SDP answer in the ACK to our offer")
		s.result("failed")
		c.Hangup()
		return
	case s.draining.Load():
		// Shutdown began while we answered. The conference's HangupAll
		// may have run already and would never see this call.
		c.Hangup()
		return
	}
	s.result("answered")
	log.Info("call answered", "call", c.id, "room", rc.Extension, "codec", c.codec().Name(), "transport", c.transport, "delayed_offer", delayed)
	go func() {
		s.opts.Bridge.Serve(c, rc, dialled)
		c.Hangup()
		<-c.done
	}()
}

func ptr[T any](v T) *T { return &v }

// home places a new caller of room on this node or another (Homes) and
// reports whether it is to be answered here; if not, the INVITE has been
// answered: 302 to the node that mixes the room, or 503 when that cannot
// be known. leave, if not nil, is to be called when the call ends.
func (s *Server) home(req *ssip.Request, tx ssip.ServerTransaction, room string, log *slog.Logger) (leave func(), here bool) {
	if s.opts.Homes == nil {
		return nil, true
	}
	elsewhere, leave, err := s.opts.Homes.Claim(context.Background(), room)
	switch {
	case err != nil:
		log.Warn("room not placed: the cluster's database did not answer", "room", room, "err", err)
		s.respond(req, tx, 503, "Service Unavailable", ssip.NewHeader("Retry-After", homeRetryAfter))
		return nil, false
	case elsewhere != "":
		ct, err := redirectContact(req, elsewhere)
		if err != nil {
			log.Error("room's node has an unusable address", "room", room, "node", elsewhere, "err", err)
			s.respond(req, tx, 500, "Server Internal Error")
			return nil, false
		}
		log.Info("caller sent to the room's node", "room", room, "node", elsewhere)
		s.respond(req, tx, 302, "Moved Temporarily", ct)
		return nil, false
	}
	return leave, true
}

// redirectContact is the Contact of the 302 that sends the caller of req
// to the node at hostport: the Request-URI's user as dialled (a one-step
// PIN included), over the INVITE's transport.
func redirectContact(req *ssip.Request, hostport string) (*ssip.ContactHeader, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil, err
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return nil, err
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]" // IPv6, as a SIP URI writes it
	}
	ct := &ssip.ContactHeader{Address: ssip.Uri{Scheme: "sip", User: req.Recipient.User, Host: host, Port: p}}
	if tr := strings.ToLower(req.Transport()); tr != "udp" && tr != "" {
		ct.Address.UriParams = ssip.NewParams()
		ct.Address.UriParams.Add("transport", tr)
	}
	return ct, nil
}

// allowed reports whether a source may call without authenticating: it is
// in sip.allow (no list: everyone).
func (s *Server) allowed(src netip.Addr) bool {
	return len(s.opts.Allow) == 0 || inAny(src, s.opts.Allow)
}

// authenticated checks the digest credentials of an INVITE from a source
// that is not allowed, and answers it when they do not pass: 403 without
// digest accounts, else 401 with a challenge. A failure is logged with
// fixed keys for fail2ban: msg="sip auth failed" source=ADDR user=NAME.
func (s *Server) authenticated(req *ssip.Request, tx ssip.ServerTransaction, src netip.Addr, log *slog.Logger) bool {
	if s.auth == nil {
		log.Warn("invite from a source not allowed")
		s.respond(req, tx, 403, "Forbidden")
		return false
	}
	var values []string
	for _, h := range req.GetHeaders("Authorization") {
		values = append(values, h.Value())
	}
	now := time.Now()
	res, user := s.auth.verify(string(req.Method), values, now)
	switch res {
	case authOK:
		log.Info("caller authenticated", "user", user)
		return true
	case authFailed:
		s.log.Warn("sip auth failed", "source", src, "user", user)
	}
	s.respond(req, tx, 401, "Unauthorized", ssip.NewHeader("WWW-Authenticate", s.auth.challenge(now, res == authStale)))
	return false
}

// callerID is the caller's number: P-Asserted-Identity from a trusted
// source (the PBX), else the From user.
func callerID(req *ssip.Request, trusted bool) string {
	if trusted {
		if h := req.GetHeader("P-Asserted-Identity"); h != nil {
			var u ssip.Uri
			v := strings.Trim(strings.TrimSpace(h.Value()), "<>")
			if i := strings.Index(v, "<"); i >= 0 {
				v = strings.TrimSuffix(v[i+1:], ">")
			}
			if err := ssip.ParseUri(v, &u); err == nil && u.User != "" {
				return u.User
			}
		}
	}
	if f := req.From(); f != nil {
		return f.Address.User
	}
	return ""
}

// reinvite follows a changed offer in c's dialog (a re-INVITE, or an
// UPDATE with SDP): hold and resume, a new port or address, or a session
// refresh without SDP (then we offer and the caller answers in the ACK).
func (s *Server) reinvite(c *call, req *ssip.Request, tx ssip.ServerTransaction) {
	if err := c.dlg.ReadRequest(req, tx); err != nil {
		s.respond(req, tx, 500, "Server Internal Error", ssip.NewHeader("Retry-After", "1"))
		return
	}
	cseq := req.CSeq().SeqNo
	body, code := c.renegotiate(req.Body(), cseq)
	if code != 200 {
		s.respond(req, tx, code, reasons[code])
		return
	}
	if ct := req.Contact(); ct != nil {
		// A target refresh (RFC 3261 §12.2.2): our BYE goes there now.
		c.setTarget(ct.Address)
	}
	res := ssip.NewSDPResponseFromRequest(req, body)
	res.AppendHeader(ptr(s.contact(c.transport)))
	if !req.IsInvite() {
		// UPDATE: a plain transaction, no ACK.
		if err := tx.Respond(res); err != nil {
			s.log.Debug("update response", "err", err)
		}
		return
	}
	c.drainAcks()
	if err := tx.Respond(res); err != nil {
		s.log.Debug("re-invite response", "err", err)
		return
	}
	if !ssip.IsReliable(req.Transport()) {
		c.retransmit(tx, res, cseq)
	}
}

var reasons = map[int]string{
	400: "Bad Request",
	488: "Not Acceptable Here",
	500: "Server Internal Error",
}

// onUpdate is a re-INVITE without the ACK (RFC 3311); most peers send it
// for session timers, without SDP.
func (s *Server) onUpdate(req *ssip.Request, tx ssip.ServerTransaction) {
	c := s.dialogCall(req, tx)
	if c == nil {
		return
	}
	if len(req.Body()) == 0 {
		s.respond(req, tx, 200, "OK", ptr(s.contact(c.transport)))
		return
	}
	s.reinvite(c, req, tx)
}
