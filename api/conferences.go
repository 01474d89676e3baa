package api

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"brygga/conference"
)

// conferenceJSON is a live conference. Times are pointers so that "not
// yet" and "no limit" are absent rather than year 1.
type conferenceJSON struct {
	Room         string       `json:"room"`
	Node         string       `json:"node,omitempty"`
	Started      *time.Time   `json:"started,omitempty"`
	EndsAt       *time.Time   `json:"ends_at,omitempty"`
	Participants int          `json:"participants"`
	Locked       bool         `json:"locked"`
	Lecture      bool         `json:"lecture"`
	Recording    bool         `json:"recording"`
	Members      []memberJSON `json:"members,omitempty"`
	Mixer        *mixerJSON   `json:"mixer,omitempty"`
}

type memberJSON struct {
	ID       string     `json:"id"`
	CallerID string     `json:"caller_id"`
	Role     string     `json:"role"`
	Muted    bool       `json:"muted"`
	Talking  bool       `json:"talking"`
	Hand     bool       `json:"hand"`
	Lobby    bool       `json:"lobby"`
	Named    bool       `json:"named"`
	JoinedAt *time.Time `json:"joined_at,omitempty"`
}

type mixerJSON struct {
	Ticks         uint64  `json:"ticks"`
	LateTicks     uint64  `json:"late_ticks"`
	Skipped       uint64  `json:"skipped"`
	Resyncs       uint64  `json:"resyncs"`
	MaxLatenessMS float64 `json:"max_lateness_ms"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

func conferenceOf(ri conference.RoomInfo, detail bool) conferenceJSON {
	c := conferenceJSON{
		Room:         ri.Extension,
		Started:      timePtr(ri.Started),
		EndsAt:       timePtr(ri.EndsAt),
		Participants: ri.Participants,
		Locked:       ri.Locked,
		Lecture:      ri.Lecture,
		Recording:    ri.Recording,
	}
	if !detail {
		return c
	}
	// An empty list, not an absent one, for a room that has only just
	// emptied: a client iterating members should not need a nil check.
	c.Members = make([]memberJSON, 0, len(ri.Members))
	for _, m := range ri.Members {
		c.Members = append(c.Members, memberJSON{
			ID: m.ID, CallerID: m.CallerID, Role: m.Role,
			Muted: m.Muted, Talking: m.Talking, Hand: m.Hand, Lobby: m.Lobby, Named: m.Named,
			JoinedAt: timePtr(m.JoinedAt),
		})
	}
	st := ri.Mixer
	c.Mixer = &mixerJSON{
		Ticks: st.Ticks, LateTicks: st.LateTicks, Skipped: st.Skipped, Resyncs: st.Resyncs,
		MaxLatenessMS: float64(st.MaxLateness) / float64(time.Millisecond),
	}
	return c
}

func (s *server) listConferences(w http.ResponseWriter, r *http.Request) {
	rooms := s.o.Conferences.Rooms()
	out := make([]conferenceJSON, 0, len(rooms))
	node := s.nodeName()
	for _, ri := range rooms {
		c := conferenceOf(ri, false)
		c.Node = node
		out = append(out, c)
	}
	if s.clustered(r) {
		peers, missing := s.peerConferences(r)
		out = mergeConferences(out, peers)
		if len(missing) > 0 {
			w.Header().Set(MissingHeader, strings.Join(missing, ","))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *server) getConference(w http.ResponseWriter, r *http.Request) {
	ri, ok := s.o.Conferences.Room(r.PathValue("room"))
	if !ok {
		writeError(w, http.StatusNotFound, "no conference in that room")
		return
	}
	c := conferenceOf(ri, true)
	c.Node = s.nodeName()
	writeJSON(w, http.StatusOK, c)
}

// actionResult answers every action, so scripts can tell what happened
// without a second request.
type actionResult struct {
	Room        string     `json:"room"`
	Participant string     `json:"participant,omitempty"`
	Action      string     `json:"action"`
	On          *bool      `json:"on,omitempty"`
	EndsAt      *time.Time `json:"ends_at,omitempty"`
}

// roomAction is one room action. body makes the one value its request
// body is decoded into; the OpenAPI document describes that same type, so
// the two cannot disagree about which keys an action takes.
type roomAction struct {
	path, name, summary string
	body                func() actionBody
	required            bool // an empty body is refused rather than meaning defaults
	do                  func(c Conferences, room string, p actionParams) (actionResult, error)
}

// actionParams are the checked parameters of a room action. Each action
// decodes its body into its own struct (noBody, onBody, extendBody) so
// that a parameter of another action is rejected as an unknown field.
type actionParams struct {
	On      *bool
	Minutes *int
}

// actionBody is a decoded action body; params checks it and returns the
// client's mistake as a message, "" when it is fine.
type actionBody interface {
	params() (actionParams, string)
}

type noBody struct{}

func (*noBody) params() (actionParams, string) { return actionParams{}, "" }

type onBody struct {
	On *bool `json:"on"`
}

func (b *onBody) params() (actionParams, string) { return actionParams{On: b.On}, "" }

type extendBody struct {
	Minutes *int `json:"minutes" api:"required"`
}

func (b *extendBody) params() (actionParams, string) {
	if b.Minutes == nil {
		return actionParams{}, "minutes: required"
	}
	if *b.Minutes < 1 || *b.Minutes > maxExtendMins {
		return actionParams{}, fmt.Sprintf("minutes: %d is not between 1 and %d", *b.Minutes, maxExtendMins)
	}
	return actionParams{Minutes: b.Minutes}, ""
}

func none() actionBody { return &noBody{} }

var roomActions = []roomAction{
	{path: "lock", name: "lock", summary: "Lock the conference: nobody new gets in",
		body: none, do: func(c Conferences, room string, _ actionParams) (actionResult, error) {
			return actionResult{}, c.Lock(room, true)
		}},
	{path: "unlock", name: "unlock", summary: "Unlock the conference",
		body: none, do: func(c Conferences, room string, _ actionParams) (actionResult, error) {
			return actionResult{}, c.Lock(room, false)
		}},
	{path: "end", name: "end", summary: "End the meeting for everyone",
		body: none, do: func(c Conferences, room string, _ actionParams) (actionResult, error) {
			return actionResult{}, c.End(room)
		}},
	{path: "lecture", name: "lecture", summary: "Turn lecture mode on (default) or off",
		body: func() actionBody { return &onBody{} }, do: func(c Conferences, room string, b actionParams) (actionResult, error) {
			on := true
			if b.On != nil {
				on = *b.On
			}
			return actionResult{On: &on}, c.SetLecture(room, on)
		}},
	{path: "record/start", name: "record.start", summary: "Start recording; 409 in a sensitive room",
		body: none, do: func(c Conferences, room string, _ actionParams) (actionResult, error) {
			return actionResult{}, c.SetRecording(room, true)
		}},
	{path: "record/stop", name: "record.stop", summary: "Stop recording",
		body: none, do: func(c Conferences, room string, _ actionParams) (actionResult, error) {
			return actionResult{}, c.SetRecording(room, false)
		}},
	{path: "extend", name: "extend", summary: "Move the end of the meeting by minutes (1 to 600); 409 when no limit runs",
		body: func() actionBody { return &extendBody{} }, required: true, do: func(c Conferences, room string, b actionParams) (actionResult, error) {
			end, err := c.Extend(room, time.Duration(*b.Minutes)*time.Minute)
			return actionResult{EndsAt: timePtr(end)}, err
		}},
}

func (s *server) roomAction(a roomAction) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		in := a.body()
		if !decode(w, r, in, !a.required) {
			return
		}
		p, msg := in.params()
		if msg != "" {
			writeError(w, http.StatusBadRequest, msg)
			return
		}
		room := r.PathValue("room")
		res, err := a.do(s.o.Conferences, room, p)
		if err != nil {
			s.fail(w, err)
			return
		}
		res.Room, res.Action = room, a.name
		writeJSON(w, http.StatusOK, res)
	}
}

type participantAction struct {
	path, name, summary string
	do                  func(c Conferences, room, id string) error
}

var participantActions = []participantAction{
	{"mute", "mute", "Mute the participant, as the host's keypad does", func(c Conferences, room, id string) error { return c.Mute(room, id, true) }},
	{"unmute", "unmute", "Unmute the participant", func(c Conferences, room, id string) error { return c.Mute(room, id, false) }},
	{"kick", "kick", "Play conf-kicked to the participant, then hang up", func(c Conferences, room, id string) error { return c.Kick(room, id) }},
	{"admit", "admit", "Let the participant in from the lobby; 409 when not in the lobby", func(c Conferences, room, id string) error { return c.Admit(room, id) }},
	{"floor", "floor", "Give the participant the floor: unmute and lower the hand", func(c Conferences, room, id string) error { return c.GiveFloor(room, id) }},
}

func (s *server) participantAction(a participantAction) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !decode(w, r, &noBody{}, true) {
			return
		}
		room, id := r.PathValue("room"), r.PathValue("id")
		if err := a.do(s.o.Conferences, room, id); err != nil {
			s.fail(w, err)
			return
		}
		writeJSON(w, http.StatusOK, actionResult{Room: room, Participant: id, Action: a.name})
	}
}
