//go:build !linux

package phone

import (
	"net"
	"time"
)

func stampRTP(*net.UDPConn) {}

const oobSize = 0

func stampOf([]byte, time.Time) (time.Time, bool) { return time.Time{}, false }
