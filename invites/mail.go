package invites

import (
	"crypto/rand"
	"errors"
	"fmt"

	gomail "github.com/wneessen/go-mail"

	"brygga/mailer"
)

// replyType is the Content-Type of the REPLY part; go-mail adds the
// charset (RFC 6047 section 2.4: method must match the object's METHOD).
const replyType gomail.ContentType = "text/calendar; method=REPLY"

// message writes l as the e-mail an attendee's Outlook sends: for a reply,
// multipart/alternative with the text for the reader first and the
// text/calendar REPLY second (MS-OXCMAIL 2.1.3.3.8.1, the plain-text
// meeting message; CalConnect's iMIP guide likewise), so that a mail
// program shows the text and a calendar files the reply. The REPLY is
// base64: it survives any relay, and Exchange writes it so itself.
// Content-Class is what Exchange writes on meeting messages; readers go
// by the text/calendar part. Auto-Submitted (RFC 3834) keeps out-of-office
// answers from coming back to the bridge.
func (d *Desk) message(l letter) (*gomail.Msg, error) {
	msg := gomail.NewMsg()
	from := d.From
	if from == "" {
		from = d.Address
	}
	if err := msg.From(from); err != nil {
		return nil, fmt.Errorf("invites: From %q: %w", from, err)
	}
	if err := msg.AddToFormat(l.toName, l.to); err != nil {
		return nil, fmt.Errorf("invites: To %q: %w", l.to, err)
	}
	msg.Subject(l.subject)
	msg.SetDateWithValue(d.now())
	// The bridge's domain rather than go-mail's host name, which is often
	// no domain at all and counts against the mail in spam filters.
	msg.SetMessageIDWithValue(rand.Text() + "@" + domain(d.Address))
	msg.SetUserAgent("brygga")
	msg.SetGenHeader("Auto-Submitted", "auto-replied")
	msg.SetBodyString(gomail.TypeTextPlain, l.body)
	if l.ics != nil {
		msg.SetGenHeader("Content-Class", "urn:content-classes:calendarmessage")
		msg.AddAlternativeString(replyType, string(l.ics), gomail.WithPartEncoding(gomail.EncodingB64))
	}
	return msg, nil
}

// retry says whether a failed send may succeed later: everything but a
// refused recipient (mailer.RejectedError).
func retry(err error) bool {
	var rejected *mailer.RejectedError
	return !errors.As(err, &rejected)
}
