package interop

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// postCalendar books through the admin API: POST /api/v1/schedules with a
// text/calendar body. It returns the status and the outcomes.
func postCalendar(t *testing.T, b *Bridge, ics string) (int, []map[string]any) {
	t.Helper()
	req, err := http.NewRequest("POST", b.API+"/api/v1/schedules", strings.NewReader(ics))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+OpsToken)
	req.Header.Set("Content-Type", "text/calendar; charset=utf-8")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var out []map[string]any
	if res.StatusCode == 200 {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("schedules POST: %v in %s", err, raw)
		}
	} else {
		t.Logf("schedules POST: %d %s", res.StatusCode, raw)
	}
	return res.StatusCode, out
}

// dialsInto dials room keying keys and reports whether the caller got in
// (is listed by the API) within a generous bound, or was sent away; the
// call is hung up after.
func dialsInto(t *testing.T, b *Bridge, room, user, keys string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	call := DialIn(ctx, t, b, room, user, keys, 0)
	defer call.Hangup(ctx)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var conf struct {
			Members []struct {
				CallerID string `json:"caller_id"`
			}
		}
		if APICall(t, b, OpsToken, "GET", "/api/v1/conferences/"+room, "", &conf) == 200 {
			for _, m := range conf.Members {
				if m.CallerID == user {
					return true
				}
			}
		}
		select {
		case <-call.Done():
			return false // sent away
		case <-time.After(300 * time.Millisecond):
		}
	}
	return false
}
