// Package phone is a small SIP phone on sipgo and pion/rtp: it dials, sends
// audio and keypresses, hears and records what comes back, and hangs up.
// The bridge's end-to-end tests use it as callers, and the load generator
// uses it to place many calls from one Phone.
//
// A Phone is one user agent with one listening socket (UDP or TCP) that is
// its Contact, so the bridge's in-dialog requests (BYE, re-INVITE, INFO,
// OPTIONS) reach it. Each Call has its own RTP socket.
package phone

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/google/uuid"

	"brygga/media/codec"
	"brygga/mixer"
	"brygga/sip/sdp"
)

// Config describes a Phone. The zero value (after defaults) is a PCMU phone
// on 127.0.0.1 over UDP offering telephone-event 101.
type Config struct {
	LocalIP         netip.Addr  // address for SIP and RTP; default 127.0.0.1
	Transport       string      // "udp" (default), "tcp" or "tls"
	TLS             *tls.Config // client side of "tls": whom to trust (RootCAs), ServerName
	SRTP            bool        // offer RTP/SAVP with an SDES key (AES_CM_128_HMAC_SHA1_80) instead of RTP/AVP
	AuthUser        string      // answer a 401/407 to the INVITE with digest credentials
	AuthPassword    string
	User            string        // user part of From and Contact; default "phone"
	DisplayName     string        // optional display name in From
	Codec           codec.Codec   // the one codec offered; default PCMU
	DTMFPayloadType uint8         // telephone-event payload type offered; default 101
	InBandDTMF      bool          // offer no telephone-event: SendDigits plays the tones in the audio
	RecordLimit     time.Duration // received audio kept per call; default 120 s, negative keeps none
	Logger          *slog.Logger  // nil discards

	// Clock, when set, runs every call's RTP from its ticks: each 20 ms
	// one tick of the call sends its frame and drains its socket with
	// recvmmsg (kernel arrival times kept), so a thousand calls cost a
	// few goroutines on spread phases rather than two goroutines and a
	// timer each, woken per packet. Meant for load generators; make it
	// with CatchUp -1 (the call catches up after a stall by itself). Nil
	// (the default, and on systems other than Linux always): every call
	// has a sender and a receiver goroutine of its own.
	Clock *mixer.Clock
}

// StatusError is a final non-2xx response to a request of ours.
type StatusError struct {
	Code   int
	Reason string
	// Contact is the first Contact URI of a 3xx answer to an INVITE: where
	// a redirect sends the caller. "" for other answers.
	Contact string
	cause   error
}

func (e *StatusError) Error() string {
	if e.cause != nil {
		return fmt.Sprintf("phone: %d %s (%v)", e.Code, e.Reason, e.cause)
	}
	return fmt.Sprintf("phone: %d %s", e.Code, e.Reason)
}

// Unwrap gives the cause of a cancelled dial (context.Canceled or
// context.DeadlineExceeded) along with the 487 the far end answered.
func (e *StatusError) Unwrap() error { return e.cause }

// ErrClosed is returned by Dial on a closed Phone.
var ErrClosed = errors.New("phone: closed")

// Phone is one SIP user agent that places calls.
type Phone struct {
	cfg       Config
	log       *slog.Logger
	transport string // "UDP" or "TCP", as sipgo spells it
	ua        *sipgo.UserAgent
	client    *sipgo.Client
	server    *sipgo.Server
	dialogUA  *sipgo.DialogUA
	contact   sip.ContactHeader
	addr      netip.AddrPort
	listener  io.Closer
	serveDone chan struct{}

	ctx       context.Context // cancelled by Close: dials in progress send CANCEL
	cancel    context.CancelFunc
	stopAfter func() bool

	mu     sync.Mutex
	calls  map[string]*Call // by Call-ID, from INVITE sent until the call ended
	closed bool
	dials  sync.WaitGroup
}

