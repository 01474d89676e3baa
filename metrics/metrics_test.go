package metrics

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"brygga/media"
	"brygga/media/codec"
)

func scrapeText(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("metrics: %d", rec.Code)
	}
	return rec.Body.String()
}

func TestScrape(t *testing.T) {
	m := New(func() (int, int, int) { return 2, 7, 3 })
	m.CallResult("answered")
	m.CallResult("answered")
	m.CallResult("bad_pin")
	m.PromptPlayed("conf-getpin")
	m.Refused("foreign_source")

	// One live RTP session that has sent three packets.
	s, err := media.NewSession(media.SessionConfig{SignalIP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.SetRemote(media.Remote{Addr: s.LocalAddr(), Codec: codec.PCMU, Send: true})
	s.Start()
	for range 3 {
		s.WritePCM(make([]int16, 160))
	}

	api := m.API(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	}))
	api.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/x", nil))
	ok := m.API(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "fine") }))
	ok.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/y", nil))

	text := scrapeText(t, m)
	for _, want := range []string{
		`brygga_calls_total{result="answered"} 2`,
		`brygga_calls_total{result="bad_pin"} 1`,
		`brygga_calls_total{result="failed"} 0`,
		`brygga_prompt_plays_total{prompt="conf-getpin"} 1`,
		`brygga_api_requests_total{code="418"} 1`,
		`brygga_api_requests_total{code="200"} 1`,
		`brygga_conferences 2`,
		`brygga_participants{where="room"} 7`,
		`brygga_participants{where="lobby"} 3`,
		`brygga_mixer_tick_lateness_seconds_bucket{le="0.02"}`,
		`brygga_rtp_sessions`,
		`brygga_rtp_stranger_packets_total`,
		`brygga_sip_refused_total{reason="foreign_source"} 1`,
		`brygga_sip_refused_total{reason="media_address"} 0`,
		`go_goroutines`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("no %q in the scrape", want)
		}
	}
	if !strings.Contains(text, `brygga_rtp_packets_total{direction="out"}`) {
		t.Fatal("no RTP packets out")
	}
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, `brygga_rtp_packets_total{direction="out"} `) && strings.HasSuffix(line, " 0") {
			t.Errorf("RTP packets out not counted: %s", line)
		}
	}
}

func TestStoreErrors(t *testing.T) {
	m := New(nil)
	if text := scrapeText(t, m); !strings.Contains(text, "brygga_store_errors_total 0\n") {
		t.Error("brygga_store_errors_total is not present at 0 from the start")
	}
	m.StoreError()
	m.StoreError()
	if text := scrapeText(t, m); !strings.Contains(text, "brygga_store_errors_total 2\n") {
		t.Error("two store errors not counted")
	}
}
