package dsp

import (
	"errors"
	"fmt"
	"math"
)

// ErrFFTSize is returned by NewFFT for a size that is not a power of two
// of at least 4.
var ErrFFTSize = errors.New("dsp: FFT size must be a power of two, 4 or more")

// maxFFT bounds NewFFT's size: 2^24 points (128 MiB of tables) is far
// beyond any audio analysis here.
const maxFFT = 1 << 24

// FFT is an in-place radix-2 decimation-in-time complex FFT of a fixed
// power-of-two size, with the bit-reversal permutation and the twiddle
// factors computed once at construction so that transform never allocates.
// Real and imaginary parts live in separate float32 slices, which keeps the
// butterflies free of complex-number boxing and lets the caller pack two
// real signals into one transform.
//
// An FFT is immutable after NewFFT and safe for concurrent use; the caller
// owns the slices it transforms.
type FFT struct {
	n int
	// swaps lists the index pairs (i, j), i < j, that the bit-reversal
	// permutation exchanges.
	swaps []int32
	// twr, twi hold e^{-2πik/size} for every stage: the stage whose
	// butterflies span half h uses entries h-1 .. 2h-2.
	twr, twi []float32
}

// NewFFT prepares a transform of n points; n must be a power of two, 4 or
// more (up to 2^24), else the error wraps ErrFFTSize.
func NewFFT(n int) (*FFT, error) {
	if n < 4 || n > maxFFT || n&(n-1) != 0 {
		return nil, fmt.Errorf("%w: %d", ErrFFTSize, n)
	}
	f := &FFT{n: n}
	bits := 0
	for 1<<bits < n {
		bits++
	}
	for i := 0; i < n; i++ {
		j := 0
		for b := 0; b < bits; b++ {
			if i&(1<<b) != 0 {
				j |= 1 << (bits - 1 - b)
			}
		}
		if i < j {
			f.swaps = append(f.swaps, int32(i), int32(j))
		}
	}
	f.twr = make([]float32, n-1)
	f.twi = make([]float32, n-1)
	for h := 1; h < n; h <<= 1 {
		for k := 0; k < h; k++ {
			a := -math.Pi * float64(k) / float64(h)
			f.twr[h-1+k] = float32(math.Cos(a))
			f.twi[h-1+k] = float32(math.Sin(a))
		}
	}
	return f, nil
}

// Len returns the number of points.
func (f *FFT) Len() int { return f.n }

// Inverse replaces (re, im) by its inverse DFT scaled by n,
// x[t] = Σ X[k]·e^{+2πikt/n} (the caller divides by n). It is Transform of
// the complex conjugate, conjugated. Both slices must have length n.
func (f *FFT) Inverse(re, im []float32) {
	im = im[:f.n]
	for i := range im {
		im[i] = -im[i]
	}
	f.Transform(re, im)
	for i := range im {
		im[i] = -im[i]
	}
}

// Transform replaces (re, im) by its forward DFT,
// X[k] = Σ x[t]·e^{-2πikt/n}. Both slices must have length n. It does not
// allocate.
func (f *FFT) Transform(re, im []float32) {
	n := f.n
	re, im = re[:n], im[:n]
	sw := f.swaps
	for p := 0; p+1 < len(sw); p += 2 {
		i, j := sw[p], sw[p+1]
		re[i], re[j] = re[j], re[i]
		im[i], im[j] = im[j], im[i]
	}
	// First stage: twiddle 1.
	for i := 0; i+1 < n; i += 2 {
		ar, ai, br, bi := re[i], im[i], re[i+1], im[i+1]
		re[i], im[i] = ar+br, ai+bi
		re[i+1], im[i+1] = ar-br, ai-bi
	}
	// Second stage: twiddles 1 and -j.
	for i := 0; i+3 < n; i += 4 {
		ar, ai, br, bi := re[i], im[i], re[i+2], im[i+2]
		re[i], im[i] = ar+br, ai+bi
		re[i+2], im[i+2] = ar-br, ai-bi
		ar, ai, br, bi = re[i+1], im[i+1], re[i+3], im[i+3]
		// (br + j·bi)·(-j) = bi - j·br
		re[i+1], im[i+1] = ar+bi, ai-br
		re[i+3], im[i+3] = ar-bi, ai+br
	}
	for h := 4; h < n; h <<= 1 {
		twr := f.twr[h-1 : 2*h-1]
		twi := f.twi[h-1 : 2*h-1]
		for start := 0; start < n; start += 2 * h {
			ar := re[start : start+h]
			ai := im[start : start+h]
			br := re[start+h : start+2*h]
			bi := im[start+h : start+2*h]
			for k := range ar {
				wr, wi := twr[k], twi[k]
				xr, xi := br[k], bi[k]
				tr := wr*xr - wi*xi
				ti := wr*xi + wi*xr
				ur, ui := ar[k], ai[k]
				ar[k], ai[k] = ur+tr, ui+ti
				br[k], bi[k] = ur-tr, ui-ti
			}
		}
	}
}
