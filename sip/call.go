package sip

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	ssip "github.com/emiago/sipgo/sip"

	"brygga/media"
	"brygga/media/codec"
	"brygga/sip/sdp"
)

// call is one answered dialog and its media. It implements conference.Call.
type call struct {
	srv       *Server
	id        string
	callerID  string
	source    netip.Addr
	trusted   bool
	transport string
	origin    string // Call-ID and From tag of its INVITE, see originOf
	leave     func() // ends its place in the room's claim (Homes); nil on a single bridge
	dlg       *sipgo.DialogServerSession
	sess      *media.Session
	digits    chan byte
	acks      chan uint32 // CSeq of every ACK, for the re-INVITE 2xx retransmission

	mu        sync.Mutex
	choice    sdp.Choice  // nil Codec until a delayed offer is answered
	target    ssip.Uri    // the caller's Contact: where our requests go
	offered   bool        // our last 2xx carried an offer; the answer comes in the ACK
	offerCSeq uint32      // CSeq of the INVITE that 2xx answered
	crypto    *sdp.Crypto // our SDES key once the call is SRTP; kept for the whole call
	sessionID uint64
	version   uint64

	hangup   sync.Once
	doneOnce sync.Once
	done     chan struct{}
}

func (c *call) ID() string            { return c.id }
func (c *call) CallerID() string      { return c.callerID }
func (c *call) Source() netip.Addr    { return c.source }
func (c *call) Trusted() bool         { return c.trusted }
func (c *call) Media() *media.Session { return c.sess }
func (c *call) Digits() <-chan byte   { return c.digits }
func (c *call) Done() <-chan struct{} { return c.done }

// Secure reports whether the call is protected end to end as brygga sees
// it: signalling over TLS (so the SDES keys were not sent in the clear)
// and media over SRTP both ways.
func (c *call) Secure() bool {
	return strings.EqualFold(c.transport, "TLS") && c.sess.Secure()
}

// digit queues a key press; a caller leaning on the keypad loses presses
// rather than blocking the RTP reader.
func (c *call) digit(d byte) {
	select {
	case c.digits <- d:
	default:
	}
}

// Hangup sends BYE (once) in the background; Done closes when it is
// answered or given up on.
func (c *call) Hangup() { c.hangupWith(nil) }

// hangupWith is Hangup with a header more on the BYE (a Reason, RFC 3326).
func (c *call) hangupWith(extra ssip.Header) {
	c.hangup.Do(func() {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), byeTimeout)
			defer cancel()
			bye := c.bye()
			if extra != nil {
				bye.AppendHeader(extra)
			}
			if err := c.dlg.WriteBye(ctx, bye); err != nil {
				c.srv.log.Debug("bye", "call", c.id, "err", err)
			}
			c.end()
		}()
	})
}

// bye is our BYE: to the caller's current Contact (sipgo's own Bye keeps
// the INVITE's even after a target refresh), and with our Contact for the
// call's transport rather than the dialog layer's UDP one.
func (c *call) bye() *ssip.Request {
	c.mu.Lock()
	target := c.target
	c.mu.Unlock()
	req := ssip.NewRequest(ssip.BYE, *target.Clone())
	req.SetTransport(c.dlg.InviteRequest.Transport())
	req.AppendHeader(ptr(c.srv.contact(c.transport)))
	if ssip.IsReliable(req.Transport()) {
		// Over TCP and TLS the caller's Contact is often not one we can
		// reach (a phone behind NAT, a certificate we could not check):
		// the BYE goes back on the connection the call came in on, as
		// RFC 5923 and RFC 5626 do. A Record-Route still wins (sipgo
		// points the destination at the first Route).
		req.SetDestination(c.dlg.InviteRequest.Source())
	}
	return req
}

func (c *call) setTarget(u ssip.Uri) {
	c.mu.Lock()
	c.target = *u.Clone()
	c.mu.Unlock()
}

func (c *call) ended() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// codec is the negotiated codec; nil while a delayed offer is unanswered.
func (c *call) codec() codec.Codec {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.choice.Codec
}

// watch ends the call when the dialog ends (BYE from the caller, or the
// 2xx never acknowledged), and hangs up on a caller whose RTP stopped
// (watchRTP).
func (c *call) watch() {
	stop := c.watchRTP()
	defer stop()
	select {
	case <-c.dlg.Context().Done():
		c.end()
	case <-c.done:
	}
}

