package sip

import (
	"context"
	"net"
	"net/netip"
	"sync"

	"github.com/emiago/sipgo"

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
	dlg       *sipgo.DialogServerSession
	sess      *media.Session
	digits    chan byte

	mu        sync.Mutex
	choice    sdp.Choice
	last      *sdp.Offer // the offer the current answer answers
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
func (c *call) Hangup() {
	c.hangup.Do(func() {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), byeTimeout)
			defer cancel()
			if err := c.dlg.Bye(ctx); err != nil {
				c.srv.log.Debug("bye", "call", c.id, "err", err)
			}
			c.end()
		}()
	})
}

// watch ends the call when the dialog ends (BYE from the caller, or the
// 2xx never acknowledged).
func (c *call) watch() {
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
		c.srv.mu.Unlock()
		close(c.done)
		c.srv.wg.Done()
	})
}

// answer builds our SDP answer to offer with the current choice. The
// o= version moves only when the answer may differ (RFC 3264 §8).
func (c *call) answer(offer *sdp.Offer, changed bool) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if changed || c.version == 0 {
		c.version++
	}
	c.last = offer
	la := c.sess.LocalAddr()
	return sdp.BuildAnswer(sdp.AnswerParams{
		Offer:     offer,
		Choice:    c.choice,
		Addr:      c.srv.opts.MediaIP,
		Port:      la.Port,
		SessionID: c.sessionID,
		Version:   c.version,
		Username:  "brygga",
		Direction: sdp.AnswerDirection(offer.Direction),
		Ptime:     20,
	})
}

// apply points the media session at what the offer says.
func (c *call) apply(offer *sdp.Offer, ch sdp.Choice) {
	addr := &net.UDPAddr{IP: offer.Addr.AsSlice(), Port: offer.Port}
	send := !offer.Hold && (offer.Direction == sdp.SendRecv || offer.Direction == sdp.RecvOnly || offer.Direction == "")
	c.sess.SetRemote(media.Remote{Addr: addr, Codec: ch.Codec, DTMF: ch.DTMF, Send: send})
}

// renegotiate handles a re-INVITE or UPDATE offer and returns our answer
// and the status to send. The codec stays what it was: the mixer encodes
// for it, so a re-offer without it is refused (488) and the call goes on.
func (c *call) renegotiate(body []byte) ([]byte, int) {
	if len(body) == 0 {
		// No offer: a session refresh. Answer with our current SDP as an
		// offer would be a delayed-offer re-INVITE; we keep it simple and
		// send our last answer again.
		c.mu.Lock()
		last := c.last
		c.mu.Unlock()
		ans, err := c.answer(last, false)
		if err != nil {
			return nil, 500
		}
		return ans, 200
	}
	offer, err := sdp.ParseOffer(body)
	if err != nil {
		return nil, 488
	}
	c.mu.Lock()
	cur := c.choice.Codec
	c.mu.Unlock()
	ch, err := sdp.Negotiate(offer, []codec.Codec{cur})
	if err != nil {
		return nil, 488
	}
	c.mu.Lock()
	c.choice = ch
	c.mu.Unlock()
	ans, err := c.answer(offer, true)
	if err != nil {
		return nil, 500
	}
	c.apply(offer, ch)
	return ans, 200
}
