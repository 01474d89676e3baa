// Package ctl is `brygga ctl`, the operator's command line over the admin
// API (docs/api.md): one subcommand per API action, tables for people and
// --json for scripts. Everything goes through the HTTP API, never the
// bridge's own packages, so ctl can do nothing a script with curl could
// not, and a remote bridge is managed the same way as a local one.
package ctl

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Exit statuses, the same as the server's (docs/ctl.md).
const (
	ExitOK      = 0
	ExitFailure = 1 // the API refused, or the bridge could not be reached
	ExitUsage   = 2 // a mistake on the command line
)

// usageError is a mistake on the command line; it exits 2 and shows the
// command's usage.
type usageError struct {
	cmd *command
	msg string
}

func (e *usageError) Error() string { return e.msg }

// session is one invocation: the common flags and where output goes.
type session struct {
	api, token string
	ca         string // PEM file of the CA (or certificate) an https API is checked against
	json       bool
	getenv     func(string) string
	stdout     io.Writer
	stderr     io.Writer
	cmd        *command
	client     *Client
	// newClient lets tests shorten the client's timeouts.
	newClient func(base, token string) (*Client, error)
}

type command struct {
	name    string
	args    string // positional arguments, for usage
	summary string
	flags   func(fs *flag.FlagSet) // the command's own flags
	run     func(ctx context.Context, s *session, args []string) error
	// min and max positional arguments; max < 0 is unlimited.
	min, max int
}

var commands []*command

func init() {
	commands = []*command{
		{name: "conferences", summary: "list live conferences", run: listConferences},
		{name: "conference", args: "ROOM", summary: "one conference with its participants", min: 1, max: 1, run: showConference},
		participantCmd("mute", "mute a participant"),
		participantCmd("unmute", "unmute a participant"),
		participantCmd("kick", "remove a participant (they hear conf-kicked, then BYE)"),
		participantCmd("admit", "let a participant in from the lobby"),
		participantCmd("floor", "give a participant the floor (unmute, lower the hand)"),
		roomCmd("lock", "lock", "let nobody new in"),
		roomCmd("unlock", "unlock", "open the conference again"),
		{name: "lecture", args: "ROOM [on|off]", summary: "lecture mode: everyone but hosts muted (default on)", min: 1, max: 2, run: lecture},
		{name: "record", args: "ROOM start|stop", summary: "start or stop recording", min: 2, max: 2, run: record},
		{name: "extend", args: "ROOM MINUTES", summary: "move the end of the meeting by MINUTES (1-600)", min: 2, max: 2, run: extend},
		roomCmd("end", "end", "end the meeting for everyone"),
		{name: "dial", args: "ROOM URI", summary: "dial out to a SIP URI and join the call to the room", min: 2, max: 2, run: dial},
		{name: "rooms", summary: "list the room directory", run: listRooms},
		{name: "room", args: "[set|delete] EXTENSION [flags]",
			summary: "show, create or change, or delete a directory room", min: 1, max: 2, flags: roomFlags, run: room},
		{name: "recordings", summary: "list recordings and their delivery", run: listRecordings},
		{name: "recording", args: "[audio|retry|delete] ID [-o FILE]",
			summary: "show a recording, download its WAV, deliver it again now, or delete it", min: 1, max: 2, flags: recordingFlags, run: recording},
		{name: "schedules", summary: "list meetings booked from calendar invites", run: listSchedules},
		{name: "schedule", args: "ID | delete ID | submit FILE.ics",
			summary: "show or delete a scheduled meeting, or book one from an invite (- for stdin)", min: 1, max: 2, run: schedule},
		{name: "lockouts", summary: "list PIN lockouts in force (rooms and source addresses)", run: listLockouts},
		{name: "lift", args: "room|source KEY", summary: "lift a PIN lockout now: a room by extension, a source by address",
			min: 2, max: 2, run: lift},
		{name: "events", args: "[--room ROOM] [--after ID] [--watch]",
			summary: "print events: past ones after ID, or follow live with --watch", flags: eventFlags, run: eventsCmd},
		{name: "health", summary: "is the bridge alive and ready", run: health},
		{name: "help", args: "[COMMAND]", summary: "this list, or one command's usage", max: 1},
	}
}

