package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
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
		if err := w.listen("metrics", cfg.API.Metrics, mux, stdout); err != nil {
			return nil, err
		}
	}
	if err := w.listen("api", cfg.API.Listen, m.API(api.New(o)), stdout); err != nil {
		w.close()
		return nil, err
	}
	return w, nil
}

func (w *webServers) listen(what, addr string, h http.Handler, stdout io.Writer) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s listener: %w", what, err)
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
	fmt.Fprintf(stdout, "brygga %s: %s listening on http://%s\n", version, what, ln.Addr())
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
