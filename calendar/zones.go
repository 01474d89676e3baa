package calendar

import (
	"regexp"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // the zones must not depend on the host's /usr/share/zoneinfo

	"github.com/emersion/go-ical"
)

// A TZID is resolved to an IANA zone in this order, stopping at the first
// hit:
//
//  1. an IANA name ("Europe/Oslo", also behind Lightning's
//     "/mozilla.org/20050126_1/" prefix, or as X-LIC-LOCATION);
//  2. a Windows zone name ("W. Europe Standard Time", also with
//     Exchange's " 1" suffix), through CLDR's windowsZones table;
//  3. an Outlook display name ("(UTC+01:00) Amsterdam, Berlin, Bern,
//     Rome, Stockholm, Vienna"), from the same table's comments; when the
//     object has a VTIMEZONE for it, its rules must agree;
//  4. the VTIMEZONE's rules, matched against IANA zones: the zones of
//     brygga's users first, then every zone in the Windows table.
//
// A name that resolves wins over its VTIMEZONE's rules: Thunderbird's
// Europe/Berlin carries only its 1893 observance, and Outlook's carry only
// today's rule from 1601 on, while tzdata has the real history.

// matchOrder is tried first when only the rules are known, so that an
// anonymous "+0100/+0200 last Sunday of March and October" zone becomes
// Norwegian or Swedish time rather than whichever zone the table lists
// first with the same rules.
var matchOrder = []string{
	"Europe/Oslo", "Europe/Stockholm", "Europe/Copenhagen", "Europe/Helsinki",
	"Europe/London", "Europe/Berlin", "Europe/Paris", "Atlantic/Reykjavik",
	"America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles",
}

