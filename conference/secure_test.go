package conference

import (
	"testing"
	"time"

	"brygga/prompts"
)

// TestSensitiveRoomNeedsSecureCall: a call that is not TLS+SRTP hears
// "this conference requires a secure connection" and is hung up before a
// PIN is asked for, counted as insecure; a secure call to the same room
// is asked for its PIN and gets in.
func TestSensitiveRoomNeedsSecureCall(t *testing.T) {
	var results []string
	b, _ := meetingBridge(t, func(o *Options) {
		o.OnCallResult = func(r string) { results = append(results, r) }
	})
	rc := room4711
	rc.Sensitive = true

	plain := newFakeCall(t, "plain", "")
	done := serve(b, plain, rc, "")
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("an insecure call to a sensitive room was not hung up")
	}
	if !plain.hungUp.Load() {
		t.Fatal("not hung up")
	}
	hears(t, plain, 0, prompts.SecureRequired)
	notHeard(t, plain, 0, prompts.GetPin)
	if len(results) != 1 || results[0] != "insecure" {
		t.Fatalf("call results %v, want [insecure]", results)
	}

	sec := newFakeCall(t, "secure", "")
	sec.secure = true
	serve(b, sec, rc, "")
	hears(t, sec, 0, prompts.GetPin)
	sec.press("2468#")
	waitUntil(t, "secure caller in the room", func() bool { return joined(b, "4711", "secure") })
	notHeard(t, sec, 0, prompts.SecureRequired)
}

// TestSensitiveMeetingNeedsSecureCall: a room that is not sensitive in
// the directory is while a sensitive scheduled meeting's window is open.
func TestSensitiveMeetingNeedsSecureCall(t *testing.T) {
	start := time.Date(2026, 11, 23, 13, 5, 0, 0, time.UTC)
	b, _, _ := scheduledBridge(t, ScheduledMeeting{ID: "m-s", Start: start, End: start.Add(30 * time.Minute), Sensitive: true})
	plain := newFakeCall(t, "plain", "")
	done := serve(b, plain, room4711, "")
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("an insecure call during a sensitive meeting was not hung up")
	}
	hears(t, plain, 0, prompts.SecureRequired)
}
