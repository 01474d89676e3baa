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
)

// A room flag's value as the PUT body carries it.
type jsonValue interface {
	flag.Value
	json() any
}

type stringValue struct{ s string }

func (v *stringValue) String() string     { return v.s }
func (v *stringValue) Set(s string) error { v.s = s; return nil }
func (v *stringValue) json() any          { return v.s }

type intValue struct{ n int }

func (v *intValue) String() string { return strconv.Itoa(v.n) }
func (v *intValue) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return errors.New("not a whole number")
	}
	v.n = n
	return nil
}
func (v *intValue) json() any { return v.n }

// switchValue is a setting that is on or off. Unlike a Go bool flag it
// needs its value, so `--lobby off` means off instead of leaving "off"
// behind as an argument.
type switchValue struct{ on bool }

func (v *switchValue) String() string { return onOff(v.on) }
func (v *switchValue) Set(s string) error {
	on, err := parseOnOff(s)
	v.on = on
	return err
}
func (v *switchValue) json() any { return v.on }

func parseOnOff(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "on", "true", "yes", "1":
		return true, nil
	case "off", "false", "no", "0":
		return false, nil
	}
	return false, fmt.Errorf("%q: expected on or off", s)
}

// listValue is warn-minutes: "5,1", or "" for none.
type listValue struct{ ns []int }

func (v *listValue) String() string {
	s := make([]string, len(v.ns))
	for i, n := range v.ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}
func (v *listValue) Set(s string) error {
	v.ns = []int{}
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", f)
		}
		v.ns = append(v.ns, n)
	}
	return nil
}
func (v *listValue) json() any { return v.ns }

// roomFlags are the settings `room set` takes, named as the API's keys
// with dashes.
func roomFlags(fs *flag.FlagSet) {
	fs.Var(&stringValue{}, "name", "owner's `name`, for the greeting")
	fs.Var(&stringValue{}, "email", "owner's `address`, for recordings")
	fs.Var(&stringValue{}, "voicemail", "where recordings go: a sip:…, mailto:… or spool:… `URI`")
	fs.Var(&stringValue{}, "pin", "participant `PIN` (digits; \"\" removes it; not naming it keeps it)")
	fs.Var(&stringValue{}, "host-pin", "host `PIN` (digits; \"\" removes it; not naming it keeps it)")
	fs.Var(&switchValue{}, "sensitive", "PIN and secure transport required, never recorded (`on|off`)")
	fs.Var(&stringValue{}, "language", "prompts `language`: en, nb or sv")
	fs.Var(&intValue{}, "max-minutes", "meeting length `limit`")
	fs.Var(&listValue{}, "warn-minutes", "warnings before the limit, e.g. `5,1` (\"\" for none)")
	fs.Var(&intValue{}, "early-join-minutes", "scheduled meetings open this many `minutes` early")
	fs.Var(&switchValue{}, "names", "record and announce names (`on|off`)")
	fs.Var(&intValue{}, "names-max-room", "above this many `participants`, a tone instead of names")
	fs.Var(&switchValue{}, "lobby", "callers wait in the lobby until admitted (`on|off`)")
	fs.Var(&switchValue{}, "wait-for-host", "nobody hears anyone until a host joins (`on|off`)")
	fs.Var(&switchValue{}, "end-with-host", "the meeting ends when its last host leaves (`on|off`)")
	fs.Var(&switchValue{}, "record", "record automatically (`on|off`)")
}

// readOnlyRoomKeys are keys a GET shows that a PUT refuses.
var readOnlyRoomKeys = []string{"has_pin", "has_host_pin"}

