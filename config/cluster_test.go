package config

import (
	"strings"
	"testing"
	"time"
)

const pgURL = "postgres://brygga@db.example.org/brygga"

func TestCluster(t *testing.T) {
	c := mustParse(t, "store: {url: \""+pgURL+"\"}\ncluster: {node_id: node-a.1, advertise: \"192.0.2.10:5060\", heartbeat: 500ms}\n", nil)
	if want := (Cluster{NodeID: "node-a.1", Advertise: "192.0.2.10:5060", Heartbeat: 500 * time.Millisecond}); c.Cluster != want {
		t.Fatalf("Cluster = %+v, want %+v", c.Cluster, want)
	}
	if d := c.Redacted(); !strings.Contains(d, "node_id: node-a.1") || !strings.Contains(d, "heartbeat: 500ms") {
		t.Errorf("the dump lacks the cluster:\n%s", d)
	}
	// The store may come from the environment, after the file.
	c = mustParse(t, "cluster: {node_id: b, advertise: \"nodeb.example.org:5060\"}\n", map[string]string{"BRYGGA_STORE": pgURL})
	if c.Cluster.NodeID != "b" || c.Cluster.Heartbeat != 2*time.Second {
		t.Fatalf("Cluster = %+v", c.Cluster)
	}
	c = mustParse(t, "api: {listen: \"0.0.0.0:8080\"}\ncluster: {node_id: b, advertise: \"nodeb.example.org:5060\", api_advertise: \"https://nodeb.example.org:8443\"}\n",
		map[string]string{"BRYGGA_STORE": pgURL})
	if u := c.APIURL("0.0.0.0:8080"); u != "https://nodeb.example.org:8443" {
		t.Fatalf("api_advertise = %q", u)
	}
	if c := mustParse(t, "", nil); c.Cluster != (Cluster{Heartbeat: 2 * time.Second}) {
		t.Fatalf("default Cluster = %+v, want none", c.Cluster)
	}
}

func TestClusterErrors(t *testing.T) {
	store := "store: {url: \"" + pgURL + "\"}\n"
	for _, tc := range []struct{ src, key, msg string }{
		{"cluster: {node_id: a, advertise: \"192.0.2.10:5060\"}\n", "cluster.node_id", "postgres://"},
		{"store: {url: \"sqlite:/tmp/x.db\"}\ncluster: {node_id: a, advertise: \"192.0.2.10:5060\"}\n", "cluster.node_id", "postgres://"},
		{store + "cluster: {node_id: a}\n", "cluster.advertise", "missing"},
		{store + "cluster: {node_id: \"a b\", advertise: \"192.0.2.10:5060\"}\n", "cluster.node_id", "only letters"},
		{store + "cluster: {node_id: " + strings.Repeat("a", 65) + ", advertise: \"192.0.2.10:5060\"}\n", "cluster.node_id", "at most 64"},
		{store + "cluster: {node_id: a, advertise: \"0.0.0.0:5060\"}\n", "cluster.advertise", "reach"},
		{store + "cluster: {node_id: a, advertise: \"192.0.2.10\"}\n", "cluster.advertise", "host:port"},
		{store + "cluster: {node_id: a, advertise: \"192.0.2.10:0\"}\n", "cluster.advertise", "port 0"},
		{store + "cluster: {node_id: a, advertise: \"192.0.2.10:5060\", heartbeat: 10ms}\n", "cluster.heartbeat", "outside"},
		{store + "cluster: {nodeid: a}\n", "cluster.nodeid", "unknown key"},
		{store + "api: {listen: \":8080\"}\ncluster: {node_id: a, advertise: \"192.0.2.10:5060\"}\n", "cluster.api_advertise", "missing"},
		{store + "api: {listen: \"[::]:8080\"}\ncluster: {node_id: a, advertise: \"192.0.2.10:5060\"}\n", "cluster.api_advertise", "missing"},
		{store + "cluster: {node_id: a, advertise: \"192.0.2.10:5060\", api_advertise: \"192.0.2.10:8080\"}\n", "cluster.api_advertise", "http://HOST:PORT"},
		{store + "cluster: {node_id: a, advertise: \"192.0.2.10:5060\", api_advertise: \"http://192.0.2.10:8080/api?x=1\"}\n", "cluster.api_advertise", "http://HOST:PORT"},
		{store + "cluster: {node_id: a, advertise: \"192.0.2.10:5060\", api_advertise: \"http://0.0.0.0:8080\"}\n", "cluster.api_advertise", "reach"},
	} {
		wantKeyError(t, tc.src, tc.key, tc.msg)
	}
}
