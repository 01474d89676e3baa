package names

import (
	"testing"

	"brygga/media/tone"
)

func TestTrim(t *testing.T) {
	silence := make([]int16, 8000) // 1 s
	noise := tone.Generate(3000, 8000, 0.001, 8000)
	speech := tone.Generate(400, 8000, 0.1, 4000) // 0.5 s
	rec := append(append(append([]int16{}, silence...), speech...), noise...)
	got := Trim(rec, 8000)
	// 0.5 s of speech plus 100 ms each side.
	if want := 4000 + 2*800; len(got) != want {
		t.Fatalf("trimmed to %d samples, want %d", len(got), want)
	}
	if tone.Power(got, 400, 8000) < -25 {
		t.Fatal("the speech was trimmed away")
	}
	if Trim(append(silence, noise...), 8000) != nil {
		t.Fatal("silence and line noise taken for a name")
	}
	if Trim(nil, 8000) != nil || Trim(speech[:100], 8000) != nil {
		t.Fatal("less than a frame should be no name")
	}
	// Speech right at the edges keeps what there is.
	if got := Trim(speech, 8000); len(got) != len(speech) {
		t.Fatalf("speech filling the recording trimmed to %d of %d", len(got), len(speech))
	}
}
