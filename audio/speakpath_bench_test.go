package audio_test

// The speak path's cost next to the codec's. These benchmark names are
// checked after landing: SpeakPath6Mic must cost at most 1.5× OpusEncodeOnly
// per 20 ms frame, SpeakPath4Mic at most 1.25×, all with 0 allocs/op. One op
// is one 20 ms Opus frame (two 10 ms capture periods). The simulated array
// is rendered before the timer starts: the device's capture read is a copy
// out of the driver's buffer, so what is measured is the DSP chain plus the
// encoder, exactly as the pipeline runs them.

import (
	"testing"
	"time"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/dsp"
	"github.com/onair-gateway/onair/audio/opus"
	"github.com/onair-gateway/onair/audio/pipeline"
	"github.com/onair-gateway/onair/conf"
	"github.com/onair-gateway/onair/hw/sim"
)

const speechWAV = "../testdata/speech48k.wav"

// voipConfig is the codec setting every benchmark here shares: mono, 48 kHz,
// 20 ms, complexity 10, application voip.
func voipConfig() opus.Config {
	c := opus.Config{Application: opus.AppVoIP, Bitrate: 32000, Complexity: conf.Ptr(10), Frame: conf.Duration(20 * time.Millisecond), Channels: 1}
	c.SetDefaults()
	return c
}

// render returns seconds of the simulated array's output for a speech
// talker at azimuth 60°, 30 dB SNR.
func render(b *testing.B, geom audio.Geometry, f audio.Format, seconds int) []float32 {
	b.Helper()
	cfg := sim.Config{File: speechWAV, Azimuth: conf.Ptr(60.0), SNR: conf.Ptr(30.0), Realtime: conf.Ptr(false)}
	cfg.SetDefaults()
	board, err := sim.New(cfg, geom, f, sim.Options{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer board.Close()
	frame := audio.NewFrame(f.Channels, f.Rate, f.Period)
	n := seconds * int(time.Second/f.Period)
	out := make([]float32, 0, n*len(frame.Samples))
	for i := 0; i < n; i++ {
		if err := board.ReadFrame(frame); err != nil {
			b.Fatal(err)
		}
		out = append(out, frame.Samples...)
	}
	return out
}

func BenchmarkOpusEncodeOnly(b *testing.B) {
	f := audio.Format{Channels: 1, Rate: audio.Rate48k, Period: 20 * time.Millisecond}
	speech := render(b, audio.Geometry{Shape: audio.ShapeLinear, Mics: 1}, f, 4)
	enc, err := opus.NewEncoder(voipConfig(), audio.Rate48k)
	if err != nil {
		b.Fatal(err)
	}
	defer enc.Close()
	out := make([]byte, opus.MaxPacket)
	frames := len(speech) / 960
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := i % frames
		if _, err := enc.Encode(speech[k*960:(k+1)*960], out); err != nil {
			b.Fatal(err)
		}
	}
}

func benchSpeakPath(b *testing.B, geom audio.Geometry, channels int, beam dsp.BeamMode) {
	f := audio.Format{Channels: channels, Rate: audio.Rate48k, Period: 10 * time.Millisecond}
	rendered := render(b, geom, f, 4)
	src, err := audio.NewBufferSource(f, rendered, true)
	if err != nil {
		b.Fatal(err)
	}
	cfg := dsp.Config{Beam: beam, Azimuth: conf.Ptr(60.0)}
	cfg.SetDefaults(geom.Mics, geom.Shape == audio.ShapeCircular)
	chain, err := dsp.NewChain(cfg, geom, f)
	if err != nil {
		b.Fatal(err)
	}
	chain.SetOnAir(true)
	enc, err := opus.NewEncoder(voipConfig(), audio.Rate48k)
	if err != nil {
		b.Fatal(err)
	}
	defer enc.Close()
	p, err := pipeline.New(pipeline.Config{}, src, chain, enc, nil)
	if err != nil {
		b.Fatal(err)
	}
	var bytes int
	p.SetSink(pipeline.SinkFunc(func(pk pipeline.Packet) error { bytes += len(pk.Data); return nil }))
	frame := audio.NewFrame(f.Channels, f.Rate, f.Period)
	// Warm up: fill the DOA history, settle the AGC.
	for i := 0; i < 200; i++ {
		src.ReadFrame(frame)
		p.Process(frame)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for k := 0; k < 2; k++ { // two 10 ms periods = one 20 ms Opus frame
			src.ReadFrame(frame)
			p.Process(frame)
		}
	}
	b.StopTimer()
	if p.Stats().EncodeErrors != 0 || bytes == 0 {
		b.Fatalf("encode errors %d, %d bytes out", p.Stats().EncodeErrors, bytes)
	}
}

// BenchmarkSpeakPath4Mic: a simulated ReSpeaker 4-mic array (circular,
// r = 3.25 cm), fixed beam, through the whole chain and Opus.
func BenchmarkSpeakPath4Mic(b *testing.B) {
	benchSpeakPath(b, audio.Geometry{Shape: audio.ShapeCircular, Mics: 4, Radius: 0.0325}, 4, dsp.BeamFixed)
}

// BenchmarkSpeakPath6Mic: a simulated ReSpeaker 6-mic array (circular,
// r = 4.63 cm; 8 capture channels with the two playback references), beam
// steered by DOA, through the whole chain and Opus.
func BenchmarkSpeakPath6Mic(b *testing.B) {
	benchSpeakPath(b, audio.Geometry{Shape: audio.ShapeCircular, Mics: 6, Radius: 0.0463}, 8, dsp.BeamDOA)
}
