// Package pgtest gives tests a throw-away PostgreSQL server: Debian's
// postgresql package's initdb into a temporary folder, the server on a
// unix socket there and no TCP port, an empty schema per test, and the
// folder removed when the test binary ends. One server serves a whole
// test package; Main stops it.
//
// Without PostgreSQL a test that asks for a database is skipped, unless
// CI=true, where that is a failure: CI must test both backends.
package pgtest

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the admin connection
)

// superuser is the role initdb makes and the tests connect as.
const superuser = "postgres"

var (
	once    sync.Once
	srv     *server
	missing error // PostgreSQL is not installed
	broken  error // it is, but would not start
	seq     atomic.Int64
)

type server struct {
	dir   string // initdb's folder under dir/data, the socket in dir
	bin   string
	cred  *syscall.Credential
	cmd   *exec.Cmd
	exit  chan struct{} // closed when the server process is gone
	admin *sql.DB
}

// Main runs the package's tests and then stops the server, if a test
// started one. Call it from TestMain: os.Exit(pgtest.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	if srv != nil {
		srv.stop()
	}
	return code
}

// URL returns a postgres:// URL whose tables go to a new, empty schema on
// the package's server (first in search_path), starting the server on
// first use. A schema and not a database per test: CREATE DATABASE takes
// a quarter of a second, CREATE SCHEMA next to nothing. It skips the test
// when PostgreSQL is not installed (fails with CI=true).
func URL(t testing.TB) string {
	t.Helper()
	once.Do(func() { srv, missing, broken = start() })
	need(t, missing, broken)
	return srv.schema(t)
}

// need skips t when PostgreSQL is not installed (missing; a failure with
// CI=true) and fails it when the server would not start (broken).
func need(t testing.TB, missing, broken error) {
	t.Helper()
	switch {
	case missing != nil && os.Getenv("CI") == "true":
		t.Fatalf("PostgreSQL is needed with CI=true: %v", missing)
	case missing != nil:
		t.Skipf("PostgreSQL not installed (Debian: apt-get install postgresql): %v", missing)
	case broken != nil:
		t.Fatalf("PostgreSQL would not start: %v", broken)
	}
}

// schema makes a new, empty schema and returns the URL that uses it.
func (s *server) schema(t testing.TB) string {
	t.Helper()
	schema := fmt.Sprintf("t%d", seq.Add(1))
	if _, err := s.admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		t.Fatalf("pgtest: create schema %s: %v", schema, err)
	}
	return s.url(schema)
}

// url is the URL of the server's postgres database, with schema first in
// search_path when it is not "".
func (s *server) url(schema string) string {
	q := url.Values{"host": {s.dir}, "sslmode": {"disable"}}
	if schema != "" {
		q.Set("search_path", schema)
	}
	u := url.URL{Scheme: "postgres", User: url.User(superuser), Path: "/postgres", RawQuery: q.Encode()}
	return u.String()
}

// bin finds initdb and postgres: Debian keeps them under
// /usr/lib/postgresql/VERSION/bin, off PATH; the newest version wins.
func bin() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return vb - va
	})
	for _, d := range dirs {
		if exists(filepath.Join(d, "initdb")) && exists(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		d := filepath.Dir(p)
		if exists(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	return "", errors.New("no initdb and postgres under /usr/lib/postgresql/*/bin or on PATH")
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// account is whom the server runs as: PostgreSQL refuses to run as root,
// so root hands it to the postgres system user (nobody when there is
// none), and anyone else runs it as themselves.
func account() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 == nil && err2 == nil {
			return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
		}
	}
	return nil, errors.New("running as root, and there is neither a postgres nor a nobody user to run PostgreSQL as")
}

func start() (s *server, missing, broken error) {
	dir, err := bin()
	if err != nil {
		return nil, err, nil
	}
	cred, err := account()
	if err != nil {
		return nil, nil, err
	}
	// Not t.TempDir: the server's user must reach the folder, and it
	// outlives the test that happened to start it.
	tmp, err := os.MkdirTemp("", "brygga-pg-")
	if err != nil {
		return nil, nil, err
	}
	s = &server{dir: tmp, bin: dir, cred: cred}
	if err := s.run(); err != nil {
		os.RemoveAll(tmp)
		return nil, nil, err
	}
	return s, nil, nil
}

func (s *server) attr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: s.cred, Pdeathsig: syscall.SIGKILL}
}

