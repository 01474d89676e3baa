package conference

import (
	"sync"

	"brygga/prompts"
)

// voice is what one participant in the room hears from the bridge alone:
// private prompts (keypad answers, notices to hosts) and hold music while
// they are the only one in the room. It is the member's mixer Source.
//
// It reports false from ReadFrame whenever it has nothing to say, so the
// mixer drops it and the participant goes back to the shared encode of the
// room's mix; anything new is handed to the mixer again with Member.Play.
type voice struct {
	mu      sync.Mutex
	prompt  *prompts.Player
	hold    *prompts.Player // nil: no hold music
	holding bool
}

func newVoice() *voice {
	return &voice{hold: prompts.NewLoop(0, prompts.HoldMusic())}
}

// ReadFrame plays the prompt, else hold music while holding.
func (v *voice) ReadFrame(pcm []int16) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.prompt != nil {
		if v.prompt.ReadFrame(pcm) {
			return true
		}
		v.prompt = nil
	}
	if v.holding {
		return v.hold.ReadFrame(pcm)
	}
	return false
}

// say replaces any prompt playing with clips.
func (v *voice) say(clips [][]int16) {
	v.mu.Lock()
	v.prompt = prompts.NewPlayer(clips...)
	v.mu.Unlock()
}

// cut stops the prompt playing (a key was pressed: type-ahead).
func (v *voice) cut() {
	v.mu.Lock()
	v.prompt = nil
	v.mu.Unlock()
}

// setHolding turns hold music on or off; it reports whether that changed.
func (v *voice) setHolding(on bool) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.holding == on {
		return false
	}
	v.holding = on
	return true
}

// busy reports whether a prompt is still playing.
func (v *voice) busy() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.prompt != nil
}
