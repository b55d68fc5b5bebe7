package dsp

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/conf"
)

// speechAt returns at least d of the test recording (looped), scaled so its
// active speech level is levelDBFS, over a white noise floor at -85 dBFS.
func speechAt(tb testing.TB, levelDBFS float64, d time.Duration) []float32 {
	s := loadSpeech(tb)
	n := audio.Rate48k.Samples(d)
	x := make([]float32, 0, n+len(s))
	for len(x) < n {
		x = append(x, s...)
	}
	scale(x, math.Pow(10, (levelDBFS-activeLevel(s, 48000))/20))
	r := rand.New(rand.NewPCG(5, 5))
	for i, v := range whiteNoise(r, len(x), FromDB(-85)) {
		x[i] += v
	}
	return x
}

// TestAGCReachesTarget checks that the AGC brings speech at -40 dBFS to its
// target within ±2 dB within 2 s, then holds it, and that its gain is frozen
// in silence.
func TestAGCReachesTarget(t *testing.T) {
	for _, tc := range []struct {
		target, maxGain float64
		period          time.Duration
	}{
		{-18, 30, 10 * time.Millisecond},
		{-18, 30, 20 * time.Millisecond},
		{-24, 30, 10 * time.Millisecond},
		{-30, 30, 10 * time.Millisecond},
		{-18, 12, 10 * time.Millisecond}, // the gain tops out at 12 dB: -28 dBFS
	} {
		t.Run(fmt.Sprintf("target=%v/max=%v/%v", tc.target, tc.maxGain, tc.period), func(t *testing.T) {
			in := speechAt(t, -40, 6*time.Second)
			f := fmt48(1, tc.period)
			agc, err := NewAGC(f, AGCConfig{Enabled: conf.Ptr(true), Target: conf.Ptr(tc.target), MaxGain: conf.Ptr(tc.maxGain)})
			if err != nil {
				t.Fatal(err)
			}
			out := runStage(agc, f, 1, in)
			want := math.Min(tc.target, -40+tc.maxGain)
			from := 2 * 48000
			for _, w := range []struct{ from, to int }{{from, from + 48000}, {from + 48000, len(out)}} {
				got := activeLevel(out[w.from:w.to], 48000)
				t.Logf("%.1f s–%.1f s: speech at %.2f dBFS, want %.1f ± 2", float64(w.from)/48000, float64(w.to)/48000, got, want)
				if math.Abs(got-want) > 2 {
					t.Errorf("speech at -40 dBFS in, %.1f s–%.1f s out: %.2f dBFS, want %.1f ± 2 dB within 2 s",
						float64(w.from)/48000, float64(w.to)/48000, got, want)
				}
			}
			// Silence (the talker stops, the background goes on): the gain
			// must not move.
			g := agc.GainDB()
			runStage(agc, f, 1, whiteNoise(rand.New(rand.NewPCG(1, 1)), 3*48000, FromDB(-85)))
			if agc.GainDB() != g {
				t.Errorf("gain moved from %.2f to %.2f dB in 3 s of silence", g, agc.GainDB())
			}
		})
	}
}

func TestAGCDisabledPassesThrough(t *testing.T) {
	in := speechAt(t, -40, time.Second)
	f := fmt48(1, 10*time.Millisecond)
	agc, err := NewAGC(f, AGCConfig{Enabled: conf.Ptr(false), Target: conf.Ptr(-18.0), MaxGain: conf.Ptr(30.0)})
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range runStage(agc, f, 1, in) {
		if v != in[i] {
			t.Fatalf("sample %d: %v became %v", i, in[i], v)
		}
	}
}

// TestLimiterCeiling checks that with 12 dB of overdrive (peaks 12 dB over
// full scale, 13 dB over a -1 dBFS ceiling) not one output sample exceeds
// the ceiling, for signals that are hard on a look-ahead limiter (isolated
// full-scale clicks after silence, square waves, speech, noise), for frame
// lengths that are and are not multiples of its 1 ms block, and that it
// still lets the signal reach near the ceiling.
func TestLimiterCeiling(t *testing.T) {
	const n = 3 * 48000
	over := FromDB(12)
	r := rand.New(rand.NewPCG(2, 2))
	sine := make([]float32, n)
	square := make([]float32, n)
	clicks := make([]float32, n)
	for i := range sine {
		sine[i] = float32(over * math.Sin(2*math.Pi*1000*float64(i)/48000))
		square[i] = float32(over)
		if (i/37)%2 == 1 {
			square[i] = float32(-over)
		}
		if i%4801 == 4800 {
			clicks[i] = float32(over)
			if i%2 == 0 {
				clicks[i] = float32(-over)
			}
		}
	}
	speech := speechAt(t, -6, 3*time.Second) // peaks ~0 dBFS, then +12 dB
	scale(speech, over)
	noise := whiteNoise(r, n, over/3)
	for _, sig := range []struct {
		name string
		x    []float32
	}{{"sine", sine}, {"square", square}, {"clicks", clicks}, {"speech", speech}, {"noise", noise}} {
		for _, ceil := range []float64{-1, -6} {
			for _, period := range []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 7300 * time.Microsecond} {
				t.Run(fmt.Sprintf("%s/ceiling=%v/%v", sig.name, ceil, period), func(t *testing.T) {
					f := fmt48(1, period)
					lim, err := NewLimiter(f, ceil)
					if err != nil {
						t.Fatal(err)
					}
					out := runStage(lim, f, 1, sig.x)
					c := FromDB(ceil)
					var peak float64
					for i, v := range out {
						a := math.Abs(float64(v))
						if a > c {
							t.Fatalf("12 dB overdrive: sample %d is %.6f (%.3f dBFS), over the %v dBFS ceiling", i, v, DBFS(a), ceil)
						}
						peak = math.Max(peak, a)
					}
					if DBFS(peak) < ceil-1 {
						t.Errorf("output peak %.2f dBFS: limited far below the ceiling", DBFS(peak))
					}
				})
			}
		}
	}
}

