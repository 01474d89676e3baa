package sip_test

// Message limits end to end: hand-written requests over UDP to a running
// bridge, each answered (or not) by msglimit.go.

import (
	"fmt"
	"net"
	"strings"
	"testing"
)

// limitRequest writes a request from conn's address with extra header
// lines and a body, and a Content-Length of clen (-1: the body's length).
func limitRequest(conn *net.UDPConn, to, method, user, callID string, extra []string, ctype, body string, clen int) string {
	local := conn.LocalAddr().String()
	if clen < 0 {
		clen = len(body)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s sip:%s@%s SIP/2.0\r\n", method, user, to)
	fmt.Fprintf(&b, "Via: SIP/2.0/UDP %s;rport;branch=z9hG4bK-%s\r\n", local, callID)
	b.WriteString("Max-Forwards: 70\r\n")
	fmt.Fprintf(&b, "From: <sip:caller@%s>;tag=lim\r\n", local)
	fmt.Fprintf(&b, "To: <sip:%s@%s>\r\n", user, to)
	fmt.Fprintf(&b, "Call-ID: %s\r\n", callID)
	fmt.Fprintf(&b, "CSeq: 1 %s\r\n", method)
	fmt.Fprintf(&b, "Contact: <sip:caller@%s>\r\n", local)
	for _, h := range extra {
		b.WriteString(h + "\r\n")
	}
	if ctype != "" {
		b.WriteString("Content-Type: " + ctype + "\r\n")
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", clen, body)
	return b.String()
}

// bigSDP is a well-formed audio offer padded with attribute lines to n
// bytes or a little more.
func bigSDP(n int) string {
	s := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
	for i := 0; len(s) < n; i++ {
		s += fmt.Sprintf("a=x-padding-%d:%s\r\n", i, strings.Repeat("p", 60))
	}
	return s
}

func TestMessageLimits(t *testing.T) {
	b := startBridge(t, roomYAML)
	to := strings.TrimPrefix(b.target("x"), "sip:x@")
	toAddr, _ := net.ResolveUDPAddr("udp", to)
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	headers := func(n int) []string {
		var hs []string
		for i := range n {
			hs = append(hs, fmt.Sprintf("X-Filler-%d: %d", i, i))
		}
		return hs
	}
	const base = 8 // the header fields limitRequest always writes, Content-Length included
	cases := []struct {
		name         string
		method, user string
		extra        []string
		ctype, body  string
		clen         int
		want         int // 0: no answer
	}{
		{name: "100 header fields", method: "OPTIONS", user: "brygga", extra: headers(100 - base), want: 200},
		{name: "101 header fields", method: "OPTIONS", user: "brygga", extra: headers(101 - base), want: 400},
		{name: "INVITE with 400 header fields", method: "INVITE", user: "4711", extra: headers(400), ctype: "application/sdp", body: bigSDP(200), clen: -1, want: 400},
		{name: "SDP of 16 KiB to an unknown room", method: "INVITE", user: "9999", ctype: "application/sdp", body: bigSDP(16 << 10)[:16<<10], clen: -1, want: 404},
		{name: "SDP over 16 KiB", method: "INVITE", user: "4711", ctype: "application/sdp", body: bigSDP(16<<10 + 1), clen: -1, want: 413},
		{name: "UPDATE with SDP over 16 KiB", method: "UPDATE", user: "4711", ctype: "application/sdp", body: bigSDP(20 << 10), clen: -1, want: 413},
		{name: "Content-Length beyond the datagram", method: "INVITE", user: "4711", ctype: "application/sdp", body: bigSDP(200), clen: 5000, want: 400},
		{name: "Content-Length beyond the datagram, OPTIONS", method: "OPTIONS", user: "brygga", body: "", clen: 10, want: 400},
		{name: "negative Content-Length", method: "OPTIONS", user: "brygga", extra: []string{"Content-Length: -1"}, clen: 0, want: 400},
		{name: "two different Content-Lengths", method: "OPTIONS", user: "brygga", extra: []string{"l: 3"}, body: "abc", clen: 0, want: 400},
		{name: "Content-Length short of the datagram", method: "OPTIONS", user: "brygga", body: "trailing bytes are discarded", clen: 0, want: 200},
		{name: "ACK with a bad Content-Length", method: "ACK", user: "4711", clen: 10, want: 0},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			callID := fmt.Sprintf("limit-%d", i)
			msg := limitRequest(conn, to, tc.method, tc.user, callID, tc.extra, tc.ctype, tc.body, tc.clen)
			if _, err := conn.WriteToUDP([]byte(msg), toAddr); err != nil {
				t.Fatal(err)
			}
			got := udpAnswer(t, conn, toAddr, callID, tc.want != 0)
			if got != tc.want {
				t.Errorf("answer %s, want %s", answerName(got), answerName(tc.want))
			}
		})
	}
	checkIdle(t, b)
}
