// Package api is brygga's admin HTTP API: live conferences and their
// participants, the room directory with write-only PINs, and the event
// stream, all as JSON under /api/v1 behind bearer tokens
// (docs/api.md). It only translates HTTP to calls on
// the Conferences and Directory it is given, so the same keypad code paths
// run whether a host presses a key or an operator sends a request.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"time"

	"brygga/conference"
	"brygga/config"
	"brygga/events"
	"brygga/pin"
	"brygga/recordings"
	"brygga/store"
)

// Conferences is the live side of the bridge; *conference.Bridge is one.
type Conferences interface {
	Rooms() []conference.RoomInfo
	Room(ext string) (conference.RoomInfo, bool)
	Lock(ext string, locked bool) error
	SetLecture(ext string, on bool) error
	SetRecording(ext string, on bool) error
	End(ext string) error
	Extend(ext string, d time.Duration) (time.Time, error)
	Mute(ext, id string, muted bool) error
	Kick(ext, id string) error
	Admit(ext, id string) error
	GiveFloor(ext, id string) error
	Events() *events.Bus
}

// Directory is the room directory; *store.Rooms is one.
type Directory interface {
	List() []config.Room
	Get(ext string) (config.Room, bool)
	HasPINs(ext string) (pin, hostPIN bool)
	Put(room config.Room, pins store.PINChange) (created bool, err error)
	Delete(ext string) (bool, error)
}

// Options configure the handler New returns.
type Options struct {
	Conferences Conferences
	Directory   Directory      // nil: /api/v1/rooms answers 501
	Recordings  Recordings     // nil: /api/v1/recordings answers 501
	Schedules   Schedules      // nil: /api/v1/schedules answers 501
	Lockouts    Lockouts       // nil: /api/v1/lockouts answers 501
	Tokens      []config.Token // no tokens: every /api/v1 request is refused
	Metrics     http.Handler   // nil: no /metrics route
	Ready       func(ctx context.Context) error
	Logger      *slog.Logger // audit lines and server errors; nil: discarded
	Defaults    config.RoomSettings
	// Cluster, on a node of several, makes the conference routes span
	// every node: lists gathered from all, a room's routes passed to the
	// node that mixes it. nil: a single bridge.
	Cluster Cluster
	// PeerClient makes the requests to other nodes; nil: http.DefaultClient
	// (the limits are set per request).
	PeerClient *http.Client
}

// Limits of the API. A room or an action body is a few hundred bytes, so
// 64 KiB is generous and still stops a client from making us buffer
// megabytes.
const (
	maxBody       = 64 << 10
	maxExtendMins = 600
	readyTimeout  = 2 * time.Second
)

// heartbeat is how often an idle event stream gets a comment line, so
// proxies and NAT boxes do not close it and a gone client is noticed. A
// variable so tests need not wait 15 s.
var heartbeat = 15 * time.Second

type server struct {
	o   Options
	log *slog.Logger
	doc []byte // the OpenAPI document, built once in New
}

// New returns the API as one handler: /healthz, /readyz, /metrics (when
// o.Metrics is set), the OpenAPI document and everything under /api/v1.
func New(o Options) http.Handler {
	s := &server{o: o, log: o.Logger}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	table := s.routes()
	doc, err := json.Marshal(openAPI(table))
	if err != nil {
		// The document is built from our own types only; failing to
		// encode it is a bug that every test would hit first.
		panic("api: encoding the OpenAPI document: " + err.Error())
	}
	s.doc = doc
	mux := http.NewServeMux()
	register(mux, s, table)
	return mux
}

// notYet answers for features whose issue has not landed; what carries
// its verb so the message reads right for singular and plural.
func notYet(what string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotImplemented, what+" not available yet")
	}
}

func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.o.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		if err := s.o.Ready(ctx); err != nil {
			// The reason goes to the log only: /readyz needs no token, and
			// store errors can name paths.
			s.log.Warn("api: not ready", "err", err)
			writeError(w, http.StatusServiceUnavailable, "not ready")
			return
		}
	}
	writeJSON(w, http.StatusOK, statusBody{Status: "ready"})
}

// auth checks the bearer token; change marks routes only operators may
// use. Every authenticated change attempt, refused or not, gets one audit
// line with the status it ended with and the object it was aimed at: the
// room, the participant, the recording or schedule ({id}, logged under
// object), the lockout's scope and key, and what a handler adds with
// auditNote (the UIDs of a submitted calendar object).
func (s *server) auth(change bool, action, object string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		tok, ok := s.token(r)
		if !ok {
			challenge := `Bearer realm="brygga"`
			msg := "missing bearer token"
			if r.Header.Get("Authorization") != "" {
				challenge += `, error="invalid_token"`
				msg = "invalid bearer token"
			}
			w.Header().Set("WWW-Authenticate", challenge)
			writeError(w, http.StatusUnauthorized, msg)
			return
		}
		if !change {
			h(w, r)
			return
		}
		sw := &statusWriter{ResponseWriter: w}
		notes := &auditNotes{}
		if v := via(r); v != "" {
			notes.attrs = append(notes.attrs, "via", v)
		}
		// Anything but "operator" reads only, so a mistyped role
		// grants less, not more.
		if tok.Role != "operator" {
			writeError(sw, http.StatusForbidden, "token "+tok.Name+" may only read")
		} else {
			h(sw, r.WithContext(context.WithValue(r.Context(), auditKey{}, notes)))
		}
		s.log.Info("api change", auditAttrs(r, tok.Name, action, object, sw.status(), notes.attrs)...)
	})
}

