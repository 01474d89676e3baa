package pin

import (
	"encoding/base64"
	"strconv"
	"strings"
	"testing"
)

func TestHashForm(t *testing.T) {
	h := Hash("2468")
	parts := strings.Split(h, "$")
	if len(parts) != 4 || parts[0] != "pbkdf2-sha256" || parts[1] != strconv.Itoa(iterations) {
		t.Fatalf("Hash = %q", h)
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[2])
	if err != nil || len(salt) != 16 {
		t.Fatalf("salt %q: %v, %d bytes", parts[2], err, len(salt))
	}
	if strings.Contains(h, "2468") {
		t.Fatalf("hash %q holds the PIN", h)
	}
	if !IsHash(h) {
		t.Fatalf("IsHash(%q) = false", h)
	}
	if h2 := Hash("2468"); h2 == h {
		t.Fatal("two hashes of one PIN are equal; the salt is not random")
	}
}

func TestIsHash(t *testing.T) {
	good := Hash("1234")
	parts := strings.Split(good, "$")
	salt, key := parts[2], parts[3]
	for _, s := range []string{
		"", "1234", "pbkdf2-sha256$", "pbkdf2-sha256$50000$" + salt,
		"pbkdf2-sha1$50000$" + salt + "$" + key,
		"pbkdf2-sha256$0$" + salt + "$" + key,
		"pbkdf2-sha256$-1$" + salt + "$" + key,
		"pbkdf2-sha256$+50000$" + salt + "$" + key,
		"pbkdf2-sha256$050000$" + salt + "$" + key,
		"pbkdf2-sha256$99999999$" + salt + "$" + key, // beyond maxIterations
		"pbkdf2-sha256$50000$$" + key,
		"pbkdf2-sha256$50000$" + salt + "$" + key[:len(key)-2],
		"pbkdf2-sha256$50000$" + salt + "$" + key + "$x",
		"pbkdf2-sha256$50000$" + salt + "=$" + key,
		"pbkdf2-sha256$50000$" + salt + "$" + key + "==",
	} {
		if IsHash(s) {
			t.Errorf("IsHash(%q) = true", s)
		}
	}
}

// TestCheckHashed runs TestCheck's table against every mix of plain and
// hashed fields: the store hashes, a config file may hold either.
func TestCheckHashed(t *testing.T) {
	const p, h = "2468", "97531"
	hp, hh := Hash(p), Hash(h)
	cases := []struct {
		in   string
		want Role
	}{
		{"2468", Participant},
		{"97531", Host},
		{"246", None},
		{"24680", None},
		{"", None},
		{"9753", None},
		{"1357", None},
	}
	for _, s := range []Secrets{{PIN: hp, HostPIN: hh}, {PIN: p, HostPIN: hh}, {PIN: hp, HostPIN: h}} {
		for _, c := range cases {
			if got := Check(s, c.in); got != c.want {
				t.Errorf("Check(%q/%q, %q) = %v, want %v", s.PIN, s.HostPIN, c.in, got, c.want)
			}
		}
	}
	// The hash of one PIN matches no other, and an empty entry does not
	// match a room whose only hashed PIN is the host's.
	if got := Check(Secrets{PIN: Hash("1111")}, "1112"); got != None {
		t.Errorf("hash of 1111 accepted 1112 as %v", got)
	}
	if got := Check(Secrets{HostPIN: hh}, ""); got != None {
		t.Errorf("empty entry against hashed host-only room = %v", got)
	}
	if (Secrets{HostPIN: hh}).Required() || !(Secrets{PIN: hp}).Required() {
		t.Error("Required must look at presence, not form")
	}
}

func TestCheckTamperedHash(t *testing.T) {
	h := Hash("2468")
	// Change one character of the key, keeping it valid base64.
	i := len(h) - 3
	c := byte('A')
	if h[i] == 'A' {
		c = 'B'
	}
	bad := h[:i] + string(c) + h[i+1:]
	if !IsHash(bad) {
		t.Fatalf("tampered %q should still parse", bad)
	}
	if got := Check(Secrets{PIN: bad}, "2468"); got != None {
		t.Fatalf("tampered hash accepted the PIN as %v", got)
	}
}

// countDerivations counts the key derivations run until the test ends.
func countDerivations(t *testing.T) *int {
	n := new(int)
	real := derive
	derive = func(p string, salt []byte, iter int) []byte {
		*n++
		return real(p, salt, iter)
	}
	t.Cleanup(func() { derive = real })
	return n
}

func forgetKnown() {
	knownMu.Lock()
	clear(known)
	clear(derivedKnown)
	knownMu.Unlock()
}

// TestCheckEvenWork counts key derivations: whichever PIN matches, and
// whether the other is hashed, plain or missing, Check runs two of them
// as soon as one PIN is hashed (and not yet entered right since start).
// Without this a guesser could time which PIN matched or whether the room
// has a host PIN.
func TestCheckEvenWork(t *testing.T) {
	hp, hh := Hash("2468"), Hash("97531")
	n := countDerivations(t)
	for _, s := range []Secrets{{PIN: hp, HostPIN: hh}, {PIN: hp}, {HostPIN: hh}, {PIN: "2468", HostPIN: hh}, {PIN: hp, HostPIN: "97531"}} {
		for _, in := range []string{"2468", "97531", "0000", ""} {
			forgetKnown()
			*n = 0
			Check(s, in)
			if *n != 2 {
				t.Errorf("Check(%q/%q, %q) ran %d derivations, want 2", s.PIN, s.HostPIN, in, *n)
			}
		}
	}
	*n = 0
	Check(Secrets{PIN: "2468", HostPIN: "97531"}, "2468")
	if *n != 0 {
		t.Errorf("plain PINs ran %d derivations; a config-file room should not pay for hashing", *n)
	}
}

