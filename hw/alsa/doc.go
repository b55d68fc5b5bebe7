// Package alsa captures and plays audio through libasound (cgo), turning an
// ALSA PCM into an audio.Source (Capture) or a frame sink (Playback).
//
// Devices are opened by ALSA name: "hw:CARD=seeed4micvoicec,DEV=0",
// "plughw:1,0", "default", or any PCM the ALSA configuration defines. The
// alsaconf.Config's format (S16_LE, S24_LE in the low three bytes of four, or
// S32_LE), channel count and rate are set exactly, with libasound's own
// resampling off; a device that cannot do one is refused with a *ParamError
// naming the parameter and what the device offers. Period and buffer are
// the device's nearest match; Negotiated reports them.
//
// Goroutines: a Capture owns one capture goroutine, started by OpenCapture
// and stopped by Close, which reads one period per cgo call into a ring of
// byte buffers allocated at open and never waits for the reader. ReadFrame
// converts the oldest period to float32 in the caller's frame. Playback has
// no goroutine: WriteFrame converts and writes with one cgo call in the
// caller's goroutine.
//
// Buffers: the caller owns the frames it passes; the package owns the byte
// buffers, which libasound fills or reads only during a call.
//
// Blocking and Close: PCMs are opened non-blocking, and a transfer that must
// wait polls the PCM's descriptors together with an eventfd. Close writes
// the eventfd, so a pending transfer returns at once and Close then waits
// for it to leave libasound before closing the PCM. Plugins that block
// inside read(2) instead (the file plugin with a FIFO as infile: snd_pcm_drop
// does not wake it either) cannot be woken; Close then gives up after a
// buffer's length plus 250 ms and returns ErrCloseDeferred, ReadFrame
// returns audio.ErrClosed at once all the same, and the PCM is closed as
// soon as the read returns.
//
// Errors: an xrun (EPIPE) or suspend (ESTRPIPE) is recovered and counted in
// Stats; for capture the samples it lost are estimated from the device's
// timestamps and skipped in frame positions, so positions stay true. A
// device that vanished (EIO, ENODEV, ENXIO, EBADFD, ESHUTDOWN, or no data
// for several buffers) ends the stream with a *DeviceError matching
// ErrDeviceGone: close and reopen with backoff. libasound's own error
// messages are routed into the returned errors through a process-wide
// handler (snd_lib_error_set_handler) that this package installs when it
// opens a device, instead of going to stderr.
//
// Without linux and cgo the package builds, and opening a device returns an
// error.
package alsa
