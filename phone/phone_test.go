package phone

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"brygga/media/codec"
	"brygga/media/dtmf"
	"brygga/media/tone"
	"brygga/mixer"
	"brygga/sip/sdp"
)

func newPhone(t *testing.T, cfg Config) *Phone {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quiet()
	}
	p, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// dial places a call to the test UAS and waits until the UAS has the ACK.
func dial(t *testing.T, p *Phone, u *testUAS, transport string) (*Call, *uasCall) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := p.Dial(ctx, u.target("room", transport))
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	select {
	case uc := <-u.answered:
		if uc.id != c.CallID() {
			t.Fatalf("UAS answered %s, phone has %s", uc.id, c.CallID())
		}
		return c, uc
	case <-ctx.Done():
		t.Fatal("UAS never saw the ACK")
	}
	return nil, nil
}

// eachMedia runs f with a Phone of each kind: calls with a sender and a
// receiver goroutine of their own, and calls ticked by a shared Clock.
func eachMedia(t *testing.T, cfg Config, f func(t *testing.T, cfg Config)) {
	t.Run("goroutines", func(t *testing.T) { f(t, cfg) })
	t.Run("clocked", func(t *testing.T) {
		if !clockedSockets {
			t.Skip("no clocked sockets on this system")
		}
		cfg.Clock = mixer.NewClock(mixer.ClockConfig{CatchUp: -1})
		f(t, cfg)
	})
}

func sine(freq float64) func([]int16) {
	var phase float64
	return func(pcm []int16) { tone.Sine(pcm, freq, 8000, 0.5, &phase) }
}

// eventually polls cond every 10 ms for up to d.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(d); !cond(); {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func hangup(t *testing.T, c *Call) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Hangup(ctx); err != nil {
		t.Fatalf("Hangup: %v", err)
	}
}

func TestDialAudioHangup(t *testing.T) {
	for _, tr := range []string{"udp", "tcp"} {
		for _, cd := range []codec.Codec{codec.PCMU, codec.PCMA} {
			t.Run(tr+"/"+cd.Name(), func(t *testing.T) {
				eachMedia(t, Config{Transport: tr, Codec: cd}, func(t *testing.T, cfg Config) {
					u := newUAS(t)
					p := newPhone(t, cfg)
					c, uc := dial(t, p, u, tr)

					o := uc.lastOffer(t)
					if o.Addr != netip.MustParseAddr("127.0.0.1") || o.Port != int(c.RTPAddr().Port()) {
						t.Errorf("offer says %v:%d, call receives on %v", o.Addr, o.Port, c.RTPAddr())
					}
					if f, ok := o.Format(cd.PayloadType()); !ok || f.Name != cd.Name() {
						t.Errorf("offer formats %+v lack %s", o.Formats, cd.Name())
					}
					if f, ok := o.Format(101); !ok || f.Name != "telephone-event" {
						t.Errorf("offer formats %+v lack telephone-event/101", o.Formats)
					}

					c.SetSource(sine(1000))
					eventually(t, 5*time.Second, "a second of echoed audio", func() bool { return c.Stats().PacketsReceived >= 50 })
					heard := c.Last(800 * time.Millisecond)
					if lvl := ToneLevel(heard, c.Rate(), 1000); lvl < -10 {
						t.Errorf("1000 Hz heard at %.1f dBFS, sent at -6", lvl)
					}
					if lvl := ToneLevel(heard, c.Rate(), 1500); lvl > -45 {
						t.Errorf("1500 Hz heard at %.1f dBFS, nothing sent there", lvl)
					}

					pkts := uc.snapshot()
					for _, pk := range pkts {
						if pk.hdr.PayloadType != cd.PayloadType() || pk.hdr.SSRC != pkts[0].hdr.SSRC {
							t.Fatalf("packet PT %d SSRC %x; want PT %d, one SSRC", pk.hdr.PayloadType, pk.hdr.SSRC, cd.PayloadType())
						}
						if pk.from != c.RTPAddr() {
							t.Fatalf("RTP from %v, offer said %v", pk.from, c.RTPAddr())
						}
					}
					if !pkts[0].hdr.Marker {
						t.Error("first packet has no marker bit")
					}
					checkPacing(t, pkts, c.Stats().LateTicks)

					st := c.Stats()
					if st.PacketsSent < 50 || st.PacketsReceived < 50 || st.SeqGaps != 0 || st.Unknown != 0 {
						t.Errorf("stats %+v", st)
					}

					hangup(t, c)
					select {
					case <-uc.byed:
					case <-time.After(2 * time.Second):
						t.Fatal("UAS got no BYE")
					}
					select {
					case <-c.Done():
					default:
						t.Fatal("Done not closed after Hangup")
					}
					if c.EndedByRemote() {
						t.Error("EndedByRemote after our own hangup")
					}
					if len(p.Calls()) != 0 {
						t.Errorf("%d calls left on the phone", len(p.Calls()))
					}
					if err := c.Hangup(context.Background()); err != nil {
						t.Errorf("second Hangup: %v", err)
					}
				})
			})
		}
	}
}

