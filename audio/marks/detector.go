package marks

import (
	"math"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/dsp"
)

// DefaultThreshold is the normalised correlation (0..1) above which a mark
// counts as found. A clean chirp through Opus scores above 0.9; speech,
// tones and noise stay well below 0.3. The score falls as other sound is
// mixed under the mark (to about 0.3 when it is 10 dB louder than the
// mark), so a sender keeps its marks the loudest thing while they play.
const DefaultThreshold = 0.5

// Detector finds the starts of marks in one stream of mono samples. It
// correlates the stream with Chirp by FFT (overlap-save) and normalises each
// lag by the energy of the template and of the samples under it, so the
// level of the stream does not matter.
type Detector struct {
	threshold float64
	l         int // template length
	n         int // FFT size
	hop       int // new samples per block: n - l + 1
	f         *dsp.FFT
	hr, hi    []float32 // conj(FFT(template))
	eh        float64   // template energy

	win    []float64 // the last n input samples, oldest first
	fill   int       // samples in win
	base   int64     // stream position of win[0]
	re, im []float32 // FFT work
	prefix []float64 // running sums of win² for the per-lag energy

	// Peak tracking, carried across blocks.
	inPeak    bool
	peakVal   float64
	peakPos   int64
	peakUntil int64
}

// NewDetector returns a Detector for marks at rate with DefaultThreshold.
func NewDetector(rate audio.SampleRate) *Detector {
	return NewDetectorThreshold(rate, DefaultThreshold)
}

// NewDetectorThreshold is NewDetector with a chosen threshold in (0, 1).
func NewDetectorThreshold(rate audio.SampleRate, threshold float64) *Detector {
	tpl := Chirp(rate)
	l := len(tpl)
	n := 4
	for n < 2*l {
		n <<= 1
	}
	// n is a power of two of at least 4, within dsp's 2^24-point limit for
	// any rate below 80 MHz: NewFFT cannot fail here.
	f, _ := dsp.NewFFT(n)
	d := &Detector{
		threshold: threshold,
		l:         l,
		n:         n,
		hop:       n - l + 1,
		f:         f,
		hr:        make([]float32, n),
		hi:        make([]float32, n),
		win:       make([]float64, n),
		re:        make([]float32, n),
		im:        make([]float32, n),
		prefix:    make([]float64, n+1),
	}
	copy(d.hr, tpl)
	for _, v := range tpl {
		d.eh += float64(v) * float64(v)
	}
	d.f.Transform(d.hr, d.hi)
	for i, v := range d.hi {
		d.hi[i] = -v
	}
	return d
}

// Pos returns the number of samples given to Process so far.
func (d *Detector) Pos() int64 { return d.base + int64(d.fill) }

// Process takes the next samples of the stream and appends to onsets the
// stream positions (counted from the first sample ever given) where a mark
// starts, in order. A mark is reported once the block of samples holding
// its end and 50 ms after it has been seen: at most about a quarter of a
// second later at 48 kHz. Process does not allocate when onsets has room.
func (d *Detector) Process(x []float32, onsets []int64) []int64 {
	for len(x) > 0 {
		k := copyFloat(d.win[d.fill:], x)
		d.fill += k
		x = x[k:]
		if d.fill == d.n {
			onsets = d.block(onsets)
			// Keep the last l-1 samples: the next block's first lags
			// need them.
			copy(d.win, d.win[d.hop:])
			d.fill -= d.hop
			d.base += int64(d.hop)
		}
	}
	return onsets
}

func copyFloat(dst []float64, src []float32) int {
	n := min(len(dst), len(src))
	for i := 0; i < n; i++ {
		dst[i] = float64(src[i])
	}
	return n
}

// block correlates the full window with the template and scans the hop
// valid lags (those whose template span lies inside the window).
func (d *Detector) block(onsets []int64) []int64 {
	for i, v := range d.win {
		d.re[i], d.im[i] = float32(v), 0
		d.prefix[i+1] = d.prefix[i] + v*v
	}
	d.f.Transform(d.re, d.im)
	for i, hr := range d.hr {
		xr, xi, hi := d.re[i], d.im[i], d.hi[i]
		d.re[i], d.im[i] = xr*hr-xi*hi, xr*hi+xi*hr
	}
	d.f.Inverse(d.re, d.im)
	scale := 1 / float64(d.n)
	// Below this energy a window is silence, where correlation means
	// nothing: -80 dBFS RMS.
	floor := 1e-8 * float64(d.l)
	for lag := 0; lag < d.hop; lag++ {
		pos := d.base + int64(lag)
		if d.inPeak && pos >= d.peakUntil {
			onsets = append(onsets, d.peakPos)
			d.inPeak = false
		}
		ex := d.prefix[lag+d.l] - d.prefix[lag]
		if ex < floor {
			continue
		}
		c := float64(d.re[lag]) * scale / math.Sqrt(d.eh*ex)
		if c < d.threshold {
			continue
		}
		switch {
		case !d.inPeak:
			d.inPeak, d.peakVal, d.peakPos, d.peakUntil = true, c, pos, pos+int64(d.l/2)
		case c > d.peakVal:
			d.peakVal, d.peakPos = c, pos
		}
	}
	return onsets
}
