//go:build linux && !386

package phone

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// A clocked call's RTP socket (Config.Clock) is a plain non-blocking file
// descriptor that Go's network poller never sees, drained with recvmmsg
// by the call's tick, as the bridge's media path does (media/udp_linux.go).
// A socket the poller watches wakes a thread in epoll per datagram even
// when nobody reads it, and a goroutine parked on each of a thousand
// sockets means a thousand wake-ups every 20 ms: that, not the packets,
// is what made the load generator its own bottleneck.
//
// System calls are raw: on a non-blocking socket they return in
// microseconds, and an ordinary syscall.Syscall would wake the runtime's
// sysmon every time (media measured that at 18 % of the bridge's CPU).
const clockedSockets = true

// rawUDP is one such socket. mu is held only around the system calls, so
// that Close never frees the descriptor (whose number the kernel would
// hand out again) under a read or a write, while what was read is handled
// without it: a stream closing this socket under its own lock does not
// wait for a tick that wants that lock.
type rawUDP struct {
	mu    sync.Mutex
	fd    int // -1 once closed
	inet6 bool
	local *net.UDPAddr

	// The destination as sendto takes it, built once per address rather
	// than per packet; only the call's sender writes.
	to   netip.AddrPort
	raw  syscall.RawSockaddrInet6 // or a RawSockaddrInet4 in its first bytes
	rawN uintptr
}

// listenRawRTP binds an RTP socket on ip with an ephemeral port, with
// kernel receive timestamps (stamp_linux.go).
func listenRawRTP(ip netip.Addr) (rtpConn, error) {
	ip = ip.Unmap()
	inet6 := !ip.Is4()
	family := syscall.AF_INET
	if inet6 {
		family = syscall.AF_INET6
	}
	fd, err := syscall.Socket(family, syscall.SOCK_DGRAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, syscall.IPPROTO_UDP)
	if err != nil {
		return nil, fmt.Errorf("phone: RTP socket: %w", os.NewSyscallError("socket", err))
	}
	_ = syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1)
	var sa syscall.Sockaddr
	if inet6 {
		sa = &syscall.SockaddrInet6{Addr: ip.As16()}
	} else {
		sa = &syscall.SockaddrInet4{Addr: ip.As4()}
	}
	if err := syscall.Bind(fd, sa); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("phone: RTP socket: %w", os.NewSyscallError("bind", err))
	}
	bound, err := syscall.Getsockname(fd)
	if err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("phone: RTP socket: %w", os.NewSyscallError("getsockname", err))
	}
	var port int
	switch b := bound.(type) {
	case *syscall.SockaddrInet4:
		port = b.Port
	case *syscall.SockaddrInet6:
		port = b.Port
	}
	return &rawUDP{fd: fd, inet6: inet6, local: net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, uint16(port)))}, nil
}

func (u *rawUDP) LocalAddr() net.Addr { return u.local }

func (u *rawUDP) Close() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.fd < 0 {
		return net.ErrClosed
	}
	err := syscall.Close(u.fd)
	u.fd = -1
	if err != nil {
		return os.NewSyscallError("close", err)
	}
	return nil
}

// WriteToUDPAddrPort sends one datagram without blocking: a full send
// buffer drops it rather than holding up every other call of the tick.
func (u *rawUDP) WriteToUDPAddrPort(b []byte, to netip.AddrPort) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	if err := u.setDestination(to); err != nil {
		return 0, err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.fd < 0 {
		return 0, net.ErrClosed
	}
	for {
		_, _, errno := syscall.RawSyscall6(syscall.SYS_SENDTO, uintptr(u.fd),
			uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), syscall.MSG_DONTWAIT,
			uintptr(unsafe.Pointer(&u.raw)), u.rawN)
		switch errno {
		case 0:
			return len(b), nil
		case syscall.EINTR:
			continue
		default:
			return 0, os.NewSyscallError("sendto", errno)
		}
	}
}

