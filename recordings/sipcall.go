package recordings

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"

	"brygga/media/codec"
	"brygga/phone"
	"brygga/prompts"
)

// SIPCall delivers recordings (sip: targets) the way a person leaves a
// message: it calls the owner's voicemail, waits for the greeting's beep and
// plays the recording. The INVITE carries a Diversion header naming the
// mailbox, as a PBX does when it forwards an unanswered call, so a voicemail
// system behind the PBX (Asterisk's app_voicemail and most others) opens
// that mailbox for a deposit instead of asking who is calling.
type SIPCall struct {
	// Proxy is the outbound proxy (voicemail.sip_proxy), e.g.
	// "sip:pbx.example.org" or "sip:127.0.0.1:5070": the INVITE goes
	// there while its Request-URI stays the target. Empty sends it to the
	// target's host.
	Proxy string
	// LocalIP is the address the call's SIP and RTP use and announce.
	// Invalid (the zero value) means the one the system routes to the
	// proxy, or to the target's host, from.
	LocalIP netip.Addr
	// User is the user part of From and Contact; empty means the room's
	// extension, so the mailbox shows which room the message came from,
	// or "brygga" when the message names no room.
	User string
	// MaxPart is the longest message left in the mailbox, a part's "Part
	// N of M" announcement included; a longer recording goes as several
	// messages. Keep it a little under the voicemail system's own limit
	// (Asterisk: maxsecs). Default 5 minutes.
	MaxPart time.Duration
	// BeepWait is how long after the answer the greeting's beep is
	// waited for; without one the recording plays anyway. Default 20 s.
	BeepWait time.Duration
	// Prompts speaks the part announcements; nil means the built-in set.
	Prompts *prompts.Library
	// Logger gets a line per message left and a warning when no beep
	// came or the BYE failed; nil means slog.Default().
	Logger *slog.Logger
	// Progress keeps a split recording from being deposited twice: see
	// SIPProgress. The zero value starts every attempt at part 1.
	Progress SIPProgress
}

// SIPProgress remembers, across attempts (and restarts, if it is kept in
// the store), how many parts of a split recording are already in the
// mailbox, so that a retry after part 2 of 3 failed sends part 2 and 3
// only. Parts are deposited in order, so a count is all it takes. Either
// function may be nil: without Done every attempt starts at part 1, and the
// mailbox may get some parts twice. A recording that is not split never
// calls them. The count means nothing once MaxPart changes between
// attempts, as the parts are then cut elsewhere.
type SIPProgress struct {
	// Done returns how many parts of recording id are in the mailbox.
	Done func(id string) int
	// MarkDone records that part (1-based) of recording id is in the
	// mailbox; it is called as soon as that part's call has ended well.
	MarkDone func(id string, part int)
}

const (
	sipDefaultMaxPart  = 5 * time.Minute
	sipDefaultBeepWait = 20 * time.Second
	// sipRingTimeout is how long an unanswered INVITE rings before it is
	// cancelled and tried again later: a voicemail answers at once.
	sipRingTimeout = 60 * time.Second
	// sipTail is silence sent after the recording before BYE, so the far
	// end's jitter buffer has played out the last words when it stops
	// recording.
	sipTail = 500 * time.Millisecond
	// sipWordGap and sipAnnouncePause space the part announcement: the
	// words are trimmed clips, and the recording should not run into them.
	sipWordGap       = 100 * time.Millisecond
	sipAnnouncePause = 700 * time.Millisecond
	// sipHeardKeep is how much of what the voicemail says the phone keeps:
	// the beep is looked for every frame, so a little is plenty.
	sipHeardKeep = 30 * time.Second
	sipFrame     = sampleRate / 50
)