// checkPacing: one packet per 20 ms of wall clock, timestamps 160 apart
// and consecutive sequence numbers; the schedule must not drift. A sender
// that stalled (late > 0, a loaded machine) skips timestamps ahead instead.
func checkPacing(t *testing.T, pkts []uasPacket, late uint64) {
	t.Helper()
	if len(pkts) < 40 {
		t.Fatalf("only %d packets", len(pkts))
	}
	first, last := pkts[0], pkts[len(pkts)-1]
	for i := 1; i < len(pkts); i++ {
		if d := pkts[i].hdr.SequenceNumber - pkts[i-1].hdr.SequenceNumber; d != 1 {
			t.Fatalf("sequence jumps by %d at packet %d", d, i)
		}
		if d := pkts[i].hdr.Timestamp - pkts[i-1].hdr.Timestamp; d != 160 && (late == 0 || d%160 != 0) {
			t.Fatalf("timestamp steps by %d at packet %d", d, i)
		}
	}
	wall := last.at.Sub(first.at)
	media := time.Duration(last.hdr.Timestamp-first.hdr.Timestamp) * time.Second / 8000
	slack := 60 * time.Millisecond
	if late > 0 {
		slack = 150 * time.Millisecond // the UAS reads late on a loaded machine too
	}
	if diff := wall - media; diff > slack || diff < -slack {
		t.Errorf("%d packets: media time %v over %v of wall clock", len(pkts), media, wall)
	}
}

func TestRejected(t *testing.T) {
	u := newUAS(t)
	p := newPhone(t, Config{})
	for _, code := range []int{404, 486, 503} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c, err := p.Dial(ctx, u.target(fmt.Sprint(code), "udp"))
		cancel()
		var se *StatusError
		if !errors.As(err, &se) || se.Code != code {
			t.Fatalf("Dial to a %d: call %v, error %v", code, c, err)
		}
	}
	if n := len(p.Calls()); n != 0 {
		t.Errorf("%d calls left after rejections", n)
	}
}

// A 3xx is followed to its Contact as often as WithRedirects allows, and
// no more; Target says where the call ended up.
func TestRedirects(t *testing.T) {
	u := newUAS(t)
	p := newPhone(t, Config{})
	dial := func(user string, opts ...DialOption) (*Call, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return p.Dial(ctx, u.target(user, "udp"), opts...)
	}
	_, err := dial("moved-room")
	var se *StatusError
	if !errors.As(err, &se) || se.Code != 302 || se.Contact != u.target("room", "udp") {
		t.Fatalf("without WithRedirects: %v (%+v), want the 302 to %s", err, se, u.target("room", "udp"))
	}
	_, err = dial("moved-moved-room", WithRedirects(1))
	if !errors.As(err, &se) || se.Code != 302 || se.Contact != u.target("room", "udp") {
		t.Fatalf("two redirects with WithRedirects(1): %v, want the second 302", err)
	}
	c, err := dial("moved-moved-room", WithRedirects(2))
	if err != nil {
		t.Fatalf("two redirects with WithRedirects(2): %v", err)
	}
	if c.Target() != u.target("room", "udp") {
		t.Errorf("Target %s, want %s", c.Target(), u.target("room", "udp"))
	}
	<-u.answered
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := dial("404", WithRedirects(3)); !errors.As(err, &se) || se.Code != 404 || se.Contact != "" {
		t.Fatalf("a 404 with WithRedirects: %v", err)
	}
}

