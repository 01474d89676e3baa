package sip_test

// Meetings run from the keypad over SIP: phones (sipgo + RTP) press keys as
// RFC 4733 events, talk in tones and record what they hear. Prompts are
// tones of their own (prompttest), so what each caller was told is measured
// with Goertzel like everything else.

import (
	"context"
	"testing"
	"time"

	"brygga/conference"
	"brygga/media/codec"
	"brygga/phone"
	"brygga/prompts"
	"brygga/prompts/prompttest"
)

const meetingYAML = `
open_rooms: ""
defaults:
  names: false
directory:
  - {extension: "4711", pin: "2468", host_pin: "97531"}
  - {extension: "6000", pin: "2468", host_pin: "97531", lobby: true}
  - {extension: "7000", pin: "2468", host_pin: "97531", names: true}
`

func startMeetingBridge(t *testing.T) *bridge {
	lib, err := prompttest.Library()
	if err != nil {
		t.Fatal(err)
	}
	return startBridge(t, meetingYAML, withConference(func(o *conference.Options) { o.Prompts = lib }))
}

// caller dials ext, talks at freq and keys the PIN; it does not wait.
func caller(t *testing.T, b *bridge, name, ext string, freq float64, pin string) *phone.Call {
	t.Helper()
	c := dial(t, newPhone(t, name, codec.PCMU), b.target(ext))
	c.SetSource(toneSource(freq))
	if err := c.SendDigits(pin + "#"); err != nil {
		t.Fatal(err)
	}
	return c
}

// joinedCount is how many of the room's participants are in the mix.
func waitJoined(t *testing.T, b *bridge, ext string, n int) {
	t.Helper()
	waitFor(t, "participants in the mix", 20*time.Second, func() bool { return participants(b, ext) == n })
}

// press keys and wait until the caller heard the prompt that answers them.
func press(t *testing.T, c *phone.Call, keys, answer string) {
	t.Helper()
	mark := c.Mark()
	if err := c.SendDigits(keys); err != nil {
		t.Fatal(err)
	}
	heard(t, c, mark, answer)
}

func heard(t *testing.T, c *phone.Call, mark int, prompt string) {
	t.Helper()
	waitFor(t, "the caller hears "+prompt, 10*time.Second, func() bool {
		return prompttest.Heard(c.ReceivedSince(mark), prompt)
	})
}

// listenAll records the calls for d, after the prompts of the last step
// have passed.
func listenAll(d time.Duration, calls ...*phone.Call) [][]int16 {
	time.Sleep(800 * time.Millisecond)
	return listen(d, calls...)
}

func TestMutedCallerIsNotHeardButHears(t *testing.T) {
	b := startMeetingBridge(t)
	a := caller(t, b, "a", "4711", 500, "2468")
	m := caller(t, b, "m", "4711", 700, "2468")
	waitJoined(t, b, "4711", 2)
	press(t, m, "*6", prompts.Muted)
	got := listenAll(2*time.Second, a, m)
	checkHears(t, "a, with m muted", got[0], nil, []float64{700})
	checkHears(t, "m, muted", got[1], []float64{500}, []float64{700})
	if prompttest.Heard(a.Received(), prompts.Muted) {
		t.Error("the other caller heard the private mute prompt")
	}
	press(t, m, "*6", prompts.Unmuted)
	got = listenAll(2*time.Second, a)
	checkHears(t, "a, with m unmuted", got[0], []float64{700}, []float64{500})
}

func TestLectureOnlyHostsUntilTheFloor(t *testing.T) {
	b := startMeetingBridge(t)
	h := caller(t, b, "h", "4711", 500, "97531")
	p := caller(t, b, "p", "4711", 700, "2468")
	q := caller(t, b, "q", "4711", 1100, "2468")
	waitJoined(t, b, "4711", 3)

	mark := p.Mark()
	press(t, h, "*4", prompts.LectureOn)
	heard(t, p, mark, prompts.LectureOn) // said to the whole room
	got := listenAll(2*time.Second, h, p, q)
	checkHears(t, "host in lecture", got[0], nil, []float64{700, 1100})
	checkHears(t, "p in lecture", got[1], []float64{500}, []float64{1100})
	checkHears(t, "q in lecture", got[2], []float64{500}, []float64{700})
	press(t, p, "*6", prompts.LectureMuted) // cannot unmute itself

	mark = h.Mark()
	press(t, p, "*5", prompts.HandRaised)
	heard(t, h, mark, prompts.HasRaisedHand)
	mark = p.Mark()
	if err := h.SendDigits("*5"); err != nil {
		t.Fatal(err)
	}
	heard(t, p, mark, prompts.FloorGiven)
	got = listenAll(2*time.Second, h, q)
	checkHears(t, "host after giving p the floor", got[0], []float64{700}, []float64{1100})
	checkHears(t, "q after p got the floor", got[1], []float64{500, 700}, []float64{1100})
}

