package gpio

import (
	"errors"
	"strconv"
	"time"

	"github.com/onair-gateway/onair/conf"
)

// ButtonMode says what a button does.
type ButtonMode string

// Button modes.
const (
	// ModePTT puts the device on air while the button is held.
	ModePTT ButtonMode = "ptt"
	// ModeToggle toggles on air at each press (latching).
	ModeToggle ButtonMode = "toggle"
	// ModeMute toggles mute at each press.
	ModeMute ButtonMode = "mute"
)

// Pull is a pin's internal resistor.
type Pull string

// Pulls.
const (
	PullUp   Pull = "up"
	PullDown Pull = "down"
	PullNone Pull = "none"
)

// ButtonConfig configures one button.
type ButtonConfig struct {
	// Name identifies the button in logs and events. Default: its mode.
	Name string `yaml:"name" json:"name"`
	// Pin is the GPIO line name, e.g. "GPIO17". Required.
	Pin string `yaml:"pin" json:"pin"`
	// Mode is ptt, toggle or mute. Default: ptt.
	Mode ButtonMode `yaml:"mode" json:"mode"`
	// ActiveLow means pressed reads low (button to ground). Default: true.
	ActiveLow *bool `yaml:"active_low" json:"active_low"`
	// Pull is up, down or none. Default: up when active_low, else down.
	Pull Pull `yaml:"pull" json:"pull"`
	// Debounce is how long a level must hold to count, 1ms..200ms.
	// Default: 20ms.
	Debounce conf.Duration `yaml:"debounce" json:"debounce"`
	// Identify is the hold time that announces the device. Default: 3s.
	Identify conf.Duration `yaml:"identify" json:"identify"`
	// Forget is the hold time that, after a confirming blink and a second
	// press, forgets provisioning. Default: 10s.
	Forget conf.Duration `yaml:"forget" json:"forget"`
}

// LEDRole says what an LED shows.
type LEDRole string

// LED roles.
const (
	RoleOnAir  LEDRole = "onair"  // lit while on air
	RoleStatus LEDRole = "status" // connection state as blink patterns
	RoleMute   LEDRole = "mute"   // lit while muted
	RoleTally  LEDRole = "tally"  // studio on-air light (relay or LED)
)

// LEDConfig configures one LED or relay output.
type LEDConfig struct {
	// Name identifies the LED. Default: its role.
	Name string `yaml:"name" json:"name"`
	// Pin is the GPIO line name. Required.
	Pin string `yaml:"pin" json:"pin"`
	// Role is onair, status, mute or tally. Required.
	Role LEDRole `yaml:"role" json:"role"`
	// ActiveLow means the LED lights when the pin is low. Default: false.
	ActiveLow bool `yaml:"active_low" json:"active_low"`
	// Brightness 0..100 percent, through PWM where the pin supports it.
	// Default: 100.
	Brightness int `yaml:"brightness" json:"brightness"`
}

// RingConfig configures an APA102 LED ring on SPI.
type RingConfig struct {
	// SPI is the periph SPI port name, e.g. "SPI0.0" or "/dev/spidev0.0".
	// Required when the ring is configured.
	SPI string `yaml:"spi" json:"spi"`
	// LEDs is the number of pixels, 1..64.
	LEDs int `yaml:"leds" json:"leds"`
	// PowerPin, when set, is driven high to power the LEDs (GPIO5 on the
	// ReSpeaker 4-mic array).
	PowerPin string `yaml:"power_pin" json:"power_pin"`
	// Brightness 0..100 percent. Default: 30.
	Brightness int `yaml:"brightness" json:"brightness"`
	// AzimuthOffset is the azimuth of pixel 0 in degrees, -360..360, in the
	// frame of audio.Geometry (0 along mic 0, counter-clockwise seen from
	// above). Default: 0 (pixel 0 beside mic 0).
	AzimuthOffset float64 `yaml:"azimuth_offset" json:"azimuth_offset"`
	// Clockwise means pixel indices grow clockwise seen from above, against
	// the mics. Default: false (pixels and mics count the same way).
	Clockwise bool `yaml:"clockwise" json:"clockwise"`
}

// Config is the set of controls on a board.
type Config struct {
	// Buttons are the board's buttons. Default: the board profile's.
	Buttons []ButtonConfig `yaml:"buttons" json:"buttons"`
	// LEDs are single LEDs and relays. Default: the board profile's.
	LEDs []LEDConfig `yaml:"leds" json:"leds"`
	// Ring is the APA102 ring, if any.
	Ring *RingConfig `yaml:"ring" json:"ring"`
}

