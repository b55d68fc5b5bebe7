package dsp

import (
	"errors"
	"strconv"
	"time"

	"github.com/onair-gateway/onair/conf"
)

// BeamMode selects how the channels of the capture become the output.
type BeamMode string

// Beam modes.
const (
	// BeamFixed steers a delay-and-sum beam at a fixed azimuth.
	BeamFixed BeamMode = "fixed"
	// BeamDOA steers the beam at the direction of arrival found by
	// GCC-PHAT, smoothed.
	BeamDOA BeamMode = "doa"
	// BeamMono averages all channels: no steering.
	BeamMono BeamMode = "mono"
	// BeamStereo passes channels 0 and 1 through as a stereo pair (line
	// inputs).
	BeamStereo BeamMode = "stereo"
)

// Config configures the voice processing chain between capture and encoder:
// DC block → per-mic gain → beamformer → gate → AGC → limiter → meters →
// on-air gate.
type Config struct {
	// HighPass is the DC-blocking high-pass corner in Hz, 0 to disable,
	// up to 300. Default: 80.
	HighPass *float64 `yaml:"high_pass" json:"high_pass"`
	// Gains is a calibration gain in dB per capture channel, -20..20.
	// Default: 0 dB for every channel.
	Gains []float64 `yaml:"gains" json:"gains"`
	// Beam is fixed, doa, mono or stereo. Default: doa for circular arrays,
	// fixed for linear arrays of 2+ mics, mono for one channel; the board
	// profile may choose stereo for line inputs.
	Beam BeamMode `yaml:"beam" json:"beam"`
	// Azimuth is where the fixed beam points, in degrees (0 = +x axis,
	// counter-clockwise). Default: 90 (broadside for a linear array).
	Azimuth *float64 `yaml:"azimuth" json:"azimuth"`
	// DOASmoothing is the time constant of the direction estimate.
	// Default: 300ms.
	DOASmoothing conf.Duration `yaml:"doa_smoothing" json:"doa_smoothing"`
	// Gate is the noise gate threshold in dBFS, -100..0; frames whose level
	// stays below it are attenuated. Default: -65 (-100 is effectively off).
	Gate *float64 `yaml:"gate" json:"gate"`
	// AGC configures the automatic gain control.
	AGC AGCConfig `yaml:"agc" json:"agc"`
	// Limiter is the ceiling in dBFS that the output never exceeds, -20..0.
	// Default: -1.
	Limiter *float64 `yaml:"limiter" json:"limiter"`
	// Fade is how long the on-air gate takes to open or close, 1ms..100ms.
	// Default: 10ms.
	Fade conf.Duration `yaml:"fade" json:"fade"`
}

// AGCConfig configures the automatic gain control.
type AGCConfig struct {
	// Enabled turns the AGC on. Default: true.
	Enabled *bool `yaml:"enabled" json:"enabled"`
	// Target is the speech level the AGC aims for, in dBFS, -40..-3.
	// Default: -18.
	Target *float64 `yaml:"target" json:"target"`
	// MaxGain is the most the AGC will amplify, in dB, 0..60. Default: 30.
	MaxGain *float64 `yaml:"max_gain" json:"max_gain"`
}

// SetDefaults fills zero fields with their defaults. channels is the capture
// channel count; circular says whether the array is circular.
func (c *Config) SetDefaults(channels int, circular bool) {
	if c.HighPass == nil {
		c.HighPass = conf.Ptr(80.0)
	}
	if c.Beam == "" {
		switch {
		case channels <= 1:
			c.Beam = BeamMono
		case circular:
			c.Beam = BeamDOA
		default:
			c.Beam = BeamFixed
		}
	}
	if c.Azimuth == nil {
		c.Azimuth = conf.Ptr(90.0)
	}
	if c.DOASmoothing == 0 {
		c.DOASmoothing = conf.Duration(300 * time.Millisecond)
	}
	if c.Gate == nil {
		c.Gate = conf.Ptr(-65.0)
	}
	if c.AGC.Enabled == nil {
		c.AGC.Enabled = conf.Ptr(true)
	}
	if c.AGC.Target == nil {
		c.AGC.Target = conf.Ptr(-18.0)
	}
	if c.AGC.MaxGain == nil {
		c.AGC.MaxGain = conf.Ptr(30.0)
	}
	if c.Limiter == nil {
		c.Limiter = conf.Ptr(-1.0)
	}
	if c.Fade == 0 {
		c.Fade = conf.Duration(10 * time.Millisecond)
	}
}

// Validate reports every problem with c for a capture of the given channel
// count.
func (c Config) Validate(channels int) error {
	var errs []error
	if c.HighPass != nil && (*c.HighPass < 0 || *c.HighPass > 300) {
		errs = append(errs, conf.Errorf("high_pass", "%v Hz is out of range 0..300", *c.HighPass))
	}
	if len(c.Gains) > 0 && len(c.Gains) != channels {
		errs = append(errs, conf.Errorf("gains", "has %d entries for %d capture channels", len(c.Gains), channels))
	}
	for i, g := range c.Gains {
		if g < -20 || g > 20 {
			errs = append(errs, conf.Errorf("gains["+strconv.Itoa(i)+"]", "%v dB is out of range -20..20", g))
		}
	}
	switch c.Beam {
	case BeamFixed, BeamDOA:
		if channels < 2 {
			errs = append(errs, conf.Errorf("beam", "%q needs at least 2 capture channels, have %d", c.Beam, channels))
		}
	case BeamStereo:
		if channels < 2 {
			errs = append(errs, conf.Errorf("beam", "stereo needs at least 2 capture channels, have %d", channels))
		}
	case BeamMono:
	default:
		errs = append(errs, conf.Errorf("beam", "%q is not fixed, doa, mono or stereo", c.Beam))
	}
	if c.Azimuth != nil && (*c.Azimuth < -360 || *c.Azimuth > 360) {
		errs = append(errs, conf.Errorf("azimuth", "%v° is out of range -360..360", *c.Azimuth))
	}
	if d := c.DOASmoothing.D(); d < 0 || d > 10*time.Second {
		errs = append(errs, conf.Errorf("doa_smoothing", "%v is out of range 0..10s", d))
	}
	if c.Gate != nil && (*c.Gate < -100 || *c.Gate > 0) {
		errs = append(errs, conf.Errorf("gate", "%v dBFS is out of range -100..0", *c.Gate))
	}
	if t := c.AGC.Target; t != nil && (*t < -40 || *t > -3) {
		errs = append(errs, conf.Errorf("agc.target", "%v dBFS is out of range -40..-3", *t))
	}
	if g := c.AGC.MaxGain; g != nil && (*g < 0 || *g > 60) {
		errs = append(errs, conf.Errorf("agc.max_gain", "%v dB is out of range 0..60", *g))
	}
	if c.Limiter != nil && (*c.Limiter < -20 || *c.Limiter > 0) {
		errs = append(errs, conf.Errorf("limiter", "%v dBFS is out of range -20..0", *c.Limiter))
	}
	if f := c.Fade.D(); f < time.Millisecond || f > 100*time.Millisecond {
		errs = append(errs, conf.Errorf("fade", "%v is out of range 1ms..100ms", f))
	}
	return errors.Join(errs...)
}
