package api

import (
	"context"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// The document as a client sees it: fetched over HTTP without a token.
func fetchDoc(t *testing.T, h http.Handler) obj {
	t.Helper()
	req := httptest.NewRequest("GET", "/api/v1/openapi.json", nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != 200 {
		t.Fatalf("GET /api/v1/openapi.json without a token: %d %s", w.Code, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
	var doc obj
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
		t.Fatalf("document is not JSON: %v", err)
	}
	return doc
}

func withMetrics(o *Options) {
	o.Metrics = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "brygga_up 1\n") })
}

func TestOpenAPIDocumentIsValid(t *testing.T) {
	for _, mod := range []func(*Options){nil, withMetrics} {
		e := newEnv(t, mod)
		doc := fetchDoc(t, e.h)
		for _, p := range checkDoc(doc) {
			t.Error(p)
		}
	}
}

// docOps lists the documented operations as "METHOD /path".
func docOps(t *testing.T, doc obj) []string {
	t.Helper()
	var ops []string
	for path, item := range doc["paths"].(obj) {
		for m := range item.(obj) {
			if _, isOp := opKeys[m]; isOp {
				ops = append(ops, strings.ToUpper(m)+" "+path)
			}
		}
	}
	slices.Sort(ops)
	return ops
}

func TestOpenAPIListsEveryRoute(t *testing.T) {
	for _, metrics := range []bool{false, true} {
		e := newEnv(t, func(o *Options) {
			if metrics {
				withMetrics(o)
			}
		})
		ops := docOps(t, fetchDoc(t, e.h))
		s := &server{o: Options{}}
		if metrics {
			withMetrics(&s.o)
		}
		var table []string
		for _, rt := range s.routes() {
			table = append(table, rt.method+" "+rt.path)
		}
		slices.Sort(table)
		if !slices.Equal(ops, slices.Compact(slices.Clone(table))) || len(slices.Compact(slices.Clone(table))) != len(table) {
			t.Errorf("metrics %v: documented\n%v\nregistered\n%v", metrics, ops, table)
		}
		if got := slices.Contains(ops, "GET /metrics"); got != metrics {
			t.Errorf("metrics %v: /metrics documented %v", metrics, got)
		}
	}
}

var placeholderSample = map[string]string{"room": "4711", "id": "b2", "ext": "4711", "scope": "room", "key": "4711"}

// Every documented operation is answered by its own handler: the mux
// picks exactly that pattern, and the answer is neither the catch-all 404
// nor a 405 and has a documented status. Every other method on a
// documented path is a 405, so nothing undocumented hides on it.
func TestOpenAPIMatchesTheMux(t *testing.T) {
	e := newEnv(t, withMetrics)
	mux := e.h.(*http.ServeMux)
	doc := fetchDoc(t, e.h)
	ops := docOps(t, doc)
	for _, op := range ops {
		method, path, _ := strings.Cut(op, " ")
		url := placeholder.ReplaceAllStringFunc(path, func(m string) string {
			return placeholderSample[strings.Trim(m, "{}")]
		})
		e := newEnv(t, withMetrics) // actions change the fake bridge
		req := httptest.NewRequest(method, url, nil)
		if _, pat := mux.Handler(req); pat != op {
			t.Errorf("%s %s is served by pattern %q", method, url, pat)
		}
		r := e.doShort(t, method, url)
		if r.code == 405 || r.code == 404 && strings.Contains(string(r.body), "no such path") {
			t.Errorf("%s: %d %s", op, r.code, r.body)
		}
		for _, other := range []string{"GET", "POST", "PUT", "DELETE", "PATCH"} {
			if slices.Contains(ops, other+" "+path) {
				continue
			}
			r := e.do(t, other, url, opSecret, "")
			if strings.HasPrefix(path, "/api/v1/") && path != "/api/v1/openapi.json" {
				if r.code != 405 {
					t.Errorf("undocumented %s %s: %d %s", other, path, r.code, r.body)
				}
			} else if r.code != 404 {
				t.Errorf("undocumented %s %s: %d %s", other, path, r.code, r.body)
			}
		}
	}
	// The hand-kept list the auth tests walk is a second opinion on what
	// exists.
	for _, rt := range allRoutes {
		_, pat := mux.Handler(httptest.NewRequest(rt.method, rt.path, nil))
		if rt.path == "/api/v1/nonexistent" {
			continue
		}
		if !slices.Contains(ops, pat) {
			t.Errorf("%s %s (pattern %q) is not documented", rt.method, rt.path, pat)
		}
	}
}