func TestLobbyCallerNeitherHearsNorIsHeardUntilAdmitted(t *testing.T) {
	b := startMeetingBridge(t)
	h := caller(t, b, "h", "6000", 500, "97531")
	waitJoined(t, b, "6000", 1)
	mark := h.Mark()
	p := caller(t, b, "p", "6000", 700, "2468")
	heard(t, p, 0, prompts.LobbyWait)
	heard(t, h, mark, prompts.LobbyHasJoin)
	got := listenAll(2*time.Second, h, p)
	checkHears(t, "host with p in the lobby", got[0], nil, []float64{700})
	checkHears(t, "p in the lobby", got[1], nil, []float64{500})
	if participants(b, "6000") != 1 {
		t.Fatal("the lobby caller is counted in the room")
	}
	press(t, h, "*8", prompts.LobbyAdmitted)
	waitJoined(t, b, "6000", 2)
	got = listenAll(2*time.Second, h, p)
	checkHears(t, "host after admitting p", got[0], []float64{700}, []float64{500})
	checkHears(t, "p admitted", got[1], []float64{500}, []float64{700})
}

func TestLockedRoomRefusesParticipantAdmitsHost(t *testing.T) {
	b := startMeetingBridge(t)
	h := caller(t, b, "h", "4711", 500, "97531")
	waitJoined(t, b, "4711", 1)
	press(t, h, "*7", prompts.LockedNow)

	p := caller(t, b, "p", "4711", 700, "2468")
	heard(t, p, 0, prompts.Locked)
	select {
	case <-p.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("a participant at the locked door was not hung up")
	}
	h2 := caller(t, b, "h2", "4711", 1100, "97531")
	waitJoined(t, b, "4711", 2)
	got := listenAll(2*time.Second, h, h2)
	checkHears(t, "host", got[0], []float64{1100}, []float64{500, 700})
	checkHears(t, "second host", got[1], []float64{500}, []float64{1100})
}

func TestRecordedNameIsAnnounced(t *testing.T) {
	b := startMeetingBridge(t)
	h := caller(t, b, "h", "7000", 500, "97531")
	heard(t, h, 0, prompts.RecordName)
	time.Sleep(500 * time.Millisecond)
	if err := h.SendDigits("#"); err != nil { // no name: caller ID instead
		t.Fatal(err)
	}
	waitJoined(t, b, "7000", 1)
	h.SetSource(nil)

	// p says a 900 Hz "name" after the beep, ends it with #, then is quiet.
	p := dial(t, newPhone(t, "p", codec.PCMU), b.target("7000"))
	if err := p.SendDigits("2468#"); err != nil {
		t.Fatal(err)
	}
	heard(t, p, 0, prompts.RecordName)
	time.Sleep(400 * time.Millisecond) // the beep
	p.SetSource(toneSource(900))
	time.Sleep(1500 * time.Millisecond)
	p.SetSource(nil)
	time.Sleep(300 * time.Millisecond)
	mark := h.Mark()
	if err := p.SendDigits("#"); err != nil {
		t.Fatal(err)
	}
	heard(t, h, mark, prompts.HasJoin)
	waitJoined(t, b, "7000", 2)
	time.Sleep(time.Second)
	announcement := h.ReceivedSince(mark)
	after := listenAll(2*time.Second, h)[0]

	// The name is in the announcement, and nowhere after it: p is silent.
	checkHears(t, "host during the announcement", announcement, []float64{900}, nil)
	checkHears(t, "host after the announcement", after, nil, []float64{900})

	mark = h.Mark()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	heard(t, h, mark, prompts.HasLeft)
	time.Sleep(500 * time.Millisecond)
	checkHears(t, "host hearing p leave", h.ReceivedSince(mark), []float64{900}, nil)
}
