package conference

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"brygga/conference/keypad"
	"brygga/config"
	"brygga/events"
	"brygga/pin"
	"brygga/prompts"
)

// describe renders effects compactly so table rows can say what must happen:
// "me: conf-muted", "room: @b conf-hasjoin", "hosts: …", "admit b",
// "hangup b", "end", "event participant.muted b".
func describe(fx []effect, me string) []string {
	var out []string
	for _, e := range fx {
		var who string
		switch e.kind {
		case toMember:
			who = e.to + ":"
			if e.to == me {
				who = "me:"
			}
		case toRoom:
			who = "room:"
		case toHosts:
			who = "hosts:"
		case admit:
			out = append(out, "admit "+e.to)
			continue
		case hangUp:
			out = append(out, "hangup "+e.to)
			continue
		case endAll:
			out = append(out, "end")
			continue
		case emit:
			out = append(out, strings.TrimSpace("event "+e.event.Type+" "+e.event.Participant))
			continue
		}
		parts := []string{who}
		for _, c := range e.clips {
			switch {
			case c.prompt != "":
				parts = append(parts, c.prompt)
			case c.nameOf != "":
				parts = append(parts, "@"+c.nameOf)
			case c.isNum:
				parts = append(parts, fmt.Sprint(c.number))
			case c.tone != "":
				parts = append(parts, "tone:"+c.tone)
			}
		}
		out = append(out, strings.Join(parts, " "))
	}
	return out
}

func settings(mod func(*config.RoomSettings)) config.Room {
	rc := config.Room{Extension: "4711", Settings: config.RoomSettings{Language: "en", Names: true, NamesMaxRoom: 10, MaxMinutes: 60}}
	if mod != nil {
		mod(&rc.Settings)
	}
	return rc
}

// meeting builds a state with participants: "h" a host, others participants.
func meeting(rc config.Room, ids ...string) *state {
	s := newState(rc)
	for _, id := range ids {
		role := pin.Participant
		if strings.HasPrefix(id, "h") {
			role = pin.Host
		}
		s.arrive(id, "555"+id, role, true)
	}
	return s
}

