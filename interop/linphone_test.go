package interop

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"brygga/media/tone"
)

// TestLinphoneInRoom: linphonec dials the room, keys the PIN as RFC 4733
// events and says 1100 Hz from a WAV file ("soundcard use files", "play");
// a brygga/phone caller saying 500 Hz joins. What linphonec recorded
// ("record") must hold 500 Hz and not its own 1100 Hz, and the phone must
// hear 1100 Hz and not its own 500 Hz.
func TestLinphoneInRoom(t *testing.T) {
	linphonec := RequirePeer(t, "linphonec", "linphone-cli")
	b := StartBridge(t)
	dir := t.TempDir()
	// The file player stops at the end of the file: make it outlast the call.
	toneWAV := filepath.Join(dir, "tone1100.wav")
	if err := writeWAV(toneWAV, tone.Generate(1100, SampleRate, ToneAmp, 90*SampleRate), SampleRate); err != nil {
		t.Fatal(err)
	}
	recorded := filepath.Join(dir, "heard.wav")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p := startLinphone(ctx, t, linphonec, dir)

	p.command(t, "soundcard use files")
	p.waitOut(t, "Using wav files instead of soundcard", 10*time.Second)
	p.command(t, "play "+toneWAV)
	p.command(t, "record "+recorded)
	p.command(t, "call sip:"+RoomExt+"@"+b.SIP)
	p.waitOut(t, "connected.", 15*time.Second)
	// Digits on a line of their own are DTMF (RFC 4733 here); the first
	// one interrupts the greeting (type-ahead).
	p.command(t, RoomPIN+"#")
	// In the room (the PIN was heard) before the phone comes.
	if m := WaitMember(t, b, "linphone"); m.Role != "participant" {
		t.Errorf("linphonec joined as %q, want participant", m.Role)
	}

	heard := JoinAndListen(ctx, t, b, 500, 1100)

	p.command(t, "terminate")
	p.waitOut(t, "ended", 10*time.Second)
	p.command(t, "quit")
	select {
	case <-p.exited:
		if p.err != nil {
			t.Errorf("linphonec exited with %v after quit", p.err)
		}
	case <-time.After(15 * time.Second):
		t.Error("linphonec did not exit within 15 s of quit")
	}

	if sum, err := CheckHears(heard, 1100, 500, Settle, ListenSpan); err != nil {
		t.Errorf("the phone in the room with linphonec: %v", err)
	} else {
		t.Logf("the phone: %s", sum)
	}
	pcm, r, err := readWAV(recorded)
	if err != nil {
		t.Fatalf("what linphonec recorded: %v", err)
	}
	if r != SampleRate {
		t.Fatalf("%s is at %d Hz, want %d", recorded, r, SampleRate)
	}
	t.Logf("linphonec recorded %.1f s", float64(len(pcm))/SampleRate)
	if sum, err := CheckHears(pcm, 500, 1100, Settle, ListenSpan); err != nil {
		t.Errorf("linphonec in the room with the phone: %v", err)
	} else {
		t.Logf("linphonec: %s", sum)
	}
	// The PIN went as RFC 4733 events, one per key, not as SIP INFO.
	lplog, _ := os.ReadFile(p.log)
	if n := strings.Count(string(lplog), "Finished sending RFC2833 dtmf"); n != len(RoomPIN+"#") {
		t.Errorf("liblinphone logged %d RFC 2833 events sent, want %d (the PIN and #)", n, len(RoomPIN+"#"))
	}
	if err := b.Stop(); err != nil {
		t.Error(err)
	}
}
