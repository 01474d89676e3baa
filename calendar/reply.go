package calendar

import (
	"bytes"
	"fmt"
	"net/mail"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-ical"
)

// ReplyContentType is the Content-Type of the MIME part that carries a
// Reply (RFC 6047 section 2.4: the method parameter must match METHOD).
const ReplyContentType = `text/calendar; charset="utf-8"; method=REPLY`

// Reply is the iMIP REPLY (RFC 5546 section 3.2.3) that tells the
// organizer's calendar whether attendee — brygga's address, "name <addr>"
// or bare — accepted or declined. It names the meeting by UID, SEQUENCE
// and, for a reply to changed occurrences, RECURRENCE-ID, so that Outlook
// files it with the right version. comment is shown to the organizer
// (the reason of a decline). method must be "REPLY" or empty.
//
// Outlook and Exchange only take a reply whose ORGANIZER and ATTENDEE
// match their copy, so both are written as mailto: URIs of the addresses
// the request used.
func Reply(m Meeting, method, attendee string, accepted bool, comment string, now time.Time) ([]byte, error) {
	if method != "" && !strings.EqualFold(method, "REPLY") {
		return nil, fmt.Errorf("calendar: Reply writes METHOD:REPLY, not %q", method)
	}
	if m.UID == "" || m.Organizer == "" {
		return nil, fmt.Errorf("calendar: a reply needs the meeting's UID and organizer")
	}
	who, name := attendee, ""
	if a, err := mail.ParseAddress(attendee); err == nil {
		who, name = a.Address, a.Name
	}
	who = strings.ToLower(strings.TrimSpace(who))
	if strings.Count(who, "@") != 1 || strings.ContainsAny(who, " \r\n\"") {
		return nil, fmt.Errorf("calendar: attendee %q is not an e-mail address", attendee)
	}

	cal := ical.NewCalendar()
	cal.Props.SetText(ical.PropProductID, "-//brygga//calendar//EN")
	cal.Props.SetText(ical.PropVersion, "2.0")
	cal.Props.SetText(ical.PropMethod, "REPLY")

	ev := ical.NewEvent()
	ev.Props.SetText(ical.PropUID, oneLine(m.UID))
	seq := ical.NewProp(ical.PropSequence)
	seq.Value = strconv.Itoa(m.Sequence)
	ev.Props.Set(seq)
	ev.Props.SetDateTime(ical.PropDateTimeStamp, now.UTC())
	if !m.Start.IsZero() {
		ev.Props.SetDateTime(ical.PropDateTimeStart, m.Start.UTC())
		ev.Props.SetDateTime(ical.PropDateTimeEnd, m.Start.Add(m.Duration).UTC())
	}
	if m.OverridesOnly && len(m.Occurrences)+len(m.Cancelled) == 1 {
		ids := append(append([]time.Time{}, m.Cancelled...), occurrenceIDs(m.Occurrences)...)
		ev.Props.SetDateTime(ical.PropRecurrenceID, ids[0].UTC())
	}

	org := ical.NewProp(ical.PropOrganizer)
	org.Value = "mailto:" + m.Organizer
	if n := paramText(m.OrganizerName); n != "" {
		org.Params.Set(ical.ParamCommonName, n)
	}
	ev.Props.Set(org)

	att := ical.NewProp(ical.PropAttendee)
	att.Value = "mailto:" + who
	partstat := "DECLINED"
	if accepted {
		partstat = "ACCEPTED"
	}
	att.Params.Set(ical.ParamParticipationStatus, partstat)
	if n := paramText(name); n != "" {
		att.Params.Set(ical.ParamCommonName, n)
	}
	ev.Props.Set(att)

	if m.Summary != "" {
		ev.Props.SetText(ical.PropSummary, oneLine(m.Summary))
	}
	if comment != "" {
		ev.Props.SetText(ical.PropComment, strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(comment))
	}
	cal.Children = append(cal.Children, ev.Component)

	var buf bytes.Buffer
	if err := ical.NewEncoder(&buf).Encode(cal); err != nil {
		return nil, fmt.Errorf("calendar: writing the reply: %w", err)
	}
	return foldLines(buf.Bytes()), nil
}

func occurrenceIDs(occ []Occurrence) []time.Time {
	ids := make([]time.Time, len(occ))
	for i, o := range occ {
		ids[i] = o.ID
	}
	return ids
}

// oneLine keeps CR out of text values (go-ical escapes LF, not CR).
func oneLine(s string) string {
	return strings.NewReplacer("\r\n", " ", "\r", " ").Replace(s)
}

// paramText makes a name fit a parameter: no quotes, no line breaks.
func paramText(s string) string {
	return strings.TrimSpace(strings.NewReplacer(`"`, "", "\r", " ", "\n", " ").Replace(s))
}

// foldLines folds every line longer than 75 octets (RFC 5545 section
// 3.1), never inside a UTF-8 sequence. go-ical writes unfolded lines.
func foldLines(b []byte) []byte {
	var out bytes.Buffer
	for _, line := range bytes.SplitAfter(b, []byte("\r\n")) {
		crlf := bytes.HasSuffix(line, []byte("\r\n"))
		body := bytes.TrimSuffix(line, []byte("\r\n"))
		limit := 75
		for len(body) > limit {
			cut := limit
			for cut > limit-utf8.UTFMax && !utf8.RuneStart(body[cut]) {
				cut-- // at most three steps back, even in broken UTF-8
			}
			out.Write(body[:cut])
			out.WriteString("\r\n ")
			body = body[cut:]
			limit = 74 // the leading space counts
		}
		out.Write(body)
		if crlf {
			out.WriteString("\r\n")
		}
	}
	return out.Bytes()
}
