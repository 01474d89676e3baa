package sdp

import (
	"bytes"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	psdp "github.com/pion/sdp/v3"
)

// ParseOffer reads an SDP offer (or answer) and finds the audio stream to
// use: the first audio m= line with a non-zero port that is SRTP keyed by
// SDES (RTP/SAVP or RTP/SAVPF with an a=crypto we can use), else the first
// on RTP/AVP or RTP/AVPF. When the only audio is on a transport we lack
// (DTLS-SRTP's UDP/TLS/RTP/SAVPF, SAVP without a usable key) that line is
// described anyway and Negotiate refuses it with ErrNoCommonCodec.
//
// Errors: ErrNoOffer for an empty body, ErrMalformed (wrapped, with the
// reason) for anything unreadable, ErrNoAudio when no audio stream is on
// offer.
func ParseOffer(body []byte) (*Offer, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, ErrNoOffer
	}
	sd, err := unmarshal(string(body))
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrMalformed, strings.TrimPrefix(err.Error(), "sdp: "))
	}
	return describe(sd)
}

func describe(sd *psdp.SessionDescription) (*Offer, error) {
	idx := chooseAudio(sd)
	if idx < 0 {
		return nil, ErrNoAudio
	}
	md := sd.MediaDescriptions[idx]
	o := &Offer{
		Port:       md.MediaName.Port.Value,
		Transport:  strings.Join(md.MediaName.Protos, "/"),
		AudioIndex: idx,
		raw:        sd,
	}
	if secureRTP(md.MediaName.Protos) {
		o.Crypto = cryptos(md)
	}

	ci := md.ConnectionInformation
	if ci == nil {
		ci = sd.ConnectionInformation
	}
	addr, err := connectionAddr(ci)
	if err != nil {
		return nil, err
	}
	o.Addr = addr

	if o.Formats, err = formats(md); err != nil {
		return nil, err
	}

	o.Direction = direction(md.Attributes)
	if o.Direction == "" {
		o.Direction = direction(sd.Attributes)
	}
	if o.Direction == "" {
		o.Direction = SendRecv
	}
	// RFC 2543 hold: c=0.0.0.0 says "send me nothing" whatever a= says
	// (RFC 3264 §8.4); fold it into the direction so callers need one test.
	if addr.IsUnspecified() {
		switch o.Direction {
		case SendRecv:
			o.Direction = SendOnly
		case RecvOnly:
			o.Direction = Inactive
		}
	}
	o.Hold = !o.Direction.Receives()

	o.Ptime = millis(md, sd, "ptime")
	o.MaxPtime = millis(md, sd, "maxptime")
	return o, nil
}

// chooseAudio returns the index of the audio m= line to use, or -1.
func chooseAudio(sd *psdp.SessionDescription) int {
	plain, fallback := -1, -1
	for i, md := range sd.MediaDescriptions {
		if md.MediaName.Media != "audio" || md.MediaName.Port.Value == 0 || !isRTP(md.MediaName.Protos) {
			continue
		}
		switch {
		case secureRTP(md.MediaName.Protos) && len(cryptos(md)) > 0:
			return i
		case plainRTP(md.MediaName.Protos):
			if plain < 0 {
				plain = i
			}
		case fallback < 0:
			fallback = i
		}
	}
	if plain >= 0 {
		return plain
	}
	return fallback
}

func isRTP(protos []string) bool {
	for _, p := range protos {
		if p == "RTP" {
			return true
		}
	}
	return false
}

// plainRTP reports whether we can carry the stream: RTP over UDP without
// SRTP. AVPF only adds RTCP feedback, which an AVP endpoint may ignore.
func plainRTP(protos []string) bool {
	return len(protos) == 2 && protos[0] == "RTP" && (protos[1] == "AVP" || protos[1] == "AVPF")
}

