package sip_test

// Signalling end-to-end tests: every SIP path of issue 2 item 3 and the IVR
// of item 5, against the whole bridge on loopback. Callers are brygga/phone
// where a phone can say it; the requests a phone never sends (REGISTER, an
// INVITE without SDP, a CANCEL after the 200) come from a bare sipgo client.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	ssip "github.com/emiago/sipgo/sip"
	"github.com/pion/rtp"

	"brygga/conference"
	"brygga/config"
	"brygga/media/codec"
	"brygga/media/tone"
	"brygga/phone"
	"brygga/prompts"
	"brygga/sip"
	"brygga/sip/sdp"
	"brygga/store"
)

// checkIdle asserts that the bridge let go of everything: no dialog, no
// call in the IVR or a room, no live room, every RTP port back in the pool.
func checkIdle(t *testing.T, b *bridge) {
	t.Helper()
	waitFor(t, "an idle bridge", 15*time.Second, func() bool {
		return b.srv.Calls() == 0 && b.conf.Calls() == 0 && len(b.conf.Rooms()) == 0 && b.ports.InUse() == 0
	})
}

func hangup(t *testing.T, c *phone.Call) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Hangup(ctx); err != nil {
		t.Error("hangup:", err)
	}
}

func hosts(b *bridge, ext string) int {
	n := 0
	for _, r := range b.conf.Rooms() {
		if r.Extension != ext {
			continue
		}
		for _, m := range r.Members {
			if m.Role == "host" {
				n++
			}
		}
	}
	return n
}

// dialErr dials and expects a final refusal with code.
func dialErr(t *testing.T, p *phone.Phone, target string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := p.Dial(ctx, target)
	if err == nil {
		hangup(t, c)
		t.Fatalf("dial %s answered, want %d", target, code)
	}
	var se *phone.StatusError
	if !errors.As(err, &se) || se.Code != code {
		t.Fatalf("dial %s: %v, want a %d", target, err, code)
	}
}

// listen gathers what each call hears over the next d.
func listen(d time.Duration, calls ...*phone.Call) [][]int16 {
	marks := make([]int, len(calls))
	for i, c := range calls {
		marks[i] = c.Mark()
	}
	time.Sleep(d)
	out := make([][]int16, len(calls))
	for i, c := range calls {
		out[i] = c.ReceivedSince(marks[i])
	}
	return out
}

// rawUA is a bare sipgo user agent for requests no phone sends.
type rawUA struct {
	client  *sipgo.Client
	dialogs *sipgo.DialogUA
	byes    chan *ssip.Request  // BYEs received (and answered 200)
	strays  chan *ssip.Response // responses after their transaction ended: retransmissions
}

func newRawUA(t *testing.T) *rawUA {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	strays := make(chan *ssip.Response, 32)
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("brygga-test"), sipgo.WithUserAgentHostname("127.0.0.1"),
		sipgo.WithUserAgentTransactionLayerOptions(ssip.WithTransactionLayerLogger(quiet),
			ssip.WithTransactionLayerUnhandledResponseHandler(func(res *ssip.Response) {
				select {
				case strays <- res:
				default:
				}
			})),
		sipgo.WithUserAgentTransportLayerOptions(ssip.WithTransportLayerLogger(quiet)))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	client, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	r := &rawUA{
		client: client,
		// Port 0: sipgo fills in the port of the connection the INVITE leaves from.
		dialogs: &sipgo.DialogUA{Client: client, ContactHDR: ssip.ContactHeader{Address: ssip.Uri{Scheme: "sip", User: "raw", Host: "127.0.0.1"}}},
		byes:    make(chan *ssip.Request, 4),
		strays:  strays,
	}
	srv.OnBye(func(req *ssip.Request, tx ssip.ServerTransaction) {
		_ = tx.Respond(ssip.NewResponseFromRequest(req, 200, "OK", nil))
		select {
		case r.byes <- req:
		default:
		}
	})
	t.Cleanup(func() {
		client.Close()
		ua.Close()
	})
	return r
}

func newRequest(t *testing.T, method ssip.RequestMethod, target string) *ssip.Request {
	t.Helper()
	var uri ssip.Uri
	if err := ssip.ParseUri(target, &uri); err != nil {
		t.Fatal(err)
	}
	return ssip.NewRequest(method, uri)
}

