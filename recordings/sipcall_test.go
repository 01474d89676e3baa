package recordings

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/pion/rtp"

	"brygga/internal/logtest"
	"brygga/media/codec"
	"brygga/media/tone"
	"brygga/phone"
	"brygga/prompts"
	"brygga/prompts/prompttest"
	"brygga/sip/sdp"
)

func init() {
	// sipgo logs through its package logger whatever a user agent is
	// given, and tears down noisily at the end of every test.
	sip.SetDefaultLogger(slog.New(slog.DiscardHandler))
}

// sipG711 is what a tone sounds like after a trip through µ-law.
func sipG711(x []int16) []int16 {
	b := make([]byte, len(x))
	codec.PCMU.Encode(b, x)
	out := make([]int16, len(x))
	codec.PCMU.Decode(out, b)
	return out
}

func sipConcat(parts ...[]int16) []int16 {
	var out []int16
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func sipSilence(d time.Duration) []int16 { return make([]int16, sipSamples(d)) }

func sipTone(freq float64, d time.Duration) []int16 {
	return tone.Generate(freq, sampleRate, 0.3, sipSamples(d))
}

// sipSpeechLike is a voice as a synthesiser of the 1960s would make it: a
// glottal pulse train whose pitch glides and wobbles, through three
// formant resonators that move from vowel to vowel every 120 ms, shaped
// into syllables, with hiss for the consonants between them.
func sipSpeechLike(seed uint64, d time.Duration) []int16 {
	r := rand.New(rand.NewPCG(seed, 7))
	n := sipSamples(d)
	vowels := [][3]float64{{730, 1090, 2440}, {270, 2290, 3010}, {300, 870, 2240}, {530, 1840, 2480}, {570, 840, 2410}, {660, 1720, 2410}}
	type reson struct{ a1, a2, y1, y2 float64 }
	set := func(rs *reson, f, bw float64) {
		rr := math.Exp(-math.Pi * bw / sampleRate)
		rs.a1 = 2 * rr * math.Cos(2*math.Pi*f/sampleRate)
		rs.a2 = -rr * rr
	}
	var res [3]reson
	out := make([]float64, n)
	phase, f0 := 0.0, 110+40*r.Float64()
	var peak float64
	for i := range n {
		if i%960 == 0 { // a new vowel every 120 ms
			v := vowels[r.IntN(len(vowels))]
			for k := range res {
				set(&res[k], v[k]*(0.9+0.2*r.Float64()), 80+40*float64(k))
			}
		}
		f0 += (r.Float64() - 0.5) * 2
		f0 = min(max(f0, 90), 220)
		t := float64(i) / sampleRate
		syllable := math.Max(0, math.Sin(2*math.Pi*4.3*t))
		var src float64
		if syllable > 0.15 {
			phase += f0 / sampleRate
			if phase >= 1 {
				phase--
				src = 1
			}
		} else {
			src = 0.08 * r.NormFloat64() // a consonant's hiss
		}
		y := src
		for k := range res {
			o := y + res[k].a1*res[k].y1 + res[k].a2*res[k].y2
			res[k].y2, res[k].y1 = res[k].y1, o
			y = o
		}
		out[i] = y * (0.2 + syllable)
		peak = math.Max(peak, math.Abs(out[i]))
	}
	pcm := make([]int16, n)
	for i, v := range out {
		pcm[i] = int16(v / peak * 0.5 * 32767)
	}
	return pcm
}

func sipNoise(seed uint64, d time.Duration, amp float64) []int16 {
	r := rand.New(rand.NewPCG(seed, 9))
	pcm := make([]int16, sipSamples(d))
	for i := range pcm {
		pcm[i] = int16(max(-32767, min(32767, r.NormFloat64()*amp*32767)))
	}
	return pcm
}

func sipMix(a, b []int16) []int16 {
	out := slices.Clone(a)
	for i := range min(len(a), len(b)) {
		out[i] = int16(max(-32767, min(32767, int(a[i])+int(b[i]))))
	}
	return out
}

// sipDetect feeds pcm to a fresh detector in pieces of the given size.
func sipDetect(pcm []int16, chunk int) *sipBeepDetector {
	d := newSIPBeepDetector(sampleRate)
	for len(pcm) > 0 {
		k := min(chunk, len(pcm))
		if d.write(pcm[:k]) {
			break
		}
		pcm = pcm[k:]
	}
	return d
}

func TestSIPBeepDetector(t *testing.T) {
	t.Parallel()
	greeting := sipG711(sipSpeechLike(1, 1500*time.Millisecond))
	dual := sipMix(sipTone(440, 400*time.Millisecond), sipTone(480, 400*time.Millisecond))
	withDropout := sipTone(1000, 400*time.Millisecond)
	clear(withDropout[sipSamples(200*time.Millisecond):sipSamples(220*time.Millisecond)])
	chime := sipConcat(sipTone(800, 150*time.Millisecond), sipTone(1200, 150*time.Millisecond))
	// 600 Hz rising to 1800 Hz: the phase is the integral of the frequency.
	glide := make([]int16, sipSamples(500*time.Millisecond))
	for i := range glide {
		x, n := float64(i), float64(len(glide))
		glide[i] = int16(0.3 * 32767 * math.Sin(2*math.Pi*(600*x+600*x*x/n)/sampleRate))
	}

	for _, tc := range []struct {
		name string
		beep []int16 // follows greeting; the beep ends where it ends
		want bool
	}{
		{"1000 Hz 300 ms", sipTone(1000, 300*time.Millisecond), true},
		{"440 Hz 200 ms", sipTone(440, 200*time.Millisecond), true},
		{"1800 Hz 150 ms", sipTone(1800, 150*time.Millisecond), true},
		{"1400 Hz 150 ms off the frame grid", sipConcat(sipSilence(7*time.Millisecond), sipTone(1400, 150*time.Millisecond)), true},
		{"quiet 1000 Hz at -30 dBFS", tone.Generate(1000, sampleRate, 0.03, 2400), true},
		{"440+480 Hz 400 ms", dual, true},
		{"a lost packet in the beep", withDropout, true},
		{"two-note chime", chime, true},
		{"1000 Hz under noise 25 dB down", sipMix(sipTone(1000, 300*time.Millisecond), sipNoise(5, 300*time.Millisecond, 0.3/math.Sqrt2*0.056)), true},
		{"100 ms blip (a DTMF digit's length)", sipTone(1000, 100*time.Millisecond), false},
		{"rising whistle", glide, false},
		{"250 Hz hum", sipTone(250, 400*time.Millisecond), false},
		{"2800 Hz", sipTone(2800, 400*time.Millisecond), false},
		{"5 s of dial tone", sipTone(425, 5*time.Second), false},
		{"nothing", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pcm := sipConcat(greeting, sipG711(tc.beep), sipSilence(200*time.Millisecond), greeting)
			end := len(greeting) + len(tc.beep)
			for _, chunk := range []int{160, 37, 1000} {
				d := sipDetect(pcm, chunk)
				if d.ended != tc.want {
					t.Fatalf("chunks of %d: ended %v, want %v", chunk, d.ended, tc.want)
				}
				if !tc.want {
					continue
				}
				// The end is placed at a frame boundary: the first frame
				// that is no longer the tone may hold the beep's tail.
				if d.end < int64(end-sipFrame) || d.end > int64(end+sipFrame) {
					t.Errorf("chunks of %d: beep ends at %d, want %d ± a frame", chunk, d.end, end)
				}
				if d.length() < 120*time.Millisecond {
					t.Errorf("beep of %v", d.length())
				}
			}
		})
	}
}