// Deliver calls m.Target and leaves the recording at m.Path as one message
// or, when it is longer than MaxPart, as several numbered ones. A target
// that is not a sip: URI with a mailbox, a file that is gone or unreadable,
// and final answers that retrying cannot mend (404, 604, 488, …) are
// permanent; busy, unavailable, timeouts, network trouble and a voicemail
// that hangs up before the end are retried.
func (s SIPCall) Deliver(ctx context.Context, m Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	target, err := sipTarget(m.Target)
	if err != nil {
		return Permanent(err)
	}
	wav, err := sipOpenWAV(m.Path)
	if err != nil {
		return err
	}
	defer wav.Close()
	if wav.samples == 0 {
		return Permanent(fmt.Errorf("sip: recording %s holds no audio", m.Path))
	}

	lib := s.Prompts
	if lib == nil {
		lib = prompts.Builtin()
	}
	maxPart := s.MaxPart
	if maxPart <= 0 {
		maxPart = sipDefaultMaxPart
	}
	bounds, err := sipSplit(wav.samples, sipSamples(maxPart), func(n, total int) int {
		return len(sipAnnouncement(lib, m.Language, n, total))
	})
	if err != nil {
		return err
	}
	parts := len(bounds) - 1

	first := 1
	if parts > 1 && s.Progress.Done != nil {
		first = min(max(s.Progress.Done(m.ID), 0), parts) + 1
	}
	for n := first; n <= parts; n++ {
		pcm, err := wav.read(bounds[n-1], bounds[n])
		if err != nil {
			return sipPartError(n, parts, err)
		}
		if parts > 1 {
			pcm = append(sipAnnouncement(lib, m.Language, n, parts), pcm...)
		}
		if err := s.call(ctx, m, target, pcm, n, parts); err != nil {
			return sipPartError(n, parts, err)
		}
		if parts > 1 && s.Progress.MarkDone != nil {
			s.Progress.MarkDone(m.ID, n)
		}
	}
	return nil
}

// sipPartError says which part failed, and what is in the mailbox already,
// keeping err's permanence.
func sipPartError(n, parts int, err error) error {
	switch {
	case parts == 1:
		return err
	case n == 1:
		return fmt.Errorf("part 1 of %d: %w", parts, err)
	case n == 2:
		return fmt.Errorf("part 2 of %d (part 1 is in the mailbox): %w", parts, err)
	}
	return fmt.Errorf("part %d of %d (parts 1-%d are in the mailbox): %w", n, parts, n-1, err)
}

// call leaves pcm as one message: dial, wait for the beep, play, hang up.
func (s SIPCall) call(ctx context.Context, m Message, target sip.Uri, pcm []int16, part, parts int) error {
	log := s.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("recording", m.ID, "target", m.Target)
	if parts > 1 {
		log = log.With("part", part, "parts", parts)
	}
	local := s.LocalIP
	if !local.IsValid() {
		var err error
		if local, err = sipLocalIP(ctx, s.Proxy, target); err != nil {
			return err
		}
	}
	user := s.User
	if user == "" {
		user = sipUserPart(m.Room)
	}

	// Europe's PBXs often take A-law only; the phone offers one codec, so
	// a refusal of µ-law is asked again with A-law.
	var (
		call *phone.Call
		ph   *phone.Phone
		err  error
	)
	for _, c := range []codec.Codec{codec.PCMU, codec.PCMA} {
		ph, err = phone.New(ctx, phone.Config{
			LocalIP:     local,
			User:        user,
			DisplayName: "brygga",
			Codec:       c,
			RecordLimit: sipHeardKeep,
			Logger:      log,
		})
		if err != nil {
			return err
		}
		call, err = ph.Dial(ctx, m.Target,
			phone.WithOutboundProxy(s.Proxy),
			phone.WithCancelAfter(sipRingTimeout),
			phone.WithHeader("Diversion", sipDiversion(target)),
		)
		if err == nil {
			break
		}
		ph.Close()
		var se *phone.StatusError
		if !errors.As(err, &se) || (se.Code != sip.StatusNotAcceptableHere && se.Code != 606) {
			break
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("sip: call to voicemail: %w", context.Cause(ctx))
		}
		return sipDialError(err)
	}
	defer ph.Close()
	answered := time.Now()

	beep := s.BeepWait
	if beep <= 0 {
		beep = sipDefaultBeepWait
	}
	if err := sipWaitBeep(ctx, call, beep, log); err != nil {
		return err
	}

	play := newSIPPlayback(pcm)
	call.SetSource(play.frame)
	length := sipDuration(len(pcm))
	select {
	case <-play.done:
	case <-call.Done():
		return fmt.Errorf("sip: voicemail hung up %s into a message of %s", sipDuration(play.sent()).Round(100*time.Millisecond), length.Round(100*time.Millisecond))
	case <-ctx.Done():
		sipHangup(call, log)
		return fmt.Errorf("sip: stopped %s into a message of %s: %w", sipDuration(play.sent()).Round(100*time.Millisecond), length.Round(100*time.Millisecond), context.Cause(ctx))
	}
	select {
	case <-time.After(sipTail):
	case <-call.Done():
		// Hanging up once everything is sent is the voicemail's right.
	case <-ctx.Done():
	}
	sipHangup(call, log)
	log.Info("sip: message left in voicemail", "length", length.Round(10*time.Millisecond), "call", time.Since(answered).Round(10*time.Millisecond))
	return nil
}