// request sends one request outside any dialog and returns the final response.
func (r *rawUA) request(t *testing.T, method ssip.RequestMethod, target, contentType string, body []byte) *ssip.Response {
	t.Helper()
	req := newRequest(t, method, target)
	if method == ssip.INVITE {
		req.AppendHeader(ssip.NewHeader("Contact", "<sip:raw@127.0.0.1>"))
	}
	if contentType != "" {
		req.AppendHeader(ssip.NewHeader("Content-Type", contentType))
	}
	req.SetBody(body)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := r.client.Do(ctx, req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	return res
}

// invite sends an INVITE with body (an SDP offer, or nothing) and waits for
// the 2xx; the caller ACKs.
func (r *rawUA) invite(t *testing.T, target string, offer []byte) *sipgo.DialogClientSession {
	t.Helper()
	req := newRequest(t, ssip.INVITE, target)
	if tr, ok := req.Recipient.UriParams.Get("transport"); ok {
		req.SetTransport(strings.ToUpper(tr))
	}
	if offer != nil {
		req.AppendHeader(ssip.NewHeader("Content-Type", "application/sdp"))
		req.SetBody(offer)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ds, err := r.dialogs.WriteInvite(ctx, req)
	if err != nil {
		t.Fatal("INVITE:", err)
	}
	if err := ds.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
		t.Fatal("INVITE:", err)
	}
	return ds
}

// ack sends the ACK for the 2xx, with an SDP answer when body is not nil.
func ack(t *testing.T, ds *sipgo.DialogClientSession, body []byte) {
	t.Helper()
	a := ssip.NewRequest(ssip.ACK, ds.InviteResponse.Contact().Address)
	if body != nil {
		a.AppendHeader(ssip.NewHeader("Content-Type", "application/sdp"))
		a.SetBody(body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ds.WriteAck(ctx, a); err != nil {
		t.Fatal("ACK:", err)
	}
}

func bye(t *testing.T, ds *sipgo.DialogClientSession) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ds.Bye(ctx); err != nil {
		t.Error("BYE:", err)
	}
}

// rtpSink counts the RTP packets sent to it, by payload type.
type rtpSink struct {
	conn *net.UDPConn
	mu   sync.Mutex
	n    map[uint8]int
	done chan struct{}
}

func newRTPSink(t *testing.T) *rtpSink {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	s := &rtpSink{conn: conn, n: make(map[uint8]int), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		buf := make([]byte, 1500)
		var p rtp.Packet
		for {
			n, _, err := conn.ReadFromUDP(buf)
			if err != nil {
				return
			}
			if p.Unmarshal(buf[:n]) == nil {
				s.mu.Lock()
				s.n[p.PayloadType]++
				s.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		conn.Close()
		<-s.done
	})
	return s
}

func (s *rtpSink) port() int { return s.conn.LocalAddr().(*net.UDPAddr).Port }

func (s *rtpSink) count(pt uint8) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n[pt]
}

var loopback = netip.MustParseAddr("127.0.0.1")

func TestOptionsRegisterAndStrayCancel(t *testing.T) {
	b := startBridge(t, roomYAML)
	raw := newRawUA(t)

	res := raw.request(t, ssip.OPTIONS, b.target("4711"), "", nil)
	if res.StatusCode != 200 {
		t.Fatalf("OPTIONS: %d %s, want 200", res.StatusCode, res.Reason)
	}
	allow := res.GetHeader("Allow")
	if allow == nil {
		t.Fatal("OPTIONS 200 without Allow")
	}
	for _, m := range []string{"INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "INFO"} {
		if !strings.Contains(allow.Value(), m) {
			t.Errorf("Allow %q lacks %s", allow.Value(), m)
		}
	}

	res = raw.request(t, ssip.REGISTER, b.target(""), "", nil)
	if res.StatusCode != 405 || res.GetHeader("Allow") == nil {
		t.Errorf("REGISTER: %d %s (Allow %v), want 405 with Allow", res.StatusCode, res.Reason, res.GetHeader("Allow"))
	}

	// A CANCEL that matches no INVITE (RFC 3261 §9.2).
	res = raw.request(t, ssip.CANCEL, b.target("4711"), "", nil)
	if res.StatusCode != 481 {
		t.Errorf("stray CANCEL: %d %s, want 481", res.StatusCode, res.Reason)
	}
	checkIdle(t, b)
}

func TestInviteRefusals(t *testing.T) {
	b := startBridge(t, roomYAML)
	raw := newRawUA(t)
	const head = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
	pcmu := head + "m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
	for _, tc := range []struct {
		name, user, sdp string
		want            int
	}{
		{"unknown extension", "9999", pcmu, 404},
		{"unknown extension with a PIN", "9999*2468", pcmu, 404},
		{"G.729 only", "4711", head + "m=audio 40000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n", 488},
		{"video only", "4711", head + "m=video 40000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n", 488},
		{"malformed SDP", "4711", head + "m=audio forty RTP/AVP 0\r\n", 400},
	} {
		res := raw.request(t, ssip.INVITE, b.target(tc.user), "application/sdp", []byte(tc.sdp))
		if res.StatusCode != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, res.StatusCode, res.Reason, tc.want)
		}
	}
	checkIdle(t, b)
}

