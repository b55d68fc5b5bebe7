package dsp

import (
	"errors"
	"fmt"
	"math"
	"math/cmplx"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/onair-gateway/onair/audio"
)

func TestFFTMatchesDFT(t *testing.T) {
	for _, n := range []int{4, 8, 64, 512} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(n), 1))
			re, im := make([]float32, n), make([]float32, n)
			x := make([]complex128, n)
			for i := range re {
				re[i], im[i] = float32(r.NormFloat64()), float32(r.NormFloat64())
				x[i] = complex(float64(re[i]), float64(im[i]))
			}
			f, err := NewFFT(n)
			if err != nil {
				t.Fatal(err)
			}
			f.Transform(re, im)
			var maxErr, maxMag float64
			for k := 0; k < n; k++ {
				var want complex128
				for i, v := range x {
					want += v * cmplx.Exp(complex(0, -2*math.Pi*float64(k*i)/float64(n)))
				}
				maxErr = math.Max(maxErr, cmplx.Abs(want-complex(float64(re[k]), float64(im[k]))))
				maxMag = math.Max(maxMag, cmplx.Abs(want))
			}
			if maxErr > 1e-5*maxMag {
				t.Errorf("max error %g against a DFT peak of %g", maxErr, maxMag)
			}
		})
	}
}

// TestDOASpeech16k checks the same at 16 kHz, the rate of captures that
// cannot do 48 kHz.
func TestDOASpeech16k(t *testing.T) {
	speech := decimate48(loadSpeech(t), audio.Rate16k)
	for _, az := range []float64{40, 222} {
		r := rand.New(rand.NewPCG(uint64(az), 3))
		mics := renderArray(speech, geom6, 16000, az)
		nrms := math.Sqrt(power(speech) / 10)
		for i := range mics {
			for j, v := range whiteNoise(r, len(speech), nrms) {
				mics[i][j] += v
			}
		}
		f := audio.Format{Channels: 6, Rate: audio.Rate16k, Period: 10 * time.Millisecond}
		c, err := NewChain(defaultConfig(6, true), geom6, f)
		if err != nil {
			t.Fatal(err)
		}
		runStage(c, f, 1, interleave(mics))
		got, conf := c.DOA()
		t.Logf("talker at %v°: %.1f° (confidence %.2f)", az, got, conf)
		if angleDiff(got, az) > 5 {
			t.Errorf("talker at %v° found at %.1f° at 16 kHz", az, got)
		}
	}
}

// arrayCapture renders a source at azDeg into the mics of geom with
// independent white noise at each mic at snrDB below the source's mean
// power (over the whole signal), and appends refs reference channels of
// unrelated loud noise (the playback loopback of the 6-mic array), which
// the chain must ignore.
func arrayCapture(r *rand.Rand, src []float32, geom audio.Geometry, azDeg, snrDB float64, refs int) []float32 {
	mics := renderArray(src, geom, 48000, azDeg)
	nrms := math.Sqrt(power(src) / math.Pow(10, snrDB/10))
	for i, m := range mics {
		for j, v := range whiteNoise(r, len(m), nrms) {
			mics[i][j] += v
		}
	}
	for ; refs > 0; refs-- {
		mics = append(mics, whiteNoise(r, len(src), 0.3))
	}
	return interleave(mics)
}

// TestDOASpeech checks that the chain finds a talker within 5° on the
// 6-mic circular array (radius 4.63 cm) from recorded speech at 10 dB
// per-mic SNR (white noise, independent per mic), for several azimuths, and
// steers its beam there.
func TestDOASpeech(t *testing.T) {
	speech := loadSpeech(t)
	for _, az := range []float64{0, 75, 123, 150, 210, 300, 347} {
		r := rand.New(rand.NewPCG(uint64(az), 2))
		in := arrayCapture(r, speech, geom6, az, 10, 2)
		for _, period := range []time.Duration{10 * time.Millisecond, 20 * time.Millisecond} {
			t.Run(fmt.Sprintf("az=%v/%v", az, period), func(t *testing.T) {
				f := fmt48(8, period)
				c, err := NewChain(defaultConfig(8, true), geom6, f)
				if err != nil {
					t.Fatal(err)
				}
				runStage(c, f, 1, in)
				got, conf := c.DOA()
				t.Logf("DOA %.1f° (error %.1f°), confidence %.2f, beam at %v°, %d analyses",
					got, angleDiff(got, az), conf, c.Steered(), c.doa.analyses)
				if angleDiff(got, az) > 5 {
					t.Errorf("DOA %.1f° for a talker at %v°: error %.1f° > 5°", got, az, angleDiff(got, az))
				}
				if angleDiff(c.Steered(), az) > 5+steerHysteresisDeg {
					t.Errorf("beam steered at %v° for a talker at %v°", c.Steered(), az)
				}
				if conf < 0.2 {
					t.Errorf("confidence %.2f for a clear talker", conf)
				}
			})
		}
	}
}

