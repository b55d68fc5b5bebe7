package dsp

import (
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/onair-gateway/onair/audio"
)

// Direction-of-arrival analysis parameters.
const (
	// doaLowHz and doaHighHz bound the band searched: below 300 Hz a
	// 5–10 cm array cannot resolve direction, and above 4 kHz the mics of
	// the ReSpeaker arrays are more than half a wavelength apart
	// (spatial aliasing) while speech has little energy left.
	doaLowHz  = 300.0
	doaHighHz = 4000.0
	// doaWindow is the shortest analysis window; the FFT size is the next
	// power of two (512 points, 10.7 ms, at 48 kHz).
	doaWindow = 10 * time.Millisecond
	// doaHopWindows: one analysis per this many windows of audio (43 ms
	// at 48 kHz), which keeps GCC-PHAT within its CPU budget while the
	// smoothing (300 ms by default) still sees several estimates per time
	// constant.
	doaHopWindows = 4
	// doaStepDeg is the spacing of the azimuth search grid. The steered
	// response of a 5–10 cm array is a broad, smooth lobe, so parabolic
	// interpolation between grid points finds its peak to a fraction of a
	// degree, and a coarse grid halves the cost of the search.
	doaStepDeg = 10.0
	// doaNoiseHops: in pauses, the noise spectrum is updated once per this
	// many hops, with time constant doaNoiseTau.
	doaNoiseHops = 2
	doaNoiseTau  = time.Second
	// standaloneVADDBFS is the absolute voice threshold of a DOA or AGC
	// used outside a Chain (a Chain uses its gate threshold).
	standaloneVADDBFS = -70.0
)

// DOA estimates the direction of arrival of the dominant talker by
// GCC-PHAT over every pair of mics, evaluated as steered response power
// (SRP-PHAT): each analysis windows the last 10 ms or so of each mic,
// transforms them, whitens each spectrum (the PHAT weighting, which makes
// the cross-correlation of a mic pair a sharp peak at its delay whatever the
// spectrum of the voice), and for each azimuth of a grid sums the
// cross-correlations of all pairs at the delays the array geometry gives
// for that azimuth. The resulting map is smoothed over time, its peak
// refined by parabolic interpolation, and its height turned into a
// confidence: 0 when the mics are no more alike than independent noise, 1
// for a single plane wave.
//
// Analyses run only on frames with voice activity, so silence and
// background noise do not drag the estimate, and at most once every
// doaHopWindows windows. In pauses, a lighter analysis learns the spectrum
// of the background; during speech each frequency bin is then weighted by
// its share of speech, 1 - noise/power, so that a steady directional noise
// (a projector fan, air conditioning), which plain PHAT would weigh as much
// as the voice in every bin the voice leaves empty, does not pull the
// estimate either. No estimate is made before the background has been
// heard once. A linear array cannot tell front from back: its estimates
// lie in 0..180°.
type DOA struct {
	in, mics int
	maxLen   int
	n        int // FFT size
	hop      int // samples between analyses
	fft      *FFT
	win      []float32
	ring     [][]float32 // per mic, the last n samples
	fill     int
	since    int
	re, im   []float32 // FFT work
	kLo, nb  int       // first bin and number of bins searched
	y        []float32 // whitened spectra, [nb][mics][re, im]
	pw       []float32 // power of each bin, averaged over the mics
	noise    []float32 // background power of each bin, learned in pauses
	weight   []float32 // speech share of each bin
	noiseN   int       // noise updates so far
	aNoise   float64
	sinceN   int
	circular bool
	grid     int
	steer    []float32 // [grid][nb][mics][re, im]: e^{+jωτ}
	power    []float32 // the map of the last analysis
	smooth   []float64 // the smoothed map
	alpha    float64
	est      atomic.Uint64 // azimuth and confidence as two float32
	analyses int
	// Used by Process alone (a Chain feeds the DOA itself).
	vad   vad
	views [][]float32
	tmp   [][]float32
}

var _ audio.Stage = (*DOA)(nil)

