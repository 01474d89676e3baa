package load

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"
)

// Report is what a run measured. Durations in the JSON are milliseconds.
type Report struct {
	Target       string     `json:"target"`
	Transport    string     `json:"transport"`
	Codec        string     `json:"codec"`
	Rooms        int        `json:"rooms"`
	PerRoom      int        `json:"per_room"`
	Talkers      int        `json:"talkers"`
	Participants int        `json:"participants"`
	Echo         bool       `json:"echo"`
	WindowStart  Millis     `json:"window_start_ms"` // since the first INVITE
	Window       Millis     `json:"window_ms"`       // the steady state measured
	Calls        Calls      `json:"calls"`
	Churn        *Churn     `json:"churn,omitempty"` // a churning run (Config.Hold)
	Packets      Packets    `json:"packets"`
	Jitter       Spread     `json:"jitter_ms"` // |D| of RFC 3550 per packet, every listener's packets together
	Delay        Spread     `json:"delay_ms"`  // burst sent → its onset heard
	Separation   Separation `json:"separation"`
	Server       *Server    `json:"server,omitempty"`
	Generator    Gen        `json:"generator"`
	Failures     []string   `json:"failures"`
	OK           bool       `json:"ok"`
}

// Millis marshals a duration as fractional milliseconds.
type Millis time.Duration

func (m Millis) MarshalJSON() ([]byte, error) {
	return json.Marshal(roundTo(time.Duration(m).Seconds()*1000, 3))
}

func (m *Millis) UnmarshalJSON(b []byte) error {
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*m = Millis(v * float64(time.Millisecond))
	return nil
}

func (m Millis) String() string { return fmtMillis(time.Duration(m)) }

// Calls counts the calls of a run.
type Calls struct {
	Attempted int            `json:"attempted"`
	Answered  int            `json:"answered"`
	Failed    int            `json:"failed"`           // not answered
	ByStatus  map[string]int `json:"failed_by_status"` // SIP status code, or "timeout", "error"
	PINFailed int            `json:"pin_failed"`       // answered, but the PIN could not be keyed
	Dropped   int            `json:"dropped"`          // ended by the far end before the window closed
	InWindow  int            `json:"in_window"`        // up for the whole window: the participants the CPU is shared by
	Setup     Spread         `json:"setup_ms"`         // INVITE sent → 200 answered
}

// Churn describes a churning run. Its Calls count every call placed
// (Attempted) over the whole run; Dropped are the calls the bridge ended
// before their hold was over, InWindow the calls measured (in the room
// inside the window for some time), and the packets, jitter, delay and
// separation are those calls', each over its own time in the window.
type Churn struct {
	HoldMin        Millis  `json:"hold_min_ms"`
	HoldMax        Millis  `json:"hold_max_ms"`
	Seats          int     `json:"seats"`            // callers kept connected: rooms × per room
	HungUp         int     `json:"hung_up"`          // calls the generator ended (after their hold, or at the end)
	ByeFailed      int     `json:"bye_failed"`       // hang-ups whose BYE failed
	PlacedInWindow int     `json:"placed_in_window"` // calls dialled while the window was open
	ConnectedMin   int     `json:"connected_min"`    // calls up, sampled every second in the window
	ConnectedMean  float64 `json:"connected_mean"`
	ConnectedMax   int     `json:"connected_max"`
}

// Packets counts what the listeners received inside the window.
type Packets struct {
	Expected        uint64  `json:"expected"` // by RTP sequence numbers, per SSRC
	Received        uint64  `json:"received"`
	Lost            uint64  `json:"lost"`
	LossPercent     float64 `json:"loss_pct"`
	ExpectedByClock uint64  `json:"expected_by_clock"` // 50 a second per listener, from its first to its last packet
	Silent          int     `json:"silent_listeners"`  // calls in the window that received nothing in it
}

// Spread is a distribution's count and nearest-rank percentiles.
type Spread struct {
	N   uint64 `json:"n"`
	P50 Millis `json:"p50"`
	P99 Millis `json:"p99"`
	Max Millis `json:"max"`
}

// Separation says whether every listener heard its room and nothing else.
type Separation struct {
	Pairs          int            `json:"pairs"`       // listener × talker it should hear, both up in the window
	PairsHeard     int            `json:"pairs_heard"` // the talker's tone was on in at least one frame of the window
	Missed         int            `json:"missed"`      // Pairs − PairsHeard
	BurstsExpected int            `json:"bursts_expected"`
	BurstsHeard    int            `json:"bursts_heard"`
	Leaks          int            `json:"leaks"` // episodes of another room's tone heard
	LeakListeners  int            `json:"leak_listeners"`
	SelfEcho       int            `json:"self_echo"` // episodes of a talker hearing itself from a bridge
	Unmatched      int            `json:"unmatched_onsets"`
	Repeated       int            `json:"repeated_onsets"`
	Unexplained    int            `json:"unexplained_frames"` // frames with sound none of the expected tones explain
	Distinct       int            `json:"distinct_rooms"`     // rooms with a tone set of their own
	LeakedFreqs    map[string]int `json:"leaked_hz,omitempty"`
}

