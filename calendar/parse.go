package calendar

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-ical"
)

// ErrMethod is returned (wrapped) for an iCalendar METHOD other than
// REQUEST, CANCEL, PUBLISH or none: REPLY, COUNTER, REFRESH, ADD and
// DECLINECOUNTER are answers to an organizer, and brygga never organizes.
// Never reply to those: that is how mail loops start.
var ErrMethod = errors.New("calendar: unsupported METHOD")

// Parse reads one iCalendar object: the meetings it books or cancels and
// their occurrences from now-24h to now+Horizon.
//
// The error is a *Rejection for an invite that was read but cannot be
// booked; the Request is then returned as well, with what could be read
// (UID, SEQUENCE, organizer, summary), so that the caller can send the
// DECLINED reply. Any other error means the input is not a calendar
// brygga can read, and the Request is nil.
//
// Times without a zone ("floating") are read in the object's VTIMEZONE
// when it has exactly one: Exchange writes floating DTSTART and DTEND next
// to the organizer's VTIMEZONE (ics-parser issue 343), its UNTIL then
// matches only that reading, and it is what the organizer sees in Outlook.
// With no VTIMEZONE, or several, floating times are rejected. All-day
// events (DATE values) are rejected: a phone meeting needs a clock time.
func Parse(ics []byte, now time.Time) (*Request, error) {
	return parse(ics, now, "")
}

// parse is Parse with the METHOD of the MIME part for objects that have
// none of their own (Lotus Notes).
func parse(ics []byte, now time.Time, mimeMethod string) (*Request, error) {
	clean, err := normalize(ics)
	if err != nil {
		return nil, err
	}
	cal, err := ical.NewDecoder(bytes.NewReader(clean)).Decode()
	if err != nil {
		return nil, fmt.Errorf("calendar: %w", err)
	}

	req := &Request{DeclaredMethod: strings.ToUpper(strings.TrimSpace(propValue(cal.Component, ical.PropMethod)))}
	method := req.DeclaredMethod
	if method == "" {
		method = strings.ToUpper(strings.TrimSpace(mimeMethod))
	}
	switch method {
	case "", "PUBLISH", "REQUEST":
		req.Method = "REQUEST"
	case "CANCEL":
		req.Method = "CANCEL"
	default:
		return nil, fmt.Errorf("%w: %q", ErrMethod, method)
	}

	b := &builder{now: now, cal: cal, cancel: req.Method == "CANCEL", steps: maxSteps}
	if b.zones, err = newZones(cal, now); err != nil {
		return req, err
	}
	groups, err := b.group()
	if err != nil {
		return req, err
	}
	for _, g := range groups {
		m, err := b.identity(g)
		if err != nil {
			return nil, err
		}
		req.Meetings = append(req.Meetings, m)
	}
	for i := range req.Meetings {
		if req.Meetings[i].Organizer == "" {
			return req, reject(RejectNoOrganizer, "")
		}
	}
	for i, g := range groups {
		m := &req.Meetings[i]
		if b.cancel {
			err = b.cancellation(m, g)
		} else {
			err = b.schedule(m, g)
		}
		if err != nil {
			var r *Rejection
			if errors.As(err, &r) {
				return req, err
			}
			return nil, err
		}
	}
	return req, nil
}

type builder struct {
	now    time.Time
	cal    *ical.Calendar
	cancel bool
	zones  *zones
	steps  int // recurrence instances left to walk, see maxSteps
}

// group is the components of one UID: the series (master) and its
// RECURRENCE-ID overrides.
type group struct {
	uid       string
	master    *ical.Component
	overrides []*ical.Component
}

