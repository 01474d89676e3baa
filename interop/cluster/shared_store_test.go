package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"brygga/internal/pgtest"
	"brygga/interop"
	"brygga/phone"
)

// sharedStoreConfig is three bridges' config: one PostgreSQL store, the
// guesser's address (127.0.0.66) not trusted, and a lockout after
// lockFailures wrong PINs from one address.
func sharedStoreConfig(url string, lockFailures int) string {
	return interop.BridgeConfig + fmt.Sprintf(`store:
  url: %q
sip:
  trusted: ["127.0.0.1/32"]
  pin_lockout: {failures: %d, room_failures: 100, window: 10m, lock: 10m}
`, url, lockFailures)
}

// A guesser spreading wrong PINs over three bridges sharing one
// PostgreSQL store is locked out on all three at the count one bridge
// would lock it at, and the lock is logged once.
func TestClusterPINGuessingSpreadOverThreeBridges(t *testing.T) {
	const failures = 4
	cfg := sharedStoreConfig(pgtest.URL(t), failures)
	nodes := startNodes(t, nil, cfg, cfg, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	guesser, err := phone.New(ctx, phone.Config{LocalIP: netip.MustParseAddr("127.0.0.66"), User: "guesser",
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer guesser.Close()

	type lock struct {
		Scope, Key string
		Failures   int
	}
	locks := func(b *interop.Bridge) []lock {
		var out []lock
		if code := interop.APICall(t, b, interop.OpsToken, "GET", "/api/v1/lockouts", "", &out); code != 200 {
			t.Fatalf("GET /api/v1/lockouts: %d", code)
		}
		return out
	}
	// guess makes one call to b with one wrong PIN and hangs up once b
	// has counted it (logged "wrong pin") or refused it.
	guess := func(b *interop.Bridge) (refused bool) {
		t.Helper()
		before := strings.Count(b.Log(), `msg="wrong pin"`)
		refusedBefore := strings.Count(b.Log(), `msg="pin locked out"`)
		call, err := guesser.Dial(ctx, "sip:"+interop.RoomExt+"@"+b.SIP)
		if err != nil {
			t.Fatal(err)
		}
		defer call.Hangup(ctx)
		if err := call.SendDigits("9999#"); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			log := b.Log()
			if strings.Count(log, `msg="wrong pin"`) > before {
				return false
			}
			if strings.Count(log, `msg="pin locked out"`) > refusedBefore {
				return true
			}
		}
		t.Fatalf("bridge %s neither counted nor refused the wrong PIN within 20 s", b.SIP)
		return false
	}

	for i := range failures - 1 {
		if guess(nodes[i%3]) {
			t.Fatalf("try %d refused", i+1)
		}
	}
	for i, b := range nodes {
		if l := locks(b); len(l) != 0 {
			t.Fatalf("bridge %d lists %+v after %d of %d failures", i, l, failures-1, failures)
		}
	}
	if guess(nodes[(failures-1)%3]) {
		t.Fatalf("try %d refused", failures)
	}
	for i, b := range nodes {
		l := locks(b)
		if len(l) != 1 || l[0].Scope != "source" || l[0].Key != "127.0.0.66" || l[0].Failures != failures {
			t.Errorf("bridge %d lists %+v, want the guesser locked after %d failures", i, l, failures)
		}
	}
	logged := 0
	for _, b := range nodes {
		logged += strings.Count(b.Log(), `msg="pin lockout"`)
	}
	if logged != 1 {
		t.Errorf("%d pin lockout lines over the three bridges, want 1", logged)
	}
	// Every bridge now refuses the guesser before checking a PIN.
	for i, b := range nodes {
		if !guess(b) {
			t.Errorf("bridge %d checked a PIN of the locked guesser", i)
		}
	}
	// Lifted through one bridge's API, the lock is gone on all.
	if code := interop.APICall(t, nodes[2], interop.OpsToken, "DELETE", "/api/v1/lockouts/source/127.0.0.66", "", nil); code/100 != 2 {
		t.Fatalf("lift: %d", code)
	}
	for i, b := range nodes {
		if l := locks(b); len(l) != 0 {
			t.Errorf("bridge %d still lists %+v after the lift", i, l)
		}
	}
	if guess(nodes[0]) {
		t.Error("the guesser is still refused after the lift")
	}
}

// A bridge killed while recording leaves its recording to itself: the two
// others, sharing its PostgreSQL store, neither repair nor deliver it, not
// even one starting meanwhile.
// Started again, it repairs and delivers it once. Then, with all three up,
// a meeting recorded on each is delivered exactly once.
func TestClusterRecordingsDeliveredOnce(t *testing.T) {
	url := pgtest.URL(t)
	spool := t.TempDir()
	mailbox := filepath.Join(spool, "default", "4712")
	cfg := interop.RecordingConfig(mailbox) + fmt.Sprintf("store:\n  url: %q\n", url)
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	var nodes []*interop.Bridge
	for _, d := range dirs {
		nodes = append(nodes, interop.StartBridgeIn(t, d, cfg))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	interop.DialIn(ctx, t, nodes[0], "4712", "interop", interop.RoomPIN+"#", 700)
	id := interop.RecordingUnderway(t, nodes[0], dirs[0], 2)
	nodes[0].Kill(t)
	// A bridge starting meanwhile repairs what it finds unfinished: its
	// own recordings, not the one on the killed bridge's disk.
	if err := nodes[1].Stop(); err != nil {
		t.Fatal(err)
	}
	nodes[1] = interop.StartBridgeIn(t, dirs[1], cfg)
	time.Sleep(3 * time.Second) // the others' queues have looked
	for _, b := range nodes[1:] {
		var rec map[string]any
		if code := interop.APICall(t, b, interop.OpsToken, "GET", "/api/v1/recordings/"+id, "", &rec); code != 200 || rec["state"] != "recording" {
			t.Fatalf("the killed bridge's recording, seen from another: %d %v", code, rec)
		}
	}
	if n := len(interop.SpoolMessages(t, mailbox)); n != 0 {
		t.Fatalf("%d messages before the killed bridge restarted", n)
	}

	nodes[0] = interop.StartBridgeIn(t, dirs[0], cfg)
	interop.WaitDelivered(t, nodes[0], id)

	// One meeting on each bridge at once.
	var calls []*phone.Call
	for _, b := range nodes {
		calls = append(calls, interop.DialIn(ctx, t, b, "4712", "interop", interop.RoomPIN+"#", 700))
	}
	var recs []map[string]any
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		recs = nil
		interop.APICall(t, nodes[1], interop.OpsToken, "GET", "/api/v1/recordings", "", &recs)
		if len(recs) == 4 {
			break
		}
	}
	if len(recs) != 4 {
		t.Fatalf("recordings with a meeting on each bridge: %v", recs)
	}
	time.Sleep(2 * time.Second)
	for _, c := range calls {
		if err := c.Hangup(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range recs {
		interop.WaitDelivered(t, nodes[2], r["id"].(string))
	}
	time.Sleep(3 * time.Second) // time for a second delivery, were there one
	if msgs := interop.SpoolMessages(t, mailbox); len(msgs) != 4 {
		t.Errorf("%d messages in the spool for 4 recordings: %v", len(msgs), msgs)
	}
	recs = nil
	interop.APICall(t, nodes[0], interop.OpsToken, "GET", "/api/v1/recordings", "", &recs)
	for _, r := range recs {
		if r["state"] != "delivered" || r["attempts"] != float64(1) {
			t.Errorf("recording %v: %v after %v attempts, want delivered after 1", r["id"], r["state"], r["attempts"])
		}
	}
}