func TestCancelBeforeAnswer(t *testing.T) {
	u := newUAS(t)
	p := newPhone(t, Config{})

	start := time.Now()
	_, err := p.Dial(context.Background(), u.target("slow", "udp"), WithCancelAfter(300*time.Millisecond))
	var se *StatusError
	if !errors.As(err, &se) || se.Code != 487 || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WithCancelAfter: %v; want 487 wrapping DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("cancelled dial took %v", d)
	}
	select {
	case <-u.cancelled:
	case <-time.After(2 * time.Second):
		t.Fatal("UAS never saw the CANCEL")
	}

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	_, err = p.Dial(ctx, u.target("slow", "udp"))
	if !errors.As(err, &se) || se.Code != 487 || !errors.Is(err, context.Canceled) {
		t.Fatalf("context cancel: %v; want 487 wrapping Canceled", err)
	}
	select {
	case <-u.cancelled:
	case <-time.After(2 * time.Second):
		t.Fatal("UAS never saw the second CANCEL")
	}
	if n := len(p.Calls()); n != 0 {
		t.Errorf("%d calls left after cancels", n)
	}
}

func TestSendDigits(t *testing.T) {
	eachMedia(t, Config{}, func(t *testing.T, cfg Config) {
		u := newUAS(t)
		p := newPhone(t, cfg)
		c, uc := dial(t, p, u, "udp")
		c.SetSource(sine(440))

		const digits = "159#*0D"
		start := time.Now()
		if err := c.SendDigits(strings.ToLower(digits)); err != nil {
			t.Fatal(err)
		}
		if d, min := time.Since(start), time.Duration(len(digits))*200*time.Millisecond; d < min {
			t.Errorf("%d digits keyed in %v, faster than a person", len(digits), d)
		}
		time.Sleep(100 * time.Millisecond)

		type event struct {
			digit   byte
			ts      uint32
			packets int
			ends    int
			marker  bool
			maxDur  uint16
		}
		var (
			events  []*event
			dec     dtmf.EventDecoder
			decoded []byte
			audioTS []uint32
		)
		pkts := uc.snapshot()
		for i, pk := range pkts {
			if i > 0 && pk.hdr.SequenceNumber != pkts[i-1].hdr.SequenceNumber+1 {
				t.Fatalf("sequence gap at packet %d", i)
			}
			if pk.hdr.PayloadType != 101 {
				audioTS = append(audioTS, pk.hdr.Timestamp)
				continue
			}
			pl := pk.payload
			if len(pl) != 4 {
				t.Fatalf("event payload of %d bytes", len(pl))
			}
			if d, ok := dec.Packet(pk.hdr.Timestamp, pl); ok {
				decoded = append(decoded, d)
			}
			digit, _ := dtmf.Digit(pl[0])
			dur := uint16(pl[2])<<8 | uint16(pl[3])
			end := pl[1]&0x80 != 0
			if len(events) == 0 || events[len(events)-1].ts != pk.hdr.Timestamp {
				events = append(events, &event{digit: digit, ts: pk.hdr.Timestamp, marker: pk.hdr.Marker})
			} else if pk.hdr.Marker {
				t.Errorf("marker bit on a later packet of event %c", digit)
			}
			ev := events[len(events)-1]
			if ev.digit != digit {
				t.Errorf("event at ts %d changes digit", ev.ts)
			}
			if pl[1]&0x3f != eventVolume {
				t.Errorf("volume %d", pl[1]&0x3f)
			}
			if dur < ev.maxDur {
				t.Errorf("digit %c: duration goes back from %d to %d", digit, ev.maxDur, dur)
			}
			if ev.ends > 0 && !end {
				t.Errorf("digit %c: update after an end packet", digit)
			}
			ev.maxDur = max(ev.maxDur, dur)
			ev.packets++
			if end {
				ev.ends++
			}
		}
		if string(decoded) != digits {
			t.Errorf("EventDecoder got %q, sent %q", decoded, digits)
		}
		if len(events) != len(digits) {
			t.Fatalf("%d events for %d digits", len(events), len(digits))
		}
		for i, ev := range events {
			if ev.digit != digits[i] || !ev.marker || ev.ends != endRepeats || ev.packets != keyTicks+endRepeats-1 || ev.maxDur != keyTicks*160 {
				t.Errorf("event %d: %+v; want digit %c, marker, %d packets with %d end packets, duration %d",
					i, *ev, digits[i], keyTicks+endRepeats-1, endRepeats, keyTicks*160)
			}
			if i > 0 && ev.ts-events[i-1].ts < uint32((keyTicks+endRepeats-1+keyGapTicks)*160) {
				t.Errorf("event %d starts %d samples after the one before", i, ev.ts-events[i-1].ts)
			}
		}
		// The events live on the audio's clock: audio resumes right after each
		// (unless the sender stalled and skipped ahead).
		late := c.Stats().LateTicks
		for i := 1; i < len(audioTS); i++ {
			d := audioTS[i] - audioTS[i-1]
			if d != 160 && d != uint32((keyTicks+endRepeats-1+1)*160) && (late == 0 || d%160 != 0) {
				t.Fatalf("audio timestamps step by %d around an event", d)
			}
		}
		if st := c.Stats(); st.EventsSent != uint64(len(digits)*(keyTicks+endRepeats-1)) {
			t.Errorf("EventsSent %d", st.EventsSent)
		}

		if err := c.SendDigits("12x"); err == nil {
			t.Error("SendDigits accepted 'x'")
		}
		hangup(t, c)
		if err := c.SendDigits("1"); err == nil {
			t.Error("SendDigits on an ended call succeeded")
		}
	})
}

