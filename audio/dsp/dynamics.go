package dsp

import (
	"fmt"
	"math"
	"time"

	"github.com/onair-gateway/onair/audio"
)

// Noise gate timing. The gate decides on 1 ms blocks of the frame before
// applying them, so it opens at the start of the block in which a voice
// starts (no clipped onsets) with a 1 ms time constant, holds open for
// 200 ms after the level drops (so syllables and short pauses are not
// chopped) and then closes with a 100 ms time constant down to gateFloorDB:
// a range, not a mute, so the room does not hear the line go dead.
const (
	gateBlock   = time.Millisecond
	gateAttack  = time.Millisecond
	gateHold    = 200 * time.Millisecond
	gateRelease = 100 * time.Millisecond
	gateFloorDB = -40.0
)

// Gate is a noise gate: blocks of 1 ms whose RMS level (over all channels)
// stays below the threshold, after a hold time, are attenuated by 40 dB.
// Gain changes are smoothed per sample, so opening and closing never click.
// Stereo channels share one gain.
type Gate struct {
	ch       int
	thr      float64 // mean-square threshold
	block    int
	hold     int
	holdLeft int
	atk, rel float32 // per-sample factor of the distance to the target
	floor    float32
	g        float32
}

var _ audio.Stage = (*Gate)(nil)

// NewGate builds a gate for frames of format f with its threshold at
// thresholdDBFS (RMS, -100..0).
func NewGate(f audio.Format, thresholdDBFS float64) (*Gate, error) {
	if err := checkFormat(f); err != nil {
		return nil, err
	}
	if !(thresholdDBFS >= -120 && thresholdDBFS <= 0) {
		return nil, fmt.Errorf("%w: gate threshold %v dBFS", ErrFormat, thresholdDBFS)
	}
	t := FromDB(thresholdDBFS)
	return &Gate{
		ch:    f.Channels,
		thr:   t * t,
		block: max(1, f.Rate.Samples(gateBlock)),
		hold:  f.Rate.Samples(gateHold),
		atk:   float32(decayCoef(gateAttack, f.Rate)),
		rel:   float32(decayCoef(gateRelease, f.Rate)),
		floor: float32(FromDB(gateFloorDB)),
		g:     float32(FromDB(gateFloorDB)),
	}, nil
}

// Gain returns the gate's current gain (1 open, 0.01 closed). It belongs to
// the goroutine that calls Process.
func (gt *Gate) Gain() float64 { return float64(gt.g) }

// Process implements audio.Stage. dst and src may be the same frame.
func (gt *Gate) Process(dst, src *audio.Frame) {
	if !shapeOK(dst, src, gt.ch, gt.ch) {
		return
	}
	gt.run(dst.Samples, src.Samples)
}

func (gt *Gate) run(dst, src []float32) {
	ch := gt.ch
	n := len(src) / ch
	for start := 0; start < n; start += gt.block {
		end := min(start+gt.block, n)
		s, d := src[start*ch:end*ch], dst[start*ch:end*ch]
		switch {
		case meanSquare(s) >= gt.thr:
			gt.holdLeft = gt.hold + (end - start)
		case gt.holdLeft > 0:
			gt.holdLeft -= end - start
		}
		target, coef := gt.floor, gt.rel
		if gt.holdLeft > 0 {
			target, coef = 1, gt.atk
		}
		g := gt.g
		if g == target {
			if g == 1 {
				copy(d, s)
			} else {
				for i, v := range s {
					d[i] = v * g
				}
			}
			continue
		}
		d = d[:len(s)]
		for i := 0; i+ch <= len(s); i += ch {
			g = target + (g-target)*coef
			// Snap when within 1e-4 (-80 dB): in float32 the approach
			// stalls a few ulps short of the target, which would leave
			// the gain ramping forever.
			if g-target < 1e-4 && target-g < 1e-4 {
				g = target
			}
			if ch == 1 {
				d[i] = s[i] * g
				continue
			}
			for c := i; c < i+ch; c++ {
				d[c] = s[c] * g
			}
		}
		gt.g = g
	}
}

// AGC timing. The speech level is a power average over voiced frames with
// a 1 s time constant (a running mean over the first second of speech, so
// the first estimate comes quickly); the gain follows it with 300 ms when
// rising and 150 ms when falling, and only on voiced frames: in silence it
// is frozen, so pauses are not pumped up to the target.
const (
	agcLevelTau  = time.Second
	agcUpTau     = 300 * time.Millisecond
	agcDownTau   = 150 * time.Millisecond
	agcMinGainDB = -20.0
)

