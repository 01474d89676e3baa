package conference

// Meetings run from the keypad, end to end through the conference package:
// real media sessions, the real clock, mixer and IVR; only SIP is left out
// (fakeCall). Every prompt that is not a number word is replaced by a tone
// of its own frequency, so "the host heard conf-hasraisedhand" is a
// Goertzel measurement of what reached the host's socket, not a look at
// the state.

import (
	"context"
	"errors"
	"testing"
	"time"

	"brygga/config"
	"brygga/events"
	"brygga/media/codec"
	"brygga/media/tone"
	"brygga/prompts"
	"brygga/prompts/prompttest"
	"brygga/scheduler"

	"github.com/jonboulle/clockwork"
	"github.com/pion/rtp"
)

func toneLibrary(t *testing.T) *prompts.Library {
	lib, err := prompttest.Library()
	if err != nil {
		t.Fatal(err)
	}
	return lib
}

// heardAt reports whether the caller heard freq after mark.
func heardAt(c *fakeCall, mark int, freq float64) bool {
	return prompttest.HeardTone(c.heardSince(mark), freq)
}

// hears waits until the caller has heard the prompt after mark.
func hears(t *testing.T, c *fakeCall, mark int, prompt string) {
	t.Helper()
	waitUntil(t, c.id+" hears "+prompt, func() bool { return prompttest.Heard(c.heardSince(mark), prompt) })
}

// notHeard checks, once the caller has heard something else that was said
// after it, that they did not hear the prompt.
func notHeard(t *testing.T, c *fakeCall, mark int, prompt string) {
	t.Helper()
	if prompttest.Heard(c.heardSince(mark), prompt) {
		t.Errorf("%s heard %s", c.id, prompt)
	}
}

// talk makes the caller send a steady tone (freq 0: stop) as 20 ms PCMU
// packets to the bridge's side of its session.
func (c *fakeCall) talk(t *testing.T, freq float64) {
	c.mu.Lock()
	if c.mouth != nil {
		close(c.mouth)
		c.mouth = nil
	}
	if freq == 0 {
		c.mu.Unlock()
		return
	}
	stop := make(chan struct{})
	c.mouth = stop
	c.mu.Unlock()
	to := c.sess.LocalAddr()
	go func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		var phase float64
		pcm := make([]int16, 160)
		pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SSRC: 0x1234 + uint32(len(c.id))}, Payload: make([]byte, 160)}
		for {
			select {
			case <-stop:
				return
			case <-c.done:
				return
			case <-tick.C:
			}
			tone.Sine(pcm, freq, 8000, 0.3, &phase)
			codec.PCMU.Encode(pkt.Payload, pcm)
			c.seq++
			pkt.SequenceNumber = c.seq
			pkt.Timestamp += 160
			b, _ := pkt.Marshal()
			c.ear.WriteToUDP(b, to)
		}
	}()
}

// inRoom is a participant's snapshot, or false when not in the room.
func member(b *Bridge, ext, id string) (MemberInfo, bool) {
	for _, r := range b.Rooms() {
		if r.Extension != ext {
			continue
		}
		for _, m := range r.Members {
			if m.ID == id {
				return m, true
			}
		}
	}
	return MemberInfo{}, false
}

func inMix(b *Bridge, ext, id string) bool {
	m, ok := member(b, ext, id)
	return ok && !m.Lobby && roleOf(b, ext, id) != ""
}

// meetingBridge is a bridge with the tone prompts and its event stream.
func meetingBridge(t *testing.T, mod func(*Options)) (*Bridge, *events.Subscription) {
	o := Options{Prompts: toneLibrary(t), PINTimeout: 10 * time.Second, Logger: slogDiscard()}
	if mod != nil {
		mod(&o)
	}
	b := New(o)
	_, _, sub := b.Events().Subscribe(0, "")
	t.Cleanup(func() { b.HangupAll(5 * time.Second); sub.Close() })
	return b, sub
}

// nextEvent waits for the next event of typ for participant id ("" any).
func nextEvent(t *testing.T, sub *events.Subscription, typ, id string) events.Event {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case e, ok := <-sub.C:
			if !ok {
				t.Fatalf("event stream closed waiting for %s", typ)
			}
			if e.Type == typ && (id == "" || e.Participant == id) {
				return e
			}
		case <-deadline:
			t.Fatalf("no %s event for %q", typ, id)
		}
	}
}