// TestSIPBeepDetectorIgnoresSpeech runs every built-in prompt, in every
// language, through µ-law and the detector: real (synthesised) speech,
// sentence after sentence, must never look like a beep.
func TestSIPBeepDetectorIgnoresSpeech(t *testing.T) {
	t.Parallel()
	lib := prompts.Builtin()
	for _, lang := range prompts.Languages() {
		var all []int16
		for _, name := range prompts.Names() {
			all = append(all, lib.Clip(lang, name)...)
			all = append(all, sipSilence(30*time.Millisecond)...)
		}
		if d := sipDetect(sipG711(all), 160); d.ended {
			t.Errorf("%s: beep of %v at %.0f Hz found in speech at %v", lang, d.length(), d.freq, sipDuration(int(d.start)))
		}
	}
	for seed := range uint64(20) {
		pcm := sipG711(sipConcat(sipSpeechLike(seed, 3*time.Second), sipNoise(seed, 500*time.Millisecond, 0.1)))
		if d := sipDetect(pcm, 160); d.ended {
			t.Errorf("seed %d: beep of %v at %.0f Hz found in speech-like noise", seed, d.length(), d.freq)
		}
	}
}

func TestSIPSplit(t *testing.T) {
	ann := func(n, m int) int { return 2*sampleRate + 100*n } // later parts' numbers are longer
	for _, tc := range []struct {
		total, max int
		parts      int
	}{
		{10 * sampleRate, 10 * sampleRate, 1},
		{10*sampleRate + 1, 10 * sampleRate, 2},
		{15 * sampleRate, 10 * sampleRate, 2},
		{16 * sampleRate, 10 * sampleRate, 3}, // 2 × (10 s - 2.02 s announcement) is not enough
		{3600 * sampleRate, 300 * sampleRate, 13},
	} {
		b, err := sipSplit(tc.total, tc.max, ann)
		if err != nil {
			t.Fatal(err)
		}
		if len(b)-1 != tc.parts || b[0] != 0 || b[len(b)-1] != tc.total {
			t.Errorf("%d in %d: bounds %v, want %d parts", tc.total, tc.max, b, tc.parts)
			continue
		}
		m := len(b) - 1
		for n := 1; n <= m; n++ {
			size := b[n] - b[n-1]
			if m > 1 && size+ann(n, m) > tc.max {
				t.Errorf("%d in %d: part %d of %d is %d with its announcement", tc.total, tc.max, n, m, size+ann(n, m))
			}
		}
	}
	if _, err := sipSplit(10*sampleRate, 2*sampleRate, ann); err == nil {
		t.Error("a max part shorter than the announcement split anyway")
	}
}

