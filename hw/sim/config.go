package sim

import (
	"errors"
	"strconv"
	"time"

	"github.com/onair-gateway/onair/conf"
)

// SignalKind is what the simulated talker says.
type SignalKind string

// Signal kinds.
const (
	SignalTone    SignalKind = "tone"    // a sine at Frequency
	SignalChirp   SignalKind = "chirp"   // a repeating log sweep; marks for latency measurement
	SignalWAV     SignalKind = "wav"     // a WAV file, looped
	SignalSilence SignalKind = "silence" // nothing but the noise floor
)

// Config configures the simulated board: a talker at an azimuth rendered into
// each microphone of the array, with noise.
type Config struct {
	// Signal is tone, chirp, wav or silence. Default: wav with the bundled
	// speech sample when File is set, else tone.
	Signal SignalKind `yaml:"signal" json:"signal"`
	// File is the WAV file for signal wav (any channel count; mixed to
	// mono). Relative paths are resolved from the working directory.
	File string `yaml:"file" json:"file"`
	// Frequency of the tone in Hz, 20..20000. Default: 440.
	Frequency float64 `yaml:"frequency" json:"frequency"`
	// Level of the talker at the array centre in dBFS, -90..0: the peak of
	// a tone or chirp, the active RMS of a WAV (see the package doc).
	// Default: -20.
	Level *float64 `yaml:"level" json:"level"`
	// Azimuth of the talker in degrees, -360..360. Default: 90.
	Azimuth *float64 `yaml:"azimuth" json:"azimuth"`
	// SNR is the per-mic signal-to-noise ratio of independent noise in dB,
	// -20..120. Default: 40.
	SNR *float64 `yaml:"snr" json:"snr"`
	// Diffuse adds diffuse (spatially correlated) noise at this level in
	// dBFS; 0 means none. Default: none.
	Diffuse float64 `yaml:"diffuse" json:"diffuse"`
	// Realtime paces frames on the clock like real hardware. Default: true.
	Realtime *bool `yaml:"realtime" json:"realtime"`
	// Script presses and releases buttons at given times after start, so a
	// demo or a test can go on and off air without hands.
	Script []ScriptStep `yaml:"script" json:"script"`
	// Keyboard, when onaird runs in a terminal, makes space a push-to-talk
	// button. Default: true.
	Keyboard *bool `yaml:"keyboard" json:"keyboard"`
	// PlaybackFile, when set, receives a WAV file (32-bit float, at the
	// speaker's rate and channel count) of exactly what the board's
	// speaker plays, written as it plays. Default: none.
	PlaybackFile string `yaml:"playback_file" json:"playback_file"`
	// Echo is how the speaker's sound reaches the microphones: a synthetic
	// room impulse response (see the package doc). Default: none, the mics
	// do not hear the speaker.
	Echo *Echo `yaml:"echo" json:"echo"`
	// SkewPPM is how much faster the speaker's clock runs than the
	// capture clock, in parts per million, -1000..1000. Default: 0.
	SkewPPM float64 `yaml:"skew_ppm" json:"skew_ppm"`
}

// Echo is the synthetic room between the simulated speaker and the mics.
type Echo struct {
	// Delay is when the direct sound reaches the array centre after it is
	// played, 0..1s. Default: 0.
	Delay conf.Duration `yaml:"delay" json:"delay"`
	// Level is the gain of the direct path in dB, -80..20. Default: -6.
	Level *float64 `yaml:"level" json:"level"`
	// Decay is the reverberation time of the tail (T60: the time its
	// level takes to fall by 60 dB), 0..2s; 0 leaves only the direct
	// path. Default: 0.
	Decay conf.Duration `yaml:"decay" json:"decay"`
	// Azimuth is the direction the direct sound comes from, in degrees,
	// -360..360. Default: 270 (behind the array, facing the default
	// talker at 90).
	Azimuth *float64 `yaml:"azimuth" json:"azimuth"`
}

// ScriptStep is one scripted button action.
type ScriptStep struct {
	// At is the time after start.
	At conf.Duration `yaml:"at" json:"at"`
	// Button is the button name (as in controls.buttons). Default: "ptt".
	Button string `yaml:"button" json:"button"`
	// Action is press or release.
	Action string `yaml:"action" json:"action"`
}