// SetDefaults fills zero fields with their defaults.
func (c *Config) SetDefaults() {
	for i := range c.Buttons {
		b := &c.Buttons[i]
		if b.Mode == "" {
			b.Mode = ModePTT
		}
		if b.Name == "" {
			b.Name = string(b.Mode)
		}
		if b.ActiveLow == nil {
			b.ActiveLow = conf.Ptr(true)
		}
		if b.Pull == "" {
			b.Pull = PullDown
			if *b.ActiveLow {
				b.Pull = PullUp
			}
		}
		if b.Debounce == 0 {
			b.Debounce = conf.Duration(20 * time.Millisecond)
		}
		if b.Identify == 0 {
			b.Identify = conf.Duration(3 * time.Second)
		}
		if b.Forget == 0 {
			b.Forget = conf.Duration(10 * time.Second)
		}
	}
	for i := range c.LEDs {
		l := &c.LEDs[i]
		if l.Name == "" {
			l.Name = string(l.Role)
		}
		if l.Brightness == 0 {
			l.Brightness = 100
		}
	}
	if c.Ring != nil && c.Ring.Brightness == 0 {
		c.Ring.Brightness = 30
	}
}

// Validate reports every problem with c.
func (c Config) Validate() error {
	var errs []error
	pins := map[string]string{}
	usePin := func(path, pin string) {
		if pin == "" {
			errs = append(errs, conf.Errorf(path, "must not be empty (e.g. GPIO17)"))
			return
		}
		if prev, ok := pins[pin]; ok {
			errs = append(errs, conf.Errorf(path, "%s is already used by %s", pin, prev))
			return
		}
		pins[pin] = path
	}
	for i, b := range c.Buttons {
		p := "buttons[" + strconv.Itoa(i) + "]"
		usePin(p+".pin", b.Pin)
		switch b.Mode {
		case ModePTT, ModeToggle, ModeMute:
		default:
			errs = append(errs, conf.Errorf(p+".mode", "%q is not ptt, toggle or mute", b.Mode))
		}
		switch b.Pull {
		case PullUp, PullDown, PullNone:
		default:
			errs = append(errs, conf.Errorf(p+".pull", "%q is not up, down or none", b.Pull))
		}
		if d := b.Debounce.D(); d < time.Millisecond || d > 200*time.Millisecond {
			errs = append(errs, conf.Errorf(p+".debounce", "%v is out of range 1ms..200ms", d))
		}
		if b.Identify.D() < 500*time.Millisecond {
			errs = append(errs, conf.Errorf(p+".identify", "%v is shorter than 500ms", b.Identify))
		}
		if b.Forget <= b.Identify {
			errs = append(errs, conf.Errorf(p+".forget", "%v must be longer than identify (%v)", b.Forget, b.Identify))
		}
	}
	for i, l := range c.LEDs {
		p := "leds[" + strconv.Itoa(i) + "]"
		usePin(p+".pin", l.Pin)
		switch l.Role {
		case RoleOnAir, RoleStatus, RoleMute, RoleTally:
		default:
			errs = append(errs, conf.Errorf(p+".role", "%q is not onair, status, mute or tally", l.Role))
		}
		if l.Brightness < 0 || l.Brightness > 100 {
			errs = append(errs, conf.Errorf(p+".brightness", "%d is out of range 0..100", l.Brightness))
		}
	}
	if r := c.Ring; r != nil {
		if r.SPI == "" {
			errs = append(errs, conf.Errorf("ring.spi", "must not be empty (e.g. SPI0.0)"))
		}
		if r.LEDs < 1 || r.LEDs > 64 {
			errs = append(errs, conf.Errorf("ring.leds", "%d is out of range 1..64", r.LEDs))
		}
		if r.PowerPin != "" {
			usePin("ring.power_pin", r.PowerPin)
		}
		if r.Brightness < 0 || r.Brightness > 100 {
			errs = append(errs, conf.Errorf("ring.brightness", "%d is out of range 0..100", r.Brightness))
		}
		if r.AzimuthOffset < -360 || r.AzimuthOffset > 360 || r.AzimuthOffset != r.AzimuthOffset {
			errs = append(errs, conf.Errorf("ring.azimuth_offset", "%v is out of range -360..360", r.AzimuthOffset))
		}
	}
	return errors.Join(errs...)
}
