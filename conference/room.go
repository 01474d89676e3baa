package conference

import (
	"log/slog"
	"sync"

	"brygga/config"
	"brygga/media/codec"
	"brygga/mixer"
	"brygga/pin"
	"brygga/prompts"
)

// participant is a caller in a room.
type participant struct {
	call   Call
	role   pin.Role
	member *mixer.Member
}

// room is a live conference: its participants and the mixer that ticks for
// them. The mixer is on the bridge's clock only while someone is in the
// room, so idle rooms cost nothing.
type room struct {
	cfg   config.Room
	log   *slog.Logger
	lib   *prompts.Library
	mix   *mixer.Mixer
	clock *mixer.Clock
	refs  int // callers joined or on their way in; guarded by Bridge.mu

	mu       sync.Mutex
	members  map[*participant]struct{}
	arriving int         // admitted callers hearing their joining prompt
	beat     *mixer.Beat // on the clock; nil while the room is empty
}

func newRoom(rc config.Room, opts Options, log *slog.Logger) *room {
	return &room{
		cfg:     rc,
		log:     log.With("room", rc.Extension),
		lib:     opts.Prompts,
		mix:     mixer.New(mixer.Config{Rate: codec.PCMU.ClockRate(), MaxTalkers: opts.MaxTalkers}),
		clock:   opts.Clock,
		members: make(map[*participant]struct{}),
	}
}

func (r *room) size() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.members)
}

// snapshot lists the participants, in no particular order.
func (r *room) snapshot() []MemberInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]MemberInfo, 0, len(r.members))
	for p := range r.members {
		out = append(out, MemberInfo{
			ID: p.call.ID(), CallerID: p.call.CallerID(), Role: p.role.String(),
			Muted: p.member.Muted(), Talking: p.member.Talking(),
		})
	}
	return out
}

// arrive counts an admitted caller on the way in and reports whether they
// will be alone in the room.
func (r *room) arrive() (alone bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	alone = len(r.members) == 0 && r.arriving == 0
	r.arriving++
	return alone
}

// abandon undoes arrive for a caller who hung up on the way in.
func (r *room) abandon() {
	r.mu.Lock()
	r.arriving--
	r.mu.Unlock()
}

// join puts the call into the mix and tells the room with the join tone.
func (r *room) join(c Call, role pin.Role) *participant {
	s := c.Media()
	p := &participant{call: c, role: role}
	r.mu.Lock()
	r.arriving--
	if len(r.members) > 0 {
		r.mix.Announce(prompts.NewPlayer(prompts.JoinTone()))
	}
	p.member = r.mix.Add(s.Codec(), s, s)
	r.members[p] = struct{}{}
	if r.beat == nil {
		r.beat = r.clock.Add(r.mix)
	}
	r.mu.Unlock()
	return p
}

// leave takes the participant out of the mix; the others hear the leave
// tone. The last one out takes the room off the clock.
func (r *room) leave(p *participant) {
	r.mix.Remove(p.member)
	r.mu.Lock()
	delete(r.members, p)
	left := len(r.members)
	if left == 0 {
		r.stopClock()
	}
	r.mu.Unlock()
	if left > 0 {
		r.mix.Announce(prompts.NewPlayer(prompts.LeaveTone()))
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
	r.mu.Unlock()
	// One line per meeting with the clock's health: late ticks here are
	// what callers hear as choppy audio.
	st := r.mix.Stats()
	r.log.Info("room closed", "ticks", st.Ticks, "late_ticks", st.LateTicks,
		"skipped", st.Skipped, "max_lateness", st.MaxLateness)
}
