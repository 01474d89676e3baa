package conference

import (
	"slices"
	"time"

	"brygga/conference/keypad"
	"brygga/config"
	"brygga/events"
	"brygga/pin"
	"brygga/prompts"
)

// state is a meeting's rules without any I/O: who is in the room or its
// lobby, in which role, muted or with a hand raised; whether the room is
// locked, in lecture mode or recording. Every change returns the effects
// the room must carry out (prompts, announcements, admissions, hang-ups,
// events), so every keypad command in every role and state is tested
// without sockets (state_test.go).
type state struct {
	cfg     config.Room
	members map[string]*memberState
	order   []string // join order: roll call reads it
	hands   []string // raised hands, first raised first

	locked, lecture, recording bool
	autoRecorded               bool // `record: true` has started it once; a host may stop it for good

	// returning are the callers (by caller ID: true for a host) of a
	// meeting this room took over from a node that died; until
	// returnUntil they pass its lock, as they would have had their calls
	// not been cut.
	returning   map[string]bool
	returnUntil time.Time
	// carriedRecording: the recording on now was on before the takeover,
	// so the returning callers were told of it there.
	carriedRecording bool
}

// carried is a meeting's state as it passes from a dead node to the one
// that takes its room over.
type carried struct {
	locked, lecture, recording bool
	callers                    map[string]bool // caller ID: was a host
	until                      time.Time       // the callers may come back until then
}

type memberState struct {
	id       string
	callerID string
	role     pin.Role
	named    bool // a recorded name exists
	muted    bool // by themselves or by a host
	floor    bool // given the floor in lecture mode
	hand     bool
	lobby    bool
	keys     keypad.Reader
}

// clip is one piece of something said: a prompt, a participant's name
// (their recording, else their caller ID read as digits), a number, or a
// tone.
type clip struct {
	prompt string
	nameOf string
	number int
	isNum  bool
	tone   string // "join" or "leave"
}

func say(names ...string) []clip {
	out := make([]clip, len(names))
	for i, n := range names {
		out[i] = clip{prompt: n}
	}
	return out
}

func num(n int) clip { return clip{number: n, isNum: true} }

type effectKind int

const (
	toMember effectKind = iota // say clips to one participant (private)
	toRoom                     // announce clips to everyone in the room (not the lobby)
	toHosts                    // say clips to every host in the room
	admit                      // move a participant from the lobby into the room
	hangUp                     // end a participant's call (after what was said to them)
	endAll                     // end the meeting: everyone's call, after the room's goodbye
	emit                       // publish an event
)

type effect struct {
	kind  effectKind
	to    string
	clips []clip
	event events.Event
}

func private(id string, c ...clip) effect { return effect{kind: toMember, to: id, clips: c} }
func announce(c ...clip) effect           { return effect{kind: toRoom, clips: c} }
func event(typ, id string, data map[string]any) effect {
	return effect{kind: emit, event: events.Event{Type: typ, Participant: id, Data: data}}
}

func newState(rc config.Room) *state {
	return &state{cfg: rc, members: make(map[string]*memberState)}
}

// inRoom counts participants in the room proper (not the lobby).
func (s *state) inRoom() (n int) {
	for _, m := range s.members {
		if !m.lobby {
			n++
		}
	}
	return n
}

func (s *state) inLobby() (n int) { return len(s.members) - s.inRoom() }

func (s *state) hostPresent() bool {
	for _, m := range s.members {
		if m.role == pin.Host && !m.lobby {
			return true
		}
	}
	return false
}

// canTalk is whether the mixer may hear a participant.
func (s *state) canTalk(id string) bool {
	m := s.members[id]
	if m == nil || m.lobby || m.muted {
		return false
	}
	return !s.lecture || m.role == pin.Host || m.floor
}

// isLobby is whether a participant waits in the lobby.
func (s *state) isLobby(id string) bool {
	m := s.members[id]
	return m != nil && m.lobby
}

