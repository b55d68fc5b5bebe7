package sim

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/dsp"
	"github.com/onair-gateway/onair/conf"
)

// TestDelays fits the phase of a tone at each mic and checks that the
// delay between every mic and mic 0 is what the geometry says, to 0.05
// sample, for several arrays, azimuths and frequencies.
func TestDelays(t *testing.T) {
	arrays := []struct {
		name string
		g    audio.Geometry
		f    audio.Format
	}{
		{"4mic", geom4, fmt4},
		{"6mic-8ch", geom6, fmt8},
		{"2mic", geom2, fmt2},
		{"linear-10cm", geomWide, fmt2},
	}
	azimuths := []float64{0, 37.5, 90, 133.3, 222.2, 300.7}
	freqs := []float64{500, 1000, 3000}
	for _, a := range arrays {
		for _, freq := range freqs {
			t.Run(fmt.Sprintf("%s/%gHz", a.name, freq), func(t *testing.T) {
				cfg := fastCfg()
				cfg.Frequency = freq
				cfg.SNR = conf.Ptr(120.0)
				b := newBoard(t, cfg, a.g, a.f, Options{})
				w := 2 * math.Pi * freq / float64(a.f.Rate)
				var worst float64
				for _, az := range azimuths {
					b.SetAzimuth(az)
					// One frame for the crossfade to the new position.
					x := readChannels(t, b, 1, 20)
					want := a.g.Delays(az * math.Pi / 180)
					ph0 := fitSine(x[0], freq, float64(a.f.Rate), 0).phase
					for m := 1; m < a.g.Mics; m++ {
						ph := fitSine(x[m], freq, float64(a.f.Rate), 0).phase
						// y_m(n) = sin(ω(n - d_m)) so phase_m = -ω d_m.
						expect := (want[m] - want[0]) * float64(a.f.Rate)
						errSamples := wrapPi((ph0-ph)-w*expect) / w
						worst = max(worst, math.Abs(errSamples))
						if math.Abs(errSamples) > 0.05 {
							t.Errorf("az %v mic %d: delay off by %.4f samples (want %.3f)", az, m, errSamples, expect)
						}
					}
					if got := b.Azimuth(); math.Abs(got-az) > 1e-9 {
						t.Errorf("Azimuth() = %v, want %v", got, az)
					}
				}
				t.Logf("worst delay error %.4f samples", worst)
			})
		}
	}
}

// TestMicDelays checks that MicDelays reports the geometry's delays in
// samples.
func TestMicDelays(t *testing.T) {
	cfg := fastCfg()
	cfg.Azimuth = conf.Ptr(-30.0)
	b := newBoard(t, cfg, geom6, fmt8, Options{})
	if got := b.Azimuth(); math.Abs(got-330) > 1e-9 {
		t.Fatalf("Azimuth() = %v, want 330 (normalised)", got)
	}
	want := geom6.Delays(330 * math.Pi / 180)
	got := b.MicDelays()
	if len(got) != len(want) {
		t.Fatalf("MicDelays has %d entries, want %d", len(got), len(want))
	}
	for m := range want {
		if math.Abs(got[m]-want[m]*48000) > 1e-9 {
			t.Errorf("mic %d: %v samples, want %v", m, got[m], want[m]*48000)
		}
	}
}

