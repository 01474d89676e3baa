package phone

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/pion/rtp"

	"brygga/media/codec"
	"brygga/sip/sdp"
)

// testUAS is a minimal callee on sipgo for the phone's tests. What it does
// with an INVITE depends on the user part of the Request-URI: a status code
// ("486") rejects with it, "slow" rings for ten seconds first, "moved-USER"
// redirects (302) to USER here, anything else answers at once. Answered
// calls echo audio back to the SDP's address and record every packet.
type testUAS struct {
	t       *testing.T
	ua      *sipgo.UserAgent
	srv     *sipgo.Server
	dialogs map[string]*sipgo.DialogServerCache // by transport: each has its own Contact
	udp     netip.AddrPort
	tcp     netip.AddrPort
	closers []func() error
	serving sync.WaitGroup

	mu        sync.Mutex
	calls     map[string]*uasCall
	answered  chan *uasCall
	cancelled chan string
	rtp       sync.WaitGroup
}

type uasCall struct {
	id   string
	ds   *sipgo.DialogServerSession
	conn *net.UDPConn
	ssrc uint32

	remote atomic.Pointer[netip.AddrPort]
	send   atomic.Bool // false while the phone holds us or we hold it

	mu      sync.Mutex
	packets []uasPacket
	infos   []uasInfo
	offers  [][]byte // SDP of the INVITE and of every re-INVITE
	byed    chan struct{}
	acks    int
}

type uasPacket struct {
	from    netip.AddrPort
	at      time.Time
	hdr     rtp.Header
	payload []byte
}

type uasInfo struct {
	contentType string
	body        string
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

func newUAS(t *testing.T) *testUAS {
	t.Helper()
	log := quiet()
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgent("test-uas"),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(log)),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(log)),
	)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	client, err := sipgo.NewClient(ua, sipgo.WithClientLogger(log), sipgo.WithClientHostname("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	u := &testUAS{
		t:         t,
		ua:        ua,
		srv:       srv,
		calls:     make(map[string]*uasCall),
		answered:  make(chan *uasCall, 8),
		cancelled: make(chan string, 8),
	}

	uc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	tl, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	u.udp = uc.LocalAddr().(*net.UDPAddr).AddrPort()
	u.tcp = tl.Addr().(*net.TCPAddr).AddrPort()
	u.dialogs = map[string]*sipgo.DialogServerCache{
		"UDP": sipgo.NewDialogServerCache(client, u.contact("UDP")),
		"TCP": sipgo.NewDialogServerCache(client, u.contact("TCP")),
	}
	srv.OnInvite(u.onInvite)
	srv.OnAck(u.onAck)
	srv.OnBye(u.onBye)
	srv.OnInfo(u.onInfo)
	u.serving.Add(2)
	go func() { defer u.serving.Done(); srv.ServeUDP(uc) }()
	go func() { defer u.serving.Done(); srv.ServeTCP(tl) }()
	u.closers = append(u.closers, uc.Close, tl.Close)
	// Let ServeUDP register its socket before anyone sends through it.
	for ua.TransportLayer().Pool("udp").Size() == 0 {
		time.Sleep(time.Millisecond)
	}
	t.Cleanup(u.close)
	return u
}

func (u *testUAS) close() {
	u.ua.Close()
	for _, c := range u.closers {
		c()
	}
	u.serving.Wait()
	u.mu.Lock()
	for _, c := range u.calls {
		c.conn.Close()
	}
	u.mu.Unlock()
	u.rtp.Wait()
}

func (u *testUAS) contact(transport string) sip.ContactHeader {
	if transport == "TCP" {
		return sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "uas", Host: "127.0.0.1", Port: int(u.tcp.Port()),
			UriParams: sip.HeaderParams{{K: "transport", V: "tcp"}}}}
	}
	return sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "uas", Host: "127.0.0.1", Port: int(u.udp.Port())}}
}

// target is the URI to dial user at over transport.
func (u *testUAS) target(user, transport string) string {
	if transport == "tcp" {
		return "sip:" + user + "@" + u.tcp.String() + ";transport=tcp"
	}
	return "sip:" + user + "@" + u.udp.String()
}

func (u *testUAS) call(id string) *uasCall {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.calls[id]
}

