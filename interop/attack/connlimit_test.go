package attack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"brygga/interop"
	"brygga/phone"
)

// connConfig is testConfig with SIP connection limits and only 127.0.0.1
// trusted, so that other 127.x addresses are callers like any other.
func connConfig(limits string) string {
	return interop.BridgeConfig + "sip:\n  trusted: [\"127.0.0.1/32\"]\n" + limits
}

// dialSIP opens a TCP connection to the bridge's SIP port from src.
func dialSIP(t *testing.T, b *interop.Bridge, src string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", b.SIP)
	if err != nil {
		t.Fatalf("connect from %s: %v", src, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// optionsOverTCP sends an OPTIONS on c and returns the status of the
// answer; an error when the bridge closed the connection instead.
func optionsOverTCP(c net.Conn, addr string) (int, error) {
	if _, err := io.WriteString(c, interop.OptionsRequest("TCP", addr, c.LocalAddr())); err != nil {
		return 0, err
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	defer c.SetReadDeadline(time.Time{})
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil {
		return 0, err
	}
	return interop.StatusCode(buf[:n])
}

// closedByBridge waits up to d for the bridge to close c, reading (and
// discarding) what it sends.
func closedByBridge(c net.Conn, d time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	return err == nil || errors.Is(err, syscall.ECONNRESET)
}

// waitMetric polls the bridge's /metrics until ok holds for sample (a
// "name{labels}" key), for at most d.
func waitMetric(t *testing.T, b *interop.Bridge, sample string, d time.Duration, ok func(float64) bool) float64 {
	t.Helper()
	var v float64
	for deadline := time.Now().Add(d); ; time.Sleep(100 * time.Millisecond) {
		v = interop.Metrics(t, b)[sample]
		if ok(v) || time.Now().After(deadline) {
			return v
		}
	}
}

// TestSIPOneByteConnectionsClosed: 200 TCP connections that each send one
// byte of a message and nothing more are all closed by the message
// deadline, counted as such, and the bridge's goroutines and descriptors
// go back to where they were.
func TestSIPOneByteConnectionsClosed(t *testing.T) {
	const n = 200
	b := interop.StartBridgeIn(t, t.TempDir(), connConfig("  message_timeout: 5s\n  max_connections_per_source: 250\n"))
	before := interop.Metrics(t, b)

	conns := make([]net.Conn, n)
	for i := range conns {
		conns[i] = dialSIP(t, b, "127.0.0.66")
		if _, err := conns[i].Write([]byte("I")); err != nil {
			t.Fatal(err)
		}
	}
	// They are all held at once before the deadline, or the test proves
	// nothing.
	if open := waitMetric(t, b, "brygga_sip_connections", 5*time.Second, func(v float64) bool { return v == n }); open != n {
		t.Fatalf("brygga_sip_connections %v, want %d open", open, n)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	closed := 0
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if closedByBridge(c, 20*time.Second) {
				mu.Lock()
				closed++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if closed != n {
		t.Fatalf("%d of %d one-byte connections closed by the bridge", closed, n)
	}
	cut := waitMetric(t, b, `brygga_sip_connections_cut_total{reason="message"}`, 5*time.Second,
		func(v float64) bool { return v-before[`brygga_sip_connections_cut_total{reason="message"}`] == n })
	if got := cut - before[`brygga_sip_connections_cut_total{reason="message"}`]; got != n {
		t.Errorf("%v connections counted as cut for an unfinished message, want %d", got, n)
	}
	// Goroutines and descriptors back, give or take a few of the
	// runtime's own and the scrape's.
	if open := waitMetric(t, b, "brygga_sip_connections", 5*time.Second, func(v float64) bool { return v == 0 }); open != 0 {
		t.Errorf("brygga_sip_connections %v after all were closed", open)
	}
	g := waitMetric(t, b, "go_goroutines", 10*time.Second, func(v float64) bool { return v <= before["go_goroutines"]+5 })
	fds := waitMetric(t, b, "process_open_fds", 10*time.Second, func(v float64) bool { return v <= before["process_open_fds"]+3 })
	if g > before["go_goroutines"]+5 || fds > before["process_open_fds"]+3 {
		t.Errorf("goroutines %v (before %v), descriptors %v (before %v)", g, before["go_goroutines"], fds, before["process_open_fds"])
	}
}

// TestSIPConnectionsPerSource: an address at sip.max_connections_per_source
// has its next connection closed unanswered, while another address, and
// the trusted PBX beyond the cap, still get answers.
func TestSIPConnectionsPerSource(t *testing.T) {
	const perSource = 5
	b := interop.StartBridgeIn(t, t.TempDir(), connConfig(fmt.Sprintf("  max_connections_per_source: %d\n", perSource)))
	for i := range perSource {
		if code, err := optionsOverTCP(dialSIP(t, b, "127.0.0.66"), b.SIP); err != nil || code != 200 {
			t.Fatalf("connection %d from 127.0.0.66: %d %v, want 200", i+1, code, err)
		}
	}
	if code, err := optionsOverTCP(dialSIP(t, b, "127.0.0.66"), b.SIP); err == nil {
		t.Fatalf("a connection over the cap from 127.0.0.66 was answered %d", code)
	}
	if code, err := optionsOverTCP(dialSIP(t, b, "127.0.0.67"), b.SIP); err != nil || code != 200 {
		t.Fatalf("127.0.0.67 while 127.0.0.66 is at its cap: %d %v, want 200", code, err)
	}
	for i := range 2 * perSource {
		if code, err := optionsOverTCP(dialSIP(t, b, "127.0.0.1"), b.SIP); err != nil || code != 200 {
			t.Fatalf("trusted connection %d: %d %v, want 200", i+1, code, err)
		}
	}
	// One line for fail2ban, as docs/config.md's filter reads it.
	if n := strings.Count(b.Log(), `level=WARN msg="sip connections" source=127.0.0.66 max=5`+"\n"); n != 1 {
		t.Errorf("%d fail2ban lines for 127.0.0.66, want 1", n)
	}
	m := interop.Metrics(t, b)
	if v := m[`brygga_connections_refused_total{listener="sip",reason="source"}`]; v != 1 {
		t.Errorf("refused for the source: %v, want 1", v)
	}
	if v := m["brygga_sip_connections"]; v != 2*perSource+perSource+1 {
		t.Errorf("brygga_sip_connections %v, want %d", v, 2*perSource+perSource+1)
	}
}

// TestTCPCallOutlivesIdleTimeout: a caller over TCP (not trusted) says
// nothing on its connection during the call for several idle timeouts; the
// connection is kept, and the bridge's BYE, sent back on it, reaches the
// phone. A connection without a call, quiet as long, is closed.
func TestTCPCallOutlivesIdleTimeout(t *testing.T) {
	const idle = time.Second
	b := interop.StartBridgeIn(t, t.TempDir(), connConfig("  idle_timeout: 1s\n"))

	quiet := dialSIP(t, b, "127.0.0.71")
	if code, err := optionsOverTCP(quiet, b.SIP); err != nil || code != 200 {
		t.Fatalf("OPTIONS over TCP: %d %v", code, err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ph, err := phone.New(ctx, phone.Config{LocalIP: netip.MustParseAddr("127.0.0.70"), Transport: "tcp", User: "tcp-caller", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer ph.Close()
	call, err := ph.Dial(ctx, "sip:"+interop.RoomExt+"@"+b.SIP+";transport=tcp")
	if err != nil {
		t.Fatalf("dialling over TCP: %v", err)
	}
	if err := call.SendDigits(interop.RoomPIN + "#"); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); interop.MemberCount(t, b) != 1; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the TCP caller never got into the room")
		}
	}
	if !closedByBridge(quiet, 10*time.Second) {
		t.Fatal("a TCP connection without a call was not closed for being idle")
	}
	select {
	case <-call.Done():
		t.Fatal("the call ended while the caller was quiet")
	case <-time.After(4 * idle):
	}
	m := interop.Metrics(t, b)
	if v := m[`brygga_sip_connections_cut_total{reason="idle"}`]; v != 1 {
		t.Errorf("connections cut for idleness: %v, want 1 (the one without a call)", v)
	}
	if v := m["brygga_sip_connections"]; v != 1 {
		t.Errorf("brygga_sip_connections %v, want 1 (the call's)", v)
	}
	conf, _ := interop.GetConference(t, b, interop.WallToken, interop.RoomExt)
	if len(conf.Members) != 1 {
		t.Fatalf("members %+v", conf.Members)
	}
	if code := interop.APICall(t, b, interop.OpsToken, "POST", "/api/v1/conferences/"+interop.RoomExt+"/participants/"+conf.Members[0].ID+"/kick", "", nil); code/100 != 2 {
		t.Fatalf("kick: %d", code)
	}
	select {
	case <-call.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("the bridge's BYE never reached the TCP caller")
	}
	if !call.EndedByRemote() {
		t.Error("the call ended, but not by the bridge's BYE")
	}
}
