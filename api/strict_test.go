package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

// Over a real connection, every JSON route refuses what encoding/json
// would quietly accept, with a 400 naming the problem, and changes
// nothing; a clean body still works.
func TestStrictJSONBodies(t *testing.T) {
	e := newEnv(t, nil)
	srv := httptest.NewServer(e.h)
	defer srv.Close()
	send := func(method, path, body string) (int, string) {
		t.Helper()
		return sendOver(t, method, srv.URL+path, opSecret, "", body)
	}
	for _, c := range []struct {
		method, path, body, want string
	}{
		{"PUT", "/api/v1/rooms/4799", `{"pin": "1234", "pin": "5678"}`, `key \"pin\" is given twice`},
		{"PUT", "/api/v1/rooms/4799", `{"PIN": "1234"}`, `unknown key \"PIN\"; keys are case-sensitive: did you mean \"pin\"?`},
		{"PUT", "/api/v1/rooms/4799", `{"Name": "Kari"}`, `did you mean \"name\"?`},
		{"PUT", "/api/v1/rooms/4799", `{"surely_not_a_key": 1}`, `unknown key \"surely_not_a_key\"`},
		{"PUT", "/api/v1/rooms/4799", `null`, `the body is null`},
		{"PUT", "/api/v1/rooms/4799", ` null `, `the body is null`},
		{"PUT", "/api/v1/rooms/4799", `{"pin": null}`, `pin: null is not accepted`},
		{"PUT", "/api/v1/rooms/4799", `{"warn_minutes": [5, null]}`, `warn_minutes[1]: null is not accepted`},
		{"PUT", "/api/v1/rooms/4799", `{"name": "a"`, `bad JSON: unexpected end of JSON input`},
		{"POST", "/api/v1/conferences/4711/lecture", `{"on": true, "on": false}`, `key \"on\" is given twice`},
		{"POST", "/api/v1/conferences/4711/lecture", `{"On": false}`, `did you mean \"on\"?`},
		{"POST", "/api/v1/conferences/4711/lecture", `null`, `the body is null`},
		{"POST", "/api/v1/conferences/4711/extend", `{"minutes": 5, "MINUTES": 600}`, `did you mean \"minutes\"?`},
		{"POST", "/api/v1/conferences/4711/extend", `{"minutes": null}`, `minutes: null is not accepted`},
		{"POST", "/api/v1/conferences/4711/participants/b2/mute", `null`, `the body is null`},
		{"POST", "/api/v1/conferences/4711/participants/b2/mute", `{"on": true}`, `unknown key \"on\"`},
		{"POST", "/api/v1/recordings/r1/retry", `{}{}`, `more than one value`},
	} {
		code, body := send(c.method, c.path, c.body)
		if code != 400 || !strings.Contains(body, c.want) || !strings.Contains(body, `"error":"bad JSON: `) {
			t.Errorf("%s %s %s: %d %s, want 400 with %s", c.method, c.path, c.body, code, body, c.want)
		}
	}
	if _, ok := e.dir.Get("4799"); ok {
		t.Fatal("a refused body created the room")
	}
	if calls := e.conf.lastCall(); calls != "" {
		t.Fatalf("a refused body reached the bridge: %s", calls)
	}
	if code, body := send("PUT", "/api/v1/rooms/4799", `{"name": "Kari", "pin": "2468", "warn_minutes": [5, 1]}`); code != 201 {
		t.Fatalf("a clean body: %d %s", code, body)
	}
	if code, body := send("POST", "/api/v1/conferences/4711/lecture", `{"on": false}`); code != 200 {
		t.Fatalf("a clean action: %d %s", code, body)
	}
}

type strictInner struct {
	Level int `json:"level"`
}

type strictEmbedded struct {
	Shared string `json:"shared"`
}

type strictSample struct {
	strictEmbedded
	Name    string        `json:"name,omitempty"`
	Inner   *strictInner  `json:"inner"`
	List    []strictInner `json:"list"`
	Skipped string        `json:"-"`
	Plain   int
	hidden  int
}

