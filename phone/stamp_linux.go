package phone

import (
	"encoding/binary"
	"net"
	"syscall"
	"time"
	"unsafe"
)

// Arrival times come from the kernel (SO_TIMESTAMPNS): when the datagram
// reached the socket, not when the receiver goroutine got to run. With
// hundreds of calls on a busy machine the two differ by milliseconds, and
// jitter and delay measured by a load generator must describe the far end,
// not the generator's scheduler.

// stampRTP asks the kernel to timestamp every datagram of conn. A socket
// that refuses is read with time.Now as before.
func stampRTP(conn *net.UDPConn) {
	rc, err := conn.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1)
	})
}

// oobSize holds one SCM_TIMESTAMPNS message.
const oobSize = 64

// stampOf finds the kernel's receive time in the control messages of one
// read and turns it into a time.Time with a monotonic reading: now less
// how long ago, by the wall clock, the kernel stamped it.
func stampOf(oob []byte, now time.Time) (time.Time, bool) {
	const (
		hdr   = syscall.SizeofCmsghdr
		align = int(unsafe.Sizeof(uintptr(0))) // CMSG_ALIGN on Linux
	)
	if unsafe.Sizeof(syscall.Timespec{}) != 16 {
		return time.Time{}, false
	}
	for len(oob) >= hdr {
		h := (*syscall.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < hdr || l > len(oob) {
			return time.Time{}, false
		}
		if h.Level == syscall.SOL_SOCKET && h.Type == syscall.SCM_TIMESTAMPNS && l >= hdr+16 {
			sec := int64(binary.NativeEndian.Uint64(oob[hdr:]))
			nsec := int64(binary.NativeEndian.Uint64(oob[hdr+8:]))
			ago := now.Sub(time.Unix(sec, nsec)) // wall clocks only
			// A stamp from the future or long past means the wall clock
			// was stepped; the read time is the better guess then.
			if ago < 0 || ago > time.Second {
				return time.Time{}, false
			}
			return now.Add(-ago), true
		}
		l = (l + align - 1) &^ (align - 1)
		if l > len(oob) {
			break
		}
		oob = oob[l:]
	}
	return time.Time{}, false
}
