package pin

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"strconv"
	"strings"
	"sync"
)

// iterations makes one derivation cost about 11 ms on the 2-core build
// machine (0.22 µs per iteration). A PIN of a few digits falls to an
// offline search whatever the count, so the hash is there to keep PINs out
// of backups and logs in readable form, not to make them strong; a higher
// count would only slow every dial-in.
const iterations = 50_000

// maxIterations bounds what a stored hash may ask for, so a damaged or
// planted row cannot make each dial-in spin for seconds.
const maxIterations = 5_000_000

const (
	hashPrefix = "pbkdf2-sha256$"
	saltLen    = 16
	keyLen     = sha256.Size
)

var b64 = base64.RawStdEncoding.Strict()

// dummySalt feeds the derivation Check runs for a plain or empty PIN; its value
// does not matter, only that the work is the same.
var dummySalt [saltLen]byte

// Hash returns p in the form stored at rest:
// "pbkdf2-sha256$<iterations>$<salt>$<key>", salt and key in unpadded
// standard base64, with a fresh random 16-byte salt so equal PINs of two
// rooms do not look equal.
func Hash(p string) string {
	var salt [saltLen]byte
	rand.Read(salt[:]) // never fails (crypto/rand since Go 1.24)
	return format(iterations, salt[:], derive(p, salt[:], iterations))
}

// format writes a hash in the form parseHash reads.
func format(iter int, salt, key []byte) string {
	return hashPrefix + strconv.Itoa(iter) + "$" + b64.EncodeToString(salt) + "$" + b64.EncodeToString(key)
}

// IsHash reports whether s is in the form Hash produces, as opposed to a
// plain PIN. It checks the shape only; a PIN is digits, so the prefix alone
// cannot be mistaken for one.
func IsHash(s string) bool {
	_, _, _, ok := parseHash(s)
	return ok
}

func parseHash(s string) (iter int, salt, key []byte, ok bool) {
	rest, found := strings.CutPrefix(s, hashPrefix)
	if !found {
		return 0, nil, nil, false
	}
	parts := strings.Split(rest, "$")
	if len(parts) != 3 {
		return 0, nil, nil, false
	}
	iter, err := strconv.Atoi(parts[0])
	if err != nil || iter < 1 || iter > maxIterations || parts[0] != strconv.Itoa(iter) {
		return 0, nil, nil, false
	}
	// The decoder skips CR and LF; re-encoding rejects those, so one hash
	// has one spelling and a stored value with a stray newline is noticed.
	salt, err = b64.DecodeString(parts[1])
	if err != nil || len(salt) == 0 || b64.EncodeToString(salt) != parts[1] {
		return 0, nil, nil, false
	}
	key, err = b64.DecodeString(parts[2])
	if err != nil || len(key) != keyLen || b64.EncodeToString(key) != parts[2] {
		return 0, nil, nil, false
	}
	return iter, salt, key, true
}

// verify reports whether entered is the PIN hashed as h.
func verify(h, entered string) bool {
	iter, salt, key, ok := parseHash(h)
	if !ok {
		return false
	}
	if subtle.ConstantTimeCompare(derive(entered, salt, iter), key) != 1 {
		return false
	}
	remember(h, entered)
	return true
}

// Once a hashed PIN has been entered right, the process keeps the plain
// PIN in memory (never on disk) and later checks compare against it in
// constant time without a derivation. Two derivations per dial-in cost
// some 25 ms of a core, so 50 callers a second joining a meeting would
// otherwise need more than a core for PIN checks alone; with the cache
// only the first caller of a room and wrong guesses pay. The hash stays
// what is stored, so backups and logs never hold a readable PIN. The price
// is that a check of a room whose PIN has been entered since start is
// faster than one of a room whose PIN has not; it says nothing about the
// PIN itself.
var (
	knownMu sync.RWMutex
	known   = map[string]string{} // hash → plain
)

