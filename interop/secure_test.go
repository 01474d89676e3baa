package interop

import (
	"context"
	"crypto/tls"
	"fmt"
	"strings"
	"testing"
	"time"

	"brygga/internal/testcert"
	"brygga/media/tone"
	"brygga/phone"
)

// TestSensitiveRoomOverTLSAndSRTP runs a sensitive room on the real
// binary with a TLS listener. Calls that are not TLS with SRTP — plain
// UDP, TLS with plain RTP, SRTP over UDP (its keys went in the clear) — are
// answered, told, and hung up; two phones on TLS with SRTP get in with
// the PIN (keyed as RFC 4733 events inside SRTP), each hears the other's
// tone and not its own, and the bridge's BYE when the meeting is ended
// reaches them over their TLS connections.
func TestSensitiveRoomOverTLSAndSRTP(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, clientTLS := selfSigned(t, dir)
	const room = "4719"
	cfg := BridgeConfig + fmt.Sprintf(`  - {extension: "%s", name: Sensitive Room, pin: "%s", sensitive: true}
sip:
  tls: {cert: %q, key: %q}
`, room, RoomPIN, certFile, keyFile)
	tlsPort := freeTCPPort(t)
	b := startBridgeSIP(t, dir, cfg, fmt.Sprintf("tls:127.0.0.1:%d", tlsPort))
	tlsTarget := fmt.Sprintf("sip:%s@127.0.0.1:%d;transport=tls", room, tlsPort)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	refused := []struct {
		name   string
		cfg    phone.Config
		target string
	}{
		{"udp-rtp", phone.Config{User: "plain"}, "sip:" + room + "@" + b.SIP},
		{"tls-rtp", phone.Config{User: "tlsonly", Transport: "tls", TLS: clientTLS}, tlsTarget},
		{"udp-srtp", phone.Config{User: "srtponly", SRTP: true}, "sip:" + room + "@" + b.SIP},
	}
	for i, r := range refused {
		ph, err := phone.New(ctx, r.cfg)
		if err != nil {
			t.Fatal(err)
		}
		call, err := ph.Dial(ctx, r.target)
		if err != nil {
			t.Fatalf("%s: dial: %v", r.name, err)
		}
		select {
		case <-call.Done():
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: a call that is not TLS+SRTP was not hung up by the sensitive room", r.name)
		}
		if lvl := tone.Level(call.Received()); lvl < -40 {
			t.Errorf("%s: heard nothing before the hang-up (%.1f dBFS): no notice was played", r.name, lvl)
		}
		if got := MetricValue(t, b, "brygga_calls_total", `{result="insecure"}`); got != float64(i+1) {
			t.Errorf("%s: brygga_calls_total{result=\"insecure\"} = %v, want %d", r.name, got, i+1)
		}
		ph.Close()
	}
	if n := strings.Count(b.Log(), "needs a secure connection"); n != len(refused) {
		t.Errorf("%d refusals logged, want %d", n, len(refused))
	}

	// Two secure phones: 600 Hz and 900 Hz.
	type member struct {
		call      *phone.Call
		say, hear float64
	}
	var members []member
	for _, m := range []struct {
		user      string
		say, hear float64
	}{{"alice", 600, 900}, {"bob", 900, 600}} {
		ph, err := phone.New(ctx, phone.Config{User: m.user, Transport: "tls", TLS: clientTLS, SRTP: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ph.Close() })
		call, err := ph.Dial(ctx, tlsTarget)
		if err != nil {
			t.Fatalf("%s: TLS+SRTP dial: %v", m.user, err)
		}
		call.SetSource(Sine(m.say))
		if err := call.SendDigits(RoomPIN + "#"); err != nil {
			t.Fatal(err)
		}
		members = append(members, member{call, m.say, m.hear})
	}
	need := int((Settle+ListenSpan)/(AnalysisWindow*time.Second/SampleRate)) + 1
	deadline := time.Now().Add(JoinWait)
	for _, m := range members {
		for {
			ls := AnalyseLevels(m.call.Received(), m.hear, m.say)
			if f := FirstHeard(ls); f >= 0 && len(ls)-f >= need {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("a TLS+SRTP phone never heard %v Hz long enough", m.hear)
			}
			select {
			case <-m.call.Done():
				t.Fatal("the bridge hung up on a TLS+SRTP phone")
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	for _, m := range members {
		summary, err := CheckHears(m.call.Received(), m.hear, m.say, Settle, ListenSpan)
		t.Logf("hears %v Hz, says %v Hz: %s", m.hear, m.say, summary)
		if err != nil {
			t.Error(err)
		}
		if st := m.call.Stats(); st.Unknown != 0 {
			t.Errorf("%d packets from the bridge did not authenticate as SRTP: %+v", st.Unknown, st)
		}
	}

	// The bridge ends the meeting: its BYEs go back over TLS.
	if code := APICall(t, b, OpsToken, "POST", "/api/v1/conferences/"+room+"/end", "", nil); code/100 != 2 {
		t.Fatalf("ending the meeting: %d", code)
	}
	for _, m := range members {
		select {
		case <-m.call.Done():
		case <-time.After(30 * time.Second):
			t.Fatal("the bridge's BYE never reached a TLS phone")
		}
	}
	if n := strings.Count(b.Log(), `transport=TLS`); n < 2 {
		t.Errorf("%d calls answered over TLS in the log, want 2", n)
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key into dir and
// returns a client configuration that trusts it and nothing else.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, client *tls.Config) {
	t.Helper()
	p := testcert.New(t)
	certFile, keyFile = p.Write(t, dir)
	return certFile, keyFile, p.Client
}
