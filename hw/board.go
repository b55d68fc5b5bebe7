// Package hw describes the boards onair runs on. A Profile says which ALSA
// device and format a board captures, where its microphones sit, which pins
// its buttons and LEDs use, and which device-tree overlay enables it. The
// config names a profile and may override any part of it.
//
// The drivers live in subpackages: hw/alsa (libasound capture and playback),
// hw/gpio (buttons, LEDs, APA102 ring on periph.io) and hw/sim (a simulated
// board for the demo and tests).
package hw

import (
	"fmt"
	"sort"
	"time"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/dsp"
	"github.com/onair-gateway/onair/conf"
	"github.com/onair-gateway/onair/hw/alsa/alsaconf"
	"github.com/onair-gateway/onair/hw/gpio"
)

// Profile is what onair knows about one kind of board.
type Profile struct {
	// Name is the profile's config name, e.g. "respeaker-4mic".
	Name string
	// Description is a one-line human description.
	Description string
	// Overlay is the /boot/firmware/config.txt line that enables the board's
	// sound card ("" for none).
	Overlay string
	// Capture is the capture device and format.
	Capture alsaconf.Config
	// Playback is the output the room is played on (audio.playback's
	// defaults); a zero Device means the board has none.
	Playback alsaconf.Config
	// Geometry is where the microphones sit.
	Geometry audio.Geometry
	// Beam is the default beam mode.
	Beam dsp.BeamMode
	// Music marks line-level stereo boards: the Opus defaults become stereo,
	// application audio, 128 kbit/s.
	Music bool
	// EchoCancel turns echo cancellation (audio.aec) on by default: mic
	// arrays with an output a loudspeaker plays from.
	EchoCancel bool
	// Loopback lists the capture channels that carry the playback,
	// looped back in hardware, for the echo canceller's reference
	// (audio.aec.loopback).
	Loopback []int
	// Controls are the board's buttons, LEDs and ring.
	Controls gpio.Config
}

var period10ms = conf.Duration(10 * time.Millisecond)

