package phone

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"brygga/media/codec"
	"brygga/media/dtmf"
	"brygga/sip/sdp"
)

// Call is one call placed by a Phone.
type Call struct {
	p      *Phone
	id     string
	codec  codec.Codec
	stream *stream
	sdpID  uint64

	done     chan struct{}
	ctx      context.Context // cancelled when the call ends
	cancel   context.CancelFunc
	endOnce  sync.Once
	byRemote atomic.Bool
	acks     chan ackInfo // ACKs for the bridge's re-INVITEs

	// reqMu keeps one transaction of ours in the dialog at a time, so CSeq
	// order and the ACK of a re-INVITE stay right; the bridge's re-INVITE
	// meeting one of ours is glare and gets 491.
	reqMu sync.Mutex

	crypto *sdp.Crypto // our SDES key when Config.SRTP; fixed for the call
	// mediaAddr, when valid, is what our SDP names instead of our own RTP
	// address (WithMediaAddress).
	mediaAddr netip.AddrPort
	target    string // the Request-URI of the INVITE that was answered

	mu         sync.Mutex // guards the fields below
	ds         *sipgo.DialogClientSession
	dir        sdp.Direction // the direction we want (hold is ours to choose)
	sdpVersion uint64
	lastSDP    []byte
}

type ackInfo struct {
	cseq uint32
	body []byte
}

// ReinviteOptions says what a re-INVITE changes.
type ReinviteOptions struct {
	NewPort   bool          // move our RTP to a new socket (new port)
	Direction sdp.Direction // "" keeps ours; SendOnly holds the bridge, SendRecv resumes
}

// CallID is the SIP Call-ID of the call.
func (c *Call) CallID() string { return c.id }

// Done is closed when the call ended: BYE either way, or a failed dial.
func (c *Call) Done() <-chan struct{} { return c.done }

// EndedByRemote reports whether the bridge hung up (sent BYE).
func (c *Call) EndedByRemote() bool { return c.byRemote.Load() }

// RTPAddr is where the call receives RTP now.
func (c *Call) RTPAddr() netip.AddrPort {
	return c.stream.local().LocalAddr().(*net.UDPAddr).AddrPort()
}

// RemoteRTPAddr is where the call sends RTP: the bridge's address from its
// SDP (invalid before the answer).
func (c *Call) RemoteRTPAddr() netip.AddrPort {
	if a := c.stream.remote.Load(); a != nil {
		return *a
	}
	return netip.AddrPort{}
}

// Dialog returns the dialog's identifiers: Call-ID, our (From) tag and the
// bridge's (To) tag; empty before the answer. A test that plays someone
// who learnt them needs nothing more to forge a request in the dialog.
func (c *Call) Dialog() (callID, localTag, remoteTag string) {
	ds := c.established()
	if ds == nil {
		return c.id, "", ""
	}
	if f := ds.InviteRequest.From(); f != nil {
		localTag, _ = f.Params.Get("tag")
	}
	if to := ds.InviteResponse.To(); to != nil {
		remoteTag, _ = to.Params.Get("tag")
	}
	return c.id, localTag, remoteTag
}

// SetSource sets what the caller says: src fills one frame (20 ms of
// samples at the codec's rate) every 20 ms, from the call's sender
// goroutine (on a clocked Phone, from the call's tick). nil sends silence.
func (c *Call) SetSource(src func(pcm []int16)) {
	if src == nil {
		c.stream.source.Store(nil)
		return
	}
	c.stream.source.Store(&src)
}

// Received is the audio heard so far (at most Config.RecordLimit of the
// newest), decoded and placed by RTP timestamp with gaps as silence.
func (c *Call) Received() []int16 { return c.ReceivedSince(0) }

// Mark is the position, in samples since the first packet heard, of the
// end of what was heard so far; ReceivedSince(mark) later gives what came
// after it.
func (c *Call) Mark() int {
	s := c.stream
	s.mu.Lock()
	defer s.mu.Unlock()
	return int(s.rec.end)
}

// ReceivedSince is the audio heard after mark (from Mark), as far as it is
// still kept.
func (c *Call) ReceivedSince(mark int) []int16 {
	s := c.stream
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rec.since(int64(mark))
}

// Stats describes the call's RTP so far.
func (c *Call) Stats() Stats { return c.stream.snapshot() }

