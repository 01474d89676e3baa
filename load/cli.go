package load

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"brygga/media/codec"
)

// Exit statuses of `brygga load`, the same as for every other
// command.
const (
	ExitOK      = 0
	ExitFailed  = 1 // the run failed a limit, or could not be done
	ExitBadFlag = 2
)

// FlagError is a bad flag or environment variable; its message names the
// flag.
type FlagError struct {
	Flag string // with its dashes, e.g. "--rooms"
	Msg  string
}

func (e *FlagError) Error() string { return e.Flag + ": " + e.Msg }

// Options is a parsed command line: a generator run, or the reflector.
type Options struct {
	Reflect   bool
	Generator Config
	Reflector ReflectConfig
	JSON      bool
	LogLevel  slog.Level
}

// envPrefix: every flag also reads BRYGGA_LOAD_<NAME> (dashes as
// underscores) when it is not given; the flag wins.
const envPrefix = "BRYGGA_LOAD_"

// generatorOnly and reflectorOnly are the flags that mean nothing in the
// other mode; giving one there is a mistake worth an exit status 2.
var (
	generatorOnly = []string{"target", "rooms", "rooms-list", "room-base", "per-room", "talkers", "duration", "settle",
		"ramp", "pin", "pin-in-uri", "codec", "transport", "burst", "pause", "echo", "cpu-pid", "local-ip",
		"setup-timeout", "deadline", "hold", "max-failed", "max-loss", "max-jitter", "max-delay", "max-leaks", "max-missed"}
	reflectorOnly = []string{"listen", "rtp-ports"}
)

