package attack

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"

	"brygga/interop"
	"brygga/media/dtmf"
	"brygga/phone"
)

// attackerIP is the third party of these tests: on loopback like the
// callers (127.0.0.1), but another address.
const attackerIP = "127.0.0.66"

// attackConfig trusts no address the tests use (the default trusts all
// of 127.0.0.0/8), so the callers on 127.0.0.1 and the attacker are both
// strangers to the bridge, as callers from the internet are.
func attackConfig(symmetric, more string) string {
	return interop.BridgeConfig + "sip:\n  trusted: [\"127.0.0.254/32\"]\nmedia:\n  symmetric: " + symmetric + "\n" + more
}

// rtpAttacker is a raw UDP socket that forges RTP: RFC 4733 key presses
// or audio, under an SSRC and sequence of its own (it never saw the
// call's packets).
type rtpAttacker struct {
	t    *testing.T
	conn *net.UDPConn
	ssrc uint32
	seq  uint16
	ts   uint32
	sent int
}

func newRTPAttacker(t *testing.T, ip string) *rtpAttacker {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rtpAttacker{t: t, conn: c, ssrc: rand.Uint32(), seq: uint16(rand.Uint32()), ts: rand.Uint32()}
}

func (a *rtpAttacker) addr() netip.AddrPort { return a.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

func (a *rtpAttacker) send(dst netip.AddrPort, pt uint8, marker bool, payload []byte) {
	a.t.Helper()
	pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, Marker: marker, SequenceNumber: a.seq, Timestamp: a.ts, SSRC: a.ssrc}, Payload: payload}
	b, err := pkt.Marshal()
	if err != nil {
		a.t.Fatal(err)
	}
	if _, err := a.conn.WriteToUDPAddrPort(b, dst); err != nil {
		a.t.Fatal(err)
	}
	a.seq++
	a.sent++
}

// keys presses digits at dst as RFC 4733 events with payload type pt, as
// a phone does: per digit a start, two updates and three end packets,
// 20 ms apart, then 100 ms between digits.
func (a *rtpAttacker) keys(dst netip.AddrPort, pt uint8, digits string) {
	a.t.Helper()
	payload := make([]byte, 4)
	for i := range len(digits) {
		for n := range 6 {
			end := n >= 3
			dtmf.EncodeEvent(payload, digits[i], end, 10, uint16(min(n, 3)+1)*160)
			a.send(dst, pt, n == 0, payload)
			time.Sleep(20 * time.Millisecond)
		}
		a.ts += 8 * 160
		time.Sleep(100 * time.Millisecond)
	}
}

// audio sends n packets of PCMU silence to dst, 20 ms apart.
func (a *rtpAttacker) audio(dst netip.AddrPort, n int) {
	a.t.Helper()
	silence := []byte(strings.Repeat("\xff", 160))
	for range n {
		a.send(dst, 0, false, silence)
		a.ts += 160
		time.Sleep(20 * time.Millisecond)
	}
}

// count counts the datagrams arriving at the socket until the test ends.
func (a *rtpAttacker) count() *atomic.Int64 {
	var n atomic.Int64
	go func() {
		buf := make([]byte, 1500)
		for {
			if _, _, err := a.conn.ReadFromUDPAddrPort(buf); err != nil {
				return
			}
			n.Add(1)
		}
	}()
	return &n
}