func TestKeypadCommands(t *testing.T) {
	type row struct {
		name  string
		setup func() *state
		who   string
		cmd   keypad.Command
		want  []string
		check func(t *testing.T, s *state)
	}
	plain := func() *state { return meeting(settings(nil), "h", "a", "b") }
	lecture := func() *state { s := plain(); s.lecture = true; return s }
	rows := []row{
		{"help participant", plain, "a", keypad.Help, []string{"me: conf-help conf-help-hand"}, nil},
		{"help host", plain, "h", keypad.Help, []string{"me: conf-help conf-help-host"}, nil},
		{"roll call", plain, "a", keypad.RollCall, []string{"me: conf-rollcall @h @a @b conf-roll-callcomplete"}, nil},
		{"count participant", plain, "a", keypad.Count, []string{"me: conf-thereare 3 confbridge-participants"}, nil},
		{"count alone", func() *state { return meeting(settings(nil), "a") }, "a", keypad.Count, []string{"me: conf-onlyperson"}, nil},
		{"count host with lobby", func() *state {
			s := meeting(settings(func(r *config.RoomSettings) { r.Lobby = true }), "h", "a", "b")
			return s
		}, "h", keypad.Count, []string{"me: conf-onlyperson vm-and 2 conf-inlobby"}, nil},
		{"count participant does not hear the lobby", func() *state {
			s := meeting(settings(nil), "h", "a")
			s.cfg.Settings.Lobby = true
			s.arrive("w", "", pin.Participant, false)
			return s
		}, "a", keypad.Count, []string{"me: conf-thereare 2 confbridge-participants"}, nil},
		{"mute", plain, "a", keypad.Mute, []string{"me: conf-muted", "event participant.muted a"}, func(t *testing.T, s *state) {
			if s.canTalk("a") {
				t.Error("muted participant can talk")
			}
		}},
		{"unmute", func() *state { s := plain(); s.members["a"].muted = true; return s }, "a", keypad.Mute,
			[]string{"me: conf-unmuted", "event participant.unmuted a"}, func(t *testing.T, s *state) {
				if !s.canTalk("a") {
					t.Error("unmuted participant cannot talk")
				}
			}},
		{"unmute refused in lecture", lecture, "a", keypad.Mute, []string{"me: conf-lecture-muted"}, func(t *testing.T, s *state) {
			if s.canTalk("a") {
				t.Error("participant talks in lecture mode")
			}
		}},
		{"host talks in lecture", lecture, "h", keypad.Mute, []string{"me: conf-muted", "event participant.muted h"}, nil},
		{"lecture on", plain, "h", keypad.Lecture, []string{"room: conf-lecture-on", "event conference.lecture h"}, func(t *testing.T, s *state) {
			if s.canTalk("a") || !s.canTalk("h") {
				t.Error("lecture: participants must be muted, hosts not")
			}
		}},
		{"lecture off", lecture, "h", keypad.Lecture, []string{"room: conf-lecture-off", "event conference.lecture h"}, func(t *testing.T, s *state) {
			if !s.canTalk("a") {
				t.Error("lecture off: participant still muted")
			}
		}},
		{"lecture refused to participant", plain, "a", keypad.Lecture, []string{"me: conf-errormenu"}, nil},
		{"raise hand", plain, "a", keypad.Hand, []string{"me: conf-handraised", "hosts: @a conf-hasraisedhand", "event participant.hand a"}, func(t *testing.T, s *state) {
			if !s.members["a"].hand || len(s.hands) != 1 {
				t.Error("hand not raised")
			}
		}},
		{"lower hand", func() *state { s := plain(); s.command("a", keypad.Hand); return s }, "a", keypad.Hand,
			[]string{"me: conf-handlowered", "event participant.hand a"}, func(t *testing.T, s *state) {
				if len(s.hands) != 0 {
					t.Error("hand still queued")
				}
			}},
		{"host gives the floor in lecture", func() *state {
			s := lecture()
			s.command("b", keypad.Hand)
			s.command("a", keypad.Hand)
			return s
		}, "h", keypad.Hand, []string{"me: @b", "b: conf-floorgiven", "event participant.floor b", "event participant.hand b"}, func(t *testing.T, s *state) {
			if !s.canTalk("b") || s.canTalk("a") {
				t.Error("floor: the first hand (b) talks, the second (a) waits")
			}
		}},
		{"no hands", plain, "h", keypad.Hand, []string{"me: conf-nohands"}, nil},
		{"lock", plain, "h", keypad.Lock, []string{"me: conf-lockednow", "event conference.locked h"}, nil},
		{"unlock", func() *state { s := plain(); s.locked = true; return s }, "h", keypad.Lock, []string{"me: conf-unlockednow", "event conference.locked h"}, nil},
		{"lock refused to participant", plain, "a", keypad.Lock, []string{"me: conf-errormenu"}, nil},
		{"admit empty lobby", plain, "h", keypad.Admit, []string{"me: conf-lobbyempty"}, nil},
		{"admit lobby", func() *state { return meeting(settings(func(r *config.RoomSettings) { r.Lobby = true }), "h", "a") }, "h", keypad.Admit,
			[]string{"me: conf-lobbyadmitted", "admit a", "room: @a conf-hasjoin", "event participant.joined a", "event participant.admitted a"},
			func(t *testing.T, s *state) {
				if s.isLobby("a") || !s.canTalk("a") {
					t.Error("admitted participant still in the lobby")
				}
			}},
		{"admit refused to participant", plain, "a", keypad.Admit, []string{"me: conf-errormenu"}, nil},
		{"record start", plain, "h", keypad.Record, []string{"room: conf-now-recording", "event recording.started h"}, nil},
		{"record stop", func() *state { s := plain(); s.recording = true; return s }, "h", keypad.Record, []string{"room: conf-recording-stopped", "event recording.stopped h"}, nil},
		{"record refused in sensitive room", func() *state { s := plain(); s.cfg.Sensitive = true; return s }, "h", keypad.Record, []string{"me: conf-recording-refused"}, func(t *testing.T, s *state) {
			if s.recording {
				t.Error("sensitive room recording")
			}
		}},
		{"record refused to participant", plain, "a", keypad.Record, []string{"me: conf-errormenu"}, nil},
		{"end asks to confirm", plain, "h", keypad.EndAsk, []string{"me: conf-endconfirm"}, nil},
		{"end", plain, "h", keypad.End, []string{"room: confbridge-conf-end goodbye", "event conference.ended h", "end"}, nil},
		{"end refused to participant", plain, "a", keypad.End, []string{"me: conf-errormenu"}, nil},
		{"invalid", plain, "a", keypad.Invalid, []string{"me: conf-errormenu"}, nil},
		{"lobby keys do nothing", func() *state { return meeting(settings(func(r *config.RoomSettings) { r.Lobby = true }), "h", "a") }, "a", keypad.Help, nil, nil},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			s := r.setup()
			got := describe(s.command(r.who, r.cmd), r.who)
			if !slices.Equal(got, r.want) {
				t.Errorf("effects\n got %q\nwant %q", got, r.want)
			}
			if r.check != nil {
				r.check(t, s)
			}
		})
	}
}

