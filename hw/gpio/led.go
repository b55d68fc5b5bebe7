package gpio

import (
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"
)

// pwmFrequency drives dimmed LEDs: far above what eyes see flicker at
// (about 100 Hz), low enough for the DMA-driven PWM of bcm283x pins that
// have no PWM block.
const pwmFrequency = 500 * physic.Hertz

// LEDs is a group of LED and relay outputs. Its one goroutine runs the blink
// patterns on the injected clock and makes every pin change, so the pins are
// never written concurrently. *LEDs implements Indicator by mapping the
// state to the configured roles; direct calls on an LED (On, Off, Blink)
// last until the next Indicator call.
type LEDs struct {
	log    *slog.Logger
	leds   []*LED
	anim   *animator
	closed sync.Once
	state  indicatorState // owned by the animator goroutine
}

// LED is one output of an LEDs group. Its methods are safe for concurrent
// use; they return once the pin shows the new state.
type LED struct {
	g   *LEDs
	cfg LEDConfig
	pin gpio.PinOut

	// Owned by the animator goroutine.
	on      bool      // solid level when pat is empty
	pat     Pattern   // blink pattern, if any
	start   time.Time // when pat began
	shown   int8      // -1 unknown, 0 dark, 1 lit
	pwm     bool      // PWM believed to work on this pin
	failing bool      // the last write failed (logged once per failure run)
}