// TestDOAIgnoresNoise checks that noise does not drag the estimate: a
// talker at 75° speaks over a fan at 250° (15 dB weaker); then the talker
// stops and the fan runs on for 4 s. The estimate must stay on the talker
// and no analysis may run on the fan alone.
func TestDOAIgnoresNoise(t *testing.T) {
	speech := loadSpeech(t)
	r := rand.New(rand.NewPCG(9, 9))
	n := len(speech) + 4*48000
	talker := make([]float32, n)
	copy(talker, speech)
	fan := bandPass(whiteNoise(r, n, 1), 48000, 200, 4000)
	scale(fan, math.Sqrt(power(speech)/power(fan)/math.Pow(10, 15.0/10)))
	a, b := renderArray(talker, geom6, 48000, 75), renderArray(fan, geom6, 48000, 250)
	for i := range a {
		for j := range a[i] {
			a[i][j] += b[i][j] + float32(r.NormFloat64()*1e-4)
		}
	}
	f := fmt48(6, 10*time.Millisecond)
	c, err := NewChain(defaultConfig(6, true), geom6, f)
	if err != nil {
		t.Fatal(err)
	}
	in := interleave(a)
	split := len(speech) * 6
	runStage(c, f, 1, in[:split])
	az1, conf1 := c.DOA()
	analyses := c.doa.analyses
	runStage(c, f, 1, in[split:])
	az2, conf2 := c.DOA()
	t.Logf("with the talker: %.1f° (%.2f); after 4 s of fan alone: %.1f° (%.2f), %d analyses on the fan",
		az1, conf1, az2, conf2, c.doa.analyses-analyses)
	if angleDiff(az1, 75) > 5 {
		t.Errorf("talker at 75° over a fan found at %.1f°", az1)
	}
	if angleDiff(az2, 75) > 5 {
		t.Errorf("fan dragged the estimate to %.1f°", az2)
	}
	if c.doa.analyses != analyses {
		t.Errorf("%d analyses ran on the fan alone", c.doa.analyses-analyses)
	}
}

// TestDOAStage checks the DOA as a stage on its own: it passes audio
// through untouched and finds the talker with its own voice detector, on a
// linear 2-mic array (ReSpeaker 2-mic HAT) whose estimates lie in 0..180°.
func TestDOAStage(t *testing.T) {
	speech := loadSpeech(t)
	geom := audio.Geometry{Shape: audio.ShapeLinear, Mics: 2, Spacing: 0.058}
	for _, az := range []float64{40, 90, 130} {
		r := rand.New(rand.NewPCG(4, uint64(az)))
		in := arrayCapture(r, speech, geom, az, 20, 0)
		f := fmt48(2, 10*time.Millisecond)
		d, err := NewDOA(f, geom, 300*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		out := runStage(d, f, 2, in)
		for i := range out {
			if out[i] != in[i] {
				t.Fatalf("sample %d changed from %v to %v", i, in[i], out[i])
			}
		}
		got, conf := d.Estimate()
		t.Logf("talker at %v°: %.1f° (confidence %.2f)", az, got, conf)
		if angleDiff(got, az) > 5 {
			t.Errorf("talker at %v° found at %.1f°", az, got)
		}
	}
}

// TestFFTInverse: Inverse undoes Transform up to the factor n, and bad
// sizes are refused with ErrFFTSize instead of a panic.
func TestFFTInverse(t *testing.T) {
	const n = 256
	f, err := NewFFT(n)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(7, 7))
	re, im := make([]float32, n), make([]float32, n)
	x := make([]float32, 2*n)
	for i := range re {
		re[i], im[i] = float32(r.NormFloat64()), float32(r.NormFloat64())
		x[2*i], x[2*i+1] = re[i], im[i]
	}
	f.Transform(re, im)
	f.Inverse(re, im)
	for i := range re {
		if math.Abs(float64(re[i]/n-x[2*i])) > 1e-5 || math.Abs(float64(im[i]/n-x[2*i+1])) > 1e-5 {
			t.Fatalf("sample %d: %v%+vi after the round trip, want %v%+vi", i, re[i]/n, im[i]/n, x[2*i], x[2*i+1])
		}
	}
	if allocs := testing.AllocsPerRun(10, func() { f.Transform(re, im); f.Inverse(re, im) }); allocs != 0 {
		t.Errorf("%v allocations per transform pair", allocs)
	}
	for _, bad := range []int{-1, 0, 2, 3, 12, 1 << 25} {
		if _, err := NewFFT(bad); !errors.Is(err, ErrFFTSize) {
			t.Errorf("NewFFT(%d) = %v, want ErrFFTSize", bad, err)
		}
	}
}