// doShort is e.do with an operator token and a request that ends after a
// moment, so the event stream returns too.
func (e *env) doShort(t *testing.T, method, url string) resp {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req := httptest.NewRequestWithContext(ctx, method, url, nil)
	req.Header.Set("Authorization", "Bearer "+opSecret)
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, req)
	r := resp{code: w.Code, hdr: w.Header(), body: w.Body.Bytes()}
	e.conform(t, req, r)
	return r
}

// handleCalls are the calls that put a handler on a ServeMux.
var handleCalls = map[string]bool{"Handle": true, "HandleFunc": true}

// A handler put on the mux anywhere but in register would be served
// without being documented.
func TestOnlyRegisterFillsTheMux(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	found := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok {
				continue
			}
			ast.Inspect(fn, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if ok && handleCalls[sel.Sel.Name] {
					if fn.Name.Name != "register" {
						t.Errorf("%s: %s called in %s, not register", fset.Position(call.Pos()), sel.Sel.Name, fn.Name.Name)
					}
					found++
				}
				return true
			})
		}
	}
	if found == 0 {
		t.Error("no Handle call found at all; the test no longer sees the mux")
	}
}

// Every key a request schema lists is one the handler's decoder knows,
// and a key it does not list is refused: the schema is the decoded type.
func TestOpenAPIRequestBodiesMatchDecoders(t *testing.T) {
	doc := fetchDoc(t, newEnv(t, nil).h)
	checked := 0
	for path, item := range doc["paths"].(obj) {
		for m, op := range item.(obj) {
			rb, ok := op.(obj)["requestBody"].(obj)
			if !ok || rb["content"].(obj)["application/json"] == nil {
				continue // none, or not JSON (text/calendar): its own tests check it
			}
			method := strings.ToUpper(m)
			url := placeholder.ReplaceAllStringFunc(path, func(s string) string {
				return placeholderSample[strings.Trim(s, "{}")]
			})
			schema := resolve(doc, rb["content"].(obj)["application/json"].(obj)["schema"].(obj))
			e := newEnv(t, nil)
			r := e.do(t, method, url, opSecret, `{"surely_not_a_key": 1}`)
			if r.code != 400 || !strings.Contains(string(r.body), "unknown key") {
				t.Errorf("%s %s with an unknown key: %d %s", method, path, r.code, r.body)
			}
			for name, ps := range schema["properties"].(obj) {
				body := fmt.Sprintf(`{%q: %s}`, name, sampleJSON(doc, ps.(obj)))
				r := newEnv(t, nil).do(t, method, url, opSecret, body)
				if strings.Contains(string(r.body), "unknown key") {
					t.Errorf("%s %s: documented key %s refused: %s", method, path, name, r.body)
				}
				checked++
			}
		}
	}
	if checked == 0 {
		t.Error("no request body property checked")
	}
}

func sampleJSON(doc, s obj) string {
	s = resolve(doc, s)
	if all, ok := s["allOf"].([]any); ok {
		return sampleJSON(doc, all[0].(obj))
	}
	switch s["type"] {
	case "string":
		return `"1234"`
	case "integer", "number":
		return "5"
	case "boolean":
		return "true"
	case "array":
		return "[" + sampleJSON(doc, s["items"].(obj)) + "]"
	}
	return "{}"
}