// TestLimiterTransparentBelowCeiling checks that a signal under the
// ceiling comes out unchanged, one block late.
func TestLimiterTransparentBelowCeiling(t *testing.T) {
	f := fmt48(2, 10*time.Millisecond)
	lim, err := NewLimiter(f, -1)
	if err != nil {
		t.Fatal(err)
	}
	in := whiteNoise(rand.New(rand.NewPCG(1, 2)), 2*48000, 0.1)
	for i := range in {
		in[i] = float32(math.Max(-0.85, math.Min(0.85, float64(in[i]))))
	}
	out := runStage(lim, f, 2, in)
	d := lim.Latency() * 2
	for i := d; i < len(out); i++ {
		if out[i] != in[i-d] {
			t.Fatalf("sample %d: %v, want %v", i, out[i], in[i-d])
		}
	}
}

// TestGate checks that the gate attenuates noise under its threshold by
// 40 dB, passes a tone over it unchanged, holds open after the tone, and
// opens and closes smoothly.
func TestGate(t *testing.T) {
	const rate = 48000
	f := fmt48(1, 10*time.Millisecond)
	g, err := NewGate(f, -65)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(3, 3))
	quiet := whiteNoise(r, rate, FromDB(-75)) // 1 s under the threshold
	tone := make([]float32, rate)             // 1 s at -30 dBFS RMS
	for i := range tone {
		tone[i] = float32(FromDB(-27) * math.Sin(2*math.Pi*440*float64(i)/rate))
	}
	in := append(append(append([]float32{}, quiet...), tone...), quiet...)
	out := runStage(g, f, 1, in)
	gain := func(from, to int) float64 {
		return 10 * math.Log10(power(out[from:to])/power(in[from:to]))
	}
	if got := gain(rate/2, rate); math.Abs(got-gateFloorDB) > 0.5 {
		t.Errorf("noise under the threshold: gain %.2f dB, want %v", got, gateFloorDB)
	}
	if got := gain(rate+rate/100, 2*rate); math.Abs(got) > 0.01 {
		t.Errorf("tone over the threshold: gain %.3f dB, want 0", got)
	}
	for i := rate + rate/10; i < 2*rate; i++ { // open: exactly unity
		if out[i] != in[i] {
			t.Fatalf("open gate changed sample %d from %v to %v", i, in[i], out[i])
		}
	}
	if got := gain(2*rate, 2*rate+rate/10); math.Abs(got) > 0.01 {
		t.Errorf("100 ms after the tone (hold): gain %.3f dB, want 0", got)
	}
	// Hold 200 ms, then a 100 ms release: 7 time constants later the gain
	// is within 1 dB of the floor.
	if got := gain(2*rate+rate*9/10, 3*rate); math.Abs(got-gateFloorDB) > 1 {
		t.Errorf("900 ms after the tone: gain %.2f dB, want %v", got, gateFloorDB)
	}
	// No step: the gain changes by less than 1/(attack samples) per sample.
	maxStep := 1 - math.Exp(-1/(gateAttack.Seconds()*rate)) + 1e-6
	for i := 1; i < len(in); i++ {
		if in[i] == 0 || in[i-1] == 0 || math.Abs(float64(in[i])) < 1e-3 || math.Abs(float64(in[i-1])) < 1e-3 {
			continue
		}
		g0, g1 := float64(out[i-1]/in[i-1]), float64(out[i]/in[i])
		if math.Abs(g1-g0) > maxStep {
			t.Fatalf("gain stepped from %.4f to %.4f at sample %d", g0, g1, i)
		}
	}
}

func TestDynamicsConstructorErrors(t *testing.T) {
	f := fmt48(1, 10*time.Millisecond)
	if _, err := NewGate(f, 3); err == nil {
		t.Error("gate threshold over 0 dBFS accepted")
	}
	if _, err := NewLimiter(f, 1); err == nil {
		t.Error("limiter ceiling over 0 dBFS accepted")
	}
	if _, err := NewAGC(f, AGCConfig{}); err == nil {
		t.Error("AGC config without defaults accepted")
	}
	if _, err := NewFader(f, time.Microsecond); err == nil {
		t.Error("fade shorter than a sample accepted")
	}
	if _, err := NewHighPass(f, 30000); err == nil {
		t.Error("high-pass corner over Nyquist accepted")
	}
}
