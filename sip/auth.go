package sip

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/icholy/digest"
)

// nonceLife is how long a challenge may be answered. Long enough for a
// phone to come back with credentials (and for a user typing them into a
// softphone's prompt), short enough that a captured nonce is soon useless.
const nonceLife = 5 * time.Minute

// digestAuth checks SIP digest authentication (RFC 3261 §22, RFC 2617's
// MD5 with qop=auth, or none). Nonces are stateless: a timestamp signed
// with a secret made at start, so a restart invalidates outstanding
// challenges (the phone is asked again) and nothing grows per request.
// Replays within the nonce's life are not detected: the nonce is not
// bound to one use, as with most SIP servers, because UDP retransmissions
// of an authenticated INVITE must still pass.
type digestAuth struct {
	realm  string
	users  map[string]string // user name → password
	secret [32]byte
}

func newDigestAuth(realm string, users map[string]string) *digestAuth {
	a := &digestAuth{realm: realm, users: users}
	rand.Read(a.secret[:]) // never fails (Go 1.24+): it crashes the program instead
	return a
}

// challenge is the WWW-Authenticate value for a 401. stale tells a phone
// whose password was right that only the nonce expired (RFC 2617 §3.2.1),
// so it retries without asking its user.
func (a *digestAuth) challenge(now time.Time, stale bool) string {
	s := fmt.Sprintf(`Digest realm="%s", nonce="%s", algorithm=MD5, qop="auth"`, a.realm, a.nonce(now))
	if stale {
		s += ", stale=true"
	}
	return s
}

func (a *digestAuth) nonce(now time.Time) string {
	var b [8 + sha256.Size]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.Unix()))
	copy(b[8:], a.sign(b[:8]))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (a *digestAuth) sign(ts []byte) []byte {
	m := hmac.New(sha256.New, a.secret[:])
	m.Write(ts)
	return m.Sum(nil)
}

// authResult is what verify concluded.
type authResult int

const (
	authMissing authResult = iota // no credentials for our realm: challenge
	authOK
	authStale  // right credentials on an expired nonce: challenge with stale=true
	authFailed // wrong user, password or nonce: challenge again, and count it
)

// verify checks the Authorization header values of a request.
func (a *digestAuth) verify(method string, values []string, now time.Time) (authResult, string) {
	for _, v := range values {
		cred, err := digest.ParseCredentials(v)
		if err != nil || cred.Realm != a.realm {
			continue
		}
		return a.check(method, cred, now)
	}
	return authMissing, ""
}

func (a *digestAuth) check(method string, c *digest.Credentials, now time.Time) (authResult, string) {
	pass, ok := a.users[c.Username]
	if !ok {
		return authFailed, c.Username
	}
	if alg := strings.ToUpper(c.Algorithm); alg != "" && alg != "MD5" {
		return authFailed, c.Username
	}
	fresh, valid := a.nonceState(c.Nonce, now)
	if !valid {
		return authFailed, c.Username
	}
	ha1 := md5hex(c.Username + ":" + a.realm + ":" + pass)
	ha2 := md5hex(method + ":" + c.URI)
	var want string
	switch c.QOP {
	case "":
		want = md5hex(ha1 + ":" + c.Nonce + ":" + ha2)
	case "auth":
		want = md5hex(fmt.Sprintf("%s:%s:%08x:%s:auth:%s", ha1, c.Nonce, c.Nc, c.Cnonce, ha2))
	default:
		return authFailed, c.Username
	}
	if subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(c.Response))) != 1 {
		return authFailed, c.Username
	}
	if !fresh {
		return authStale, c.Username
	}
	return authOK, c.Username
}

// nonceState reports whether a nonce is ours (valid) and still within its
// life (fresh).
func (a *digestAuth) nonceState(n string, now time.Time) (fresh, valid bool) {
	b, err := base64.RawURLEncoding.DecodeString(n)
	if err != nil || len(b) != 8+sha256.Size {
		return false, false
	}
	if !hmac.Equal(b[8:], a.sign(b[:8])) {
		return false, false
	}
	issued := time.Unix(int64(binary.BigEndian.Uint64(b[:8])), 0)
	age := now.Sub(issued)
	return age >= -time.Minute && age <= nonceLife, true
}

func md5hex(s string) string {
	h := md5.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}
