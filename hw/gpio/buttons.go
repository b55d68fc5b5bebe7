package gpio

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"
	"periph.io/x/conn/v3/gpio"

	"github.com/onair-gateway/onair/conf"
)

// PinFunc returns the pin with the given configured name, e.g. "GPIO17". In
// production it looks the name up in periph's gpioreg after host.Init (see
// Open); tests return gpiotest.Pin values.
type PinFunc func(name string) (gpio.PinIO, error)

// maxWait bounds one WaitForEdge call. Run unblocks a waiting pin with Halt
// when it stops, but a Halt that lands just before the wait starts is lost
// (gpioioctl re-arms the read deadline on each call), so no wait may be
// longer than this: it bounds how long stopping can take in that race. It
// also keeps the timeout finite and positive, the only values on which
// gpioioctl (0 = forever, -1 = return at once) and gpiotest/sysfs (-1 =
// forever, 0 = return at once) agree.
const maxWait = time.Second

// maxEarlyReturns is how many WaitForEdge calls in a row may return false
// without an edge well before their timeout before the pin counts as failed
// (ErrPinFailed). gpioioctl returns false at once when reading its line
// fails; waiting again would spin.
const maxEarlyReturns = 3

// eventQueue is the depth of the Events channel: enough for a burst of
// presses on every button while the consumer is busy. When it is full the
// button goroutines wait for the consumer; no event is ever dropped.
const eventQueue = 16

// ButtonSource is what the gateway needs from buttons: debounced events, and
// a Run that delivers them until its context ends. *Buttons implements it;
// so can a simulated board's scripted buttons.
type ButtonSource interface {
	Events() <-chan ButtonEvent
	Run(ctx context.Context) error
}

// Buttons watches a set of buttons and delivers their debounced events.
//
// NewButtons configures each pin as an input with the configured pull and
// edge detection on both edges. Run owns one goroutine per button; each
// waits for edges on its pin, reads the level, and times debounce and long
// presses on the injected clock. Events are delivered on Events in order per
// button.
type Buttons struct {
	log     *slog.Logger
	clock   clockwork.Clock
	buttons []*button
	events  chan ButtonEvent
	ran     atomic.Bool
}

type button struct {
	cfg ButtonConfig
	pin gpio.PinIO
	deb debouncer
}

// NewButtons configures the pins of cfgs (defaults filled on a copy, then
// validated) and returns the Buttons that will watch them. pin maps a
// configured pin name to a pin; clock times debounce and long presses and
// must be the clock the pins' WaitForEdge timeouts run on (a real clock with
// real pins; with gpiotest.Pin set its Clock to the same fake clock).
//
// Errors name the config path of the bad pin, e.g. "buttons[0].pin".
func NewButtons(cfgs []ButtonConfig, pin PinFunc, clock clockwork.Clock, log *slog.Logger) (*Buttons, error) {
	c := Config{Buttons: slices.Clone(cfgs)}
	c.SetDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	b := &Buttons{
		log:    log.With("component", "hw.gpio.buttons"),
		clock:  clock,
		events: make(chan ButtonEvent, eventQueue),
	}
	var errs []error
	for i, bc := range c.Buttons {
		path := "buttons[" + strconv.Itoa(i) + "].pin"
		p, err := lookupPin(pin, path, bc.Pin)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := p.In(periphPull(bc.Pull), gpio.BothEdges); err != nil {
			errs = append(errs, &conf.FieldError{Path: path, Msg: bc.Pin + ": configure as input with edge detection: " + err.Error(), Err: err})
			continue
		}
		btn := &button{cfg: bc, pin: p}
		btn.deb = newDebouncer(bc, btn.pressed(p.Read()), clock.Now())
		b.buttons = append(b.buttons, btn)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return b, nil
}

// Events returns the channel of debounced events. It is closed when Run
// returns. Drain it: a full channel holds the button goroutines back (events
// keep their timestamps, none is dropped).
func (b *Buttons) Events() <-chan ButtonEvent { return b.events }

// Run watches the buttons until ctx is cancelled, then returns nil; it
// returns a *PinError wrapping ErrPinFailed when a pin stops responding (and
// stops watching the others). Before returning it halts every pin's pending
// WaitForEdge, waits for its goroutines and closes Events. Run may be called
// once; a second call returns ErrRunning. (The package doc describes the
// identify and forget gestures the LongPress events serve.)
func (b *Buttons) Run(ctx context.Context) error {
	if !b.ran.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer close(b.events)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, len(b.buttons))
	var wg sync.WaitGroup
	for _, btn := range b.buttons {
		wg.Go(func() {
			if err := b.watch(ctx, btn); err != nil {
				errc <- err
			}
		})
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc: // returned to the caller, who logs it
	}
	cancel()
	for _, btn := range b.buttons {
		_ = btn.pin.Halt() // unblocks a pending WaitForEdge on gpioioctl and sysfs lines
	}
	wg.Wait()
	return err
}

// watch runs one button: wait for an edge or the next deadline, observe,
// step, deliver. It returns nil when ctx ends.
func (b *Buttons) watch(ctx context.Context, btn *button) error {
	var buf [maxEventsPerStep]ButtonEvent
	early := 0
	for {
		if ctx.Err() != nil {
			return nil
		}
		now := b.clock.Now()
		evs, next := btn.deb.step(now, buf[:0])
		for _, e := range evs {
			e.Name, e.Mode = btn.cfg.Name, btn.cfg.Mode
			b.log.Debug("button event", "button", e.Name, "kind", e.Kind, "hold", e.Hold)
			select {
			case b.events <- e:
			case <-ctx.Done():
				return nil
			}
		}
		wait := maxWait
		if !next.IsZero() {
			// step handled everything due at now, so next is after now.
			wait = min(wait, max(next.Sub(now), time.Nanosecond))
		}
		start := b.clock.Now()
		edge := btn.pin.WaitForEdge(wait)
		if ctx.Err() != nil {
			return nil
		}
		at := b.clock.Now()
		if edge {
			early = 0
			btn.deb.observe(btn.pressed(btn.pin.Read()), at)
			continue
		}
		if at.Sub(start) >= wait/2 {
			early = 0 // an ordinary timeout
			continue
		}
		if early++; early >= maxEarlyReturns {
			return &PinError{Name: btn.cfg.Name, Pin: btn.cfg.Pin, Op: "wait for edge", Err: ErrPinFailed}
		}
	}
}

// pressed maps a pin level to pressed for this button.
func (btn *button) pressed(l gpio.Level) bool {
	return bool(l) != *btn.cfg.ActiveLow
}

func periphPull(p Pull) gpio.Pull {
	switch p {
	case PullUp:
		return gpio.PullUp
	case PullDown:
		return gpio.PullDown
	}
	return gpio.Float
}

// lookupPin calls pin and turns a failure into a FieldError at path.
func lookupPin(pin PinFunc, path, name string) (gpio.PinIO, error) {
	p, err := pin(name)
	if err == nil && p == nil {
		err = ErrNoPin
	}
	if err != nil {
		return nil, &conf.FieldError{Path: path, Msg: name + ": " + err.Error(), Err: err}
	}
	return p, nil
}

var _ ButtonSource = (*Buttons)(nil)
