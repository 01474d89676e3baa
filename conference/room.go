package conference

import (
	"log/slog"
	"strings"
	"sync"
	"time"

	"brygga/conference/keypad"
	"brygga/config"
	"brygga/events"
	"brygga/media/codec"
	"brygga/mixer"
	"brygga/pin"
	"brygga/prompts"
	"brygga/recordings"
	"brygga/scheduler"
)

// participant is a caller on the way into a room, in its lobby, or in it.
type participant struct {
	call Call
	id   string
	role pin.Role
	name []int16 // the recorded name, trimmed; nil: caller ID read out

	// ivr is the caller's IVR until they are in the mix (the joining prompt
	// and the lobby); member and voice take over after. Both guarded by
	// room.mu.
	ivr    *ivr
	member *mixer.Member
	voice  *voice

	admitted chan struct{} // closed when the lobby lets them in
	admit    sync.Once
	arrived  time.Time // when they came past the PIN (and name)
}

// room is a live conference: the meeting's state, its participants and the
// mixer that ticks for them. The mixer is on the bridge's clock only while
// someone is in the room, so idle rooms cost nothing.
type room struct {
	cfg   config.Room
	log   *slog.Logger
	lib   *prompts.Library
	mix   *mixer.Mixer
	clock *mixer.Clock
	bus   *events.Bus
	sched *scheduler.Scheduler
	count func(prompt string)
	refs  int // callers joined or on their way in; guarded by Bridge.mu

	recorder *recordings.Recorder // nil: the recording flag only, no file
	meeting  *ScheduledMeeting    // the scheduled meeting this room runs as, if any
	states   *stateWriter         // nil: a single node, whose rooms die with it

	carriedEnd time.Time // the end of a meeting taken over from a dead node; zero: none

	mu      sync.Mutex
	st      *state
	byID    map[string]*participant
	beat    *mixer.Beat         // on the clock; nil while nobody is in the mix
	started bool                // the meeting (and its time limit) has begun
	startAt time.Time           // when it began
	ending  bool                // the meeting is ending: everyone is being hung up
	rec     *recordings.Session // this meeting's recording, once started
	tapping bool                // the mixer's tap feeds rec
}

func newRoom(rc config.Room, opts Options, log *slog.Logger) *room {
	// In a scheduled meeting's window the room runs as that meeting: its
	// options join the room's own (sensitive wins over recording).
	var meeting *ScheduledMeeting
	if opts.Meetings != nil {
		if m, ok := opts.Meetings.Current(rc.Extension, opts.Scheduler.Now()); ok {
			meeting = &m
			rc.Sensitive = rc.Sensitive || m.Sensitive
			rc.Settings.Record = (rc.Settings.Record || m.Record) && !rc.Sensitive
			log.Info("room opens for a scheduled meeting", "room", rc.Extension, "meeting", m.ID, "start", m.Start)
		}
	}
	return &room{
		meeting: meeting,
		cfg:     rc,
		log:     log.With("room", rc.Extension),
		lib:     opts.Prompts,
		mix:     mixer.New(mixer.Config{Rate: codec.PCMU.ClockRate(), MaxTalkers: opts.MaxTalkers}),
		clock:   opts.Clock,
		bus:     opts.Events,
		sched:   opts.Scheduler,
		count:   opts.OnPrompt,
		st:      newState(rc),

		recorder: opts.Recorder,
		byID:     make(map[string]*participant),
	}
}

func (r *room) lang() string { return r.cfg.Settings.Language }

// size is how many are in the mix.
func (r *room) size() int { return r.mix.Len() }

// snapshot lists the participants, in the lobby or in the room, in the
// order they came.
func (r *room) snapshot() []MemberInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]MemberInfo, 0, len(r.byID))
	for _, id := range r.st.order {
		p, m := r.byID[id], r.st.members[id]
		if p == nil || m == nil {
			continue
		}
		mi := MemberInfo{
			ID: id, CallerID: p.call.CallerID(), Role: p.role.String(),
			Muted: m.muted || !r.st.canTalk(id) && !m.lobby, Hand: m.hand, Lobby: m.lobby,
			Named: p.name != nil, JoinedAt: p.arrived,
		}
		if p.member != nil {
			mi.Talking = p.member.Talking()
		}
		out = append(out, mi)
	}
	return out
}