func TestSIPReadsWAV(t *testing.T) {
	dir := t.TempDir()
	pcm := sipTone(440, 100*time.Millisecond)
	plain := prompttest.WAV(pcm)
	// A LIST chunk before the data, as sox and many editors write.
	list := []byte("LIST\x04\x00\x00\x00INFO")
	withList := slices.Concat(plain[:36], list, plain[36:])
	// A crashed writer: the data size counts more than there is.
	cut := slices.Clone(plain[:len(plain)-100])
	stereo := slices.Clone(plain)
	stereo[22] = 2
	for _, tc := range []struct {
		name      string
		b         []byte
		samples   int
		permanent bool
	}{
		{"plain", plain, len(pcm), false},
		{"LIST chunk", withList, len(pcm), false},
		{"cut short", cut, len(pcm) - 50, false},
		{"stereo", stereo, 0, true},
		{"not a WAV", []byte("hello, world"), 0, true},
	} {
		path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".wav")
		if err := os.WriteFile(path, tc.b, 0o644); err != nil {
			t.Fatal(err)
		}
		w, err := sipOpenWAV(path)
		if tc.permanent {
			if !IsPermanent(err) {
				t.Errorf("%s: %v, want a permanent error", tc.name, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		got, err := w.read(0, w.samples)
		w.Close()
		if err != nil || w.samples != tc.samples || !slices.Equal(got, pcm[:tc.samples]) {
			t.Errorf("%s: %d samples (%v), want %d", tc.name, w.samples, err, tc.samples)
		}
	}
	if _, err := sipOpenWAV(filepath.Join(dir, "gone.wav")); !IsPermanent(err) {
		t.Errorf("missing file: %v, want a permanent error", err)
	}
}

// vmServer is a voicemail system as brygga meets one: it answers, says a
// greeting and its beep (sent in real time, in 20 ms G.711 packets), and
// records everything it receives. A Request-URI user that is a number
// ("404") is refused with that status instead.
type vmServer struct {
	t        *testing.T
	ua       *sipgo.UserAgent
	dialogs  *sipgo.DialogServerCache
	addr     netip.AddrPort
	greeting []int16
	codecs   []codec.Codec
	// hangUp, when set, says how long after the first sound it received
	// call n (counting from 1) is hung up by the voicemail; 0 never.
	hangUp func(n int) time.Duration

	mu    sync.Mutex
	calls []*vmCall
	wg    sync.WaitGroup
}

type vmCall struct {
	n       int
	invite  *sip.Request
	ds      *sipgo.DialogServerSession
	conn    *net.UDPConn
	codec   codec.Codec
	remote  netip.AddrPort
	ended   chan struct{}
	endOnce sync.Once

	mu       sync.Mutex
	answered time.Time
	beepEnd  time.Time // when the greeting's last packet went out
	packets  []vmPacket
	byUs     bool
}

type vmPacket struct {
	at  time.Time
	seq uint16
	pcm []int16
}

// newVMServer starts a voicemail; setup, if any, changes it before it
// serves.
func newVMServer(t *testing.T, greeting []int16, setup ...func(*vmServer)) *vmServer {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("test-voicemail"),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(log)),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(log)))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	client, err := sipgo.NewClient(ua, sipgo.WithClientLogger(log), sipgo.WithClientHostname("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	v := &vmServer{t: t, ua: ua, addr: conn.LocalAddr().(*net.UDPAddr).AddrPort(), greeting: greeting, codecs: []codec.Codec{codec.PCMU}}
	for _, f := range setup {
		f(v)
	}
	v.dialogs = sipgo.NewDialogServerCache(client, sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "vm", Host: "127.0.0.1", Port: int(v.addr.Port())}})
	srv.OnInvite(v.onInvite)
	srv.OnAck(func(req *sip.Request, tx sip.ServerTransaction) { v.dialogs.ReadAck(req, tx) })
	srv.OnBye(v.onBye)
	served := make(chan struct{})
	go func() { defer close(served); srv.ServeUDP(conn) }()
	for ua.TransportLayer().Pool("udp").Size() == 0 {
		time.Sleep(time.Millisecond)
	}
	t.Cleanup(func() {
		ua.Close()
		conn.Close()
		<-served
		v.mu.Lock()
		for _, c := range v.calls {
			c.end()
		}
		v.mu.Unlock()
		v.wg.Wait()
	})
	return v
}