func TestArrivals(t *testing.T) {
	t.Run("announced by name to the others", func(t *testing.T) {
		s := meeting(settings(nil), "a")
		fx, refused := s.arrive("b", "555", pin.Participant, true)
		if want := []string{"room: @b conf-hasjoin", "event participant.joined b"}; refused || !slices.Equal(describe(fx, "b"), want) {
			t.Fatalf("%q", describe(fx, "b"))
		}
	})
	t.Run("first caller is not announced", func(t *testing.T) {
		s := newState(settings(nil))
		fx, _ := s.arrive("a", "", pin.Participant, true)
		if want := []string{"event participant.joined a"}; !slices.Equal(describe(fx, "a"), want) {
			t.Fatalf("%q", describe(fx, "a"))
		}
	})
	t.Run("tone above names_max_room", func(t *testing.T) {
		s := meeting(settings(func(r *config.RoomSettings) { r.NamesMaxRoom = 2 }), "a", "b")
		fx, _ := s.arrive("c", "", pin.Participant, true)
		if got := describe(fx, "c"); got[0] != "room: tone:join" {
			t.Fatalf("%q", got)
		}
	})
	t.Run("tone when names are off", func(t *testing.T) {
		s := meeting(settings(func(r *config.RoomSettings) { r.Names = false }), "a")
		fx, _ := s.arrive("b", "", pin.Participant, false)
		if got := describe(fx, "b"); got[0] != "room: tone:join" {
			t.Fatalf("%q", got)
		}
	})
	t.Run("locked room refuses a participant", func(t *testing.T) {
		s := meeting(settings(nil), "h")
		s.locked = true
		fx, refused := s.arrive("a", "", pin.Participant, true)
		if want := []string{"me: conf-locked goodbye", "hangup a"}; !refused || !slices.Equal(describe(fx, "a"), want) {
			t.Fatalf("refused %v %q", refused, describe(fx, "a"))
		}
		if _, ok := s.members["a"]; ok {
			t.Fatal("refused caller counted as a member")
		}
	})
	t.Run("locked room admits a host", func(t *testing.T) {
		s := meeting(settings(nil), "h")
		s.locked = true
		if _, refused := s.arrive("h2", "", pin.Host, true); refused {
			t.Fatal("host refused by a locked room")
		}
	})
	t.Run("lobby holds participants, tells hosts", func(t *testing.T) {
		s := meeting(settings(func(r *config.RoomSettings) { r.Lobby = true }), "h")
		fx, _ := s.arrive("a", "555", pin.Participant, true)
		want := []string{"me: conf-lobbywait", "hosts: @a conf-lobbyhasjoin", "event participant.lobby a"}
		if !slices.Equal(describe(fx, "a"), want) || !s.isLobby("a") || s.canTalk("a") {
			t.Fatalf("%q lobby %v", describe(fx, "a"), s.isLobby("a"))
		}
	})
	t.Run("wait for host: host's arrival admits everyone", func(t *testing.T) {
		s := meeting(settings(func(r *config.RoomSettings) { r.WaitForHost = true }), "a", "b")
		if !s.isLobby("a") || !s.isLobby("b") {
			t.Fatal("participants should wait for the host")
		}
		fx, _ := s.arrive("h", "", pin.Host, true)
		got := describe(fx, "h")
		for _, want := range []string{"a: confbridge-conf-begin", "admit a", "admit b"} {
			if !slices.Contains(got, want) {
				t.Errorf("missing %q in %q", want, got)
			}
		}
		if s.isLobby("a") || s.isLobby("b") {
			t.Fatal("still waiting after the host came")
		}
	})
	t.Run("wait for host: first prompt", func(t *testing.T) {
		s := newState(settings(func(r *config.RoomSettings) { r.WaitForHost = true }))
		fx, _ := s.arrive("a", "", pin.Participant, true)
		if got := describe(fx, "a"); got[0] != "me: conf-waitforleader" {
			t.Fatalf("%q", got)
		}
	})
}