// arrive takes an admitted caller, still in their IVR, into the meeting:
// into the room, or its lobby. refused means the room is locked to them
// (they have been told, and are being hung up).
func (r *room) arrive(p *participant, v *ivr) (lobby, refused bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p.ivr = v
	p.arrived = time.Now()
	r.byID[p.id] = p
	r.st.expire(p.arrived)
	fx, refused := r.st.arrive(p.id, p.call.CallerID(), p.role, p.name != nil)
	r.apply(fx)
	if refused {
		delete(r.byID, p.id)
		return false, true
	}
	return r.st.isLobby(p.id), false
}

// alone reports whether the participant is the only one in the room proper.
func (r *room) alone() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.st.inRoom() <= 1
}

// join moves the participant from their IVR into the mix. The caller has
// stopped the IVR.
func (r *room) join(p *participant) {
	s := p.call.Media()
	r.mu.Lock()
	defer r.mu.Unlock()
	p.ivr = nil
	p.voice = newVoice()
	p.member = r.mix.Add(s.Codec(), s, s)
	if r.beat == nil {
		r.beat = r.clock.Add(r.mix)
	}
	if !r.started {
		r.started, r.startAt = true, time.Now()
		r.begin()
	}
	r.sync()
}

// begin starts the meeting's clock: the time limit counts from the first
// participant in the room. r.mu is held.
func (r *room) begin() {
	r.publish(events.Event{Type: events.ConferenceStarted})
	max := time.Duration(r.cfg.Settings.MaxMinutes) * time.Minute
	if max <= 0 || r.sched == nil {
		return
	}
	var warn []time.Duration
	for _, w := range r.cfg.Settings.WarnMinutes {
		warn = append(warn, time.Duration(w)*time.Minute)
	}
	start := r.sched.Now()
	switch {
	case !r.carriedEnd.IsZero():
		// A meeting taken over ends when it would have on its old node,
		// extensions included.
		start = r.carriedEnd.Add(-max)
	case r.meeting != nil:
		// A scheduled meeting's limit counts from its booked start, also
		// for those who came early for a chat.
		start = r.meeting.Start
	}
	err := r.sched.Start(scheduler.Limit{
		Room: r.cfg.Extension, Start: start, Max: max, Warn: warn,
		OnWarn: func(left time.Duration) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.log.Info("meeting ends soon", "left", left)
			r.apply(r.st.warn(left))
		},
		OnEnd: func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.log.Info("meeting reached its time limit", "max_minutes", r.cfg.Settings.MaxMinutes)
			r.apply(r.st.end(""))
		},
	})
	if err != nil {
		r.log.Error("meeting limit not scheduled", "err", err)
	}
}

// lead runs the participant's keypad in the room until the call ends.
func (r *room) lead(p *participant) {
	for {
		select {
		case d := <-p.call.Digits():
			r.key(p, d)
		case <-p.call.Done():
			return
		}
	}
}

func (r *room) key(p *participant, d byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p.voice != nil {
		p.voice.cut() // type-ahead: a key cuts the private prompt short
	}
	cmd, fx := r.st.press(p.id, d, time.Now())
	if cmd != keypad.None {
		r.log.Info("keypad", "participant", p.id, "role", p.role.String(), "command", cmd.String())
	}
	r.apply(fx)
}

// do carries out a command for a participant as if from their keypad.
func (r *room) do(id string, cmd keypad.Command) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byID[id] == nil {
		return false
	}
	r.apply(r.st.command(id, cmd))
	return true
}

// leave takes the participant out of the meeting, wherever they were. The
// last one out of the mix takes the room off the clock.
func (r *room) leave(p *participant) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byID[p.id] != p {
		return
	}
	if p.member != nil {
		r.mix.Remove(p.member)
	}
	// The leave announcement may say the name, so the participant is
	// forgotten (and their name deleted) only after it is built.
	r.apply(r.st.leave(p.id))
	delete(r.byID, p.id)
	p.name = nil
	if p.member != nil && r.mix.Len() == 0 {
		r.stopClock()
	}
}

// act runs an operator's change on the meeting's state and carries out
// its effects.
func (r *room) act(change func(st *state) ([]effect, error)) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	fx, err := change(r.st)
	if err != nil {
		return err
	}
	r.apply(fx)
	return nil
}

