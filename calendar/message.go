package calendar

import (
	"fmt"
	"strings"
	"time"
)

// DialIn is what the human answer to an invite says.
type DialIn struct {
	Number string // the number to call from outside; the Extension when empty
	PIN    string // participant PIN; empty for an open room
	// PINKept: the meeting has its own PIN, sent with the first answer
	// and not known any more (brygga keeps only its hash); PIN is empty.
	PINKept   bool
	Extension string // the room, also the first half of the one-step string

	Meeting     Meeting
	Occurrences []Occurrence   // the next few, for a series
	Location    *time.Location // show times here (the room's zone); Meeting.Zone when nil

	Record, Sensitive bool // as the room will run: the invite's markers and the room's settings
	LimitMinutes      int  // max_minutes of the room
	EarlyJoinMinutes  int  // early_join_minutes of the room

	Declined  bool
	Rejection *Rejection // the reason, in the reader's language; or
	Reason    string     // a reason in words, when there is no Rejection
}

// Message is the e-mail a person reads next to the Reply: in the room's
// language (en, nb or sv), what was booked and how to dial in, or why it
// was not. The one-step string is Extension*PIN, which brygga's SIP side
// accepts as the Request-URI user.
func Message(lang string, d DialIn) (subject, body string) {
	t := texts[language(lang)]
	loc, title := shownIn(d.Location, d.Meeting), titleOf(t, d.Meeting)
	var b strings.Builder
	line := lines(&b)

	if d.Declined {
		reason := d.Reason
		if d.Rejection != nil {
			reason = d.Rejection.Text(lang)
		}
		if reason == "" {
			reason = t.unreadable
		}
		line(t.notBooked, quote(lang, title))
		line("")
		line(t.why, reason)
		line("")
		line("%s", t.again)
		return t.declined + ": " + title, b.String()
	}

	line(t.booked, quote(lang, title))
	line("")
	first := Occurrence{Start: d.Meeting.Start, End: d.Meeting.End()}
	if len(d.Occurrences) > 0 {
		first = d.Occurrences[0]
	}
	if !first.Start.IsZero() {
		line(t.when, span(lang, first.Start.In(loc), first.End.In(loc)), loc)
	}
	if d.Meeting.Recurring && !d.Meeting.OverridesOnly {
		n := len(d.Meeting.Occurrences)
		if n == 1 {
			line("%s", t.repeatsOne)
		} else {
			line(t.repeats, n)
		}
		if len(d.Occurrences) > 0 {
			line("%s", t.next)
		}
		for _, o := range d.Occurrences {
			line("  %s", span(lang, o.Start.In(loc), o.End.In(loc)))
		}
	}
	line("")

	number := d.Number
	if number == "" {
		number = d.Extension
	}
	switch {
	case d.PIN != "":
		line(t.call, number, d.PIN)
	case d.PINKept:
		line(t.callKept, number)
	default:
		line(t.callOpen, number)
	}
	if d.Extension != "" && d.Number != "" && d.Number != d.Extension {
		line(t.internal, d.Extension)
	}
	switch {
	case d.Extension == "":
	case d.PIN != "":
		line(t.oneStep, d.Extension+"*"+d.PIN)
	case d.PINKept:
		line(t.oneStepKept, d.Extension)
	}
	if d.EarlyJoinMinutes > 0 {
		line(t.early, d.EarlyJoinMinutes)
	}
	if booked := int(d.Meeting.Duration / time.Minute); d.LimitMinutes > 0 && booked > d.LimitMinutes {
		line("")
		line(t.limit, booked, d.LimitMinutes)
	}
	if d.Record || d.Sensitive {
		line("")
	}
	switch {
	case d.Sensitive && d.Record:
		line("%s", t.sensitive)
		line("%s", t.noRecording)
	case d.Sensitive:
		line("%s", t.sensitive)
	case d.Record:
		line("%s", t.record)
	}
	return t.accepted + ": " + title, b.String()
}

// shownIn is where a message shows the times of m: loc, else the
// meeting's own zone, else UTC.
func shownIn(loc *time.Location, m Meeting) *time.Location {
	switch {
	case loc != nil:
		return loc
	case m.Zone != nil:
		return m.Zone
	}
	return time.UTC
}

