package interop

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"brygga/internal/pgtest"
)

// ModuleRoot is the module's folder, found from this file's so that the
// tests of interop's sub-packages, which run in folders of their own,
// build the bridge and find the test data in the same places.
var ModuleRoot = func() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}()

// The room every test calls, as the lead's contract for these tests gives it.
const (
	RoomExt     = "4711"
	RoomPIN     = "2468"
	RoomHostPIN = "97531"

	// Admin API tokens: an operator and a read-only viewer.
	OpsToken  = "interop-ops-0f3b9c1e"
	WallToken = "interop-wall-6d2a8e47"
)

const BridgeConfig = `# brygga interop tests: one PIN room, no open rooms. Names are off except
# where a test turns them on: they add a prompt and five seconds to every join.
open_rooms: ""
defaults:
  names: false
api:
  tokens:
    - {name: interop-ops, token: "` + OpsToken + `", role: operator}
    - {name: interop-wall, token: "` + WallToken + `", role: viewer}
directory:
  - {extension: "` + RoomExt + `", name: "Test Room", pin: "` + RoomPIN + `", host_pin: "` + RoomHostPIN + `"}
`

// opsConfig begins a config of a test's own: no open rooms, no name
// prompts, and the operator's token.
const opsConfig = `open_rooms: ""
defaults:
  names: false
api:
  tokens:
    - {name: interop-ops, token: "` + OpsToken + `", role: operator}
`

// ShowLogs prints the logs of the bridge and the peers also for tests that
// pass: go test ./interop -v -args -interop.logs
var ShowLogs = flag.Bool("interop.logs", false, "print the bridge's and the peers' logs even when a test passes")

var (
	binDir    string // holds the bridge binary for this test run
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// Main runs the tests of an interop package; each package's TestMain
// calls it. The bridge binary is built once per package into a folder
// removed at the end, and a throw-away PostgreSQL a test started is
// stopped.
func Main(m *testing.M) int {
	dir, err := os.MkdirTemp("", "brygga-interop-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "interop:", err)
		return 1
	}
	binDir = dir
	code := pgtest.Main(m) // stops the PostgreSQL of the cluster tests, if one started
	os.RemoveAll(dir)
	return code
}

// CIMode reports whether CI=true: missing peers are then failures, not
// skips, so a CI run cannot go green without the real-peer tests.
func CIMode() bool {
	v, _ := strconv.ParseBool(os.Getenv("CI"))
	return v
}

// RequirePeer returns the path of a peer program, or skips (fails in CI)
// when it is not installed.
func RequirePeer(t *testing.T, name, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if CIMode() {
		t.Fatalf("%s is not installed (Debian package %s) and CI=true: real-peer tests must run in CI", name, debianPackage)
	}
	t.Skipf("%s is not installed: apt-get install %s to run this test (with CI=true this is a failure)", name, debianPackage)
	return ""
}

// ModuleDir is the first of dirs that holds every one of modules (a peer's
// plugins), or skips (fails in CI) when none does.
func ModuleDir(t *testing.T, peer, debianPackage string, dirs, modules []string) string {
	t.Helper()
next:
	for _, dir := range dirs {
		for _, m := range modules {
			if _, err := os.Stat(filepath.Join(dir, m)); err != nil {
				continue next
			}
		}
		return dir
	}
	msg := fmt.Sprintf("no %s module folder with %s among %s", peer, strings.Join(modules, ", "), strings.Join(dirs, ", "))
	if CIMode() {
		t.Fatal(msg + " (Debian package " + debianPackage + ")")
	}
	t.Skip(msg + ": install " + debianPackage + " to run this test (with CI=true this is a failure)")
	return ""
}

// bryggaBinary builds cmd/brygga once per test run. Under -race the bridge
// is built with the race detector as well.
func bryggaBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		out := filepath.Join(binDir, "brygga")
		args := []string{"build", "-o", out}
		if raceEnabled {
			args = append(args, "-race")
		}
		args = append(args, "./cmd/brygga")
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = ModuleRoot
		if msg, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, msg)
			return
		}
		buildPath = out
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

