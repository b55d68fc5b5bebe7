//go:build linux && cgo

package alsa

/*
#include "pcm_linux.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/hw/alsa/alsaconf"
)

// Playback writes frames to an ALSA playback device, paced by the device:
// WriteFrame blocks while the device buffer is full. It starts none of its
// own goroutines.
type Playback struct {
	log      *slog.Logger
	p        *pcm
	format   alsaconf.SampleFormat
	channels int
	frameLen int
	afmt     audio.Format

	// Used by the one WriteFrame in progress (owner.enter excludes others).
	buf   []byte
	io    C.onair_io
	start time.Time // when the first period was written
	n     int64     // periods written
	slack int64     // samples the device may take ahead of the clock
	rate  audio.SampleRate

	periods, xruns atomic.Uint64
}

// OpenPlayback opens cfg.Device for playback, with the same formats,
// negotiation and errors as OpenCapture. The stream starts once two periods
// are queued. log may be nil.
func OpenPlayback(cfg alsaconf.Config, log *slog.Logger) (*Playback, error) {
	cfg.SetDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "alsa.playback", "device", cfg.Device)
	p, err := openPCM(cfg, C.SND_PCM_STREAM_PLAYBACK)
	if err != nil {
		return nil, err
	}
	frameLen := cfg.Rate.Samples(cfg.Period.D())
	logOpened(log, p.neg, cfg.Period.D())
	return &Playback{
		log:      log,
		p:        p,
		format:   cfg.Format,
		channels: cfg.Channels,
		frameLen: frameLen,
		afmt:     cfg.AudioFormat(),
		buf:      make([]byte, frameLen*cfg.Channels*sampleBytes(cfg.Format)),
		// A device takes its whole buffer at once; beyond that and half
		// a second it runs faster than time (as for capture).
		slack: int64(2*p.neg.BufferFrames) + int64(cfg.Rate.Samples(500*time.Millisecond)),
		rate:  cfg.Rate,
	}, nil
}

// Format returns the frame geometry WriteFrame takes.
func (p *Playback) Format() audio.Format { return p.afmt }

// Negotiated returns what the device agreed to.
func (p *Playback) Negotiated() Negotiated { return p.p.neg }

// Stats returns the counters (Periods and Xruns). Safe from any goroutine.
func (p *Playback) Stats() Stats {
	return Stats{Periods: p.periods.Load(), Xruns: p.xruns.Load()}
}

// WriteFrame converts src (Format()'s geometry, full scale ±1.0, clipped
// beyond) to the device format and writes it with one cgo call, blocking
// while the device buffer is full. An underrun is recovered and counted in
// Stats.Xruns. It returns audio.ErrClosed after Close (a blocked WriteFrame
// returns at once), and a *DeviceError when the device fails (matching
// ErrDeviceGone when it is gone). One goroutine at a time may call it;
// it never allocates.
func (p *Playback) WriteFrame(src *audio.Frame) error {
	if src.Channels != p.channels || len(src.Samples) != p.frameLen*p.channels {
		return fmt.Errorf("alsa: write of a frame of %d channels x %d samples, want %d x %d",
			src.Channels, src.Len(), p.channels, p.frameLen)
	}
	if err := p.p.own.enter(); err != nil {
		if errors.Is(err, errHandleClosed) {
			return audio.ErrClosed
		}
		return &DeviceError{Device: p.p.neg.Device, Op: "write", Err: err}
	}
	encode(p.format, p.buf, src.Samples)
	C.onair_pcm_write(p.p.h, unsafe.Pointer(&p.buf[0]), C.long(p.frameLen), &p.io)
	xruns, code := uint64(p.io.xruns), int(p.io.err)
	p.p.own.exit()

	p.xruns.Add(xruns)
	switch code {
	case 0:
		p.periods.Add(1)
		// Against the clock every 8th period, as capture does: a device
		// that takes audio far faster than it can play is no sound card.
		if p.n++; p.n == 1 {
			p.start = time.Now()
		} else if p.n%8 == 0 && p.n*int64(p.frameLen)-int64(time.Since(p.start).Seconds()*float64(p.rate)) > p.slack {
			return &DeviceError{Device: p.p.neg.Device, Op: "write", Err: ErrTooFast}
		}
		return nil
	case errCanceled:
		return audio.ErrClosed
	}
	return &DeviceError{Device: p.p.neg.Device, Op: "write", Err: errnoError(code)}
}

// Close closes the device, dropping what is queued. A blocked WriteFrame
// returns audio.ErrClosed at once. Close may be called more than once.
func (p *Playback) Close() error {
	return p.p.close(p.log)
}
