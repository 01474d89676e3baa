package invites

import (
	"strings"
	"testing"
)

// head is a message header with the given fields, then a body.
func head(fields ...string) []byte {
	return []byte(strings.Join(fields, "\r\n") + "\r\n\r\nbody\r\n")
}

// Who may speak for the organizer, in each mode: the rule of vouch.
func TestVouch(t *testing.T) {
	const (
		owner    = "kari.nordmann@kommune.no"
		delegate = "assistent@kommune.no"
		attacker = "attacker@evil.org"
		mx       = "mx.kommune.no"
	)
	delegates := []string{"Assistent@Kommune.no"}
	tests := []struct {
		name     string
		data     []byte
		envelope string
		authserv string
		ok       bool
		reason   string // part of it
	}{
		// The default: From and envelope compared.
		{"the owner from their own mailbox", head("From: Kari Nordmann <Kari.Nordmann@kommune.no>"), owner, "", true, ""},
		{"Outlook on behalf of: From the owner, Sender and envelope the delegate",
			head("From: Kari Nordmann <"+owner+">", "Sender: Assistent <"+delegate+">"), delegate, "", true, ""},
		{"the delegate as From", head("From: " + delegate), delegate, "", true, ""},
		{"the attack: the attacker's own From and envelope", head("From: " + attacker), attacker, "", false, "From attacker@evil.org is neither the organizer"},
		{"From forged, envelope the attacker's", head("From: " + owner), attacker, "", false, "the envelope sender attacker@evil.org is neither"},
		{"envelope forged, From the attacker's", head("From: " + attacker), owner, "", false, "From attacker@evil.org"},
		{"a Sender that is not a delegate is not compared", head("From: "+owner, "Sender: "+attacker), owner, "", true, ""},
		{"the null envelope sender", head("From: " + owner), "", "", false, "envelope sender is empty"},
		{"two From addresses", head("From: " + owner + ", " + attacker), owner, "", false, "names 2 addresses"},
		{"no From", head("Subject: x"), owner, "", false, "has no From"},
		{"an unreadable From", head("From: <<<"), owner, "", false, "From cannot be read"},
		{"a delegate of another owner", head("From: someone@kommune.no"), "someone@kommune.no", "", false, "neither"},

		// With authserv_id: the mail server's verdict on From's domain.
		{"DKIM pass from the configured server",
			head("Authentication-Results: mx.kommune.no; dkim=pass header.d=kommune.no", "From: "+owner), "bounce@lists.example", mx, true, ""},
		{"on behalf of, DMARC pass for the delegate's domain",
			head("Authentication-Results: mx.kommune.no; dmarc=pass header.from=kommune.no", "From: "+delegate, "Sender: "+delegate), delegate, mx, true, ""},
		{"a pass from another server is ignored",
			head("Authentication-Results: mx.evil.org; dkim=pass header.d=kommune.no", "From: "+owner), owner, mx, false, "no Authentication-Results from mx.kommune.no"},
		{"a pass the sender wrote below the server's fail is ignored",
			head("Authentication-Results: mx.kommune.no; dkim=none; spf=fail smtp.mailfrom=evil.org",
				"Received: from evil.org by mx.kommune.no", "Authentication-Results: mx.kommune.no; dkim=pass header.d=kommune.no",
				"From: "+owner), owner, mx, false, "found no DKIM, SPF or DMARC pass for kommune.no"},
		{"a pass for the attacker's own domain", head("Authentication-Results: mx.kommune.no; dkim=pass header.d=evil.org", "From: "+owner), owner, mx, false, "no DKIM"},
		{"still From must be the organizer or a delegate",
			head("Authentication-Results: mx.kommune.no; dkim=pass header.d=kommune.no", "From: colleague@kommune.no"), owner, mx, false, "From colleague@kommune.no"},
	}
	for _, tt := range tests {
		ok, reason := vouch(identityOf(tt.data, tt.envelope), owner, delegates, tt.authserv)
		if ok != tt.ok || !strings.Contains(reason, tt.reason) {
			t.Errorf("%s: %v %q, want %v %q", tt.name, ok, reason, tt.ok, tt.reason)
		}
	}
}
