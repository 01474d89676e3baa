package main

import (
	"regexp"
	"strings"
	"testing"
)

// A started bridge answers on its API and metrics listeners to its
// addresses, api.hosts and the host of recordings.link_url, and refuses a
// rebound name with 421, /metrics included.
func TestServeChecksHost(t *testing.T) {
	yaml := "api:\n  hosts: [brygga.test]\n  metrics: 127.0.0.1:0\n" +
		"recordings:\n  link_url: https://links.example.org/brygga\n"
	s := serveConfig(t, yaml, "31320-31329")
	m := regexp.MustCompile(`metrics listening on (http://\S+)`).FindStringSubmatch(s.out.String())
	if m == nil {
		t.Fatalf("no metrics listener reported:\n%s", s.out.String())
	}
	metricsURL := m[1]
	get := func(url, host string) int {
		t.Helper()
		code, _ := call(t, "GET", url, "", host, "")
		return code
	}
	for _, c := range []struct {
		url, host string
		want      int
	}{
		{s.api + "/healthz", "", 200},
		{s.api + "/healthz", "brygga.test", 200},
		{s.api + "/healthz", "links.example.org:443", 200},
		{s.api + "/healthz", "localhost", 200},
		{s.api + "/healthz", "evil.example", 421},
		{s.api + "/api/v1/openapi.json", "evil.example", 421},
		{metricsURL + "/metrics", "", 200},
		{metricsURL + "/metrics", "brygga.test", 200},
		{metricsURL + "/metrics", "evil.example", 421},
	} {
		if got := get(c.url, c.host); got != c.want {
			t.Errorf("%s Host %q: %d, want %d", c.url, c.host, got, c.want)
		}
	}
	if got := get(strings.Replace(metricsURL, "127.0.0.1", "localhost", 1)+"/metrics", ""); got != 200 {
		t.Errorf("metrics by localhost: %d", got)
	}
}