func connectionAddr(ci *psdp.ConnectionInformation) (netip.Addr, error) {
	if ci == nil || ci.Address == nil {
		return netip.Addr{}, fmt.Errorf("%w: no connection address for the audio stream", ErrMalformed)
	}
	s := ci.Address.Address
	// Multicast addresses carry /ttl and /count; only the address matters.
	if i := strings.IndexByte(s, '/'); i >= 0 {
		s = s[:i]
	}
	addr, err := netip.ParseAddr(s)
	if err != nil {
		// RFC 4566 allows a host name here; resolving it is the caller's
		// business, not a pure parser's, and no phone we know sends one.
		return netip.Addr{}, fmt.Errorf("%w: connection address %q is not an IP address", ErrMalformed, s)
	}
	addr = addr.WithZone("")
	switch {
	case ci.AddressType == "IP4" && !addr.Is4():
		return netip.Addr{}, fmt.Errorf("%w: %q is not an IP4 address", ErrMalformed, s)
	case ci.AddressType == "IP6" && addr.Is4():
		return netip.Addr{}, fmt.Errorf("%w: %q is not an IP6 address", ErrMalformed, s)
	}
	return addr.Unmap(), nil
}

func formats(md *psdp.MediaDescription) ([]Format, error) {
	fs := make([]Format, 0, len(md.MediaName.Formats))
	for _, s := range md.MediaName.Formats {
		pt, err := payloadType(s)
		if err != nil {
			return nil, err
		}
		if _, dup := find(fs, pt); dup {
			continue
		}
		f := Format{PayloadType: pt}
		if st, ok := staticAudio[pt]; ok {
			f.Name, f.Rate, f.Channels = st.name, st.rate, st.channels
		}
		fs = append(fs, f)
	}

	mapped := make(map[uint8]bool, len(fs))
	for _, a := range md.Attributes {
		switch a.Key {
		case "rtpmap":
			ptText, rest, _ := strings.Cut(strings.TrimSpace(a.Value), " ")
			pt, err := payloadType(ptText)
			if err != nil {
				return nil, err
			}
			i, listed := find(fs, pt)
			if !listed || mapped[pt] {
				continue
			}
			name, rate, channels, err := rtpmap(rest)
			if err != nil {
				return nil, fmt.Errorf("%w: a=rtpmap:%s: %v", ErrMalformed, a.Value, err)
			}
			fs[i].Name, fs[i].Rate, fs[i].Channels = name, rate, channels
			mapped[pt] = true
		case "fmtp":
			// Lenient on purpose: fmtp only informs, it never decides which
			// codec we pick, so a broken one is no reason to refuse a call.
			ptText, params, _ := strings.Cut(strings.TrimSpace(a.Value), " ")
			pt, err := payloadType(ptText)
			if err != nil {
				continue
			}
			if i, listed := find(fs, pt); listed && fs[i].Fmtp == "" {
				fs[i].Fmtp = strings.TrimSpace(params)
			}
		}
	}
	return fs, nil
}

func find(fs []Format, pt uint8) (int, bool) {
	for i := range fs {
		if fs[i].PayloadType == pt {
			return i, true
		}
	}
	return -1, false
}

// payloadType reads an RTP payload type, which is 7 bits (RFC 3550 §5.1).
func payloadType(s string) (uint8, error) {
	n, err := strconv.ParseUint(s, 10, 8)
	if err != nil || n > 127 {
		return 0, fmt.Errorf("%w: payload type %q", ErrMalformed, s)
	}
	return uint8(n), nil
}

