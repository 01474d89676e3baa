package interop

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"brygga/phone"
)

const (
	// Settle is skipped after a listener first hears the other tone: the
	// join prompt and the room's join announcement may still overlap it.
	Settle = 3 * time.Second
	// ListenSpan is how long after settling every window must be clean.
	ListenSpan = 2 * time.Second
	// JoinWait bounds dialling, the PIN and the wait for the other tone.
	JoinWait = 30 * time.Second
	// linger keeps the phone in the room after it has heard enough, so the
	// peer, which heard the phone a little later, gets its full span too.
	linger = 2 * time.Second
)

// JoinAndListen is the brygga/phone caller of the real-peer tests: it dials
// the room saying a sine of say Hz, keys the PIN as RFC 4733 events, and
// stays until it has heard the want tone for settle+listenSpan+linger (or
// joinWait ran out). It hangs up and returns everything it heard, placed by RTP
// timestamp.
func JoinAndListen(ctx context.Context, t *testing.T, b *Bridge, say, want float64) []int16 {
	t.Helper()
	return JoinAndListenAs(ctx, t, phone.Config{User: "interop", DisplayName: "Interop Phone"}, "sip:"+RoomExt+"@"+b.SIP, say, want)
}

// JoinAndListenAs is joinAndListen with the phone's configuration (TLS,
// SRTP), the target to dial and options of the dial (WithRedirects). Packets from the bridge that the phone
// cannot read (SRTP that does not authenticate) fail the test.
func JoinAndListenAs(ctx context.Context, t *testing.T, cfg phone.Config, target string, say, want float64, opts ...phone.DialOption) []int16 {
	t.Helper()
	log := testLogger(t, "phone.log", "phone log", slog.LevelDebug, 200)

	ctx, cancel := context.WithTimeout(ctx, JoinWait+10*time.Second)
	defer cancel()
	cfg.Logger = log
	ph, err := phone.New(ctx, cfg)
	if err != nil {
		t.Fatalf("phone: %v", err)
	}
	defer ph.Close()

	dctx, dcancel := context.WithTimeout(ctx, 10*time.Second)
	call, err := ph.Dial(dctx, target, opts...)
	dcancel()
	if err != nil {
		t.Fatalf("phone dialling %s: %v", target, err)
	}
	call.SetSource(Sine(say))
	if err := call.SendDigits(RoomPIN + "#"); err != nil {
		t.Fatalf("phone keying the PIN: %v", err)
	}

	deadline := time.NewTimer(JoinWait)
	defer deadline.Stop()
	poll := time.NewTicker(200 * time.Millisecond)
	defer poll.Stop()
wait:
	for {
		select {
		case <-ctx.Done():
			break wait
		case <-deadline.C:
			break wait
		case <-call.Done():
			t.Error("the bridge hung up on the phone")
			break wait
		case <-poll.C:
			if HeardEnough(call.Received(), want, say) {
				break wait
			}
		}
	}
	heard := call.Received()
	hctx, hcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer hcancel()
	if err := call.Hangup(hctx); err != nil {
		t.Errorf("phone hanging up: %v", err)
	}
	st := call.Stats()
	t.Logf("phone heard %.1f s; RTP %+v", float64(len(heard))/SampleRate, st)
	if cfg.SRTP && st.Unknown != 0 {
		t.Errorf("%d packets from the bridge did not authenticate as SRTP", st.Unknown)
	}
	return heard
}

// HeardEnough reports whether pcm holds the want tone for long enough to
// be checked: Settle, ListenSpan and linger from the moment it arrived.
func HeardEnough(pcm []int16, want, own float64) bool {
	need := int((Settle+ListenSpan+linger)/(AnalysisWindow*time.Second/SampleRate)) + 1
	ls := AnalyseLevels(pcm, want, own)
	f := FirstHeard(ls)
	return f >= 0 && len(ls)-f >= need
}
