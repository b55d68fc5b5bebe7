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
	// measured delay (at most half the delay), so that an echo arriving
	// slightly before the estimate (a measurement's error, clock drift
	// between two measurements) still falls inside the causal filter.
	preDelay = 5 * time.Millisecond
	// resetAbove is how far a measurement must be from the lag model for
	// the echo path to count as new: the filter starts again.
	resetAbove = 10 * time.Millisecond
	// stall is how far the capture may run past the playback counter
	// (nothing played) before the alignment starts again when playback
	// resumes.
	stall = 200 * time.Millisecond
	// Once settle measurements are on the lag line, a measurement within
	// keepWithin samples of it leaves the line alone.
	settle     = 8
	keepWithin = 0.3
	// estMargin is how far the delay estimator's reference is held back
	// from the newest played sample: more than the jitter between the
	// playback writes and the capture frames (a few periods).
	estMargin = 50 * time.Millisecond
	// erleSmooth is the time constant of the reported ERLE.
	erleSmooth = 2 * time.Second
	// farActive is the reference's mean square above which the far end
	// counts as playing: -70 dBFS.
	farActive = 1e-7
	// convergedDB is the ERLE above which the filter counts as converged;
	// nearEnd is the power ratio (10 dB) the canceller must remove from a
	// frame for it to hold echo only: in double talk, a near end as loud
	// as the echo leaves the frame within 3 dB.
	convergedDB = 10.0
	nearEnd     = 10.0
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
	// SkewPPM is the measured drift of the playback clock against the
	// capture clock, in parts per million (positive: playback runs fast).
	SkewPPM float64
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
	margin   int       // estMargin in samples
	dline    []float32 // mic 0's last estMargin, a ring
	dlAt     int
	resetLag int
	stallLen int64

	epoch    uint64
	haveOff  bool
	off      int64 // playback position = capture position + off, at lag 0
	written  int64 // the Reference's count at the last frame
	measured bool
	echoOnly bool // the last frame held only echo (far end alone)
	// The lag model: lag(p) = lag0 + slope·(p - lagPos), fitted to pts.
	lag0    float64
	slope   float64
	lagPos  int64
	pts     [32]lagPoint
	npts    int
	lead    float64 // how far the reference leads its echo, in samples
	interp  *interpTable
	erleIn  float64
	erleOut float64
	erleA   float64

	delayNS atomic.Int64
	isMeas  atomic.Bool
	meas    atomic.Int64
	erle    atomic.Uint64 // float64 bits
	skew    atomic.Uint64 // float64 bits, ppm
	frames  atomic.Int64
	reject  atomic.Int64
}

var _ audio.Stage = (*Canceller)(nil)

// lagPoint is one lag measurement, in samples, at a capture position.
type lagPoint struct {
	pos int64
	lag float64
}

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
		margin:   in.Rate.Samples(estMargin),
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
		c.dline = make([]float32, c.margin)
		c.interp = newInterpTable()
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
	if !c.measured {
		// No echo path yet: the frame passes untouched, and the filter
		// starts at the right alignment once the delay is known.
		c.echoOnly = pref/float64(c.n) > farActive
		c.frames.Add(1)
		return
	}
	c.eng.Cancel(dst.Samples, c.channels, c.aligned)
	for i := range c.n {
		v := dst.Samples[i*c.channels]
		pout += float64(v) * float64(v)
	}
	c.echoOnly = false
	if pref/float64(c.n) > farActive {
		c.erleIn += c.erleA * (pin - c.erleIn)
		c.erleOut += c.erleA * (pout - c.erleOut)
		erle := 0.0
		if c.erleOut > 0 && c.erleIn > 0 {
			erle = 10 * math.Log10(c.erleIn/c.erleOut)
			c.erle.Store(math.Float64bits(erle))
		}
		// While the filter has not converged everything is echo; after,
		// a frame the canceller took at least nearEndDB from holds no
		// near end worth counting as voice.
		c.echoOnly = erle < convergedDB || pout*nearEnd < pin
	}
	c.frames.Add(1)
}

