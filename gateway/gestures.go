package gateway

import (
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/onair-gateway/onair/hw/gpio"
)

// gesture is what a button event asks of the device beyond its mode.
type gesture int

const (
	gestureNone gesture = iota
	// gestureIdentify: the button was held for its identify time.
	gestureIdentify
	// gestureAskForget: the button was held for its forget time; a press
	// within ForgetWindow confirms.
	gestureAskForget
	// gestureForget: a press confirmed a pending forget. The press does
	// nothing else.
	gestureForget
	// gestureForgetLapsed: no press came within ForgetWindow.
	gestureForgetLapsed
)

// gestures turns long holds into identify and forget, apart from what the
// buttons' modes do. A button doing its own job is never a gesture button
// meanwhile: a PTT hold that put the device on air is someone talking,
// however long, and a toggle press that latched it on air is a press. Such
// a press is marked working, and its long holds are ignored. A hold is a
// gesture on a mute button at any time, and on a PTT or toggle button only
// while the device is not in a room (joining, in error, stopped), where the
// press has nothing to put on air.
type gestures struct {
	clock   clockwork.Clock
	buttons []gpio.ButtonConfig // identify and forget times, by name
	working map[string]bool     // buttons whose current press is doing their job
	pending time.Time           // a forget awaits its confirming press until then
}

func newGestures(clock clockwork.Clock, buttons []gpio.ButtonConfig) *gestures {
	return &gestures{clock: clock, buttons: buttons, working: map[string]bool{}}
}

// press records a press. inRoom says the device is in a room, where a PTT
// or toggle press does its job. A press within ForgetWindow of a forget
// hold confirms it (gestureForget); the caller then ignores the press.
func (x *gestures) press(ev gpio.ButtonEvent, inRoom bool) gesture {
	if !x.pending.IsZero() {
		confirm := x.clock.Now().Before(x.pending)
		x.pending = time.Time{}
		if confirm {
			return gestureForget
		}
	}
	if inRoom && (ev.Mode == gpio.ModePTT || ev.Mode == gpio.ModeToggle) {
		x.working[ev.Name] = true
	}
	return gestureNone
}

// release ends a press.
func (x *gestures) release(ev gpio.ButtonEvent) { delete(x.working, ev.Name) }

// longPress maps a hold to its gesture; onAir says the on-air gate is open,
// which no PTT or toggle hold may interrupt either.
func (x *gestures) longPress(ev gpio.ButtonEvent, onAir bool) gesture {
	if x.working[ev.Name] || (onAir && ev.Mode != gpio.ModeMute) {
		return gestureNone
	}
	for _, b := range x.buttons {
		if b.Name != ev.Name {
			continue
		}
		switch {
		case ev.Hold >= b.Forget.D():
			x.pending = x.clock.Now().Add(ForgetWindow)
			return gestureAskForget
		case ev.Hold >= b.Identify.D():
			return gestureIdentify
		}
	}
	return gestureNone
}

// tick reports a forget whose window has passed unconfirmed.
func (x *gestures) tick() gesture {
	if !x.pending.IsZero() && !x.clock.Now().Before(x.pending) {
		x.pending = time.Time{}
		return gestureForgetLapsed
	}
	return gestureNone
}