// titleOf is how a message names m.
func titleOf(t messageTexts, m Meeting) string {
	if m.Summary == "" {
		return t.meeting
	}
	return m.Summary
}

// lines writes one line of text to b for each call.
func lines(b *strings.Builder) func(format string, args ...any) {
	return func(format string, args ...any) {
		fmt.Fprintf(b, format, args...)
		b.WriteByte('\n')
	}
}

// span is "Monday 23 September 2024, 10:00–11:30" in the language's
// own form, with both dates when the meeting passes midnight.
func span(lang string, start, end time.Time) string {
	t := texts[language(lang)]
	day := func(x time.Time) string {
		return fmt.Sprintf(t.date, t.weekdays[x.Weekday()], x.Day(), t.months[x.Month()-1], x.Year())
	}
	clock := func(x time.Time) string {
		return fmt.Sprintf("%02d%s%02d", x.Hour(), t.clockSep, x.Minute())
	}
	sameDay := start.Year() == end.Year() && start.YearDay() == end.YearDay()
	switch {
	case !end.After(start):
		return day(start) + t.at + clock(start)
	case sameDay:
		return day(start) + t.at + clock(start) + "–" + clock(end)
	}
	return day(start) + t.at + clock(start) + " – " + day(end) + t.at + clock(end)
}

func quote(lang, s string) string {
	switch language(lang) {
	case "nb":
		return "«" + s + "»"
	case "sv":
		return "”" + s + "”"
	}
	return "“" + s + "”"
}

type messageTexts struct {
	meeting, unreadable            string
	accepted, declined             string
	booked, notBooked, why, again  string
	when, repeats, repeatsOne      string
	next                           string
	call, callOpen, internal       string
	callKept, oneStepKept          string
	oneStep, early, limit          string
	record, sensitive, noRecording string
	weekdays                       [7]string
	months                         [12]string
	date, at, clockSep             string
}

