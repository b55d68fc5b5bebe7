package gpio

import (
	"errors"
	"fmt"
)

// ErrClosed is returned by LED, LEDs and Ring methods after Close.
var ErrClosed = errors.New("gpio: closed")

// ErrNoPin is returned (wrapped) when a configured pin name does not exist on
// the board.
var ErrNoPin = errors.New("no such pin")

// ErrPinFailed means a button's pin stopped delivering edges: its
// WaitForEdge kept returning at once without an edge, which is what a GPIO
// line does when its character device went away (hardware unplugged, chip
// driver unbound).
var ErrPinFailed = errors.New("pin stopped responding")

// ErrBadPattern is returned by Pattern.Validate and LED.Blink for a pattern
// with no steps or a step that is not longer than 0.
var ErrBadPattern = errors.New("gpio: a blink pattern needs at least one step, each longer than 0")

// ErrRunning is returned by Buttons.Run when it is called a second time.
var ErrRunning = errors.New("gpio: buttons already run")

// PinError is a failure of one pin, naming it as the config does.
type PinError struct {
	// Name is the button's or LED's configured name.
	Name string
	// Pin is the configured pin name, e.g. "GPIO17".
	Pin string
	// Op is what failed, e.g. "wait for edge".
	Op string
	// Err is the cause.
	Err error
}

// Error implements error.
func (e *PinError) Error() string {
	return fmt.Sprintf("gpio: %s on %s: %s: %v", e.Name, e.Pin, e.Op, e.Err)
}

// Unwrap returns the cause.
func (e *PinError) Unwrap() error { return e.Err }
