//go:build !linux || !cgo

package alsa

import (
	"fmt"
	"log/slog"
	"runtime"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/hw/alsa/alsaconf"
)

// unavailable explains why this build cannot open ALSA devices.
func unavailable(device string) error {
	return &DeviceError{Device: device, Op: "open",
		Err: fmt.Errorf("ALSA needs linux and cgo (this binary: GOOS=%s, cgo off or not linux); use hw/sim instead", runtime.GOOS)}
}

// Capture is an ALSA capture device; this build cannot open one.
type Capture struct{}

var _ audio.Source = (*Capture)(nil)

// OpenCapture reports that ALSA is unavailable in this build.
func OpenCapture(cfg alsaconf.Config, log *slog.Logger) (*Capture, error) {
	cfg.SetDefaults()
	return nil, unavailable(cfg.Device)
}

// Format returns the zero Format.
func (c *Capture) Format() audio.Format { return audio.Format{} }

// Negotiated returns the zero Negotiated.
func (c *Capture) Negotiated() Negotiated { return Negotiated{} }

// Stats returns zero counters.
func (c *Capture) Stats() Stats { return Stats{} }

// ReadFrame returns audio.ErrClosed.
func (c *Capture) ReadFrame(dst *audio.Frame) error { return audio.ErrClosed }

// Close does nothing.
func (c *Capture) Close() error { return nil }

// Playback is an ALSA playback device; this build cannot open one.
type Playback struct{}

// OpenPlayback reports that ALSA is unavailable in this build.
func OpenPlayback(cfg alsaconf.Config, log *slog.Logger) (*Playback, error) {
	cfg.SetDefaults()
	return nil, unavailable(cfg.Device)
}

// Format returns the zero Format.
func (p *Playback) Format() audio.Format { return audio.Format{} }

// Negotiated returns the zero Negotiated.
func (p *Playback) Negotiated() Negotiated { return Negotiated{} }

// Stats returns zero counters.
func (p *Playback) Stats() Stats { return Stats{} }

// WriteFrame returns audio.ErrClosed.
func (p *Playback) WriteFrame(src *audio.Frame) error { return audio.ErrClosed }

// Close does nothing.
func (p *Playback) Close() error { return nil }