// stillReceiving checks that c keeps receiving the bridge's RTP: after a
// NAT rebinding this is the bridge having followed it.
func stillReceiving(t *testing.T, c *phone.Call, who string) {
	t.Helper()
	before := c.Stats().PacketsReceived
	deadline := time.Now().Add(5 * time.Second)
	for c.Stats().PacketsReceived < before+25 {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d packets from the bridge in 5 s, want 25", who, c.Stats().PacketsReceived-before)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestAttackRTPInjectedDigits: a third party who knows a call's RTP port
// (it is in the 200 OK's SDP) sends RFC 4733 key presses there. They
// never count: not the guest's PIN (the guest stays out of the room),
// not a host's *9 (no recording) nor *0 *0 (the meeting goes on); the
// bridge counts the packets as strangers'. The callers' own keys still
// work afterwards: the guest's PIN admits it, the host's *9 starts the
// recording and its *0 *0 ends the meeting.
//
// With media.symmetric auto the callers' SDP address (127.0.0.1, public
// to auto) is what is heard. With always the bridge learns each caller's
// source; the callers then move their RTP to a new port mid-call without
// telling the bridge (a NAT rebinding), the bridge follows them, and a
// second attacker on the callers' own address, with an SSRC and sequence
// of its own, is no more heard than the first.
func TestAttackRTPInjectedDigits(t *testing.T) {
	for _, mode := range []string{"auto", "always"} {
		t.Run(mode, func(t *testing.T) {
			b := interop.StartBridgeIn(t, t.TempDir(), attackConfig(mode, ""))
			ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
			defer cancel()
			target := "sip:" + interop.RoomExt + "@" + b.SIP

			host := interop.DialPhone(ctx, t, target, "host", 0, interop.RoomHostPIN+"#")
			interop.WaitMember(t, b, "host")
			guest := interop.DialPhone(ctx, t, target, "guest", 0, "")
			time.Sleep(1500 * time.Millisecond) // the host past its joining prompt, the guest asked for its PIN

			attackers := []*rtpAttacker{newRTPAttacker(t, attackerIP)}
			if mode == "always" {
				for _, c := range []struct {
					call *phone.Call
					who  string
				}{{host, "host"}, {guest, "guest"}} {
					before := c.call.RTPAddr()
					if err := c.call.Rebind(); err != nil {
						t.Fatal(err)
					}
					if c.call.RTPAddr() == before {
						t.Fatalf("%s: rebinding kept port %v", c.who, before)
					}
					stillReceiving(t, c.call, c.who)
				}
				attackers = append(attackers, newRTPAttacker(t, "127.0.0.1"))
			}

			strangersBefore := interop.MetricValue(t, b, "brygga_rtp_stranger_packets_total", "")
			sent := 0
			for _, a := range attackers {
				a.keys(guest.RemoteRTPAddr(), 101, interop.RoomPIN+"#")
				a.keys(host.RemoteRTPAddr(), 101, "*9")
				a.keys(host.RemoteRTPAddr(), 101, "*0*0")
				sent += a.sent
			}
			time.Sleep(2 * time.Second)
			st := interop.RoomState(t, b)
			if st.Has("guest") {
				t.Fatal("the attacker's RFC 4733 PIN let the guest into the room")
			}
			if st.Recording {
				t.Fatal("the attacker's *9 started a recording")
			}
			if !st.Has("host") {
				t.Fatalf("the host is out of the room after the attacker's *0 *0: %+v", st.Members)
			}
			select {
			case <-host.Done():
				t.Fatal("the attacker's *0 *0 ended the meeting")
			case <-guest.Done():
				t.Fatal("the guest's call ended")
			default:
			}
			if got := interop.MetricValue(t, b, "brygga_rtp_stranger_packets_total", "") - strangersBefore; got < float64(sent) {
				t.Errorf("brygga_rtp_stranger_packets_total rose by %v, the attackers sent %d", got, sent)
			}

			// The callers' own keys work.
			if err := guest.SendDigits(interop.RoomPIN + "#"); err != nil {
				t.Fatal(err)
			}
			interop.WaitMember(t, b, "guest")
			if err := host.SendDigits("*9"); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(10 * time.Second)
			for !interop.RoomState(t, b).Recording {
				if time.Now().After(deadline) {
					t.Fatal("the host's own *9 started no recording")
				}
				time.Sleep(200 * time.Millisecond)
			}
			if err := host.SendDigits("*0*0"); err != nil {
				t.Fatal(err)
			}
			interop.WaitEnded(t, guest, "guest")
			interop.WaitEnded(t, host, "host")
		})
	}
}

// thirdPartyIP stands for someone else's host: a loopback address that is
// neither the callers' nor the attacker's. An untrusted caller on loopback
// may name it (both are on this host), so what is tested is the
// no-reflection rule itself, with no packet leaving loopback.
const thirdPartyIP = "127.0.0.77"

// TestAttackRTPNoReflection: an untrusted caller's SDP names a third
// party's address. The bridge answers, plays its prompts, and the third
// party receives nothing, also while the caller sends RTP from its own
// address; once RTP comes from the named address (the caller is there
// after all) the bridge's media follows at once. A call whose named
// address never sends is hung up after media.rtp_timeout.
func TestAttackRTPNoReflection(t *testing.T) {
	b := interop.StartBridgeIn(t, t.TempDir(), attackConfig("auto", "  rtp_timeout: 4s\n"))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	target := "sip:" + interop.RoomExt + "@" + b.SIP

	victim := newRTPAttacker(t, thirdPartyIP)
	got := victim.count()
	call := interop.DialPhone(ctx, t, target, "reflector", 0, "", phone.WithMediaAddress(victim.addr()))
	time.Sleep(2 * time.Second) // the PIN prompt plays: 100 packets, were they sent
	if n := got.Load(); n != 0 {
		t.Fatalf("the third party received %d packets before sending any", n)
	}
	if call.Stats().PacketsSent == 0 {
		t.Fatal("the caller sent no RTP of its own: the test proves less than it says")
	}
	// The named address speaks: media goes there at once.
	victim.audio(call.RemoteRTPAddr(), 10)
	deadline := time.Now().Add(2 * time.Second)
	for got.Load() < 10 {
		if time.Now().After(deadline) {
			t.Fatalf("%d packets at the named address within 2 s of its RTP, want 10", got.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}

	// A second one that never hears from the named address: hung up on
	// after rtp_timeout (4 s), its own RTP from elsewhere notwithstanding.
	quiet := newRTPAttacker(t, thirdPartyIP)
	quietGot := quiet.count()
	start := time.Now()
	second := interop.DialPhone(ctx, t, target, "reflector2", 0, "", phone.WithMediaAddress(quiet.addr()))
	interop.WaitEnded(t, second, "the call naming a silent third party")
	if d := time.Since(start); d < 3*time.Second {
		t.Errorf("hung up after %v, before the 4 s RTP timeout", d)
	}
	if n := quietGot.Load(); n != 0 {
		t.Errorf("the silent third party received %d packets", n)
	}
	// The first call, quiet since its 10 packets, goes the same way.
	interop.WaitEnded(t, call, "the call whose third party fell silent")
}

// TestAttackMediaAddressRefused: SDP addresses that would make the bridge
// flood many hosts get 488 from an untrusted caller; a caller on loopback
// naming a loopback address is answered. (Loopback named by a caller off
// this host is refused too: sip's TestLoopbackMediaFromOffHost, since a
// test here sends from loopback only.)
func TestAttackMediaAddressRefused(t *testing.T) {
	b := interop.StartBridgeIn(t, t.TempDir(), attackConfig("auto", ""))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	target := "sip:" + interop.RoomExt + "@" + b.SIP
	refused := []struct {
		from, media string
	}{
		{"127.0.0.1", "224.0.0.1:4000"},
		{"127.0.0.1", "239.255.255.250:1900"},
		{"127.0.0.1", "255.255.255.255:4000"},
	}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		// A directed broadcast of one of the host's networks.
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() {
				if ones, _ := n.Mask.Size(); ones <= 30 {
					bc := make(net.IP, 4)
					for i := range bc {
						bc[i] = n.IP.To4()[i] | ^n.Mask[len(n.Mask)-4+i]
					}
					refused = append(refused, struct{ from, media string }{"127.0.0.1", bc.String() + ":4000"})
					break
				}
			}
		}
	}
	for _, tc := range refused {
		ph, err := phone.New(ctx, phone.Config{LocalIP: netip.MustParseAddr(tc.from), User: "refused"})
		if err != nil {
			t.Fatal(err)
		}
		dctx, dcancel := context.WithTimeout(ctx, 10*time.Second)
		call, err := ph.Dial(dctx, target, phone.WithMediaAddress(netip.MustParseAddrPort(tc.media)))
		dcancel()
		var se *phone.StatusError
		if !errors.As(err, &se) || se.Code != 488 {
			if call != nil {
				_ = call.Hangup(ctx)
			}
			t.Errorf("%s naming %s: %v, want 488", tc.from, tc.media, err)
		}
		ph.Close()
	}
	// 0.0.0.0 (RFC 2543 hold) in the offer that starts a call: the Go
	// phone will not write it, so a raw INVITE does.
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if code := rawRequest(t, conn, b, "INVITE", "held", interop.RandomToken(), "", interop.RandomToken(), 1, "application/sdp", offerSDP(netip.MustParseAddrPort("0.0.0.0:4000"))); code != 488 {
		t.Errorf("an offer naming 0.0.0.0: %d, want 488", code)
	}
	if got := interop.MetricValue(t, b, "brygga_sip_refused_total", `{reason="media_address"}`); got != float64(len(refused)+1) {
		t.Errorf("brygga_sip_refused_total{reason=\"media_address\"} %v, want %d", got, len(refused)+1)
	}
	// An untrusted caller on loopback naming a loopback address.
	own := interop.DialPhoneFrom(ctx, t, target, attackerIP, "own-loopback")
	if err := own.Hangup(ctx); err != nil {
		t.Error(err)
	}
}

// inDialog sends one request in c's dialog from conn, forged by whoever
// learnt the dialog's identifiers, and returns the final status.
func inDialog(t *testing.T, conn *net.UDPConn, b *interop.Bridge, c *phone.Call, method string, cseq int, contentType, body string) int {
	t.Helper()
	callID, local, remote := c.Dialog()
	if remote == "" {
		t.Fatal("the call has no dialog")
	}
	return rawRequest(t, conn, b, method, "victim", local, remote, callID, cseq, contentType, body)
}

// rawRequest sends one request to the bridge from conn (From user and
// tag, To tag, "" for none) and returns the status of the final response.
func rawRequest(t *testing.T, conn *net.UDPConn, b *interop.Bridge, method, user, fromTag, toTag, callID string, cseq int, contentType, body string) int {
	t.Helper()
	me := conn.LocalAddr().String()
	to := fmt.Sprintf("To: <sip:%s@%s>", interop.RoomExt, b.SIP)
	if toTag != "" {
		to += ";tag=" + toTag
	}
	lines := []string{
		fmt.Sprintf("%s sip:%s@%s SIP/2.0", method, interop.RoomExt, b.SIP),
		fmt.Sprintf("Via: SIP/2.0/UDP %s;branch=z9hG4bK%s;rport", me, interop.RandomToken()),
		"Max-Forwards: 70",
		fmt.Sprintf("From: <sip:%s@%s>;tag=%s", user, conn.LocalAddr().(*net.UDPAddr).IP, fromTag),
		to,
		"Call-ID: " + callID,
		fmt.Sprintf("CSeq: %d %s", cseq, method),
		fmt.Sprintf("Contact: <sip:%s@%s>", user, me),
	}
	if contentType != "" {
		lines = append(lines, "Content-Type: "+contentType)
	}
	lines = append(lines, fmt.Sprintf("Content-Length: %d", len(body)), "", body)
	dst, err := net.ResolveUDPAddr("udp", b.SIP)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.WriteToUDP([]byte(strings.Join(lines, "\r\n")), dst); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 65535)
	deadline := time.Now().Add(5 * time.Second)
	for {
		conn.SetReadDeadline(deadline)
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("%s: no final response: %v", method, err)
		}
		code, err := interop.StatusCode(buf[:n])
		if err == nil && code >= 200 {
			return code
		}
	}
}

