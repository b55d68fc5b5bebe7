package sim

import "math"

// The resampler is a windowed-sinc interpolator (Smith's bandlimited
// interpolation): each output sample is the sum of the input samples within
// resampleZeros zero crossings of the sinc, weighted by a Kaiser-windowed
// sinc whose cutoff is the lower of the two Nyquist frequencies (times
// resampleRolloff, so the transition band stays below it). The kernel is
// tabulated resampleOversample times per zero crossing and interpolated
// linearly. Stopband rejection is about 80 dB: plenty for a simulated
// talker, and it runs once at construction, never per frame.
const (
	resampleZeros      = 16
	resampleOversample = 512
	resampleRolloff    = 0.95
	resampleKaiserBeta = 8.0
)

// resampleKernel returns the right half of the kernel, sampled at
// 1/resampleOversample of a zero crossing, with one guard entry.
func resampleKernel() []float64 {
	n := resampleZeros * resampleOversample
	k := make([]float64, n+2)
	i0b := besselI0(resampleKaiserBeta)
	for i := 0; i <= n; i++ {
		u := float64(i) / resampleOversample
		s := 1.0
		if i != 0 {
			s = math.Sin(math.Pi*u) / (math.Pi * u)
		}
		r := u / resampleZeros
		k[i] = s * besselI0(resampleKaiserBeta*math.Sqrt(1-r*r)) / i0b
	}
	return k
}

// besselI0 is the zeroth-order modified Bessel function of the first kind,
// by its power series.
func besselI0(x float64) float64 {
	sum, term := 1.0, 1.0
	for k := 1; k < 50; k++ {
		term *= (x / (2 * float64(k))) * (x / (2 * float64(k)))
		sum += term
		if term < 1e-12*sum {
			break
		}
	}
	return sum
}

// resampleLoop converts x, taken as one period of a looped signal, from rate
// in to rate out. Samples beyond either end wrap around, so the loop point
// stays seamless. The result has round(len(x)*out/in) samples. It allocates
// and is meant for construction time.
func resampleLoop(x []float32, in, out int) []float32 {
	if in == out || len(x) == 0 {
		return append([]float32(nil), x...)
	}
	n := int((int64(len(x))*int64(out) + int64(in)/2) / int64(in))
	if n < 1 {
		n = 1
	}
	y := make([]float32, n)
	kern := resampleKernel()
	fc := resampleRolloff * math.Min(1, float64(out)/float64(in))
	half := int(math.Ceil(resampleZeros / fc))
	L := len(x)
	for j := range y {
		// Position of output j in input samples: j*in/out, kept exact.
		num := int64(j) * int64(in)
		ip := int(num / int64(out))
		frac := float64(num%int64(out)) / float64(out)
		var acc float64
		for i := ip - half + 1; i <= ip+half; i++ {
			u := math.Abs(float64(i-ip)-frac) * fc
			if u >= resampleZeros {
				continue
			}
			t := u * resampleOversample
			ti := int(t)
			w := kern[ti] + (kern[ti+1]-kern[ti])*(t-float64(ti))
			xi := i
			if xi < 0 || xi >= L {
				xi %= L
				if xi < 0 {
					xi += L
				}
			}
			acc += float64(x[xi]) * w
		}
		y[j] = float32(acc * fc)
	}
	return y
}
