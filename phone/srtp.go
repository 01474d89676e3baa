package phone

import (
	"sync"

	"github.com/pion/srtp/v3"

	"brygga/media"
)

// srtpState is a call's SRTP when it negotiated RTP/SAVP: the sender seals
// with our key, the receivers open with the bridge's.
type srtpState struct {
	tx *srtp.Context // used by the one sender

	rxMu sync.Mutex // receivers of several sockets may run at once
	rx   *srtp.Context
}

// setSRTP keys the stream; it must be called before the stream starts (a
// re-keying re-INVITE from the bridge is not followed).
func (s *stream) setSRTP(suite string, local, remote []byte) error {
	if s.srtp.Load() != nil {
		return nil
	}
	tx, err := media.NewSRTPContext(suite, local)
	if err != nil {
		return err
	}
	rx, err := media.NewSRTPContext(suite, remote)
	if err != nil {
		return err
	}
	s.srtp.Store(&srtpState{tx: tx, rx: rx})
	return nil
}

// seal protects a marshalled packet for sending; plain RTP passes as is.
func (s *stream) seal(dst, pkt []byte) ([]byte, error) {
	st := s.srtp.Load()
	if st == nil {
		return pkt, nil
	}
	return st.tx.EncryptRTP(dst[:0], pkt, nil)
}

// open checks and decrypts a received packet; ok false for one that does
// not authenticate. Plain RTP passes as is.
func (s *stream) open(dst, b []byte) ([]byte, bool) {
	st := s.srtp.Load()
	if st == nil {
		return b, true
	}
	st.rxMu.Lock()
	defer st.rxMu.Unlock()
	out, err := st.rx.DecryptRTP(dst[:0], b, nil)
	return out, err == nil
}