// Bridge is one brygga process serving testConfig on loopback.
type Bridge struct {
	SIP     string   // 127.0.0.1:port, UDP and TCP
	API     string   // http://127.0.0.1:port, the admin API
	At      BridgeAt // where it runs: a restart runs there again
	LogFile string   // the bridge's stdout and stderr
	proc    *Proc

	stopOnce sync.Once
	stopErr  error
}

// StartBridge runs the bridge on free ports and waits until it answers
// OPTIONS. It is stopped with SIGTERM when the test ends (or by Stop), and
// must then exit 0; its log is printed when the test failed.
func StartBridge(t *testing.T) *Bridge {
	t.Helper()
	return StartBridgeIn(t, t.TempDir(), BridgeConfig)
}

// StartBridgeIn is startBridge with a config of the test's own and a folder
// that may outlive one bridge: a second bridge started in the same folder
// finds the first one's data (a restart). The log is appended to.
func StartBridgeIn(t *testing.T, dir, config string) *Bridge {
	t.Helper()
	return startBridgeSIP(t, dir, config, "")
}

// startBridgeSIP is startBridgeIn with SIP listeners more than UDP and TCP
// on b.SIP, such as "tls:127.0.0.1:5061" (comma-separated, as --sip takes
// them). {{SIP}} in config becomes b.SIP, which is chosen here.
func startBridgeSIP(t *testing.T, dir, config, moreSIP string) *Bridge {
	t.Helper()
	return StartBridgeAt(t, BridgeAt{Dir: dir, Config: config, MoreSIP: moreSIP})
}

// BridgeAt is where startBridgeAt runs a bridge. Zero fields are
// defaults: 127.0.0.1, free ports.
type BridgeAt struct {
	IP      string // SIP, RTP (media.ip) and the API on this loopback address
	Port    int    // SIP, UDP and TCP
	APIPort int
	RTPLo   int // with RTPHi: the RTP ports
	RTPHi   int
	Dir     string
	Config  string
	MoreSIP string // listeners besides UDP and TCP on the SIP address
}

// StartBridgeAt is startBridgeIn on an address and ports of the test's
// choosing: several bridges on their own loopback addresses (a cluster), or
// a bridge started again where a killed one was (at), which b.at gives.
func StartBridgeAt(t *testing.T, at BridgeAt) *Bridge {
	t.Helper()
	bin := bryggaBinary(t)
	if at.IP == "" {
		at.IP = "127.0.0.1"
	}
	if at.Port == 0 {
		at.Port = FreePort(t)
	}
	if at.APIPort == 0 {
		at.APIPort = freeTCPPort(t)
	}
	if at.RTPLo == 0 {
		at.RTPLo, at.RTPHi = PortBlock(t, 40)
	}
	cfg := filepath.Join(at.Dir, "brygga.yaml")
	config := strings.ReplaceAll(at.Config, "{{SIP}}", net.JoinHostPort(at.IP, strconv.Itoa(at.Port)))
	if err := os.WriteFile(cfg, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	b := &Bridge{
		SIP:     fmt.Sprintf("%s:%d", at.IP, at.Port),
		API:     fmt.Sprintf("http://%s:%d", at.IP, at.APIPort),
		At:      at,
		LogFile: filepath.Join(at.Dir, "brygga.log"),
	}
	logf, err := os.OpenFile(b.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	args := []string{"serve",
		"--config", cfg,
		"--sip", strings.TrimSuffix(b.SIP+","+at.MoreSIP, ","),
		"--rtp-ports", fmt.Sprintf("%d-%d", at.RTPLo, at.RTPHi),
		"--data", filepath.Join(at.Dir, "data"),
		"--api", strings.TrimPrefix(b.API, "http://"),
		"--log-level", "debug"}
	if at.IP != "127.0.0.1" {
		// Not always: a test's config may set media.ip itself.
		args = append(args, "--media-ip", at.IP)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = at.Dir
	cmd.Env = bridgeEnv()
	cmd.Stdout = logf
	cmd.Stderr = logf
	b.proc = StartProc(t, "brygga", cmd)
	t.Cleanup(func() {
		if err := b.Stop(); err != nil {
			t.Error(err)
		}
		if t.Failed() || *ShowLogs {
			t.Logf("brygga log (%s):\n%s", b.LogFile, TailLines(b.LogFile, 400))
		}
	})
	t.Logf("brygga on %s (udp+tcp), rtp %d-%d", b.SIP, at.RTPLo, at.RTPHi)

	// The API listens before SIP does; still, a test's first request
	// should not be what finds out it cannot connect.
	b.proc.WaitOptions(t, "brygga", b.SIP, 30*time.Second, func() error { return apiUp(b.API) })
	return b
}

// apiUp asks the bridge's /healthz once.
func apiUp(api string) error {
	c := http.Client{Timeout: time.Second}
	res, err := c.Get(api + "/healthz")
	if err != nil {
		return err
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		return fmt.Errorf("/healthz answered %d", res.StatusCode)
	}
	return nil
}

// bridgeEnv is the test's environment without BRYGGA_* variables, so a
// developer's settings cannot change the bridge under test.
func bridgeEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BRYGGA_") {
			env = append(env, kv)
		}
	}
	return env
}

