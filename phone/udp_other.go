//go:build !linux || 386

package phone

import "net/netip"

// Without recvmmsg a Phone ignores Config.Clock: every call has a sender
// and a receiver goroutine of its own.
const clockedSockets = false

// listenRawRTP is only reached on Linux; elsewhere a call's socket is an
// ordinary one whatever Config.Clock says.
func listenRawRTP(ip netip.Addr) (rtpConn, error) {
	c, err := listenRTP(ip)
	if err != nil {
		return nil, err
	}
	return c, nil
}
