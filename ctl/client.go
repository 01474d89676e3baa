package ctl

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// DefaultAPI is where the bridge's admin API listens unless told
// otherwise (docs/ctl.md defaults).
const DefaultAPI = "http://127.0.0.1:8080"

// Limits of the client. Answers are a few kilobytes even for a large
// directory; the cap only stops a wrong URL from filling memory.
const (
	requestTimeout = 30 * time.Second
	maxAnswer      = 16 << 20
)

// Client talks to one bridge's admin API.
type Client struct {
	Base  *url.URL // scheme and host, maybe a path prefix (behind a proxy)
	Token string   // bearer token; "" sends none
	HTTP  *http.Client
	// StreamIdle is how long an event stream may stay silent before it is
	// taken for dead and reopened. The bridge sends a keepalive every 15 s,
	// so silence well beyond that means a half-open connection (a NAT box
	// or proxy dropped it) that TCP alone would not notice for hours.
	StreamIdle time.Duration
}

// NewClient makes a client for the API at base. base may also be a bare
// listen address as `brygga serve --api` takes it (BRYGGA_API is shared by
// both commands), so "0.0.0.0:8080" and ":8080" mean this machine.
func NewClient(base, token string) (*Client, error) {
	u, err := parseBase(base)
	if err != nil {
		return nil, err
	}
	return &Client{Base: u, Token: token, HTTP: &http.Client{}, StreamIdle: 45 * time.Second}, nil
}

func parseBase(base string) (*url.URL, error) {
	base = strings.TrimSpace(base)
	if base == "" {
		base = DefaultAPI
	}
	if !strings.Contains(base, "://") {
		host, port, err := net.SplitHostPort(base)
		if err != nil {
			return nil, fmt.Errorf("api: %q is neither a URL nor HOST:PORT", base)
		}
		switch host {
		case "", "0.0.0.0":
			host = "127.0.0.1"
		case "::":
			host = "::1"
		}
		base = "http://" + net.JoinHostPort(host, port)
	}
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("api: %q: %v", base, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("api: %q: scheme must be http or https", base)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("api: %q has no host", base)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("api: %q: no query or fragment, please", base)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// APIError is an answer other than 2xx; Message is the API's own
// {"error": …} text when it sent one.
type APIError struct {
	Status  int
	Message string
}

func (e *APIError) Error() string { return e.Message }

// UnreachableError is a request that got no HTTP answer at all.
type UnreachableError struct {
	Base string
	Err  error
}

func (e *UnreachableError) Error() string {
	return "cannot reach the bridge at " + e.Base + ": " + e.Err.Error()
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// url joins the API base with path, whose segments the caller has
// escaped already.
func (c *Client) url(path string, q url.Values) string {
	s := c.Base.String() + path
	if len(q) > 0 {
		s += "?" + q.Encode()
	}
	return s
}

func (c *Client) request(ctx context.Context, method, path string, q url.Values, body any) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url(path, q), rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	return req, nil
}

// send does the request and turns transport failures into
// UnreachableError and non-2xx answers into APIError.
func (c *Client) send(req *http.Request) (*http.Response, error) {
	resp, err := c.HTTP.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			// url.Error repeats method and URL; the base is said once.
			err = ue.Err
		}
		return nil, &UnreachableError{Base: c.Base.String(), Err: err}
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	return nil, apiError(resp.StatusCode, b)
}

func apiError(status int, body []byte) *APIError {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		return &APIError{Status: status, Message: e.Error}
	}
	// Not the bridge's JSON (a proxy's page, another program on the port):
	// the status is all we can honestly report.
	return &APIError{Status: status, Message: fmt.Sprintf("%d %s (not an answer of the bridge's API)", status, http.StatusText(status))}
}

// Do sends one request, with body JSON-encoded unless nil, and returns the
// status and the answer of a 2xx response.
func (c *Client) Do(ctx context.Context, method, path string, body any) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	r, err := c.request(ctx, method, path, nil, body)
	if err != nil {
		return 0, nil, err
	}
	resp, err := c.send(r)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return resp.StatusCode, nil, &UnreachableError{Base: c.Base.String(), Err: err}
	}
	return resp.StatusCode, b, nil
}

// Get decodes the answer to GET path into v and returns it raw as well,
// so --json can print exactly what the bridge said.
func (c *Client) Get(ctx context.Context, path string, v any) ([]byte, error) {
	_, b, err := c.Do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return nil, err
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			return b, fmt.Errorf("unexpected answer from %s: %v", path, err)
		}
	}
	return b, nil
}

// esc escapes one path segment, so a room or participant id cannot reach
// another path.
func esc(s string) string { return url.PathEscape(s) }

// TrustPEM makes the client check an https API against the certificates
// in file (a private CA, or the bridge's self-signed certificate) instead
// of the system's roots.
func (c *Client) TrustPEM(file string) error {
	pemData, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemData) {
		return fmt.Errorf("ca: %s holds no PEM certificate", file)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	c.HTTP.Transport = tr
	return nil
}