// NewDOA builds a direction estimator for captures of format f whose first
// geom.Mics channels are the array's mics, smoothing its estimate with time
// constant smoothing (0 for none).
func NewDOA(f audio.Format, geom audio.Geometry, smoothing time.Duration) (*DOA, error) {
	if err := checkFormat(f); err != nil {
		return nil, err
	}
	if err := geom.Validate(); err != nil {
		return nil, fmt.Errorf("%w: geometry: %w", ErrFormat, err)
	}
	if geom.Mics < 2 || geom.Mics > f.Channels {
		return nil, fmt.Errorf("%w: direction finding needs 2..%d mics, geometry has %d", ErrFormat, f.Channels, geom.Mics)
	}
	n := 16
	for n < f.Rate.Samples(doaWindow) {
		n *= 2
	}
	fft, err := NewFFT(n)
	if err != nil {
		return nil, err
	}
	m := geom.Mics
	d := &DOA{
		in:       f.Channels,
		mics:     m,
		maxLen:   f.FrameLen(),
		n:        n,
		hop:      doaHopWindows * n,
		fft:      fft,
		win:      make([]float32, n),
		ring:     make([][]float32, m),
		re:       make([]float32, n),
		im:       make([]float32, n),
		circular: geom.Shape == audio.ShapeCircular,
		alpha:    smoothCoef(smoothing, doaHopWindows*n, f.Rate),
		aNoise:   smoothCoef(doaNoiseTau, doaNoiseHops*doaHopWindows*n, f.Rate),
		sinceN:   doaNoiseHops * doaHopWindows * n, // learn at the first pause
		vad:      newVAD(f.Rate, standaloneVADDBFS),
		views:    make([][]float32, m),
		tmp:      make([][]float32, m),
	}
	for i := range d.ring {
		d.ring[i] = make([]float32, n)
		d.tmp[i] = make([]float32, d.maxLen)
	}
	for i := range d.win { // periodic Hann
		d.win[i] = float32(0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/float64(n)))
	}
	binHz := float64(f.Rate) / float64(n)
	d.kLo = max(1, int(math.Ceil(doaLowHz/binHz)))
	kHi := min(n/2-1, int(math.Floor(doaHighHz/binHz)))
	d.nb = kHi - d.kLo + 1
	d.y = make([]float32, d.nb*m*2)
	d.pw = make([]float32, d.nb)
	d.noise = make([]float32, d.nb)
	d.weight = make([]float32, d.nb)
	if d.circular {
		d.grid = int(math.Round(360 / doaStepDeg))
	} else {
		d.grid = int(math.Round(180/doaStepDeg)) + 1
	}
	d.power = make([]float32, d.grid)
	d.smooth = make([]float64, d.grid)
	d.steer = make([]float32, d.grid*d.nb*m*2)
	for g := 0; g < d.grid; g++ {
		tau := geom.Delays(float64(g) * doaStepDeg * math.Pi / 180)
		for b := 0; b < d.nb; b++ {
			w := 2 * math.Pi * float64(d.kLo+b) * binHz
			for i := 0; i < m; i++ {
				s, c := math.Sincos(w * tau[i])
				k := ((g*d.nb+b)*m + i) * 2
				d.steer[k], d.steer[k+1] = float32(c), float32(s)
			}
		}
	}
	d.store(0, 0)
	return d, nil
}

// store publishes an estimate for other goroutines.
func (d *DOA) store(az, conf float64) {
	d.est.Store(uint64(math.Float32bits(float32(az)))<<32 | uint64(math.Float32bits(float32(conf))))
}

// Estimate returns the smoothed direction of arrival in degrees (0..360 for
// a circular array, 0..180 for a linear one) and its confidence 0..1; 0, 0
// before the first analysis. It is safe to call from any goroutine.
func (d *DOA) Estimate() (azimuthDeg, confidence float64) {
	v := d.est.Load()
	return float64(math.Float32frombits(uint32(v >> 32))), float64(math.Float32frombits(uint32(v)))
}

// Process implements audio.Stage: it passes src through to dst (same
// channel count; they may be the same frame) and analyses the frames in
// which its own voice detector, run on mic 0, finds voice.
func (d *DOA) Process(dst, src *audio.Frame) {
	if !shapeOK(dst, src, d.in, d.in) {
		return
	}
	n := src.Len()
	for off := 0; off < n; off += d.maxLen {
		l := min(d.maxLen, n-off)
		s := src.Samples[off*d.in : (off+l)*d.in]
		for i := range d.tmp {
			t := d.tmp[i][:l]
			for k, j := 0, i; k < len(t) && j < len(s); k, j = k+1, j+d.in {
				t[k] = s[j]
			}
			d.views[i] = t
		}
		// Voice on mic 0, with its DC offset taken out.
		var sum float64
		for _, v := range d.views[0] {
			sum += float64(v)
		}
		mean := sum / float64(l)
		ms := meanSquare(d.views[0]) - mean*mean
		voice := d.vad.update(ms, l)
		d.feed(d.views, voice, !d.vad.voice)
	}
	if dst != src {
		copy(dst.Samples, src.Samples)
	}
}

// feed appends the next samples of each mic (all of the same length, at
// most maxLen). When voice is set and an analysis is due, it updates the
// estimate and returns true; when quiet is set (no voice, nor voice within
// the detector's hangover), it learns the background spectrum now and then.
// No estimate is made before the background has been heard once.
func (d *DOA) feed(mics [][]float32, voice, quiet bool) bool {
	l := len(mics[0])
	n := d.n
	for i, r := range d.ring {
		x := mics[i]
		if l >= n {
			copy(r, x[l-n:])
		} else {
			copy(r, r[l:])
			copy(r[n-l:], x)
		}
	}
	d.fill = min(n, d.fill+l)
	d.since += l
	d.sinceN += l
	switch {
	case d.fill < n:
		return false
	case voice && d.since >= d.hop && d.noiseN > 0:
		d.since = 0
		d.spectra()
		d.locate()
		return true
	case quiet && d.sinceN >= doaNoiseHops*d.hop:
		d.sinceN = 0
		d.spectra()
		d.learnNoise()
	}
	return false
}

