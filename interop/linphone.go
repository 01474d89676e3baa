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
)

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
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    string // its standard output: the prompt and call states
	log    string // liblinphone's log (-l)
	exited chan struct{}
	err    error
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
	waitPrinted(t, "linphonec", p.out, want, d, p.exited, &p.err)
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
		out:    filepath.Join(dir, "linphonec.out"),
		log:    filepath.Join(dir, "linphone.log"),
		exited: make(chan struct{}),
	}
	outf, err := os.Create(p.out)
	if err != nil {
		t.Fatal(err)
	}
	defer outf.Close()
	p.cmd = exec.CommandContext(ctx, linphonec, "-c", rc, "-d", "5", "-l", p.log)
	p.cmd.Dir = dir
	p.cmd.Env = append(os.Environ(), "HOME="+home, "XDG_DATA_HOME="+data, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"))
	p.cmd.Stdout = outf
	p.cmd.Stderr = outf
	p.cmd.WaitDelay = 5 * time.Second
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start linphonec: %v", err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		// End of input is "quit" to linphonec.
		p.stdin.Close()
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() || *ShowLogs {
			t.Logf("linphonec output:\n%s", TailLines(p.out, 60))
			t.Logf("liblinphone log (%s), last lines:\n%s", p.log, TailLines(p.log, 150))
		}
	})
	p.waitOut(t, "linphonec>", 15*time.Second)
	return p
}
