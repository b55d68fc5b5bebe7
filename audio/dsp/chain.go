package dsp

import (
	"fmt"
	"math"
	"sync/atomic"

	"github.com/onair-gateway/onair/audio"
)

// Steering by DOA: the beam follows the estimate once its confidence
// reaches doaSteerConfidence, and only when it has moved by
// steerHysteresisDeg or more, so that a steady talker does not make the
// beam cross-fade between neighbouring degrees on every analysis.
const (
	doaSteerConfidence = 0.1
	steerHysteresisDeg = 3.0
)

// Chain is the voice processing chain of the speak path. It turns frames of
// the capture (N channels) into one channel (fixed, doa and mono beams) or
// two (stereo):
//
//	input meters and voice detection → mix (beamformer with per-mic
//	gains, mono average or stereo pass-through) → high-pass (→ DOA →
//	steering) → noise gate → AGC → limiter → output meters → on-air gate
//
// Process must be called from one goroutine at a time (the capture loop);
// the accessors are safe from any goroutine.
type Chain struct {
	in       audio.Format
	out      int
	maxLen   int
	gain2    []float64 // power gain of each capture channel that reaches the output
	azimuth  float64
	inMeter  *Meter
	beam     *Beamformer
	doa      *DOA
	mono     *Mono
	stereo   *Stereo
	hp       *HighPass
	vad      vad
	gate     *Gate
	agc      *AGC
	lim      *Limiter
	outMeter *Meter
	fader    *Fader
	zero     []float32   // a silent capture frame, used in place of an invalid one
	views    [][]float32 // the mics' samples of the current frame, for the DOA
	echoOnly bool        // SetEchoOnly: the frame holds only residual echo
	voice    atomic.Bool
	invalid  atomic.Uint64
	rejected atomic.Uint64
}

var _ audio.Stage = (*Chain)(nil)

// NewChain builds the chain for captures of format in (N channels at 16 or
// 48 kHz, any period) from an array geometry and cfg, which should already
// be defaulted (SetDefaults) and validated; NewChain fills any field still
// unset with its default and reports a config that does not validate, a
// geometry that does not fit the capture, or a format it cannot process,
// all wrapping ErrFormat. Everything the chain needs is allocated here.
func NewChain(cfg Config, geom audio.Geometry, in audio.Format) (*Chain, error) {
	if err := checkFormat(in); err != nil {
		return nil, err
	}
	cfg.SetDefaults(in.Channels, geom.Shape == audio.ShapeCircular)
	if err := cfg.Validate(in.Channels); err != nil {
		return nil, fmt.Errorf("%w: config: %w", ErrFormat, err)
	}
	c := &Chain{in: in, out: 1, maxLen: in.FrameLen(), azimuth: *cfg.Azimuth}
	var err error
	if c.inMeter, err = NewMeter(in); err != nil {
		return nil, err
	}
	var used int
	switch cfg.Beam {
	case BeamFixed, BeamDOA:
		if c.beam, err = NewBeamformer(in, geom, cfg.Gains, c.azimuth); err != nil {
			return nil, err
		}
		used = geom.Mics
		if cfg.Beam == BeamDOA {
			if c.doa, err = NewDOA(in, geom, cfg.DOASmoothing.D()); err != nil {
				return nil, err
			}
			c.views = make([][]float32, geom.Mics)
		}
	case BeamMono:
		mics := geom.Mics
		if mics < 1 || mics > in.Channels {
			mics = in.Channels
		}
		if c.mono, err = NewMono(in, mics, cfg.Gains); err != nil {
			return nil, err
		}
		used = mics
	case BeamStereo:
		c.out, used = 2, 2
		if c.stereo, err = NewStereo(in, cfg.Gains); err != nil {
			return nil, err
		}
	}
	gains, err := gainsLinear(cfg.Gains, in.Channels)
	if err != nil {
		return nil, err
	}
	c.gain2 = make([]float64, used)
	for i := range c.gain2 {
		c.gain2[i] = gains[i] * gains[i]
	}
	of := audio.Format{Channels: c.out, Rate: in.Rate, Period: in.Period}
	if c.hp, err = NewHighPass(of, *cfg.HighPass); err != nil {
		return nil, err
	}
	c.vad = newVAD(in.Rate, *cfg.Gate)
	if c.gate, err = NewGate(of, *cfg.Gate); err != nil {
		return nil, err
	}
	if c.agc, err = NewAGC(of, cfg.AGC); err != nil {
		return nil, err
	}
	if c.lim, err = NewLimiter(of, *cfg.Limiter); err != nil {
		return nil, err
	}
	if c.outMeter, err = NewMeter(of); err != nil {
		return nil, err
	}
	if c.fader, err = NewFader(of, cfg.Fade.D()); err != nil {
		return nil, err
	}
	c.zero = make([]float32, c.maxLen*in.Channels)
	return c, nil
}

// OutChannels returns the channel count of the frames Process writes: 2 for
// the stereo beam, 1 otherwise.
func (c *Chain) OutChannels() int { return c.out }

// Latency returns how many samples the output lags the capture: the
// beamformer's alignment delay plus the limiter's look-ahead.
func (c *Chain) Latency() int {
	n := c.lim.Latency()
	if c.beam != nil {
		n += c.beam.Latency()
	}
	return n
}

