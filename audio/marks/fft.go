package marks

import (
	"math"
	"math/bits"
)

// fft is an in-place iterative radix-2 complex FFT of one fixed size, with
// its bit-reversal permutation and twiddle factors computed once.
type fft struct {
	n   int
	rev []int32
	tw  []complex128 // e^(-2πik/n), k < n/2
}

func newFFT(n int) *fft {
	if n < 2 || n&(n-1) != 0 {
		panic("marks: FFT size must be a power of two") // construction-time programming error
	}
	f := &fft{n: n, rev: make([]int32, n), tw: make([]complex128, n/2)}
	shift := 64 - bits.TrailingZeros(uint(n))
	for i := range f.rev {
		f.rev[i] = int32(bits.Reverse64(uint64(i)) >> shift)
	}
	for k := range f.tw {
		s, c := math.Sincos(-2 * math.Pi * float64(k) / float64(n))
		f.tw[k] = complex(c, s)
	}
	return f
}

// transform replaces a (len n) by its DFT, or by its inverse DFT scaled by
// n when inverse is set (the caller divides).
func (f *fft) transform(a []complex128, inverse bool) {
	n := f.n
	for i, r := range f.rev {
		if int(r) > i {
			a[i], a[r] = a[r], a[i]
		}
	}
	for size := 2; size <= n; size <<= 1 {
		half := size >> 1
		step := n / size
		for start := 0; start < n; start += size {
			for k := 0; k < half; k++ {
				w := f.tw[k*step]
				if inverse {
					w = complex(real(w), -imag(w))
				}
				u := a[start+k]
				v := a[start+k+half] * w
				a[start+k] = u + v
				a[start+k+half] = u - v
			}
		}
	}
}
