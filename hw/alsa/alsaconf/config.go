// Package alsaconf is the plain, serialisable config of an ALSA capture or
// playback device: PCM name, channels, sample format, rate and period. It
// is pure Go, apart from hw/alsa (which needs cgo and libasound), so the
// config schema and board profiles can name a device on any platform.
package alsaconf

import (
	"errors"
	"time"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/conf"
)

// SampleFormat is an ALSA sample format name.
type SampleFormat string

// Sample formats onair captures. I2S MEMS microphones deliver 24 bits
// left-justified in 32 (S32_LE); codecs such as the WM8960 deliver S16_LE.
const (
	S16LE SampleFormat = "S16_LE"
	S24LE SampleFormat = "S24_LE" // 24 bits in the low 3 bytes of 4
	S32LE SampleFormat = "S32_LE"
)

// Config selects and configures a capture or playback device.
type Config struct {
	// Device is the ALSA PCM name: "hw:CARD=seeed4micvoicec,DEV=0",
	// "plughw:1,0", "default". Default: the board profile's device, else
	// "default".
	Device string `yaml:"device" json:"device"`
	// Channels is the number of interleaved channels, 1..8. Default: the
	// board profile's, else 2.
	Channels int `yaml:"channels" json:"channels"`
	// Format is S16_LE, S24_LE or S32_LE. Default: the board profile's, else
	// S16_LE.
	Format SampleFormat `yaml:"format" json:"format"`
	// Rate is 16000 or 48000 Hz. Default: 48000.
	Rate audio.SampleRate `yaml:"rate" json:"rate"`
	// Period is the length of one capture period, 5ms..20ms. Default: 10ms.
	Period conf.Duration `yaml:"period" json:"period"`
	// BufferPeriods is the ring buffer size in periods, 3..4. Default: 4.
	BufferPeriods int `yaml:"buffer_periods" json:"buffer_periods"`
}

// SetDefaults fills zero fields with their defaults.
func (c *Config) SetDefaults() {
	if c.Device == "" {
		c.Device = "default"
	}
	if c.Channels == 0 {
		c.Channels = 2
	}
	if c.Format == "" {
		c.Format = S16LE
	}
	if c.Rate == 0 {
		c.Rate = audio.Rate48k
	}
	if c.Period == 0 {
		c.Period = conf.Duration(10 * time.Millisecond)
	}
	if c.BufferPeriods == 0 {
		c.BufferPeriods = 4
	}
}

// Validate reports every problem with c.
func (c Config) Validate() error {
	var errs []error
	if c.Device == "" {
		errs = append(errs, conf.Errorf("device", "must not be empty"))
	}
	if c.Channels < 1 || c.Channels > 8 {
		errs = append(errs, conf.Errorf("channels", "%d is out of range 1..8", c.Channels))
	}
	switch c.Format {
	case S16LE, S24LE, S32LE:
	default:
		errs = append(errs, conf.Errorf("format", "%q is not supported (S16_LE, S24_LE or S32_LE)", c.Format))
	}
	if c.Rate != audio.Rate16k && c.Rate != audio.Rate48k {
		errs = append(errs, conf.Errorf("rate", "%d Hz is not supported (16000 or 48000)", c.Rate))
	}
	if p := c.Period.D(); p < 5*time.Millisecond || p > 20*time.Millisecond {
		errs = append(errs, conf.Errorf("period", "%v is out of range 5ms..20ms", p))
	} else if (c.Rate == audio.Rate16k || c.Rate == audio.Rate48k) && (int64(c.Rate)*int64(p))%int64(time.Second) != 0 {
		errs = append(errs, conf.Errorf("period", "%v is not a whole number of samples at %d Hz", p, c.Rate))
	}
	if c.BufferPeriods < 3 || c.BufferPeriods > 4 {
		errs = append(errs, conf.Errorf("buffer_periods", "%d is out of range 3..4", c.BufferPeriods))
	}
	return errors.Join(errs...)
}

// AudioFormat returns the audio format this config asks for.
func (c Config) AudioFormat() audio.Format {
	return audio.Format{Channels: c.Channels, Rate: c.Rate, Period: c.Period.D()}
}
