//go:build !linux || 386

package media

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Without recvmmsg on a descriptor the runtime does not poll (other
// systems, and linux/386 where the syscall package lacks sendto), a goroutine
// per socket reads into a small queue that receive drains; the Session
// sees the same non-blocking socket as on Linux, at the old cost.
type udpSocket struct {
	conn  *net.UDPConn
	local *net.UDPAddr

	mu     sync.Mutex
	queue  [rxQueue]rxPacket
	head   int // oldest
	n      int
	closed bool
	done   chan struct{}
}

// rxQueue datagrams wait at most, a few seconds of RTP: about what a
// socket's receive buffer holds on Linux.
const rxQueue = 128

type rxPacket struct {
	buf [maxDatagram]byte
	len int
	src netip.AddrPort
	at  time.Time
}

func listenUDP(ip net.IP, port int) (*udpSocket, error) {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip, Port: port})
	if err != nil {
		return nil, err
	}
	u := &udpSocket{conn: conn, local: conn.LocalAddr().(*net.UDPAddr), done: make(chan struct{})}
	go u.read()
	return u, nil
}

func (u *udpSocket) LocalAddr() *net.UDPAddr { return u.local }

func (u *udpSocket) read() {
	defer close(u.done)
	var buf [maxDatagram + 1]byte // one more, to tell a truncated datagram
	for {
		n, src, err := u.conn.ReadFromUDPAddrPort(buf[:])
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		at := time.Now()
		u.mu.Lock()
		if u.n < rxQueue {
			p := &u.queue[(u.head+u.n)%rxQueue]
			p.len = copy(p.buf[:], buf[:n])
			if n > maxDatagram {
				p.len = 0 // truncated: counted and dropped as not RTP
			}
			p.src, p.at = src, at
			u.n++
		}
		u.mu.Unlock()
	}
}

type datagramSink interface {
	datagram(b []byte, src netip.AddrPort, at time.Time)
}

func (u *udpSocket) receive(sink datagramSink) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		return net.ErrClosed
	}
	for u.n > 0 {
		p := &u.queue[u.head]
		sink.datagram(p.buf[:p.len], p.src, p.at)
		u.head = (u.head + 1) % rxQueue
		u.n--
	}
	return nil
}

type txAddr struct{ to netip.AddrPort }

func (u *udpSocket) setAddr(a *txAddr, to netip.AddrPort) error {
	a.to = to
	return nil
}

func (u *udpSocket) send(p []byte, a *txAddr) error {
	_, err := u.conn.WriteToUDPAddrPort(p, a.to)
	return err
}

func (u *udpSocket) close() error {
	u.mu.Lock()
	if u.closed {
		u.mu.Unlock()
		return nil
	}
	u.closed = true
	u.mu.Unlock()
	err := u.conn.Close()
	<-u.done
	return err
}
