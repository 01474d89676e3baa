package sdp

import (
	"errors"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"

	psdp "github.com/pion/sdp/v3"

	"brygga/media/codec"
)

var (
	bridgeV4 = netip.MustParseAddr("192.0.2.10")
	bridgeV6 = netip.MustParseAddr("2001:db8::b")
)

func TestRealOffers(t *testing.T) {
	for _, tc := range realOffers {
		t.Run(tc.name, func(t *testing.T) {
			o, err := ParseOffer([]byte(tc.body))
			if tc.parseErr != nil {
				if !errors.Is(err, tc.parseErr) {
					t.Fatalf("ParseOffer: err %v, want %v", err, tc.parseErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseOffer: %v", err)
			}
			checkOffer(t, tc, o)

			ch, err := Negotiate(o, supported)
			if tc.negErr != nil {
				if !errors.Is(err, tc.negErr) {
					t.Fatalf("Negotiate: err %v, want %v", err, tc.negErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Negotiate: %v", err)
			}
			if ch.Codec.Name() != tc.codec || ch.PayloadType != tc.pt || ch.DTMF != tc.dtmf {
				t.Fatalf("chose %s PT %d DTMF %d, want %s PT %d DTMF %d", ch.Codec.Name(), ch.PayloadType, ch.DTMF, tc.codec, tc.pt, tc.dtmf)
			}
			if ch.DTMF != 0 && ch.DTMFRate != ch.Codec.ClockRate() {
				t.Fatalf("DTMF rate %d, codec rate %d", ch.DTMFRate, ch.Codec.ClockRate())
			}

			ours := bridgeV4
			if o.Addr.Is6() {
				ours = bridgeV6
			}
			p := AnswerParams{Offer: o, Choice: ch, Addr: ours, Port: 40000, SessionID: 4711, Version: 1}
			answer, err := BuildAnswer(p)
			if err != nil {
				t.Fatalf("BuildAnswer: %v", err)
			}
			checkAnswer(t, o, p, answer)
		})
	}
}

func checkOffer(t *testing.T, tc realOffer, o *Offer) {
	t.Helper()
	if got := o.Addr.String(); got != tc.addr {
		t.Errorf("Addr %s, want %s", got, tc.addr)
	}
	if o.Port != tc.port {
		t.Errorf("Port %d, want %d", o.Port, tc.port)
	}
	if o.Remote() != netip.AddrPortFrom(netip.MustParseAddr(tc.addr), uint16(tc.port)) {
		t.Errorf("Remote %v", o.Remote())
	}
	if o.Transport != tc.transport {
		t.Errorf("Transport %q, want %q", o.Transport, tc.transport)
	}
	if o.AudioIndex != tc.audioIndex {
		t.Errorf("AudioIndex %d, want %d", o.AudioIndex, tc.audioIndex)
	}
	if o.MediaCount() != tc.media {
		t.Errorf("%d m= lines, want %d", o.MediaCount(), tc.media)
	}
	if o.Direction != tc.dir || o.Hold != tc.hold {
		t.Errorf("Direction %q hold %v, want %q hold %v", o.Direction, o.Hold, tc.dir, tc.hold)
	}
	if o.Ptime != tc.ptime || o.MaxPtime != tc.maxPtime {
		t.Errorf("ptime %d maxptime %d, want %d %d", o.Ptime, o.MaxPtime, tc.ptime, tc.maxPtime)
	}
	if len(o.Formats) != tc.formats {
		t.Errorf("%d formats %+v, want %d", len(o.Formats), o.Formats, tc.formats)
	}
	// Every format named on the m= line must come out, in that order.
	md := o.raw.MediaDescriptions[o.AudioIndex]
	for i, s := range md.MediaName.Formats {
		if i < len(o.Formats) && strconv.Itoa(int(o.Formats[i].PayloadType)) != s {
			t.Errorf("format %d is PT %d, m= line says %s", i, o.Formats[i].PayloadType, s)
		}
	}
}

// checkAnswer reads the answer as the caller's stack would, and holds it to
// RFC 3264 §6.
func checkAnswer(t *testing.T, o *Offer, p AnswerParams, answer []byte) {
	t.Helper()
	var sd psdp.SessionDescription
	if err := sd.Unmarshal(answer); err != nil {
		// pion cannot read the m=image lines that we must echo; the
		// tolerant reader must, and nothing else may fail pion.
		if !strings.Contains(string(answer), "m=image") {
			t.Fatalf("pion cannot read the answer: %v\n%s", err, answer)
		}
		raw, err := unmarshal(string(answer))
		if err != nil {
			t.Fatalf("answer unreadable: %v\n%s", err, answer)
		}
		sd = *raw
	}
	if len(sd.MediaDescriptions) != o.MediaCount() {
		t.Fatalf("answer has %d m= lines, offer %d\n%s", len(sd.MediaDescriptions), o.MediaCount(), answer)
	}
	if sd.Origin.SessionID != p.SessionID || sd.Origin.SessionVersion != p.Version || sd.Origin.Username != DefaultUsername {
		t.Errorf("o= %+v", sd.Origin)
	}
	wantType := "IP4"
	if p.Addr.Is6() {
		wantType = "IP6"
	}
	if c := sd.ConnectionInformation; c == nil || c.AddressType != wantType || c.Address.Address != p.Addr.String() {
		t.Errorf("c= %v, want %s %s", c, wantType, p.Addr)
	}
	if sd.Origin.AddressType != wantType {
		t.Errorf("o= address type %s, want %s", sd.Origin.AddressType, wantType)
	}

	for i, md := range sd.MediaDescriptions {
		off := o.raw.MediaDescriptions[i].MediaName
		if md.MediaName.Media != off.Media || !slices.Equal(md.MediaName.Protos, off.Protos) {
			t.Errorf("m= line %d is %s %v, offer %s %v", i, md.MediaName.Media, md.MediaName.Protos, off.Media, off.Protos)
		}
		if i == o.AudioIndex {
			continue
		}
		if md.MediaName.Port.Value != 0 || !slices.Equal(md.MediaName.Formats, off.Formats[:1]) || len(md.Attributes) != 0 {
			t.Errorf("m= line %d not refused properly: %s", i, md.MediaName)
		}
	}

	audio := sd.MediaDescriptions[o.AudioIndex]
	if audio.MediaName.Port.Value != p.Port {
		t.Errorf("audio port %d, want %d", audio.MediaName.Port.Value, p.Port)
	}
	wantFormats := []string{strconv.Itoa(int(p.Choice.PayloadType))}
	if p.Choice.DTMF != 0 {
		wantFormats = append(wantFormats, strconv.Itoa(int(p.Choice.DTMF)))
	}
	if !slices.Equal(audio.MediaName.Formats, wantFormats) {
		t.Errorf("audio formats %v, want %v", audio.MediaName.Formats, wantFormats)
	}
	wantDir := AnswerDirection(o.Direction)
	if got := direction(audio.Attributes); got != wantDir {
		t.Errorf("answer direction %q, want %q", got, wantDir)
	}
	if v, _ := audio.Attribute("ptime"); v != "20" {
		t.Errorf("a=ptime:%s, want 20", v)
	}

	// The offerer reads our answer with the same rules and must land on
	// the same codec, payload types and direction.
	back, err := ParseOffer(answer)
	if err != nil {
		t.Fatalf("answer does not parse as SDP we accept: %v\n%s", err, answer)
	}
	if back.AudioIndex != o.AudioIndex || back.Port != p.Port || back.Addr != p.Addr || back.Direction != wantDir {
		t.Errorf("answer reads back as index %d %v dir %s", back.AudioIndex, back.Remote(), back.Direction)
	}
	ch, err := Negotiate(back, []codec.Codec{codec.PCMA, codec.PCMU})
	if err != nil {
		t.Fatalf("answer does not negotiate: %v", err)
	}
	if ch != p.Choice {
		t.Errorf("answer negotiates to %+v, want %+v", ch, p.Choice)
	}
	if f, _ := back.Format(ch.DTMF); ch.DTMF != 0 && f.Fmtp != "0-16" {
		t.Errorf("telephone-event fmtp %q", f.Fmtp)
	}
}

func TestAnswerDirection(t *testing.T) {
	for offered, want := range map[Direction]Direction{
		SendRecv: SendRecv, SendOnly: RecvOnly, RecvOnly: SendOnly, Inactive: Inactive, "": SendRecv,
	} {
		if got := AnswerDirection(offered); got != want {
			t.Errorf("AnswerDirection(%q) = %q, want %q", offered, got, want)
		}
	}
}

func mustParse(t *testing.T, body string) *Offer {
	t.Helper()
	o, err := ParseOffer([]byte(body))
	if err != nil {
		t.Fatalf("ParseOffer: %v", err)
	}
	return o
}

func offerNamed(t *testing.T, name string) string {
	t.Helper()
	for _, tc := range realOffers {
		if tc.name == name {
			return tc.body
		}
	}
	t.Fatalf("no offer %q in the table", name)
	return ""
}

func TestNegotiateHonoursOfferOrderNotOurs(t *testing.T) {
	o := mustParse(t, offerNamed(t, "baresip 1.0 default")) // PCMU, PCMA
	for _, ours := range [][]codec.Codec{{codec.PCMU, codec.PCMA}, {codec.PCMA, codec.PCMU}} {
		ch, err := Negotiate(o, ours)
		if err != nil || ch.Codec != codec.PCMU {
			t.Fatalf("with %v chose %v (%v), want PCMU", ours, ch.Codec, err)
		}
	}
	ch, err := Negotiate(o, []codec.Codec{codec.PCMA})
	if err != nil || ch.Codec != codec.PCMA || ch.PayloadType != 8 {
		t.Fatalf("PCMA-only bridge chose %+v (%v)", ch, err)
	}
	if _, err := Negotiate(o, nil); !errors.Is(err, ErrNoCommonCodec) {
		t.Fatalf("no codecs: %v", err)
	}
}

func TestNegotiateTelephoneEventWithoutKeypad(t *testing.T) {
	o := mustParse(t, crlf(`
v=0
o=- 1 1 IN IP4 192.0.2.1
s=-
c=IN IP4 192.0.2.1
t=0 0
m=audio 5004 RTP/AVP 0 101 102
a=rtpmap:101 telephone-event/8000
a=fmtp:101 16
a=rtpmap:102 telephone-event/8000
a=fmtp:102 0-15
`))
	ch, err := Negotiate(o, supported)
	if err != nil || ch.DTMF != 102 {
		t.Fatalf("chose DTMF %d (%v), want 102: 101 carries only flash", ch.DTMF, err)
	}
}

func TestCarriesDigits(t *testing.T) {
	for fmtp, want := range map[string]bool{
		"": true, "0-15": true, "0-16": true, "0-11,16": true, "0-9,10,11": true,
		"16": false, "0-9": false, "0-5,7-11": false, "12-15": false, "weird": true,
	} {
		if got := carriesDigits(fmtp); got != want {
			t.Errorf("carriesDigits(%q) = %v, want %v", fmtp, got, want)
		}
	}
}

func TestReAnswerCarriesNewVersion(t *testing.T) {
	o := mustParse(t, offerNamed(t, "Asterisk 20 chan_pjsip, ulaw first"))
	ch, err := Negotiate(o, supported)
	if err != nil {
		t.Fatal(err)
	}
	p := AnswerParams{Offer: o, Choice: ch, Addr: bridgeV4, Port: 40002, SessionID: 99, Version: 1}
	first, err := BuildAnswer(p)
	if err != nil {
		t.Fatal(err)
	}
	hold := mustParse(t, strings.Replace(offerNamed(t, "Asterisk 20 chan_pjsip, ulaw first"), "a=sendrecv", "a=sendonly", 1))
	p.Offer, p.Version = hold, 2
	second, err := BuildAnswer(p)
	if err != nil {
		t.Fatal(err)
	}
	var a, b psdp.SessionDescription
	if err := a.Unmarshal(first); err != nil {
		t.Fatal(err)
	}
	if err := b.Unmarshal(second); err != nil {
		t.Fatal(err)
	}
	if a.Origin.SessionID != b.Origin.SessionID || b.Origin.SessionVersion != a.Origin.SessionVersion+1 {
		t.Fatalf("o= went from %v to %v", a.Origin, b.Origin)
	}
	if got := direction(b.MediaDescriptions[0].Attributes); got != RecvOnly {
		t.Fatalf("answer to hold says %q, want recvonly", got)
	}
}

func TestBuildAnswerExplicitDirectionAndPtime(t *testing.T) {
	o := mustParse(t, offerNamed(t, "baresip 1.0 default"))
	ch, _ := Negotiate(o, supported)
	answer, err := BuildAnswer(AnswerParams{Offer: o, Choice: ch, Addr: bridgeV4, Port: 40000, Username: "bridge-7", Direction: Inactive, Ptime: 30})
	if err != nil {
		t.Fatal(err)
	}
	back := mustParse(t, string(answer))
	if back.Direction != Inactive || back.Ptime != 30 || back.raw.Origin.Username != "bridge-7" {
		t.Fatalf("answer read back as %s ptime %d user %s", back.Direction, back.Ptime, back.raw.Origin.Username)
	}
}

func TestBuildAnswerRefusesBadParams(t *testing.T) {
	o := mustParse(t, offerNamed(t, "baresip 1.0 default"))
	ch, err := Negotiate(o, supported)
	if err != nil {
		t.Fatal(err)
	}
	good := AnswerParams{Offer: o, Choice: ch, Addr: bridgeV4, Port: 40000, SessionID: 1, Version: 1}
	if _, err := BuildAnswer(good); err != nil {
		t.Fatalf("good params: %v", err)
	}
	for name, mutate := range map[string]func(p *AnswerParams){
		"no offer":                   func(p *AnswerParams) { p.Offer = nil },
		"hand-made offer":            func(p *AnswerParams) { p.Offer = &Offer{Formats: o.Formats} },
		"no codec":                   func(p *AnswerParams) { p.Choice.Codec = nil },
		"PT not offered":             func(p *AnswerParams) { p.Choice.PayloadType = 3 },
		"DTMF PT not offered":        func(p *AnswerParams) { p.Choice.DTMF = 100 },
		"DTMF PT is a codec":         func(p *AnswerParams) { p.Choice.DTMF = 8 },
		"DTMF without rate":          func(p *AnswerParams) { p.Choice.DTMFRate = 0 },
		"port 0":                     func(p *AnswerParams) { p.Port = 0 },
		"port too big":               func(p *AnswerParams) { p.Port = 65536 },
		"no address":                 func(p *AnswerParams) { p.Addr = netip.Addr{} },
		"unspecified address":        func(p *AnswerParams) { p.Addr = netip.IPv4Unspecified() },
		"space in user name":         func(p *AnswerParams) { p.Username = "brygga 2" },
		"line break in user name":    func(p *AnswerParams) { p.Username = "x\r\nm=video" },
		"unknown direction":          func(p *AnswerParams) { p.Direction = "both" },
		"negative ptime":             func(p *AnswerParams) { p.Ptime = -20 },
		"audio index outside offer:": func(p *AnswerParams) { q := *o; q.AudioIndex = 3; p.Offer = &q },
		"SRTP audio stream": func(p *AnswerParams) {
			p.Offer = mustParse(t, offerNamed(t, "SDES-SRTP only (RTP/SAVP): not yet"))
		},
	} {
		p := good
		mutate(&p)
		if b, err := BuildAnswer(p); err == nil {
			t.Errorf("%s: built\n%s", name, b)
		}
	}
}

func TestBuildOffer(t *testing.T) {
	body, err := BuildOffer(bridgeV4, 30000, 7, 1, []codec.Codec{codec.PCMU, codec.PCMA}, 101)
	if err != nil {
		t.Fatal(err)
	}
	var sd psdp.SessionDescription
	if err := sd.Unmarshal(body); err != nil {
		t.Fatalf("pion: %v\n%s", err, body)
	}
	if len(sd.MediaDescriptions) != 1 || !slices.Equal(sd.MediaDescriptions[0].MediaName.Formats, []string{"0", "8", "101"}) {
		t.Fatalf("offer m= lines: %s", body)
	}
	o := mustParse(t, string(body))
	if o.Remote() != netip.MustParseAddrPort("192.0.2.10:30000") || o.Direction != SendRecv || o.Ptime != 20 {
		t.Fatalf("offer reads back as %v %s ptime %d", o.Remote(), o.Direction, o.Ptime)
	}
	// The peer that supports only PCMA answers in our numbering.
	ch, err := Negotiate(o, []codec.Codec{codec.PCMA})
	if err != nil || ch.Codec != codec.PCMA || ch.PayloadType != 8 || ch.DTMF != 101 || ch.DTMFRate != 8000 {
		t.Fatalf("negotiated %+v (%v)", ch, err)
	}

	// Delayed offer: a baresip-like answer in the ACK takes PCMA only.
	answer := crlf(`
v=0
o=- 3961 3962 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=audio 10444 RTP/AVP 8 101
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=sendrecv
a=ptime:20
`)
	ans := mustParse(t, answer)
	ch, err = Negotiate(ans, supported)
	if err != nil || ch.Codec != codec.PCMA || ch.DTMF != 101 || ans.Remote() != netip.MustParseAddrPort("127.0.0.1:10444") {
		t.Fatalf("answer to our offer: %+v %v (%v)", ch, ans.Remote(), err)
	}
}

func TestBuildOfferHoldOnIPv6WithoutDTMF(t *testing.T) {
	body, err := BuildOfferWith(OfferParams{Addr: bridgeV6, Port: 30002, SessionID: 7, Version: 2, Codecs: []codec.Codec{codec.PCMA}, Direction: SendOnly})
	if err != nil {
		t.Fatal(err)
	}
	o := mustParse(t, string(body))
	if o.Addr != bridgeV6 || o.Direction != SendOnly || !o.Hold || len(o.Formats) != 1 {
		t.Fatalf("offer reads back as %v %s hold %v formats %v\n%s", o.Addr, o.Direction, o.Hold, o.Formats, body)
	}
	if !strings.Contains(string(body), "c=IN IP6 2001:db8::b\r\n") {
		t.Fatalf("no IP6 c= line:\n%s", body)
	}
}

func TestBuildOfferRefusesBadParams(t *testing.T) {
	for name, p := range map[string]OfferParams{
		"no codecs":           {Addr: bridgeV4, Port: 30000},
		"nil codec":           {Addr: bridgeV4, Port: 30000, Codecs: []codec.Codec{nil}},
		"codec twice":         {Addr: bridgeV4, Port: 30000, Codecs: []codec.Codec{codec.PCMU, codec.PCMU}},
		"DTMF static PT":      {Addr: bridgeV4, Port: 30000, Codecs: []codec.Codec{codec.PCMU}, DTMF: 8},
		"DTMF PT 128":         {Addr: bridgeV4, Port: 30000, Codecs: []codec.Codec{codec.PCMU}, DTMF: 128},
		"no address":          {Port: 30000, Codecs: []codec.Codec{codec.PCMU}},
		"port 0":              {Addr: bridgeV4, Codecs: []codec.Codec{codec.PCMU}},
		"unknown direction":   {Addr: bridgeV4, Port: 30000, Codecs: []codec.Codec{codec.PCMU}, Direction: "up"},
		"space in user name":  {Addr: bridgeV4, Port: 30000, Codecs: []codec.Codec{codec.PCMU}, Username: "a b"},
		"ptime out of range":  {Addr: bridgeV4, Port: 30000, Codecs: []codec.Codec{codec.PCMU}, Ptime: 5000},
		"unspecified address": {Addr: netip.IPv6Unspecified(), Port: 30000, Codecs: []codec.Codec{codec.PCMU}},
	} {
		if b, err := BuildOfferWith(p); err == nil {
			t.Errorf("%s: built\n%s", name, b)
		}
	}
}

func TestMalformedErrorsSayWhy(t *testing.T) {
	_, err := ParseOffer([]byte(crlf(`
v=0
o=- 1 1 IN IP4 192.0.2.1
s=-
c=IN IP4 pbx.example.com
t=0 0
m=audio 5004 RTP/AVP 0
`)))
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "pbx.example.com") {
		t.Fatalf("error %v does not name the bad address", err)
	}
}

func TestForeignMediaKeepsItsName(t *testing.T) {
	o := mustParse(t, offerNamed(t, "audio and T.38 image in one offer"))
	mn := o.raw.MediaDescriptions[1].MediaName
	if mn.Media != "image" || !slices.Equal(mn.Protos, []string{"udptl"}) || mn.Port.Value != 4002 || !slices.Equal(mn.Formats, []string{"t38"}) {
		t.Fatalf("image line read as %s", mn)
	}
	// Only m= lines are forgiven: a broken line elsewhere still fails.
	bad := strings.Replace(offerNamed(t, "audio and T.38 image in one offer"), "t=0 0", "t=zero", 1)
	if _, err := ParseOffer([]byte(bad)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("broken t= with an image line: %v", err)
	}
}
