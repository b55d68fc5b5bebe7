package dsp

import (
	"fmt"
	"math"

	"github.com/onair-gateway/onair/audio"
)

// HighPass is a DC-blocking high-pass filter: a second-order Butterworth
// section (12 dB per octave below the corner) per channel, which removes the
// DC offset of MEMS and I2S microphones together with rumble and handling
// noise. A corner of 0 makes it a plain copy.
//
// The state of each channel is kept in float64: with the corner at 80 Hz
// and 48 kHz sampling the poles sit within 0.01 of the unit circle, where a
// float32 state would add audible noise.
type HighPass struct {
	ch         int
	bypass     bool
	b0, a1, a2 float64
	s1, s2     []float64
	cornerHz   float64
}

var _ audio.Stage = (*HighPass)(nil)

// NewHighPass builds a high-pass filter for frames of format f with its
// corner at hz (0 to bypass, otherwise below a quarter of the sample rate).
func NewHighPass(f audio.Format, hz float64) (*HighPass, error) {
	if err := checkFormat(f); err != nil {
		return nil, err
	}
	if hz < 0 || hz >= float64(f.Rate)/4 || math.IsNaN(hz) {
		return nil, fmt.Errorf("%w: high-pass corner %v Hz at %d Hz", ErrFormat, hz, f.Rate)
	}
	h := &HighPass{ch: f.Channels, bypass: hz == 0, s1: make([]float64, f.Channels), s2: make([]float64, f.Channels),
		cornerHz: hz}
	if !h.bypass {
		// Bilinear transform of the analogue prototype s²/(s²+√2·s+1), with
		// the corner pre-warped.
		k := math.Tan(math.Pi * hz / float64(f.Rate))
		norm := 1 / (1 + math.Sqrt2*k + k*k)
		h.b0 = norm // b1 = -2·b0, b2 = b0
		h.a1 = 2 * (k*k - 1) * norm
		h.a2 = (1 - math.Sqrt2*k + k*k) * norm
	}
	return h, nil
}

// Corner returns the corner frequency in Hz, 0 when bypassed.
func (h *HighPass) Corner() float64 { return h.cornerHz }

// Process implements audio.Stage. dst and src have the channel count of the
// format the filter was built for; they may be the same frame.
func (h *HighPass) Process(dst, src *audio.Frame) {
	if !shapeOK(dst, src, h.ch, h.ch) {
		return
	}
	h.run(dst.Samples, src.Samples)
}

// run filters interleaved samples of h.ch channels from src into dst.
func (h *HighPass) run(dst, src []float32) {
	if h.bypass {
		copy(dst, src)
		return
	}
	b0, a1, a2 := h.b0, h.a1, h.a2
	ch := h.ch
	dst = dst[:len(src)]
	c := 0
	// Two channels per pass: their recursions are independent, so the CPU
	// overlaps them, where one channel alone waits on its own latency.
	for ; c+1 < ch; c += 2 {
		s1, s2, t1, t2 := h.s1[c], h.s2[c], h.s1[c+1], h.s2[c+1]
		for i := c; i+1 < len(src); i += ch {
			x, u := b0*float64(src[i]), b0*float64(src[i+1])
			y, v := x+s1, u+t1
			s1, t1 = s2-2*x-a1*y, t2-2*u-a1*v
			s2, t2 = x-a2*y, u-a2*v
			dst[i], dst[i+1] = float32(y), float32(v)
		}
		h.s1[c], h.s2[c] = s1, s2
		h.s1[c+1], h.s2[c+1] = t1, t2
	}
	if c < ch {
		s1, s2 := h.s1[c], h.s2[c]
		// Direct form II transposed with b = b0·[1, -2, 1].
		for i := c; i < len(src); i += ch {
			x := b0 * float64(src[i])
			y := x + s1
			s1 = s2 - 2*x - a1*y
			s2 = x - a2*y
			dst[i] = float32(y)
		}
		h.s1[c], h.s2[c] = s1, s2
	}
	for c := range h.s1 {
		if s1, s2 := h.s1[c], h.s2[c]; math.IsNaN(s1) || math.IsInf(s1, 0) || math.IsNaN(s2) || math.IsInf(s2, 0) {
			// A non-finite input would otherwise poison the filter for
			// good; start again from rest.
			h.s1[c], h.s2[c] = 0, 0
		}
	}
}

// Gain applies a calibration gain in dB to each channel, to even out the
// sensitivity of the microphones of an array (or trim a line input). The
// Chain folds these gains into its beamformer or mixer instead of running
// Gain as a separate pass.
type Gain struct {
	ch int
	g  []float32
}

var _ audio.Stage = (*Gain)(nil)

// NewGain builds a per-channel gain for frames of format f; db has one entry
// per channel, or none for 0 dB everywhere.
func NewGain(f audio.Format, db []float64) (*Gain, error) {
	if err := checkFormat(f); err != nil {
		return nil, err
	}
	lin, err := gainsLinear(db, f.Channels)
	if err != nil {
		return nil, err
	}
	g := &Gain{ch: f.Channels, g: make([]float32, f.Channels)}
	for i, v := range lin {
		g.g[i] = float32(v)
	}
	return g, nil
}

// Process implements audio.Stage. dst and src may be the same frame.
func (g *Gain) Process(dst, src *audio.Frame) {
	if !shapeOK(dst, src, g.ch, g.ch) {
		return
	}
	d, s := dst.Samples, src.Samples[:len(dst.Samples)]
	for c, k := range g.g {
		for i := c; i < len(s); i += g.ch {
			d[i] = s[i] * k
		}
	}
}
