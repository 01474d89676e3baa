package prompts

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// formats are the file types LoadDir reads, in the order it prefers them when
// a name exists in several. Extensions are case-sensitive on purpose: in
// Asterisk ".WAV" is GSM in a WAV wrapper (wav49), not PCM.
var formats = []struct {
	ext    string
	decode func([]byte) ([]int16, error)
}{
	{".wav", parseWAV},
	{".sln", decodeSLN},
	{".raw", decodeSLN},
	{".ulaw", decodeULawFile},
	{".pcm", decodeULawFile}, // Asterisk's format_pcm: .pcm is µ-law
	{".mu", decodeULawFile},
	{".ul", decodeULawFile},
	{".alaw", decodeALawFile},
	{".al", decodeALawFile},
}

// unsupported are Asterisk's other sound formats, named in the error when a
// folder holds nothing else.
var unsupported = []string{".gsm", ".WAV", ".g722", ".g729", ".sln16", ".wav16", ".ilbc", ".siren7", ".siren14", ".g726", ".speex"}

// langDir matches Asterisk language folders: "en", "sv", "en_US", "en_US_f_Allison".
var langDir = regexp.MustCompile(`^[a-z]{2,3}([_-][A-Za-z0-9_-]+)?$`)

// LoadDir reads the catalogue's prompts from an Asterisk sound folder. English
// may sit in the folder itself (<dir>/<name>.<ext>, as when prompts_dir is
// /usr/share/asterisk/sounds/en) or in <dir>/en/; other languages in
// <dir>/<lang>/ (Asterisk's "no" counts as nb, "se" as sv). Formats: .wav
// (8 kHz mono 16-bit PCM, or 8-bit G.711), .sln/.raw, .ulaw/.pcm/.mu/.ul and
// .alaw/.al; GSM and wideband files are not read. Names the folder lacks come
// from the built-in set.
//
// Files are decoded now, so a bad file fails start-up with its path in the
// error, and so does a folder that yields no prompt at all.
func LoadDir(dir string) (*Library, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("prompts: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("prompts: %s is not a folder", dir)
	}
	folders, err := langFolders(dir)
	if err != nil {
		return nil, fmt.Errorf("prompts: %w", err)
	}
	l := &Library{clips: map[string]map[string]*clip{}, next: Builtin()}
	skipped := map[string]int{}
	for _, f := range folders {
		for _, name := range catalogue {
			if l.clips[f.lang][name] != nil {
				continue // a folder earlier in the list already had it
			}
			pcm, err := loadName(filepath.Join(f.path, filepath.FromSlash(name)), skipped)
			if err != nil {
				return nil, fmt.Errorf("prompts: %w", err)
			}
			if pcm != nil {
				l.add(f.lang, name, &clip{pcm: pcm})
			}
		}
	}
	if len(l.clips) == 0 {
		msg := fmt.Sprintf("prompts: %s: no prompt of the catalogue found (looked for e.g. %s.wav, %s.ulaw, en/%s.sln)", dir, GetPin, GetPin, GetPin)
		if len(skipped) > 0 {
			exts := make([]string, 0, len(skipped))
			for e, n := range skipped {
				exts = append(exts, fmt.Sprintf("%d %s", n, e))
			}
			sort.Strings(exts)
			msg += fmt.Sprintf("; found only unsupported formats (%s): install the pack in wav, ulaw or alaw (e.g. asterisk-core-sounds-en-wav)", strings.Join(exts, ", "))
		}
		return nil, errors.New(msg)
	}
	return l, nil
}

type langFolder struct{ lang, path string }

// langFolders lists where to look for each language, best first.
func langFolders(dir string) ([]langFolder, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var exact, variant []langFolder
	for _, e := range entries {
		name := e.Name()
		if !langDir.MatchString(name) {
			continue
		}
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err != nil || !st.IsDir() { // follows symlinks, as Debian's sounds/en is one
			continue
		}
		lang := normLang(name)
		switch lang {
		case "se":
			lang = "sv" // older Asterisk packs used the country code
		}
		if strings.ToLower(name) == lang || name == "no" || name == "se" {
			exact = append(exact, langFolder{lang, p})
		} else {
			variant = append(variant, langFolder{lang, p})
		}
	}
	// A region variant (en_US_f_Allison) only fills what the plain folder lacks,
	// and English files in the folder itself come last.
	return append(append(exact, variant...), langFolder{"en", dir}), nil
}

// LoadSound reads one sound file: base plus the first extension brygga
// decodes (.wav, .sln, .ulaw, …), as in a prompts folder. It returns nil
// and no error when no such file exists. Recorded owner names use it.
func LoadSound(base string) ([]int16, error) {
	return loadName(base, map[string]int{})
}

// loadName reads base plus the first supported extension that exists. It
// returns nil, nil when there is none, counting unsupported look-alikes.
func loadName(base string, skipped map[string]int) ([]int16, error) {
	for _, f := range formats {
		p := base + f.ext
		b, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		pcm, err := f.decode(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		return pcm, nil
	}
	for _, ext := range unsupported {
		if _, err := os.Stat(base + ext); err == nil {
			skipped[ext]++
		}
	}
	return nil, nil
}
