package ctl

import (
	"context"
	"fmt"
	"io"
	"net/http"
)

// Lockout is one PIN lockout in force (GET /api/v1/lockouts).
type Lockout struct {
	Scope    string `json:"scope"`
	Key      string `json:"key"`
	Failures int    `json:"failures"`
	Until    string `json:"until"`
}

// WriteLockouts is the table of `brygga ctl lockouts`.
func WriteLockouts(w io.Writer, ls []Lockout) error {
	if len(ls) == 0 {
		_, err := fmt.Fprintln(w, "no PIN lockouts")
		return err
	}
	tw := table(w)
	fmt.Fprintln(tw, "SCOPE\tKEY\tFAILURES\tUNTIL")
	for _, l := range ls {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", l.Scope, l.Key, l.Failures, orDash(l.Until))
	}
	return tw.Flush()
}

func listLockouts(ctx context.Context, s *session, args []string) error {
	if _, err := s.simple(args); err != nil {
		return err
	}
	var ls []Lockout
	raw, err := s.client.Get(ctx, "/api/v1/lockouts", &ls)
	if err != nil {
		return err
	}
	return s.print(raw, func(w io.Writer) error { return WriteLockouts(w, ls) })
}

// lift is `lift room EXTENSION` and `lift source ADDRESS`. It is not
// called unlock: `unlock ROOM` opens a locked conference, and mixing the
// two up would open a meeting its host had closed.
func lift(ctx context.Context, s *session, args []string) error {
	pos, err := s.simple(args)
	if err != nil {
		return err
	}
	scope, key := pos[0], pos[1]
	if scope != "room" && scope != "source" {
		return &usageError{cmd: s.cmd, msg: fmt.Sprintf("%q: expected room or source", scope)}
	}
	if _, _, err := s.client.Do(ctx, http.MethodDelete, "/api/v1/lockouts/"+scope+"/"+esc(key), nil); err != nil {
		return err
	}
	if s.json {
		return nil
	}
	_, err = fmt.Fprintf(s.stdout, "%s %s: PIN lockout lifted\n", scope, key)
	return err
}
