package aec

import (
	"errors"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/wav"
	"github.com/onair-gateway/onair/conf"
)

var (
	fmt4 = audio.Format{Channels: 4, Rate: audio.Rate48k, Period: 10 * time.Millisecond}
	fmt1 = audio.Format{Channels: 1, Rate: audio.Rate48k, Period: 10 * time.Millisecond}
)

// speech returns the test speech, mono 48 kHz, at a peak of 0.3.
func speech(t testing.TB) []float32 {
	t.Helper()
	b, err := os.ReadFile("../../testdata/speech48k.wav")
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
	for i := range x {
		x[i] *= 0.3 / p
	}
	return x
}

// nullSink accepts every frame at once.
type nullSink struct{ f audio.Format }

func (s nullSink) Format() audio.Format              { return s.f }
func (s nullSink) WriteFrame(src *audio.Frame) error { return nil }
func (s nullSink) Close() error                      { return nil }

// echoRig plays far through a wrapped sink and builds capture frames whose
// mics hear it delay samples later at half amplitude (mic m one sample
// later per mic, as a small array would), in lockstep: playback sample q
// and capture sample q are the same instant.
type echoRig struct {
	far   []float32
	delay int
	sink  audio.Sink
	out   *audio.Frame
	in    *audio.Frame
	k     int
}

func newEchoRig(t testing.TB, far []float32, delay int, ref *Reference) *echoRig {
	s, err := ref.Wrap(nullSink{fmt1})
	if err != nil {
		t.Fatal(err)
	}
	return &echoRig{far: far, delay: delay, sink: s, out: audio.NewFrame(1, audio.Rate48k, fmt1.Period), in: audio.NewFrame(4, audio.Rate48k, fmt4.Period)}
}

func (r *echoRig) at(q int) float32 {
	if q < 0 {
		return 0
	}
	return r.far[q%len(r.far)]
}

// next plays one frame and returns the capture frame that goes with it.
func (r *echoRig) next(t testing.TB) *audio.Frame {
	for i := range r.out.Samples {
		r.out.Samples[i] = r.at(r.k*480 + i)
	}
	if err := r.sink.WriteFrame(r.out); err != nil {
		t.Fatal(err)
	}
	r.in.Pos = int64(r.k * 480)
	for i := range 480 {
		for m := range 4 {
			r.in.Samples[i*4+m] = 0.5 * r.at(r.k*480+i-r.delay-m)
		}
	}
	r.k++
	return r.in
}

// TestCancellerMeasuresDelay checks that the delay between the played
// reference and its echo is measured (to a fraction of a millisecond) and
// the echo removed, for delays inside and outside the filter's tail.
func TestCancellerMeasuresDelay(t *testing.T) {
	far := speech(t)
	for _, d := range []int{0, 480, 1234, 9000} {
		ref := NewReference(audio.Rate48k)
		c, err := New(Config{}, fmt4, 4, ref)
		if err != nil {
			t.Fatal(err)
		}
		rig := newEchoRig(t, far, d, ref)
		var pin, pout float64
		for k := range 600 {
			in := rig.next(t)
			for i := range 480 {
				pin += float64(in.Samples[i*4] * in.Samples[i*4])
			}
			if k < 300 {
				pin = 0
			}
			c.Process(in, in)
			for i := range 480 {
				pout += float64(in.Samples[i*4] * in.Samples[i*4])
			}
			if k < 300 {
				pout = 0
			}
		}
		st := c.Stats()
		want := time.Duration(d) * time.Second / 48000
		if !st.Measured || (st.Delay-want).Abs() > 50*time.Microsecond {
			t.Errorf("delay %d samples: measured %v (%v), want %v", d, st.Delay, st.Measured, want)
		}
		if erle := 10 * math.Log10(pin/pout); erle < 25 {
			t.Errorf("delay %d samples: ERLE %.1f dB after 3 s, want ≥ 25", d, erle)
		}
		if math.Abs(st.SkewPPM) > 2 {
			t.Errorf("delay %d samples: skew %.2f ppm, want 0", d, st.SkewPPM)
		}
		c.Close()
	}
}

