package sim

import (
	"math"
	"time"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/dsp"
	"github.com/onair-gateway/onair/audio/marks"
)

// Taps is the length of each microphone's fractional-delay filter. The
// integer part of a mic's delay is a plain shift in the talker's history, so
// the filter only covers a fraction within ±0.5 sample, where 16 taps of
// Blackman-windowed sinc are accurate to well under 0.01 sample below 4 kHz.
const Taps = 16

// Chirp timing. The talker of signal chirp says audio/marks' timing mark
// (an exponential sweep, marks.Chirp) once every ChirpPeriod and is silent
// in between; in real time, sample 0 falls on a whole Unix second, so that
// `onairctl listen` measures mouth-to-ear latency from the marks.
const (
	// ChirpPeriod is the time from one sweep's start to the next.
	ChirpPeriod = marks.Period
	// ChirpLength is how long each sweep lasts.
	ChirpLength = marks.Length
	// wavFade is the raised-cosine fade at both ends of a WAV loop, so a
	// file that does not end where it starts loops without a click.
	wavFade = 5 * time.Millisecond
)

// talker renders the dry talker signal, sample s of it at a time; s counts
// from the talker's start and may be negative (the history before it). One
// call per frame, never per sample.
type talker struct {
	kind SignalKind
	// tone
	amp  float64
	freq float64
	rate float64
	// chirp and wav: one period, looped. right is the right channel of a
	// stereo WAV in line-in mode, or nil.
	loop  []float32
	right []float32
	// chirp: samples between sweep starts (the loop length is the sweep).
	period int64
}

// render writes talker samples s0, s0+1, ... into dst.
func (t *talker) render(dst []float32, s0 int64) {
	switch t.kind {
	case SignalTone:
		// Phase of sample s0, reduced exactly before it becomes an angle, then
		// a rotating phasor: two multiplies per sample, no drift within a
		// frame.
		cyc := math.Mod(float64(s0)*t.freq, t.rate) / t.rate
		c, s := math.Cos(2*math.Pi*cyc), math.Sin(2*math.Pi*cyc)
		w := 2 * math.Pi * t.freq / t.rate
		cw, sw := math.Cos(w), math.Sin(w)
		for i := range dst {
			dst[i] = float32(t.amp * s)
			c, s = c*cw-s*sw, s*cw+c*sw
		}
	case SignalChirp:
		p := mod(s0, t.period)
		for i := range dst {
			if p < int64(len(t.loop)) {
				dst[i] = t.loop[p]
			} else {
				dst[i] = 0
			}
			if p++; p == t.period {
				p = 0
			}
		}
	case SignalWAV:
		loopCopy(dst, t.loop, s0)
	default:
		clear(dst)
	}
}

// renderRight writes the right channel of a line input: a stereo WAV's own
// right channel, else the left signal at -6 dB (so a swap or a downmix shows).
func (t *talker) renderRight(dst, left []float32, s0 int64) {
	if t.right != nil {
		loopCopy(dst, t.right, s0)
		return
	}
	for i, v := range left {
		dst[i] = 0.5 * v
	}
}

// loopCopy copies loop[s0 mod len], loop[s0+1 mod len], ... into dst.
func loopCopy(dst, loop []float32, s0 int64) {
	p := int(mod(s0, int64(len(loop))))
	for n := 0; n < len(dst); {
		c := copy(dst[n:], loop[p:])
		n += c
		p = 0
	}
}

func mod(a, b int64) int64 {
	r := a % b
	if r < 0 {
		r += b
	}
	return r
}

// chirpTable renders one sweep at peak amplitude amp.
func chirpTable(rate audio.SampleRate, amp float64) []float32 {
	out := marks.Chirp(rate)
	for i := range out {
		out[i] *= float32(amp)
	}
	return out
}

// fadeEnds applies raised-cosine fades of n samples to both ends of x.
func fadeEnds(x []float32, n int) {
	if len(x) < 4*n {
		return
	}
	for i := range n {
		g := float32(0.5 - 0.5*math.Cos(math.Pi*float64(i)/float64(n)))
		x[i] *= g
		x[len(x)-1-i] *= g
	}
}

