package pipeline

import (
	"fmt"

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
