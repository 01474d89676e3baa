// Package invites is the mail side of booking: it takes the meeting
// requests organizers send to the bridge's address (Serve, an SMTP or LMTP
// server for the organization's mail server), books them with package
// booking, and answers each organizer the way an attendee answers in
// Outlook (Submit): one e-mail holding the words a person reads and the
// iMIP REPLY their calendar files.
package invites

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"
	"time"

	"brygga/booking"
	"brygga/calendar"
	"brygga/config"
	"brygga/mailer"
)

// Desk answers invites. Its fields are set before first use and not
// changed after; Submit and the SMTP sessions may run side by side
// (the Booker takes one request at a time).
type Desk struct {
	Booker *booking.Booker
	// Mail sends the replies. Nil means no outgoing mail: each reply is
	// logged (without the PIN) and kept in its Outcome instead.
	Mail *mailer.Server
	// From is the From of the replies (mail.from), e.g.
	// "Konferanse <brygga@example.org>"; "" means Address. Give it
	// Address as its address: the organizer's calendar files a reply by
	// its ATTENDEE, but Google and Thunderbird also compare the sender.
	From string
	// Address is the bridge's own attendee address (mail.address): the
	// only recipient Serve accepts, and the ATTENDEE of every reply.
	Address string
	// AuthservID (mail.authserv_id) is the authserv-id of the
	// Authentication-Results header of the mail server in front of Serve;
	// set, Serve takes that header as proof of the sender (vouch).
	AuthservID string
	// Number is printed before the room's extension as the number to
	// call from outside, e.g. "+4722950" gives "+47229504711" for room
	// 4711; "" prints the extension alone.
	Number string
	// Defaults are the settings for a reply that has no room (an
	// unknown organizer, an invite that could not be read): its language.
	Defaults config.RoomSettings
	Now      func() time.Time // nil: time.Now
	Logger   *slog.Logger     // nil: slog.Default()
	// Changed is called after the bookings were handled (whatever came
	// of them), so timers kept from the store can be rebuilt; may be nil.
	Changed func()
	// MaxConnsPerSource caps the connections one address may hold open
	// to Serve (mail.max_connections_per_source); more are closed at
	// once. 0: no cap. Peers on a unix socket are never capped.
	MaxConnsPerSource int
	// OnRefused counts a connection closed for that cap; may be nil.
	OnRefused func()
}

// Outcome is what became of one meeting of a request, and of its reply.
type Outcome struct {
	UID, Room string
	Action    string // a booking.Action, or "declined" for an invite that could not be read
	Reason    string // why declined, ignored or failed, in English
	PIN       string // the meeting's own PIN; for an API caller, never logged
	// Replied says that the organizer's mail server took the reply.
	Replied bool
	// MailError says why the reply was not sent; "" when it was, when no
	// reply was due (ignored, cancelled, failed) or when mail is off.
	MailError string
	// Retry is set when the request should come again: the store failed,
	// or the reply could not be sent for a reason that may pass (the
	// organizer's address being refused is not one). Serve then answers
	// 451 so that the mail server tries later; a request that comes again
	// is a duplicate, which is answered as before.
	Retry bool
	// Reply is the iMIP REPLY (text/calendar) that was, or would have
	// been, sent; nil when none was due or the reply had no UID to name.
	Reply []byte
}

// maxReplies bounds the mail one request causes: real invites name one
// meeting, and a crafted one naming hundreds of organizers must not turn
// the bridge into a mail cannon.
const maxReplies = 10

var tooMany = fmt.Sprintf("not sent: at most %d replies go out for one request", maxReplies)

func (d *Desk) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func (d *Desk) log() *slog.Logger {
	if d.Logger != nil {
		return d.Logger
	}
	return slog.Default()
}

// Submit books, updates or cancels the meetings of req and answers each
// organizer: ACCEPTED with the dial-in, or DECLINED with the reason.
// Ignored meetings, cancellations (an attendee does not answer a CANCEL)
// and store failures get no mail.
//
// rejected is the error parsing returned with req. A *calendar.Rejection
// (req then holds what could be read, or is nil) books nothing: each
// meeting's organizer gets a DECLINED reply with the reason, and a
// rejected CANCEL no answer. Any other error means nothing could be read,
// and there is nothing to book or answer: Submit returns nil.
func (d *Desk) Submit(ctx context.Context, req *calendar.Request, rejected error) []Outcome {
	return d.submit(ctx, req, rejected, "", "")
}