// target is a mailbox URI at the server itself.
func (v *vmServer) target(user string) string { return "sip:" + user + "@" + v.addr.String() }

func (v *vmServer) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if code, err := strconv.Atoi(req.Recipient.User); err == nil && code >= 400 && code < 700 {
		tx.Respond(sip.NewResponseFromRequest(req, code, "Refused", nil))
		return
	}
	ds, err := v.dialogs.ReadInvite(req, tx)
	if err != nil {
		v.t.Errorf("voicemail: ReadInvite: %v", err)
		return
	}
	offer, err := sdp.ParseOffer(req.Body())
	if err != nil {
		ds.Respond(sip.StatusBadRequest, "Bad Request", nil)
		return
	}
	ch, err := sdp.Negotiate(offer, v.codecs)
	if err != nil {
		ds.Respond(sip.StatusNotAcceptableHere, "Not Acceptable Here", nil)
		return
	}
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		v.t.Errorf("voicemail: %v", err)
		return
	}
	v.mu.Lock()
	c := &vmCall{n: len(v.calls) + 1, invite: req.Clone(), ds: ds, conn: conn, codec: ch.Codec, remote: offer.Remote(), ended: make(chan struct{})}
	v.calls = append(v.calls, c)
	v.mu.Unlock()
	v.wg.Add(1)
	go v.receive(c)
	answer, err := sdp.BuildAnswer(sdp.AnswerParams{Offer: offer, Choice: ch, Addr: netip.MustParseAddr("127.0.0.1"),
		Port: conn.LocalAddr().(*net.UDPAddr).Port, SessionID: 1, Version: 1})
	if err != nil {
		v.t.Errorf("voicemail: answer: %v", err)
		return
	}
	// RespondSDP returns once the ACK is in.
	if err := ds.RespondSDP(answer); err != nil {
		c.end()
		return
	}
	c.mu.Lock()
	c.answered = time.Now()
	c.mu.Unlock()
	v.wg.Add(1)
	go v.speak(c)
}

func (v *vmServer) onBye(req *sip.Request, tx sip.ServerTransaction) {
	if err := v.dialogs.ReadBye(req, tx); err != nil {
		tx.Respond(sip.NewResponseFromRequest(req, sip.StatusCallTransactionDoesNotExists, "Gone", nil))
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, c := range v.calls {
		if c.invite.CallID().Value() == req.CallID().Value() {
			c.end()
		}
	}
}

func (c *vmCall) end() {
	c.endOnce.Do(func() {
		close(c.ended)
		c.conn.Close()
	})
}

// speak sends the greeting, then silence, a packet every 20 ms.
func (v *vmServer) speak(c *vmCall) {
	defer v.wg.Done()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: c.codec.PayloadType(), SSRC: 0x766d, SequenceNumber: 1}}
	frame := make([]int16, sipFrame)
	payload := make([]byte, sipFrame)
	for pos := 0; ; pos += sipFrame {
		select {
		case <-c.ended:
			return
		case <-tick.C:
		}
		clear(frame)
		if pos < len(v.greeting) {
			copy(frame, v.greeting[pos:])
		}
		c.codec.Encode(payload, frame)
		pkt.Payload = payload
		b, err := pkt.Marshal()
		if err != nil {
			v.t.Errorf("voicemail: RTP: %v", err)
			return
		}
		c.conn.WriteToUDPAddrPort(b, c.remote)
		pkt.SequenceNumber++
		pkt.Timestamp += sipFrame
		if pos < len(v.greeting) && pos+sipFrame >= len(v.greeting) {
			c.mu.Lock()
			c.beepEnd = time.Now()
			c.mu.Unlock()
		}
	}
}