func TestInBandDigits(t *testing.T) {
	u := newUAS(t)
	p := newPhone(t, Config{InBandDTMF: true, Codec: codec.PCMA})
	c, uc := dial(t, p, u, "udp")
	if _, ok := uc.lastOffer(t).Format(101); ok {
		t.Fatal("in-band phone offered telephone-event")
	}
	const digits = "2468*#"
	if err := c.SendDigits(digits); err != nil {
		t.Fatal(err)
	}
	det := dtmf.NewDetector(8000)
	pcm := make([]int16, 160)
	var got []byte
	for _, pk := range uc.snapshot() {
		if pk.hdr.PayloadType != codec.PCMA.PayloadType() {
			t.Fatalf("payload type %d from an in-band phone", pk.hdr.PayloadType)
		}
		n := codec.PCMA.Decode(pcm, pk.payload)
		if d, ok := det.Frame(pcm[:n]); ok {
			got = append(got, d)
		}
	}
	if string(got) != digits {
		t.Errorf("detector heard %q, sent %q", got, digits)
	}
}

func TestSendInfo(t *testing.T) {
	u := newUAS(t)
	p := newPhone(t, Config{})
	c, uc := dial(t, p, u, "udp")
	if err := c.SendInfo('5', "application/dtmf-relay"); err != nil {
		t.Fatal(err)
	}
	if err := c.SendInfo('#', "application/dtmf"); err != nil {
		t.Fatal(err)
	}
	if err := c.SendInfo('5', "text/plain"); err == nil {
		t.Error("SendInfo accepted text/plain")
	}
	uc.mu.Lock()
	infos := append([]uasInfo(nil), uc.infos...)
	uc.mu.Unlock()
	if len(infos) != 2 {
		t.Fatalf("UAS got %d INFOs", len(infos))
	}
	for i, want := range []struct {
		ct    string
		digit byte
	}{{"application/dtmf-relay", '5'}, {"application/dtmf", '#'}} {
		if infos[i].contentType != want.ct {
			t.Errorf("INFO %d content type %q", i, infos[i].contentType)
		}
		if d, ok := dtmf.ParseInfo(infos[i].contentType, []byte(infos[i].body)); !ok || d != want.digit {
			t.Errorf("INFO %d body %q parses as %q %v", i, infos[i].body, d, ok)
		}
	}
}

func TestRemoteHangup(t *testing.T) {
	for _, tr := range []string{"udp", "tcp"} {
		t.Run(tr, func(t *testing.T) {
			u := newUAS(t)
			p := newPhone(t, Config{Transport: tr})
			c, uc := dial(t, p, u, tr)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := uc.ds.Bye(ctx); err != nil {
				t.Fatalf("UAS BYE: %v", err)
			}
			select {
			case <-c.Done():
			case <-ctx.Done():
				t.Fatal("Done not closed after the far end's BYE")
			}
			if !c.EndedByRemote() {
				t.Error("EndedByRemote false after the far end's BYE")
			}
			if err := c.Hangup(ctx); err != nil {
				t.Errorf("Hangup after remote BYE: %v", err)
			}
		})
	}
}

