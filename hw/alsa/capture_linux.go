//go:build linux && cgo

package alsa

/*
#include "pcm_linux.h"
*/
import "C"

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/hw/alsa/alsaconf"
)

// Capture reads frames from an ALSA capture device. It implements
// audio.Source.
//
// A capture goroutine, started by OpenCapture and stopped by Close, reads one
// period per cgo call into a small ring of byte buffers allocated at open;
// ReadFrame takes the oldest captured period and converts it to float32 into
// the caller's frame. The goroutine never waits for the reader: when the
// ring (at least 100 ms, and at least the device buffer) is full it
// overwrites the oldest period and counts it in Stats.Dropped. Frame
// positions come from the count of samples captured, including those an
// xrun lost, so they stay true to the device clock.
type Capture struct {
	log      *slog.Logger
	p        *pcm
	format   alsaconf.SampleFormat
	channels int
	rate     audio.SampleRate
	frameLen int // samples per channel in one frame
	afmt     audio.Format

	slots  []slot
	free   chan int      // slots the goroutine may fill
	filled chan int      // captured slots, oldest first
	done   chan struct{} // closed by Close
	failed chan struct{} // closed by the goroutine when the device fails
	// failErr is set before failed is closed.
	failErr   error
	closeOnce sync.Once

	// Owned by the capture goroutine.
	io    C.onair_io
	pos   int64
	start time.Time // when the first period arrived
	slack int64     // samples the device may run ahead of the clock

	periods, frames, dropped, xruns, lost atomic.Uint64
}

// ringSpan is how much audio the capture ring holds, at least: enough to
// ride out a reader descheduled for a while on a busy two-core board,
// small enough that catching up after it takes a blink.
const ringSpan = 100 * time.Millisecond

// slot is one captured period.
type slot struct {
	buf []byte
	pos int64
}

var _ audio.Source = (*Capture)(nil)

// OpenCapture opens cfg.Device for capture (defaults are filled in and the
// config validated on a copy), configures interleaved access, cfg.Format,
// cfg.Channels and cfg.Rate exactly (libasound's own resampling is turned
// off), and a period and buffer as near to cfg.Period and cfg.BufferPeriods
// as the device allows. A refused parameter gives a *DeviceError wrapping a
// *ParamError that names it and what the device offers. log may be nil.
//
// Opening a plugin that reads a FIFO (the file plugin's infile) blocks until
// the FIFO has a writer.
func OpenCapture(cfg alsaconf.Config, log *slog.Logger) (*Capture, error) {
	cfg.SetDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "alsa.capture", "device", cfg.Device)
	p, err := openPCM(cfg, C.SND_PCM_STREAM_CAPTURE)
	if err != nil {
		return nil, err
	}
	frameLen := cfg.Rate.Samples(cfg.Period.D())
	// The ring absorbs a reader that is late by up to ringSpan (scheduling,
	// GC); one later than that loses the oldest periods.
	n := max(cfg.BufferPeriods, int((ringSpan+cfg.Period.D()-1)/cfg.Period.D()))
	c := &Capture{
		log:      log,
		p:        p,
		format:   cfg.Format,
		channels: cfg.Channels,
		rate:     cfg.Rate,
		frameLen: frameLen,
		afmt:     cfg.AudioFormat(),
		slots:    make([]slot, n),
		free:     make(chan int, n),
		filled:   make(chan int, n),
		done:     make(chan struct{}),
		failed:   make(chan struct{}),
	}
	for i := range c.slots {
		c.slots[i].buf = make([]byte, frameLen*cfg.Channels*sampleBytes(cfg.Format))
		c.free <- i
	}
	if err := p.own.enter(); err != nil { // held by the goroutine until it exits
		p.close(log)
		return nil, &DeviceError{Device: cfg.Device, Op: "open", Err: err}
	}
	// A device may hand over its whole buffer at once, and the ring at
	// most that again; beyond that and half a second it runs faster than
	// time.
	c.slack = int64(2*n*frameLen) + int64(cfg.Rate.Samples(500*time.Millisecond))
	logOpened(log, p.neg, cfg.Period.D())
	go c.run()
	return c, nil
}

// Format returns the frame geometry ReadFrame fills: the config's channels,
// rate and period.
func (c *Capture) Format() audio.Format { return c.afmt }

// Negotiated returns what the device agreed to.
func (c *Capture) Negotiated() Negotiated { return c.p.neg }

