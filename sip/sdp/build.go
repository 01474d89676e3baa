package sdp

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"

	psdp "github.com/pion/sdp/v3"

	"brygga/media/codec"
)

// DefaultUsername is the o= user name when none is given.
const DefaultUsername = "brygga"

// DefaultPtime is the packet time we ask for: the mixer's 20 ms frame.
const DefaultPtime = 20

// dtmfEvents is what we receive as telephone-events: the 16 keypad events
// and flash (RFC 4733 §3.2), as most PBXs advertise.
const dtmfEvents = "0-16"

// AnswerParams is everything BuildAnswer needs.
type AnswerParams struct {
	Offer     *Offer
	Choice    Choice
	Addr      netip.Addr // our RTP address, put in o= and c=
	Port      int        // our RTP port
	SessionID uint64
	Version   uint64    // o= session version: the caller increments it for every changed answer in the dialog
	Username  string    // o= user name; DefaultUsername when empty
	Direction Direction // our direction; AnswerDirection(Offer.Direction) when empty
	Ptime     int       // a=ptime; DefaultPtime when 0
	// Crypto is our SDES key, required when Choice.SRTP is set: the
	// answer's a=crypto line (same tag and suite as the chosen offer).
	Crypto *Crypto
}

// AnswerDirection is the direction that answers offered (RFC 3264 §6.1):
// we send what they receive and receive what they send.
func AnswerDirection(offered Direction) Direction {
	switch offered {
	case SendOnly:
		return RecvOnly
	case RecvOnly:
		return SendOnly
	case Inactive:
		return Inactive
	}
	return SendRecv
}

// BuildAnswer builds the SDP answer: one m= line for every m= line of the
// offer, in order (RFC 3264 §6). The chosen audio stream carries exactly the
// chosen codec and, when negotiated, telephone-event; every other stream
// (video, a second audio, SRTP, fax) is refused with port 0 and its first
// format.
func BuildAnswer(p AnswerParams) ([]byte, error) {
	o := p.Offer
	if o == nil || o.raw == nil {
		return nil, errors.New("sdp: answer needs an offer from ParseOffer")
	}
	if o.AudioIndex < 0 || o.AudioIndex >= len(o.raw.MediaDescriptions) {
		return nil, fmt.Errorf("sdp: audio index %d outside the offer's %d m= lines", o.AudioIndex, len(o.raw.MediaDescriptions))
	}
	ch := p.Choice
	if ch.Codec == nil {
		return nil, errors.New("sdp: answer without a codec")
	}
	if _, ok := o.Format(ch.PayloadType); !ok {
		return nil, fmt.Errorf("sdp: payload type %d was not offered", ch.PayloadType)
	}
	if ch.DTMF != 0 {
		if f, ok := o.Format(ch.DTMF); !ok || ch.DTMF == ch.PayloadType || !strings.EqualFold(f.Name, telephoneEvent) {
			return nil, fmt.Errorf("sdp: payload type %d was not offered as telephone-event", ch.DTMF)
		}
	}
	dir := p.Direction
	if dir == "" {
		dir = AnswerDirection(o.Direction)
	}

	sd, err := session(p.Username, p.SessionID, p.Version, p.Addr)
	if err != nil {
		return nil, err
	}
	offered := o.raw.MediaDescriptions[o.AudioIndex].MediaName.Protos
	switch {
	case plainRTP(offered) && ch.SRTP == nil:
	case secureRTP(offered) && ch.SRTP != nil:
		// Answering RTP/SAVP without our key would promise SRTP nobody
		// can decrypt.
		if p.Crypto == nil || p.Crypto.Tag != ch.SRTP.Tag || p.Crypto.Suite != ch.SRTP.Suite || len(p.Crypto.Key) != keyLen {
			return nil, fmt.Errorf("sdp: an SRTP answer needs our key for tag %d %s", ch.SRTP.Tag, ch.SRTP.Suite)
		}
	default:
		return nil, fmt.Errorf("sdp: cannot answer %s audio", strings.Join(offered, "/"))
	}
	audio, err := audioMedia(p.Port, offered, []payload{{ch.PayloadType, ch.Codec}}, ch.DTMF, ch.DTMFRate, p.Ptime, dir)
	if err != nil {
		return nil, err
	}
	if ch.SRTP != nil {
		audio.WithValueAttribute("crypto", p.Crypto.String())
	}
	for i, md := range o.raw.MediaDescriptions {
		if i == o.AudioIndex {
			sd.MediaDescriptions = append(sd.MediaDescriptions, audio)
			continue
		}
		sd.MediaDescriptions = append(sd.MediaDescriptions, rejected(md))
	}
	return sd.Marshal()
}

// OfferParams is everything BuildOfferWith needs.
type OfferParams struct {
	Addr      netip.Addr
	Port      int
	SessionID uint64
	Version   uint64 // o= session version; increment for every changed offer in the dialog
	Codecs    []codec.Codec
	DTMF      uint8     // telephone-event payload type (96-127); 0 = none
	Username  string    // DefaultUsername when empty
	Direction Direction // SendRecv when empty; SendOnly puts the other side on hold
	Ptime     int       // DefaultPtime when 0
	// Crypto makes the offer RTP/SAVP with this SDES key (a re-offer in
	// an SRTP call); nil offers plain RTP/AVP.
	Crypto *Crypto
}

// BuildOffer builds an audio offer with codecs in our order of preference
// and, when dtmfPT is not 0, telephone-event at the first codec's clock rate.
// It serves an INVITE without SDP (we offer in the 200, the caller answers
// in the ACK) and the test phone.
func BuildOffer(addr netip.Addr, port int, sessionID, version uint64, codecs []codec.Codec, dtmfPT uint8) ([]byte, error) {
	return BuildOfferWith(OfferParams{Addr: addr, Port: port, SessionID: sessionID, Version: version, Codecs: codecs, DTMF: dtmfPT})
}