// SendDigits keys digits as a person would, 100 ms each with a pause after,
// as RFC 4733 telephone-events in the RTP stream (or as in-band tones when
// no telephone-event was negotiated). It returns when the last digit was
// sent.
func (c *Call) SendDigits(digits string) error {
	if c.established() == nil {
		return errors.New("phone: call not answered")
	}
	keyed := []byte(digits)
	for i, d := range keyed {
		if _, ok := dtmf.Event(d); !ok {
			return fmt.Errorf("phone: %q is not a keypad digit", d)
		}
		if d >= 'a' && d <= 'd' {
			keyed[i] = d - 'a' + 'A'
		}
	}
	if !c.stream.send.Load() {
		return errors.New("phone: call is not sending media (on hold)")
	}
	return c.stream.sendDigits(string(keyed))
}

// SendInfo sends one digit in a SIP INFO, with contentType
// "application/dtmf-relay" (Signal=5, Duration=160) or "application/dtmf".
func (c *Call) SendInfo(digit byte, contentType string) error {
	ds := c.established()
	if ds == nil {
		return errors.New("phone: call not answered")
	}
	if _, ok := dtmf.Event(digit); !ok {
		return fmt.Errorf("phone: %q is not a keypad digit", digit)
	}
	if digit >= 'a' && digit <= 'd' {
		digit = digit - 'a' + 'A'
	}
	var body string
	switch strings.ToLower(contentType) {
	case "application/dtmf-relay":
		body = fmt.Sprintf("Signal=%c\r\nDuration=160\r\n", digit)
	case "application/dtmf":
		body = string(digit)
	default:
		return fmt.Errorf("phone: INFO content type %q: want application/dtmf-relay or application/dtmf", contentType)
	}
	req := sip.NewRequest(sip.INFO, remoteTarget(ds))
	req.AppendHeader(sip.NewHeader("Content-Type", contentType))
	req.SetBody([]byte(body))

	ctx, cancel := c.requestContext()
	defer cancel()
	c.reqMu.Lock()
	defer c.reqMu.Unlock()
	res, err := ds.Do(ctx, req)
	if err != nil {
		return fmt.Errorf("phone: INFO: %w", err)
	}
	if !res.IsSuccess() {
		return &StatusError{Code: res.StatusCode, Reason: res.Reason}
	}
	return nil
}

// Hangup sends BYE and ends the call; the call is over (media stopped, Done
// closed) even when the BYE fails. Hanging up an ended call does nothing.
func (c *Call) Hangup(ctx context.Context) error {
	select {
	case <-c.done:
		return nil
	default:
	}
	ds := c.established()
	if ds == nil {
		return errors.New("phone: call not answered")
	}
	c.reqMu.Lock()
	defer c.reqMu.Unlock()
	err := ds.Bye(ctx)
	c.end(false)
	return responseError("BYE", err)
}

// Reinvite sends a re-INVITE with a new offer: a new RTP port and/or a
// direction (SendOnly to hold the bridge, SendRecv to resume). With NewPort
// the new socket listens from the moment it is offered and the old one
// until the answer, so no audio is lost in the switch.
func (c *Call) Reinvite(ctx context.Context, o ReinviteOptions) error {
	ds := c.established()
	if ds == nil {
		return errors.New("phone: call not answered")
	}
	c.reqMu.Lock()
	defer c.reqMu.Unlock()
	select {
	case <-c.done:
		return errCallEnded
	default:
	}
	dir := o.Direction
	if dir == "" {
		dir = c.direction()
	}
	if !dir.Valid() {
		return fmt.Errorf("phone: direction %q", dir)
	}
	conn := c.stream.local()
	var fresh rtpConn
	if o.NewPort {
		var err error
		if fresh, err = c.p.listenRTP(); err != nil {
			return err
		}
		c.stream.listen(fresh)
		conn = fresh
	}
	fail := func(err error) error {
		if fresh != nil {
			c.stream.drop(fresh)
		}
		return err
	}
	body, err := c.offer(conn.LocalAddr().(*net.UDPAddr).Port, dir)
	if err != nil {
		return fail(err)
	}
	req := sip.NewRequest(sip.INVITE, remoteTarget(ds))
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(body)
	res, err := ds.Do(ctx, req)
	if err != nil {
		return fail(fmt.Errorf("phone: re-INVITE: %w", err))
	}
	if !res.IsSuccess() {
		// sipgo's transaction has ACKed the failure already.
		return fail(&StatusError{Code: res.StatusCode, Reason: res.Reason})
	}
	// The ACK of a re-INVITE's 2xx is ours to send, in the dialog with the
	// re-INVITE's CSeq, which reqMu keeps as the dialog's latest.
	if err := ds.WriteRequest(sip.NewRequest(sip.ACK, remoteTarget(ds))); err != nil {
		c.p.log.Warn("phone: ACK of re-INVITE", "call", c.id, "error", err)
	}
	ans, _, err := c.negotiate(res.Body())
	if err != nil {
		return fail(err)
	}
	if fresh != nil {
		c.stream.use(fresh)
	}
	c.mu.Lock()
	c.dir = dir
	c.mu.Unlock()
	c.stream.setRemote(ans.Remote(), dir.Sends() && receives(ans.Direction))
	return nil
}