func (b *builder) group() ([]*group, error) {
	var events []*ical.Component
	for _, c := range b.cal.Children {
		if c.Name == ical.CompEvent {
			events = append(events, c)
		}
	}
	if len(events) > MaxComponents {
		return nil, reject(RejectTooMany, fmt.Sprintf("more than %d events", MaxComponents))
	}
	// A VEVENT with nothing in it but perhaps a UID books nothing;
	// Exchange test data has such stubs next to the real event.
	var real []*ical.Component
	for _, c := range events {
		if !stub(c) {
			real = append(real, c)
		}
	}
	if len(real) == 0 {
		return nil, reject(RejectNoEvent, "")
	}
	var groups []*group
	byUID := map[string]*group{}
	for _, c := range real {
		uid := text(c, ical.PropUID)
		if uid == "" {
			return nil, reject(RejectNoUID, "")
		}
		g := byUID[uid]
		if g == nil {
			g = &group{uid: uid}
			byUID[uid] = g
			groups = append(groups, g)
		}
		if c.Props.Get(ical.PropRecurrenceID) != nil {
			g.overrides = append(g.overrides, c)
			continue
		}
		// Two masters for one UID: the later version wins.
		if g.master == nil || newer(c, g.master) {
			g.master = c
		}
	}
	return groups, nil
}

func stub(c *ical.Component) bool {
	for _, p := range []string{ical.PropDateTimeStart, ical.PropRecurrenceID, ical.PropOrganizer, ical.PropSummary, ical.PropRecurrenceRule} {
		if c.Props.Get(p) != nil {
			return false
		}
	}
	return true
}

// newer compares SEQUENCE, then DTSTAMP, as RFC 5546 section 2.1.5 orders
// versions; unreadable values count as oldest.
func newer(a, b *ical.Component) bool {
	sa, _ := sequence(a)
	sb, _ := sequence(b)
	if sa != sb {
		return sa > sb
	}
	return propValue(a, ical.PropDateTimeStamp) > propValue(b, ical.PropDateTimeStamp)
}

func sequence(c *ical.Component) (int, error) {
	s := strings.TrimSpace(propValue(c, ical.PropSequence))
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("calendar: SEQUENCE %q is not a number", s)
	}
	return n, nil
}

// identity reads what a reply needs and what the options depend on.
func (b *builder) identity(g *group) (Meeting, error) {
	m := Meeting{UID: g.uid}
	src := g.master
	comps := g.overrides
	if src == nil {
		// Overrides only: the latest one speaks for the series.
		src = g.overrides[0]
		for _, c := range g.overrides[1:] {
			if newer(c, src) {
				src = c
			}
		}
	} else {
		comps = append([]*ical.Component{src}, comps...)
	}
	var err error
	if m.Sequence, err = sequence(src); err != nil {
		return m, err
	}
	if p := src.Props.Get(ical.PropDateTimeStamp); p != nil {
		d, err := parseDate(strings.TrimSpace(p.Value), "")
		if err != nil {
			return m, fmt.Errorf("calendar: DTSTAMP %q: %v", p.Value, err)
		}
		m.Stamp = d.wall // UTC by definition; a missing Z changes nothing worth refusing
	}
	for _, c := range comps {
		if p := c.Props.Get(ical.PropOrganizer); p != nil && m.Organizer == "" {
			m.Organizer = address(p)
			m.OrganizerName = commonName(p)
		}
	}
	seen := map[string]bool{}
	for _, p := range src.Props.Values(ical.PropAttendee) {
		if a := address(&p); a != "" && !seen[a] {
			seen[a] = true
			m.Attendees = append(m.Attendees, a)
		}
	}
	m.Summary = text(src, ical.PropSummary)
	m.Description = text(src, ical.PropDescription)
	m.Record, m.Sensitive = markers(m.Summary, m.Description)
	return m, nil
}

// when is a start, end or override time read into its zone.
type when struct {
	t     time.Time // in the zone it was written in (UTC for Z values); a DATE at midnight UTC
	isDay bool
}

