package calendar

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // windows-1252, iso-8859-1, windows-1257 … to UTF-8
)

// ErrNoCalendar is returned by FromMessage for a message without an
// iCalendar part.
var ErrNoCalendar = errors.New("calendar: no text/calendar part in the message")

// maxParts bounds the MIME parts walked and maxNesting their depth; an
// Outlook invite has three to six parts, two levels deep.
const (
	maxParts   = 200
	maxNesting = 8
)

// FromMessage returns the iCalendar object of an e-mail: its first
// text/calendar part, wherever Outlook, Exchange, Google, Thunderbird or
// Notes put it (inline, in multipart/alternative under mixed or related,
// inside a forwarded message/rfc822), transfer encoding removed and
// charset converted to UTF-8. Without a text/calendar part, an .ics
// attachment (application/ics, or any part named *.ics) is taken. A bare
// .ics file is returned as it is.
func FromMessage(r io.Reader) ([]byte, error) {
	cal, _, err := fromMessage(r)
	return cal, err
}

// ParseMessage is FromMessage then Parse. The part's method parameter
// stands in for a METHOD the calendar itself leaves out.
func ParseMessage(r io.Reader, now time.Time) (*Request, error) {
	cal, method, err := fromMessage(r)
	if err != nil {
		return nil, err
	}
	return parse(cal, now, method)
}

// fromMessage also returns the method parameter of the part's
// Content-Type (iMIP, RFC 6047 section 2.4).
func fromMessage(r io.Reader) ([]byte, string, error) {
	br := bufio.NewReader(io.LimitReader(r, MaxMessage))
	if head, _ := br.Peek(1024); looksLikeCalendar(head) {
		cal, err := readLimited(br)
		return cal, "", err
	}
	e, err := message.Read(br)
	if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
		return nil, "", fmt.Errorf("calendar: reading the message: %w", err)
	}
	w := walker{}
	if err := w.walk(e, 0); err != nil && w.found == nil && w.fallback == nil {
		return nil, "", err
	}
	switch {
	case w.found != nil:
		return w.found, w.method, nil
	case w.fallback != nil:
		return w.fallback, "", nil
	}
	return nil, "", ErrNoCalendar
}

type walker struct {
	found    []byte // the first text/calendar part
	method   string
	fallback []byte // the first .ics attachment
	parts    int
}

var errFound = errors.New("found")

func (w *walker) walk(e *message.Entity, depth int) error {
	w.parts++
	if w.parts > maxParts || depth > maxNesting {
		return fmt.Errorf("calendar: message has too many parts")
	}
	mediaType, params, _ := e.Header.ContentType()
	_, dparams, _ := e.Header.ContentDisposition()
	name := strings.ToLower(dparams["filename"] + params["name"])

	switch {
	case strings.HasPrefix(mediaType, "multipart/"):
		mr := e.MultipartReader()
		if mr == nil {
			return nil
		}
		for {
			part, err := mr.NextPart()
			if err == io.EOF {
				return nil
			}
			if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
				// A broken boundary ends the walk; what was found
				// before it still counts.
				return fmt.Errorf("calendar: reading the message: %w", err)
			}
			if err := w.walk(part, depth+1); err != nil {
				return err
			}
		}
	case mediaType == "message/rfc822":
		inner, err := message.Read(e.Body)
		if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
			return nil // a forwarded message we cannot read is not the invite
		}
		return w.walk(inner, depth+1)
	case mediaType == "text/calendar":
		body, err := readLimited(e.Body)
		if err != nil {
			return err
		}
		w.found, w.method = body, params["method"]
		return errFound
	case w.fallback == nil && (mediaType == "application/ics" || strings.HasSuffix(name, ".ics") ||
		mediaType == "text/plain" || mediaType == ""):
		body, err := readLimited(e.Body)
		if err != nil {
			return err
		}
		// A text part is only an invite if it is one: Notes repeats
		// the calendar as a text/plain .ics attachment.
		if mediaType == "application/ics" || strings.HasSuffix(name, ".ics") || looksLikeCalendar(body) {
			w.fallback = body
		}
	}
	return nil
}

func readLimited(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("calendar: reading the calendar part: %w", err)
	}
	if len(b) > MaxBytes {
		return nil, fmt.Errorf("calendar: the calendar part is larger than %d bytes", MaxBytes)
	}
	return b, nil
}

// looksLikeCalendar: BEGIN:VCALENDAR first, after a BOM and blank lines.
func looksLikeCalendar(b []byte) bool {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	b = bytes.TrimLeft(b, " \t\r\n")
	const begin = "BEGIN:VCALENDAR"
	return len(b) >= len(begin) && strings.EqualFold(string(b[:len(begin)]), begin)
}