func TestOpenAPIWithoutToken(t *testing.T) {
	e := newEnv(t, nil)
	r := e.do(t, "HEAD", "/api/v1/openapi.json", "", "")
	want(t, r, 200)
	// Only the document is public; a wrong method on it is treated like
	// any other /api/v1 request.
	want(t, e.do(t, "POST", "/api/v1/openapi.json", "", ""), 401)
	want(t, e.do(t, "POST", "/api/v1/openapi.json", viewSecret, ""), 404)
}

// conform checks one answer the tests got against the document: its
// status is documented for the operation the mux picked, and a JSON body
// fits the documented schema. e.do calls it, so every request any test in
// the package makes is a check that the document says what the server
// does.
func (e *env) conform(t *testing.T, req *http.Request, r resp) {
	t.Helper()
	mux, ok := e.h.(*http.ServeMux)
	if !ok {
		return
	}
	_, pat := mux.Handler(req)
	method, path, ok := strings.Cut(pat, " ")
	if !ok {
		return // a fallback: 401, 404 or 405, which are not operations
	}
	if e.doc == nil {
		e.doc = fetchDoc(t, e.h)
	}
	op, _ := e.doc["paths"].(obj)[path].(obj)[strings.ToLower(method)].(obj)
	if op == nil {
		t.Errorf("%s %s served by undocumented %q", req.Method, req.URL, pat)
		return
	}
	rs, _ := op["responses"].(obj)[fmt.Sprint(r.code)].(obj)
	if rs == nil {
		t.Errorf("%s: status %d is not documented (%s)", pat, r.code, r.body)
		return
	}
	content, _ := rs["content"].(obj)
	if req.Method == http.MethodHead || content == nil {
		if content == nil && len(r.body) > 0 {
			t.Errorf("%s %d: documented without a body, got %s", pat, r.code, r.body)
		}
		return
	}
	mt, _, _ := strings.Cut(r.hdr.Get("Content-Type"), ";")
	media, _ := content[mt].(obj)
	if media == nil {
		t.Errorf("%s %d: Content-Type %q not documented", pat, r.code, mt)
		return
	}
	if mt != "application/json" {
		return
	}
	var v any
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Errorf("%s %d: %v", pat, r.code, err)
		return
	}
	for _, p := range validate(e.doc, media["schema"].(obj), v, "body") {
		t.Errorf("%s %d: %s in %s", pat, r.code, p, r.body)
	}
}

func resolve(doc, s obj) obj {
	for {
		ref, ok := s["$ref"].(string)
		if !ok {
			return s
		}
		name := strings.TrimPrefix(ref, "#/components/schemas/")
		s, _ = doc["components"].(obj)["schemas"].(obj)[name].(obj)
		if s == nil {
			return obj{"not": obj{}} // checkDoc reports the broken $ref
		}
	}
}

// validate is the part of JSON Schema the document uses.
func validate(doc, s obj, v any, at string) []string {
	s = resolve(doc, s)
	if _, never := s["not"]; never {
		return []string{at + ": schema is a broken $ref"}
	}
	if v == nil {
		if s["nullable"] == true || len(s) == 0 {
			return nil
		}
		return []string{at + ": null"}
	}
	var out []string
	if all, ok := s["allOf"].([]any); ok {
		for _, sub := range all {
			out = append(out, validate(doc, sub.(obj), v, at)...)
		}
	}
	switch s["type"] {
	case "object":
		m, ok := v.(obj)
		if !ok {
			return append(out, fmt.Sprintf("%s: %T, want object", at, v))
		}
		props, _ := s["properties"].(obj)
		req, _ := s["required"].([]any)
		for _, r := range req {
			if _, ok := m[r.(string)]; !ok {
				out = append(out, fmt.Sprintf("%s: required %s missing", at, r))
			}
		}
		for k, x := range m {
			if ps, ok := props[k]; ok {
				out = append(out, validate(doc, ps.(obj), x, at+"."+k)...)
				continue
			}
			switch ap := s["additionalProperties"].(type) {
			case bool:
				if !ap {
					out = append(out, fmt.Sprintf("%s: undocumented key %s", at, k))
				}
			case obj:
				out = append(out, validate(doc, ap, x, at+"."+k)...)
			}
		}
	case "array":
		l, ok := v.([]any)
		if !ok {
			return append(out, fmt.Sprintf("%s: %T, want array", at, v))
		}
		for i, x := range l {
			out = append(out, validate(doc, s["items"].(obj), x, fmt.Sprintf("%s[%d]", at, i))...)
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			return append(out, fmt.Sprintf("%s: %T, want string", at, v))
		}
		if s["format"] == "date-time" {
			if _, err := time.Parse(time.RFC3339, str); err != nil {
				out = append(out, fmt.Sprintf("%s: %q is not a date-time", at, str))
			}
		}
	case "integer", "number":
		f, ok := v.(float64)
		if !ok || s["type"] == "integer" && f != math.Trunc(f) {
			return append(out, fmt.Sprintf("%s: %v, want %s", at, v, s["type"]))
		}
		if min, ok := s["minimum"].(float64); ok && f < min {
			out = append(out, fmt.Sprintf("%s: %v below %v", at, f, min))
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			out = append(out, fmt.Sprintf("%s: %T, want boolean", at, v))
		}
	}
	return out
}