// receive records what the caller says, and hangs up when told to.
func (v *vmServer) receive(c *vmCall) {
	defer v.wg.Done()
	var limit time.Duration
	if v.hangUp != nil {
		limit = v.hangUp(c.n)
	}
	heard := 0 // samples since the first sound
	buf := make([]byte, 1500)
	for {
		n, err := c.conn.Read(buf)
		if err != nil {
			return
		}
		var p rtp.Packet
		if err := p.Unmarshal(buf[:n]); err != nil || p.PayloadType != c.codec.PayloadType() {
			continue
		}
		pcm := make([]int16, len(p.Payload))
		c.codec.Decode(pcm, p.Payload)
		c.mu.Lock()
		c.packets = append(c.packets, vmPacket{at: time.Now(), seq: p.SequenceNumber, pcm: pcm})
		c.mu.Unlock()
		if heard > 0 || slices.ContainsFunc(pcm, sipSound) {
			heard += len(pcm)
		}
		if limit > 0 && sipDuration(heard) >= limit {
			limit = 0
			c.mu.Lock()
			c.byUs = true
			c.mu.Unlock()
			v.wg.Add(1)
			go func() {
				defer v.wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				c.ds.Bye(ctx)
				c.end()
			}()
		}
	}
}

// call waits for call n (from 1) to end and returns it.
func (v *vmServer) call(t *testing.T, n int) *vmCall {
	t.Helper()
	v.mu.Lock()
	var c *vmCall
	if n <= len(v.calls) {
		c = v.calls[n-1]
	}
	v.mu.Unlock()
	if c == nil {
		t.Fatalf("voicemail got %d calls, want call %d", v.count(), n)
	}
	select {
	case <-c.ended:
	case <-time.After(5 * time.Second):
		t.Fatalf("call %d never ended", n)
	}
	return c
}

func (v *vmServer) count() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.calls)
}

// sipSound is whether a sample is more than G.711's silence (A-law has no
// zero: it decodes silence as ±8).
func sipSound(s int16) bool { return s > 16 || s < -16 }

// heard is the audio the call received in sequence order (what the caller
// sent, sample for sample: loopback loses nothing), from its first sound
// to its last, and when that first sound arrived.
func (c *vmCall) heard() ([]int16, time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ps := slices.Clone(c.packets)
	if len(ps) == 0 {
		return nil, time.Time{}
	}
	first := ps[0].seq
	slices.SortStableFunc(ps, func(a, b vmPacket) int { return int(a.seq-first) - int(b.seq-first) })
	var all []int16
	var at time.Time
	for _, p := range ps {
		if at.IsZero() && slices.ContainsFunc(p.pcm, sipSound) {
			at = p.at
		}
		all = append(all, p.pcm...)
	}
	i := slices.IndexFunc(all, sipSound)
	if i < 0 {
		return nil, time.Time{}
	}
	j := len(all)
	for !sipSound(all[j-1]) {
		j--
	}
	return all[i:j], at
}

func (c *vmCall) times() (answered, beepEnd time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.answered, c.beepEnd
}