// submit is Submit for a request that came by mail. sender is its From
// when that is proven (Desk.proven): the decline of an invite that names no
// UID or organizer goes there, without the REPLY part, which would have
// nothing to name. by names who sent it, for the owner's notice of a
// booking that records or is sensitive; "" for a request not from mail.
func (d *Desk) submit(ctx context.Context, req *calendar.Request, rejected error, sender, by string) []Outcome {
	if rejected != nil {
		var rej *calendar.Rejection
		if !errors.As(rejected, &rej) {
			return nil
		}
		if rej != nil {
			return d.rejected(ctx, req, rej, sender)
		}
	}
	if req == nil {
		return nil
	}
	results := d.Booker.Handle(req)
	if d.Changed != nil {
		defer d.Changed()
	}
	out := make([]Outcome, 0, len(results))
	sent := 0
	for _, r := range results {
		o := Outcome{UID: r.Meeting.UID, Room: r.Room.Extension, Action: string(r.Action), Reason: r.Reason, PIN: r.PIN}
		switch {
		case r.Err != nil:
			o.Reason, o.Retry = "the store failed: "+r.Err.Error(), true
		case r.Ignored, req.Method == "CANCEL":
		case sent >= maxReplies:
			o.MailError = tooMany
		default:
			sent++
			d.answer(ctx, &o, d.reply(r))
			if o.Retry && r.PIN != "" && r.Action == booking.ActionBooked {
				d.unbook(&o, r)
			} else if l, due := d.notice(r, by); due && sent < maxReplies {
				sent++
				d.answer(ctx, &Outcome{UID: o.UID, Room: o.Room, Action: "announced"}, l)
			}
		}
		out = append(out, o)
	}
	return out
}

// notice is the mail to the owner of r's room when r is a booking, by mail
// from by, that makes the room record or admit only secure calls while
// the meeting runs, where its own settings would not: the owner should
// know, whoever may send for them. due is false when no notice is due: by
// is the owner themselves (their reply says as much), the room has no
// owner's address, or the request did not come by mail. A notice that
// cannot be sent is logged, not retried: a request sent again is a
// duplicate, which is not announced.
func (d *Desk) notice(r booking.Result, by string) (l letter, due bool) {
	record := r.Schedule.Record && !r.Room.Settings.Record
	sensitive := r.Schedule.Sensitive && !r.Room.Sensitive
	switch {
	case by == "" || !r.Accepted || (r.Action != booking.ActionBooked && r.Action != booking.ActionUpdated),
		!record && !sensitive, r.Room.Email == "", strings.EqualFold(by, r.Room.Email):
		return letter{}, false
	}
	lang := r.Room.Settings.Language
	c := calendar.Change{Meeting: r.Meeting, Extension: r.Room.Extension, By: by,
		Location: localZone(lang, r.Meeting), Record: record, Sensitive: sensitive}
	if live := booking.Live(r.Schedule.Occurrences, d.now()); len(live) > 0 {
		o := live[0]
		c.First, c.Dates = calendar.Occurrence{ID: o.ID, Start: o.Start, End: o.End}, len(live)
	}
	subject, body := calendar.Notice(lang, c)
	return letter{to: r.Room.Email, toName: r.Room.Name, subject: subject, body: body,
		uid: r.Meeting.UID, partstat: "notice"}, true
}

// unbook undoes a new booking whose answer, the only place its PIN is
// ever written in clear (the store keeps a hash), could not be mailed for
// now: the request comes again and is booked afresh, with a PIN of its
// own that its answer then carries; were the booking kept, the repeat
// would be a duplicate whose PIN nobody knows. Should the sender give up,
// the organizer gets its bounce and nothing stays booked.
func (d *Desk) unbook(o *Outcome, r booking.Result) {
	if err := d.Booker.Delete(r.Schedule.ID); err != nil {
		d.log().Error("invites: a booking whose answer was not sent could not be undone; its PIN is lost",
			"uid", r.Meeting.UID, "schedule", r.Schedule.ID, "error", err)
		return
	}
	o.Action, o.PIN = string(booking.ActionFailed), ""
	o.Reason = "not kept: the answer with the meeting's PIN could not be mailed; the meeting is booked when the invitation comes again"
}

