// Package media carries a call's audio over RTP: one UDP socket per call
// from a port pool, RFC 4733 digits, a jitter buffer that turns arriving
// packets into steady 20 ms frames, and the sending side with continuous
// sequence numbers and timestamps.
package media

import (
	"fmt"
	"net/netip"
	"strings"
)

// Symmetric says when a session sends its RTP to where the caller's packets
// come from instead of to the address in the caller's SDP. Where it does,
// that source is learnt strictly (strict.go); where it does not, only the
// SDP's IP is heard.
type Symmetric int

const (
	// SymmetricAuto learns the packets' source only when the SDP address
	// is private and differs from the SIP request's source: the caller is
	// behind NAT and advertised an address nobody can reach.
	SymmetricAuto Symmetric = iota
	// SymmetricAlways learns the source for every call.
	SymmetricAlways
	// SymmetricNever always sends to the SDP address.
	SymmetricNever
)

// ParseSymmetric reads the media.symmetric setting.
func ParseSymmetric(s string) (Symmetric, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "auto", "":
		return SymmetricAuto, nil
	case "always":
		return SymmetricAlways, nil
	case "never":
		return SymmetricNever, nil
	}
	return 0, fmt.Errorf("media: symmetric must be auto, always or never, not %q", s)
}

func (m Symmetric) String() string {
	switch m {
	case SymmetricAuto:
		return "auto"
	case SymmetricAlways:
		return "always"
	case SymmetricNever:
		return "never"
	}
	return fmt.Sprintf("Symmetric(%d)", int(m))
}

var (
	cgnat = netip.MustParsePrefix("100.64.0.0/10")
)

// privateAddr reports RFC 1918, RFC 6598 (carrier-grade NAT) and RFC 4193
// (ULA) addresses: the ones a NAT hides.
func privateAddr(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsPrivate() || cgnat.Contains(a)
}

// shouldLatch decides, for a remote SDP address and the SIP request's
// source, whether RTP is sent back to where it comes from.
func shouldLatch(mode Symmetric, sdp, signal netip.Addr) bool {
	switch mode {
	case SymmetricAlways:
		return true
	case SymmetricNever:
		return false
	}
	if !sdp.IsValid() || !privateAddr(sdp) {
		return false
	}
	return !signal.IsValid() || sdp.Unmap() != signal.Unmap()
}
