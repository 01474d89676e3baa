// Package mixer mixes one conference room: every 20 ms tick it pulls one
// frame from each participant, decides who is talking, sums the K loudest
// talkers once, and sends every participant what it should hear.
//
// The work per tick is O(N): listeners that are not among the K talkers all
// hear the same mix, which is encoded once per codec and handed to each of
// them as the very same payload; only the K talkers (each hears the sum minus
// itself) and participants with a private prompt get an encode of their own.
// Samples are summed in 32 bits and limited to 16 bits only at the very end,
// after a talker's own signal has been taken out, so a talker in a loud room
// hears the others undistorted (saturating first, as Asterisk and DAHDI do,
// bends what a talker hears whenever the room clips).
//
// A tick allocates nothing; Add and Announce are where buffers are made.
//
// Inputs, Outputs, Sources and the tap are called from Tick with the
// mixer's lock held. They must return promptly and must not call back into
// the Mixer or any of its Members: that would deadlock.
package mixer

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"brygga/media/codec"
)

// FrameDuration is the length of one frame and the interval between ticks.
const FrameDuration = 20 * time.Millisecond

// Defaults for the zero values of Config.
const (
	DefaultRate          = 8000
	DefaultMaxTalkers    = 4
	DefaultTalkThreshold = -40.0 // dBFS; near Asterisk's silence threshold of 256 mean amplitude
	DefaultHangover      = 200 * time.Millisecond
	DefaultCatchUp       = 3
)

// Input is where a participant's audio comes from; media.Session satisfies
// it. ReadFrame fills pcm (exactly one frame) and returns false when there
// is nothing to play, in which case the participant contributes silence.
type Input interface {
	ReadFrame(pcm []int16) bool
}

// Output is where a participant's audio goes; media.Session satisfies it.
// payload is one encoded frame, valid only during the call, and it may be
// the same slice that every other listener of the codec receives in this
// tick: an Output must neither keep it nor change it (encrypt a copy, not
// the slice). WriteFrame runs inside Tick with the mixer locked, so it must
// not call back into the Mixer or its Members, and should not block.
type Output interface {
	WriteFrame(payload []byte)
}

// Source is a prompt being played. ReadFrame fills pcm with the next frame
// and returns true, or returns false once the prompt has finished (pcm is
// then not used).
type Source interface {
	ReadFrame(pcm []int16) bool
}

// Config sets up a room's mixer. Zero values take the defaults above.
type Config struct {
	// Rate is the sample rate in Hz; a frame is Rate/50 samples. It must be
	// a multiple of 50. Every participant's codec must carry PCM at this
	// rate: the mixer does not resample.
	Rate int
	// MaxTalkers is K, how many of the loudest talkers are mixed at once.
	MaxTalkers int
	// TalkThreshold is the RMS level in dBFS (full-scale sine = 0 dBFS)
	// at or above which a frame counts as speech.
	TalkThreshold float64
	// Hangover is how long a participant still counts as talking after its
	// last frame of speech, so pauses between words do not cut it off.
	// Negative means none.
	Hangover time.Duration
	// CatchUp is how many missed ticks the clock makes up back to back
	// after the scheduler stalled; frames missed beyond that are skipped.
	// Negative means never catch up.
	CatchUp int
}

// Stats are the room clock's counters; see Mixer.Stats.
type Stats struct {
	Ticks       uint64        // ticks mixed, whether by a Clock or by calling Tick
	LateTicks   uint64        // ticks the clock started more than one frame after their deadline
	Skipped     uint64        // frames never mixed because the clock fell further behind than CatchUp
	Resyncs     uint64        // times the clock skipped frames
	MaxLateness time.Duration // the latest any tick started after its deadline
}

