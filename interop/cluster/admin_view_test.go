package cluster

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"brygga/ctl"
	"brygga/internal/pgtest"
	"brygga/interop"
	"brygga/media/tone"
)

// The API and ctl of node a show a room live on node b, naming b; an
// operator's mute sent to a is carried out on b: b shows the member
// muted, and the other caller, who heard the muted one before, no longer
// does. The audit line is written on b, naming a.
func TestClusterAdminViewAcrossNodes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a, b := startPair(t, 500*time.Millisecond)
	// Node a's event stream, from before the calls to b.
	streamA := eventStream(ctx, t, a, 0)

	const talkerTone, listenerTone = 600.0, 1300.0
	room := "sip:" + interop.RoomExt + "@" + b.SIP
	talker := interop.DialPhone(ctx, t, room, "talker", talkerTone, interop.RoomPIN+"#")
	listener := interop.DialPhone(ctx, t, room, "listener", listenerTone, interop.RoomPIN+"#")
	talkerID := interop.WaitMember(t, b, "talker").ID
	interop.WaitMember(t, b, "listener")

	// a's stream carries b's events: the talker's join, and after it
	// the events b's own stream, resumed after the join's id, gives
	// under the same ids.
	joined := streamA.await(t, func(e streamEvent) bool {
		return e.Type == "participant.joined" && e.Node == "b" && e.Room == interop.RoomExt && e.Participant == talkerID
	})
	onB := eventStream(ctx, t, b, joined.ID).await(t, func(streamEvent) bool { return true })
	if onA := streamA.await(t, func(e streamEvent) bool { return e.ID > joined.ID }); onA != onB {
		t.Fatalf("after id %d, a's stream has %+v, b's %+v", joined.ID, onA, onB)
	}

	// The list on a holds b's room, with b named.
	var list []interop.Conference
	if code := interop.APICall(t, a, interop.WallToken, "GET", "/api/v1/conferences", "", &list); code != 200 {
		t.Fatalf("GET /api/v1/conferences on a: %d", code)
	}
	if len(list) != 1 || list[0].Room != interop.RoomExt || list[0].Node != "b" {
		t.Fatalf("a's list %+v, want room %s on node b", list, interop.RoomExt)
	}
	var one interop.Conference
	if code := interop.APICall(t, a, interop.WallToken, "GET", "/api/v1/conferences/"+interop.RoomExt, "", &one); code != 200 || one.Node != "b" || len(one.Members) != 2 {
		t.Fatalf("GET the room on a: %d %+v", code, one)
	}

	// ctl against a gives the same answer.
	var out, errs strings.Builder
	env := map[string]string{"BRYGGA_API": a.API, "BRYGGA_TOKEN": interop.WallToken}
	if code := ctl.Run(ctx, []string{"conferences"}, func(k string) string { return env[k] }, &out, &errs); code != ctl.ExitOK {
		t.Fatalf("brygga ctl conferences against a: exit %d, %s", code, errs.String())
	}
	if lines := strings.Split(strings.TrimSpace(out.String()), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[1], "b ") ||
		!strings.Contains(lines[1], interop.RoomExt) {
		t.Fatalf("brygga ctl conferences against a:\n%s", out.String())
	}

	// The listener hears the talker …
	heardWhile := func(d time.Duration) []int16 {
		mark := listener.Mark()
		time.Sleep(d)
		return listener.ReceivedSince(mark)
	}
	deadline := time.Now().Add(20 * time.Second)
	for tone.Power(heardWhile(time.Second), talkerTone, interop.SampleRate) < interop.PresentMin {
		if time.Now().After(deadline) {
			t.Fatal("the listener never heard the talker")
		}
	}
	// … an operator mutes the talker through a …
	path := fmt.Sprintf("/api/v1/conferences/%s/participants/%s/mute", interop.RoomExt, talkerID)
	if code := interop.APICall(t, a, interop.OpsToken, "POST", path, "", nil); code != 200 {
		t.Fatalf("mute through a: %d", code)
	}
	var state interop.Conference
	interop.APICall(t, b, interop.WallToken, "GET", "/api/v1/conferences/"+interop.RoomExt, "", &state)
	for _, m := range state.Members {
		if m.ID == talkerID && !m.Muted {
			t.Fatalf("b does not show the talker muted: %+v", state.Members)
		}
	}
	// … and the listener no longer hears the talker, who goes on talking.
	time.Sleep(500 * time.Millisecond)
	if p := tone.Power(heardWhile(2*time.Second), talkerTone, interop.SampleRate); p > interop.AbsentMax {
		t.Fatalf("the listener still hears the muted talker at %.1f dBFS", p)
	}
	select {
	case <-talker.Done():
		t.Fatal("the talker's call ended")
	default:
	}

	audit := func(bridge *interop.Bridge, want string) {
		t.Helper()
		if log := interop.TailLines(bridge.LogFile, 2000); !strings.Contains(log, want) {
			t.Errorf("no %q in the log of %s", want, bridge.API)
		}
	}
	streamA.await(t, func(e streamEvent) bool {
		return e.Type == "participant.muted" && e.Node == "b" && e.Participant == talkerID
	})
	audit(b, `action=mute room=`+interop.RoomExt+` participant=`+talkerID+` via=a status=200`)
	audit(a, `action=mute room=`+interop.RoomExt+` participant=`+talkerID+` forwarded_to=b status=200`)

	// Node a restarts: a client resuming there gets what it missed under
	// the same ids, and new events go on from the ids before.
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	a = interop.StartBridgeAt(t, a.At)
	resumed := eventStream(ctx, t, a, joined.ID)
	if e := resumed.await(t, func(streamEvent) bool { return true }); e != onB {
		t.Fatalf("resumed after %d on the restarted a: %+v, want %+v", joined.ID, e, onB)
	}
	newest := streamA.seen[len(streamA.seen)-1].ID
	hctx, hcancel := context.WithTimeout(ctx, 5*time.Second)
	defer hcancel()
	if err := talker.Hangup(hctx); err != nil {
		t.Fatal(err)
	}
	if left := resumed.await(t, func(e streamEvent) bool {
		return e.Type == "participant.left" && e.Participant == talkerID
	}); left.ID <= newest || left.Node != "b" {
		t.Fatalf("the talker's leaving after a's restart: %+v; ids before went up to %d", left, newest)
	}
}