// activeRMS returns the RMS of x over its active 10 ms blocks: those no more
// than activeRange dB below the loudest block. This is a simple stand-in for
// the active speech level of ITU-T P.56: pauses between words do not lower
// it, so a talker set to -26 dBFS sounds like one at -26 dBFS.
func activeRMS(x []float32, rate audio.SampleRate) float64 {
	const activeRange = 40.0
	bl := rate.Samples(10 * time.Millisecond)
	if bl < 1 || len(x) < bl {
		bl = len(x)
	}
	var ms []float64
	var loudest float64
	for i := 0; i+bl <= len(x); i += bl {
		var s float64
		for _, v := range x[i : i+bl] {
			s += float64(v) * float64(v)
		}
		s /= float64(bl)
		ms = append(ms, s)
		loudest = max(loudest, s)
	}
	thr := loudest * math.Pow(10, -activeRange/10)
	var sum float64
	var n int
	for _, s := range ms {
		if s >= thr && s > 0 {
			sum += s
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return math.Sqrt(sum / float64(n))
}

// filterSet is the per-mic rendering of one talker azimuth. It is immutable
// once published.
type filterSet struct {
	az float64 // degrees
	// shift is each mic's integer delay in samples, 0..2*base.
	shift []int
	// taps are each mic's fractional-delay taps, reversed so the filter is a
	// dot product with the history.
	taps [][Taps]float32
	// delays are each mic's arrival times relative to the array centre, in
	// samples (negative: earlier).
	delays []float64
}

// newFilterSet designs the filters for a plane wave from azimuth az degrees.
// Mic m is delayed by base + delays[m] samples (base keeps every delay
// non-negative), split into an integer shift and a fraction in [-0.5, 0.5].
func newFilterSet(geom audio.Geometry, rate audio.SampleRate, base int, az float64) *filterSet {
	d := geom.Delays(az * math.Pi / 180)
	fs := &filterSet{az: az, shift: make([]int, len(d)), taps: make([][Taps]float32, len(d)), delays: make([]float64, len(d))}
	for m, sec := range d {
		ds := sec * float64(rate)
		D := float64(base) + ds
		k := math.Round(D)
		k = math.Max(0, math.Min(float64(2*base), k))
		h := dsp.FracDelayTaps(D-k, Taps)
		for j := range Taps {
			fs.taps[m][j] = h[Taps-1-j]
		}
		fs.shift[m] = int(k)
		fs.delays[m] = ds
	}
	return fs
}

// fir writes y[i] = Σ_j g[j]·x[off+i+j] for i < len(y), where g holds the
// reversed taps. add selects y += instead of y =.
func fir(y, x []float32, off int, g *[Taps]float32, add bool) {
	x = x[off : off+len(y)+Taps-1]
	for i := range y {
		w := (*[Taps]float32)(x[i : i+Taps])
		a := g[0]*w[0] + g[1]*w[1] + g[2]*w[2] + g[3]*w[3]
		b := g[4]*w[4] + g[5]*w[5] + g[6]*w[6] + g[7]*w[7]
		c := g[8]*w[8] + g[9]*w[9] + g[10]*w[10] + g[11]*w[11]
		d := g[12]*w[12] + g[13]*w[13] + g[14]*w[14] + g[15]*w[15]
		if add {
			y[i] += (a + b) + (c + d)
		} else {
			y[i] = (a + b) + (c + d)
		}
	}
}

// rng is splitmix64: tiny state, no allocation, good enough statistics for
// noise.
type rng struct{ s uint64 }

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// gaussScale normalises a sum of four uniform 16-bit integers to unit
// variance: each has variance (65536²-1)/12, so the scale is
// 1/sqrt(4·(65536²-1)/12).
const gaussScale = 2.6428997921303014e-05

// gauss returns a zero-mean, unit-variance sample that is close to normal:
// the Irwin–Hall sum of the four 16-bit lanes of one 64-bit draw (kurtosis
// 2.7 against a normal's 3, spectrum white). It costs one draw per sample.
func (r *rng) gauss() float32 {
	v := r.next()
	s := v&0xffff + v>>16&0xffff + v>>32&0xffff + v>>48
	return (float32(s) - 2*65535) * gaussScale
}

// fillNoise fills x with unit-variance white noise.
func (r *rng) fillNoise(x []float32) {
	for i := range x {
		x[i] = r.gauss()
	}
}