// NewLEDs looks up the pins of cfgs (defaults filled on a copy, then
// validated), turns every output off, and starts the group's goroutine on
// clock. Close stops it. Errors name the config path of the bad pin.
func NewLEDs(cfgs []LEDConfig, pin PinFunc, clock clockwork.Clock, log *slog.Logger) (*LEDs, error) {
	c := Config{LEDs: slices.Clone(cfgs)}
	c.SetDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	g := &LEDs{log: log.With("component", "hw.gpio.leds")}
	var errs []error
	for i, lc := range c.LEDs {
		p, err := lookupPin(pin, "leds["+strconv.Itoa(i)+"].pin", lc.Pin)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		g.leds = append(g.leds, &LED{g: g, cfg: lc, pin: p, shown: -1, pwm: lc.Brightness < 100})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	// Release stale state: whatever the pins showed before, start dark.
	for _, l := range g.leds {
		if err := l.show(false); err != nil {
			return nil, err
		}
	}
	g.anim = newAnimator(clock, g.render)
	return g, nil
}

// All returns the group's LEDs in config order.
func (g *LEDs) All() []*LED { return slices.Clone(g.leds) }

// ByName returns the LED with the configured name, or nil.
func (g *LEDs) ByName(name string) *LED {
	for _, l := range g.leds {
		if l.cfg.Name == name {
			return l
		}
	}
	return nil
}

// Close stops the patterns, turns every output off, and waits for the
// goroutine. Closing again does nothing; calls on the group or its LEDs
// return ErrClosed afterwards.
func (g *LEDs) Close() error {
	var err error
	g.closed.Do(func() { err = g.close() })
	return err
}

func (g *LEDs) close() error {
	g.anim.stop()
	var errs []error
	for _, l := range g.leds {
		l.pat = Pattern{}
		errs = append(errs, l.show(false))
	}
	return errors.Join(errs...)
}

// SetOnAir implements Indicator.
func (g *LEDs) SetOnAir(on bool) error {
	return g.update(func(s *indicatorState) { s.onAir = on })
}

// SetMuted implements Indicator.
func (g *LEDs) SetMuted(muted bool) error {
	return g.update(func(s *indicatorState) { s.muted = muted })
}

// SetStatus implements Indicator. The status LED shows: idle Heartbeat,
// joining SlowBlink, live lit, degraded Blinks(2), error FastBlink;
// identify (Blinks(3)) and confirm-forget (FastBlink) take over every LED
// but the tally.
func (g *LEDs) SetStatus(s Status) error {
	return g.update(func(st *indicatorState) { st.status = s })
}

func (g *LEDs) update(f func(*indicatorState)) error {
	return g.anim.do(func(now time.Time) error {
		f(&g.state)
		g.applyState(now)
		return nil
	})
}

// applyState sets every LED from the indicator state. A pattern that is
// already running keeps its phase.
func (g *LEDs) applyState(now time.Time) {
	s := g.state
	for _, l := range g.leds {
		var pat Pattern
		on := false
		switch l.cfg.Role {
		case RoleOnAir, RoleTally:
			on = s.live()
		case RoleMute:
			on = s.muted
		case RoleStatus:
			on, pat = statusLook(s.status)
		}
		if s.status.transient() && l.cfg.Role != RoleTally {
			_, pat = statusLook(s.status)
		}
		if len(pat.Steps) == 0 {
			l.pat, l.on = Pattern{}, on
		} else if !pat.Equal(l.pat) {
			l.pat, l.start = pat, now
		}
	}
}

// statusLook is how a status LED shows s: solid on/off, or a pattern.
func statusLook(s Status) (bool, Pattern) {
	switch s {
	case StatusIdle:
		return false, Heartbeat()
	case StatusJoining:
		return false, SlowBlink()
	case StatusLive:
		return true, Pattern{}
	case StatusDegraded:
		return false, Blinks(2)
	case StatusIdentify:
		return false, Blinks(3)
	case StatusError, StatusConfirmForget:
		return false, FastBlink()
	}
	return false, Pattern{}
}

// render shows every LED's state at now. It runs in the animator goroutine.
func (g *LEDs) render(now time.Time) (time.Time, error) {
	var next time.Time
	var errs []error
	for _, l := range g.leds {
		on := l.on
		if len(l.pat.Steps) > 0 {
			var left time.Duration
			on, left = l.pat.At(now.Sub(l.start))
			if t := now.Add(left); next.IsZero() || t.Before(next) {
				next = t
			}
		}
		if err := l.show(on); err != nil {
			errs = append(errs, err)
		}
	}
	return next, errors.Join(errs...)
}

// Name returns the LED's configured name.
func (l *LED) Name() string { return l.cfg.Name }

// Role returns the LED's configured role.
func (l *LED) Role() LEDRole { return l.cfg.Role }

// On lights the LED steadily.
func (l *LED) On() error { return l.Set(true) }

// Off darkens the LED.
func (l *LED) Off() error { return l.Set(false) }

// Set lights or darkens the LED steadily, ending any pattern.
func (l *LED) Set(on bool) error {
	return l.g.anim.do(func(time.Time) error {
		l.pat, l.on = Pattern{}, on
		return nil
	})
}

// Blink starts p on the LED now, replacing what it showed; the first step
// shows before Blink returns. p is copied.
func (l *LED) Blink(p Pattern) error {
	if err := p.Validate(); err != nil {
		return err
	}
	p = p.clone()
	return l.g.anim.do(func(now time.Time) error {
		l.pat, l.start = p, now
		return nil
	})
}

// show drives the pin lit or dark if it is not already. Lit uses PWM at the
// configured brightness when below 100 % and the pin supports it, else a
// plain level. Failures are logged when they start and when they stop.
func (l *LED) show(on bool) error {
	want := int8(0)
	if on {
		want = 1
	}
	if l.shown == want {
		return nil
	}
	err := l.write(on)
	if err != nil {
		l.shown = -1
		if !l.failing {
			l.failing = true
			l.g.log.Warn("led write failed", "led", l.cfg.Name, "pin", l.cfg.Pin, "err", err)
		}
		return &PinError{Name: l.cfg.Name, Pin: l.cfg.Pin, Op: "write", Err: err}
	}
	if l.failing {
		l.failing = false
		l.g.log.Info("led write recovered", "led", l.cfg.Name, "pin", l.cfg.Pin)
	}
	l.shown = want
	return nil
}

func (l *LED) write(on bool) error {
	if on && l.pwm {
		duty := gpio.DutyMax * gpio.Duty(l.cfg.Brightness) / 100 // fits: 2^24 * 100 < 2^31
		if l.cfg.ActiveLow {
			duty = gpio.DutyMax - duty
		}
		err := l.pin.PWM(duty, pwmFrequency)
		if err == nil {
			return nil
		}
		l.pwm = false
		l.g.log.Info("led pin has no pwm, dimming disabled", "led", l.cfg.Name, "pin", l.cfg.Pin, "err", err)
	}
	return l.pin.Out(gpio.Level(on != l.cfg.ActiveLow))
}

var _ Indicator = (*LEDs)(nil)
