package calendar

import (
	"fmt"
	"strings"
	"time"
)

// Change is a booking that changes how a room runs, for its owner's
// notice: the meeting will be recorded, or only secure calls get in.
type Change struct {
	Meeting   Meeting
	Extension string         // the room
	By        string         // who sent the invite, as proven
	First     Occurrence     // the first date booked ahead
	Dates     int            // how many dates are booked
	Location  *time.Location // show times here; Meeting.Zone when nil

	Record, Sensitive bool // as the room will run during the meeting
}

// Notice is the mail that tells a room's owner of c, in the room's
// language: who booked what and when, and what it changes.
func Notice(lang string, c Change) (subject, body string) {
	t, n := texts[language(lang)], notices[language(lang)]
	loc, title := shownIn(c.Location, c.Meeting), titleOf(t, c.Meeting)
	var b strings.Builder
	line := lines(&b)
	line(n.booked, c.By, quote(lang, title), c.Extension)
	line("")
	if !c.First.Start.IsZero() {
		line(t.when, span(lang, c.First.Start.In(loc), c.First.End.In(loc)), loc)
	}
	if c.Dates > 1 {
		line(n.dates, c.Dates)
	}
	line("")
	if c.Sensitive {
		line(n.sensitive, c.Extension)
	}
	if c.Record {
		line("%s", t.record)
	}
	line("")
	line("%s", n.unexpected)
	return fmt.Sprintf(n.subject, c.Extension, title), b.String()
}

type noticeTexts struct {
	subject, booked, dates, sensitive, unexpected string
}

var notices = map[string]noticeTexts{
	"en": {
		subject:    "Booked in room %s: %s",
		booked:     "%s booked the meeting %s in your room %s.",
		dates:      "It has %d dates.",
		sensitive:  "Sensitive ([sensitive]): while the meeting runs, room %s admits only secure calls (SIP over TLS with SRTP) and records nothing; other calls are turned away.",
		unexpected: "If you did not expect this, tell the people who run brygga: they can cancel the meeting.",
	},
	"nb": {
		subject:    "Booket i rom %s: %s",
		booked:     "%s har booket møtet %s i rommet ditt %s.",
		dates:      "Det har %d datoer.",
		sensitive:  "Sensitivt ([sensitiv]): mens møtet pågår, slipper rom %s bare inn sikre anrop (SIP over TLS med SRTP) og tar ikke opp noe; andre anrop blir avvist.",
		unexpected: "Hvis du ikke ventet dette, si fra til dem som drifter brygga: de kan avlyse møtet.",
	},
	"sv": {
		subject:    "Bokat i rum %s: %s",
		booked:     "%s har bokat mötet %s i ditt rum %s.",
		dates:      "Det har %d datum.",
		sensitive:  "Känsligt ([sensitiv]): medan mötet pågår släpper rum %s bara in säkra samtal (SIP över TLS med SRTP) och spelar inte in något; andra samtal avvisas.",
		unexpected: "Om du inte väntade dig detta, kontakta dem som driver brygga: de kan ställa in mötet.",
	},
}
