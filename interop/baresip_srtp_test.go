package interop

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"brygga/media/tone"
	"brygga/phone"
)

// TestBaresipSRTPSensitiveRoom: real baresip calls a sensitive room over
// SIP/TLS, trusting the bridge's self-signed certificate through
// sip_cafile. Without SRTP, and with its best-effort SRTP (RTP/AVP plus
// a=crypto), it hears the notice and is hung up. With its srtp module
// (mediaenc=srtp-mand: RTP/SAVP with one a=crypto AES_CM_128_HMAC_SHA1_80,
// keyed by SDES) it gets in with the PIN, sent as RFC 4733 events inside
// SRTP, and says 1100 Hz; a brygga/phone caller on TLS with SRTP saying
// 500 Hz joins. baresip's recording must hold 500 Hz and not its own
// 1100 Hz, and the phone must hear 1100 Hz and not its own 500 Hz.
func TestBaresipSRTPSensitiveRoom(t *testing.T) {
	baresip := RequirePeer(t, "baresip", "baresip-core")
	modules := baresipModulePath(t)
	if _, err := os.Stat(filepath.Join(modules, "srtp.so")); err != nil {
		msg := fmt.Sprintf("baresip's srtp module is missing from %s", modules)
		if CIMode() {
			t.Fatal(msg + " (Debian package baresip-core)")
		}
		t.Skip(msg + ": install baresip-core to run this test (with CI=true this is a failure)")
	}

	dir := t.TempDir()
	certFile, keyFile, clientTLS := selfSigned(t, dir)
	const room = "4719"
	cfg := BridgeConfig + fmt.Sprintf(`  - {extension: "%s", name: Sensitive Room, pin: "%s", sensitive: true}
sip:
  tls: {cert: %q, key: %q}
`, room, RoomPIN, certFile, keyFile)
	tlsPort := freeTCPPort(t)
	b := startBridgeSIP(t, dir, cfg, fmt.Sprintf("tls:127.0.0.1:%d", tlsPort))
	// The account's URI says transport=tls; baresip adds that to the
	// dialled URI (and would repeat it if the URI had it too).
	dial := fmt.Sprintf("/dial sip:%s@127.0.0.1:%d", room, tlsPort)

	// baresipConfig has no place for more settings, but it writes the
	// module folder on a line of its own ("module_path DIR"): lines added
	// after it load the srtp module and trust the bridge's certificate.
	// (baresip 1.0.0 has no sip_verify_server; libre 1.1.0 does not check
	// the server's certificate unless asked to, so sip_cafile is what
	// trusting it would take, not what makes the call work.)
	tlsModules := strings.Join([]string{modules, "module srtp.so", "sip_cafile " + certFile}, "\n")
	// aufile ends the source at the end of the file: make it outlast the call.
	toneWAV := filepath.Join(dir, "tone1100.wav")
	if err := writeWAV(toneWAV, tone.Generate(1100, SampleRate, toneAmp, 90*SampleRate), SampleRate); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	answeredTLS := regexp.MustCompile(`msg="call answered" .*room=` + room + ` .*transport=TLS`)
	admitted := regexp.MustCompile(`msg="caller admitted" .*room=` + room + ` caller=baresip `)

	// Refused: baresip over TLS without SRTP, and with its best-effort
	// SRTP (mediaenc=srtp), which offers RTP/AVP with an a=crypto line: the
	// bridge takes SDES keys only on RTP/SAVP(F), answers plain RTP, and
	// the room refuses the call.
	refused := []struct{ name, account string }{
		{"tls-rtp", "<sip:plain@127.0.0.1;transport=tls>;regint=0;audio_codecs=PCMU"},
		{"tls-best-effort-srtp", "<sip:besteffort@127.0.0.1;transport=tls>;regint=0;audio_codecs=PCMU;mediaenc=srtp"},
	}
	for i, r := range refused {
		ok := t.Run(r.name, func(t *testing.T) {
			bdir, cfgDir, dumpDir := baresipDirs(t)
			p := startBaresip(ctx, t, baresip, tlsModules, bdir, cfgDir, dumpDir, toneWAV, r.account)
			defer p.cons.Close()
			p.command(t, dial)
			p.waitLog(t, "Call established", 15*time.Second)
			// The bridge plays its notice and sends BYE over TLS.
			p.waitLog(t, "terminated", 30*time.Second)
			quitBaresip(t, p)
			if lvl := tone.Level(baresipDump(t, dumpDir)); lvl < -40 {
				t.Errorf("baresip heard nothing before the hang-up (%.1f dBFS): no notice was played", lvl)
			}
			if n := strings.Count(b.Log(), "needs a secure connection"); n != i+1 {
				t.Errorf("%d refusals logged, want %d", n, i+1)
			}
			if got := MetricValue(t, b, "brygga_calls_total", `{result="insecure"}`); got != float64(i+1) {
				t.Errorf("brygga_calls_total{result=\"insecure\"} = %v, want %d", got, i+1)
			}
			if n := len(answeredTLS.FindAllString(b.Log(), -1)); n != i+1 {
				t.Errorf("%d calls answered over TLS in the log, want %d", n, i+1)
			}
		})
		if !ok {
			return
		}
	}

	t.Run("tls-srtp", func(t *testing.T) {
		bdir, cfgDir, dumpDir := baresipDirs(t)
		p := startBaresip(ctx, t, baresip, tlsModules, bdir, cfgDir, dumpDir, toneWAV,
			"<sip:baresip@127.0.0.1;transport=tls>;regint=0;audio_codecs=PCMU;mediaenc=srtp-mand")
		defer p.cons.Close()
		p.command(t, dial)
		p.waitLog(t, "Call established", 15*time.Second)
		p.waitLog(t, "SRTP is Enabled (cryptosuite=AES_CM_128_HMAC_SHA1_80)", 5*time.Second)
		if n := len(answeredTLS.FindAllString(b.Log(), -1)); n != len(refused)+1 {
			t.Errorf("%d calls answered over TLS in the log, want %d (the refused ones and baresip's)", n, len(refused)+1)
		}
		// The greeting is interrupted by the first digit (type-ahead).
		time.Sleep(500 * time.Millisecond)
		p.command(t, "/sndcode "+RoomPIN+"#")
		// Let baresip get through the PIN and its join prompt first.
		time.Sleep(4 * time.Second)

		heard := JoinAndListenAs(ctx, t, phone.Config{User: "secure", Transport: "tls", TLS: clientTLS, SRTP: true},
			fmt.Sprintf("sip:%s@127.0.0.1:%d;transport=tls", room, tlsPort), 500, 1100)

		p.command(t, "/hangup")
		p.waitLog(t, "terminated", 10*time.Second)
		quitBaresip(t, p)
		if n := strings.Count(b.Log(), "needs a secure connection"); n != len(refused) {
			t.Errorf("%d refusals logged, want %d: baresip with SRTP was refused", n, len(refused))
		}
		if !admitted.MatchString(b.Log()) {
			t.Error(`the bridge never logged baresip as "caller admitted"`)
		}

		if sum, err := CheckHears(heard, 1100, 500, Settle, ListenSpan); err != nil {
			t.Errorf("the TLS+SRTP phone in the room with baresip: %v", err)
		} else {
			t.Logf("the phone: %s", sum)
		}
		recorded := baresipDump(t, dumpDir)
		t.Logf("baresip recorded %.1f s", float64(len(recorded))/SampleRate)
		if sum, err := CheckHears(recorded, 500, 1100, Settle, ListenSpan); err != nil {
			t.Errorf("baresip (TLS+SRTP) in the room with the phone: %v", err)
		} else {
			t.Logf("baresip: %s", sum)
		}
	})
	if err := b.Stop(); err != nil {
		t.Error(err)
	}
}

