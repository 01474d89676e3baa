package calendar

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/teambition/rrule-go"
)

// rrule-go expands rules faithfully but checks UNTIL and COUNT only when a
// candidate date matches. A rule that can never match (the 30th of
// February, a seventh Monday) makes it step through every period up to
// the year 9999, and BYSECOND with FREQ=SECONDLY makes the steps seconds.
// So only the rules meeting invitations use are let through — those the
// Outlook, Google and Thunderbird recurrence dialogs can produce — and
// those are checked to be satisfiable. Everything else is a Rejection
// naming the part, which the organizer can act on.

// parseRRule reads an RRULE value. dtstart is the series' first start (in
// its zone); a floating or DATE UNTIL is read in dtstart's zone.
func parseRRule(value string, dtstart time.Time) (*rrule.RRule, error) {
	opt, err := ruleOptions(value, dtstart)
	if err != nil {
		return nil, err
	}
	if err := checkRule(&opt, dtstart); err != nil {
		return nil, err
	}
	r, err := rrule.NewRRule(opt)
	if err != nil {
		return nil, fmt.Errorf("calendar: RRULE: %v", err)
	}
	return r, nil
}

// ruleOptions reads the rule parts, refusing the ones no meeting needs.
func ruleOptions(value string, dtstart time.Time) (rrule.ROption, error) {
	// Exchange's CDO writes "BYDAY=MO, TU" and folds inside the rule;
	// whitespace has no meaning in a RRULE, so it goes.
	value = strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' {
			return -1
		}
		return r
	}, strings.ToUpper(value))

	var opt rrule.ROption
	opt.Dtstart = dtstart
	seen := map[string]bool{}
	for _, part := range strings.Split(value, ";") {
		if part == "" {
			continue
		}
		key, val, ok := strings.Cut(part, "=")
		if !ok || val == "" {
			return opt, fmt.Errorf("calendar: RRULE part %q has no value", part)
		}
		if seen[key] {
			return opt, fmt.Errorf("calendar: RRULE has %s twice", key)
		}
		seen[key] = true
		var err error
		switch key {
		case "FREQ":
			switch val {
			case "YEARLY":
				opt.Freq = rrule.YEARLY
			case "MONTHLY":
				opt.Freq = rrule.MONTHLY
			case "WEEKLY":
				opt.Freq = rrule.WEEKLY
			case "DAILY":
				opt.Freq = rrule.DAILY
			case "HOURLY", "MINUTELY", "SECONDLY":
				return opt, reject(RejectRecurrence, "FREQ="+val)
			default:
				return opt, fmt.Errorf("calendar: RRULE FREQ %q", val)
			}
		case "INTERVAL":
			opt.Interval, err = ruleInt(val, 1, 999)
		case "COUNT":
			opt.Count, err = ruleInt(val, 1, 100000)
		case "UNTIL":
			var d dateValue
			d, err = parseDate(val, "")
			switch {
			case err != nil:
			case d.isDate:
				// A date: through the end of that day.
				w := d.wall
				opt.Until = time.Date(w.Year(), w.Month(), w.Day(), 23, 59, 59, 0, dtstart.Location())
			default:
				opt.Until = d.in(dtstart.Location())
			}
		case "WKST":
			var w []rrule.Weekday
			w, err = ruleWeekdays(val, false)
			if err == nil && len(w) != 1 {
				err = fmt.Errorf("one weekday expected")
			}
			if err == nil {
				opt.Wkst = w[0]
			}
		case "BYDAY":
			opt.Byweekday, err = ruleWeekdays(val, true)
		case "BYMONTHDAY":
			opt.Bymonthday, err = ruleInts(val, 1, 31, true)
		case "BYMONTH":
			opt.Bymonth, err = ruleInts(val, 1, 12, false)
		case "BYSETPOS":
			opt.Bysetpos, err = ruleInts(val, 1, 366, true)
		case "BYHOUR", "BYMINUTE", "BYSECOND", "BYWEEKNO", "BYYEARDAY", "BYEASTER", "RSCALE", "SKIP":
			return opt, reject(RejectRecurrence, key)
		default:
			if strings.HasPrefix(key, "X-") {
				continue // extensions may be ignored, RFC 5545 section 3.3.10
			}
			return opt, fmt.Errorf("calendar: unknown RRULE part %q", key)
		}
		if err != nil {
			return opt, fmt.Errorf("calendar: RRULE %s=%s: %v", key, val, err)
		}
	}
	if !seen["FREQ"] {
		return opt, fmt.Errorf("calendar: RRULE without FREQ")
	}
	return opt, nil
}

