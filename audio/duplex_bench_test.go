package audio_test

import (
	"testing"
	"time"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/aec"
	"github.com/onair-gateway/onair/audio/dsp"
	"github.com/onair-gateway/onair/audio/pipeline"
	"github.com/onair-gateway/onair/conf"
)

// nullSink is a playback device that takes every frame at once.
type nullSink struct{ f audio.Format }

func (s nullSink) Format() audio.Format          { return s.f }
func (s nullSink) WriteFrame(*audio.Frame) error { return nil }
func (s nullSink) Close() error                  { return nil }

// BenchmarkFullDuplex4Mic: the 4-mic board as a speakerphone, one op per
// second of audio. Every 20 ms the listen path of one remote talker (its
// jitter buffer, Opus decode, the mix) hands a frame to the playback
// device through the echo canceller's Reference, and two 10 ms capture
// periods go through the speak path: the echo canceller on all four mics,
// the voice chain (DOA beam, as the 4-mic profiles have it) and Opus at
// complexity 10. The capture is a quiet talker at the array (hw/sim) plus
// the played audio's echo at 30 ms and -6 dB; the canceller has measured the
// delay and converged before the timer starts, so its adaptive filter
// runs on every frame. cpu-ns/op over 1e9 is the fraction of one core the
// full-duplex device needs; core-fraction reports it directly.
func BenchmarkFullDuplex4Mic(b *testing.B) {
	geom := audio.Geometry{Shape: audio.ShapeCircular, Mics: 4, Radius: 0.0325}
	f := audio.Format{Channels: 4, Rate: audio.Rate48k, Period: 10 * time.Millisecond}
	near := render(b, geom, f, 4)
	for i := range near {
		near[i] *= 0.05 // the room's talker 26 dB down: mostly far end, so the filter converges
	}
	ref := aec.NewReference(audio.Rate48k)
	out, err := ref.Wrap(nullSink{audio.Format{Channels: 1, Rate: audio.Rate48k, Period: 20 * time.Millisecond}})
	if err != nil {
		b.Fatal(err)
	}
	var proc dsp.Config
	proc.Beam = dsp.BeamDOA
	proc.SetDefaults(geom.Mics, true)
	var ac aec.Config
	ac.Enabled = conf.Ptr(true)
	ac.SetDefaults()
	sp, err := pipeline.NewSpeak(proc, geom, f, voipConfig(), pipeline.WithAEC(ac, ref))
	if err != nil {
		b.Fatal(err)
	}
	defer sp.Close()
	sp.Chain.SetOnAir(true)
	src, err := audio.NewBufferSource(f, near, true) // the pipeline's format; frames are built below
	if err != nil {
		b.Fatal(err)
	}
	p, err := pipeline.New(pipeline.Config{}, src, sp.Stage(), sp.Encoder, nil)
	if err != nil {
		b.Fatal(err)
	}
	var packets int
	p.SetSink(pipeline.SinkFunc(func(pipeline.Packet) error { packets++; return nil }))

	lp := newListenPath(b, 1)
	played := make([]float32, 1<<16) // what was played, by playback position
	const mask = 1<<16 - 1
	echo := float32(dsp.FromDB(-6))
	delay := audio.Rate48k.Samples(30 * time.Millisecond)
	pf := audio.NewFrame(1, audio.Rate48k, 20*time.Millisecond)
	cf := audio.NewFrame(f.Channels, f.Rate, f.Period)
	var pos int64 // capture and playback position: one clock here
	step := func() {
		lp.step()
		copy(pf.Samples, lp.out)
		if err := out.WriteFrame(pf); err != nil {
			b.Fatal(err)
		}
		for i, v := range lp.out {
			played[(pos+int64(i))&mask] = v
		}
		for range 2 {
			n := cf.Len()
			at := int(pos) * f.Channels % len(near)
			copy(cf.Samples, near[at:at+len(cf.Samples)])
			for i := range n {
				for m := range geom.Mics {
					cf.Samples[i*f.Channels+m] += echo * played[(pos+int64(i-delay-m))&mask]
				}
			}
			cf.Pos = pos
			p.Process(cf)
			pos += int64(n)
		}
	}
	for range 400 { // 8 s: the delay measured, the filter and the AGC settled
		step()
	}
	if st := sp.AEC.Stats(); !st.Measured || st.ERLE < 6 {
		b.Fatalf("the canceller has not converged: %+v", st)
	}
	packets = 0
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for range b.N {
		for range 50 {
			step()
		}
	}
	b.StopTimer()
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
		b.ReportMetric(cpu.Seconds()/float64(b.N), "core-fraction")
	}
	if packets != 50*b.N || p.Stats().EncodeErrors != 0 {
		b.Fatalf("%d packets (want %d), %d encode errors", packets, 50*b.N, p.Stats().EncodeErrors)
	}
	b.Logf("aec %+v", sp.AEC.Stats())
}
