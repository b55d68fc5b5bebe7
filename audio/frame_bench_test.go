package audio_test

import (
	"testing"
	"time"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/dsp"
	"github.com/onair-gateway/onair/audio/pipeline"
	"github.com/onair-gateway/onair/conf"
)

// BenchmarkSpeakPathPerSecond: the 4-mic speak path (fixed beam, the voice
// chain, Opus at complexity 10) at 10 ms and at 20 ms Opus frames, one op
// per second of audio (100 capture periods of 10 ms), so the two sub-
// benchmarks' ns/op divide into the CPU cost of 10 ms frames relative to
// 20 ms. The capture period is 10 ms in both, as on every board profile.
// cpu-ns/op is the process's CPU time per op (getrusage), steadier than
// ns/op on a shared machine.
func BenchmarkSpeakPathPerSecond(b *testing.B) {
	for _, frame := range []time.Duration{10 * time.Millisecond, 20 * time.Millisecond} {
		b.Run(frame.String(), func(b *testing.B) {
			geom := audio.Geometry{Shape: audio.ShapeCircular, Mics: 4, Radius: 0.0325}
			f := audio.Format{Channels: 4, Rate: audio.Rate48k, Period: 10 * time.Millisecond}
			rendered := render(b, geom, f, 4)
			src, err := audio.NewBufferSource(f, rendered, true)
			if err != nil {
				b.Fatal(err)
			}
			var proc dsp.Config
			proc.Beam, proc.Azimuth = dsp.BeamFixed, conf.Ptr(60.0)
			proc.SetDefaults(geom.Mics, true)
			oc := voipConfig()
			oc.Frame = conf.Duration(frame)
			sp, err := pipeline.NewSpeak(proc, geom, f, oc)
			if err != nil {
				b.Fatal(err)
			}
			defer sp.Encoder.Close()
			sp.Chain.SetOnAir(true)
			p, err := pipeline.New(pipeline.Config{}, src, sp.Chain, sp.Encoder, nil)
			if err != nil {
				b.Fatal(err)
			}
			var packets int
			p.SetSink(pipeline.SinkFunc(func(pipeline.Packet) error { packets++; return nil }))
			period := audio.NewFrame(f.Channels, f.Rate, f.Period)
			for range 200 { // settle the AGC
				_ = src.ReadFrame(period)
				p.Process(period)
			}
			packets = 0
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime()
			for i := 0; i < b.N; i++ {
				for range 100 {
					_ = src.ReadFrame(period)
					p.Process(period)
				}
			}
			b.StopTimer()
			if cpu := cpuTime() - cpu0; cpu > 0 {
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
			}
			if want := b.N * int(time.Second/frame); packets != want || p.Stats().EncodeErrors != 0 {
				b.Fatalf("%d packets (want %d), %d encode errors", packets, want, p.Stats().EncodeErrors)
			}
		})
	}
}
