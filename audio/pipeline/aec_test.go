package pipeline

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/aec"
	"github.com/onair-gateway/onair/audio/dsp"
	"github.com/onair-gateway/onair/audio/opus"
	"github.com/onair-gateway/onair/audio/wav"
	"github.com/onair-gateway/onair/conf"
	"github.com/onair-gateway/onair/hw/sim"
)

// The echo scenario of issue 12: the simulated 4-mic board, its speaker
// 30 ms away at -6 dB in a room with a 250 ms reverberation time.
var (
	echoGeom   = audio.Geometry{Shape: audio.ShapeCircular, Mics: 4, Radius: 0.0325}
	echoFormat = audio.Format{Channels: 4, Rate: audio.Rate48k, Period: 10 * time.Millisecond}
	echoRoom   = sim.Echo{Delay: conf.Duration(30 * time.Millisecond), Level: conf.Ptr(-6.0), Decay: conf.Duration(250 * time.Millisecond)}
)

const speechWAV = "../../testdata/speech48k.wav"

// loadSpeech reads the test speech (mono, 48 kHz), rotated to start at
// offset (a different passage), scaled to a peak of peak.
func loadSpeech(t testing.TB, offset time.Duration, peak float32) []float32 {
	t.Helper()
	b, err := os.ReadFile(speechWAV)
	if err != nil {
		t.Fatal(err)
	}
	a, err := wav.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	x := a.Channels[0]
	var p float32
	for _, v := range x {
		p = max(p, float32(math.Abs(float64(v))))
	}
	k := audio.Rate48k.Samples(offset) % len(x)
	y := append(append([]float32(nil), x[k:]...), x[:k]...)
	for i := range y {
		y[i] *= peak / p
	}
	return y
}

// delaySink plays through s what it was given d earlier: a reference that
// runs ahead of the speaker by d.
type delaySink struct {
	s    audio.Sink
	line []float32
	at   int
	fr   *audio.Frame
}

func newDelaySink(s audio.Sink, d time.Duration) *delaySink {
	f := s.Format()
	return &delaySink{s: s, line: make([]float32, f.Rate.Samples(d)*f.Channels), fr: audio.NewFrame(f.Channels, f.Rate, f.Period)}
}

func (d *delaySink) Format() audio.Format { return d.s.Format() }
func (d *delaySink) Close() error         { return d.s.Close() }
func (d *delaySink) WriteFrame(src *audio.Frame) error {
	for i, v := range src.Samples {
		if len(d.line) == 0 {
			d.fr.Samples[i] = v
			continue
		}
		d.fr.Samples[i] = d.line[d.at]
		d.line[d.at] = v
		d.at = (d.at + 1) % len(d.line)
	}
	return d.s.WriteFrame(d.fr)
}

// echoRun is one run of the speak path on the simulated board.
type echoRun struct {
	aec   bool
	near  string        // the talker's WAV, or "" for silence
	far   []float32     // played through the speaker, looped, or nil
	extra time.Duration // the reference runs this far ahead of the speaker
	skew  float64       // ppm
	dur   time.Duration
}