// maxKnown bounds the cache; PIN changes leave old hashes behind.
const maxKnown = 100_000

func remember(h, plain string) {
	knownMu.Lock()
	defer knownMu.Unlock()
	if len(known) >= maxKnown {
		clear(known)
	}
	known[h] = plain
}

// remembered is the plain PIN behind h when it has been entered right
// before, else h unchanged.
func remembered(h string) string {
	if !strings.HasPrefix(h, hashPrefix) {
		return h
	}
	knownMu.RLock()
	defer knownMu.RUnlock()
	if p, ok := known[h]; ok {
		return p
	}
	return h
}

// derive is a variable so a test can count the derivations Check runs.
var derive = func(p string, salt []byte, iter int) []byte {
	key, err := pbkdf2.Key(sha256.New, p, salt, iter, keyLen)
	if err != nil {
		// Only FIPS 140-only mode refuses (a salt under 16 bytes or a
		// short password); a key that matches nothing fails the check.
		return make([]byte, keyLen+1)
	}
	return key
}

// HashLike is Hash with the salt and iteration count of like, when like is
// a hash; else Hash. The PINs of one room's scheduled meetings share a
// salt this way, so a caller's PIN is checked against all of them with one
// key derivation (see Matcher) instead of one per meeting, however many
// meetings the room has booked over time. It gives up only that an
// offline search tests a guess against all of one room's meeting PINs at
// once, which for PINs of a few digits changes little; meeting PINs within
// a room differ by construction, so no two of them look equal either.
func HashLike(p, like string) string {
	iter, salt, _, ok := parseHash(like)
	if !ok {
		return Hash(p)
	}
	return format(iter, salt, derive(p, salt, iter))
}

// Matcher checks one entered PIN against many stored ones (hashes, or
// plain ones from a config file). Each salt and iteration count costs one
// key derivation, whichever hash brings it first and whether or not any
// matches, so the time taken depends on the stored hashes, not on the
// entered PIN; except that, as with Check's cache, a PIN that has matched
// a hash of that salt since start is not derived again, so a meeting's
// callers after the first cost no derivation. Not safe for concurrent use.
type Matcher struct {
	entered string
	keys    map[saltKey][]byte // derived key of entered per salt
}

// saltKey names a salt and iteration count.
type saltKey struct {
	iter int
	salt string
}

// NewMatcher returns a Matcher for entered.
func NewMatcher(entered string) *Matcher {
	return &Matcher{entered: entered, keys: map[saltKey][]byte{}}
}

// Matches reports whether the PIN stored as want is the entered one. An
// empty want matches nothing.
func (m *Matcher) Matches(want string) bool {
	iter, salt, key, ok := parseHash(want)
	if !ok {
		return want != "" && equal(want, m.entered)
	}
	memo := saltKey{iter, string(salt)}
	got, done := m.keys[memo]
	if !done {
		var known bool
		if got, known = knownKey(memo, m.entered); !known {
			got = derive(m.entered, salt, iter)
		}
		m.keys[memo] = got
	}
	if subtle.ConstantTimeCompare(got, key) != 1 {
		return false
	}
	rememberKey(memo, m.entered, got)
	return true
}

// Derived keys of PINs that matched a hash, by salt, iterations and PIN;
// only in memory, bounded like known.
var derivedKnown = map[derivedKey][]byte{}

type derivedKey struct {
	saltKey
	entered string
}

func knownKey(memo saltKey, entered string) ([]byte, bool) {
	knownMu.RLock()
	defer knownMu.RUnlock()
	k, ok := derivedKnown[derivedKey{memo, entered}]
	return k, ok
}

func rememberKey(memo saltKey, entered string, key []byte) {
	knownMu.Lock()
	defer knownMu.Unlock()
	if len(derivedKnown) >= maxKnown {
		clear(derivedKnown)
	}
	derivedKnown[derivedKey{memo, entered}] = key
}