// offerSDP is a plain PCMU offer with telephone-events naming addr.
func offerSDP(addr netip.AddrPort) string {
	return strings.Join([]string{
		"v=0", "o=- 1 2 IN IP4 " + addr.Addr().String(), "s=-", "c=IN IP4 " + addr.Addr().String(), "t=0 0",
		fmt.Sprintf("m=audio %d RTP/AVP 0 101", addr.Port()),
		"a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-15", "a=sendrecv", "",
	}, "\r\n")
}

// TestAttackDialogFromAnotherSource: a third party that learnt a call's
// dialog identifiers (Call-ID and tags travel in the clear over UDP)
// sends a re-INVITE moving the media to itself, an INFO keying a digit and
// a BYE, from another address. Each gets 403 and changes nothing: no RTP
// reaches it, the caller stays in the room and keeps its media. The
// caller's own re-INVITE (a new port) and BYE work.
func TestAttackDialogFromAnotherSource(t *testing.T) {
	b := interop.StartBridgeIn(t, t.TempDir(), attackConfig("auto", ""))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	target := "sip:" + interop.RoomExt + "@" + b.SIP
	caller := interop.DialPhone(ctx, t, target, "caller", 0, interop.RoomPIN+"#")
	interop.WaitMember(t, b, "caller")

	sipConn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(attackerIP)})
	if err != nil {
		t.Fatal(err)
	}
	defer sipConn.Close()
	media := newRTPAttacker(t, attackerIP)
	got := media.count()
	sdpBody := offerSDP(media.addr())
	for _, r := range []struct {
		method, ctype, body string
	}{
		{"INVITE", "application/sdp", sdpBody},
		{"INFO", "application/dtmf-relay", "Signal=*\r\nDuration=160\r\n"},
		{"BYE", "", ""},
	} {
		if code := inDialog(t, sipConn, b, caller, r.method, 100, r.ctype, r.body); code != 403 {
			t.Errorf("%s from %s: %d, want 403", r.method, attackerIP, code)
		}
	}
	stillReceiving(t, caller, "caller")
	if n := got.Load(); n != 0 {
		t.Errorf("the attacker's re-INVITE drew %d RTP packets to it", n)
	}
	if !interop.RoomState(t, b).Has("caller") {
		t.Fatal("the caller left the room after the attacker's BYE")
	}
	if got := interop.MetricValue(t, b, "brygga_sip_refused_total", `{reason="foreign_source"}`); got != 3 {
		t.Errorf("brygga_sip_refused_total{reason=\"foreign_source\"} %v, want 3", got)
	}

	// From the dialog's source: a re-INVITE to a new port, then BYE.
	if err := caller.Reinvite(ctx, phone.ReinviteOptions{NewPort: true}); err != nil {
		t.Fatalf("the caller's own re-INVITE: %v", err)
	}
	stillReceiving(t, caller, "caller after its re-INVITE")
	if err := caller.Hangup(ctx); err != nil {
		t.Fatalf("the caller's own BYE: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for interop.RoomState(t, b).Has("caller") {
		if time.Now().After(deadline) {
			t.Fatal("the caller's own BYE did not take it out of the room")
		}
		time.Sleep(200 * time.Millisecond)
	}
}
