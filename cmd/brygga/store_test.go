package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"brygga/internal/pgtest"
	"brygga/store"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// With store.url naming PostgreSQL, serve keeps its directory there: a
// room created through the API is found after a restart, and the data
// folder, which still takes the recordings, holds no SQLite database.
func TestServeOnPostgres(t *testing.T) {
	url := pgtest.URL(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	const token = "postgres-test-token-1234"
	cfg := filepath.Join(dir, "brygga.yaml")
	yaml := "store: {url: \"" + url + "\"}\napi:\n  tokens:\n    - {name: ops, token: " + token + ", role: operator}\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	serve := func(t *testing.T) *serving {
		return startServe(t, "31330-31339", "--config", cfg, "--api", "127.0.0.1:0", "--data", data)
	}

	t.Run("first start", func(t *testing.T) {
		s := serve(t)
		if !strings.Contains(s.errb.String(), `db="postgres://postgres@/`) {
			t.Errorf("serve did not log the PostgreSQL store it opened:\n%s", s.errb.String())
		}
		code, body := call(t, "PUT", s.api+"/api/v1/rooms/4712", token, "", `{"name": "Ola Nordmann", "pin": "1357"}`)
		if code != http.StatusCreated {
			t.Fatalf("PUT room: %d %s", code, body)
		}
	})
	t.Run("after restart", func(t *testing.T) {
		s := serve(t)
		code, body := call(t, "GET", s.api+"/api/v1/rooms/4712", token, "", "")
		var room struct {
			Name   string `json:"name"`
			HasPIN bool   `json:"has_pin"`
		}
		if code != http.StatusOK || json.Unmarshal([]byte(body), &room) != nil || room.Name != "Ola Nordmann" || !room.HasPIN {
			t.Fatalf("GET room after restart: %d %s", code, body)
		}
	})
	if _, err := os.Stat(filepath.Join(data, "brygga.db")); !os.IsNotExist(err) {
		t.Errorf("a SQLite database appeared in the data folder: %v", err)
	}
	if m := mode(t, data); m != 0o700 {
		t.Errorf("data folder %04o, want 0700", m)
	}
}

// With cluster.node_id serve registers the node in the shared database,
// serves the cluster's metrics, and leaves the cluster when it stops.
func TestServeAsClusterNode(t *testing.T) {
	url := pgtest.URL(t)
	yaml := "store: {url: \"" + url + "\"}\ncluster: {node_id: node-a, advertise: \"127.0.0.1:5060\", heartbeat: 200ms}\n"
	db, err := store.Open(url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	nodes := func() []store.Node {
		n, err := db.Nodes(context.Background(), time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	t.Run("serving", func(t *testing.T) {
		s := serveConfig(t, yaml, "31340-31349")
		if !strings.Contains(s.out.String(), "cluster node node-a, reached at 127.0.0.1:5060") {
			t.Errorf("serve did not say it is a cluster node:\n%s", s.out.String())
		}
		if n := nodes(); len(n) != 1 || n[0].ID != "node-a" || n[0].Advertise != "127.0.0.1:5060" {
			t.Fatalf("nodes registered: %+v", n)
		}
		// Its API at the address the listener was bound to (port 0 in
		// the config), for the other nodes.
		if p, err := db.Peers(context.Background(), time.Minute); err != nil || len(p) != 1 || p[0].API != s.api {
			t.Errorf("the node's API: %+v, %v; want %s", p, err, s.api)
		}
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(s.api + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		for _, m := range []string{"brygga_cluster_leases 0", "brygga_cluster_redirects_total 0", `brygga_cluster_errors_total{op="claim"} 0`} {
			if !strings.Contains(string(b), m) {
				t.Errorf("metrics lack %q", m)
			}
		}
	})
	if n := nodes(); len(n) != 0 {
		t.Errorf("nodes still registered after serve stopped: %+v", n)
	}
}
