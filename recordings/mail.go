package recordings

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	netmail "net/mail"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	gomail "github.com/wneessen/go-mail"

	"brygga/mailer"
)

// Mail delivers recordings by email (mailto: targets): the WAV attached
// when it is small enough, otherwise a download link.
type Mail struct {
	// URL is the submission server, smtp://[user:pass@]host[:port]
	// (STARTTLS; port 25 by default) or smtps://… (implicit TLS; 465).
	URL string
	// From is the sender, e.g. "Konferanse <brygga@example.org>".
	From string
	// MaxBytes is the largest recording sent as an attachment; larger
	// ones, and all of them when MaxBytes is 0, go as a link.
	MaxBytes int64
	// LinkBase is the bridge's external base URL, e.g.
	// "https://brygga.example.org", for download links.
	LinkBase string
	// TLSConfig verifies the server; nil means the system roots.
	TLSConfig *tls.Config
	// Location is the time zone of the dates and times in the email; nil
	// means time.Local. One zone for the whole bridge rather than one per
	// language: an English-speaking room in Oslo still meets on Oslo time,
	// and the zone the bridge runs in is the best guess at its users'.
	Location *time.Location
	// Now stamps the Date header; nil means time.Now.
	Now func() time.Time
}

// Deliver sends m to the address of its mailto: target. Unparseable
// targets, a recording file that is gone, and a 5xx answer to RCPT TO are
// permanent; anything else (4xx, network trouble, a misconfigured server
// or sender that fixing the configuration will mend) is retried.
func (ml Mail) Deliver(ctx context.Context, m Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	rcpt, err := mailRecipient(m.Target)
	if err != nil {
		return Permanent(err)
	}
	srv := mailer.Server{URL: ml.URL, TLSConfig: ml.TLSConfig}
	if err := srv.Check(); err != nil {
		return err
	}
	from, err := netmail.ParseAddress(ml.From)
	if err != nil {
		return fmt.Errorf("mail: bad sender %q: %w", ml.From, err)
	}

	msg := gomail.NewMsg()
	msg.FromMailAddress(from)
	msg.ToMailAddress(rcpt)
	msg.SetMessageIDWithValue(mailMessageID(m.ID, from.Address))
	// Keeps vacation responders from answering a robot (RFC 3834).
	msg.SetGenHeader(gomail.Header("Auto-Submitted"), "auto-generated")
	msg.SetUserAgent("brygga")

	loc := ml.Location
	if loc == nil {
		loc = time.Local
	}
	now := time.Now
	if ml.Now != nil {
		now = ml.Now
	}
	msg.SetDateWithValue(now().In(loc))
	txt := mailTextsFor(m.Language)
	msg.SetGenHeader(gomail.HeaderContentLang, txt.tag)
	msg.Subject(txt.subject(m, loc))

	attach := ml.MaxBytes > 0 && m.Size <= ml.MaxBytes
	var link string
	timeout := mailer.Timeout(0)
	if attach {
		f, err := os.Open(m.Path)
		if errors.Is(err, fs.ErrNotExist) {
			return Permanent(fmt.Errorf("mail: recording %s: %w", m.ID, err))
		}
		if err != nil {
			return fmt.Errorf("mail: recording %s: %w", m.ID, err)
		}
		defer f.Close()
		name := mailFileName(m, loc)
		msg.AttachReadSeeker(name, f, gomail.WithFileContentType("audio/wav"))
		timeout = mailer.Timeout(m.Size)
	} else {
		if ml.LinkBase == "" {
			return fmt.Errorf("mail: recording %s is %d bytes, over the attachment limit (%d), and no link base is configured",
				m.ID, m.Size, ml.MaxBytes)
		}
		link = strings.TrimRight(ml.LinkBase, "/") + "/api/v1/recordings/" + url.PathEscape(m.ID) + "/audio"
	}
	msg.SetBodyString(gomail.TypeTextPlain, txt.body(m, loc, attach, ml.MaxBytes > 0, link))

	err = srv.Send(ctx, msg, timeout)
	var rej *mailer.RejectedError
	if errors.As(err, &rej) {
		return Permanent(err)
	}
	return err
}