// TestLevelAndSNR fits the tone at each mic: its peak must be Level and the
// residual (the noise) SNR dB below the tone's RMS, each within 0.5 dB.
func TestLevelAndSNR(t *testing.T) {
	cases := []struct {
		level, snr float64
		g          audio.Geometry
		f          audio.Format
	}{
		{-20, 40, geom4, fmt4},
		{-6, 10, geom6, fmt8},
		{-40, 0, geom4, fmt4},
		{-30, 25, geom2, fmt2},
		{-60, 60, geom4, fmt4},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("level%v/snr%v/%dmic", c.level, c.snr, c.g.Mics), func(t *testing.T) {
			cfg := fastCfg()
			cfg.Frequency = 1000
			cfg.Level, cfg.SNR = conf.Ptr(c.level), conf.Ptr(c.snr)
			cfg.Azimuth = conf.Ptr(71.0)
			b := newBoard(t, cfg, c.g, c.f, Options{})
			x := readChannels(t, b, 0, 100)
			for m := range c.g.Mics {
				fit := fitSine(x[m], 1000, 48000, 0)
				level := dsp.DBFS(fit.amp)
				snr := db(fit.amp * fit.amp / 2 / fit.residual)
				if math.Abs(level-c.level) > 0.5 {
					t.Errorf("mic %d: level %.2f dBFS, want %v", m, level, c.level)
				}
				if math.Abs(snr-c.snr) > 0.5 {
					t.Errorf("mic %d: SNR %.2f dB, want %v", m, snr, c.snr)
				}
			}
			for ch := c.g.Mics; ch < c.f.Channels; ch++ {
				if r := rms(x[ch]); r != 0 {
					t.Errorf("reference channel %d: RMS %v, want silence", ch, r)
				}
			}
		})
	}
}

// TestNoiseIndependent checks that the per-mic noise of the silence signal
// is uncorrelated between mics and has the level SNR asks for.
func TestNoiseIndependent(t *testing.T) {
	cfg := fastCfg()
	cfg.Signal = SignalSilence
	cfg.Level, cfg.SNR = conf.Ptr(-20.0), conf.Ptr(30.0)
	b := newBoard(t, cfg, geom4, fmt4, Options{})
	x := readChannels(t, b, 0, 100)
	wantRMS := -20 - 3.0103 - 30
	for m := range 4 {
		if got := dsp.DBFS(rms(x[m])); math.Abs(got-wantRMS) > 0.5 {
			t.Errorf("mic %d: noise %.2f dBFS, want %.2f", m, got, wantRMS)
		}
		for k := m + 1; k < 4; k++ {
			if r := corr(x[m], x[k]); math.Abs(r) > 0.03 {
				t.Errorf("mics %d,%d: correlation %.3f, want about 0", m, k, r)
			}
			if r := corr(lowpass(x[m]), lowpass(x[k])); math.Abs(r) > 0.1 {
				t.Errorf("mics %d,%d: low-frequency correlation %.3f, want about 0", m, k, r)
			}
		}
	}
}

// lowpass is a 48-sample moving average: its first null is at 1 kHz.
func lowpass(x []float64) []float64 {
	const n = 48
	y := make([]float64, len(x)-n)
	var s float64
	for i, v := range x {
		s += v
		if i >= n {
			s -= x[i-n]
			y[i-n] = s / n
		}
	}
	return y
}

func corr(a, b []float64) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += a[i] * b[i]
		aa += a[i] * a[i]
		bb += b[i] * b[i]
	}
	return ab / math.Sqrt(aa*bb)
}