// enter dials the room with keys and waits until the caller is in the mix.
func enter(t *testing.T, b *Bridge, rc config.Room, id, callerID, keys string) *fakeCall {
	t.Helper()
	c := newFakeCall(t, id, callerID)
	// A sensitive room admits only TLS+SRTP calls (secure_test.go tests
	// the refusal); the tests of what such a room does come in securely.
	c.secure = rc.Sensitive
	serve(b, c, rc, "")
	c.press(keys)
	waitUntil(t, id+" in the room", func() bool {
		return inMix(b, rc.Extension, id) && b.live(rc.Extension).size() > 0 && joined(b, rc.Extension, id)
	})
	return c
}

// joined reports whether the participant is in the mixer itself (past the
// joining prompt).
func joined(b *Bridge, ext, id string) bool {
	r := b.live(ext)
	if r == nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.byID[id]
	return p != nil && p.member != nil
}

func TestKeypadInTheRoom(t *testing.T) {
	b, sub := meetingBridge(t, nil)
	h := enter(t, b, room4711, "h", "", "97531#")
	p := enter(t, b, room4711, "p", "", "2468#")

	// Each hears the other; *6 takes the participant out of the mix.
	p.talk(t, 700)
	mark := h.heardLen()
	waitUntil(t, "host hears the participant", func() bool { return heardAt(h, mark, 700) })
	mark, hmark := p.heardLen(), h.heardLen()
	p.press("*6")
	hears(t, p, mark, prompts.Muted)
	nextEvent(t, sub, events.ParticipantMuted, "p")
	if m, _ := member(b, "4711", "p"); !m.Muted {
		t.Fatal("not muted after *6")
	}
	time.Sleep(300 * time.Millisecond)
	hmark = h.heardLen()
	time.Sleep(600 * time.Millisecond)
	if heardAt(h, hmark, 700) {
		t.Fatal("host still hears the muted participant")
	}
	notHeard(t, h, 0, prompts.Muted) // private: the host never heard it
	mark = p.heardLen()
	p.press("*6")
	hears(t, p, mark, prompts.Unmuted)
	nextEvent(t, sub, events.ParticipantUnmute, "p")
	mark = h.heardLen()
	waitUntil(t, "host hears the unmuted participant", func() bool { return heardAt(h, mark, 700) })
	p.talk(t, 0)

	// Host-only keys are an invalid option for a participant; help differs.
	mark = p.heardLen()
	p.press("*7")
	hears(t, p, mark, prompts.InvalidOption)
	mark = p.heardLen()
	p.press("*1")
	hears(t, p, mark, prompts.HelpHand)
	mark = h.heardLen()
	h.press("*1")
	hears(t, h, mark, prompts.HelpHost)
	notHeard(t, h, mark, prompts.HelpHand)

	// Lecture: the participant is muted and cannot unmute; a raised hand
	// reaches the host, who gives the floor.
	mark, hmark = p.heardLen(), h.heardLen()
	h.press("*4")
	hears(t, p, mark, prompts.LectureOn)
	hears(t, h, hmark, prompts.LectureOn)
	if m, _ := member(b, "4711", "p"); !m.Muted {
		t.Fatal("participant not muted in lecture mode")
	}
	mark = p.heardLen()
	p.press("*6")
	hears(t, p, mark, prompts.LectureMuted)
	mark, hmark = p.heardLen(), h.heardLen()
	p.press("*5")
	hears(t, p, mark, prompts.HandRaised)
	hears(t, h, hmark, prompts.HasRaisedHand)
	if m, _ := member(b, "4711", "p"); !m.Hand {
		t.Fatal("hand not shown raised")
	}
	mark = p.heardLen()
	h.press("*5")
	hears(t, p, mark, prompts.FloorGiven)
	nextEvent(t, sub, events.ParticipantFloor, "p")
	if m, _ := member(b, "4711", "p"); m.Muted || m.Hand {
		t.Fatalf("after the floor: muted %v hand %v", m.Muted, m.Hand)
	}
	mark = p.heardLen()
	h.press("*4")
	hears(t, p, mark, prompts.LectureOff)

	// Count and roll call.
	mark = h.heardLen()
	h.press("*3")
	hears(t, h, mark, prompts.Participants)
	mark = p.heardLen()
	p.press("*2")
	hears(t, p, mark, prompts.RollCallComplete)

	// Lock: a newcomer is refused with the locked prompt and hung up.
	mark = h.heardLen()
	h.press("*7")
	hears(t, h, mark, prompts.LockedNow)
	nextEvent(t, sub, events.ConferenceLocked, "h")
	q := newFakeCall(t, "q", "")
	qdone := serve(b, q, room4711, "")
	q.press("2468#")
	hears(t, q, 0, prompts.Locked)
	select {
	case <-qdone:
	case <-time.After(10 * time.Second):
		t.Fatal("caller at the locked door not hung up")
	}
	mark = h.heardLen()
	h.press("*7")
	hears(t, h, mark, prompts.UnlockedNow)

	// Recording: the room hears it start and stop.
	mark = p.heardLen()
	h.press("*9")
	hears(t, p, mark, prompts.NowRecording)
	nextEvent(t, sub, events.RecordingStarted, "h")
	mark = p.heardLen()
	h.press("*9")
	hears(t, p, mark, prompts.RecordingStopped)

	// *0 asks, the second *0 ends the meeting for everyone.
	mark = h.heardLen()
	h.press("*0")
	hears(t, h, mark, prompts.EndConfirm)
	mark = p.heardLen()
	h.press("*0")
	hears(t, p, mark, prompts.ConfEnd)
	nextEvent(t, sub, events.ConferenceEnded, "h")
	waitUntil(t, "everyone hung up", func() bool { return p.hungUp.Load() && h.hungUp.Load() })
	hears(t, p, mark, prompts.Goodbye)
}