// New starts a Phone listening on an ephemeral port of cfg.LocalIP. The Phone
// closes itself when ctx is done.
func New(ctx context.Context, cfg Config) (*Phone, error) {
	if !cfg.LocalIP.IsValid() {
		cfg.LocalIP = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	}
	if cfg.Transport == "" {
		cfg.Transport = "udp"
	}
	if cfg.User == "" {
		cfg.User = "phone"
	}
	if cfg.Codec == nil {
		cfg.Codec = codec.PCMU
	}
	if cfg.DTMFPayloadType == 0 {
		cfg.DTMFPayloadType = 101
	}
	if cfg.RecordLimit == 0 {
		cfg.RecordLimit = 120 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	transport := strings.ToUpper(cfg.Transport)
	if transport != "UDP" && transport != "TCP" && transport != "TLS" {
		return nil, fmt.Errorf("phone: transport %q: want udp, tcp or tls", cfg.Transport)
	}
	if transport == "TLS" && cfg.TLS == nil {
		return nil, errors.New("phone: transport tls needs Config.TLS")
	}
	if cfg.DTMFPayloadType < 96 || cfg.DTMFPayloadType > 127 {
		return nil, fmt.Errorf("phone: telephone-event payload type %d is not dynamic (96-127)", cfg.DTMFPayloadType)
	}

	uaOpts := []sipgo.UserAgentOption{
		sipgo.WithUserAgent("brygga-phone"),
		sipgo.WithUserAgentHostname(cfg.LocalIP.String()),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(log)),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(log)),
	}
	if cfg.TLS != nil {
		uaOpts = append(uaOpts, sipgo.WithUserAgenTLSConfig(cfg.TLS))
	}
	ua, err := sipgo.NewUA(uaOpts...)
	if err != nil {
		return nil, fmt.Errorf("phone: %w", err)
	}
	p := &Phone{
		cfg:       cfg,
		log:       log,
		transport: transport,
		ua:        ua,
		calls:     make(map[string]*Call),
		serveDone: make(chan struct{}),
	}
	if err := p.listen(); err != nil {
		ua.Close()
		return nil, err
	}
	p.contact = sip.ContactHeader{Address: sip.Uri{
		Scheme: "sip",
		User:   cfg.User,
		Host:   cfg.LocalIP.String(),
		Port:   int(p.addr.Port()),
	}}
	if transport != "UDP" {
		p.contact.Address.UriParams = sip.HeaderParams{{K: "transport", V: strings.ToLower(transport)}}
	}
	p.dialogUA = &sipgo.DialogUA{Client: p.client, ContactHDR: p.contact}

	p.server.OnBye(p.onBye)
	p.server.OnInvite(p.onInvite)
	p.server.OnAck(p.onAck)
	p.server.OnInfo(p.onInfo)
	p.server.OnOptions(p.onOptions)
	p.server.OnCancel(p.onCancel)

	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.stopAfter = context.AfterFunc(ctx, func() { p.Close() })
	return p, nil
}

func (p *Phone) listen() error {
	srv, err := sipgo.NewServer(p.ua, sipgo.WithServerLogger(p.log))
	if err != nil {
		return fmt.Errorf("phone: %w", err)
	}
	p.server = srv
	ip := p.cfg.LocalIP
	var opts []sipgo.ClientOption
	opts = append(opts, sipgo.WithClientLogger(p.log), sipgo.WithClientHostname(ip.String()))
	switch p.transport {
	case "UDP":
		conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 0)))
		if err != nil {
			return fmt.Errorf("phone: listen: %w", err)
		}
		p.listener = conn
		p.addr = conn.LocalAddr().(*net.UDPAddr).AddrPort()
		go func() {
			defer close(p.serveDone)
			srv.ServeUDP(conn)
		}()
		// Requests leave from the listening socket, so the far end's
		// responses and in-dialog requests come back to the Contact.
		opts = append(opts, sipgo.WithClientConnectionAddr(p.addr.String()))
		// ServeUDP registers the socket in sipgo's connection pool from its
		// own goroutine; a Dial before that would bind a second socket to
		// the same port and fail.
		pool := p.ua.TransportLayer().Pool("udp")
		for deadline := time.Now().Add(2 * time.Second); pool.Size() == 0; {
			if time.Now().After(deadline) {
				conn.Close()
				return errors.New("phone: sipgo did not take the UDP socket into use")
			}
			time.Sleep(time.Millisecond)
		}
	case "TCP":
		ln, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(ip, 0)))
		if err != nil {
			return fmt.Errorf("phone: listen: %w", err)
		}
		p.listener = ln
		p.addr = ln.Addr().(*net.TCPAddr).AddrPort()
		go func() {
			defer close(p.serveDone)
			srv.ServeTCP(ln)
		}()
		// Over TCP the INVITE goes on a connection of its own to the bridge
		// (binding it to the listening port would fail); the bridge reuses
		// that connection or connects to the Contact.
	case "TLS":
		// A phone has no certificate to serve TLS with. The port is held
		// for the Contact, and nothing is served on it: the bridge's
		// requests come back on the connection the INVITE opened, which
		// sipgo reads like any other.
		ln, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(ip, 0)))
		if err != nil {
			return fmt.Errorf("phone: listen: %w", err)
		}
		p.listener = ln
		p.addr = ln.Addr().(*net.TCPAddr).AddrPort()
		close(p.serveDone)
	}
	client, err := sipgo.NewClient(p.ua, opts...)
	if err != nil {
		p.listener.Close()
		return fmt.Errorf("phone: %w", err)
	}
	p.client = client
	return nil
}