// TestDiffuse checks the diffuse field: each mic's level is Config.Diffuse
// within 0.5 dB, and the correlation between mics is the one the rendering
// filters predict (and clearly not zero).
func TestDiffuse(t *testing.T) {
	for _, c := range []struct {
		name string
		g    audio.Geometry
		f    audio.Format
	}{{"4mic", geom4, fmt4}, {"6mic", geom6, fmt8}} {
		t.Run(c.name, func(t *testing.T) {
			cfg := fastCfg()
			cfg.Signal = SignalSilence
			cfg.Diffuse = -35
			cfg.SNR = conf.Ptr(120.0)
			b := newBoard(t, cfg, c.g, c.f, Options{})
			x := readChannels(t, b, 0, 150)
			for m := range c.g.Mics {
				if got := dsp.DBFS(rms(x[m])); math.Abs(got+35) > 0.5 {
					t.Errorf("mic %d: diffuse %.2f dBFS, want -35", m, got)
				}
			}
			// The impulse response from source s to mic m: the integer shift
			// then the taps (stored reversed).
			ir := func(s, m int) []float64 {
				fs := b.diff.sets[s]
				h := make([]float64, b.hlen+1)
				for j, g := range fs.taps[m] {
					h[fs.shift[m]+Taps-1-j] += float64(g)
				}
				return h
			}
			minR := 1.0
			for m := range c.g.Mics {
				for k := m + 1; k < c.g.Mics; k++ {
					var ab, aa, bb float64
					for s := range diffuseSources {
						hm, hk := ir(s, m), ir(s, k)
						for i := range hm {
							ab += hm[i] * hk[i]
							aa += hm[i] * hm[i]
							bb += hk[i] * hk[i]
						}
					}
					want := ab / math.Sqrt(aa*bb)
					if got := corr(x[m], x[k]); math.Abs(got-want) > 0.03 {
						t.Errorf("mics %d,%d: correlation %.3f, filters predict %.3f", m, k, got, want)
					}
					minR = min(minR, corr(lowpass(x[m]), lowpass(x[k])))
				}
			}
			// Below 1 kHz a diffuse field stays coherent across a few
			// centimetres (J0(kd) > 0.5 for kd < 1.5); independent noise
			// would give 0.
			if minR < 0.5 {
				t.Errorf("smallest low-frequency inter-mic correlation %.3f: the field is not diffuse", minR)
			}
		})
	}
}

// TestChirpMarks finds each sweep at each mic by correlation with
// ChirpSweep and checks it starts at ChirpStart plus the mic's delay.
func TestChirpMarks(t *testing.T) {
	cfg := fastCfg()
	cfg.Signal = SignalChirp
	cfg.SNR = conf.Ptr(60.0)
	cfg.Azimuth = conf.Ptr(200.0)
	b := newBoard(t, cfg, geom6, fmt8, Options{})
	x := readChannels(t, b, 0, 350) // sweeps 1, 2 and 3 (sweep 0 starts before Pos 0 at the nearer mics)
	sweep := ChirpSweep(audio.Rate48k)
	delays := b.MicDelays()
	for m := range 6 {
		for k := int64(1); k <= 3; k++ {
			want := float64(ChirpStart(audio.Rate48k, k)) + delays[m]
			lo := int(math.Floor(want)) - 20
			got := peakLag(x[m], sweep, lo, lo+40)
			if math.Abs(got-want) > 0.2 {
				t.Errorf("mic %d sweep %d: starts at %.2f, want %.2f", m, k, got, want)
			}
		}
	}
	// Between sweeps the talker is silent: only the noise floor remains.
	gap := x[0][ChirpStart(audio.Rate48k, 1)-4800 : ChirpStart(audio.Rate48k, 1)-100]
	if got, floor := dsp.DBFS(rms(gap)), -20-3.01-60.0; math.Abs(got-floor) > 1 {
		t.Errorf("gap between sweeps at %.1f dBFS, want the noise floor %.1f", got, floor)
	}
}

// peakLag returns the lag in [lo, hi) where x best matches ref, refined by a
// parabola through the peak.
func peakLag(x []float64, ref []float32, lo, hi int) float64 {
	c := func(l int) float64 {
		var s float64
		for i, r := range ref {
			if l+i < len(x) {
				s += x[l+i] * float64(r)
			}
		}
		return s
	}
	best, bv := lo, math.Inf(-1)
	for l := lo; l < hi; l++ {
		if v := c(l); v > bv {
			best, bv = l, v
		}
	}
	a, m, z := c(best-1), bv, c(best+1)
	return float64(best) + 0.5*(a-z)/(a-2*m+z)
}