// sipFixture writes a recording of 440 Hz then 1200 Hz, each for half of
// d, and returns its path.
func sipFixture(t *testing.T, d time.Duration) (string, []int16) {
	t.Helper()
	pcm := sipConcat(sipTone(440, d/2), sipTone(1200, d/2))
	path := filepath.Join(t.TempDir(), "rec.wav")
	if err := os.WriteFile(path, prompttest.WAV(pcm), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, pcm
}

// sipLog is a logger whose lines a test can read.
type sipLog struct{ logtest.Buffer }

func (l *sipLog) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// sipLengthSlack is how far the audio heard may be from the recording's
// length: the first and last samples of a tone may be zero, and a frame
// either way is allowed besides. The voicemail reads packets in sequence
// order, as its jitter buffer would, so timing jitter adds nothing.
const sipLengthSlack = 2 * sipFrame

// sipCheckTones checks pcm holds the recording's 440 Hz (low) and 1200 Hz
// (high), the first before the second when it holds both.
func sipCheckTones(t *testing.T, what string, pcm []int16, low, high bool) {
	t.Helper()
	type span struct {
		pcm  []int16
		freq float64
		on   bool
	}
	spans := []span{{pcm, 440, low}, {pcm, 1200, high}}
	if low && high {
		half := len(pcm) / 2
		spans = []span{{pcm[:half], 440, true}, {pcm[:half], 1200, false}, {pcm[half:], 1200, true}, {pcm[half:], 440, false}}
	}
	for _, s := range spans {
		lvl := phone.ToneLevel(s.pcm, sampleRate, s.freq)
		if s.on && lvl < -15 {
			t.Errorf("%s: %v Hz at %.1f dBFS, want the recording's -10.5", what, s.freq, lvl)
		}
		if !s.on && lvl > -40 {
			t.Errorf("%s: %v Hz at %.1f dBFS where it should not be", what, s.freq, lvl)
		}
	}
}

// sipProgress is a Progress kept in memory.
type sipProgress struct {
	mu     sync.Mutex
	done   map[string]int
	marked []int
}

func (p *sipProgress) hooks() SIPProgress {
	return SIPProgress{
		Done: func(id string) int {
			p.mu.Lock()
			defer p.mu.Unlock()
			return p.done[id]
		},
		MarkDone: func(id string, part int) {
			p.mu.Lock()
			defer p.mu.Unlock()
			if p.done == nil {
				p.done = map[string]int{}
			}
			p.done[id] = part
			p.marked = append(p.marked, part)
		},
	}
}

func (p *sipProgress) marks() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.marked)
}

// sipCheckPart checks one part's call: "Part n of m" (speech as long as
// the announcement), then its half of the recording.
func sipCheckPart(t *testing.T, c *vmCall, lang string, n, m int, part []int16, low bool) {
	t.Helper()
	heard, _ := c.heard()
	ann := sipAnnouncement(prompts.Builtin(), lang, n, m)
	speech := len(ann) - sipSamples(sipAnnouncePause)
	what := fmt.Sprintf("part %d of %d", n, m)
	if diff := len(heard) - len(ann) - len(part); diff < -sipLengthSlack || diff > sipLengthSlack {
		t.Fatalf("%s: heard %v, want %v of announcement and %v of recording", what, sipDuration(len(heard)), sipDuration(len(ann)), sipDuration(len(part)))
	}
	if lvl := tone.Level(heard[:speech]); lvl < -30 {
		t.Errorf("%s: the announcement is at %.1f dBFS", what, lvl)
	}
	if lvl := tone.Level(heard[speech : speech+sipSamples(sipAnnouncePause)-sipFrame]); lvl > -60 {
		t.Errorf("%s: the pause after the announcement is at %.1f dBFS", what, lvl)
	}
	for _, f := range []float64{440, 1200} {
		if lvl := phone.ToneLevel(heard[:speech], sampleRate, f); lvl > -30 {
			t.Errorf("%s: the recording's %v Hz already in the announcement (%.1f dBFS)", what, f, lvl)
		}
	}
	sipCheckTones(t, what, heard[len(ann)-sipFrame:], low, !low)
}

// sipSplitFixture is a recording just too long for one message, and the
// MaxPart that splits it in two where its tone changes. Each half is a
// little longer than the announcement, which is the shortest a recording
// that needs splitting can be.
func sipSplitFixture(t *testing.T, lang string) (string, []int16, time.Duration) {
	t.Helper()
	lib := prompts.Builtin()
	longest := max(len(sipAnnouncement(lib, lang, 1, 2)), len(sipAnnouncement(lib, lang, 2, 2)))
	half := longest + sipSamples(200*time.Millisecond)
	path, rec := sipFixture(t, 2*sipDuration(half))
	return path, rec, sipDuration(longest + half)
}

