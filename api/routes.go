package api

import (
	"net/http"
	"slices"
	"strings"
)

// access is who may call a route.
type access int

const (
	public   access = iota // no token
	viewer                 // any configured token
	operator               // a token with role operator; every attempt is audited
)

// param is a query or header parameter. Path parameters are not declared:
// they are read from the pattern's {placeholders}, so none can be left out.
type param struct {
	name, in, typ, desc string
}

// reply is one answer a route gives. The ones that come from the auth
// wrapper (401, 403) and from decode (400, 413) are added by the document
// from access and body, since those code paths produce them for every
// route alike.
type reply struct {
	code   int
	body   any    // a value of the JSON type answered; nil: no JSON body
	media  string // a body that is not JSON, described as a string
	header string // a response header a client acts on
	desc   string // "": the status text
}

// route is everything known about one method and path. The ServeMux and
// the OpenAPI document are both built from a []route, so a route cannot be
// served without being documented or documented without being served.
type route struct {
	method, path string
	summary      string
	access       access
	action       string  // the audit line's action; operator routes only
	object       string  // the audit line's key for the {id} path value: participant, recording, schedule
	body         any     // pointer to what the handler decodes; nil: it reads no body
	rawBody      string  // media type of a body that is not JSON (the handler reads it itself)
	bodyRequired bool    // an empty body is a 400
	params       []param // query and header parameters
	replies      []reply // besides the auth, decode and forward ones
	// forward marks a live room's route: on a node of a cluster it is
	// passed to the node that mixes the room (server.forward) before its
	// handler runs, and may answer 502 or 503.
	forward bool
	h       http.HandlerFunc
}

func ok(v any) reply { return reply{code: http.StatusOK, body: v} }

func errs(codes ...int) []reply {
	out := make([]reply, 0, len(codes))
	for _, c := range codes {
		out = append(out, reply{code: c, body: errorBody{}})
	}
	return out
}

func replies(first reply, more ...[]reply) []reply {
	out := []reply{first}
	for _, m := range more {
		out = append(out, m...)
	}
	return out
}

