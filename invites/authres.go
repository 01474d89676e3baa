package invites

import (
	"strings"
)

// authResult is one result of an Authentication-Results header (RFC 8601
// section 2.2): "dkim=pass header.d=example.org" is method dkim, result
// pass and the property header.d.
type authResult struct {
	method, result string            // lower case; the method without its version
	props          map[string]string // "header.d" (lower case) → the value as written
}

// authToken is a lexical item of the header: an atom or quoted string
// (word), or one of the separators '=' and ';'.
type authToken struct {
	sep  byte // '=' or ';'; 0 for a word
	word string
}

// lexAuthResults splits an Authentication-Results value into words and
// separators, dropping white space and comments (nested, with quoted
// pairs). A quoted string is one word without its quotes, joined to an
// "@domain" right after it (a quoted local-part). Unterminated comments
// and quoted strings end at the end of the value.
func lexAuthResults(v string) []authToken {
	var out []authToken
	for i := 0; i < len(v); {
		c := v[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			i++
		case c == '(':
			i = skipComment(v, i)
		case c == ')': // closes no comment: dropped like one
			i++
		case c == '=' || c == ';':
			out = append(out, authToken{sep: c})
			i++
		case c == '"':
			var b strings.Builder
			for i++; i < len(v) && v[i] != '"'; i++ {
				if v[i] == '\\' && i+1 < len(v) {
					i++
				}
				b.WriteByte(v[i])
			}
			i++ // the closing quote
			if i < len(v) && v[i] == '@' {
				j := atomEnd(v, i)
				b.WriteString(v[i:j])
				i = j
			}
			out = append(out, authToken{word: b.String()})
		default:
			j := atomEnd(v, i)
			out = append(out, authToken{word: v[i:j]})
			i = j
		}
	}
	return out
}

// skipComment returns the index after the comment that starts at v[i].
func skipComment(v string, i int) int {
	depth := 0
	for ; i < len(v); i++ {
		switch v[i] {
		case '\\':
			i++
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return i + 1
			}
		}
	}
	return len(v)
}

// atomEnd is the index after the atom that starts at v[i].
func atomEnd(v string, i int) int {
	for ; i < len(v); i++ {
		if strings.IndexByte(" \t\r\n()=;\"", v[i]) >= 0 {
			break
		}
	}
	return i
}

// parseAuthResults reads the value of one Authentication-Results header.
// ok is false when it names no authserv-id. A result that cannot be read
// whole (a method without "=result", a property without a value) is left
// out rather than guessed at: a pass only counts when it is unambiguous.
func parseAuthResults(v string) (authservID string, results []authResult, ok bool) {
	toks := lexAuthResults(v)
	var segs [][]authToken
	start := 0
	for i, t := range toks {
		if t.sep == ';' {
			segs = append(segs, toks[start:i])
			start = i + 1
		}
	}
	segs = append(segs, toks[start:])
	// The first part is the authserv-id with an optional version.
	if len(segs[0]) == 0 || segs[0][0].sep != 0 || segs[0][0].word == "" {
		return "", nil, false
	}
	authservID = segs[0][0].word
	for _, seg := range segs[1:] {
		if r, ok := parseResinfo(seg); ok {
			results = append(results, r)
		}
	}
	return authservID, results, true
}

// parseResinfo reads "method[/version]=result [reason=…] [ptype.property=value]…".
func parseResinfo(seg []authToken) (authResult, bool) {
	pairs, ok := keyValues(seg)
	if !ok || len(pairs) == 0 {
		return authResult{}, false // also "none", the header's "no result"
	}
	method, _, _ := strings.Cut(pairs[0][0], "/")
	r := authResult{method: strings.ToLower(method), result: strings.ToLower(pairs[0][1]), props: map[string]string{}}
	if !keyword(r.method) || !keyword(r.result) {
		return authResult{}, false
	}
	for _, p := range pairs[1:] {
		key := strings.ToLower(p[0])
		switch ptype, prop, dotted := strings.Cut(key, "."); {
		case key == "reason":
		case !dotted || ptype == "" || prop == "":
			return authResult{}, false
		default:
			if _, twice := r.props[key]; twice {
				return authResult{}, false
			}
			r.props[key] = p[1]
		}
	}
	return r, true
}

// keyword says whether s is a Keyword of RFC 8601: letters, digits and
// inner hyphens.
func keyword(s string) bool {
	if s == "" || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// keyValues reads seg as "word = word" pairs; ok is false when it is not
// exactly that.
func keyValues(seg []authToken) (pairs [][2]string, ok bool) {
	for i := 0; i < len(seg); i += 3 {
		if i+2 >= len(seg) || seg[i].sep != 0 || seg[i+1].sep != '=' || seg[i+2].sep != 0 {
			return nil, false
		}
		pairs = append(pairs, [2]string{seg[i].word, seg[i+2].word})
	}
	return pairs, true
}

// headerField is one field of a message header, in the message's order.
type headerField struct{ key, value string }

// trustedResults are the results that the mail server named authservID
// wrote: those of the topmost Authentication-Results field with that
// authserv-id and of the fields with it directly below (a server may add
// one per check). Every other Authentication-Results field is ignored:
// a sender can write any, and only the server's own stand at the top,
// where it prepends them. fields are in the message's order, top first.
func trustedResults(fields []headerField, authservID string) (results []authResult, found bool) {
	for _, f := range fields {
		if !strings.EqualFold(f.key, "Authentication-Results") {
			if found {
				break
			}
			continue
		}
		id, rs, ok := parseAuthResults(f.value)
		if !ok || !strings.EqualFold(id, authservID) {
			if found {
				break
			}
			continue
		}
		found = true
		results = append(results, rs...)
	}
	return results, found
}

// aligned says whether domains a and b are the same or one is a subdomain
// of the other: DMARC's relaxed alignment without the public-suffix list.
// The shorter must have a dot, so a top-level domain aligns with nothing.
func aligned(a, b string) bool {
	a, b = strings.ToLower(strings.TrimSuffix(a, ".")), strings.ToLower(strings.TrimSuffix(b, "."))
	if len(a) > len(b) {
		a, b = b, a
	}
	if a == "" || !strings.Contains(a, ".") {
		return false
	}
	return a == b || strings.HasSuffix(b, "."+a)
}

// domainOf is the domain of an address (after its last @), or the value
// itself when it has none (header.d is a bare domain).
func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[i+1:]
	}
	return addr
}

// vouched says whether results prove that mail whose From is from came
// from from's domain: dmarc=pass for that domain; dkim=pass signed by an
// aligned domain; spf=pass for an aligned envelope domain that is the
// envelope sender's own; or auth=pass by the From address itself (the
// mail server's own submission).
func vouched(results []authResult, from, envelope string) bool {
	domain := domainOf(from)
	for _, r := range results {
		if r.result != "pass" {
			continue
		}
		p := r.props
		switch r.method {
		case "dmarc":
			if hf := p["header.from"]; hf != "" && strings.EqualFold(domainOf(hf), domain) {
				return true
			}
		case "dkim":
			if d := p["header.d"]; d != "" && aligned(d, domain) {
				return true
			}
			if i := p["header.i"]; p["header.d"] == "" && i != "" && aligned(domainOf(i), domain) {
				return true
			}
		case "spf":
			if mf := p["smtp.mailfrom"]; mf != "" && aligned(domainOf(mf), domain) &&
				envelope != "" && strings.EqualFold(domainOf(mf), domainOf(envelope)) {
				return true
			}
		case "auth":
			if a := p["smtp.auth"]; a != "" && strings.EqualFold(a, from) {
				return true
			}
		}
	}
	return false
}