// checkRule lets through the forms of the recurrence dialogs and refuses
// combinations that match no date, which rrule-go would search for until
// the year 9999.
func checkRule(o *rrule.ROption, dtstart time.Time) error {
	nth := false
	for _, w := range o.Byweekday {
		nth = nth || w.N() != 0
	}
	interval := max(o.Interval, 1)
	switch o.Freq {
	case rrule.DAILY:
		// "Every weekday" is DAILY;BYDAY=MO,…,FR in Exchange. With an
		// interval, a weekday filter can miss every time (every 7th day
		// is always the same weekday).
		if len(o.Bymonthday) > 0 || len(o.Bymonth) > 0 || len(o.Bysetpos) > 0 {
			return reject(RejectRecurrence, "FREQ=DAILY with BYMONTHDAY, BYMONTH or BYSETPOS")
		}
		if len(o.Byweekday) > 0 && (interval != 1 || nth) {
			return reject(RejectRecurrence, "FREQ=DAILY with BYDAY and INTERVAL")
		}
	case rrule.WEEKLY:
		if len(o.Bymonthday) > 0 || len(o.Bymonth) > 0 || len(o.Bysetpos) > 0 || nth {
			return reject(RejectRecurrence, "FREQ=WEEKLY with BYMONTHDAY, BYMONTH, BYSETPOS or a numbered BYDAY")
		}
	case rrule.MONTHLY, rrule.YEARLY:
		if len(o.Bymonth) > 0 && o.Freq == rrule.MONTHLY {
			return reject(RejectRecurrence, "FREQ=MONTHLY with BYMONTH")
		}
		limit := 5 // the fifth Monday of a month is the last there can be
		if o.Freq == rrule.YEARLY && len(o.Bymonth) == 0 {
			limit = 53
		}
		for _, w := range o.Byweekday {
			if w.N() > limit || w.N() < -limit {
				return reject(RejectRecurrence, fmt.Sprintf("BYDAY=%s", w))
			}
		}
		if len(o.Bymonthday) > 0 && (nth || len(o.Bysetpos) > 0) {
			// "The 1st, if it is the 5th Monday" matches nothing.
			return reject(RejectRecurrence, "BYMONTHDAY with a numbered BYDAY or BYSETPOS")
		}
		if len(o.Bysetpos) > 0 {
			if len(o.Byweekday) == 0 || nth {
				return reject(RejectRecurrence, "BYSETPOS without a plain BYDAY")
			}
			for _, p := range o.Bysetpos {
				if p > 5 || p < -5 {
					return reject(RejectRecurrence, fmt.Sprintf("BYSETPOS=%d", p))
				}
			}
		}
		if !satisfiable(o, dtstart) {
			return reject(RejectRecurrence, "the rule matches no date")
		}
	}
	return nil
}

// satisfiable walks the months (MONTHLY) or years (YEARLY) the rule
// visits through one 400-year Gregorian cycle, after which dates and
// weekdays repeat, and says whether any day in them matches. A rule that
// fails here would make rrule-go search to the year 9999 (the 29th of
// February every other year from an odd one, the fifth Monday of
// February every year that is not leap). The filters mirror rrule-go's
// for the parts checkRule lets through, including its reading of
// BYDAY=MO,2TU as Mondays that are also second Tuesdays.
func satisfiable(o *rrule.ROption, dtstart time.Time) bool {
	interval := max(o.Interval, 1)
	y0, m0 := dtstart.Year(), int(dtstart.Month())-1
	if o.Freq == rrule.MONTHLY {
		for i := range 4800 / gcd(interval, 4800) {
			n := m0 + interval*i
			if periodMatches(o, dtstart, y0+n/12, []int{n%12 + 1}) {
				return true
			}
		}
		return false
	}
	months := o.Bymonth
	if len(months) == 0 {
		months = []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	}
	for i := range 400 / gcd(interval, 400) {
		if periodMatches(o, dtstart, y0+interval*i, months) {
			return true
		}
	}
	return false
}

