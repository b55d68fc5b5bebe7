package sim

import (
	"testing"
	"time"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/conf"
)

// boardCases are the configurations the allocation test and the benchmark
// run: the plain 4-mic array, the 8-channel 6-mic board with references, and
// the heavier variants.
func boardCases(tb testing.TB) []struct {
	name string
	cfg  Config
	g    audio.Geometry
	f    audio.Format
	o    Options
} {
	tb.Helper()
	wav := writeFile(tb, "talker.wav", encodeWAV(wavSpec{wavPCM, 16, 44100},
		[][]float64{tone(11025, 440, 44100, 0.3), tone(11025, 660, 44100, 0.3)})) // 0.25 s
	withSignal := func(s SignalKind) Config { c := fastCfg(); c.Signal = s; c.File = wav; return c }
	diffuse := fastCfg()
	diffuse.Diffuse = -50
	return []struct {
		name string
		cfg  Config
		g    audio.Geometry
		f    audio.Format
		o    Options
	}{
		{"4mic", fastCfg(), geom4, fmt4, Options{}},
		{"8ch", fastCfg(), geom6, fmt8, Options{Reference: []float32{0.1, 0.2, 0.3}}},
		{"4mic-wav", withSignal(SignalWAV), geom4, fmt4, Options{}},
		{"4mic-chirp", withSignal(SignalChirp), geom4, fmt4, Options{}},
		{"4mic-diffuse", diffuse, geom4, fmt4, Options{}},
		{"8ch-diffuse", diffuse, geom6, fmt8, Options{}},
		{"linein-wav", withSignal(SignalWAV), audio.Geometry{}, fmt2, Options{LineIn: true}},
	}
}

// TestReadFrameAllocs checks that ReadFrame does not allocate, in fast mode
// for every configuration, and while the talker moves.
func TestReadFrameAllocs(t *testing.T) {
	for _, c := range boardCases(t) {
		t.Run(c.name, func(t *testing.T) {
			b := newBoard(t, c.cfg, c.g, c.f, c.o)
			fr := audio.NewFrame(c.f.Channels, c.f.Rate, c.f.Period)
			if n := testing.AllocsPerRun(50, func() {
				if err := b.ReadFrame(fr); err != nil {
					t.Fatal(err)
				}
			}); n != 0 {
				t.Errorf("%v allocations per ReadFrame, want 0", n)
			}
		})
	}
}

// TestReadFrameAllocsRealtime checks the paced path on the real clock (ten
// frames, 100 ms): waiting on the timer does not allocate either.
func TestReadFrameAllocsRealtime(t *testing.T) {
	cfg := fastCfg()
	cfg.Realtime = conf.Ptr(true)
	b := newBoard(t, cfg, geom4, fmt4, Options{})
	fr := audio.NewFrame(4, audio.Rate48k, 10*time.Millisecond)
	if err := b.ReadFrame(fr); err != nil { // creates the timer
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(10, func() {
		if err := b.ReadFrame(fr); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("%v allocations per paced ReadFrame, want 0", n)
	}
}

// BenchmarkReadFrame measures one 10 ms frame at 48 kHz in fast mode.
func BenchmarkReadFrame(b *testing.B) {
	for _, c := range boardCases(b) {
		b.Run(c.name, func(b *testing.B) {
			bd := newBoard(b, c.cfg, c.g, c.f, c.o)
			fr := audio.NewFrame(c.f.Channels, c.f.Rate, c.f.Period)
			b.ReportAllocs()
			b.SetBytes(int64(len(fr.Samples) * 4))
			for b.Loop() {
				if err := bd.ReadFrame(fr); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
