package interop

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"brygga/media/tone"
	"brygga/phone"
)

// TestAdminAPIControlsALiveCall: the real binary with a Go phone in the
// room. An operator lists the conference, mutes and kicks the phone
// through the API; a viewer may look but not act; the event stream and
// /metrics show what happened.
func TestAdminAPIControlsALiveCall(t *testing.T) {
	b := StartBridge(t)
	if code := APICall(t, b, "", "GET", "/healthz", "", nil); code != 200 {
		t.Fatalf("healthz %d", code)
	}
	if code := APICall(t, b, "", "GET", "/api/v1/conferences", "", nil); code != 401 {
		t.Fatalf("conferences without a token: %d, want 401", code)
	}

	// The event stream, from before the call.
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", b.API+"/api/v1/events?room="+RoomExt, nil)
	req.Header.Set("Authorization", "Bearer "+WallToken)
	stream, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Body.Close()
	if stream.StatusCode != 200 {
		t.Fatalf("events: %d", stream.StatusCode)
	}
	types := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(stream.Body)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
				types <- v
			}
		}
		close(types)
	}()

	// A listener joins first, then the phone the operator will mute and
	// kick, talking at 1400 Hz.
	lph, err := phone.New(ctx, phone.Config{User: "listener", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer lph.Close()
	listener, err := lph.Dial(ctx, "sip:"+RoomExt+"@"+b.SIP)
	if err != nil {
		t.Fatal(err)
	}
	if err := listener.SendDigits(RoomPIN + "#"); err != nil {
		t.Fatal(err)
	}
	var conf Conference
	waitMembers := func(n int) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for len(conf.Members) != n {
			if time.Now().After(deadline) {
				t.Fatalf("GET /api/v1/conferences/%s never showed %d members: %+v", RoomExt, n, conf.Members)
			}
			time.Sleep(300 * time.Millisecond)
			conf.Members = nil
			APICall(t, b, WallToken, "GET", "/api/v1/conferences/"+RoomExt, "", &conf)
		}
	}
	waitMembers(1)
	listenerID := conf.Members[0].ID

	ph, err := phone.New(ctx, phone.Config{User: "apiphone", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer ph.Close()
	call, err := ph.Dial(ctx, "sip:"+RoomExt+"@"+b.SIP)
	if err != nil {
		t.Fatal(err)
	}
	call.SetSource(Sine(1400))
	if err := call.SendDigits(RoomPIN + "#"); err != nil {
		t.Fatal(err)
	}

	waitMembers(2)
	var id string
	for _, m := range conf.Members {
		if m.ID != listenerID {
			id = m.ID
			if m.Role != "participant" {
				t.Errorf("role %q", m.Role)
			}
		}
	}
	// The listener hears the talker before the mute …
	heardWhile := func(d time.Duration) []int16 {
		mark := listener.Mark()
		time.Sleep(d)
		return listener.ReceivedSince(mark)
	}
	deadline := time.Now().Add(20 * time.Second)
	for tone.Power(heardWhile(time.Second), 1400, SampleRate) < PresentMin {
		if time.Now().After(deadline) {
			t.Fatal("the listener never heard the talker")
		}
	}
	path := fmt.Sprintf("/api/v1/conferences/%s/participants/%s/", RoomExt, id)
	if code := APICall(t, b, WallToken, "POST", path+"mute", "", nil); code != 403 {
		t.Fatalf("a viewer muting: %d, want 403", code)
	}
	if code := APICall(t, b, OpsToken, "POST", path+"mute", "", nil); code/100 != 2 {
		t.Fatalf("an operator muting: %d", code)
	}
	conf.Members = nil
	APICall(t, b, WallToken, "GET", "/api/v1/conferences/"+RoomExt, "", &conf)
	for _, m := range conf.Members {
		if m.ID == id && !m.Muted {
			t.Fatalf("after mute: %+v", conf.Members)
		}
	}
	// … and not after it, though it goes on talking.
	time.Sleep(500 * time.Millisecond)
	if p := tone.Power(heardWhile(2*time.Second), 1400, SampleRate); p > AbsentMax {
		t.Fatalf("the listener still hears the muted talker at %.1f dBFS", p)
	}
	if code := APICall(t, b, OpsToken, "POST", path+"kick", "", nil); code/100 != 2 {
		t.Fatalf("an operator kicking: %d", code)
	}
	select {
	case <-call.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("the kicked phone got no BYE")
	}

	want := []string{"participant.joined", "participant.joined", "participant.muted", "participant.kicked", "participant.left"}
	var seen []string
	timeout := time.After(15 * time.Second)
	for len(want) > 0 {
		select {
		case typ, ok := <-types:
			if !ok {
				t.Fatalf("event stream ended; saw %v, still waiting for %v", seen, want)
			}
			seen = append(seen, typ)
			if typ == want[0] {
				want = want[1:]
			}
		case <-timeout:
			t.Fatalf("events seen %v, still waiting for %v", seen, want)
		}
	}

	res, err := http.Get(b.API + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, line := range []string{`brygga_calls_total{result="answered"} 2`, `brygga_prompt_plays_total{prompt="conf-welcome"}`} {
		if !strings.Contains(string(raw), line) {
			t.Errorf("/metrics has no %q", line)
		}
	}
}
