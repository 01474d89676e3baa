package main

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// dialFrom connects to the host:port of url from the loopback address src.
func dialFrom(t *testing.T, src, url string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// trickle writes text a byte per interval until the server closes the
// connection (or answers and closes) and returns how many bytes got in.
// It gives up, failing the test, after all of text.
func trickle(t *testing.T, c net.Conn, text string, interval time.Duration) int {
	t.Helper()
	closed := make(chan struct{})
	go func() {
		// Whatever the server answers (a 408, a 400, nothing), it must
		// end with the connection closed.
		_, _ = io.Copy(io.Discard, c)
		close(closed)
	}()
	for i := range len(text) {
		select {
		case <-closed:
			return i
		case <-time.After(interval):
		}
		if _, err := c.Write([]byte{text[i]}); err != nil {
			return i
		}
	}
	select {
	case <-closed:
		return len(text)
	case <-time.After(5 * time.Second):
		t.Fatalf("the server still held the connection after all %d bytes", len(text))
		return 0
	}
}

// TestAPIReadLimits: a request whose header or body trickles in is cut off
// by the read timeouts, however steadily it comes, while an event stream
// lives on past them; one address may hold api.max_connections_per_source
// connections, and the next is closed at once while another address is
// served.
func TestAPIReadLimits(t *testing.T) {
	oldHeader, oldRead := readHeaderTimeout, readTimeout
	readHeaderTimeout, readTimeout = 500*time.Millisecond, time.Second
	t.Cleanup(func() { readHeaderTimeout, readTimeout = oldHeader, oldRead })
	const token = "limits-test-token-5678"
	api := serveConfig(t, "api:\n  max_connections_per_source: 3\n  tokens:\n    - {name: ops, token: "+token+", role: operator}\n", "31200-31299").api

	// A header a byte per 100 ms: at most about 5 bytes in 500 ms. The
	// bound is a count with room for a slow machine, not a time.
	header := "GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + strings.Repeat("a", 200) + "\r\n\r\n"
	if n := trickle(t, dialFrom(t, "127.0.0.10", api), header, 100*time.Millisecond); n >= 50 {
		t.Fatalf("a trickled header got %d bytes in before it was cut off", n)
	}
	// A body likewise, after a header that came at once.
	body := `{"name": "` + strings.Repeat("b", 300) + `"}`
	c := dialFrom(t, "127.0.0.10", api)
	if _, err := io.WriteString(c, "PUT /api/v1/rooms/4712 HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer "+token+
		"\r\nContent-Type: application/json\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	if n := trickle(t, c, body, 100*time.Millisecond); n >= 60 {
		t.Fatalf("a trickled body got %d bytes in before it was cut off", n)
	}

	// Three event streams from 127.0.0.66 fill its share; they outlive
	// the read timeouts.
	type stream struct{ ended chan error }
	var streams []stream
	for range 3 {
		tr := &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.66")}}).DialContext}
		t.Cleanup(tr.CloseIdleConnections)
		req, _ := http.NewRequest("GET", api+"/api/v1/events", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { res.Body.Close() })
		if res.StatusCode != 200 {
			t.Fatalf("events: %d", res.StatusCode)
		}
		s := stream{ended: make(chan error, 1)}
		go func() {
			_, err := io.Copy(io.Discard, res.Body)
			s.ended <- err
		}()
		streams = append(streams, s)
	}
	time.Sleep(3 * readTimeout)
	for i, s := range streams {
		select {
		case err := <-s.ended:
			t.Fatalf("event stream %d ended after the read timeout: %v", i, err)
		default:
		}
	}
	// A fourth connection from 127.0.0.66 is closed unanswered.
	over := dialFrom(t, "127.0.0.66", api)
	io.WriteString(over, "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
	_ = over.SetReadDeadline(time.Now().Add(5 * time.Second))
	if line, _ := bufio.NewReader(over).ReadString('\n'); line != "" {
		t.Fatalf("a fourth connection from 127.0.0.66 was answered: %q", line)
	}
	// Another address is served.
	other := dialFrom(t, "127.0.0.67", api)
	io.WriteString(other, "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
	_ = other.SetReadDeadline(time.Now().Add(5 * time.Second))
	if line, _ := bufio.NewReader(other).ReadString('\n'); !strings.HasPrefix(line, "HTTP/1.1 200") {
		t.Fatalf("127.0.0.67 got %q, want 200", line)
	}
	// The refusal is counted.
	res, err := http.Get(api + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	m, _ := io.ReadAll(res.Body)
	if !bytes.Contains(m, []byte(`brygga_connections_refused_total{listener="api",reason="source"} 1`)) {
		t.Fatalf("metrics lack the refusal:\n%s", grepLines(m, "brygga_connections_refused_total"))
	}
}

func grepLines(text []byte, word string) string {
	var out []string
	for _, l := range strings.Split(string(text), "\n") {
		if strings.Contains(l, word) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