// useNames is whether joins and leaves are announced by name or by tone:
// names only while the room is small (spoken names interrupt large rooms).
func (s *state) useNames() bool {
	return s.cfg.Settings.Names && s.inRoom() <= s.cfg.Settings.NamesMaxRoom
}

// arrive takes an admitted caller (PIN checked, name recorded) into the
// room or its lobby. refused means the call must end (a locked room).
func (s *state) arrive(id, callerID string, role pin.Role, named bool) (fx []effect, refused bool) {
	if s.locked && role != pin.Host && !s.returns(callerID) {
		return []effect{private(id, say(prompts.Locked, prompts.Goodbye)...), {kind: hangUp, to: id}}, true
	}
	m := &memberState{id: id, callerID: callerID, role: role, named: named}
	s.members[id] = m
	s.order = append(s.order, id)
	waitHost := s.cfg.Settings.WaitForHost && !s.hostPresent()
	if role != pin.Host && (s.cfg.Settings.Lobby || waitHost) {
		m.lobby = true
		p := prompts.LobbyWait
		if waitHost && !s.cfg.Settings.Lobby {
			p = prompts.WaitForHost
		}
		fx = append(fx, private(id, say(p)...),
			effect{kind: toHosts, clips: []clip{{nameOf: id}, {prompt: prompts.LobbyHasJoin}}},
			event(events.ParticipantLobby, id, map[string]any{"caller_id": callerID}))
		return fx, false
	}
	fx = append(fx, s.enter(m)...)
	if role == pin.Host && s.cfg.Settings.WaitForHost && !s.cfg.Settings.Lobby {
		// The host has come: everyone waiting for them goes in.
		for _, w := range s.order {
			if o := s.members[w]; o.lobby {
				fx = append(fx, private(w, say(prompts.ConfBegin)...))
				fx = append(fx, s.admitOne(o)...)
			}
		}
	}
	return fx, false
}

// enter is the moment a participant is in the room: the others hear the
// name (or a tone) and the event goes out.
func (s *state) enter(m *memberState) []effect {
	m.lobby = false
	var fx []effect
	if s.inRoom() > 1 {
		if s.useNames() {
			fx = append(fx, announce(clip{nameOf: m.id}, clip{prompt: prompts.HasJoin}))
		} else {
			fx = append(fx, announce(clip{tone: "join"}))
		}
	}
	fx = append(fx, event(events.ParticipantJoined, m.id, map[string]any{"role": m.role.String(), "caller_id": m.callerID}))
	if !s.recording && !s.autoRecorded && s.cfg.Settings.Record && !s.cfg.Sensitive {
		// `record: true`: recording starts with the first one in. No
		// announcement: the newcomer is told below, like everyone after.
		s.autoRecorded, s.recording = true, true
		fx = append(fx, event(events.RecordingStarted, "", map[string]any{"automatic": true}))
	}
	if s.recording && !(s.carriedRecording && s.returns(m.callerID)) {
		fx = append(fx, private(m.id, say(prompts.NowRecording)...))
	}
	return fx
}

func (s *state) admitOne(m *memberState) []effect {
	fx := []effect{{kind: admit, to: m.id}}
	fx = append(fx, s.enter(m)...)
	return append(fx, event(events.ParticipantAdmit, m.id, nil))
}

// leave takes a participant out (hung up, kicked, or the meeting ended).
func (s *state) leave(id string) []effect {
	m := s.members[id]
	if m == nil {
		return nil
	}
	wasInRoom := !m.lobby
	delete(s.members, id)
	s.order = slices.DeleteFunc(s.order, func(x string) bool { return x == id })
	s.hands = slices.DeleteFunc(s.hands, func(x string) bool { return x == id })
	var fx []effect
	if wasInRoom && s.inRoom() > 0 {
		if s.useNames() {
			fx = append(fx, announce(clip{nameOf: id}, clip{prompt: prompts.HasLeft}))
		} else {
			fx = append(fx, announce(clip{tone: "leave"}))
		}
	}
	fx = append(fx, event(events.ParticipantLeft, id, nil))
	if m.role == pin.Host && wasInRoom && !s.hostPresent() && s.cfg.Settings.EndWithHost && len(s.members) > 0 {
		fx = append(fx, announce(say(prompts.HostHasLeft, prompts.ConfEnd, prompts.Goodbye)...), effect{kind: endAll})
	}
	return fx
}