// Violations is the count of separation failures: leaks and self-echo.
func (r Separation) Violations() int { return r.Leaks + r.SelfEcho }

// Server is the bridge process's cost over the window, from /proc.
type Server struct {
	PID                  int     `json:"pid"`
	CPUSeconds           float64 `json:"cpu_seconds"`
	Cores                float64 `json:"cores"` // CPU-seconds per second of window
	PerParticipantMinute float64 `json:"cpu_s_per_participant_minute"`
	RSSKiB               int64   `json:"rss_kib"`
	RSSPerParticipantKiB float64 `json:"rss_per_participant_kib"`
	Threads              int     `json:"threads"`
	Error                string  `json:"error,omitempty"`
}

// Gen is the load generator's own health: a generator short of CPU sends
// late and hears late, and its figures then describe itself.
//
// It runs on the bridge's machine in most runs, so its own CPU is stated
// next to the bridge's, and its lateness in the window: a sender tick more
// than a frame late is a stall of the generator, and where there are many
// the jitter and delay describe it more than the bridge.
type Gen struct {
	CPUSeconds           float64 `json:"cpu_seconds"` // over the window
	Cores                float64 `json:"cores"`       // CPU-seconds per second of window
	PerParticipantMinute float64 `json:"cpu_s_per_participant_minute"`
	LateTicks            uint64  `json:"late_sender_ticks"`           // over the calls' whole life, the ramp included
	LateTicksInWindow    uint64  `json:"late_sender_ticks_in_window"` // during the window
	SendErrors           uint64  `json:"send_errors"`
}

// Limits fail a run (exit status 1) when exceeded; negative (or zero for
// durations) is no limit. The zero Limits is strict: no failed call, no
// loss, no separation violation, no pair unheard. NoLimits checks nothing.
type Limits struct {
	MaxFailed int           // calls not answered, PIN failures and drops
	MaxLoss   float64       // percent
	MaxJitter time.Duration // p99
	MaxDelay  time.Duration // p99
	MaxLeaks  int           // separation violations: leaks and self-echo
	MaxMissed int           // listener × talker pairs never heard
}

// NoLimits checks nothing.
var NoLimits = Limits{MaxFailed: -1, MaxLoss: -1, MaxLeaks: -1, MaxMissed: -1}

// check lists every limit the report exceeds.
func (r *Report) check(l Limits) []string {
	var out []string
	if bad := r.Calls.Failed + r.Calls.PINFailed + r.Calls.Dropped; l.MaxFailed >= 0 && bad > l.MaxFailed {
		out = append(out, fmt.Sprintf("%d calls failed (%d not answered, %d PIN, %d dropped), --max-failed %d",
			bad, r.Calls.Failed, r.Calls.PINFailed, r.Calls.Dropped, l.MaxFailed))
	}
	if l.MaxLoss >= 0 && r.Packets.LossPercent > l.MaxLoss {
		out = append(out, fmt.Sprintf("loss %.3f %% > --max-loss %g %%", r.Packets.LossPercent, l.MaxLoss))
	}
	if l.MaxJitter > 0 && time.Duration(r.Jitter.P99) > l.MaxJitter {
		out = append(out, fmt.Sprintf("jitter p99 %s > --max-jitter %s", r.Jitter.P99, fmtMillis(l.MaxJitter)))
	}
	if l.MaxDelay > 0 && time.Duration(r.Delay.P99) > l.MaxDelay {
		out = append(out, fmt.Sprintf("delay p99 %s > --max-delay %s", r.Delay.P99, fmtMillis(l.MaxDelay)))
	}
	if v := r.Separation.Violations(); l.MaxLeaks >= 0 && v > l.MaxLeaks {
		out = append(out, fmt.Sprintf("%d separation violations (%d leaks, %d self-echo) > --max-leaks %d",
			v, r.Separation.Leaks, r.Separation.SelfEcho, l.MaxLeaks))
	}
	if l.MaxMissed >= 0 && r.Separation.Missed > l.MaxMissed {
		out = append(out, fmt.Sprintf("%d listener-talker pairs never heard > --max-missed %d", r.Separation.Missed, l.MaxMissed))
	}
	return out
}

func spreadOf(h *histogram) Spread {
	return Spread{N: h.n, P50: Millis(h.quantile(0.5)), P99: Millis(h.quantile(0.99)), Max: Millis(time.Duration(h.max) * time.Microsecond)}
}

func spreadOfValues(v []time.Duration) Spread {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s) == 0 {
		return Spread{}
	}
	return Spread{N: uint64(len(s)), P50: Millis(quantileOf(s, 0.5)), P99: Millis(quantileOf(s, 0.99)), Max: Millis(s[len(s)-1])}
}

