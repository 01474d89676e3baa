package ctl

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
)

// Schedule is a scheduled meeting (GET /api/v1/schedules[/{id}]).
type Schedule struct {
	ID          string `json:"id"`
	Room        string `json:"room"`
	Organizer   string `json:"organizer"`
	Summary     string `json:"summary"`
	Zone        string `json:"zone"`
	Record      bool   `json:"record"`
	Sensitive   bool   `json:"sensitive"`
	State       string `json:"state"`
	Occurrences []struct {
		Start string `json:"start"`
		End   string `json:"end"`
		State string `json:"state"`
	} `json:"occurrences"`
}

// Outcome is what POST /api/v1/schedules did with one meeting.
type Outcome struct {
	UID       string `json:"uid"`
	Room      string `json:"room"`
	Action    string `json:"action"`
	Reason    string `json:"reason"`
	PIN       string `json:"pin"`
	Replied   bool   `json:"replied"`
	MailError string `json:"mail_error"`
}

// next is a schedule's first occurrence that has not ended, or "-".
func (s Schedule) next() string {
	for _, o := range s.Occurrences {
		if o.State != "ended" && o.State != "cancelled" {
			return o.Start + " (" + o.State + ")"
		}
	}
	return "-"
}

// WriteSchedules is the table of `brygga ctl schedules`.
func WriteSchedules(w io.Writer, ss []Schedule) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tROOM\tSUMMARY\tNEXT\tDATES\tSTATE")
	for _, s := range ss {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", s.ID, s.Room, orDash(s.Summary), s.next(), len(s.Occurrences), s.State)
	}
	return tw.Flush()
}

func listSchedules(ctx context.Context, s *session, args []string) error {
	if _, err := s.simple(args); err != nil {
		return err
	}
	var ss []Schedule
	raw, err := s.client.Get(ctx, "/api/v1/schedules", &ss)
	if err != nil {
		return err
	}
	return s.print(raw, func(w io.Writer) error { return WriteSchedules(w, ss) })
}

// schedule is `schedule ID`, `schedule delete ID` and `schedule submit FILE`.
func schedule(ctx context.Context, s *session, args []string) error {
	pos, err := s.simple(args)
	if err != nil {
		return err
	}
	if len(pos) == 1 {
		var sc Schedule
		raw, err := s.client.Get(ctx, "/api/v1/schedules/"+esc(pos[0]), &sc)
		if err != nil {
			return err
		}
		return s.print(raw, func(w io.Writer) error {
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "id:\t%s\nroom:\t%s\norganizer:\t%s\nsummary:\t%s\nzone:\t%s\nrecord:\t%s\nsensitive:\t%s\nstate:\t%s\n",
				sc.ID, sc.Room, sc.Organizer, orDash(sc.Summary), sc.Zone, yesNo(sc.Record), yesNo(sc.Sensitive), sc.State)
			for _, o := range sc.Occurrences {
				fmt.Fprintf(tw, "  %s\t%s\t%s\n", o.Start, o.End, o.State)
			}
			return tw.Flush()
		})
	}
	switch pos[0] {
	case "delete":
		if _, _, err := s.client.Do(ctx, http.MethodDelete, "/api/v1/schedules/"+esc(pos[1]), nil); err != nil {
			return err
		}
		if !s.json {
			fmt.Fprintf(s.stdout, "%s: deleted\n", pos[1])
		}
		return nil
	case "submit":
		return s.submit(ctx, pos[1])
	}
	return &usageError{cmd: s.cmd, msg: fmt.Sprintf("unknown subcommand %q (delete or submit)", pos[0])}
}

// submit posts an .ics file (or - for stdin) as text/calendar.
func (s *session) submit(ctx context.Context, file string) error {
	var r io.Reader = os.Stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	body, err := io.ReadAll(io.LimitReader(r, 1<<20+1))
	if err != nil {
		return err
	}
	req, err := s.client.request(ctx, http.MethodPost, "/api/v1/schedules", nil, nil)
	if err != nil {
		return err
	}
	req.Body = io.NopCloser(strings.NewReader(string(body)))
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", "text/calendar")
	resp, err := s.client.send(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var outs []Outcome
	if err := json.Unmarshal(raw, &outs); err != nil {
		return fmt.Errorf("unexpected answer: %v", err)
	}
	return s.print(raw, func(w io.Writer) error {
		for _, o := range outs {
			line := fmt.Sprintf("%s: %s", orDash(o.Room), o.Action)
			if o.PIN != "" {
				line += ", PIN " + o.PIN + ", dial " + o.Room + "*" + o.PIN
			}
			if o.Reason != "" {
				line += " (" + o.Reason + ")"
			}
			if o.MailError != "" {
				line += "; mail to the organizer failed: " + o.MailError
			}
			fmt.Fprintln(w, line)
		}
		return nil
	})
}
