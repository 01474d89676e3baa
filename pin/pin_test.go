package pin

import (
	"net/netip"
	"testing"
)

func TestCheck(t *testing.T) {
	s := Secrets{PIN: "2468", HostPIN: "97531"}
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
	for _, c := range cases {
		if got := Check(s, c.in); got != c.want {
			t.Errorf("Check(%q) = %v, want %v", c.in, got, c.want)
		}
	}
	// A room without a participant PIN must not accept the empty string as one.
	if got := Check(Secrets{HostPIN: "1"}, ""); got != None {
		t.Errorf("empty entry against host-only room = %v", got)
	}
	if (Secrets{HostPIN: "1"}).Required() {
		t.Error("host-only room should not require a PIN")
	}
}

func TestEntry(t *testing.T) {
	var e Entry
	feed := func(keys string) Action {
		var a Action
		for i := 0; i < len(keys); i++ {
			a = e.Key(keys[i])
		}
		return a
	}
	if a := feed("12"); a != Continue || e.Value() != "12" {
		t.Fatalf("got %v %q", a, e.Value())
	}
	if a := feed("*"); a != Restart || e.Value() != "" {
		t.Fatalf("star: got %v %q", a, e.Value())
	}
	if a := feed("2468#"); a != Submit || e.Value() != "2468" {
		t.Fatalf("submit: got %v %q", a, e.Value())
	}
	e.Reset()
	for i := 0; i < 100; i++ {
		e.Key('1')
	}
	if e.Len() != MaxDigits {
		t.Fatalf("len %d, want bounded at %d", e.Len(), MaxDigits)
	}
	e.Reset()
	feed("A1B")
	if e.Value() != "1" {
		t.Fatalf("letters should be ignored, got %q", e.Value())
	}
}

func TestTries(t *testing.T) {
	tr := Tries{Max: 3}
	if tr.Fail() || tr.Fail() {
		t.Fatal("exhausted too early")
	}
	if !tr.Fail() {
		t.Fatal("not exhausted after 3")
	}
}

type countingGuard struct {
	allow            bool
	failed, succeded int
}

func (g *countingGuard) Allow(Attempt) bool { return g.allow }
func (g *countingGuard) Failed(Attempt)     { g.failed++ }
func (g *countingGuard) Succeeded(Attempt)  { g.succeded++ }

func TestVerifierGuard(t *testing.T) {
	g := &countingGuard{allow: true}
	v := Verifier{Guard: g}
	a := Attempt{Source: netip.MustParseAddr("192.0.2.1"), Room: "4711"}
	s := Secrets{PIN: "1234"}
	if r, err := v.Verify(a, s, "0000"); r != None || err != nil {
		t.Fatal(r, err)
	}
	if r, err := v.Verify(a, s, "1234"); r != Participant || err != nil {
		t.Fatal(r, err)
	}
	if g.failed != 1 || g.succeded != 1 {
		t.Fatalf("guard saw %d failed %d succeeded", g.failed, g.succeded)
	}
	g.allow = false
	if r, err := v.Verify(a, s, "1234"); r != None || err != ErrLocked {
		t.Fatalf("locked: %v %v", r, err)
	}
}

func FuzzCheck(f *testing.F) {
	f.Add("2468", "97531", "2468")
	f.Add("", "1", "")
	f.Fuzz(func(t *testing.T, p, h, in string) {
		r := Check(Secrets{PIN: p, HostPIN: h}, in)
		want := None
		if h != "" && in == h {
			want = Host
		} else if p != "" && in == p {
			want = Participant
		}
		if r != want {
			t.Fatalf("Check(%q,%q,%q)=%v want %v", p, h, in, r, want)
		}
	})
}

// A PIN that is right for something else (a scheduled meeting) is no
// guess: the guard hears of a success, not a failure.
func TestVerifyOtherIsNoFailure(t *testing.T) {
	g := &countingGuard{allow: true}
	v := Verifier{Guard: g}
	s := Secrets{PIN: "2468", Other: func(e string) bool { return e == "555111" }}
	if r, _ := v.Verify(Attempt{}, s, "555111"); r != None {
		t.Fatalf("role %v for another's PIN, want None (the caller decides)", r)
	}
	if r, _ := v.Verify(Attempt{}, s, "1111"); r != None {
		t.Fatal("a wrong PIN admitted")
	}
	if g.failed != 1 || g.succeded != 1 {
		t.Fatalf("guard told %d failures, %d successes; want 1 and 1", g.failed, g.succeded)
	}
}
