package dsp_test

import (
	"fmt"
	"time"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/dsp"
)

// A ReSpeaker 6-mic array delivers 8 channels: the 6 mics and 2 playback
// references. The chain steers a beam at the talker and delivers one
// channel for the encoder.
func ExampleNewChain() {
	in := audio.Format{Channels: 8, Rate: audio.Rate48k, Period: 10 * time.Millisecond}
	geom := audio.Geometry{Shape: audio.ShapeCircular, Mics: 6, Radius: 0.0463}
	var cfg dsp.Config
	cfg.SetDefaults(in.Channels, true)
	if err := cfg.Validate(in.Channels); err != nil {
		fmt.Println("config:", err)
		return
	}
	chain, err := dsp.NewChain(cfg, geom, in)
	if err != nil {
		fmt.Println("chain:", err)
		return
	}

	// Built once: the frames the capture loop reuses.
	src := audio.NewFrame(in.Channels, in.Rate, in.Period)
	dst := audio.NewFrame(chain.OutChannels(), in.Rate, in.Period)

	chain.SetOnAir(true) // from any goroutine, e.g. the on-air button
	for i := 0; i < 3; i++ {
		// A capture source fills src here (ReadFrame), then:
		chain.Process(dst, src)
	}
	m := chain.Meters()
	fmt.Printf("beam: %s, %d channel(s) out, %d channels metered\n", cfg.Beam, chain.OutChannels(), len(m.In))
	fmt.Printf("on air: %v, gate open: %.0f%%\n", chain.OnAir(), 100*chain.GateOpen())
	// Output:
	// beam: doa, 1 channel(s) out, 8 channels metered
	// on air: true, gate open: 100%
}

// A limiter keeps even a full-scale square wave driven 12 dB over under its
// ceiling.
func ExampleNewLimiter() {
	f := audio.Format{Channels: 1, Rate: audio.Rate48k, Period: 10 * time.Millisecond}
	lim, err := dsp.NewLimiter(f, -1)
	if err != nil {
		fmt.Println(err)
		return
	}
	frame := audio.NewFrame(1, f.Rate, f.Period)
	var peak float32
	for k := 0; k < 100; k++ {
		for i := range frame.Samples {
			frame.Samples[i] = 4 // +12 dBFS
			if i/24%2 == 1 {
				frame.Samples[i] = -4
			}
		}
		lim.Process(frame, frame) // in place
		for _, v := range frame.Samples {
			peak = max(peak, v, -v)
		}
	}
	fmt.Printf("output peak %.2f dBFS\n", dsp.DBFS(float64(peak)))
	// Output: output peak -1.00 dBFS
}

// Steering a beamformer from another goroutine is safe; it takes effect,
// cross-faded, at the next frame.
func ExampleBeamformer_Steer() {
	f := audio.Format{Channels: 4, Rate: audio.Rate48k, Period: 20 * time.Millisecond}
	geom := audio.Geometry{Shape: audio.ShapeCircular, Mics: 4, Radius: 0.0325}
	bf, err := dsp.NewBeamformer(f, geom, nil, 90)
	if err != nil {
		fmt.Println(err)
		return
	}
	bf.Steer(-45.4)
	fmt.Println("steered at", bf.Azimuth(), "degrees; output lags by", bf.Latency(), "samples")
	// Output: steered at 315 degrees; output lags by 8 samples
}
