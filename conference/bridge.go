// Package conference is the room: it takes an answered call, runs it through
// the IVR (greeting, PIN) and mixes it into its room until either side hangs
// up. It knows nothing of SIP; the sip package hands it a Call.
package conference

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sort"
	"sync"
	"time"

	"brygga/conference/names"
	"brygga/config"
	"brygga/events"
	"brygga/media"
	"brygga/mixer"
	"brygga/pin"
	"brygga/prompts"
	"brygga/recordings"
	"brygga/scheduler"
	"brygga/store"

	"github.com/jonboulle/clockwork"
)

// Call is an answered call as the conference sees it.
type Call interface {
	ID() string
	CallerID() string   // user part of the From URI
	Source() netip.Addr // where the SIP request came from
	Trusted() bool      // the source is trusted, so CallerID can be believed
	Secure() bool       // signalling over TLS and media over SRTP
	Media() *media.Session
	Digits() <-chan byte   // key presses from RFC 4733, SIP INFO or in-band tones
	Done() <-chan struct{} // closed once the call is over, whoever ended it
	Hangup()               // end the call (BYE); idempotent, returns without waiting
}

// Options configure a Bridge.
type Options struct {
	Prompts    *prompts.Library
	MaxTalkers int
	PINGuard   pin.Guard
	Logger     *slog.Logger

	// PINTimeout is how long the IVR waits for a key before a PIN try
	// counts as failed; PINTries how many failed tries end the call.
	PINTimeout time.Duration
	PINTries   int

	// OwnerName returns the room owner's recorded name (8 kHz PCM) for the
	// greeting, or nil.
	OwnerName func(extension string) []int16

	// Clock ticks every room and every caller in the IVR; nil makes one
	// with a shard per core.
	Clock *mixer.Clock

	// Events receives every change of a meeting; nil makes a bus (see
	// Bridge.Events).
	Events *events.Bus

	// Scheduler holds the meetings' time limits; nil makes one on the
	// real clock.
	Scheduler *scheduler.Scheduler

	// Meetings are the scheduled meetings: their PINs and windows; nil:
	// none.
	Meetings Meetings

	// Recorder writes the rooms' recordings and queues their delivery;
	// nil keeps recording a flag (announced, evented) without a file.
	Recorder *recordings.Recorder

	// States keeps the live rooms' state for the node that takes a room
	// over when this one dies; nil (a single bridge): nothing is kept.
	States RoomStates

	// OnPrompt is told each prompt played, by name; OnCallResult "bad_pin"
	// for each caller sent away for wrong PINs. Either may be nil.
	OnPrompt     func(name string)
	OnCallResult func(result string)
}

// Bridge holds the live rooms.
type Bridge struct {
	opts  Options
	log   *slog.Logger
	pin   pin.Verifier
	mu    sync.Mutex
	rooms map[string]*room
	calls map[string]Call
	wg    sync.WaitGroup

	states *stateWriter // nil without Options.States
}

// New makes a Bridge.
func New(opts Options) *Bridge {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Prompts == nil {
		opts.Prompts = prompts.Builtin()
	}
	if opts.PINTimeout == 0 {
		opts.PINTimeout = 10 * time.Second
	}
	if opts.PINTries == 0 {
		opts.PINTries = 3
	}
	if opts.MaxTalkers == 0 {
		opts.MaxTalkers = 4
	}
	if opts.Clock == nil {
		opts.Clock = mixer.NewClock(mixer.ClockConfig{})
	}
	if opts.OnPrompt == nil {
		opts.OnPrompt = func(string) {}
	}
	if opts.OnCallResult == nil {
		opts.OnCallResult = func(string) {}
	}
	if opts.Events == nil {
		opts.Events = events.New(0, nil)
	}
	if opts.Scheduler == nil {
		s, err := scheduler.New(clockwork.NewRealClock())
		if err != nil {
			// gocron fails only on bad options, and these are fixed.
			panic("conference: " + err.Error())
		}
		opts.Scheduler = s
	}
	var states *stateWriter
	if opts.States != nil {
		states = newStateWriter(opts.States, opts.Logger)
	}
	return &Bridge{
		states: states,
		opts:   opts,
		log:    opts.Logger,
		pin:    pin.Verifier{Guard: opts.PINGuard},
		rooms:  make(map[string]*room),
		calls:  make(map[string]Call),
	}
}

