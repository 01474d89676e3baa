package api

import (
	"brygga/internal/logtest"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
)

// Every operator route, sent over a real connection, gets an audit line
// that names the object the change was aimed at: each path value appears
// as the value of some key of the line, and a calendar submission names
// the UIDs and rooms its body booked.
func TestAuditNamesTheObject(t *testing.T) {
	logs := &logtest.Buffer{}
	e := newEnv(t, func(o *Options) { o.Logger = slog.New(slog.NewJSONHandler(logs, nil)) })
	srv := httptest.NewServer(e.h)
	defer srv.Close()
	values := map[string]string{"room": "4711", "ext": "4799", "id": "obj-7", "scope": "source", "key": "192.0.2.7"}
	bodies := map[string]string{"extend": `{"minutes": 5}`, "room.put": `{"pin": "2468"}`, "schedule.submit": "BEGIN:VCALENDAR\r\n"}
	n := 0
	for _, rt := range (&server{}).routes() {
		if rt.access != operator {
			continue
		}
		n++
		path := rt.path
		var named []string
		for k, v := range values {
			if strings.Contains(path, "{"+k+"}") {
				path = strings.ReplaceAll(path, "{"+k+"}", v)
				named = append(named, v)
			}
		}
		code, _ := sendOver(t, rt.method, srv.URL+path, opSecret, "", bodies[rt.action])

		all := logs.Lines()
		last := ""
		if len(all) > 0 {
			last = all[len(all)-1]
		}
		var line map[string]any
		if err := json.Unmarshal([]byte(last), &line); err != nil || line["msg"] != "api change" {
			t.Fatalf("%s %s: last log line %q is no audit line", rt.method, path, last)
		}
		if line["action"] != rt.action || line["status"] != float64(code) {
			t.Errorf("%s %s: audit line %v, want action %s status %d", rt.method, path, line, rt.action, code)
		}
		for _, v := range named {
			found := false
			for k, got := range line {
				found = found || (k != "msg" && got == v)
			}
			if !found {
				t.Errorf("%s %s: audit line %v does not name %q", rt.method, path, line, v)
			}
		}
		if rt.action == "schedule.submit" && (fmt.Sprint(line["uids"]) != "[u1]" || fmt.Sprint(line["rooms"]) != "[4711]") {
			t.Errorf("submission: audit line %v does not name the meetings", line)
		}
		if strings.Contains(logs.String(), "2468") {
			t.Fatalf("a PIN reached the log")
		}
	}
	if n < 15 {
		t.Fatalf("only %d operator routes: the table was not read", n)
	}
}