// Stats returns the counters. Safe from any goroutine.
func (c *Capture) Stats() Stats {
	return Stats{
		Periods:     c.periods.Load(),
		Frames:      c.frames.Load(),
		Dropped:     c.dropped.Load(),
		Xruns:       c.xruns.Load(),
		LostSamples: c.lost.Load(),
	}
}

// ReadFrame waits for the next captured period and converts it into dst,
// which must have Format()'s channels and length; it sets dst.Pos and
// dst.Rate. It returns audio.ErrClosed after Close (a pending ReadFrame
// returns at once), and a *DeviceError when the device failed (matching
// ErrDeviceGone when it is gone) after the periods captured before the
// failure. ReadFrame never allocates; call it from one goroutine.
func (c *Capture) ReadFrame(dst *audio.Frame) error {
	if dst.Channels != c.channels || len(dst.Samples) != c.frameLen*c.channels {
		return fmt.Errorf("alsa: read into a frame of %d channels x %d samples, want %d x %d",
			dst.Channels, dst.Len(), c.channels, c.frameLen)
	}
	select {
	case <-c.done:
		return audio.ErrClosed
	default:
	}
	var idx int
	select {
	case idx = <-c.filled:
	case <-c.done:
		return audio.ErrClosed
	case <-c.failed:
		select {
		case idx = <-c.filled:
		default:
			return c.failErr
		}
	}
	s := &c.slots[idx]
	decode(c.format, dst.Samples, s.buf)
	dst.Pos, dst.Rate = s.pos, c.rate
	c.free <- idx
	c.frames.Add(1)
	return nil
}

// Close stops the capture goroutine and closes the device. A pending
// ReadFrame returns audio.ErrClosed at once. Close waits for the goroutine
// to leave libasound (it is woken through an eventfd it polls with the
// PCM) for at most a buffer's length plus 250 ms; if a plugin holds it in a
// blocking read(2) longer than that, Close returns a *DeviceError wrapping
// ErrCloseDeferred and the goroutine closes the device when the read
// returns. Close may be called more than once; later calls return nil.
func (c *Capture) Close() error {
	c.closeOnce.Do(func() { close(c.done) })
	return c.p.close(c.log)
}

// run is the capture goroutine: one cgo call per period.
func (c *Capture) run() {
	defer c.p.own.exit()
	for {
		idx, ok := c.slot()
		if !ok {
			return
		}
		s := &c.slots[idx]
		C.onair_pcm_read(c.p.h, unsafe.Pointer(&s.buf[0]), C.long(c.frameLen), &c.io)
		if x := uint64(c.io.xruns); x > 0 {
			c.xruns.Add(x)
			c.lost.Add(uint64(c.io.lost))
			c.pos += int64(c.io.lost)
		}
		if code := int(c.io.err); code != 0 {
			c.free <- idx
			if code != errCanceled {
				c.fail(&DeviceError{Device: c.p.neg.Device, Op: "read", Err: errnoError(code)})
			}
			return
		}
		s.pos = c.pos
		c.pos += int64(c.frameLen)
		c.periods.Add(1)
		// Against the clock every 8th period: a device far ahead of time
		// is caught within a few periods, and most reads read no clock.
		if c.start.IsZero() {
			c.start = time.Now()
		} else if c.periods.Load()%8 == 0 && c.pos-int64(time.Since(c.start).Seconds()*float64(c.rate)) > c.slack {
			c.free <- idx
			c.fail(&DeviceError{Device: c.p.neg.Device, Op: "read", Err: ErrTooFast})
			return
		}
		select {
		case <-c.done:
			c.free <- idx
			return
		default:
		}
		c.filled <- idx // never blocks: the channel holds every slot
	}
}

// slot returns a free slot, or takes the oldest captured one when the
// reader has fallen a whole ring behind. It returns false once closed.
func (c *Capture) slot() (int, bool) {
	select {
	case idx := <-c.free:
		return idx, true
	default:
	}
	select {
	case idx := <-c.free:
		return idx, true
	case idx := <-c.filled:
		c.dropped.Add(1)
		return idx, true
	case <-c.done:
		return 0, false
	}
}

// fail records a device error for ReadFrame and stops capturing.
func (c *Capture) fail(err *DeviceError) {
	c.log.Warn("capture failed", "err", err, "gone", gone(err.Err))
	c.failErr = err
	close(c.failed)
}
