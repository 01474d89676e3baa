package load

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"brygga/media/codec"
	"brygga/sip/sdp"
)

// ReflectConfig sets up a Reflector.
type ReflectConfig struct {
	Listen         string        // IP:PORT for SIP over UDP and TCP; port 0 picks one
	PortLo, PortHi int           // RTP ports; the even ones are used
	Idle           time.Duration // a call that sent nothing for this long is hung up; default 60s
	Logger         *slog.Logger
}

// ReflectorStats counts what a Reflector did.
type ReflectorStats struct {
	Calls      uint64 `json:"calls"` // answered since start
	Active     int    `json:"active"`
	PacketsIn  uint64 `json:"packets_in"`
	PacketsOut uint64 `json:"packets_out"`
}

// Reflector is the floor a bridge is measured against: a SIP callee that
// answers any INVITE and does, per call, only the packet work a bridge
// cannot avoid: it receives the caller's 50 packets a second and sends 50
// back, each received audio payload in a packet of its own stream
// (continuous sequence numbers and timestamps, its own SSRC), with one
// goroutine per socket as a plain Go UDP echo has. No jitter buffer, no
// decoding, no mixing, no timer. Keypresses are ignored.
type Reflector struct {
	cfg     ReflectConfig
	log     *slog.Logger
	ip      netip.Addr
	addr    netip.AddrPort
	ua      *sipgo.UserAgent
	srv     *sipgo.Server
	dialogs map[string]*sipgo.DialogServerCache // by transport as sipgo spells it
	closers []func() error
	serving sync.WaitGroup
	echoes  sync.WaitGroup
	stop    chan struct{}
	janitor chan struct{}

	mu     sync.Mutex
	calls  map[string]*echoCall // by dialog ID
	next   int                  // where the next port search starts
	closed bool

	answered, endedIn, endedOut atomic.Uint64
}

type echoCall struct {
	id     string
	ds     *sipgo.DialogServerSession
	conn   *net.UDPConn
	pt     uint8 // the audio payload type: only it is echoed
	remote atomic.Pointer[netip.AddrPort]
	send   atomic.Bool
	in     atomic.Uint64
	out    atomic.Uint64
	idleAt uint64 // the janitor's last look at in
	once   sync.Once
}

// StartReflector listens and serves until Close.
func StartReflector(cfg ReflectConfig) (*Reflector, error) {
	ap, err := netip.ParseAddrPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("reflect: listen %q: %w", cfg.Listen, err)
	}
	if ap.Addr().IsUnspecified() {
		return nil, fmt.Errorf("reflect: listen %q: give the address the SDP is to carry, not a wildcard", cfg.Listen)
	}
	if cfg.PortLo <= 0 || cfg.PortHi < cfg.PortLo+1 || cfg.PortHi > 65535 {
		return nil, fmt.Errorf("reflect: RTP ports %d-%d", cfg.PortLo, cfg.PortHi)
	}
	if cfg.Idle == 0 {
		cfg.Idle = 60 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgent("brygga-reflect"),
		sipgo.WithUserAgentHostname(ap.Addr().String()),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(log)),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(log)),
	)
	if err != nil {
		return nil, fmt.Errorf("reflect: %w", err)
	}
	r := &Reflector{
		cfg:     cfg,
		log:     log,
		ip:      ap.Addr(),
		ua:      ua,
		calls:   make(map[string]*echoCall),
		stop:    make(chan struct{}),
		janitor: make(chan struct{}),
	}
	fail := func(err error) (*Reflector, error) {
		ua.Close()
		for _, c := range r.closers {
			c()
		}
		r.serving.Wait()
		return nil, err
	}
	r.srv, err = sipgo.NewServer(ua, sipgo.WithServerLogger(log))
	if err != nil {
		return fail(fmt.Errorf("reflect: %w", err))
	}
	client, err := sipgo.NewClient(ua, sipgo.WithClientLogger(log), sipgo.WithClientHostname(ap.Addr().String()))
	if err != nil {
		return fail(fmt.Errorf("reflect: %w", err))
	}
	uc, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(ap))
	if err != nil {
		return fail(fmt.Errorf("reflect: listen: %w", err))
	}
	r.closers = append(r.closers, uc.Close)
	r.addr = uc.LocalAddr().(*net.UDPAddr).AddrPort()
	tl, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(r.addr))
	if err != nil {
		return fail(fmt.Errorf("reflect: listen: %w", err))
	}
	r.closers = append(r.closers, tl.Close)
	r.dialogs = map[string]*sipgo.DialogServerCache{
		"UDP": sipgo.NewDialogServerCache(client, r.contact("UDP")),
		"TCP": sipgo.NewDialogServerCache(client, r.contact("TCP")),
	}
	r.srv.OnInvite(r.onInvite)
	r.srv.OnAck(r.onAck)
	r.srv.OnBye(r.onBye)
	r.srv.OnInfo(r.onInfo)
	r.srv.OnOptions(r.onOptions)
	r.srv.OnCancel(func(req *sip.Request, tx sip.ServerTransaction) {
		respond(tx, req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
	})
	r.serving.Add(2)
	go func() { defer r.serving.Done(); r.srv.ServeUDP(uc) }()
	go func() { defer r.serving.Done(); r.srv.ServeTCP(tl) }()
	// ServeUDP registers the socket from its goroutine; answers sent before
	// that would leave from a second socket.
	for deadline := time.Now().Add(2 * time.Second); ua.TransportLayer().Pool("udp").Size() == 0; {
		if time.Now().After(deadline) {
			return fail(errors.New("reflect: sipgo did not take the UDP socket into use"))
		}
		time.Sleep(time.Millisecond)
	}
	go r.sweep()
	return r, nil
}