// date reads a single-valued date property. Floating values take the
// object's only VTIMEZONE (see Parse), or fallback when it is not nil.
func (b *builder) date(p *ical.Prop, fallback *time.Location) (when, error) {
	ds, err := parseDates(p)
	if err != nil {
		return when{}, err
	}
	if len(ds) != 1 {
		return when{}, fmt.Errorf("calendar: %s has %d values", p.Name, len(ds))
	}
	d := ds[0]
	w := when{isDay: d.isDate}
	if d.wall.Year() < 1900 {
		return w, reject(RejectDateRange, d.wall.Format("2006-01-02"))
	}
	if d.isDate {
		w.t = d.wall
		return w, nil
	}
	loc, err := b.zoneFor(d, fallback)
	if err != nil {
		return w, err
	}
	w.t = d.in(loc)
	return w, nil
}

func (b *builder) zoneFor(d dateValue, fallback *time.Location) (*time.Location, error) {
	switch {
	case d.utc:
		return time.UTC, nil
	case d.tzid != "":
		return b.zones.resolve(d.tzid, d.wall)
	case fallback != nil:
		return fallback, nil
	case len(b.zones.order) == 1:
		return b.zones.resolve(b.zones.order[0], d.wall)
	}
	return nil, reject(RejectFloating, "")
}

// displayZone is where a meeting written in UTC is shown: the
// calendar's X-WR-TIMEZONE (Google), its only VTIMEZONE, or UTC.
func (b *builder) displayZone(start time.Time) *time.Location {
	if start.Location() != time.UTC {
		return start.Location()
	}
	wr := cleanTZID(propValue(b.cal.Component, "X-WR-TIMEZONE"))
	if loc := zoneByIANA(wr); loc != nil {
		return loc
	}
	if loc := zoneByWindows(wr); loc != nil {
		return loc
	}
	if len(b.zones.order) == 1 {
		if loc, err := b.zones.resolve(b.zones.order[0], start); err == nil {
			return loc
		}
	}
	return time.UTC
}

// span reads a component's start and length.
func (b *builder) span(c *ical.Component, fallback *time.Location, defaultLen time.Duration) (start time.Time, length time.Duration, err error) {
	p := c.Props.Get(ical.PropDateTimeStart)
	if p == nil {
		return start, 0, reject(RejectNoStart, "")
	}
	s, err := b.date(p, fallback)
	if err != nil {
		return start, 0, err
	}
	if s.isDay {
		return start, 0, reject(RejectAllDay, "")
	}
	start = s.t
	switch {
	// DTEND wins when an invalid invite has both: Outlook writes DTEND.
	case c.Props.Get(ical.PropDateTimeEnd) != nil:
		e, err := b.date(c.Props.Get(ical.PropDateTimeEnd), start.Location())
		if err != nil {
			return start, 0, err
		}
		if e.isDay {
			return start, 0, reject(RejectAllDay, "")
		}
		length = e.t.Sub(start)
	case c.Props.Get(ical.PropDuration) != nil:
		if length, err = parseDuration(c.Props.Get(ical.PropDuration).Value); err != nil {
			return start, 0, err
		}
	default:
		length = defaultLen
	}
	if length < 0 {
		return start, 0, reject(RejectEndBeforeStart, "")
	}
	return start, length, nil
}

// schedule reads a REQUEST's times and expands its occurrences.
func (b *builder) schedule(m *Meeting, g *group) error {
	if g.master == nil {
		return b.overridesOnly(m, g)
	}
	start, length, err := b.span(g.master, nil, 0)
	if err != nil {
		return err
	}
	s, err := b.series(g.master, start, length)
	if err != nil {
		return err
	}
	ovs, err := b.readOverrides(g, start.Location(), length)
	if err != nil {
		return err
	}
	m.Zone = b.displayZone(start)
	m.Start = start.In(m.Zone)
	m.Duration = length
	m.Recurring = s.recurring()
	occ, err := s.occurrences(b.now, ovs, &b.steps)
	if err != nil {
		return err
	}
	for i := range occ {
		occ[i].Start = occ[i].Start.In(m.Zone)
		occ[i].End = occ[i].End.In(m.Zone)
	}
	m.Occurrences = occ
	return nil
}

type override struct {
	id         time.Time
	start, end time.Time
	cancelled  bool
	seq        int
}

