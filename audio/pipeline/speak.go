package pipeline

import (
	"errors"
	"fmt"
	"time"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/aec"
	"github.com/onair-gateway/onair/audio/dsp"
	"github.com/onair-gateway/onair/audio/opus"
	"github.com/onair-gateway/onair/conf"
)

// Speak is a board's speak path without its capture: the echo canceller
// (when enabled), the voice chain for the capture format and the Opus
// encoder for the chain's output. The device (gateway) and `onairctl
// encode` both build it with NewSpeak, so what encode writes is what the
// device sends. Stage is what the pipeline runs.
type Speak struct {
	Chain   *dsp.Chain
	Encoder *opus.Encoder
	// AEC is the echo canceller in front of the chain, or nil.
	AEC   *aec.Canceller
	stage Chain
}

// SpeakOption adds to what NewSpeak builds.
type SpeakOption func(*speakOptions)

type speakOptions struct {
	aec    aec.Config
	aecSet bool
	ref    *aec.Reference
}

// WithAEC puts echo cancellation, configured by cfg (audio.aec), in front
// of the chain when cfg is enabled, before the beamformer and the AGC so
// that the AGC never raises residual echo. ref is what the device plays
// (aec.Reference wrapping the playback sink); it may be nil when cfg takes
// the reference from the capture's loopback channels.
func WithAEC(cfg aec.Config, ref *aec.Reference) SpeakOption {
	return func(o *speakOptions) { o.aec, o.aecSet, o.ref = cfg, true, ref }
}

// NewSpeak builds the chain for proc on a capture of format in from a mic
// array of geometry geom, the encoder for oc, and the options' stages. It
// fails, naming the config field, when the chain does not make oc.Channels
// channels (a beam mode and an Opus channel count that disagree) or the
// echo canceller cannot be built. The caller owns the encoder and the
// canceller: Close the Speak when done.
func NewSpeak(proc dsp.Config, geom audio.Geometry, in audio.Format, oc opus.Config, opts ...SpeakOption) (*Speak, error) {
	var o speakOptions
	for _, opt := range opts {
		opt(&o)
	}
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
	s := &Speak{Chain: chain, stage: chain}
	if o.aecSet && o.aec.On() {
		mics := geom.Mics
		if mics < 1 || mics > in.Channels {
			mics = in.Channels
		}
		c, err := aec.New(o.aec, in, mics, o.ref)
		if err != nil {
			return nil, conf.Prefix("audio.aec", err)
		}
		s.AEC = c
		s.stage = &aecChain{aec: c, chain: chain, tmp: audio.NewFrame(in.Channels, in.Rate, in.Period)}
	}
	enc, err := opus.NewEncoder(oc, in.Rate)
	if err != nil {
		if s.AEC != nil {
			s.AEC.Close()
		}
		return nil, fmt.Errorf("opus: %w", err)
	}
	s.Encoder = enc
	return s, nil
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

// Stage returns what the pipeline runs (pipeline.New's chain): the echo
// canceller then the voice chain, or the chain alone.
func (s *Speak) Stage() Chain { return s.stage }

// Close closes the encoder and the echo canceller.
func (s *Speak) Close() error {
	var err error
	if s.AEC != nil {
		err = s.AEC.Close()
	}
	return errors.Join(err, s.Encoder.Close())
}

// aecChain runs the echo canceller into a frame of its own, then the
// chain. It implements Chain; it allocates nothing per frame.
type aecChain struct {
	aec   *aec.Canceller
	chain *dsp.Chain
	tmp   *audio.Frame
}

var _ Chain = (*aecChain)(nil)

// Process implements audio.Stage. A frame of another length than the
// capture period passes the canceller untouched (counted there).
func (a *aecChain) Process(dst, src *audio.Frame) {
	if len(src.Samples) != len(a.tmp.Samples) {
		a.aec.Process(src, src)
		a.chain.SetEchoOnly(false)
		a.chain.Process(dst, src)
		return
	}
	a.aec.Process(a.tmp, src)
	a.chain.SetEchoOnly(a.aec.EchoOnly())
	a.chain.Process(dst, a.tmp)
}

// OutChannels implements Chain.
func (a *aecChain) OutChannels() int { return a.chain.OutChannels() }