// BuildOfferWith is BuildOffer with the direction, ptime and o= user name
// open too, for re-INVITEs that hold or resume.
func BuildOfferWith(p OfferParams) ([]byte, error) {
	if len(p.Codecs) == 0 {
		return nil, errors.New("sdp: offer without codecs")
	}
	pls := make([]payload, 0, len(p.Codecs))
	for _, c := range p.Codecs {
		if c == nil {
			return nil, errors.New("sdp: nil codec in offer")
		}
		for _, q := range pls {
			if q.pt == c.PayloadType() {
				return nil, fmt.Errorf("sdp: payload type %d offered twice", q.pt)
			}
		}
		pls = append(pls, payload{c.PayloadType(), c})
	}
	if p.DTMF != 0 && (p.DTMF < 96 || p.DTMF > 127) {
		// Dynamic range of RFC 3551 §3; the static numbers belong to codecs.
		return nil, fmt.Errorf("sdp: telephone-event payload type %d outside 96-127", p.DTMF)
	}
	dir := p.Direction
	if dir == "" {
		dir = SendRecv
	}
	sd, err := session(p.Username, p.SessionID, p.Version, p.Addr)
	if err != nil {
		return nil, err
	}
	protos := []string{"RTP", "AVP"}
	if p.Crypto != nil {
		if _, err := ParseCrypto(p.Crypto.String()); err != nil {
			return nil, err
		}
		protos = []string{"RTP", "SAVP"}
	}
	audio, err := audioMedia(p.Port, protos, pls, p.DTMF, p.Codecs[0].ClockRate(), p.Ptime, dir)
	if err != nil {
		return nil, err
	}
	if p.Crypto != nil {
		audio.WithValueAttribute("crypto", p.Crypto.String())
	}
	sd.MediaDescriptions = []*psdp.MediaDescription{audio}
	return sd.Marshal()
}

type payload struct {
	pt uint8
	c  codec.Codec
}

func session(username string, id, version uint64, addr netip.Addr) (*psdp.SessionDescription, error) {
	if username == "" {
		username = DefaultUsername
	}
	if strings.ContainsFunc(username, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		// o= is space separated; anything else would shift its fields.
		return nil, fmt.Errorf("sdp: o= user name %q has space or control characters", username)
	}
	if !addr.IsValid() || addr.IsUnspecified() {
		return nil, fmt.Errorf("sdp: our media address %v is not usable", addr)
	}
	addr = addr.Unmap().WithZone("")
	addrType := "IP4"
	if addr.Is6() {
		addrType = "IP6"
	}
	return &psdp.SessionDescription{
		Version: 0,
		Origin: psdp.Origin{
			Username:       username,
			SessionID:      id,
			SessionVersion: version,
			NetworkType:    "IN",
			AddressType:    addrType,
			UnicastAddress: addr.String(),
		},
		// RFC 3264 §5: s= means little for unicast; a dash is the convention.
		SessionName: "-",
		ConnectionInformation: &psdp.ConnectionInformation{
			NetworkType: "IN",
			AddressType: addrType,
			Address:     &psdp.Address{Address: addr.String()},
		},
		TimeDescriptions: []psdp.TimeDescription{{Timing: psdp.Timing{StartTime: 0, StopTime: 0}}},
	}, nil
}

func audioMedia(port int, protos []string, pls []payload, dtmf uint8, dtmfRate, ptime int, dir Direction) (*psdp.MediaDescription, error) {
	if port <= 0 || port > 65535 {
		return nil, fmt.Errorf("sdp: RTP port %d out of range", port)
	}
	if ptime == 0 {
		ptime = DefaultPtime
	}
	if ptime < 0 || ptime > 1000 {
		return nil, fmt.Errorf("sdp: ptime %d out of range", ptime)
	}
	if !dir.Valid() {
		return nil, fmt.Errorf("sdp: direction %q", dir)
	}
	md := &psdp.MediaDescription{
		MediaName: psdp.MediaName{
			Media:  "audio",
			Port:   psdp.RangedPort{Value: port},
			Protos: append([]string(nil), protos...),
		},
	}
	for _, p := range pls {
		rate := p.c.ClockRate()
		if rate <= 0 || uint64(rate) > math.MaxUint32 {
			return nil, fmt.Errorf("sdp: %s has clock rate %d", p.c.Name(), rate)
		}
		md.WithCodec(p.pt, p.c.Name(), uint32(rate), 0, "")
	}
	if dtmf != 0 {
		if dtmfRate <= 0 || uint64(dtmfRate) > math.MaxUint32 {
			return nil, fmt.Errorf("sdp: telephone-event clock rate %d", dtmfRate)
		}
		md.WithCodec(dtmf, telephoneEvent, uint32(dtmfRate), 0, dtmfEvents)
	}
	return md.
		WithValueAttribute("ptime", strconv.Itoa(ptime)).
		WithPropertyAttribute(string(dir)), nil
}

// rejected is the answer to a stream we do not take (RFC 3264 §6): same
// media and transport, port 0, and one format because the m= grammar needs
// at least one.
func rejected(md *psdp.MediaDescription) *psdp.MediaDescription {
	mn := md.MediaName
	out := &psdp.MediaDescription{
		MediaName: psdp.MediaName{
			Media:  mn.Media,
			Port:   psdp.RangedPort{Value: 0},
			Protos: append([]string(nil), mn.Protos...),
		},
	}
	if len(mn.Formats) > 0 {
		out.MediaName.Formats = []string{mn.Formats[0]}
	}
	return out
}
