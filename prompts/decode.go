package prompts

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/zaf/g711"
)

// Rate is the sample rate of every clip and tone in this package.
const Rate = 8000

// WAV format tags (the wFormatTag of the fmt chunk).
const (
	wavPCM        = 0x0001
	wavALaw       = 0x0006
	wavMuLaw      = 0x0007
	wavGSM610     = 0x0031
	wavExtensible = 0xFFFE
)

var errNotWAV = errors.New("not a RIFF/WAVE file")

// parseWAV decodes an 8 kHz mono WAV file: 16-bit PCM, or 8-bit A-law or
// µ-law as some telephony tools write them. Anything else is refused with an
// error that says what the file is, because an operator pointing prompts_dir
// at the wrong pack should learn why at start-up rather than hear noise.
func parseWAV(b []byte) ([]int16, error) {
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return nil, errNotWAV
	}
	var (
		haveFmt  bool
		format   uint16
		channels uint16
		rate     uint32
		bits     uint16
	)
	p := uint64(12)
	for p+8 <= uint64(len(b)) {
		id := string(b[p : p+4])
		size := uint64(binary.LittleEndian.Uint32(b[p+4:]))
		body := b[p+8:]
		switch id {
		case "fmt ":
			if size < 16 || len(body) < 16 {
				return nil, fmt.Errorf("WAV fmt chunk too short (%d bytes)", size)
			}
			format = binary.LittleEndian.Uint16(body[0:])
			channels = binary.LittleEndian.Uint16(body[2:])
			rate = binary.LittleEndian.Uint32(body[4:])
			bits = binary.LittleEndian.Uint16(body[14:])
			if format == wavExtensible {
				if size < 40 || len(body) < 40 {
					return nil, fmt.Errorf("WAV extensible fmt chunk too short (%d bytes)", size)
				}
				// The first two bytes of the sub-format GUID are the plain format tag.
				format = binary.LittleEndian.Uint16(body[24:])
			}
			if err := checkWAVFormat(format, channels, rate, bits); err != nil {
				return nil, err
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return nil, errors.New("WAV data chunk before fmt chunk")
			}
			// A writer that crashed, or one that streams, leaves a size larger
			// than the file: play what is there.
			if size > uint64(len(body)) {
				size = uint64(len(body))
			}
			data := body[:size]
			var pcm []int16
			switch format {
			case wavPCM:
				pcm = decodeS16LE(data[:len(data)&^1])
			case wavMuLaw:
				pcm = decodeULaw(data)
			case wavALaw:
				pcm = decodeALaw(data)
			}
			if len(pcm) == 0 {
				return nil, errors.New("WAV data chunk holds no samples")
			}
			return pcm, nil
		}
		p += 8 + size + size&1 // chunks are padded to an even length
	}
	if !haveFmt {
		return nil, errors.New("WAV has no fmt chunk")
	}
	return nil, errors.New("WAV has no data chunk")
}

func checkWAVFormat(format, channels uint16, rate uint32, bits uint16) error {
	switch format {
	case wavPCM:
		if bits != 16 {
			return fmt.Errorf("WAV is %d-bit PCM, want 16-bit", bits)
		}
	case wavMuLaw, wavALaw:
		if bits != 8 {
			return fmt.Errorf("WAV G.711 with %d bits per sample, want 8", bits)
		}
	case wavGSM610:
		return errors.New("WAV holds GSM 6.10 (Asterisk's wav49), which is not supported; use 16-bit PCM .wav, .sln or .ulaw")
	default:
		return fmt.Errorf("WAV format 0x%04x is not supported; use 16-bit PCM", format)
	}
	if channels != 1 {
		return fmt.Errorf("WAV has %d channels, want mono", channels)
	}
	if rate != Rate {
		return fmt.Errorf("WAV sample rate is %d Hz, want %d (convert with: sox in.wav -r %d -c 1 -b 16 out.wav)", rate, Rate, Rate)
	}
	return nil
}

// decodeSLN decodes Asterisk's .sln/.raw: headerless 8 kHz signed 16-bit little-endian.
func decodeSLN(b []byte) ([]int16, error) {
	if len(b)%2 != 0 {
		return nil, fmt.Errorf("signed linear file has an odd length (%d bytes)", len(b))
	}
	if len(b) == 0 {
		return nil, errors.New("empty file")
	}
	return decodeS16LE(b), nil
}

func decodeS16LE(b []byte) []int16 {
	pcm := make([]int16, len(b)/2)
	for i := range pcm {
		pcm[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
	}
	return pcm
}

func decodeULawFile(b []byte) ([]int16, error) {
	if len(b) == 0 {
		return nil, errors.New("empty file")
	}
	return decodeULaw(b), nil
}

func decodeALawFile(b []byte) ([]int16, error) {
	if len(b) == 0 {
		return nil, errors.New("empty file")
	}
	return decodeALaw(b), nil
}

func decodeULaw(b []byte) []int16 {
	pcm := make([]int16, len(b))
	for i, c := range b {
		pcm[i] = g711.DecodeUlawFrame(c)
	}
	return pcm
}

func decodeALaw(b []byte) []int16 {
	pcm := make([]int16, len(b))
	for i, c := range b {
		pcm[i] = g711.DecodeAlawFrame(c)
	}
	return pcm
}
