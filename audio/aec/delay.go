package aec

import (
	"math"

	"github.com/onair-gateway/onair/audio/dsp"
)

// The delay between the reference and its echo in the capture is measured
// by GCC-PHAT on both signals decimated to 8 kHz: every quarter second,
// over the last second, across lags from 0 to MaxDelay + 20 ms (an echo
// cannot come before its sound is played).
const (
	estRate     = 8000
	estWindow   = estRate      // 1 s of capture
	estEvery    = estRate / 4  // a measurement every 0.25 s
	estNegative = estRate / 50 // 20 ms of slack beyond MaxDelay
	// estConfidence is the least ratio of the correlation peak to the
	// RMS of the correlation over the lags searched for a measurement
	// to count.
	estConfidence = 6.0
	// estActive is the least mean square of the decimated reference over
	// the window (-60 dBFS) for a measurement to be tried.
	estActive = 1e-6
)

// delayEstimator measures the lag between a reference and the capture.
// Everything is allocated by newDelayEstimator; feed does not allocate.
type delayEstimator struct {
	dec    int // decimation factor
	maxLag int // at estRate
	fft    *dsp.FFT
	// mic and ref are rings of decimated samples written at at: mic
	// holds estWindow of them, ref estWindow+maxLag+estNegative.
	mic, ref []float32
	at       int // samples written to both rings so far
	// micF and refF are the same at the full rate, written at atF, for
	// the fine measurement; linM and linR are scratch for unrolling them.
	micF, refF []float32
	atF        int
	linM, linR []float32
	re, im     []float32
	acc        struct{ m, r float32 }
	accN       int
	since      int // decimated samples since the last measurement
	filled     int
}

// newDelayEstimator measures lags up to maxLag samples at rate (a multiple
// of 8 kHz's divisor: 16 or 48 kHz).
func newDelayEstimator(rate, maxLag int) *delayEstimator {
	dec := max(1, rate/estRate)
	e := &delayEstimator{dec: dec, maxLag: (maxLag + dec - 1) / dec}
	n := 4
	for n < 2*estWindow+e.maxLag+estNegative {
		n *= 2
	}
	e.fft, _ = dsp.NewFFT(n) // n is a power of two ≥ 4
	e.mic = make([]float32, estWindow)
	e.ref = make([]float32, estWindow+e.maxLag+estNegative)
	e.re, e.im = make([]float32, n), make([]float32, n)
	e.micF = make([]float32, estWindow*dec)
	e.refF = make([]float32, (estWindow+e.maxLag+estNegative)*dec)
	e.linM = make([]float32, len(e.micF))
	e.linR = make([]float32, len(e.refF))
	return e
}

// feed adds one frame of capture (mic, one channel) and the reference at
// the capture's nominal positions (lag 0). When a measurement is due and
// confident it returns the lag in samples at the full rate (positive: the
// echo comes after the reference) and true.
func (e *delayEstimator) feed(mic, ref []float32) (float64, bool) {
	for i := range mic {
		e.micF[e.atF%len(e.micF)] = mic[i]
		e.refF[e.atF%len(e.refF)] = ref[i]
		e.atF++
		e.acc.m += mic[i]
		e.acc.r += ref[i]
		if e.accN++; e.accN < e.dec {
			continue
		}
		g := 1 / float32(e.dec)
		e.mic[e.at%len(e.mic)] = e.acc.m * g
		e.ref[e.at%len(e.ref)] = e.acc.r * g
		e.at++
		e.acc.m, e.acc.r, e.accN = 0, 0, 0
		e.since++
		e.filled++
	}
	if e.since < estEvery || e.filled < estEvery {
		return 0, false
	}
	e.since = 0
	coarse, ok := e.measure()
	if !ok {
		return 0, false
	}
	return e.refine(coarse), true
}

// fineSpan is how far around the coarse lag, in full-rate samples, the
// fine measurement looks: more than the decimation's step.
const fineSpan = 8

