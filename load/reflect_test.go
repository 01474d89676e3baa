package load

import (
	"context"
	"encoding/binary"
	"net"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"brygga/media/codec"
)

func startReflector(t *testing.T) *Reflector {
	t.Helper()
	r, err := StartReflector(ReflectConfig{Listen: "127.0.0.1:0", PortLo: 41000, PortHi: 41999})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	})
	return r
}

// TestRunAgainstReflector is the smoke load against the floor, in process:
// two rooms, every caller hears exactly itself (--echo), nothing is lost,
// and the report's counts add up.
func TestRunAgainstReflector(t *testing.T) {
	before := runtime.NumGoroutine()
	r := startReflector(t)
	rep, err := Run(context.Background(), Config{
		Target:   r.Addr().String(),
		Rooms:    []string{"100", "200"},
		PerRoom:  5,
		Talkers:  2,
		Duration: 5 * time.Second,
		Settle:   time.Second,
		Ramp:     50,
		PIN:      "2468", // keyed as events, which the reflector must not echo
		Echo:     true,
		CPUPID:   -1,
		Limits:   Limits{MaxFailed: 0, MaxLoss: 1, MaxLeaks: 0, MaxMissed: 0},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK {
		t.Errorf("failures: %v", rep.Failures)
	}
	c := rep.Calls
	if c.Attempted != 10 || c.Answered != 10 || c.Failed != 0 || c.InWindow != 10 {
		t.Errorf("calls %+v", c)
	}
	p := rep.Packets
	// 10 listeners for 5 s at 50 a second, give or take the window's edges.
	if p.Received < 2400 || p.Received > 2600 || p.Expected < p.Received || p.Silent != 0 {
		t.Errorf("packets %+v", p)
	}
	s := rep.Separation
	// Against an echo every talker is its own listener: 4 pairs.
	if s.Pairs != 4 || s.PairsHeard != 4 || s.Violations() != 0 || s.Distinct != 2 {
		t.Errorf("separation %+v", s)
	}
	if s.BurstsExpected < 8 || s.BurstsHeard != s.BurstsExpected {
		t.Errorf("bursts heard %d of %d", s.BurstsHeard, s.BurstsExpected)
	}
	if rep.Delay.N != uint64(s.BurstsHeard) {
		t.Errorf("%d delays for %d bursts heard", rep.Delay.N, s.BurstsHeard)
	}
	st := r.Stats()
	if st.Calls != 10 || st.PacketsOut == 0 || st.PacketsOut > st.PacketsIn {
		t.Errorf("reflector stats %+v", st)
	}
	// Every call was hung up: the reflector holds none.
	deadline := time.Now().Add(5 * time.Second)
	for r.Stats().Active != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d calls still up at the reflector", r.Stats().Active)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Every goroutine of the run and of the reflector ends.
	if err := r.Close(); err != nil {
		t.Error(err)
	}
	waitGoroutines(t, before)
}

// waitGoroutines waits for the goroutine count to come back to what it was;
// sipgo's transactions linger a few seconds after their last message.
func waitGoroutines(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(40 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines left, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestRunDeadline: a run that cannot finish in its deadline stops at it,
// hangs up and says why.
func TestRunDeadline(t *testing.T) {
	r := startReflector(t)
	start := time.Now()
	rep, err := Run(context.Background(), Config{
		Target: r.Addr().String(), PerRoom: 2, Talkers: 1, Duration: 20 * time.Second, Settle: 100 * time.Millisecond,
		Deadline: 2 * time.Second, Echo: true, Limits: NoLimits,
	})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 2*time.Second+hangupGrace {
		t.Errorf("Run took %s with a 2 s deadline", took)
	}
	if rep.OK || len(rep.Failures) != 1 || !strings.Contains(rep.Failures[0], "deadline") {
		t.Errorf("ok %v, failures %q; want the deadline", rep.OK, rep.Failures)
	}
	if rep.Calls.Answered != 2 {
		t.Errorf("calls %+v", rep.Calls)
	}
	deadline := time.Now().Add(5 * time.Second)
	for r.Stats().Active != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d calls left up at the reflector", r.Stats().Active)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRunNobodyAnswers: a target where nothing listens fails every call,
// by cause, and the run is not OK.
func TestRunNobodyAnswers(t *testing.T) {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	target := c.LocalAddr().String()
	c.Close() // nothing listens there now
	rep, err := Run(context.Background(), Config{
		Target: target, PerRoom: 2, Talkers: 1, Duration: time.Second, Settle: 10 * time.Millisecond,
		SetupTimeout: time.Second, Limits: NoLimits,
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK || rep.Calls.Failed != 2 || rep.Calls.Answered != 0 {
		t.Errorf("ok %v, calls %+v", rep.OK, rep.Calls)
	}
	if n := rep.Calls.ByStatus["timeout"] + rep.Calls.ByStatus["error"]; n != 2 {
		t.Errorf("failed by status %v", rep.Calls.ByStatus)
	}
	if !slices.Contains(rep.Failures, "no call was answered") {
		t.Errorf("failures %q", rep.Failures)
	}
}

// TestReflectorEchoesAudioOnly sends RTP straight at a reflected call's
// port: audio comes back in the reflector's own stream, telephone-events
// and non-RTP do not come back.
func TestReflectorEchoesAudioOnly(t *testing.T) {
	r := startReflector(t)
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c, err := r.bind()
	if err != nil {
		t.Fatal(err)
	}
	if p := c.LocalAddr().(*net.UDPAddr).Port; p < 41000 || p > 41999 || p%2 != 0 {
		t.Errorf("RTP port %d outside 41000-41999 or odd", p)
	}
	ec := &echoCall{id: "x", conn: c, pt: codec.PCMA.PayloadType()}
	self := conn.LocalAddr().(*net.UDPAddr).AddrPort()
	ec.remote.Store(&self)
	ec.send.Store(true)
	r.echoes.Add(1)
	go r.echo(ec)
	defer c.Close()

	to := c.LocalAddr().(*net.UDPAddr).AddrPort()
	send := func(pt uint8, seq uint16, payload []byte) {
		b := make([]byte, 12, 12+len(payload))
		b[0], b[1] = 0x80, pt
		binary.BigEndian.PutUint16(b[2:], seq)
		binary.BigEndian.PutUint32(b[4:], uint32(seq)*160)
		binary.BigEndian.PutUint32(b[8:], 0xabcdef)
		if _, err := conn.WriteToUDPAddrPort(append(b, payload...), to); err != nil {
			t.Fatal(err)
		}
	}
	audio := make([]byte, 160)
	for i := range audio {
		audio[i] = byte(i)
	}
	send(8, 1, audio)
	send(101, 2, []byte{1, 0, 0, 160}) // an RFC 4733 event: ignored
	_, _ = conn.WriteToUDPAddrPort([]byte("not rtp"), to)
	send(8, 3, audio)

	buf := make([]byte, 1500)
	var got [][]byte
	conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	for len(got) < 3 {
		n, err := conn.Read(buf)
		if err != nil {
			break
		}
		got = append(got, append([]byte(nil), buf[:n]...))
	}
	if len(got) != 2 {
		t.Fatalf("%d packets came back, want the 2 audio packets", len(got))
	}
	for i, b := range got {
		pt, payload, ok := rtpPayload(b)
		if !ok || pt != 8 || string(payload) != string(audio) {
			t.Fatalf("packet %d: PT %d, %d bytes of payload", i, pt, len(payload))
		}
		if ssrc := binary.BigEndian.Uint32(b[8:]); ssrc == 0xabcdef {
			t.Error("the echo kept the caller's SSRC")
		}
	}
	seq0, seq1 := binary.BigEndian.Uint16(got[0][2:]), binary.BigEndian.Uint16(got[1][2:])
	ts0, ts1 := binary.BigEndian.Uint32(got[0][4:]), binary.BigEndian.Uint32(got[1][4:])
	if seq1 != seq0+1 || ts1 != ts0+160 {
		t.Errorf("echo stream: seq %d→%d, ts %d→%d; want continuous", seq0, seq1, ts0, ts1)
	}
	if got[0][1]&0x80 == 0 || got[1][1]&0x80 != 0 {
		t.Error("marker bit: want it on the first packet only")
	}
	if st := ec.in.Load(); st != 4 {
		t.Errorf("counted %d packets in, sent 4", st)
	}
}

func TestRTPPayload(t *testing.T) {
	pkt := []byte{
		0xb1, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, // V=2 P X CC=1
		0, 0, 0, 9, // CSRC
		0xbe, 0xde, 0, 1, 1, 2, 3, 4, // extension of one word
		7, 7, 7, // payload
		0, 2, // padding of 2
	}
	pt, payload, ok := rtpPayload(pkt)
	if !ok || pt != 0 || string(payload) != "\x07\x07\x07" {
		t.Fatalf("pt %d payload %v ok %v", pt, payload, ok)
	}
	for _, bad := range [][]byte{nil, make([]byte, 11), {0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, {0x8f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}} {
		if _, _, ok := rtpPayload(bad); ok {
			t.Errorf("% x taken as RTP", bad)
		}
	}
}

func TestReflectorRefusesWildcard(t *testing.T) {
	if _, err := StartReflector(ReflectConfig{Listen: "0.0.0.0:0", PortLo: 41000, PortHi: 41999}); err == nil {
		t.Fatal("a wildcard listen address cannot go in the SDP")
	}
	if _, err := StartReflector(ReflectConfig{Listen: "127.0.0.1:0", PortLo: 41000, PortHi: 41000}); err == nil {
		t.Fatal("a range without an even port pair was taken")
	}
}