func TestLobbyAndAdmit(t *testing.T) {
	b, sub := meetingBridge(t, nil)
	rc := room4711
	rc.Settings.Lobby = true
	h := enter(t, b, rc, "h", "", "97531#")

	hmark := h.heardLen()
	p := newFakeCall(t, "p", "")
	serve(b, p, rc, "")
	p.press("2468#")
	hears(t, p, 0, prompts.LobbyWait)
	hears(t, h, hmark, prompts.LobbyHasJoin)
	nextEvent(t, sub, events.ParticipantLobby, "p")
	if m, ok := member(b, "4711", "p"); !ok || !m.Lobby {
		t.Fatal("participant not shown in the lobby")
	}
	// Quiet hold music in the lobby, and the room is not heard there.
	h.talk(t, 650)
	time.Sleep(time.Second)
	mark := p.heardLen()
	time.Sleep(2 * time.Second)
	if lvl := tone.Level(p.heardSince(mark)); lvl < -50 || lvl > -20 {
		t.Errorf("lobby hears %.1f dBFS: no quiet hold music", lvl)
	}
	if heardAt(p, mark, 650) {
		t.Error("the lobby hears the room")
	}

	mark = h.heardLen()
	h.press("*3")
	hears(t, h, mark, prompts.InLobby)
	mark = h.heardLen()
	h.press("*8")
	hears(t, h, mark, prompts.LobbyAdmitted)
	nextEvent(t, sub, events.ParticipantAdmit, "p")
	waitUntil(t, "admitted participant in the mix", func() bool { return joined(b, "4711", "p") })
	mark = p.heardLen()
	waitUntil(t, "admitted participant hears the host", func() bool { return heardAt(p, mark, 650) })
}

func TestWaitForHost(t *testing.T) {
	b, _ := meetingBridge(t, nil)
	rc := room4711
	rc.Settings.WaitForHost = true
	p := newFakeCall(t, "p", "")
	serve(b, p, rc, "")
	p.press("2468#")
	hears(t, p, 0, prompts.WaitForHost)
	time.Sleep(500 * time.Millisecond)
	if joined(b, "4711", "p") {
		t.Fatal("participant in the room before the host")
	}
	mark := p.heardLen()
	enter(t, b, rc, "h", "", "97531#")
	hears(t, p, mark, prompts.ConfBegin)
	waitUntil(t, "participant let in by the host's arrival", func() bool { return joined(b, "4711", "p") })
}