// An INVITE without SDP (delayed offer, as Cisco CUCM sends by default):
// the bridge offers in its 200 and takes the answer from the ACK.
func TestDelayedOfferAnswerInACK(t *testing.T) {
	b := startBridge(t, roomYAML)
	raw := newRawUA(t)
	sink := newRTPSink(t)

	ds := raw.invite(t, b.target("5000"), nil)
	offer, err := sdp.ParseOffer(ds.InviteResponse.Body())
	if err != nil {
		t.Fatalf("200 to an INVITE without SDP carries no usable offer: %v\n%s", err, ds.InviteResponse.Body())
	}
	for _, name := range []string{"PCMU", "PCMA", "telephone-event"} {
		found := false
		for _, f := range offer.Formats {
			found = found || strings.EqualFold(f.Name, name)
		}
		if !found {
			t.Errorf("bridge's offer lacks %s:\n%s", name, ds.InviteResponse.Body())
		}
	}
	ch, err := sdp.Negotiate(offer, []codec.Codec{codec.PCMA})
	if err != nil {
		t.Fatal(err)
	}
	answer, err := sdp.BuildAnswer(sdp.AnswerParams{Offer: offer, Choice: ch, Addr: loopback, Port: sink.port(), SessionID: 7, Version: 1})
	if err != nil {
		t.Fatal(err)
	}
	ack(t, ds, answer)

	// Room 5000 has no PIN: greeting, then into the room. Its prompts come
	// as PCMA, the codec of the answer, to the port of the answer.
	waitFor(t, "PCMA from the bridge", 10*time.Second, func() bool { return sink.count(8) >= 25 })
	waitFor(t, "the caller in the room", 15*time.Second, func() bool { return participants(b, "5000") == 1 })
	if n := sink.count(0); n != 0 {
		t.Errorf("%d PCMU packets although the answer chose PCMA", n)
	}
	bye(t, ds)
	checkIdle(t, b)
}

