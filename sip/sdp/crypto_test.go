package sdp

import (
	"bytes"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"brygga/media/codec"
)

const key30 = "WnD7c1ksDGs+dIefCEo8omPg4uO8DYIinNGL5yxQ" // 30 bytes, as baresip writes them

func TestParseCrypto(t *testing.T) {
	for _, tc := range []struct {
		in    string
		ok    bool
		suite string
		tag   int
	}{
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + key30, true, SuiteAES128SHA1_80, 1},
		{"2 AES_CM_128_HMAC_SHA1_32 inline:" + key30 + "|2^20", true, SuiteAES128SHA1_32, 2},
		{"3 AES_CM_128_HMAC_SHA1_80 inline:" + key30 + "|1048576", true, SuiteAES128SHA1_80, 3},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + strings.TrimRight(key30, "="), true, SuiteAES128SHA1_80, 1},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + key30 + "|2^20|1:4", false, "", 0},         // MKI
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + key30 + ";inline:" + key30, false, "", 0},  // two keys
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + key30 + " UNENCRYPTED_SRTP", false, "", 0}, // weakened
		{"1 AES_256_CM_HMAC_SHA1_80 inline:" + key30, false, "", 0},                       // suite
		{"1 F8_128_HMAC_SHA1_80 inline:" + key30, false, "", 0},                           // suite
		{"1 AES_CM_128_HMAC_SHA1_80 inline:c2hvcnQ=", false, "", 0},                       // short key
		{"1 AES_CM_128_HMAC_SHA1_80 inline:!!!notbase64!!!", false, "", 0},                // bad base64
		{"x AES_CM_128_HMAC_SHA1_80 inline:" + key30, false, "", 0},                       // tag
		{"1 AES_CM_128_HMAC_SHA1_80 uri:https://example.org/key", false, "", 0},           // method
		{"1 AES_CM_128_HMAC_SHA1_80", false, "", 0},                                       // no key
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + key30 + "|2^99", false, "", 0},             // lifetime
	} {
		c, err := ParseCrypto(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("ParseCrypto(%q): err %v, want ok=%v", tc.in, err, tc.ok)
			continue
		}
		if tc.ok && (c.Suite != tc.suite || c.Tag != tc.tag || len(c.Key) != 30) {
			t.Errorf("ParseCrypto(%q) = %+v", tc.in, c)
		}
	}
}

func TestCryptoRoundTrip(t *testing.T) {
	c, err := NewCrypto(Crypto{Tag: 7, Suite: SuiteAES128SHA1_80})
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewCrypto(c)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(c.Key, d.Key) {
		t.Fatal("two fresh keys are equal")
	}
	back, err := ParseCrypto(c.String())
	if err != nil {
		t.Fatal(err)
	}
	if back.Tag != 7 || back.Suite != c.Suite || !bytes.Equal(back.Key, c.Key) {
		t.Fatalf("round trip %+v != %+v", back, c)
	}
}

func srtpOffer(proto string, cryptos ...string) []byte {
	var b strings.Builder
	b.WriteString("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n")
	b.WriteString("m=audio 4000 " + proto + " 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n")
	for _, c := range cryptos {
		b.WriteString("a=crypto:" + c + "\r\n")
	}
	return []byte(b.String())
}

// TestNegotiateSRTP: an RTP/SAVP offer is taken with the first usable
// key, answered RTP/SAVP with our key on the same tag; without a usable
// key it is refused; an offer with a plain and an SRTP stream takes SRTP.
func TestNegotiateSRTP(t *testing.T) {
	o, err := ParseOffer(srtpOffer("RTP/SAVP",
		"1 AES_256_CM_HMAC_SHA1_80 inline:"+key30, // not ours: skipped
		"2 AES_CM_128_HMAC_SHA1_32 inline:"+key30,
		"3 AES_CM_128_HMAC_SHA1_80 inline:"+key30))
	if err != nil {
		t.Fatal(err)
	}
	ch, err := Negotiate(o, []codec.Codec{codec.PCMU})
	if err != nil {
		t.Fatal(err)
	}
	if ch.SRTP == nil || ch.SRTP.Tag != 2 || ch.SRTP.Suite != SuiteAES128SHA1_32 {
		t.Fatalf("chose %+v, want tag 2 (the offerer's first usable)", ch.SRTP)
	}
	p := AnswerParams{Offer: o, Choice: ch, Addr: netip.MustParseAddr("127.0.0.1"), Port: 20000, SessionID: 1, Version: 1}
	if _, err := BuildAnswer(p); err == nil {
		t.Fatal("an SRTP answer without our key was built")
	}
	mine, err := NewCrypto(*ch.SRTP)
	if err != nil {
		t.Fatal(err)
	}
	p.Crypto = &mine
	ans, err := BuildAnswer(p)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseOffer(ans)
	if err != nil {
		t.Fatal(err)
	}
	if back.Transport != "RTP/SAVP" || len(back.Crypto) != 1 || back.Crypto[0].Tag != 2 || !bytes.Equal(back.Crypto[0].Key, mine.Key) {
		t.Fatalf("answer %s: transport %s crypto %+v", ans, back.Transport, back.Crypto)
	}

	// SAVP with nothing usable: 488 material.
	o, err = ParseOffer(srtpOffer("RTP/SAVP", "1 AES_256_CM_HMAC_SHA1_80 inline:"+key30))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Negotiate(o, []codec.Codec{codec.PCMU}); !errors.Is(err, ErrNoCommonCodec) {
		t.Fatalf("SAVP without a usable key: %v", err)
	}

	// A plain answer to a plain offer must not carry a key.
	o, _ = ParseOffer(srtpOffer("RTP/AVP", "1 AES_CM_128_HMAC_SHA1_80 inline:"+key30))
	ch, err = Negotiate(o, []codec.Codec{codec.PCMU})
	if err != nil || ch.SRTP != nil {
		t.Fatalf("RTP/AVP with a stray a=crypto: %+v, %v", ch.SRTP, err)
	}

	// Two audio streams, plain first: the SRTP one is used.
	two := string(srtpOffer("RTP/AVP")) + "m=audio 4002 RTP/SAVP 0\r\na=rtpmap:0 PCMU/8000\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" + key30 + "\r\n"
	o, err = ParseOffer([]byte(two))
	if err != nil {
		t.Fatal(err)
	}
	if o.AudioIndex != 1 || o.Port != 4002 || len(o.Crypto) != 1 {
		t.Fatalf("chose stream %d port %d", o.AudioIndex, o.Port)
	}

	// DTLS-SRTP is not SDES.
	o, _ = ParseOffer(srtpOffer("UDP/TLS/RTP/SAVPF"))
	if _, err := Negotiate(o, []codec.Codec{codec.PCMU}); !errors.Is(err, ErrNoCommonCodec) {
		t.Fatalf("DTLS-SRTP: %v", err)
	}
}
