package sim

import (
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/wav"
	"github.com/onair-gateway/onair/conf"
)

// Geometries and formats of the boards the simulator stands in for.
var (
	geom4    = audio.Geometry{Shape: audio.ShapeCircular, Mics: 4, Radius: 0.0325}
	geom6    = audio.Geometry{Shape: audio.ShapeCircular, Mics: 6, Radius: 0.0463}
	geom2    = audio.Geometry{Shape: audio.ShapeLinear, Mics: 2, Spacing: 0.058}
	geomWide = audio.Geometry{Shape: audio.ShapeLinear, Mics: 2, Spacing: 0.1}
	fmt4     = audio.Format{Channels: 4, Rate: audio.Rate48k, Period: 10 * time.Millisecond}
	fmt8     = audio.Format{Channels: 8, Rate: audio.Rate48k, Period: 10 * time.Millisecond}
	fmt2     = audio.Format{Channels: 2, Rate: audio.Rate48k, Period: 10 * time.Millisecond}
)

// fastCfg is a non-realtime config; tweak fields after the call.
func fastCfg() Config {
	return Config{Realtime: conf.Ptr(false)}
}

func newBoard(t testing.TB, cfg Config, g audio.Geometry, f audio.Format, o Options) *Board {
	t.Helper()
	b, err := New(cfg, g, f, o, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// readChannels reads skip+frames frames, checks that their positions follow
// on, and returns each channel of the last frames frames as float64.
func readChannels(t testing.TB, b *Board, skip, frames int) [][]float64 {
	t.Helper()
	f := b.Format()
	fr := audio.NewFrame(f.Channels, f.Rate, f.Period)
	out := make([][]float64, f.Channels)
	want := int64(-1)
	for k := range skip + frames {
		if err := b.ReadFrame(fr); err != nil {
			t.Fatalf("ReadFrame %d: %v", k, err)
		}
		if want >= 0 && fr.Pos != want {
			t.Fatalf("frame %d: Pos %d, want %d", k, fr.Pos, want)
		}
		want = fr.Pos + int64(fr.Len())
		if k < skip {
			continue
		}
		for i := range fr.Len() {
			for c := range f.Channels {
				out[c] = append(out[c], float64(fr.Samples[i*f.Channels+c]))
			}
		}
	}
	return out
}

// sineFit is the least-squares fit x[n] ≈ a·sin(ωn) + b·cos(ωn) + dc, with n
// counted from n0.
type sineFit struct {
	amp, phase float64 // x ≈ amp·sin(ωn + phase)
	residual   float64 // mean square of what the sine does not explain
}

func fitSine(x []float64, freq, rate float64, n0 int) sineFit {
	w := 2 * math.Pi * freq / rate
	// Normal equations for columns s, c, 1.
	var A [3][3]float64
	var y [3]float64
	for i, v := range x {
		s, c := math.Sincos(w * float64(n0+i))
		col := [3]float64{s, c, 1}
		for r := range 3 {
			for k := range 3 {
				A[r][k] += col[r] * col[k]
			}
			y[r] += col[r] * v
		}
	}
	p := solve3(A, y)
	var res float64
	for i, v := range x {
		s, c := math.Sincos(w * float64(n0+i))
		e := v - (p[0]*s + p[1]*c + p[2])
		res += e * e
	}
	return sineFit{amp: math.Hypot(p[0], p[1]), phase: math.Atan2(p[1], p[0]), residual: res / float64(len(x))}
}

func solve3(A [3][3]float64, y [3]float64) [3]float64 {
	// Gaussian elimination with partial pivoting.
	for c := range 3 {
		p := c
		for r := c + 1; r < 3; r++ {
			if math.Abs(A[r][c]) > math.Abs(A[p][c]) {
				p = r
			}
		}
		A[c], A[p] = A[p], A[c]
		y[c], y[p] = y[p], y[c]
		for r := c + 1; r < 3; r++ {
			f := A[r][c] / A[c][c]
			for k := c; k < 3; k++ {
				A[r][k] -= f * A[c][k]
			}
			y[r] -= f * y[c]
		}
	}
	var x [3]float64
	for r := 2; r >= 0; r-- {
		s := y[r]
		for k := r + 1; k < 3; k++ {
			s -= A[r][k] * x[k]
		}
		x[r] = s / A[r][r]
	}
	return x
}

// wrapPi wraps an angle into (-π, π].
func wrapPi(a float64) float64 {
	a = math.Mod(a+math.Pi, 2*math.Pi)
	if a <= 0 {
		a += 2 * math.Pi
	}
	return a - math.Pi
}

func db(x float64) float64 { return 10 * math.Log10(x) }

func rms(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v * v
	}
	return math.Sqrt(s / float64(len(x)))
}

// The encodings of wavSpec.
const (
	wavPCM   = wav.PCM
	wavFloat = wav.Float
)

// wavSpec describes a WAV file for encodeWAV.
type wavSpec struct {
	format wav.Encoding
	bits   int
	rate   int
}

// encodeWAV returns ch (one slice per channel, full scale ±1) as a WAV file.
func encodeWAV(s wavSpec, ch [][]float64) []byte {
	nc := len(ch)
	pcm := make([]float32, 0, nc*len(ch[0]))
	for i := range ch[0] {
		for c := range nc {
			pcm = append(pcm, float32(ch[c][i]))
		}
	}
	b, err := wav.Encode(wav.Format{Encoding: s.format, Channels: nc, Rate: s.rate, Bits: s.bits}, pcm)
	if err != nil {
		panic(err) // a test's own spec is wrong
	}
	return b
}

// tone returns n samples of amp·sin(2π f i / rate).
func tone(n int, f, rate, amp float64) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = amp * math.Sin(2*math.Pi*f*float64(i)/rate)
	}
	return x
}

func writeFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
