package interop

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"brygga/load"
)

// loadLog gives a run's SIP log a file, shown when the test fails.
func loadLog(t *testing.T) *slog.Logger {
	t.Helper()
	path := filepath.Join(t.TempDir(), "load.log")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		f.Close()
		if t.Failed() || *ShowLogs {
			t.Logf("load generator log:\n%s", TailLines(path, 200))
		}
	})
	return slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func logReport(t *testing.T, rep *load.Report) {
	t.Helper()
	var b bytes.Buffer
	rep.WriteText(&b)
	t.Logf("load report:\n%s", b.String())
}
