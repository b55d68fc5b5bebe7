package alsa

import (
	"errors"
	"fmt"
	"syscall"
)

// ErrDeviceGone matches (with errors.Is) a *DeviceError that means the device
// is no longer usable: unplugged, its driver gone, stuck, or its handle in a
// state no recovery fixes. Close the Capture or Playback and open it again,
// with backoff.
var ErrDeviceGone = errors.New("alsa: device gone")

// ErrTooFast is the cause in a *DeviceError when a capture device
// delivers audio faster than real time, or a playback device takes it
// faster, as no sound card does: ALSA's null plugin, or a file plugin on a
// plain file. Left alone a capture would flood the room with packets at
// many times the real rate, and a playback would drain every jitter buffer
// as fast as the CPU allows.
var ErrTooFast = errors.New("moves audio faster than real time: not a sound card (the null plugin, or a plain file?)")

// ErrStalled is the cause in a *DeviceError when the device stopped moving
// data for several buffer lengths (at least 2 s) without reporting an
// error. It matches ErrDeviceGone.
var ErrStalled = errors.New("device stopped moving data")

// ErrCloseDeferred is the cause in the *DeviceError that Close returns when a
// transfer was still inside libasound after the close timeout: some plugins
// (the file plugin reading a FIFO) block in read(2), which nothing can wake.
// ReadFrame and WriteFrame already return audio.ErrClosed; the handle is
// released as soon as that transfer returns.
var ErrCloseDeferred = errors.New("a transfer is still blocked inside libasound; the device is released when it returns")

// DeviceError is an error from one PCM device: which device, which
// operation, and the cause (a syscall.Errno from libasound, a *ParamError, or
// one of this package's sentinels).
type DeviceError struct {
	// Device is the ALSA PCM name.
	Device string
	// Op is "open", "read", "write" or "close".
	Op string
	// Err is the cause.
	Err error
}

// Error implements error: `open pcm "hw:1": rate 48000 Hz not supported
// (device offers 8000..16000)`.
func (e *DeviceError) Error() string {
	return fmt.Sprintf("%s pcm %q: %v", e.Op, e.Device, e.Err)
}

// Unwrap returns the cause.
func (e *DeviceError) Unwrap() error { return e.Err }

// Is reports whether target is ErrDeviceGone and the cause means the device
// is gone.
func (e *DeviceError) Is(target error) bool {
	return target == ErrDeviceGone && gone(e.Err)
}

// gone reports whether err means the device cannot be used any more: see
// goneErrno, or a stall.
func gone(err error) bool {
	var errno syscall.Errno
	return errors.Is(err, ErrStalled) || (errors.As(err, &errno) && goneErrno(errno))
}

// ParamError says that a device refused one hardware parameter, and what it
// offers instead. It unwraps to errors.ErrUnsupported.
type ParamError struct {
	// Param is "access", "format", "channels", "rate", "period" or "buffer".
	Param string
	// Want is what was asked for, with its unit: "48000 Hz", "S32_LE".
	Want string
	// Offer is what the device offers for Param given the parameters set
	// before it (access, format, channels, rate, period, buffer, in that
	// order), e.g. "8000..16000"; empty when the device did not say.
	Offer string
}

// Error implements error: "rate 48000 Hz not supported (device offers
// 8000..16000)".
func (e *ParamError) Error() string {
	if e.Offer == "" {
		return fmt.Sprintf("%s %s not supported", e.Param, e.Want)
	}
	return fmt.Sprintf("%s %s not supported (device offers %s)", e.Param, e.Want, e.Offer)
}

// Unwrap returns errors.ErrUnsupported.
func (e *ParamError) Unwrap() error { return errors.ErrUnsupported }

// errnoError turns a negative errno from libasound into an error.
func errnoError(code int) error {
	if code == -int(syscall.ETIMEDOUT) {
		return ErrStalled
	}
	if code < 0 {
		return syscall.Errno(-code)
	}
	return syscall.Errno(code)
}

// offerRange formats an offered min..max range.
func offerRange(lo, hi uint) string {
	if lo == hi {
		return fmt.Sprint(lo)
	}
	return fmt.Sprintf("%d..%d", lo, hi)
}