// TestMovingTalker moves the talker from another goroutine while frames are
// read (the race detector watches), then checks the delays follow.
func TestMovingTalker(t *testing.T) {
	cfg := fastCfg()
	cfg.Frequency = 1000
	cfg.SNR = conf.Ptr(120.0)
	b := newBoard(t, cfg, geom4, fmt4, Options{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for az := 0.0; az < 360; az += 15 {
			b.SetAzimuth(az)
			_ = b.Azimuth()
		}
	})
	fr := audio.NewFrame(4, audio.Rate48k, fmt4.Period)
	for range 50 {
		if err := b.ReadFrame(fr); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	b.SetAzimuth(45)
	x := readChannels(t, b, 1, 10)
	want := geom4.Delays(math.Pi / 4)
	w := 2 * math.Pi * 1000 / 48000.0
	ph0 := fitSine(x[0], 1000, 48000, 0).phase
	for m := 1; m < 4; m++ {
		ph := fitSine(x[m], 1000, 48000, 0).phase
		if e := wrapPi(ph0-ph-w*(want[m]-want[0])*48000) / w; math.Abs(e) > 0.05 {
			t.Errorf("after the move, mic %d delay off by %.3f samples", m, e)
		}
	}
}

// TestMoveIsSmooth checks that a jump of the talker fades over one frame:
// no sample-to-sample step larger than the tone itself can make.
func TestMoveIsSmooth(t *testing.T) {
	cfg := fastCfg()
	cfg.Frequency = 300
	cfg.Level = conf.Ptr(-6.0)
	cfg.SNR = conf.Ptr(120.0)
	cfg.Azimuth = conf.Ptr(0.0)
	b := newBoard(t, cfg, geom6, fmt8, Options{})
	readChannels(t, b, 0, 2)
	b.SetAzimuth(180)
	fr := audio.NewFrame(8, audio.Rate48k, fmt8.Period)
	if err := b.ReadFrame(fr); err != nil {
		t.Fatal(err)
	}
	// A sine of peak A changes by at most A·ω per sample.
	maxStep := dsp.FromDB(-6) * 2 * math.Pi * 300 / 48000 * 1.05
	for m := range 6 {
		for i := 1; i < fr.Len(); i++ {
			if d := math.Abs(float64(fr.Samples[i*8+m] - fr.Samples[(i-1)*8+m])); d > maxStep {
				t.Fatalf("mic %d sample %d: step %.4f > %.4f: the move clicks", m, i, d, maxStep)
			}
		}
	}
}

// TestReference checks that channels beyond the mics carry the looped
// reference, sample-aligned with Pos.
func TestReference(t *testing.T) {
	ref := []float32{0.1, -0.2, 0.3, -0.4, 0.5, 0.25, 0.125}
	cfg := fastCfg()
	b := newBoard(t, cfg, geom6, fmt8, Options{Reference: ref})
	ref[0] = 9 // the board copied it
	x := readChannels(t, b, 0, 3)
	for ch := 6; ch < 8; ch++ {
		for i, v := range x[ch] {
			want := []float32{0.1, -0.2, 0.3, -0.4, 0.5, 0.25, 0.125}[i%7]
			if float32(v) != want {
				t.Fatalf("channel %d sample %d: %v, want %v", ch, i, v, want)
			}
		}
	}
}

// TestLineIn checks the stereo line input: no array delays, L is the
// signal, R is L at -6 dB, both with independent noise at SNR.
func TestLineIn(t *testing.T) {
	cfg := fastCfg()
	cfg.Frequency = 1000
	cfg.Level, cfg.SNR = conf.Ptr(-12.0), conf.Ptr(50.0)
	cfg.Diffuse = -40 // ignored on a line input
	b := newBoard(t, cfg, audio.Geometry{}, fmt2, Options{LineIn: true})
	x := readChannels(t, b, 0, 50)
	l, r := fitSine(x[0], 1000, 48000, 0), fitSine(x[1], 1000, 48000, 0)
	if got := dsp.DBFS(l.amp); math.Abs(got+12) > 0.1 {
		t.Errorf("left at %.2f dBFS, want -12", got)
	}
	if got := dsp.DBFS(r.amp); math.Abs(got+18.02) > 0.1 {
		t.Errorf("right at %.2f dBFS, want -18 (left - 6 dB)", got)
	}
	// Phase 0 at Pos 0: no delay at all.
	if math.Abs(l.phase) > 1e-3 || math.Abs(r.phase) > 1e-3 {
		t.Errorf("phases %v, %v: want 0 (no array delay)", l.phase, r.phase)
	}
	if snr := db(l.amp * l.amp / 2 / l.residual); math.Abs(snr-50) > 0.5 {
		t.Errorf("left SNR %.2f, want 50", snr)
	}
	if _, err := New(cfg, audio.Geometry{}, fmt4, Options{LineIn: true}, nil); err == nil {
		t.Error("line input with 4 channels: want an error")
	}
}

// TestNewErrors checks that bad arguments are rejected with errors that say
// what is wrong.
func TestNewErrors(t *testing.T) {
	bad := fastCfg()
	bad.Signal = "speech"
	bad.Frequency = 5
	cases := []struct {
		name string
		cfg  Config
		g    audio.Geometry
		f    audio.Format
		want string
	}{
		{"config", bad, geom4, fmt4, "frequency"},
		{"geometry", fastCfg(), audio.Geometry{Shape: "square", Mics: 4}, fmt4, "geometry"},
		{"too many mics", fastCfg(), geom6, fmt4, "do not fit"},
		{"rate", fastCfg(), geom4, audio.Format{Channels: 4, Rate: 4000, Period: fmt4.Period}, "sample rate"},
		{"period", fastCfg(), geom4, audio.Format{Channels: 4, Rate: audio.Rate48k}, "period"},
		{"wav missing", Config{Signal: SignalWAV, File: "/nonexistent/x.wav"}, geom4, fmt4, "/nonexistent/x.wav"},
		{"tone above nyquist", Config{Frequency: 9000}, geom4, audio.Format{Channels: 4, Rate: audio.Rate16k, Period: fmt4.Period}, "Nyquist"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(c.cfg, c.g, c.f, Options{}, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one mentioning %q", err, c.want)
			}
		})
	}
	// Config errors keep their field paths.
	_, err := New(bad, geom4, fmt4, Options{}, nil)
	var fe *conf.FieldError
	if !errors.As(err, &fe) {
		t.Errorf("config error %v is not a *conf.FieldError", err)
	}
}

