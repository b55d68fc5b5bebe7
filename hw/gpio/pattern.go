package gpio

import (
	"slices"
	"time"
)

// Step is one segment of a blink pattern: the LED lit or dark for a time.
type Step struct {
	On  bool
	For time.Duration
}

// Pattern is a blink pattern: its steps, repeated from the moment it is
// shown until something else is. The zero Pattern has no steps and is not
// valid for Blink.
type Pattern struct {
	Steps []Step
}

// Blink timings, chosen to be told apart across a room.
const (
	slowHalf   = 500 * time.Millisecond  // SlowBlink: 1 Hz
	fastHalf   = 125 * time.Millisecond  // FastBlink: 4 Hz
	beatOn     = 100 * time.Millisecond  // Heartbeat flash
	beatGap    = 150 * time.Millisecond  // between the two heartbeat flashes
	beatRest   = 850 * time.Millisecond  // Heartbeat period 1.2 s
	blinkOn    = 150 * time.Millisecond  // Blinks: each flash
	blinkOff   = 150 * time.Millisecond  // Blinks: between flashes
	blinkPause = 1000 * time.Millisecond // Blinks: after the last flash
)

// SlowBlink is 500 ms on, 500 ms off: "working on it" (joining a room).
func SlowBlink() Pattern {
	return Pattern{Steps: []Step{{true, slowHalf}, {false, slowHalf}}}
}

// FastBlink is 125 ms on, 125 ms off: "look at me" (error, confirm forget).
func FastBlink() Pattern {
	return Pattern{Steps: []Step{{true, fastHalf}, {false, fastHalf}}}
}

// Heartbeat is two short flashes every 1.2 s: alive and idle.
func Heartbeat() Pattern {
	return Pattern{Steps: []Step{{true, beatOn}, {false, beatGap}, {true, beatOn}, {false, beatRest}}}
}

// Blinks is n short flashes (150 ms on, 150 ms off) followed by a 1 s
// pause, repeated: a countable code (identify, degraded). n below 1 counts
// as 1.
func Blinks(n int) Pattern {
	n = max(n, 1)
	s := make([]Step, 0, 2*n)
	for i := range n {
		off := blinkOff
		if i == n-1 {
			off += blinkPause
		}
		s = append(s, Step{true, blinkOn}, Step{false, off})
	}
	return Pattern{Steps: s}
}

// Validate reports whether p can be shown: at least one step, each with a
// positive duration.
func (p Pattern) Validate() error {
	if len(p.Steps) == 0 {
		return ErrBadPattern
	}
	for _, s := range p.Steps {
		if s.For <= 0 {
			return ErrBadPattern
		}
	}
	return nil
}

// Period is the sum of the steps' durations.
func (p Pattern) Period() time.Duration {
	var t time.Duration
	for _, s := range p.Steps {
		t += s.For
	}
	return t
}

// At returns whether the LED is lit elapsed after the pattern started, and
// how long until the current step ends. p must be valid; a negative elapsed
// counts as 0.
func (p Pattern) At(elapsed time.Duration) (on bool, left time.Duration) {
	e := max(elapsed, 0) % p.Period()
	for _, s := range p.Steps {
		if e < s.For {
			return s.On, s.For - e
		}
		e -= s.For
	}
	// Unreachable for a valid pattern: e < Period.
	return false, p.Steps[0].For
}

// Equal reports whether p and q have the same steps.
func (p Pattern) Equal(q Pattern) bool { return slices.Equal(p.Steps, q.Steps) }

func (p Pattern) clone() Pattern { return Pattern{Steps: slices.Clone(p.Steps)} }