// strict follows nested objects and arrays, embedded structs, untagged
// fields and json:"-" as encoding/json does, and names the path.
func TestStrictPaths(t *testing.T) {
	typ := reflect.TypeOf(&strictSample{})
	for body, want := range map[string]string{
		`{"name": "a", "shared": "b", "Plain": 1, "inner": {"level": 2}, "list": [{"level": 1}]}`: "",
		`{"inner": {"level": 1, "level": 2}}`:                                                     `key "inner.level" is given twice`,
		`{"list": [{"level": 1}, {"Level": 2}]}`:                                                  `unknown key "list[1].Level"; keys are case-sensitive: did you mean "level"?`,
		`{"list": [{"level": null}]}`:                                                             `list[0].level: null is not accepted`,
		`{"inner": null}`:                                                                         `inner: null is not accepted`,
		`{"plain": 1}`:                                                                            `did you mean "Plain"?`,
		`{"Skipped": "x"}`:                                                                        `unknown key "Skipped"`,
		`{"hidden": 1}`:                                                                           `unknown key "hidden"`,
		`{"SHARED": "x"}`:                                                                         `did you mean "shared"?`,
		`{"name": {"deep": [1, {"x": null}]}}`:                                                    "", // a type mismatch: encoding/json names it
		`{"inner": {"level": 1}, "inner": {"level": 2}}`:                                          `key "inner" is given twice`,
		`[1, 2]`:         "",
		`{"name": "a",}`: "invalid character",
	} {
		err := strict([]byte(body), typ)
		switch {
		case want == "" && err != nil:
			t.Errorf("%s: %v", body, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%s: %v, want %s", body, err, want)
		}
	}
}

// FuzzStrictJSON feeds strict arbitrary bodies for the room PUT: it must
// not panic, and what it accepts must be a single valid JSON value that
// holds no null, no key twice and (at the top) only keys roomIn spells
// exactly, so encoding/json can only still object to a value's type.
func FuzzStrictJSON(f *testing.F) {
	for _, s := range []string{`{"pin": "1234"}`, `{"pin": "1", "pin": "2"}`, `{"PIN": "1"}`, `null`, `{"warn_minutes": [1, null]}`,
		`{"name": "a", "lobby": true, "max_minutes": 60, "warn_minutes": [5]}`, `[]`, `{"name": {"a": [1, {}]}}`, `{"a"`, `"x"`} {
		f.Add([]byte(s))
	}
	typ := reflect.TypeOf(&roomIn{})
	fields := jsonFields(typ.Elem())
	f.Fuzz(func(t *testing.T, body []byte) {
		if strict(body, typ) != nil {
			return
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		// Numbers as written: a number too large for a float64 is JSON
		// all the same, and the typed decode after strict refuses it.
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("accepted %q, which is no JSON value: %v", body, err)
		}
		if hasNull(v) {
			t.Fatalf("accepted %q, which holds null", body)
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return
		}
		for k := range obj {
			if _, ok := fields[k]; !ok {
				t.Fatalf("accepted %q with key %q", body, k)
			}
		}
		if n := topKeys(t, body); n != len(obj) {
			t.Fatalf("accepted %q: %d keys, %d distinct", body, n, len(obj))
		}
		var in roomIn
		strictDec := json.NewDecoder(bytes.NewReader(body))
		strictDec.DisallowUnknownFields()
		var te *json.UnmarshalTypeError
		if err := strictDec.Decode(&in); err != nil && !errors.As(err, &te) {
			t.Fatalf("accepted %q, which encoding/json refuses: %v", body, err)
		}
	})
}

func hasNull(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case map[string]any:
		for _, e := range x {
			if hasNull(e) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if hasNull(e) {
				return true
			}
		}
	}
	return false
}

// topKeys counts the keys of the object body holds, repeats included.
func topKeys(t *testing.T, body []byte) int {
	dec := json.NewDecoder(bytes.NewReader(body))
	depth, n := 0, 0
	expectKey := false
	for {
		tok, err := dec.Token()
		if err != nil {
			return n
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
			expectKey = depth == 1 && tok == json.Delim('{')
			continue
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 1 {
			if _, ok := tok.(string); ok && expectKey {
				n++
				expectKey = false
				continue
			}
			expectKey = true
		}
	}
}
