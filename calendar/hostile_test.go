package calendar

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// Invites built to cost as much as the limits allow must still be cheap.
func TestHostileInputsAreCheap(t *testing.T) {
	var daily []string
	for i := range MaxComponents {
		daily = append(daily, event(fmt.Sprintf("UID:u%d", i), "DTSTART;TZID=Europe/Oslo:19000101T100000", "-DTEND", "RRULE:FREQ=DAILY")...)
	}
	var zones []string
	for i := range 200 {
		tz := []string{"BEGIN:VTIMEZONE", fmt.Sprintf("TZID:custom %d", i)}
		for j := range maxObservances {
			tz = append(tz, "BEGIN:STANDARD", fmt.Sprintf("DTSTART:%04d0101T000000", 1601+j), "TZOFFSETFROM:+0100", "TZOFFSETTO:+0130",
				"RRULE:FREQ=YEARLY;COUNT=1000;BYMONTH=3;BYDAY=-1SU", "END:STANDARD")
		}
		zones = append(zones, append(tz, "END:VTIMEZONE")...)
		zones = append(zones, event(fmt.Sprintf("UID:z%d", i), fmt.Sprintf(`DTSTART;TZID="custom %d":20250115T100000`, i), "-DTEND")...)
	}
	var impossible []string
	for i := range MaxComponents {
		impossible = append(impossible, event(fmt.Sprintf("UID:m%d", i), "DTSTART;TZID=Europe/Oslo:20250215T100000", "-DTEND",
			"RRULE:FREQ=MONTHLY;INTERVAL=24;BYMONTHDAY=29")...)
	}
	cases := map[string][]byte{
		"500 daily series since 1900": invite("REQUEST", daily...),
		"200 anonymous zones":         invite("REQUEST", zones...),
		"500 rules that never match":  invite("REQUEST", impossible...),
		"raw lines":                   invite("REQUEST", append(event("DESCRIPTION:x"), strings.Repeat("a\r\n", MaxBytes/3-1000))...),
		"parameters":                  invite("REQUEST", event("ATTENDEE"+strings.Repeat(";X=\"a,b\",c", MaxBytes/20)+":mailto:a@example.org")...),
		"folds":                       invite("REQUEST", event("DESCRIPTION:x"+strings.Repeat("\r\n y", MaxBytes/5))...),
	}
	for name, ics := range cases {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			_, err := Parse(ics, testNow)
			if d := time.Since(start); d > 15*time.Second { // generous for -race; a regression takes minutes
				t.Errorf("took %v (%v)", d, err)
			}
			t.Logf("%v: %v", time.Since(start), err)
		})
	}
}
