package sipp

// SIPp against the real bridge on every signalling path a caller or a PBX
// can take: CANCEL (early and racing the answer), re-INVITE to a new port,
// hold and resume (both styles), PIN by SIP INFO, BYE in the IVR, requests
// for dialogs that do not exist, retransmissions on UDP, a whole call over
// TCP and a delayed offer. Each test asserts the bridge's answers, and that
// it holds nothing afterwards (no RTP session, no conference, no SIP call
// still open when it stops).

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"brygga/interop"
)

// waitMembers polls the admin API until the room has n participants.
func waitMembers(t *testing.T, b *interop.Bridge, n int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := interop.MemberCount(t, b)
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the admin API lists %d participants in %s, want %d", got, interop.RoomExt, n)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitIdle waits until the bridge holds no call: no open RTP session, no
// live conference, nobody in a room or a lobby. It fails after 15 s with
// what is left.
func waitIdle(t *testing.T, b *interop.Bridge) map[string]float64 {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		m := interop.Metrics(t, b)
		left := m["brygga_rtp_sessions"] + m["brygga_conferences"] +
			m[`brygga_participants{where="room"}`] + m[`brygga_participants{where="lobby"}`]
		if left == 0 {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("the bridge still holds calls: rtp sessions %v, conferences %v, participants %v in rooms and %v in lobbies",
				m["brygga_rtp_sessions"], m["brygga_conferences"], m[`brygga_participants{where="room"}`], m[`brygga_participants{where="lobby"}`])
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// callResults are the bridge's brygga_calls_total by result.
func callResults(m map[string]float64) map[string]int {
	r := map[string]int{}
	for _, res := range []string{"answered", "bad_pin", "rejected", "failed"} {
		r[res] = int(m[`brygga_calls_total{result="`+res+`"}`])
	}
	return r
}

// stopClean stops the bridge and fails when it still held a SIP call or
// an INVITE being answered at exit, or logged a panic in a handler.
func stopClean(t *testing.T, b *interop.Bridge) {
	t.Helper()
	if err := b.Stop(); err != nil {
		t.Error(err)
	}
	log := b.Log()
	for _, bad := range []string{"calls still open at exit", "panic in SIP handler", "panic:"} {
		if strings.Contains(log, bad) {
			t.Errorf("the bridge logged %q", bad)
		}
	}
}

// logCount counts the bridge's log lines with msg="…" equal to msg.
func logCount(b *interop.Bridge, msg string) int {
	n := 0
	for _, line := range strings.Split(b.Log(), "\n") {
		if logFields(line)["msg"] == msg {
			n++
		}
	}
	return n
}

// sippMsg is one SIP message in SIPp's -trace_msg file.
type sippMsg struct {
	at    time.Time
	sent  bool   // sent by SIPp; else received
	start string // request or status line
	cseq  string // "1 INVITE"
	toTag string
	body  string
}

// status is the response's code, 0 for a request.
func (m sippMsg) status() int {
	f := strings.Fields(m.start)
	if len(f) < 2 || f[0] != "SIP/2.0" {
		return 0
	}
	n, _ := strconv.Atoi(f[1])
	return n
}

// method is the request's method, "" for a response.
func (m sippMsg) method() string {
	f := strings.Fields(m.start)
	if len(f) == 0 || f[0] == "SIP/2.0" {
		return ""
	}
	return f[0]
}

// sippTrace reads the SIP messages SIPp sent and received for a scenario
// run in dir (runSIPp's -message_file), in order.
func sippTrace(t *testing.T, dir, scenario string) []sippMsg {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, strings.TrimSuffix(scenario, ".xml")+"-messages.log"))
	if err != nil {
		t.Fatalf("SIPp's message trace: %v", err)
	}
	const sep = "----------------------------------------------- "
	var msgs []sippMsg
	for _, block := range strings.Split(string(raw), sep)[1:] {
		stamp, rest, _ := strings.Cut(block, "\n")
		at, err := time.ParseInLocation("2006-01-02 15:04:05.000000", strings.TrimSpace(stamp), time.Local)
		if err != nil {
			continue
		}
		what, rest, _ := strings.Cut(rest, "\n")
		m := sippMsg{at: at, sent: strings.Contains(what, "message sent")}
		if !m.sent && !strings.Contains(what, "message received") {
			continue
		}
		rest = strings.ReplaceAll(strings.TrimLeft(rest, "\r\n"), "\r\n", "\n")
		head, body, _ := strings.Cut(rest, "\n\n")
		m.body = body
		for i, line := range strings.Split(head, "\n") {
			if i == 0 {
				m.start = strings.TrimSpace(line)
				continue
			}
			name, val, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			val = strings.TrimSpace(val)
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "cseq":
				m.cseq = strings.Join(strings.Fields(val), " ")
			case "to", "t":
				if _, tag, ok := strings.Cut(val, ";tag="); ok {
					m.toTag, _, _ = strings.Cut(tag, ";")
				}
			}
		}
		msgs = append(msgs, m)
	}
	return msgs
}

