package calendar

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"
)

// The pre-pass below runs before go-ical. It exists for two reasons.
//
// Outlook and Exchange write things go-ical reads wrongly or not at all:
// DESCRIPTION text with raw newlines instead of \n (ics-parser issue
// 343), display-name TZIDs with an unquoted colon ("(UTC+01:00) …") or
// unquoted commas (which go-ical splits into several values). The pass
// works on unfolded lines, so it unfolds first, TAB folds (Outlook 2007
// and 2016) included, and it stops at END:VCALENDAR (Thunderbird test
// data has free text after it).
//
// And go-ical panics on some malformed content lines (a character after a
// closing quote, a line ending inside the parameters) and copies parameter
// values byte by byte, quadratic in their length. Checking each line with
// the same grammar and writing it back in a canonical form means go-ical
// only ever sees lines it handles; recovering from its panics would hide
// bugs instead.

const (
	maxDepth      = 8    // VCALENDAR > VEVENT > VALARM is 3
	maxParamValue = 1024 // longer values (Thunderbird's ALTREP data: URLs) are dropped
)

// errNotContentLine is common (every raw text line) and needs no detail.
var errNotContentLine = errors.New("not a content line")

type param struct {
	name   string
	values []string
}

type contentLine struct {
	name   string
	params []param
	value  string
	more   []string // raw lines that continue value, already escaped
}

