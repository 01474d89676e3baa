package cluster

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"brygga/interop"
)

// clusterScript is the demo operators start by hand (docs/cluster.md).
var clusterScript = filepath.Join(interop.ModuleRoot, "scripts", "cluster.sh")

// requirePostgres skips (fails with CI=true) without PostgreSQL's
// programs, which the script runs itself.
func requirePostgres(t *testing.T) {
	t.Helper()
	if dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb"); len(dirs) > 0 {
		return
	}
	if _, err := exec.LookPath("initdb"); err == nil {
		return
	}
	if interop.CIMode() {
		t.Fatal("PostgreSQL (initdb) is not installed and CI=true (Debian package postgresql)")
	}
	t.Skip("PostgreSQL (initdb) is not installed: apt-get install postgresql to run this test (with CI=true this is a failure)")
}

// clusterSh runs scripts/cluster.sh with env added to the test's.
func clusterSh(ctx context.Context, t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(ctx, "bash", append([]string{clusterScript}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestClusterScript brings the demo up with scripts/cluster.sh (on free
// ports, set through its CLUSTER_* variables, so a demo someone runs on
// the default ports is not in the way), with a DIR/brygga.yaml that sets
// only a room default: the script must still add the rooms 4711-4799 with
// their PINs, the operator token and the trusted proxy. Two callers of
// room 4711 dial Kamailio, one with the host PIN and one with the PIN:
// both end on one node of the three, alone in the cluster with the room,
// and hear each other. `down` then leaves nothing running (no pid file,
// nothing answering), and a second `down` is harmless.
func TestClusterScript(t *testing.T) {
	interop.RequirePeer(t, "kamailio", "kamailio")
	kamailioModulePath(t)
	requirePostgres(t)

	// Not t.TempDir: as root, PostgreSQL runs as the postgres user, who
	// must reach the folder, and t.TempDir's parent is private.
	dir, err := os.MkdirTemp("", "brygga-demo-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	base := "# the test's base: no name prompts (five seconds a join)\ndefaults:\n  names: false\n"
	if err := os.WriteFile(filepath.Join(dir, "brygga.yaml"), []byte(base), 0o644); err != nil {
		t.Fatal(err)
	}
	sipPort, apiPort, proxyPort := interop.FreePort(t), interop.FreePort(t), interop.FreePort(t)
	lo, hi := interop.PortBlock(t, 40)
	env := []string{
		"CLUSTER_TOKEN=" + interop.OpsToken,
		fmt.Sprint("CLUSTER_SIP_PORT=", sipPort),
		fmt.Sprint("CLUSTER_API_PORT=", apiPort),
		fmt.Sprint("CLUSTER_PROXY_PORT=", proxyPort),
		fmt.Sprintf("CLUSTER_RTP_PORTS=%d-%d", lo, hi),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	downed := false
	t.Cleanup(func() {
		if !downed {
			dctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if out, err := clusterSh(dctx, t, nil, "down", dir); err != nil {
				t.Errorf("cluster.sh down: %v\n%s", err, out)
			}
		}
		if t.Failed() || *interop.ShowLogs {
			for _, log := range []string{"kamailio.log", "node1.log", "node2.log", "node3.log", "postgres.log"} {
				t.Logf("%s:\n%s", log, interop.TailLines(filepath.Join(dir, log), 40))
			}
		}
		os.RemoveAll(dir)
	})

	out, err := clusterSh(ctx, t, env, "up", dir)
	if err != nil {
		t.Fatalf("cluster.sh up: %v\n%s", err, out)
	}
	t.Logf("cluster.sh up:\n%s", out)
	proxy := fmt.Sprintf("127.0.0.1:%d", proxyPort)
	var nodes []*interop.Bridge
	for _, ip := range clusterNodeIPs {
		sip := fmt.Sprintf("%s:%d", ip, sipPort)
		api := fmt.Sprintf("http://%s:%d", ip, apiPort)
		for _, where := range []string{"sip:" + sip, api} {
			if !strings.Contains(out, where) {
				t.Errorf("cluster.sh up does not say where %s is", where)
			}
		}
		nodes = append(nodes, &interop.Bridge{SIP: sip, API: api})
	}
	if !strings.Contains(out, "sip:"+proxy) {
		t.Errorf("cluster.sh up does not say where Kamailio is (sip:%s)", proxy)
	}

	const room, sayA, sayB = "4711", 500.0, 1100.0
	host := interop.DialPhone(ctx, t, "sip:"+room+"@"+proxy, "host", sayA, "97531#")
	guest := interop.DialPhone(ctx, t, "sip:"+room+"@"+proxy, "guest", sayB, "2468#")
	on := waitPlaced(t, nodes, map[string]int{room: 2})[room]
	t.Logf("room %s on node%d (%s)", room, on+1, nodes[on].SIP)
	hearEachOther(t, "room "+room+" through the demo's Kamailio", host, guest, sayA, sayB)
	members, _ := interop.GetConference(t, nodes[on], interop.OpsToken, room)
	hosts := 0
	for _, m := range members.Members {
		if m.Role == "host" {
			hosts++
		}
	}
	if len(members.Members) != 2 || hosts != 1 {
		t.Errorf("room %s: members %+v, want two, one of them the host (host PIN 97531)", room, members.Members)
	}
	hangUp(ctx, t, host, guest)

	out, err = clusterSh(ctx, t, nil, "down", dir)
	downed = true
	if err != nil {
		t.Fatalf("cluster.sh down: %v\n%s", err, out)
	}
	pids, _ := filepath.Glob(filepath.Join(dir, "*.pid"))
	if len(pids) > 0 {
		t.Errorf("pid files left after down: %v", pids)
	}
	if _, err := os.Stat(filepath.Join(dir, "pg", "data", "postmaster.pid")); err == nil {
		t.Error("PostgreSQL still running after down (postmaster.pid)")
	}
	for _, addr := range append([]string{proxy}, nodes[0].SIP, nodes[1].SIP, nodes[2].SIP) {
		if code, err := interop.SIPOptions(addr, 300*time.Millisecond); err == nil {
			t.Errorf("%s still answers OPTIONS (%d) after down", addr, code)
		}
	}
	if out, err := clusterSh(ctx, t, nil, "down", dir); err != nil {
		t.Errorf("a second cluster.sh down: %v\n%s", err, out)
	}
}
