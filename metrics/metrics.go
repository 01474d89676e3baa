// Package metrics is brygga's Prometheus endpoint: calls by result,
// conferences and participants, RTP and mixer health, prompt plays, admin
// API requests and connection limits, with the Go runtime's own metrics beside them.
//
// Figures that already exist elsewhere (RTP counters per session, the
// mixer's tick lateness) are read when Prometheus scrapes, not counted
// twice on the packet path.
package metrics

import (
	"net/http"
	"strconv"

	"brygga/internal/connlimit"
	"brygga/media"
	"brygga/mixer"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Rooms reports the live conferences: how many, how many participants in
// their rooms, and how many waiting in lobbies.
type Rooms func() (conferences, inRoom, inLobby int)

// Metrics holds the registry and the counters the bridge updates.
type Metrics struct {
	reg     *prometheus.Registry
	calls   *prometheus.CounterVec
	prompts *prometheus.CounterVec
	api     *prometheus.CounterVec
	deliver *prometheus.CounterVec
	lockout *prometheus.CounterVec
	refused *prometheus.CounterVec // SIP requests
	store   prometheus.Counter
	conns   *prometheus.CounterVec // connections refused
	cut     *prometheus.CounterVec
}

// CallResults are the values of brygga_calls_total's result label.
var CallResults = []string{"answered", "bad_pin", "insecure", "rejected", "failed"}

// Refusals are the values of brygga_sip_refused_total's reason label.
var Refusals = []string{"media_address", "foreign_source"}

// DeliveryResults are the values of brygga_recording_deliveries_total's
// result label.
var DeliveryResults = []string{"delivered", "retry", "failed"}

// New makes the registry. rooms may be nil (no conference gauges).
func New(rooms Rooms) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "brygga_calls_total",
			Help: "New calls by result: answered, bad_pin (sent away after wrong PINs), insecure (sent away from a sensitive room for lack of TLS and SRTP), rejected (refused with an error response), failed (accepted, never established).",
		}, []string{"result"}),
		prompts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "brygga_prompt_plays_total",
			Help: "Prompts played, to one caller or to a room, by prompt name.",
		}, []string{"prompt"}),
		api: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "brygga_api_requests_total",
			Help: "Admin API requests by HTTP status code.",
		}, []string{"code"}),
		deliver: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "brygga_recording_deliveries_total",
			Help: "Recording delivery attempts by result: delivered, retry (failed, tried again later), failed (given up).",
		}, []string{"result"}),
	}
	m.lockout = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "brygga_pin_lockouts_total",
		Help: "PIN lockouts after too many wrong PINs, by scope: source (one address) or room.",
	}, []string{"scope"})
	m.store = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "brygga_store_errors_total",
		Help: "Writes the store (SQLite) refused, such as a recording's row at its start or end; calls go on, and the log says what failed.",
	})
	m.refused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "brygga_sip_refused_total",
		Help: "SIP requests refused so that the bridge cannot be turned on others, by reason: media_address (an SDP address that is multicast, broadcast, unspecified, or loopback named by a caller off this host: 488), foreign_source (a request in a dialog from another source than the dialog's: 403).",
	}, []string{"reason"})
	for _, r := range Refusals {
		m.refused.WithLabelValues(r)
	}
	m.conns = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "brygga_connections_refused_total",
		Help: "Connections closed at once after accept for a cap, by listener (sip, api, metrics, mail) and reason: total (the listener's max_connections) or source (max_connections_per_source).",
	}, []string{"listener", "reason"})
	m.cut = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "brygga_sip_connections_cut_total",
		Help: "SIP TCP and TLS connections closed by a deadline, by reason: message (a message not complete within sip.message_timeout), idle (no message for sip.idle_timeout and no call), write (the peer took nothing for sip.message_timeout).",
	}, []string{"reason"})
	for _, l := range []string{"sip", "api", "mail"} {
		for _, r := range []string{connlimit.Total, connlimit.Source} {
			m.conns.WithLabelValues(l, r)
		}
	}
	for _, r := range []string{"message", "idle", "write"} {
		m.cut.WithLabelValues(r)
	}
	m.lockout.WithLabelValues("source")
	m.lockout.WithLabelValues("room")
	for _, r := range DeliveryResults {
		m.deliver.WithLabelValues(r)
	}
	for _, r := range CallResults {
		m.calls.WithLabelValues(r) // present at 0 from the start
	}
	m.reg.MustRegister(m.calls, m.prompts, m.api, m.deliver, m.lockout, m.refused, m.store, m.conns, m.cut,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&scrape{rooms: rooms})
	return m
}

