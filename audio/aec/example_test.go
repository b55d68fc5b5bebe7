package aec_test

import (
	"fmt"
	"time"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/aec"
	"github.com/onair-gateway/onair/conf"
)

// The speak path's canceller with the playback reference: the listen path
// plays through the wrapped sink, the capture loop runs Process.
func ExampleNew() {
	capture := audio.Format{Channels: 4, Rate: audio.Rate48k, Period: 10 * time.Millisecond}
	ref := aec.NewReference(capture.Rate)
	// sink, err := ref.Wrap(playbackSink) — the listen path writes to sink.
	c, err := aec.New(aec.Config{Enabled: conf.Ptr(true)}, capture, 4, ref)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	fr := audio.NewFrame(4, capture.Rate, capture.Period)
	c.Process(fr, fr)
	fmt.Println(c.Stats().Frames, c.Stats().Measured)
	// Output: 1 false
}
