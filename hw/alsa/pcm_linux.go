//go:build linux && cgo

package alsa

/*
#cgo pkg-config: alsa
#include <errno.h>
#include <stdlib.h>
#include "pcm_linux.h"
*/
import "C"

import (
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unsafe"

	"github.com/onair-gateway/onair/hw/alsa/alsaconf"
)

// errCanceled is what a transfer returns when Close woke it.
const errCanceled = -C.ECANCELED

// pcm is an open, configured PCM and what it negotiated.
type pcm struct {
	h   *C.onair_pcm
	neg Negotiated
	own *owner
	// closeWait bounds how long Close waits for a transfer to leave
	// libasound: a buffer's length, plus margin for scheduling.
	closeWait time.Duration
}

// alsaFormat maps a SampleFormat to libasound's snd_pcm_format_t.
func alsaFormat(f alsaconf.SampleFormat) C.int {
	switch f {
	case alsaconf.S16LE:
		return C.SND_PCM_FORMAT_S16_LE
	case alsaconf.S24LE:
		return C.SND_PCM_FORMAT_S24_LE
	}
	return C.SND_PCM_FORMAT_S32_LE
}

// openPCM opens cfg.Device for stream (C.SND_PCM_STREAM_CAPTURE or
// _PLAYBACK) and configures it. Every failure is a *DeviceError with Op
// "open"; a refused parameter is a *ParamError inside it.
func openPCM(cfg alsaconf.Config, stream C.int) (*pcm, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, &DeviceError{Device: cfg.Device, Op: "open", Err: fmt.Errorf("invalid config: %w", err)}
	}
	period := cfg.Rate.Samples(cfg.Period.D())
	args := (*C.onair_open_args)(C.calloc(1, C.sizeof_onair_open_args))
	if args == nil {
		return nil, &DeviceError{Device: cfg.Device, Op: "open", Err: errnoError(-C.ENOMEM)}
	}
	defer C.free(unsafe.Pointer(args))
	args.stream = stream
	args.format = alsaFormat(cfg.Format)
	args.channels = C.uint(cfg.Channels)
	args.rate = C.uint(cfg.Rate)
	args.period = C.ulong(period)
	args.buffer = C.ulong(period * cfg.BufferPeriods)

	name := C.CString(cfg.Device)
	defer C.free(unsafe.Pointer(name))
	h := C.onair_pcm_open(name, args)
	if h == nil {
		return nil, &DeviceError{Device: cfg.Device, Op: "open", Err: openError(cfg, args)}
	}
	neg := Negotiated{
		Device:       cfg.Device,
		Type:         C.GoString(&args._type[0]),
		Format:       cfg.Format,
		Channels:     cfg.Channels,
		Rate:         cfg.Rate,
		PeriodFrames: int(args.period_out),
		BufferFrames: int(args.buffer_out),
	}
	p := &pcm{h: h, neg: neg, closeWait: neg.Buffer() + 250*time.Millisecond}
	p.own = newOwner(func() { C.onair_pcm_close(h) })
	return p, nil
}

// openError explains why onair_pcm_open failed.
func openError(cfg alsaconf.Config, a *C.onair_open_args) error {
	msg := C.GoString(&a.msg[0])
	cause := errnoError(int(a.err))
	withMsg := func(step string) error {
		var parts []string
		for _, s := range []string{step, msg} {
			if s != "" {
				parts = append(parts, s)
			}
		}
		if len(parts) == 0 {
			return cause
		}
		return fmt.Errorf("%s: %w", strings.Join(parts, ": "), cause)
	}
	lo, hi := uint(a.min), uint(a.max)
	switch a.failed {
	case C.ONAIR_STEP_ACCESS:
		return &ParamError{Param: "access", Want: "RW_INTERLEAVED"}
	case C.ONAIR_STEP_FORMAT:
		var offers []string
		for f := 0; f < 64; f++ {
			if a.formats&(1<<f) != 0 {
				offers = append(offers, C.GoString(C.snd_pcm_format_name(C.snd_pcm_format_t(f))))
			}
		}
		return &ParamError{Param: "format", Want: string(cfg.Format), Offer: strings.Join(offers, ", ")}
	case C.ONAIR_STEP_CHANNELS:
		return &ParamError{Param: "channels", Want: fmt.Sprint(cfg.Channels), Offer: offerRange(lo, hi)}
	case C.ONAIR_STEP_RATE:
		return &ParamError{Param: "rate", Want: fmt.Sprintf("%d Hz", cfg.Rate), Offer: offerRange(lo, hi)}
	case C.ONAIR_STEP_PERIOD:
		return &ParamError{Param: "period", Want: fmt.Sprintf("%v (%d frames)", cfg.Period, cfg.Rate.Samples(cfg.Period.D())), Offer: offerRange(lo, hi) + " frames"}
	case C.ONAIR_STEP_BUFFER:
		return &ParamError{Param: "buffer", Want: fmt.Sprintf("%d periods", cfg.BufferPeriods), Offer: offerRange(lo, hi) + " frames"}
	case C.ONAIR_STEP_ANY:
		return withMsg("read hardware parameters")
	case C.ONAIR_STEP_HW_PARAMS:
		return withMsg("set hardware parameters")
	case C.ONAIR_STEP_SW_PARAMS:
		return withMsg("set software parameters")
	case C.ONAIR_STEP_POLL:
		return withMsg("get poll descriptors")
	case C.ONAIR_STEP_EVENTFD:
		return withMsg("eventfd")
	}
	return withMsg("")
}

// wake makes a pending or future transfer on p return errCanceled.
func (p *pcm) wake() { C.onair_pcm_wake(p.h) }

// close closes the handle, waking and waiting for a transfer in progress.
// It returns a *DeviceError wrapping ErrCloseDeferred when the transfer did
// not leave libasound in time; it then frees the handle when it does.
func (p *pcm) close(log *slog.Logger) error {
	first, deferred := p.own.close(p.wake, p.closeWait)
	if !first || !deferred {
		return nil
	}
	log.Warn("pcm transfer still blocked after close; the device is released when it returns", "wait", p.closeWait)
	return &DeviceError{Device: p.neg.Device, Op: "close", Err: ErrCloseDeferred}
}

// logOpened logs what the device negotiated, once per open.
func logOpened(log *slog.Logger, n Negotiated, want time.Duration) {
	log.Info("pcm opened", "type", n.Type, "format", n.Format, "channels", n.Channels,
		"rate", int(n.Rate), "period", n.Period(), "buffer", n.Buffer())
	if n.Period() != want {
		log.Info("device period differs from the frame period; frames stay as configured",
			"device_period", n.Period(), "frame_period", want)
	}
}
