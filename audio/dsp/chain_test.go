package dsp

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/conf"
)

// plainConfig is a chain config with the level-changing stages out of the
// way (no gate, AGC, high-pass; limiter at 0 dBFS), so the mix can be
// measured.
func plainConfig(ch int, beam BeamMode, gains []float64) Config {
	c := Config{
		Beam:     beam,
		Gains:    gains,
		HighPass: conf.Ptr(0.0),
		Gate:     conf.Ptr(-100.0),
		Limiter:  conf.Ptr(0.0),
		AGC:      AGCConfig{Enabled: conf.Ptr(false)},
	}
	c.SetDefaults(ch, false)
	return c
}

// TestChainStereoPassThrough checks that the stereo beam keeps channels 0
// and 1 in order, applies each its own gain, and ignores further channels.
func TestChainStereoPassThrough(t *testing.T) {
	const n = 48000
	tone := func(freq float64) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(0.1 * math.Sin(2*math.Pi*freq*float64(i)/48000))
		}
		return x
	}
	left, right, other := tone(500), tone(1500), tone(3000)
	gains := []float64{-6, 3, 0}
	f := fmt48(3, 10*time.Millisecond)
	c, err := NewChain(plainConfig(3, BeamStereo, gains), audio.Geometry{}, f)
	if err != nil {
		t.Fatal(err)
	}
	if c.OutChannels() != 2 {
		t.Fatalf("OutChannels() = %d, want 2", c.OutChannels())
	}
	c.SetOnAir(true)
	out := runStage(c, f, 2, interleave([][]float32{left, right, other}))
	d := c.Latency()
	for ch, want := range [][]float32{left, right} {
		y := channel(out, ch, 2)
		g := float32(FromDB(gains[ch]))
		for i := 4800; i < len(y); i++ {
			if math.Abs(float64(y[i]-want[i-d]*g)) > 1e-6 {
				t.Fatalf("output channel %d sample %d = %v, want input channel %d × %v dB = %v",
					ch, i, y[i], ch, gains[ch], want[i-d]*g)
			}
		}
	}
}

// TestChainDCAndGains checks, for each beam mode, that a DC offset on the
// capture is gone from the output and that calibration gains apply per
// channel: a mic 6 dB too hot, corrected by a -6 dB gain, gives the same
// output as matched mics.
func TestChainDCAndGains(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	src := bandPass(whiteNoise(r, 2*48000, 0.2), 48000, 300, 3400)
	for _, tc := range []struct {
		beam BeamMode
		geom audio.Geometry
		ch   int
	}{
		{BeamFixed, geom4, 4},
		{BeamDOA, geom6, 8},
		{BeamMono, audio.Geometry{Shape: audio.ShapeLinear, Mics: 2, Spacing: 0.058}, 2},
		{BeamStereo, audio.Geometry{}, 2},
	} {
		t.Run(string(tc.beam), func(t *testing.T) {
			m := max(tc.geom.Mics, 2)
			mics := renderArray(src, audio.Geometry{Shape: tc.geom.Shape, Mics: m, Radius: tc.geom.Radius, Spacing: 0.058}, 48000, 90)
			for len(mics) < tc.ch {
				mics = append(mics, make([]float32, len(src)))
			}
			run := func(hot bool) []float32 {
				chans := make([][]float32, tc.ch)
				gains := make([]float64, tc.ch)
				for i := range chans {
					chans[i] = make([]float32, len(src))
					for j, v := range mics[i] {
						chans[i][j] = v + 0.1 // DC offset on every channel
					}
				}
				if hot {
					scale(chans[1], FromDB(6))
					gains[1] = -6
				}
				cfg := plainConfig(tc.ch, tc.beam, gains)
				cfg.HighPass = conf.Ptr(80.0)
				cfg.Azimuth = conf.Ptr(90.0)
				c, err := NewChain(cfg, tc.geom, fmt48(tc.ch, 10*time.Millisecond))
				if err != nil {
					t.Fatal(err)
				}
				c.SetOnAir(true)
				return runStage(c, fmt48(tc.ch, 10*time.Millisecond), c.OutChannels(), interleave(chans))
			}
			matched, hot := run(false), run(true)
			settled := len(matched) / 2
			var mean float64
			for _, v := range matched[settled:] {
				mean += float64(v)
			}
			mean /= float64(len(matched) - settled)
			if math.Abs(mean) > 1e-4 {
				t.Errorf("DC %.5f left of 0.1", mean)
			}
			diff := make([]float32, len(hot)-settled)
			for i := range diff {
				diff[i] = hot[settled+i] - matched[settled+i]
			}
			if e := 10 * math.Log10(power(diff)/power(matched[settled:])); e > -60 {
				t.Errorf("a hot mic corrected by its gain differs from matched mics by %.1f dB", e)
			}
		})
	}
}

