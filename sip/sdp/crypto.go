package sdp

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	psdp "github.com/pion/sdp/v3"
)

// SRTP crypto suites we key by SDES (RFC 4568 §6.2). The 80-bit tag is
// the one RFC 4568 makes mandatory and every SIP phone offers first; the
// 32-bit one is what some offer to save bandwidth.
const (
	SuiteAES128SHA1_80 = "AES_CM_128_HMAC_SHA1_80"
	SuiteAES128SHA1_32 = "AES_CM_128_HMAC_SHA1_32"
)

// keyLen is the master key plus master salt length of every suite we take:
// 128-bit key, 112-bit salt.
const keyLen = 30

// Crypto is one a=crypto line of an SRTP audio stream (RFC 4568 §9.1)
// that we can use: a suite we know, one inline key without MKI and no
// session parameters. Key is the master key followed by the master salt.
type Crypto struct {
	Tag   int
	Suite string
	Key   []byte
}

// String is the attribute value: "1 AES_CM_128_HMAC_SHA1_80 inline:…".
func (c Crypto) String() string {
	return strconv.Itoa(c.Tag) + " " + c.Suite + " inline:" + base64.StdEncoding.EncodeToString(c.Key)
}

// NewCrypto makes our side's key for answering theirs: the same tag and
// suite (RFC 4568 §7.1.2), a fresh random master key and salt.
func NewCrypto(theirs Crypto) (Crypto, error) {
	key := make([]byte, keyLen)
	if _, err := rand.Read(key); err != nil {
		return Crypto{}, err
	}
	return Crypto{Tag: theirs.Tag, Suite: theirs.Suite, Key: key}, nil
}

// ParseCrypto reads an a=crypto value. It refuses what we cannot honour
// rather than half-honour it: an unknown suite, several keys (we would
// have to switch at the right packet), an MKI (it changes the packet
// format), or any session parameter (UNENCRYPTED_SRTP and friends weaken
// the stream, KDR changes the key derivation). A lifetime is accepted:
// the shortest common one, 2^20 packets, is 5.8 hours of 20 ms frames,
// longer than any meeting here.
func ParseCrypto(value string) (Crypto, error) {
	fields := strings.Fields(value)
	if len(fields) < 3 {
		return Crypto{}, fmt.Errorf("sdp: crypto %q: want tag, suite and key", value)
	}
	if len(fields) > 3 {
		return Crypto{}, fmt.Errorf("sdp: crypto session parameters %q not supported", strings.Join(fields[3:], " "))
	}
	tag, err := strconv.Atoi(fields[0])
	if err != nil || tag < 0 || tag > 999999999 {
		return Crypto{}, fmt.Errorf("sdp: crypto tag %q", fields[0])
	}
	suite := fields[1]
	if suite != SuiteAES128SHA1_80 && suite != SuiteAES128SHA1_32 {
		return Crypto{}, fmt.Errorf("sdp: crypto suite %s not supported", suite)
	}
	params := fields[2]
	if strings.Contains(params, ";") {
		return Crypto{}, fmt.Errorf("sdp: crypto with several keys not supported")
	}
	inline, ok := strings.CutPrefix(params, "inline:")
	if !ok {
		return Crypto{}, fmt.Errorf("sdp: crypto key method %q not supported", params)
	}
	parts := strings.Split(inline, "|")
	if len(parts) > 3 {
		return Crypto{}, fmt.Errorf("sdp: crypto key parameters %q", inline)
	}
	for _, p := range parts[1:] {
		if strings.Contains(p, ":") {
			return Crypto{}, fmt.Errorf("sdp: crypto MKI not supported")
		}
		if !validLifetime(p) {
			return Crypto{}, fmt.Errorf("sdp: crypto lifetime %q", p)
		}
	}
	// Some phones pad, some do not: RFC 4568 says base64 (RFC 3548) with
	// padding, but unpadded keys are common enough to take.
	key, err := base64.StdEncoding.DecodeString(parts[0])
	if err != nil {
		key, err = base64.RawStdEncoding.DecodeString(parts[0])
	}
	if err != nil || len(key) != keyLen {
		return Crypto{}, fmt.Errorf("sdp: crypto key is not %d bytes of base64", keyLen)
	}
	return Crypto{Tag: tag, Suite: suite, Key: key}, nil
}

// validLifetime reads "2^20" or a decimal count of packets.
func validLifetime(s string) bool {
	if e, ok := strings.CutPrefix(s, "2^"); ok {
		n, err := strconv.Atoi(e)
		return err == nil && n > 0 && n <= 48
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return err == nil && n > 0
}

// cryptos lists the usable a=crypto lines of a media description in the
// offerer's order; lines we cannot use are left out.
func cryptos(md *psdp.MediaDescription) []Crypto {
	var out []Crypto
	for _, a := range md.Attributes {
		if a.Key != "crypto" {
			continue
		}
		if c, err := ParseCrypto(a.Value); err == nil {
			out = append(out, c)
		}
	}
	return out
}

// secureRTP reports whether protos is SRTP keyed in the SDP (SDES): RTP/SAVP
// or RTP/SAVPF. DTLS-SRTP (UDP/TLS/RTP/SAVPF) is not.
func secureRTP(protos []string) bool {
	return len(protos) == 2 && protos[0] == "RTP" && (protos[1] == "SAVP" || protos[1] == "SAVPF")
}
