package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"

	"brygga/api"
	"brygga/conference"
	"brygga/config"
	"brygga/internal/connlimit"
	"brygga/media"
	"brygga/metrics"
	"brygga/prompts"
	"brygga/scheduler"
	"brygga/sip"
	"brygga/store"
)

// drainTimeout bounds shutdown: hang up every call, wait for the BYEs.
const drainTimeout = 10 * time.Second

func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, err := config.Parse(args, getenv)
	if err != nil {
		if isHelp(err) {
			usage(stdout)
			return exitOK
		}
		fmt.Fprintln(stderr, "brygga:", err)
		return exitConfig
	}
	log := newLogger(stderr, cfg.LogLevel)

	lib := prompts.Builtin()
	if cfg.PromptsDir != "" {
		lib, err = prompts.LoadDir(cfg.PromptsDir)
		if err != nil {
			fmt.Fprintf(stderr, "brygga: %v\n", &config.Error{Key: "prompts_dir", Msg: err.Error()})
			return exitConfig
		}
	}
	sym, err := media.ParseSymmetric(cfg.Media.Symmetric)
	if err != nil {
		fmt.Fprintf(stderr, "brygga: %v\n", &config.Error{Key: "media.symmetric", Msg: err.Error()})
		return exitConfig
	}
	// The data folder holds the recordings and delivery logs whichever
	// database there is, so it is made private here and not only by a
	// SQLite store that happens to live in it.
	tight, err := store.PrivateDir(cfg.Data)
	if err != nil {
		fmt.Fprintf(stderr, "brygga: %v\n", &config.Error{Key: "data", Msg: err.Error()})
		return exitConfig
	}
	if tight != nil {
		tight.Log(log)
	}

	db, err := store.Open(storeLocation(cfg))
	if err != nil {
		fmt.Fprintln(stderr, "brygga:", err)
		return exitRuntime
	}
	defer db.Close()
	log.Info("store opened", "db", db.Name())
	for _, t := range db.Tightened() {
		t.Log(log)
	}
	rooms, err := store.NewRooms(db, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "brygga:", err)
		return exitConfig // a seeded room the store refuses names its key
	}

	var bridge *conference.Bridge
	m := metrics.New(func() (confs, inRoom, inLobby int) {
		for _, r := range bridge.Rooms() {
			confs++
			inRoom += r.Participants
			for _, p := range r.Members {
				if p.Lobby {
					inLobby++
				}
			}
		}
		return confs, inRoom, inLobby
	})
	db.OnError(func(error) { m.StoreError() })
	var homes sip.Homes              // nil: a single bridge
	var states conference.RoomStates // nil: a single bridge's rooms die with it
	if cfg.Cluster.NodeID != "" {
		node, err := joinCluster(cfg, db, m, log)
		if err != nil {
			fmt.Fprintln(stderr, "brygga:", err)
			return exitRuntime
		}
		// Deferred after db.Close, so run before it: the node leaves
		// once the calls have drained.
		defer func() {
			if err := node.Close(); err != nil {
				log.Warn("cluster: leaving failed; this node's rooms are free when their leases expire", "err", err)
			}
		}()
		homes = node
		states = db
		// The directory is shared: a room changed through another node's
		// API reaches this one within a heartbeat.
		follow, stopFollowing := context.WithCancel(context.Background())
		defer stopFollowing()
		go rooms.Follow(follow, cfg.Cluster.Heartbeat, func(err error) {
			log.Warn("directory not refreshed from the shared store; trying again", "err", err)
		})
	}
	bus, err := eventBus(cfg, db, log)
	if err != nil {
		fmt.Fprintln(stderr, "brygga:", err)
		return exitRuntime
	}
	// Deferred before the bridge's end, so run after it: the last
	// events of the drain reach the database.
	defer bus.Close()
	recs, err := startRecordings(cfg, db, bus, lib, log, m.DeliveryResult)
	if err != nil {
		fmt.Fprintln(stderr, "brygga:", err)
		return exitRuntime
	}
	defer recs.close()
	clock, err := scheduler.New(nil)
	if err != nil {
		fmt.Fprintln(stderr, "brygga:", err)
		return exitRuntime
	}
	defer clock.Close()
	sched := newSchedules(cfg, db, rooms, log)
	sched.desk.OnRefused = func() { m.ConnectionRefused("mail", connlimit.Source) }
	sched.keepWindows(clock, bus)
	guard := pinGuard(cfg, db, log, m, bus)
	bridge = conference.New(conference.Options{
		Scheduler:    clock,
		Prompts:      lib,
		MaxTalkers:   cfg.Mixer.MaxTalkers,
		Logger:       log,
		OwnerName:    ownerNames(filepath.Join(cfg.Data, "names"), log),
		OnPrompt:     m.PromptPlayed,
		OnCallResult: m.CallResult,
		Events:       bus,
		Recorder:     recs.rec,
		Meetings:     sched,
		PINGuard:     guard,
		States:       states,
	})
	var stopping atomic.Bool // /readyz fails from SIGTERM on
	ports := media.NewPortPool(net.IP(cfg.Media.IP.AsSlice()), cfg.Media.PortLo, cfg.Media.PortHi)
	ports.SetTimeouts(media.Timeouts{RTP: cfg.Media.RTPTimeout, Hold: cfg.Media.HoldTimeout})
	srv, err := sip.New(sip.Options{
		Listen:            cfg.SIP.Listen,
		TLS:               cfg.SIP.TLS.Config(),
		MediaIP:           cfg.Media.IP,
		Ports:             ports,
		Symmetric:         sym,
		Directory:         rooms,
		Bridge:            bridge,
		Trusted:           cfg.SIP.Trusted,
		Allow:             cfg.SIP.Allow,
		AuthRealm:         cfg.SIP.Auth.Realm,
		AuthUsers:         authUsers(cfg.SIP.Auth),
		MaxCalls:          cfg.SIP.MaxCalls,
		MaxCallsPerSource: cfg.SIP.MaxCallsPerSource,
		RateLimit:         cfg.SIP.RateLimit,
		UserAgent:         userAgent(cfg.SIP.UserAgent),
		Logger:            log,
		OnCallResult:      m.CallResult,
		OnRefused:         m.Refused,
		Connections:       cfg.SIP.Connections,
		OnConnectionRefused: func(reason string) {
			m.ConnectionRefused("sip", reason)
		},
		OnConnectionTimeout: m.SIPConnectionCut,
		Homes:               homes,
	})
	if err != nil {
		fmt.Fprintln(stderr, "brygga:", err)
		return exitRuntime
	}
	if err := srv.Start(); err != nil {
		fmt.Fprintln(stderr, "brygga:", err)
		return exitRuntime
	}
	m.SIPConnections(srv.Connections)
	web, err := startHTTP(cfg, api.Options{
		Conferences: bridge,
		Directory:   rooms,
		Recordings:  recs.archive,
		Schedules:   sched,
		Lockouts:    guard,
		Tokens:      cfg.API.Tokens,
		Ready:       readiness(&stopping, cachedPing(db.Ping, pingEvery, time.Now)),
		Logger:      log,
		Defaults:    cfg.Defaults,
		Cluster:     apiCluster(cfg, db),
	}, m, stdout)
	if err != nil {
		fmt.Fprintln(stderr, "brygga:", err)
		srv.Close()
		return exitRuntime
	}
	defer web.close()
	if err := advertiseAPI(cfg, db, web.api, log); err != nil {
		fmt.Fprintln(stderr, "brygga:", err)
		srv.Close()
		return exitRuntime
	}
	stopIntake, err := sched.listen(cfg.Mail.Listen, stdout)
	if err != nil {
		fmt.Fprintln(stderr, "brygga:", err)
		srv.Close()
		return exitRuntime
	}
	defer stopIntake()
	for _, l := range srv.Bound() {
		fmt.Fprintf(stdout, "brygga %s: sip listening on %s:%s\n", version, l.Transport, l.Addr)
	}
	fmt.Fprintf(stdout, "brygga %s: rtp on %s ports %d-%d\n", version, cfg.Media.IP, cfg.Media.PortLo, cfg.Media.PortHi)
	fmt.Fprintf(stdout, "brygga %s: data in %s\n", version, cfg.Data)
	if cfg.Cluster.NodeID != "" {
		fmt.Fprintf(stdout, "brygga %s: cluster node %s, reached at %s\n", version, cfg.Cluster.NodeID, cfg.Cluster.Advertise)
	}
	if cfg.OpenRoomsRE != nil {
		fmt.Fprintf(stdout, "brygga %s: open rooms: extensions matching %s; %d in the directory\n", version, cfg.OpenRooms, len(rooms.List()))
	} else {
		fmt.Fprintf(stdout, "brygga %s: rooms: %d in the directory\n", version, len(rooms.List()))
	}

	<-ctx.Done()
	stopping.Store(true)
	srv.Drain()
	// ctx has taken the first signal; a second one ends every call at once.
	hurry := make(chan os.Signal, 1)
	signal.Notify(hurry, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(hurry)
	log.Info("draining", "calls", bridge.Calls(), "grace", cfg.ShutdownGrace)
	drain(bridge, cfg.ShutdownGrace, hurry, log)
	wctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	if err := srv.Wait(wctx); err != nil {
		log.Warn("calls still open at exit", "calls", srv.Calls())
	}
	srv.Close()
	log.Info("drained")
	return exitOK
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

// userAgent is the Server/User-Agent header: the configured one, or brygga
// with its version so that a PBX trace shows which build answered.
func userAgent(configured string) string {
	if configured == "" || configured == "brygga" {
		return "brygga/" + version
	}
	return configured
}

// ownerNames finds an owner's recorded name for the greeting in
// DIR/<extension>.wav (or .sln, .ulaw, … as in a prompts folder). It is
// read at each call so that a new recording needs no restart.
func ownerNames(dir string, log *slog.Logger) func(string) []int16 {
	return func(ext string) []int16 {
		pcm, err := prompts.LoadSound(filepath.Join(dir, ext))
		if err != nil {
			log.Warn("owner name recording unreadable", "extension", ext, "err", err)
			return nil
		}
		return pcm
	}
}

// storeLocation is the database serve opens: store.url, else brygga.db in
// the data folder.
func storeLocation(cfg *config.Config) string {
	if cfg.Store.URL != "" {
		return cfg.Store.URL
	}
	return filepath.Join(cfg.Data, "brygga.db")
}