func TestNamesAnnounced(t *testing.T) {
	b, sub := meetingBridge(t, nil)
	rc := room4711
	rc.Settings.Names = true
	rc.Settings.NamesMaxRoom = 10

	// The host says nothing when asked: the room will read its caller ID.
	h := newFakeCall(t, "h", "")
	serve(b, h, rc, "")
	h.press("97531#")
	hears(t, h, 0, prompts.RecordName)
	waitUntil(t, "host in the room after the name timeout", func() bool { return joined(b, "4711", "h") })
	hears(t, h, 0, prompts.OnlyPerson)

	// The participant "says" a 900 Hz name and ends it with #.
	p := newFakeCall(t, "p", "4000")
	serve(b, p, rc, "")
	p.press("2468#")
	hears(t, p, 0, prompts.RecordName)
	p.talk(t, 900)
	time.Sleep(1500 * time.Millisecond)
	p.talk(t, 0)
	time.Sleep(300 * time.Millisecond)
	hmark := h.heardLen()
	p.press("#")
	hears(t, h, hmark, prompts.HasJoin)
	if !heardAt(h, hmark, 900) {
		t.Error("the room did not hear the recorded name")
	}
	e := nextEvent(t, sub, events.ParticipantJoined, "p")
	if e.Data["caller_id"] != "4000" {
		t.Errorf("joined event %v", e.Data)
	}
	if m, _ := member(b, "4711", "p"); !m.Named {
		t.Error("name not kept")
	}
	waitUntil(t, "participant in the mix", func() bool { return joined(b, "4711", "p") })

	// Leaving: the name again, then "has left"; the name is deleted.
	hmark = h.heardLen()
	p.Hangup()
	hears(t, h, hmark, prompts.HasLeft)
	if !heardAt(h, hmark, 900) {
		t.Error("the leave announcement has no name")
	}
	nextEvent(t, sub, events.ParticipantLeft, "p")

	// A caller with no name and no caller ID is "a caller".
	hmark = h.heardLen()
	q := newFakeCall(t, "q", "anonymous")
	serve(b, q, rc, "")
	q.press("2468#")
	hears(t, q, 0, prompts.RecordName)
	q.press("#")
	hears(t, h, hmark, prompts.UnknownCaller)
}

func TestAloneHearsHoldMusic(t *testing.T) {
	b, _ := meetingBridge(t, nil)
	a := enter(t, b, room4711, "a", "", "2468#")
	time.Sleep(500 * time.Millisecond)
	mark := a.heardLen()
	time.Sleep(2 * time.Second)
	if lvl := tone.Level(a.heardSince(mark)); lvl < -50 || lvl > -20 {
		t.Fatalf("alone in the room at %.1f dBFS: no quiet hold music", lvl)
	}
	enter(t, b, room4711, "b", "", "2468#")
	time.Sleep(1500 * time.Millisecond) // the join tone
	mark = a.heardLen()
	time.Sleep(time.Second)
	if lvl := tone.Level(a.heardSince(mark)); lvl > -60 {
		t.Fatalf("hold music goes on with two in the room (%.1f dBFS)", lvl)
	}
}

func TestTimeLimitWarnsAndEnds(t *testing.T) {
	fc := clockwork.NewFakeClock()
	sched, err := scheduler.New(fc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sched.Close() })
	b, sub := meetingBridge(t, func(o *Options) { o.Scheduler = sched })
	rc := room4711
	rc.Settings.MaxMinutes = 10
	rc.Settings.WarnMinutes = []int{5, 3, 1}
	a := enter(t, b, rc, "a", "", "2468#")
	c := enter(t, b, rc, "c", "", "2468#")
	if end, err := b.Extend("4711", 0); err != nil || !end.Equal(fc.Now().Add(10*time.Minute)) {
		t.Fatalf("meeting ends %v (%v), want in 10 minutes", end, err)
	}

	step := func(armed int, d time.Duration) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := fc.BlockUntilContext(ctx, armed); err != nil {
			t.Fatalf("limit timers not armed: %v", err)
		}
		fc.Advance(d)
	}
	mark := a.heardLen()
	step(4, 5*time.Minute)
	hears(t, a, mark, prompts.EndsIn5)
	if e := nextEvent(t, sub, events.ConferenceWarning, ""); e.Data["minutes_left"] != 5 {
		t.Fatalf("warning %v", e.Data)
	}
	// An operator gives the meeting five more minutes: the old end (at
	// 10 minutes) passes, and the warnings come again before the new one.
	end, err := b.Extend("4711", 5*time.Minute)
	if err != nil || !end.Equal(fc.Now().Add(10*time.Minute)) {
		t.Fatalf("extended end %v (%v), want in 10 minutes", end, err)
	}
	mark = a.heardLen()
	step(4, 5*time.Minute)
	hears(t, a, mark, prompts.EndsIn5)
	if a.hungUp.Load() || c.hungUp.Load() {
		t.Fatal("hung up at the old end after the meeting was extended")
	}
	mark = a.heardLen()
	step(3, 2*time.Minute)
	hears(t, a, mark, prompts.EndsIn)
	hears(t, a, mark, prompts.Minutes)
	mark = c.heardLen()
	step(2, 2*time.Minute)
	hears(t, c, mark, prompts.EndsIn1)
	mark = c.heardLen()
	step(1, time.Minute)
	hears(t, c, mark, prompts.ConfEnd)
	nextEvent(t, sub, events.ConferenceEnded, "")
	waitUntil(t, "everyone hung up at the limit", func() bool { return a.hungUp.Load() && c.hungUp.Load() })
}