// auditAttrs are the attributes of an audit line. room and participant
// are always there (empty when the route has none), so a log query can
// rely on them; the rest only when the route names such an object.
func auditAttrs(r *http.Request, who, action, object string, status int, extra []any) []any {
	room := r.PathValue("room")
	if room == "" {
		room = r.PathValue("ext")
	}
	var participant string
	if object == "participant" {
		participant = r.PathValue("id")
	}
	// A lifted PIN lockout names its room, or its source.
	scope, key := r.PathValue("scope"), r.PathValue("key")
	var source string
	switch scope {
	case pin.ScopeRoom:
		room = key
	case pin.ScopeSource:
		source = key
	}
	attrs := []any{"who", who, "action", action, "room", room, "participant", participant}
	if object != "" && object != "participant" {
		attrs = append(attrs, object, r.PathValue("id"))
	}
	if scope != "" {
		attrs = append(attrs, "scope", scope, "key", key)
	}
	if source != "" {
		attrs = append(attrs, "source", source)
	}
	attrs = append(attrs, extra...)
	return append(attrs, "status", status)
}

// auditNotes collect what a handler learns about the object of a change
// only from its body, for the audit line written after it returns.
type auditNotes struct{ attrs []any }

type auditKey struct{}

// auditNote adds key and value to the audit line of the request r is part
// of; outside an audited route it does nothing.
func auditNote(r *http.Request, key string, value any) {
	if n, ok := r.Context().Value(auditKey{}).(*auditNotes); ok {
		n.attrs = append(n.attrs, key, value)
	}
}

// token finds the configured token the request presents. Every token is
// compared even after a match, so the time taken does not tell which
// position in the list matched.
func (s *server) token(r *http.Request) (config.Token, bool) {
	scheme, bearer, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return config.Token{}, false
	}
	bearer = strings.TrimSpace(bearer)
	var found config.Token
	var hit bool
	for _, t := range s.o.Tokens {
		if t.Match(bearer) && !hit {
			found, hit = t, true
		}
	}
	return found, hit
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}

// statusBody answers the health checks.
type statusBody struct {
	Status string `json:"status"`
}

type errorBody struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, errorBody{Error: msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"error":"internal error"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}

// decode reads one JSON object into v; every route's JSON body goes
// through it. An empty body leaves v alone when optional, so actions whose
// parameters all have defaults can be sent with no body at all. Before
// encoding/json sees the body, strict refuses what it would let pass:
// duplicate keys, keys in the wrong case, unknown keys and null. It writes
// the error response itself and reports whether the handler may go on.
func decode(w http.ResponseWriter, r *http.Request, v any, optional bool) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", maxBody))
		} else {
			writeError(w, http.StatusBadRequest, "reading body: "+err.Error())
		}
		return false
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		if optional {
			return true
		}
		writeError(w, http.StatusBadRequest, "a JSON body is required")
		return false
	}
	if err := strict(body, reflect.TypeOf(v)); err != nil {
		writeError(w, http.StatusBadRequest, "bad JSON: "+err.Error())
		return false
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "bad JSON: "+jsonError(err))
		return false
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, "bad JSON: more than one value in the body")
		return false
	}
	return true
}

// jsonError drops the Go type names encoding/json puts into its messages,
// which mean nothing to a client.
func jsonError(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field != "" {
			return te.Field + ": expected " + jsonKind(te.Type.Kind().String()) + ", got " + te.Value
		}
		return "expected an object, got " + te.Value
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

func jsonKind(k string) string {
	switch k {
	case "int", "int64", "uint64", "float64":
		return "number"
	case "slice":
		return "array"
	case "struct", "map":
		return "object"
	case "ptr":
		return "value"
	}
	return k
}

// fail turns an error from the bridge or the store into a response.
// Conflicts carry the bridge's reason; anything unexpected is logged and
// answered without detail.
func (s *server) fail(w http.ResponseWriter, err error) {
	var cfgErr *config.Error
	switch {
	case errors.Is(err, conference.ErrNoRoom):
		writeError(w, http.StatusNotFound, "no conference in that room")
	case errors.Is(err, conference.ErrNoParticipant):
		writeError(w, http.StatusNotFound, "no such participant in that conference")
	case errors.Is(err, conference.ErrConflict):
		writeError(w, http.StatusConflict, err.Error())
	case errors.As(err, &cfgErr):
		writeError(w, http.StatusBadRequest, cfgErr.Key+": "+cfgErr.Msg)
	case errors.Is(err, store.ErrInvalid):
		writeError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "no such recording")
	case errors.Is(err, recordings.ErrBusy):
		writeError(w, http.StatusConflict, err.Error())
	default:
		s.log.Error("api: request failed", "err", err)
		writeError(w, http.StatusInternalServerError, "internal error")
	}
}