// Rebind moves the call's RTP to a new local port without a re-INVITE,
// as a NAT that rebinds does: the stream goes on (same SSRC, sequence and
// timestamps) from another port while the SDP still names the old one,
// which is closed. Only a bridge that follows the source hears it again.
func (c *Call) Rebind() error {
	select {
	case <-c.done:
		return errCallEnded
	default:
	}
	fresh, err := c.p.listenRTP()
	if err != nil {
		return err
	}
	c.stream.listen(fresh)
	c.stream.use(fresh)
	return nil
}

func (c *Call) established() *sipgo.DialogClientSession {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ds
}

func (c *Call) direction() sdp.Direction {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dir
}

func (c *Call) rtpPort() int {
	return c.stream.local().LocalAddr().(*net.UDPAddr).Port
}

// requestContext bounds an in-dialog request by the transaction timeout and
// by the end of the call.
func (c *Call) requestContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.ctx, sip.Timer_F)
}

// sdpBody builds our SDP with build. The o= version goes up only when the
// description changed (RFC 3264 §8).
func (c *Call) sdpBody(build func(version uint64) ([]byte, error)) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	body, err := build(c.sdpVersion)
	if err == nil && c.lastSDP != nil && !bytes.Equal(body, c.lastSDP) {
		c.sdpVersion++
		body, err = build(c.sdpVersion)
	}
	if err != nil {
		return nil, fmt.Errorf("phone: SDP: %w", err)
	}
	c.lastSDP = body
	return body, nil
}

// offer is our SDP offer for port and dir.
func (c *Call) offer(port int, dir sdp.Direction) ([]byte, error) {
	var pt uint8
	if !c.p.cfg.InBandDTMF {
		pt = c.p.cfg.DTMFPayloadType
	}
	addr := c.p.cfg.LocalIP
	if c.mediaAddr.IsValid() {
		addr, port = c.mediaAddr.Addr(), int(c.mediaAddr.Port())
	}
	return c.sdpBody(func(v uint64) ([]byte, error) {
		return sdp.BuildOfferWith(sdp.OfferParams{
			Addr:      addr,
			Port:      port,
			SessionID: c.sdpID,
			Version:   v,
			Codecs:    []codec.Codec{c.codec},
			DTMF:      pt,
			Username:  c.p.cfg.User,
			Direction: dir,
			Crypto:    c.crypto,
		})
	})
}

// answer is our SDP answer to the bridge's offer o.
func (c *Call) answer(o *sdp.Offer, ch sdp.Choice, port int, dir sdp.Direction) ([]byte, error) {
	if c.p.cfg.InBandDTMF {
		ch.DTMF = 0
	}
	var crypto *sdp.Crypto
	if ch.SRTP != nil && c.crypto != nil {
		k := *c.crypto
		k.Tag, k.Suite = ch.SRTP.Tag, ch.SRTP.Suite
		crypto = &k
	}
	return c.sdpBody(func(v uint64) ([]byte, error) {
		return sdp.BuildAnswer(sdp.AnswerParams{
			Crypto:    crypto,
			Offer:     o,
			Choice:    ch,
			Addr:      c.p.cfg.LocalIP,
			Port:      port,
			SessionID: c.sdpID,
			Version:   v,
			Username:  c.p.cfg.User,
			Direction: dir,
		})
	})
}

