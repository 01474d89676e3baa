package sip

import (
	"net"
	"net/netip"
	"testing"
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
		{"0.0.0.0", "203.0.113.7", false, true, false}, // RFC 2543 hold in a re-INVITE
		{"127.0.0.1", "127.0.0.66", false, false, true},
		{"127.0.0.1", "203.0.113.7", false, false, true},
		{"::1", "2001:db8::1", false, false, true},
		{"127.0.0.66", "127.0.0.66", false, false, false}, // its own loopback address
		{"127.0.0.1", "127.0.0.1", true, false, false},
		{"127.0.0.1", "192.0.2.5", true, false, false}, // a trusted PBX on this host's loopback
		{"::ffff:127.0.0.1", "127.0.0.66", false, false, true},
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