// SetDefaults fills zero fields with their defaults.
func (c *Config) SetDefaults() {
	if c.Signal == "" {
		c.Signal = SignalTone
		if c.File != "" {
			c.Signal = SignalWAV
		}
	}
	if c.Frequency == 0 {
		c.Frequency = 440
	}
	if c.Level == nil {
		c.Level = conf.Ptr(-20.0)
	}
	if c.Azimuth == nil {
		c.Azimuth = conf.Ptr(90.0)
	}
	if c.SNR == nil {
		c.SNR = conf.Ptr(40.0)
	}
	if c.Realtime == nil {
		c.Realtime = conf.Ptr(true)
	}
	if c.Keyboard == nil {
		c.Keyboard = conf.Ptr(true)
	}
	if c.Echo != nil {
		e := *c.Echo // a copy: the caller's Echo stays as written
		if e.Level == nil {
			e.Level = conf.Ptr(-6.0)
		}
		if e.Azimuth == nil {
			e.Azimuth = conf.Ptr(270.0)
		}
		c.Echo = &e
	}
	for i := range c.Script {
		if c.Script[i].Button == "" {
			c.Script[i].Button = "ptt"
		}
	}
}

// Validate reports every problem with c. It does not open File: that is
// checked when the board starts.
func (c Config) Validate() error {
	var errs []error
	switch c.Signal {
	case SignalTone, SignalChirp, SignalSilence:
	case SignalWAV:
		if c.File == "" {
			errs = append(errs, conf.Errorf("file", "required for signal wav"))
		}
	default:
		errs = append(errs, conf.Errorf("signal", "%q is not tone, chirp, wav or silence", c.Signal))
	}
	if c.Frequency < 20 || c.Frequency > 20000 {
		errs = append(errs, conf.Errorf("frequency", "%v Hz is out of range 20..20000", c.Frequency))
	}
	if c.Level != nil && (*c.Level < -90 || *c.Level > 0) {
		errs = append(errs, conf.Errorf("level", "%v dBFS is out of range -90..0", *c.Level))
	}
	if c.SNR != nil && (*c.SNR < -20 || *c.SNR > 120) {
		errs = append(errs, conf.Errorf("snr", "%v dB is out of range -20..120", *c.SNR))
	}
	if c.Azimuth != nil && !(*c.Azimuth >= -360 && *c.Azimuth <= 360) {
		errs = append(errs, conf.Errorf("azimuth", "%v degrees is out of range -360..360", *c.Azimuth))
	}
	if c.Diffuse > 0 || c.Diffuse < -120 {
		errs = append(errs, conf.Errorf("diffuse", "%v dBFS is out of range -120..0", c.Diffuse))
	}
	if e := c.Echo; e != nil {
		if e.Delay < 0 || e.Delay.D() > time.Second {
			errs = append(errs, conf.Errorf("echo.delay", "%v is out of range 0..1s", e.Delay))
		}
		if e.Decay < 0 || e.Decay.D() > 2*time.Second {
			errs = append(errs, conf.Errorf("echo.decay", "%v is out of range 0..2s", e.Decay))
		}
		if e.Level != nil && !(*e.Level >= -80 && *e.Level <= 20) {
			errs = append(errs, conf.Errorf("echo.level", "%v dB is out of range -80..20", *e.Level))
		}
		if e.Azimuth != nil && !(*e.Azimuth >= -360 && *e.Azimuth <= 360) {
			errs = append(errs, conf.Errorf("echo.azimuth", "%v degrees is out of range -360..360", *e.Azimuth))
		}
	}
	if !(c.SkewPPM >= -1000 && c.SkewPPM <= 1000) {
		errs = append(errs, conf.Errorf("skew_ppm", "%v is out of range -1000..1000", c.SkewPPM))
	}
	if c.PlaybackFile != "" && !conf.Printable(c.PlaybackFile) {
		errs = append(errs, conf.Errorf("playback_file", "%q has unprintable characters", c.PlaybackFile))
	}
	var last time.Duration
	for i, s := range c.Script {
		p := "script[" + strconv.Itoa(i) + "]"
		if s.At.D() < last {
			errs = append(errs, conf.Errorf(p+".at", "%v is earlier than the step before (%v)", s.At, last))
		}
		last = s.At.D()
		if s.Action != "press" && s.Action != "release" {
			errs = append(errs, conf.Errorf(p+".action", "%q is not press or release", s.Action))
		}
	}
	return errors.Join(errs...)
}
