package ctl

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// The API's answers as ctl reads them. Unknown keys are ignored so that an
// older ctl still shows what it knows of a newer bridge.

// Conference is one live conference (GET /api/v1/conferences[/{room}]).
type Conference struct {
	Room         string   `json:"room"`
	Node         string   `json:"node"` // the node mixing it; "" on a single bridge
	Started      string   `json:"started"`
	EndsAt       string   `json:"ends_at"`
	Participants int      `json:"participants"`
	Locked       bool     `json:"locked"`
	Lecture      bool     `json:"lecture"`
	Recording    bool     `json:"recording"`
	Members      []Member `json:"members"`
	Mixer        *Mixer   `json:"mixer"`
}

// Member is a participant of a conference.
type Member struct {
	ID       string `json:"id"`
	CallerID string `json:"caller_id"`
	Role     string `json:"role"`
	Muted    bool   `json:"muted"`
	Talking  bool   `json:"talking"`
	Hand     bool   `json:"hand"`
	Lobby    bool   `json:"lobby"`
	Named    bool   `json:"named"`
	JoinedAt string `json:"joined_at"`
}

// Mixer is a conference's mixer statistics.
type Mixer struct {
	Ticks         uint64  `json:"ticks"`
	LateTicks     uint64  `json:"late_ticks"`
	Skipped       uint64  `json:"skipped"`
	Resyncs       uint64  `json:"resyncs"`
	MaxLatenessMS float64 `json:"max_lateness_ms"`
}

// Room is a directory room (GET /api/v1/rooms[/{extension}]).
type Room struct {
	Extension        string   `json:"extension"`
	Name             string   `json:"name"`
	Email            string   `json:"email"`
	Delegates        []string `json:"delegates"`
	Voicemail        string   `json:"voicemail"`
	Sensitive        bool     `json:"sensitive"`
	HasPIN           bool     `json:"has_pin"`
	HasHostPIN       bool     `json:"has_host_pin"`
	Language         string   `json:"language"`
	MaxMinutes       int      `json:"max_minutes"`
	WarnMinutes      []int    `json:"warn_minutes"`
	EarlyJoinMinutes int      `json:"early_join_minutes"`
	Names            bool     `json:"names"`
	NamesMaxRoom     int      `json:"names_max_room"`
	Lobby            bool     `json:"lobby"`
	WaitForHost      bool     `json:"wait_for_host"`
	EndWithHost      bool     `json:"end_with_host"`
	Record           bool     `json:"record"`
}

// ActionResult answers every conference and participant action.
type ActionResult struct {
	Room        string `json:"room"`
	Participant string `json:"participant"`
	Action      string `json:"action"`
	On          *bool  `json:"on"`
	EndsAt      string `json:"ends_at"`
}

// Event is one event of the bridge as the stream carries it.
type Event struct {
	ID          uint64         `json:"id"`
	Time        time.Time      `json:"time"`
	Type        string         `json:"type"`
	Room        string         `json:"room"`
	Participant string         `json:"participant"`
	Data        map[string]any `json:"data"`
}

func table(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// flags lists the names whose condition holds, or "-" for none.
func flags(pairs ...any) string {
	var on []string
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1].(bool) {
			on = append(on, pairs[i].(string))
		}
	}
	if len(on) == 0 {
		return "-"
	}
	return strings.Join(on, ",")
}

// WriteConferences prints live conferences as a table.
func WriteConferences(w io.Writer, cs []Conference) error {
	if len(cs) == 0 {
		_, err := fmt.Fprintln(w, "no live conferences")
		return err
	}
	tw := table(w)
	// A cluster's list names each conference's node; a single bridge's
	// has no such column.
	clustered := slices.ContainsFunc(cs, func(c Conference) bool { return c.Node != "" })
	node := func(c Conference) string {
		if clustered {
			return orDash(c.Node) + "\t"
		}
		return ""
	}
	if clustered {
		fmt.Fprint(tw, "NODE\t")
	}
	fmt.Fprintln(tw, "ROOM\tPARTICIPANTS\tSTARTED\tENDS AT\tSTATE")
	for _, c := range cs {
		fmt.Fprintf(tw, "%s%s\t%d\t%s\t%s\t%s\n", node(c), c.Room, c.Participants, orDash(c.Started), orDash(c.EndsAt),
			flags("locked", c.Locked, "lecture", c.Lecture, "recording", c.Recording))
	}
	return tw.Flush()
}

