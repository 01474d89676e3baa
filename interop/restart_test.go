package interop

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRestartLosesNothingStored: a meeting booked through the API, a room
// PIN changed through the API, and a recording whose delivery keeps
// failing are all in the store; the bridge is killed (SIGKILL) and started
// again on the same data: the booking is listed and its PIN lets a caller
// in, the new room PIN works and the old one does not, and the recording
// is delivered once its voicemail spool works.
func TestRestartLosesNothingStored(t *testing.T) {
	dir := t.TempDir()
	spool := filepath.Join(dir, "spool")
	mailbox := filepath.Join(spool, "default", "4713")
	if err := os.MkdirAll(spool, 0o750); err != nil {
		t.Fatal(err)
	}
	// The mailbox's context folder is a file: every delivery attempt fails
	// (and is retried) until an operator mends the spool.
	blocker := filepath.Join(spool, "default")
	if err := os.WriteFile(blocker, []byte("not a folder\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	cfg := deliveryConfig("spool:"+mailbox, "") +
		`  - {extension: "4714", name: "Kari Nordmann", email: kari.nordmann@example.org, pin: "2468", host_pin: "97531"}` + "\n"
	b := StartBridgeIn(t, dir, cfg)

	// A booking through the API, open now (inside early join).
	soon := time.Now().Truncate(time.Minute).Add(5 * time.Minute)
	invite := outlookInvite("040000008200E00074C5B7101A82E00800000000R1", "Restartmøte", soon)
	_, ics, _ := strings.Cut(invite, "\r\n\r\n")
	code, outs := postCalendar(t, b, ics)
	if code != 200 || len(outs) != 1 || outs[0]["room"] != "4714" || outs[0]["pin"] == nil {
		t.Fatalf("booking: %d %v", code, outs)
	}
	meetingPIN := outs[0]["pin"].(string)

	// A new room PIN through the API.
	body := `{"name": "Kari Nordmann", "email": "kari.nordmann@example.org", "pin": "1357"}`
	if code := APICall(t, b, OpsToken, "PUT", "/api/v1/rooms/4714", body, nil); code != 200 && code != 201 {
		t.Fatalf("PUT /api/v1/rooms/4714: %d", code)
	}

	// A recording whose delivery fails and stays queued.
	id := hostRecords(t, b)
	var rec map[string]any
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		rec = nil
		APICall(t, b, OpsToken, "GET", "/api/v1/recordings/"+id, "", &rec)
		if rec["state"] == "pending" && rec["attempts"].(float64) >= 1 {
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	if rec["state"] != "pending" || rec["attempts"].(float64) < 1 {
		t.Fatalf("recording before the kill: %v; want a failed attempt, still pending", rec)
	}
	t.Logf("before the kill: %v", rec)

	b.Kill(t)
	b = StartBridgeIn(t, dir, cfg)

	// The booking and its PIN.
	var list []struct {
		UID, Room, State string
		OwnPIN           bool `json:"own_pin"`
	}
	if code := APICall(t, b, OpsToken, "GET", "/api/v1/schedules", "", &list); code != 200 || len(list) != 1 ||
		list[0].Room != "4714" || list[0].State != "active" || !list[0].OwnPIN {
		t.Fatalf("schedules after the restart: %d %+v", code, list)
	}
	if !dialsInto(t, b, "4714", "guest", meetingPIN+"#") {
		t.Error("the booked meeting's PIN does not let a caller in after the restart")
	}
	// The room PIN as the API set it, not as the file first seeded it.
	var room map[string]any
	if code := APICall(t, b, OpsToken, "GET", "/api/v1/rooms/4714", "", &room); code != 200 || room["has_pin"] != true {
		t.Fatalf("room after the restart: %d %v", code, room)
	}
	if !dialsInto(t, b, "4714", "member", "1357#") {
		t.Error("the PIN set through the API does not let a caller in after the restart")
	}
	// Three tries of the old one: refused each time, then sent away.
	if dialsInto(t, b, "4714", "former", strings.Repeat(RoomPIN+"#", 3)) {
		t.Error("the room's old PIN still lets a caller in after the restart")
	}

	// The delivery is still queued, and goes through once the spool works
	// (at its next attempt, after the back-off).
	rec = nil
	if code := APICall(t, b, OpsToken, "GET", "/api/v1/recordings/"+id, "", &rec); code != 200 ||
		rec["state"] != "pending" || rec["attempts"].(float64) < 1 || rec["last_error"] == "" {
		t.Fatalf("recording after the restart: %d %v", code, rec)
	}
	if err := os.Remove(blocker); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(3 * time.Minute) // the first back-off is a minute
	for time.Now().Before(deadline) {
		rec = nil
		APICall(t, b, OpsToken, "GET", "/api/v1/recordings/"+id, "", &rec)
		if rec["state"] != "pending" {
			break
		}
		time.Sleep(time.Second)
	}
	if rec["state"] != "delivered" {
		t.Fatalf("recording not delivered once the spool works: %v", rec)
	}
	msgs := SpoolMessages(t, mailbox)
	if len(msgs) != 1 {
		t.Fatalf("%d messages in the spool, want 1", len(msgs))
	}
	wav, err := os.ReadFile(strings.TrimSuffix(msgs[0], ".txt") + ".wav")
	if err != nil {
		t.Fatal(err)
	}
	checkRecorded(t, wav)
}

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
		if c, code := GetConference(t, b, OpsToken, room); code == 200 && c.Has(user) {
			return true
		}
		select {
		case <-call.Done():
			return false // sent away
		case <-time.After(300 * time.Millisecond):
		}
	}
	return false
}