// end releases everything the call holds; safe to call more than once.
func (c *call) end() {
	c.doneOnce.Do(func() {
		c.sess.Close()
		_ = c.dlg.Close()
		c.srv.mu.Lock()
		delete(c.srv.calls, c.dlg.ID)
		delete(c.srv.origins, c.origin)
		c.srv.mu.Unlock()
		close(c.done)
		if c.leave != nil {
			c.leave()
		}
		c.srv.wg.Done()
	})
}

// answer builds our SDP answer to offer with the current choice. The o=
// version moves with every answer: each may differ (hold, new port).
func (c *call) answer(offer *sdp.Offer) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	crypto, err := c.keyFor(c.choice.SRTP)
	if err != nil {
		return nil, err
	}
	c.version++
	c.offered = false
	return sdp.BuildAnswer(sdp.AnswerParams{
		Crypto:    crypto,
		Offer:     offer,
		Choice:    c.choice,
		Addr:      c.srv.opts.MediaIP,
		Port:      c.sess.LocalAddr().Port,
		SessionID: c.sessionID,
		Version:   c.version,
		Username:  "brygga",
		Direction: sdp.AnswerDirection(offer.Direction),
		Ptime:     20,
	})
}

// offer builds our SDP offer for an INVITE without one (delayed offer, RFC
// 3261 §13.2.1); the caller's answer is due in the ACK for cseq. A new
// call is offered every codec we speak; a re-INVITE only the one the
// mixer already encodes for, and the telephone-event type in use.
func (c *call) offer(cseq uint32) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	codecs, dtmfPT := c.srv.opts.Codecs, uint8(dtmfPayloadType)
	if c.choice.Codec != nil {
		codecs = []codec.Codec{c.choice.Codec}
		if c.choice.DTMF != 0 {
			dtmfPT = c.choice.DTMF
		}
	}
	c.version++
	c.offered, c.offerCSeq = true, cseq
	var crypto *sdp.Crypto
	if c.sess.Secure() {
		// Never offer a way back to plain RTP in an SRTP call.
		crypto = c.crypto
	}
	return sdp.BuildOfferWith(sdp.OfferParams{
		Crypto:    crypto,
		Addr:      c.srv.opts.MediaIP,
		Port:      c.sess.LocalAddr().Port,
		SessionID: c.sessionID,
		Version:   c.version,
		Codecs:    codecs,
		DTMF:      dtmfPT,
		Username:  "brygga",
		Ptime:     20,
	})
}

// acked takes an ACK of a 2xx of ours: it stops that 2xx's retransmission
// and, when the 2xx carried our offer, applies the answer in its body. An
// unusable answer leaves the media as it was (none for a new call, which
// the INVITE handler then hangs up).
func (c *call) acked(req *ssip.Request) {
	cseq := req.CSeq().SeqNo
	select {
	case c.acks <- cseq:
	default:
	}
	c.mu.Lock()
	due := c.offered && c.offerCSeq == cseq
	c.offered = c.offered && !due
	secure := c.sess.Secure()
	codecs := c.srv.opts.Codecs
	started := c.choice.Codec != nil // a re-INVITE's answer may hold with 0.0.0.0
	if started {
		codecs = []codec.Codec{c.choice.Codec}
	}
	c.mu.Unlock()
	if !due {
		return
	}
	ans, err := sdp.ParseOffer(req.Body())
	var ch sdp.Choice
	if err == nil {
		ch, err = sdp.Negotiate(ans, codecs)
	}
	if err == nil && (ch.SRTP != nil) != secure {
		err = errors.New("the answer's SRTP does not match the offer")
	}
	if err == nil {
		if why := c.srv.mediaRefusal(ans.Addr, c.source, c.trusted, started); why != "" {
			err = errors.New(why)
		}
	}
	if err == nil {
		err = c.apply(ans, ch)
	}
	if err != nil {
		c.srv.log.Info("unusable SDP answer in ACK", "call", c.id, "err", err)
		return
	}
	c.mu.Lock()
	c.choice = ch
	c.mu.Unlock()
}

// drainAcks forgets ACKs already seen, before a new 2xx goes out.
func (c *call) drainAcks() {
	for {
		select {
		case <-c.acks:
		default:
			return
		}
	}
}