// Mixer is one room's mix. Create it with New.
type Mixer struct {
	samples   int   // per frame
	k         int   // talkers mixed at once
	threshold int64 // mean square of a frame at TalkThreshold
	hangTicks int
	catchUp   int

	mu      sync.Mutex
	members []*Member
	talkers []*Member // the K chosen this tick, loudest first; cap K
	codecs  []*codecMix
	annQ    []Source // queued announcements from annHead on
	annHead int
	annCur  Source // the announcement playing now
	tap     func(pcm []int16)

	// Scratch for a tick, sized at New so Tick does not allocate.
	sum     []int32 // talkers plus announcement
	mix     []int16 // sum limited to 16 bits: what every plain listener hears
	ann     []int16 // this tick's announcement frame
	prompt  []int16 // this tick's private prompt frame of one member
	own     []int16 // what one talker or prompted member hears
	payload []byte  // its encoded frame

	ticks       atomic.Uint64
	lateTicks   atomic.Uint64
	skipped     atomic.Uint64
	resyncs     atomic.Uint64
	maxLateness atomic.Int64
}

// codecMix is the shared listener mix of one codec, encoded at most once
// per tick and only if some listener of that codec needs it.
type codecMix struct {
	c       codec.Codec
	payload []byte
	n       int // bytes of payload valid this tick; -1 until encoded
}

// Member is one participant in the mix.
type Member struct {
	m     *Mixer
	codec codec.Codec
	cm    *codecMix
	in    Input
	out   Output
	idx   int // index in m.members; -1 once removed

	pcm    []int16 // this tick's input frame
	level  int64   // mean square, instant attack and slow release, for ranking
	rank   int64
	hold   int  // ticks of hangover left
	voice  bool // talk detection says speech (muted or not)
	muted  bool
	inMix  bool // among the K talkers of the last tick
	prompt Source
}

// New creates a room's mixer. It panics when Rate is not a positive
// multiple of 50, which is a programming error rather than a runtime one.
func New(cfg Config) *Mixer {
	if cfg.Rate == 0 {
		cfg.Rate = DefaultRate
	}
	if cfg.Rate < 50 || cfg.Rate%50 != 0 {
		panic("mixer: Rate must be a positive multiple of 50")
	}
	if cfg.MaxTalkers <= 0 {
		cfg.MaxTalkers = DefaultMaxTalkers
	}
	if cfg.TalkThreshold == 0 {
		cfg.TalkThreshold = DefaultTalkThreshold
	}
	switch {
	case cfg.Hangover == 0:
		cfg.Hangover = DefaultHangover
	case cfg.Hangover < 0:
		cfg.Hangover = 0
	}
	switch {
	case cfg.CatchUp == 0:
		cfg.CatchUp = DefaultCatchUp
	case cfg.CatchUp < 0:
		cfg.CatchUp = 0
	}
	n := cfg.Rate / 50
	// A full-scale sine has a mean square of FullScale²/2 (AES17).
	const fullScaleSine = 32767.0 * 32767.0 / 2
	return &Mixer{
		samples:   n,
		k:         cfg.MaxTalkers,
		threshold: int64(math.Ceil(fullScaleSine * math.Pow(10, cfg.TalkThreshold/10))),
		hangTicks: int((cfg.Hangover + FrameDuration - 1) / FrameDuration),
		catchUp:   cfg.CatchUp,
		talkers:   make([]*Member, 0, cfg.MaxTalkers),
		sum:       make([]int32, n),
		mix:       make([]int16, n),
		ann:       make([]int16, n),
		prompt:    make([]int16, n),
		own:       make([]int16, n),
		payload:   make([]byte, payloadSize(n)),
	}
}

// payloadSize bounds one encoded frame: two bytes a sample covers G.711
// (one) and uncompressed 16-bit audio; anything a codec writes past that is
// cut off by Codec.Encode's contract.
func payloadSize(samples int) int { return 2 * samples }

// FrameSamples is the number of samples in one frame of this room.
func (m *Mixer) FrameSamples() int { return m.samples }

// Add puts a participant into the room: in is read and out written once per
// tick from the next tick on, with frames encoded by c. A nil in is a
// participant that only listens; a nil out one that is never sent anything.
// Safe from any goroutine.
func (m *Mixer) Add(c codec.Codec, in Input, out Output) *Member {
	if c == nil {
		panic("mixer: Add with a nil codec")
	}
	mb := &Member{m: m, codec: c, in: in, out: out, pcm: make([]int16, m.samples)}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, cm := range m.codecs {
		if cm.c == c {
			mb.cm = cm
			break
		}
	}
	if mb.cm == nil {
		mb.cm = &codecMix{c: c, payload: make([]byte, payloadSize(m.samples)), n: -1}
		m.codecs = append(m.codecs, mb.cm)
	}
	mb.idx = len(m.members)
	m.members = append(m.members, mb)
	return mb
}