// rtpmap reads "<encoding name>/<clock rate>[/<channels>]".
func rtpmap(s string) (name string, rate, channels int, err error) {
	parts := strings.Split(strings.TrimSpace(s), "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" {
		return "", 0, 0, fmt.Errorf("want name/rate[/channels]")
	}
	if rate, err = strconv.Atoi(parts[1]); err != nil || rate <= 0 {
		return "", 0, 0, fmt.Errorf("bad clock rate %q", parts[1])
	}
	if len(parts) == 3 {
		if channels, err = strconv.Atoi(parts[2]); err != nil || channels <= 0 {
			return "", 0, 0, fmt.Errorf("bad channel count %q", parts[2])
		}
	}
	return parts[0], rate, channels, nil
}

func direction(attrs []psdp.Attribute) Direction {
	for _, a := range attrs {
		if d := Direction(a.Key); d.Valid() {
			return d
		}
	}
	return ""
}

// millis reads a ptime-like attribute, media level first. Values that are
// not a plausible packet time read as 0 (absent) rather than failing the
// call: some phones write "20.0", and nothing here depends on it.
func millis(md *psdp.MediaDescription, sd *psdp.SessionDescription, key string) int {
	v, ok := md.Attribute(key)
	if !ok {
		if v, ok = sd.Attribute(key); !ok {
			return 0
		}
	}
	v, _, _ = strings.Cut(strings.TrimSpace(v), ".")
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 || n > 1000 {
		return 0
	}
	return n
}

// unmarshal parses with pion, with two allowances for what real SIP peers
// send and pion refuses.
func unmarshal(text string) (*psdp.SessionDescription, error) {
	// pion needs the last line terminated; SIP stacks that trim bodies (or
	// miscount Content-Length by the final CRLF) drop it.
	if !strings.HasSuffix(text, "\n") {
		text += "\r\n"
	}
	sd := new(psdp.SessionDescription)
	err := sd.UnmarshalString(text)
	if err == nil {
		return sd, nil
	}
	// pion only knows the media types and transports that WebRTC uses; a
	// fax gateway's "m=image 0 udptl t38" (e.g. a T.38 re-INVITE) would make
	// the whole offer unreadable, yet RFC 3264 wants such a stream refused
	// with port 0, not the call failed with 400. Parse those m= lines as a
	// placeholder and put the original names back afterwards.
	masked, foreign, count := maskForeignMedia(text)
	if len(foreign) == 0 {
		return nil, err
	}
	sd = new(psdp.SessionDescription)
	if sd.UnmarshalString(masked) != nil || len(sd.MediaDescriptions) != count {
		// The line count differs from pion's view: do not guess.
		return nil, err
	}
	for i, mn := range foreign {
		got := &sd.MediaDescriptions[i].MediaName
		if got.Media != placeholderMedia || len(got.Protos) != 1 || got.Protos[0] != placeholderProto {
			return nil, err
		}
		got.Media, got.Protos = mn.Media, mn.Protos
	}
	return sd, nil
}

const (
	placeholderMedia = "application"
	placeholderProto = "UDP"
)

// pion v3.0.16's lists (unmarshalMediaDescription); an m= line using
// anything else fails to parse.
var (
	pionMedia  = []string{"audio", "video", "text", "application", "message"}
	pionProtos = []string{"UDP", "RTP", "AVP", "SAVP", "SAVPF", "TLS", "DTLS", "SCTP", "AVPF", "TCP", "MSRP", "BFCP", "UDT", "IX", "MRCPv2"}
)

func knownToPion(media, proto string) bool {
	if !slices.Contains(pionMedia, media) {
		return false
	}
	for _, p := range strings.Split(proto, "/") {
		if !slices.Contains(pionProtos, p) {
			return false
		}
	}
	return true
}

// maskForeignMedia rewrites m= lines pion cannot read into the placeholder
// and returns what they said, keyed by m= line index, and the number of m=
// lines.
func maskForeignMedia(text string) (string, map[int]psdp.MediaName, int) {
	lines := strings.SplitAfter(text, "\n")
	foreign := map[int]psdp.MediaName{}
	index := 0
	for i, line := range lines {
		body, ok := strings.CutPrefix(line, "m=")
		if !ok {
			continue
		}
		fields := strings.Fields(body)
		if len(fields) >= 3 && !knownToPion(fields[0], fields[2]) {
			foreign[index] = psdp.MediaName{Media: fields[0], Protos: strings.Split(fields[2], "/")}
			masked := append([]string{placeholderMedia, fields[1], placeholderProto}, fields[3:]...)
			lines[i] = "m=" + strings.Join(masked, " ") + "\r\n"
		}
		index++
	}
	return strings.Join(lines, ""), foreign, index
}