// Serve runs one call for its whole life: IVR, then the room. It returns
// once the call is over. dialledPIN is a PIN given in the Request-URI
// (4711*2468), or "".
func (b *Bridge) Serve(c Call, rc config.Room, dialledPIN string) {
	b.mu.Lock()
	b.calls[c.ID()] = c
	b.wg.Add(1)
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.calls, c.ID())
		b.mu.Unlock()
		b.wg.Done()
	}()

	log := b.log.With("call", c.ID(), "room", rc.Extension, "caller", c.CallerID())
	v := newIVR(c, b.opts.Prompts, rc.Settings.Language, b.opts.Clock)
	v.onPrompt = b.opts.OnPrompt
	if !c.Secure() && b.sensitive(rc) {
		// Said before the PIN is asked for: a PIN typed on an insecure
		// call to a sensitive room has already been exposed.
		log.Info("refused: the room needs a secure connection (SIP over TLS and SRTP)")
		b.opts.OnCallResult("insecure")
		v.play(false, v.clip(prompts.SecureRequired), v.clip(prompts.Goodbye))
		v.stop()
		c.Hangup()
		return
	}
	// A caller of a meeting whose node died, redialling, has heard the
	// welcome and where they are going once: spared both, they are back
	// in their meeting sooner. The PIN is asked as ever.
	back := b.returning(rc.Extension, c.CallerID())
	if back {
		log.Info("caller returns to a meeting taken over from a node that left it")
	}
	role, ok := b.admit(v, c, rc, dialledPIN, !back, log)
	if !ok {
		v.stop()
		c.Hangup()
		return
	}
	log.Info("caller admitted", "role", role)

	p := &participant{call: c, id: c.ID(), role: role, admitted: make(chan struct{})}
	if rc.Settings.Names {
		var ok bool
		if p.name, ok = b.recordName(v); !ok {
			v.stop()
			return
		}
	}

	r := b.room(rc)
	defer b.release(r)
	defer r.leave(p)
	lobby, refused := r.arrive(p, v)
	if refused {
		log.Info("refused: the room is locked")
		<-c.Done()
		v.stop()
		return
	}
	if lobby {
		log.Info("waiting in the lobby")
		v.setHold(prompts.NewLoop(0, prompts.HoldMusic()))
		select {
		case <-p.admitted:
			log.Info("admitted from the lobby")
		case <-c.Done():
			v.stop()
			return
		}
		v.setHold(nil)
		v.drain() // "the conference will now begin", when the host's arrival let them in
	}
	// What arriving said to them ("this conference is being recorded")
	// comes first. The joining prompt is played before the caller enters
	// the mix so that the room is not heard over it.
	if !v.drain() {
		v.stop()
		return
	}
	switch {
	case back:
	case r.alone():
		v.play(false, v.clip(prompts.OnlyPerson))
	default:
		v.play(false, v.clip(prompts.PlaceIntoConf))
	}
	v.stop()
	if v.hungUp() {
		return
	}

	r.join(p)
	log.Info("joined", "participants", r.size())
	r.lead(p)
	log.Info("left", "participants", r.size()-1)
}

// NameTime is how long a caller may take to say their name (docs/keypad.md).
const NameTime = 5 * time.Second

// recordName asks for the caller's name and records it: up to NameTime,
// `#` ends it, silence around it trimmed. It returns nil when the caller
// said nothing or pressed `#` during the prompt; ok is false when they
// hung up.
func (b *Bridge) recordName(v *ivr) (name []int16, ok bool) {
	key, ok := v.play(true, v.clip(prompts.RecordName), prompts.Beep())
	if !ok || key == '#' {
		return nil, ok
	}
	pcm, ok := v.record(NameTime, '#')
	if !ok {
		return nil, false
	}
	return names.Trim(pcm, v.sess.Codec().ClockRate()), true
}