// Remove takes a participant out of the room. Once it returns, the
// participant's Input and Output are never called again, so the caller may
// close them. Removing twice, or a member of another mixer, does nothing.
func (m *Mixer) Remove(mb *Member) {
	if mb == nil || mb.m != m {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if mb.idx < 0 {
		return
	}
	last := len(m.members) - 1
	moved := m.members[last]
	m.members[mb.idx] = moved
	moved.idx = mb.idx
	m.members[last] = nil
	m.members = m.members[:last]
	mb.idx = -1
	mb.prompt = nil
	mb.inMix = false
	mb.voice = false
	// Tick rebuilds the talker list before reading it; dropping mb here only
	// lets the removed participant be collected without waiting for a tick.
	for i, t := range m.talkers {
		if t == mb {
			m.talkers = append(m.talkers[:i], m.talkers[i+1:]...)
			break
		}
	}
}

// Len is the number of participants in the room.
func (m *Mixer) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.members)
}

// Codec is the codec the participant's frames are encoded with.
func (mb *Member) Codec() codec.Codec { return mb.codec }

// SetMuted mutes or unmutes the participant's input. A muted participant
// is never a talker; it still hears the room and its input is still read
// every tick (so its jitter buffer and in-band DTMF detection keep going).
func (mb *Member) SetMuted(muted bool) {
	mb.m.mu.Lock()
	defer mb.m.mu.Unlock()
	mb.muted = muted
	if muted {
		mb.inMix = false
	}
}

// Muted reports whether the participant is muted.
func (mb *Member) Muted() bool {
	mb.m.mu.Lock()
	defer mb.m.mu.Unlock()
	return mb.muted
}

// Talking reports whether talk detection (with hangover) hears the
// participant speak. A muted participant is never talking. A talking
// participant is not necessarily mixed: see InMix.
func (mb *Member) Talking() bool {
	mb.m.mu.Lock()
	defer mb.m.mu.Unlock()
	return mb.voice && !mb.muted
}

// InMix reports whether the participant was among the K talkers mixed in
// the last tick.
func (mb *Member) InMix() bool {
	mb.m.mu.Lock()
	defer mb.m.mu.Unlock()
	return mb.inMix
}

// Play starts a private prompt that only this participant hears, mixed
// over the room. It replaces any prompt already playing; Play(nil) stops it
// (for type-ahead: a digit pressed during a prompt cuts it short).
func (mb *Member) Play(src Source) {
	mb.m.mu.Lock()
	defer mb.m.mu.Unlock()
	mb.prompt = src
}

// Playing reports whether a private prompt is still playing.
func (mb *Member) Playing() bool {
	mb.m.mu.Lock()
	defer mb.m.mu.Unlock()
	return mb.prompt != nil
}

// Announce queues a prompt for the whole room, talkers included, and the
// tap. Announcements play one after another, never over each other.
func (m *Mixer) Announce(src Source) {
	if src == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.annQ = append(m.annQ, src)
}

// Announcing reports whether an announcement is playing or queued.
func (m *Mixer) Announcing() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.annCur != nil || m.annHead < len(m.annQ)
}

// SetTap sets a function that receives the full mix of every tick: the
// talkers and announcements, without private prompts. pcm is valid only
// during the call and must not be changed. nil removes the tap.
func (m *Mixer) SetTap(tap func(pcm []int16)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tap = tap
}

// Stats returns the clock counters. Safe from any goroutine.
func (m *Mixer) Stats() Stats {
	return Stats{
		Ticks:       m.ticks.Load(),
		LateTicks:   m.lateTicks.Load(),
		Skipped:     m.skipped.Load(),
		Resyncs:     m.resyncs.Load(),
		MaxLateness: time.Duration(m.maxLateness.Load()),
	}
}