// TestFrameMismatch checks that a frame of the wrong shape is refused.
func TestFrameMismatch(t *testing.T) {
	b := newBoard(t, fastCfg(), geom4, fmt4, Options{})
	for _, fr := range []*audio.Frame{
		audio.NewFrame(2, audio.Rate48k, fmt4.Period),
		audio.NewFrame(4, audio.Rate48k, fmt4.Period/2),
	} {
		if err := b.ReadFrame(fr); !errors.Is(err, ErrFrameFormat) {
			t.Errorf("frame %dx%d: err = %v, want ErrFrameFormat", fr.Channels, fr.Len(), err)
		}
	}
}

// TestOtherRate runs the renderer at 16 kHz with 20 ms frames.
func TestOtherRate(t *testing.T) {
	f := audio.Format{Channels: 4, Rate: audio.Rate16k, Period: 20 * time.Millisecond}
	cfg := fastCfg()
	cfg.Frequency = 700
	cfg.SNR = conf.Ptr(120.0)
	cfg.Azimuth = conf.Ptr(10.0)
	b := newBoard(t, cfg, geom4, f, Options{})
	x := readChannels(t, b, 1, 50)
	want := geom4.Delays(10 * math.Pi / 180)
	w := 2 * math.Pi * 700 / 16000.0
	ph0 := fitSine(x[0], 700, 16000, 0).phase
	for m := 1; m < 4; m++ {
		ph := fitSine(x[m], 700, 16000, 0).phase
		if e := wrapPi(ph0-ph-w*(want[m]-want[0])*16000) / w; math.Abs(e) > 0.05 {
			t.Errorf("16 kHz mic %d: delay off by %.3f samples", m, e)
		}
	}
}
