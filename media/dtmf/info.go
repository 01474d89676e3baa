package dtmf

import (
	"bytes"
	"strings"
)

// ParseInfo reads the digit of a SIP INFO body. application/dtmf-relay
// carries "Signal=5\r\nDuration=160"; application/dtmf carries the digit
// alone. Header parameters, case, spaces and any line ending are tolerated,
// as phones differ in all of them. Some phones send the RFC 4733 event code
// ("Signal=11" for '#'); codes 10-15 are understood as such.
func ParseInfo(contentType string, body []byte) (digit byte, ok bool) {
	mt, _, _ := strings.Cut(contentType, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	switch mt {
	case "application/dtmf-relay":
		for len(body) > 0 {
			var line []byte
			if i := bytes.IndexAny(body, "\r\n"); i >= 0 {
				line, body = body[:i], body[i+1:]
			} else {
				line, body = body, nil
			}
			key, val, found := bytes.Cut(line, []byte("="))
			if !found || !bytes.EqualFold(bytes.TrimSpace(key), []byte("signal")) {
				continue
			}
			return signal(val)
		}
		return 0, false
	case "application/dtmf":
		return signal(body)
	}
	return 0, false
}

func signal(v []byte) (byte, bool) {
	v = bytes.TrimSpace(v)
	switch len(v) {
	case 1:
		ev, ok := Event(v[0])
		if !ok {
			return 0, false
		}
		return Digit(ev)
	case 2:
		if v[0] == '1' && v[1] >= '0' && v[1] <= '5' {
			return Digit(10 + v[1] - '0')
		}
	}
	return 0, false
}