// key feeds one key press from a participant in the room.
func (s *state) key(id string, d byte, now time.Time) []effect {
	_, fx := s.press(id, d, now)
	return fx
}

// press is key that also says which command the keys made, if any.
func (s *state) press(id string, d byte, now time.Time) (keypad.Command, []effect) {
	m := s.members[id]
	if m == nil || m.lobby {
		return keypad.None, nil // keys in the lobby do nothing: the host decides
	}
	cmd := m.keys.Key(d, now)
	if cmd == keypad.None {
		return cmd, nil
	}
	return cmd, s.command(id, cmd)
}

// command carries out one keypad command for a participant.
func (s *state) command(id string, cmd keypad.Command) []effect {
	m := s.members[id]
	if m == nil || m.lobby {
		return nil
	}
	host := m.role == pin.Host
	if cmd == keypad.Invalid || (cmd.HostOnly() && !host) {
		return []effect{private(id, say(prompts.InvalidOption)...)}
	}
	switch cmd {
	case keypad.Help:
		if host {
			return []effect{private(id, say(prompts.Help, prompts.HelpHost)...)}
		}
		return []effect{private(id, say(prompts.Help, prompts.HelpHand)...)}
	case keypad.RollCall:
		c := say(prompts.RollCall)
		for _, o := range s.order {
			if !s.members[o].lobby {
				c = append(c, clip{nameOf: o})
			}
		}
		return []effect{private(id, append(c, clip{prompt: prompts.RollCallComplete})...)}
	case keypad.Count:
		return []effect{private(id, s.count(host)...)}
	case keypad.Lecture:
		return s.setLecture(!s.lecture, id)
	case keypad.Hand:
		if host {
			return s.giveFloor(id)
		}
		m.hand = !m.hand
		if m.hand {
			s.hands = append(s.hands, id)
			return []effect{private(id, say(prompts.HandRaised)...),
				{kind: toHosts, clips: []clip{{nameOf: id}, {prompt: prompts.HasRaisedHand}}},
				event(events.ParticipantHand, id, map[string]any{"raised": true})}
		}
		s.hands = slices.DeleteFunc(s.hands, func(x string) bool { return x == id })
		return []effect{private(id, say(prompts.HandLowered)...), event(events.ParticipantHand, id, map[string]any{"raised": false})}
	case keypad.Mute:
		if !m.muted && s.lecture && !host && !m.floor {
			// Muted by the lecture, not by themselves: only a host or
			// the floor unmutes them.
			return []effect{private(id, say(prompts.LectureMuted)...)}
		}
		return s.setMuted(id, !m.muted, true)
	case keypad.Lock:
		p := prompts.LockedNow
		if s.locked {
			p = prompts.UnlockedNow
		}
		return append([]effect{private(id, say(p)...)}, s.setLocked(!s.locked, id)...)
	case keypad.Admit:
		var fx []effect
		for _, o := range s.order {
			if w := s.members[o]; w.lobby {
				fx = append(fx, s.admitOne(w)...)
			}
		}
		if len(fx) == 0 {
			return []effect{private(id, say(prompts.LobbyEmpty)...)}
		}
		return append([]effect{private(id, say(prompts.LobbyAdmitted)...)}, fx...)
	case keypad.Record:
		if s.cfg.Sensitive {
			return []effect{private(id, say(prompts.RecordingRefused)...)}
		}
		return s.setRecording(!s.recording, id)
	case keypad.EndAsk:
		return []effect{private(id, say(prompts.EndConfirm)...)}
	case keypad.End:
		return s.end(id)
	}
	return nil
}

