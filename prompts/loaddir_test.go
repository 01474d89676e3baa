package prompts

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/zaf/g711"

	"brygga/media/tone"
)

func writeFile(t *testing.T, dir, rel string, b []byte) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func encodeULaw(pcm []int16) []byte {
	b := make([]byte, len(pcm))
	for i, s := range pcm {
		b[i] = g711.EncodeUlawFrame(s)
	}
	return b
}

func encodeALaw(pcm []int16) []byte {
	b := make([]byte, len(pcm))
	for i, s := range pcm {
		b[i] = g711.EncodeAlawFrame(s)
	}
	return b
}

func TestLoadDir(t *testing.T) {
	dir := t.TempDir()
	// Distinct frequencies tell the files apart after lossy G.711.
	s500 := tone.Generate(500, Rate, 0.5, 800)
	s700 := tone.Generate(700, Rate, 0.5, 800)
	s900 := tone.Generate(900, Rate, 0.5, 800)
	s1100 := tone.Generate(1100, Rate, 0.5, 800)
	s1300 := tone.Generate(1300, Rate, 0.5, 800)

	writeFile(t, dir, GetPin+".sln", pcm16(s500...))          // English at the top, as in sounds/en
	writeFile(t, dir, "digits/5.ulaw", encodeULaw(s700))      // English subfolder name
	writeFile(t, dir, "en/"+HasJoin+".pcm", encodeULaw(s900)) // Asterisk's layout
	writeFile(t, dir, "nb/"+Muted+".wav", wavSpec{format: wavPCM, channels: 1, rate: 8000, bits: 16, data: pcm16(s1100...), dataSize: -1}.bytes())
	writeFile(t, dir, "se/"+Unmuted+".alaw", encodeALaw(s1300)) // old Swedish folder name
	writeFile(t, dir, "en/"+Goodbye+".wav", wavSpec{format: wavMuLaw, channels: 1, rate: 8000, bits: 8, data: encodeULaw(s700), dataSize: -1}.bytes())
	writeFile(t, dir, Goodbye+".sln", pcm16(s1300...))               // loses to en/
	writeFile(t, dir, "en/"+Locked+".gsm", []byte("not read"))       // unsupported: built-in used
	writeFile(t, dir, "en/not-in-catalogue.sln", pcm16(s500...))     // ignored
	writeFile(t, dir, "digits/not-a-language/x.sln", pcm16(s500...)) // not a language folder

	lib, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	isTone := func(pcm []int16, freq float64) bool {
		return len(pcm) == 800 && tone.Power(pcm, freq, Rate) > -10
	}
	checks := []struct {
		lang, name string
		freq       float64
	}{
		{"en", GetPin, 500},
		{"en", Digit5, 700},
		{"en", HasJoin, 900},
		{"nb", Muted, 1100},
		{"sv", Unmuted, 1300},
		{"en", Goodbye, 700},
		{"da", GetPin, 500}, // unknown language → the folder's English
	}
	for _, c := range checks {
		if pcm := lib.Clip(c.lang, c.name); !isTone(pcm, c.freq) {
			t.Errorf("%s/%s: not the %g Hz file (%d samples)", c.lang, c.name, c.freq, len(pcm))
		}
	}
	if !slices.Equal(lib.Clip("en", GetPin), s500) {
		t.Error(".sln samples changed on the way in")
	}
	b := Builtin()
	// Missing in the folder: the built-in clip in the caller's language, not the folder's English.
	for _, c := range []struct{ lang, name string }{{"nb", GetPin}, {"sv", HasJoin}, {"en", Locked}, {"nb", Unmuted}, {"sv", Digit5}} {
		if got, want := lib.Clip(c.lang, c.name), b.Clip(c.lang, c.name); !slices.Equal(got, want) {
			t.Errorf("%s/%s: not the built-in clip", c.lang, c.name)
		}
	}
	if lib.Clip("en", "not-in-catalogue") != nil {
		t.Error("a name outside the catalogue was loaded")
	}
	if got := lib.Languages(); !slices.Equal(got, []string{"en", "nb", "sv"}) {
		t.Errorf("Languages() = %v", got)
	}
}

func TestLoadDirRegionFolder(t *testing.T) {
	// Debian installs sounds/en_US_f_Allison with sounds/en as a symlink to it.
	dir := t.TempDir()
	s := tone.Generate(600, Rate, 0.5, 400)
	writeFile(t, dir, "en_US_f_Allison/"+GetPin+".sln", pcm16(s...))
	writeFile(t, dir, "sv_SE/"+GetPin+".sln", pcm16(s...))
	if err := os.Symlink(filepath.Join(dir, "en_US_f_Allison"), filepath.Join(dir, "en")); err != nil {
		t.Skip("no symlinks here:", err)
	}
	lib, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range []string{"en", "sv"} {
		if !slices.Equal(lib.own(lang, GetPin), s) {
			t.Errorf("%s: region folder not used", lang)
		}
	}
}

func TestLoadDirErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	file := filepath.Join(t.TempDir(), "file")
	writeFile(t, filepath.Dir(file), "file", []byte("x"))

	gsmOnly := t.TempDir()
	writeFile(t, gsmOnly, GetPin+".gsm", []byte("gsm"))
	writeFile(t, gsmOnly, "digits/1.gsm", []byte("gsm"))
	writeFile(t, gsmOnly, HasJoin+".WAV", []byte("wav49"))

	badRate := t.TempDir()
	writeFile(t, badRate, "nb/"+GetPin+".wav", wavSpec{format: wavPCM, channels: 1, rate: 16000, bits: 16, data: pcm16(1, 2), dataSize: -1}.bytes())

	oddSLN := t.TempDir()
	writeFile(t, oddSLN, "en/"+Goodbye+".sln", []byte{1, 2, 3})

	cases := []struct {
		name, dir string
		want      []string
	}{
		{"missing", missing, []string{"no such file"}},
		{"not a folder", file, []string{"not a folder"}},
		{"empty", t.TempDir(), []string{"no prompt of the catalogue found"}},
		{"gsm only", gsmOnly, []string{"2 .gsm", "1 .WAV", "unsupported formats", "asterisk-core-sounds-en-wav"}},
		{"16 kHz wav", badRate, []string{filepath.Join("nb", GetPin+".wav"), "16000 Hz"}},
		{"odd sln", oddSLN, []string{Goodbye + ".sln", "odd length"}},
	}
	for _, c := range cases {
		lib, err := LoadDir(c.dir)
		if err == nil {
			t.Errorf("%s: no error (library %v)", c.name, lib != nil)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not mention %q", c.name, err, w)
			}
		}
	}
}

func TestLoadSound(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "4711")
	if pcm, err := LoadSound(base); pcm != nil || err != nil {
		t.Fatalf("missing file: %v %v", pcm, err)
	}
	if err := os.WriteFile(base+".sln", []byte{1, 0, 2, 0, 3, 0}, 0o600); err != nil {
		t.Fatal(err)
	}
	pcm, err := LoadSound(base)
	if err != nil || len(pcm) != 3 || pcm[2] != 3 {
		t.Fatalf("sln: %v %v", pcm, err)
	}
	if err := os.WriteFile(base+".wav", []byte("RIFF junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSound(base); err == nil {
		t.Fatal("a broken WAV must be an error, not silence")
	}
}