// TestMeters checks the input and output meters and the voice flag.
func TestMeters(t *testing.T) {
	f := fmt48(4, 10*time.Millisecond)
	cfg := plainConfig(4, BeamMono, nil)
	c, err := NewChain(cfg, audio.Geometry{Shape: audio.ShapeLinear, Mics: 4, Spacing: 0.02}, f)
	if err != nil {
		t.Fatal(err)
	}
	c.SetOnAir(true)
	// Half a second of silence, then on channel 2 two seconds of a 1 kHz
	// sine peaking at -6 dBFS (RMS -9.03 dBFS); the others stay silent.
	// The mono mix is a quarter of it: -18 dBFS peak.
	const n = 48000
	chans := [][]float32{make([]float32, 2*n+n/2), make([]float32, 2*n+n/2), make([]float32, 2*n+n/2), make([]float32, 2*n+n/2)}
	for i := n / 2; i < len(chans[2]); i++ {
		chans[2][i] = float32(FromDB(-6) * math.Sin(2*math.Pi*1000*float64(i)/48000))
	}
	runStage(c, f, 1, interleave(chans))
	m := c.Meters()
	near := func(name string, got, want, tol float64) {
		if math.Abs(got-want) > tol {
			t.Errorf("%s = %.2f dBFS, want %.2f ± %v", name, got, want, tol)
		}
	}
	near("In[2].Peak", m.In[2].PeakDBFS, -6, 0.05)
	near("In[2].RMS", m.In[2].RMSDBFS, -9.03, 0.05)
	near("In[0].Peak", m.In[0].PeakDBFS, -120, 0)
	near("Out[0].Peak", m.Out[0].PeakDBFS, -6-12.04, 0.05)
	near("Out[0].RMS", m.Out[0].RMSDBFS, -9.03-12.04, 0.05)
	if !m.Voice {
		t.Error("no voice during a tone")
	}
	// Two seconds of silence: the peak falls 20 dB in 1.7 s, the RMS
	// drops, the voice flag clears.
	runStage(c, f, 1, make([]float32, 2*n*4))
	m = c.Meters()
	if m.In[2].PeakDBFS > -6-20 || m.In[2].RMSDBFS > -9-25 || m.Voice {
		t.Errorf("after 2 s of silence: %+v, voice %v", m.In[2], m.Voice)
	}
}

// TestChainInvalidAndRejected checks that NaN input is replaced by silence
// and counted, and a frame of the wrong shape is rejected and counted.
func TestChainInvalidAndRejected(t *testing.T) {
	f := fmt48(4, 10*time.Millisecond)
	c, err := NewChain(defaultConfig(4, true), geom4, f)
	if err != nil {
		t.Fatal(err)
	}
	c.SetOnAir(true)
	src := audio.NewFrame(4, audio.Rate48k, 10*time.Millisecond)
	dst := audio.NewFrame(1, audio.Rate48k, 10*time.Millisecond)
	for i := range src.Samples {
		src.Samples[i] = 0.1
	}
	src.Samples[5] = float32(math.NaN())
	src.Samples[9] = float32(math.Inf(1))
	for k := 0; k < 20; k++ {
		c.Process(dst, src)
		for i, v := range dst.Samples {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("frame %d sample %d = %v", k, i, v)
			}
		}
	}
	c.Process(dst, audio.NewFrame(2, audio.Rate48k, 10*time.Millisecond))
	c.Process(dst, audio.NewFrame(4, audio.Rate16k, 30*time.Millisecond)) // 480 samples, wrong rate
	m := c.Meters()
	if m.Invalid != 20 || m.Rejected != 2 {
		t.Errorf("Invalid = %d, Rejected = %d, want 20 and 2", m.Invalid, m.Rejected)
	}
}

func TestNewChainErrors(t *testing.T) {
	good := fmt48(8, 10*time.Millisecond)
	for _, tc := range []struct {
		name string
		cfg  Config
		geom audio.Geometry
		in   audio.Format
	}{
		{"no channels", defaultConfig(0, true), geom6, audio.Format{Rate: audio.Rate48k, Period: 10 * time.Millisecond}},
		{"rate", defaultConfig(8, true), geom6, audio.Format{Channels: 8, Rate: 4000, Period: 10 * time.Millisecond}},
		{"no period", defaultConfig(8, true), geom6, audio.Format{Channels: 8, Rate: audio.Rate48k}},
		{"more mics than channels", defaultConfig(4, true), geom6, fmt48(4, 10*time.Millisecond)},
		{"bad geometry", defaultConfig(8, true), audio.Geometry{Shape: audio.ShapeCircular, Mics: 6}, good},
		{"bad config", Config{Beam: "cardioid"}, geom6, good},
		{"gains", Config{Gains: []float64{1, 2}}, geom6, good},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewChain(tc.cfg, tc.geom, tc.in)
			if !errors.Is(err, ErrFormat) {
				t.Errorf("err = %v, want ErrFormat", err)
			}
		})
	}
}