func (u *testUAS) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if to := req.To(); to != nil && to.Params.Has("tag") {
		u.onReinvite(req, tx)
		return
	}
	ds, err := u.dialogs[req.Transport()].ReadInvite(req, tx)
	if err != nil {
		u.t.Errorf("uas: ReadInvite: %v", err)
		return
	}
	user := req.Recipient.User
	if code, err := strconv.Atoi(user); err == nil {
		ds.Respond(code, "Rejected", nil)
		ds.Close()
		return
	}
	if to, ok := strings.CutPrefix(user, "moved-"); ok {
		ds.Respond(sip.StatusMovedTemporarily, "Moved Temporarily", nil, sip.NewHeader("Contact", "<"+u.target(to, "udp")+">"))
		ds.Close()
		return
	}
	ds.Respond(sip.StatusRinging, "Ringing", nil)
	if user == "slow" {
		select {
		case <-ds.Context().Done():
			u.cancelled <- req.CallID().Value()
			ds.Close()
			return
		case <-time.After(10 * time.Second):
		}
	}
	offer, err := sdp.ParseOffer(req.Body())
	if err != nil {
		u.t.Errorf("uas: offer: %v", err)
		ds.Respond(sip.StatusBadRequest, "Bad Request", nil)
		return
	}
	ch, err := sdp.Negotiate(offer, []codec.Codec{codec.PCMU, codec.PCMA})
	if err != nil {
		ds.Respond(sip.StatusNotAcceptableHere, "Not Acceptable Here", nil)
		return
	}
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		u.t.Errorf("uas: %v", err)
		return
	}
	c := &uasCall{id: req.CallID().Value(), ds: ds, conn: conn, ssrc: 0x5eed, byed: make(chan struct{})}
	c.offers = append(c.offers, req.Body())
	c.follow(offer)
	u.mu.Lock()
	u.calls[c.id] = c
	u.mu.Unlock()
	u.rtp.Add(1)
	go u.echo(c)

	answer, err := sdp.BuildAnswer(sdp.AnswerParams{
		Offer: offer, Choice: ch, Addr: netip.MustParseAddr("127.0.0.1"),
		Port: conn.LocalAddr().(*net.UDPAddr).Port, SessionID: 1, Version: 1,
	})
	if err != nil {
		u.t.Errorf("uas: answer: %v", err)
		return
	}
	// RespondSDP returns when the ACK has arrived.
	if err := ds.RespondSDP(answer); err != nil {
		u.t.Errorf("uas: 200: %v", err)
		return
	}
	u.answered <- c
}

// follow takes an offer's address and direction for the echo.
func (c *uasCall) follow(o *sdp.Offer) {
	r := o.Remote()
	c.remote.Store(&r)
	c.send.Store(o.Direction == "" || o.Direction.Receives())
}

func (u *testUAS) onReinvite(req *sip.Request, tx sip.ServerTransaction) {
	c := u.call(req.CallID().Value())
	if c == nil {
		tx.Respond(sip.NewResponseFromRequest(req, sip.StatusCallTransactionDoesNotExists, "Gone", nil))
		return
	}
	offer, err := sdp.ParseOffer(req.Body())
	if err != nil {
		u.t.Errorf("uas: re-INVITE offer: %v", err)
		tx.Respond(sip.NewResponseFromRequest(req, sip.StatusBadRequest, "Bad Request", nil))
		return
	}
	ch, err := sdp.Negotiate(offer, []codec.Codec{codec.PCMU, codec.PCMA})
	if err != nil {
		tx.Respond(sip.NewResponseFromRequest(req, sip.StatusNotAcceptableHere, "Not Acceptable Here", nil))
		return
	}
	c.mu.Lock()
	c.offers = append(c.offers, req.Body())
	c.mu.Unlock()
	answer, err := sdp.BuildAnswer(sdp.AnswerParams{
		Offer: offer, Choice: ch, Addr: netip.MustParseAddr("127.0.0.1"),
		Port: c.conn.LocalAddr().(*net.UDPAddr).Port, SessionID: 1, Version: 2,
	})
	if err != nil {
		u.t.Errorf("uas: re-answer: %v", err)
		return
	}
	c.follow(offer)
	res := sip.NewSDPResponseFromRequest(req, answer)
	ct := u.contact(req.Transport())
	res.AppendHeader(&ct)
	tx.Respond(res)
}

func (u *testUAS) onAck(req *sip.Request, tx sip.ServerTransaction) {
	if c := u.call(req.CallID().Value()); c != nil {
		c.mu.Lock()
		c.acks++
		c.mu.Unlock()
	}
	// A re-INVITE's ACK has a newer CSeq than the dialog's INVITE, which
	// ReadAck reports; the initial ACK confirms the dialog.
	u.dialogs[req.Transport()].ReadAck(req, tx)
}

func (u *testUAS) onBye(req *sip.Request, tx sip.ServerTransaction) {
	if err := u.dialogs[req.Transport()].ReadBye(req, tx); err != nil {
		tx.Respond(sip.NewResponseFromRequest(req, sip.StatusCallTransactionDoesNotExists, "Gone", nil))
		return
	}
	if c := u.call(req.CallID().Value()); c != nil {
		c.conn.Close()
		close(c.byed)
	}
}

