package alsa

import "syscall"

// goneErrno reports whether libasound's errno means the device is gone: EIO
// (the driver gave up), ENODEV and ENXIO (unplugged), EBADFD (the handle is
// in a state recovery does not fix), ESHUTDOWN (the sound server went
// away).
func goneErrno(e syscall.Errno) bool {
	switch e {
	case syscall.EIO, syscall.ENODEV, syscall.ENXIO, syscall.EBADFD, syscall.ESHUTDOWN:
		return true
	}
	return false
}