// mailRecipient takes exactly one address: one delivery is one mailbox,
// so that a refused recipient fails only its own delivery.
func mailRecipient(target string) (*netmail.Address, error) {
	u, err := url.Parse(target)
	if err != nil || u.Scheme != "mailto" || u.Opaque == "" {
		return nil, fmt.Errorf("mail: target %q is not a mailto: address", target)
	}
	addr, err := url.PathUnescape(u.Opaque)
	if err != nil {
		return nil, fmt.Errorf("mail: target %q: %w", target, err)
	}
	list, err := netmail.ParseAddressList(addr)
	if err != nil {
		return nil, fmt.Errorf("mail: target %q: %w", target, err)
	}
	if len(list) != 1 {
		return nil, fmt.Errorf("mail: target %q must hold exactly one address", target)
	}
	return list[0], nil
}

// mailMessageID is the same on every attempt, so that a message resent
// after an ambiguous failure (the connection lost after the final dot)
// can be recognised as a duplicate by the mail system.
func mailMessageID(id, fromAddr string) string {
	domain := "localhost"
	if i := strings.LastIndexByte(fromAddr, '@'); i >= 0 && i+1 < len(fromAddr) {
		domain = fromAddr[i+1:]
	}
	return "brygga.recording." + mailSafe(id, '.') + "@" + domain
}

// mailSafe keeps letters, digits and '-' and replaces the rest, for
// strings that end up in file names and Message-IDs.
func mailSafe(s string, repl rune) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-':
			return r
		}
		return repl
	}, s)
}

// mailFileName names the attachment after the room and start, so that
// saved recordings sort and say what they are: brygga-4711-20261122-1400.wav.
func mailFileName(m Message, loc *time.Location) string {
	return "brygga-" + mailSafe(m.Room, '_') + "-" + m.Started.In(loc).Format("20060102-1504") + ".wav"
}

// mailTexts is one language's wording.
type mailTexts struct {
	tag                             string // Content-Language
	subjectFmt                      string // room, date
	introFmt                        string // room
	room, owner, date, time, length string
	lengthUnit                      string
	attachedFmt                     string // file name
	tooLargeFmt                     string // size
	download                        string
	access                          string
	footer                          string
	clock                           func(start, end time.Time) string
	day                             func(t time.Time, weekday bool) string
	decimalComma                    bool
}

var mailLanguages = map[string]*mailTexts{
	"en": {
		tag:         "en",
		subjectFmt:  "Recording of the conference call in room %s, %s",
		introFmt:    "Here is the recording of the conference call in room %s.",
		room:        "Room",
		owner:       "Owner",
		date:        "Date",
		time:        "Time",
		length:      "Length",
		lengthUnit:  "(minutes:seconds)",
		attachedFmt: "The recording is attached as an audio file: %s",
		tooLargeFmt: "The recording (%s) is too large to send by email. You can download it here:",
		download:    "You can download the recording here:",
		access: "Downloading requires an operator token, so ask an operator if the link does not work for you. " +
			"The recording is kept for as long as the retention policy allows and is then deleted.",
		footer: "This message was sent automatically by the conference system.",
		clock: func(s, e time.Time) string {
			return s.Format("15:04") + "–" + e.Format("15:04") + " " + s.Format("MST")
		},
		day: func(t time.Time, weekday bool) string {
			d := fmt.Sprintf("%d %s %d", t.Day(), t.Month(), t.Year())
			if weekday {
				d = t.Weekday().String() + " " + d
			}
			return d
		},
	},
	"nb": {
		tag:         "nb",
		subjectFmt:  "Opptak av telefonmøtet i rom %s, %s",
		introFmt:    "Her er opptaket av telefonmøtet i rom %s.",
		room:        "Rom",
		owner:       "Eier",
		date:        "Dato",
		time:        "Tid",
		length:      "Varighet",
		lengthUnit:  "(minutter:sekunder)",
		attachedFmt: "Opptaket er vedlagt som lydfil: %s",
		tooLargeFmt: "Opptaket (%s) er for stort til å sendes på e-post. Du kan laste det ned her:",
		download:    "Du kan laste ned opptaket her:",
		access: "Nedlastingen krever et operatørtoken, så spør en operatør hvis lenken ikke virker for deg. " +
			"Opptaket oppbevares i henhold til gjeldende regler for lagring og slettes deretter.",
		footer: "Denne meldingen er sendt automatisk fra konferansesystemet.",
		clock: func(s, e time.Time) string {
			return "kl. " + s.Format("15.04") + "–" + e.Format("15.04") + " (" + s.Format("MST") + ")"
		},
		day: mailNordicDay(
			[7]string{"søndag", "mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag"},
			[12]string{"januar", "februar", "mars", "april", "mai", "juni", "juli",
				"august", "september", "oktober", "november", "desember"},
			"."),
		decimalComma: true,
	},
	"sv": {
		tag:         "sv",
		subjectFmt:  "Inspelning av telefonmötet i rum %s, %s",
		introFmt:    "Här är inspelningen av telefonmötet i rum %s.",
		room:        "Rum",
		owner:       "Ägare",
		date:        "Datum",
		time:        "Tid",
		length:      "Längd",
		lengthUnit:  "(minuter:sekunder)",
		attachedFmt: "Inspelningen är bifogad som ljudfil: %s",
		tooLargeFmt: "Inspelningen (%s) är för stor för att skickas med e-post. Du kan ladda ned den här:",
		download:    "Du kan ladda ned inspelningen här:",
		access: "Nedladdningen kräver en operatörstoken, så be en operatör om hjälp om länken inte fungerar för dig. " +
			"Inspelningen sparas enligt gällande regler för lagring och raderas därefter.",
		footer: "Det här meddelandet skickades automatiskt från konferenssystemet.",
		clock: func(s, e time.Time) string {
			return "kl. " + s.Format("15.04") + "–" + e.Format("15.04") + " (" + s.Format("MST") + ")"
		},
		day: mailNordicDay(
			[7]string{"söndag", "måndag", "tisdag", "onsdag", "torsdag", "fredag", "lördag"},
			[12]string{"januari", "februari", "mars", "april", "maj", "juni", "juli",
				"augusti", "september", "oktober", "november", "december"},
			""),
		decimalComma: true,
	},
}

