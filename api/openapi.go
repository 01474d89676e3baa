package api

import (
	"encoding"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"brygga/events"
)

// obj keeps the document code readable; the document is plain JSON, and
// encoding/json sorts map keys, so the output is the same on every start.
type obj = map[string]any

var placeholder = regexp.MustCompile(`\{([^}]+)\}`)

// openAPI describes table as an OpenAPI 3.0 document. Request and response
// schemas come from the Go types the handlers decode and encode, so a new
// field shows up without anyone editing the document.
func openAPI(table []route) obj {
	sc := &schemas{defs: obj{}, names: map[reflect.Type]string{}, in: map[string]bool{}}
	paths := obj{}
	for _, rt := range table {
		item, _ := paths[rt.path].(obj)
		if item == nil {
			item = obj{}
			paths[rt.path] = item
		}
		item[strings.ToLower(rt.method)] = operation(rt, sc)
	}
	// Events travel inside text/event-stream, which no schema can point
	// into; listing the type still gives clients its shape.
	sc.of(reflect.TypeFor[events.Event](), false)
	return obj{
		"openapi": "3.0.3",
		"info": obj{
			"title":   "brygga admin API",
			"version": "1",
			"description": "Live conferences, the room directory and the event stream of a brygga bridge. " +
				"Errors are {\"error\": \"…\"}. A wrong method on an /api/v1 path is a 405 with Allow; " +
				"the token is checked before the path, so without one every /api/v1 path answers 401.",
		},
		"paths": paths,
		"components": obj{
			"schemas": sc.defs,
			"securitySchemes": obj{
				"bearer": obj{"type": "http", "scheme": "bearer",
					"description": "a token from api.tokens; role viewer may only read, operator may change"},
			},
		},
	}
}

func operation(rt route, sc *schemas) obj {
	op := obj{
		"operationId": operationID(rt.method, rt.path),
		"summary":     rt.summary,
		"tags":        []string{tag(rt.path)},
	}
	var params []obj
	for _, m := range placeholder.FindAllStringSubmatch(rt.path, -1) {
		params = append(params, obj{"name": m[1], "in": "path", "required": true, "schema": obj{"type": "string"}})
	}
	for _, p := range rt.params {
		params = append(params, obj{"name": p.name, "in": p.in, "description": p.desc, "schema": obj{"type": p.typ}})
	}
	if params != nil {
		op["parameters"] = params
	}

	all := slices.Clone(rt.replies)
	if rt.body != nil {
		op["requestBody"] = obj{
			"required": rt.bodyRequired,
			"content":  obj{"application/json": obj{"schema": sc.of(reflect.TypeOf(rt.body), true)}},
		}
		all = append(all, errs(http.StatusBadRequest, http.StatusRequestEntityTooLarge)...)
	}
	if rt.rawBody != "" {
		op["requestBody"] = obj{
			"required": rt.bodyRequired,
			"content":  obj{rt.rawBody: obj{"schema": obj{"type": "string"}}},
		}
		all = append(all, errs(http.StatusBadRequest, http.StatusRequestEntityTooLarge)...)
	}
	switch rt.access {
	case public:
		op["security"] = []obj{}
	case viewer, operator:
		op["security"] = []obj{{"bearer": []string{}}}
		role := "viewer"
		all = append(all, reply{code: http.StatusUnauthorized, body: errorBody{}, header: "WWW-Authenticate",
			desc: "no token, or one that is not configured"})
		if rt.access == operator {
			role = "operator"
			all = append(all, reply{code: http.StatusForbidden, body: errorBody{}, desc: "the token may only read"})
		}
		op["x-brygga-role"] = role
	}
	if rt.forward {
		all = append(all, errs(http.StatusBadGateway, http.StatusServiceUnavailable)...)
	}
	// HostCheck, in front of every listener, answers it for any route.
	all = append(all, reply{code: http.StatusMisdirectedRequest, body: errorBody{},
		desc: "the Host header names a host this server does not answer to (api.hosts)"})
	responses := obj{}
	for _, r := range all {
		code := strconv.Itoa(r.code)
		if _, dup := responses[code]; dup {
			// The route's own wording wins over the generic one.
			continue
		}
		desc := r.desc
		if desc == "" {
			desc = http.StatusText(r.code)
		}
		resp := obj{"description": desc}
		switch {
		case r.body != nil:
			resp["content"] = obj{"application/json": obj{"schema": sc.of(reflect.TypeOf(r.body), false)}}
		case r.media != "":
			resp["content"] = obj{r.media: obj{"schema": obj{"type": "string"}}}
		}
		if r.header != "" {
			resp["headers"] = obj{r.header: obj{"schema": obj{"type": "string"}}}
		}
		responses[code] = resp
	}
	op["responses"] = responses
	return op
}

// operationID turns "POST /api/v1/conferences/{room}/record/start" into
// postConferencesRoomRecordStart: stable, unique per method and path, and
// usable as a function name by client generators.
func operationID(method, path string) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(method))
	path = strings.TrimPrefix(path, "/api/v1")
	for _, w := range strings.FieldsFunc(path, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		b.WriteString(strings.ToUpper(w[:1]) + w[1:])
	}
	return b.String()
}