// Run is `brygga ctl` with args after "ctl"; it returns the exit status.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	return run(ctx, args, getenv, stdout, stderr, NewClient)
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer,
	newClient func(string, string) (*Client, error)) int {
	s := &session{getenv: getenv, stdout: stdout, stderr: stderr, newClient: newClient}
	top := flag.NewFlagSet("ctl", flag.ContinueOnError)
	top.SetOutput(io.Discard)
	s.common(top)
	if err := top.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout)
			return ExitOK
		}
		fmt.Fprintf(stderr, "brygga ctl: %v\n", err)
		usage(stderr)
		return ExitUsage
	}
	args = top.Args()
	if len(args) == 0 {
		fmt.Fprintln(stderr, "brygga ctl: which command? (brygga ctl help)")
		usage(stderr)
		return ExitUsage
	}
	name, args := args[0], args[1:]
	if name == "help" {
		return help(args, stdout, stderr)
	}
	cmd := lookup(name)
	if cmd == nil {
		fmt.Fprintf(stderr, "brygga ctl: unknown command %q (brygga ctl help lists them)\n", name)
		return ExitUsage
	}
	s.cmd = cmd
	err := cmd.run(ctx, s, args)
	if err == nil {
		return ExitOK
	}
	if errors.Is(err, flag.ErrHelp) {
		commandUsage(stdout, cmd)
		return ExitOK
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "brygga ctl: %s: %s\n", cmd.name, ue.msg)
		commandUsage(stderr, cmd)
		return ExitUsage
	}
	fmt.Fprintf(stderr, "brygga ctl: %v\n", err)
	return ExitFailure
}

func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// common registers the flags every command takes, before or after its
// name, so `ctl --json rooms` and `ctl rooms --json` both work.
func (s *session) common(fs *flag.FlagSet) {
	fs.StringVar(&s.api, "api", s.api, "admin API `URL` (env BRYGGA_API; default "+DefaultAPI+")")
	fs.StringVar(&s.token, "token", s.token, "bearer `token` (env BRYGGA_TOKEN)")
	fs.StringVar(&s.ca, "ca", s.ca, "PEM `file` to trust for an https API with its own certificate (env BRYGGA_CA)")
	fs.BoolVar(&s.json, "json", s.json, "print the API's JSON instead of tables")
}

// parse reads the command's flags, which may come before, between or
// after its positional arguments, checks how many positionals there are,
// and makes the client from flags and environment.
func (s *session) parse(fs *flag.FlagSet, args []string) ([]string, error) {
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, &usageError{cmd: s.cmd, msg: err.Error()}
	}
	c := s.cmd
	if len(pos) < c.min || (c.max >= 0 && len(pos) > c.max) {
		want := c.args
		if want == "" {
			want = "no arguments"
		}
		return nil, &usageError{cmd: c, msg: fmt.Sprintf("expected %s, got %s", want, plural(len(pos), "argument"))}
	}
	for i, p := range pos {
		if strings.TrimSpace(p) == "" {
			return nil, &usageError{cmd: c, msg: fmt.Sprintf("argument %d is empty", i+1)}
		}
	}
	api := s.api
	if api == "" {
		api = s.getenv("BRYGGA_API")
	}
	token := s.token
	if token == "" {
		token = s.getenv("BRYGGA_TOKEN")
	}
	cl, err := s.newClient(api, token)
	if err != nil {
		return nil, &usageError{cmd: c, msg: err.Error()}
	}
	ca := s.ca
	if ca == "" {
		ca = s.getenv("BRYGGA_CA")
	}
	if ca != "" {
		if err := cl.TrustPEM(ca); err != nil {
			return nil, &usageError{cmd: c, msg: err.Error()}
		}
	}
	s.client = cl
	return pos, nil
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

