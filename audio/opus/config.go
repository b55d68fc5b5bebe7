package opus

import (
	"errors"
	"time"

	"github.com/onair-gateway/onair/conf"
)

// Application is the libopus application mode.
type Application string

// Application modes (RFC 6716; opus_encoder_create's application argument).
const (
	// AppVoIP favours speech intelligibility.
	AppVoIP Application = "voip"
	// AppAudio favours fidelity to the input: music, line inputs.
	AppAudio Application = "audio"
	// AppLowDelay disables speech modes for the lowest algorithmic delay.
	AppLowDelay Application = "lowdelay"
)

// Config configures the Opus encoder.
type Config struct {
	// Application is voip, audio or lowdelay. Default: voip.
	Application Application `yaml:"application" json:"application"`
	// Bitrate in bits per second, 6000..510000: the ceiling; the room
	// session lowers the encoder's bitrate from it (to 12000 at the least)
	// while the room reports loss above 10%, and climbs back when it clears.
	// Default: 32000.
	Bitrate int `yaml:"bitrate" json:"bitrate"`
	// Complexity 0..10. Default: 10 (about 320 µs per 20 ms mono speech frame
	// measured on the x86 CI machine; lower it on a Pi Zero 2 W if the CPU
	// is short).
	Complexity *int `yaml:"complexity" json:"complexity"`
	// Frame is the Opus frame duration: 10ms, 20ms or 40ms, a whole number
	// of audio.capture.period. 10ms cuts about 10 ms of mouth-to-ear latency
	// for about the same CPU per second as 20ms and twice the packets (50
	// more RTP headers a second). Default: 20ms.
	Frame conf.Duration `yaml:"frame" json:"frame"`
	// Channels is 1 (mono) or 2 (stereo). Default: 1.
	Channels int `yaml:"channels" json:"channels"`
	// FEC enables in-band forward error correction. Default: true.
	FEC *bool `yaml:"fec" json:"fec"`
	// PacketLoss is the expected loss in percent, 0..100, which sizes FEC:
	// the setting until the room's first receiver report, after which the
	// room session follows the loss the room reports (and the NACKs it
	// sends), 0..30. Default: 10.
	PacketLoss *int `yaml:"packet_loss" json:"packet_loss"`
	// DTX sends almost nothing during silence. Default: false.
	DTX bool `yaml:"dtx" json:"dtx"`
}

// SetDefaults fills zero fields with their defaults.
func (c *Config) SetDefaults() {
	if c.Application == "" {
		c.Application = AppVoIP
	}
	if c.Bitrate == 0 {
		c.Bitrate = 32000
	}
	if c.Complexity == nil {
		c.Complexity = conf.Ptr(10)
	}
	if c.Frame == 0 {
		c.Frame = conf.Duration(20 * time.Millisecond)
	}
	if c.Channels == 0 {
		c.Channels = 1
	}
	if c.FEC == nil {
		c.FEC = conf.Ptr(true)
	}
	if c.PacketLoss == nil {
		c.PacketLoss = conf.Ptr(10)
	}
}

// Validate reports every problem with c.
func (c Config) Validate() error {
	var errs []error
	switch c.Application {
	case AppVoIP, AppAudio, AppLowDelay:
	default:
		errs = append(errs, conf.Errorf("application", "%q is not voip, audio or lowdelay", c.Application))
	}
	if c.Bitrate < 6000 || c.Bitrate > 510000 {
		errs = append(errs, conf.Errorf("bitrate", "%d bit/s is out of range 6000..510000", c.Bitrate))
	}
	if c.Complexity != nil && (*c.Complexity < 0 || *c.Complexity > 10) {
		errs = append(errs, conf.Errorf("complexity", "%d is out of range 0..10", *c.Complexity))
	}
	switch c.Frame.D() {
	case 10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond:
	default:
		errs = append(errs, conf.Errorf("frame", "%v is not 10ms, 20ms or 40ms", c.Frame))
	}
	if c.Channels != 1 && c.Channels != 2 {
		errs = append(errs, conf.Errorf("channels", "%d is not 1 or 2", c.Channels))
	}
	if c.PacketLoss != nil && (*c.PacketLoss < 0 || *c.PacketLoss > 100) {
		errs = append(errs, conf.Errorf("packet_loss", "%d%% is out of range 0..100", *c.PacketLoss))
	}
	return errors.Join(errs...)
}