// rejected answers an invite that parsing refused.
func (d *Desk) rejected(ctx context.Context, req *calendar.Request, rej *calendar.Rejection, sender string) []Outcome {
	if req != nil && req.Method == "CANCEL" {
		d.log().Info("invites: unreadable cancellation; no answer is due", "reason", rej.Reason)
		return []Outcome{{Action: string(booking.ActionIgnored), Reason: rej.Reason}}
	}
	var meetings []calendar.Meeting
	if req != nil {
		meetings = req.Meetings
	}
	var out []Outcome
	sent, toSender := 0, false // one mail at most to the sender, whatever the number of nameless meetings
	for _, m := range meetings {
		o := Outcome{UID: m.UID, Action: string(booking.ActionDeclined), Reason: rej.Reason}
		switch {
		case m.UID == "" || m.Organizer == "":
			if !toSender {
				toSender = true
				d.answer(ctx, &o, d.declineUnread(calendar.Meeting{Summary: m.Summary}, sender, rej))
			}
		case sent >= maxReplies:
			o.MailError = tooMany
		default:
			sent++
			d.answer(ctx, &o, d.declineUnread(m, m.Organizer, rej))
		}
		out = append(out, o)
	}
	if len(out) == 0 {
		o := Outcome{Action: string(booking.ActionDeclined), Reason: rej.Reason}
		d.answer(ctx, &o, d.declineUnread(calendar.Meeting{}, sender, rej))
		out = append(out, o)
	}
	return out
}

// letter is one answer to an organizer, before it is mailed.
type letter struct {
	to            string // bare address
	toName        string
	subject, body string
	ics           []byte // the REPLY; nil for a human message alone
	err           error  // the REPLY could not be written
	uid, partstat string // for the log
}

// reply is the answer to a booking decision.
func (d *Desk) reply(r booking.Result) letter {
	lang := d.Defaults.Language
	if r.Room.Extension != "" {
		lang = r.Room.Settings.Language
	}
	dial := calendar.DialIn{
		Meeting: r.Meeting, Declined: !r.Accepted, Reason: r.Reason,
		PIN: r.PIN, PINKept: r.PINKept, Extension: r.Room.Extension, Number: d.number(r.Room.Extension),
		Occurrences: next(r, d.now()), Record: r.Meeting.Record, Sensitive: r.Schedule.Sensitive,
		LimitMinutes: r.Room.Settings.MaxMinutes, EarlyJoinMinutes: r.Room.Settings.EarlyJoinMinutes,
		Location: localZone(lang, r.Meeting),
	}
	subject, body := calendar.Message(lang, dial)
	comment := r.Reason
	if r.Accepted {
		body += notes(r, dial)
		comment = ""
	}
	l := letter{to: r.Meeting.Organizer, toName: r.Meeting.OrganizerName, subject: subject, body: body,
		uid: r.Meeting.UID, partstat: partstat(r.Accepted)}
	l.ics, l.err = calendar.Reply(r.Meeting, "REPLY", d.attendee(), r.Accepted, comment, d.now())
	return l
}

// declineUnread is the DECLINED answer to an invite that was read but
// cannot be booked, to the organizer with a REPLY when m names one, else
// to sender without.
func (d *Desk) declineUnread(m calendar.Meeting, to string, rej *calendar.Rejection) letter {
	lang := d.language(m.Organizer)
	subject, body := calendar.Message(lang, calendar.DialIn{Meeting: m, Declined: true, Rejection: rej})
	l := letter{to: to, toName: m.OrganizerName, subject: subject, body: body, uid: m.UID, partstat: partstat(false)}
	if m.UID != "" && m.Organizer != "" {
		l.ics, l.err = calendar.Reply(m, "REPLY", d.attendee(), false, rej.Text(lang), d.now())
	}
	return l
}

// language is the language of organizer's room, else of the defaults.
func (d *Desk) language(organizer string) string {
	if rooms := d.Booker.OwnedBy(organizer); len(rooms) > 0 {
		return rooms[0].Settings.Language
	}
	return d.Defaults.Language
}