func tag(path string) string {
	switch {
	case !strings.HasPrefix(path, "/api/v1/"):
		return "health"
	case strings.Contains(path, "/participants/"):
		return "participants"
	}
	seg, _, _ := strings.Cut(strings.TrimPrefix(path, "/api/v1/"), "/")
	return strings.TrimSuffix(seg, ".json")
}

// schemas collects the named struct types met on the way as components.
// A type is either a request body (in) or an answer: requests are decoded
// with unknown keys refused and nothing required by the decoder itself,
// answers are encoded with every key present unless omitempty drops it,
// so the same Go type would need two different schemas.
type schemas struct {
	defs  obj
	names map[reflect.Type]string
	in    map[string]bool
}

var (
	timeType          = reflect.TypeFor[time.Time]()
	jsonMarshalerType = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

// of panics on a type it cannot describe truthfully; New would hit it on
// every start, so it cannot reach a running bridge unnoticed.
func (sc *schemas) of(t reflect.Type, in bool) obj {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == timeType {
		return obj{"type": "string", "format": "date-time"}
	}
	if t.Kind() != reflect.Interface &&
		(t.Implements(jsonMarshalerType) || reflect.PointerTo(t).Implements(jsonMarshalerType) ||
			t.Implements(textMarshalerType) || reflect.PointerTo(t).Implements(textMarshalerType)) {
		panic(fmt.Sprintf("api: %v encodes itself; teach schemas.of its JSON form", t))
	}
	switch t.Kind() {
	case reflect.Bool:
		return obj{"type": "boolean"}
	case reflect.Int8, reflect.Int16, reflect.Int32:
		return obj{"type": "integer", "format": "int32"}
	case reflect.Int, reflect.Int64:
		return obj{"type": "integer", "format": "int64"}
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint, reflect.Uint64, reflect.Uintptr:
		return obj{"type": "integer", "minimum": 0}
	case reflect.Float32, reflect.Float64:
		return obj{"type": "number"}
	case reflect.String:
		return obj{"type": "string"}
	case reflect.Slice, reflect.Array:
		if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 {
			return obj{"type": "string", "format": "byte"} // encoding/json writes []byte as base64
		}
		return obj{"type": "array", "items": sc.of(t.Elem(), in)}
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			panic(fmt.Sprintf("api: map key of %v is not a string", t))
		}
		return obj{"type": "object", "additionalProperties": sc.of(t.Elem(), in)}
	case reflect.Interface:
		return obj{} // any JSON value
	case reflect.Struct:
		if t.Name() == "" {
			return sc.object(t, in)
		}
		return sc.ref(t, in)
	}
	panic(fmt.Sprintf("api: no JSON schema for %v", t))
}

func (sc *schemas) ref(t reflect.Type, in bool) obj {
	name, seen := sc.names[t]
	if !seen {
		name = componentName(t)
		if _, taken := sc.defs[name]; taken {
			panic(fmt.Sprintf("api: two types are both called %s in the document", name))
		}
		sc.names[t], sc.in[name] = name, in
		sc.defs[name] = obj{} // taken before recursing, for types that contain themselves
		sc.defs[name] = sc.object(t, in)
	}
	if sc.in[name] != in {
		panic(fmt.Sprintf("api: %v is both a request body and an answer; give each its own type", t))
	}
	return obj{"$ref": "#/components/schemas/" + name}
}

// componentName drops the JSON suffix the package uses to tell wire types
// from the bridge's own (conferenceJSON is Conference to a client).
func componentName(t reflect.Type) string {
	n := strings.TrimSuffix(t.Name(), "JSON")
	return strings.ToUpper(n[:1]) + n[1:]
}

func (sc *schemas) object(t reflect.Type, in bool) obj {
	props := obj{}
	var required []string
	sc.fields(t, in, props, &required)
	o := obj{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		o["required"] = required
	}
	return o
}

// fields describes t's keys (jsonKeys). In a request only fields tagged
// api:"required" are required, because the decoder itself never insists
// on a key and the handler checks the rest; api:"readonly" marks keys a
// request may not set.
func (sc *schemas) fields(t reflect.Type, in bool, props obj, required *[]string) {
	jsonKeys(t, func(name, opts string, f reflect.StructField) {
		ft := f.Type
		o := strings.Split(opts, ",")
		omit := slices.Contains(o, "omitempty") || slices.Contains(o, "omitzero")
		s := sc.of(ft, in)
		if slices.Contains(o, "string") {
			s = obj{"type": "string"}
		}
		// A nil pointer is encoded as null unless omitted, and a null in a
		// request leaves the pointer nil, which handlers read as "not sent".
		if ft.Kind() == reflect.Pointer && (in || !omit) {
			if _, isRef := s["$ref"]; isRef {
				s = obj{"allOf": []obj{s}}
			}
			s["nullable"] = true
		}
		api := strings.Split(f.Tag.Get("api"), ",")
		if slices.Contains(api, "readonly") {
			// Decoded only so the handler can refuse it with a clear
			// message instead of "unknown field".
			s["readOnly"] = true
		}
		props[name] = s
		if in && slices.Contains(api, "required") || !in && !omit {
			*required = append(*required, name)
		}
	})
}
