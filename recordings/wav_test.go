package recordings

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

func frames(n int, seed int16) []int16 {
	out := make([]int16, n*bytesPerFrame/2)
	for i := range out {
		out[i] = seed + int16(i%977)
	}
	return out
}

// A reader looking at any moment between writes finds a valid WAV holding
// exactly what was written so far.
func TestWAVHeaderValidAfterEveryWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.wav")
	w, err := CreateWAV(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ReadWAV(path)
	if err != nil || len(got) != 0 {
		t.Fatalf("fresh file: %d samples, %v", len(got), err)
	}
	var all []int16
	for i := range 20 {
		batch := frames(1+i%5, int16(i*100))
		if err := w.Write(batch); err != nil {
			t.Fatal(err)
		}
		all = append(all, batch...)
		got, err := ReadWAV(path)
		if err != nil {
			t.Fatalf("after write %d: %v", i, err)
		}
		if !equal(got, all) {
			t.Fatalf("after write %d: %d samples read, %d written", i, len(got), len(all))
		}
	}
	if w.Samples() != int64(len(all)) {
		t.Fatalf("Samples() = %d, want %d", w.Samples(), len(all))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// A file cut at any byte (a crash between writing samples and counting
// them, or in the middle of a write) is repaired into a valid WAV holding
// every whole frame before the cut.
func TestRepairCutFile(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src.wav")
	w, err := CreateWAV(src)
	if err != nil {
		t.Fatal(err)
	}
	all := frames(50, 7)
	if err := w.Write(all); err != nil {
		t.Fatal(err)
	}
	w.Close()
	whole, _ := os.ReadFile(src)
	rng := rand.New(rand.NewPCG(1, 2))
	cuts := []int{0, 1, 43, 44, 45, 44 + bytesPerFrame - 1, 44 + bytesPerFrame, len(whole)}
	for range 200 {
		cuts = append(cuts, rng.IntN(len(whole)+1))
	}
	for _, cut := range cuts {
		b := append([]byte(nil), whole[:cut]...)
		// What a crash leaves: samples on disk that the header does not
		// count yet (the header still says "empty"), or part of the
		// first header.
		copy(b, header(0))
		path := filepath.Join(dir, "cut.wav")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		n, err := Repair(path)
		if err != nil {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		wantFrames := max(cut-headerSize, 0) / bytesPerFrame
		if n != int64(wantFrames*bytesPerFrame/2) {
			t.Fatalf("cut at %d: %d samples, want %d whole frames", cut, n, wantFrames)
		}
		got, err := ReadWAV(path)
		if err != nil {
			t.Fatalf("cut at %d: repaired file unreadable: %v", cut, err)
		}
		if !equal(got, all[:len(got)]) || int64(len(got)) != n {
			t.Fatalf("cut at %d: repaired samples differ from what was written", cut)
		}
	}
}

func TestRepairLeavesForeignFilesAlone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.wav")
	junk := bytes.Repeat([]byte("not a wav "), 20)
	os.WriteFile(path, junk, 0o600)
	if _, err := Repair(path); err == nil {
		t.Fatal("Repair accepted a file that is not ours")
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, junk) {
		t.Fatal("Repair changed a file that is not ours")
	}
}

// A full disk is an error from Write, never a torn file.
func TestWAVDiskFull(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full on this system")
	}
	if _, err := CreateWAV("/dev/full"); err == nil {
		t.Fatal("CreateWAV on a full disk did not fail")
	}
}

func FuzzRepair(f *testing.F) {
	f.Add(header(0), 0)
	f.Add(append(header(640), make([]byte, 700)...), 10)
	f.Add([]byte("RIFF"), 3)
	f.Fuzz(func(t *testing.T, b []byte, cut int) {
		path := filepath.Join(t.TempDir(), "f.wav")
		if cut >= 0 && cut < len(b) {
			b = b[:cut]
		}
		os.WriteFile(path, b, 0o600)
		n, err := Repair(path)
		if err != nil {
			return
		}
		got, err := ReadWAV(path)
		if err != nil {
			t.Fatalf("Repair said ok, ReadWAV: %v", err)
		}
		if int64(len(got)) != n || n%(bytesPerFrame/2) != 0 {
			t.Fatalf("Repair said %d samples, file has %d", n, len(got))
		}
	})
}

func equal(a, b []int16) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
