package gpio

import (
	"fmt"
	"log/slog"

	"github.com/jonboulle/clockwork"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/spi"
	"periph.io/x/conn/v3/spi/spireg"
	"periph.io/x/host/v3"
)

// Open opens the board's controls described by cfg on the real hardware:
// it validates cfg (defaults filled on a copy) before touching anything,
// initialises periph's host drivers (host.Init: on Raspberry Pi OS Bookworm
// and the Pi 5 pins come from the GPIO character devices through
// gpioioctl), looks pins up by name with gpioreg.ByName ("GPIO17") and
// opens the ring's port with spireg.Open ("SPI0.1" or "/dev/spidev0.1").
//
// The process needs read-write access to /dev/gpiochip* (group gpio on
// Raspberry Pi OS) and, for a ring, /dev/spidev* (group spi, with
// dtparam=spi=on). A pin that does not exist is reported with the config
// path that names it, e.g. `leds[1].pin: GPIO99: no such pin`.
//
// clock is normally clockwork.NewRealClock(). Close the result when done;
// run its Buttons with Buttons.Run.
func Open(cfg Config, clock clockwork.Clock, log *slog.Logger) (*Controls, error) {
	c := cloneConfig(cfg)
	c.SetDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if _, err := host.Init(); err != nil {
		return nil, fmt.Errorf("gpio: initialise periph host drivers: %w", err)
	}
	return NewControls(c, Hardware{Pin: hostPin, SPI: hostSPI}, clock, log)
}

func hostPin(name string) (gpio.PinIO, error) {
	p := gpioreg.ByName(name)
	if p == nil {
		return nil, ErrNoPin
	}
	return p, nil
}

func hostSPI(name string) (spi.PortCloser, error) { return spireg.Open(name) }
