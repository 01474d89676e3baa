//go:build linux && !386

package media

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// An RTP socket is a plain non-blocking file descriptor that Go's network
// poller never sees. The room's tick (or the IVR's) drains it with
// recvmmsg every 20 ms, so no goroutine parks on it, none is woken per
// packet, and the runtime's epoll is not woken per packet either (it would
// be for a socket it watches, even with nobody waiting on it).
//
// Reads and writes are raw system calls: on a non-blocking socket they
// return in microseconds, and an ordinary syscall.Syscall wakes the
// runtime's sysmon thread out of its deep sleep every time it finds it
// there, which at one sweep of the rooms per 20 ms cost more than the
// mixing (measured: 18 % of the bridge's CPU, in 20 µs naps).
//
// The descriptor is only used under the Session's locks, and Close takes
// them all, so it is never closed, and its number reused, under a read or
// a write.
type udpSocket struct {
	fd    int // -1 once closed
	inet6 bool
	local *net.UDPAddr
}

// listenUDP binds ip:port (port 0: any) the way net.ListenUDP would: an
// unspecified ip gives a dual-stack socket where IPv6 is there.
func listenUDP(ip net.IP, port int) (*udpSocket, error) {
	ip4 := ip.To4()
	inet6 := ip4 == nil || ip.IsUnspecified()
	fd, err := socketUDP(inet6)
	if err != nil && inet6 && ip.IsUnspecified() {
		// No IPv6 on this host: a plain IPv4 wildcard.
		inet6 = false
		fd, err = socketUDP(false)
	}
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	u := &udpSocket{fd: fd, inet6: inet6}
	if inet6 {
		// Dual stack for the wildcard only, as the net package does.
		v6only := 1
		if ip.IsUnspecified() {
			v6only = 0
		}
		_ = syscall.SetsockoptInt(fd, syscall.IPPROTO_IPV6, syscall.IPV6_V6ONLY, v6only)
	}
	// Arrival times for the jitter estimate come from the kernel: the
	// socket is read up to 20 ms after a packet arrives.
	_ = syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1)

	var sa syscall.Sockaddr
	switch {
	case !inet6:
		a := &syscall.SockaddrInet4{Port: port}
		if ip4 != nil {
			copy(a.Addr[:], ip4)
		}
		sa = a
	case ip.IsUnspecified():
		sa = &syscall.SockaddrInet6{Port: port}
	default:
		a := &syscall.SockaddrInet6{Port: port}
		copy(a.Addr[:], ip.To16())
		sa = a
	}
	if err := syscall.Bind(fd, sa); err != nil {
		syscall.Close(fd)
		return nil, os.NewSyscallError("bind", err)
	}
	bound, err := syscall.Getsockname(fd)
	if err != nil {
		syscall.Close(fd)
		return nil, os.NewSyscallError("getsockname", err)
	}
	switch b := bound.(type) {
	case *syscall.SockaddrInet4:
		port = b.Port
	case *syscall.SockaddrInet6:
		port = b.Port
	}
	if ip == nil {
		ip = net.IPv4zero
	}
	u.local = &net.UDPAddr{IP: ip, Port: port}
	return u, nil
}

func socketUDP(inet6 bool) (int, error) {
	family := syscall.AF_INET
	if inet6 {
		family = syscall.AF_INET6
	}
	return syscall.Socket(family, syscall.SOCK_DGRAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, syscall.IPPROTO_UDP)
}

func (u *udpSocket) LocalAddr() *net.UDPAddr { return u.local }

func (u *udpSocket) close() error {
	if u.fd < 0 {
		return nil
	}
	err := syscall.Close(u.fd)
	u.fd = -1
	if err != nil {
		return os.NewSyscallError("close", err)
	}
	return nil
}

// datagramSink receives what receive reads. b is valid only during the
// call; at is the kernel's arrival time, or the read time without one.
type datagramSink interface {
	datagram(b []byte, src netip.AddrPort, at time.Time)
}

// rxBatch is the memory of one recvmmsg call. Batches are pooled rather
// than kept per session: only as many exist as sockets are being drained
// at once (about one per clock shard), not one per call.
type rxBatch struct {
	hdrs  [rxBatchSize]mmsghdr
	iov   [rxBatchSize]syscall.Iovec
	names [rxBatchSize]syscall.RawSockaddrInet6
	oob   [rxBatchSize][rxOOBSize]byte
	bufs  [rxBatchSize][maxDatagram]byte
}

const (
	// rxBatchSize datagrams are read per system call. One tick usually
	// finds one or two; after a pause in draining (answer to IVR, IVR to
	// room) a few hundred may wait, and are read in a few dozen calls.
	rxBatchSize = 8
	rxOOBSize   = 64 // one SCM_TIMESTAMPNS, aligned
)

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
		h.Name = (*byte)(unsafe.Pointer(&b.names[i]))
		h.Iov = &b.iov[i]
		h.Iovlen = 1
		h.Control = &b.oob[i][0]
	}
	return b
}}

