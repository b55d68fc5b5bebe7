package sim

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/jonboulle/clockwork"
	pgpio "periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
	"periph.io/x/conn/v3/spi"

	"github.com/onair-gateway/onair/hw/gpio"
)

// Pins is the simulated board's GPIO: one periph gpiotest.Pin for each pin
// the controls config names, so the real button debouncing and LED logic of
// hw/gpio run unchanged on the simulated board. Buttons are pressed by
// Press and Release (the keyboard front-end, tests) or by a script.
type Pins struct {
	mu      sync.Mutex
	pins    map[string]*gpiotest.Pin
	buttons map[string]simButton // by button name
}

type simButton struct {
	pin       *gpiotest.Pin
	activeLow bool
}

// edgeQueue is how many button level changes may wait for the debouncer;
// a person or a script makes a few per second.
const edgeQueue = 64

// NewPins makes a pin for every button and LED in cfg (defaulted).
func NewPins(cfg gpio.Config, clock clockwork.Clock) *Pins {
	if clock == nil {
		clock = clockwork.NewRealClock()
	}
	p := &Pins{pins: map[string]*gpiotest.Pin{}, buttons: map[string]simButton{}}
	get := func(name string) *gpiotest.Pin {
		if pin, ok := p.pins[name]; ok {
			return pin
		}
		pin := &gpiotest.Pin{N: name, EdgesChan: make(chan pgpio.Level, edgeQueue), Clock: clock}
		p.pins[name] = pin
		return pin
	}
	for _, b := range cfg.Buttons {
		activeLow := b.ActiveLow == nil || *b.ActiveLow
		p.buttons[b.Name] = simButton{pin: get(b.Pin), activeLow: activeLow}
	}
	for _, l := range cfg.LEDs {
		get(l.Pin)
	}
	if cfg.Ring != nil && cfg.Ring.PowerPin != "" {
		get(cfg.Ring.PowerPin)
	}
	return p
}

// Hardware returns the pins (and no SPI bus: the simulated board has no
// LED ring) for gpio.NewControls.
func (p *Pins) Hardware() gpio.Hardware {
	return gpio.Hardware{
		Pin: func(name string) (pgpio.PinIO, error) {
			p.mu.Lock()
			defer p.mu.Unlock()
			pin, ok := p.pins[name]
			if !ok {
				return nil, fmt.Errorf("sim: no pin %q", name)
			}
			return pin, nil
		},
		SPI: func(name string) (spi.PortCloser, error) {
			return nil, fmt.Errorf("sim: the simulated board has no SPI bus %q for an LED ring", name)
		},
	}
}

// ErrNoButton is returned for a button name the config does not have.
var ErrNoButton = errors.New("sim: no such button")

// Press presses the named button.
func (p *Pins) Press(name string) error { return p.set(name, true) }

// Release releases the named button.
func (p *Pins) Release(name string) error { return p.set(name, false) }

// ButtonNames returns the configured button names, sorted.
func (p *Pins) ButtonNames() []string {
	names := make([]string, 0, len(p.buttons))
	for n := range p.buttons {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (p *Pins) set(name string, down bool) error {
	b, ok := p.buttons[name]
	if !ok {
		return fmt.Errorf("%w %q (have %v)", ErrNoButton, name, p.ButtonNames())
	}
	l := pgpio.Level(down != b.activeLow)
	select {
	case b.pin.EdgesChan <- l:
		return nil
	default:
		return fmt.Errorf("sim: button %q: %d level changes already waiting", name, edgeQueue)
	}
}

// Level returns the level an output pin was last driven to, and whether the
// pin exists.
func (p *Pins) Level(pin string) (pgpio.Level, bool) {
	p.mu.Lock()
	gp, ok := p.pins[pin]
	p.mu.Unlock()
	if !ok {
		return pgpio.Low, false
	}
	return gp.Read(), true
}

// RunScript presses and releases buttons at the script's times after the
// call, on clock. It returns when the script is done (nil), ctx ends (nil),
// or a step names a button that does not exist.
func (p *Pins) RunScript(ctx context.Context, script []ScriptStep, clock clockwork.Clock) error {
	if clock == nil {
		clock = clockwork.NewRealClock()
	}
	start := clock.Now()
	for i, s := range script {
		if wait := s.At.D() - clock.Since(start); wait > 0 {
			t := clock.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.Chan():
			}
		}
		var err error
		if s.Action == "press" {
			err = p.Press(s.Button)
		} else {
			err = p.Release(s.Button)
		}
		if err != nil {
			return fmt.Errorf("board.sim.script[%d]: %w", i, err)
		}
	}
	return nil
}

// Wake sends every button pin its current level, which changes nothing but
// returns a pending WaitForEdge: gpiotest pins cannot be halted, so the
// board's owner calls Wake after cancelling the buttons to stop them
// without waiting for their next timeout.
func (p *Pins) Wake() {
	for _, b := range p.buttons {
		select {
		case b.pin.EdgesChan <- b.pin.Read():
		default:
		}
	}
}
