package sip

import (
	"testing"
	"time"

	"github.com/icholy/digest"
)

// respond computes credentials for a challenge the way a phone does, with
// icholy/digest's client side (not our own code).
func respond(t *testing.T, challenge, method, uri, user, pass string) string {
	t.Helper()
	chal, err := digest.ParseChallenge(challenge)
	if err != nil {
		t.Fatal(err)
	}
	cred, err := digest.Digest(chal, digest.Options{Method: method, URI: uri, Username: user, Password: pass, Count: 1})
	if err != nil {
		t.Fatal(err)
	}
	return cred.String()
}

func TestDigestAuth(t *testing.T) {
	a := newDigestAuth("brygga", map[string]string{"pbx2": "correct horse"})
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	uri := "sip:4711@127.0.0.1:5060"
	chal := a.challenge(now, false)

	for _, tc := range []struct {
		name       string
		user, pass string
		at         time.Time
		want       authResult
	}{
		{"right", "pbx2", "correct horse", now.Add(time.Minute), authOK},
		{"wrong password", "pbx2", "battery staple", now.Add(time.Minute), authFailed},
		{"unknown user", "eve", "correct horse", now.Add(time.Minute), authFailed},
		{"expired nonce, right password", "pbx2", "correct horse", now.Add(nonceLife + time.Minute), authStale},
		{"expired nonce, wrong password", "pbx2", "nope", now.Add(nonceLife + time.Minute), authFailed},
	} {
		got, _ := a.verify("INVITE", []string{respond(t, chal, "INVITE", uri, tc.user, tc.pass)}, tc.at)
		if got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}

	// Credentials for another method, or a nonce another bridge (another
	// secret) made, do not pass.
	if got, _ := a.verify("INVITE", []string{respond(t, chal, "REGISTER", uri, "pbx2", "correct horse")}, now); got != authFailed {
		t.Errorf("credentials for REGISTER passed an INVITE: %v", got)
	}
	other := newDigestAuth("brygga", map[string]string{"pbx2": "correct horse"})
	if got, _ := a.verify("INVITE", []string{respond(t, other.challenge(now, false), "INVITE", uri, "pbx2", "correct horse")}, now); got != authFailed {
		t.Errorf("a foreign nonce passed: %v", got)
	}
	// Without qop (RFC 2069 style) still works; another realm is ignored.
	noQOP := `Digest realm="brygga", nonce="` + a.nonce(now) + `", algorithm=MD5`
	if got, _ := a.verify("INVITE", []string{respond(t, noQOP, "INVITE", uri, "pbx2", "correct horse")}, now); got != authOK {
		t.Errorf("no qop: %v", got)
	}
	elsewhere := `Digest realm="other", nonce="` + a.nonce(now) + `", algorithm=MD5, qop="auth"`
	if got, _ := a.verify("INVITE", []string{respond(t, elsewhere, "INVITE", uri, "pbx2", "correct horse")}, now); got != authMissing {
		t.Errorf("credentials for another realm: %v, want missing", got)
	}
	if got, _ := a.verify("INVITE", []string{"Basic cGJ4Mjpjb3JyZWN0IGhvcnNl", "Digest garbage"}, now); got != authMissing {
		t.Errorf("unreadable credentials: %v, want missing", got)
	}
	if c := a.challenge(now, true); c[len(c)-10:] != "stale=true" {
		t.Errorf("stale challenge %q", c)
	}
}

func FuzzDigestVerify(f *testing.F) {
	a := newDigestAuth("brygga", map[string]string{"pbx2": "correct horse"})
	now := time.Now()
	f.Add(`Digest username="pbx2", realm="brygga", nonce="` + a.nonce(now) + `", uri="sip:4711@x", response="00", qop=auth, nc=00000001, cnonce="x"`)
	f.Add(`Digest realm="brygga", nonce=""`)
	f.Fuzz(func(t *testing.T, h string) {
		if got, _ := a.verify("INVITE", []string{h}, now); got == authOK {
			t.Fatalf("made-up credentials passed: %q", h)
		}
	})
}