// Cluster registers the metrics of a node of a cluster: the leases it
// holds (leases is read at each scrape), callers sent to other nodes, and
// statements the shared database did not answer. The returned functions
// count a redirect and an error of op ("claim" or "heartbeat").
func (m *Metrics) Cluster(leases func() int) (redirected func(), failed func(op string)) {
	held := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "brygga_cluster_leases",
		Help: "Rooms whose lease this node holds: live meetings mixed here.",
	}, func() float64 { return float64(leases()) })
	redirects := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "brygga_cluster_redirects_total",
		Help: "Callers sent (302) to the node that mixes their room.",
	})
	errs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "brygga_cluster_errors_total",
		Help: "Statements the cluster's database did not answer, by op: claim (a caller's room: 503 unless this node's lease still stood) or heartbeat.",
	}, []string{"op"})
	errs.WithLabelValues("claim")
	errs.WithLabelValues("heartbeat")
	m.reg.MustRegister(held, redirects, errs)
	return redirects.Inc, func(op string) { errs.WithLabelValues(op).Inc() }
}

// Handler serves the metrics in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// CallResult counts one new call's result (one of CallResults).
func (m *Metrics) CallResult(result string) { m.calls.WithLabelValues(result).Inc() }

// DeliveryResult counts one recording delivery attempt (one of
// DeliveryResults).
func (m *Metrics) DeliveryResult(result string) { m.deliver.WithLabelValues(result).Inc() }

// PINLockout counts one lockout ("source" or "room").
func (m *Metrics) PINLockout(scope string) { m.lockout.WithLabelValues(scope).Inc() }

// Refused counts one SIP request refused for a reason (one of Refusals).
func (m *Metrics) Refused(reason string) { m.refused.WithLabelValues(reason).Inc() }

// StoreError counts one write the store refused.
func (m *Metrics) StoreError() { m.store.Inc() }

// ConnectionRefused counts one connection closed for a cap; listener is
// sip, api, metrics or mail, reason total or source.
func (m *Metrics) ConnectionRefused(listener, reason string) {
	m.conns.WithLabelValues(listener, reason).Inc()
}

// SIPConnectionCut counts one SIP connection closed by a deadline
// (message, idle or write).
func (m *Metrics) SIPConnectionCut(reason string) { m.cut.WithLabelValues(reason).Inc() }

// SIPConnections exports open as the gauge of open SIP TCP and TLS
// connections, read at each scrape. Call it once.
func (m *Metrics) SIPConnections(open func() int) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "brygga_sip_connections",
		Help: "SIP TCP and TLS connections open.",
	}, func() float64 { return float64(open()) }))
}

// PromptPlayed counts one prompt played.
func (m *Metrics) PromptPlayed(name string) { m.prompts.WithLabelValues(name).Inc() }

// API counts every request next serves by its status code.
func (m *Metrics) API(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(sw, r)
		m.api.WithLabelValues(strconv.Itoa(sw.code)).Inc()
	})
}

type statusWriter struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.code, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Flush keeps server-sent events streaming through the counter.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the real writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// scrape reads the figures that live elsewhere when Prometheus asks.
type scrape struct {
	rooms Rooms
}

