package pipeline

import (
	"fmt"
	"time"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/dsp"
	"github.com/onair-gateway/onair/audio/opus"
	"github.com/onair-gateway/onair/conf"
)

// Speak is a board's speak path without its capture: the voice chain for
// the capture format and the Opus encoder for the chain's output. The
// device (gateway) and `onairctl encode` both build it with NewSpeak, so
// what encode writes is what the device sends.
type Speak struct {
	Chain   *dsp.Chain
	Encoder *opus.Encoder
}

// NewSpeak builds the chain for proc on a capture of format in from a mic
// array of geometry geom, and the encoder for oc. It fails, naming the
// config field, when the chain does not make oc.Channels channels (a beam
// mode and an Opus channel count that disagree). The caller owns the
// encoder: Close it when done.
func NewSpeak(proc dsp.Config, geom audio.Geometry, in audio.Format, oc opus.Config) (*Speak, error) {
	oc.SetDefaults()
	if err := FrameFits(oc.Frame.D(), in.Period); err != nil {
		return nil, err
	}
	chain, err := dsp.NewChain(proc, geom, in)
	if err != nil {
		return nil, fmt.Errorf("audio.processing: %w", err)
	}
	if chain.OutChannels() != oc.Channels {
		return nil, conf.Errorf("opus.channels", "%d, but the chain makes %d channel(s) (audio.processing.beam %s)", oc.Channels, chain.OutChannels(), proc.Beam)
	}
	enc, err := opus.NewEncoder(oc, in.Rate)
	if err != nil {
		return nil, fmt.Errorf("opus: %w", err)
	}
	return &Speak{Chain: chain, Encoder: enc}, nil
}

// FrameFits reports, naming the config fields, whether an Opus frame of
// frame can be built from capture periods of period: the pipeline collects
// whole periods into one frame, so a 10 ms frame needs a period of 10 ms or
// a divisor of it (5 ms), and a 20 ms frame one of 5, 10 or 20 ms. The
// capture period is the floor of the latency: the Opus frame follows it,
// never the other way round.
func FrameFits(frame, period time.Duration) error {
	if period <= 0 || frame <= 0 {
		return conf.Errorf("opus.frame", "%v with a capture period of %v: both must be positive", frame, period)
	}
	if frame%period != 0 {
		return conf.Errorf("opus.frame", "%v is not a whole number of capture periods (audio.capture.period %v): set the period to %v or a divisor of it",
			frame, period, frame)
	}
	return nil
}
