package wav

import (
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/onair-gateway/onair/audio"
)

// Source plays a WAV file as an audio.Source, reading one frame at a time
// through a Reader, so a file of any length costs one frame of memory. The
// last frame is padded with silence; then ReadFrame returns
// audio.ErrEndOfStream. The caller keeps owning the Reader (and closes its
// file).
type Source struct {
	r      *Reader
	format audio.Format
	pos    int64
	done   bool
	closed atomic.Bool
}

var _ audio.Source = (*Source)(nil)

// NewSource returns a Source of format f over r, whose channels and rate
// must be f's.
func NewSource(r *Reader, f audio.Format) (*Source, error) {
	rf := r.Format()
	if rf.Channels != f.Channels || rf.Rate != int(f.Rate) || f.FrameLen() < 1 {
		return nil, fmt.Errorf("wav: a %d-channel %d Hz file cannot play as %d channels at %d Hz", rf.Channels, rf.Rate, f.Channels, f.Rate)
	}
	return &Source{r: r, format: f}, nil
}

// Format implements audio.Source.
func (s *Source) Format() audio.Format { return s.format }

// ReadFrame implements audio.Source. It must be called from one goroutine
// at a time, and does not allocate.
func (s *Source) ReadFrame(dst *audio.Frame) error {
	switch {
	case s.closed.Load():
		return audio.ErrClosed
	case s.done:
		return audio.ErrEndOfStream
	}
	n := s.format.FrameLen() * s.format.Channels
	if dst.Channels != s.format.Channels || len(dst.Samples) != n {
		return fmt.Errorf("wav: source frame is %dx%d, want %dx%d", dst.Channels, dst.Len(), s.format.Channels, s.format.FrameLen())
	}
	got := 0
	for got < n {
		k, err := s.r.Read(dst.Samples[got:])
		got += k * s.format.Channels
		if errors.Is(err, io.EOF) {
			s.done = true
			break
		}
		if err != nil {
			return err
		}
	}
	if got == 0 {
		return audio.ErrEndOfStream
	}
	clear(dst.Samples[got:])
	dst.Pos, dst.Rate = s.pos, s.format.Rate
	s.pos += int64(s.format.FrameLen())
	return nil
}

// Close implements audio.Source; it does not close the Reader's file. It
// is safe from any goroutine; ReadFrame never blocks on anything but the
// file.
func (s *Source) Close() error {
	s.closed.Store(true)
	return nil
}
