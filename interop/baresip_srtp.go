package interop

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// baresipDirs makes the folders startBaresip wants under a fresh temporary
// folder: the run folder, its config folder and the one sndfile writes to.
func baresipDirs(t *testing.T) (dir, cfgDir, dumpDir string) {
	t.Helper()
	dir = t.TempDir()
	cfgDir, dumpDir = filepath.Join(dir, "config"), filepath.Join(dir, "dumps")
	for _, d := range []string{cfgDir, dumpDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir, cfgDir, dumpDir
}

// baresipDump reads the one dump-*-dec.wav baresip's sndfile wrote into
// dumpDir: what it heard.
func baresipDump(t *testing.T, dumpDir string) []int16 {
	t.Helper()
	dumps, _ := filepath.Glob(filepath.Join(dumpDir, "dump-*-dec.wav"))
	if len(dumps) != 1 {
		t.Fatalf("want one dump-*-dec.wav from baresip's sndfile in %s, found %v", dumpDir, dumps)
	}
	pcm, r, err := readWAV(dumps[0])
	if err != nil {
		t.Fatal(err)
	}
	if r != SampleRate {
		t.Fatalf("%s is at %d Hz, want %d", dumps[0], r, SampleRate)
	}
	return pcm
}

// quitBaresip ends a baresip that has no call any more.
func quitBaresip(t *testing.T, p *baresipProc) {
	t.Helper()
	p.command(t, "/quit")
	select {
	case <-p.exited:
		if p.err != nil {
			t.Errorf("baresip exited with %v after /quit", p.err)
		}
	case <-time.After(10 * time.Second):
		t.Error("baresip did not exit within 10 s of /quit")
	}
}
