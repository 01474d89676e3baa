package interop

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
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
	if err := writeWAV(toneWAV, tone.Generate(1100, SampleRate, toneAmp, 90*SampleRate), SampleRate); err != nil {
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
	case <-p.Exited:
		if p.Err != nil {
			t.Errorf("linphonec exited with %v after quit", p.Err)
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

// linphoneConfig is a linphonerc for a headless linphonec on loopback:
// SIP over UDP only, SIP and RTP bound to 127.0.0.1 and IPv4 only (else
// liblinphone puts the machine's global IPv6 address in its SDP), DTMF as
// RFC 4733 events and not SIP INFO, no echo canceller to colour the tone.
// linphonec rewrites the file with its defaults added.
func linphoneConfig(sipPort, rtpPort int) string {
	return strings.Join([]string{
		"[sip]",
		"bind_address=127.0.0.1",
		fmt.Sprintf("sip_port=%d", sipPort),
		"sip_tcp_port=0",
		"sip_tls_port=0",
		"use_ipv6=0",
		"guess_hostname=0",
		`contact="Linphone Interop" <sip:linphone@127.0.0.1>`,
		"use_info=0",
		"use_rfc2833=1",
		"[rtp]",
		"bind_address=127.0.0.1",
		fmt.Sprintf("audio_rtp_port=%d", rtpPort),
		"[sound]",
		"echocancellation=0",
		"",
	}, "\n")
}

// linphoneProc is a running linphonec driven through its standard input.
type linphoneProc struct {
	*Proc
	stdin io.WriteCloser
	out   string // its standard output: the prompt and call states
	log   string // liblinphone's log (-l)
}

// command writes one line to linphonec's prompt.
func (p *linphoneProc) command(t *testing.T, line string) {
	t.Helper()
	if _, err := io.WriteString(p.stdin, line+"\n"); err != nil {
		t.Fatalf("linphonec %q: %v", line, err)
	}
}

// waitOut waits until linphonec printed want, or fails after d.
func (p *linphoneProc) waitOut(t *testing.T, want string, d time.Duration) {
	t.Helper()
	waitPrinted(t, "linphonec", p.out, want, d, p.Proc)
}

// startLinphone runs linphonec headless in dir with a HOME of its own
// there. liblinphone opens its database under $XDG_DATA_HOME/linphone (by
// default ~/.local/share/linphone) and, when that folder is missing, never
// starts its SIP stack: no listening point, and every call fails at once.
// No sound system is needed: "soundcard use files" makes it play and
// record WAV files (PulseAudio and ALSA errors in its log are harmless).
func startLinphone(ctx context.Context, t *testing.T, linphonec, dir string) *linphoneProc {
	t.Helper()
	home := filepath.Join(dir, "home")
	data := filepath.Join(home, ".local", "share")
	for _, d := range []string{filepath.Join(data, "linphone"), filepath.Join(home, ".config")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	rtpLo, _ := PortBlock(t, 2) // RTP and RTCP
	rc := filepath.Join(dir, "linphonerc")
	if err := os.WriteFile(rc, []byte(linphoneConfig(FreePort(t), rtpLo)), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &linphoneProc{
		out: filepath.Join(dir, "linphonec.out"),
		log: filepath.Join(dir, "linphone.log"),
	}
	outf, err := os.Create(p.out)
	if err != nil {
		t.Fatal(err)
	}
	defer outf.Close()
	cmd := exec.CommandContext(ctx, linphonec, "-c", rc, "-d", "5", "-l", p.log)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_DATA_HOME="+data, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"))
	cmd.Stdout = outf
	cmd.Stderr = outf
	cmd.WaitDelay = 5 * time.Second
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	p.Proc = StartProc(t, "linphonec", cmd)
	t.Cleanup(func() {
		// End of input is "quit" to linphonec.
		p.stdin.Close()
		select {
		case <-p.Exited:
		case <-time.After(10 * time.Second):
			_ = p.Cmd.Process.Kill()
			<-p.Exited
		}
		if t.Failed() || *ShowLogs {
			t.Logf("linphonec output:\n%s", TailLines(p.out, 60))
			t.Logf("liblinphone log (%s), last lines:\n%s", p.log, TailLines(p.log, 150))
		}
	})
	p.waitOut(t, "linphonec>", 15*time.Second)
	return p
}
