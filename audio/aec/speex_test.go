package aec

import (
	"math"
	"testing"
)

// noise is a deterministic white noise generator (xorshift).
type noise uint64

func (s *noise) next() float32 {
	*s ^= *s << 13
	*s ^= *s >> 7
	*s ^= *s << 17
	return float32(int64(*s)>>11) / float32(1<<52)
}

// TestSpeexCancels feeds the engine a reference of white noise and mics
// that hear it delayed and scaled, and checks the echo falls by far more
// than 25 dB once converged, on every mic, for both engine layouts.
func TestSpeexCancels(t *testing.T) {
	for _, multi := range []bool{false, true} {
		const mics, n, frames = 4, 480, 400
		s, err := NewSpeex(Shape{Mics: mics, Frame: n, Tail: 4800, Rate: 48000}, multi, -40, -15)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		var src noise = 1
		hist := make([]float32, 2000+frames*n)
		for i := range hist {
			hist[i] = 0.1 * src.next()
		}
		capt := make([]float32, n*mics)
		var pin, pout [mics]float64
		for f := range frames {
			ref := hist[2000+f*n : 2000+(f+1)*n]
			for i := range n {
				for m := range mics {
					capt[i*mics+m] = 0.5 * hist[2000+f*n+i-100-7*m]
				}
			}
			if f >= frames/2 {
				for i := range n {
					for m := range mics {
						pin[m] += float64(capt[i*mics+m] * capt[i*mics+m])
					}
				}
			}
			s.Cancel(capt, mics, ref)
			if f >= frames/2 {
				for i := range n {
					for m := range mics {
						pout[m] += float64(capt[i*mics+m] * capt[i*mics+m])
					}
				}
			}
		}
		for m := range mics {
			erle := 10 * math.Log10(pin[m]/pout[m])
			t.Logf("multi %v mic %d: ERLE %.1f dB", multi, m, erle)
			if erle < 25 {
				t.Errorf("multi %v mic %d: ERLE %.1f dB, want ≥ 25", multi, m, erle)
			}
		}
	}
}