// Profiles returns every built-in board profile by name. It allocates a new
// map each call; callers may modify what they get.
func Profiles() map[string]Profile {
	return map[string]Profile{
		"sim": {
			Name:        "sim",
			Description: "simulated 4-mic circular array (no hardware): a talker rendered into each mic",
			Playback:    alsaconf.Config{Device: "sim", Channels: 1, Format: alsaconf.S16LE},
			Capture:     alsaconf.Config{Device: "sim", Channels: 4, Format: alsaconf.S32LE, Rate: audio.Rate48k, Period: period10ms, BufferPeriods: 4},
			Geometry:    audio.Geometry{Shape: audio.ShapeCircular, Mics: 4, Radius: 0.0325},
			Beam:        dsp.BeamDOA,
			EchoCancel:  true, // its speaker (sim.Board.Speaker)
			Controls: gpio.Config{
				Buttons: []gpio.ButtonConfig{{Name: "ptt", Pin: "GPIO17", Mode: gpio.ModePTT}},
				LEDs: []gpio.LEDConfig{
					{Name: "onair", Pin: "GPIO27", Role: gpio.RoleOnAir},
					{Name: "tally", Pin: "GPIO22", Role: gpio.RoleTally},
				},
			},
		},
		"respeaker-2mic": {
			Name:        "respeaker-2mic",
			Description: "Seeed ReSpeaker 2-Mics Pi HAT (WM8960), button on GPIO17, 3 APA102 LEDs",
			Overlay:     "dtoverlay=seeed-2mic-voicecard",
			Playback:    alsaconf.Config{Device: "plughw:CARD=seeed2micvoicec,DEV=0", Channels: 2, Format: alsaconf.S16LE},
			Capture:     alsaconf.Config{Device: "plughw:CARD=seeed2micvoicec,DEV=0", Channels: 2, Format: alsaconf.S16LE, Rate: audio.Rate48k, Period: period10ms, BufferPeriods: 4},
			Geometry:    audio.Geometry{Shape: audio.ShapeLinear, Mics: 2, Spacing: 0.058},
			Beam:        dsp.BeamFixed,
			EchoCancel:  true, // the WM8960's speaker and headphone outputs
			Controls: gpio.Config{
				Buttons: []gpio.ButtonConfig{{Name: "ptt", Pin: "GPIO17", Mode: gpio.ModePTT}},
				Ring:    &gpio.RingConfig{SPI: "SPI0.0", LEDs: 3},
			},
		},
		"respeaker-4mic": {
			Name:        "respeaker-4mic",
			Description: "Seeed ReSpeaker 4-Mic Array for Pi (AC108), 12 APA102 LEDs powered by GPIO5",
			Overlay:     "dtoverlay=seeed-4mic-voicecard",
			Capture:     alsaconf.Config{Device: "hw:CARD=seeed4micvoicec,DEV=0", Channels: 4, Format: alsaconf.S32LE, Rate: audio.Rate48k, Period: period10ms, BufferPeriods: 4},
			Geometry:    audio.Geometry{Shape: audio.ShapeCircular, Mics: 4, Radius: 0.0325},
			Beam:        dsp.BeamDOA,
			Controls: gpio.Config{
				Ring: &gpio.RingConfig{SPI: "SPI0.1", LEDs: 12, PowerPin: "GPIO5"},
			},
		},
		"respeaker-6mic": {
			Name:        "respeaker-6mic",
			Description: "Seeed ReSpeaker 6-Mic Circular Array kit (2×AC108): 8 channels, 6 mics + 2 playback references, 12 APA102 LEDs",
			Overlay:     "dtoverlay=seeed-8mic-voicecard",
			Playback:    alsaconf.Config{Device: "plughw:CARD=seeed8micvoicec,DEV=0", Channels: 2, Format: alsaconf.S16LE},
			Capture:     alsaconf.Config{Device: "hw:CARD=seeed8micvoicec,DEV=0", Channels: 8, Format: alsaconf.S32LE, Rate: audio.Rate48k, Period: period10ms, BufferPeriods: 4},
			Geometry:    audio.Geometry{Shape: audio.ShapeCircular, Mics: 6, Radius: 0.0463},
			Beam:        dsp.BeamDOA,
			EchoCancel:  true,        // the AC101's output
			Loopback:    []int{6, 7}, // the AC108's playback references
			Controls: gpio.Config{
				Ring: &gpio.RingConfig{SPI: "SPI0.1", LEDs: 12, PowerPin: "GPIO5"},
			},
		},
		"i2s-stereo-mems": {
			Name:        "i2s-stereo-mems",
			Description: "two I2S MEMS mics (INMP441 or SPH0645) on one I2S bus, L/R select; PTT on GPIO17, LED on GPIO27",
			Overlay:     "dtoverlay=googlevoicehat-soundcard",
			Capture:     alsaconf.Config{Device: "plughw:CARD=sndrpigooglevoi,DEV=0", Channels: 2, Format: alsaconf.S32LE, Rate: audio.Rate48k, Period: period10ms, BufferPeriods: 4},
			Geometry:    audio.Geometry{Shape: audio.ShapeLinear, Mics: 2, Spacing: 0.06},
			Beam:        dsp.BeamFixed,
			Controls: gpio.Config{
				Buttons: []gpio.ButtonConfig{{Name: "ptt", Pin: "GPIO17", Mode: gpio.ModePTT}},
				LEDs:    []gpio.LEDConfig{{Name: "onair", Pin: "GPIO27", Role: gpio.RoleOnAir}},
			},
		},
		"hifiberry-dacplusadc": {
			Name:        "hifiberry-dacplusadc",
			Description: "HiFiBerry DAC+ ADC: stereo line in and out, for studio desks",
			Overlay:     "dtoverlay=hifiberry-dacplusadc",
			Playback:    alsaconf.Config{Device: "hw:CARD=sndrpihifiberry,DEV=0", Channels: 2, Format: alsaconf.S32LE},
			Capture:     alsaconf.Config{Device: "hw:CARD=sndrpihifiberry,DEV=0", Channels: 2, Format: alsaconf.S32LE, Rate: audio.Rate48k, Period: period10ms, BufferPeriods: 4},
			Geometry:    audio.Geometry{Shape: audio.ShapeLinear, Mics: 2, Spacing: 0.1},
			Beam:        dsp.BeamStereo,
			Music:       true,
		},
	}
}

// ProfileNames returns the built-in profile names, sorted.
func ProfileNames() []string {
	p := Profiles()
	names := make([]string, 0, len(p))
	for n := range p {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Lookup returns the named profile, or an error listing the known ones.
func Lookup(name string) (Profile, error) {
	p, ok := Profiles()[name]
	if !ok {
		return Profile{}, fmt.Errorf("unknown board profile %q (known: %v)", name, ProfileNames())
	}
	return p, nil
}