// Addr is where the Reflector takes SIP, over UDP and TCP.
func (r *Reflector) Addr() netip.AddrPort { return r.addr }

// Stats counts calls and packets so far.
func (r *Reflector) Stats() ReflectorStats {
	st := ReflectorStats{Calls: r.answered.Load(), PacketsIn: r.endedIn.Load(), PacketsOut: r.endedOut.Load()}
	r.mu.Lock()
	defer r.mu.Unlock()
	st.Active = len(r.calls)
	for _, c := range r.calls {
		st.PacketsIn += c.in.Load()
		st.PacketsOut += c.out.Load()
	}
	return st
}

// Close hangs up every call (within 2 s), stops listening and waits for
// every goroutine it started. It is idempotent.
func (r *Reflector) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	calls := make([]*echoCall, 0, len(r.calls))
	for _, c := range r.calls {
		calls = append(calls, c)
	}
	r.mu.Unlock()
	close(r.stop)
	<-r.janitor

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, c := range calls {
		wg.Go(func() {
			if c.ds.LoadState() == sip.DialogStateConfirmed {
				_ = c.ds.Bye(ctx)
			}
		})
	}
	wg.Wait()
	err := r.ua.Close()
	for _, c := range r.closers {
		if cerr := c(); cerr != nil && !errors.Is(cerr, net.ErrClosed) {
			err = errors.Join(err, cerr)
		}
	}
	r.serving.Wait()
	for _, c := range calls {
		r.end(c)
	}
	r.echoes.Wait()
	return err
}

func (r *Reflector) contact(transport string) sip.ContactHeader {
	ct := sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "reflect", Host: r.addr.Addr().String(), Port: int(r.addr.Port())}}
	if transport == "TCP" {
		ct.Address.UriParams = sip.HeaderParams{{K: "transport", V: "tcp"}}
	}
	return ct
}

func respond(tx sip.ServerTransaction, req *sip.Request, code int, reason string) {
	_ = tx.Respond(sip.NewResponseFromRequest(req, code, reason, nil))
}

func (r *Reflector) dialogsFor(req *sip.Request) *sipgo.DialogServerCache {
	if d, ok := r.dialogs[req.Transport()]; ok {
		return d
	}
	return r.dialogs["UDP"]
}

func (r *Reflector) lookup(req *sip.Request) *echoCall {
	id, err := sip.DialogIDFromRequestUAS(req)
	if err != nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[id]
}

var reflectCodecs = []codec.Codec{codec.PCMU, codec.PCMA}

