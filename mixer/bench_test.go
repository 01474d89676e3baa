package mixer

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"brygga/media/codec"
	"brygga/media/tone"
)

// BenchmarkTick mixes one tick of rooms of 10, 100 and 1000 participants,
// half μ-law and half A-law, with 1 or 4 talking. The others send line
// noise at -60 dBFS, as a real jitter buffer would deliver.
func BenchmarkTick(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	hiss := noise(r, 33)
	for _, size := range []int{10, 100, 1000} {
		for _, talkers := range []int{1, 4} {
			b.Run(fmt.Sprintf("members=%d/talkers=%d", size, talkers), func(b *testing.B) {
				m := New(Config{})
				out := &discard{}
				for i := range size {
					c := codec.PCMU
					if i%2 == 1 {
						c = codec.PCMA
					}
					in := &loop{frame: hiss}
					if i < talkers {
						in = &loop{frame: tone.Generate(300+200*float64(i), 8000, 0.2, 160)}
					}
					m.Add(c, in, out)
				}
				m.Tick()
				b.ReportAllocs()
				for b.Loop() {
					m.Tick()
				}
				// The share of the 20 ms budget one tick takes on one core.
				b.ReportMetric(float64(b.Elapsed())/float64(b.N)/float64(FrameDuration)*100, "%frame")
			})
		}
	}
}
