package conference

import (
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"brygga/events"
	"brygga/prompts"
	"brygga/scheduler"
)

// fakeMeetings is one scheduled meeting in room 4711 with PIN 555111,
// open from 10 minutes before start to its end.
type fakeMeetings struct {
	m ScheduledMeeting
}

func (f fakeMeetings) state(now time.Time) MeetingState {
	switch {
	case now.Before(f.m.Start.Add(-10 * time.Minute)):
		return NotYet
	case now.After(f.m.End):
		return Ended
	}
	return Open
}

func (f fakeMeetings) Lookup(room, pin string, now time.Time) (ScheduledMeeting, MeetingState) {
	if room != "4711" || pin != "555111" {
		return ScheduledMeeting{}, NoMeeting
	}
	return f.m, f.state(now)
}

func (f fakeMeetings) Current(room string, now time.Time) (ScheduledMeeting, bool) {
	return f.m, room == "4711" && f.state(now) == Open
}

func scheduledBridge(t *testing.T, m ScheduledMeeting) (*Bridge, *events.Subscription, *clockwork.FakeClock) {
	t.Helper()
	fc := clockwork.NewFakeClockAt(time.Date(2026, 11, 23, 13, 0, 0, 0, time.UTC))
	sched, err := scheduler.New(fc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sched.Close() })
	b, sub := meetingBridge(t, func(o *Options) {
		o.Scheduler = sched
		o.Meetings = fakeMeetings{m}
	})
	return b, sub, fc
}

// The meeting's PIN lets a caller in during its window, and the limit
// counts from the booked start, not from the first caller.
func TestScheduledMeetingPINInItsWindow(t *testing.T) {
	start := time.Date(2026, 11, 23, 13, 5, 0, 0, time.UTC) // 5 minutes after "now": early join
	b, sub, _ := scheduledBridge(t, ScheduledMeeting{ID: "m-1", Summary: "Budget", Start: start, End: start.Add(30 * time.Minute), Record: true})
	rc := room4711
	rc.Voicemail = "sip:4711@vm.example.org"
	rc.Settings.MaxMinutes = 60
	p := enter(t, b, rc, "p", "", "555111#")
	if m, _ := member(b, "4711", "p"); m.Role != "participant" {
		t.Fatalf("role %q, want participant", m.Role)
	}
	end, err := b.Extend("4711", 0)
	if err != nil || !end.Equal(start.Add(60*time.Minute)) {
		t.Fatalf("meeting ends %v (%v), want the booked start + 60 minutes", end, err)
	}
	// The invite said [record]: the room records from the first caller.
	hears(t, p, 0, prompts.NowRecording)
	if e := nextEvent(t, sub, events.RecordingStarted, ""); e.Data["automatic"] != true {
		t.Fatalf("event %+v", e)
	}
	// The room's own PIN still works beside the meeting's.
	enter(t, b, rc, "q", "", "2468#")
}

// Outside its window the meeting's PIN gets the spoken notice and a
// hang-up, not "invalid PIN" and another try.
func TestScheduledMeetingPINOutsideItsWindow(t *testing.T) {
	for _, c := range []struct {
		name  string
		start time.Time
	}{
		{"not yet", time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)},
		{"ended", time.Date(2026, 11, 23, 11, 0, 0, 0, time.UTC)},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, _, _ := scheduledBridge(t, ScheduledMeeting{ID: "m-1", Start: c.start, End: c.start.Add(time.Hour)})
			call := newFakeCall(t, "x", "")
			done := serve(b, call, room4711, "")
			call.press("555111#")
			hears(t, call, 0, prompts.NotOpen)
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				t.Fatal("caller not hung up after the notice")
			}
			notHeard(t, call, 0, prompts.InvalidPin)
			if !call.hungUp.Load() {
				t.Fatal("the bridge did not hang up")
			}
		})
	}
}

// One-step dial-in (4711*PIN) with a meeting's PIN.
func TestScheduledMeetingPINDialled(t *testing.T) {
	start := time.Date(2026, 11, 23, 13, 0, 0, 0, time.UTC)
	b, _, _ := scheduledBridge(t, ScheduledMeeting{ID: "m-1", Start: start, End: start.Add(time.Hour)})
	call := newFakeCall(t, "d", "")
	serve(b, call, room4711, "555111")
	waitUntil(t, "in the room", func() bool { return joined(b, "4711", "d") })
	if m, ok := member(b, "4711", "d"); !ok || m.Role != "participant" {
		t.Fatalf("member %+v %v", m, ok)
	}
}