var (
	windowsByName  = map[string]string{} // lower-case Windows name → IANA
	windowsDisplay = map[string]string{} // normalised display name → Windows name
	displayPrefix  = regexp.MustCompile(`^\((?:UTC|GMT)(?:\s*[+-]\s*\d{1,2}(?::?\d{2})?)?\)\s*`)
	windowsSuffix  = regexp.MustCompile(`\s+\d+$`)
	ianaName       = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_+-]*(?:/[A-Za-z0-9_+-]+){0,2}$`)
)

func init() {
	for _, z := range windowsZones {
		windowsByName[strings.ToLower(z.windows)] = z.iana
		windowsDisplay[normDisplay(z.display)] = z.windows
	}
	for d, w := range olderDisplayNames {
		windowsDisplay[normDisplay(d)] = w
	}
}

// normDisplay folds the differences between Windows versions' display
// names: the offset prefix, case, ";" for ",", runs of spaces.
func normDisplay(s string) string {
	s = displayPrefix.ReplaceAllString(strings.TrimSpace(s), "")
	s = strings.ReplaceAll(strings.ToLower(s), ";", ",")
	return strings.Join(strings.Fields(s), " ")
}

// cleanTZID undoes quoting and text escapes: the VTIMEZONE's TZID
// property is text ("Pacific Time (US & Canada)\, Tijuana") while the
// parameter referring to it is not.
func cleanTZID(s string) string {
	s = strings.Trim(strings.TrimSpace(s), `"`)
	s = strings.NewReplacer(`\,`, ",", `\;`, ";", `\\`, `\`, `\N`, " ", `\n`, " ").Replace(s)
	return strings.TrimSpace(s)
}

var locations sync.Map // IANA name → *time.Location, or nil for a name that failed

// loadIANA loads an IANA zone, refusing names that are not zone names
// before they reach the file system, and the leap-second "right/" copies
// a host may have, whose clocks run 27 seconds off.
func loadIANA(name string) *time.Location {
	if len(name) > 64 || !ianaName.MatchString(name) || name == "Local" || strings.HasPrefix(name, "right/") {
		return nil
	}
	if v, ok := locations.Load(name); ok {
		loc, _ := v.(*time.Location)
		return loc
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		loc = nil
	}
	locations.Store(name, loc)
	return loc
}

// zoneByIANA tries the name and, for prefixed names like
// "/mozilla.org/20050126_1/Europe/Oslo", its tails.
func zoneByIANA(name string) *time.Location {
	if loc := loadIANA(name); loc != nil {
		return loc
	}
	if strings.HasPrefix(name, "/") {
		parts := strings.Split(name, "/")
		for i := 1; i < len(parts); i++ {
			if loc := loadIANA(strings.Join(parts[i:], "/")); loc != nil {
				return loc
			}
		}
	}
	return nil
}

func zoneByWindows(name string) *time.Location {
	key := strings.ToLower(name)
	if iana, ok := windowsByName[key]; ok {
		return loadIANA(iana)
	}
	// Exchange numbers a second definition of the same zone "… 1".
	if iana, ok := windowsByName[windowsSuffix.ReplaceAllString(key, "")]; ok {
		return loadIANA(iana)
	}
	return nil
}

// zoneByDisplay matches a display name exactly, or as a longer form of one
// ("Athens, Bucharest, Istanbul" before Istanbul got its own zone).
func zoneByDisplay(name string) *time.Location {
	n := normDisplay(name)
	if n == "" {
		return nil
	}
	if w, ok := windowsDisplay[n]; ok {
		return zoneByWindows(w)
	}
	best := ""
	for d := range windowsDisplay {
		if len(d) > len(best) && strings.HasPrefix(n, d+",") {
			best = d
		}
	}
	if best != "" {
		return zoneByWindows(windowsDisplay[best])
	}
	return nil
}

// zones resolves the TZIDs of one iCalendar object.
type zones struct {
	defs  map[string]*ical.Component // VTIMEZONEs by lower-case cleaned TZID
	order []string                   // their TZIDs as written, in order
	now   time.Time
	done  map[string]*time.Location
}

func newZones(cal *ical.Calendar, now time.Time) (*zones, error) {
	z := &zones{defs: map[string]*ical.Component{}, now: now, done: map[string]*time.Location{}}
	for _, c := range cal.Children {
		if c.Name != ical.CompTimezone {
			continue
		}
		if len(z.order) >= MaxComponents {
			return nil, reject(RejectTooMany, "too many VTIMEZONEs")
		}
		id := cleanTZID(unescapeText(propValue(c, ical.PropTimezoneID)))
		key := strings.ToLower(id)
		if _, dup := z.defs[key]; !dup {
			z.defs[key] = c
			z.order = append(z.order, id)
		}
	}
	return z, nil
}

func propValue(c *ical.Component, name string) string {
	if p := c.Props.Get(name); p != nil {
		return p.Value
	}
	return ""
}

// resolve finds the IANA zone for tzid. around is the time it is used
// for, read as UTC: close enough to pick the year whose rules count.
func (z *zones) resolve(tzid string, around time.Time) (*time.Location, error) {
	name := cleanTZID(tzid)
	key := strings.ToLower(name)
	if loc, ok := z.done[key]; ok {
		return loc, nil
	}
	def := z.defs[key]
	loc := z.byName(name, def, around)
	if loc == nil && def != nil {
		loc = z.byRules(def, around)
	}
	if loc == nil {
		return nil, reject(RejectUnknownZone, name)
	}
	z.done[key] = loc
	return loc, nil
}

func (z *zones) byName(name string, def *ical.Component, around time.Time) *time.Location {
	if loc := zoneByIANA(name); loc != nil {
		return loc
	}
	if loc := zoneByWindows(name); loc != nil {
		return loc
	}
	if def != nil {
		if loc := zoneByIANA(strings.TrimSpace(propValue(def, "X-LIC-LOCATION"))); loc != nil {
			return loc
		}
	}
	if loc := zoneByDisplay(name); loc != nil {
		if def == nil {
			return loc
		}
		// A display name is a description, not an identifier: trust
		// it only as far as the rules sent with it agree.
		if vt, err := parseVTimezone(def); err == nil && z.agrees(vt, loc, around) {
			return loc
		}
	}
	return nil
}

func (z *zones) byRules(def *ical.Component, around time.Time) *time.Location {
	vt, err := parseVTimezone(def)
	if err != nil {
		return nil
	}
	// The VTIMEZONE's side is computed once; the candidates' from tzdata.
	a, b := z.window(around)
	offset, changes, ok := vt.timeline(a, b)
	if !ok {
		return nil
	}
	for _, name := range matchOrder {
		if loc := loadIANA(name); loc != nil && sameTimeline(offset, changes, loc, a, b) {
			return loc
		}
	}
	for _, w := range windowsZones {
		if loc := loadIANA(w.iana); loc != nil && sameTimeline(offset, changes, loc, a, b) {
			return loc
		}
	}
	return nil
}

// window is the span a zone must agree over: the half year either side
// of the time it is needed for. Not further: an Outlook VTIMEZONE states
// one rule for all years, so a 2004 invite carries 2004's US rules, which
// tzdata agrees with for 2004 and not for today.
func (z *zones) window(around time.Time) (time.Time, time.Time) {
	half := 183 * 24 * time.Hour
	return around.Add(-half), around.Add(half)
}

func (z *zones) agrees(vt *vtimezone, loc *time.Location, around time.Time) bool {
	a, b := z.window(around)
	return vt.agrees(loc, a, b)
}
