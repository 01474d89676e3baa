package media

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// SRTP is a call's SDES keying (RFC 4568): the suite both sides agreed in
// the SDP, and each side's master key followed by its master salt. What
// we send is protected with Local, what we receive checked and decrypted
// with Remote.
type SRTP struct {
	Suite  string // "AES_CM_128_HMAC_SHA1_80" or "AES_CM_128_HMAC_SHA1_32"
	Local  []byte
	Remote []byte
}

// ErrSRTPSuite is a suite NewSRTPContext does not know.
var ErrSRTPSuite = errors.New("media: SRTP suite not supported")

// NewSRTPContext makes the pion context for one direction of an SDES-keyed
// stream: suite as the SDP names it, key the master key followed by the
// master salt (30 bytes for the AES-128 suites).
func NewSRTPContext(suite string, key []byte, opts ...srtp.ContextOption) (*srtp.Context, error) {
	var profile srtp.ProtectionProfile
	switch suite {
	case "AES_CM_128_HMAC_SHA1_80":
		profile = srtp.ProtectionProfileAes128CmHmacSha1_80
	case "AES_CM_128_HMAC_SHA1_32":
		profile = srtp.ProtectionProfileAes128CmHmacSha1_32
	default:
		return nil, fmt.Errorf("%w: %q", ErrSRTPSuite, suite)
	}
	keyLen, _ := profile.KeyLen()
	saltLen, _ := profile.SaltLen()
	if len(key) != keyLen+saltLen {
		return nil, fmt.Errorf("media: SRTP key for %s must be %d bytes", suite, keyLen+saltLen)
	}
	return srtp.CreateContext(key[:keyLen], key[keyLen:], profile, opts...)
}

// srtpReplayWindow is how far back a packet may be and still be taken
// once (RFC 3711 §3.3.2 asks for at least 64).
const srtpReplayWindow = 128

// probeFailures is how many packets that fail authentication the probe
// context sees before it is remade (see srtpIn).
const probeFailures = 64

// srtpIn checks and decrypts what the caller sends.
//
// pion's context makes per-SSRC state before it checks a packet's tag, so
// a stranger spraying random SSRCs at the port would grow it without
// bound. Streams that have authenticated once live in main; a packet of
// any other SSRC is first tried on probe, a context remade every few
// dozen failures, and only when it authenticates there is it taken (and
// decrypted again) by main. SRTCP goes to probe only: it is read for
// liveness, never for its contents.
type srtpIn struct {
	suite   string
	key     []byte
	main    *srtp.Context
	probe   *srtp.Context
	known   map[uint32]bool
	fails   int
	scratch [maxDatagram]byte
}

func newSRTPIn(suite string, key []byte) (*srtpIn, error) {
	main, err := NewSRTPContext(suite, key, srtp.SRTPReplayProtection(srtpReplayWindow))
	if err != nil {
		return nil, err
	}
	in := &srtpIn{suite: suite, key: bytes.Clone(key), main: main, known: make(map[uint32]bool)}
	if err := in.newProbe(); err != nil {
		return nil, err
	}
	return in, nil
}

func (in *srtpIn) newProbe() error {
	p, err := NewSRTPContext(in.suite, in.key)
	if err != nil {
		return err
	}
	in.probe, in.fails = p, 0
	return nil
}

// rtp decrypts an SRTP packet into dst; ok is false for a packet that
// fails authentication, is a replay, or is not SRTP at all.
func (in *srtpIn) rtp(dst, b []byte, h *rtp.Header) ([]byte, bool) {
	if len(b) < headerLen {
		return nil, false
	}
	ssrc := uint32(b[8])<<24 | uint32(b[9])<<16 | uint32(b[10])<<8 | uint32(b[11])
	if !in.known[ssrc] {
		if _, err := in.probe.DecryptRTP(in.scratch[:0], b, h); err != nil {
			in.failed()
			return nil, false
		}
		if len(in.known) >= 64 {
			clear(in.known) // a phone uses a handful; keep the map small
		}
		in.known[ssrc] = true
	}
	out, err := in.main.DecryptRTP(dst[:0], b, h)
	if err != nil {
		return nil, false
	}
	return out, true
}

// rtcp reports whether an SRTCP packet authenticates.
func (in *srtpIn) rtcp(b []byte) bool {
	if _, err := in.probe.DecryptRTCP(in.scratch[:0], b, nil); err != nil {
		in.failed()
		return false
	}
	return true
}

func (in *srtpIn) failed() {
	if in.fails++; in.fails >= probeFailures {
		_ = in.newProbe() // the key was good once; it stays good
	}
}

// SetSRTP protects the session from now on: every packet sent is SRTP,
// and only SRTP that authenticates with k.Remote is heard. A side whose
// key has not changed (a re-INVITE that repeats it) keeps its context, so
// its rollover counter and replay window go on. There is no way back to
// plain RTP on a session.
func (s *Session) SetSRTP(k SRTP) error {
	// Both sides are made before either is used, so a key that fails
	// changes nothing.
	tx, err := NewSRTPContext(k.Suite, k.Local)
	if err != nil {
		return err
	}
	rx, err := newSRTPIn(k.Suite, k.Remote)
	if err != nil {
		return err
	}
	s.sendMu.Lock()
	if s.srtpTx == nil || s.txSuite != k.Suite || !bytes.Equal(s.txKey, k.Local) {
		s.srtpTx, s.txSuite, s.txKey = tx, k.Suite, bytes.Clone(k.Local)
	}
	s.sendMu.Unlock()

	s.play.Lock()
	if s.rx == nil || s.rx.suite != k.Suite || !bytes.Equal(s.rx.key, k.Remote) {
		s.rx = rx
	}
	s.play.Unlock()
	s.secure.Store(true)
	return nil
}

// Secure reports whether the session carries SRTP both ways.
func (s *Session) Secure() bool { return s.secure.Load() }

// seal encrypts the marshalled packet in s.outBuf[:n]; sendMu is held.
func (s *Session) seal(n int) ([]byte, error) {
	if s.srtpTx == nil {
		return s.outBuf[:n], nil
	}
	return s.srtpTx.EncryptRTP(s.sealed[:0], s.outBuf[:n], &s.txHdr)
}
