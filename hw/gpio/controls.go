package gpio

import (
	"errors"
	"io"
	"log/slog"
	"slices"
	"strconv"

	"github.com/jonboulle/clockwork"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/spi"

	"github.com/onair-gateway/onair/conf"
)

// Hardware is where NewControls gets its pins and SPI ports.
type Hardware struct {
	// Pin returns a GPIO pin by configured name.
	Pin PinFunc
	// SPI opens an SPI port by configured name, e.g. "SPI0.1". Needed only
	// when a ring is configured.
	SPI func(name string) (spi.PortCloser, error)
}

// Controls is a board's buttons, LEDs and ring, opened together.
type Controls struct {
	// Buttons delivers button events once its Run is started; the caller
	// runs it (and it stops with Run's context, not with Close).
	Buttons *Buttons
	// LEDs are the LED and relay outputs (possibly none).
	LEDs *LEDs
	// Ring is the APA102 ring, nil when none is configured.
	Ring *Ring
	// Indicators shows the gateway's state on the LEDs and the ring.
	Indicators Indicators
}

// NewControls fills cfg's defaults on a copy, validates it, checks that
// every configured pin exists (reporting all missing pins at once, by
// config path), then sets the outputs dark and configures the buttons.
// Open does the same with the board's real pins.
func NewControls(cfg Config, hw Hardware, clock clockwork.Clock, log *slog.Logger) (*Controls, error) {
	cfg = cloneConfig(cfg)
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	pins := map[string]gpio.PinIO{}
	var errs []error
	check := func(path, name string) {
		p, err := lookupPin(hw.Pin, path, name)
		if err != nil {
			errs = append(errs, err)
			return
		}
		pins[name] = p
	}
	for i, b := range cfg.Buttons {
		check("buttons["+strconv.Itoa(i)+"].pin", b.Pin)
	}
	for i, l := range cfg.LEDs {
		check("leds["+strconv.Itoa(i)+"].pin", l.Pin)
	}
	if r := cfg.Ring; r != nil {
		if r.PowerPin != "" {
			check("ring.power_pin", r.PowerPin)
		}
		if hw.SPI == nil {
			errs = append(errs, conf.Errorf("ring.spi", "%s: no SPI bus available", r.SPI))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	found := func(name string) (gpio.PinIO, error) { return pins[name], nil }

	c := &Controls{}
	var err error
	if c.LEDs, err = NewLEDs(cfg.LEDs, found, clock, log); err != nil {
		return nil, err
	}
	c.Indicators = Indicators{c.LEDs}
	if r := cfg.Ring; r != nil {
		port, err := hw.SPI(r.SPI)
		if err != nil {
			err = &conf.FieldError{Path: "ring.spi", Msg: r.SPI + ": " + err.Error(), Err: err}
			return nil, errors.Join(err, c.LEDs.Close())
		}
		var power gpio.PinOut
		if r.PowerPin != "" {
			power = pins[r.PowerPin]
		}
		if c.Ring, err = NewRing(*r, port, power, clock, log); err != nil {
			return nil, errors.Join(err, c.LEDs.Close())
		}
		c.Indicators = append(c.Indicators, c.Ring)
	}
	if c.Buttons, err = NewButtons(cfg.Buttons, found, clock, log); err != nil {
		return nil, errors.Join(err, c.Close())
	}
	return c, nil
}

// Close turns the LEDs and the ring off, powers the ring down and waits for
// their goroutines. Stop Buttons.Run through its context.
func (c *Controls) Close() error {
	var errs []error
	if c.Ring != nil {
		errs = append(errs, c.Ring.Close())
	}
	if c.LEDs != nil {
		errs = append(errs, c.LEDs.Close())
	}
	return errors.Join(errs...)
}

// cloneConfig copies c deeply enough that SetDefaults on the copy leaves c
// alone.
func cloneConfig(c Config) Config {
	c.Buttons = slices.Clone(c.Buttons)
	c.LEDs = slices.Clone(c.LEDs)
	if c.Ring != nil {
		r := *c.Ring
		c.Ring = &r
	}
	return c
}

var (
	_ io.Closer = (*Controls)(nil)
	_ io.Closer = (*LEDs)(nil)
	_ io.Closer = (*Ring)(nil)
)
