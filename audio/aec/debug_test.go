package aec

import (
	"math"
	"testing"
	"time"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/wav"
	"github.com/onair-gateway/onair/conf"
	"github.com/onair-gateway/onair/hw/sim"
)

func TestDebugSim(t *testing.T) {
	geom := audio.Geometry{Shape: audio.ShapeCircular, Mics: 4, Radius: 0.0325}
	f := audio.Format{Channels: 4, Rate: audio.Rate48k, Period: 10 * time.Millisecond}
	e := sim.Echo{Delay: conf.Duration(30 * time.Millisecond), Level: conf.Ptr(-6.0), Decay: conf.Duration(250 * time.Millisecond)}
	b, err := sim.New(sim.Config{Realtime: conf.Ptr(false), Signal: sim.SignalSilence, Echo: &e}, geom, f, sim.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ref := NewReference(audio.Rate48k)
	spk, _ := b.Speaker(audio.Format{Channels: 1, Rate: audio.Rate48k, Period: 10 * time.Millisecond})
	sink, _ := ref.Wrap(spk)
	wf, _ := wav.Open("../../testdata/speech48k.wav")
	far := make([]float32, wf.Frames())
	for at := 0; at < len(far); {
		n, _ := wf.Read(far[at:])
		at += n
	}
	c, err := New(Config{Enabled: conf.Ptr(true)}, f, 4, ref)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		fr := audio.NewFrame(1, audio.Rate48k, 10*time.Millisecond)
		for k := 0; ; k++ {
			for i := range fr.Samples {
				fr.Samples[i] = 0.3 * far[(k*480+i)%len(far)]
			}
			if sink.WriteFrame(fr) != nil {
				return
			}
		}
	}()
	in := audio.NewFrame(4, audio.Rate48k, 10*time.Millisecond)
	out := audio.NewFrame(4, audio.Rate48k, 10*time.Millisecond)
	var pin, pout float64
	var mics, refs []float32
	for k := range 900 {
		b.ReadFrame(in)
		c.Process(out, in)
		for i := range 480 {
			pin += float64(in.Samples[i*4] * in.Samples[i*4])
			pout += float64(out.Samples[i*4] * out.Samples[i*4])
			mics = append(mics, in.Samples[i*4])
			refs = append(refs, c.aligned[i])
		}
		if k%100 == 99 {
			t.Logf("t=%ds ERLE %.1f dB lag %d measured %v", (k+1)/100, 10*math.Log10(pin/pout), c.lag, c.measured)
			pin, pout = 0, 0
		}
	}
	// Where is the echo in the aligned reference?
	best, bl := 0.0, 0
	for l := -2000; l < 4000; l++ {
		var s float64
		for i := 200000; i < 400000; i++ {
			if i-l >= 0 && i-l < len(refs) {
				s += float64(mics[i] * refs[i-l])
			}
		}
		if math.Abs(s) > best {
			best, bl = math.Abs(s), l
		}
	}
	t.Logf("echo at lag %d of the aligned reference", bl)
}
