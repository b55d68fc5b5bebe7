package sim_test

import (
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/dsp"
	"github.com/onair-gateway/onair/conf"
	"github.com/onair-gateway/onair/hw/sim"
)

// ExampleNew renders a 1 kHz talker at -20 dBFS peak into a ReSpeaker
// 4-mic array and reads one second of it as fast as possible.
func ExampleNew() {
	cfg := sim.Config{
		Signal:    sim.SignalTone,
		Frequency: 1000,
		Level:     conf.Ptr(-20.0),
		Azimuth:   conf.Ptr(45.0),
		Realtime:  conf.Ptr(false),
	}
	geom := audio.Geometry{Shape: audio.ShapeCircular, Mics: 4, Radius: 0.0325}
	format := audio.Format{Channels: 4, Rate: audio.Rate48k, Period: 10 * time.Millisecond}
	board, err := sim.New(cfg, geom, format, sim.Options{}, slog.New(slog.DiscardHandler))
	if err != nil {
		fmt.Println("sim:", err)
		return
	}
	defer board.Close()

	frame := audio.NewFrame(format.Channels, format.Rate, format.Period)
	var sum float64
	var n int
	for range 100 {
		if err := board.ReadFrame(frame); err != nil {
			fmt.Println("read:", err)
			return
		}
		for i := 0; i < len(frame.Samples); i += frame.Channels {
			v := float64(frame.Samples[i]) // mic 0
			sum += v * v
			n++
		}
	}
	fmt.Printf("last frame: pos %d, %d samples × %d channels\n", frame.Pos, frame.Len(), frame.Channels)
	fmt.Printf("mic 0: %.1f dBFS RMS\n", dsp.DBFS(math.Sqrt(sum/float64(n))))
	// Output:
	// last frame: pos 47520, 480 samples × 4 channels
	// mic 0: -23.0 dBFS RMS
}

// ExampleBoard_SetAzimuth moves the talker and shows when each mic of a
// 2-mic HAT hears it, relative to the array centre.
func ExampleBoard_SetAzimuth() {
	geom := audio.Geometry{Shape: audio.ShapeLinear, Mics: 2, Spacing: 0.058}
	format := audio.Format{Channels: 2, Rate: audio.Rate48k, Period: 10 * time.Millisecond}
	board, err := sim.New(sim.Config{Realtime: conf.Ptr(false)}, geom, format, sim.Options{}, nil)
	if err != nil {
		fmt.Println("sim:", err)
		return
	}
	defer board.Close()
	for _, az := range []float64{0, 60, 180} {
		board.SetAzimuth(az)
		d := board.MicDelays()
		fmt.Printf("azimuth %3.0f°: mic 0 %+.2f, mic 1 %+.2f samples\n", board.Azimuth(), d[0], d[1])
	}
	// Output:
	// azimuth   0°: mic 0 +4.06, mic 1 -4.06 samples
	// azimuth  60°: mic 0 +2.03, mic 1 -2.03 samples
	// azimuth 180°: mic 0 -4.06, mic 1 +4.06 samples
}

// ExampleChirpStart shows where the latency marks of signal chirp fall: a
// listener correlates what it receives with ChirpSweep and compares.
func ExampleChirpStart() {
	for k := range int64(3) {
		fmt.Println(sim.ChirpStart(audio.Rate48k, k))
	}
	fmt.Println(len(sim.ChirpSweep(audio.Rate48k)), "samples per sweep")
	// Output:
	// 0
	// 48000
	// 96000
	// 4800 samples per sweep
}
