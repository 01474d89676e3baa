package interop

import (
	"bufio"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Metrics reads the bridge's /metrics into "name{labels}" → value.
func Metrics(t *testing.T, b *Bridge) map[string]float64 {
	t.Helper()
	c := http.Client{Timeout: 5 * time.Second}
	res, err := c.Get(b.API + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer res.Body.Close()
	m := map[string]float64{}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			m[line[:i]] = v
		}
	}
	return m
}

// MemberCount is the number of participants the admin API lists in the room
// (0 when it has no live conference).
func MemberCount(t *testing.T, b *Bridge) int {
	t.Helper()
	c, code := GetConference(t, b, WallToken, RoomExt)
	if code != 200 {
		return 0
	}
	return len(c.Members)
}

// MetricValue is one sample of the bridge's /metrics ("" labels: the
// unlabelled one); 0 when absent.
func MetricValue(t *testing.T, b *Bridge, name, labels string) float64 {
	t.Helper()
	return Metrics(t, b)[name+labels]
}