// Addr is where the Phone listens for SIP: its Contact.
func (p *Phone) Addr() netip.AddrPort { return p.addr }

// Calls returns the calls in progress (dialling or answered).
func (p *Phone) Calls() []*Call {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*Call, 0, len(p.calls))
	for _, c := range p.calls {
		out = append(out, c)
	}
	return out
}

// Close hangs up every call (briefly waiting for the BYEs to be answered),
// cancels dials in progress and stops listening. It is idempotent.
func (p *Phone) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	calls := make([]*Call, 0, len(p.calls))
	for _, c := range p.calls {
		calls = append(calls, c)
	}
	p.mu.Unlock()
	p.stopAfter()
	p.cancel()

	// Politeness first, within a bound: BYE the answered calls, let the
	// dials send their CANCEL. Then the user agent goes regardless.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, c := range calls {
		if c.established() != nil {
			wg.Go(func() { c.Hangup(ctx) })
		}
	}
	dialsDone := make(chan struct{})
	go func() {
		p.dials.Wait()
		close(dialsDone)
	}()
	wg.Wait()
	select {
	case <-dialsDone:
	case <-ctx.Done():
	}

	err := p.ua.Close() // terminates transactions: dials still waiting return now
	<-dialsDone
	for _, c := range p.Calls() {
		c.end(false)
	}
	if cerr := p.listener.Close(); cerr != nil && !errors.Is(cerr, net.ErrClosed) {
		err = errors.Join(err, cerr)
	}
	<-p.serveDone
	return err
}

// DialOption changes one Dial.
type DialOption func(*dialOptions)

type dialOptions struct {
	cancelAfter time.Duration
	headers     []sip.Header
	onPacket    func(Packet)
	proxy       string
	mediaAddr   netip.AddrPort
	redirects   int
}

// WithRedirects follows up to n 3xx answers: each sends a new INVITE, with
// a new Call-ID, to the answer's Contact (RFC 3261 §8.1.3.4, as a phone
// that recurses does). Dial fails with the 3xx beyond n, or when one has
// no Contact. Call.Target says where the call ended up.
func WithRedirects(n int) DialOption {
	return func(o *dialOptions) { o.redirects = n }
}

// WithCancelAfter sends CANCEL when the call is not answered within d; Dial
// then fails with a StatusError 487 wrapping context.DeadlineExceeded (or
// with context.DeadlineExceeded alone when the far end never responded).
func WithCancelAfter(d time.Duration) DialOption {
	return func(o *dialOptions) { o.cancelAfter = d }
}

// WithHeader adds a header to the INVITE (e.g. a custom X- header).
func WithHeader(name, value string) DialOption {
	return func(o *dialOptions) { o.headers = append(o.headers, sip.NewHeader(name, value)) }
}