// Stop sends SIGTERM and waits for the bridge to hang up and exit. It is an
// error when the bridge does not exit within 30 s, exits with a status other
// than 0, or reported a data race.
func (b *Bridge) Stop() error {
	b.stopOnce.Do(func() {
		select {
		case <-b.proc.Exited:
			b.stopErr = fmt.Errorf("brygga had already exited before SIGTERM: %v", b.proc.Err)
			return
		default:
		}
		if err := b.proc.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
			b.stopErr = fmt.Errorf("SIGTERM to brygga: %v", err)
			return
		}
		select {
		case <-b.proc.Exited:
		case <-time.After(30 * time.Second):
			_ = b.proc.Cmd.Process.Kill()
			<-b.proc.Exited
			b.stopErr = errors.New("brygga did not exit within 30 s of SIGTERM (killed)")
			return
		}
		if b.proc.Err != nil {
			b.stopErr = fmt.Errorf("brygga exited with %v after SIGTERM, want status 0", b.proc.Err)
		}
		if log, _ := os.ReadFile(b.LogFile); bytes.Contains(log, []byte("WARNING: DATA RACE")) {
			b.stopErr = errors.Join(b.stopErr, errors.New("brygga reported a data race (see its log)"))
		}
	})
	return b.stopErr
}

// Kill ends the bridge with SIGKILL, as a crash or the OOM killer would:
// no hang-ups, no flushing. Cleanup then expects nothing more of it.
func (b *Bridge) Kill(t *testing.T) {
	t.Helper()
	b.stopOnce.Do(func() {
		if err := b.proc.Cmd.Process.Kill(); err != nil {
			b.stopErr = fmt.Errorf("SIGKILL to brygga: %v", err)
		}
		<-b.proc.Exited
	})
	if b.stopErr != nil {
		t.Fatal(b.stopErr)
	}
}

// Log is what the bridge printed so far.
func (b *Bridge) Log() string {
	data, _ := os.ReadFile(b.LogFile)
	return string(data)
}

// TailLines is the last n lines of a file, for failure messages.
func TailLines(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > 2*n {
			lines = append(lines[:0], lines[len(lines)-n:]...)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// freeTCPPort is a loopback TCP port nobody listens on just now.
func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// FreePort is a loopback port free for both UDP and TCP at the time of the
// call: a SIP listener needs both.
func FreePort(t *testing.T) int {
	t.Helper()
	p, err := findPort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func findPort() (int, error) {
	for range 50 {
		u, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return 0, err
		}
		port := u.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", port))
		u.Close()
		if err == nil {
			l.Close()
			return port, nil
		}
	}
	return 0, errors.New("no loopback port free for both UDP and TCP")
}

// PortBlock finds n consecutive free UDP ports for RTP.
func PortBlock(t *testing.T, n int) (lo, hi int) {
	t.Helper()
	lo, hi, err := findPortBlock(n)
	if err != nil {
		t.Fatal(err)
	}
	return lo, hi
}

var blockSeq atomic.Int64

// findPortBlock looks in 10000-19999, below Linux's ephemeral range, so
// ports the kernel hands to other sockets never land in a block; the PID
// spreads the test binaries that `go test ./...` runs at the same time over
// different blocks.
func findPortBlock(n int) (lo, hi int, err error) {
	const base, span = 10000, 10000
	slots := span / n
	start := os.Getpid() * 7
	for range slots {
		slot := (start + int(blockSeq.Add(1))) % slots
		lo = base + slot*n
		if udpPortsFree(lo, lo+n-1) {
			return lo, lo + n - 1, nil
		}
	}
	return 0, 0, fmt.Errorf("no block of %d free UDP ports in %d-%d", n, base, base+span-1)
}

func udpPortsFree(lo, hi int) bool {
	var held []*net.UDPConn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for p := lo; p <= hi; p++ {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p})
		if err != nil {
			return false
		}
		held = append(held, c)
	}
	return true
}