// ParseArgs reads `brygga load` flags (after the command name).
func ParseArgs(args []string, getenv func(string) string) (*Options, error) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	fs := flag.NewFlagSet("brygga load", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	d := Defaults
	var (
		o         Options
		target    = fs.String("target", d.Target, "the bridge's SIP address: sip:HOST:PORT or HOST:PORT")
		rooms     = fs.Int("rooms", 1, "rooms, dialled as consecutive extensions from --room-base")
		roomsList = fs.String("rooms-list", "", "the rooms' extensions, comma separated (instead of --rooms and --room-base)")
		roomBase  = fs.Int("room-base", 4711, "extension of the first room")
		perRoom   = fs.Int("per-room", d.PerRoom, "callers per room")
		talkers   = fs.Int("talkers", d.Talkers, "callers per room that talk (tone bursts); the others are silent")
		duration  = fs.Duration("duration", d.Duration, "the measured steady state")
		settle    = fs.Duration("settle", d.Settle, "wait after the last call was set up before measuring (the bridge's prompts end)")
		ramp      = fs.Float64("ramp", d.Ramp, "new calls per second")
		pin       = fs.String("pin", "", "PIN keyed as RFC 4733 events after answer, followed by # (none: rooms without PIN)")
		pinInURI  = fs.Bool("pin-in-uri", false, "dial EXT*PIN instead of keying the PIN")
		codecName = fs.String("codec", "pcmu", "pcmu or pcma")
		transport = fs.String("transport", d.Transport, "udp or tcp")
		burst     = fs.Duration("burst", d.Burst, "a talker's tone burst")
		pause     = fs.Duration("pause", d.Pause, "the silence after each burst; 0 talks without pause")
		echo      = fs.Bool("echo", false, "the target echoes each caller to itself (brygga load --reflect) instead of mixing rooms")
		cpuPID    = fs.Int("cpu-pid", 0, "the bridge's process ID: its CPU and memory over the window, from /proc")
		localIP   = fs.String("local-ip", "", "the callers' address (default: 127.0.0.1 for a loopback target, else the route's)")
		setupTO   = fs.Duration("setup-timeout", d.SetupTimeout, "per call, INVITE to answer")
		deadline  = fs.Duration("deadline", 0, "hard limit of the whole run (default: ramp + setup timeout + settle + duration + 10s)")
		hold      = fs.String("hold", "", "churn: every call hangs up after a random hold MIN..MAX from its answer (e.g. 20s..90s) and a new call takes its seat")
		maxFailed = fs.Int("max-failed", -1, "fail (exit 1) when more calls fail: unanswered, PIN not keyed, or dropped (-1: no limit)")
		maxLoss   = fs.Float64("max-loss", -1, "fail when loss exceeds this percentage (-1: no limit)")
		maxJitter = fs.Duration("max-jitter", 0, "fail when jitter p99 exceeds this (0: no limit)")
		maxDelay  = fs.Duration("max-delay", 0, "fail when added delay p99 exceeds this (0: no limit)")
		maxLeaks  = fs.Int("max-leaks", -1, "fail when more separation violations (leaks between rooms, self-echo) are heard (-1: no limit)")
		maxMissed = fs.Int("max-missed", -1, "fail when more listener-talker pairs are never heard (-1: no limit)")
		jsonOut   = fs.Bool("json", false, "print the report as JSON")
		logLevel  = fs.String("log-level", "warn", "SIP log on stderr: debug, info, warn or error")
		reflect   = fs.Bool("reflect", false, "be the floor instead: a SIP callee echoing every caller's packets")
		listen    = fs.String("listen", "127.0.0.1:5090", "--reflect: SIP address (UDP and TCP)")
		rtpPorts  = fs.String("rtp-ports", "30000-39999", "--reflect: RTP ports LO-HI")
	)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, &FlagError{Flag: flagInError(err), Msg: err.Error()}
	}
	if fs.NArg() > 0 {
		return nil, &FlagError{Flag: fs.Arg(0), Msg: "unexpected argument (all settings are flags)"}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || envErr != nil {
			return
		}
		name := envPrefix + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := getenv(name); v != "" {
			if err := fs.Set(f.Name, v); err != nil {
				envErr = &FlagError{Flag: "--" + f.Name, Msg: fmt.Sprintf("%s=%q: %v", name, v, err)}
			}
			set[f.Name] = true
		}
	})
	if envErr != nil {
		return nil, envErr
	}
	bad := func(name, format string, a ...any) error {
		return &FlagError{Flag: "--" + name, Msg: fmt.Sprintf(format, a...)}
	}
	lvl, ok := map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}[strings.ToLower(*logLevel)]
	if !ok {
		return nil, bad("log-level", "%q: want debug, info, warn or error", *logLevel)
	}
	o.LogLevel = lvl
	o.JSON = *jsonOut
	o.Reflect = *reflect

	if o.Reflect {
		for _, name := range generatorOnly {
			if set[name] {
				return nil, bad(name, "means nothing with --reflect")
			}
		}
		lo, hi, err := parsePorts(*rtpPorts)
		if err != nil {
			return nil, bad("rtp-ports", "%v", err)
		}
		ap, err := netip.ParseAddrPort(*listen)
		if err != nil {
			return nil, bad("listen", "%q: want IP:PORT (%v)", *listen, err)
		}
		if ap.Addr().IsUnspecified() {
			return nil, bad("listen", "%q: give the address the SDP is to carry, not a wildcard", *listen)
		}
		o.Reflector = ReflectConfig{Listen: *listen, PortLo: lo, PortHi: hi}
		return &o, nil
	}
	for _, name := range reflectorOnly {
		if set[name] {
			return nil, bad(name, "is for --reflect only")
		}
	}

	g := &o.Generator
	t, err := parseTarget(*target)
	if err != nil {
		return nil, bad("target", "%v", err)
	}
	g.Target = t
	switch {
	case *roomsList != "":
		if set["room-base"] {
			return nil, bad("room-base", "give --rooms-list or --room-base, not both")
		}
		for _, r := range strings.Split(*roomsList, ",") {
			r = strings.TrimSpace(r)
			if r == "" || strings.Trim(r, "0123456789") != "" {
				return nil, bad("rooms-list", "%q is not an extension of digits", r)
			}
			g.Rooms = append(g.Rooms, r)
		}
		if set["rooms"] && *rooms != len(g.Rooms) {
			return nil, bad("rooms", "%d rooms, but --rooms-list names %d", *rooms, len(g.Rooms))
		}
	default:
		if *rooms < 1 || *rooms > 100000 {
			return nil, bad("rooms", "%d: want 1 to 100000", *rooms)
		}
		if *roomBase < 0 {
			return nil, bad("room-base", "%d is negative", *roomBase)
		}
		for i := range *rooms {
			g.Rooms = append(g.Rooms, strconv.Itoa(*roomBase+i))
		}
	}
	switch {
	case *perRoom < 1:
		return nil, bad("per-room", "%d: want 1 or more", *perRoom)
	case *talkers < 0 || *talkers > *perRoom:
		return nil, bad("talkers", "%d: want 0 to --per-room (%d)", *talkers, *perRoom)
	case *duration < time.Second:
		return nil, bad("duration", "%s: want at least 1s", *duration)
	case *settle < 0:
		return nil, bad("settle", "%s is negative", *settle)
	case !(*ramp > 0) || *ramp > 10000:
		return nil, bad("ramp", "%g calls per second: want more than 0", *ramp)
	case *burst < 40*time.Millisecond:
		return nil, bad("burst", "%s: want at least 40ms", *burst)
	case *pause < 0 || (*pause > 0 && *pause < 40*time.Millisecond):
		return nil, bad("pause", "%s: want 0 or at least 40ms", *pause)
	case *setupTO <= 0:
		return nil, bad("setup-timeout", "%s: want more than 0", *setupTO)
	case *deadline < 0:
		return nil, bad("deadline", "%s is negative", *deadline)
	case *cpuPID < 0:
		return nil, bad("cpu-pid", "%d is negative", *cpuPID)
	case *transport != "udp" && *transport != "tcp":
		return nil, bad("transport", "%q: want udp or tcp", *transport)
	case strings.Trim(*pin, "0123456789*#") != "":
		return nil, bad("pin", "%q: digits, * and # only", *pin)
	case *pinInURI && *pin == "":
		return nil, bad("pin-in-uri", "needs --pin")
	}
	if *hold != "" {
		h, err := ParseHold(*hold)
		if err != nil {
			return nil, bad("hold", "%v", err)
		}
		o.Generator.Hold = h
	}
	if *cpuPID > 0 {
		if _, err := procCPU(*cpuPID); err != nil {
			return nil, bad("cpu-pid", "%d: %v", *cpuPID, err)
		}
	}
	g.Codec = codec.ByName(*codecName)
	if g.Codec == nil || g.Codec.ClockRate() != 8000 {
		return nil, bad("codec", "%q: want pcmu or pcma", *codecName)
	}
	if *localIP != "" {
		ip, err := netip.ParseAddr(*localIP)
		if err != nil {
			return nil, bad("local-ip", "%v", err)
		}
		g.LocalIP = ip
	}
	g.Transport = *transport
	g.PerRoom, g.Talkers = *perRoom, *talkers
	g.Duration, g.Settle, g.Ramp = *duration, *settle, *ramp
	g.PIN, g.PINInURI = *pin, *pinInURI
	g.Burst, g.Pause = *burst, *pause
	if g.Pause == 0 {
		g.Pause = -1 // Config's zero is the default pause
	}
	g.Echo = *echo
	g.CPUPID = *cpuPID
	g.SetupTimeout, g.Deadline = *setupTO, *deadline
	g.Limits = Limits{MaxFailed: *maxFailed, MaxLoss: *maxLoss, MaxJitter: *maxJitter, MaxDelay: *maxDelay, MaxLeaks: *maxLeaks, MaxMissed: *maxMissed}
	return &o, nil
}

