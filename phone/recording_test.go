package phone

import (
	"slices"
	"testing"
	"time"

	"github.com/pion/rtp"
)

func frame(v int16, n int) []int16 {
	f := make([]int16, n)
	for i := range f {
		f[i] = v
	}
	return f
}

func TestRecordingPlacesByTimestamp(t *testing.T) {
	r := newRecording(8000, time.Second)
	now := time.Now()
	r.place(7, 1000, frame(1, 160), now)
	r.place(7, 1320, frame(3, 160), now) // 1160 lost
	r.place(7, 1160, frame(2, 160), now) // arrives late: fills its place
	r.place(7, 1800, frame(4, 160), now) // 1480 and 1640 lost: silence
	got := r.since(0)
	if len(got) != 960 {
		t.Fatalf("%d samples, want 960", len(got))
	}
	want := slices.Concat(frame(1, 160), frame(2, 160), frame(3, 160), frame(0, 320), frame(4, 160))
	if !slices.Equal(got, want) {
		t.Fatal("samples not placed by timestamp")
	}
	if m := r.end; m != 960 {
		t.Errorf("end %d", m)
	}
	if got := r.since(800); !slices.Equal(got, frame(4, 160)) {
		t.Errorf("since(800) = %d samples", len(got))
	}
	if got := r.since(960); len(got) != 0 {
		t.Errorf("since(end) = %d samples", len(got))
	}
}

func TestRecordingTimestampWrap(t *testing.T) {
	r := newRecording(8000, time.Second)
	now := time.Now()
	ts := uint32(1<<32 - 160)
	for i := range 4 {
		r.place(1, ts, frame(int16(i+1), 160), now)
		ts += 160
	}
	want := slices.Concat(frame(1, 160), frame(2, 160), frame(3, 160), frame(4, 160))
	if got := r.since(0); !slices.Equal(got, want) {
		t.Fatalf("wrap: %d samples, not in order", len(got))
	}
}

func TestRecordingKeepsTheNewest(t *testing.T) {
	r := newRecording(8000, 100*time.Millisecond) // 800 samples
	now := time.Now()
	for i := range 20 {
		r.place(1, uint32(i*160), frame(int16(i), 160), now)
	}
	if r.end != 3200 || len(r.buf) != 800 {
		t.Fatalf("end %d, buffer %d", r.end, len(r.buf))
	}
	got := r.since(0)
	want := slices.Concat(frame(15, 160), frame(16, 160), frame(17, 160), frame(18, 160), frame(19, 160))
	if !slices.Equal(got, want) {
		t.Fatal("ring does not hold the newest 800 samples in order")
	}
	// A mark inside what is kept still works; one before it is clipped.
	if got := r.since(3040); !slices.Equal(got, frame(19, 160)) {
		t.Errorf("since(3040) = %d samples from %v", len(got), got[:min(4, len(got))])
	}
	if got := r.since(100); len(got) != 800 {
		t.Errorf("since(old mark) = %d samples", len(got))
	}
	// A packet older than the ring is dropped, a long gap is silence.
	r.place(1, 0, frame(99, 160), now)
	r.place(1, 20*160+400, frame(7, 160), now)
	got = r.since(0)
	if !slices.Equal(got[800-160-400:], slices.Concat(frame(0, 400), frame(7, 160))) {
		t.Error("gap not silent or late packet written")
	}
}

func TestRecordingNewStream(t *testing.T) {
	r := newRecording(8000, time.Second)
	t0 := time.Now()
	r.place(1, 5000, frame(1, 160), t0)
	// A new SSRC with an unrelated timestamp, 100 ms later: it continues
	// after what was heard with the 80 ms of silence the clock says.
	r.place(2, 123456789, frame(2, 160), t0.Add(100*time.Millisecond))
	got := r.since(0)
	want := slices.Concat(frame(1, 160), frame(0, 640), frame(2, 160))
	if !slices.Equal(got, want) {
		t.Fatalf("new stream placed wrong: %d samples", len(got))
	}
	// A timestamp leap of an hour in the same stream is a new timeline, not
	// an hour of silence.
	r.place(2, 123456789+8000*3600, frame(3, 160), t0.Add(120*time.Millisecond))
	if r.end > 2000 {
		t.Fatalf("jump recorded as %d samples", r.end)
	}
}

func TestRecordingDisabled(t *testing.T) {
	r := newRecording(8000, -1)
	r.place(1, 0, frame(1, 160), time.Now())
	r.place(1, 160, frame(1, 160), time.Now())
	if r.end != 320 || len(r.since(0)) != 0 || r.buf != nil {
		t.Errorf("end %d, kept %d", r.end, len(r.since(0)))
	}
}

func TestStreamAccounting(t *testing.T) {
	s := &stream{rate: 8000, frame: 160}
	var p rtp.Packet
	t0 := time.Now()
	for i := range 100 {
		p.SSRC, p.SequenceNumber, p.Timestamp = 9, uint16(65500+i), uint32(1<<32-800+160*i)
		if i == 50 {
			continue // lost
		}
		// Alternately 10 ms early and late around the 20 ms grid.
		off := 10 * time.Millisecond
		if i%2 == 0 {
			off = -off
		}
		at := t0.Add(time.Duration(i)*20*time.Millisecond + off)
		s.account(&p, at, true)
		// A telephone-event packet keeps its start timestamp: no jitter.
		if i%10 == 0 {
			ev := p
			ev.Timestamp = 12345
			s.account(&ev, at, false)
		}
	}
	st := s.stats
	if st.SeqGaps != 1 {
		t.Errorf("SeqGaps %d, want 1 (across the sequence wrap)", st.SeqGaps)
	}
	if st.OutOfOrder != 9 {
		t.Errorf("OutOfOrder %d, want the 9 event packets reusing sequence numbers", st.OutOfOrder)
	}
	// ±10 ms around the grid is a 20 ms transit change per packet, which
	// RFC 3550's estimator settles at.
	if st.Jitter < 18*time.Millisecond || st.Jitter > 21*time.Millisecond {
		t.Errorf("jitter %v, want about 20 ms", st.Jitter)
	}
}