func FuzzHash(f *testing.F) {
	f.Add("2468", "2469")
	f.Add("123456789012", "12345678901")
	f.Add("", "0")
	f.Fuzz(func(t *testing.T, p, other string) {
		h := Hash(p)
		if !IsHash(h) {
			t.Fatalf("IsHash(Hash(%q)) = false", p)
		}
		if got := Check(Secrets{PIN: h}, p); p != "" && got != Participant {
			t.Fatalf("hash of %q rejected it: %v", p, got)
		}
		want := None
		if other == p {
			want = Participant
		}
		if got := Check(Secrets{PIN: h}, other); got != want {
			t.Fatalf("hash of %q, entered %q: %v, want %v", p, other, got, want)
		}
	})
}

func FuzzIsHash(f *testing.F) {
	f.Add(Hash("2468"))
	f.Add("pbkdf2-sha256$1$AAAA$" + strings.Repeat("A", 43))
	f.Add("pbkdf2-sha256$$$")
	f.Fuzz(func(t *testing.T, s string) {
		iter, salt, key, ok := parseHash(s)
		if ok != IsHash(s) {
			t.Fatal("IsHash disagrees with parseHash")
		}
		if !ok {
			return
		}
		if iter < 1 || iter > maxIterations || len(salt) == 0 || len(key) != keyLen {
			t.Fatalf("accepted %q: iter %d salt %d key %d", s, iter, len(salt), len(key))
		}
		back := hashPrefix + strconv.Itoa(iter) + "$" + b64.EncodeToString(salt) + "$" + b64.EncodeToString(key)
		if back != s {
			t.Fatalf("%q is not in canonical form (%q), yet accepted", s, back)
		}
	})
}

// TestCheckRemembersAnEnteredPIN: after a hashed PIN was entered right,
// checks of that room need no derivation and still answer right; a new
// hash (the PIN changed) is unknown again.
func TestCheckRemembersAnEnteredPIN(t *testing.T) {
	forgetKnown()
	hp, hh := Hash("2468"), Hash("97531")
	n := countDerivations(t)
	s := Secrets{PIN: hp, HostPIN: hh}
	if Check(s, "2468") != Participant || Check(s, "97531") != Host {
		t.Fatal("first right entries refused")
	}
	*n = 0
	for in, want := range map[string]Role{"2468": Participant, "97531": Host, "0000": None, "": None, "24680": None} {
		if got := Check(s, in); got != want {
			t.Errorf("remembered room: Check(%q) = %v, want %v", in, got, want)
		}
	}
	if *n != 0 {
		t.Errorf("a room whose PINs were entered ran %d derivations", *n)
	}
	changed := Secrets{PIN: Hash("2468"), HostPIN: hh}
	*n = 0
	if Check(changed, "1111") != None || *n != 2 {
		t.Errorf("a new hash: %d derivations, want 2", *n)
	}
}

// Meeting PINs hashed like another share its salt, and a Matcher checks
// an entered PIN against all of them with one derivation per salt, right
// or wrong, while each still matches only its own PIN.
func TestMatcherSharesDerivations(t *testing.T) {
	first := Hash("111111")
	room := []string{first, HashLike("222222", first), HashLike("333333", first)}
	other := Hash("444444") // another salt: one more derivation
	if strings.Split(room[1], "$")[2] != strings.Split(first, "$")[2] || room[1] == HashLike("222222", other) {
		t.Fatalf("HashLike did not take the salt: %q, %q", first, room[1])
	}
	if !IsHash(HashLike("5", "not a hash")) {
		t.Fatal("HashLike of a non-hash is no hash")
	}
	n := countDerivations(t)
	forgetKnown()
	for _, c := range []struct {
		entered string
		want    int // index into all that matches; -1 none
	}{{"111111", 0}, {"333333", 2}, {"444444", 3}, {"999999", -1}, {"", -1}} {
		forgetKnown()
		*n = 0
		m := NewMatcher(c.entered)
		all := append(append([]string{}, room...), other, "", "55")
		for i, h := range all {
			if got := m.Matches(h); got != (i == c.want) {
				t.Errorf("PIN %q against %d: %v", c.entered, i, got)
			}
		}
		if *n != 2 {
			t.Errorf("PIN %q: %d derivations, want 2 (one per salt)", c.entered, *n)
		}
	}
	if !NewMatcher("55").Matches("55") || NewMatcher("5").Matches("55") {
		t.Error("plain PINs")
	}
}

// A PIN that matched a meeting's hash is not derived again for that salt
// (the next caller of the meeting costs nothing); a wrong one always is.
func TestMatcherRemembersRightPINs(t *testing.T) {
	forgetKnown()
	defer forgetKnown()
	h := Hash("121212")
	n := countDerivations(t)
	for i, c := range []struct {
		entered string
		match   bool
		derives int
	}{{"121212", true, 1}, {"121212", true, 0}, {"343434", false, 1}, {"343434", false, 1}, {"121212", true, 0}} {
		*n = 0
		if got := NewMatcher(c.entered).Matches(h); got != c.match || *n != c.derives {
			t.Errorf("try %d, PIN %s: match %v after %d derivations, want %v after %d", i, c.entered, got, *n, c.match, c.derives)
		}
	}
	if NewMatcher("121212").Matches(HashLike("565656", h)) {
		t.Error("a remembered key matched another PIN's hash of the same salt")
	}
}