func (s *server) run() error {
	if s.cred != nil {
		if err := os.Chown(s.dir, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			return err
		}
	}
	var out bytes.Buffer
	initdb := exec.Command(filepath.Join(s.bin, "initdb"), "-D", filepath.Join(s.dir, "data"), "-U", superuser, "-A", "trust",
		"-E", "UTF8", "--locale=C", "--no-sync")
	initdb.Dir, initdb.Stdout, initdb.Stderr, initdb.SysProcAttr = s.dir, &out, &out, s.attr()
	if err := initdb.Run(); err != nil {
		return fmt.Errorf("initdb: %v\n%s", err, out.Bytes())
	}
	return s.launch()
}

// launch starts postgres on the folder initdb made and waits until it
// answers.
func (s *server) launch() error {
	log, err := os.OpenFile(filepath.Join(s.dir, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer log.Close()
	// Durability is of no use to a database that is deleted at the end;
	// without it the tests wait on no disk.
	s.cmd = exec.Command(filepath.Join(s.bin, "postgres"), "-D", filepath.Join(s.dir, "data"), "-k", s.dir, "-c", "listen_addresses=",
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=200")
	s.cmd.Dir, s.cmd.Stdout, s.cmd.Stderr, s.cmd.SysProcAttr = s.dir, log, log, s.attr()
	s.exit = make(chan struct{})
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	cmd, exit := s.cmd, s.exit
	go func() { cmd.Wait(); close(exit) }()
	if s.admin == nil {
		if s.admin, err = sql.Open("pgx", s.url("")); err != nil {
			s.stop()
			return err
		}
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err = s.admin.PingContext(ctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-s.exit:
			msg, _ := os.ReadFile(log.Name())
			s.stop()
			return fmt.Errorf("postgres exited: %s", strings.TrimSpace(string(msg)))
		default:
		}
		if time.Now().After(deadline) {
			s.stop()
			return fmt.Errorf("postgres not ready after 30s: %w", err)
		}
	}
}

// stop shuts the server down fast (SIGINT: no waiting for clients) and
// removes its folder.
func (s *server) stop() {
	if s.admin != nil {
		s.admin.Close()
	}
	s.halt()
	os.RemoveAll(s.dir)
}

// halt stops the server process, keeping its folder.
func (s *server) halt() {
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-s.exit:
		case <-time.After(10 * time.Second):
			s.cmd.Process.Kill()
			<-s.exit
		}
	}
}

// Server is a PostgreSQL server of one test's own, which the test may stop
// and start again (a database restart, an outage) without disturbing the
// other tests of its package.
type Server struct{ s *server }

// Own starts a server for t alone, removed when t ends. It skips as URL
// does.
func Own(t testing.TB) *Server {
	t.Helper()
	s, missing, broken := start()
	need(t, missing, broken)
	t.Cleanup(s.stop)
	return &Server{s: s}
}

// URL is a new, empty schema on the server, as the package's URL gives.
func (o *Server) URL(t testing.TB) string {
	t.Helper()
	return o.s.schema(t)
}

// Stop shuts the server down; its data stays for Start.
func (o *Server) Stop(t testing.TB) {
	t.Helper()
	o.s.halt()
}

// Start runs the stopped server again on the same data, at the same
// socket, and returns once it answers.
func (o *Server) Start(t testing.TB) {
	t.Helper()
	if err := o.s.launch(); err != nil {
		t.Fatalf("PostgreSQL would not start again: %v", err)
	}
}