// readOverrides reads the RECURRENCE-ID components of a group; when two
// share an ID, the higher SEQUENCE wins.
func (b *builder) readOverrides(g *group, zone *time.Location, length time.Duration) (map[int64]override, error) {
	out := map[int64]override{}
	for _, c := range g.overrides {
		rid, err := b.date(c.Props.Get(ical.PropRecurrenceID), zone)
		if err != nil {
			return nil, err
		}
		if rid.isDay {
			return nil, reject(RejectAllDay, "")
		}
		id := rid.t
		o := override{id: id.UTC()}
		o.seq, _ = sequence(c)
		o.cancelled = strings.EqualFold(strings.TrimSpace(propValue(c, ical.PropStatus)), "CANCELLED")
		if c.Props.Get(ical.PropDateTimeStart) != nil {
			start, l, err := b.span(c, zone, length)
			if err != nil {
				return nil, err
			}
			o.start, o.end = start, start.Add(l)
		} else {
			o.start, o.end = id, id.Add(length)
		}
		key := o.id.Unix()
		if prev, ok := out[key]; !ok || o.seq >= prev.seq {
			out[key] = o
		}
	}
	return out, nil
}

// overridesOnly handles a REQUEST that changes occurrences of a series
// the caller already has: all its overrides are returned, wherever they
// fall, because the caller must replace exactly those.
func (b *builder) overridesOnly(m *Meeting, g *group) error {
	m.OverridesOnly = true
	m.Recurring = true
	ovs, err := b.readOverrides(g, nil, 0)
	if err != nil {
		return err
	}
	all := make([]override, 0, len(ovs))
	for _, o := range ovs {
		all = append(all, o)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].id.Before(all[j].id) })
	m.Zone = b.displayZone(all[0].start)
	for _, o := range all {
		if o.cancelled {
			m.Cancelled = append(m.Cancelled, o.id)
			continue
		}
		m.Occurrences = append(m.Occurrences, Occurrence{ID: o.id, Start: o.start.In(m.Zone), End: o.end.In(m.Zone)})
	}
	sortOccurrences(m.Occurrences)
	if len(m.Occurrences) > MaxOccurrences {
		m.Occurrences = m.Occurrences[:MaxOccurrences]
	}
	if len(m.Occurrences) > 0 {
		m.Start = m.Occurrences[0].Start
		m.Duration = m.Occurrences[0].End.Sub(m.Occurrences[0].Start)
	}
	return nil
}

// cancellation reads a CANCEL: the whole UID when the series itself is
// in it, otherwise the RECURRENCE-IDs named, which must be readable since
// they say what goes. DTSTART and DTEND are filled in when they can be
// read; a cancellation is never refused for them (Thunderbird's has no
// DTSTART at all).
func (b *builder) cancellation(m *Meeting, g *group) error {
	src := g.master
	if src == nil {
		for _, c := range g.overrides {
			rid, err := b.date(c.Props.Get(ical.PropRecurrenceID), nil)
			if err != nil {
				return err
			}
			m.Cancelled = append(m.Cancelled, rid.t.UTC())
		}
		slices.SortFunc(m.Cancelled, time.Time.Compare)
		m.Cancelled = slices.CompactFunc(m.Cancelled, time.Time.Equal)
		src = g.overrides[0]
	}
	m.Recurring = src.Props.Get(ical.PropRecurrenceRule) != nil || src.Props.Get(ical.PropRecurrenceDates) != nil
	if start, length, err := b.span(src, nil, 0); err == nil {
		m.Zone = b.displayZone(start)
		m.Start = start.In(m.Zone)
		m.Duration = length
	}
	return nil
}

func sortOccurrences(occ []Occurrence) {
	sort.Slice(occ, func(i, j int) bool {
		if !occ[i].Start.Equal(occ[j].Start) {
			return occ[i].Start.Before(occ[j].Start)
		}
		return occ[i].ID.Before(occ[j].ID)
	})
}