func (r *Reflector) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if to := req.To(); to != nil && to.Params.Has("tag") {
		r.onReinvite(req, tx)
		return
	}
	respond(tx, req, sip.StatusTrying, "Trying")
	ds, err := r.dialogsFor(req).ReadInvite(req, tx)
	if err != nil {
		respond(tx, req, sip.StatusBadRequest, "Bad Request")
		return
	}
	offer, err := sdp.ParseOffer(req.Body())
	if err != nil {
		_ = ds.Respond(sip.StatusNotAcceptableHere, "Not Acceptable Here", nil)
		ds.Close()
		return
	}
	ch, err := sdp.Negotiate(offer, reflectCodecs)
	if err != nil {
		_ = ds.Respond(sip.StatusNotAcceptableHere, "Not Acceptable Here", nil)
		ds.Close()
		return
	}
	conn, err := r.bind()
	if err != nil {
		r.log.Warn("reflect: no RTP port", "error", err)
		_ = ds.Respond(sip.StatusServiceUnavailable, "Service Unavailable", nil, sip.NewHeader("Retry-After", "5"))
		ds.Close()
		return
	}
	c := &echoCall{id: ds.ID, ds: ds, conn: conn, pt: ch.PayloadType}
	c.follow(offer)
	answer, err := sdp.BuildAnswer(sdp.AnswerParams{
		Offer: offer, Choice: ch, Addr: r.ip, Port: conn.LocalAddr().(*net.UDPAddr).Port,
		SessionID: uint64(time.Now().UnixNano() & 0x7fffffffffff), Version: 1, Username: "reflect",
	})
	if err != nil {
		conn.Close()
		_ = ds.Respond(sip.StatusInternalServerError, "Server Internal Error", nil)
		ds.Close()
		return
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		conn.Close()
		_ = ds.Respond(sip.StatusServiceUnavailable, "Service Unavailable", nil)
		ds.Close()
		return
	}
	r.calls[c.id] = c
	r.echoes.Add(1)
	r.mu.Unlock()
	go r.echo(c)

	res := sip.NewSDPResponseFromRequest(ds.InviteRequest, answer)
	ct := r.contact(req.Transport())
	res.AppendHeader(&ct)
	// WriteResponse retransmits the 200 until the ACK and fails without one.
	if err := ds.WriteResponse(res); err != nil {
		r.log.Info("reflect: call not established", "error", err)
		r.end(c)
		return
	}
	r.answered.Add(1)
}

// follow takes the address and direction of an offer for the echo.
func (c *echoCall) follow(o *sdp.Offer) {
	dst := o.Remote()
	c.remote.Store(&dst)
	c.send.Store(!o.Hold && dst.Port() != 0)
}

func (r *Reflector) onReinvite(req *sip.Request, tx sip.ServerTransaction) {
	c := r.lookup(req)
	if c == nil {
		respond(tx, req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
		return
	}
	offer, err := sdp.ParseOffer(req.Body())
	if err != nil {
		respond(tx, req, sip.StatusNotAcceptableHere, "Not Acceptable Here")
		return
	}
	ch, err := sdp.Negotiate(offer, reflectCodecs)
	if err != nil || ch.PayloadType != c.pt {
		respond(tx, req, sip.StatusNotAcceptableHere, "Not Acceptable Here")
		return
	}
	answer, err := sdp.BuildAnswer(sdp.AnswerParams{
		Offer: offer, Choice: ch, Addr: r.ip, Port: c.conn.LocalAddr().(*net.UDPAddr).Port,
		SessionID: 1, Version: uint64(req.CSeq().SeqNo), Username: "reflect",
	})
	if err != nil {
		respond(tx, req, sip.StatusInternalServerError, "Server Internal Error")
		return
	}
	c.follow(offer)
	res := sip.NewSDPResponseFromRequest(req, answer)
	ct := r.contact(req.Transport())
	res.AppendHeader(&ct)
	_ = tx.Respond(res)
}

func (r *Reflector) onAck(req *sip.Request, tx sip.ServerTransaction) {
	// A re-INVITE's ACK has a newer CSeq and is refused by ReadAck; the
	// call goes on all the same.
	_ = r.dialogsFor(req).ReadAck(req, tx)
}

func (r *Reflector) onBye(req *sip.Request, tx sip.ServerTransaction) {
	c := r.lookup(req)
	if err := r.dialogsFor(req).ReadBye(req, tx); err != nil {
		respond(tx, req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
	}
	if c != nil {
		r.end(c)
	}
}

func (r *Reflector) onInfo(req *sip.Request, tx sip.ServerTransaction) {
	if r.lookup(req) == nil {
		respond(tx, req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
		return
	}
	respond(tx, req, sip.StatusOK, "OK")
}

func (r *Reflector) onOptions(req *sip.Request, tx sip.ServerTransaction) {
	res := sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil)
	res.AppendHeader(sip.NewHeader("Allow", "INVITE, ACK, CANCEL, BYE, INFO, OPTIONS"))
	_ = tx.Respond(res)
}

// bind takes the next free even port of the range, going round it.
func (r *Reflector) bind() (*net.UDPConn, error) {
	first := r.cfg.PortLo + r.cfg.PortLo%2
	span := (r.cfg.PortHi-first)/2 + 1
	r.mu.Lock()
	defer r.mu.Unlock()
	for k := range span {
		i := (r.next + k) % span
		conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: r.ip.AsSlice(), Port: first + 2*i})
		if err == nil {
			r.next = (i + 1) % span
			return conn, nil
		}
	}
	return nil, fmt.Errorf("reflect: every even port of %d-%d is taken", r.cfg.PortLo, r.cfg.PortHi)
}

