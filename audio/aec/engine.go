package aec

import (
	"errors"
	"fmt"
)

// ErrUnavailable is returned by NewSpeex in a build without cgo.
var ErrUnavailable = errors.New("aec: speexdsp is unavailable in this build (no cgo)")

// Engine is an echo canceller working on aligned frames: speexdsp (Speex)
// today; WebRTC AEC3 could be another. It owns no goroutine and must not
// allocate in Cancel.
type Engine interface {
	// Cancel removes from each of the engine's mics in capture (Frame
	// samples per channel, interleaved with stride channels; mic m is
	// channel m, channels beyond the mics are left alone) the echo of
	// ref (Frame samples, mono, aligned so that its echo follows within
	// the tail), in place.
	Cancel(capture []float32, stride int, ref []float32)
	// Reset makes the engine forget the echo path, after the reference
	// jumps.
	Reset()
	// Close releases the engine; later calls do nothing.
	Close() error
}

// Shape is the fixed geometry of an Engine, chosen at construction.
type Shape struct {
	Mics  int // microphones, 1..8
	Frame int // samples per channel per frame
	Tail  int // the adaptive filter's length in samples
	Rate  int // sampling rate in Hz
}

func (s Shape) validate() error {
	switch {
	case s.Mics < 1 || s.Mics > 8:
		return fmt.Errorf("aec: %d mics is out of range 1..8", s.Mics)
	case s.Frame < 32 || s.Frame > 4800:
		return fmt.Errorf("aec: frame of %d samples is out of range 32..4800", s.Frame)
	case s.Tail < s.Frame || s.Tail > 96000:
		return fmt.Errorf("aec: tail of %d samples is out of range %d..96000", s.Tail, s.Frame)
	case s.Rate < 8000 || s.Rate > 48000:
		return fmt.Errorf("aec: rate %d Hz is out of range 8000..48000", s.Rate)
	}
	return nil
}