// chainCases are the chain configurations the allocation tests and the
// benchmarks run.
var chainCases = []struct {
	name   string
	geom   audio.Geometry
	ch     int
	beam   BeamMode
	period time.Duration
	rate   audio.SampleRate
}{
	{"4mic-fixed/10ms", geom4, 4, BeamFixed, 10 * time.Millisecond, audio.Rate48k},
	{"4mic-fixed/20ms", geom4, 4, BeamFixed, 20 * time.Millisecond, audio.Rate48k},
	{"6mic-doa-8ch/10ms", geom6, 8, BeamDOA, 10 * time.Millisecond, audio.Rate48k},
	{"6mic-doa-8ch/20ms", geom6, 8, BeamDOA, 20 * time.Millisecond, audio.Rate48k},
	{"6mic-doa-8ch-16k/10ms", geom6, 8, BeamDOA, 10 * time.Millisecond, audio.Rate16k},
	{"stereo/20ms", audio.Geometry{}, 2, BeamStereo, 20 * time.Millisecond, audio.Rate48k},
	{"mono/20ms", audio.Geometry{Shape: audio.ShapeLinear, Mics: 2, Spacing: 0.058}, 2, BeamMono, 20 * time.Millisecond, audio.Rate48k},
}

// chainInput renders 2 s of speech at 120° with noise into the capture of a
// chain case, as whole frames, so that voice detection, DOA analyses and
// re-steering all happen while it plays.
func chainInput(tb testing.TB, geom audio.Geometry, ch int, rate audio.SampleRate, period time.Duration) [][]float32 {
	speech := decimate48(loadSpeech(tb)[48000:48000*3], rate)
	r := rand.New(rand.NewPCG(6, 6))
	var in []float32
	if geom.Mics >= 2 {
		mics := renderArray(speech, geom, float64(rate), 120)
		for i := range mics {
			for j, v := range whiteNoise(r, len(speech), 0.003) {
				mics[i][j] += v
			}
		}
		for len(mics) < ch {
			mics = append(mics, whiteNoise(r, len(speech), 0.1))
		}
		in = interleave(mics)
	} else {
		chans := make([][]float32, ch)
		for i := range chans {
			chans[i] = speech
		}
		in = interleave(chans)
	}
	l := rate.Samples(period) * ch
	var frames [][]float32
	for i := 0; i+l <= len(in); i += l {
		frames = append(frames, in[i:i+l])
	}
	return frames
}

// TestChainAllocs checks that Chain.Process allocates nothing once built,
// including on frames that run a DOA analysis and re-steer the beam.
func TestChainAllocs(t *testing.T) {
	for _, tc := range chainCases {
		t.Run(tc.name, func(t *testing.T) {
			f := audio.Format{Channels: tc.ch, Rate: tc.rate, Period: tc.period}
			cfg := defaultConfig(tc.ch, tc.geom.Shape == audio.ShapeCircular)
			cfg.Beam = tc.beam
			c, err := NewChain(cfg, tc.geom, f)
			if err != nil {
				t.Fatal(err)
			}
			c.SetOnAir(true)
			frames := chainInput(t, tc.geom, tc.ch, tc.rate, tc.period)
			src := audio.NewFrame(tc.ch, tc.rate, tc.period)
			dst := audio.NewFrame(c.OutChannels(), tc.rate, tc.period)
			i := 0
			step := func() {
				copy(src.Samples, frames[i%len(frames)])
				i++
				c.Process(dst, src)
			}
			for k := 0; k < 20; k++ { // warm-up
				step()
			}
			if a := testing.AllocsPerRun(len(frames), step); a != 0 {
				t.Errorf("Process allocates %v times per frame", a)
			}
			if c.doa != nil && c.doa.analyses == 0 {
				t.Error("no DOA analysis ran: the test did not cover it")
			}
		})
	}
}