// flagInError digs the flag's name out of the flag package's message
// ("invalid value … for flag -rooms: …", "flag provided but not defined: -x").
func flagInError(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, " -"); i >= 0 {
		name := strings.TrimLeft(msg[i+1:], "-")
		name, _, _ = strings.Cut(name, ":")
		name, _, _ = strings.Cut(name, " ")
		return "--" + name
	}
	return "flags"
}

// parseTarget accepts sip:HOST:PORT, sip:user@HOST:PORT;params and
// HOST:PORT, and gives HOST:PORT (port 5060 when none).
func parseTarget(s string) (string, error) {
	t := strings.TrimSpace(s)
	t = strings.TrimPrefix(strings.TrimPrefix(t, "sip:"), "SIP:")
	if i := strings.LastIndexByte(t, '@'); i >= 0 {
		t = t[i+1:]
	}
	t, _, _ = strings.Cut(t, ";")
	if t == "" {
		return "", fmt.Errorf("%q has no host", s)
	}
	if ap, err := netip.ParseAddrPort(t); err == nil {
		return ap.String(), nil
	}
	if ip, err := netip.ParseAddr(strings.Trim(t, "[]")); err == nil {
		return netip.AddrPortFrom(ip, 5060).String(), nil
	}
	host, port, ok := strings.Cut(t, ":")
	if !ok {
		port = "5060"
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 || host == "" || strings.ContainsAny(host, " /[]") {
		return "", fmt.Errorf("%q: want sip:HOST:PORT or HOST:PORT", s)
	}
	return host + ":" + port, nil
}

func parsePorts(s string) (lo, hi int, err error) {
	a, b, ok := strings.Cut(s, "-")
	lo, err1 := strconv.Atoi(strings.TrimSpace(a))
	hi, err2 := strconv.Atoi(strings.TrimSpace(b))
	if !ok || err1 != nil || err2 != nil || lo < 1024 || hi > 65535 || hi <= lo {
		return 0, 0, fmt.Errorf("%q: want LO-HI, 1024 ≤ LO < HI ≤ 65535", s)
	}
	return lo, hi, nil
}

const usage = `usage:
  brygga load [--target sip:HOST:PORT] [--rooms R | --rooms-list EXT,EXT…] [--room-base EXT]
              [--per-room P] [--talkers T] [--duration D] [--settle D] [--ramp CPS]
              [--pin PIN] [--pin-in-uri] [--codec pcmu|pcma] [--transport udp|tcp]
              [--burst D] [--pause D] [--echo] [--cpu-pid PID] [--json]
              [--max-failed N] [--max-loss PCT] [--max-jitter D] [--max-delay D]
              [--max-leaks N] [--max-missed N] [--deadline D] [--hold MIN..MAX]
  brygga load --reflect [--listen IP:PORT] [--rtp-ports LO-HI]

Places real SIP calls to a conference bridge (R rooms × P callers, T of them
talking in tone bursts) and reports calls, loss, jitter, added delay and room
separation over a steady window; with --hold the callers churn: each hangs up
after a random hold and a new call takes its seat, for the whole run.
--reflect is the floor to compare with: a SIP callee that echoes each
caller's packets (measure it with --echo).
Exit status: 0 done, 1 a --max-… limit exceeded or the run failed, 2 bad flags.
Every flag also reads BRYGGA_LOAD_<FLAG> (e.g. BRYGGA_LOAD_TARGET).
`

// Command is `brygga load`: it parses args, runs the generator or the
// reflector, prints the outcome and returns the exit status.
func Command(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	o, err := ParseArgs(args, getenv)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usage)
			return ExitOK
		}
		fmt.Fprintf(stderr, "brygga load: %v\n", err)
		fmt.Fprint(stderr, usage)
		return ExitBadFlag
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: o.LogLevel}))
	if o.Reflect {
		return reflectCommand(ctx, o, log, stdout, stderr)
	}
	cfg := o.Generator
	cfg.Logger = log
	cfg.Progress = stderr
	rep, err := Run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "brygga load: %v\n", err)
		return ExitFailed
	}
	if o.JSON {
		if err := rep.WriteJSON(stdout); err != nil {
			fmt.Fprintf(stderr, "brygga load: %v\n", err)
			return ExitFailed
		}
	} else {
		rep.WriteText(stdout)
	}
	if !rep.OK {
		return ExitFailed
	}
	return ExitOK
}

func reflectCommand(ctx context.Context, o *Options, log *slog.Logger, stdout, stderr io.Writer) int {
	cfg := o.Reflector
	cfg.Logger = log
	r, err := StartReflector(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "brygga load: %v\n", err)
		return ExitFailed
	}
	fmt.Fprintf(stdout, "brygga load --reflect: SIP on udp:%s and tcp:%s, RTP %d-%d, pid %d\n",
		r.Addr(), r.Addr(), cfg.PortLo, cfg.PortHi, os.Getpid())
	<-ctx.Done()
	err = r.Close()
	st := r.Stats()
	if o.JSON {
		_ = json.NewEncoder(stdout).Encode(st)
	} else {
		fmt.Fprintf(stdout, "brygga load --reflect: stopped; %d calls, %d packets in, %d out\n", st.Calls, st.PacketsIn, st.PacketsOut)
	}
	if err != nil {
		fmt.Fprintf(stderr, "brygga load: %v\n", err)
		return ExitFailed
	}
	return ExitOK
}
