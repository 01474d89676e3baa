package cluster

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"brygga/interop"
	"brygga/phone"
	"brygga/sip/sdp"
)

// proxyIP is where Kamailio listens: a loopback address of its own, so the
// bridge can trust it (sip.trusted) without trusting the callers.
const proxyIP = "127.0.0.2"

// pbxIP is where the tests' callers call from: the PBX, the one source the
// shipped config takes new calls from. A caller on any other address is
// refused by the proxy.
const pbxIP = "127.0.0.1"

// shippedKamailio is the config operators install; the tests run it as it
// is, setting its site values with -A defines.
var shippedKamailio = filepath.Join(interop.ModuleRoot, "deploy", "kamailio", "kamailio.cfg")

// kamailioModules are the modules the shipped config loads.
func kamailioModules(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(shippedKamailio)
	if err != nil {
		t.Fatal(err)
	}
	var mods []string
	for line := range strings.Lines(string(data)) {
		if m, ok := strings.CutPrefix(strings.TrimSpace(line), "loadmodule "); ok {
			mods = append(mods, strings.Trim(m, `"`))
		}
	}
	if len(mods) == 0 {
		t.Fatalf("%s loads no modules", shippedKamailio)
	}
	return mods
}

// kamailioModulePath finds the folder holding the shipped config's modules.
func kamailioModulePath(t *testing.T) string {
	t.Helper()
	modules := kamailioModules(t)
	candidates := []string{"/usr/lib/kamailio/modules", "/usr/local/lib/kamailio/modules", "/usr/local/lib64/kamailio/modules"}
	if m, _ := filepath.Glob("/usr/lib/*-linux-gnu/kamailio/modules"); len(m) > 0 {
		candidates = append(m, candidates...)
	}
	return interop.ModuleDir(t, "Kamailio", "kamailio", candidates, modules)
}

// kamailioProc is a running Kamailio with the shipped config.
type kamailioProc struct {
	*interop.Proc
	Addr string // proxyIP:port, UDP and TCP
	log  string // its stderr: core messages and the config's xlog lines
	ctl  string // the socket kamcmd talks to
}

// kamailioSite is what a test sets of the shipped config besides its
// address: the dispatcher list's nodes (set 1, in this order), reached
// over Transport ("udp" or "tcp"), and how often they are probed.
type kamailioSite struct {
	Nodes         []string // HOST:PORT
	Transport     string
	ProbeInterval int // seconds; 0: 1
}

// startKamailio runs the shipped config in the foreground on proxyIP and a
// free port, taking new calls from pbxIP, and waits until it answers
// OPTIONS. It is stopped with SIGTERM when the test ends.
func startKamailio(t *testing.T, kamailio, modules string, site kamailioSite) *kamailioProc {
	t.Helper()
	dir := t.TempDir()
	k := &kamailioProc{
		Addr: fmt.Sprintf("%s:%d", proxyIP, interop.FreePort(t)),
		log:  filepath.Join(dir, "kamailio.log"),
		ctl:  filepath.Join(dir, "kamailio_ctl"),
	}
	list := filepath.Join(dir, "dispatcher.list")
	var lines strings.Builder
	for _, n := range site.Nodes {
		fmt.Fprintf(&lines, "1 sip:%s;transport=%s\n", n, site.Transport)
	}
	if err := os.WriteFile(list, []byte(lines.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if site.ProbeInterval == 0 {
		site.ProbeInterval = 1
	}
	logf, err := os.Create(k.log)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	_, port, _ := strings.Cut(k.Addr, ":")
	// -DD -E: no daemon, log to stderr; -Y: its runtime folder (not
	// /run/kamailio); -m/-M: shared and private memory in MB, small;
	// -L: where the modules are; -A: the site settings the shipped
	// config leaves to #!trydef.
	cmd := exec.Command(kamailio, "-f", shippedKamailio, "-DD", "-E", "-Y", dir, "-m", "32", "-M", "8", "-L", modules,
		"-A", "LISTEN_IP="+proxyIP,
		"-A", "LISTEN_PORT="+port,
		"-A", fmt.Sprintf("DISPATCHER_LIST=%q", list),
		"-A", fmt.Sprintf("PBX_NETS=%q", pbxIP+"/32"),
		"-A", fmt.Sprintf("PROBE_INTERVAL=%d", site.ProbeInterval),
		"-A", fmt.Sprintf("CTL_SOCKET=%q", "unix:"+k.ctl),
		// Time enough for a bridge built with -race on a busy machine to
		// say 100 Trying, short enough for the failover tests.
		"-A", "NODE_TIMEOUT=2000")
	cmd.Stdout = logf
	cmd.Stderr = logf
	// Its own process group: Kamailio forks workers, and if it ever has
	// to be killed, they go with it.
	// Pdeathsig: a test binary that dies (a -timeout panic) takes it along.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	k.Proc = interop.StartProc(t, "kamailio", cmd)
	t.Cleanup(func() {
		if err := k.stop(); err != nil {
			t.Error(err)
		}
		if t.Failed() || *interop.ShowLogs {
			t.Logf("kamailio log (%s):\n%s", k.log, interop.TailLines(k.log, 200))
		}
	})
	t.Logf("kamailio on %s (udp+tcp), relaying to %s over %s", k.Addr, strings.Join(site.Nodes, ", "), site.Transport)

	k.WaitOptions(t, "kamailio", k.Addr, 20*time.Second, nil)
	return k
}

// stop ends Kamailio with SIGTERM (it stops its workers itself), or kills
// its process group after 10 s.
func (k *kamailioProc) stop() error {
	select {
	case <-k.Exited:
		return nil // exited before the end: the test has said so, or will
	default:
	}
	if err := k.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("SIGTERM to kamailio: %v", err)
	}
	select {
	case <-k.Exited:
		return nil
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-k.Cmd.Process.Pid, syscall.SIGKILL)
		<-k.Exited
		return errors.New("kamailio did not exit within 10 s of SIGTERM (killed)")
	}
}