// refine returns the lag near coarse (full-rate samples) to a fraction of
// a sample: the plain cross-correlation of the full-rate windows at each
// lag within fineSpan, its peak refined by a parabola. Successive fine
// lags show the drift between the two clocks.
func (e *delayEstimator) refine(coarse int) float64 {
	unroll(e.linM, e.micF, e.atF)
	unroll(e.linR, e.refF, e.atF)
	top := (e.maxLag + estNegative) * e.dec
	corr := func(l int) float64 {
		k := top - l
		if k < 0 || k+len(e.linM) > len(e.linR) {
			return math.Inf(-1)
		}
		r := e.linR[k : k+len(e.linM)]
		var s float32
		for i, v := range e.linM {
			s += v * r[i]
		}
		return float64(s)
	}
	best, bl := math.Inf(-1), coarse
	var c [2*fineSpan + 1]float64
	for j := range c {
		c[j] = corr(coarse - fineSpan + j)
		if c[j] > best {
			best, bl = c[j], coarse-fineSpan+j
		}
	}
	j := bl - (coarse - fineSpan)
	if j == 0 || j == len(c)-1 {
		return float64(bl)
	}
	a, b, d := c[j-1], c[j], c[j+1]
	den := a - 2*b + d
	if math.IsInf(a, 0) || math.IsInf(d, 0) || !(den < 0) {
		// A neighbour beyond the windows (a lag at the edge of the
		// search), or no peak: the whole sample.
		return float64(bl)
	}
	return float64(bl) + 0.5*(a-d)/den
}

// measure runs GCC-PHAT on the decimated windows and returns the lag in
// full-rate samples.
func (e *delayEstimator) measure() (int, bool) {
	var pr float64
	for _, v := range e.ref {
		pr += float64(v) * float64(v)
	}
	if pr/float64(len(e.ref)) < estActive {
		return 0, false
	}
	// Pack both real signals into one complex transform: mic in the
	// real part, the reference in the imaginary part.
	clear(e.re)
	clear(e.im)
	unroll(e.re, e.mic, e.at)
	unroll(e.im, e.ref, e.at)
	e.fft.Transform(e.re, e.im)
	n := len(e.re)
	// Unpack M[k] = (Z[k] + conj Z[n-k]) / 2 and R[k] = (Z[k] - conj
	// Z[n-k]) / 2i, form conj(M)·R / |conj(M)·R| (PHAT) for every bin.
	// Bins k and n-k are done together, writing the result in place.
	for k := 0; k <= n/2; k++ {
		j := (n - k) & (n - 1)
		zr, zi, wr, wi := e.re[k], e.im[k], e.re[j], e.im[j]
		e.re[k], e.im[k] = phat(zr, zi, wr, wi)
		if j != k {
			e.re[j], e.im[j] = phat(wr, wi, zr, zi)
		}
	}
	e.fft.Inverse(e.re, e.im)
	// xc[k] = Σ mic[i]·ref[i+k]: the echo of ref at lag l peaks at
	// k = maxLag + estNegative - l.
	top := e.maxLag + estNegative
	best, bk := float32(-1), 0
	var ss float64
	for k := 0; k <= top; k++ {
		v := e.re[k]
		ss += float64(v) * float64(v)
		if v > best {
			best, bk = v, k
		}
	}
	rms := math.Sqrt(ss / float64(top+1))
	if rms == 0 || float64(best)/rms < estConfidence {
		return 0, false
	}
	return (top - bk) * e.dec, true
}

// phat returns conj(M)·R / |conj(M)·R| for the bin whose transform is
// z = zr+i·zi and whose mirror bin is w = wr+i·wi, where M and R are the
// spectra of the real and imaginary parts packed into one transform.
func phat(zr, zi, wr, wi float32) (float32, float32) {
	mr, mi := (zr+wr)/2, (zi-wi)/2
	rr, ri := (zi+wi)/2, (wr-zr)/2
	cr := mr*rr + mi*ri
	ci := mr*ri - mi*rr
	a := float32(math.Hypot(float64(cr), float64(ci))) + 1e-12
	return cr / a, ci / a
}

// unroll copies ring, of which at samples have been written, into dst
// oldest first.
func unroll(dst, ring []float32, at int) {
	p := at % len(ring)
	k := copy(dst, ring[p:])
	copy(dst[k:], ring[:p])
}

// reset forgets the history, after the reference restarts.
func (e *delayEstimator) reset() {
	clear(e.mic)
	clear(e.ref)
	clear(e.micF)
	clear(e.refF)
	e.acc.m, e.acc.r, e.accN = 0, 0, 0
	e.at, e.atF, e.since, e.filled = 0, 0, 0, 0
}

// window returns the span of capture a measurement covers, in full-rate
// samples.
func (e *delayEstimator) window() int { return len(e.micF) }
