package audio

import (
	"fmt"
	"sync/atomic"
)

// BufferSource is a finite Source over interleaved samples held in memory:
// a decoded file, or audio rendered ahead of time for a benchmark. It is not
// paced. After the last whole frame (a partial tail is padded with silence)
// it returns ErrEndOfStream, or starts again from the beginning when Loop
// is set.
type BufferSource struct {
	format  Format
	samples []float32
	off     int
	pos     int64
	loop    bool
	closed  atomic.Bool
}

var _ Source = (*BufferSource)(nil)

// NewBufferSource returns a source of samples (interleaved, format.Channels
// channels), which it keeps without copying. loop repeats them forever.
func NewBufferSource(format Format, samples []float32, loop bool) (*BufferSource, error) {
	if format.Channels <= 0 || format.FrameLen() <= 0 {
		return nil, fmt.Errorf("audio: buffer source: bad format %+v", format)
	}
	if len(samples)%format.Channels != 0 {
		return nil, fmt.Errorf("audio: buffer source: %d samples is not a whole number of %d-channel frames", len(samples), format.Channels)
	}
	if loop && len(samples) < format.FrameLen()*format.Channels {
		return nil, fmt.Errorf("audio: buffer source: a looped buffer needs at least one frame")
	}
	return &BufferSource{format: format, samples: samples, loop: loop}, nil
}

// Format implements Source.
func (b *BufferSource) Format() Format { return b.format }

// ReadFrame implements Source.
func (b *BufferSource) ReadFrame(dst *Frame) error {
	if b.closed.Load() {
		return ErrClosed
	}
	n := b.format.FrameLen() * b.format.Channels
	if dst.Channels != b.format.Channels || len(dst.Samples) != n {
		return fmt.Errorf("audio: buffer source: frame is %dx%d, want %dx%d", dst.Channels, dst.Len(), b.format.Channels, b.format.FrameLen())
	}
	if b.off >= len(b.samples) {
		if !b.loop {
			return ErrEndOfStream
		}
		b.off = 0
	}
	c := copy(dst.Samples, b.samples[b.off:])
	b.off += c
	for c < n {
		if b.loop {
			b.off = copy(dst.Samples[c:], b.samples)
			c += b.off
			continue
		}
		clear(dst.Samples[c:])
		c = n
	}
	dst.Pos, dst.Rate = b.pos, b.format.Rate
	b.pos += int64(b.format.FrameLen())
	return nil
}

// Close implements Source.
func (b *BufferSource) Close() error {
	b.closed.Store(true)
	return nil
}