func room(ctx context.Context, s *session, args []string) error {
	fs := s.flagSet()
	roomFlags(fs)
	pos, err := s.parse(fs, args)
	if err != nil {
		return err
	}
	named := map[string]jsonValue{}
	fs.Visit(func(f *flag.Flag) {
		if v, ok := f.Value.(jsonValue); ok {
			named[f.Name] = v
		}
	})
	sub, ext := "show", pos[0]
	if len(pos) == 2 {
		sub, ext = pos[0], pos[1]
		if sub != "set" && sub != "delete" {
			return &usageError{cmd: s.cmd, msg: fmt.Sprintf("%q: expected set or delete before the extension", sub)}
		}
	}
	if ext == "set" || ext == "delete" {
		return &usageError{cmd: s.cmd, msg: "room " + ext + ": which extension?"}
	}
	if sub != "set" && len(named) > 0 {
		return &usageError{cmd: s.cmd, msg: "settings are only taken by room set"}
	}
	path := "/api/v1/rooms/" + esc(ext)
	switch sub {
	case "delete":
		if _, _, err := s.client.Do(ctx, http.MethodDelete, path, nil); err != nil {
			return err
		}
		if s.json {
			return nil // 204: the API says nothing, and neither does --json
		}
		_, err := fmt.Fprintf(s.stdout, "%s: deleted\n", ext)
		return err
	case "set":
		return s.roomSet(ctx, ext, named)
	}
	var r Room
	raw, err := s.client.Get(ctx, path, &r)
	if err != nil {
		return err
	}
	return s.print(raw, func(w io.Writer) error { return WriteRoom(w, r) })
}

// roomSet creates or changes a room. The API's PUT replaces the whole room
// and takes the bridge's defaults for every setting it is not sent, so ctl
// reads the room first and sends back everything the operator did not
// name: `room set 4711 --lobby on` changes the lobby and nothing else.
// Keys ctl does not know are sent back as they came, so a newer bridge's
// settings survive an older ctl. Two operators changing one room at once
// can still overwrite each other; the API has no version to check.
func (s *session) roomSet(ctx context.Context, ext string, named map[string]jsonValue) error {
	path := "/api/v1/rooms/" + esc(ext)
	body := map[string]json.RawMessage{}
	raw, err := s.client.Get(ctx, path, &body)
	var apiErr *APIError
	switch {
	case errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound:
		body = map[string]json.RawMessage{} // a new room: the bridge's defaults for the rest
	case err != nil:
		return err
	case raw == nil || body == nil:
		return fmt.Errorf("unexpected answer from %s: not a room", path)
	}
	for _, k := range readOnlyRoomKeys {
		delete(body, k)
	}
	// PINs are never shown, so they are never sent back: an absent pin
	// keeps the stored one.
	delete(body, "pin")
	delete(body, "host_pin")
	if v, ok := named["sensitive"]; ok && v.json() == true {
		if _, rec := named["record"]; !rec {
			// Let the bridge apply its rule (a sensitive room does not
			// record) instead of sending back a record: true it would
			// refuse for a room turned sensitive.
			delete(body, "record")
		}
	}
	for name, v := range named {
		b, err := json.Marshal(v.json())
		if err != nil {
			return err
		}
		body[strings.ReplaceAll(name, "-", "_")] = b
	}
	status, out, err := s.client.Do(ctx, http.MethodPut, path, body)
	if err != nil {
		return err
	}
	var r Room
	if err := json.Unmarshal(out, &r); err != nil {
		return fmt.Errorf("unexpected answer from %s: %v", path, err)
	}
	return s.print(out, func(w io.Writer) error {
		what := "changed"
		if status == http.StatusCreated {
			what = "created"
		}
		fmt.Fprintf(w, "%s: %s\n", r.Extension, what)
		return WriteRoom(w, r)
	})
}

func listRooms(ctx context.Context, s *session, args []string) error {
	if _, err := s.simple(args); err != nil {
		return err
	}
	var rs []Room
	raw, err := s.client.Get(ctx, "/api/v1/rooms", &rs)
	if err != nil {
		return err
	}
	return s.print(raw, func(w io.Writer) error { return WriteRooms(w, rs) })
}