// logged is the number of lines of the config's own log (xlog) that hold
// every one of parts; the first is the start of the message.
func (k *kamailioProc) logged(parts ...string) int {
	data, _ := os.ReadFile(k.log)
	n := 0
	for line := range strings.Lines(string(data)) {
		_, msg, ok := strings.Cut(line, "<script>: ")
		if !ok || !strings.HasPrefix(msg, parts[0]) {
			continue
		}
		all := true
		for _, p := range parts[1:] {
			all = all && strings.Contains(msg, p)
		}
		if all {
			n++
		}
	}
	return n
}

// waitLogged waits until Kamailio logged at least n lines with parts.
func (k *kamailioProc) waitLogged(t *testing.T, n int, parts ...string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for k.logged(parts...) < n {
		if time.Now().After(deadline) {
			t.Errorf("kamailio logged %d lines with %q, want at least %d", k.logged(parts...), parts, n)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitRouted waits until Kamailio logged at least n in-dialog requests of
// one call and method whose Request-URI starts with ruri ("sip:brygga@"
// for a caller's requests to the bridge, "sip:<user>@" for the bridge's to
// a caller) and that arrived over proto ("udp", "tcp").
func (k *kamailioProc) waitRouted(t *testing.T, callID, method, ruri, proto string, n int) {
	t.Helper()
	k.waitLogged(t, n, "in-dialog "+method+" "+ruri, " over "+proto+" ", " call-id "+callID+"\n")
}

// TestKamailioProxy puts Kamailio with the shipped config
// (deploy/kamailio) in front of one bridge, as the PBX's proxy, trusted by
// the bridge (sip.trusted is the proxy's own loopback address), and calls
// the room through it:
//   - two Go phones on the PBX's address dial through the proxy (a
//     pre-loaded Route), key the PIN and each hears the other's tone and
//     not its own;
//   - their caller IDs are what the PBX asserted (P-Asserted-Identity),
//     passed on by the proxy; the PBX asserting the owner's extension makes
//     a host without a PIN;
//   - a caller on another address, forging the owner's identity, is
//     refused by the proxy (403) and never reaches the bridge, and a direct
//     caller's forged identity is ignored by the bridge;
//   - ACK, a hold and resume re-INVITE and BYE from the callers, and the
//     BYE of the bridge when the operator kicks a caller or ends the
//     meeting, all pass through Kamailio on the recorded route (its log
//     lines), and the audio is back after the resume.
//
// The callers reach Kamailio over UDP; Kamailio reaches the bridge over UDP
// in one subtest and over TCP in the other, where it records two routes
// (one per transport, r2=on) and the bridge's BYE must take the TCP one.
// Kamailio listens on 127.0.0.2 (Linux answers on all of 127.0.0.0/8).
func TestKamailioProxy(t *testing.T) {
	kamailio := interop.RequirePeer(t, "kamailio", "kamailio")
	modules := kamailioModulePath(t)
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) { kamailioProxy(t, kamailio, modules, transport) })
	}
}

// pai is a P-Asserted-Identity header value naming user.
func pai(user string) phone.DialOption {
	return phone.WithHeader("P-Asserted-Identity", "<sip:"+user+"@"+pbxIP+">")
}

