package invites

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseAuthResults(t *testing.T) {
	tests := []struct {
		name, value string
		id          string
		want        []authResult
	}{
		{"RFC 8601 B.2, no result", "example.org 1; none", "example.org", nil},
		{"RFC 8601 B.4, SPF with comment",
			"example.com; spf=pass smtp.mailfrom=example.net", "example.com",
			[]authResult{{"spf", "pass", map[string]string{"smtp.mailfrom": "example.net"}}}},
		{"RFC 8601 B.5, several results and comments",
			"example.com;\r\n auth=pass (cram-md5) smtp.auth=sender@example.net;\r\n spf=pass smtp.mailfrom=example.net",
			"example.com",
			[]authResult{
				{"auth", "pass", map[string]string{"smtp.auth": "sender@example.net"}},
				{"spf", "pass", map[string]string{"smtp.mailfrom": "example.net"}},
			}},
		{"RFC 8601 B.6, versions and quoted reason",
			`example.com; dkim/1=pass (good signature) header.d=mail-router.example.net; dkim=fail reason="bad signature" header.i=@newyork.example.com`,
			"example.com",
			[]authResult{
				{"dkim", "pass", map[string]string{"header.d": "mail-router.example.net"}},
				{"dkim", "fail", map[string]string{"header.i": "@newyork.example.com"}},
			}},
		{"rspamd, comments everywhere, upper case",
			`mx.kommune.no (Rspamd); DKIM=Pass header.d=kommune.no header.s=sel header.b=abc123;  dmarc=pass (policy=reject) header.from=kommune.no; spf=pass (mx.kommune.no: domain of kari@kommune.no designates 192.0.2.1 as permitted sender) smtp.mailfrom=kari@kommune.no`,
			"mx.kommune.no",
			[]authResult{
				{"dkim", "pass", map[string]string{"header.d": "kommune.no", "header.s": "sel", "header.b": "abc123"}},
				{"dmarc", "pass", map[string]string{"header.from": "kommune.no"}},
				{"spf", "pass", map[string]string{"smtp.mailfrom": "kari@kommune.no"}},
			}},
		{"quoted local part joined to its domain",
			`mx; spf=pass smtp.mailfrom="kari nordmann"@kommune.no`, "mx",
			[]authResult{{"spf", "pass", map[string]string{"smtp.mailfrom": "kari nordmann@kommune.no"}}}},
		{"spaces around =, a nested comment",
			`mx (a (nested) comment); dkim = pass header.d = kommune.no`, "mx",
			[]authResult{{"dkim", "pass", map[string]string{"header.d": "kommune.no"}}}},
		{"unreadable results are left out, readable ones kept",
			`mx; dkim pass header.d=evil.org; dkim=pass header.d; spf=pass smtp.mailfrom=a@b.no smtp.mailfrom=c@d.no; dmarc=pass header.from=kommune.no`, "mx",
			[]authResult{{"dmarc", "pass", map[string]string{"header.from": "kommune.no"}}}},
		{"a semicolon in a comment or quotes splits nothing",
			`mx; dkim=pass (d=evil.org; ok) header.d="kommune.no;x"`, "mx",
			[]authResult{{"dkim", "pass", map[string]string{"header.d": "kommune.no;x"}}}},
		{"quoted authserv-id", `"mx.kommune.no"; dkim=pass header.d=kommune.no`, "mx.kommune.no",
			[]authResult{{"dkim", "pass", map[string]string{"header.d": "kommune.no"}}}},
	}
	for _, tt := range tests {
		id, got, ok := parseAuthResults(tt.value)
		if !ok || id != tt.id || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: %q, %+v, %v; want %q, %+v", tt.name, id, got, ok, tt.id, tt.want)
		}
	}
	for _, bad := range []string{"", "   ", "; dkim=pass header.d=kommune.no", "(only a comment)", "= pass"} {
		if id, rs, ok := parseAuthResults(bad); ok {
			t.Errorf("%q: authserv-id %q, %+v", bad, id, rs)
		}
	}
}

// Only the topmost Authentication-Results of the configured mail server,
// with those of it directly below, are read.
func TestTrustedResults(t *testing.T) {
	ar := func(v string) headerField { return headerField{"Authentication-Results", v} }
	fields := []headerField{
		ar("other.example; dkim=pass header.d=evil.org"),
		ar("MX.kommune.no; spf=pass smtp.mailfrom=kari@kommune.no"),
		ar("mx.kommune.no; dkim=fail header.d=kommune.no"),
		{"Received", "from evil.org by mx.kommune.no"},
		ar("mx.kommune.no; dkim=pass header.d=kommune.no"), // the sender's own
	}
	got, found := trustedResults(fields, "mx.kommune.no")
	if !found || len(got) != 2 || got[0].method != "spf" || got[1].result != "fail" {
		t.Errorf("got %+v, %v", got, found)
	}
	if _, found := trustedResults(fields[:1], "mx.kommune.no"); found {
		t.Error("another server's header counted")
	}
	if got, found := trustedResults(fields[3:], "mx.kommune.no"); !found || len(got) != 1 {
		t.Errorf("below a Received, with nothing above: %+v, %v", got, found)
	}
}

