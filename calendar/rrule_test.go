package calendar

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/teambition/rrule-go"
)

// satisfiable must agree with rrule-go itself: a rule it calls
// satisfiable yields a date, one it refuses yields none. The rules are
// run late in the calendar (same day of the 400-year cycle), where
// rrule-go gives up at the year 9999 within a few hundred years.
func TestSatisfiableAgreesWithRRule(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(options ...string) string { return options[rng.IntN(len(options))] }
	n := 300
	if testing.Short() {
		n = 50
	}
	tested, empty := 0, 0
	defer func() { t.Logf("%d rules compared, %d of them empty", tested, empty) }()
	for range n {
		var parts []string
		freq := pick("MONTHLY", "YEARLY")
		parts = append(parts, "FREQ="+freq, "INTERVAL="+pick("1", "1", "2", "3", "4", "12", "24", "28"))
		if rng.IntN(2) == 0 {
			parts = append(parts, "BYMONTHDAY="+pick("1", "13", "28", "29", "30", "31", "-1", "-29", "29,30"))
		}
		if rng.IntN(2) == 0 {
			day := pick("MO", "FR", "SU")
			switch rng.IntN(3) {
			case 0:
				parts = append(parts, "BYDAY="+day)
			case 1:
				parts = append(parts, "BYDAY="+pick("1", "2", "5", "-1", "-5")+day)
			default:
				parts = append(parts, "BYDAY="+day+",TU", "BYSETPOS="+pick("1", "5", "-1", "-5"))
			}
		}
		if freq == "YEARLY" && rng.IntN(2) == 0 {
			parts = append(parts, "BYMONTH="+pick("2", "2", "4", "2,4"))
		}
		rule := strings.Join(parts, ";")
		start := time.Date(2000+rng.IntN(30), time.Month(1+rng.IntN(12)), 1+rng.IntN(28), 10, 0, 0, 0, time.UTC)
		late := start.AddDate(7200, 0, 0)
		opt, err := ruleOptions(rule, late)
		if err != nil {
			t.Fatal(err)
		}
		err = checkRule(&opt, late)
		if err != nil && !strings.Contains(err.Error(), "matches no date") {
			continue // refused for its form, not for being empty
		}
		// rrule-go stops at 9999; compare only rules whose cycle ends
		// before that (INTERVAL=24 years has a 1200-year cycle).
		interval := max(opt.Interval, 1)
		cycle := interval * 400 / gcd(interval, 400)
		if opt.Freq == rrule.MONTHLY {
			cycle = interval * 4800 / gcd(interval, 4800) / 12
		}
		if late.Year()+cycle > 9999 {
			continue
		}
		rr, err2 := rrule.NewRRule(opt)
		if err2 != nil {
			t.Fatal(err2)
		}
		_, found := rr.Iterator()()
		tested++
		if !found {
			empty++
		}
		if (err == nil) != found {
			t.Errorf("%s from %s: satisfiable=%v, rrule-go finds a date=%v", rule, start.Format("2006-01-02"), err == nil, found)
		}
	}
}

func TestSatisfiableForms(t *testing.T) {
	for _, c := range []struct {
		rule, start string
		ok          bool
	}{
		{"FREQ=MONTHLY;BYDAY=FR;BYMONTHDAY=13", "20250115", true},
		{"FREQ=YEARLY;BYMONTHDAY=31", "20250115", true},
		{"FREQ=YEARLY;BYDAY=20MO", "20250115", true},
		{"FREQ=YEARLY;BYDAY=53MO", "20250115", true},
		{"FREQ=YEARLY;INTERVAL=4;BYMONTH=2;BYMONTHDAY=29", "20240101", true},
		{"FREQ=YEARLY;INTERVAL=4;BYMONTH=2;BYMONTHDAY=29", "20250101", false},
		{"FREQ=YEARLY;BYMONTH=2;BYDAY=5MO", "20250101", true},
		{"FREQ=MONTHLY;INTERVAL=12;BYDAY=5MO", "20250201", true},
		{"FREQ=MONTHLY;INTERVAL=24;BYDAY=5MO", "20250201", false},
		{"FREQ=YEARLY", "20240229", true},
		{"FREQ=MONTHLY", "20250131", true},
		{"FREQ=MONTHLY;INTERVAL=12", "20250430", true},
	} {
		start, _ := time.Parse("20060102", c.start)
		_, err := parseRRule(c.rule, start)
		if (err == nil) != c.ok {
			t.Errorf("%s from %s: %v", c.rule, c.start, err)
		}
	}
}