// answered takes the 2xx of the INVITE: checks the SDP answer, starts RTP,
// ACKs. A 2xx we cannot use is still ACKed and then hung up.
func (c *Call) answered(ctx context.Context, ds *sipgo.DialogClientSession) error {
	ans, ch, err := c.negotiate(ds.InviteResponse.Body())
	if err != nil {
		c.abandon(ds)
		return err
	}
	if !c.p.cfg.InBandDTMF {
		c.stream.dtmfPT = ch.DTMF // the stream has not started yet
	}
	c.stream.setRemote(ans.Remote(), receives(ans.Direction))
	// The dialog is ours before the ACK leaves, so a BYE right after it
	// finds the call; the stream runs before it too, so no audio is missed.
	c.mu.Lock()
	c.ds = ds
	c.mu.Unlock()
	c.stream.start()
	if err := ds.Ack(ctx); err != nil {
		c.abandon(ds)
		return fmt.Errorf("phone: ACK: %w", err)
	}
	return nil
}

// negotiate reads the bridge's SDP (an answer, or the offer of its
// re-INVITE) and checks it has our codec under its static payload type,
// which is what our RTP carries.
func (c *Call) negotiate(body []byte) (*sdp.Offer, sdp.Choice, error) {
	o, err := sdp.ParseOffer(body)
	if err != nil {
		return nil, sdp.Choice{}, fmt.Errorf("phone: SDP: %w", err)
	}
	ch, err := sdp.Negotiate(o, []codec.Codec{c.codec})
	if err != nil {
		return nil, sdp.Choice{}, fmt.Errorf("phone: SDP: %w", err)
	}
	if ch.PayloadType != c.codec.PayloadType() {
		return nil, sdp.Choice{}, fmt.Errorf("phone: SDP: %s as payload type %d", c.codec.Name(), ch.PayloadType)
	}
	if (ch.SRTP != nil) != (c.crypto != nil) {
		return nil, sdp.Choice{}, fmt.Errorf("phone: SDP: SRTP %v, asked for %v", ch.SRTP != nil, c.crypto != nil)
	}
	if ch.SRTP != nil {
		if err := c.stream.setSRTP(ch.SRTP.Suite, c.crypto.Key, ch.SRTP.Key); err != nil {
			return nil, sdp.Choice{}, fmt.Errorf("phone: SRTP: %w", err)
		}
	}
	return o, ch, nil
}

// abandon ends a call the far end answered but that cannot go on.
func (c *Call) abandon(ds *sipgo.DialogClientSession) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if ds.LoadState() < sip.DialogStateConfirmed {
		ds.Ack(ctx)
	}
	ds.Bye(ctx)
	c.end(false)
}

// failDial turns WaitAnswer's error into Dial's; cause is why the dial was
// given up, if it was.
func (c *Call) failDial(ds *sipgo.DialogClientSession, cause, err error) error {
	res := ds.InviteResponse
	if res != nil && res.IsSuccess() {
		// The answer crossed our CANCEL: the far end has a call nobody is on.
		c.abandon(ds)
	} else {
		c.end(false)
	}
	if cause != nil {
		if res != nil && res.StatusCode == sip.StatusRequestTerminated {
			return &StatusError{Code: res.StatusCode, Reason: res.Reason, cause: cause}
		}
		if res == nil {
			return fmt.Errorf("phone: dial given up, no response from the far end: %w", cause)
		}
		return fmt.Errorf("phone: dial cancelled: %w", cause)
	}
	return responseError("INVITE", err)
}

// responseError maps sipgo's ErrDialogResponse (returned by pointer from
// WaitAnswer but by value from Bye) to a StatusError.
func responseError(what string, err error) error {
	if err == nil {
		return nil
	}
	var p *sipgo.ErrDialogResponse
	if errors.As(err, &p) {
		return statusError(p.Res)
	}
	var v sipgo.ErrDialogResponse
	if errors.As(err, &v) {
		return statusError(v.Res)
	}
	return fmt.Errorf("phone: %s: %w", what, err)
}

// Target is the Request-URI of the INVITE that was answered: the one
// dialled, or where redirects (WithRedirects) led.
func (c *Call) Target() string { return c.target }

// statusError is a final answer that is not a 2xx, with a redirect's
// Contact.
func statusError(res *sip.Response) *StatusError {
	e := &StatusError{Code: res.StatusCode, Reason: res.Reason}
	if ct := res.Contact(); ct != nil && res.StatusCode/100 == 3 {
		e.Contact = ct.Address.String()
	}
	return e
}

