package aec

import (
	"errors"
	"strconv"
	"time"

	"github.com/onair-gateway/onair/conf"
)

// EngineKind names an echo canceller implementation.
type EngineKind string

// Engines.
const (
	// EngineSpeex is speexdsp's echo canceller and residual echo
	// suppressor.
	EngineSpeex EngineKind = "speex"
)

// Config configures echo cancellation in the speak path (audio.aec).
type Config struct {
	// Enabled turns echo cancellation on. Default: the board profile's:
	// on for mic arrays with an output, off for a line input.
	Enabled *bool `yaml:"enabled" json:"enabled"`
	// Engine is the canceller: speex. Default: speex.
	Engine EngineKind `yaml:"engine" json:"engine"`
	// Tail is how long an echo the adaptive filter covers after the
	// direct sound, 20ms..1s: the room's reverberation that matters.
	// Longer costs CPU and converges more slowly. Default: 200ms.
	Tail conf.Duration `yaml:"tail" json:"tail"`
	// MaxDelay is the longest delay between handing a frame to the
	// playback device and hearing it in the capture that the alignment
	// searches for, 10ms..1s. Default: 400ms.
	MaxDelay conf.Duration `yaml:"max_delay" json:"max_delay"`
	// Suppress is the residual echo suppression in dB while only the far
	// end talks, -90..0. Default: -40.
	Suppress *float64 `yaml:"suppress" json:"suppress"`
	// SuppressActive is the residual echo suppression in dB while the
	// near end talks too, -90..0. Default: -15.
	SuppressActive *float64 `yaml:"suppress_active" json:"suppress_active"`
	// Loopback lists the capture channels (from 0) that carry what the
	// device plays, looped back in hardware; they are averaged into the
	// reference, already aligned with the capture. Empty: the reference
	// is the frames handed to the playback device (Reference), aligned by
	// the sample counters and a measured delay. Default: the board
	// profile's (the 6-mic board's channels 6 and 7).
	Loopback []int `yaml:"loopback" json:"loopback"`
}

// SetDefaults fills zero fields with their defaults, except Enabled and
// Loopback, which come from the board profile (provisioning).
func (c *Config) SetDefaults() {
	if c.Engine == "" {
		c.Engine = EngineSpeex
	}
	if c.Tail == 0 {
		c.Tail = conf.Duration(200 * time.Millisecond)
	}
	if c.MaxDelay == 0 {
		c.MaxDelay = conf.Duration(400 * time.Millisecond)
	}
	if c.Suppress == nil {
		c.Suppress = conf.Ptr(-40.0)
	}
	if c.SuppressActive == nil {
		c.SuppressActive = conf.Ptr(-15.0)
	}
}

// On reports whether echo cancellation is enabled.
func (c Config) On() bool { return c.Enabled != nil && *c.Enabled }

// Validate reports every problem with c for a capture of the given channel
// count with mics microphones, each naming its field.
func (c Config) Validate(channels, mics int) error {
	var errs []error
	switch c.Engine {
	case "", EngineSpeex:
	default:
		errs = append(errs, conf.Errorf("engine", "%q is not speex", c.Engine))
	}
	if c.Tail != 0 && (c.Tail.D() < 20*time.Millisecond || c.Tail.D() > time.Second) {
		errs = append(errs, conf.Errorf("tail", "%v is out of range 20ms..1s", c.Tail))
	}
	if c.MaxDelay != 0 && (c.MaxDelay.D() < 10*time.Millisecond || c.MaxDelay.D() > time.Second) {
		errs = append(errs, conf.Errorf("max_delay", "%v is out of range 10ms..1s", c.MaxDelay))
	}
	for _, f := range []struct {
		name string
		v    *float64
	}{{"suppress", c.Suppress}, {"suppress_active", c.SuppressActive}} {
		if f.v != nil && !(*f.v >= -90 && *f.v <= 0) {
			errs = append(errs, conf.Errorf(f.name, "%v dB is out of range -90..0", *f.v))
		}
	}
	seen := map[int]bool{}
	for i, ch := range c.Loopback {
		p := "loopback[" + strconv.Itoa(i) + "]"
		switch {
		case (ch < mics || ch >= channels) && channels <= mics:
			errs = append(errs, conf.Errorf(p, "channel %d: the capture has no channels beyond its %d mics (audio.capture.channels %d)", ch, mics, channels))
		case ch < mics || ch >= channels:
			errs = append(errs, conf.Errorf(p, "channel %d is not a capture channel beyond the %d mics (%d..%d)", ch, mics, mics, channels-1))
		case seen[ch]:
			errs = append(errs, conf.Errorf(p, "channel %d is listed twice", ch))
		}
		seen[ch] = true
	}
	return errors.Join(errs...)
}
