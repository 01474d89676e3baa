package recordings

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// The files are canonical 44-byte-header WAVs: 8 kHz, 16-bit, mono PCM, the
// format every voicemail system and audio tool reads and the one Asterisk
// calls "wav".
const (
	headerSize    = 44
	sampleRate    = 8000
	bytesPerFrame = 2 * sampleRate / 50 // one 20 ms frame of 16-bit samples
)

// header is the WAV header for dataBytes of samples at sampleRate.
func header(dataBytes uint32) []byte { return headerAt(sampleRate, dataBytes) }

// headerAt is the header of a 16-bit mono WAV at rate.
func headerAt(rate, dataBytes uint32) []byte {
	h := make([]byte, headerSize)
	copy(h[0:], "RIFF")
	binary.LittleEndian.PutUint32(h[4:], 36+dataBytes)
	copy(h[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(h[16:], 16) // fmt chunk size
	binary.LittleEndian.PutUint16(h[20:], 1)  // PCM
	binary.LittleEndian.PutUint16(h[22:], 1)  // mono
	binary.LittleEndian.PutUint32(h[24:], rate)
	binary.LittleEndian.PutUint32(h[28:], 2*rate) // byte rate
	binary.LittleEndian.PutUint16(h[32:], 2)      // block align
	binary.LittleEndian.PutUint16(h[34:], 16)     // bits per sample
	copy(h[36:], "data")
	binary.LittleEndian.PutUint32(h[40:], dataBytes)
	return h
}

// WAVWriter appends 16-bit samples to a WAV file so that the file is a
// valid WAV at every moment: samples are written first and the header's
// sizes patched after, so a reader (or a crash) sees a header that counts
// at most the samples on disk. A crash loses at most what was not yet
// written; Repair counts in the rest.
type WAVWriter struct {
	f     wavFile
	data  uint32 // sample bytes written and counted in the header
	buf   []byte
	dirty bool // samples written since the last Sync
}

// wavFile is the part of *os.File a WAVWriter uses; tests put a failing
// disk behind it.
type wavFile interface {
	io.WriterAt
	Truncate(size int64) error
	Sync() error
	Close() error
}

// CreateWAV creates (or truncates) path as an empty WAV.
func CreateWAV(path string) (*WAVWriter, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600) // a meeting: for brygga alone
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(header(0)); err != nil {
		f.Close()
		return nil, err
	}
	return &WAVWriter{f: f}, nil
}

// maxData keeps the RIFF size inside 32 bits: about 74 hours at 8 kHz.
const maxData = 0xFFFFFFFF - 36 - bytesPerFrame

// ErrFull is returned when a WAV cannot grow any further.
var ErrFull = errors.New("recordings: WAV file at its 4 GiB limit")

// Write appends samples and patches the header to count them. Samples are
// whole 16-bit values, so a partial write (disk full) is trimmed back to
// whole frames before the error is returned: what is counted is always
// whole.
func (w *WAVWriter) Write(samples []int16) error {
	if uint64(w.data)+2*uint64(len(samples)) > maxData {
		return ErrFull
	}
	w.buf = w.buf[:0]
	for _, s := range samples {
		w.buf = binary.LittleEndian.AppendUint16(w.buf, uint16(s))
	}
	if _, err := w.f.WriteAt(w.buf, headerSize+int64(w.data)); err != nil {
		// Forget the torn tail so the next write (after space is freed)
		// lands on a frame boundary.
		_ = w.f.Truncate(headerSize + int64(w.data))
		return err
	}
	w.data += uint32(len(w.buf))
	w.dirty = true
	return w.patch()
}

func (w *WAVWriter) patch() error {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], 36+w.data)
	if _, err := w.f.WriteAt(b[:], 4); err != nil {
		return err
	}
	binary.LittleEndian.PutUint32(b[:], w.data)
	_, err := w.f.WriteAt(b[:], 40)
	return err
}

// Sync flushes written samples to the disk, so that a power cut (not just a
// crash of brygga, which the page cache survives) keeps them.
func (w *WAVWriter) Sync() error {
	if !w.dirty {
		return nil
	}
	w.dirty = false
	return w.f.Sync()
}

// Samples is how many samples the file holds.
func (w *WAVWriter) Samples() int64 { return int64(w.data) / 2 }