// sipWaitBeep returns once the greeting's beep has ended, or after wait
// without one.
func sipWaitBeep(ctx context.Context, call *phone.Call, wait time.Duration, log *slog.Logger) error {
	det := newSIPBeepDetector(sampleRate)
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	tick := time.NewTicker(sipFrame * time.Second / sampleRate)
	defer tick.Stop()
	pos := 0
	for {
		select {
		case <-tick.C:
			heard := call.ReceivedSince(pos)
			pos += len(heard)
			if det.write(heard) {
				log.Debug("sip: beep heard", "freq", math.Round(det.freq), "length", det.length())
				return nil
			}
		case <-deadline.C:
			log.Warn("sip: no beep from the voicemail; leaving the message anyway", "waited", wait)
			return nil
		case <-call.Done():
			return errors.New("sip: voicemail hung up before its beep")
		case <-ctx.Done():
			sipHangup(call, log)
			return fmt.Errorf("sip: waiting for the beep: %w", context.Cause(ctx))
		}
	}
}

func sipHangup(call *phone.Call, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// A failed BYE leaves the voicemail to notice the silence; what it
	// recorded is kept either way, so the message counts as left.
	if err := call.Hangup(ctx); err != nil {
		log.Warn("sip: hanging up the voicemail", "err", err)
	}
}

// sipPlayback is a call's frame source: the message, then silence. done
// closes on the frame after the last samples, when those are on the wire.
type sipPlayback struct {
	pcm  []int16
	pos  atomic.Int64
	done chan struct{}
	once sync.Once
}

func newSIPPlayback(pcm []int16) *sipPlayback {
	return &sipPlayback{pcm: pcm, done: make(chan struct{})}
}

func (p *sipPlayback) frame(dst []int16) {
	pos := int(p.pos.Load())
	n := copy(dst, p.pcm[pos:])
	clear(dst[n:])
	p.pos.Store(int64(pos + n))
	if n == 0 {
		p.once.Do(func() { close(p.done) })
	}
}

func (p *sipPlayback) sent() int { return int(p.pos.Load()) }

// sipDialError sorts a failed dial into permanent and worth retrying.
func sipDialError(err error) error {
	var se *phone.StatusError
	if errors.As(err, &se) && !sipRetryable(se.Code) {
		return Permanent(fmt.Errorf("sip: voicemail refused the call: %w", err))
	}
	return fmt.Errorf("sip: call to voicemail: %w", err)
}

// sipRetryable is whether a final answer may turn out otherwise later.
// Authentication and 403 count as misconfiguration that the operator can
// mend while the queue backs off, as the mail deliverer treats a refused
// login.
func sipRetryable(code int) bool {
	switch code {
	case 401, 403, 407, // credentials or trust the PBX wants set up
		408, 480, 486, 487, 491, // timeout, unavailable, busy, cancelled, glare
		600: // busy everywhere
		return true
	case 501, 505, 513: // the server will not ever do it
		return false
	}
	return code >= 500 && code < 600
}

// sipTarget checks m.Target is a sip: URI with a mailbox.
func sipTarget(raw string) (sip.Uri, error) {
	var uri sip.Uri
	if err := sip.ParseUri(raw, &uri); err != nil {
		return uri, fmt.Errorf("sip: voicemail target %q: %w", raw, err)
	}
	if !strings.EqualFold(uri.Scheme, "sip") {
		return uri, fmt.Errorf("sip: voicemail target %q: only sip: is supported", raw)
	}
	if uri.User == "" || uri.Host == "" {
		return uri, fmt.Errorf("sip: voicemail target %q: want sip:mailbox@host", raw)
	}
	return uri, nil
}

// sipDiversion is the RFC 5806 Diversion header of a call forwarded from
// the mailbox because nobody answered: what a voicemail system takes as
// "leave a message for this mailbox".
func sipDiversion(target sip.Uri) string {
	u := sip.Uri{Scheme: "sip", User: target.User, Host: target.Host}
	return "<" + u.String() + ">;reason=no-answer"
}