// answer mails l and records in o how that went.
func (d *Desk) answer(ctx context.Context, o *Outcome, l letter) {
	o.Reply = l.ics
	log := d.log().With("to", l.to, "uid", l.uid, "partstat", l.partstat, "action", o.Action)
	switch {
	case l.err != nil:
		o.MailError = "the reply could not be written: " + l.err.Error()
		log.Error("invites: reply not sent", "error", l.err)
		return
	case l.to == "":
		o.MailError = "not sent: the invitation names no one to answer"
		log.Warn("invites: reply not sent: no address to send it to", "reason", o.Reason)
		return
	case d.Mail == nil:
		log.Warn("invites: reply not sent: outgoing mail (mail.smtp) is not configured", "subject", l.subject, "reason", o.Reason)
		return
	}
	msg, err := d.message(l)
	if err != nil {
		o.MailError = err.Error()
		log.Error("invites: reply not sent", "error", err)
		return
	}
	if err := d.Mail.Send(ctx, msg, mailer.Timeout(int64(len(l.ics)))); err != nil {
		o.MailError = err.Error()
		o.Retry = o.Retry || retry(err)
		log.Error("invites: reply not sent", "error", err, "retry", o.Retry)
		return
	}
	o.Replied = true
	log.Info("invites: reply sent")
}

// number is what a reply says to call for room ext.
func (d *Desk) number(ext string) string {
	if d.Number == "" || ext == "" {
		return ""
	}
	return d.Number + ext
}

// attendee is the bridge as the ATTENDEE of its replies: Address, with the
// display name of From when From is the same address.
func (d *Desk) attendee() string {
	if a, err := mail.ParseAddress(d.From); err == nil && strings.EqualFold(a.Address, d.Address) && a.Name != "" {
		return a.String()
	}
	return d.Address
}

func partstat(accepted bool) string {
	if accepted {
		return "ACCEPTED"
	}
	return "DECLINED"
}

// shown is how many of a series' next dates the message lists.
const shown = 5

// next are the series' next dates as booked: cancelled ones and those over
// at now left out; the invite's own when nothing is stored.
func next(r booking.Result, now time.Time) []calendar.Occurrence {
	if !r.Meeting.Recurring {
		return nil
	}
	loc := r.Meeting.Zone
	if loc == nil {
		loc = time.UTC
	}
	var out []calendar.Occurrence
	live := booking.Live(r.Schedule.Occurrences, now)
	for _, o := range live[:min(shown, len(live))] {
		out = append(out, calendar.Occurrence{ID: o.ID, Start: o.Start.In(loc), End: o.End.In(loc)})
	}
	if len(out) == 0 && len(r.Meeting.Occurrences) > 0 {
		out = r.Meeting.Occurrences[:min(shown, len(r.Meeting.Occurrences))]
	}
	return out
}

// notes adds to an accepted reply's text what booking says the organizer
// should know, in English, leaving out what calendar.Message already said
// in the room's language: that a sensitive meeting is not recorded, and
// that the meeting is longer than the room allows.
func notes(r booking.Result, dial calendar.DialIn) string {
	var b strings.Builder
	for _, n := range r.Notes {
		switch {
		case strings.HasPrefix(n, "recording was asked for") && dial.Record && dial.Sensitive:
			continue
		case strings.HasPrefix(n, "the meeting is booked for") && dial.LimitMinutes > 0 &&
			int(r.Meeting.Duration/time.Minute) > dial.LimitMinutes:
			continue
		}
		if b.Len() == 0 {
			b.WriteString("\n")
		}
		b.WriteString("Note: " + n + ".\n")
	}
	return b.String()
}

// homeZones are where the rooms of each language are: Outlook names the
// zone of a Norwegian organizer "W. Europe Standard Time", which CLDR maps
// to Europe/Berlin, and the reply reads better with the organizer's own.
var homeZones = map[string]string{"nb": "Europe/Oslo", "sv": "Europe/Stockholm"}

// localZone is the zone a reply shows times in: the room language's home
// zone when it keeps the same clock as the meeting's own zone over the
// meeting's occurrences (so no time is ever shown wrong), else nil (the
// meeting's zone).
func localZone(lang string, m calendar.Meeting) *time.Location {
	name, ok := homeZones[lang]
	if !ok || m.Zone == nil {
		return nil
	}
	home, err := time.LoadLocation(name)
	if err != nil {
		return nil
	}
	times := []time.Time{m.Start}
	for _, o := range m.Occurrences {
		times = append(times, o.Start, o.End)
	}
	for _, t := range times {
		_, a := t.In(home).Zone()
		_, b := t.In(m.Zone).Zone()
		if a != b {
			return nil
		}
	}
	return home
}