// WithOutboundProxy sends the INVITE to proxy (e.g. "sip:pbx.example.org"
// or "sip:192.0.2.1:5070") while its Request-URI stays the target: the
// proxy goes in a Route header (RFC 3261 §8.1.2, a pre-loaded route), made
// a loose route (;lr) if it is not one, as every proxy today is. Requests
// later in the dialog follow the route set the proxy records, as the RFC
// has them; a proxy that records no route is not in their path. An empty
// proxy changes nothing.
func WithOutboundProxy(proxy string) DialOption {
	return func(o *dialOptions) { o.proxy = proxy }
}

// WithMediaAddress makes the call's SDP offers name addr as where it
// receives RTP instead of its own socket, which still sends and receives:
// a caller naming someone else's address, as an attacker who wants the
// bridge to flood it would.
func WithMediaAddress(addr netip.AddrPort) DialOption {
	return func(o *dialOptions) { o.mediaAddr = addr }
}

// WithReceiveHook hands fn every RTP packet the call receives, from the
// moment RTP starts (before Dial returns), so a load generator can measure
// each packet without keeping a recording. fn runs on the call's receiver
// goroutine (on a clocked Phone, in the call's tick) after the call's own
// accounting, with no lock of the call held; it must return promptly and
// must not hang the call up, and Packet.Audio is valid only during the call.
func WithReceiveHook(fn func(Packet)) DialOption {
	return func(o *dialOptions) { o.onPacket = fn }
}

// Dial sends an INVITE with an SDP offer to target (e.g.
// "sip:4711@127.0.0.1:5060"), waits for the answer, ACKs it and starts RTP.
// A final non-2xx answer gives a *StatusError. Cancelling ctx (or
// WithCancelAfter) before the answer sends CANCEL.
func (p *Phone) Dial(ctx context.Context, target string, opts ...DialOption) (*Call, error) {
	var o dialOptions
	for _, f := range opts {
		f(&o)
	}
	for redirects := 0; ; redirects++ {
		c, err := p.dial(ctx, target, o)
		var se *StatusError
		if err == nil || redirects >= o.redirects || !errors.As(err, &se) || se.Code/100 != 3 || se.Contact == "" {
			return c, err
		}
		target = se.Contact
	}
}

func (p *Phone) dial(ctx context.Context, target string, o dialOptions) (*Call, error) {
	var uri sip.Uri
	if err := sip.ParseUri(target, &uri); err != nil {
		return nil, fmt.Errorf("phone: target %q: %w", target, err)
	}
	var route *sip.RouteHeader
	if o.proxy != "" {
		r, err := outboundRoute(o.proxy)
		if err != nil {
			return nil, err
		}
		route = r
	}

	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	p.dials.Add(1)
	p.mu.Unlock()
	defer p.dials.Done()

	c, err := p.newCall()
	if err != nil {
		return nil, err
	}
	c.stream.hook = o.onPacket // set before the stream's goroutines exist
	c.mediaAddr = o.mediaAddr
	c.target = target
	offer, err := c.offer(c.rtpPort(), sdp.SendRecv)
	if err != nil {
		c.end(false)
		return nil, err
	}

	req := sip.NewRequest(sip.INVITE, uri)
	req.SetTransport(p.transport)
	from := &sip.FromHeader{
		DisplayName: p.cfg.DisplayName,
		Address:     sip.Uri{Scheme: "sip", User: p.cfg.User, Host: p.cfg.LocalIP.String()},
		Params:      sip.NewParams(),
	}
	from.Params.Add("tag", sip.GenerateTagN(16))
	to := &sip.ToHeader{Address: sip.Uri{Scheme: uri.Scheme, User: uri.User, Host: uri.Host, Port: uri.Port}}
	callID := sip.CallIDHeader(c.id)
	contact := p.contact.Clone()
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(&callID)
	if route != nil {
		// sipgo sends a request to its first Route, and copies the Route
		// into a CANCEL, so a dial given up goes the same way.
		req.AppendHeader(route)
	}
	req.AppendHeader(contact)
	req.AppendHeader(sip.NewHeader("Allow", allow))
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	for _, h := range o.headers {
		req.AppendHeader(h)
	}
	req.SetBody(offer)

	p.mu.Lock()
	p.calls[c.id] = c
	p.mu.Unlock()

	ds, err := p.dialogUA.WriteInvite(ctx, req)
	if err != nil {
		c.end(false)
		return nil, fmt.Errorf("phone: INVITE: %w", err)
	}

	cause, err := c.waitAnswer(ctx, ds, o.cancelAfter)
	if err != nil {
		return nil, c.failDial(ds, cause, err)
	}
	if cause != nil {
		// Answered just as the dial was given up: that call is not wanted.
		c.abandon(ds)
		return nil, fmt.Errorf("phone: dial cancelled: %w", cause)
	}
	if err := c.answered(ctx, ds); err != nil {
		return nil, err
	}
	return c, nil
}

