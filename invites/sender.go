package invites

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/emersion/go-message"
	gomessagemail "github.com/emersion/go-message/mail"
)

// identity is who a message says sent it.
type identity struct {
	from     []string // the addresses of From
	badFrom  string   // why From could not be read; "" when it could
	sender   string   // Sender, "" when there is none (or it cannot be read)
	envelope string   // MAIL FROM; "" for the null sender <>
	fields   []headerField
}

// identityOf reads the identities of a message that came with envelope
// sender envelope.
func identityOf(data []byte, envelope string) identity {
	id := identity{envelope: envelope}
	e, err := message.Read(bytes.NewReader(data))
	if e == nil || (err != nil && !message.IsUnknownCharset(err)) {
		id.badFrom = "the message header cannot be read"
		return id
	}
	h := gomessagemail.Header{Header: e.Header}
	from, err := h.AddressList("From")
	switch {
	case err != nil:
		id.badFrom = "its From cannot be read"
	case len(from) == 0:
		id.badFrom = "it has no From"
	}
	for _, a := range from {
		id.from = append(id.from, a.Address)
	}
	if s, err := h.AddressList("Sender"); err == nil && len(s) == 1 {
		id.sender = s[0].Address
	}
	for f := e.Header.Fields(); f.Next(); {
		id.fields = append(id.fields, headerField{f.Key(), f.Value()})
	}
	return id
}

// who names the sender for logs and notices: From, with who sent it on
// From's behalf (Sender, else the envelope sender) when that differs.
func (id identity) who() string {
	s := strings.Join(id.from, ", ")
	actual := id.sender
	if actual == "" {
		actual = id.envelope
	}
	if actual != "" && !strings.EqualFold(actual, s) {
		s = actual + " on behalf of " + s
	}
	return s
}

// vouch says whether the message of id may speak for organizer, whose
// rooms list delegates; else reason says why not, in English, for the
// sender's bounce and the log.
//
// From must be the organizer or a delegate, and be one address. Without
// authservID the envelope sender must be one of them too: a consistency
// check, since both can be forged. With authservID the
// Authentication-Results that mail server wrote must vouch for From's
// domain (see vouched), and the envelope is not compared, so forwarded
// mail works. Sender is never compared: it is as forgeable as From, and
// Outlook's "on behalf of" (From the owner, Sender the delegate) and
// calendar services (Sender their own address) both set it.
func vouch(id identity, organizer string, delegates []string, authservID string) (ok bool, reason string) {
	may := func(addr string) bool {
		same := func(a string) bool { return strings.EqualFold(addr, a) }
		return same(organizer) || slices.ContainsFunc(delegates, same)
	}
	notHim := func(what, addr string) string {
		return fmt.Sprintf("%s %s is neither the organizer %s nor a delegate of theirs", what, addr, organizer)
	}
	switch {
	case id.badFrom != "":
		return false, "the invitation cannot be tied to its organizer " + organizer + ": " + id.badFrom
	case len(id.from) != 1:
		return false, fmt.Sprintf("the From header names %d addresses; brygga takes invitations from one", len(id.from))
	case !may(id.from[0]):
		return false, notHim("From", id.from[0])
	case authservID != "":
		results, found := trustedResults(id.fields, authservID)
		switch {
		case !found:
			return false, "the message carries no Authentication-Results from " + authservID
		case !vouched(results, id.from[0], id.envelope):
			return false, fmt.Sprintf("%s found no DKIM, SPF or DMARC pass for %s", authservID, domainOf(id.from[0]))
		}
	case id.envelope == "":
		return false, "the envelope sender is empty (<>)"
	case !may(id.envelope):
		return false, notHim("the envelope sender", id.envelope)
	}
	return true, ""
}