// normalize rewrites an iCalendar object as one unfolded, validated content
// line per property, from its first BEGIN:VCALENDAR to the matching END.
func normalize(data []byte) ([]byte, error) {
	if len(data) > MaxBytes {
		return nil, fmt.Errorf("calendar: the calendar is larger than %d bytes", MaxBytes)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(data) {
		// Not UTF-8: an Outlook 2003 export saved as ANSI, or a part
		// whose charset label was lost. Windows-1252 is what those are.
		r, err := charset.Reader("windows-1252", bytes.NewReader(data))
		if err == nil {
			if d, err := io.ReadAll(r); err == nil {
				data = d
			}
		}
		data = bytes.ToValidUTF8(data, []byte("\uFFFD"))
	}

	var (
		out      []contentLine
		stack    []string
		started  bool
		lastText bool // the last property holds text, so raw lines may continue it
		blanks   int  // blank lines seen while lastText
	)
	for _, ln := range unfold(data) {
		s := ln.text
		if !started {
			cl, err := parseContentLine(s)
			if err == nil && cl.name == "BEGIN" && strings.EqualFold(cl.value, "VCALENDAR") {
				started = true
				stack = append(stack, "VCALENDAR")
				out = append(out, contentLine{name: "BEGIN", value: "VCALENDAR"})
			}
			continue
		}
		if strings.TrimSpace(s) == "" {
			if lastText {
				blanks++
			}
			continue
		}
		cl, err := parseContentLine(s)
		if lastText && (err != nil || !knownProperty(cl.name)) {
			// A raw newline inside a text value (Exchange writes
			// multi-line descriptions unfolded): keep it as part of
			// the value rather than as a property named "Dear Team,".
			prev := &out[len(out)-1]
			prev.more = append(prev.more, strings.Repeat(`\n`, blanks+1)+strings.ReplaceAll(s, `\`, `\\`))
			blanks = 0
			continue
		}
		blanks = 0
		if err != nil {
			return nil, fmt.Errorf("calendar: line %d: %v", ln.number, err)
		}
		switch cl.name {
		case "BEGIN":
			name := strings.ToUpper(strings.TrimSpace(cl.value))
			if !isName(name) {
				return nil, fmt.Errorf("calendar: line %d: bad component name %q", ln.number, cl.value)
			}
			if len(stack) >= maxDepth {
				return nil, fmt.Errorf("calendar: line %d: components nested too deep", ln.number)
			}
			stack = append(stack, name)
			out = append(out, contentLine{name: "BEGIN", value: name})
			lastText = false
		case "END":
			name := strings.ToUpper(strings.TrimSpace(cl.value))
			if name != stack[len(stack)-1] {
				return nil, fmt.Errorf("calendar: line %d: END:%s where END:%s was expected", ln.number, cl.value, stack[len(stack)-1])
			}
			stack = stack[:len(stack)-1]
			out = append(out, contentLine{name: "END", value: name})
			lastText = false
		default:
			out = append(out, cl)
			lastText = textProperty(cl.name)
		}
		if len(stack) == 0 {
			break // free text after END:VCALENDAR is not ours to read
		}
	}
	if !started {
		return nil, errors.New("calendar: no BEGIN:VCALENDAR found")
	}
	if len(stack) > 0 {
		return nil, fmt.Errorf("calendar: the calendar ends without END:%s", stack[len(stack)-1])
	}

	var b bytes.Buffer
	b.Grow(len(data))
	for _, cl := range out {
		cl.write(&b)
	}
	return b.Bytes(), nil
}

type logicalLine struct {
	number int // of its first physical line, for error messages
	text   string
}

// unfold splits on CRLF, LF or a lone CR and joins folded lines. A fold
// may start with a TAB as well as a space: Outlook 2007 and 2016 write TABs.
func unfold(data []byte) []logicalLine {
	lines := make([]logicalLine, 0, bytes.Count(data, []byte("\n"))+1)
	var cur strings.Builder
	curNo, no := 0, 0
	have := false
	flush := func() {
		if have {
			lines = append(lines, logicalLine{curNo, cur.String()})
			cur.Reset()
			have = false
		}
	}
	for len(data) > 0 {
		no++
		i := bytes.IndexAny(data, "\r\n")
		var line []byte
		if i < 0 {
			line, data = data, nil
		} else {
			line = data[:i]
			if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
				data = data[i+2:]
			} else {
				data = data[i+1:]
			}
		}
		if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
			if have {
				cur.Write(line[1:])
			}
			continue
		}
		flush()
		cur.Write(line)
		curNo, have = no, true
	}
	flush()
	return lines
}

// parseContentLine reads name *(";" param) ":" value, the grammar of RFC
// 5545 section 3.1 with two leniencies Outlook needs: parameters without a
// value are dropped, and an unquoted TZID on a date property may contain
// colons, as display names like "(UTC+01:00) Amsterdam" do.
func parseContentLine(s string) (contentLine, error) {
	var cl contentLine
	i := strings.IndexAny(s, ";:")
	if i <= 0 {
		return cl, errNotContentLine
	}
	cl.name = strings.ToUpper(s[:i])
	if !isName(cl.name) {
		return cl, errNotContentLine
	}
	s = s[i:]
	for len(s) > 0 && s[0] == ';' {
		s = s[1:]
		eq := strings.IndexAny(s, "=;:")
		if eq < 0 {
			return cl, errors.New("line ends inside the parameters")
		}
		if s[eq] != '=' {
			s = s[eq:] // a bare word like vCalendar's ";QUOTED-PRINTABLE"
			continue
		}
		pname := strings.ToUpper(s[:eq])
		if !isName(pname) {
			return cl, fmt.Errorf("bad parameter name %q", s[:eq])
		}
		s = s[eq+1:]
		var values []string
		for {
			var v string
			switch {
			case strings.HasPrefix(s, `"`):
				end := strings.IndexByte(s[1:], '"')
				if end < 0 {
					return cl, errors.New("unterminated quoted parameter value")
				}
				v, s = s[1:1+end], s[2+end:]
			case pname == "TZID" && dateProperty(cl.name):
				// Up to the next parameter, or to the last colon:
				// date values never contain one.
				end := strings.LastIndexByte(s, ':')
				if semi := strings.IndexByte(s, ';'); semi >= 0 && (end < 0 || semi < end) {
					end = semi
				}
				if end < 0 {
					return cl, errors.New("line ends inside the parameters")
				}
				v, s = s[:end], s[end:]
			default:
				end := strings.IndexAny(s, ";:,")
				if end < 0 {
					return cl, errors.New("line ends inside the parameters")
				}
				v, s = s[:end], s[end:]
			}
			values = append(values, strings.ReplaceAll(v, `"`, ""))
			if len(s) == 0 || !strings.ContainsRune(",;:", rune(s[0])) {
				return cl, errors.New("unexpected character after a parameter value")
			}
			if s[0] != ',' {
				break
			}
			s = s[1:]
		}
		long := false
		for _, v := range values {
			long = long || len(v) > maxParamValue
		}
		if !long {
			cl.params = append(cl.params, param{pname, values})
		}
	}
	if len(s) == 0 || s[0] != ':' {
		return cl, errors.New("missing colon")
	}
	cl.value = s[1:]
	return cl, nil
}

// write emits the line in the form go-ical's decoder reads: values that
// hold a separator are quoted, and nothing else needs to be.
func (cl contentLine) write(b *bytes.Buffer) {
	b.WriteString(cl.name)
	for _, p := range cl.params {
		b.WriteByte(';')
		b.WriteString(p.name)
		b.WriteByte('=')
		for i, v := range p.values {
			if i > 0 {
				b.WriteByte(',')
			}
			if strings.ContainsAny(v, ";:,") {
				b.WriteByte('"')
				b.WriteString(v)
				b.WriteByte('"')
			} else {
				b.WriteString(v)
			}
		}
	}
	b.WriteByte(':')
	b.WriteString(cl.value)
	for _, m := range cl.more {
		b.WriteString(m)
	}
	b.WriteString("\r\n")
}

func isName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// knownProperty: the registered names (RFC 5545, 5546, 7986, 9073, 9074)
// and every X- name. Anything else after a text property is taken for a
// raw line of that text.
func knownProperty(name string) bool {
	if strings.HasPrefix(name, "X-") {
		return true
	}
	_, ok := registered[name]
	return ok
}

var registered = map[string]struct{}{}

func init() {
	for _, n := range strings.Fields(`BEGIN END CALSCALE METHOD PRODID VERSION
		ATTACH CATEGORIES CLASS COMMENT DESCRIPTION GEO LOCATION PERCENT-COMPLETE
		PRIORITY RESOURCES STATUS SUMMARY COMPLETED DTEND DUE DTSTART DURATION
		FREEBUSY TRANSP TZID TZNAME TZOFFSETFROM TZOFFSETTO TZURL ATTENDEE CONTACT
		ORGANIZER RECURRENCE-ID RELATED-TO URL UID EXDATE EXRULE RDATE RRULE ACTION
		REPEAT TRIGGER CREATED DTSTAMP LAST-MODIFIED SEQUENCE REQUEST-STATUS
		NAME REFRESH-INTERVAL SOURCE COLOR IMAGE CONFERENCE ACKNOWLEDGED PROXIMITY
		LOCATION-TYPE PARTICIPANT-TYPE CALENDAR-ADDRESS STYLED-DESCRIPTION
		STRUCTURED-DATA RESOURCE-TYPE BUSYTYPE TZUNTIL TZID-ALIAS-OF`) {
		registered[n] = struct{}{}
	}
}

func textProperty(name string) bool {
	switch name {
	case "SUMMARY", "DESCRIPTION", "LOCATION", "COMMENT", "CONTACT", "RESOURCES", "CATEGORIES":
		return true
	}
	return strings.HasPrefix(name, "X-")
}

func dateProperty(name string) bool {
	switch name {
	case "DTSTART", "DTEND", "DUE", "EXDATE", "RDATE", "RECURRENCE-ID":
		return true
	}
	return false
}