func TestVouched(t *testing.T) {
	const from, env = "kari@kommune.no", "kari@kommune.no"
	tests := []struct {
		header   string
		from     string
		envelope string
		want     bool
	}{
		{"mx; dkim=pass header.d=kommune.no", from, "", true},
		{"mx; dkim=pass header.d=mail.kommune.no", from, "", true},
		{"mx; dkim=pass header.d=kommune.no", "kari@bydel.kommune.no", "", true},
		{"mx; dkim=pass header.i=@kommune.no", from, "", true},
		{"mx; dkim=pass header.d=evil.org header.i=@kommune.no", from, "", false},
		{"mx; dkim=pass header.d=evil.org", from, env, false},
		{"mx; dkim=pass header.d=no", "kari@no", env, false},
		{"mx; dkim=pass header.d=evilkommune.no", from, env, false},
		{"mx; dkim=fail header.d=kommune.no", from, env, false},
		{"mx; dkim=neutral header.d=kommune.no", from, env, false},
		{"mx; dmarc=pass header.from=kommune.no", from, "", true},
		{"mx; dmarc=pass header.from=evil.org", from, env, false},
		{"mx; dmarc=pass header.from=bydel.kommune.no", from, env, false},
		{"mx; spf=pass smtp.mailfrom=kari@kommune.no", from, env, true},
		{"mx; spf=pass smtp.mailfrom=kommune.no", from, env, true},
		{"mx; spf=pass smtp.mailfrom=bounce@evil.org", from, "bounce@evil.org", false},
		{"mx; spf=pass smtp.mailfrom=kari@kommune.no", from, "kari@evil.org", false},
		{"mx; spf=pass smtp.mailfrom=kari@kommune.no", from, "", false},
		{"mx; spf=softfail smtp.mailfrom=kari@kommune.no", from, env, false},
		{"mx; auth=pass smtp.auth=Kari@Kommune.no", from, "", true},
		{"mx; auth=pass smtp.auth=kari", from, env, false},
		{"mx; none", from, env, false},
	}
	for _, tt := range tests {
		_, rs, _ := parseAuthResults(tt.header)
		if got := vouched(rs, tt.from, tt.envelope); got != tt.want {
			t.Errorf("%q for From %s, envelope %q: %v, want %v", tt.header, tt.from, tt.envelope, got, tt.want)
		}
	}
}

// The parser takes any bytes, a mail server's header or a sender's, and
// what it returns is what the text says: words without separators, lower
// case methods and results, and a pass only where "pass" is written.
func FuzzAuthResults(f *testing.F) {
	for _, s := range []string{
		"example.org 1; none",
		"mx.kommune.no (Rspamd); dkim=pass header.d=kommune.no header.s=sel; dmarc=pass (policy=reject) header.from=kommune.no",
		`example.com; dkim/1=pass (good (nested) signature) header.d=mail-router.example.net; dkim=fail reason="bad \"signature" header.i=@newyork.example.com`,
		`mx; spf=pass smtp.mailfrom="kari nordmann"@kommune.no`,
		"mx; auth=pass smtp.auth=kari@kommune.no",
		`mx; dkim=pass ("unterminated`,
		"(",
		`"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		id, results, ok := parseAuthResults(v)
		if !ok {
			if id != "" || results != nil {
				t.Fatalf("not ok, but %q, %+v", id, results)
			}
			return
		}
		if id == "" {
			t.Fatal("ok with an empty authserv-id")
		}
		for _, r := range results {
			if r.method == "" || r.result == "" || r.method != strings.ToLower(r.method) || r.result != strings.ToLower(r.result) ||
				strings.ContainsAny(r.method, "/= \t;") || strings.ContainsAny(r.result, "= \t;") {
				t.Fatalf("result %+v", r)
			}
			if r.result == "pass" && !strings.Contains(strings.ToLower(v), "pass") {
				t.Fatalf("a pass from nowhere in %q", v)
			}
			for k := range r.props {
				if k != strings.ToLower(k) || !strings.Contains(k, ".") || k == "reason" {
					t.Fatalf("property %q", k)
				}
			}
		}
		// Deciding on the results never panics either.
		vouched(results, "kari@kommune.no", "kari@kommune.no")
	})
}
