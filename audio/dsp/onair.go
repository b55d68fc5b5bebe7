package dsp

import (
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/onair-gateway/onair/audio"
)

// Fader is the on-air gate: it passes audio while on air and silence while
// off air, moving between the two along a linear ramp of the configured
// fade time, so that no change of state clicks. The gain never changes by
// more than 1/(fade samples) from one sample to the next, also when the
// state flips back in the middle of a fade; off air, once the fade has
// finished, the output is exact zeros.
//
// SetOnAir may be called from any goroutine; the change takes effect at the
// next frame. A new Fader is off air.
type Fader struct {
	ch   int
	step float32 // gain change per sample: 1/(fade samples)
	g    float32 // owned by the goroutine that calls Process
	on   atomic.Bool
	gain atomic.Uint64 // math.Float64bits of g after the last frame
}

var _ audio.Stage = (*Fader)(nil)

// NewFader builds an on-air gate for frames of format f that fades in and
// out over fade (at least one sample).
func NewFader(f audio.Format, fade time.Duration) (*Fader, error) {
	if err := checkFormat(f); err != nil {
		return nil, err
	}
	n := f.Rate.Samples(fade)
	if n < 1 {
		return nil, fmt.Errorf("%w: fade %v is shorter than a sample", ErrFormat, fade)
	}
	return &Fader{ch: f.Channels, step: 1 / float32(n)}, nil
}

// SetOnAir puts the gate on or off air. It is safe to call from any
// goroutine.
func (fd *Fader) SetOnAir(on bool) { fd.on.Store(on) }

// OnAir reports whether the gate is on air (or fading towards it). It is
// safe to call from any goroutine.
func (fd *Fader) OnAir() bool { return fd.on.Load() }

// Gain returns the gate's gain after the last frame: 0 off air, 1 on air,
// in between while fading. It is safe to call from any goroutine.
func (fd *Fader) Gain() float64 { return math.Float64frombits(fd.gain.Load()) }

// Process implements audio.Stage. dst and src may be the same frame.
func (fd *Fader) Process(dst, src *audio.Frame) {
	if !shapeOK(dst, src, fd.ch, fd.ch) {
		return
	}
	fd.run(dst.Samples, src.Samples)
}

func (fd *Fader) run(dst, src []float32) {
	var target float32
	if fd.on.Load() {
		target = 1
	}
	g := fd.g
	switch {
	case g == target && g == 0:
		clear(dst[:len(src)])
	case g == target:
		copy(dst, src)
	default:
		step := fd.step
		if target < g {
			step = -step
		}
		// The ramp stops at 0 or 1, which is where the target is.
		g = rampGain(dst, src, fd.ch, g, step, 0, 1)
		fd.g = g
		fd.gain.Store(math.Float64bits(float64(g)))
	}
}
