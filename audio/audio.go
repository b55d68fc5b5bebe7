// Package audio defines the types that flow through onair's speak and listen
// paths: Frame, Source, Stage and the geometry of a microphone array.
//
// A Frame holds a fixed number of interleaved float32 samples (full scale is
// ±1.0). Frames are owned by whoever allocated them; a Source fills a frame
// the caller passes in and a Stage writes into a frame the caller passes in,
// so the hot path never allocates. Sample positions come from sample
// counters, never from the wall clock.
//
// The package is pure Go and knows nothing about hardware, rooms or MQTT.
package audio

import (
	"errors"
	"fmt"
	"time"
)

// SampleRate is a sampling frequency in hertz.
type SampleRate int

// Sample rates onair supports. Opus runs at 48 kHz; 16 kHz is accepted from
// capture devices that cannot do better and is resampled by the encoder.
const (
	Rate16k SampleRate = 16000
	Rate48k SampleRate = 48000
)

// Samples returns how many samples per channel a duration d holds at rate r.
func (r SampleRate) Samples(d time.Duration) int {
	return int(int64(r) * int64(d) / int64(time.Second))
}

// Duration returns how long n samples per channel last at rate r.
func (r SampleRate) Duration(n int) time.Duration {
	if r <= 0 {
		return 0
	}
	return time.Duration(int64(n) * int64(time.Second) / int64(r))
}

// ErrClosed is returned by a Source read after Close, or by a read that Close
// unblocked.
var ErrClosed = errors.New("audio: source closed")

// ErrEndOfStream is returned by a finite Source (a file) when it has no more
// frames. Live sources never return it.
var ErrEndOfStream = errors.New("audio: end of stream")

// Frame is a block of interleaved float32 samples with a fixed geometry.
//
// Samples has exactly Len()*Channels elements, channel c of sample i at
// Samples[i*Channels+c]. Pos is the index, counted in samples per channel
// since the source started, of the frame's first sample: it is the basis of
// RTP timestamps and of latency accounting.
type Frame struct {
	Channels int
	Rate     SampleRate
	Pos      int64
	Samples  []float32
}

// NewFrame allocates a frame of the given geometry. It is meant for
// construction time, never for the per-frame path.
func NewFrame(channels int, rate SampleRate, d time.Duration) *Frame {
	n := rate.Samples(d)
	return &Frame{Channels: channels, Rate: rate, Samples: make([]float32, n*channels)}
}

// Len returns the number of samples per channel.
func (f *Frame) Len() int {
	if f.Channels <= 0 {
		return 0
	}
	return len(f.Samples) / f.Channels
}

// Duration returns how long the frame lasts.
func (f *Frame) Duration() time.Duration { return f.Rate.Duration(f.Len()) }

// CopyFrom copies src's samples and position into f. Both frames must have the
// same geometry; it reports an error otherwise.
func (f *Frame) CopyFrom(src *Frame) error {
	if f.Channels != src.Channels || len(f.Samples) != len(src.Samples) {
		return fmt.Errorf("audio: frame geometry %dx%d != %dx%d", f.Channels, f.Len(), src.Channels, src.Len())
	}
	copy(f.Samples, src.Samples)
	f.Pos, f.Rate = src.Pos, src.Rate
	return nil
}

// Format describes the frames a Source produces.
type Format struct {
	Channels int
	Rate     SampleRate
	// Period is the duration of one frame.
	Period time.Duration
}

// FrameLen returns the number of samples per channel in one period.
func (f Format) FrameLen() int { return f.Rate.Samples(f.Period) }

// Source produces frames paced by its own clock (a capture device) or as fast
// as asked (a file). ReadFrame fills dst, which the caller owns and which must
// match Format(). Close unblocks a pending ReadFrame, which then returns
// ErrClosed; Close may be called more than once.
type Source interface {
	Format() Format
	ReadFrame(dst *Frame) error
	Close() error
}

// Sink plays frames paced by its own clock (a playback device, or the
// simulated board's speaker). WriteFrame blocks until the device has room
// for src, which must match Format(); it does not keep src. Close unblocks
// a pending WriteFrame, which then returns ErrClosed; Close may be called
// more than once.
type Sink interface {
	Format() Format
	WriteFrame(src *Frame) error
	Close() error
}

// Stage transforms one frame into another. It never allocates, never blocks,
// never fails and does no I/O: configuration errors are caught when the stage
// is built. dst and src may be the same frame when the stage keeps the channel
// count. Process copies src.Pos into dst.Pos.
type Stage interface {
	Process(dst, src *Frame)
}
