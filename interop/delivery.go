package interop

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"brygga/media/tone"
	"brygga/phone"
	"brygga/prompts/prompttest"
	"brygga/recordings"
)

// deliveryConfig has room 4713 whose owner's voicemail is target.
func deliveryConfig(target, extra string) string {
	return fmt.Sprintf(`open_rooms: ""
defaults:
  names: false
api:
  tokens:
    - {name: interop-ops, token: "%s", role: operator}
%sdirectory:
  - {extension: "4713", name: "Kari Nordmann", language: nb, pin: "%s", host_pin: "%s", voicemail: "%s"}
`, OpsToken, extra, RoomPIN, RoomHostPIN, target)
}

// DialIn is a Go phone calling room as user: it says say Hz (0: silence)
// and keys keys as RFC 4733 events. The phone is closed when the test ends.
func DialIn(ctx context.Context, t *testing.T, b *Bridge, room, user, keys string, say float64) *phone.Call {
	t.Helper()
	ph, err := phone.New(ctx, phone.Config{User: user})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ph.Close() })
	call, err := ph.Dial(ctx, "sip:"+room+"@"+b.SIP)
	if err != nil {
		t.Fatal(err)
	}
	if say != 0 {
		var phase float64
		call.SetSource(func(pcm []int16) { tone.Sine(pcm, say, SampleRate, ToneAmp, &phase) })
	}
	if err := call.SendDigits(keys); err != nil {
		t.Fatal(err)
	}
	return call
}

// hostRecords dials room 4713 as its host, starts recording with *9, says
// 700 Hz for three seconds and hangs up, which ends the meeting. It returns
// the recording's ID.
func hostRecords(t *testing.T, b *Bridge) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	call := DialIn(ctx, t, b, "4713", "host", RoomHostPIN+"#", 0)
	var conf struct {
		Members []struct{ ID string }
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(conf.Members) == 0 && time.Now().Before(deadline) {
		time.Sleep(300 * time.Millisecond)
		APICall(t, b, OpsToken, "GET", "/api/v1/conferences/4713", "", &conf)
	}
	if len(conf.Members) == 0 {
		t.Fatal("the host never got into the room")
	}
	time.Sleep(time.Second) // past the joining prompt, into the mix
	if err := call.SendDigits("*9"); err != nil {
		t.Fatal(err)
	}
	var recs []map[string]any
	for len(recs) == 0 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		APICall(t, b, OpsToken, "GET", "/api/v1/recordings", "", &recs)
	}
	if len(recs) != 1 || recs[0]["state"] != "recording" {
		t.Fatalf("after *9: recordings %v", recs)
	}
	var phase float64
	call.SetSource(func(pcm []int16) { tone.Sine(pcm, 700, SampleRate, ToneAmp, &phase) })
	time.Sleep(3 * time.Second)
	if err := call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	return recs[0]["id"].(string)
}

// WaitDelivered polls the API until the recording is delivered.
func WaitDelivered(t *testing.T, b *Bridge, id string) map[string]any {
	t.Helper()
	var rec map[string]any
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		rec = nil
		APICall(t, b, OpsToken, "GET", "/api/v1/recordings/"+id, "", &rec)
		if rec["state"] == "delivered" || rec["state"] == "failed" {
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	if rec["state"] != "delivered" {
		t.Fatalf("recording not delivered: %v", rec)
	}
	return rec
}

// download fetches a recording's WAV through the API.
func download(t *testing.T, b *Bridge, id string) []byte {
	t.Helper()
	req, _ := http.NewRequest("GET", b.API+"/api/v1/recordings/"+id+"/audio", nil)
	req.Header.Set("Authorization", "Bearer "+OpsToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("audio: %d %s", res.StatusCode, body)
	}
	return body
}

// checkRecorded checks a delivered WAV: the host's three seconds of 700 Hz
// and the room's "now recording" announcement before them.
func checkRecorded(t *testing.T, wav []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "got.wav")
	os.WriteFile(path, wav, 0o600)
	pcm, err := recordings.ReadWAV(path)
	if err != nil {
		t.Fatalf("delivered audio: %v", err)
	}
	if s := float64(len(pcm)) / SampleRate; s < 3 || s > 15 {
		t.Errorf("delivered %.1f s for about 3 s of talk after *9", s)
	}
	if !prompttest.HeardTone(pcm, 700) {
		t.Error("the host's 700 Hz is not in the delivered recording")
	}
}

// toneSpan is how long freq is present in pcm, in 200 ms windows, and
// where it is first heard (-1: never).
func toneSpan(pcm []int16, freq float64) (span time.Duration, first int) {
	first = -1
	n := 0
	for i := 0; i+AnalysisWindow <= len(pcm); i += AnalysisWindow {
		if prompttest.HeardTone(pcm[i:i+AnalysisWindow], freq) {
			if first < 0 {
				first = i
			}
			n++
		}
	}
	return time.Duration(n) * time.Second / 5, first
}
