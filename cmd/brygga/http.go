package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"time"

	"brygga/api"
	"brygga/config"
	"brygga/internal/connlimit"
	"brygga/metrics"
)

// webServers are the admin API's listener and, when configured apart,
// the metrics listener.
type webServers struct {
	servers []*http.Server
	api     string // the API listener's bound address, HOST:PORT

	// What both listeners share: api.max_connections_per_source, the
	// metrics its refusals count in, and where they report.
	perSource int
	m         *metrics.Metrics
	stdout    io.Writer
}

// startHTTP starts the admin API (with /metrics unless moved or off) on
// cfg.API.Listen, and metrics on their own listener when api.metrics says
// so. Listening happens before it returns, so a port in use fails start-up.
func startHTTP(cfg *config.Config, o api.Options, m *metrics.Metrics, stdout io.Writer) (*webServers, error) {
	w := &webServers{perSource: cfg.API.MaxConnectionsPerSource, m: m, stdout: stdout}
	hosts := apiHosts(cfg)
	switch cfg.API.Metrics {
	case "":
		o.Metrics = m.Handler()
	case "off":
	default:
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", m.Handler())
		if _, err := w.listen("metrics", cfg.API.Metrics, api.HostCheck(cfg.API.Metrics, hosts, mux), nil); err != nil {
			return nil, err
		}
	}
	// HostCheck inside m.API: a refused Host counts as a 421 like any
	// other answer (docs/api.md).
	bound, err := w.listen("api", cfg.API.Listen, m.API(api.HostCheck(cfg.API.Listen, hosts, api.New(o))), cfg.API.TLS.Config())
	if err != nil {
		w.close()
		return nil, err
	}
	w.api = bound
	return w, nil
}

// The admin HTTP servers' read limits. A request's header must arrive
// within readHeaderTimeout and the whole request, body included, within
// readTimeout: a body is at most 64 KiB of JSON (api.maxBody), which even
// a slow link sends in a few seconds, so a client trickling one is cut off
// rather than holding a connection. The event stream lifts the read
// deadline for itself (api/events.go); there is no WriteTimeout, as the
// stream and a recording's download may rightly take long. Variables for
// tests.
var (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	idleTimeout       = 2 * time.Minute
)

// maxHeaderBytes bounds a request's header: a bearer token and a few
// ordinary fields are well under a kilobyte.
const maxHeaderBytes = 64 << 10

// listen serves h on addr, over HTTPS only when tc is set: bearer tokens
// must not cross a network in the clear. Each source may hold
// w.perSource connections open (0: any number); more are closed at once.
// It returns the address bound, HOST:PORT.
func (w *webServers) listen(what, addr string, h http.Handler, tc *tls.Config) (string, error) {
	raw, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("%s listener: %w", what, err)
	}
	var ln net.Listener = connlimit.Wrap(raw, connlimit.Limits{
		PerSource: w.perSource,
		OnRefuse: func(_ netip.Addr, reason string, _ bool) {
			w.m.ConnectionRefused(what, reason)
		},
	})
	scheme := "http"
	if tc != nil {
		ln, scheme = tls.NewListener(ln, tc), "https"
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
	}
	w.servers = append(w.servers, srv)
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(w.stdout, "brygga %s: %s listener stopped: %v\n", version, what, err)
		}
	}()
	fmt.Fprintf(w.stdout, "brygga %s: %s listening on %s://%s\n", version, what, scheme, ln.Addr())
	return raw.Addr().String(), nil
}

// close stops the listeners; open event streams are cut.
func (w *webServers) close() {
	for _, s := range w.servers {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if err := s.Shutdown(ctx); err != nil {
			s.Close()
		}
		cancel()
	}
}

// apiHosts are the host names the web listeners answer to besides their
// own addresses (api.HostCheck): api.hosts, and the host of
// recordings.link_url, which is how mail readers reach the API.
func apiHosts(cfg *config.Config) []string {
	hosts := slices.Clone(cfg.API.Hosts)
	if u, err := url.Parse(cfg.Recordings.LinkURL); err == nil && u.Hostname() != "" {
		hosts = append(hosts, u.Hostname())
	}
	return hosts
}