// periodMatches says whether a day of the given months of year matches;
// for YEARLY rules the months are one period (the year), which matters
// for BYSETPOS and for numbered weekdays without BYMONTH.
func periodMatches(o *rrule.ROption, dtstart time.Time, year int, months []int) bool {
	monthdays, plain, nth := o.Bymonthday, map[rrule.Weekday]bool{}, map[[2]int]bool{}
	for _, w := range o.Byweekday {
		if w.N() == 0 {
			plain[w] = true
		} else {
			nth[[2]int{w.Day(), w.N()}] = true
		}
	}
	if len(o.Bymonthday) == 0 && len(o.Byweekday) == 0 {
		// rrule-go's defaults: DTSTART's day, and for YEARLY its month.
		monthdays = []int{dtstart.Day()}
		if o.Freq == rrule.YEARLY && len(o.Bymonth) == 0 {
			months = []int{int(dtstart.Month())}
		}
	}
	yearScope := o.Freq == rrule.YEARLY && len(o.Bymonth) == 0
	yearDays := time.Date(year, 12, 31, 0, 0, 0, 0, time.UTC).YearDay()
	count := 0
	for _, m := range months {
		days := time.Date(year, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day()
		for d := 1; d <= days; d++ {
			if len(monthdays) > 0 && !slices.Contains(monthdays, d) && !slices.Contains(monthdays, d-days-1) {
				continue
			}
			t := time.Date(year, time.Month(m), d, 0, 0, 0, 0, time.UTC)
			wd := (int(t.Weekday()) + 6) % 7 // rrule-go counts from Monday
			if len(plain) > 0 && !plain[weekdayList[wd]] {
				continue
			}
			if len(nth) > 0 {
				pos, length := d, days
				if yearScope {
					pos, length = t.YearDay(), yearDays
				}
				if !nth[[2]int{wd, (pos-1)/7 + 1}] && !nth[[2]int{wd, -((length-pos)/7 + 1)}] {
					continue
				}
			}
			count++
		}
	}
	if len(o.Bysetpos) == 0 {
		return count > 0
	}
	for _, p := range o.Bysetpos {
		if p <= count && -p <= count {
			return true
		}
	}
	return false
}

var weekdayList = [7]rrule.Weekday{rrule.MO, rrule.TU, rrule.WE, rrule.TH, rrule.FR, rrule.SA, rrule.SU}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func ruleInt(s string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(strings.TrimPrefix(s, "+"))
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("not a number from %d to %d", lo, hi)
	}
	return n, nil
}

// ruleInts reads a list; signed allows -hi…-lo as well.
func ruleInts(s string, lo, hi int, signed bool) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		neg := signed && strings.HasPrefix(f, "-")
		n, err := ruleInt(strings.TrimPrefix(f, "-"), lo, hi)
		if err != nil {
			return nil, err
		}
		if neg {
			n = -n
		}
		out = append(out, n)
		if len(out) > 366 {
			return nil, fmt.Errorf("too many values")
		}
	}
	return out, nil
}

var weekdays = map[string]rrule.Weekday{
	"MO": rrule.MO, "TU": rrule.TU, "WE": rrule.WE, "TH": rrule.TH,
	"FR": rrule.FR, "SA": rrule.SA, "SU": rrule.SU,
}

// ruleWeekdays reads "MO,TU" or, with numbered, "-1SU,2TU".
func ruleWeekdays(s string, numbered bool) ([]rrule.Weekday, error) {
	var out []rrule.Weekday
	for _, f := range strings.Split(s, ",") {
		if len(f) < 2 {
			return nil, fmt.Errorf("bad weekday %q", f)
		}
		w, ok := weekdays[f[len(f)-2:]]
		if !ok {
			return nil, fmt.Errorf("bad weekday %q", f)
		}
		if n := f[:len(f)-2]; n != "" {
			if !numbered {
				return nil, fmt.Errorf("bad weekday %q", f)
			}
			neg := strings.HasPrefix(n, "-")
			k, err := ruleInt(strings.TrimPrefix(n, "-"), 1, 53)
			if err != nil {
				return nil, err
			}
			if neg {
				k = -k
			}
			w = w.Nth(k)
		}
		out = append(out, w)
		if len(out) > 7*53 {
			return nil, fmt.Errorf("too many weekdays")
		}
	}
	return out, nil
}
