package sip

import (
	"net"
	"net/netip"
	"slices"
)

// limitedBroadcast is 255.255.255.255: every host on the link.
var limitedBroadcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})

// mediaRefusal says why an SDP connection address may not be the media
// address of a call whose SIP came from src, or "" when it may. RTP is a
// steady 50 packets a second, so an address that is not one caller's
// would turn the bridge into an amplifier:
//
//   - multicast and broadcast (the limited one and the directed broadcast
//     of each of our interfaces, in broadcasts) reach many hosts;
//   - unspecified (0.0.0.0, ::) is RFC 2543 hold, which a re-INVITE may
//     say (hold true) but an offer that starts a call has no business with;
//   - loopback is the bridge's own host: only a trusted source or a
//     caller on this host's loopback itself may name it. A caller off
//     this host naming it would aim the bridge's RTP at its own local
//     services; a local process could send to them itself anyway.
func mediaRefusal(a, src netip.Addr, trusted, hold bool, broadcasts []netip.Addr) string {
	a = a.Unmap()
	switch {
	case a.IsMulticast():
		return "multicast media address"
	case a == limitedBroadcast || slices.Contains(broadcasts, a):
		return "broadcast media address"
	case a.IsUnspecified() && !hold:
		return "unspecified media address"
	case a.IsLoopback() && !trusted && !src.Unmap().IsLoopback():
		return "loopback media address from a caller off this host"
	}
	return ""
}

// directedBroadcasts lists the IPv4 broadcast address of every network
// this host's interfaces are on (IPv6 has none). Networks of /31 and /32
// have no broadcast address (RFC 3021).
func directedBroadcasts() []netip.Addr {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var out []netip.Addr
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		if b, ok := broadcastOf(n); ok && !slices.Contains(out, b) {
			out = append(out, b)
		}
	}
	return out
}

// broadcastOf is the directed broadcast address of an IPv4 network.
func broadcastOf(n *net.IPNet) (netip.Addr, bool) {
	ip4 := n.IP.To4()
	ones, bits := n.Mask.Size()
	if bits == 128 && len(n.Mask) == 16 {
		ones, bits = ones-96, 32 // an IPv4 network in a 16-byte mask
	}
	if ip4 == nil || bits != 32 || ones < 0 || ones > 30 {
		return netip.Addr{}, false
	}
	var b [4]byte
	for i := range b {
		b[i] = ip4[i] | ^n.Mask[len(n.Mask)-4+i]
	}
	return netip.AddrFrom4(b), true
}