// WriteJSON writes the report as one indented JSON object.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

// WriteText writes the report for people.
func (r *Report) WriteText(w io.Writer) {
	pf := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	mode := ""
	if r.Echo {
		mode = ", echo target"
	}
	pf("brygga load: %d participants at %s over %s (%d rooms × %d, %d talkers each, %s%s); window %s after %s\n",
		r.Participants, r.Target, r.Transport, r.Rooms, r.PerRoom, r.Talkers, r.Codec, mode,
		fmtSeconds(time.Duration(r.Window)), fmtSeconds(time.Duration(r.WindowStart)))
	if ch := r.Churn; ch != nil {
		pf("churn      %d seats, holds %s..%s; %d calls placed in the window; connected min %d mean %.1f max %d; hung up %d, BYE failed %d\n",
			ch.Seats, fmtSeconds(time.Duration(ch.HoldMin)), fmtSeconds(time.Duration(ch.HoldMax)), ch.PlacedInWindow,
			ch.ConnectedMin, ch.ConnectedMean, ch.ConnectedMax, ch.HungUp, ch.ByeFailed)
	}
	c := r.Calls
	pf("calls      attempted %d  answered %d  failed %d%s  PIN failed %d  dropped %d  up in window %d;  setup p50 %s p99 %s\n",
		c.Attempted, c.Answered, c.Failed, byStatus(c.ByStatus), c.PINFailed, c.Dropped, c.InWindow, c.Setup.P50, c.Setup.P99)
	p := r.Packets
	pf("packets    expected %d  received %d  lost %d (%.3f %%)  [50/s by clock: %d; silent listeners %d]\n",
		p.Expected, p.Received, p.Lost, p.LossPercent, p.ExpectedByClock, p.Silent)
	pf("jitter     p50 %s  p99 %s  max %s   (|D| per packet, RFC 3550; %d packets)\n", r.Jitter.P50, r.Jitter.P99, r.Jitter.Max, r.Jitter.N)
	pf("delay      p50 %s  p99 %s  max %s   (burst sent → onset heard; %d onsets)\n", r.Delay.P50, r.Delay.P99, r.Delay.Max, r.Delay.N)
	s := r.Separation
	pf("rooms      %d/%d listener-talker pairs heard (%d missed), bursts %d/%d; leaks %d (at %d listeners), self-echo %d; "+
		"rooms with tones of their own: %d\n", s.PairsHeard, s.Pairs, s.Missed, s.BurstsHeard, s.BurstsExpected, s.Leaks, s.LeakListeners, s.SelfEcho, s.Distinct)
	if s.Unmatched+s.Repeated+s.Unexplained > 0 {
		pf("           unmatched onsets %d, repeated onsets %d, frames with unexplained sound %d\n", s.Unmatched, s.Repeated, s.Unexplained)
	}
	if sv := r.Server; sv != nil {
		if sv.Error != "" {
			pf("server     pid %d: %s\n", sv.PID, sv.Error)
		} else {
			pf("server     pid %d: %.2f CPU-s = %.1f %% of a core; %.4f CPU-s per participant-minute; RSS %.1f MiB (%.0f KiB per participant), %d threads\n",
				sv.PID, sv.CPUSeconds, 100*sv.Cores, sv.PerParticipantMinute, float64(sv.RSSKiB)/1024, sv.RSSPerParticipantKiB, sv.Threads)
		}
	}
	g := r.Generator
	pf("generator  %.2f CPU-s = %.1f %% of a core; %.4f CPU-s per participant-minute; late sender ticks %d in the window (%d in all); %d send errors\n",
		g.CPUSeconds, 100*g.Cores, g.PerParticipantMinute, g.LateTicksInWindow, g.LateTicks, g.SendErrors)
	if r.OK {
		pf("result     ok\n")
		return
	}
	for _, f := range r.Failures {
		pf("FAILED     %s\n", f)
	}
}

func byStatus(m map[string]int) string {
	if len(m) == 0 {
		return ""
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s×%d", k, m[k])
	}
	return " (" + strings.Join(parts, " ") + ")"
}

func fmtMillis(d time.Duration) string {
	ms := d.Seconds() * 1000
	switch {
	case ms >= 100:
		return fmt.Sprintf("%.0f ms", ms)
	case ms >= 10:
		return fmt.Sprintf("%.1f ms", ms)
	default:
		return fmt.Sprintf("%.2f ms", ms)
	}
}

func fmtSeconds(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }

func roundTo(v float64, digits int) float64 {
	p := 1.0
	for range digits {
		p *= 10
	}
	if v < 0 {
		return -float64(int64(-v*p+0.5)) / p
	}
	return float64(int64(v*p+0.5)) / p
}