// received lists the responses SIPp received with this status and CSeq.
func received(msgs []sippMsg, status int, cseq string) []sippMsg {
	var out []sippMsg
	for _, m := range msgs {
		if !m.sent && m.status() == status && m.cseq == cseq {
			out = append(out, m)
		}
	}
	return out
}

// rtpArrival is one RTP packet at a rtpPort.
type rtpArrival struct {
	at time.Time
	pt uint8
}

// rtpPort stands in for a caller's media port that SIPp's SDP points the
// bridge to: it records every RTP packet that arrives.
type rtpPort struct {
	conn *net.UDPConn
	mu   sync.Mutex
	got  []rtpArrival
	done chan struct{}
}

func newRTPPort(t *testing.T) *rtpPort {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	p := &rtpPort{conn: conn, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		buf := make([]byte, 2048)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			if n < 12 || buf[0]>>6 != 2 {
				continue
			}
			p.mu.Lock()
			p.got = append(p.got, rtpArrival{at: time.Now(), pt: buf[1] & 0x7f})
			p.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		conn.Close()
		<-p.done
	})
	return p
}

func (p *rtpPort) port() string { return strconv.Itoa(p.conn.LocalAddr().(*net.UDPAddr).Port) }

// arrivals is a copy of the packets so far.
func (p *rtpPort) arrivals() []rtpArrival {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]rtpArrival(nil), p.got...)
}

// between counts the packets that arrived in [from, to).
func between(a []rtpArrival, from, to time.Time) int {
	n := 0
	for _, x := range a {
		if !x.at.Before(from) && x.at.Before(to) {
			n++
		}
	}
	return n
}