// streamEvent is an event as the stream's data line has it.
type streamEvent struct {
	ID          uint64 `json:"id"`
	Type        string `json:"type"`
	Room        string `json:"room"`
	Participant string `json:"participant"`
	Node        string `json:"node"`
}

type stream struct {
	events chan streamEvent
	seen   []streamEvent
}

// eventStream opens b's /api/v1/events, resuming after after (0: none),
// for the rest of the test.
func eventStream(ctx context.Context, t *testing.T, b *interop.Bridge, after uint64) *stream {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", b.API+"/api/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+interop.WallToken)
	if after > 0 {
		req.Header.Set("Last-Event-ID", fmt.Sprint(after))
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	if res.StatusCode != 200 {
		t.Fatalf("events on %s: %d", b.API, res.StatusCode)
	}
	s := &stream{events: make(chan streamEvent, 256)}
	go func() {
		defer close(s.events)
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var e streamEvent
				if json.Unmarshal([]byte(data), &e) == nil && e.ID != 0 {
					s.events <- e
				}
			}
		}
	}()
	return s
}

// await returns the first event that matches, waiting up to 15 s.
func (s *stream) await(t *testing.T, match func(streamEvent) bool) streamEvent {
	t.Helper()
	timeout := time.After(15 * time.Second)
	for {
		select {
		case e, ok := <-s.events:
			if !ok {
				t.Fatalf("the event stream ended; saw %+v", s.seen)
			}
			s.seen = append(s.seen, e)
			if match(e) {
				return e
			}
		case <-timeout:
			t.Fatalf("no such event within 15 s; saw %+v", s.seen)
		}
	}
}

// /readyz answers 503 while the store's PostgreSQL is down and 200 again
// once it is back, with the bridge running throughout.
func TestClusterReadyzFollowsTheStore(t *testing.T) {
	pg := pgtest.Own(t)
	b := interop.StartBridgeIn(t, t.TempDir(), clusterConfig(pg.URL(t), "a", 500*time.Millisecond))
	ready := func() int {
		c := http.Client{Timeout: 5 * time.Second}
		res, err := c.Get(b.API + "/readyz")
		if err != nil {
			t.Fatalf("/readyz: %v", err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	waitReady := func(want int, within time.Duration) {
		t.Helper()
		deadline := time.Now().Add(within)
		for got := ready(); got != want; got = ready() {
			if time.Now().After(deadline) {
				t.Fatalf("/readyz still %d after %s, want %d", got, within, want)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	waitReady(http.StatusOK, 5*time.Second)
	pg.Stop(t)
	waitReady(http.StatusServiceUnavailable, 10*time.Second)
	pg.Start(t)
	waitReady(http.StatusOK, 30*time.Second)
}