// admit greets the caller and checks the PIN. It reports false when the
// caller is to be hung up (or already has).
func (b *Bridge) admit(v *ivr, c Call, rc config.Room, dialled string, greet bool, log *slog.Logger) (pin.Role, bool) {
	// A scheduled meeting's PIN is checked by the Verifier too, through
	// Other, so that it is no failure for the lockout; the lookup's answer
	// is kept for meetingPIN.
	var meeting meetingAnswer
	secrets := pin.Secrets{PIN: rc.PIN, HostPIN: rc.HostPIN}
	if b.opts.Meetings != nil {
		secrets.Other = func(entered string) bool {
			m, st := b.opts.Meetings.Lookup(rc.Extension, entered, b.opts.Scheduler.Now())
			meeting = meetingAnswer{pin: entered, m: m, state: st}
			return st != NoMeeting
		}
	}
	attempt := pin.Attempt{Source: c.Source(), Room: rc.Extension}
	role := pin.Participant
	if c.Trusted() && c.CallerID() == rc.Extension {
		// The owner calling from their own extension, vouched for by the PBX.
		role = pin.Host
	}

	// Everyone hears the greeting (docs/keypad.md, step 1); a key pressed during
	// it is kept as the first digit of the PIN (type-ahead).
	var key byte
	if greet {
		key, _ = v.play(true, b.greeting(v, rc)...)
	}

	// A PIN in the Request-URI (one-step dial-in from a calendar link)
	// spares the caller the PIN prompt; a wrong one counts as a try.
	tries := pin.Tries{Max: b.opts.PINTries}
	if dialled != "" {
		r, err := b.pin.Verify(attempt, secrets, dialled)
		switch {
		case err != nil:
			log.Warn("pin locked out", "source", c.Source())
			b.opts.OnCallResult("bad_pin")
			v.play(false, v.clip(prompts.PinLockedOut), v.clip(prompts.Goodbye))
			return pin.None, false
		case r != pin.None:
			return maxRole(role, r), !v.hungUp()
		}
		if r, done := b.meetingPIN(v, meeting, dialled, log); done {
			return maxRole(role, r), r != pin.None && !v.hungUp()
		}
		log.Info("wrong pin in request-uri")
		tries.Fail()
	}

	if !secrets.Required() || role == pin.Host {
		return role, !v.hungUp()
	}

	var entry pin.Entry
	pending := key // type-ahead from the greeting
	for !v.hungUp() {
		entry.Reset()
		if pending == 0 {
			pending, _ = v.play(true, v.clip(prompts.GetPin))
		}
		action := pin.Continue
		for action == pin.Continue {
			d := pending
			pending = 0
			if d == 0 {
				var ok bool
				d, ok = v.waitKey(b.opts.PINTimeout)
				if !ok {
					break // timeout or hang-up: the try fails
				}
			}
			action = entry.Key(d)
		}
		if v.hungUp() {
			return pin.None, false
		}
		if action == pin.Restart {
			continue
		}
		if action == pin.Submit {
			r, err := b.pin.Verify(attempt, secrets, entry.Value())
			if err != nil {
				log.Warn("pin locked out", "source", c.Source())
				b.opts.OnCallResult("bad_pin")
				v.play(false, v.clip(prompts.PinLockedOut), v.clip(prompts.Goodbye))
				return pin.None, false
			}
			if r != pin.None {
				return maxRole(role, r), true
			}
			if r, done := b.meetingPIN(v, meeting, entry.Value(), log); done {
				return maxRole(role, r), r != pin.None
			}
			log.Info("wrong pin", "try", tries.Failed()+1)
		} else {
			log.Info("pin timeout", "try", tries.Failed()+1)
		}
		if tries.Fail() {
			log.Warn("too many invalid pins", "source", c.Source())
			b.opts.OnCallResult("bad_pin")
			v.play(false, v.clip(prompts.PinBad), v.clip(prompts.Goodbye))
			return pin.None, false
		}
		pending, _ = v.play(true, v.clip(prompts.InvalidPin))
	}
	return pin.None, false
}

// meetingAnswer is what Meetings said of the PIN entered last.
type meetingAnswer struct {
	pin   string
	m     ScheduledMeeting
	state MeetingState
}

// meetingPIN acts on what the scheduled meetings said of an entered PIN
// that is not the room's. done is false when no meeting has that PIN (a wrong
// PIN); otherwise the caller is in (Participant) or has been told the
// meeting is not open (None: hang up).
func (b *Bridge) meetingPIN(v *ivr, found meetingAnswer, entered string, log *slog.Logger) (pin.Role, bool) {
	if found.pin != entered || entered == "" {
		return pin.None, false // the Verifier did not ask: no meetings, or locked out
	}
	m, state := found.m, found.state
	switch state {
	case Open:
		log.Info("scheduled meeting's pin", "meeting", m.ID)
		return pin.Participant, true
	case NotYet, Ended:
		log.Info("scheduled meeting not open", "meeting", m.ID, "start", m.Start, "end", m.End, "not_yet", state == NotYet)
		b.opts.OnCallResult("rejected")
		v.play(false, v.clip(prompts.NotOpen), v.clip(prompts.Goodbye))
		return pin.None, true
	}
	return pin.None, false
}

// greeting is "Welcome to the conference of <owner>" when the owner's
// name is recorded, else a plain welcome.
func (b *Bridge) greeting(v *ivr, rc config.Room) [][]int16 {
	if b.opts.OwnerName != nil {
		if name := b.opts.OwnerName(rc.Extension); len(name) > 0 {
			return [][]int16{v.clip(prompts.WelcomeOf), name}
		}
	}
	return [][]int16{v.clip(prompts.WelcomeConf)}
}