// A delayed offer whose ACK brings no answer leaves no media to use: the
// bridge hangs up (RFC 3261 §13.3.1.4 leaves the session to be ended by BYE).
func TestDelayedOfferWithoutAnswerIsHungUp(t *testing.T) {
	b := startBridge(t, roomYAML)
	raw := newRawUA(t)
	ds := raw.invite(t, b.target("5000"), nil)
	ack(t, ds, nil)
	select {
	case req := <-raw.byes:
		if id := req.CallID().Value(); id != ds.InviteRequest.CallID().Value() {
			t.Errorf("BYE for call %s, want %s", id, ds.InviteRequest.CallID().Value())
		}
		// A Contact in a BYE is optional, but if there is one it is ours.
		if ct := req.Contact(); ct != nil && (ct.Address.Host != "127.0.0.1" || ct.Address.Port == 0) {
			t.Errorf("BYE carries Contact %q", ct.Value())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no BYE after an ACK without an answer")
	}
	checkIdle(t, b)
}

func TestTCPCallerJoinsAndHears(t *testing.T) {
	b := startBridge(t, roomYAML)
	if b.tcp == "" {
		t.Fatal("bridge has no TCP listener")
	}
	udp := dial(t, newPhone(t, "udp-caller", codec.PCMU), b.target("4711"))
	udp.SetSource(toneSource(700))
	if err := udp.SendDigits("2468#"); err != nil {
		t.Fatal(err)
	}
	tp := newPhoneWith(t, phone.Config{LocalIP: loopback, User: "tcp-caller", Codec: codec.PCMA, Transport: "tcp"})
	tcp := dial(t, tp, "sip:4711@"+b.tcp+";transport=tcp")
	tcp.SetSource(toneSource(500))
	if err := tcp.SendDigits("2468#"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "two participants", 20*time.Second, func() bool { return participants(b, "4711") == 2 })
	time.Sleep(1500 * time.Millisecond) // join tone and prompts
	heard := listen(2*time.Second, tcp, udp)
	checkHears(t, "TCP caller", heard[0], []float64{700}, []float64{500})
	checkHears(t, "UDP caller", heard[1], []float64{500}, []float64{700})

	// The bridge's BYE must reach the TCP caller at its Contact.
	hangup(t, udp)
	b.conf.HangupAll(10 * time.Second)
	select {
	case <-tcp.Done():
	case <-time.After(15 * time.Second):
		t.Fatal("TCP caller never got the bridge's BYE")
	}
	if !tcp.EndedByRemote() {
		t.Error("TCP call should have been ended by the bridge")
	}
	checkIdle(t, b)
}

// The 200 over TCP names the TCP listener, so that the caller's ACK, BYE
// and re-INVITEs come back over TCP.
func TestTCPContact(t *testing.T) {
	b := startBridge(t, roomYAML)
	raw := newRawUA(t)
	sink := newRTPSink(t)
	offer, err := sdp.BuildOffer(loopback, sink.port(), 1, 1, []codec.Codec{codec.PCMU}, 101)
	if err != nil {
		t.Fatal(err)
	}
	ds := raw.invite(t, "sip:5000@"+b.tcp+";transport=tcp", offer)
	ct := ds.InviteResponse.Contact()
	tr, _ := ct.Address.UriParams.Get("transport")
	if want := netip.MustParseAddrPort(b.tcp); !strings.EqualFold(tr, "tcp") || ct.Address.Port != int(want.Port()) {
		t.Errorf("Contact of the 200 over TCP: %s, want port %d with transport=tcp", ct.Value(), want.Port())
	}
	ack(t, ds, nil)
	waitFor(t, "audio", 10*time.Second, func() bool { return sink.count(0) >= 10 })
	bye(t, ds)
	checkIdle(t, b)
}

func TestOneStepDialIn(t *testing.T) {
	b := startBridge(t, roomYAML)
	// Host PIN in the Request-URI: in without a key pressed, as host.
	host := dial(t, newPhone(t, "host", codec.PCMU), b.target("4711*97531"))
	waitFor(t, "the host in the room", 15*time.Second, func() bool { return participants(b, "4711") == 1 })
	if n := hosts(b, "4711"); n != 1 {
		t.Errorf("%d hosts after a host PIN in the URI, want 1", n)
	}
	// Participant PIN in the Request-URI.
	guest := dial(t, newPhone(t, "guest", codec.PCMU), b.target("4711*2468"))
	waitFor(t, "the guest in the room", 15*time.Second, func() bool { return participants(b, "4711") == 2 })
	// A wrong PIN in the Request-URI counts as a try; the right one typed
	// then still gets the caller in.
	late := dial(t, newPhone(t, "late", codec.PCMU), b.target("4711*1111"))
	if err := late.SendDigits("2468#"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the late caller in the room", 20*time.Second, func() bool { return participants(b, "4711") == 3 })
	if n := hosts(b, "4711"); n != 1 {
		t.Errorf("%d hosts, want 1: participant PINs must not make hosts", n)
	}
	for _, c := range []*phone.Call{host, guest, late} {
		hangup(t, c)
	}
	checkIdle(t, b)
}

func TestPINBySIPInfo(t *testing.T) {
	b := startBridge(t, roomYAML)
	var calls []*phone.Call
	for i, ct := range []string{"application/dtmf-relay", "application/dtmf"} {
		c := dial(t, newPhone(t, "info"+string(rune('a'+i)), codec.PCMU), b.target("4711"))
		for _, d := range []byte("2468#") {
			if err := c.SendInfo(d, ct); err != nil {
				t.Fatalf("INFO %s %c: %v", ct, d, err)
			}
		}
		waitFor(t, ct+" caller in the room", 15*time.Second, func() bool { return participants(b, "4711") == i+1 })
		calls = append(calls, c)
	}
	for _, c := range calls {
		hangup(t, c)
	}
	checkIdle(t, b)
}

func TestStarRestartsPINEntry(t *testing.T) {
	b := startBridge(t, roomYAML)
	c := dial(t, newPhone(t, "fumbler", codec.PCMU), b.target("4711"))
	if err := c.SendDigits("99*2468#"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the caller in the room", 20*time.Second, func() bool { return participants(b, "4711") == 1 })
	hangup(t, c)
	checkIdle(t, b)
}

// pauses counts the stretches of at least minFrames silent 20 ms frames
// between sounds in pcm.
func pauses(pcm []int16, minFrames int) int {
	const frame = 160
	n, run, heard := 0, 0, false
	for i := 0; i+frame <= len(pcm); i += frame {
		if tone.Level(pcm[i:i+frame]) > -50 {
			if heard && run >= minFrames {
				n++
			}
			heard, run = true, 0
			continue
		}
		run++
	}
	return n
}

func TestPINTimeoutThreeTimesEndsCall(t *testing.T) {
	const timeout = 1500 * time.Millisecond
	b := startBridge(t, roomYAML, withConference(func(o *conference.Options) { o.PINTimeout = timeout }))
	c := dial(t, newPhone(t, "silent", codec.PCMU), b.target("4711"))
	select {
	case <-c.Done():
	case <-time.After(60 * time.Second):
		t.Fatal("bridge did not hang up on a caller who never keyed a PIN")
	}
	if !c.EndedByRemote() {
		t.Error("call should have been ended by the bridge's BYE")
	}
	heard := c.Received()
	// Every try times out after the PIN prompt: three pauses of the timeout
	// between prompts, and the goodbye notice at the end.
	if n := pauses(heard, int(timeout/(20*time.Millisecond))*2/3); n != 3 {
		t.Errorf("heard %d silent waits for a key, want 3", n)
	}
	bad := prompts.Builtin().Clip("en", prompts.PinBad)
	tail := heard[max(0, len(heard)-len(bad)-8000):]
	if lvl := tone.Level(tail); lvl < -40 {
		t.Errorf("final prompt level %.1f dBFS: the too-many-PINs notice was not heard", lvl)
	}
	checkIdle(t, b)
}

func TestReinviteNewPortAndHold(t *testing.T) {
	b := startBridge(t, roomYAML)
	mover := dial(t, newPhone(t, "mover", codec.PCMU), b.target("4711"))
	mover.SetSource(toneSource(500))
	other := dial(t, newPhone(t, "other", codec.PCMA), b.target("4711"))
	other.SetSource(toneSource(700))
	for _, c := range []*phone.Call{mover, other} {
		if err := c.SendDigits("2468#"); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "two participants", 20*time.Second, func() bool { return participants(b, "4711") == 2 })
	time.Sleep(1500 * time.Millisecond) // join tone and prompts

	reinvite := func(o phone.ReinviteOptions) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := mover.Reinvite(ctx, o); err != nil {
			t.Fatalf("re-INVITE %+v: %v", o, err)
		}
	}

	// A new RTP port mid-call: both directions go on.
	before := mover.RTPAddr()
	reinvite(phone.ReinviteOptions{NewPort: true})
	if mover.RTPAddr() == before {
		t.Fatal("re-INVITE did not move the phone's RTP port")
	}
	heard := listen(2*time.Second, mover, other)
	checkHears(t, "mover after the port change", heard[0], []float64{700}, []float64{500})
	checkHears(t, "other after the port change", heard[1], []float64{500}, []float64{700})

	// Hold (sendonly from the caller): the bridge sends it nothing, while
	// the room still hears what it sends.
	reinvite(phone.ReinviteOptions{Direction: sdp.SendOnly})
	time.Sleep(time.Second) // what was in flight has landed
	held := mover.Stats().PacketsReceived
	heard = listen(2*time.Second, other)
	if n := mover.Stats().PacketsReceived - held; n > 1 {
		t.Errorf("bridge sent %d packets in 2 s to a caller on hold", n)
	}
	checkHears(t, "other while mover holds", heard[0], []float64{500}, []float64{700})

	// Resume (sendrecv): audio flows to the caller again.
	reinvite(phone.ReinviteOptions{Direction: sdp.SendRecv})
	waitFor(t, "audio after resume", 10*time.Second, func() bool { return mover.Stats().PacketsReceived > held+50 })
	heard = listen(2*time.Second, mover)
	checkHears(t, "mover after resume", heard[0], []float64{700}, []float64{500})

	hangup(t, mover)
	hangup(t, other)
	checkIdle(t, b)
}

func TestCallerHangsUpDuringIVR(t *testing.T) {
	b := startBridge(t, roomYAML)
	c := dial(t, newPhone(t, "quitter", codec.PCMU), b.target("4711"))
	// The greeting is playing: the call is in the IVR, holding a port.
	waitFor(t, "the greeting", 5*time.Second, func() bool { return c.Stats().PacketsReceived >= 10 })
	if b.conf.Calls() != 1 || b.ports.InUse() != 1 || participants(b, "4711") != 0 {
		t.Fatalf("in the IVR: %d calls, %d ports, %d participants; want 1, 1, 0",
			b.conf.Calls(), b.ports.InUse(), participants(b, "4711"))
	}
	hangup(t, c)
	if c.EndedByRemote() {
		t.Error("the caller hung up, not the bridge")
	}
	checkIdle(t, b)
}

// gatedDirectory holds the first lookup until released, as a slow store
// would: the INVITE stays unanswered, long enough to be cancelled.
type gatedDirectory struct {
	store.Directory
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (d *gatedDirectory) Room(ext string) (config.Room, bool) {
	d.once.Do(func() {
		close(d.entered)
		<-d.release
	})
	return d.Directory.Room(ext)
}

func TestCancelBeforeAnswer(t *testing.T) {
	dir := &gatedDirectory{entered: make(chan struct{}), release: make(chan struct{})}
	b := startBridge(t, roomYAML, withSIP(func(o *sip.Options) {
		dir.Directory = o.Directory
		o.Directory = dir
	}))
	defer func() {
		select {
		case <-dir.release:
		default:
			close(dir.release)
		}
	}()
	p := newPhone(t, "impatient", codec.PCMU)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		c, err := p.Dial(ctx, b.target("4711"))
		if c != nil {
			c.Hangup(context.Background())
		}
		errc <- err
	}()
	select {
	case <-dir.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("INVITE never reached the directory")
	}
	cancel() // the caller gives up while the bridge is still on it
	var err error
	select {
	case err = <-errc:
	case <-time.After(40 * time.Second):
		t.Fatal("dial did not end after CANCEL")
	}
	var se *phone.StatusError
	if !errors.As(err, &se) || se.Code != 487 {
		t.Fatalf("cancelled dial: %v, want 487 Request Terminated", err)
	}
	// Shutdown waits for the INVITE still inside the bridge (Wait covers
	// INVITEs being answered), and once that is through it holds nothing.
	b.srv.Drain()
	waited := make(chan error, 1)
	go func() {
		wctx, wcancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer wcancel()
		waited <- b.srv.Wait(wctx)
	}()
	select {
	case <-waited:
		t.Fatal("Wait returned while an INVITE was still being handled")
	case <-time.After(300 * time.Millisecond):
	}
	close(dir.release)
	if err := <-waited; err != nil {
		t.Fatal("bridge still busy with the cancelled INVITE:", err)
	}
	if b.srv.Calls() != 0 || b.conf.Calls() != 0 || b.ports.InUse() != 0 {
		t.Errorf("after a cancelled INVITE: %d dialogs, %d calls, %d ports; want none",
			b.srv.Calls(), b.conf.Calls(), b.ports.InUse())
	}
}

// reinvite sends a re-INVITE in ds with body (nil: none) and returns the 2xx.
func reinvite(t *testing.T, ds *sipgo.DialogClientSession, body []byte) *ssip.Response {
	t.Helper()
	req := ssip.NewRequest(ssip.INVITE, ds.InviteResponse.Contact().Address)
	if body != nil {
		req.AppendHeader(ssip.NewHeader("Content-Type", "application/sdp"))
		req.SetBody(body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := ds.Do(ctx, req)
	if err != nil {
		t.Fatal("re-INVITE:", err)
	}
	if res.StatusCode != 200 {
		t.Fatalf("re-INVITE: %d %s", res.StatusCode, res.Reason)
	}
	return res
}

// ackReinvite ACKs the 2xx of the dialog's latest re-INVITE.
func ackReinvite(t *testing.T, ds *sipgo.DialogClientSession, body []byte) {
	t.Helper()
	a := ssip.NewRequest(ssip.ACK, ds.InviteResponse.Contact().Address)
	if body != nil {
		a.AppendHeader(ssip.NewHeader("Content-Type", "application/sdp"))
		a.SetBody(body)
	}
	if err := ds.WriteRequest(a); err != nil {
		t.Fatal("ACK:", err)
	}
}

// What a phone never does: leave the ACK of a re-INVITE's 200 out for a
// while (as when it is lost), re-INVITE without SDP (a session refresh that
// asks for our offer), and UPDATE with SDP.
func TestReinviteAndUpdateFromBarePeer(t *testing.T) {
	b := startBridge(t, roomYAML)
	raw := newRawUA(t)
	first, second := newRTPSink(t), newRTPSink(t)
	offer, err := sdp.BuildOffer(loopback, first.port(), 1, 1, []codec.Codec{codec.PCMU}, 101)
	if err != nil {
		t.Fatal(err)
	}
	ds := raw.invite(t, b.target("5000"), offer)
	ack(t, ds, nil)
	waitFor(t, "audio", 10*time.Second, func() bool { return first.count(0) >= 10 })

	// Over UDP the bridge repeats its 200 until the ACK comes.
	offer2, err := sdp.BuildOffer(loopback, first.port(), 1, 2, []codec.Codec{codec.PCMU}, 101)
	if err != nil {
		t.Fatal(err)
	}
	res := reinvite(t, ds, offer2)
	cseq := res.CSeq().SeqNo
	repeats := func() int {
		n := 0
		for {
			select {
			case r := <-raw.strays:
				if r.StatusCode == 200 && r.CSeq().MethodName == ssip.INVITE && r.CSeq().SeqNo == cseq {
					n++
				}
			default:
				return n
			}
		}
	}
	seen := 0
	waitFor(t, "the 200 repeated", 10*time.Second, func() bool { seen += repeats(); return seen >= 2 })
	ackReinvite(t, ds, nil)
	time.Sleep(500 * time.Millisecond)
	repeats()                         // one may have crossed the ACK
	time.Sleep(ssip.T2 + time.Second) // longer than the longest gap between repeats
	if n := repeats(); n != 0 {
		t.Errorf("the 200 was sent %d more times after its ACK", n)
	}

	// A re-INVITE without SDP: the bridge offers, in the codec of the call,
	// and follows the answer in the ACK to a new port.
	res = reinvite(t, ds, nil)
	o, err := sdp.ParseOffer(res.Body())
	if err != nil {
		t.Fatalf("200 to a re-INVITE without SDP has no usable offer: %v\n%s", err, res.Body())
	}
	for _, f := range o.Formats {
		if strings.EqualFold(f.Name, "PCMA") {
			t.Errorf("re-offer has PCMA, but the call runs PCMU:\n%s", res.Body())
		}
	}
	ch, err := sdp.Negotiate(o, []codec.Codec{codec.PCMU})
	if err != nil {
		t.Fatal(err)
	}
	answer, err := sdp.BuildAnswer(sdp.AnswerParams{Offer: o, Choice: ch, Addr: loopback, Port: second.port(), SessionID: 1, Version: 3})
	if err != nil {
		t.Fatal(err)
	}
	ackReinvite(t, ds, answer)
	waitFor(t, "audio at the port of the answer in the ACK", 10*time.Second, func() bool { return second.count(0) >= 25 })

	// UPDATE with an offer (RFC 3311): answered in its 200, no ACK.
	back, err := sdp.BuildOffer(loopback, first.port(), 1, 4, []codec.Codec{codec.PCMU}, 101)
	if err != nil {
		t.Fatal(err)
	}
	upd := ssip.NewRequest(ssip.UPDATE, ds.InviteResponse.Contact().Address)
	upd.AppendHeader(ssip.NewHeader("Content-Type", "application/sdp"))
	upd.SetBody(back)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if res, err := ds.Do(ctx, upd); err != nil || res.StatusCode != 200 || len(res.Body()) == 0 {
		t.Fatalf("UPDATE with SDP: %v %v, want 200 with an answer", res, err)
	}
	n := first.count(0)
	waitFor(t, "audio back at the first port after UPDATE", 10*time.Second, func() bool { return first.count(0) > n+25 })
	bye(t, ds)
	checkIdle(t, b)
}

// The bridge answers at once, so a real caller's CANCEL nearly always
// crosses the 200. RFC 3261 §9.2: the CANCEL gets 200 and changes nothing.
func TestCancelAfterAnswerLeavesCallUp(t *testing.T) {
	b := startBridge(t, roomYAML)
	raw := newRawUA(t)
	sink := newRTPSink(t)
	offer, err := sdp.BuildOffer(loopback, sink.port(), 1, 1, []codec.Codec{codec.PCMU}, 101)
	if err != nil {
		t.Fatal(err)
	}
	ds := raw.invite(t, b.target("5000"), offer)
	inv := ds.InviteRequest
	cancelReq := ssip.NewRequest(ssip.CANCEL, inv.Recipient)
	cancelReq.AppendHeader(ssip.HeaderClone(inv.Via()))
	cancelReq.AppendHeader(ssip.HeaderClone(inv.From()))
	cancelReq.AppendHeader(ssip.HeaderClone(inv.To()))
	cancelReq.AppendHeader(ssip.HeaderClone(inv.CallID()))
	cancelReq.AppendHeader(&ssip.CSeqHeader{SeqNo: inv.CSeq().SeqNo, MethodName: ssip.CANCEL})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := raw.client.Do(ctx, cancelReq)
	if err != nil {
		t.Fatal("CANCEL:", err)
	}
	if res.StatusCode != 200 {
		t.Errorf("CANCEL after the 200: %d %s, want 200", res.StatusCode, res.Reason)
	}
	ack(t, ds, nil)

	waitFor(t, "the caller in the room", 15*time.Second, func() bool { return participants(b, "5000") == 1 })
	n := sink.count(0)
	waitFor(t, "audio after the CANCEL", 10*time.Second, func() bool { return sink.count(0) > n+50 })
	if b.srv.Calls() != 1 {
		t.Errorf("%d dialogs, want the call still up", b.srv.Calls())
	}
	bye(t, ds)
	checkIdle(t, b)
}

func TestDrainRefusesNewCalls(t *testing.T) {
	b := startBridge(t, roomYAML)
	in := dial(t, newPhone(t, "early", codec.PCMU), b.target("5000"))
	waitFor(t, "the first caller in the room", 15*time.Second, func() bool { return participants(b, "5000") == 1 })
	b.srv.Drain()
	dialErr(t, newPhone(t, "late", codec.PCMU), b.target("5000"), 503)
	if participants(b, "5000") != 1 || b.srv.Calls() != 1 {
		t.Error("draining must leave calls in progress alone")
	}
	hangup(t, in)
	checkIdle(t, b)
}

func TestMaxCallsBusy(t *testing.T) {
	const max = 2
	b := startBridge(t, roomYAML, withSIP(func(o *sip.Options) { o.MaxCalls = max }))
	// INVITEs arriving together: exactly max get in, the rest hear 486.
	phones := make([]*phone.Phone, 2*max)
	for i := range phones {
		phones[i] = newPhone(t, fmt.Sprintf("rush%d", i), codec.PCMU)
	}
	type result struct {
		c   *phone.Call
		err error
	}
	results := make(chan result, len(phones))
	for _, p := range phones {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := p.Dial(ctx, b.target("5000"))
			results <- result{c, err}
		}()
	}
	var answered []*phone.Call
	for range phones {
		r := <-results
		var se *phone.StatusError
		switch {
		case r.err == nil:
			answered = append(answered, r.c)
		case errors.As(r.err, &se) && se.Code == 486:
		default:
			t.Errorf("dial: %v, want an answer or 486", r.err)
		}
	}
	if len(answered) != max {
		t.Errorf("%d calls answered with max_calls %d", len(answered), max)
	}
	for _, c := range answered {
		hangup(t, c)
	}
	checkIdle(t, b)
	// The slots are free again.
	c := dial(t, phones[0], b.target("5000"))
	hangup(t, c)
	checkIdle(t, b)
}
