package marks

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/onair-gateway/onair/audio"
)

func TestChirp(t *testing.T) {
	c := Chirp(audio.Rate48k)
	if len(c) != 4800 {
		t.Fatalf("len %d, want 4800", len(c))
	}
	var peak float64
	for _, v := range c {
		peak = math.Max(peak, math.Abs(float64(v)))
	}
	if peak > 1 || peak < 0.99 {
		t.Errorf("peak %v", peak)
	}
	if c[0] != 0 || math.Abs(float64(c[len(c)-1])) > 1e-3 {
		t.Errorf("ends %v %v: not faded", c[0], c[len(c)-1])
	}
	// The instantaneous frequency rises from StartHz to EndHz: count the
	// zero crossings of the first and last 10 ms after the fades.
	freq := func(x []float32) float64 {
		n := 0
		for i := 1; i < len(x); i++ {
			if (x[i-1] < 0) != (x[i] < 0) {
				n++
			}
		}
		return float64(n) / 2 / (float64(len(x)) / 48000)
	}
	if f := freq(c[240:720]); f < StartHz || f > StartHz*1.6 {
		t.Errorf("start frequency %.0f Hz", f)
	}
	if f := freq(c[4080:4560]); f > EndHz || f < EndHz*0.75 {
		t.Errorf("end frequency %.0f Hz", f)
	}
	if n := len(Chirp(audio.Rate16k)); n != 1600 {
		t.Errorf("16 kHz chirp has %d samples", n)
	}
}

func TestClockHelpers(t *testing.T) {
	for _, c := range []struct {
		pos  int64
		want int
	}{{0, 0}, {47999, 47999}, {48000, 0}, {48000*7 + 5, 5}, {-1, 47999}} {
		if got := Offset(c.pos, audio.Rate48k); got != c.want {
			t.Errorf("Offset(%d) = %d, want %d", c.pos, got, c.want)
		}
	}
	at := time.Unix(1700000000, 250e6)
	if got := Start(at); !got.Equal(time.Unix(1700000001, 0)) {
		t.Errorf("Start = %v", got)
	}
	if got := Latency(at); got != 250*time.Millisecond {
		t.Errorf("Latency = %v", got)
	}
}

// stream renders rate·seconds of noise at noiseDB, a tone at toneDB, and
// marks at markDB starting at the given positions.
func stream(seconds float64, noiseDB, toneDB, markDB float64, at []int64) []float32 {
	rng := rand.New(rand.NewPCG(7, 11))
	n := int(seconds * 48000)
	x := make([]float32, n)
	noise, tone := math.Pow(10, noiseDB/20), math.Pow(10, toneDB/20)
	for i := range x {
		x[i] = float32(noise*rng.NormFloat64() + tone*math.Sin(2*math.Pi*1000*float64(i)/48000))
	}
	c := Chirp(audio.Rate48k)
	g := float32(math.Pow(10, markDB/20))
	for _, p := range at {
		for i, v := range c {
			if int(p)+i < n {
				x[int(p)+i] += g * v
			}
		}
	}
	return x
}

func TestDetector(t *testing.T) {
	at := []int64{10000, 48000, 96000 + 123, 150001}
	cases := []struct {
		name              string
		noise, tone, mark float64
		want              []int64
	}{
		{"clean", -90, -200, -20, at},
		{"noisy", -30, -200, -20, at},
		{"over a tone 6 dB below", -50, -26, -20, at},
		{"quiet marks", -70, -200, -55, at},
		{"noise only", -20, -200, -200, nil},
		{"tone only", -90, -6, -200, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			x := stream(3.5, c.noise, c.tone, c.mark, at)
			// Feed blocks of irregular sizes, as packets arrive.
			d := NewDetector(audio.Rate48k)
			var got []int64
			rng := rand.New(rand.NewPCG(3, 5))
			for len(x) > 0 {
				k := min(len(x), 1+rng.IntN(2000))
				got = d.Process(x[:k], got)
				x = x[k:]
			}
			if len(got) != len(c.want) {
				t.Fatalf("found %v, want %v", got, c.want)
			}
			for i := range got {
				if d := got[i] - c.want[i]; d < -1 || d > 1 {
					t.Errorf("mark %d at %d, want %d", i, got[i], c.want[i])
				}
			}
		})
	}
}

func TestDetectorAllocs(t *testing.T) {
	d := NewDetector(audio.Rate48k)
	x := stream(0.02, -40, -200, -200, nil)
	onsets := make([]int64, 0, 16)
	if n := testing.AllocsPerRun(500, func() { onsets = d.Process(x, onsets[:0]) }); n != 0 {
		t.Errorf("Process allocates %v times", n)
	}
}

func BenchmarkDetector(b *testing.B) {
	x := stream(1, -40, -20, -20, []int64{1000})
	d := NewDetector(audio.Rate48k)
	onsets := make([]int64, 0, 16)
	b.ReportAllocs()
	b.SetBytes(int64(len(x) * 4))
	for b.Loop() {
		onsets = d.Process(x, onsets[:0])
	}
}

// A listener detects marks in what it decodes and turns each into a latency.
func ExampleDetector() {
	d := NewDetector(audio.Rate48k)
	// What a listener decoded: silence, then a mark 30 ms after the second.
	x := make([]float32, 48000)
	copy(x[1440:], Chirp(audio.Rate48k))
	start := time.Unix(1700000000, 0) // when sample 0 was heard
	for _, pos := range d.Process(x, nil) {
		heard := start.Add(audio.Rate48k.Duration(int(pos)))
		fmt.Println("mark at sample", pos, "latency", Latency(heard))
	}
	// Output:
	// mark at sample 1440 latency 30ms
}

// A sender puts a mark at every whole second of its sample clock.
func ExampleChirp() {
	c := Chirp(audio.Rate48k)
	frame := make([]float32, 960)
	pos := int64(47520) // sample clock at the start of this frame
	for i := range frame {
		if off := Offset(pos+int64(i), audio.Rate48k); off < len(c) {
			frame[i] = 0.1 * c[off]
		}
	}
	fmt.Println(frame[479] == 0, frame[481] != 0, Offset(pos+480, audio.Rate48k))
	// Output:
	// true true 0
}