// run plays r and returns what the device publishes (its Opus packets,
// decoded) and the canceller's stats.
func (r echoRun) run(t testing.TB) ([]float32, aec.Stats) {
	t.Helper()
	cfg := sim.Config{Realtime: conf.Ptr(false), Signal: sim.SignalSilence, Echo: &echoRoom, SkewPPM: r.skew}
	if r.near != "" {
		cfg.Signal, cfg.File = sim.SignalWAV, r.near
	}
	b, err := sim.New(cfg, echoGeom, echoFormat, sim.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ref := aec.NewReference(audio.Rate48k)
	spk, err := b.Speaker(audio.Format{Channels: 1, Rate: audio.Rate48k, Period: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	sink, err := ref.Wrap(newDelaySink(spk, r.extra))
	if err != nil {
		t.Fatal(err)
	}
	var proc dsp.Config
	proc.SetDefaults(4, true)
	var oc opus.Config
	oc.SetDefaults()
	ac := aec.Config{Enabled: conf.Ptr(r.aec)}
	sp, err := NewSpeak(proc, echoGeom, echoFormat, oc, WithAEC(ac, ref))
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	sp.Chain.SetOnAir(true)
	p, err := New(Config{}, b, sp.Stage(), sp.Encoder, nil)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := opus.NewDecoder(audio.Rate48k, 1)
	if err != nil {
		t.Fatal(err)
	}
	pcm := make([]float32, dec.MaxFrameLen())
	frames := int(r.dur / echoFormat.Period)
	out := make([]float32, 0, frames*480)
	p.SetSink(SinkFunc(func(pk Packet) error {
		n, err := dec.Decode(pk.Data, pcm)
		out = append(out, pcm[:n]...)
		return err
	}))

	done := make(chan error, 1)
	go func() {
		fr := audio.NewFrame(1, audio.Rate48k, 10*time.Millisecond)
		for k := 0; ; k++ {
			clear(fr.Samples)
			if r.far != nil {
				for i := range fr.Samples {
					fr.Samples[i] = r.far[(k*480+i)%len(r.far)]
				}
			}
			if err := sink.WriteFrame(fr); err != nil {
				if errors.Is(err, audio.ErrClosed) {
					err = nil
				}
				done <- err
				return
			}
		}
	}()
	in := audio.NewFrame(4, audio.Rate48k, 10*time.Millisecond)
	for range frames {
		if err := b.ReadFrame(in); err != nil {
			t.Fatal(err)
		}
		p.Process(in)
	}
	b.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var st aec.Stats
	if sp.AEC != nil {
		st = sp.AEC.Stats()
	}
	return out, st
}

// power returns the mean square of x from from on.
func power(x []float32, from time.Duration) float64 {
	x = x[audio.Rate48k.Samples(from):]
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return s / float64(len(x))
}

// envelope returns the RMS of x in 20 ms blocks from from on.
func envelope(x []float32, from time.Duration) []float64 {
	x = x[audio.Rate48k.Samples(from):]
	const bl = 960
	e := make([]float64, len(x)/bl)
	for i := range e {
		var s float64
		for _, v := range x[i*bl : (i+1)*bl] {
			s += float64(v) * float64(v)
		}
		e[i] = math.Sqrt(s / bl)
	}
	return e
}

// correlation is Pearson's correlation of a and b (the shorter length).
func correlation(a, b []float64) float64 {
	n := min(len(a), len(b))
	var ma, mb float64
	for i := range n {
		ma += a[i]
		mb += b[i]
	}
	ma /= float64(n)
	mb /= float64(n)
	var sab, saa, sbb float64
	for i := range n {
		sab += (a[i] - ma) * (b[i] - mb)
		saa += (a[i] - ma) * (a[i] - ma)
		sbb += (b[i] - mb) * (b[i] - mb)
	}
	return sab / math.Sqrt(saa*sbb)
}

// convergence is how long the canceller has before the echo is measured.
const convergence = 2 * time.Second

// TestAECFarEnd is issue 12's first AEC requirement: with far-end speech
// alone, what the device publishes is at least 25 dB quieter with echo
// cancellation than without, after 2 s, with 0..150 ms of extra reference
// delay and ±50 ppm of clock skew.
func TestAECFarEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("several seconds of audio per case")
	}
	far := loadSpeech(t, 0, 0.3)
	const dur = 7 * time.Second
	off := map[float64]float64{}
	for _, skew := range []float64{0, 50, -50} {
		out, _ := echoRun{far: far, skew: skew, dur: dur}.run(t)
		off[skew] = power(out, convergence)
	}
	cases := []struct {
		extra time.Duration
		skew  float64
	}{
		{0, 0}, {50 * time.Millisecond, 0}, {150 * time.Millisecond, 0},
		{0, 50}, {0, -50}, {150 * time.Millisecond, 50}, {150 * time.Millisecond, -50},
	}
	for _, c := range cases {
		t.Run(c.extra.String()+"/"+ppm(c.skew), func(t *testing.T) {
			out, st := echoRun{aec: true, far: far, extra: c.extra, skew: c.skew, dur: dur}.run(t)
			erle := 10 * math.Log10(off[c.skew]/power(out, convergence))
			t.Logf("off %.1f dBFS, ERLE %.1f dB; measured delay %v, skew %.1f ppm (%d measurements), canceller's ERLE %.1f dB",
				10*math.Log10(off[c.skew]), erle, st.Delay, st.SkewPPM, st.Measurements, st.ERLE)
			if erle < 25 {
				t.Errorf("the device's output is %.1f dB quieter with AEC, want ≥ 25", erle)
			}
			if math.Abs(st.SkewPPM-c.skew) > 3 {
				t.Errorf("measured skew %.1f ppm, want %v", st.SkewPPM, c.skew)
			}
		})
	}
}

func ppm(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) + "ppm" }