func TestLeaving(t *testing.T) {
	t.Run("announced by name", func(t *testing.T) {
		s := meeting(settings(nil), "a", "b")
		got := describe(s.leave("b"), "")
		if want := []string{"room: @b conf-hasleft", "event participant.left b"}; !slices.Equal(got, want) {
			t.Fatalf("%q", got)
		}
	})
	t.Run("last one out says nothing", func(t *testing.T) {
		s := meeting(settings(nil), "a")
		if got := describe(s.leave("a"), ""); !slices.Equal(got, []string{"event participant.left a"}) {
			t.Fatalf("%q", got)
		}
	})
	t.Run("room carries on when the host leaves", func(t *testing.T) {
		s := meeting(settings(nil), "h", "a")
		if slices.Contains(describe(s.leave("h"), ""), "end") {
			t.Fatal("meeting ended although end_with_host is off")
		}
	})
	t.Run("end with host", func(t *testing.T) {
		s := meeting(settings(func(r *config.RoomSettings) { r.EndWithHost = true }), "h", "a")
		got := describe(s.leave("h"), "")
		if !slices.Contains(got, "room: conf-leaderhasleft confbridge-conf-end goodbye") || !slices.Contains(got, "end") {
			t.Fatalf("%q", got)
		}
	})
	t.Run("a leaving hand is forgotten", func(t *testing.T) {
		s := meeting(settings(nil), "h", "a")
		s.command("a", keypad.Hand)
		s.leave("a")
		if got := describe(s.command("h", keypad.Hand), "h"); !slices.Equal(got, []string{"me: conf-nohands"}) {
			t.Fatalf("%q", got)
		}
	})
}

func TestKeysThroughReader(t *testing.T) {
	s := meeting(settings(nil), "h", "a")
	t0 := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	if fx := s.key("a", '*', t0); fx != nil {
		t.Fatalf("star alone did something: %q", describe(fx, "a"))
	}
	if got := describe(s.key("a", '6', t0), "a"); got[0] != "me: conf-muted" {
		t.Fatalf("*6: %q", got)
	}
	s.key("h", '*', t0)
	s.key("h", '0', t0)
	s.key("h", '*', t0.Add(time.Second))
	if got := describe(s.key("h", '0', t0.Add(2*time.Second)), "h"); !slices.Contains(got, "end") {
		t.Fatalf("*0*0: %q", got)
	}
}

func TestWarnings(t *testing.T) {
	s := meeting(settings(nil), "a")
	if got := describe(s.warn(5*time.Minute), ""); got[0] != "room: "+prompts.EndsIn5 || got[1] != "event "+events.ConferenceWarning {
		t.Fatalf("%q", got)
	}
	if got := describe(s.warn(time.Minute), ""); got[0] != "room: "+prompts.EndsIn1 {
		t.Fatalf("%q", got)
	}
}