// alignPlayback reads the reference for src from the Reference: the
// played signal at src.Pos + off - lag(src.Pos) + preDelay (the reference
// leads its echo by preDelay), interpolated at the capture clock's pace,
// where off maps the capture counter onto the playback counter (set when
// playback starts) and lag is the measured delay and drift. It feeds the
// estimator with mic 0 and the reference at lag 0.
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
		clear(c.dline)
	}
	c.written = written
	// The estimator's reference is held back by estMargin, so that it
	// never reaches past what has been played however the playback
	// goroutine's writes fall against this frame: its input, and so the
	// measurement, does not depend on scheduling.
	// and mic 0 is held back as much through a delay line, so the lag
	// between them is the true one.
	c.ref.read(c.nominal, src.Pos+c.off-int64(c.margin))
	for i := range c.mic {
		at := (c.dlAt + i) % len(c.dline)
		c.mic[i] = c.dline[at]
		c.dline[at] = src.Samples[i*c.channels]
	}
	c.dlAt = (c.dlAt + len(c.mic)) % len(c.dline)
	if lag, ok := c.est.feed(c.mic, c.nominal); ok {
		// The measurement is the mean lag over the estimator's window,
		// which ends estMargin before this frame.
		c.measure(end-int64(c.margin+c.est.window()/2), lag)
	}
	// The echo at capture position p comes from played sample
	// p + off - lag(p); the reference leads it by preDelay.
	lag := c.lagAt(src.Pos)
	q0 := float64(src.Pos+c.off) + c.lead - lag
	c.ref.readFrac(c.aligned, q0, 1-c.slope, c.interp)
}

// maxSkew bounds the drift the alignment follows: 1000 ppm, far beyond
// any pair of crystal clocks.
const maxSkew = 1e-3

// lagAt is the modelled lag at capture position p.
func (c *Canceller) lagAt(p int64) float64 {
	return c.lag0 + c.slope*float64(p-c.lagPos)
}

// measure takes a confident lag measurement at capture position p into
// the model: a straight line fitted to the measurements since the echo
// path was found, whose slope is the drift between the clocks. A
// measurement far from the model starts a new path and resets the engine.
func (c *Canceller) measure(p int64, lag float64) {
	if math.IsNaN(lag) || math.IsInf(lag, 0) {
		return
	}
	c.meas.Add(1)
	if c.measured && math.Abs(lag-c.lagAt(p)) > float64(c.resetLag) {
		c.measured = false
	}
	if !c.measured {
		c.eng.Reset()
		c.npts = 0
		c.erleIn, c.erleOut = 0, 0
		c.measured = true
		c.isMeas.Store(true)
	}
	settled := c.npts >= settle && math.Abs(lag-c.lagAt(p)) < keepWithin
	c.pts[c.npts%len(c.pts)] = lagPoint{p, lag}
	c.npts++
	if settled {
		// The line still explains the measurement: keep the reference
		// where the filter has learned it; refitting on every
		// measurement's noise would move it by fractions of a sample
		// and make the filter re-adapt its high frequencies.
		return
	}
	n := min(c.npts, len(c.pts))
	// Least squares on positions relative to p.
	var sx, sy, sxx, sxy, span float64
	for _, q := range c.pts[:n] {
		x := float64(q.pos - p)
		span = max(span, -x)
		sx += x
		sy += q.lag
		sxx += x * x
		sxy += x * q.lag
	}
	fn := float64(n)
	c.lagPos, c.lag0, c.slope = p, sy/fn, 0
	if den := fn*sxx - sx*sx; n >= 3 && span >= float64(c.rate)/2 { // 3 points over 0.5 s or more
		s := (fn*sxy - sx*sy) / den
		if s > -maxSkew && s < maxSkew {
			c.slope = s
			c.lag0 = (sy - s*sx) / fn
		}
	}
	// The reference leads its echo by preDelay, or by half the delay
	// when that is shorter: what is not played yet cannot lead.
	c.lead = math.Max(0, math.Min(float64(c.pre), math.Floor(c.lag0/2)))
	c.delayNS.Store(int64(c.lag0 * 1e9 / float64(c.rate)))
	c.skew.Store(math.Float64bits(-c.slope * 1e6))
}

// EchoOnly reports whether the last frame Process took held only echo:
// the far end played and the canceller removed most of the frame (or has
// not converged yet). The voice chain then holds its AGC and DOA
// (dsp.Chain.SetEchoOnly). Call it from the goroutine that calls Process.
func (c *Canceller) EchoOnly() bool { return c.echoOnly }

// Stats returns the canceller's counters. Safe from any goroutine.
func (c *Canceller) Stats() Stats {
	return Stats{
		Delay:        time.Duration(c.delayNS.Load()),
		Measured:     c.isMeas.Load(),
		Measurements: c.meas.Load(),
		SkewPPM:      math.Float64frombits(c.skew.Load()),
		ERLE:         math.Float64frombits(c.erle.Load()),
		Frames:       c.frames.Load(),
		Rejected:     c.reject.Load(),
	}
}

// Close releases the engine. It may be called more than once.
func (c *Canceller) Close() error { return c.eng.Close() }