// AGC is an automatic gain control that brings the active speech level to a
// target: a feed-forward design that measures the speech level of its input
// on voiced frames and applies a gain of target minus level, between -20 dB
// and the configured maximum, interpolated per sample across each frame.
// Stereo channels share one gain. Disabled, it passes audio through.
type AGC struct {
	ch          int
	rate        audio.SampleRate
	maxLen      int
	enabled     bool
	target      float64 // dBFS
	maxGain     float64 // dB
	level       float64 // mean square of the speech
	voiced      int     // voiced samples seen, for the running-mean start
	gainDB      float64
	g           float32
	aLevel, aUp float64 // coefficients for frames of maxLen
	aDown       float64
	vad         vad // used by Process alone
}

var _ audio.Stage = (*AGC)(nil)

// NewAGC builds an AGC for frames of format f from a defaulted cfg.
func NewAGC(f audio.Format, cfg AGCConfig) (*AGC, error) {
	if err := checkFormat(f); err != nil {
		return nil, err
	}
	if cfg.Enabled == nil || cfg.Target == nil || cfg.MaxGain == nil {
		return nil, fmt.Errorf("%w: agc config has unset fields (call SetDefaults)", ErrFormat)
	}
	l := f.FrameLen()
	return &AGC{
		ch:      f.Channels,
		rate:    f.Rate,
		maxLen:  l,
		enabled: *cfg.Enabled,
		target:  *cfg.Target,
		maxGain: *cfg.MaxGain,
		g:       1,
		aLevel:  smoothCoef(agcLevelTau, l, f.Rate),
		aUp:     smoothCoef(agcUpTau, l, f.Rate),
		aDown:   smoothCoef(agcDownTau, l, f.Rate),
		vad:     newVAD(f.Rate, standaloneVADDBFS),
	}, nil
}

// GainDB returns the gain the AGC applies now, in dB. It belongs to the
// goroutine that calls Process.
func (a *AGC) GainDB() float64 { return a.gainDB }

// Process implements audio.Stage, detecting voice on its own input. dst and
// src may be the same frame.
func (a *AGC) Process(dst, src *audio.Frame) {
	if !shapeOK(dst, src, a.ch, a.ch) {
		return
	}
	n := src.Len()
	for off := 0; off < n; off += a.maxLen {
		l := min(a.maxLen, n-off)
		s := src.Samples[off*a.ch : (off+l)*a.ch]
		a.run(dst.Samples[off*a.ch:(off+l)*a.ch], s, a.vad.update(meanSquare(s), l))
	}
}

// run applies the AGC to one frame of at most maxLen samples per channel;
// voice says whether the frame holds speech.
func (a *AGC) run(dst, src []float32, voice bool) {
	if !a.enabled {
		copy(dst, src)
		return
	}
	l := len(src) / a.ch
	if voice && l > 0 {
		ms := meanSquare(src)
		a.voiced += l
		k := a.aLevel
		if l != a.maxLen {
			k = smoothCoef(agcLevelTau, l, a.rate)
		}
		if run := float64(l) / float64(a.voiced); run > k {
			k = run
		}
		a.level += k * (ms - a.level)
		want := math.Max(agcMinGainDB, math.Min(a.maxGain, a.target-10*math.Log10(math.Max(a.level, 1e-12))))
		tau, k := agcUpTau, a.aUp
		if want < a.gainDB {
			tau, k = agcDownTau, a.aDown
		}
		if l != a.maxLen {
			k = smoothCoef(tau, l, a.rate)
		}
		a.gainDB += k * (want - a.gainDB)
	}
	g1 := float32(FromDB(a.gainDB))
	g0 := a.g
	a.g = g1
	if g0 == g1 {
		for i, v := range src {
			dst[i] = v * g1
		}
		return
	}
	rampGain(dst, src, a.ch, g0, (g1-g0)/float32(l), min(g0, g1), max(g0, g1))
}

// Limiter timing: the look-ahead, and the time over which the gain falls to
// meet a peak, is one 1 ms block; the gain recovers with a 60 ms time
// constant.
const (
	limBlock   = time.Millisecond
	limRelease = 60 * time.Millisecond
	// limMargin keeps float32 rounding of gain × sample from reaching the
	// ceiling: 1e-5 relative is hundreds of float32 ulps.
	limMargin = 1 - 1e-5
)

// Limiter is a look-ahead peak limiter whose output never exceeds its
// ceiling. It delays the signal by one 1 ms block; for each block it knows
// the peak of the block and of the next one, and moves its gain linearly
// across the block to a value no higher than the ceiling over either peak.
// Since both ends of every ramp are within the limit of the block, so is
// every sample: the ceiling holds by construction, whatever the overdrive,
// with no hard clipping. Stereo channels share one gain.
type Limiter struct {
	ch     int
	block  int
	maxLen int
	ceil   float32
	rel    float32 // per-block factor of the distance of the gain to 1
	g      float32
	w      []float32 // one block held back, then the frame
}

var _ audio.Stage = (*Limiter)(nil)

