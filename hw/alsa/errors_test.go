//go:build linux

package alsa

import (
	"errors"
	"fmt"
	"syscall"
	"testing"
)

func TestDeviceError(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		gone bool
	}{
		{"EIO", errnoError(-int(syscall.EIO)), true},
		{"ENODEV", errnoError(-int(syscall.ENODEV)), true},
		{"ENXIO", errnoError(-int(syscall.ENXIO)), true},
		{"EBADFD", errnoError(-int(syscall.EBADFD)), true},
		{"ESHUTDOWN", errnoError(-int(syscall.ESHUTDOWN)), true},
		{"stalled", errnoError(-int(syscall.ETIMEDOUT)), true},
		{"wrapped EIO", fmt.Errorf("context: %w", syscall.EIO), true},
		{"EPIPE", errnoError(-int(syscall.EPIPE)), false},
		{"ENOENT", errnoError(-int(syscall.ENOENT)), false},
		{"EBUSY", errnoError(-int(syscall.EBUSY)), false},
		{"param", &ParamError{Param: "rate", Want: "48000 Hz"}, false},
		{"deferred close", ErrCloseDeferred, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := error(&DeviceError{Device: "hw:1", Op: "read", Err: tc.err})
			if got := errors.Is(err, ErrDeviceGone); got != tc.gone {
				t.Errorf("errors.Is(%v, ErrDeviceGone) = %v, want %v", err, got, tc.gone)
			}
			if !errors.Is(err, tc.err) {
				t.Errorf("%v does not unwrap to its cause", err)
			}
			wrapped := fmt.Errorf("capture: %w", err)
			var de *DeviceError
			if !errors.As(wrapped, &de) || de.Device != "hw:1" {
				t.Errorf("errors.As through a wrap failed")
			}
			if errors.Is(wrapped, ErrDeviceGone) != tc.gone {
				t.Errorf("wrapped: ErrDeviceGone match changed")
			}
		})
	}
	if got := errnoError(-int(syscall.ETIMEDOUT)); got != ErrStalled {
		t.Errorf("ETIMEDOUT maps to %v, want ErrStalled", got)
	}
}

func TestErrorMessages(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&DeviceError{Device: "hw:1", Op: "open", Err: &ParamError{Param: "rate", Want: "48000 Hz", Offer: offerRange(8000, 16000)}},
			`open pcm "hw:1": rate 48000 Hz not supported (device offers 8000..16000)`},
		{&DeviceError{Device: "default", Op: "open", Err: &ParamError{Param: "access", Want: "RW_INTERLEAVED"}},
			`open pcm "default": access RW_INTERLEAVED not supported`},
		{&ParamError{Param: "channels", Want: "8", Offer: offerRange(2, 2)}, "channels 8 not supported (device offers 2)"},
		{&DeviceError{Device: "plughw:0", Op: "read", Err: errnoError(-int(syscall.ENODEV))}, `read pcm "plughw:0": no such device`},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("got  %s\nwant %s", got, tc.want)
		}
	}
}