// WriteConference prints one conference with its members.
func WriteConference(w io.Writer, c Conference) error {
	tw := table(w)
	fmt.Fprintf(tw, "room\t%s\n", c.Room)
	if c.Node != "" {
		fmt.Fprintf(tw, "node\t%s\n", c.Node)
	}
	fmt.Fprintf(tw, "started\t%s\n", orDash(c.Started))
	ends := c.EndsAt
	if ends == "" {
		ends = "no limit"
	}
	fmt.Fprintf(tw, "ends at\t%s\n", ends)
	fmt.Fprintf(tw, "participants\t%d in the mix, %d admitted\n", c.Participants, len(c.Members))
	fmt.Fprintf(tw, "state\t%s\n", flags("locked", c.Locked, "lecture", c.Lecture, "recording", c.Recording))
	if m := c.Mixer; m != nil {
		fmt.Fprintf(tw, "mixer\t%d ticks, %d late (worst %.1f ms), %d skipped, %d resyncs\n",
			m.Ticks, m.LateTicks, m.MaxLatenessMS, m.Skipped, m.Resyncs)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(c.Members) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	tw = table(w)
	fmt.Fprintln(tw, "ID\tCALLER ID\tROLE\tSTATE\tJOINED")
	for _, m := range c.Members {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", m.ID, orDash(m.CallerID), m.Role,
			flags("lobby", m.Lobby, "muted", m.Muted, "talking", m.Talking, "hand", m.Hand, "named", m.Named),
			orDash(m.JoinedAt))
	}
	return tw.Flush()
}

// WriteRooms prints the directory as a table.
func WriteRooms(w io.Writer, rs []Room) error {
	if len(rs) == 0 {
		_, err := fmt.Fprintln(w, "no rooms in the directory")
		return err
	}
	tw := table(w)
	fmt.Fprintln(tw, "EXTENSION\tNAME\tPIN\tHOST PIN\tLANGUAGE\tMAX MIN\tOPTIONS")
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Extension, orDash(r.Name), yesNo(r.HasPIN), yesNo(r.HasHostPIN),
			orDash(r.Language), minutes(r.MaxMinutes),
			flags("sensitive", r.Sensitive, "lobby", r.Lobby, "wait-for-host", r.WaitForHost,
				"end-with-host", r.EndWithHost, "record", r.Record))
	}
	return tw.Flush()
}

func minutes(n int) string {
	if n <= 0 {
		return "-"
	}
	return strconv.Itoa(n)
}

// WriteRoom prints one directory room, its keys named as `room set`
// takes them.
func WriteRoom(w io.Writer, r Room) error {
	warn := make([]string, len(r.WarnMinutes))
	for i, m := range r.WarnMinutes {
		warn[i] = strconv.Itoa(m)
	}
	tw := table(w)
	for _, kv := range [][2]string{
		{"extension", r.Extension},
		{"name", orDash(r.Name)},
		{"email", orDash(r.Email)},
		{"voicemail", orDash(r.Voicemail)},
		{"pin", setOrNot(r.HasPIN)},
		{"host-pin", setOrNot(r.HasHostPIN)},
		{"sensitive", onOff(r.Sensitive)},
		{"language", orDash(r.Language)},
		{"max-minutes", strconv.Itoa(r.MaxMinutes)},
		{"warn-minutes", orDash(strings.Join(warn, ","))},
		{"early-join-minutes", strconv.Itoa(r.EarlyJoinMinutes)},
		{"names", onOff(r.Names)},
		{"names-max-room", strconv.Itoa(r.NamesMaxRoom)},
		{"lobby", onOff(r.Lobby)},
		{"wait-for-host", onOff(r.WaitForHost)},
		{"end-with-host", onOff(r.EndWithHost)},
		{"record", onOff(r.Record)},
	} {
		fmt.Fprintf(tw, "%s\t%s\n", kv[0], kv[1])
	}
	return tw.Flush()
}

func setOrNot(b bool) string {
	if b {
		return "set"
	}
	return "none"
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// actionLine says in words what an action did.
func actionLine(r ActionResult) string {
	if r.Participant != "" {
		verb := map[string]string{
			"mute": "muted", "unmute": "unmuted", "kick": "kicked", "admit": "admitted",
			"floor": "given the floor",
		}[r.Action]
		if verb == "" {
			verb = r.Action
		}
		return fmt.Sprintf("%s: %s %s", r.Room, r.Participant, verb)
	}
	switch r.Action {
	case "lock":
		return r.Room + ": locked"
	case "unlock":
		return r.Room + ": unlocked"
	case "end":
		return r.Room + ": ended"
	case "lecture":
		if r.On != nil && !*r.On {
			return r.Room + ": lecture off"
		}
		return r.Room + ": lecture on"
	case "record.start":
		return r.Room + ": recording"
	case "record.stop":
		return r.Room + ": recording stopped"
	case "extend":
		return r.Room + ": extended; ends at " + orDash(r.EndsAt)
	}
	return r.Room + ": " + r.Action
}

// WriteEvent prints one event as one line: time, id, room, type,
// participant and the event's data as key=value, keys sorted so lines of
// one type line up.
func WriteEvent(w io.Writer, e Event) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s  %5d  %-6s  %-21s", e.Time.UTC().Format(time.RFC3339), e.ID, e.Room, e.Type)
	if e.Participant != "" {
		b.WriteString("  " + e.Participant)
	}
	keys := make([]string, 0, len(e.Data))
	for k := range e.Data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := e.Data[k]
		var s string
		switch v := v.(type) {
		case string:
			s = v
		default:
			j, _ := json.Marshal(v)
			s = string(j)
		}
		fmt.Fprintf(&b, "  %s=%s", k, s)
	}
	b.WriteByte('\n')
	_, err := io.WriteString(w, b.String())
	return err
}