// retransmit repeats a re-INVITE's 2xx until its ACK comes (RFC 3261
// §13.3.1.4, RFC 6026): sipgo's transaction leaves that to us, and without
// it one lost 200 on UDP makes the caller time out and drop the call.
func (c *call) retransmit(tx ssip.ServerTransaction, res *ssip.Response, cseq uint32) {
	interval := ssip.T1
	next := time.NewTimer(interval)
	defer next.Stop()
	giveUp := time.NewTimer(64 * ssip.T1)
	defer giveUp.Stop()
	for {
		select {
		case n := <-c.acks:
			if n == cseq {
				return
			}
		case <-next.C:
			if err := tx.Respond(res); err != nil {
				return
			}
			interval = min(2*interval, ssip.T2)
			next.Reset(interval)
		case <-giveUp.C:
			c.srv.log.Warn("re-INVITE answer never acknowledged", "call", c.id)
			return
		case <-c.done:
			return
		}
	}
}

// apply points the media session at what the offer (or answer) says,
// keys first: not one packet may go out in the clear to an SRTP peer.
func (c *call) apply(o *sdp.Offer, ch sdp.Choice) error {
	if ch.SRTP != nil {
		c.mu.Lock()
		mine := c.crypto
		c.mu.Unlock()
		if mine == nil || mine.Suite != ch.SRTP.Suite {
			return errors.New("sip: SRTP without our key for the suite")
		}
		if err := c.sess.SetSRTP(media.SRTP{Suite: ch.SRTP.Suite, Local: mine.Key, Remote: ch.SRTP.Key}); err != nil {
			return err
		}
	}
	addr := &net.UDPAddr{IP: o.Addr.AsSlice(), Port: o.Port}
	c.sess.SetRemote(media.Remote{Addr: addr, Codec: ch.Codec, PayloadType: ch.PayloadType, DTMF: ch.DTMF,
		Send: !o.Hold, Silent: !o.Direction.Sends()})
	return nil
}

// keyFor returns our SDES key for answering theirs (nil for plain RTP):
// one key for the whole call, under their tag; a new key only if they move
// to another suite. c.mu is held.
func (c *call) keyFor(theirs *sdp.Crypto) (*sdp.Crypto, error) {
	if theirs == nil {
		return nil, nil
	}
	if c.crypto == nil || c.crypto.Suite != theirs.Suite {
		k, err := sdp.NewCrypto(*theirs)
		if err != nil {
			return nil, err
		}
		c.crypto = &k
	}
	c.crypto.Tag = theirs.Tag
	return c.crypto, nil
}

// renegotiate handles a re-INVITE or UPDATE body and returns our SDP and
// the status to send. The codec stays what it was: the mixer encodes for
// it, so a re-offer without it is refused (488) and the call goes on.
// Without a body (a session refresh, or a peer asking for our offer) we
// offer and take the answer from the ACK of cseq.
func (c *call) renegotiate(body []byte, cseq uint32) ([]byte, int) {
	if len(bytes.TrimSpace(body)) == 0 {
		ans, err := c.offer(cseq)
		if err != nil {
			return nil, 500
		}
		return ans, 200
	}
	offer, err := sdp.ParseOffer(body)
	switch {
	case errors.Is(err, sdp.ErrMalformed):
		return nil, 400
	case err != nil:
		return nil, 488
	}
	if why := c.srv.mediaRefusal(offer.Addr, c.source, c.trusted, true); why != "" {
		c.srv.log.Warn("media address refused", "call", c.id, "addr", offer.Addr, "why", why)
		return nil, 488
	}
	c.mu.Lock()
	cur := c.choice.Codec
	c.mu.Unlock()
	if cur == nil {
		// A re-offer before the answer to our offer: RFC 3261 §14.2 says 500.
		return nil, 500
	}
	ch, err := sdp.Negotiate(offer, []codec.Codec{cur})
	if err != nil {
		return nil, 488
	}
	if (ch.SRTP != nil) != c.sess.Secure() {
		// Neither a downgrade to plain RTP nor an upgrade: who may be in
		// the room was decided on what the call was when it came in.
		return nil, 488
	}
	c.mu.Lock()
	c.choice = ch
	c.mu.Unlock()
	ans, err := c.answer(offer)
	if err != nil {
		return nil, 500
	}
	if err := c.apply(offer, ch); err != nil {
		return nil, 500
	}
	return ans, 200
}