var texts = map[string]messageTexts{
	"en": {
		meeting:     "phone meeting",
		unreadable:  "The invitation could not be read.",
		accepted:    "Accepted",
		declined:    "Declined",
		booked:      "Your phone meeting %s is booked.",
		notBooked:   "Your phone meeting %s could not be booked.",
		why:         "Why: %s",
		again:       "Please change the invitation and send it again.",
		when:        "When: %s (%s)",
		repeats:     "The meeting repeats: %d dates are booked for the coming 12 months.",
		repeatsOne:  "The meeting repeats: 1 date is booked for the coming 12 months.",
		next:        "The next ones:",
		call:        "To join, call %s and enter the PIN %s followed by #.",
		callOpen:    "To join, call %s. No PIN is needed.",
		internal:    "From a phone inside the organisation, dial %s.",
		oneStep:     "In one step: dial %s to go straight into the meeting.",
		callKept:    "To join, call %s and enter the meeting's PIN followed by #. The PIN was in the first answer to this invitation; it is not repeated, as brygga keeps it only in a form that cannot be read back.",
		oneStepKept: "In one step: dial %s*PIN, with the meeting's PIN, to go straight into the meeting.",
		early:       "The meeting room opens %d minutes before the start.",
		limit:       "The meeting is booked for %d minutes, but phone meetings stop after %d minutes. Everyone hears a warning before the end.",
		record:      "Recording ([record]): the meeting is recorded. Everyone hears that recording is on, and the recording is sent by e-mail afterwards.",
		sensitive:   "Sensitive ([sensitive]): the PIN is always required, only secure connections are accepted, and the meeting is never recorded.",
		noRecording: "Recording was asked for, but a sensitive meeting is not recorded.",
		weekdays:    [7]string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"},
		months:      [12]string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"},
		date:        "%s %d %s %d",
		at:          ", ",
		clockSep:    ":",
	},
	"nb": {
		meeting:     "telefonmøte",
		unreadable:  "Invitasjonen kunne ikke leses.",
		accepted:    "Godtatt",
		declined:    "Avslått",
		booked:      "Telefonmøtet %s er booket.",
		notBooked:   "Telefonmøtet %s kunne ikke bookes.",
		why:         "Årsak: %s",
		again:       "Endre invitasjonen og send den på nytt.",
		when:        "Tid: %s (%s)",
		repeats:     "Møtet gjentas: %d datoer er booket de neste 12 månedene.",
		repeatsOne:  "Møtet gjentas: 1 dato er booket de neste 12 månedene.",
		next:        "De neste er:",
		call:        "Ring %s og tast inn PIN-koden %s etterfulgt av #.",
		callOpen:    "Ring %s. Ingen PIN-kode trengs.",
		internal:    "Fra en intern telefon ringer du %s.",
		oneStep:     "I ett steg: ring %s, så kommer du rett inn i møtet.",
		callKept:    "Ring %s og tast inn møtets PIN-kode etterfulgt av #. PIN-koden stod i det første svaret på denne invitasjonen; den gjentas ikke, fordi brygga bare lagrer den i en form som ikke kan leses tilbake.",
		oneStepKept: "I ett steg: ring %s*PIN med møtets PIN-kode, så kommer du rett inn i møtet.",
		early:       "Møterommet åpner %d minutter før start.",
		limit:       "Møtet er booket for %d minutter, men telefonmøter avsluttes etter %d minutter. Alle hører en advarsel før slutt.",
		record:      "Opptak ([opptak]): møtet tas opp. Alle hører at opptak pågår, og opptaket sendes på e-post etterpå.",
		sensitive:   "Sensitivt ([sensitiv]): PIN-koden kreves alltid, bare sikre forbindelser godtas, og møtet tas aldri opp.",
		noRecording: "Opptak ble bedt om, men et sensitivt møte tas ikke opp.",
		weekdays:    [7]string{"søndag", "mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag"},
		months:      [12]string{"januar", "februar", "mars", "april", "mai", "juni", "juli", "august", "september", "oktober", "november", "desember"},
		date:        "%s %d. %s %d",
		at:          " kl. ",
		clockSep:    ".",
	},
	"sv": {
		meeting:     "telefonmöte",
		unreadable:  "Inbjudan kunde inte läsas.",
		accepted:    "Accepterat",
		declined:    "Avböjt",
		booked:      "Telefonmötet %s är bokat.",
		notBooked:   "Telefonmötet %s kunde inte bokas.",
		why:         "Orsak: %s",
		again:       "Ändra inbjudan och skicka den igen.",
		when:        "Tid: %s (%s)",
		repeats:     "Mötet upprepas: %d datum är bokade de kommande 12 månaderna.",
		repeatsOne:  "Mötet upprepas: 1 datum är bokat de kommande 12 månaderna.",
		next:        "De närmaste är:",
		call:        "Ring %s och ange PIN-koden %s följd av #.",
		callOpen:    "Ring %s. Ingen PIN-kod behövs.",
		internal:    "Från en intern telefon ringer du %s.",
		oneStep:     "I ett steg: ring %s för att komma direkt in i mötet.",
		callKept:    "Ring %s och ange mötets PIN-kod följd av #. PIN-koden stod i det första svaret på den här inbjudan; den upprepas inte, eftersom brygga bara sparar den i en form som inte kan läsas tillbaka.",
		oneStepKept: "I ett steg: ring %s*PIN med mötets PIN-kod för att komma direkt in i mötet.",
		early:       "Mötesrummet öppnar %d minuter före start.",
		limit:       "Mötet är bokat i %d minuter, men telefonmöten avslutas efter %d minuter. Alla hör en varning innan mötet tar slut.",
		record:      "Inspelning ([inspelning]): mötet spelas in. Alla hör att inspelning pågår, och inspelningen skickas med e-post efteråt.",
		sensitive:   "Känsligt ([sensitiv]): PIN-koden krävs alltid, bara säkra anslutningar godtas och mötet spelas aldrig in.",
		noRecording: "Inspelning begärdes, men ett känsligt möte spelas inte in.",
		weekdays:    [7]string{"söndag", "måndag", "tisdag", "onsdag", "torsdag", "fredag", "lördag"},
		months:      [12]string{"januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti", "september", "oktober", "november", "december"},
		date:        "%s %d %s %d",
		at:          " kl. ",
		clockSep:    ".",
	},
}
