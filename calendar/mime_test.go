package calendar

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"strings"
	"testing"
)

func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

func TestFromMessageBareICS(t *testing.T) {
	ics := invite("REQUEST", event()...)
	for _, in := range [][]byte{ics, append([]byte("\xef\xbb\xbf\r\n\r\n"), ics...), bytes.ToLower(ics[:15])} {
		got, err := FromMessage(bytes.NewReader(in))
		if err != nil || !bytes.Equal(got, in) {
			t.Errorf("bare calendar not returned as is: %v", err)
		}
	}
}

func TestFromMessageShapes(t *testing.T) {
	ics := string(invite("REQUEST", event("SUMMARY:Funnet")...))
	b64 := base64.StdEncoding.EncodeToString([]byte(ics))
	cases := map[string]string{
		// The whole message is the calendar, quoted-printable.
		"single part": crlf("Subject: x\nContent-Type: text/calendar; method=REQUEST; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n") +
			strings.ReplaceAll(ics, "UID:", "UID=3A"),
		// Only an .ics attachment (some webmail).
		"attachment only": crlf("Subject: x\nContent-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: text/plain\n\nhello\n--B\nContent-Type: application/octet-stream; name=\"invite.ics\"\nContent-Disposition: attachment; filename=\"invite.ics\"\nContent-Transfer-Encoding: base64\n\n") +
			b64 + crlf("\n--B--\n"),
		// A forwarded invite.
		"forwarded": crlf("Subject: Fwd: x\nContent-Type: multipart/mixed; boundary=O\n\n--O\nContent-Type: text/plain\n\nsee below\n--O\nContent-Type: message/rfc822\n\nSubject: x\nContent-Type: multipart/alternative; boundary=I\n\n--I\nContent-Type: text/plain\n\ninvite\n--I\nContent-Type: text/calendar; charset=utf-8; method=REQUEST\nContent-Transfer-Encoding: base64\n\n") +
			b64 + crlf("\n--I--\n--O--\n"),
		// The text/calendar part wins over an earlier attachment.
		"part after attachment": crlf("Subject: x\nContent-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: application/ics; name=old.ics\n\n") +
			strings.ReplaceAll(ics, "Funnet", "Gammel") + crlf("\n--B\nContent-Type: text/calendar\n\n") + ics + crlf("\n--B--\n"),
		// A broken final boundary after the calendar part.
		"truncated": crlf("Subject: x\nContent-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: text/calendar\n\n") + ics + crlf("\n--B\nContent-Type: text/plain\n\nand then the mail was cut"),
	}
	for name, msg := range cases {
		t.Run(name, func(t *testing.T) {
			req, err := ParseMessage(strings.NewReader(msg), testNow)
			if err != nil {
				t.Fatal(err)
			}
			if s := req.Meetings[0].Summary; s != "Funnet" {
				t.Fatalf("summary %q", s)
			}
		})
	}
}

func TestFromMessageNoCalendar(t *testing.T) {
	msg := crlf("Subject: x\nContent-Type: multipart/alternative; boundary=B\n\n--B\nContent-Type: text/plain\n\nhei\n--B\nContent-Type: text/html\n\n<p>hei</p>\n--B--\n")
	if _, err := FromMessage(strings.NewReader(msg)); !errors.Is(err, ErrNoCalendar) {
		t.Fatalf("%v, want ErrNoCalendar", err)
	}
	if _, err := FromMessage(strings.NewReader("")); err == nil {
		t.Fatal("empty input accepted")
	}
}

func TestFromMessageCharset(t *testing.T) {
	f, err := os.Open("testdata/written/outlook-request-windows1252-qp.eml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cal, err := FromMessage(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Møte om økonomi", "Ærlig talt – vi må", "Åse Ødegård"} {
		if !bytes.Contains(cal, []byte(want)) {
			t.Errorf("%q not in the UTF-8 calendar", want)
		}
	}
}

// Notes sends the calendar twice; the text/calendar part is the one.
func TestFromMessageMethodParameter(t *testing.T) {
	f, err := os.Open("testdata/ics/notes-style-request-missing-vtimezone-nested-multipart.eml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cal, method, err := fromMessage(f)
	if err != nil || method != "REQUEST" || !bytes.HasPrefix(cal, []byte("BEGIN:VCALENDAR")) {
		t.Fatalf("%q %v", method, err)
	}
	msg := crlf("Subject: x\nContent-Type: text/calendar; method=CANCEL\n\n") +
		strings.Replace(string(invite("", event()...)), "METHOD:", "X-NONE:", 1)
	req, err := ParseMessage(strings.NewReader(msg), testNow)
	if err != nil || req.Method != "CANCEL" || req.DeclaredMethod != "" {
		t.Fatalf("%+v %v", req, err)
	}
}

func TestFromMessageLimits(t *testing.T) {
	var b strings.Builder
	b.WriteString(crlf("Subject: x\nContent-Type: multipart/mixed; boundary=B\n\n"))
	for range maxParts + 5 {
		b.WriteString(crlf("--B\nContent-Type: text/html\n\nx\n"))
	}
	b.WriteString(crlf("--B--\n"))
	if _, err := FromMessage(strings.NewReader(b.String())); err == nil {
		t.Error("too many parts accepted")
	}
	big := crlf("Subject: x\nContent-Type: text/calendar\n\nBEGIN:VCALENDAR\n") + strings.Repeat("X-PAD:0123456789\r\n", MaxBytes/16)
	if _, err := FromMessage(strings.NewReader(big)); err == nil {
		t.Error("oversized calendar part accepted")
	}
}