// receive reads every datagram waiting on the socket without blocking and
// hands each to sink, in order. It returns nil once the socket is empty.
func (u *udpSocket) receive(sink datagramSink) error {
	if u.fd < 0 {
		return net.ErrClosed
	}
	b := rxBatches.Get().(*rxBatch)
	defer rxBatches.Put(b)
	var now time.Time
	var wall int64
	for {
		for i := range b.hdrs {
			h := &b.hdrs[i].hdr
			h.Namelen = uint32(unsafe.Sizeof(b.names[i]))
			h.SetControllen(rxOOBSize)
			h.Flags = 0
		}
		r, _, errno := syscall.RawSyscall6(syscall.SYS_RECVMMSG, uintptr(u.fd),
			uintptr(unsafe.Pointer(&b.hdrs[0])), rxBatchSize, syscall.MSG_DONTWAIT, 0, 0)
		switch errno {
		case 0:
		case syscall.EAGAIN:
			return nil
		case syscall.EINTR:
			continue
		default:
			return os.NewSyscallError("recvmmsg", errno)
		}
		n := int(r)
		if now.IsZero() {
			now = time.Now()
			wall = now.UnixNano()
		}
		for i := range n {
			h := &b.hdrs[i]
			src := sockaddrAddrPort(&b.names[i], h.hdr.Namelen)
			at := now
			if stamp, ok := stampOf(b.oob[i][:h.hdr.Controllen]); ok {
				// now less how long ago, by the wall clock, the kernel
				// stamped it: a time with a monotonic reading.
				if ago := wall - stamp; ago >= 0 && ago < int64(maxStampAge) {
					at = now.Add(-time.Duration(ago))
				}
			}
			d := b.bufs[i][:min(int(h.len), maxDatagram)]
			if h.hdr.Flags&syscall.MSG_TRUNC != 0 {
				// Longer than any RTP we take: what fitted is not the
				// packet, and its padding byte would be read from the
				// middle. An empty datagram is counted and dropped.
				d = d[:0]
			}
			sink.datagram(d, src, at)
		}
		if n < rxBatchSize {
			// recvmmsg stops early only when the socket is empty.
			return nil
		}
	}
}

// maxStampAge bounds how old a kernel stamp may be before it is taken for
// a stepped wall clock. Packets do wait in the socket for a few seconds
// while nobody drains it (between answer and IVR), so it is generous.
const maxStampAge = 30 * time.Second

func sockaddrAddrPort(raw *syscall.RawSockaddrInet6, n uint32) netip.AddrPort {
	switch raw.Family {
	case syscall.AF_INET:
		if n < syscall.SizeofSockaddrInet4 {
			return netip.AddrPort{}
		}
		a4 := (*syscall.RawSockaddrInet4)(unsafe.Pointer(raw))
		port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&a4.Port))[:])
		return netip.AddrPortFrom(netip.AddrFrom4(a4.Addr), port)
	case syscall.AF_INET6:
		if n < syscall.SizeofSockaddrInet6 {
			return netip.AddrPort{}
		}
		port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&raw.Port))[:])
		// Zones are not kept: RTP to link-local peers is not a use case.
		return netip.AddrPortFrom(netip.AddrFrom16(raw.Addr).Unmap(), port)
	}
	return netip.AddrPort{}
}

// stampOf finds SCM_TIMESTAMPNS in one datagram's control messages, in
// nanoseconds of the wall clock.
func stampOf(oob []byte) (int64, bool) {
	const (
		hdr   = syscall.SizeofCmsghdr
		align = int(unsafe.Sizeof(uintptr(0))) // CMSG_ALIGN on Linux
	)
	if unsafe.Sizeof(syscall.Timespec{}) != 16 {
		return 0, false
	}
	for len(oob) >= hdr {
		h := (*syscall.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < hdr || l > len(oob) {
			return 0, false
		}
		if h.Level == syscall.SOL_SOCKET && h.Type == syscall.SCM_TIMESTAMPNS && l >= hdr+16 {
			sec := int64(binary.NativeEndian.Uint64(oob[hdr:]))
			nsec := int64(binary.NativeEndian.Uint64(oob[hdr+8:]))
			return sec*1e9 + nsec, true
		}
		l = (l + align - 1) &^ (align - 1)
		if l > len(oob) {
			break
		}
		oob = oob[l:]
	}
	return 0, false
}

// txAddr is a destination in the form sendto takes, built once per
// destination rather than per packet.
type txAddr struct {
	to  netip.AddrPort
	raw syscall.RawSockaddrInet6 // or a RawSockaddrInet4 in its first bytes
	n   uintptr
}

func (u *udpSocket) setAddr(a *txAddr, to netip.AddrPort) error {
	if a.to == to && a.n != 0 {
		return nil
	}
	a.to, a.n = to, 0
	a.raw = syscall.RawSockaddrInet6{}
	ip := to.Addr()
	var port [2]byte
	binary.BigEndian.PutUint16(port[:], to.Port())
	switch {
	case u.inet6:
		a.raw.Family = syscall.AF_INET6
		a.raw.Addr = ip.As16() // IPv4 as v4-mapped on a dual-stack socket
		a.raw.Port = *(*uint16)(unsafe.Pointer(&port))
		a.n = syscall.SizeofSockaddrInet6
	case ip.Unmap().Is4():
		a4 := (*syscall.RawSockaddrInet4)(unsafe.Pointer(&a.raw))
		a4.Family = syscall.AF_INET
		a4.Addr = ip.Unmap().As4()
		a4.Port = *(*uint16)(unsafe.Pointer(&port))
		a.n = syscall.SizeofSockaddrInet4
	default:
		return fmt.Errorf("media: cannot send to %v from an IPv4 socket", to)
	}
	return nil
}

// send writes one datagram to a. A full send buffer drops the packet
// rather than holding up the tick: a late frame is as good as lost.
func (u *udpSocket) send(p []byte, a *txAddr) error {
	if u.fd < 0 {
		return net.ErrClosed
	}
	if len(p) == 0 || a.n == 0 {
		return errors.New("media: nothing to send")
	}
	for {
		_, _, errno := syscall.RawSyscall6(syscall.SYS_SENDTO, uintptr(u.fd),
			uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), 0,
			uintptr(unsafe.Pointer(&a.raw)), a.n)
		switch errno {
		case 0:
			return nil
		case syscall.EINTR:
			continue
		default:
			return os.NewSyscallError("sendto", errno)
		}
	}
}
