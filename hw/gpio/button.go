package gpio

import (
	"strconv"
	"time"
)

// EventKind is what happened to a button.
type EventKind uint8

// Event kinds.
const (
	// Press: the button went down and stayed down for the debounce time.
	Press EventKind = iota + 1
	// Release: the button came up and stayed up for the debounce time.
	Release
	// LongPress: the button has been held for one of its hold thresholds
	// (Identify, then Forget); Hold says which. It comes at most once per
	// threshold per press, between that press's Press and Release.
	LongPress
)

// String returns "press", "release" or "long-press".
func (k EventKind) String() string {
	switch k {
	case Press:
		return "press"
	case Release:
		return "release"
	case LongPress:
		return "long-press"
	}
	return "EventKind(" + strconv.Itoa(int(k)) + ")"
}

// ButtonEvent is one debounced button event.
type ButtonEvent struct {
	// Name is the button's configured name.
	Name string
	// Mode is the button's configured mode (ptt, toggle, mute): what the
	// gateway should make of it.
	Mode ButtonMode
	// Kind is press, release or long press.
	Kind EventKind
	// Hold is, for LongPress, the threshold reached (the button's Identify
	// or Forget duration); for Release, how long the button was held; zero
	// for Press.
	Hold time.Duration
	// At is when it happened: for Press and Release the time of the last
	// level change before the level held steady for the debounce time (the
	// event itself is delivered one debounce time later); for LongPress the
	// press time plus Hold.
	At time.Time
}

// String formats e for logs and tests.
func (e ButtonEvent) String() string {
	s := e.Name + " " + e.Kind.String()
	if e.Hold != 0 {
		s += " " + e.Hold.String()
	}
	return s + " at " + e.At.Format("15:04:05.000")
}

// maxEventsPerStep bounds how many events one debouncer step can emit: a
// confirmed release preceded by both thresholds (3), or a confirmed press
// followed by both thresholds when the caller was late (3).
const maxEventsPerStep = 4

// debouncer turns raw pressed/released observations with their times into
// debounced events. It is a pure state machine, driven by observe (a level
// seen at a time) and step (what became true by a time); it never reads a
// clock. It does not allocate.
type debouncer struct {
	debounce   time.Duration
	thresholds [2]time.Duration // Identify, Forget; ascending (Config.Validate)

	raw     bool      // last level observed
	rawAt   time.Time // when raw last changed
	pressed bool      // debounced state
	pressAt time.Time // when the current press began (rawAt of its edge)
	next    int       // index of the next threshold to report
}

func newDebouncer(cfg ButtonConfig, pressed bool, now time.Time) debouncer {
	return debouncer{
		debounce:   cfg.Debounce.D(),
		thresholds: [2]time.Duration{cfg.Identify.D(), cfg.Forget.D()},
		raw:        pressed,
		rawAt:      now,
	}
}

// observe records that the button read pressed at now. A reading equal to
// the last one changes nothing: drivers report edges they then read back as
// the old level, and those are noise.
func (d *debouncer) observe(pressed bool, now time.Time) {
	if pressed != d.raw {
		d.raw = pressed
		d.rawAt = now
	}
}

// step appends to out the events that became true by now, and returns the
// next time step has something to decide (zero if none: the button is up
// and steady, or held past its last threshold).
func (d *debouncer) step(now time.Time, out []ButtonEvent) ([]ButtonEvent, time.Time) {
	if d.raw != d.pressed && now.Sub(d.rawAt) >= d.debounce {
		if d.raw {
			d.pressed = true
			d.pressAt = d.rawAt
			d.next = 0
			out = append(out, ButtonEvent{Kind: Press, At: d.rawAt})
		} else {
			// Thresholds reached while still held but not yet reported
			// (the release was pending, or the caller was late).
			held := d.rawAt.Sub(d.pressAt)
			for d.next < len(d.thresholds) && d.thresholds[d.next] <= held {
				out = d.longPress(out)
			}
			d.pressed = false
			out = append(out, ButtonEvent{Kind: Release, Hold: held, At: d.rawAt})
		}
	}
	// While a release is pending the hold may be ending: wait for the
	// debounce to decide before reporting a threshold.
	if d.pressed && d.raw {
		for d.next < len(d.thresholds) && now.Sub(d.pressAt) >= d.thresholds[d.next] {
			out = d.longPress(out)
		}
	}
	switch {
	case d.raw != d.pressed:
		return out, d.rawAt.Add(d.debounce)
	case d.pressed && d.next < len(d.thresholds):
		return out, d.pressAt.Add(d.thresholds[d.next])
	}
	return out, time.Time{}
}

func (d *debouncer) longPress(out []ButtonEvent) []ButtonEvent {
	h := d.thresholds[d.next]
	d.next++
	return append(out, ButtonEvent{Kind: LongPress, Hold: h, At: d.pressAt.Add(h)})
}
