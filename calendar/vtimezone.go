package calendar

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/emersion/go-ical"
	"github.com/teambition/rrule-go"
)

// A VTIMEZONE is read only to recognise it: brygga keeps every time in an
// IANA zone from time/tzdata, which knows the history a VTIMEZONE leaves
// out. When a TZID's name says nothing (Exchange CDO's "GMT +0100
// (Standard) / GMT +0200 (Daylight)", Outlook's "Customized Time Zone"),
// the zone is the IANA zone whose offsets and transitions agree with the
// VTIMEZONE's STANDARD and DAYLIGHT rules over the meeting's time.

type observance struct {
	start    time.Time // DTSTART, wall clock as UTC
	from, to int       // TZOFFSETFROM and TZOFFSETTO, seconds east of UTC
	rule     *rrule.RRule
	rdates   []time.Time // wall clocks as UTC
}

type vtimezone struct {
	obs []observance
}

// maxObservances bounds a VTIMEZONE; a full tzurl.org history of a
// European zone has a few dozen.
const maxObservances = 100

func parseVTimezone(c *ical.Component) (*vtimezone, error) {
	vt := &vtimezone{}
	rdates := 0
	for _, child := range c.Children {
		if child.Name != "STANDARD" && child.Name != "DAYLIGHT" {
			continue
		}
		if len(vt.obs) == maxObservances {
			return nil, fmt.Errorf("calendar: VTIMEZONE with more than %d observances", maxObservances)
		}
		var o observance
		p := child.Props.Get("DTSTART")
		if p == nil {
			return nil, fmt.Errorf("calendar: %s without DTSTART", child.Name)
		}
		d, err := parseDate(strings.TrimSpace(p.Value), "")
		if err != nil {
			return nil, fmt.Errorf("calendar: %s DTSTART: %v", child.Name, err)
		}
		o.start = d.wall
		for _, f := range []struct {
			name string
			dst  *int
		}{{"TZOFFSETFROM", &o.from}, {"TZOFFSETTO", &o.to}} {
			p := child.Props.Get(f.name)
			if p == nil {
				return nil, fmt.Errorf("calendar: %s without %s", child.Name, f.name)
			}
			if *f.dst, err = parseOffset(p.Value); err != nil {
				return nil, err
			}
		}
		if p := child.Props.Get("RRULE"); p != nil {
			if o.rule, err = parseRRule(p.Value, o.start); err != nil {
				return nil, err
			}
			// Zones change once or twice a year; other rules would
			// be walked day by day from 1601.
			if o.rule.OrigOptions.Freq != rrule.YEARLY {
				return nil, fmt.Errorf("calendar: VTIMEZONE rule that is not yearly")
			}
		}
		for _, p := range child.Props.Values("RDATE") {
			for _, s := range strings.Split(p.Value, ",") {
				d, err := parseDate(strings.TrimSpace(s), "")
				if err != nil {
					return nil, fmt.Errorf("calendar: %s RDATE: %v", child.Name, err)
				}
				o.rdates = append(o.rdates, d.wall)
				if rdates++; rdates > MaxDates {
					return nil, fmt.Errorf("calendar: too many RDATEs in a VTIMEZONE")
				}
			}
		}
		vt.obs = append(vt.obs, o)
	}
	if len(vt.obs) == 0 {
		return nil, fmt.Errorf("calendar: VTIMEZONE without STANDARD or DAYLIGHT")
	}
	return vt, nil
}

// parseOffset reads "+0100", "-0800" or "+005328".
func parseOffset(s string) (int, error) {
	s = strings.TrimSpace(s)
	if (len(s) != 5 && len(s) != 7) || (s[0] != '+' && s[0] != '-') {
		return 0, fmt.Errorf("calendar: bad UTC offset %q", s)
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("calendar: bad UTC offset %q", s)
		}
	}
	h, m, sec := mustAtoi(s[1:3]), mustAtoi(s[3:5]), 0
	if len(s) == 7 {
		sec = mustAtoi(s[5:7])
	}
	if h > 23 || m > 59 || sec > 59 {
		return 0, fmt.Errorf("calendar: bad UTC offset %q", s)
	}
	off := h*3600 + m*60 + sec
	if s[0] == '-' {
		off = -off
	}
	return off, nil
}