// outboundRoute is the Route header for an outbound proxy. A bare host
// ("pbx.example.org:5070") is taken as a sip: URI.
func outboundRoute(proxy string) (*sip.RouteHeader, error) {
	raw := strings.TrimSpace(proxy)
	raw = strings.TrimSuffix(strings.TrimPrefix(raw, "<"), ">")
	if lower := strings.ToLower(raw); !strings.HasPrefix(lower, "sip:") && !strings.HasPrefix(lower, "sips:") {
		raw = "sip:" + raw
	}
	var uri sip.Uri
	if err := sip.ParseUri(raw, &uri); err != nil || uri.Host == "" {
		if err == nil {
			err = errors.New("no host")
		}
		return nil, fmt.Errorf("phone: outbound proxy %q: %w", proxy, err)
	}
	// The route names the proxy, not a user at it.
	uri.User, uri.Password = "", ""
	if uri.UriParams == nil {
		uri.UriParams = sip.NewParams()
	}
	if !uri.UriParams.Has("lr") {
		uri.UriParams.Add("lr", "")
	}
	return &sip.RouteHeader{Address: uri}, nil
}

// silentGrace is how long a cancelled dial waits for the far end's first
// response before giving up without CANCEL.
const silentGrace = time.Second

// waitAnswer waits for the final response to the INVITE. When ctx ends,
// WithCancelAfter expires or the phone closes, it sends CANCEL, but RFC
// 3261 §9.1 allows that only after a provisional response, and sipgo's
// WaitAnswer then waits for one without any limit but Timer B (32 s). So a
// far end that has said nothing for silentGrace is given up without CANCEL
// (sipgo's WaitAnswerForceCancelErr). cause is why the dial was given up,
// nil when it was not.
func (c *Call) waitAnswer(ctx context.Context, ds *sipgo.DialogClientSession, cancelAfter time.Duration) (cause, err error) {
	var (
		given     error // first reason to give up
		heard     = make(chan struct{})
		heardOnce sync.Once
		returned  = make(chan struct{})
		mu        sync.Mutex
	)
	wctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	giveUp := func(why error) {
		mu.Lock()
		first := given == nil
		if first {
			given = why
		}
		mu.Unlock()
		if !first {
			return
		}
		select {
		case <-heard:
			cancel(why)
		case <-returned:
		case <-time.After(silentGrace):
			cancel(sipgo.WaitAnswerForceCancelErr)
		}
	}
	stopCtx := context.AfterFunc(ctx, func() { giveUp(context.Cause(ctx)) })
	defer stopCtx()
	stopClose := context.AfterFunc(c.p.ctx, func() { giveUp(ErrClosed) })
	defer stopClose()
	if cancelAfter > 0 {
		t := time.AfterFunc(cancelAfter, func() { giveUp(context.DeadlineExceeded) })
		defer t.Stop()
	}

	err = ds.WaitAnswer(wctx, sipgo.AnswerOptions{Username: c.p.cfg.AuthUser, Password: c.p.cfg.AuthPassword, OnResponse: func(*sip.Response) error {
		heardOnce.Do(func() { close(heard) })
		return nil
	}})
	close(returned)
	mu.Lock()
	defer mu.Unlock()
	return given, err
}

// allow is what the phone handles inside a dialog.
const allow = "INVITE, ACK, CANCEL, BYE, INFO, OPTIONS"

func (p *Phone) lookup(req *sip.Request) *Call {
	id := req.CallID()
	if id == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[id.Value()]
}

