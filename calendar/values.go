package calendar

import (
	"fmt"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-ical"
)

// Property values are read here rather than with go-ical's helpers: its
// Text() stops at the first unescaped comma (Outlook leaves commas in
// summaries), its DateTime() resolves TZID with time.LoadLocation (no
// Windows names), and neither handles the comma lists of EXDATE and RDATE.

// dateValue is one DATE or DATE-TIME value as written, before a zone is
// applied.
type dateValue struct {
	wall    time.Time // the digits, as a UTC time
	isDate  bool      // a DATE: all day
	utc     bool      // ended in Z
	tzid    string    // TZID parameter, cleaned
	literal string
}

// parseDates reads a property's comma-separated DATE or DATE-TIME values
// (one for DTSTART, a list for EXDATE and RDATE).
func parseDates(p *ical.Prop) ([]dateValue, error) {
	valueType := strings.ToUpper(p.Params.Get(ical.ParamValue))
	tzid := cleanTZID(strings.Join(p.Params.Values(ical.PropTimezoneID), ","))
	var out []dateValue
	for _, s := range strings.Split(p.Value, ",") {
		s = strings.TrimSpace(s)
		d, err := parseDate(s, valueType)
		if err != nil {
			return nil, fmt.Errorf("calendar: %s %q: %v", p.Name, s, err)
		}
		if !d.utc && !d.isDate {
			d.tzid = tzid
		}
		out = append(out, d)
		if len(out) > MaxDates {
			return nil, reject(RejectTooMany, fmt.Sprintf("more than %d dates in %s", MaxDates, p.Name))
		}
	}
	return out, nil
}

func parseDate(s, valueType string) (dateValue, error) {
	d := dateValue{literal: s}
	digits := func(s string) bool {
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		}
		return true
	}
	num := func(s string) int { n, _ := strconv.Atoi(s); return n }
	up := strings.ToUpper(s)
	switch {
	case len(up) == 8 && digits(up):
		d.isDate = true
	case len(up) == 15 && up[8] == 'T' && digits(up[:8]) && digits(up[9:]):
	case len(up) == 16 && up[8] == 'T' && up[15] == 'Z' && digits(up[:8]) && digits(up[9:15]):
		d.utc = true
	default:
		return d, fmt.Errorf("not a date or date-time")
	}
	if valueType == "DATE" && !d.isDate || valueType == "DATE-TIME" && d.isDate {
		return d, fmt.Errorf("value does not match VALUE=%s", valueType)
	}
	y, mo, day := num(up[0:4]), num(up[4:6]), num(up[6:8])
	var h, mi, sec int
	if !d.isDate {
		h, mi, sec = num(up[9:11]), num(up[11:13]), num(up[13:15])
	}
	if sec == 60 {
		sec = 59 // a leap second; Go's time has none
	}
	d.wall = time.Date(y, time.Month(mo), day, h, mi, sec, 0, time.UTC)
	if mo < 1 || mo > 12 || day < 1 || d.wall.Day() != day || h > 23 || mi > 59 || sec > 59 {
		return d, fmt.Errorf("no such date or time")
	}
	return d, nil
}

// in places a DATE-TIME's digits in loc; UTC values stay what they are.
func (d dateValue) in(loc *time.Location) time.Time {
	if d.utc {
		return d.wall
	}
	w := d.wall
	return time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), 0, loc)
}

// parseDuration reads an RFC 5545 duration ("PT1H30M", "-P1D").
func parseDuration(s string) (time.Duration, error) {
	s = strings.ToUpper(strings.TrimSpace(s))
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimLeft(s, "+-")
	if !strings.HasPrefix(s, "P") || len(s) < 3 {
		return 0, fmt.Errorf("calendar: bad duration %q", s)
	}
	s = s[1:]
	var total time.Duration
	inTime := false
	for s != "" {
		if s[0] == 'T' {
			inTime, s = true, s[1:]
			continue
		}
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == 0 || i > 6 || i == len(s) {
			return 0, fmt.Errorf("calendar: bad duration")
		}
		n := time.Duration(mustAtoi(s[:i]))
		unit := s[i]
		s = s[i+1:]
		var size time.Duration
		switch {
		case unit == 'W' && !inTime:
			size = 7 * 24 * time.Hour
		case unit == 'D' && !inTime:
			size = 24 * time.Hour
		case unit == 'H' && inTime:
			size = time.Hour
		case unit == 'M' && inTime:
			size = time.Minute
		case unit == 'S' && inTime:
			size = time.Second
		default:
			return 0, fmt.Errorf("calendar: bad duration unit %q", unit)
		}
		if n > (maxDuration-total)/size {
			return 0, fmt.Errorf("calendar: duration longer than ten years")
		}
		total += n * size
	}
	if neg {
		total = -total
	}
	return total, nil
}

// maxDuration keeps duration arithmetic far from overflow; no meeting
// comes near it.
const maxDuration = 10 * 366 * 24 * time.Hour

func mustAtoi(s string) int { n, _ := strconv.Atoi(s); return n }

// unescapeText undoes RFC 5545 text escaping. Unknown escapes are kept as
// written and unescaped commas are kept too: both are common in the wild.
func unescapeText(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case 'n', 'N':
			b.WriteByte('\n')
		case '\\', ';', ',', ':', '"':
			b.WriteByte(s[i])
		default:
			b.WriteByte('\\')
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// text is a property's unescaped value, "" when absent.
func text(c *ical.Component, name string) string {
	p := c.Props.Get(name)
	if p == nil {
		return ""
	}
	return strings.TrimSpace(unescapeText(p.Value))
}

// address reads ORGANIZER or ATTENDEE: the mailto: value, or the EMAIL
// parameter (RFC 7986) when the value is some other URI. "" when neither
// is an e-mail address.
func address(p *ical.Prop) string {
	for _, s := range []string{p.Value, p.Params.Get("EMAIL")} {
		s = strings.TrimSpace(s)
		if len(s) >= 7 && strings.EqualFold(s[:7], "mailto:") {
			s = strings.TrimSpace(s[7:])
		}
		if a, err := mail.ParseAddress(s); err == nil && a.Address == s && strings.Count(s, "@") == 1 {
			return strings.ToLower(s)
		}
	}
	return ""
}

// commonName is a CN without the quotes Exchange 2003 puts inside it.
func commonName(p *ical.Prop) string {
	return strings.Trim(strings.TrimSpace(p.Params.Get("CN")), `'"`)
}
