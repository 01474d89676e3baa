package media

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
)

// ErrNoPorts means every RTP port of the pool is taken.
var ErrNoPorts = errors.New("media: no free RTP port")

// PortPool hands out UDP sockets on even ports of a range (RTP convention;
// the odd port above stays free for RTCP). It is safe for concurrent use.
type PortPool struct {
	ip     net.IP
	lo, hi int // even bounds, inclusive

	mu     sync.Mutex
	used   []bool // by (port-lo)/2
	inUse  int
	cursor int // next index to try

	timeouts atomic.Pointer[Timeouts] // nil: DefaultTimeouts
}

// NewPortPool returns a pool binding ip (127.0.0.1 when nil) on the even
// ports in [lo, hi]. An empty range gives a pool that always reports
// ErrNoPorts.
func NewPortPool(ip net.IP, lo, hi int) *PortPool {
	if ip == nil {
		ip = net.IPv4(127, 0, 0, 1)
	}
	if lo%2 != 0 {
		lo++
	}
	if hi%2 != 0 {
		hi--
	}
	lo, hi = max(lo, 2), min(hi, 65534)
	p := &PortPool{ip: ip, lo: lo, hi: hi}
	if hi >= lo {
		p.used = make([]bool, (hi-lo)/2+1)
	}
	return p
}

// InUse returns how many sockets the pool has handed out and not had back.
func (p *PortPool) InUse() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.inUse
}

// Size returns how many ports the pool can hand out at once.
func (p *PortPool) Size() int { return len(p.used) }

// take binds the next free even port. It moves on round the range rather
// than reusing the port just freed, so late packets of an ended call do not
// land in the next one. A port some other program holds is skipped.
func (p *PortPool) take() (*udpSocket, int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for range len(p.used) {
		i := p.cursor
		p.cursor = (p.cursor + 1) % len(p.used)
		if p.used[i] {
			continue
		}
		port := p.lo + 2*i
		conn, err := listenUDP(p.ip, port)
		if err != nil {
			if errors.Is(err, syscall.EADDRINUSE) {
				continue
			}
			return nil, 0, fmt.Errorf("media: bind RTP port %d: %w", port, err)
		}
		p.used[i] = true
		p.inUse++
		return conn, port, nil
	}
	return nil, 0, ErrNoPorts
}

// release gives a port back; its socket must already be closed.
func (p *PortPool) release(port int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	i := (port - p.lo) / 2
	if port < p.lo || port > p.hi || !p.used[i] {
		return
	}
	p.used[i] = false
	p.inUse--
}