func TestReinviteNewPortAndHold(t *testing.T) {
	eachMedia(t, Config{}, func(t *testing.T, cfg Config) {
		u := newUAS(t)
		p := newPhone(t, cfg)
		c, uc := dial(t, p, u, "udp")
		c.SetSource(sine(700))
		eventually(t, 5*time.Second, "echo", func() bool { return c.Stats().PacketsReceived >= 25 })

		old := c.RTPAddr()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := c.Reinvite(ctx, ReinviteOptions{NewPort: true}); err != nil {
			t.Fatal(err)
		}
		moved := c.RTPAddr()
		if moved == old {
			t.Fatal("RTP address unchanged by a new-port re-INVITE")
		}
		if o := uc.lastOffer(t); o.Port != int(moved.Port()) || (o.Direction != sdp.SendRecv && o.Direction != "") {
			t.Fatalf("re-INVITE offered port %d %s, call is on %v", o.Port, o.Direction, moved)
		}
		mark := c.Mark()
		n := len(uc.snapshot())
		got := c.Stats().PacketsReceived
		eventually(t, 5*time.Second, "audio on the new port", func() bool {
			pk := uc.snapshot()
			return len(pk) > n+25 && pk[len(pk)-1].from == moved && c.Stats().PacketsReceived > got+25
		})
		if lvl := ToneLevel(c.ReceivedSince(mark), 8000, 700); lvl < -10 {
			t.Errorf("after the move 700 Hz heard at %.1f dBFS", lvl)
		}
		// The old socket is closed once the answer came: its port is free.
		if conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(old)); err != nil {
			t.Errorf("old RTP port still bound: %v", err)
		} else {
			conn.Close()
		}

		// Hold the bridge (sendonly): we keep talking, it stops sending to us.
		if err := c.Reinvite(ctx, ReinviteOptions{Direction: sdp.SendOnly}); err != nil {
			t.Fatal(err)
		}
		if o := uc.lastOffer(t); o.Direction != sdp.SendOnly {
			t.Errorf("hold offered %q", o.Direction)
		}
		// Inactive: nothing from us either.
		if err := c.Reinvite(ctx, ReinviteOptions{Direction: sdp.Inactive}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(60 * time.Millisecond)
		n = len(uc.snapshot())
		time.Sleep(200 * time.Millisecond)
		if m := len(uc.snapshot()); m != n {
			t.Errorf("%d packets sent while inactive", m-n)
		}
		if err := c.SendDigits("1"); err == nil {
			t.Error("SendDigits while inactive succeeded")
		}
		if err := c.Reinvite(ctx, ReinviteOptions{Direction: sdp.SendRecv}); err != nil {
			t.Fatal(err)
		}
		eventually(t, 2*time.Second, "audio after resume", func() bool { return len(uc.snapshot()) > n+10 })

		pkts := uc.snapshot()
		for i := 1; i < len(pkts); i++ {
			if pkts[i].hdr.SSRC != pkts[0].hdr.SSRC || pkts[i].hdr.SequenceNumber <= pkts[i-1].hdr.SequenceNumber && pkts[i].hdr.SequenceNumber != 0 {
				t.Fatalf("stream broken at packet %d across re-INVITEs", i)
			}
		}
		uc.mu.Lock()
		offers := len(uc.offers)
		uc.mu.Unlock()
		if offers != 5 {
			t.Errorf("UAS saw %d offers, want INVITE + 4 re-INVITEs", offers)
		}
		// Versions go up with every changed offer.
		var versions []uint64
		uc.mu.Lock()
		for _, b := range uc.offers {
			versions = append(versions, originVersion(t, b))
		}
		uc.mu.Unlock()
		for i := 1; i < len(versions); i++ {
			if versions[i] != versions[i-1]+1 {
				t.Errorf("o= versions %v", versions)
				break
			}
		}
	})
}

func originVersion(t *testing.T, body []byte) uint64 {
	t.Helper()
	for _, line := range strings.Split(string(body), "\n") {
		if f := strings.Fields(strings.TrimPrefix(line, "o=")); strings.HasPrefix(line, "o=") && len(f) >= 3 {
			var v uint64
			fmt.Sscan(f[2], &v)
			return v
		}
	}
	t.Fatalf("no o= line in %q", body)
	return 0
}