var (
	opKeys = map[string]struct{}{"get": {}, "put": {}, "post": {}, "delete": {}, "options": {}, "head": {}, "patch": {}, "trace": {}}
	// Keys an OpenAPI 3.0 schema object may have.
	schemaKeys = map[string]bool{
		"$ref": true, "type": true, "format": true, "properties": true, "required": true, "items": true,
		"additionalProperties": true, "nullable": true, "readOnly": true, "writeOnly": true, "allOf": true,
		"oneOf": true, "anyOf": true, "description": true, "minimum": true, "maximum": true, "enum": true,
	}
	schemaTypes = map[string]bool{"object": true, "array": true, "string": true, "integer": true, "number": true, "boolean": true}
	statusKey   = regexp.MustCompile(`^[1-5][0-9][0-9]$`)
)

// checkDoc is a structural validation of the OpenAPI 3.0 shape: what a
// validator would reject, for the parts of the specification the document
// uses. It returns the problems found.
func checkDoc(doc obj) []string {
	var probs []string
	bad := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }

	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.0.") {
		bad("openapi %q is not 3.0.x", doc["openapi"])
	}
	info, _ := doc["info"].(obj)
	for _, k := range []string{"title", "version"} {
		if s, _ := info[k].(string); s == "" {
			bad("info.%s missing", k)
		}
	}
	comps, _ := doc["components"].(obj)
	schemas, _ := comps["schemas"].(obj)
	secSchemes, _ := comps["securitySchemes"].(obj)
	if schemas == nil || secSchemes == nil {
		bad("components.schemas or components.securitySchemes missing")
	}
	for name, ss := range secSchemes {
		s, _ := ss.(obj)
		if t, _ := s["type"].(string); t == "" || t == "http" && s["scheme"] == nil {
			bad("securityScheme %s: %v", name, s)
		}
	}

	var checkSchema func(at string, s any)
	checkSchema = func(at string, sv any) {
		s, ok := sv.(obj)
		if !ok {
			bad("%s: schema is %T", at, sv)
			return
		}
		for k := range s {
			if !schemaKeys[k] && !strings.HasPrefix(k, "x-") {
				bad("%s: unknown schema key %s", at, k)
			}
		}
		if ref, ok := s["$ref"].(string); ok {
			name, local := strings.CutPrefix(ref, "#/components/schemas/")
			if _, exists := schemas[name]; !local || !exists {
				bad("%s: $ref %s leads nowhere", at, ref)
			}
			if len(s) != 1 {
				bad("%s: keys beside $ref are ignored in 3.0", at)
			}
			return
		}
		t, hasType := s["type"].(string)
		if hasType && !schemaTypes[t] {
			bad("%s: type %q", at, t)
		}
		if _, ok := s["nullable"]; ok && !hasType && s["allOf"] == nil {
			bad("%s: nullable without type", at)
		}
		if t == "array" {
			if s["items"] == nil {
				bad("%s: array without items", at)
			} else {
				checkSchema(at+".items", s["items"])
			}
		}
		props, _ := s["properties"].(obj)
		if s["properties"] != nil && props == nil {
			bad("%s: properties is not an object", at)
		}
		for k, p := range props {
			checkSchema(at+".properties."+k, p)
		}
		if req, ok := s["required"]; ok {
			l, _ := req.([]any)
			if len(l) == 0 {
				bad("%s: required must be a non-empty list", at)
			}
			for _, r := range l {
				if _, ok := props[fmt.Sprint(r)]; !ok {
					bad("%s: required %v is not a property", at, r)
				}
			}
		}
		switch ap := s["additionalProperties"].(type) {
		case nil, bool:
		default:
			checkSchema(at+".additionalProperties", ap)
		}
		if all, ok := s["allOf"]; ok {
			l, _ := all.([]any)
			if len(l) == 0 {
				bad("%s: empty allOf", at)
			}
			for i, x := range l {
				checkSchema(fmt.Sprintf("%s.allOf[%d]", at, i), x)
			}
		}
		if f, ok := s["format"]; ok && f == "date-time" && t != "string" {
			bad("%s: date-time on %q", at, t)
		}
	}
	for name, s := range schemas {
		checkSchema("components.schemas."+name, s)
	}

	checkContent := func(at string, c any) {
		content, ok := c.(obj)
		if !ok || len(content) == 0 {
			bad("%s: content empty", at)
			return
		}
		for mt, m := range content {
			mo, _ := m.(obj)
			if !strings.Contains(mt, "/") || mo == nil || mo["schema"] == nil {
				bad("%s.%s: media type without schema", at, mt)
				continue
			}
			checkSchema(at+"."+mt+".schema", mo["schema"])
		}
	}

	paths, _ := doc["paths"].(obj)
	if len(paths) == 0 {
		bad("no paths")
	}
	opIDs := map[string]string{}
	for path, iv := range paths {
		if !strings.HasPrefix(path, "/") {
			bad("path %q does not start with /", path)
		}
		holders := map[string]bool{}
		for _, m := range placeholder.FindAllStringSubmatch(path, -1) {
			holders[m[1]] = true
		}
		item, _ := iv.(obj)
		if len(item) == 0 {
			bad("%s: empty path item", path)
		}
		for m, ov := range item {
			if _, isOp := opKeys[m]; !isOp {
				bad("%s: %q is not an operation", path, m)
				continue
			}
			at := m + " " + path
			op, _ := ov.(obj)
			id, _ := op["operationId"].(string)
			if id == "" {
				bad("%s: no operationId", at)
			} else if prev, dup := opIDs[id]; dup {
				bad("%s: operationId %s also used by %s", at, id, prev)
			}
			opIDs[id] = at
			if s, _ := op["summary"].(string); s == "" {
				bad("%s: no summary", at)
			}

			seenPath := map[string]bool{}
			seen := map[string]bool{}
			pl, _ := op["parameters"].([]any)
			if op["parameters"] != nil && pl == nil {
				bad("%s: parameters is not a list", at)
			}
			for _, pv := range pl {
				p, _ := pv.(obj)
				name, _ := p["name"].(string)
				in, _ := p["in"].(string)
				if name == "" || !slices.Contains([]string{"path", "query", "header", "cookie"}, in) {
					bad("%s: parameter %v", at, p)
					continue
				}
				if seen[in+" "+name] {
					bad("%s: parameter %s in %s twice", at, name, in)
				}
				seen[in+" "+name] = true
				if p["schema"] == nil && p["content"] == nil {
					bad("%s: parameter %s without schema", at, name)
				} else if p["schema"] != nil {
					checkSchema(at+" parameter "+name, p["schema"])
				}
				if in == "path" {
					seenPath[name] = true
					if p["required"] != true {
						bad("%s: path parameter %s not required", at, name)
					}
					if !holders[name] {
						bad("%s: path parameter %s is not in the path", at, name)
					}
				}
			}
			for h := range holders {
				if !seenPath[h] {
					bad("%s: {%s} has no parameter", at, h)
				}
			}

			if rb, ok := op["requestBody"]; ok {
				rbo, _ := rb.(obj)
				checkContent(at+" requestBody", rbo["content"])
			}
			if sec, ok := op["security"]; ok {
				l, ok := sec.([]any)
				if !ok {
					bad("%s: security is not a list", at)
				}
				for _, req := range l {
					for name := range req.(obj) {
						if _, ok := secSchemes[name]; !ok {
							bad("%s: security scheme %s is not defined", at, name)
						}
					}
				}
			}
			resps, _ := op["responses"].(obj)
			if len(resps) == 0 {
				bad("%s: no responses", at)
			}
			for code, rv := range resps {
				if code != "default" && !statusKey.MatchString(code) {
					bad("%s: response key %q", at, code)
				}
				r, _ := rv.(obj)
				if d, _ := r["description"].(string); d == "" {
					bad("%s %s: no description", at, code)
				}
				if c, ok := r["content"]; ok {
					checkContent(at+" "+code, c)
				}
				hs, _ := r["headers"].(obj)
				for h, hv := range hs {
					if ho, _ := hv.(obj); ho["schema"] == nil {
						bad("%s %s: header %s without schema", at, code, h)
					}
				}
			}
		}
	}
	return probs
}

