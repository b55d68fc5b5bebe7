//go:build !cgo

package aec

// Speex is unavailable in a build without cgo; see the cgo build.
type Speex struct{ shape Shape }

var _ Engine = (*Speex)(nil)

// NewSpeex reports that speexdsp is unavailable in this build.
func NewSpeex(shape Shape, multi bool, suppress, active int) (*Speex, error) {
	return nil, ErrUnavailable
}

// Shape returns the geometry the canceller was built for.
func (s *Speex) Shape() Shape { return s.shape }

// Cancel implements Engine; it does nothing.
func (s *Speex) Cancel(capture []float32, stride int, ref []float32) {}

// Reset implements Engine; it does nothing.
func (s *Speex) Reset() {}

// Close implements Engine.
func (s *Speex) Close() error { return nil }
