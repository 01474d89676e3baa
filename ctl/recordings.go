package ctl

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"text/tabwriter"
)

// Recording is a recording and its delivery (GET /api/v1/recordings[/{id}]).
type Recording struct {
	ID          string  `json:"id"`
	Room        string  `json:"room"`
	Owner       string  `json:"owner"`
	Target      string  `json:"target"`
	Started     string  `json:"started"`
	Ended       string  `json:"ended"`
	Seconds     float64 `json:"seconds"`
	Bytes       int64   `json:"bytes"`
	State       string  `json:"state"`
	Attempts    int     `json:"attempts"`
	NextAttempt string  `json:"next_attempt"`
	LastError   string  `json:"last_error"`
	Delivered   string  `json:"delivered"`
}

// WriteRecordings is the table of `brygga ctl recordings`.
func WriteRecordings(w io.Writer, rs []Recording) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tROOM\tSTARTED\tLENGTH\tSTATE\tTO")
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Room, orDash(r.Started), length(r.Seconds), r.State, orDash(r.Target))
	}
	return tw.Flush()
}

// WriteRecording is `brygga ctl recording ID`.
func WriteRecording(w io.Writer, r Recording) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, kv := range [][2]string{
		{"id", r.ID}, {"room", r.Room}, {"owner", orDash(r.Owner)}, {"started", orDash(r.Started)},
		{"ended", orDash(r.Ended)}, {"length", length(r.Seconds)}, {"bytes", fmt.Sprint(r.Bytes)},
		{"state", r.State}, {"to", orDash(r.Target)}, {"attempts", fmt.Sprint(r.Attempts)},
		{"next attempt", orDash(r.NextAttempt)}, {"last error", orDash(r.LastError)}, {"delivered", orDash(r.Delivered)},
	} {
		fmt.Fprintf(tw, "%s:\t%s\n", kv[0], kv[1])
	}
	return tw.Flush()
}

func length(seconds float64) string {
	s := int(seconds)
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

func listRecordings(ctx context.Context, s *session, args []string) error {
	if _, err := s.simple(args); err != nil {
		return err
	}
	var rs []Recording
	raw, err := s.client.Get(ctx, "/api/v1/recordings", &rs)
	if err != nil {
		return err
	}
	return s.print(raw, func(w io.Writer) error { return WriteRecordings(w, rs) })
}

var recordingOut string

func recordingFlags(fs *flag.FlagSet) {
	fs.StringVar(&recordingOut, "o", "", "audio: write the WAV to this file (default ID.wav; - for stdout)")
}

// recording is `recording ID`, `recording audio ID [-o FILE]`,
// `recording retry ID` and `recording delete ID`.
func recording(ctx context.Context, s *session, args []string) error {
	fs := s.flagSet()
	recordingFlags(fs)
	pos, err := s.parse(fs, args)
	if err != nil {
		return err
	}
	sub, id := "", pos[0]
	if len(pos) == 2 {
		sub, id = pos[0], pos[1]
	}
	path := "/api/v1/recordings/" + esc(id)
	switch sub {
	case "":
		var r Recording
		raw, err := s.client.Get(ctx, path, &r)
		if err != nil {
			return err
		}
		return s.print(raw, func(w io.Writer) error { return WriteRecording(w, r) })
	case "retry":
		_, raw, err := s.client.Do(ctx, http.MethodPost, path+"/retry", nil)
		if err != nil {
			return err
		}
		return s.print(raw, func(w io.Writer) error {
			_, err := fmt.Fprintf(w, "%s: queued for delivery now\n", id)
			return err
		})
	case "delete":
		if _, _, err := s.client.Do(ctx, http.MethodDelete, path, nil); err != nil {
			return err
		}
		if s.json {
			return nil
		}
		_, err := fmt.Fprintf(s.stdout, "%s: deleted\n", id)
		return err
	case "audio":
		return s.audio(ctx, path+"/audio", id)
	}
	return &usageError{cmd: s.cmd, msg: fmt.Sprintf("unknown subcommand %q (audio, retry or delete)", sub)}
}

// audio streams a WAV to a file: recordings are megabytes, so neither the
// answer limit nor the request timeout of other commands applies.
func (s *session) audio(ctx context.Context, path, id string) error {
	req, err := s.client.request(ctx, http.MethodGet, path, nil, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "audio/wav")
	resp, err := s.client.send(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	out := recordingOut
	if out == "" {
		out = filepath.Base(id) + ".wav"
	}
	var w io.Writer = s.stdout
	if out != "-" {
		f, err := os.Create(out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return fmt.Errorf("downloading %s: %w", id, err)
	}
	if out != "-" {
		fmt.Fprintf(s.stderr, "%s: %d bytes to %s\n", id, n, out)
	}
	return nil
}