func (c *Call) end(remote bool) {
	c.endOnce.Do(func() {
		c.byRemote.Store(remote)
		c.cancel()
		c.stream.close()
		c.p.mu.Lock()
		delete(c.p.calls, c.id)
		c.p.mu.Unlock()
		close(c.done)
	})
}

func (c *Call) acked(req *sip.Request) {
	a := ackInfo{body: req.Body()}
	if cs := req.CSeq(); cs != nil {
		a.cseq = cs.SeqNo
	}
	select {
	case c.acks <- a:
	default:
	}
}

// answerReinvite answers the bridge's re-INVITE (hold, a new address, a
// session refresh) and follows it.
func (c *Call) answerReinvite(req *sip.Request, tx sip.ServerTransaction) {
	if !c.reqMu.TryLock() {
		respond(tx, req, sip.StatusRequestPending, "Request Pending", nil)
		return
	}
	locked := true
	unlock := func() {
		if locked {
			locked = false
			c.reqMu.Unlock()
		}
	}
	defer unlock()

	want := c.direction()
	dir := want
	var (
		offer *sdp.Offer
		body  []byte
		err   error
	)
	if len(req.Body()) > 0 {
		o, ch, nerr := c.negotiate(req.Body())
		if nerr != nil {
			code, reason := sip.StatusNotAcceptableHere, "Not Acceptable Here"
			if errors.Is(nerr, sdp.ErrMalformed) {
				code, reason = sip.StatusBadRequest, "Bad Request"
			}
			respond(tx, req, code, reason, nil)
			return
		}
		offer = o
		dir = answerDirection(want, o.Direction)
		body, err = c.answer(o, ch, c.rtpPort(), dir)
	} else {
		// A re-INVITE without SDP asks for our offer; the answer comes in the ACK.
		body, err = c.offer(c.rtpPort(), want)
	}
	if err != nil {
		respond(tx, req, sip.StatusInternalServerError, "Server Internal Error", nil)
		return
	}
	for len(c.acks) > 0 {
		<-c.acks
	}
	res := sip.NewSDPResponseFromRequest(req, body)
	res.AppendHeader(c.p.contact.Clone())
	if err := tx.Respond(res); err != nil {
		c.p.log.Warn("phone: answering re-INVITE", "call", c.id, "error", err)
		return
	}
	if offer != nil {
		c.stream.setRemote(offer.Remote(), dir.Sends())
	}
	// Our own requests (a BYE above all) need not wait for the bridge's ACK.
	unlock()

	// The 2xx is retransmitted by us, not the transaction, until the ACK
	// (RFC 3261 §13.3.1.4); a delayed offer's answer rides in that ACK.
	cseq := req.CSeq().SeqNo
	interval := sip.T1
	timeout := time.NewTimer(64 * sip.T1)
	defer timeout.Stop()
	retransmit := time.NewTimer(interval)
	defer retransmit.Stop()
	for {
		select {
		case a := <-c.acks:
			if a.cseq != cseq {
				continue
			}
			if offer == nil && len(a.body) > 0 {
				if ans, _, err := c.negotiate(a.body); err == nil {
					c.stream.setRemote(ans.Remote(), want.Sends() && receives(ans.Direction))
				}
			}
			return
		case <-retransmit.C:
			if sip.IsReliable(req.Transport()) {
				continue
			}
			tx.Respond(res)
			interval = min(2*interval, sip.T2)
			retransmit.Reset(interval)
		case <-timeout.C:
			return
		case <-c.done:
			return
		}
	}
}

// answerDirection is our direction in an answer to an offer of offered,
// given the direction we want.
func answerDirection(want, offered sdp.Direction) sdp.Direction {
	return directionOf(want.Sends() && receives(offered), receives(want) && sends(offered))
}

func directionOf(send, recv bool) sdp.Direction {
	switch {
	case send && recv:
		return sdp.SendRecv
	case send:
		return sdp.SendOnly
	case recv:
		return sdp.RecvOnly
	}
	return sdp.Inactive
}

// sends and receives read an absent direction as sendrecv, as SDP does.
func sends(d sdp.Direction) bool    { return d == "" || d.Sends() }
func receives(d sdp.Direction) bool { return d == "" || d.Receives() }

func remoteTarget(ds *sipgo.DialogClientSession) sip.Uri {
	if ct := ds.InviteResponse.Contact(); ct != nil {
		return *ct.Address.Clone()
	}
	return *ds.InviteRequest.Recipient.Clone()
}
