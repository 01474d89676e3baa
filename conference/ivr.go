package conference

import (
	"time"

	"brygga/media"
	"brygga/prompts"
)

// frameTime is the length of one frame; the IVR sends one every frameTime
// so that the caller's jitter buffer and NAT bindings stay warm.
const frameTime = 20 * time.Millisecond

// ivr talks to one caller before they join a room. It owns the call's media
// output until stop: a goroutine sends the current prompt, or silence, every
// 20 ms and keeps draining the input so in-band digits are detected.
type ivr struct {
	call Call
	lib  *prompts.Library
	lang string
	sess *media.Session

	set     chan *prompts.Player // the prompt to play now (nil: silence)
	ended   chan struct{}        // the current prompt finished
	quit    chan struct{}
	stopped chan struct{}
}

func newIVR(c Call, lib *prompts.Library, lang string) *ivr {
	v := &ivr{
		call:    c,
		lib:     lib,
		lang:    lang,
		sess:    c.Media(),
		set:     make(chan *prompts.Player),
		ended:   make(chan struct{}, 1),
		quit:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	go v.run()
	return v
}

func (v *ivr) clip(name string) []int16 { return v.lib.Clip(v.lang, name) }

func (v *ivr) run() {
	defer close(v.stopped)
	n := v.sess.Codec().ClockRate() / 50
	out := make([]int16, n)
	in := make([]int16, n)
	var cur *prompts.Player
	start := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for tick := int64(1); ; tick++ {
		select {
		case <-v.quit:
			return
		case p := <-v.set:
			cur = p
			tick-- // a new prompt is not a tick
			continue
		case <-timer.C:
		}
		v.sess.ReadFrame(in)
		if cur != nil && cur.ReadFrame(out) {
			v.sess.WritePCM(out)
		} else {
			if cur != nil {
				cur = nil
				select {
				case v.ended <- struct{}{}:
				default:
				}
			}
			clear(out)
			v.sess.WritePCM(out)
		}
		next := start.Add(time.Duration(tick) * frameTime)
		d := time.Until(next)
		if d < -5*frameTime {
			// The scheduler stalled; start a new schedule rather than
			// sending a burst of frames to catch up.
			start, tick = time.Now(), 0
			d = 0
		}
		timer.Reset(d)
	}
}

// play plays clips to the caller and waits until they end. With
// interruptible, a key press cuts the prompt short and is returned
// (type-ahead); it is 0 otherwise. ok is false when the caller hung up.
func (v *ivr) play(interruptible bool, clips ...[]int16) (key byte, ok bool) {
	select {
	case <-v.ended: // drop a stale end of an earlier prompt
	default:
	}
	select {
	case v.set <- prompts.NewPlayer(clips...):
	case <-v.stopped:
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
	select {
	case v.set <- nil:
	case <-v.stopped:
	}
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

// stop ends the IVR's hold on the media output.
func (v *ivr) stop() {
	select {
	case <-v.quit:
	default:
		close(v.quit)
	}
	<-v.stopped
}