// SIPOptions sends one OPTIONS over UDP and returns the status code of the
// final response. It is deliberately independent of sipgo, so the readiness
// check does not share code with the server it checks.
func SIPOptions(addr string, timeout time.Duration) (int, error) {
	raddr, err := net.ResolveUDPAddr("udp4", addr)
	if err != nil {
		return 0, err
	}
	c, err := net.DialUDP("udp4", nil, raddr)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	if _, err := c.Write([]byte(OptionsRequest("UDP", addr, c.LocalAddr()))); err != nil {
		return 0, err
	}
	deadline := time.Now().Add(timeout)
	buf := make([]byte, 65535)
	for {
		if err := c.SetReadDeadline(deadline); err != nil {
			return 0, err
		}
		n, err := c.Read(buf)
		if err != nil {
			return 0, err
		}
		code, err := StatusCode(buf[:n])
		if err != nil {
			return 0, err
		}
		if code >= 200 {
			return code, nil
		}
	}
}

// OptionsRequest is an OPTIONS to addr sent over transport (UDP, TCP)
// from local.
func OptionsRequest(transport, addr string, local net.Addr) string {
	return strings.Join([]string{
		"OPTIONS sip:" + addr + " SIP/2.0",
		fmt.Sprintf("Via: SIP/2.0/%s %s;branch=z9hG4bK%s;rport", transport, local, RandomToken()),
		"Max-Forwards: 70",
		"From: <sip:interop@127.0.0.1>;tag=" + RandomToken(),
		"To: <sip:" + addr + ">",
		"Call-ID: " + RandomToken() + "@127.0.0.1",
		"CSeq: 1 OPTIONS",
		fmt.Sprintf("Contact: <sip:interop@%s>", local),
		"Accept: application/sdp",
		"Content-Length: 0",
		"", "",
	}, "\r\n")
}

// StatusCode parses the status line of a SIP response.
func StatusCode(msg []byte) (int, error) {
	line, _, _ := bytes.Cut(msg, []byte("\r\n"))
	f := strings.Fields(string(line))
	if len(f) < 2 || f[0] != "SIP/2.0" {
		return 0, fmt.Errorf("not a SIP response: %q", line)
	}
	return strconv.Atoi(f[1])
}

func RandomToken() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// SendSignal sends sig to the bridge and takes over Stop's part: the test
// waits for the exit itself (exited), so the cleanup expects nothing more.
func (b *Bridge) SendSignal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	b.stopOnce.Do(func() {})
	if err := b.proc.Cmd.Process.Signal(sig); err != nil {
		t.Fatalf("%v to brygga: %v", sig, err)
	}
}

// ExitedOK waits up to limit for the bridge to exit after a signal, and
// fails unless it exited 0 without a data race.
func (b *Bridge) ExitedOK(t *testing.T, limit time.Duration) {
	t.Helper()
	select {
	case <-b.proc.Exited:
	case <-time.After(limit):
		_ = b.proc.Cmd.Process.Kill()
		<-b.proc.Exited
		t.Fatalf("brygga did not exit within %v (killed)", limit)
	}
	if b.proc.Err != nil {
		t.Fatalf("brygga exited with %v, want status 0", b.proc.Err)
	}
	if strings.Contains(b.Log(), "WARNING: DATA RACE") {
		t.Fatal("brygga reported a data race (see its log)")
	}
}