// sensitive reports whether rc is a sensitive room now: in the directory,
// or as the scheduled meeting whose window is open in it, or as the live
// room (which took a meeting's options when it opened).
func (b *Bridge) sensitive(rc config.Room) bool {
	if rc.Sensitive {
		return true
	}
	if b.opts.Meetings != nil {
		if m, ok := b.opts.Meetings.Current(rc.Extension, b.opts.Scheduler.Now()); ok && m.Sensitive {
			return true
		}
	}
	b.mu.Lock()
	r := b.rooms[rc.Extension]
	b.mu.Unlock()
	if r == nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cfg.Sensitive
}

func maxRole(a, b pin.Role) pin.Role {
	if a > b {
		return a
	}
	return b
}

// room returns the live room for rc, creating it, and counts the caller as
// on its way in so the room is not torn down under it.
func (b *Bridge) room(rc config.Room) *room {
	// Read before the lock: the database is not to hold up other rooms.
	var carried store.RoomState
	var takeOver bool
	if b.live(rc.Extension) == nil {
		carried, takeOver = b.carriedOver(rc.Extension)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	r := b.rooms[rc.Extension]
	if r == nil {
		r = newRoom(rc, b.opts, b.log)
		r.states = b.states
		if takeOver {
			r.takeOver(carried, time.Now())
		}
		b.rooms[rc.Extension] = r
	}
	r.refs++
	return r
}

// release undoes room: the last one out turns the lights off.
func (b *Bridge) release(r *room) {
	b.mu.Lock()
	defer b.mu.Unlock()
	r.refs--
	if r.refs == 0 {
		r.close()
		delete(b.rooms, r.cfg.Extension)
	}
}

// HangupAll ends every call, in the IVR or in a room, and waits up to
// timeout for them to be gone.
func (b *Bridge) HangupAll(timeout time.Duration) bool {
	b.mu.Lock()
	calls := make([]Call, 0, len(b.calls))
	for _, c := range b.calls {
		calls = append(calls, c)
	}
	b.mu.Unlock()
	for _, c := range calls {
		c.Hangup()
	}
	return b.wait(timeout)
}

// EndAll ends every meeting as its time limit would: each room with
// someone in it hears that the conference has ended, then everyone in it
// is hung up and its recording is finished and queued for delivery.
// Callers not in a room (still at the PIN prompt) and rooms where only the
// lobby waits are hung up at once. It waits up to timeout for every call
// to be gone; the caller may HangupAll what is left.
func (b *Bridge) EndAll(timeout time.Duration) bool {
	b.mu.Lock()
	rooms := make([]*room, 0, len(b.rooms))
	for _, r := range b.rooms {
		rooms = append(rooms, r)
	}
	calls := make([]Call, 0, len(b.calls))
	for _, c := range b.calls {
		calls = append(calls, c)
	}
	b.mu.Unlock()
	ending := make(map[string]bool)
	for _, r := range rooms {
		_ = r.act(func(st *state) ([]effect, error) {
			// A room nobody is mixed in has no clock to play the notice on.
			if r.mix.Len() == 0 {
				return nil, nil
			}
			for id := range r.byID {
				ending[id] = true
			}
			return st.end(""), nil
		})
	}
	for _, c := range calls {
		if !ending[c.ID()] {
			c.Hangup()
		}
	}
	return b.wait(timeout)
}

// wait waits up to timeout for every call Serve runs to be over.
func (b *Bridge) wait(timeout time.Duration) bool {
	done := make(chan struct{})
	go func() { b.wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(timeout):
		return false
	}
}

// Calls is the number of calls the bridge is serving, in IVR or in rooms.
func (b *Bridge) Calls() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.calls)
}

// RoomInfo is a snapshot of one live room.
type RoomInfo struct {
	Extension string
	Started   time.Time // the first participant joined; zero until then
	EndsAt    time.Time // zero without a running limit

	Locked, Lecture, Recording bool

	Participants int          // in the mix: hearing and heard
	Members      []MemberInfo // everyone admitted: in the mix, on the way in, or in the lobby
	Mixer        mixer.Stats
}

// MemberInfo is a snapshot of one participant.
type MemberInfo struct {
	ID       string
	CallerID string
	Role     string
	Muted    bool // by themselves, a host, or lecture mode
	Talking  bool
	Hand     bool // hand raised
	Lobby    bool // waiting in the lobby
	Named    bool // recorded a name
	JoinedAt time.Time
}