// info is the room's snapshot for operators.
func (r *room) info() RoomInfo {
	members := r.snapshot()
	r.mu.Lock()
	ri := RoomInfo{
		Extension: r.cfg.Extension, Started: r.startAt,
		Locked: r.st.locked, Lecture: r.st.lecture, Recording: r.st.recording,
		Members: members, Mixer: r.mix.Stats(),
	}
	r.mu.Unlock()
	ri.Participants = r.size()
	if r.sched != nil {
		ri.EndsAt, _ = r.sched.EndsAt(r.cfg.Extension)
	}
	return ri
}

// apply carries out the state's effects. r.mu is held; nothing here
// blocks: the mixer, the IVRs and the bus take their own short locks, and
// hang-ups after a prompt wait on their own goroutines.
func (r *room) apply(fx []effect) {
	for _, e := range fx {
		switch e.kind {
		case toMember:
			if p := r.byID[e.to]; p != nil {
				r.tell(p, r.render(e.clips))
			}
		case toRoom:
			r.mix.Announce(prompts.NewPlayer(r.render(e.clips)...))
		case toHosts:
			clips := r.render(e.clips)
			for _, p := range r.byID {
				if p.role == pin.Host && p.member != nil {
					r.tell(p, clips)
				}
			}
		case admit:
			if p := r.byID[e.to]; p != nil {
				p.admit.Do(func() { close(p.admitted) })
			}
		case hangUp:
			if p := r.byID[e.to]; p != nil {
				go r.hangUpAfter(p)
			}
		case endAll:
			if !r.ending {
				r.ending = true
				go r.finish()
			}
		case emit:
			r.publish(e.event)
		}
	}
	r.sync()
}

// tell says clips privately to one participant, in the room or in the IVR.
func (r *room) tell(p *participant, clips [][]int16) {
	switch {
	case p.member != nil:
		p.voice.say(clips)
		p.member.Play(p.voice)
	case p.ivr != nil:
		p.ivr.say(clips...)
	}
}

// sync makes the mixer follow the state: who may be heard, and hold music
// for someone alone in the room. r.mu is held.
func (r *room) sync() {
	alone := r.st.inRoom() == 1
	for id, p := range r.byID {
		if p.member == nil {
			continue
		}
		p.member.SetMuted(!r.st.canTalk(id))
		if p.voice.setHolding(alone) && alone {
			p.member.Play(p.voice)
		}
	}
	r.record()
	r.saveState()
}

// record makes the mixer's tap follow the recording flag: the file is
// created when recording first starts and fed only while it is on, so
// stretches recorded apart lie back to back in one file. r.mu is held.
func (r *room) record() {
	on := r.st.recording && r.recorder != nil
	if on && r.rec == nil {
		s, err := r.recorder.Start(recordings.Room{
			Extension: r.cfg.Extension, Owner: r.cfg.Name, Language: r.lang(),
			Target: recordings.Target(r.cfg.Voicemail, r.cfg.Email),
		}, r.writeFailed)
		if err != nil {
			r.log.Error("recording could not start", "err", err)
			r.apply(r.st.recordingFailed(err.Error()))
			return
		}
		r.rec = s
	}
	if on != r.tapping {
		r.tapping = on
		if on {
			r.mix.SetTap(r.rec.Frame)
		} else {
			r.mix.SetTap(nil)
		}
	}
}

// writeFailed is told by the recording's writer that the disk refused a
// write. What was written is delivered; a host's next *9 tries a new file.
func (r *room) writeFailed(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.rec
	r.rec = nil
	r.apply(r.st.recordingFailed(err.Error()))
	// Finish waits for the writer, which is who called us.
	go s.Finish()
}

func (r *room) publish(e events.Event) {
	if r.bus == nil {
		return
	}
	e.Room = r.cfg.Extension
	e = r.bus.Publish(e)
	// The log line is the operator's trail of who did what in a meeting.
	r.log.Info("event", "type", e.Type, "participant", e.Participant, "id", e.ID)
}

