package calendar

import (
	"fmt"
	"strings"
	"time"

	"github.com/emersion/go-ical"
	"github.com/teambition/rrule-go"
)

// series is a master VEVENT's recurrence: RRULE, RDATE and EXDATE, all in
// the zone of DTSTART, since a rule repeats wall-clock times there (10:00
// in Oslo stays 10:00 across the change to summer time).
type series struct {
	start    time.Time
	length   time.Duration
	rule     *rrule.RRule
	rdates   []time.Time
	rdateLen map[int64]time.Duration // RDATE;VALUE=PERIOD lengths
	exdates  []time.Time
	exdays   map[string]bool // EXDATE;VALUE=DATE: every instance on that day
}

// maxSteps bounds the instances walked from DTSTART to the horizon, for
// all the meetings of one object together: a daily series begun in 1900
// is about 46 000.
const maxSteps = 200000

func (b *builder) series(c *ical.Component, start time.Time, length time.Duration) (*series, error) {
	s := &series{start: start, length: length, rdateLen: map[int64]time.Duration{}, exdays: map[string]bool{}}
	zone := start.Location()
	rules := c.Props.Values(ical.PropRecurrenceRule)
	if len(rules) > 1 {
		return nil, reject(RejectRecurrence, "more than one RRULE")
	}
	if c.Props.Get("EXRULE") != nil {
		return nil, reject(RejectRecurrence, "EXRULE")
	}
	if len(rules) == 1 {
		var err error
		if s.rule, err = parseRRule(rules[0].Value, start); err != nil {
			return nil, err
		}
	}
	for _, p := range c.Props.Values(ical.PropRecurrenceDates) {
		if err := b.addRDates(s, &p); err != nil {
			return nil, err
		}
		if len(s.rdates) > MaxDates {
			return nil, reject(RejectTooMany, fmt.Sprintf("more than %d RDATEs", MaxDates))
		}
	}
	n := 0
	for _, p := range c.Props.Values(ical.PropExceptionDates) {
		ds, err := parseDates(&p)
		if err != nil {
			return nil, err
		}
		for _, d := range ds {
			if d.isDate {
				s.exdays[d.wall.Format("20060102")] = true
				continue
			}
			t, err := b.at(d, zone)
			if err != nil {
				return nil, err
			}
			s.exdates = append(s.exdates, t)
		}
		if n += len(ds); n > MaxDates {
			return nil, reject(RejectTooMany, fmt.Sprintf("more than %d EXDATEs", MaxDates))
		}
	}
	return s, nil
}

// addRDates reads one RDATE property: date-times, or periods
// ("start/end" or "start/duration") whose length replaces the series'.
func (b *builder) addRDates(s *series, p *ical.Prop) error {
	zone := s.start.Location()
	periods := strings.EqualFold(p.Params.Get(ical.ParamValue), "PERIOD") || strings.Contains(p.Value, "/")
	if !periods {
		ds, err := parseDates(p)
		if err != nil {
			return err
		}
		for _, d := range ds {
			if d.isDate {
				return reject(RejectRecurrence, "RDATE with a date and no time")
			}
			t, err := b.at(d, zone)
			if err != nil {
				return err
			}
			s.rdates = append(s.rdates, t)
		}
		return nil
	}
	tzid := cleanTZID(strings.Join(p.Params.Values(ical.PropTimezoneID), ","))
	for _, v := range strings.Split(p.Value, ",") {
		if len(s.rdates) > MaxDates {
			return nil // the caller refuses the lot
		}
		first, second, ok := strings.Cut(strings.TrimSpace(v), "/")
		if !ok {
			return fmt.Errorf("calendar: RDATE period %q", v)
		}
		d, err := parseDate(first, "DATE-TIME")
		if err != nil {
			return fmt.Errorf("calendar: RDATE period %q: %v", v, err)
		}
		d.tzid = tzid
		t, err := b.at(d, zone)
		if err != nil {
			return err
		}
		var l time.Duration
		if e, err := parseDate(second, "DATE-TIME"); err == nil {
			e.tzid = tzid
			et, err := b.at(e, zone)
			if err != nil {
				return err
			}
			l = et.Sub(t)
		} else if l, err = parseDuration(second); err != nil {
			return fmt.Errorf("calendar: RDATE period %q: %v", v, err)
		}
		if l < 0 {
			return reject(RejectEndBeforeStart, "")
		}
		s.rdates = append(s.rdates, t)
		s.rdateLen[t.Unix()] = l
	}
	return nil
}