// count is what *3 answers: how many are in the room, and for hosts how
// many wait in the lobby.
func (s *state) count(host bool) []clip {
	n := s.inRoom()
	var c []clip
	if n <= 1 {
		c = say(prompts.OnlyPerson)
	} else {
		c = []clip{{prompt: prompts.ThereAre}, num(n), {prompt: prompts.Participants}}
	}
	if l := s.inLobby(); host && l > 0 {
		c = append(c, clip{prompt: prompts.And}, num(l), clip{prompt: prompts.InLobby})
	}
	return c
}

// giveFloor unmutes the first raised hand and lowers it.
func (s *state) giveFloor(hostID string) []effect {
	for len(s.hands) > 0 {
		id := s.hands[0]
		s.hands = s.hands[1:]
		m := s.members[id]
		if m == nil || !m.hand {
			continue
		}
		m.hand, m.floor, m.muted = false, true, false
		return []effect{
			private(hostID, clip{nameOf: id}),
			private(id, say(prompts.FloorGiven)...),
			event(events.ParticipantFloor, id, nil),
			event(events.ParticipantHand, id, map[string]any{"raised": false}),
		}
	}
	return []effect{private(hostID, say(prompts.NoHands)...)}
}

// setMuted mutes or unmutes a participant; tell says the prompt to them.
func (s *state) setMuted(id string, muted, tell bool) []effect {
	m := s.members[id]
	if m == nil {
		return nil
	}
	m.muted = muted
	p, typ := prompts.Unmuted, events.ParticipantUnmute
	if muted {
		p, typ = prompts.Muted, events.ParticipantMuted
	}
	var fx []effect
	if tell {
		fx = append(fx, private(id, say(p)...))
	}
	return append(fx, event(typ, id, nil))
}

// end closes the meeting for everyone (a host's *0 *0, the time limit, or
// an operator).
func (s *state) end(by string) []effect {
	return []effect{
		announce(say(prompts.ConfEnd, prompts.Goodbye)...),
		event(events.ConferenceEnded, by, nil),
		{kind: endAll},
	}
}

// warn is the spoken warning before the time limit.
func (s *state) warn(left time.Duration) []effect {
	minutes := int((left + time.Minute/2) / time.Minute)
	var said []clip
	switch {
	case minutes <= 1:
		// "One minute" is a fixed prompt: the number word would not agree
		// with "minutes" (nb "ett minutt", sv "en minut").
		said = say(prompts.EndsIn1)
	case minutes == 5:
		said = say(prompts.EndsIn5)
	default:
		said = []clip{{prompt: prompts.EndsIn}, num(minutes), {prompt: prompts.Minutes}}
	}
	return []effect{announce(said...), event(events.ConferenceWarning, "", map[string]any{"minutes_left": minutes})}
}

// setLecture turns lecture mode on or off (by a host's *4 or an operator):
// the room is told, and every floor given is taken back.
func (s *state) setLecture(on bool, by string) []effect {
	if s.lecture == on {
		return nil
	}
	s.lecture = on
	for _, o := range s.members {
		o.floor = false
	}
	p := prompts.LectureOff
	if on {
		p = prompts.LectureOn
	}
	return []effect{announce(say(p)...), event(events.ConferenceLecture, by, map[string]any{"lecture": on})}
}

// setLocked locks or unlocks the door; only the one who did it is told
// (by the caller of setLocked), since the room need not know.
func (s *state) setLocked(on bool, by string) []effect {
	if s.locked == on {
		return nil
	}
	s.locked = on
	return []effect{event(events.ConferenceLocked, by, map[string]any{"locked": on})}
}