// Events is the bus every meeting's changes are published on.
func (b *Bridge) Events() *events.Bus { return b.opts.Events }

// Errors of the operator's controls; errors.Is tells them apart.
var (
	ErrNoRoom        = errors.New("conference: no meeting in that room")
	ErrNoParticipant = errors.New("conference: no such participant in that room")
	ErrConflict      = errors.New("conference: not possible now")
)

// act runs an operator's change in a live room.
func (b *Bridge) act(extension string, change func(st *state) ([]effect, error)) error {
	r := b.live(extension)
	if r == nil {
		return ErrNoRoom
	}
	return r.act(change)
}

// actOn is act for a change to one participant.
func (b *Bridge) actOn(extension, id string, change func(st *state) ([]effect, error)) error {
	return b.act(extension, func(st *state) ([]effect, error) {
		if st.members[id] == nil {
			return nil, ErrNoParticipant
		}
		return change(st)
	})
}

// Lock locks or unlocks a room: a locked room lets in only hosts.
func (b *Bridge) Lock(extension string, locked bool) error {
	return b.act(extension, func(st *state) ([]effect, error) { return st.setLocked(locked, ""), nil })
}

// SetLecture turns lecture mode on or off; the room is told.
func (b *Bridge) SetLecture(extension string, on bool) error {
	return b.act(extension, func(st *state) ([]effect, error) { return st.setLecture(on, ""), nil })
}

// SetRecording starts or stops recording; refused (ErrConflict) in a
// sensitive room.
func (b *Bridge) SetRecording(extension string, on bool) error {
	return b.act(extension, func(st *state) ([]effect, error) {
		if on && st.cfg.Sensitive {
			return nil, fmt.Errorf("%w: a sensitive room is never recorded", ErrConflict)
		}
		return st.setRecording(on, ""), nil
	})
}

// End ends a running meeting for everyone, with the room's goodbye.
func (b *Bridge) End(extension string) error {
	return b.act(extension, func(st *state) ([]effect, error) { return st.end(""), nil })
}

// Extend moves a running meeting's end by d and returns the new end.
func (b *Bridge) Extend(extension string, d time.Duration) (time.Time, error) {
	if b.live(extension) == nil {
		return time.Time{}, ErrNoRoom
	}
	end, err := b.opts.Scheduler.Extend(extension, d)
	if errors.Is(err, scheduler.ErrNoMeeting) {
		return end, fmt.Errorf("%w: the meeting has no time limit running", ErrConflict)
	}
	if r := b.live(extension); err == nil && r != nil {
		r.mu.Lock()
		r.saveState()
		r.mu.Unlock()
	}
	return end, err
}

// Mute mutes or unmutes a participant, who is told.
func (b *Bridge) Mute(extension, id string, muted bool) error {
	return b.actOn(extension, id, func(st *state) ([]effect, error) { return st.setMuted(id, muted, true), nil })
}

// Kick removes a participant: they hear that they were removed, then BYE.
func (b *Bridge) Kick(extension, id string) error {
	return b.actOn(extension, id, func(st *state) ([]effect, error) { return st.kick(id), nil })
}

// Admit lets a participant in from the lobby.
func (b *Bridge) Admit(extension, id string) error {
	return b.actOn(extension, id, func(st *state) ([]effect, error) {
		fx, ok := st.admitFromLobby(id)
		if !ok {
			return nil, fmt.Errorf("%w: the participant is not in the lobby", ErrConflict)
		}
		return fx, nil
	})
}

// GiveFloor unmutes a participant and lowers their hand, in lecture mode
// or not.
func (b *Bridge) GiveFloor(extension, id string) error {
	return b.actOn(extension, id, func(st *state) ([]effect, error) {
		if st.isLobby(id) {
			return nil, fmt.Errorf("%w: the participant is in the lobby", ErrConflict)
		}
		return st.floorTo(id), nil
	})
}

// Room is one live room's snapshot.
func (b *Bridge) Room(extension string) (RoomInfo, bool) {
	r := b.live(extension)
	if r == nil {
		return RoomInfo{}, false
	}
	return r.info(), true
}

func (b *Bridge) live(extension string) *room {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.rooms[extension]
}

// Rooms lists the live rooms, by extension.
func (b *Bridge) Rooms() []RoomInfo {
	b.mu.Lock()
	rs := make([]*room, 0, len(b.rooms))
	for _, r := range b.rooms {
		rs = append(rs, r)
	}
	b.mu.Unlock()
	out := make([]RoomInfo, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.info())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Extension < out[j].Extension })
	return out
}
