package dsp

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/onair-gateway/onair/audio"
)

// ErrFormat is returned when a stage or chain cannot be built for an input
// format or array geometry. The wrapping error says what is wrong.
var ErrFormat = errors.New("dsp: unsupported format")

// Rates the stages accept. onair captures at 16 or 48 kHz, which the tests
// cover; every time constant and filter is computed from the rate, so the
// rates around them work too.
const (
	minRate = 8000
	maxRate = 96000
)

// checkFormat reports whether f describes frames a stage can be built for.
func checkFormat(f audio.Format) error {
	switch {
	case f.Channels < 1:
		return fmt.Errorf("%w: %d channels", ErrFormat, f.Channels)
	case f.Rate < minRate || f.Rate > maxRate:
		return fmt.Errorf("%w: rate %d Hz is out of range %d..%d", ErrFormat, f.Rate, minRate, maxRate)
	case f.FrameLen() < 1:
		return fmt.Errorf("%w: period %v holds no sample at %d Hz", ErrFormat, f.Period, f.Rate)
	}
	return nil
}

// shapeOK reports whether dst and src have the channel counts a stage
// expects and the same length. When they do not, it silences dst: a Stage
// cannot fail, and a frame of the wrong shape is a wiring bug that must not
// reach the room as noise.
func shapeOK(dst, src *audio.Frame, in, out int) bool {
	if src.Channels == in && dst.Channels == out && len(src.Samples)%in == 0 &&
		len(dst.Samples)/out == len(src.Samples)/in && len(dst.Samples)%out == 0 {
		dst.Pos, dst.Rate = src.Pos, src.Rate
		return true
	}
	clear(dst.Samples)
	dst.Pos, dst.Rate = src.Pos, src.Rate
	return false
}

// gainsLinear converts per-channel calibration gains in dB to linear factors
// for n channels; a missing list means 0 dB everywhere.
func gainsLinear(db []float64, n int) ([]float64, error) {
	g := make([]float64, n)
	for i := range g {
		g[i] = 1
	}
	if len(db) == 0 {
		return g, nil
	}
	if len(db) != n {
		return nil, fmt.Errorf("%w: %d gains for %d channels", ErrFormat, len(db), n)
	}
	for i, v := range db {
		g[i] = FromDB(v)
	}
	return g, nil
}

// meanSquare returns the mean of the squares of s, 0 for an empty slice.
// Four accumulators break the add dependency chain.
func meanSquare(s []float32) float64 {
	var a0, a1, a2, a3 float32
	i := 0
	for ; i+3 < len(s); i += 4 {
		q := s[i : i+4 : i+4]
		a0 += q[0] * q[0]
		a1 += q[1] * q[1]
		a2 += q[2] * q[2]
		a3 += q[3] * q[3]
	}
	for ; i < len(s); i++ {
		a0 += s[i] * s[i]
	}
	if len(s) == 0 {
		return 0
	}
	return float64(a0+a1+a2+a3) / float64(len(s))
}

// smoothCoef returns the per-step coefficient of a one-pole smoother with
// time constant tau when it is updated every step samples: the weight of
// the new value, 1-e^{-step/(tau·rate)}. tau <= 0 means no smoothing.
func smoothCoef(tau time.Duration, step int, rate audio.SampleRate) float64 {
	if tau <= 0 {
		return 1
	}
	return 1 - math.Exp(-float64(step)/(tau.Seconds()*float64(rate)))
}

// decayCoef returns the per-sample factor that makes a value decay by
// e^{-1} in tau: e^{-1/(tau·rate)}.
func decayCoef(tau time.Duration, rate audio.SampleRate) float64 {
	return math.Exp(-1 / (tau.Seconds() * float64(rate)))
}