// TestSIPDeliverSplitsLongRecordings leaves a recording too long for one
// message as two, and has the voicemail hang up part 2 the first time: the
// retry sends part 2 only, and parts 1 and 2 as deposited make up the
// whole recording.
func TestSIPDeliverSplitsLongRecordings(t *testing.T) {
	t.Parallel()
	path, rec, maxPart := sipSplitFixture(t, "nb")
	cut := sipDuration(len(sipAnnouncement(prompts.Builtin(), "nb", 2, 2))) + 300*time.Millisecond
	v := newVMServer(t, sipTone(1000, 250*time.Millisecond), func(v *vmServer) {
		v.hangUp = func(n int) time.Duration {
			if n == 2 {
				return cut // 300 ms into part 2's half of the recording
			}
			return 0
		}
	})
	var progress sipProgress
	d := SIPCall{
		LocalIP: netip.MustParseAddr("127.0.0.1"), BeepWait: 5 * time.Second, Logger: slog.New(slog.DiscardHandler),
		MaxPart: maxPart, Progress: progress.hooks(),
	}
	m := Message{ID: "r3", Target: v.target("4711"), Language: "nb", Path: path}
	err := d.Deliver(context.Background(), m)
	if err == nil || IsPermanent(err) || !strings.Contains(err.Error(), "part 2 of 2") {
		t.Fatalf("Deliver with part 2 cut off: %v, want a retryable error naming part 2 of 2", err)
	}
	if !strings.Contains(err.Error(), "hung up") {
		t.Errorf("error %q does not say the voicemail hung up", err)
	}
	if got := progress.marks(); !slices.Equal(got, []int{1}) {
		t.Errorf("parts marked done: %v, want [1]", got)
	}
	sipCheckPart(t, v.call(t, 1), "nb", 1, 2, rec[:len(rec)/2], true)

	if err := d.Deliver(context.Background(), m); err != nil {
		t.Fatalf("second attempt: %v", err)
	}
	if v.count() != 3 {
		t.Fatalf("%d calls in all, want 3 (part 1, part 2 cut off, part 2 again)", v.count())
	}
	sipCheckPart(t, v.call(t, 3), "nb", 2, 2, rec[len(rec)/2:], false)
	if got := progress.marks(); !slices.Equal(got, []int{1, 2}) {
		t.Errorf("parts marked done: %v, want [1 2]", got)
	}
	if err := d.Deliver(context.Background(), m); err != nil || v.count() != 3 {
		t.Errorf("a delivered recording again: %v, %d calls", err, v.count())
	}
}

func TestSIPDeliverAfterBeep(t *testing.T) {
	t.Parallel()
	greeting := sipConcat(prompts.Builtin().Clip("en", prompts.WelcomeConf), sipSpeechLike(3, 600*time.Millisecond), sipTone(1000, 300*time.Millisecond))
	v := newVMServer(t, greeting)
	path, rec := sipFixture(t, 3*time.Second)
	var log sipLog
	d := SIPCall{LocalIP: netip.MustParseAddr("127.0.0.1"), BeepWait: 10 * time.Second, Logger: log.logger()}
	m := Message{ID: "r1", Room: "1234", Target: v.target("4711"), Language: "en", Path: path}
	if err := d.Deliver(context.Background(), m); err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	c := v.call(t, 1)
	if v.count() != 1 {
		t.Errorf("%d calls, want 1", v.count())
	}

	inv := c.invite
	if got := inv.Recipient.String(); got != m.Target {
		t.Errorf("Request-URI %s, want %s", got, m.Target)
	}
	if h := inv.GetHeader("Diversion"); h == nil || h.Value() != "<sip:4711@127.0.0.1>;reason=no-answer" {
		t.Errorf("Diversion %v, want <sip:4711@127.0.0.1>;reason=no-answer", h)
	}
	if u := inv.From().Address.User; u != "1234" {
		t.Errorf("From user %q, want the room", u)
	}

	heard, first := c.heard()
	_, beepEnd := c.times()
	if first.Before(beepEnd) {
		t.Errorf("the recording started %v before the beep ended", beepEnd.Sub(first))
	} else if late := first.Sub(beepEnd); late > time.Second {
		t.Errorf("the recording started %v after the beep", late)
	}
	if diff := len(heard) - len(rec); diff < -sipLengthSlack || diff > sipLengthSlack {
		t.Errorf("heard %v of a %v recording", sipDuration(len(heard)), sipDuration(len(rec)))
	}
	sipCheckTones(t, "message", heard, true, true)
	if !strings.Contains(log.String(), "beep heard") || strings.Contains(log.String(), "no beep") {
		t.Errorf("log does not tell of the beep:\n%s", log.String())
	}
}