// stageCases builds every stage on its own for the allocation tests and
// benchmarks: 8-channel capture stages, 1-channel output stages.
func stageCases(tb testing.TB, period time.Duration) []struct {
	name    string
	st      audio.Stage
	in, out int
} {
	in8, out1 := fmt48(8, period), fmt48(1, period)
	cfg := defaultConfig(8, true)
	must := func(st audio.Stage, err error) audio.Stage {
		if err != nil {
			tb.Fatal(err)
		}
		return st
	}
	fader, _ := NewFader(out1, 10*time.Millisecond)
	fader.SetOnAir(true)
	return []struct {
		name    string
		st      audio.Stage
		in, out int
	}{
		{"HighPass-8ch", must(NewHighPass(in8, 80)), 8, 8},
		{"HighPass-1ch", must(NewHighPass(out1, 80)), 1, 1},
		{"Gain-8ch", must(NewGain(in8, []float64{1, 2, 3, 4, 5, 6, 7, 8})), 8, 8},
		{"Beamformer-6mic", must(NewBeamformer(in8, geom6, nil, 120)), 8, 1},
		{"DOA-6mic", must(NewDOA(in8, geom6, 300*time.Millisecond)), 8, 8},
		{"Mono-6", must(NewMono(in8, 6, nil)), 8, 1},
		{"Stereo", must(NewStereo(in8, nil)), 8, 2},
		{"Meter-8ch", must(NewMeter(in8)), 8, 8},
		{"Gate", must(NewGate(out1, *cfg.Gate)), 1, 1},
		{"AGC", must(NewAGC(out1, cfg.AGC)), 1, 1},
		{"Limiter", must(NewLimiter(out1, *cfg.Limiter)), 1, 1},
		{"Fader", fader, 1, 1},
	}
}

// stageInput turns chain input frames (8 channels) into frames for a stage
// taking in channels: the first in channels.
func stageInput(frames [][]float32, in int) [][]float32 {
	if in == 8 {
		return frames
	}
	out := make([][]float32, len(frames))
	for k, fr := range frames {
		x := make([]float32, len(fr)/8*in)
		for i := range x {
			x[i] = fr[i/in*8+i%in] * 20 // output stages see a louder signal
		}
		out[k] = x
	}
	return out
}

// TestStageAllocs checks that every stage alone allocates nothing per
// frame after warm-up.
func TestStageAllocs(t *testing.T) {
	frames := chainInput(t, geom6, 8, audio.Rate48k, 10*time.Millisecond)
	for _, sc := range stageCases(t, 10*time.Millisecond) {
		t.Run(sc.name, func(t *testing.T) {
			in := stageInput(frames, sc.in)
			src := audio.NewFrame(sc.in, audio.Rate48k, 10*time.Millisecond)
			dst := audio.NewFrame(sc.out, audio.Rate48k, 10*time.Millisecond)
			i := 0
			step := func() {
				copy(src.Samples, in[i%len(in)])
				i++
				sc.st.Process(dst, src)
			}
			for k := 0; k < 20; k++ {
				step()
			}
			if a := testing.AllocsPerRun(len(in), step); a != 0 {
				t.Errorf("%s allocates %v times per frame", sc.name, a)
			}
		})
	}
}

// FuzzChain feeds arbitrary captures to a 4-mic chain driven 12 dB and more
// over full scale and checks the output stays finite and under the
// limiter's ceiling.
func FuzzChain(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0}, int8(0))
	f.Add([]byte{255, 127, 0, 128, 1, 2, 3, 4, 200, 100}, int8(12))
	f.Add([]byte("speech-like bytes go here, some of them loud"), int8(40))
	format := fmt48(4, 10*time.Millisecond)
	f.Fuzz(func(t *testing.T, data []byte, driveDB int8) {
		c, err := NewChain(defaultConfig(4, true), geom4, format)
		if err != nil {
			t.Fatal(err)
		}
		c.SetOnAir(true)
		src := audio.NewFrame(4, audio.Rate48k, 10*time.Millisecond)
		dst := audio.NewFrame(1, audio.Rate48k, 10*time.Millisecond)
		g := float32(FromDB(float64(driveDB)))
		ceil := float32(FromDB(-1))
		if len(data) == 0 {
			data = []byte{0}
		}
		for k := 0; k < 30; k++ {
			for i := range src.Samples {
				src.Samples[i] = (float32(data[(k*len(src.Samples)+i)%len(data)]) - 128) / 128 * g
			}
			c.Process(dst, src)
			for i, v := range dst.Samples {
				if !(v <= ceil && v >= -ceil) {
					t.Fatalf("frame %d sample %d = %v, ceiling %v", k, i, v, ceil)
				}
			}
		}
	})
}

// Example-style smoke test of the formats the chain accepts.
func TestChainFormats(t *testing.T) {
	for _, rate := range []audio.SampleRate{audio.Rate16k, audio.Rate48k} {
		for _, p := range []time.Duration{5 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond} {
			t.Run(fmt.Sprintf("%d/%v", rate, p), func(t *testing.T) {
				f := audio.Format{Channels: 8, Rate: rate, Period: p}
				c, err := NewChain(defaultConfig(8, true), geom6, f)
				if err != nil {
					t.Fatal(err)
				}
				src := audio.NewFrame(8, rate, p)
				dst := audio.NewFrame(1, rate, p)
				src.Pos = 12345
				c.Process(dst, src)
				if dst.Pos != 12345 || dst.Rate != rate {
					t.Errorf("dst.Pos %d, dst.Rate %d", dst.Pos, dst.Rate)
				}
			})
		}
	}
}