// The bridge holds the phone (sendonly) and resumes it (sendrecv) with
// re-INVITEs of its own.
func TestBridgeReinvite(t *testing.T) {
	eachMedia(t, Config{}, func(t *testing.T, cfg Config) {
		u := newUAS(t)
		p := newPhone(t, cfg)
		c, uc := dial(t, p, u, "udp")
		c.SetSource(sine(500))
		eventually(t, 2*time.Second, "audio", func() bool { return len(uc.snapshot()) > 10 })

		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ans, err := u.reinvite(ctx, uc, sdp.SendOnly, 2)
		if err != nil {
			t.Fatal(err)
		}
		if ans.Direction != sdp.RecvOnly {
			t.Errorf("phone answered hold with %q", ans.Direction)
		}
		time.Sleep(60 * time.Millisecond)
		n := len(uc.snapshot())
		time.Sleep(200 * time.Millisecond)
		if m := len(uc.snapshot()); m != n {
			t.Errorf("phone sent %d packets while held", m-n)
		}
		ans, err = u.reinvite(ctx, uc, sdp.SendRecv, 3)
		if err != nil {
			t.Fatal(err)
		}
		if ans.Direction != sdp.SendRecv && ans.Direction != "" {
			t.Errorf("phone answered resume with %q", ans.Direction)
		}
		eventually(t, 2*time.Second, "audio after resume", func() bool { return len(uc.snapshot()) > n+10 })

		// A re-INVITE without SDP: the phone offers what it wants (sendrecv)
		// and follows the answer in the ACK, here inactive.
		offer, err := u.reinviteDelayed(ctx, uc, sdp.Inactive)
		if err != nil {
			t.Fatal(err)
		}
		if offer.Direction != sdp.SendRecv || offer.Port != int(c.RTPAddr().Port()) {
			t.Errorf("phone offered %q on port %d", offer.Direction, offer.Port)
		}
		eventually(t, 2*time.Second, "silence after an inactive answer in the ACK", func() bool {
			n := len(uc.snapshot())
			time.Sleep(100 * time.Millisecond)
			return len(uc.snapshot()) == n
		})
		if _, err := u.reinvite(ctx, uc, sdp.SendRecv, 10); err != nil {
			t.Fatal(err)
		}
		n = len(uc.snapshot())
		eventually(t, 2*time.Second, "audio after the second resume", func() bool { return len(uc.snapshot()) > n+10 })

		uc.mu.Lock()
		acks := uc.acks
		uc.mu.Unlock()
		if acks != 1 {
			t.Errorf("UAS got %d ACKs from the phone, want 1 (its re-INVITEs are ACKed by the UAS)", acks)
		}
	})
}

func TestCloseEndsCalls(t *testing.T) {
	eachMedia(t, Config{}, func(t *testing.T, cfg Config) {
		base := runtime.NumGoroutine()
		func() {
			u := newUAS(t)
			cfg.Logger = quiet()
			p, err := New(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			c, uc := dial(t, p, u, "udp")
			c.SetSource(sine(300))
			time.Sleep(100 * time.Millisecond)
			if err := p.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			select {
			case <-c.Done():
			default:
				t.Error("call not ended by Close")
			}
			select {
			case <-uc.byed:
			case <-time.After(2 * time.Second):
				t.Error("Close sent no BYE")
			}
			if _, err := p.Dial(context.Background(), u.target("room", "udp")); !errors.Is(err, ErrClosed) {
				t.Errorf("Dial after Close: %v", err)
			}
			u.close()
		}()
		// sipgo's transactions wind down on their own timers; give them a moment.
		var now int
		for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
			if now = runtime.NumGoroutine(); now <= base+2 {
				return
			}
		}
		buf := make([]byte, 1<<16)
		t.Errorf("goroutines: %d before, %d after Close\n%s", base, now, buf[:runtime.Stack(buf, true)])
	})
}

func TestContextClosesPhone(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	p, err := New(ctx, Config{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	// Closed means the SIP port is free again.
	eventually(t, 3*time.Second, "phone closed by its context", func() bool {
		conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(p.Addr()))
		if err == nil {
			conn.Close()
		}
		return err == nil
	})
	if _, err := p.Dial(context.Background(), "sip:1@127.0.0.1:9"); !errors.Is(err, ErrClosed) {
		t.Errorf("Dial on a closed phone: %v", err)
	}
}

// A far end that never answers anything: giving up must not wait for sipgo's
// 32 s Timer B.
func TestDialSilentFarEnd(t *testing.T) {
	hole, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer hole.Close()
	p := newPhone(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = p.Dial(ctx, "sip:room@"+hole.LocalAddr().String())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Dial into silence: %v", err)
	}
	if d := time.Since(start); d > 200*time.Millisecond+silentGrace+time.Second {
		t.Errorf("gave up after %v", d)
	}
	if n := len(p.Calls()); n != 0 {
		t.Errorf("%d calls left", n)
	}
	// Close is quick with a dial in progress to nowhere, too.
	go p.Dial(context.Background(), "sip:room@"+hole.LocalAddr().String())
	time.Sleep(50 * time.Millisecond)
	start = time.Now()
	p.Close()
	if d := time.Since(start); d > 3*time.Second+silentGrace {
		t.Errorf("Close took %v", d)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{
		{Transport: "tls"},
		{DTMFPayloadType: 8},
	} {
		if p, err := New(context.Background(), cfg); err == nil {
			p.Close()
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
}