// sipUserPart turns a room's extension into a From user, or "brygga".
func sipUserPart(room string) string {
	if room == "" {
		return "brygga"
	}
	for _, r := range room {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || strings.ContainsRune("-_.!~*'()+", r)) {
			return "brygga"
		}
	}
	return room
}

// sipLocalIP is the address the system sends from towards the first hop.
func sipLocalIP(ctx context.Context, proxy string, target sip.Uri) (netip.Addr, error) {
	host, port := target.Host, target.Port
	if proxy != "" {
		raw := strings.Trim(strings.TrimSpace(proxy), "<>")
		if lower := strings.ToLower(raw); !strings.HasPrefix(lower, "sip:") && !strings.HasPrefix(lower, "sips:") {
			raw = "sip:" + raw
		}
		var u sip.Uri
		if err := sip.ParseUri(raw, &u); err != nil || u.Host == "" {
			return netip.Addr{}, fmt.Errorf("sip: outbound proxy %q: not a SIP URI", proxy)
		}
		host, port = u.Host, u.Port
	}
	if port == 0 {
		port = 5060
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return netip.Addr{}, fmt.Errorf("sip: no route to %s: %w", host, err)
	}
	defer conn.Close()
	return conn.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap(), nil
}

// sipAnnouncement is "Part n of m" and a pause before the recording.
func sipAnnouncement(lib *prompts.Library, lang string, n, m int) []int16 {
	var words [][]int16
	words = append(words, lib.Clip(lang, prompts.VMPart))
	words = append(words, lib.Number(lang, n)...)
	words = append(words, lib.Clip(lang, prompts.VMOf))
	words = append(words, lib.Number(lang, m)...)
	gap := sipSamples(sipWordGap)
	var out []int16
	for _, w := range words {
		if len(w) == 0 {
			continue
		}
		if len(out) > 0 {
			out = append(out, make([]int16, gap)...)
		}
		out = append(out, w...)
	}
	return append(out, make([]int16, sipSamples(sipAnnouncePause))...)
}

// sipSplit cuts total samples into the fewest equal parts that each fit
// in maxPart with their announcement (announce(n, m) samples for part n of
// m). It returns the m+1 boundaries; one part needs no announcement.
func sipSplit(total, maxPart int, announce func(n, m int) int) ([]int, error) {
	if total <= maxPart {
		return []int{0, total}, nil
	}
	for m := (total + maxPart - 1) / maxPart; ; m++ {
		longest := 0
		for n := 1; n <= m; n++ {
			longest = max(longest, announce(n, m))
		}
		room := maxPart - longest
		if room < sampleRate {
			return nil, fmt.Errorf("sip: max part of %s leaves no room beside the part announcement of %s", sipDuration(maxPart), sipDuration(longest))
		}
		if m*room >= total {
			b := make([]int, m+1)
			for i := range b {
				b[i] = int(int64(i) * int64(total) / int64(m))
			}
			return b, nil
		}
	}
}

func sipSamples(d time.Duration) int { return int(d * sampleRate / time.Second) }

func sipDuration(samples int) time.Duration {
	return time.Duration(samples) * time.Second / sampleRate
}

// sipWAV is a recording's samples on disk, read a part at a time: a
// meeting of hours need not be in memory at once.
type sipWAV struct {
	f       *os.File
	data    int64 // offset of the first sample
	samples int
}

// sipOpenWAV opens a recording to be read a part at a time (findWAVData).
func sipOpenWAV(path string) (*sipWAV, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, Permanent(fmt.Errorf("sip: recording file: %w", err))
		}
		return nil, fmt.Errorf("sip: recording file: %w", err)
	}
	w, err := sipParseWAV(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return w, nil
}

func sipParseWAV(f *os.File) (*sipWAV, error) {
	data, samples, err := findWAVData(f)
	if err != nil {
		return nil, Permanent(fmt.Errorf("sip: recording %s: %w", f.Name(), err))
	}
	return &sipWAV{f: f, data: data, samples: int(samples)}, nil
}

// read returns samples [from, to).
func (w *sipWAV) read(from, to int) ([]int16, error) {
	b := make([]byte, 2*(to-from))
	if _, err := w.f.ReadAt(b, w.data+2*int64(from)); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("sip: reading the recording: %w", err)
	}
	out := make([]int16, to-from)
	for i := range out {
		out[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
	}
	return out, nil
}

func (w *sipWAV) Close() error { return w.f.Close() }

