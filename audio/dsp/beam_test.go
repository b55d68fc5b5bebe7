package dsp

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/onair-gateway/onair/audio"
)

// TestBeamformerSNRGain checks that for a source in the beam and
// independent white noise at each mic, delay-and-sum improves the SNR by
// 10·log10(M) dB (6.02 dB for 4 mics, 7.78 dB for 6) within 0.5 dB. The
// source is speech-band noise (300–3400 Hz) rendered into the mics with
// 32-tap fractional delays; signal and noise go through separate but
// identical beamformers (it is linear), so each output power is measured
// exactly. Noise is measured in the source's band: that is where the SNR of
// the voice is decided, and where the steering filters are exact.
func TestBeamformerSNRGain(t *testing.T) {
	for _, tc := range []struct {
		geom     audio.Geometry
		channels int // capture channels, extra ones carry loud unrelated noise
		az       []float64
	}{
		{geom4, 4, []float64{0, 30, 137, 250}},
		{geom6, 8, []float64{0, 75, 150, 210, 300, 333}},
	} {
		for _, az := range tc.az {
			t.Run(fmt.Sprintf("M=%d r=%.2fcm az=%v", tc.geom.Mics, tc.geom.Radius*100, az), func(t *testing.T) {
				const n = 48000
				r := rand.New(rand.NewPCG(1, uint64(az)))
				src := bandPass(whiteNoise(r, n, 0.1), 48000, 300, 3400)
				sig := renderArray(src, tc.geom, 48000, az)
				noise := make([][]float32, tc.geom.Mics)
				for i := range noise {
					noise[i] = whiteNoise(r, n, 0.05)
				}
				for len(sig) < tc.channels { // playback references: must be ignored
					loud := whiteNoise(r, n, 0.5)
					sig, noise = append(sig, loud), append(noise, loud)
				}
				f := fmt48(tc.channels, 10*time.Millisecond)
				run := func(x [][]float32) []float32 {
					bf, err := NewBeamformer(f, tc.geom, nil, az)
					if err != nil {
						t.Fatal(err)
					}
					return runStage(bf, f, 1, interleave(x))
				}
				outS, outN := run(sig), run(noise)
				skip := 4800 // filter start-up
				inBand := func(x []float32) []float32 { return bandPass(x, 48000, 300, 3400)[skip:] }
				snrIn := power(sig[0][skip:]) / power(inBand(noise[0]))
				snrOut := power(outS[skip:]) / power(inBand(outN))
				gain := 10 * math.Log10(snrOut/snrIn)
				want := 10 * math.Log10(float64(tc.geom.Mics))
				t.Logf("SNR gain %.2f dB, want %.2f ± 0.5 dB (signal gain %.3f dB)", gain, want,
					10*math.Log10(power(outS[skip:])/power(sig[0][skip:])))
				if math.Abs(gain-want) > 0.5 {
					t.Errorf("SNR gain %.2f dB is not within 0.5 dB of 10·log10(%d) = %.2f dB", gain, tc.geom.Mics, want)
				}
			})
		}
	}
}

// TestBeamformerSteering checks that the beam favours the steered direction:
// for a 2–4 kHz source, steering 180° away loses signal, and Steer takes
// effect (cross-faded) from the next frame.
func TestBeamformerSteering(t *testing.T) {
	const n = 24000
	r := rand.New(rand.NewPCG(7, 7))
	src := bandPass(whiteNoise(r, n, 0.1), 48000, 2000, 4000)
	sig := interleave(renderArray(src, geom6, 48000, 60))
	f := fmt48(6, 10*time.Millisecond)
	bf, err := NewBeamformer(f, geom6, nil, 60)
	if err != nil {
		t.Fatal(err)
	}
	on := power(runStage(bf, f, 1, sig)[4800:])
	bf.Steer(240)
	if got := bf.Azimuth(); got != 240 {
		t.Fatalf("Azimuth() = %v after Steer(240)", got)
	}
	off := power(runStage(bf, f, 1, sig)[4800:])
	t.Logf("on-beam %.2f dB, opposite %.2f dB", 10*math.Log10(on/power(src)), 10*math.Log10(off/power(src)))
	if 10*math.Log10(on/off) < 3 {
		t.Errorf("steering away lost only %.2f dB", 10*math.Log10(on/off))
	}
}

// TestBeamformerLongFrames checks that frames longer than the period are
// processed in periods with the same result.
func TestBeamformerLongFrames(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	chans := make([][]float32, 4)
	for i := range chans {
		chans[i] = whiteNoise(r, 9600, 0.1)
	}
	in := interleave(chans)
	f10, f25 := fmt48(4, 10*time.Millisecond), fmt48(4, 25*time.Millisecond)
	a, _ := NewBeamformer(f10, geom4, []float64{1, -2, 0, 3}, 33)
	b, _ := NewBeamformer(f10, geom4, []float64{1, -2, 0, 3}, 33)
	want := runStage(a, f10, 1, in)
	got := runStage(b, f25, 1, in)
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("sample %d: %v with 25 ms frames, %v with 10 ms", i, got[i], want[i])
		}
	}
}

func TestMonoAndStereo(t *testing.T) {
	// Channel c carries the constant c+1 so each output names its inputs.
	const l = 480
	in := make([]float32, l*4)
	for i := range in {
		in[i] = float32(i%4 + 1)
	}
	f := fmt48(4, 10*time.Millisecond)
	gains := []float64{0, -6, 6, 0}
	g := func(c int) float32 { return float32(FromDB(gains[c])) }

	mono, err := NewMono(f, 3, gains)
	if err != nil {
		t.Fatal(err)
	}
	out := runStage(mono, f, 1, in)
	want := (1*g(0) + 2*g(1) + 3*g(2)) / 3
	for i, v := range out {
		if math.Abs(float64(v-want)) > 1e-6 {
			t.Fatalf("mono sample %d = %v, want the average of channels 0..2 with gains, %v", i, v, want)
		}
	}

	st, err := NewStereo(f, gains)
	if err != nil {
		t.Fatal(err)
	}
	out = runStage(st, f, 2, in)
	for i := 0; i < len(out); i += 2 {
		if out[i] != 1*g(0) || out[i+1] != 2*g(1) {
			t.Fatalf("stereo frame %d = (%v, %v), want channel 0 then channel 1: (%v, %v)", i/2, out[i], out[i+1], 1*g(0), 2*g(1))
		}
	}
}

func TestBeamConstructorErrors(t *testing.T) {
	f := fmt48(4, 10*time.Millisecond)
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"too many mics", func() error { _, e := NewBeamformer(f, geom6, nil, 0); return e }()},
		{"bad geometry", func() error {
			_, e := NewBeamformer(f, audio.Geometry{Shape: "square", Mics: 4}, nil, 0)
			return e
		}()},
		{"gains", func() error { _, e := NewBeamformer(f, geom4, []float64{1}, 0); return e }()},
		{"rate", func() error {
			_, e := NewBeamformer(audio.Format{Channels: 4, Rate: 1000, Period: time.Second}, geom4, nil, 0)
			return e
		}()},
		{"mono mics", func() error { _, e := NewMono(f, 5, nil); return e }()},
		{"stereo of one", func() error { _, e := NewStereo(fmt48(1, time.Millisecond), nil); return e }()},
	} {
		if tc.err == nil {
			t.Errorf("%s: no error", tc.name)
		} else if !errors.Is(tc.err, ErrFormat) {
			t.Errorf("%s: %v does not wrap ErrFormat", tc.name, tc.err)
		}
	}
}
