package prompts

import (
	"sync/atomic"
	"time"
)

// Player plays clips one after another, a frame at a time. It implements
// mixer.Source. ReadFrame belongs to one goroutine (the room's tick or the IVR
// loop); Stop may be called from any goroutine, e.g. when a key press cuts a
// prompt short.
type Player struct {
	clips   [][]int16
	gap     int // samples of silence between clips
	loop    bool
	idx     int // clip being played
	pos     int // next sample in clips[idx]
	gapLeft int
	total   int
	stopped atomic.Bool
}

// NewPlayer plays the clips back to back. Empty clips are skipped, so the
// result of Library.Clip can be passed without checking for unknown names.
func NewPlayer(clips ...[]int16) *Player { return newPlayer(0, false, clips) }

// NewPlayerGap plays the clips with gap of silence between them (not before
// the first or after the last), as between a recorded name and "has joined".
func NewPlayerGap(gap time.Duration, clips ...[]int16) *Player {
	return newPlayer(gap, false, clips)
}

// NewLoop plays the clips over and over, gap apart, until Stop: the lobby's
// "please wait" and hold music.
func NewLoop(gap time.Duration, clips ...[]int16) *Player { return newPlayer(gap, true, clips) }

func newPlayer(gap time.Duration, loop bool, clips [][]int16) *Player {
	p := &Player{gap: int(gap.Seconds()*Rate + 0.5)}
	if p.gap < 0 {
		p.gap = 0
	}
	for _, c := range clips {
		if len(c) > 0 {
			p.clips = append(p.clips, c)
			p.total += len(c)
		}
	}
	if len(p.clips) > 1 {
		p.total += p.gap * (len(p.clips) - 1)
	}
	p.loop = loop && len(p.clips) > 0
	return p
}

// Duration is how long the clips play once through, gaps included: the IVR
// starts the PIN timeout after it.
func (p *Player) Duration() time.Duration {
	return time.Duration(p.total) * time.Second / Rate
}

// Stop ends playback; the next ReadFrame returns false.
func (p *Player) Stop() { p.stopped.Store(true) }

// ReadFrame fills pcm completely: clip samples, silence in gaps, and zeros
// after the end of the last clip in its final frame. It returns false, with
// pcm zeroed, once everything has been played or after Stop.
func (p *Player) ReadFrame(pcm []int16) bool {
	if p.stopped.Load() {
		clear(pcm)
		return false
	}
	n := 0
	for n < len(pcm) {
		if p.gapLeft > 0 {
			k := min(p.gapLeft, len(pcm)-n)
			clear(pcm[n : n+k])
			n += k
			p.gapLeft -= k
			continue
		}
		if p.idx >= len(p.clips) {
			if !p.loop {
				break
			}
			p.idx = 0
		}
		c := p.clips[p.idx]
		k := copy(pcm[n:], c[p.pos:])
		n += k
		p.pos += k
		if p.pos == len(c) {
			p.idx++
			p.pos = 0
			if p.idx < len(p.clips) || p.loop {
				p.gapLeft = p.gap
			}
		}
	}
	if n == 0 {
		clear(pcm)
		return false
	}
	clear(pcm[n:])
	return true
}
