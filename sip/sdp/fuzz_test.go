package sdp

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
)

func addSeeds(f *testing.F) {
	for _, tc := range realOffers {
		f.Add([]byte(tc.body))
	}
}

// FuzzParseOffer: any body either parses into a usable description of one
// audio stream or fails with one of the three documented errors.
func FuzzParseOffer(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		o, err := ParseOffer(body)
		if err != nil {
			_ = err.Error() // pion's syntax errors index into the input when printed
			if !errors.Is(err, ErrNoOffer) && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrNoAudio) {
				t.Fatalf("undocumented error %v", err)
			}
			return
		}
		if o.AudioIndex < 0 || o.AudioIndex >= o.MediaCount() {
			t.Fatalf("AudioIndex %d of %d", o.AudioIndex, o.MediaCount())
		}
		if !o.Addr.IsValid() || o.Addr.Is4In6() || o.Addr.Zone() != "" || o.Port <= 0 || o.Port > 65535 {
			t.Fatalf("remote %v", o.Remote())
		}
		if !o.Direction.Valid() || o.Hold == o.Direction.Receives() {
			t.Fatalf("direction %q hold %v", o.Direction, o.Hold)
		}
		for _, fm := range o.Formats {
			if fm.PayloadType > 127 {
				t.Fatalf("payload type %d", fm.PayloadType)
			}
		}
	})
}

// FuzzNegotiateAnswer: whatever parses and negotiates gives an answer that
// parses back, with as many m= lines, landing on the same choice.
func FuzzNegotiateAnswer(f *testing.F) {
	addSeeds(f)
	ours := netip.MustParseAddr("192.0.2.10")
	f.Fuzz(func(t *testing.T, body []byte) {
		o, err := ParseOffer(body)
		if err != nil {
			return
		}
		ch, err := Negotiate(o, supported)
		if err != nil {
			if !errors.Is(err, ErrNoCommonCodec) {
				t.Fatalf("undocumented error %v", err)
			}
			return
		}
		// An SRTP stream is answered with our own key, as the bridge does.
		var mine *Crypto
		if ch.SRTP != nil {
			k, err := NewCrypto(*ch.SRTP)
			if err != nil {
				t.Fatal(err)
			}
			mine = &k
		}
		answer, err := BuildAnswer(AnswerParams{Offer: o, Choice: ch, Addr: ours, Port: 40000, SessionID: 1, Version: 1, Crypto: mine})
		if err != nil {
			t.Fatalf("BuildAnswer after a successful Negotiate: %v", err)
		}
		back, err := ParseOffer(answer)
		if err != nil {
			t.Fatalf("answer does not parse back: %v\n%s", err, answer)
		}
		if back.MediaCount() != o.MediaCount() || back.AudioIndex != o.AudioIndex {
			t.Fatalf("answer has %d m= lines (audio %d), offer %d (audio %d)\n%s", back.MediaCount(), back.AudioIndex, o.MediaCount(), o.AudioIndex, answer)
		}
		if back.Remote() != netip.AddrPortFrom(ours, 40000) || back.Direction != AnswerDirection(o.Direction) {
			t.Fatalf("answer reads back as %v %s", back.Remote(), back.Direction)
		}
		again, err := Negotiate(back, supported)
		if err != nil {
			t.Fatalf("answer does not negotiate: %v\n%s", err, answer)
		}
		if mine != nil && (again.SRTP == nil || again.SRTP.Tag != mine.Tag || again.SRTP.Suite != mine.Suite || !bytes.Equal(again.SRTP.Key, mine.Key)) {
			t.Fatalf("answer carries key %+v, want ours %+v\n%s", again.SRTP, mine, answer)
		}
		if again.SRTP, ch.SRTP = nil, nil; again != ch {
			t.Fatalf("answer negotiates to %+v, want %+v", again, ch)
		}
	})
}