// end closes a call's socket (its echo goroutine then returns) and
// forgets it.
func (r *Reflector) end(c *echoCall) {
	c.once.Do(func() {
		c.conn.Close()
		r.mu.Lock()
		delete(r.calls, c.id)
		r.mu.Unlock()
		r.endedIn.Add(c.in.Load())
		r.endedOut.Add(c.out.Load())
		c.ds.Close()
	})
}

// echo is the whole per-call work: read a packet, write it back in the
// call's own stream.
func (r *Reflector) echo(c *echoCall) {
	defer r.echoes.Done()
	buf := make([]byte, 1500)
	out := make([]byte, 1500)
	seq := uint16(rand.Uint32())
	ts := rand.Uint32()
	ssrc := rand.Uint32()
	marker := byte(0x80)
	for {
		n, from, err := c.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		c.in.Add(1)
		pt, payload, ok := rtpPayload(buf[:n])
		if !ok || pt != c.pt || !c.send.Load() {
			continue
		}
		out[0] = 0x80
		out[1] = marker | c.pt
		marker = 0
		binary.BigEndian.PutUint16(out[2:], seq)
		binary.BigEndian.PutUint32(out[4:], ts)
		binary.BigEndian.PutUint32(out[8:], ssrc)
		m := 12 + copy(out[12:], payload)
		seq++
		ts += uint32(len(payload)) // G.711: a byte per sample
		dst := *c.remote.Load()
		if dst.Addr().IsUnspecified() {
			dst = from
		}
		if _, err := c.conn.WriteToUDPAddrPort(out[:m], dst); err == nil {
			c.out.Add(1)
		}
	}
}

// rtpPayload finds the payload type and payload of an RTP packet without
// allocating: past the CSRCs and any header extension, less the padding.
func rtpPayload(b []byte) (pt uint8, payload []byte, ok bool) {
	if len(b) < 12 || b[0]>>6 != 2 {
		return 0, nil, false
	}
	off := 12 + 4*int(b[0]&0x0f)
	if b[0]&0x10 != 0 {
		if len(b) < off+4 {
			return 0, nil, false
		}
		off += 4 + 4*int(binary.BigEndian.Uint16(b[off+2:]))
	}
	end := len(b)
	if b[0]&0x20 != 0 {
		end -= int(b[end-1])
	}
	if off > end {
		return 0, nil, false
	}
	return b[1] & 0x7f, b[off:end], true
}

// sweep hangs up calls whose caller has gone quiet for cfg.Idle: a load
// generator that died must not leave sockets open for ever.
func (r *Reflector) sweep() {
	defer close(r.janitor)
	t := time.NewTicker(r.cfg.Idle / 2)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
		}
		var idle []*echoCall
		r.mu.Lock()
		for _, c := range r.calls {
			n := c.in.Load()
			if n == c.idleAt && c.ds.LoadState() == sip.DialogStateConfirmed {
				idle = append(idle, c)
			}
			c.idleAt = n
		}
		r.mu.Unlock()
		for _, c := range idle {
			r.log.Info("reflect: hanging up a silent call", "call", c.id)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = c.ds.Bye(ctx)
			cancel()
			r.end(c)
		}
	}
}