// TestSIPpFlowCancelEarly: CANCEL as soon as the 100 arrives. The bridge
// answers without ringing, so the CANCEL races its 200; either ending must
// be whole: 200 to the CANCEL and 487 to the INVITE with no call made, or
// the call answered (the CANCEL then has no effect, still 200) and ended by
// the caller's BYE. Five tries; nothing may be left after any of them.
func TestSIPpFlowCancelEarly(t *testing.T) {
	sipp := interop.RequirePeer(t, "sipp", "sip-tester")
	b := interop.StartBridge(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const tries = 5
	cancelled, answered := 0, 0
	for i := range tries {
		dir := t.TempDir()
		err := interop.RunSIPp(ctx, t, sipp, b, dir, interop.SIPpCall{
			Scenario: "sipp_flow_cancel_early.xml", Service: interop.RoomExt, Limit: 15 * time.Second,
		})
		if err != nil {
			t.Fatalf("try %d: %v", i+1, err)
		}
		msgs := sippTrace(t, dir, "sipp_flow_cancel_early.xml")
		okCancel := received(msgs, 200, "1 CANCEL")
		got487 := received(msgs, 487, "1 INVITE")
		got200 := received(msgs, 200, "1 INVITE")
		if len(okCancel) == 0 {
			t.Errorf("try %d: no 200 to the CANCEL", i+1)
		}
		switch {
		case len(got487) > 0 && len(got200) == 0:
			cancelled++
		case len(got200) > 0 && len(got487) == 0:
			answered++
			if len(received(msgs, 200, "2 BYE")) == 0 {
				t.Errorf("try %d: the answered call's BYE got no 200", i+1)
			}
		default:
			t.Errorf("try %d: the INVITE got %d × 487 and %d × 200: want exactly one kind", i+1, len(got487), len(got200))
		}
		waitIdle(t, b)
	}
	m := waitIdle(t, b)
	res := callResults(m)
	t.Logf("%d cancelled before the answer, %d answered first; calls by result %v", cancelled, answered, res)
	if res["failed"] != 0 || res["rejected"] != 0 {
		t.Errorf("brygga_calls_total counts a cancelled call as failed or rejected: %v", res)
	}
	if n := logCount(b, "call cancelled before answer"); n != cancelled {
		t.Errorf("the bridge logged %d calls cancelled before the answer, SIPp saw %d", n, cancelled)
	}
	if res["answered"] != answered {
		t.Errorf("brygga_calls_total{result=answered} = %d, SIPp saw %d calls answered", res["answered"], answered)
	}
	if n := logCount(b, "call answered"); n != answered {
		t.Errorf("the bridge logged %d calls answered, SIPp saw %d", n, answered)
	}
	stopClean(t, b)
}

// sent finds the first message SIPp sent with this start-line method and
// CSeq; the test fails without it.
func sent(t *testing.T, msgs []sippMsg, method, cseq string) sippMsg {
	t.Helper()
	for _, m := range msgs {
		if m.sent && m.method() == method && m.cseq == cseq {
			return m
		}
	}
	t.Fatalf("SIPp's trace has no %s with CSeq %q", method, cseq)
	return sippMsg{}
}

// oneDialog checks that every 200 to the INVITE carried the same To tag:
// one dialog, however many copies.
func oneDialog(t *testing.T, oks []sippMsg) {
	t.Helper()
	if len(oks) == 0 {
		t.Fatal("no 200 to the INVITE")
	}
	for _, m := range oks[1:] {
		if m.toTag != oks[0].toTag {
			t.Errorf("the INVITE got 200s for two dialogs: To tags %q and %q", oks[0].toTag, m.toTag)
		}
	}
}

// TestSIPpFlowCancelLate: the CANCEL is sent the moment the 200 arrives,
// before the ACK. It must not undo the answered call: 200 (or 481) to the
// CANCEL, then the call goes on and the caller's BYE gets 200.
func TestSIPpFlowCancelLate(t *testing.T) {
	sipp := interop.RequirePeer(t, "sipp", "sip-tester")
	b := interop.StartBridge(t)
	dir := t.TempDir()
	const scenario = "sipp_flow_cancel_late.xml"
	runSIPp(t, sipp, b, dir, 40*time.Second, interop.SIPpCall{Scenario: scenario, Service: interop.RoomExt, Limit: 20 * time.Second})
	msgs := sippTrace(t, dir, scenario)
	oneDialog(t, received(msgs, 200, "1 INVITE"))
	if n := len(received(msgs, 487, "1 INVITE")); n != 0 {
		t.Errorf("the answered INVITE got 487 as well (%d)", n)
	}
	if len(received(msgs, 200, "1 CANCEL"))+len(received(msgs, 481, "1 CANCEL")) == 0 {
		t.Error("the CANCEL got neither 200 nor 481")
	}
	if len(received(msgs, 200, "2 BYE")) == 0 {
		t.Error("the BYE after the CANCEL got no 200: the call did not survive it")
	}
	res := callResults(waitIdle(t, b))
	if res["answered"] != 1 || res["failed"] != 0 {
		t.Errorf("calls by result %v, want one answered", res)
	}
	stopClean(t, b)
}

// TestSIPpFlowReinviteNewPort: in the room, the caller re-INVITEs with a
// new RTP port. The answer carries SDP; the bridge's audio goes to the new
// port from then on (never before) and stops going to the old one; the
// call stays in the room until the caller's BYE.
func TestSIPpFlowReinviteNewPort(t *testing.T) {
	sipp := interop.RequirePeer(t, "sipp", "sip-tester")
	b := interop.StartBridge(t)
	oldPort, newPort := newRTPPort(t), newRTPPort(t)
	dir := t.TempDir()
	const scenario = "sipp_flow_reinvite_port.xml"
	done := startSIPp(t, sipp, b, dir, interop.SIPpCall{
		Scenario: scenario, Service: interop.RoomExt + "*" + interop.RoomPIN, Pause: 3 * time.Second,
		Keys:  map[string]string{"old_port": oldPort.port(), "new_port": newPort.port()},
		Limit: 30 * time.Second,
	})
	// The move happens 3 s into the call; once audio arrives at the new
	// port the caller must still be in the room.
	deadline := time.Now().Add(20 * time.Second)
	for len(newPort.arrivals()) == 0 && time.Now().Before(deadline) {
		select {
		case err := <-done:
			t.Fatalf("SIPp ended before any audio reached the new port: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	if n := interop.MemberCount(t, b); n != 1 {
		t.Errorf("after the re-INVITE the admin API lists %d participants, want 1", n)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	msgs := sippTrace(t, dir, scenario)
	moved := sent(t, msgs, "INVITE", "2 INVITE")
	oks := received(msgs, 200, "2 INVITE")
	if len(oks) == 0 || !strings.Contains(oks[0].body, "m=audio ") {
		t.Fatalf("the re-INVITE's 200 has no SDP answer: %+v", oks)
	}
	// Packets on their way when the answer went are not the bridge's fault.
	settled := sent(t, msgs, "ACK", "2 ACK").at.Add(300 * time.Millisecond)
	end := sent(t, msgs, "BYE", "3 BYE").at
	old, got := oldPort.arrivals(), newPort.arrivals()
	t.Logf("old port: %d RTP packets before the re-INVITE, %d after; new port: %d",
		between(old, time.Time{}, moved.at), between(old, settled, end), len(got))
	if n := between(old, time.Time{}, moved.at); n < 50 {
		t.Errorf("%d RTP packets at the first port before the re-INVITE, want at least 50 (1 s)", n)
	}
	if n := between(old, settled, end); n > 2 {
		t.Errorf("%d RTP packets still went to the old port after the re-INVITE moved the media", n)
	}
	if n := between(got, settled, end); n < 50 {
		t.Errorf("%d RTP packets at the new port after the re-INVITE, want at least 50 (1 s)", n)
	}
	if early := between(got, time.Time{}, moved.at); early > 0 {
		t.Errorf("%d RTP packets at the new port before the re-INVITE offered it", early)
	}
	for _, a := range got {
		if a.pt != 0 && a.pt != 96 {
			t.Fatalf("RTP payload type %d at the new port, want 0 (PCMU) or 96 (events)", a.pt)
		}
	}
	waitIdle(t, b)
	stopClean(t, b)
}

// TestSIPpFlowHold: hold by a=sendonly, resume, hold by c=0.0.0.0, resume,
// each answered 200 with the mirrored direction (the scenario checks the
// SDP). The bridge's audio to the caller's port must stop while held and
// come back on resume, and the call must survive to the caller's BYE.
func TestSIPpFlowHold(t *testing.T) {
	sipp := interop.RequirePeer(t, "sipp", "sip-tester")
	b := interop.StartBridge(t)
	rtp := newRTPPort(t)
	dir := t.TempDir()
	const scenario = "sipp_flow_hold.xml"
	runSIPp(t, sipp, b, dir, 60*time.Second, interop.SIPpCall{
		Scenario: scenario, Service: interop.RoomExt + "*" + interop.RoomPIN, Pause: 2500 * time.Millisecond,
		Keys: map[string]string{"rtp_port": rtp.port()}, Limit: 40 * time.Second,
	})
	msgs := sippTrace(t, dir, scenario)
	got := rtp.arrivals()
	// Packets already on their way when a 200 arrives are not the
	// bridge's fault: a state is judged from 300 ms after its ACK.
	const grace = 300 * time.Millisecond
	ack := func(n int) time.Time { return sent(t, msgs, "ACK", strconv.Itoa(n)+" ACK").at.Add(grace) }
	inv := func(n int) time.Time { return sent(t, msgs, "INVITE", strconv.Itoa(n)+" INVITE").at }
	bye := sent(t, msgs, "BYE", "6 BYE").at
	states := []struct {
		what     string
		from, to time.Time
		held     bool
	}{
		{"before the hold", ack(1), inv(2), false},
		{"held (a=sendonly)", ack(2), inv(3), true},
		{"resumed", ack(3), inv(4), false},
		{"held (c=0.0.0.0)", ack(4), inv(5), true},
		{"resumed again", ack(5), bye, false},
	}
	for _, s := range states {
		n := between(got, s.from, s.to)
		t.Logf("%s: %d RTP packets in %v", s.what, n, s.to.Sub(s.from).Round(10*time.Millisecond))
		switch {
		case s.held && n > 2:
			t.Errorf("%s: the bridge sent %d RTP packets to a caller on hold", s.what, n)
		case !s.held && n < 25:
			t.Errorf("%s: only %d RTP packets from the bridge, want at least 25 (0.5 s)", s.what, n)
		}
	}
	for n := 2; n <= 5; n++ {
		if len(received(msgs, 200, strconv.Itoa(n)+" INVITE")) == 0 {
			t.Errorf("re-INVITE %d got no 200", n)
		}
	}
	if strings.Contains(b.Log(), "rtp timeout") {
		t.Error("the bridge hung up on the held caller for RTP timeout")
	}
	waitIdle(t, b)
	stopClean(t, b)
}

// infoPIN runs sipp_flow_info_pin.xml over a Transport: the caller keys the
// PIN by SIP INFO and must be listed in the room by the admin API; after
// its BYE the bridge holds nothing.
func infoPIN(t *testing.T, transport string) *interop.Bridge {
	sipp := interop.RequirePeer(t, "sipp", "sip-tester")
	b := interop.StartBridge(t)
	done := startSIPp(t, sipp, b, t.TempDir(), interop.SIPpCall{
		Scenario: "sipp_flow_info_pin.xml", Service: interop.RoomExt, Transport: transport,
		Pause: 4 * time.Second, Limit: 40 * time.Second,
	})
	start := time.Now()
	deadline := start.Add(20 * time.Second)
	for interop.MemberCount(t, b) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the caller that keyed its PIN by SIP INFO never showed up in the room")
		}
		select {
		case err := <-done:
			t.Fatalf("SIPp ended before the caller was in the room: %v", err)
		case <-time.After(200 * time.Millisecond):
		}
	}
	t.Logf("in the room %.1f s after the call started", time.Since(start).Seconds())
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	res := callResults(waitIdle(t, b))
	if res["answered"] != 1 || res["bad_pin"] != 0 {
		t.Errorf("calls by result %v, want one answered and no bad PIN", res)
	}
	for _, ev := range []string{"participant.joined", "participant.left"} {
		if !strings.Contains(b.Log(), "type="+ev) {
			t.Errorf("the bridge logged no %s event", ev)
		}
	}
	return b
}

// TestSIPpFlowInfoPIN: the PIN keyed as SIP INFO (application/dtmf-relay)
// over UDP; every INFO gets 200 and the caller gets into the PIN room.
func TestSIPpFlowInfoPIN(t *testing.T) {
	b := infoPIN(t, "u1")
	stopClean(t, b)
}

// TestSIPpFlowTCP: the same whole call over TCP: INVITE, ACK, the PIN by
// INFO, in the room, BYE, all on SIPp's one connection.
func TestSIPpFlowTCP(t *testing.T) {
	b := infoPIN(t, "t1")
	var tcp bool
	for _, line := range strings.Split(b.Log(), "\n") {
		if f := logFields(line); f["msg"] == "call answered" && strings.EqualFold(f["transport"], "tcp") {
			tcp = true
		}
	}
	if !tcp {
		t.Error("the bridge logged no call answered over TCP")
	}
	stopClean(t, b)
}

// TestSIPpFlowByeInIVR: the caller hangs up while keying the PIN. The BYE
// gets 200, the dialog is gone (an INFO after it gets 481), nobody joined.
func TestSIPpFlowByeInIVR(t *testing.T) {
	sipp := interop.RequirePeer(t, "sipp", "sip-tester")
	b := interop.StartBridge(t)
	runSIPp(t, sipp, b, t.TempDir(), 40*time.Second, interop.SIPpCall{Scenario: "sipp_flow_bye_ivr.xml", Service: interop.RoomExt, Limit: 20 * time.Second})
	res := callResults(waitIdle(t, b))
	if res["answered"] != 1 {
		t.Errorf("calls by result %v, want one answered", res)
	}
	if strings.Contains(b.Log(), "type=participant.joined") {
		t.Error("a caller that hung up during its PIN joined the room")
	}
	stopClean(t, b)
}

// TestSIPpFlowUnknownDialog: BYE, INFO, re-INVITE and UPDATE for a dialog
// the bridge never had, and a CANCEL for an INVITE it never saw, all get
// 481; none makes a call.
func TestSIPpFlowUnknownDialog(t *testing.T) {
	sipp := interop.RequirePeer(t, "sipp", "sip-tester")
	b := interop.StartBridge(t)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	for _, tr := range []struct{ name, mode string }{{"udp", "u1"}, {"tcp", "t1"}} {
		if err := interop.RunSIPp(ctx, t, sipp, b, t.TempDir(), interop.SIPpCall{Scenario: "sipp_flow_481.xml", Service: interop.RoomExt, Transport: tr.mode, Limit: 20 * time.Second}); err != nil {
			t.Fatalf("%s: %v", tr.name, err)
		}
	}
	res := callResults(waitIdle(t, b))
	if res["answered"]+res["rejected"]+res["failed"]+res["bad_pin"] != 0 {
		t.Errorf("calls by result %v: requests outside any dialog counted as calls", res)
	}
	if n := logCount(b, "call answered"); n != 0 {
		t.Errorf("the bridge answered %d calls", n)
	}
	stopClean(t, b)
}

// TestSIPpFlowRetransmissions: on UDP, an INVITE retransmitted with the
// same branch (at once, and again after the 200) makes one call with one
// dialog; the 200 is retransmitted while the ACK is held back, and no
// longer once it came.
func TestSIPpFlowRetransmissions(t *testing.T) {
	sipp := interop.RequirePeer(t, "sipp", "sip-tester")
	b := interop.StartBridge(t)
	dir := t.TempDir()
	const scenario = "sipp_flow_retrans.xml"
	runSIPp(t, sipp, b, dir, 40*time.Second, interop.SIPpCall{Scenario: scenario, Service: interop.RoomExt + "*" + interop.RoomPIN, Limit: 25 * time.Second})
	msgs := sippTrace(t, dir, scenario)
	oks := received(msgs, 200, "1 INVITE")
	oneDialog(t, oks)
	acked := sent(t, msgs, "ACK", "1 ACK").at
	before := between(arrivalsOf(oks), time.Time{}, acked)
	after := len(oks) - before
	t.Logf("the INVITE's 200: %d copies before the ACK (held back 2.5 s), %d after", before, after)
	if before < 2 {
		t.Errorf("the bridge sent its 200 %d times while the ACK was held back, want it retransmitted (at least twice in 2.5 s)", before)
	}
	if after != 0 {
		t.Errorf("the bridge went on retransmitting its 200 after the ACK (%d copies)", after)
	}
	if n := logCount(b, "call answered"); n != 1 {
		t.Errorf("the bridge logged %d calls answered for one INVITE and its retransmissions", n)
	}
	res := callResults(waitIdle(t, b))
	if res["answered"] != 1 || res["failed"]+res["rejected"] != 0 {
		t.Errorf("calls by result %v, want exactly one answered", res)
	}
	stopClean(t, b)
}

// arrivalsOf turns messages into arrivals, to count them by time.
func arrivalsOf(msgs []sippMsg) []rtpArrival {
	out := make([]rtpArrival, len(msgs))
	for i, m := range msgs {
		out[i] = rtpArrival{at: m.at}
	}
	return out
}

// TestSIPpFlowDelayedOffer: an INVITE without SDP. The 200 carries the
// bridge's offer (the scenario checks PCMU and telephone-event in it), the
// ACK the answer; the bridge's audio then reaches the port in the answer,
// not before the ACK, as PCMU, and SIPp's audio reaches the bridge.
func TestSIPpFlowDelayedOffer(t *testing.T) {
	sipp := interop.RequirePeer(t, "sipp", "sip-tester")
	b := interop.StartBridge(t)
	rtp := newRTPPort(t)
	dir := t.TempDir()
	stream := filepath.Join(dir, "tone1400.ulaw")
	if err := interop.WriteULaw(stream, 1400, 4); err != nil {
		t.Fatal(err)
	}
	const scenario = "sipp_flow_delayed_offer.xml"
	before := interop.Metrics(t, b)[`brygga_rtp_packets_total{direction="in"}`]
	runSIPp(t, sipp, b, dir, 40*time.Second, interop.SIPpCall{
		Scenario: scenario, Service: interop.RoomExt + "*" + interop.RoomPIN, Pause: 4 * time.Second,
		Keys:  map[string]string{"rtp_port": rtp.port(), "tone_stream": stream + ",-1,0"},
		Limit: 25 * time.Second,
	})
	msgs := sippTrace(t, dir, scenario)
	acked := sent(t, msgs, "ACK", "1 ACK")
	if !strings.Contains(acked.body, "m=audio "+rtp.port()) {
		t.Fatalf("the ACK carries no SDP answer:\n%s", acked.body)
	}
	got := rtp.arrivals()
	if len(got) < 50 {
		t.Fatalf("%d RTP packets from the bridge at the answer's port, want at least 50 (1 s)", len(got))
	}
	if early := between(got, time.Time{}, acked.at); early > 0 {
		t.Errorf("%d RTP packets before the ACK said where to send them", early)
	}
	for _, a := range got {
		if a.pt != 0 && a.pt != 101 {
			t.Fatalf("RTP payload type %d, want 0 (PCMU) as answered", a.pt)
		}
	}
	m := waitIdle(t, b)
	in := m[`brygga_rtp_packets_total{direction="in"}`] - before
	t.Logf("%d RTP packets to SIPp, %.0f from it", len(got), in)
	if in < 50 {
		t.Errorf("the bridge received %.0f RTP packets from SIPp, want at least 50 (1 s)", in)
	}
	var delayed bool
	for _, line := range strings.Split(b.Log(), "\n") {
		if f := logFields(line); f["msg"] == "call answered" && f["delayed_offer"] == "true" && f["codec"] == "PCMU" {
			delayed = true
		}
	}
	if !delayed {
		t.Error("the bridge logged no call answered with delayed_offer=true codec=PCMU")
	}
	stopClean(t, b)
}