// routes is the API. The order of routes on one path is the order of the
// methods in a 405's Allow header.
func (s *server) routes() []route {
	rs := []route{
		{method: "GET", path: "/healthz", summary: "Liveness: 200 while the process runs",
			replies: replies(ok(statusBody{})), h: func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, http.StatusOK, statusBody{Status: "ok"})
			}},
		{method: "GET", path: "/readyz", summary: "Readiness: 503 while Options.Ready reports a problem; the reason is only logged",
			replies: replies(ok(statusBody{}), errs(http.StatusServiceUnavailable)), h: s.readyz},
	}
	if s.o.Metrics != nil {
		rs = append(rs, route{method: "GET", path: "/metrics", summary: "Prometheus metrics",
			replies: []reply{{code: http.StatusOK, media: "text/plain", desc: "Prometheus text exposition"}},
			h:       s.o.Metrics.ServeHTTP})
	}
	rs = append(rs,
		route{method: "GET", path: "/api/v1/openapi.json", summary: "This OpenAPI document",
			replies: []reply{ok(map[string]any{})}, h: s.openapi},
		route{method: "GET", path: "/api/v1/conferences", summary: "List live conferences",
			access: viewer, replies: replies(reply{code: http.StatusOK, body: []conferenceJSON{}, header: MissingHeader}), h: s.listConferences},
		route{method: "GET", path: "/api/v1/conferences/{room}", summary: "One live conference with its members and mixer statistics",
			access: viewer, forward: true, replies: replies(ok(conferenceJSON{}), errs(http.StatusNotFound)), h: s.getConference},
	)
	for _, a := range roomActions {
		rs = append(rs, route{method: "POST", path: "/api/v1/conferences/{room}/" + a.path, summary: a.summary,
			access: operator, action: a.name, body: a.body(), bodyRequired: a.required, forward: true,
			replies: replies(ok(actionResult{}), errs(http.StatusNotFound, http.StatusConflict, http.StatusInternalServerError)),
			h:       s.roomAction(a)})
	}
	for _, a := range participantActions {
		rs = append(rs, route{method: "POST", path: "/api/v1/conferences/{room}/participants/{id}/" + a.path, summary: a.summary,
			access: operator, action: a.name, object: "participant", body: &noBody{}, forward: true,
			replies: replies(ok(actionResult{}), errs(http.StatusNotFound, http.StatusConflict, http.StatusInternalServerError)),
			h:       s.participantAction(a)})
	}
	later := func(method, path, summary string, acc access, action, what string) route {
		return route{method: method, path: path, summary: summary + " (not built yet)", access: acc, action: action,
			replies: errs(http.StatusNotImplemented), h: notYet(what)}
	}
	roomReplies := errs(http.StatusNotFound, http.StatusInternalServerError, http.StatusNotImplemented)
	recReplies := roomReplies
	rs = append(rs,
		later("POST", "/api/v1/conferences/{room}/dial", "Dial out into the conference", operator, "dial", "dialling out is"),

		route{method: "GET", path: "/api/v1/rooms", summary: "List the directory's rooms by extension",
			access: viewer, replies: replies(ok([]roomJSON{}), errs(http.StatusNotImplemented)), h: s.listRooms},
		route{method: "GET", path: "/api/v1/rooms/{ext}", summary: "One directory room; PINs only as has_pin and has_host_pin",
			access: viewer, replies: replies(ok(roomJSON{}), errs(http.StatusNotFound, http.StatusNotImplemented)), h: s.getRoom},
		route{method: "PUT", path: "/api/v1/rooms/{ext}", summary: "Create or replace a directory room; omitted settings take the bridge's defaults",
			access: operator, action: "room.put", body: &roomIn{}, bodyRequired: true,
			replies: replies(ok(roomJSON{}), []reply{{code: http.StatusCreated, body: roomJSON{}, header: "Location"}},
				errs(http.StatusInternalServerError, http.StatusNotImplemented)),
			h: s.putRoom},
		route{method: "DELETE", path: "/api/v1/rooms/{ext}", summary: "Delete a directory room",
			access: operator, action: "room.delete",
			replies: replies(reply{code: http.StatusNoContent}, roomReplies), h: s.deleteRoom},

		route{method: "GET", path: "/api/v1/events", summary: "Server-sent events; each data line is an Event (#/components/schemas/Event)",
			access: viewer,
			params: []param{
				{name: "room", in: "query", typ: "string", desc: "only events of this room"},
				{name: "after", in: "query", typ: "integer", desc: "resume after this event id"},
				{name: "Last-Event-ID", in: "header", typ: "integer", desc: "resume after this event id; wins over after"},
			},
			replies: replies(reply{code: http.StatusOK, media: "text/event-stream", desc: "the event stream"}, errs(http.StatusBadRequest)),
			h:       s.events},

		route{method: "GET", path: "/api/v1/schedules", summary: "List scheduled meetings with each occurrence's state",
			access: viewer, replies: replies(ok([]scheduleJSON{}), errs(http.StatusInternalServerError, http.StatusNotImplemented)),
			h: s.needs(s.o.Schedules != nil, "this bridge keeps no schedules", s.listSchedules)},
		route{method: "POST", path: "/api/v1/schedules", summary: "Book, update or cancel meetings from an iCalendar object (as an Outlook invite holds); replies go to the organizer by mail",
			access: operator, action: "schedule.submit", rawBody: "text/calendar", bodyRequired: true,
			replies: replies(ok([]outcomeJSON{}), errs(http.StatusUnprocessableEntity, http.StatusInternalServerError, http.StatusNotImplemented)),
			h:       s.needs(s.o.Schedules != nil, "this bridge keeps no schedules", s.submitSchedule)},
		route{method: "GET", path: "/api/v1/schedules/{id}", summary: "One scheduled meeting",
			access: viewer, replies: replies(ok(scheduleJSON{}), roomReplies), h: s.needs(s.o.Schedules != nil, "this bridge keeps no schedules", s.getSchedule)},
		route{method: "DELETE", path: "/api/v1/schedules/{id}", summary: "Delete a scheduled meeting (no mail is sent)",
			access: operator, action: "schedule.delete", object: "schedule",
			replies: replies(reply{code: http.StatusNoContent}, roomReplies), h: s.needs(s.o.Schedules != nil, "this bridge keeps no schedules", s.deleteSchedule)},

		route{method: "GET", path: "/api/v1/recordings", summary: "List recordings, newest first, with their delivery state",
			access: viewer, replies: replies(ok([]recordingJSON{}), errs(http.StatusInternalServerError, http.StatusNotImplemented)),
			h: s.needs(s.o.Recordings != nil, "this bridge keeps no recordings", s.listRecordings)},
		route{method: "GET", path: "/api/v1/recordings/{id}", summary: "One recording and its delivery",
			access: viewer, replies: replies(ok(recordingJSON{}), recReplies), h: s.needs(s.o.Recordings != nil, "this bridge keeps no recordings", s.getRecording)},
		route{method: "GET", path: "/api/v1/recordings/{id}/audio", summary: "A recording's WAV (8 kHz 16-bit mono; range requests served); operators only, each download audited",
			access: operator, action: "recording.download", object: "recording",
			replies: replies(reply{code: http.StatusOK, media: "audio/wav", desc: "the recording"},
				[]reply{{code: http.StatusPartialContent, media: "audio/wav", desc: "the requested range"}},
				errs(http.StatusGone), recReplies),
			h: s.needs(s.o.Recordings != nil, "this bridge keeps no recordings", s.recordingAudio)},
		route{method: "DELETE", path: "/api/v1/recordings/{id}", summary: "Delete a recording and its file; 409 while it is being written",
			access: operator, action: "recording.delete", object: "recording",
			replies: replies(reply{code: http.StatusNoContent}, errs(http.StatusConflict), recReplies), h: s.needs(s.o.Recordings != nil, "this bridge keeps no recordings", s.deleteRecording)},
		route{method: "POST", path: "/api/v1/recordings/{id}/retry", summary: "Deliver a recording again now (failed, undeliverable, waiting, or delivered and wanted again)",
			access: operator, action: "recording.retry", object: "recording", body: &noBody{},
			replies: replies(ok(recordingJSON{}), errs(http.StatusConflict), recReplies), h: s.needs(s.o.Recordings != nil, "this bridge keeps no recordings", s.retryRecording)},

		route{method: "GET", path: "/api/v1/lockouts", summary: "PIN lockouts in force: rooms by extension, then sources by address",
			access: viewer, replies: replies(ok([]lockoutJSON{}), errs(http.StatusNotImplemented)),
			h: s.needs(s.o.Lockouts != nil, "this bridge has no PIN lockout", s.listLockouts)},
		route{method: "DELETE", path: "/api/v1/lockouts/{scope}/{key}", summary: "Lift a PIN lockout now (scope room: key is the extension; scope source: key is the address) and forget its failures",
			access: operator, action: "lockout.lift",
			replies: replies(reply{code: http.StatusNoContent}, errs(http.StatusBadRequest, http.StatusNotFound, http.StatusNotImplemented)),
			h:       s.needs(s.o.Lockouts != nil, "this bridge has no PIN lockout", s.liftLockout)},
	)
	return rs
}