// Close syncs and closes the file.
func (w *WAVWriter) Close() error {
	err := w.Sync()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Repair makes path a valid WAV holding every whole 20 ms frame on disk:
// what a crash leaves behind is samples past the header's count (written
// but not yet counted), or a torn last frame. A file too short to hold a
// header becomes an empty WAV. It returns the samples the file holds.
// A file that is not one of our WAVs is left alone and reported.
func Repair(path string) (samples int64, err error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return 0, err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	size := st.Size()
	if size >= headerSize {
		h := make([]byte, headerSize)
		if _, err := io.ReadFull(f, h); err != nil {
			return 0, err
		}
		if err := checkOurs(h); err != nil {
			return 0, fmt.Errorf("recordings: %s: %w", path, err)
		}
	} else if size > 0 {
		// A crash inside the first write: whatever bytes there are can
		// only be our own header's start.
		h := make([]byte, size)
		if _, err := io.ReadFull(f, h); err != nil {
			return 0, err
		}
		if string(h) != string(header(0)[:size]) {
			return 0, fmt.Errorf("recordings: %s: %d bytes that are not a WAV header", path, size)
		}
	}
	data := max(size-headerSize, 0)
	data -= data % bytesPerFrame
	if data > maxData {
		data = maxData - maxData%bytesPerFrame
	}
	if err := f.Truncate(headerSize + data); err != nil {
		return 0, err
	}
	if _, err := f.WriteAt(header(uint32(data)), 0); err != nil {
		return 0, err
	}
	return data / 2, f.Sync()
}

// checkOurs accepts the header CreateWAV writes, with any sizes.
func checkOurs(h []byte) error {
	want := header(0)
	for _, r := range [][2]int{{0, 4}, {8, 40}} {
		if string(h[r[0]:r[1]]) != string(want[r[0]:r[1]]) {
			return errors.New("not an 8 kHz 16-bit mono WAV written by brygga")
		}
	}
	return nil
}

// ReadWAV reads the samples of a WAV written by WAVWriter, as many as its
// header counts.
func ReadWAV(path string) ([]int16, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseWAV(b)
}

func parseWAV(b []byte) ([]int16, error) {
	if len(b) < headerSize {
		return nil, fmt.Errorf("recordings: WAV of %d bytes has no header", len(b))
	}
	if err := checkOurs(b[:headerSize]); err != nil {
		return nil, err
	}
	n := int64(binary.LittleEndian.Uint32(b[40:]))
	if riff := int64(binary.LittleEndian.Uint32(b[4:])); riff != 36+n {
		return nil, fmt.Errorf("recordings: RIFF size %d does not match data size %d", riff, n)
	}
	if n%2 != 0 || headerSize+n > int64(len(b)) {
		return nil, fmt.Errorf("recordings: header counts %d data bytes, file has %d", n, len(b)-headerSize)
	}
	out := make([]int16, n/2)
	for i := range out {
		out[i] = int16(binary.LittleEndian.Uint16(b[headerSize+2*i:]))
	}
	return out, nil
}

// findWAVData finds the samples of an 8 kHz 16-bit mono PCM WAV written by
// anyone (Asterisk's "wav" format and ours), walking its chunks rather
// than trusting a 44-byte header. A data size beyond the end of the file
// (a writer that crashed) counts what is there. The errors say what is
// wrong with the file.
func findWAVData(f *os.File) (offset, samples int64, err error) {
	st, err := f.Stat()
	if err != nil {
		return 0, 0, err
	}
	size := st.Size()
	var riff [12]byte
	if _, err := f.ReadAt(riff[:], 0); err != nil || string(riff[0:4]) != "RIFF" || string(riff[8:12]) != "WAVE" {
		return 0, 0, errors.New("not a WAV file")
	}
	haveFmt := false
	for off := int64(12); off+8 <= size; {
		var ch [8]byte
		if _, err := f.ReadAt(ch[:], off); err != nil {
			return 0, 0, err
		}
		n := int64(binary.LittleEndian.Uint32(ch[4:]))
		switch string(ch[0:4]) {
		case "fmt ":
			var fm [16]byte
			if n < 16 {
				return 0, 0, fmt.Errorf("WAV format chunk of %d bytes", n)
			}
			if _, err := f.ReadAt(fm[:], off+8); err != nil {
				return 0, 0, errors.New("WAV format chunk cut short")
			}
			format := binary.LittleEndian.Uint16(fm[0:])
			channels := binary.LittleEndian.Uint16(fm[2:])
			rate := binary.LittleEndian.Uint32(fm[4:])
			align := binary.LittleEndian.Uint16(fm[12:])
			bits := binary.LittleEndian.Uint16(fm[14:])
			if format != 1 || channels != 1 || rate != sampleRate || align != 2 || bits != 16 {
				return 0, 0, fmt.Errorf("WAV is format %d, %d channels, %d Hz, %d bits; want PCM, mono, %d Hz, 16 bits",
					format, channels, rate, bits, sampleRate)
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return 0, 0, errors.New("WAV has no format chunk before its data")
			}
			n = min(n, size-off-8)
			return off + 8, n / 2, nil
		}
		off += 8 + n + n&1
	}
	return 0, 0, errors.New("WAV has no data")
}