// Process implements audio.Stage. src must have the capture's channel count
// and rate, and dst OutChannels() channels and the same length (any
// length; frames longer than the period are processed in periods). A frame
// of another shape or rate is counted in Meters().Rejected and dst is
// silenced. dst and src may
// be the same frame only when the capture has OutChannels() channels.
func (c *Chain) Process(dst, src *audio.Frame) {
	if !shapeOK(dst, src, c.in.Channels, c.out) || (src.Rate != 0 && src.Rate != c.in.Rate) {
		clear(dst.Samples)
		c.rejected.Add(1)
		return
	}
	n, ch := src.Len(), c.in.Channels
	for off := 0; off < n; off += c.maxLen {
		l := min(c.maxLen, n-off)
		c.run(dst.Samples[off*c.out:(off+l)*c.out], src.Samples[off*ch:(off+l)*ch])
	}
	c.voice.Store(c.vad.voice)
}

// run processes one period (or less) of the capture s into d.
func (c *Chain) run(d, s []float32) {
	if !c.inMeter.measure(s) {
		c.invalid.Add(1)
		s = c.zero[:len(s)]
	}
	switch {
	case c.beam != nil:
		c.beam.load(s)
		c.beam.render(d)
	case c.mono != nil:
		c.mono.run(d, s)
	default:
		c.stereo.run(d, s)
	}
	// The high-pass runs on the mix, not on each mic: it is linear and
	// time-invariant and every steering filter has unity gain at DC, so
	// filtering the sum equals summing the filtered mics at 1/Mics of the
	// cost.
	c.hp.run(d, d)
	// Voice is detected on the mics themselves (their power without DC,
	// from the input meter's pass), not on the beam: the beam's noise level
	// changes with where it points, which would fool the noise floor.
	active := c.vad.update(c.inMeter.acPower(c.gain2), len(d)/c.out)
	noise := !c.vad.voice
	if c.echoOnly {
		// Residual echo is neither voice nor background: the AGC holds
		// its gain and the DOA neither steers at the loudspeaker nor
		// learns it as noise.
		active, noise = false, false
	}
	if c.doa != nil {
		for i := range c.views {
			c.views[i] = c.beam.mic(i)
		}
		if c.doa.feed(c.views, active, noise) {
			c.steer()
		}
	}
	c.gate.run(d, d)
	c.agc.run(d, d, active)
	c.lim.run(d, d)
	c.outMeter.measure(d)
	c.fader.run(d, d)
}

// SetEchoOnly says whether the next frames Process takes hold only what
// the echo canceller left of the far end (the far end talks, the near end
// does not). Voice detection then counts them as neither voice nor
// background, so the AGC does not raise residual echo and the DOA does not
// steer at the loudspeaker. The echo canceller's stage calls it before
// each Process, from the same goroutine.
func (c *Chain) SetEchoOnly(on bool) { c.echoOnly = on }

// steer points the beam at the DOA estimate when it is confident and has
// moved far enough.
func (c *Chain) steer() {
	az, conf := c.doa.Estimate()
	if conf < doaSteerConfidence {
		return
	}
	diff := math.Abs(math.Mod(az-c.beam.Azimuth()+540, 360) - 180)
	if diff >= steerHysteresisDeg {
		c.beam.Steer(az)
	}
}

// Meters returns a snapshot of the meters. It allocates the two small
// slices it returns and is meant for status reporting, not for the audio
// path. It is safe to call from any goroutine.
func (c *Chain) Meters() Meters {
	m := Meters{
		In:       make([]Level, c.in.Channels),
		Out:      make([]Level, c.out),
		Voice:    c.voice.Load(),
		Invalid:  c.invalid.Load(),
		Rejected: c.rejected.Load(),
	}
	for i := range m.In {
		m.In[i] = c.inMeter.Level(i)
	}
	for i := range m.Out {
		m.Out[i] = c.outMeter.Level(i)
	}
	return m
}

// DOA returns the smoothed direction of arrival in degrees and its
// confidence 0..1 with the doa beam; with a fixed beam, the fixed azimuth
// and 0; with mono and stereo, 0 and 0. It is safe to call from any
// goroutine.
func (c *Chain) DOA() (azimuthDeg, confidence float64) {
	switch {
	case c.doa != nil:
		return c.doa.Estimate()
	case c.beam != nil:
		return c.beam.Azimuth(), 0
	}
	return 0, 0
}

// Steered returns the azimuth the beam points at in degrees (0 for mono
// and stereo). It is safe to call from any goroutine.
func (c *Chain) Steered() float64 {
	if c.beam == nil {
		return 0
	}
	return c.beam.Azimuth()
}

// SetOnAir puts the chain on or off air; the output fades over Config.Fade.
// A new chain is off air. It is safe to call from any goroutine.
func (c *Chain) SetOnAir(on bool) { c.fader.SetOnAir(on) }

// OnAir reports whether the chain is on air (or fading towards it). It is
// safe to call from any goroutine.
func (c *Chain) OnAir() bool { return c.fader.OnAir() }

// GateOpen returns the on-air gate's gain after the last frame: 0 off air, 1
// on air, in between while fading. It is safe to call from any goroutine.
func (c *Chain) GateOpen() float64 { return c.fader.Gain() }