// spectra transforms the windowed ring of every mic and leaves, for the
// bins searched, the whitened spectra in y and the power averaged over the
// mics in pw.
func (d *DOA) spectra() {
	n, m, nb := d.n, d.mics, d.nb
	re, im, win := d.re[:n], d.im[:n], d.win[:n]
	clear(d.pw)
	// Two real mics per complex FFT: mic p in the real part, mic p+1 in
	// the imaginary part, separated afterwards by Hermitian symmetry.
	for p := 0; p < m; p += 2 {
		a := d.ring[p][:n]
		for t := range re {
			re[t] = a[t] * win[t]
		}
		if p+1 < m {
			b := d.ring[p+1][:n]
			for t := range im {
				im[t] = b[t] * win[t]
			}
		} else {
			clear(im)
		}
		d.fft.Transform(re, im)
		for b := 0; b < nb; b++ {
			k := d.kLo + b
			zr, zi, nr, ni := re[k], im[k], re[n-k], im[n-k]
			y := d.y[(b*m+p)*2:]
			// X_p = (Z[k] + conj(Z[n-k]))/2, X_p+1 = (Z[k] - conj(Z[n-k]))/2j;
			// the common factor 1/2 cancels in whitening and weighting.
			var p0, p1 float32
			y[0], y[1], p0 = whiten(zr+nr, zi-ni)
			if p+1 < m {
				y[2], y[3], p1 = whiten(zi+ni, nr-zr)
			}
			d.pw[b] += p0 + p1
		}
	}
	inv := 1 / float32(m)
	for b := range d.pw {
		d.pw[b] *= inv
	}
}

// learnNoise folds the power spectrum of a pause into the background
// estimate: a running mean at first, then exponential smoothing.
func (d *DOA) learnNoise() {
	d.noiseN++
	a := float32(max(d.aNoise, 1/float64(d.noiseN)))
	for b, p := range d.pw {
		d.noise[b] += a * (p - d.noise[b])
	}
}

// locate computes the steered response power map of the spectra, folds it
// into the smoothed map and publishes the new estimate.
func (d *DOA) locate() {
	d.analyses++
	m, nb := d.mics, d.nb
	var wsum float32
	for b, p := range d.pw {
		var w float32
		if p > d.noise[b] {
			w = 1 - d.noise[b]/p
		}
		d.weight[b] = w
		wsum += w
	}
	if wsum < 1e-3*float32(nb) {
		return // nothing in the band rises above the background
	}
	// Steered response power: for each azimuth, the weighted power of the
	// sum of the whitened spectra phase-aligned for that azimuth. Summed
	// over bins, it equals the sum over all mic pairs of their
	// PHAT-weighted cross-correlation at the pair's delay for that azimuth
	// (GCC-PHAT), plus a constant.
	row := nb * m * 2
	norm := 1 / (wsum * float32(m*m))
	weight := d.weight[:nb]
	for g := 0; g < d.grid; g++ {
		st := d.steer[g*row : (g+1)*row]
		y := d.y[:row]
		var acc float32
		for b, w := range weight {
			if w == 0 {
				continue
			}
			var sr, si float32
			ys, ss := y[b*2*m:(b+1)*2*m], st[b*2*m:(b+1)*2*m]
			for i := 0; i+1 < len(ys) && i+1 < len(ss); i += 2 {
				yr, yi, ar, ai := ys[i], ys[i+1], ss[i], ss[i+1]
				sr += yr*ar - yi*ai
				si += yr*ai + yi*ar
			}
			acc += w * (sr*sr + si*si)
		}
		d.power[g] = acc * norm
	}
	best := 0
	for g, p := range d.power {
		d.smooth[g] += d.alpha * (float64(p) - d.smooth[g])
		if d.smooth[g] > d.smooth[best] {
			best = g
		}
	}
	// Parabolic interpolation of the peak between its neighbours.
	pos := float64(best)
	lo, hi := best-1, best+1
	if d.circular {
		lo, hi = (lo+d.grid)%d.grid, hi%d.grid
	}
	if lo >= 0 && hi < d.grid {
		a, b, c := d.smooth[lo], d.smooth[best], d.smooth[hi]
		if den := a - 2*b + c; den < 0 {
			pos += math.Max(-0.5, math.Min(0.5, 0.5*(a-c)/den))
		}
	}
	az := pos * doaStepDeg
	if d.circular {
		az = math.Mod(az+360, 360)
	}
	chance := 1 / float64(m)
	conf := math.Max(0, math.Min(1, (d.smooth[best]-chance)/(1-chance)))
	d.store(az, conf)
}

// whiten returns x/|x| (the PHAT weighting), or 0 for a silent bin, and
// |x|².
func whiten(xr, xi float32) (float32, float32, float32) {
	mag2 := xr*xr + xi*xi
	if mag2 < 1e-30 {
		return 0, 0, mag2
	}
	inv := 1 / float32(math.Sqrt(float64(mag2)))
	return xr * inv, xi * inv, mag2
}