// at places a recurrence date: its own TZID or Z, else the series' zone.
func (b *builder) at(d dateValue, zone *time.Location) (time.Time, error) {
	loc, err := b.zoneFor(d, zone)
	if err != nil {
		return time.Time{}, err
	}
	return d.in(loc), nil
}

func (s *series) recurring() bool { return s.rule != nil || len(s.rdates) > 0 }

// occurrences expands the series over [now-24h, now+Horizon] and applies
// the overrides. Overrides whose RECURRENCE-ID is no instance in the
// window but whose new time is in it are added: a meeting moved into the
// window from outside, or one Outlook keeps as an exception of a rule
// that no longer produces it.
func (s *series) occurrences(now time.Time, ovs map[int64]override, budget *int) ([]Occurrence, error) {
	from, to := now.Add(-24*time.Hour), now.Add(Horizon)
	var ids []time.Time
	before, after := false, false
	if !s.recurring() {
		switch {
		case s.start.Before(from):
			before = true
		case s.start.After(to):
			after = true
		default:
			ids = append(ids, s.start)
		}
	} else {
		var set rrule.Set
		if s.rule != nil {
			set.RRule(s.rule)
		}
		// RFC 5545 3.8.5.3: DTSTART is always the first instance, even
		// where the rule would not produce it.
		set.RDate(s.start)
		for _, t := range s.rdates {
			set.RDate(t)
		}
		for _, t := range s.exdates {
			set.ExDate(t)
		}
		next := set.Iterator()
		for {
			if *budget--; *budget < 0 {
				return nil, reject(RejectRecurrence, "too many repetitions to expand")
			}
			t, ok := next()
			if !ok {
				break
			}
			if s.exdays[t.Format("20060102")] {
				continue
			}
			if t.Before(from) {
				before = true
				continue
			}
			if t.After(to) {
				after = true
				break
			}
			ids = append(ids, t)
		}
	}

	excluded := func(t time.Time) bool {
		if s.exdays[t.In(s.start.Location()).Format("20060102")] {
			return true
		}
		for _, x := range s.exdates {
			if x.Equal(t) {
				return true
			}
		}
		return false
	}
	inWindow := func(t time.Time) bool { return !t.Before(from) && !t.After(to) }

	var occ []Occurrence
	used := map[int64]bool{}
	for _, id := range ids {
		key := id.UTC().Unix()
		if o, ok := ovs[key]; ok {
			used[key] = true
			if !o.cancelled && inWindow(o.start) {
				occ = append(occ, Occurrence{ID: o.id, Start: o.start, End: o.end})
			}
			continue
		}
		l := s.length
		if pl, ok := s.rdateLen[id.Unix()]; ok {
			l = pl
		}
		occ = append(occ, Occurrence{ID: id.UTC(), Start: id, End: id.Add(l)})
	}
	for key, o := range ovs {
		if !used[key] && !o.cancelled && !excluded(o.id) && inWindow(o.start) {
			occ = append(occ, Occurrence{ID: o.id, Start: o.start, End: o.end})
		}
	}
	sortOccurrences(occ)
	if len(occ) > MaxOccurrences {
		occ = occ[:MaxOccurrences]
	}
	if len(occ) == 0 {
		switch {
		case !s.recurring() && after:
			return nil, reject(RejectTooFar, "")
		case !s.recurring():
			return nil, reject(RejectPast, "")
		case after && !before:
			return nil, reject(RejectTooFar, "")
		case before && !after:
			return nil, reject(RejectPast, "")
		}
		return nil, reject(RejectNoOccurrence, "")
	}
	return occ, nil
}