func (u *testUAS) onInfo(req *sip.Request, tx sip.ServerTransaction) {
	c := u.call(req.CallID().Value())
	if c == nil {
		tx.Respond(sip.NewResponseFromRequest(req, sip.StatusCallTransactionDoesNotExists, "Gone", nil))
		return
	}
	ct := ""
	if h := req.ContentType(); h != nil {
		ct = h.Value()
	}
	c.mu.Lock()
	c.infos = append(c.infos, uasInfo{ct, string(req.Body())})
	c.mu.Unlock()
	tx.Respond(sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil))
}

// echo records what arrives and sends the audio back with its own SSRC.
func (u *testUAS) echo(c *uasCall) {
	defer u.rtp.Done()
	buf := make([]byte, 1500)
	out := make([]byte, 1500)
	for {
		n, from, err := c.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		var p rtp.Packet
		if err := p.Unmarshal(append([]byte(nil), buf[:n]...)); err != nil {
			u.t.Errorf("uas: not RTP: %v", err)
			continue
		}
		c.mu.Lock()
		c.packets = append(c.packets, uasPacket{from: from, at: time.Now(), hdr: p.Header, payload: p.Payload})
		c.mu.Unlock()
		if p.PayloadType > 8 || !c.send.Load() {
			continue
		}
		p.SSRC = c.ssrc
		m, err := p.MarshalTo(out)
		if err != nil {
			continue
		}
		if r := c.remote.Load(); r != nil {
			c.conn.WriteToUDPAddrPort(out[:m], *r)
		}
	}
}

// snapshot copies the packets received so far.
func (c *uasCall) snapshot() []uasPacket {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]uasPacket(nil), c.packets...)
}

func (c *uasCall) lastOffer(t *testing.T) *sdp.Offer {
	t.Helper()
	c.mu.Lock()
	body := c.offers[len(c.offers)-1]
	c.mu.Unlock()
	o, err := sdp.ParseOffer(body)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// reinvite sends the phone a re-INVITE offering dir, as a bridge would to
// hold or resume it, and ACKs the answer.
func (u *testUAS) reinvite(ctx context.Context, c *uasCall, dir sdp.Direction, version uint64) (*sdp.Offer, error) {
	body, err := sdp.BuildOfferWith(sdp.OfferParams{
		Addr: netip.MustParseAddr("127.0.0.1"), Port: c.conn.LocalAddr().(*net.UDPAddr).Port,
		SessionID: 1, Version: version, Codecs: []codec.Codec{codec.PCMU}, DTMF: 101, Direction: dir,
	})
	if err != nil {
		return nil, err
	}
	target := c.ds.InviteRequest.Contact().Address
	req := sip.NewRequest(sip.INVITE, *target.Clone())
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(body)
	res, err := c.ds.Do(ctx, req)
	if err != nil {
		return nil, err
	}
	if !res.IsSuccess() {
		return nil, &StatusError{Code: res.StatusCode, Reason: res.Reason}
	}
	if err := c.ds.WriteRequest(sip.NewRequest(sip.ACK, *target.Clone())); err != nil {
		return nil, err
	}
	c.send.Store(dir.Sends())
	return sdp.ParseOffer(res.Body())
}

// TestMain quiets sipgo's package logger: its TCP connections log through it
// whatever logger the user agent was given, and warn about reference counts
// while connections are torn down at the end of every test.
func TestMain(m *testing.M) {
	sip.SetDefaultLogger(quiet())
	os.Exit(m.Run())
}

// reinviteDelayed sends the phone a re-INVITE without SDP, so the phone
// offers in its 200, and answers that offer with dir in the ACK.
func (u *testUAS) reinviteDelayed(ctx context.Context, c *uasCall, dir sdp.Direction) (*sdp.Offer, error) {
	target := c.ds.InviteRequest.Contact().Address
	res, err := c.ds.Do(ctx, sip.NewRequest(sip.INVITE, *target.Clone()))
	if err != nil {
		return nil, err
	}
	if !res.IsSuccess() {
		return nil, &StatusError{Code: res.StatusCode, Reason: res.Reason}
	}
	offer, err := sdp.ParseOffer(res.Body())
	if err != nil {
		return nil, err
	}
	ch, err := sdp.Negotiate(offer, []codec.Codec{codec.PCMU})
	if err != nil {
		return nil, err
	}
	answer, err := sdp.BuildAnswer(sdp.AnswerParams{
		Offer: offer, Choice: ch, Addr: netip.MustParseAddr("127.0.0.1"),
		Port: c.conn.LocalAddr().(*net.UDPAddr).Port, SessionID: 1, Version: 9, Direction: dir,
	})
	if err != nil {
		return nil, err
	}
	ack := sip.NewRequest(sip.ACK, *target.Clone())
	ack.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	ack.SetBody(answer)
	if err := c.ds.WriteRequest(ack); err != nil {
		return nil, err
	}
	c.send.Store(dir.Sends())
	return offer, nil
}
