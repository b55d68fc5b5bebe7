package alsa

import (
	"time"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/hw/alsa/alsaconf"
)

// Negotiated is what a device agreed to when it was opened. Format,
// Channels and Rate are always what the Config asked for (a device that
// cannot do them is refused); the period and buffer are the device's
// nearest match to the Config's.
type Negotiated struct {
	// Device is the ALSA PCM name that was opened.
	Device string
	// Type is libasound's name for the PCM type: "HW", "PLUG", "DSNOOP",
	// "FILE", ...
	Type string
	// Format is the sample format on the wire.
	Format alsaconf.SampleFormat
	// Channels is the number of interleaved channels.
	Channels int
	// Rate is the sample rate.
	Rate audio.SampleRate
	// PeriodFrames is the device's period, in frames: the unit in which it
	// wakes the reader or writer.
	PeriodFrames int
	// BufferFrames is the device's ring buffer size, in frames.
	BufferFrames int
}

// Period returns the device period as a duration.
func (n Negotiated) Period() time.Duration { return n.Rate.Duration(n.PeriodFrames) }

// Buffer returns the device buffer as a duration.
func (n Negotiated) Buffer() time.Duration { return n.Rate.Duration(n.BufferFrames) }

// Stats are a device's counters, read from atomics.
type Stats struct {
	// Periods moved from (capture) or to (playback) the device.
	Periods uint64
	// Frames returned by ReadFrame (capture only).
	Frames uint64
	// Dropped periods: captured, but overwritten because the reader fell a
	// whole ring behind (capture only).
	Dropped uint64
	// Xruns recovered: overruns (capture) or underruns (playback), and
	// suspends.
	Xruns uint64
	// LostSamples per channel to xruns, estimated from the device's
	// timestamps (capture only). Frame positions skip them, so timestamps
	// stay true.
	LostSamples uint64
}