// TestOperatorControls: what the admin API will call does what the keypad
// does, to the right person, with the same events.
func TestOperatorControls(t *testing.T) {
	b, sub := meetingBridge(t, nil)
	h := enter(t, b, room4711, "h", "", "97531#")
	p := enter(t, b, room4711, "p", "", "2468#")

	if err := b.Mute("9999", "p", true); !errors.Is(err, ErrNoRoom) {
		t.Fatalf("mute in a room with no meeting: %v", err)
	}
	if err := b.Mute("4711", "nobody", true); !errors.Is(err, ErrNoParticipant) {
		t.Fatalf("mute of an unknown participant: %v", err)
	}
	if err := b.Admit("4711", "p"); !errors.Is(err, ErrConflict) {
		t.Fatalf("admit of someone not in the lobby: %v", err)
	}
	if _, err := b.Extend("4711", time.Minute); !errors.Is(err, ErrConflict) {
		t.Fatalf("extend of a meeting without a limit: %v", err)
	}

	mark := p.heardLen()
	if err := b.Mute("4711", "p", true); err != nil {
		t.Fatal(err)
	}
	hears(t, p, mark, prompts.Muted)
	nextEvent(t, sub, events.ParticipantMuted, "p")

	mark = h.heardLen()
	if err := b.SetLecture("4711", true); err != nil {
		t.Fatal(err)
	}
	hears(t, h, mark, prompts.LectureOn)
	mark = p.heardLen()
	if err := b.GiveFloor("4711", "p"); err != nil {
		t.Fatal(err)
	}
	hears(t, p, mark, prompts.FloorGiven)
	if m, _ := member(b, "4711", "p"); m.Muted {
		t.Fatal("still muted after the floor was given")
	}

	if err := b.Lock("4711", true); err != nil {
		t.Fatal(err)
	}
	if e := nextEvent(t, sub, events.ConferenceLocked, ""); e.Data["locked"] != true {
		t.Fatalf("lock event %v", e.Data)
	}
	mark = p.heardLen()
	if err := b.SetRecording("4711", true); err != nil {
		t.Fatal(err)
	}
	hears(t, p, mark, prompts.NowRecording)
	ri, ok := b.Room("4711")
	if !ok || !ri.Locked || !ri.Lecture || !ri.Recording || ri.Started.IsZero() || ri.Participants != 2 || len(ri.Members) != 2 {
		t.Fatalf("room info %+v", ri)
	}

	mark = p.heardLen()
	if err := b.Kick("4711", "p"); err != nil {
		t.Fatal(err)
	}
	hears(t, p, mark, prompts.Kicked)
	nextEvent(t, sub, events.ParticipantKicked, "p")
	waitUntil(t, "kicked participant hung up", func() bool { return p.hungUp.Load() })
	nextEvent(t, sub, events.ParticipantLeft, "p")

	if err := b.End("4711"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "host hung up at the end", func() bool { return h.hungUp.Load() })
}

func TestSensitiveRoomRefusesRecording(t *testing.T) {
	b, _ := meetingBridge(t, nil)
	rc := room4711
	rc.Sensitive = true
	enter(t, b, rc, "h", "", "97531#")
	if err := b.SetRecording("4711", true); !errors.Is(err, ErrConflict) {
		t.Fatalf("recording a sensitive room: %v", err)
	}
	if ri, _ := b.Room("4711"); ri.Recording {
		t.Fatal("sensitive room shown as recording")
	}
}
