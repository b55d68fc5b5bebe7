//go:build !linux

package alsa

import "syscall"

// goneErrno reports whether an errno means the device is gone (ALSA is
// Linux-only; this keeps the package building elsewhere).
func goneErrno(e syscall.Errno) bool {
	return e == syscall.EIO || e == syscall.ENODEV || e == syscall.ENXIO
}