// needs answers 501 with msg instead of running h when a part of the
// bridge the route serves is not there (present false).
func (s *server) needs(present bool, msg string, h http.HandlerFunc) http.HandlerFunc {
	if present {
		return h
	}
	return func(w http.ResponseWriter, r *http.Request) { writeError(w, http.StatusNotImplemented, msg) }
}

// register is the one place handlers reach the mux (a test holds it to
// that). Routes behind a token also get, per path, a method-less fallback,
// so a wrong method gets a JSON 405 with Allow instead of the ServeMux's
// plain-text one, and only after the token was checked: the API does not
// tell strangers which paths exist.
func register(mux *http.ServeMux, s *server, table []route) {
	var paths []string
	allow := map[string][]string{}
	for _, rt := range table {
		hf := rt.h
		if rt.forward {
			hf = s.forwarding(hf)
		}
		h := http.Handler(hf)
		switch rt.access {
		case viewer:
			h = s.auth(false, "", "", hf)
		case operator:
			h = s.auth(true, rt.action, rt.object, hf)
		}
		mux.Handle(rt.method+" "+rt.path, h)
		if rt.access == public {
			continue
		}
		if _, ok := allow[rt.path]; !ok {
			paths = append(paths, rt.path)
		}
		allow[rt.path] = append(allow[rt.path], rt.method)
	}
	for _, p := range paths {
		methods := allow[p]
		if slices.Contains(methods, http.MethodGet) {
			methods = append(methods, http.MethodHead)
		}
		allowed := strings.Join(methods, ", ")
		mux.Handle(p, s.auth(false, "", "", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allowed)
			writeError(w, http.StatusMethodNotAllowed, r.Method+" is not allowed here; use "+allowed)
		}))
	}
	notFound := func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such path")
	}
	mux.Handle("/api/", s.auth(false, "", "", notFound))
	mux.HandleFunc("/", notFound)
}

// openapi serves the document New built; it needs no token because it
// holds nothing but what docs/api.md publishes anyway, and tools that read
// it (client generators, API browsers) rarely know how to send one first.
func (s *server) openapi(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	w.Write(s.doc)
}
