package conference

import (
	"sync"
	"time"

	"brygga/media"
	"brygga/mixer"
	"brygga/prompts"
)

// ivr talks to one caller before they join a room. It owns the call's media
// output until stop: on the bridge's clock it sends the current prompt, or
// silence, every 20 ms, so that the caller's jitter buffer and NAT bindings
// stay warm, and keeps draining the input so digits are detected.
type ivr struct {
	call  Call
	lib   *prompts.Library
	lang  string
	sess  *media.Session
	clock *mixer.Clock
	beat  *mixer.Beat

	onPrompt func(name string) // counts prompts played; nil: not counted

	in, out []int16 // one frame each; used by Tick only

	mu      sync.Mutex
	cur     *prompts.Player // the prompt playing now (nil: hold or silence)
	hold    *prompts.Player // played while no prompt is (the lobby's music); nil: silence
	rec     []int16         // the caller's audio while a name is recorded; nil otherwise
	ended   chan struct{}   // the current prompt finished
	stopped chan struct{}   // closed by stop
	once    sync.Once
}

func newIVR(c Call, lib *prompts.Library, lang string, clock *mixer.Clock) *ivr {
	sess := c.Media()
	n := sess.Codec().ClockRate() / 50
	v := &ivr{
		call:    c,
		lib:     lib,
		lang:    lang,
		sess:    sess,
		clock:   clock,
		in:      make([]int16, n),
		out:     make([]int16, n),
		ended:   make(chan struct{}, 1),
		stopped: make(chan struct{}),
	}
	v.beat = clock.Add(v)
	return v
}

func (v *ivr) clip(name string) []int16 {
	if v.onPrompt != nil {
		v.onPrompt(name)
	}
	return v.lib.Clip(v.lang, name)
}

// Tick sends one frame of the prompt, or silence, and reads one frame of
// the caller (which is where their digits are found).
func (v *ivr) Tick() {
	if !v.sess.ReadFrame(v.in) {
		clear(v.in)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.rec != nil && len(v.rec)+len(v.in) <= cap(v.rec) {
		v.rec = append(v.rec, v.in...)
	}
	if v.cur != nil && v.cur.ReadFrame(v.out) {
		v.sess.WritePCM(v.out)
		return
	}
	if v.cur != nil {
		v.cur = nil
		select {
		case v.ended <- struct{}{}:
		default:
		}
	}
	if v.hold == nil || !v.hold.ReadFrame(v.out) {
		clear(v.out)
	}
	v.sess.WritePCM(v.out)
}

// setHold sets what the caller hears between prompts (nil: silence).
func (v *ivr) setHold(p *prompts.Player) {
	v.mu.Lock()
	v.hold = p
	v.mu.Unlock()
}

// say starts clips without waiting for them, replacing any prompt playing.
func (v *ivr) say(clips ...[]int16) {
	v.setPrompt(prompts.NewPlayer(clips...))
}

// drain waits until the prompt playing now has ended. It reports false
// when the caller hung up.
func (v *ivr) drain() bool {
	v.mu.Lock()
	idle := v.cur == nil
	v.mu.Unlock()
	if idle {
		return !v.hungUp()
	}
	select {
	case <-v.ended:
		return true
	case <-v.stopped:
		return !v.hungUp()
	case <-v.call.Done():
		return false
	}
}

// record keeps the caller's audio for up to max, or until they press
// stop, and returns it. ok is false when the caller hung up.
func (v *ivr) record(max time.Duration, stop byte) (pcm []int16, ok bool) {
	v.mu.Lock()
	v.rec = make([]int16, 0, int(max/mixer.FrameDuration)*len(v.in))
	v.mu.Unlock()
	t := time.NewTimer(max)
	defer t.Stop()
	ok = true
wait:
	for {
		select {
		case d := <-v.call.Digits():
			if d == stop {
				break wait
			}
		case <-t.C:
			break wait
		case <-v.call.Done():
			ok = false
			break wait
		}
	}
	v.mu.Lock()
	pcm, v.rec = v.rec, nil
	v.mu.Unlock()
	return pcm, ok
}

// setPrompt makes p the prompt to play from the next tick (nil: silence)
// and forgets that an earlier prompt ended. It reports false after stop.
func (v *ivr) setPrompt(p *prompts.Player) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	select {
	case <-v.stopped:
		return false
	default:
	}
	select {
	case <-v.ended:
	default:
	}
	v.cur = p
	return true
}

// play plays clips to the caller and waits until they end. With
// interruptible, a key press cuts the prompt short and is returned
// (type-ahead); it is 0 otherwise. ok is false when the caller hung up.
func (v *ivr) play(interruptible bool, clips ...[]int16) (key byte, ok bool) {
	if !v.setPrompt(prompts.NewPlayer(clips...)) {
		return 0, false
	}
	keys := v.call.Digits()
	if !interruptible {
		keys = nil
	}
	select {
	case <-v.ended:
		return 0, true
	case d := <-keys:
		v.silence()
		return d, true
	case <-v.call.Done():
		return 0, false
	}
}

// silence cuts the current prompt.
func (v *ivr) silence() {
	v.setPrompt(nil)
}

// waitKey waits up to timeout for a key press.
func (v *ivr) waitKey(timeout time.Duration) (byte, bool) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case d := <-v.call.Digits():
		return d, true
	case <-t.C:
		return 0, false
	case <-v.call.Done():
		return 0, false
	}
}

func (v *ivr) hungUp() bool {
	select {
	case <-v.call.Done():
		return true
	default:
		return false
	}
}

// stop ends the IVR's hold on the media output: once it returns, the IVR
// neither reads nor writes the call's media again.
func (v *ivr) stop() {
	v.once.Do(func() {
		v.clock.Remove(v.beat)
		v.mu.Lock()
		close(v.stopped)
		v.cur, v.hold, v.rec = nil, nil, nil
		v.mu.Unlock()
	})
}