// inDialog finds the answered call req belongs to, or answers 481.
func (p *Phone) inDialog(req *sip.Request, tx sip.ServerTransaction) (*Call, *sipgo.DialogClientSession) {
	if c := p.lookup(req); c != nil {
		if ds := c.established(); ds != nil {
			if id, err := sip.DialogIDFromRequestUAC(req); err == nil && id == ds.ID {
				return c, ds
			}
		}
	}
	respond(tx, req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist", nil)
	return nil, nil
}

func respond(tx sip.ServerTransaction, req *sip.Request, code int, reason string, body []byte, hdrs ...sip.Header) error {
	res := sip.NewResponseFromRequest(req, code, reason, body)
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	return tx.Respond(res)
}

func (p *Phone) onBye(req *sip.Request, tx sip.ServerTransaction) {
	c, ds := p.inDialog(req, tx)
	if c == nil {
		return
	}
	if err := ds.ReadBye(req, tx); err != nil {
		p.log.Warn("phone: answering BYE", "call", c.id, "error", err)
	}
	c.end(true)
}

func (p *Phone) onInfo(req *sip.Request, tx sip.ServerTransaction) {
	if c, _ := p.inDialog(req, tx); c != nil {
		respond(tx, req, sip.StatusOK, "OK", nil)
	}
}

func (p *Phone) onOptions(req *sip.Request, tx sip.ServerTransaction) {
	respond(tx, req, sip.StatusOK, "OK", nil, sip.NewHeader("Allow", allow), sip.NewHeader("Accept", "application/sdp"))
}

// onCancel sees only CANCELs that matched no INVITE of ours in progress:
// sipgo answers a matching one itself.
func (p *Phone) onCancel(req *sip.Request, tx sip.ServerTransaction) {
	respond(tx, req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist", nil)
}

func (p *Phone) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if to := req.To(); to == nil || !to.Params.Has("tag") {
		// A phone for tests and load places calls; it takes none.
		respond(tx, req, sip.StatusTemporarilyUnavailable, "Temporarily Unavailable", nil)
		return
	}
	c, _ := p.inDialog(req, tx)
	if c == nil {
		return
	}
	c.answerReinvite(req, tx)
}

func (p *Phone) onAck(req *sip.Request, tx sip.ServerTransaction) {
	// ACKs get no response; one outside any call is simply dropped.
	if c := p.lookup(req); c != nil {
		c.acked(req)
	}
}

// newCall binds the call's RTP socket; the call's stream starts on answer.
func (p *Phone) newCall() (*Call, error) {
	conn, err := p.listenRTP()
	if err != nil {
		return nil, err
	}
	c := &Call{
		p:     p,
		id:    uuid.NewString(),
		codec: p.cfg.Codec,
		dir:   sdp.SendRecv,
		sdpID: uint64(time.Now().UnixNano() & 0x7fffffffffff),
		done:  make(chan struct{}),
		acks:  make(chan ackInfo, 1),
	}
	if p.cfg.SRTP {
		k, err := sdp.NewCrypto(sdp.Crypto{Tag: 1, Suite: sdp.SuiteAES128SHA1_80})
		if err != nil {
			conn.Close()
			return nil, err
		}
		c.crypto = &k
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.stream = newStream(p.cfg.Codec, 0, conn, p.cfg.RecordLimit, p.clock())
	return c, nil
}

// clock is the Clock the calls' RTP runs on, nil for goroutines.
func (p *Phone) clock() *mixer.Clock {
	if clockedSockets {
		return p.cfg.Clock
	}
	return nil
}

// listenRTP binds a call's RTP socket of the kind its stream reads.
func (p *Phone) listenRTP() (rtpConn, error) {
	if p.clock() != nil {
		return listenRawRTP(p.cfg.LocalIP)
	}
	c, err := listenRTP(p.cfg.LocalIP)
	if err != nil {
		return nil, err
	}
	return c, nil
}

func listenRTP(ip netip.Addr) (*net.UDPConn, error) {
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 0)))
	if err != nil {
		return nil, fmt.Errorf("phone: RTP socket: %w", err)
	}
	stampRTP(conn)
	return conn, nil
}