func TestSIPDeliverWithoutBeep(t *testing.T) {
	t.Parallel()
	v := newVMServer(t, sipSpeechLike(4, 2*time.Second)) // still talking when BeepWait is up
	path, rec := sipFixture(t, 2*time.Second)
	var log sipLog
	wait := 500 * time.Millisecond
	d := SIPCall{LocalIP: netip.MustParseAddr("127.0.0.1"), BeepWait: wait, Logger: log.logger()}
	if err := d.Deliver(context.Background(), Message{ID: "r2", Target: v.target("4711"), Path: path}); err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	c := v.call(t, 1)
	heard, first := c.heard()
	answered, _ := c.times()
	if after := first.Sub(answered); after < wait-50*time.Millisecond || after > wait+time.Second {
		t.Errorf("the recording started %v after the answer, want about %v", after, wait)
	}
	if diff := len(heard) - len(rec); diff < -sipLengthSlack || diff > sipLengthSlack {
		t.Errorf("heard %v of a %v recording", sipDuration(len(heard)), sipDuration(len(rec)))
	}
	sipCheckTones(t, "message", heard, true, true)
	if !strings.Contains(log.String(), "no beep") {
		t.Errorf("the timeout was not logged:\n%s", log.String())
	}
	if u := c.invite.From().Address.User; u != "brygga" {
		t.Errorf("From user %q without a room, want brygga", u)
	}
}

func TestSIPDeliverFailures(t *testing.T) {
	t.Parallel()
	v := newVMServer(t, sipTone(1000, 250*time.Millisecond))
	path, _ := sipFixture(t, 200*time.Millisecond)
	d := SIPCall{LocalIP: netip.MustParseAddr("127.0.0.1"), BeepWait: time.Second, Logger: slog.New(slog.DiscardHandler)}
	for _, tc := range []struct {
		target, path string
		permanent    bool
	}{
		{v.target("404"), path, true},
		{v.target("604"), path, true},
		{v.target("488"), path, true}, // asked again with A-law, refused again
		{v.target("486"), path, false},
		{v.target("480"), path, false},
		{v.target("503"), path, false},
		{"mailto:owner@example.org", path, true},
		{"sip:" + v.addr.String(), path, true}, // no mailbox
		{v.target("4711"), filepath.Join(t.TempDir(), "gone.wav"), true},
	} {
		err := d.Deliver(context.Background(), Message{ID: "r5", Target: tc.target, Path: tc.path})
		if err == nil || IsPermanent(err) != tc.permanent {
			t.Errorf("%s (%s): %v, want permanent %v", tc.target, filepath.Base(tc.path), err, tc.permanent)
		}
	}
	var se *phone.StatusError
	if err := d.Deliver(context.Background(), Message{Target: v.target("486"), Path: path}); !errors.As(err, &se) || se.Code != 486 {
		t.Errorf("486: %v, want the status kept", err)
	}
	if v.count() != 0 {
		t.Errorf("%d calls answered", v.count())
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := d.Deliver(ctx, Message{Target: v.target("4711"), Path: path}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// TestSIPDeliverViaProxy has the voicemail's host name resolve nowhere:
// the message only gets there if the INVITE goes to the proxy. The local
// address is found by routing, and the voicemail takes A-law only.
func TestSIPDeliverViaProxy(t *testing.T) {
	t.Parallel()
	v := newVMServer(t, sipTone(1000, 250*time.Millisecond), func(v *vmServer) { v.codecs = []codec.Codec{codec.PCMA} })
	path, rec := sipFixture(t, time.Second)
	d := SIPCall{Proxy: "sip:" + v.addr.String(), BeepWait: 5 * time.Second, Logger: slog.New(slog.DiscardHandler)}
	m := Message{ID: "r6", Room: "5555", Target: "sip:4711@vm.example.org", Path: path}
	if err := d.Deliver(context.Background(), m); err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	c := v.call(t, 1)
	if got := c.invite.Recipient.String(); got != m.Target {
		t.Errorf("Request-URI %s, want %s", got, m.Target)
	}
	if r := c.invite.Route(); r == nil || r.Address.Port != int(v.addr.Port()) || !r.Address.UriParams.Has("lr") {
		t.Errorf("Route %v, want the proxy's with ;lr", r)
	}
	if h := c.invite.GetHeader("Diversion"); h == nil || h.Value() != "<sip:4711@vm.example.org>;reason=no-answer" {
		t.Errorf("Diversion %v", h)
	}
	if c.codec != codec.PCMA {
		t.Errorf("call in %s", c.codec.Name())
	}
	heard, _ := c.heard()
	if diff := len(heard) - len(rec); diff < -sipLengthSlack || diff > sipLengthSlack {
		t.Errorf("heard %v of a %v recording", sipDuration(len(heard)), sipDuration(len(rec)))
	}
	sipCheckTones(t, "message", heard, true, true)
}
