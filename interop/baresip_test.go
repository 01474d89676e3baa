package interop

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
	dir, cfgDir, dumpDir := baresipDirs(t)
	// aufile ends the source at the end of the file: make it outlast the call.
	toneWAV := filepath.Join(cfgDir, "tone1100.wav")
	if err := writeWAV(toneWAV, tone.Generate(1100, SampleRate, toneAmp, 90*SampleRate), SampleRate); err != nil {
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
	quitBaresip(t, p)

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

// baresipModules are the modules a headless baresip needs here: G.711, a
// WAV file as microphone, sndfile to record what it hears, the UDP console
// and menu for /dial, /sndcode and /hangup, and the accounts file.
var baresipModules = []string{"g711.so", "aufile.so", "sndfile.so", "cons.so", "menu.so", "account.so"}

// baresipModulePath finds the folder holding baresipModules.
func baresipModulePath(t *testing.T) string {
	t.Helper()
	candidates := []string{"/usr/lib/baresip/modules", "/usr/local/lib/baresip/modules"}
	if m, _ := filepath.Glob("/usr/lib/*-linux-gnu/baresip/modules"); len(m) > 0 {
		candidates = append(candidates, m...)
	}
	return ModuleDir(t, "baresip", "baresip-core", candidates, baresipModules)
}

// baresipConfig is a headless baresip: loopback only, PCMU, a WAV file as
// microphone, no player (1.0.0's aufile has none; with none loaded it skips
// playback), and sndfile writing what it hears into dumpDir.
func baresipConfig(modules string, sipPort, consPort, rtpLo, rtpHi int, toneWAV, dumpDir string) string {
	return strings.Join([]string{
		"poll_method poll",
		fmt.Sprintf("sip_listen 127.0.0.1:%d", sipPort),
		"net_interface 127.0.0.1",
		fmt.Sprintf("rtp_ports %d-%d", rtpLo, rtpHi),
		"module_path " + modules,
		"module g711.so",
		"module aufile.so",
		"module sndfile.so",
		"module cons.so",
		"module_app account.so",
		"module_app menu.so",
		fmt.Sprintf("cons_listen 127.0.0.1:%d", consPort),
		// aufile opens the file relative to baresip's working folder, not
		// the config folder: give it an absolute path.
		"audio_source aufile," + toneWAV,
		"audio_player ",
		"snd_path " + dumpDir,
		"",
	}, "\n")
}

// baresipProc is a running baresip driven through its UDP console.
type baresipProc struct {
	*Proc
	log  string
	cons *net.UDPConn
	sip  int // its SIP port on 127.0.0.1
}

// command sends one console command. cons collects characters until a
// newline, so each command ends with one.
func (p *baresipProc) command(t *testing.T, line string) {
	t.Helper()
	if _, err := p.cons.Write([]byte(line + "\n")); err != nil {
		t.Fatalf("baresip console %q: %v", line, err)
	}
}

// waitLog waits until baresip printed want, or fails after d.
func (p *baresipProc) waitLog(t *testing.T, want string, d time.Duration) {
	t.Helper()
	waitPrinted(t, "baresip", p.log, want, d, p.Proc)
}

// waitPrinted waits until the peer's output file holds want, or fails
// after d or when the peer exits first.
func waitPrinted(t *testing.T, peer, file, want string, d time.Duration, p *Proc) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		data, _ := os.ReadFile(file)
		if strings.Contains(string(data), want) {
			return
		}
		select {
		case <-p.Exited:
			t.Fatalf("%s exited (%v) before printing %q", peer, p.Err, want)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not print %q within %s", peer, want, d)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// startBaresip runs baresip headless in dir with its config in cfgDir:
// source is its microphone (a WAV file), what it hears goes to dumpDir,
// account is its one accounts line. It is ready for console commands when
// this returns, and killed at the end of the test if still running.
func startBaresip(ctx context.Context, t *testing.T, baresip, modules, dir, cfgDir, dumpDir, source, account string) *baresipProc {
	t.Helper()
	sipPort, consPort := FreePort(t), FreePort(t)
	rtpLo, rtpHi := PortBlock(t, 20)
	cfg := baresipConfig(modules, sipPort, consPort, rtpLo, rtpHi, source, dumpDir)
	if err := os.WriteFile(filepath.Join(cfgDir, "config"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfgDir, "accounts"), []byte(account+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &baresipProc{log: filepath.Join(dir, "baresip.log"), sip: sipPort}
	logf, err := os.Create(p.log)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.CommandContext(ctx, baresip, "-v", "-f", cfgDir)
	cmd.Dir = dir
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.WaitDelay = 5 * time.Second
	p.Proc = StartProc(t, "baresip", cmd)
	t.Cleanup(func() {
		select {
		case <-p.Exited:
		default:
			_ = p.Cmd.Process.Kill()
			<-p.Exited
		}
		if t.Failed() || *ShowLogs {
			t.Logf("baresip log:\n%s", TailLines(p.log, 150))
		}
	})
	p.waitLog(t, "baresip is ready", 15*time.Second)
	p.cons, err = net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: consPort})
	if err != nil {
		t.Fatal(err)
	}
	return p
}
