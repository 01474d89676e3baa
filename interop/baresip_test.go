package interop

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"brygga/media/tone"
)

// TestBaresipInRoom: baresip dials the room, keys the PIN with /sndcode
// (RFC 4733) and says 1100 Hz from a WAV file; a brygga/phone caller saying
// 500 Hz joins. What baresip recorded must hold 500 Hz and not its own
// 1100 Hz, and the phone must hear 1100 Hz and not its own 500 Hz.
func TestBaresipInRoom(t *testing.T) {
	baresip := RequirePeer(t, "baresip", "baresip-core")
	modules := baresipModulePath(t)
	b := StartBridge(t)
	dir := t.TempDir()
	cfgDir := filepath.Join(dir, "config")
	dumpDir := filepath.Join(dir, "dumps")
	for _, d := range []string{cfgDir, dumpDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// aufile ends the source at the end of the file: make it outlast the call.
	toneWAV := filepath.Join(cfgDir, "tone1100.wav")
	if err := writeWAV(toneWAV, tone.Generate(1100, SampleRate, ToneAmp, 90*SampleRate), SampleRate); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p := startBaresip(ctx, t, baresip, modules, dir, cfgDir, dumpDir, toneWAV, "<sip:baresip@127.0.0.1>;regint=0;audio_codecs=PCMU")
	defer p.cons.Close()

	p.command(t, "/dial sip:"+RoomExt+"@"+b.SIP)
	p.waitLog(t, "Call established", 15*time.Second)
	// The greeting is interrupted by the first digit (type-ahead).
	time.Sleep(500 * time.Millisecond)
	p.command(t, "/sndcode "+RoomPIN+"#")
	// Let baresip get through the PIN and its join prompt first.
	time.Sleep(4 * time.Second)

	heard := JoinAndListen(ctx, t, b, 500, 1100)

	p.command(t, "/hangup")
	p.waitLog(t, "terminated", 10*time.Second)
	p.command(t, "/quit")
	select {
	case <-p.exited:
		if p.err != nil {
			t.Errorf("baresip exited with %v after /quit", p.err)
		}
	case <-time.After(10 * time.Second):
		t.Error("baresip did not exit within 10 s of /quit")
	}

	if sum, err := CheckHears(heard, 1100, 500, Settle, ListenSpan); err != nil {
		t.Errorf("the phone in the room with baresip: %v", err)
	} else {
		t.Logf("the phone: %s", sum)
	}
	recorded := baresipDump(t, dumpDir)
	t.Logf("baresip recorded %.1f s", float64(len(recorded))/SampleRate)
	if sum, err := CheckHears(recorded, 500, 1100, Settle, ListenSpan); err != nil {
		t.Errorf("baresip in the room with the phone: %v", err)
	} else {
		t.Logf("baresip: %s", sum)
	}
	if err := b.Stop(); err != nil {
		t.Error(err)
	}
}
