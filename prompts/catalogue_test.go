package prompts

import (
	"bufio"
	"encoding/binary"
	"io/fs"
	"os"
	"slices"
	"strings"
	"testing"

	"brygga/media/tone"
)

// readTexts parses texts.tsv as generate.sh does.
func readTexts(t *testing.T) map[string][3]string {
	t.Helper()
	f, err := os.Open("texts.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows := map[string][3]string{}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		s := sc.Text()
		if s == "" || strings.HasPrefix(s, "#") || strings.HasPrefix(s, "name\t") {
			continue
		}
		f := strings.Split(s, "\t")
		if len(f) != 4 {
			t.Fatalf("texts.tsv:%d: %d fields, want name, en, nb, sv", line, len(f))
		}
		if _, dup := rows[f[0]]; dup {
			t.Errorf("texts.tsv:%d: %s twice", line, f[0])
		}
		for i, text := range f[1:] {
			if strings.TrimSpace(text) == "" {
				t.Errorf("texts.tsv:%d: %s has no %s text", line, f[0], Languages()[i])
			}
		}
		rows[f[0]] = [3]string{f[1], f[2], f[3]}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestTextsMatchCatalogue(t *testing.T) {
	rows := readTexts(t)
	for _, name := range Names() {
		if _, ok := rows[name]; !ok {
			t.Errorf("%s is a constant but has no row in texts.tsv", name)
		}
	}
	for name := range rows {
		if !slices.Contains(catalogue, name) {
			t.Errorf("texts.tsv has %s, which is missing from the catalogue", name)
		}
	}
	seen := map[string]bool{}
	for _, name := range catalogue {
		if seen[name] {
			t.Errorf("%s twice in the catalogue", name)
		}
		seen[name] = true
	}
}

// TestEmbeddedFilesMatchCatalogue catches a stale sounds/ folder: a prompt
// added to texts.tsv without running generate.sh, or a removed one left behind.
func TestEmbeddedFilesMatchCatalogue(t *testing.T) {
	var total int64
	files := map[string]bool{}
	err := fs.WalkDir(soundsFS, "sounds", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		total += info.Size()
		files[strings.TrimPrefix(p, "sounds/")] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range Languages() {
		for _, name := range catalogue {
			f := lang + "/" + name + ".wav"
			if !files[f] {
				t.Errorf("sounds/%s missing: run prompts/generate.sh", f)
			}
			delete(files, f)
		}
	}
	for f := range files {
		t.Errorf("sounds/%s is not in the catalogue: run prompts/generate.sh", f)
	}
	// The whole set is compiled into the binary.
	if total > 7_000_000 {
		t.Errorf("embedded sounds are %d bytes, budget about 7 MB", total)
	}
	t.Logf("embedded sounds: %d files, %d bytes", len(catalogue)*len(Languages()), total)
}

// TestBuiltinClips checks every prompt in every language as a caller would
// get it: present in its own language (no silent fallback to English), 8 kHz
// mono 16-bit in the file, audible, near the level generate.sh aims at, and
// not clipped.
func TestBuiltinClips(t *testing.T) {
	lib := Builtin()
	for _, lang := range Languages() {
		for _, name := range catalogue {
			raw, err := soundsFS.ReadFile("sounds/" + lang + "/" + name + ".wav")
			if err != nil {
				t.Errorf("%s/%s: %v", lang, name, err)
				continue
			}
			if rate := binary.LittleEndian.Uint32(raw[24:]); rate != Rate {
				t.Errorf("%s/%s: header says %d Hz", lang, name, rate)
			}
			pcm := lib.own(lang, name)
			if len(pcm) == 0 {
				t.Errorf("%s/%s: does not decode", lang, name)
				continue
			}
			secs := float64(len(pcm)) / Rate
			if secs < 0.15 || secs > 20 {
				t.Errorf("%s/%s: %.2f s long", lang, name, secs)
			}
			// AES17 level: a sine at full scale reads 0, so speech normalised to
			// -16..-18 dBFS plain RMS reads about 3 dB higher here.
			if lvl := tone.Level(pcm); lvl < -19 || lvl > -11 {
				t.Errorf("%s/%s: level %.1f dBFS, want about -15", lang, name, lvl)
			}
			clipped := 0
			for _, s := range pcm {
				if s >= 32767 || s <= -32767 {
					clipped++
				}
			}
			if clipped > 0 {
				t.Errorf("%s/%s: %d clipped samples", lang, name, clipped)
			}
			// Trimmed: the clip starts and ends within 50 ms of speech.
			edge := Rate / 20
			if len(pcm) > 2*edge && (tone.Level(pcm[:edge]) < -60 || tone.Level(pcm[len(pcm)-edge:]) < -60) {
				t.Errorf("%s/%s: leading or trailing silence not trimmed", lang, name)
			}
		}
	}
}

func TestLanguagesDiffer(t *testing.T) {
	// A copy of the English file under nb/ would pass every level check.
	lib := Builtin()
	for _, name := range []string{GetPin, HasJoin, Goodbye, Digit7} {
		en, nb, sv := lib.own("en", name), lib.own("nb", name), lib.own("sv", name)
		if slices.Equal(en, nb) || slices.Equal(en, sv) || slices.Equal(nb, sv) {
			t.Errorf("%s: two languages have the same audio", name)
		}
	}
}

func TestClipFallback(t *testing.T) {
	lib := Builtin()
	if lib.Clip("en", "no-such-prompt") != nil {
		t.Error("unknown name gave a clip")
	}
	en := lib.Clip("en", GetPin)
	if en == nil {
		t.Fatal("no en conf-getpin")
	}
	if got := lib.Clip("da", GetPin); !slices.Equal(got, en) {
		t.Error("unknown language did not fall back to English")
	}
	if got := lib.Clip("", GetPin); !slices.Equal(got, en) {
		t.Error("empty language did not fall back to English")
	}
	nb := lib.Clip("nb", GetPin)
	for _, alias := range []string{"NB", "nb-NO", "nb_NO", "no"} {
		if got := lib.Clip(alias, GetPin); !slices.Equal(got, nb) {
			t.Errorf("%q did not give the nb clip", alias)
		}
	}
	if got := lib.Clips("sv", GetPin, "no-such-prompt", Goodbye); len(got) != 2 {
		t.Errorf("Clips kept %d clips, want 2 (unknown name left out)", len(got))
	}
	if !slices.Equal(lib.Languages(), []string{"en", "nb", "sv"}) {
		t.Errorf("Languages() = %v", lib.Languages())
	}
}

func TestDigits(t *testing.T) {
	lib := Builtin()
	got := lib.Digits("sv", "+47 12-3*#x")
	want := lib.Clips("sv", LetterPlus, Digit4, Digit7, Digit1, Digit2, Digit3, DigitStar, DigitPound)
	if len(got) != len(want) {
		t.Fatalf("%d clips, want %d", len(got), len(want))
	}
	for i := range got {
		if !slices.Equal(got[i], want[i]) {
			t.Errorf("clip %d differs", i)
		}
	}
	if len(lib.Digits("en", "")) != 0 {
		t.Error("empty number gave clips")
	}
}

func TestNumberNames(t *testing.T) {
	cases := []struct {
		lang string
		n    int
		want []string
	}{
		{"en", 0, []string{Digit0}},
		{"en", 7, []string{Digit7}},
		{"en", 13, []string{Digit13}},
		{"en", 20, []string{Digit20}},
		{"en", 42, []string{Digit40, Digit2}},
		{"en", 100, []string{Digit1, DigitHundred}},
		{"en", 315, []string{Digit3, DigitHundred, Digit15}},
		{"en", 1000, []string{Digit1, DigitThousand}},
		{"en", 12045, []string{Digit12, DigitThousand, Digit40, Digit5}},
		{"nb", 1, []string{Digit1}},
		{"nb", 21, []string{Digit20, Digit1}},
		{"nb", 100, []string{DigitHundred}},
		{"nb", 123, []string{DigitHundred, And, Digit20, Digit3}},
		{"nb", 250, []string{Digit2, DigitHundred, And, Digit50}},
		{"nb", 1000, []string{DigitThousand}},
		{"nb", 1005, []string{DigitThousand, And, Digit5}},
		{"nb", 1200, []string{DigitThousand, Digit2, DigitHundred}},
		{"sv", 100, []string{Digit1, DigitHundred}},
		{"sv", 123, []string{Digit1, DigitHundred, Digit20, Digit3}},
		{"sv", 1005, []string{Digit1, DigitThousand, Digit5}},
		{"en", 1_234_567, []string{Digit1, Digit2, Digit3, Digit4, Digit5, Digit6, Digit7}},
		{"en", -3, nil},
	}
	for _, c := range cases {
		if got := numberNames(c.lang, c.n); !slices.Equal(got, c.want) {
			t.Errorf("%s %d: %v, want %v", c.lang, c.n, got, c.want)
		}
	}
	// Every number a room can hold maps to names the catalogue has.
	for _, lang := range Languages() {
		for n := 0; n < 2000; n++ {
			for _, name := range numberNames(lang, n) {
				if !slices.Contains(catalogue, name) {
					t.Fatalf("%s %d: %s not in catalogue", lang, n, name)
				}
			}
		}
	}
	if got := Builtin().Number("nb-NO", 123); len(got) != 4 {
		t.Errorf("Number(nb-NO, 123) gave %d clips, want 4", len(got))
	}
}
