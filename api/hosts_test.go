package api

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// serveOn serves h on a loopback address of the test's choosing.
func serveOn(t *testing.T, addr string, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s: %v", addr, err)
	}
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: h}}
	srv.Start()
	t.Cleanup(srv.Close)
	return ln.Addr().String()
}

// hostStatus sends GET path to addr with the given Host header.
func hostStatus(t *testing.T, addr, host, path string) (int, string) {
	t.Helper()
	return sendOver(t, "GET", "http://"+addr+path, viewSecret, host, "")
}

// sendOver makes a request over a real connection with token and, unless
// "", the Host header host; it returns the status and the body.
func sendOver(t *testing.T, method, url, token, host, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if host != "" {
		req.Host = host
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The API answers only to the names it is given, its listen host, the
// address a request reached and localhost on loopback: a rebound name is
// refused with 421 before the token or the path is looked at.
func TestHostCheck(t *testing.T) {
	e := newEnv(t, nil)
	names := []string{"brygga.example.org", "192.0.2.80"}
	a := serveOn(t, "127.0.0.1:0", HostCheck("127.0.0.1:8080", names, e.h))
	_, port, _ := net.SplitHostPort(a)
	for _, c := range []struct {
		host string
		want int
	}{
		{a, 200},
		{"127.0.0.1", 200},
		{"localhost:" + port, 200},
		{"LocalHost.", 200},
		{"brygga.example.org", 200},
		{"BRYGGA.example.org.:443", 200},
		{"192.0.2.80:8080", 200},
		{"[::ffff:127.0.0.1]:" + port, 200},
		{"evil.example", 421},
		{"brygga.example.org.evil.example", 421},
		{"127.0.0.2:" + port, 421}, // an address this connection did not reach
		{"0.0.0.0:" + port, 421},
		{"localhost.evil.example", 421},
	} {
		for _, path := range []string{"/api/v1/conferences", "/healthz"} {
			code, body := hostStatus(t, a, c.host, path)
			if code != c.want {
				t.Errorf("Host %q %s: %d %s, want %d", c.host, path, code, body, c.want)
			}
			if code == 421 && !strings.Contains(body, `"error":"host \"`+c.host+`\" is not one this server answers to`) {
				t.Errorf("Host %q: 421 body %s", c.host, body)
			}
		}
	}

	// A request without Host (HTTP/1.0) is no browser's: it passes.
	conn, err := net.Dial("tcp", a)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(conn, "GET /healthz HTTP/1.0\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("HTTP/1.0 without Host: %v %v", resp, err)
	}
}

// Listening on every address (an empty host), a request may name any
// address of the machine it reached, and no other; names still need the
// list. Two loopback addresses stand for two of the machine's addresses.
func TestHostCheckWildcardListen(t *testing.T) {
	e := newEnv(t, nil)
	h := HostCheck(":8080", nil, e.h)
	a1 := serveOn(t, "127.0.0.1:0", h)
	a2 := serveOn(t, "127.0.0.2:0", h)
	for _, c := range []struct {
		addr, host string
		want       int
	}{
		{a1, a1, 200},
		{a2, a2, 200},
		{a2, "127.0.0.2", 200},
		{a2, "127.0.0.1", 421},
		{a1, "brygga.example.org", 421},
		{a1, "localhost", 200},
	} {
		if code, body := hostStatus(t, c.addr, c.host, "/healthz"); code != c.want {
			t.Errorf("to %s Host %q: %d %s, want %d", c.addr, c.host, code, body, c.want)
		}
	}
	// A name as the listen host is answered to.
	named := serveOn(t, "127.0.0.1:0", HostCheck("brygga.internal:8080", nil, e.h))
	if code, _ := hostStatus(t, named, "brygga.internal:8080", "/healthz"); code != 200 {
		t.Errorf("the listen host's name: %d", code)
	}
	if code, _ := hostStatus(t, named, "other.internal", "/healthz"); code != 421 {
		t.Errorf("another name: %d", code)
	}
}
