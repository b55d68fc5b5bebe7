package aec

import (
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/conf"
)

const (
	// preDelay is how far the reference is moved earlier than the
	// measured delay, so that an echo arriving slightly before the
	// estimate (the estimate's 1/8 ms steps, clock drift between two
	// measurements) still falls inside the causal filter.
	preDelay = 5 * time.Millisecond
	// hysteresis is how far a new measurement must move before the
	// alignment follows it; resetAbove is how far a move must be for the
	// filter to start again rather than re-adapt.
	hysteresis = 2 * time.Millisecond
	resetAbove = 10 * time.Millisecond
	// stall is how far the capture may run past the playback counter
	// (nothing played) before the alignment starts again when playback
	// resumes.
	stall = 200 * time.Millisecond
	// erleSmooth is the time constant of the reported ERLE.
	erleSmooth = 2 * time.Second
)

// Stats are a Canceller's counters, for status and metrics.
type Stats struct {
	// Delay is the measured delay from handing a frame to the playback
	// device to hearing it in the capture (0 with hardware loopback).
	Delay time.Duration
	// Measured says whether Delay has been measured (always true with
	// hardware loopback).
	Measured bool
	// Measurements counts confident delay measurements.
	Measurements int64
	// ERLE is the echo return loss enhancement in dB: the capture's
	// power over the output's while the far end plays, smoothed over 2 s.
	ERLE float64
	// Frames counts frames processed; Rejected, frames of the wrong
	// shape passed through untouched.
	Frames, Rejected int64
}

// Canceller is echo cancellation as a stage of the speak path, in front of
// the voice chain: it takes capture frames (all channels) and writes them
// with the echo removed from every mic. The reference is either the
// capture's own loopback channels or a Reference of what is played,
// aligned by the sample counters (the capture's Frame.Pos, the Reference's
// played count) and the measured delay. It implements audio.Stage; Process
// is called from one goroutine (the capture loop), Stats from any.
type Canceller struct {
	eng      Engine
	channels int
	mics     int
	n        int
	rate     audio.SampleRate
	ref      *Reference // nil with loopback
	loop     []int
	aligned  []float32 // the reference for this frame, aligned
	nominal  []float32 // the reference at lag 0, for the estimator
	mic      []float32 // mic 0 as captured, for the estimator
	est      *delayEstimator
	pre      int
	hyst     int
	resetLag int
	stallLen int64

	epoch    uint64
	haveOff  bool
	off      int64 // playback position = capture position + off, at lag 0
	written  int64 // the Reference's count at the last frame
	lag      int   // measured lag in samples
	measured bool
	erleIn   float64
	erleOut  float64
	erleA    float64

	delayNS atomic.Int64
	isMeas  atomic.Bool
	meas    atomic.Int64
	erle    atomic.Uint64 // float64 bits
	frames  atomic.Int64
	reject  atomic.Int64
}

var _ audio.Stage = (*Canceller)(nil)

// New builds the canceller for capture frames of format in whose first
// mics channels are microphones, from cfg (defaults filled on a copy).
// With cfg.Loopback empty the reference is ref, which must be at the
// capture's rate; with loopback channels ref may be nil. The frames must
// be exactly one period long. The engine is speexdsp (NewSpeex).
func New(cfg Config, in audio.Format, mics int, ref *Reference) (*Canceller, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(in.Channels, mics); err != nil {
		return nil, err
	}
	n := in.FrameLen()
	rate := int(in.Rate)
	if len(cfg.Loopback) == 0 {
		if ref == nil {
			return nil, conf.Errorf("loopback", "empty, and no playback reference was given")
		}
		if ref.Rate() != in.Rate {
			return nil, fmt.Errorf("aec: reference at %d Hz, capture at %d Hz", ref.Rate(), in.Rate)
		}
	}
	shape := Shape{Mics: mics, Frame: n, Tail: in.Rate.Samples(cfg.Tail.D()), Rate: rate}
	eng, err := NewSpeex(shape, false, int(math.Round(*cfg.Suppress)), int(math.Round(*cfg.SuppressActive)))
	if err != nil {
		return nil, err
	}
	return NewWith(eng, cfg, in, mics, ref)
}

// NewWith builds the canceller around an engine made for the same shape;
// the canceller owns it and closes it in Close. cfg must be defaulted and
// valid (New does both).
func NewWith(eng Engine, cfg Config, in audio.Format, mics int, ref *Reference) (*Canceller, error) {
	n := in.FrameLen()
	c := &Canceller{
		eng: eng, channels: in.Channels, mics: mics, n: n, rate: in.Rate,
		aligned:  make([]float32, n),
		pre:      in.Rate.Samples(preDelay),
		hyst:     in.Rate.Samples(hysteresis),
		resetLag: in.Rate.Samples(resetAbove),
		stallLen: int64(in.Rate.Samples(stall)),
		erleA:    1 - math.Exp(-float64(n)/float64(in.Rate.Samples(erleSmooth))),
	}
	if len(cfg.Loopback) > 0 {
		c.loop = append([]int(nil), cfg.Loopback...)
		c.measured = true
		c.isMeas.Store(true)
	} else {
		c.ref = ref
		c.nominal = make([]float32, n)
		c.mic = make([]float32, n)
		c.est = newDelayEstimator(int(in.Rate), in.Rate.Samples(cfg.MaxDelay.D()))
	}
	return c, nil
}