// parseInterspersed is flag.Parse that does not stop at the first
// positional argument: operators write `room set 4711 --pin 1234`. A "--"
// still ends the flags.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// flagSet is a command's flag set with the common flags.
func (s *session) flagSet() *flag.FlagSet {
	fs := flag.NewFlagSet(s.cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	s.common(fs)
	return fs
}

// simple parses a command without flags of its own.
func (s *session) simple(args []string) ([]string, error) {
	return s.parse(s.flagSet(), args)
}

// print writes the raw answer with --json, or what human writes.
func (s *session) print(raw []byte, human func(io.Writer) error) error {
	if s.json {
		if len(raw) > 0 && raw[len(raw)-1] != '\n' {
			raw = append(raw, '\n')
		}
		_, err := s.stdout.Write(raw)
		return err
	}
	return human(s.stdout)
}

func listConferences(ctx context.Context, s *session, args []string) error {
	if _, err := s.simple(args); err != nil {
		return err
	}
	var cs []Conference
	raw, err := s.client.Get(ctx, "/api/v1/conferences", &cs)
	if err != nil {
		return err
	}
	return s.print(raw, func(w io.Writer) error { return WriteConferences(w, cs) })
}

func showConference(ctx context.Context, s *session, args []string) error {
	pos, err := s.simple(args)
	if err != nil {
		return err
	}
	var c Conference
	raw, err := s.client.Get(ctx, "/api/v1/conferences/"+esc(pos[0]), &c)
	if err != nil {
		return err
	}
	return s.print(raw, func(w io.Writer) error { return WriteConference(w, c) })
}

// act POSTs an action and prints its result.
func (s *session) act(ctx context.Context, path string, body any) error {
	_, raw, err := s.client.Do(ctx, http.MethodPost, path, body)
	if err != nil {
		return err
	}
	var r ActionResult
	if err := json.Unmarshal(raw, &r); err != nil {
		return fmt.Errorf("unexpected answer from %s: %v", path, err)
	}
	return s.print(raw, func(w io.Writer) error {
		_, err := fmt.Fprintln(w, actionLine(r))
		return err
	})
}

func participantCmd(action, summary string) *command {
	return &command{name: action, args: "ROOM PARTICIPANT", summary: summary, min: 2, max: 2,
		run: func(ctx context.Context, s *session, args []string) error {
			pos, err := s.simple(args)
			if err != nil {
				return err
			}
			return s.act(ctx, "/api/v1/conferences/"+esc(pos[0])+"/participants/"+esc(pos[1])+"/"+action, nil)
		}}
}

func roomCmd(name, path, summary string) *command {
	return &command{name: name, args: "ROOM", summary: summary, min: 1, max: 1,
		run: func(ctx context.Context, s *session, args []string) error {
			pos, err := s.simple(args)
			if err != nil {
				return err
			}
			return s.act(ctx, "/api/v1/conferences/"+esc(pos[0])+"/"+path, nil)
		}}
}

func lecture(ctx context.Context, s *session, args []string) error {
	pos, err := s.simple(args)
	if err != nil {
		return err
	}
	on := true
	if len(pos) == 2 {
		if on, err = parseOnOff(pos[1]); err != nil {
			return &usageError{cmd: s.cmd, msg: err.Error()}
		}
	}
	return s.act(ctx, "/api/v1/conferences/"+esc(pos[0])+"/lecture", map[string]bool{"on": on})
}

func record(ctx context.Context, s *session, args []string) error {
	pos, err := s.simple(args)
	if err != nil {
		return err
	}
	if pos[1] != "start" && pos[1] != "stop" {
		return &usageError{cmd: s.cmd, msg: fmt.Sprintf("%q: expected start or stop", pos[1])}
	}
	return s.act(ctx, "/api/v1/conferences/"+esc(pos[0])+"/record/"+pos[1], nil)
}

func extend(ctx context.Context, s *session, args []string) error {
	pos, err := s.simple(args)
	if err != nil {
		return err
	}
	// The range is the bridge's to check, so ctl need not change when it
	// does; a word where a number belongs is a mistake of the command line.
	n, err := strconv.Atoi(pos[1])
	if err != nil {
		return &usageError{cmd: s.cmd, msg: fmt.Sprintf("minutes: %q is not a whole number", pos[1])}
	}
	return s.act(ctx, "/api/v1/conferences/"+esc(pos[0])+"/extend", map[string]int{"minutes": n})
}

func dial(ctx context.Context, s *session, args []string) error {
	pos, err := s.simple(args)
	if err != nil {
		return err
	}
	return s.act(ctx, "/api/v1/conferences/"+esc(pos[0])+"/dial", map[string]string{"uri": pos[1]})
}

func health(ctx context.Context, s *session, args []string) error {
	if _, err := s.simple(args); err != nil {
		return err
	}
	live, err := s.client.Get(ctx, "/healthz", nil)
	if err != nil {
		return err
	}
	ready, readyErr := s.client.Get(ctx, "/readyz", nil)
	var apiErr *APIError
	if readyErr != nil && !errors.As(readyErr, &apiErr) {
		return readyErr
	}
	if readyErr != nil {
		ready, _ = json.Marshal(map[string]string{"error": apiErr.Message})
	}
	out := s.print(
		fmt.Appendf(nil, `{"healthz":%s,"readyz":%s}`, strings.TrimSpace(string(live)), strings.TrimSpace(string(ready))),
		func(w io.Writer) error {
			state := "ready"
			if readyErr != nil {
				state = "not ready: " + readyErr.Error()
			}
			_, err := fmt.Fprintf(w, "alive\n%s\n", state)
			return err
		})
	if readyErr != nil {
		return readyErr
	}
	return out
}

func eventFlags(fs *flag.FlagSet) {
	fs.String("room", "", "only events of `ROOM`")
	fs.String("after", "", "start after event `ID` (what the backlog still holds)")
	fs.Bool("watch", false, "follow live until interrupted, reconnecting after drops")
	fs.Duration("wait", time.Second, "without --watch: stop once no event came for this `duration`")
}

func eventsCmd(ctx context.Context, s *session, args []string) error {
	fs := s.flagSet()
	eventFlags(fs)
	if _, err := s.parse(fs, args); err != nil {
		return err
	}
	get := func(name string) flag.Value { return fs.Lookup(name).Value }
	q := EventQuery{
		Room:   get("room").String(),
		After:  get("after").String(),
		Follow: get("watch").(flag.Getter).Get().(bool),
		Quiet:  get("wait").(flag.Getter).Get().(time.Duration),
	}
	if q.After != "" {
		if _, err := strconv.ParseUint(q.After, 10, 64); err != nil {
			return &usageError{cmd: s.cmd, msg: fmt.Sprintf("after: %q is not an event id", q.After)}
		}
	}
	if !q.Follow && q.After == "" {
		// The bridge streams only what happens next unless given an id,
		// so a one-off read without one would print nothing.
		return &usageError{cmd: s.cmd, msg: "give --after ID to list past events, or --watch to follow"}
	}
	if q.Quiet <= 0 {
		return &usageError{cmd: s.cmd, msg: "wait: must be more than 0"}
	}
	q.OnDrop = func(err error, wait time.Duration) {
		why := "the bridge closed the stream"
		if err != nil {
			why = err.Error()
		}
		fmt.Fprintf(s.stderr, "brygga ctl: events: %s; reconnecting in %s\n", why, wait)
	}
	return s.client.Events(ctx, q, func(m Message) error {
		if m.Type == "gap" {
			var g struct {
				After uint64 `json:"after"`
			}
			json.Unmarshal(m.Data, &g)
			if s.json {
				_, err := fmt.Fprintf(s.stdout, "{\"type\":\"gap\",\"after\":%d}\n", g.After)
				return err
			}
			fmt.Fprintf(s.stderr, "brygga ctl: events after %d are no longer kept by the bridge; some were missed (brygga ctl conferences shows the state now)\n", g.After)
			return nil
		}
		if s.json {
			_, err := fmt.Fprintf(s.stdout, "%s\n", m.Data)
			return err
		}
		var e Event
		if err := json.Unmarshal(m.Data, &e); err != nil {
			fmt.Fprintf(s.stderr, "brygga ctl: events: unreadable event %s: %v\n", m.ID, err)
			return nil
		}
		return WriteEvent(s.stdout, e)
	})
}

func help(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stdout)
		return ExitOK
	}
	c := lookup(args[0])
	if c == nil || len(args) > 1 {
		fmt.Fprintf(stderr, "brygga ctl: help: unknown command %q\n", strings.Join(args, " "))
		return ExitUsage
	}
	commandUsage(stdout, c)
	return ExitOK
}

func usage(w io.Writer) {
	fmt.Fprint(w, "usage: brygga ctl [--api URL] [--token T] [--json] <command> [arguments]\n\ncommands:\n")
	tw := table(w)
	for _, c := range commands {
		fmt.Fprintf(tw, "  %s %s\t%s\n", c.name, c.args, c.summary)
	}
	tw.Flush()
	fmt.Fprint(w, `
common flags (before or after the command):
  --api URL    the bridge's admin API (env BRYGGA_API; default `+DefaultAPI+`)
  --token T    bearer token (env BRYGGA_TOKEN)
  --ca FILE    PEM certificate(s) to trust for an https API (env BRYGGA_CA)
  --json       print the API's JSON instead of tables

exit status: 0 done, 1 the bridge refused or could not be reached, 2 usage error
`)
}

func commandUsage(w io.Writer, c *command) {
	fmt.Fprintf(w, "usage: brygga ctl %s %s\n  %s\n", c.name, c.args, c.summary)
	if c.flags == nil {
		return
	}
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	c.flags(fs)
	fs.SetOutput(w)
	fmt.Fprintln(w, "flags:")
	fs.PrintDefaults()
}