func kamailioProxy(t *testing.T, kamailio, modules, transport string) {
	b := interop.StartBridgeIn(t, t.TempDir(), interop.BridgeConfig+"sip:\n  trusted: [\""+proxyIP+"/32\"]\n")
	k := startKamailio(t, kamailio, modules, kamailioSite{Nodes: []string{b.SIP}, Transport: transport})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// The room's URI names the bridge; the INVITE goes to the proxy.
	room := "sip:" + interop.RoomExt + "@" + b.SIP
	via := phone.WithOutboundProxy("sip:" + k.Addr)
	a := interop.DialPhone(ctx, t, room, "1001", 500, interop.RoomPIN+"#", via, pai("+471001"))
	c := interop.DialPhone(ctx, t, room, "1002", 1100, interop.RoomPIN+"#", via, pai("+471002"))

	hearEachOther(t, "1001 and 1002 through the proxy", a, c, 500, 1100)

	// Caller ID: what the PBX asserted, passed on by the trusted proxy.
	ma := interop.WaitMember(t, b, "+471001")
	mc := interop.WaitMember(t, b, "+471002")
	if ma.Role != "participant" || mc.Role != "participant" {
		t.Errorf("roles %q and %q through the proxy, want participant", ma.Role, mc.Role)
	}
	// A caller off the PBX's address claiming the owner's extension: the
	// proxy takes no new call from it.
	mallory := interop.NewPhone(ctx, t, phone.Config{User: "mallory", LocalIP: netip.MustParseAddr("127.0.0.66")})
	dctx, dcancel := context.WithTimeout(ctx, 15*time.Second)
	_, err := mallory.Dial(dctx, room, via, pai(interop.RoomExt))
	dcancel()
	if se := (*phone.StatusError)(nil); !errors.As(err, &se) || se.Code != 403 {
		t.Errorf("a caller off the PBX through the proxy: %v, want 403 from the proxy", err)
	}
	k.waitLogged(t, 1, "refused INVITE", "from 127.0.0.66:")
	if st := interop.RoomState(t, b); st.Has(interop.RoomExt) || st.Has("mallory") || len(st.Members) != 2 {
		t.Errorf("after the refused caller the room has %+v, want 1001 and 1002 only", st.Members)
	}
	// A caller not behind the proxy is not trusted by the bridge: its
	// P-Asserted-Identity is ignored for its From user.
	d := interop.DialPhone(ctx, t, room, "1003", 0, interop.RoomPIN+"#", phone.WithHeader("P-Asserted-Identity", "<sip:"+interop.RoomExt+"@127.0.0.1>"))
	if md := interop.WaitMember(t, b, "1003"); md.Role != "participant" {
		t.Errorf("the direct caller with a forged identity is %q, want participant", md.Role)
	}
	hctx, hcancel := context.WithTimeout(ctx, 10*time.Second)
	if err := d.Hangup(hctx); err != nil {
		t.Errorf("1003 hanging up: %v", err)
	}
	hcancel()

	// Hold and resume: re-INVITEs in the dialog, through the proxy.
	for _, dir := range []sdp.Direction{sdp.SendOnly, sdp.SendRecv} {
		rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
		err := a.Reinvite(rctx, phone.ReinviteOptions{Direction: dir})
		rcancel()
		if err != nil {
			t.Fatalf("1001 re-INVITE %s through the proxy: %v", dir, err)
		}
	}
	mark := a.Mark()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ls := interop.AnalyseLevels(a.ReceivedSince(mark), 1100, 500)
		if interop.FirstHeard(ls) >= 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("after hold and resume 1001 did not hear 1100 Hz again within 15 s\n%s", interop.LevelTable(ls))
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	k.waitRouted(t, a.CallID(), "INVITE", "sip:brygga@", "udp", 2)
	// The ACKs of the answer and of the two re-INVITEs: end to end, on
	// the route.
	k.waitRouted(t, a.CallID(), "ACK", "sip:brygga@", "udp", 3)
	k.waitRouted(t, c.CallID(), "ACK", "sip:brygga@", "udp", 1)

	// The owner's extension, asserted by the PBX: host, no PIN.
	o := interop.DialPhone(ctx, t, room, "owner", 0, "", via, pai(interop.RoomExt))
	if m := interop.WaitMember(t, b, interop.RoomExt); m.Role != "host" {
		t.Errorf("the owner's extension asserted by the PBX through the proxy joined as %q, want host without a PIN", m.Role)
	}
	// The owner hangs up: the caller's BYE by the proxy.
	hctx, hcancel = context.WithTimeout(ctx, 10*time.Second)
	if err := o.Hangup(hctx); err != nil {
		t.Errorf("the owner hanging up through the proxy: %v", err)
	}
	hcancel()
	k.waitRouted(t, o.CallID(), "BYE", "sip:brygga@", "udp", 1)

	// The operator kicks 1002: the bridge's BYE goes by the proxy.
	if code := interop.APICall(t, b, interop.OpsToken, "POST", "/api/v1/conferences/"+interop.RoomExt+"/participants/"+mc.ID+"/kick", "", nil); code/100 != 2 {
		t.Fatalf("kick 1002: %d", code)
	}
	interop.WaitEnded(t, c, "1002 kicked")
	k.waitRouted(t, c.CallID(), "BYE", "sip:1002@", transport, 1)

	// The operator ends the meeting: the BYE to 1001 by the proxy.
	if code := interop.APICall(t, b, interop.OpsToken, "POST", "/api/v1/conferences/"+interop.RoomExt+"/end", "", nil); code/100 != 2 {
		t.Fatalf("end the meeting: %d", code)
	}
	interop.WaitEnded(t, a, "1001 at the meeting's end")
	k.waitRouted(t, a.CallID(), "BYE", "sip:1001@", transport, 1)

	if err := b.Stop(); err != nil {
		t.Error(err)
	}
}