// TestCancellerLoopback checks the hardware loopback reference: channels
// beyond the mics carry what is played, and no Reference is needed.
func TestCancellerLoopback(t *testing.T) {
	far := speech(t)
	f6 := audio.Format{Channels: 6, Rate: audio.Rate48k, Period: 10 * time.Millisecond}
	c, err := New(Config{Loopback: []int{4, 5}}, f6, 4, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	in := audio.NewFrame(6, audio.Rate48k, f6.Period)
	var pin, pout float64
	for k := range 500 {
		for i := range 480 {
			q := k*480 + i
			for m := range 4 {
				v := float32(0)
				if q-300-m >= 0 {
					v = 0.5 * far[(q-300-m)%len(far)]
				}
				in.Samples[i*6+m] = v
			}
			in.Samples[i*6+4] = far[q%len(far)]
			in.Samples[i*6+5] = far[q%len(far)]
		}
		in.Pos = int64(k * 480)
		for i := range 480 {
			pin += float64(in.Samples[i*6] * in.Samples[i*6])
		}
		c.Process(in, in)
		for i := range 480 {
			pout += float64(in.Samples[i*6] * in.Samples[i*6])
		}
		if k < 250 {
			pin, pout = 0, 0
		}
	}
	if erle := 10 * math.Log10(pin/pout); erle < 25 {
		t.Errorf("loopback: ERLE %.1f dB, want ≥ 25", erle)
	}
	if st := c.Stats(); !st.Measured || st.Delay != 0 {
		t.Errorf("loopback stats %+v: want measured, no delay", st)
	}
}

// TestCancellerAllocs checks that Process allocates nothing, delay
// measurements included.
func TestCancellerAllocs(t *testing.T) {
	far := speech(t)
	ref := NewReference(audio.Rate48k)
	c, err := New(Config{}, fmt4, 4, ref)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rig := newEchoRig(t, far, 2000, ref)
	for range 100 {
		c.Process(rig.next(t), rig.in)
	}
	out := audio.NewFrame(4, audio.Rate48k, fmt4.Period)
	before := c.Stats().Measurements
	if n := testing.AllocsPerRun(100, func() { c.Process(out, rig.next(t)) }); n != 0 {
		t.Errorf("%v allocations per frame, want 0", n)
	}
	if c.Stats().Measurements == before {
		t.Error("no delay measurement ran during the allocation test")
	}
}

// TestCancellerRejects checks that a frame of another shape passes
// through untouched and is counted.
func TestCancellerRejects(t *testing.T) {
	c, err := New(Config{}, fmt4, 4, NewReference(audio.Rate48k))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	src := audio.NewFrame(4, audio.Rate48k, 20*time.Millisecond)
	dst := audio.NewFrame(4, audio.Rate48k, 20*time.Millisecond)
	for i := range src.Samples {
		src.Samples[i] = float32(i) / float32(len(src.Samples))
	}
	c.Process(dst, src)
	for i := range src.Samples {
		if dst.Samples[i] != src.Samples[i] {
			t.Fatalf("sample %d changed", i)
		}
	}
	if st := c.Stats(); st.Rejected != 1 || st.Frames != 0 {
		t.Errorf("stats %+v, want one rejected frame", st)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestReference checks recording, fractional reads at whole positions,
// epochs and the rate check.
func TestReference(t *testing.T) {
	r := NewReference(audio.Rate48k)
	if _, err := r.Wrap(nullSink{audio.Format{Channels: 1, Rate: audio.Rate16k, Period: 10 * time.Millisecond}}); err == nil {
		t.Error("a 16 kHz sink wrapped into a 48 kHz reference")
	}
	s, err := r.Wrap(nullSink{audio.Format{Channels: 2, Rate: audio.Rate48k, Period: 10 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	fr := audio.NewFrame(2, audio.Rate48k, 10*time.Millisecond)
	for k := range 3 {
		for i := range 480 {
			fr.Samples[2*i], fr.Samples[2*i+1] = float32(k*480+i), float32(k*480+i)+2
		}
		if err := s.WriteFrame(fr); err != nil {
			t.Fatal(err)
		}
	}
	if r.Written() != 1440 {
		t.Fatalf("written %d, want 1440", r.Written())
	}
	got := make([]float32, 100)
	r.read(got, 1400)
	for i, v := range got {
		want := float32(0)
		if 1400+i < 1440 {
			want = float32(1400+i) + 1 // the channels' mean
		}
		if v != want {
			t.Fatalf("read[%d] = %v, want %v", i, v, want)
		}
	}
	r.readFrac(got[:10], 500, 1, newInterpTable())
	for i, v := range got[:10] {
		if math.Abs(float64(v)-float64(501+i)) > 1e-3 {
			t.Fatalf("readFrac[%d] = %v, want %v", i, v, 501+i)
		}
	}
	e1, _ := r.state()
	if _, err := r.Wrap(nullSink{fmt1}); err != nil {
		t.Fatal(err)
	}
	if e2, _ := r.state(); e2 != e1+1 {
		t.Errorf("epoch %d after a second Wrap, want %d", e2, e1+1)
	}
}

// TestConfigValidate checks that every bad field is named.
func TestConfigValidate(t *testing.T) {
	c := Config{Engine: "aec3", Tail: conf.Duration(time.Millisecond), MaxDelay: conf.Duration(5 * time.Second),
		Suppress: conf.Ptr(10.0), SuppressActive: conf.Ptr(-100.0), Loopback: []int{2, 6, 6}}
	err := c.Validate(8, 6)
	for _, f := range []string{"engine:", "tail:", "max_delay:", "suppress:", "suppress_active:", "loopback[0]:", "loopback[2]: channel 6 is listed twice"} {
		if err == nil || !strings.Contains(err.Error(), f) {
			t.Errorf("error %v does not name %s", err, f)
		}
	}
	var fe *conf.FieldError
	if !errors.As(err, &fe) {
		t.Errorf("%v is not a *conf.FieldError", err)
	}
	var ok Config
	ok.SetDefaults()
	if err := ok.Validate(4, 4); err != nil || ok.On() {
		t.Errorf("defaults: %v, on %v", err, ok.On())
	}
	if _, err := New(Config{}, fmt4, 4, nil); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("no reference and no loopback: %v", err)
	}
}

// BenchmarkCanceller measures echo cancellation of one 10 ms frame of the
// 4-mic board, reference alignment and delay measurement included.
func BenchmarkCanceller(b *testing.B) {
	far := speech(b)
	ref := NewReference(audio.Rate48k)
	c, err := New(Config{}, fmt4, 4, ref)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	rig := newEchoRig(b, far, 2000, ref)
	for range 100 {
		c.Process(rig.next(b), rig.in)
	}
	out := audio.NewFrame(4, audio.Rate48k, fmt4.Period)
	b.ReportAllocs()
	for b.Loop() {
		c.Process(out, rig.next(b))
	}
}
