package dsp

import "math"

// FracDelayTaps designs a windowed-sinc FIR filter of n taps (n even, 8..64)
// that delays a signal by delay samples, where delay may be fractional. The
// filter's own latency is n/2-1 samples on top of delay, so callers that
// need relative delays between channels (a beamformer, the simulated array)
// give every channel the same n and compare delays only. delay should stay
// within ±n/4 for accuracy. It allocates and is meant for construction time.
func FracDelayTaps(delay float64, n int) []float32 {
	taps := make([]float32, n)
	centre := float64(n/2-1) + delay
	var sum float64
	for i := range taps {
		x := float64(i) - centre
		s := 1.0
		if x != 0 {
			s = math.Sin(math.Pi*x) / (math.Pi * x)
		}
		// Blackman window centred on the (fractional) delay.
		w := 0.42 + 0.5*math.Cos(math.Pi*x/(float64(n)/2)) + 0.08*math.Cos(2*math.Pi*x/(float64(n)/2))
		if math.Abs(x) >= float64(n)/2 {
			w = 0
		}
		v := s * w
		taps[i] = float32(v)
		sum += v
	}
	// Unity gain at DC.
	if sum != 0 {
		for i := range taps {
			taps[i] = float32(float64(taps[i]) / sum)
		}
	}
	return taps
}

// DBFS converts a linear amplitude (1.0 = full scale) to dBFS, with a floor
// of -120 dBFS for silence.
func DBFS(amp float64) float64 {
	if amp <= 1e-6 {
		return -120
	}
	return 20 * math.Log10(amp)
}

// FromDB converts decibels to a linear amplitude factor.
func FromDB(db float64) float64 { return math.Pow(10, db/20) }