var (
	descConferences = prometheus.NewDesc("brygga_conferences", "Live conferences.", nil, nil)
	descPeople      = prometheus.NewDesc("brygga_participants", "Participants in live conferences, in the room or waiting in its lobby.", []string{"where"}, nil)
	descPackets     = prometheus.NewDesc("brygga_rtp_packets_total", "RTP packets received from callers (in) and sent to them (out).", []string{"direction"}, nil)
	descLost        = prometheus.NewDesc("brygga_rtp_lost_packets_total", "RTP packets from callers that never arrived.", nil, nil)
	descLate        = prometheus.NewDesc("brygga_rtp_late_packets_total", "RTP packets from callers that arrived after their audio was due.", nil, nil)
	descConcealed   = prometheus.NewDesc("brygga_rtp_concealed_frames_total", "Frames of callers' audio replaced by concealment.", nil, nil)
	descIgnored     = prometheus.NewDesc("brygga_rtp_ignored_packets_total", "Datagrams that were not usable RTP for the call.", nil, nil)
	descStrangers   = prometheus.NewDesc("brygga_rtp_stranger_packets_total", "RTP and RTCP packets from a source that is not the call's (strict RTP); counted among the ignored too.", nil, nil)
	descSessions    = prometheus.NewDesc("brygga_rtp_sessions", "Calls with an open RTP socket.", nil, nil)
	descJitter      = prometheus.NewDesc("brygga_rtp_jitter_worst_seconds", "The largest RFC 3550 interarrival jitter among live calls.", nil, nil)
	descLateness    = prometheus.NewDesc("brygga_mixer_tick_lateness_seconds", "How long after its deadline each room tick started.", nil, nil)
	descLateTicks   = prometheus.NewDesc("brygga_mixer_late_ticks_total", "Room ticks that started more than a frame (20 ms) late.", nil, nil)
)

func (s *scrape) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descConferences, descPeople, descPackets, descLost, descLate,
		descConcealed, descIgnored, descStrangers, descSessions, descJitter, descLateness, descLateTicks} {
		ch <- d
	}
}

func (s *scrape) Collect(ch chan<- prometheus.Metric) {
	if s.rooms != nil {
		confs, inRoom, inLobby := s.rooms()
		ch <- prometheus.MustNewConstMetric(descConferences, prometheus.GaugeValue, float64(confs))
		ch <- prometheus.MustNewConstMetric(descPeople, prometheus.GaugeValue, float64(inRoom), "room")
		ch <- prometheus.MustNewConstMetric(descPeople, prometheus.GaugeValue, float64(inLobby), "lobby")
	}
	t, live, jitter := media.Totals()
	ch <- prometheus.MustNewConstMetric(descPackets, prometheus.CounterValue, float64(t.PacketsIn), "in")
	ch <- prometheus.MustNewConstMetric(descPackets, prometheus.CounterValue, float64(t.PacketsOut), "out")
	ch <- prometheus.MustNewConstMetric(descLost, prometheus.CounterValue, float64(t.Lost))
	ch <- prometheus.MustNewConstMetric(descLate, prometheus.CounterValue, float64(t.Late))
	ch <- prometheus.MustNewConstMetric(descConcealed, prometheus.CounterValue, float64(t.Concealed))
	ch <- prometheus.MustNewConstMetric(descIgnored, prometheus.CounterValue, float64(t.Ignored))
	ch <- prometheus.MustNewConstMetric(descStrangers, prometheus.CounterValue, float64(t.Strangers))
	ch <- prometheus.MustNewConstMetric(descSessions, prometheus.GaugeValue, float64(live))
	ch <- prometheus.MustNewConstMetric(descJitter, prometheus.GaugeValue, jitter.Seconds())

	counts, sum, late := mixer.Lateness()
	buckets := make(map[float64]uint64, len(mixer.LatenessBuckets))
	var cum uint64
	for i, ub := range mixer.LatenessBuckets {
		cum += counts[i]
		buckets[ub.Seconds()] = cum
	}
	total := cum + counts[len(counts)-1]
	ch <- prometheus.MustNewConstHistogram(descLateness, total, sum.Seconds(), buckets)
	ch <- prometheus.MustNewConstMetric(descLateTicks, prometheus.CounterValue, float64(late))
}