// The beep detector. A voicemail greeting ends with a beep: one steady
// tone (1000 Hz for Asterisk; 440, 440+480 or 1400 Hz elsewhere) of a
// few hundred milliseconds, then the recording starts. The detector knows
// no frequency in advance. It looks at 20 ms frames for what a tone is and
// speech is not:
//
//   - predictable: a short linear predictor (order 4, least squares over
//     the frame) models one or two sinusoids exactly, so on a tone it
//     leaves only the G.711 quantisation noise, 30-38 dB under the signal,
//     while on speech (many harmonics, moving formants, noise) it gains
//     little: over the built-in prompts, 5.6 dB for the median frame and
//     more than 20 dB for one frame in a hundred, never two in a row;
//   - in the telephone beep band, by where the frame's strongest
//     component lies (a Hann-windowed Goertzel scan);
//   - steady: that frequency stays put from frame to frame, where a voice's
//     pitch and formants glide;
//   - long enough: six whole frames (120 ms), which every beep of 150 ms
//     or more gives whatever the frame alignment, and a DTMF digit (100
//     ms) does not; and not too long (a dial tone is no beep).
//
// The beep has ended when two frames in a row carry no tone (one may be a
// lost packet). A tone that changes pitch at once is a chime of several
// notes, and the beep ends after its last note.
const (
	sipToneGainDB   = 20.0  // prediction gain of a tonal frame
	sipToneMinLevel = -40.0 // dBFS; quieter frames are not looked at
	sipBeepLowHz    = 300.0
	sipBeepHighHz   = 2200.0
	sipBeepDriftHz  = 50.0 // frame-to-run frequency difference of a steady tone
	sipBeepMinRun   = 6    // whole frames: 120 ms
	sipBeepMaxRun   = 200  // 4 s
	sipBeepEndRun   = 2    // frames without the tone that end it
	sipLPCOrder     = 4
)

// sipBeepDetector finds the end of a beep in audio fed to it in pieces of
// any size. It is pure: no clock, no I/O.
type sipBeepDetector struct {
	rate     int
	frame    []int16   // samples of the frame being filled
	window   []float64 // Hann window of a frame
	work     []float64 // the frame without DC
	windowed []float64
	pos      int64 // samples seen in whole frames

	// The tonal stretch being heard: its current tone has lasted run
	// frames at runFreq; qualified says an earlier tone in it was long
	// enough; misses counts frames without a tone since.
	run       int
	runFreq   float64
	segStart  int64
	segFrames int
	qualified bool
	misses    int

	ended bool
	freq  float64 // of the beep's last note
	start int64   // sample positions of the beep heard
	end   int64
}

func newSIPBeepDetector(rate int) *sipBeepDetector {
	n := rate / 50
	d := &sipBeepDetector{rate: rate, frame: make([]int16, 0, n), window: make([]float64, n), work: make([]float64, n), windowed: make([]float64, n)}
	for i := range d.window {
		d.window[i] = 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/float64(n))
	}
	return d
}

// write feeds pcm and reports whether a beep has ended by now.
func (d *sipBeepDetector) write(pcm []int16) bool {
	for len(pcm) > 0 && !d.ended {
		k := min(cap(d.frame)-len(d.frame), len(pcm))
		d.frame = append(d.frame, pcm[:k]...)
		pcm = pcm[k:]
		if len(d.frame) == cap(d.frame) {
			d.step(d.frame)
			d.frame = d.frame[:0]
			d.pos += int64(cap(d.frame))
		}
	}
	return d.ended
}

// length is how long the beep heard lasted (whole frames of it).
func (d *sipBeepDetector) length() time.Duration {
	return time.Duration(d.end-d.start) * time.Second / time.Duration(d.rate)
}

func (d *sipBeepDetector) step(frame []int16) {
	freq, tonal := d.tonal(frame)
	if tonal {
		if d.segFrames == 0 {
			d.segStart = d.pos
		}
		if d.run == 0 || math.Abs(freq-d.runFreq) > sipBeepDriftHz {
			// A new tone, or the first: a chime's notes each count.
			d.qualified = d.qualified || d.run >= sipBeepMinRun
			d.run, d.runFreq = 0, freq
		}
		d.run++
		d.segFrames += 1 + d.misses
		d.misses = 0
		return
	}
	if d.segFrames == 0 {
		return
	}
	d.misses++
	if d.misses < sipBeepEndRun {
		return // perhaps a lost packet: the tone may go on
	}
	if (d.qualified || d.run >= sipBeepMinRun) && d.segFrames <= sipBeepMaxRun {
		d.ended = true
		d.freq = d.runFreq
		d.start = d.segStart
		d.end = d.pos - int64(d.misses-1)*int64(len(frame))
		return
	}
	d.run, d.segFrames, d.misses, d.qualified = 0, 0, 0, false
}