// baresipDirs makes the folders startBaresip wants under a fresh temporary
// folder: the run folder, its config folder and the one sndfile writes to.
func baresipDirs(t *testing.T) (dir, cfgDir, dumpDir string) {
	t.Helper()
	dir = t.TempDir()
	cfgDir, dumpDir = filepath.Join(dir, "config"), filepath.Join(dir, "dumps")
	for _, d := range []string{cfgDir, dumpDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir, cfgDir, dumpDir
}

// baresipDump reads the one dump-*-dec.wav baresip's sndfile wrote into
// dumpDir: what it heard.
func baresipDump(t *testing.T, dumpDir string) []int16 {
	t.Helper()
	dumps, _ := filepath.Glob(filepath.Join(dumpDir, "dump-*-dec.wav"))
	if len(dumps) != 1 {
		t.Fatalf("want one dump-*-dec.wav from baresip's sndfile in %s, found %v", dumpDir, dumps)
	}
	pcm, r, err := readWAV(dumps[0])
	if err != nil {
		t.Fatal(err)
	}
	if r != SampleRate {
		t.Fatalf("%s is at %d Hz, want %d", dumps[0], r, SampleRate)
	}
	return pcm
}

// quitBaresip ends a baresip that has no call any more.
func quitBaresip(t *testing.T, p *baresipProc) {
	t.Helper()
	p.command(t, "/quit")
	select {
	case <-p.Exited:
		if p.Err != nil {
			t.Errorf("baresip exited with %v after /quit", p.Err)
		}
	case <-time.After(10 * time.Second):
		t.Error("baresip did not exit within 10 s of /quit")
	}
}