func (u *rawUDP) setDestination(to netip.AddrPort) error {
	if to == u.to && u.rawN != 0 {
		return nil
	}
	u.to, u.rawN = to, 0
	u.raw = syscall.RawSockaddrInet6{}
	var port [2]byte
	binary.BigEndian.PutUint16(port[:], to.Port())
	ip := to.Addr()
	switch {
	case u.inet6:
		u.raw.Family = syscall.AF_INET6
		u.raw.Addr = ip.As16()
		u.raw.Port = *(*uint16)(unsafe.Pointer(&port))
		u.rawN = syscall.SizeofSockaddrInet6
	case ip.Unmap().Is4():
		a4 := (*syscall.RawSockaddrInet4)(unsafe.Pointer(&u.raw))
		a4.Family = syscall.AF_INET
		a4.Addr = ip.Unmap().As4()
		a4.Port = *(*uint16)(unsafe.Pointer(&port))
		u.rawN = syscall.SizeofSockaddrInet4
	default:
		return fmt.Errorf("phone: cannot send to %v from an IPv4 socket", to)
	}
	return nil
}

// rxBatch is the memory of one recvmmsg call and of decoding what it
// read. Batches are pooled, not kept per call: only as many exist as
// calls are ticking at once (about one per clock shard).
type rxBatch struct {
	hdrs [rxBatchSize]mmsghdr
	iov  [rxBatchSize]syscall.Iovec
	oob  [rxBatchSize][oobSize]byte
	bufs [rxBatchSize][maxDatagram]byte
	rx   rxScratch
}

// rxBatchSize datagrams are read per system call: a tick usually finds
// one, and recvmmsg returning fewer than asked means the socket is empty,
// so the common case is one system call per socket per tick.
const rxBatchSize = 8

// mmsghdr is struct mmsghdr: a msghdr and the length received.
type mmsghdr struct {
	hdr syscall.Msghdr
	len uint32
}

var rxBatches = sync.Pool{New: func() any {
	b := new(rxBatch)
	for i := range b.hdrs {
		b.iov[i].Base = &b.bufs[i][0]
		b.iov[i].SetLen(maxDatagram)
		h := &b.hdrs[i].hdr
		h.Iov = &b.iov[i]
		h.Iovlen = 1
		h.Control = &b.oob[i][0]
	}
	return b
}}

// drain reads every datagram waiting on u without blocking and hands each
// to fn in order, with the kernel's arrival time (or the read time for a
// datagram without one). It returns nil once the socket is empty.
func (u *rawUDP) drain(fn func(b []byte, at time.Time, rx *rxScratch)) error {
	b := rxBatches.Get().(*rxBatch)
	defer rxBatches.Put(b)
	for {
		n, err := u.recv(b)
		if err != nil {
			return err
		}
		now := time.Now()
		for i := range n {
			h := &b.hdrs[i]
			at := now
			if stamp, ok := stampOf(b.oob[i][:h.hdr.Controllen], now); ok {
				at = stamp
			}
			fn(b.bufs[i][:min(int(h.len), maxDatagram)], at, &b.rx)
		}
		if n < rxBatchSize {
			return nil
		}
	}
}

// recv is one recvmmsg into b: how many datagrams it read, 0 for none.
func (u *rawUDP) recv(b *rxBatch) (int, error) {
	for i := range b.hdrs {
		h := &b.hdrs[i].hdr
		h.SetControllen(oobSize)
		h.Flags = 0
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.fd < 0 {
		return 0, net.ErrClosed
	}
	for {
		r, _, errno := syscall.RawSyscall6(syscall.SYS_RECVMMSG, uintptr(u.fd),
			uintptr(unsafe.Pointer(&b.hdrs[0])), rxBatchSize, syscall.MSG_DONTWAIT, 0, 0)
		switch errno {
		case 0:
			return int(r), nil
		case syscall.EAGAIN:
			return 0, nil
		case syscall.EINTR:
			continue
		default:
			return 0, os.NewSyscallError("recvmmsg", errno)
		}
	}
}