// NewLimiter builds a limiter for frames of format f whose output never
// exceeds ceilingDBFS (-20..0).
func NewLimiter(f audio.Format, ceilingDBFS float64) (*Limiter, error) {
	if err := checkFormat(f); err != nil {
		return nil, err
	}
	if !(ceilingDBFS >= -40 && ceilingDBFS <= 0) {
		return nil, fmt.Errorf("%w: limiter ceiling %v dBFS", ErrFormat, ceilingDBFS)
	}
	b := max(1, f.Rate.Samples(limBlock))
	return &Limiter{
		ch:     f.Channels,
		block:  b,
		maxLen: f.FrameLen(),
		ceil:   float32(FromDB(ceilingDBFS) * limMargin),
		rel:    float32(math.Pow(decayCoef(limRelease, f.Rate), float64(b))),
		g:      1,
		w:      make([]float32, (b+f.FrameLen())*f.Channels),
	}, nil
}

// Latency returns the look-ahead delay in samples.
func (lm *Limiter) Latency() int { return lm.block }

// GainDB returns the limiter's current gain in dB (0 when not limiting). It
// belongs to the goroutine that calls Process.
func (lm *Limiter) GainDB() float64 { return DBFS(float64(lm.g)) }

// Process implements audio.Stage. dst and src may be the same frame.
func (lm *Limiter) Process(dst, src *audio.Frame) {
	if !shapeOK(dst, src, lm.ch, lm.ch) {
		return
	}
	n := src.Len()
	for off := 0; off < n; off += lm.maxLen {
		l := min(lm.maxLen, n-off)
		lm.run(dst.Samples[off*lm.ch:(off+l)*lm.ch], src.Samples[off*lm.ch:(off+l)*lm.ch])
	}
}

// require returns the largest gain that keeps a peak p within the ceiling.
func (lm *Limiter) require(p float32) float32 {
	if p > lm.ceil {
		return lm.ceil / p
	}
	return 1
}

// run limits one frame of at most maxLen samples per channel.
func (lm *Limiter) run(dst, src []float32) {
	ch, blk := lm.ch, lm.block
	l := len(src) / ch
	held := blk * ch
	copy(lm.w[held:held+len(src)], src)
	w := lm.w[:held+l*ch]
	pk := peakAbs(w[:min(blk, l)*ch])
	g := lm.g
	for start := 0; start < l; {
		end := min(start+blk, l)
		next := l + blk // the held-back block
		if end < l {
			next = min(end+blk, l)
		}
		pkNext := peakAbs(w[end*ch : next*ch])
		r := min(lm.require(pk), lm.require(pkNext))
		g1 := 1 - (1-g)*lm.rel
		if g1 > r {
			g1 = r
		}
		s, d := w[start*ch:end*ch], dst[start*ch:end*ch]
		if g1 == 1 && g == 1 {
			copy(d, s)
		} else {
			// Both ends are within the block's limit, and the ramp is
			// clamped between them so rounding cannot overshoot.
			rampGain(d, s, ch, g, (g1-g)/float32(end-start), min(g, g1), max(g, g1))
		}
		g, pk, start = g1, pkNext, end
	}
	lm.g = g
	copy(lm.w[:held], lm.w[l*ch:l*ch+held])
}

// peakAbs returns the largest |v| in s. It compares the bit patterns of
// |v|, which order like the values: integer max compiles to a conditional
// move, where a float comparison would be a branch mispredicted whenever
// the waveform rises.
func peakAbs(s []float32) float32 {
	const abs = 1<<31 - 1
	var p0, p1 uint32
	i := 0
	for ; i+1 < len(s); i += 2 {
		p0 = max(p0, math.Float32bits(s[i])&abs)
		p1 = max(p1, math.Float32bits(s[i+1])&abs)
	}
	if i < len(s) {
		p0 = max(p0, math.Float32bits(s[i])&abs)
	}
	return math.Float32frombits(max(p0, p1))
}

// rampGain writes src × g into dst for interleaved frames of ch channels,
// adding step to g before each frame and keeping it within lo..hi, and
// returns the last g.
func rampGain(dst, src []float32, ch int, g, step, lo, hi float32) float32 {
	dst = dst[:len(src)]
	// Comparisons rather than the min and max builtins, whose NaN handling
	// costs several instructions more on amd64.
	if ch == 1 {
		for i, v := range src {
			g += step
			if g > hi {
				g = hi
			}
			if g < lo {
				g = lo
			}
			dst[i] = v * g
		}
		return g
	}
	for i := 0; i+ch <= len(src); i += ch {
		g += step
		if g > hi {
			g = hi
		}
		if g < lo {
			g = lo
		}
		for c := i; c < i+ch; c++ {
			dst[c] = src[c] * g
		}
	}
	return g
}