// TestAECDoubleTalk is issue 12's double-talk requirement: near-end speech
// while far-end speech plays keeps an envelope correlation of at least 0.8
// with the clean near end (the device's output with nothing playing).
func TestAECDoubleTalk(t *testing.T) {
	if testing.Short() {
		t.Skip("several seconds of audio per case")
	}
	far := loadSpeech(t, 0, 0.3)
	// The near end is another passage: the same file from 3.5 s on.
	near := filepath.Join(t.TempDir(), "near.wav")
	data, err := wav.Encode(wav.Format{Encoding: wav.Float, Channels: 1, Rate: 48000, Bits: 32}, loadSpeech(t, 3500*time.Millisecond, 0.5))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(near, data, 0o644); err != nil {
		t.Fatal(err)
	}
	const dur = 7 * time.Second
	clean, _ := echoRun{aec: true, near: near, dur: dur}.run(t)
	both, st := echoRun{aec: true, near: near, far: far, dur: dur}.run(t)
	noAEC, _ := echoRun{near: near, far: far, dur: dur}.run(t)
	r := correlation(envelope(both, convergence), envelope(clean, convergence))
	r0 := correlation(envelope(noAEC, convergence), envelope(clean, convergence))
	t.Logf("envelope correlation with the clean near end: %.3f with AEC, %.3f without; delay %v", r, r0, st.Delay)
	if r < 0.8 {
		t.Errorf("double talk: envelope correlation %.3f, want ≥ 0.8", r)
	}
}

// TestSpeakAECAllocs checks that the speak stage with echo cancellation
// allocates nothing per frame, and that a bad aec config names its field.
func TestSpeakAECAllocs(t *testing.T) {
	var proc dsp.Config
	proc.SetDefaults(4, true)
	var oc opus.Config
	oc.SetDefaults()
	ref := aec.NewReference(audio.Rate48k)
	if _, err := NewSpeak(proc, echoGeom, echoFormat, oc, WithAEC(aec.Config{Enabled: conf.Ptr(true), Loopback: []int{7}}, ref)); err == nil || !strings.Contains(err.Error(), "audio.aec.loopback[0]") {
		t.Errorf("bad loopback: %v", err)
	}
	sp, err := NewSpeak(proc, echoGeom, echoFormat, oc, WithAEC(aec.Config{Enabled: conf.Ptr(true)}, ref))
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	if sp.AEC == nil || sp.Stage() == Chain(sp.Chain) {
		t.Fatal("AEC enabled but not in the stage")
	}
	sink, err := ref.Wrap(discard{audio.Format{Channels: 1, Rate: audio.Rate48k, Period: 10 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	far := loadSpeech(t, 0, 0.3)
	play := audio.NewFrame(1, audio.Rate48k, 10*time.Millisecond)
	in := audio.NewFrame(4, audio.Rate48k, 10*time.Millisecond)
	out := audio.NewFrame(1, audio.Rate48k, 10*time.Millisecond)
	k := 0
	step := func() {
		copy(play.Samples, far[(k*480)%(len(far)-480):])
		if err := sink.WriteFrame(play); err != nil {
			t.Fatal(err)
		}
		for i := range 480 {
			for m := range 4 {
				in.Samples[i*4+m] = 0.5 * play.Samples[i]
			}
		}
		in.Pos = int64(k * 480)
		k++
		sp.Stage().Process(out, in)
	}
	for range 100 {
		step()
	}
	if n := testing.AllocsPerRun(100, step); n != 0 {
		t.Errorf("%v allocations per frame, want 0", n)
	}
	plain, err := NewSpeak(proc, echoGeom, echoFormat, oc, WithAEC(aec.Config{Enabled: conf.Ptr(false)}, ref))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if plain.AEC != nil || plain.Stage() != Chain(plain.Chain) {
		t.Error("AEC disabled but in the stage")
	}
}

// discard is a sink that takes every frame at once.
type discard struct{ f audio.Format }

func (d discard) Format() audio.Format          { return d.f }
func (d discard) WriteFrame(*audio.Frame) error { return nil }
func (d discard) Close() error                  { return nil }