type transition struct {
	at     time.Time
	offset int // from at on
}

// maxOnsets bounds the work of one timeline. Outlook's two rules from
// 1601 are restarted near a (ruleFrom) and take a handful; a tzurl.org
// history of a European zone takes a few hundred.
const maxOnsets = 2000

// timeline is the VTIMEZONE's offset at a and its changes in (a, b];
// ok is false when the VTIMEZONE takes too much work to evaluate.
func (vt *vtimezone) timeline(a, b time.Time) (offset int, changes []transition, ok bool) {
	var onsets []transition
	for _, o := range vt.obs {
		add := func(wall time.Time) bool {
			at := wall.Add(-time.Duration(o.from) * time.Second)
			if at.After(b) {
				return false
			}
			onsets = append(onsets, transition{at, o.to})
			return true
		}
		add(o.start)
		for _, w := range o.rdates {
			add(w)
		}
		if r := o.ruleFrom(a); r != nil {
			next := r.Iterator()
			for {
				w, more := next()
				if !more || !add(w) {
					break
				}
				if len(onsets) > maxOnsets {
					return 0, nil, false
				}
			}
		}
	}
	sort.SliceStable(onsets, func(i, j int) bool { return onsets[i].at.Before(onsets[j].at) })

	// Before its first onset a zone keeps that onset's TZOFFSETFROM.
	if len(onsets) > maxOnsets {
		return 0, nil, false
	}
	cur := vt.obs[0].from
	earliest := vt.obs[0].start.Add(-time.Duration(vt.obs[0].from) * time.Second)
	for _, o := range vt.obs[1:] {
		if at := o.start.Add(-time.Duration(o.from) * time.Second); at.Before(earliest) {
			cur, earliest = o.from, at
		}
	}
	for _, t := range onsets {
		if !t.at.After(a) {
			cur = t.offset
			continue
		}
		if t.offset != offsetAfter(cur, changes) {
			changes = append(changes, t)
		}
	}
	return cur, changes, true
}

func offsetAfter(start int, changes []transition) int {
	if len(changes) == 0 {
		return start
	}
	return changes[len(changes)-1].offset
}

// ruleFrom is the observance's rule restarted a couple of years before
// t. rrule-go ends a rule without UNTIL 290 years after its DTSTART, and
// Outlook starts every rule in 1601; a yearly rule without COUNT yields
// the same dates from a later start in the same interval.
func (o observance) ruleFrom(t time.Time) *rrule.RRule {
	if o.rule == nil {
		return nil
	}
	opt := o.rule.OrigOptions
	step := max(opt.Interval, 1)
	years := (t.Year() - 2 - opt.Dtstart.Year()) / step * step
	if opt.Freq != rrule.YEARLY || opt.Count != 0 || years <= 0 {
		return o.rule
	}
	opt.Dtstart = opt.Dtstart.AddDate(years, 0, 0)
	r, err := rrule.NewRRule(opt)
	if err != nil {
		return o.rule
	}
	return r
}

// zoneTimeline is the same for an IANA zone, from Go's tzdata.
func zoneTimeline(loc *time.Location, a, b time.Time) (int, []transition) {
	_, cur := a.In(loc).Zone()
	start := cur
	var changes []transition
	t := a
	for n := 0; n < 1000; n++ {
		_, end := t.In(loc).ZoneBounds()
		if end.IsZero() || end.After(b) || !end.After(t) {
			break
		}
		_, off := end.In(loc).Zone()
		if off != cur {
			changes = append(changes, transition{end, off})
			cur = off
		}
		t = end
	}
	return start, changes
}

// agrees says whether loc keeps the same offsets as vt over [a, b].
func (vt *vtimezone) agrees(loc *time.Location, a, b time.Time) bool {
	offset, changes, ok := vt.timeline(a, b)
	return ok && sameTimeline(offset, changes, loc, a, b)
}

func sameTimeline(offset int, changes []transition, loc *time.Location, a, b time.Time) bool {
	o2, c2 := zoneTimeline(loc, a, b)
	if offset != o2 || len(changes) != len(c2) {
		return false
	}
	for i := range changes {
		if !changes[i].at.Equal(c2[i].at) || changes[i].offset != c2[i].offset {
			return false
		}
	}
	return true
}
