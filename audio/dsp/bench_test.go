package dsp

import (
	"testing"
	"time"

	"github.com/onair-gateway/onair/audio"
)

// report adds the cost per 20 ms of audio, the unit the CPU budget is
// written in (Opus encodes one 20 ms frame in about 115 µs here), in wall
// time and in CPU time since cpu0 (the process's CPU time when the loop
// started), which a busy shared machine inflates less.
func report(b *testing.B, period time.Duration, cpu0 int64) {
	per20 := float64(20*time.Millisecond) / float64(period) / float64(b.N)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())*per20, "ns/20ms")
	if cpu0 > 0 {
		b.ReportMetric(float64(cpuNanos()-cpu0)*per20, "cpu-ns/20ms")
	}
}

// BenchmarkChain runs whole chains on speech with noise, so that voice
// detection, DOA analyses and re-steering cost what they cost live.
func BenchmarkChain(b *testing.B) {
	for _, tc := range chainCases {
		b.Run(tc.name, func(b *testing.B) {
			f := audio.Format{Channels: tc.ch, Rate: tc.rate, Period: tc.period}
			cfg := defaultConfig(tc.ch, tc.geom.Shape == audio.ShapeCircular)
			cfg.Beam = tc.beam
			c, err := NewChain(cfg, tc.geom, f)
			if err != nil {
				b.Fatal(err)
			}
			c.SetOnAir(true)
			frames := chainInput(b, tc.geom, tc.ch, tc.rate, tc.period)
			src := audio.NewFrame(tc.ch, tc.rate, tc.period)
			dst := audio.NewFrame(c.OutChannels(), tc.rate, tc.period)
			b.ReportAllocs()
			cpu0 := cpuNanos()
			for i := 0; b.Loop(); i++ {
				src.Samples = frames[i%len(frames)]
				c.Process(dst, src)
			}
			report(b, tc.period, cpu0)
		})
	}
}

// BenchmarkStage runs each stage alone at 48 kHz with 10 and 20 ms frames.
func BenchmarkStage(b *testing.B) {
	for _, period := range []time.Duration{10 * time.Millisecond, 20 * time.Millisecond} {
		frames := chainInput(b, geom6, 8, audio.Rate48k, period)
		for _, sc := range stageCases(b, period) {
			b.Run(sc.name+"/"+period.String(), func(b *testing.B) {
				in := stageInput(frames, sc.in)
				src := audio.NewFrame(sc.in, audio.Rate48k, period)
				dst := audio.NewFrame(sc.out, audio.Rate48k, period)
				b.ReportAllocs()
				cpu0 := cpuNanos()
				for i := 0; b.Loop(); i++ {
					src.Samples = in[i%len(in)]
					sc.st.Process(dst, src)
				}
				report(b, period, cpu0)
			})
		}
	}
}

// BenchmarkDOAAnalysis measures one GCC-PHAT analysis of the 6-mic array
// (FFTs, whitening, search over the azimuth grid), which runs at most once
// per 43 ms of voice.
func BenchmarkDOAAnalysis(b *testing.B) {
	d, err := NewDOA(fmt48(8, 10*time.Millisecond), geom6, 300*time.Millisecond)
	if err != nil {
		b.Fatal(err)
	}
	frames := chainInput(b, geom6, 8, audio.Rate48k, 10*time.Millisecond)
	src := audio.NewFrame(8, audio.Rate48k, 10*time.Millisecond)
	for _, fr := range frames { // fill the ring, learn a background
		copy(src.Samples, fr)
		d.Process(src, src)
	}
	d.learnNoise()
	b.Run("spectra", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			d.spectra()
		}
	})
	b.Run("locate", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			d.locate()
		}
	})
}

func BenchmarkFFT512(b *testing.B) {
	f, _ := NewFFT(512)
	re, im := make([]float32, 512), make([]float32, 512)
	b.ReportAllocs()
	for b.Loop() {
		f.Transform(re, im)
	}
}
