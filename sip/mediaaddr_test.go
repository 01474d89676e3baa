package sip

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"testing"

	ssip "github.com/emiago/sipgo/sip"

	"brygga/media"
)

func TestMediaRefusal(t *testing.T) {
	ip := netip.MustParseAddr
	ours := []netip.Addr{ip("192.168.1.255")}
	for _, tc := range []struct {
		addr, src     string
		trusted, hold bool
		refused       bool
	}{
		{"203.0.113.7", "203.0.113.7", false, false, false},
		{"192.168.1.20", "203.0.113.7", false, false, false}, // behind NAT: learnt, not refused
		{"224.0.0.1", "203.0.113.7", true, false, true},
		{"239.1.2.3", "203.0.113.7", false, false, true},
		{"ff02::1", "2001:db8::1", false, false, true},
		{"255.255.255.255", "203.0.113.7", true, false, true},
		{"192.168.1.255", "192.168.1.7", true, false, true}, // our LAN's broadcast
		{"0.0.0.0", "203.0.113.7", false, false, true},
		{"::", "2001:db8::1", true, false, true},
		{"0.0.0.0", "203.0.113.7", false, true, false},   // RFC 2543 hold in a re-INVITE
		{"127.0.0.1", "127.0.0.66", false, false, false}, // both on this host
		{"127.0.0.1", "203.0.113.7", false, false, true},
		{"::1", "2001:db8::1", false, false, true},
		{"127.0.0.66", "127.0.0.66", false, false, false}, // its own loopback address
		{"127.0.0.1", "127.0.0.1", true, false, false},
		{"127.0.0.1", "192.0.2.5", true, false, false}, // a trusted PBX on this host's loopback
		{"::ffff:127.0.0.1", "192.0.2.66", false, false, true},
		{"::1", "::ffff:127.0.0.66", false, false, false},
	} {
		why := mediaRefusal(ip(tc.addr), ip(tc.src), tc.trusted, tc.hold, ours)
		if (why != "") != tc.refused {
			t.Errorf("%s from %s trusted %v hold %v: %q, want refused %v", tc.addr, tc.src, tc.trusted, tc.hold, why, tc.refused)
		}
	}
}

func TestBroadcastOf(t *testing.T) {
	for cidr, want := range map[string]string{
		"192.168.1.7/24": "192.168.1.255",
		"10.0.0.1/8":     "10.255.255.255",
		"172.16.5.1/30":  "172.16.5.3",
		"10.0.0.1/31":    "",
		"10.0.0.1/32":    "",
		"2001:db8::1/64": "",
	} {
		ip, n, err := net.ParseCIDR(cidr)
		if err != nil {
			t.Fatal(err)
		}
		n.IP = ip
		got, ok := broadcastOf(n)
		if (want == "") == ok || ok && got.String() != want {
			t.Errorf("%s: %v %v, want %q", cidr, got, ok, want)
		}
	}
	// A 16-byte mask on an IPv4 network, as some systems report it.
	n := &net.IPNet{IP: net.IPv4(10, 1, 2, 3), Mask: net.CIDRMask(120, 128)}
	if got, ok := broadcastOf(n); !ok || got.String() != "10.1.2.255" {
		t.Errorf("16-byte mask: %v %v", got, ok)
	}
}

// TestLoopbackMediaFromOffHost runs an INVITE through the real handler
// with the source a caller off this host would have (192.0.2.7), which no
// test may send from: naming this host's loopback in its SDP gets 488,
// while the same INVITE from a caller on loopback is answered. Nobody is
// trusted. No socket is used for signalling (fakeTx), so the 200 fails as
// an unsent response would and the call is torn down at once.
func TestLoopbackMediaFromOffHost(t *testing.T) {
	lo := 41000 + (os.Getpid()%500)*4
	s, err := New(Options{
		MediaIP:   netip.MustParseAddr("127.0.0.1"),
		Ports:     media.NewPortPool(net.IPv4(127, 0, 0, 1), lo, lo+3),
		Directory: fuzzDirectory{},
		MaxCalls:  10,
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	invite := func(source, callID string) []int {
		body := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
			"m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n"
		msg := "INVITE sip:4711@127.0.0.1:5060 SIP/2.0\r\n" +
			"Via: SIP/2.0/UDP " + source + ";rport;branch=z9hG4bK-" + callID + "\r\n" +
			"Max-Forwards: 70\r\nFrom: <sip:1001@" + source + ">;tag=f-" + callID + "\r\n" +
			"To: <sip:4711@127.0.0.1:5060>\r\nCall-ID: " + callID + "\r\nCSeq: 1 INVITE\r\n" +
			"Contact: <sip:1001@" + source + ">\r\nContent-Type: application/sdp\r\n" +
			fmt.Sprintf("Content-Length: %d\r\n\r\n", len(body)) + body
		m, err := ssip.NewParser().ParseSIP([]byte(msg))
		if err != nil {
			t.Fatal(err)
		}
		req := m.(*ssip.Request)
		req.SetTransport("UDP")
		req.SetSource(source)
		tx := newFakeTx(req)
		s.handlerFor(req.Method)(req, tx)
		return tx.responses()
	}
	if got := invite("192.0.2.7:5062", "off-host"); len(got) != 1 || got[0] != 488 {
		t.Errorf("loopback media named from 192.0.2.7: %v, want [488]", got)
	}
	if got := invite("127.0.0.66:5062", "on-host"); len(got) != 1 || got[0] != 200 {
		t.Errorf("loopback media named from 127.0.0.66: %v, want [200]", got)
	}
}