// setRecording turns the recording flag on or off; the room is told
// either way. Callers refuse it in sensitive rooms first.
func (s *state) setRecording(on bool, by string) []effect {
	if s.recording == on {
		return nil
	}
	s.recording, s.carriedRecording = on, false
	if on {
		return []effect{announce(say(prompts.NowRecording)...), event(events.RecordingStarted, by, nil)}
	}
	return []effect{announce(say(prompts.RecordingStopped)...), event(events.RecordingStopped, by, nil)}
}

// recordingFailed stops recording because the file could not be written
// (disk full): the hosts are told, the call goes on.
func (s *state) recordingFailed(why string) []effect {
	if !s.recording {
		return nil
	}
	s.recording = false
	return []effect{{kind: toHosts, clips: say(prompts.RecordingFailed)},
		event(events.RecordingFailed, "", map[string]any{"stage": "write", "error": why})}
}

// kick removes a participant: they hear that they were removed, then the
// call ends (the leave follows when it has).
func (s *state) kick(id string) []effect {
	if s.members[id] == nil {
		return nil
	}
	return []effect{private(id, say(prompts.Kicked)...), {kind: hangUp, to: id},
		event(events.ParticipantKicked, id, nil)}
}

// admitFromLobby lets one participant in; ok is false when they are not
// waiting in the lobby.
func (s *state) admitFromLobby(id string) (fx []effect, ok bool) {
	m := s.members[id]
	if m == nil || !m.lobby {
		return nil, false
	}
	return s.admitOne(m), true
}

// floorTo gives one participant the floor, raised hand or not (an operator
// choosing who speaks in lecture mode).
func (s *state) floorTo(id string) []effect {
	m := s.members[id]
	if m == nil || m.lobby {
		return nil
	}
	if m.hand {
		s.hands = slices.DeleteFunc(s.hands, func(x string) bool { return x == id })
	}
	m.hand, m.floor, m.muted = false, true, false
	return []effect{private(id, say(prompts.FloorGiven)...), event(events.ParticipantFloor, id, nil)}
}

// restore takes over a meeting from a node that died: its lock, lecture
// mode and recording as they were, and its callers free to come back
// through the lock until c.until. A recording that was on goes on (as a
// new file: the old one is on the dead node's disk), and the callers
// coming back are not told of it again: they were, when they joined or it
// started; `record: true` does not start one the hosts had stopped.
func (s *state) restore(c carried) []effect {
	s.locked, s.lecture, s.recording = c.locked, c.lecture, c.recording
	s.carriedRecording = c.recording
	s.autoRecorded = true
	s.returning, s.returnUntil = c.callers, c.until
	var fx []effect
	if c.recording {
		fx = append(fx, event(events.RecordingStarted, "", map[string]any{"resumed": true}))
	}
	return fx
}

// tookOver is whether this room goes on with a meeting from a node that
// died: restore always sets the callers' window, and nothing clears it.
func (s *state) tookOver() bool { return !s.returnUntil.IsZero() }

// returns is whether callerID was in the meeting this room took over and
// may still come back.
func (s *state) returns(callerID string) bool {
	_, ok := s.returning[callerID]
	return ok && callerID != ""
}

// expire forgets the callers of a taken-over meeting once their time to
// come back is over.
func (s *state) expire(now time.Time) {
	if s.returning != nil && !now.Before(s.returnUntil) {
		s.returning = nil
	}
}

// carry is the state another node needs should this one die: the flags,
// and the callers (those in the room or its lobby, and those still free to
// come back) with whether each is a host.
func (s *state) carry() carried {
	c := carried{locked: s.locked, lecture: s.lecture, recording: s.recording, callers: make(map[string]bool)}
	for id, host := range s.returning {
		c.callers[id] = host
	}
	for _, m := range s.members {
		if m.callerID != "" {
			c.callers[m.callerID] = c.callers[m.callerID] || m.role == pin.Host
		}
	}
	return c
}
