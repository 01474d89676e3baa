package calendar

import (
	"fmt"
	"strings"
)

// Rejection is an invite that was read but cannot be booked. Its text goes
// to a human in the DECLINED reply, so it says what to change, not what
// the parser saw. Parse still returns the Request with what it could read
// (UID, SEQUENCE, organizer) so that the caller can address that reply.
type Rejection struct {
	Code   string // stable, for logs and tests: one of the Reject… constants
	Detail string // the offending value (a TZID, a rule part); may be empty
	Reason string // the English text, as Text("en")
}

// Rejection codes.
const (
	RejectNoEvent        = "no-event"
	RejectNoUID          = "no-uid"
	RejectNoOrganizer    = "no-organizer"
	RejectNoStart        = "no-start"
	RejectAllDay         = "all-day"
	RejectFloating       = "floating"
	RejectUnknownZone    = "unknown-zone"
	RejectEndBeforeStart = "end-before-start"
	RejectRecurrence     = "recurrence"
	RejectNoOccurrence   = "no-occurrence"
	RejectPast           = "past"
	RejectTooFar         = "too-far"
	RejectTooMany        = "too-many"
	RejectDateRange      = "date-range"
)

func (r *Rejection) Error() string { return "calendar: invite rejected: " + r.Reason }

func reject(code, detail string) *Rejection {
	r := &Rejection{Code: code, Detail: detail}
	r.Reason = r.Text("en")
	return r
}

// rejectionTexts holds each reason in the rooms' languages; %s is Detail.
var rejectionTexts = map[string]map[string]string{
	RejectNoEvent: {
		"en": "The invitation holds no meeting.",
		"nb": "Invitasjonen inneholder ikke noe møte.",
		"sv": "Inbjudan innehåller inget möte.",
	},
	RejectNoUID: {
		"en": "The invitation has no UID, so later changes or cancellations could not be matched to it. Please send it from a calendar program.",
		"nb": "Invitasjonen mangler UID, så senere endringer eller avlysninger kan ikke knyttes til den. Send den fra et kalenderprogram.",
		"sv": "Inbjudan saknar UID, så senare ändringar eller avbokningar kan inte kopplas till den. Skicka den från ett kalenderprogram.",
	},
	RejectNoOrganizer: {
		"en": "The invitation has no organizer e-mail address to send the dial-in details to.",
		"nb": "Invitasjonen har ingen e-postadresse til møtearrangøren som innringingsinformasjonen kan sendes til.",
		"sv": "Inbjudan har ingen e-postadress till mötesarrangören som inringningsuppgifterna kan skickas till.",
	},
	RejectNoStart: {
		"en": "The meeting has no start time.",
		"nb": "Møtet har ikke noe starttidspunkt.",
		"sv": "Mötet saknar starttid.",
	},
	RejectAllDay: {
		"en": "All-day events cannot be booked as phone meetings. Please give the meeting a start and an end time.",
		"nb": "Heldagshendelser kan ikke bookes som telefonmøter. Gi møtet et start- og et sluttidspunkt.",
		"sv": "Heldagshändelser kan inte bokas som telefonmöten. Ge mötet en start- och en sluttid.",
	},
	RejectFloating: {
		"en": "The meeting times have no time zone. Please send the invitation again from a calendar that includes the time zone.",
		"nb": "Møtetidene mangler tidssone. Send invitasjonen på nytt fra en kalender som tar med tidssonen.",
		"sv": "Mötestiderna saknar tidszon. Skicka inbjudan igen från en kalender som tar med tidszonen.",
	},
	RejectUnknownZone: {
		"en": "The time zone %q is not known. Please choose one of the standard time zones in your calendar.",
		"nb": "Tidssonen «%s» er ukjent. Velg en av de vanlige tidssonene i kalenderen.",
		"sv": "Tidszonen ”%s” är okänd. Välj en av de vanliga tidszonerna i kalendern.",
	},
	RejectEndBeforeStart: {
		"en": "The meeting ends before it starts.",
		"nb": "Møtet slutter før det begynner.",
		"sv": "Mötet slutar innan det börjar.",
	},
	RejectRecurrence: {
		"en": "The repeat pattern is not supported (%s). Phone meetings can repeat daily, weekly, monthly or yearly.",
		"nb": "Gjentakelsesmønsteret støttes ikke (%s). Telefonmøter kan gjentas daglig, ukentlig, månedlig eller årlig.",
		"sv": "Upprepningsmönstret stöds inte (%s). Telefonmöten kan upprepas dagligen, varje vecka, varje månad eller varje år.",
	},
	RejectNoOccurrence: {
		"en": "The repeating meeting has no dates in the next 12 months.",
		"nb": "Det gjentakende møtet har ingen datoer de neste 12 månedene.",
		"sv": "Det återkommande mötet har inga datum under de kommande 12 månaderna.",
	},
	RejectPast: {
		"en": "The meeting has already taken place.",
		"nb": "Møtet har allerede funnet sted.",
		"sv": "Mötet har redan ägt rum.",
	},
	RejectTooFar: {
		"en": "The meeting is more than a year ahead. Please book it later.",
		"nb": "Møtet er mer enn ett år fram i tid. Book det senere.",
		"sv": "Mötet ligger mer än ett år fram i tiden. Boka det senare.",
	},
	RejectTooMany: {
		"en": "The invitation is too large (%s).",
		"nb": "Invitasjonen er for stor (%s).",
		"sv": "Inbjudan är för stor (%s).",
	},
	RejectDateRange: {
		"en": "The start date %s is out of range.",
		"nb": "Startdatoen %s er utenfor gyldig område.",
		"sv": "Startdatumet %s ligger utanför giltigt intervall.",
	},
}

// Text is the reason in lang (en, nb or sv; anything else is English).
func (r *Rejection) Text(lang string) string {
	texts, ok := rejectionTexts[r.Code]
	if !ok {
		if r.Reason != "" {
			return r.Reason
		}
		return r.Code
	}
	t := texts[language(lang)]
	if strings.Contains(t, "%") {
		return fmt.Sprintf(t, r.Detail)
	}
	return t
}

// language maps a room's language tag to one of the three we write.
func language(tag string) string {
	tag = strings.ToLower(strings.TrimSpace(tag))
	switch {
	case tag == "nb" || tag == "no" || tag == "nn" || strings.HasPrefix(tag, "nb-") || strings.HasPrefix(tag, "no-") || strings.HasPrefix(tag, "nn-"):
		return "nb"
	case tag == "sv" || strings.HasPrefix(tag, "sv-"):
		return "sv"
	}
	return "en"
}