// checkDoc must be able to fail: a broken copy of the real document
// shows each kind of mistake it is there to catch.
func TestCheckDocFindsMistakes(t *testing.T) {
	good := fetchDoc(t, newEnv(t, nil).h)
	if p := checkDoc(good); len(p) != 0 {
		t.Fatalf("real document: %v", p)
	}
	breakers := map[string]func(d obj){
		"$ref": func(d obj) {
			d["components"].(obj)["schemas"].(obj)["Room"].(obj)["properties"].(obj)["x"] = obj{"$ref": "#/components/schemas/Nope"}
		},
		"{room} has no parameter": func(d obj) {
			op := d["paths"].(obj)["/api/v1/conferences/{room}"].(obj)["get"].(obj)
			op["parameters"] = []any{}
		},
		"no responses": func(d obj) {
			d["paths"].(obj)["/healthz"].(obj)["get"].(obj)["responses"] = obj{}
		},
		"required x is not a property": func(d obj) {
			d["components"].(obj)["schemas"].(obj)["Mixer"].(obj)["required"] = []any{"x"}
		},
		"operationId": func(d obj) {
			d["paths"].(obj)["/readyz"].(obj)["get"].(obj)["operationId"] = "getHealthz"
		},
		"no description": func(d obj) {
			d["paths"].(obj)["/healthz"].(obj)["get"].(obj)["responses"].(obj)["200"].(obj)["description"] = ""
		},
	}
	for want, brk := range breakers {
		var d obj
		b, _ := json.Marshal(good)
		json.Unmarshal(b, &d)
		brk(d)
		p := checkDoc(d)
		if !strings.Contains(strings.Join(p, "\n"), want) {
			t.Errorf("breaking %q: problems %v", want, p)
		}
	}
	for _, p := range validate(good, obj{"$ref": "#/components/schemas/Room"}, obj{"extension": 4711}, "room") {
		if strings.Contains(p, "want string") {
			return
		}
	}
	t.Error("validate accepted a number for a string")
}

// docs/api.md is where operators look first; it has to send them to the
// served document, since the repository holds no copy of it.
func TestDocsNameTheEndpoint(t *testing.T) {
	b, err := os.ReadFile("../docs/api.md")
	if err != nil {
		t.Skip("docs not beside the package:", err)
	}
	if !strings.Contains(string(b), "/api/v1/openapi.json") {
		t.Error("docs/api.md does not mention /api/v1/openapi.json")
	}
}