// tonal says whether a frame is one or two steady sinusoids, and the
// frequency of its strongest component.
func (d *sipBeepDetector) tonal(frame []int16) (float64, bool) {
	n := len(frame)
	var mean, energy float64
	for _, v := range frame {
		mean += float64(v)
	}
	mean /= float64(n)
	x := d.work
	for i, v := range frame {
		x[i] = float64(v) - mean
		energy += x[i] * x[i]
	}
	// RMS against a full-scale sine's 32767/√2.
	if level := 10 * math.Log10(energy/float64(n)*2/(32767*32767)+1e-30); level < sipToneMinLevel {
		return 0, false
	}
	if sipPredictionGain(x, sipLPCOrder) < sipToneGainDB {
		return 0, false
	}
	f := d.peak(x)
	return f, f >= sipBeepLowHz && f <= sipBeepHighHz
}

// peak is the frequency of the strongest component of x (DC removed):
// a coarse Goertzel scan, then a finer one around its best bin.
func (d *sipBeepDetector) peak(x []float64) float64 {
	w := d.windowed
	for i := range x {
		w[i] = x[i] * d.window[i]
	}
	best, bestP := 0.0, -1.0
	scan := func(lo, hi, step float64) {
		for f := lo; f <= hi; f += step {
			if p := sipGoertzel(w, f, d.rate); p > bestP {
				best, bestP = f, p
			}
		}
	}
	scan(100, 3500, 25)
	scan(best-20, best+20, 5)
	return best
}

// sipGoertzel is the power of x at freq.
func sipGoertzel(x []float64, freq float64, rate int) float64 {
	coeff := 2 * math.Cos(2*math.Pi*freq/float64(rate))
	var s1, s2 float64
	for _, v := range x {
		s1, s2 = v+coeff*s1-s2, s1
	}
	return s1*s1 + s2*s2 - coeff*s1*s2
}

// sipPredictionGain is how much of x's energy, in dB, a linear predictor
// of the given order removes: the covariance method (least squares over the
// frame, no window, so a pure tone is predicted exactly) solved by
// Cholesky, with a whisker of diagonal loading because a single sinusoid
// leaves an order-4 system singular.
func sipPredictionGain(x []float64, order int) float64 {
	p := order
	phi := make([]float64, p*p)
	psi := make([]float64, p)
	var e0 float64
	for t := p; t < len(x); t++ {
		e0 += x[t] * x[t]
		for i := range p {
			psi[i] += x[t] * x[t-1-i]
			for j := 0; j <= i; j++ {
				phi[i*p+j] += x[t-1-i] * x[t-1-j]
			}
		}
	}
	if e0 == 0 {
		return 0
	}
	var trace float64
	for i := range p {
		trace += phi[i*p+i]
	}
	load := 1e-9 * trace / float64(p)
	l := make([]float64, p*p)
	for i := range p {
		for j := 0; j <= i; j++ {
			s := phi[i*p+j]
			if i == j {
				s += load
			}
			for k := range j {
				s -= l[i*p+k] * l[j*p+k]
			}
			if i == j {
				if s <= 0 {
					return 0
				}
				l[i*p+i] = math.Sqrt(s)
			} else {
				l[i*p+j] = s / l[j*p+j]
			}
		}
	}
	z := make([]float64, p)
	for i := range p {
		s := psi[i]
		for k := range i {
			s -= l[i*p+k] * z[k]
		}
		z[i] = s / l[i*p+i]
	}
	a := make([]float64, p)
	for i := p - 1; i >= 0; i-- {
		s := z[i]
		for k := i + 1; k < p; k++ {
			s -= l[k*p+i] * a[k]
		}
		a[i] = s / l[i*p+i]
	}
	var res float64
	for t := p; t < len(x); t++ {
		e := x[t]
		for i := range p {
			e -= a[i] * x[t-1-i]
		}
		res += e * e
	}
	if res < e0*1e-12 {
		return 120
	}
	return 10 * math.Log10(e0/res)
}
