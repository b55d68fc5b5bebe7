package provisioning

import (
	"errors"
	"math"
	"time"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/rx"
	"github.com/onair-gateway/onair/conf"
	"github.com/onair-gateway/onair/hw"
	"github.com/onair-gateway/onair/hw/alsa/alsaconf"
	"github.com/onair-gateway/onair/hw/sim"
)

// PlaybackConfig is the listen path's output: every remote participant's
// audio, mixed, played on the board's output (a speakerphone's speaker, a
// studio's line out carrying the room without the device's own voice:
// mix-minus). Empty fields come from the board profile.
type PlaybackConfig struct {
	// Enabled plays the room. Default: on for boards with an output
	// (respeaker-2mic, respeaker-6mic, hifiberry-dacplusadc), off for the
	// others; on the sim board, on when board.sim.playback_file or
	// board.sim.echo is set (the simulated speaker has somewhere to go).
	Enabled *bool `yaml:"enabled" json:"enabled"`
	// Device is the ALSA PCM name. Default: the board profile's output.
	Device string `yaml:"device" json:"device"`
	// Rate is 16000 or 48000 Hz. Default: 48000.
	Rate audio.SampleRate `yaml:"rate" json:"rate"`
	// Channels is 1..8; a mono mix is played on every channel. Default:
	// the profile's, else 2.
	Channels int `yaml:"channels" json:"channels"`
	// Format is S16_LE, S24_LE or S32_LE. Default: the profile's, else
	// S16_LE.
	Format alsaconf.SampleFormat `yaml:"format" json:"format"`
	// Period is one playback period, 5ms..20ms: the mixer runs once per
	// period. Default: 10ms.
	Period conf.Duration `yaml:"period" json:"period"`
	// Volume of the mix in dB, -60..20. Default: 0.
	Volume float64 `yaml:"volume" json:"volume"`
	// JitterMin and JitterMax bound each participant's jitter buffer
	// delay, 0..1s. Default: 40ms and 200ms.
	JitterMin conf.Duration `yaml:"jitter_min" json:"jitter_min"`
	JitterMax conf.Duration `yaml:"jitter_max" json:"jitter_max"`
}

// On reports whether playback is enabled.
func (p PlaybackConfig) On() bool { return p.Enabled != nil && *p.Enabled }

// ALSA returns the device config the playback opens.
func (p PlaybackConfig) ALSA() alsaconf.Config {
	c := alsaconf.Config{Device: p.Device, Channels: p.Channels, Format: p.Format, Rate: p.Rate, Period: p.Period}
	c.SetDefaults()
	return c
}

// setDefaults fills empty fields from the profile's output (a zero Device:
// none) and the defaults; simOut says the simulated board has a speaker.
func (p *PlaybackConfig) setDefaults(prof hw.Profile, simOut bool) {
	out := prof.Playback
	if p.Enabled == nil {
		on := out.Device != ""
		if prof.Name == "sim" {
			on = simOut
		}
		p.Enabled = conf.Ptr(on)
	}
	if p.Device == "" {
		p.Device = out.Device
	}
	if p.Channels == 0 {
		p.Channels = out.Channels
	}
	if p.Format == "" {
		p.Format = out.Format
	}
	a := p.ALSA()
	p.Device, p.Channels, p.Format, p.Rate, p.Period = a.Device, a.Channels, a.Format, a.Rate, a.Period
	if p.JitterMin == 0 {
		p.JitterMin = conf.Duration(rx.DefaultMinDelay)
	}
	if p.JitterMax == 0 {
		p.JitterMax = conf.Duration(rx.DefaultMaxDelay)
	}
}

// validate reports every problem with a defaulted playback config.
func (p PlaybackConfig) validate() error {
	errs := []error{p.ALSA().Validate()}
	if p.Volume < -60 || p.Volume > 20 || math.IsNaN(p.Volume) {
		errs = append(errs, conf.Errorf("volume", "%v dB is out of range -60..20", p.Volume))
	}
	lo, hi := p.JitterMin.D(), p.JitterMax.D()
	if lo < 0 || lo > time.Second {
		errs = append(errs, conf.Errorf("jitter_min", "%v is out of range 0..1s", lo))
	}
	if hi < 0 || hi > time.Second {
		errs = append(errs, conf.Errorf("jitter_max", "%v is out of range 0..1s", hi))
	} else if hi < lo {
		errs = append(errs, conf.Errorf("jitter_max", "%v is below jitter_min %v", hi, lo))
	}
	return errors.Join(errs...)
}

// simSpeaker says whether the simulated board's speaker goes anywhere: to
// board.sim.playback_file, or into the mics through board.sim.echo.
func simSpeaker(c sim.Config) bool { return c.PlaybackFile != "" || c.Echo != nil }