// mailNordicDay writes "søndag 22. november 2026" (nb, dot after the
// day) or "söndag 22 november 2026" (sv).
func mailNordicDay(weekdays [7]string, months [12]string, dot string) func(time.Time, bool) string {
	return func(t time.Time, weekday bool) string {
		d := fmt.Sprintf("%d%s %s %d", t.Day(), dot, months[t.Month()-1], t.Year())
		if weekday {
			d = weekdays[t.Weekday()] + " " + d
		}
		return d
	}
}

func mailTextsFor(lang string) *mailTexts {
	if t, ok := mailLanguages[strings.ToLower(lang)]; ok {
		return t
	}
	return mailLanguages["en"]
}

func (t *mailTexts) subject(m Message, loc *time.Location) string {
	return fmt.Sprintf(t.subjectFmt, m.Room, t.day(m.Started.In(loc), false))
}

func (t *mailTexts) body(m Message, loc *time.Location, attached, limited bool, link string) string {
	start := m.Started.In(loc)
	end := m.Ended
	if end.IsZero() {
		end = m.Started.Add(m.Length)
	}
	end = end.In(loc)

	rows := [][2]string{{t.room, m.Room}}
	if m.Owner != "" {
		rows = append(rows, [2]string{t.owner, m.Owner})
	}
	rows = append(rows,
		[2]string{t.date, t.day(start, true)},
		[2]string{t.time, t.clock(start, end)},
		[2]string{t.length, mailMinSec(m.Length) + " " + t.lengthUnit},
	)
	width := 0
	for _, r := range rows {
		width = max(width, utf8.RuneCountInString(r[0]))
	}

	var b strings.Builder
	fmt.Fprintf(&b, t.introFmt+"\n\n", m.Room)
	for _, r := range rows {
		pad := width - utf8.RuneCountInString(r[0])
		fmt.Fprintf(&b, "%s:%s %s\n", r[0], strings.Repeat(" ", pad), r[1])
	}
	b.WriteString("\n")
	switch {
	case attached:
		fmt.Fprintf(&b, t.attachedFmt+"\n", mailFileName(m, loc))
	default:
		if limited {
			fmt.Fprintf(&b, t.tooLargeFmt+"\n\n", t.megabytes(m.Size))
		} else {
			b.WriteString(t.download + "\n\n")
		}
		b.WriteString(link + "\n\n")
		b.WriteString(t.access + "\n")
	}
	b.WriteString("\n-- \n" + t.footer + "\n")
	return b.String()
}

func (t *mailTexts) megabytes(n int64) string {
	s := strconv.FormatFloat(float64(n)/1e6, 'f', 1, 64)
	if t.decimalComma {
		s = strings.Replace(s, ".", ",", 1)
	}
	return s + " MB"
}

// mailMinSec writes 44:30; a meeting of over an hour is 75:12, not
// 1:15:12, as the text says minutes:seconds.
func mailMinSec(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}
