package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"time"

	"brygga/api"
	"brygga/config"
	"brygga/metrics"
)

// webServers are the admin API's listener and, when configured apart,
// the metrics listener.
type webServers struct {
	servers []*http.Server
}

// startHTTP starts the admin API (with /metrics unless moved or off) on
// cfg.API.Listen, and metrics on their own listener when api.metrics says
// so. Listening happens before it returns, so a port in use fails start-up.
func startHTTP(cfg *config.Config, o api.Options, m *metrics.Metrics, stdout io.Writer) (*webServers, error) {
	w := &webServers{}
	switch cfg.API.Metrics {
	case "":
		o.Metrics = m.Handler()
	case "off":
	default:
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", m.Handler())
		if err := w.listen("metrics", cfg.API.Metrics, api.HostCheck(cfg.API.Metrics, apiHosts(cfg), mux), nil, stdout); err != nil {
			return nil, err
		}
	}
	if err := w.listen("api", cfg.API.Listen, m.API(api.HostCheck(cfg.API.Listen, apiHosts(cfg), api.New(o))), cfg.API.TLS.Config(), stdout); err != nil {
		w.close()
		return nil, err
	}
	return w, nil
}

// listen serves h on addr, over HTTPS only when tc is set: bearer tokens
// must not cross a network in the clear.
func (w *webServers) listen(what, addr string, h http.Handler, tc *tls.Config, stdout io.Writer) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s listener: %w", what, err)
	}
	scheme := "http"
	if tc != nil {
		ln, scheme = tls.NewListener(ln, tc), "https"
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		// No WriteTimeout: the event stream stays open for hours.
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 64 << 10,
	}
	w.servers = append(w.servers, srv)
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(stdout, "brygga %s: %s listener stopped: %v\n", version, what, err)
		}
	}()
	fmt.Fprintf(stdout, "brygga %s: %s listening on %s://%s\n", version, what, scheme, ln.Addr())
	return nil
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
