package calendar

import (
	"strings"
	"testing"
	"time"
)

func TestMessageAccepted(t *testing.T) {
	m := parsedMeeting(t, "written/outlook-request-opptak-w-europe-base64.eml", "2025-03-01T08:15:00Z")
	d := DialIn{Number: "+47 22 33 44 55", PIN: "2468", Extension: "4711", Meeting: m, Occurrences: m.Occurrences,
		Record: m.Record, LimitMinutes: 60, EarlyJoinMinutes: 10}
	for lang, want := range map[string][]string{
		"en": {"Accepted: [opptak] Budsjettmøte", "Monday 10 March 2025, 09:00–10:30 (Europe/Berlin)",
			"call +47 22 33 44 55 and enter the PIN 2468 followed by #", "dial 4711*2468", "dial 4711.",
			"opens 10 minutes before", "booked for 90 minutes, but phone meetings stop after 60 minutes", "recorded"},
		"nb": {"Godtatt: [opptak] Budsjettmøte", "mandag 10. mars 2025 kl. 09.00–10.30 (Europe/Berlin)",
			"Ring +47 22 33 44 55 og tast inn PIN-koden 2468 etterfulgt av #", "ring 4711*2468", "åpner 10 minutter før start",
			"booket for 90 minutter, men telefonmøter avsluttes etter 60 minutter", "møtet tas opp"},
		"sv": {"Accepterat: [opptak] Budsjettmøte", "måndag 10 mars 2025 kl. 09.00–10.30 (Europe/Berlin)",
			"Ring +47 22 33 44 55 och ange PIN-koden 2468 följd av #", "ring 4711*2468", "öppnar 10 minuter före start",
			"bokat i 90 minuter, men telefonmöten avslutas efter 60 minuter", "spelas in"},
	} {
		subject, body := Message(lang, d)
		text := subject + "\n" + body
		for _, w := range want {
			if !strings.Contains(text, w) {
				t.Errorf("%s: %q missing in\n%s", lang, w, text)
			}
		}
		if strings.Contains(text, "%!") {
			t.Errorf("%s: formatting error in\n%s", lang, text)
		}
	}
}

func TestMessageSeriesInRoomZone(t *testing.T) {
	m := parsedMeeting(t, "written/google-request-stockholm-inspelning.eml", "2025-02-25T09:30:00Z")
	oslo := loadIANA("Europe/Oslo")
	d := DialIn{PIN: "13579", Extension: "5100", Meeting: m, Occurrences: m.Occurrences[:3], Location: oslo, Sensitive: true, Record: true}
	_, body := Message("sv", d)
	for _, w := range []string{"Tid: tisdag 4 mars 2025 kl. 14.00–15.00 (Europe/Oslo)", "5 datum är bokade", "tisdag 18 mars 2025 kl. 14.00–15.00",
		"Ring 5100 och ange PIN-koden 13579", "ring 5100*13579", "Känsligt", "ett känsligt möte spelas inte in"} {
		if !strings.Contains(body, w) {
			t.Errorf("%q missing in\n%s", w, body)
		}
	}
	if strings.Contains(body, "tisdag 25 mars") || strings.Contains(body, "Från en intern") {
		t.Errorf("more than asked for:\n%s", body)
	}
	if strings.Contains(body, "90 minuter") || strings.Contains(body, "öppnar") {
		t.Errorf("limit or early join without settings:\n%s", body)
	}
}

func TestMessageOpenRoom(t *testing.T) {
	m := parsedMeeting(t, "ics/imip-request-single.eml", "2022-03-16T00:00:00Z")
	_, body := Message("nb", DialIn{Extension: "4711", Meeting: m})
	if !strings.Contains(body, "Ring 4711. Ingen PIN-kode trengs.") || strings.Contains(body, "*") {
		t.Errorf("open room:\n%s", body)
	}
	if !strings.Contains(body, "onsdag 16. mars 2022 kl. 11.00–11.30 (UTC)") {
		t.Errorf("time:\n%s", body)
	}
}

func TestMessageDeclined(t *testing.T) {
	req, err := Parse(invite("REQUEST", event("DTSTART;TZID=Mars/Olympus:20250115T100000", "-DTEND")...), testNow)
	r := rejection(t, req, err)
	for lang, want := range map[string][]string{
		"en": {"Declined: Møte", "could not be booked", `The time zone "Mars/Olympus" is not known`},
		"nb": {"Avslått: Møte", "kunne ikke bookes", "Tidssonen «Mars/Olympus» er ukjent"},
		"sv": {"Avböjt: Møte", "kunde inte bokas", "Tidszonen ”Mars/Olympus” är okänd"},
	} {
		subject, body := Message(lang, DialIn{Meeting: req.Meetings[0], Declined: true, Rejection: r, PIN: "2468", Extension: "4711"})
		text := subject + "\n" + body
		for _, w := range want {
			if !strings.Contains(text, w) {
				t.Errorf("%s: %q missing in\n%s", lang, w, text)
			}
		}
		if strings.Contains(text, "2468") {
			t.Errorf("%s: a declined meeting must not give out the PIN:\n%s", lang, text)
		}
	}
	_, body := Message("en", DialIn{Declined: true, Reason: "The room is closed for maintenance."})
	if !strings.Contains(body, "Why: The room is closed for maintenance.") || !strings.Contains(body, "phone meeting") {
		t.Errorf("free reason:\n%s", body)
	}
}

func TestSpanAcrossMidnight(t *testing.T) {
	oslo := loadIANA("Europe/Oslo")
	s := time.Date(2025, 12, 31, 23, 30, 0, 0, oslo)
	if got := span("nb", s, s.Add(time.Hour)); got != "onsdag 31. desember 2025 kl. 23.30 – torsdag 1. januar 2026 kl. 00.30" {
		t.Errorf("%q", got)
	}
	if got := span("en", s, s); got != "Wednesday 31 December 2025, 23:30" {
		t.Errorf("%q", got)
	}
}

func TestLanguageTags(t *testing.T) {
	for in, want := range map[string]string{"nb": "nb", "no": "nb", "nn-NO": "nb", "NB-no": "nb", "sv": "sv", "sv-FI": "sv", "en": "en", "de": "en", "": "en"} {
		if got := language(in); got != want {
			t.Errorf("%q → %q, want %q", in, got, want)
		}
	}
}