// Process implements audio.Stage: dst gets src with the echo removed from
// every mic (dst may be src). A frame of another shape is copied through
// and counted in Stats().Rejected. It does not allocate.
func (c *Canceller) Process(dst, src *audio.Frame) {
	if src.Channels != c.channels || len(src.Samples) != c.n*c.channels || len(dst.Samples) != len(src.Samples) {
		c.reject.Add(1)
		if dst != src {
			copy(dst.Samples, src.Samples)
			dst.Pos = src.Pos
		}
		return
	}
	if dst != src {
		copy(dst.Samples, src.Samples)
		dst.Channels, dst.Rate, dst.Pos = src.Channels, src.Rate, src.Pos
	}
	if c.loop != nil {
		g := 1 / float32(len(c.loop))
		for i := range c.aligned {
			var v float32
			for _, ch := range c.loop {
				v += src.Samples[i*c.channels+ch]
			}
			c.aligned[i] = v * g
		}
	} else {
		c.alignPlayback(src)
	}
	var pin, pout, pref float64
	for i := range c.n {
		v := dst.Samples[i*c.channels]
		pin += float64(v) * float64(v)
		pref += float64(c.aligned[i]) * float64(c.aligned[i])
	}
	c.eng.Cancel(dst.Samples, c.channels, c.aligned)
	for i := range c.n {
		v := dst.Samples[i*c.channels]
		pout += float64(v) * float64(v)
	}
	if pref/float64(c.n) > 1e-7 { // the far end plays (above -70 dBFS)
		c.erleIn += c.erleA * (pin - c.erleIn)
		c.erleOut += c.erleA * (pout - c.erleOut)
		if c.erleOut > 0 && c.erleIn > 0 {
			c.erle.Store(math.Float64bits(10 * math.Log10(c.erleIn/c.erleOut)))
		}
	}
	c.frames.Add(1)
}

// alignPlayback reads the reference for src from the Reference: the
// played sample at src.Pos + off - lag + preDelay (the reference leads its
// echo by preDelay), where off maps the
// capture counter onto the playback counter (set when playback starts)
// and lag is the measured delay. It feeds the estimator with mic 0 and the
// reference at lag 0.
func (c *Canceller) alignPlayback(src *audio.Frame) {
	epoch, written := c.ref.state()
	end := src.Pos + int64(c.n)
	restart := epoch != c.epoch || !c.haveOff
	if !restart && end+c.off-written > c.stallLen {
		if written == c.written {
			// Nothing has played lately: no reference.
			clear(c.aligned)
			return
		}
		restart = true // playback resumed after a stall
	}
	if restart {
		if written == 0 {
			clear(c.aligned)
			return
		}
		// Playback (re)started: its newest sample maps onto the end of
		// this frame, and the delay is measured again.
		c.epoch, c.haveOff, c.off = epoch, true, written-end
		c.measured = false
		c.isMeas.Store(false)
		c.est.reset()
	}
	c.written = written
	c.ref.read(c.nominal, src.Pos+c.off)
	c.ref.read(c.aligned, src.Pos+c.off-int64(c.lag-c.pre))
	for i := range c.mic {
		c.mic[i] = src.Samples[i*c.channels]
	}
	lag, ok := c.est.feed(c.mic, c.nominal)
	if !ok {
		return
	}
	c.meas.Add(1)
	d := lag - c.lag
	if c.measured && d < c.hyst && d > -c.hyst {
		return
	}
	if !c.measured || d >= c.resetLag || d <= -c.resetLag {
		c.eng.Reset()
	}
	c.lag, c.measured = lag, true
	c.isMeas.Store(true)
	c.delayNS.Store(int64(c.rate.Duration(lag)))
}

// Stats returns the canceller's counters. Safe from any goroutine.
func (c *Canceller) Stats() Stats {
	return Stats{
		Delay:        time.Duration(c.delayNS.Load()),
		Measured:     c.isMeas.Load(),
		Measurements: c.meas.Load(),
		ERLE:         math.Float64frombits(c.erle.Load()),
		Frames:       c.frames.Load(),
		Rejected:     c.reject.Load(),
	}
}

// Close releases the engine. It may be called more than once.
func (c *Canceller) Close() error { return c.eng.Close() }