// render turns the state's clips into audio in the room's language.
func (r *room) render(cs []clip) [][]int16 {
	lang := r.lang()
	var out [][]int16
	for _, c := range cs {
		switch {
		case c.prompt != "":
			if r.count != nil {
				r.count(c.prompt)
			}
			out = append(out, r.lib.Clip(lang, c.prompt))
		case c.nameOf != "":
			out = append(out, r.nameOf(c.nameOf)...)
		case c.isNum:
			out = append(out, r.lib.Number(lang, c.number)...)
		case c.tone == "join":
			out = append(out, prompts.JoinTone())
		case c.tone == "leave":
			out = append(out, prompts.LeaveTone())
		}
	}
	return out
}

// nameOf is how a participant is named: their recording, else their
// caller ID read as digits, else "a caller".
func (r *room) nameOf(id string) [][]int16 {
	p := r.byID[id]
	if p == nil {
		return nil
	}
	if p.name != nil {
		return [][]int16{p.name}
	}
	if cid := p.call.CallerID(); dialable(cid) {
		return r.lib.Digits(r.lang(), cid)
	}
	return [][]int16{r.lib.Clip(r.lang(), prompts.UnknownCaller)}
}

// dialable is whether a caller ID is a number worth reading out.
func dialable(s string) bool {
	s = strings.TrimPrefix(s, "+")
	if s == "" || len(s) > 20 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// hangUpAfter ends one call once what is being said to them has been said.
func (r *room) hangUpAfter(p *participant) {
	r.mu.Lock()
	v, vc := p.ivr, p.voice
	r.mu.Unlock()
	switch {
	case v != nil:
		v.drain()
	case vc != nil:
		waitFor(p.call, 30*time.Second, func() bool { return !vc.busy() })
	}
	p.call.Hangup()
}

// finish hangs everyone up once the room's goodbye has been said.
func (r *room) finish() {
	waitFor(nil, 30*time.Second, func() bool { return !r.mix.Announcing() })
	// The last frame of the goodbye is still in flight towards the phones.
	time.Sleep(2 * mixer.FrameDuration)
	r.mu.Lock()
	calls := make([]Call, 0, len(r.byID))
	for _, p := range r.byID {
		calls = append(calls, p.call)
	}
	r.mu.Unlock()
	r.log.Info("meeting ended", "participants", len(calls))
	for _, c := range calls {
		c.Hangup()
	}
}

// waitFor polls done every frame until it is true, the call (if any) is
// over, or limit has passed.
func waitFor(c Call, limit time.Duration, done func() bool) {
	var over <-chan struct{}
	if c != nil {
		over = c.Done()
	}
	t := time.NewTicker(mixer.FrameDuration)
	defer t.Stop()
	deadline := time.After(limit)
	for !done() {
		select {
		case <-t.C:
		case <-over:
			return
		case <-deadline:
			return
		}
	}
}

// stopClock takes the mixer off the clock; r.mu is held. Remove waits for
// a tick under way, which never takes r.mu.
func (r *room) stopClock() {
	if r.beat != nil {
		r.clock.Remove(r.beat)
		r.beat = nil
	}
}

// close ends the room. Called when the last caller is gone.
func (r *room) close() {
	r.mu.Lock()
	r.stopClock()
	started, tookOver := r.started, r.st.tookOver()
	rec := r.rec
	r.rec = nil
	if r.tapping {
		r.mix.SetTap(nil)
		r.tapping = false
	}
	r.mu.Unlock()
	if rec != nil {
		// The meeting is over: the file is closed and its delivery queued.
		if err := rec.Finish(); err != nil {
			r.log.Error("recording: finishing", "err", err)
		}
	}
	if r.sched != nil {
		r.sched.Stop(r.cfg.Extension)
	}
	if r.states != nil {
		if started || !tookOver {
			r.states.forget(r.cfg.Extension)
		} else {
			// Taken over, and nobody got in (a stranger at the lock): the
			// meeting's callers may still come, so its state stays,
			// unrefreshed, until TakeoverWindow forgets it.
			r.states.drop(r.cfg.Extension)
		}
	}
	if started && !r.ending {
		r.publish(events.Event{Type: events.ConferenceEnded})
	}
	// One line per meeting with the clock's health: late ticks here are
	// what callers hear as choppy audio.
	st := r.mix.Stats()
	r.log.Info("room closed", "ticks", st.Ticks, "late_ticks", st.LateTicks,
		"skipped", st.Skipped, "max_lateness", st.MaxLateness)
}
