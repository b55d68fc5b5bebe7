//go:build cgo

package opus

/*
#cgo pkg-config: opus
#include <opus.h>

// onair_opus_lookahead asks libopus for the lookahead (OPUS_GET_LOOKAHEAD) of
// an encoder with these parameters. The bindings keep their encoder's state
// private, so a throwaway encoder answers; the value depends only on the
// sample rate and the application.
static int onair_opus_lookahead(opus_int32 fs, int channels, int application, opus_int32 *out) {
	int err = OPUS_OK;
	OpusEncoder *enc = opus_encoder_create(fs, channels, application, &err);
	if (err != OPUS_OK) {
		return err;
	}
	err = opus_encoder_ctl(enc, OPUS_GET_LOOKAHEAD(out));
	opus_encoder_destroy(enc);
	return err;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"sync"

	"github.com/onair-gateway/onair/audio"
	hopus "gopkg.in/hraban/opus.v2"
)

// Encoder encodes fixed-size frames of interleaved float32 samples into Opus
// packets. Encode belongs to one goroutine; SetBitrate, LimitBitrate,
// SetPacketLoss and SetDTX may be called from any goroutine: a mutex, held
// only for the duration of one libopus call, serialises them with Encode,
// so a change applies from the next frame.
//
// Two bitrates meet here: the configured one (SetBitrate, opus.bitrate) is
// the ceiling, and the room's rate adaptation lowers it with LimitBitrate;
// libopus runs at the lower of the two.
type Encoder struct {
	mu        sync.Mutex
	enc       *hopus.Encoder // nil once closed
	channels  int
	rate      audio.SampleRate
	frameLen  int // samples per channel in one frame
	lookahead int // samples at 48 kHz

	// guarded by mu
	bitrate int  // configured (the ceiling)
	limit   int  // rate adaptation's cap; 0: none
	fec     bool // in-band FEC enabled
	loss    int  // expected packet loss, percent
}

// NewEncoder returns an encoder for frames of cfg.Frame at rate (48000 or
// 16000 Hz; libopus resamples 16 kHz internally and the packets still run on
// the 48 kHz RTP clock of RFC 7587). cfg is normally defaulted and validated
// by the caller; NewEncoder fills defaults on its own copy and validates it
// again, returning an error matching ErrBadArg that wraps the field errors.
//
// Settings applied: the application, bitrate, complexity, in-band FEC,
// expected packet loss and DTX from cfg. VBR stays at libopus's default,
// constrained VBR, which bounds packet size variation for WebRTC.
func NewEncoder(cfg Config, rate audio.SampleRate) (*Encoder, error) {
	const op = "new encoder"
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, &Error{Code: codeBadArg, Op: op, Detail: err.Error(), cause: err}
	}
	if rate != audio.Rate48k && rate != audio.Rate16k {
		return nil, newError(codeBadArg, op, fmt.Sprintf("rate %d Hz is not 48000 or 16000", rate))
	}
	app := application(cfg.Application)
	enc, err := hopus.NewEncoder(int(rate), cfg.Channels, app)
	if err != nil {
		return nil, translate(op, err)
	}
	steps := []struct {
		op  string
		set func() error
	}{
		{"set bitrate", func() error { return enc.SetBitrate(cfg.Bitrate) }},
		{"set complexity", func() error { return enc.SetComplexity(*cfg.Complexity) }},
		{"set fec", func() error { return enc.SetInBandFEC(*cfg.FEC) }},
		{"set packet loss", func() error { return enc.SetPacketLossPerc(*cfg.PacketLoss) }},
		{"set dtx", func() error { return enc.SetDTX(cfg.DTX) }},
	}
	for _, s := range steps {
		if err := s.set(); err != nil {
			return nil, translate(s.op, err)
		}
	}
	var la C.opus_int32
	if code := C.onair_opus_lookahead(C.opus_int32(rate), C.int(cfg.Channels), C.int(app), &la); code != C.OPUS_OK {
		return nil, newError(int(code), "get lookahead", "")
	}
	return &Encoder{
		enc:       enc,
		channels:  cfg.Channels,
		rate:      rate,
		frameLen:  rate.Samples(cfg.Frame.D()),
		lookahead: int(la) * int(audio.Rate48k) / int(rate),
		bitrate:   cfg.Bitrate,
		fec:       *cfg.FEC,
		loss:      *cfg.PacketLoss,
	}, nil
}

// application maps a config Application to the libopus constant.
func application(a Application) hopus.Application {
	switch a {
	case AppAudio:
		return hopus.AppAudio
	case AppLowDelay:
		return hopus.AppRestrictedLowdelay
	}
	return hopus.AppVoIP
}

// FrameSamples returns the number of samples per channel in one frame at the
// encoder's input rate: Encode wants FrameSamples()*Channels() values.
func (e *Encoder) FrameSamples() int { return e.frameLen }

// Channels returns 1 or 2.
func (e *Encoder) Channels() int { return e.channels }

// Rate returns the input sample rate.
func (e *Encoder) Rate() audio.SampleRate { return e.rate }

// Lookahead returns the encoder's algorithmic delay (OPUS_GET_LOOKAHEAD) in
// samples at 48 kHz: decoded audio lags the input by this much, 312 samples
// (6.5 ms) for voip and audio, 120 (2.5 ms) for lowdelay.
func (e *Encoder) Lookahead() int { return e.lookahead }

// Encode encodes one frame. pcm holds FrameSamples()*Channels() interleaved
// samples (full scale ±1.0); the packet is written to out, which the caller
// owns (MaxPacket bytes always suffice), and its length returned. Encode
// never allocates. With DTX on, a packet of 1 or 2 bytes during silence
// means "nothing to send"; RFC 7587 lets the sender skip it.
func (e *Encoder) Encode(pcm []float32, out []byte) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.enc == nil {
		return 0, newError(codeInvalidState, "encode", "encoder closed")
	}
	if len(pcm) != e.frameLen*e.channels {
		return 0, newError(codeBadArg, "encode", fmt.Sprintf("pcm has %d samples, want %d (%d per channel x %d)", len(pcm), e.frameLen*e.channels, e.frameLen, e.channels))
	}
	if len(out) == 0 {
		return 0, newError(codeBufferTooSmall, "encode", "empty output buffer")
	}
	// The bindings pass cap(out) to libopus: cap it at len(out) so libopus
	// never writes past what the caller handed over.
	n, err := e.enc.EncodeFloat32(pcm, out[:len(out):len(out)])
	if err != nil {
		return 0, translate("encode", err)
	}
	return n, nil
}

// SetBitrate changes the configured bitrate, 6000..510000 bit/s, from the
// next frame: the ceiling LimitBitrate works under. Safe from any goroutine.
func (e *Encoder) SetBitrate(bps int) error {
	const op = "set bitrate"
	if bps < 6000 || bps > 510000 {
		return newError(codeBadArg, op, fmt.Sprintf("%d bit/s is out of range 6000..510000", bps))
	}
	return e.ctl(op, func(enc *hopus.Encoder) error {
		if err := enc.SetBitrate(effective(bps, e.limit)); err != nil {
			return err
		}
		e.bitrate = bps
		return nil
	})
}

// LimitBitrate caps the bitrate at bps, 6000..510000 bit/s, or removes the
// cap when bps is 0: the encoder runs at the lower of the cap and the
// configured bitrate, from the next frame. Rate adaptation calls it with
// the room's estimate of the available bandwidth. Safe from any goroutine.
func (e *Encoder) LimitBitrate(bps int) error {
	const op = "limit bitrate"
	if bps != 0 && (bps < 6000 || bps > 510000) {
		return newError(codeBadArg, op, fmt.Sprintf("%d bit/s is not 0 (no limit) or in range 6000..510000", bps))
	}
	return e.ctl(op, func(enc *hopus.Encoder) error {
		if err := enc.SetBitrate(effective(e.bitrate, bps)); err != nil {
			return err
		}
		e.limit = bps
		return nil
	})
}

// effective is the bitrate libopus runs at: the configured one, capped.
func effective(configured, limit int) int {
	if limit > 0 {
		return min(configured, limit)
	}
	return configured
}

// Configured returns the configured bitrate (the ceiling of LimitBitrate)
// and whether in-band FEC is enabled. Safe from any goroutine.
func (e *Encoder) Configured() (bitrate int, fec bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.bitrate, e.fec
}

// Target returns the bitrate the encoder runs at and whether it codes
// in-band FEC: enabled, and an expected loss above 0% (libopus codes no
// LBRR data at 0%, RFC 6716 §2.1.7). Safe from any goroutine.
func (e *Encoder) Target() (bitrate int, fec bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return effective(e.bitrate, e.limit), e.fec && e.loss > 0
}

// SetPacketLoss tells the encoder the expected packet loss, 0..100 percent,
// which sizes the in-band FEC. Safe from any goroutine.
func (e *Encoder) SetPacketLoss(pct int) error {
	const op = "set packet loss"
	if pct < 0 || pct > 100 {
		return newError(codeBadArg, op, fmt.Sprintf("%d%% is out of range 0..100", pct))
	}
	return e.ctl(op, func(enc *hopus.Encoder) error {
		if err := enc.SetPacketLossPerc(pct); err != nil {
			return err
		}
		e.loss = pct
		return nil
	})
}

// SetDTX turns discontinuous transmission on or off. Safe from any
// goroutine.
func (e *Encoder) SetDTX(on bool) error {
	return e.ctl("set dtx", func(enc *hopus.Encoder) error { return enc.SetDTX(on) })
}

// ctl runs one encoder control under the mutex.
func (e *Encoder) ctl(op string, f func(*hopus.Encoder) error) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.enc == nil {
		return newError(codeInvalidState, op, "encoder closed")
	}
	if err := f(e.enc); err != nil {
		return translate(op, err)
	}
	return nil
}

// Close releases the encoder. Later calls fail with ErrInvalidState. Close
// may be called more than once.
func (e *Encoder) Close() error {
	e.mu.Lock()
	e.enc = nil // the bindings keep the state in Go memory: the GC frees it
	e.mu.Unlock()
	return nil
}

// translate turns an error from the bindings into an *Error. libopus codes
// arrive as hopus.Error; anything else is an argument the bindings refused
// before calling libopus, reported as OPUS_BAD_ARG.
func translate(op string, err error) error {
	var code hopus.Error
	if errors.As(err, &code) {
		return &Error{Code: int(code), Op: op}
	}
	return &Error{Code: codeBadArg, Op: op, Detail: err.Error(), cause: err}
}