// Tick mixes one frame: it reads every input, detects talkers, sums the K
// loudest with the current announcement, and writes every output. It does
// not allocate. A Clock calls it every frame; tests and the load
// generator may call it directly. Every Input, Output, Source and the tap
// are called with the mixer locked: none of them may call into the Mixer.
func (m *Mixer) Tick() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ticks.Add(1)

	m.talkers = m.talkers[:0]
	for _, mb := range m.members {
		m.listen(mb)
	}

	sum := m.sum
	if m.nextAnnouncement() {
		for i, s := range m.ann {
			sum[i] = int32(s)
		}
	} else {
		clear(sum)
	}
	for _, t := range m.talkers {
		t.inMix = true
		for i, s := range t.pcm {
			sum[i] += int32(s)
		}
	}
	for i, s := range sum {
		m.mix[i] = clamp(s)
	}
	for _, cm := range m.codecs {
		cm.n = -1
	}

	for _, mb := range m.members {
		m.speak(mb)
	}
	if m.tap != nil {
		m.tap(m.mix)
	}
}

// listen reads one participant's frame, runs talk detection on it and
// offers it as a talker.
func (m *Mixer) listen(mb *Member) {
	if mb.in == nil || !mb.in.ReadFrame(mb.pcm) {
		clear(mb.pcm)
	}
	var acc int64
	for _, s := range mb.pcm {
		v := int64(s)
		acc += v * v
	}
	e := acc / int64(len(mb.pcm))

	switch {
	case e >= m.threshold:
		mb.voice = true
		mb.hold = m.hangTicks
	case mb.hold > 0:
		mb.hold--
	default:
		mb.voice = false
	}
	// Ranking by a level that falls slowly keeps a talker who pauses for
	// breath ahead of a quieter one, so the mix does not flap between them.
	if e > mb.level {
		mb.level = e
	} else {
		mb.level -= (mb.level - e) >> 3
	}
	mb.rank = mb.level
	if mb.inMix {
		// Incumbents get 3 dB of hysteresis for the same reason.
		mb.rank *= 2
	}
	mb.inMix = false
	if mb.voice && !mb.muted {
		m.offer(mb)
	}
}

// offer inserts mb into the talker list, kept sorted loudest first and at
// most K long: O(K) per participant, so O(N) per tick for a fixed K.
func (m *Mixer) offer(mb *Member) {
	t := m.talkers
	if len(t) == m.k {
		if mb.rank <= t[len(t)-1].rank {
			return
		}
		t = t[:len(t)-1]
	}
	i := len(t)
	t = append(t, mb)
	for i > 0 && t[i-1].rank < mb.rank {
		t[i] = t[i-1]
		i--
	}
	t[i] = mb
	m.talkers = t
}

// nextAnnouncement loads this tick's announcement frame into m.ann, moving
// on to the next queued announcement when the current one has finished.
func (m *Mixer) nextAnnouncement() bool {
	for {
		if m.annCur == nil {
			if m.annHead == len(m.annQ) {
				// Rewind so the queue reuses its array instead of growing.
				m.annQ, m.annHead = m.annQ[:0], 0
				return false
			}
			m.annCur = m.annQ[m.annHead]
			m.annQ[m.annHead] = nil
			m.annHead++
		}
		if m.annCur.ReadFrame(m.ann) {
			return true
		}
		m.annCur = nil
	}
}

// speak sends one participant what it hears this tick.
func (m *Mixer) speak(mb *Member) {
	prompted := false
	if mb.prompt != nil {
		if mb.prompt.ReadFrame(m.prompt) {
			prompted = true
		} else {
			mb.prompt = nil
		}
	}
	if mb.out == nil {
		return
	}
	switch {
	case mb.inMix && prompted:
		for i, s := range m.sum {
			m.own[i] = clamp(s - int32(mb.pcm[i]) + int32(m.prompt[i]))
		}
	case mb.inMix:
		for i, s := range m.sum {
			m.own[i] = clamp(s - int32(mb.pcm[i]))
		}
	case prompted:
		for i, s := range m.sum {
			m.own[i] = clamp(s + int32(m.prompt[i]))
		}
	default:
		cm := mb.cm
		if cm.n < 0 {
			cm.n = cm.c.Encode(cm.payload, m.mix)
		}
		mb.out.WriteFrame(cm.payload[:cm.n])
		return
	}
	n := mb.codec.Encode(m.payload, m.own)
	mb.out.WriteFrame(m.payload[:n])
}

func clamp(s int32) int16 {
	return int16(max(min(s, math.MaxInt16), math.MinInt16))
}
