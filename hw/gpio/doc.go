// Package gpio drives a board's buttons, LEDs, tally relay and APA102 pixel
// ring through periph.io, and maps the gateway's state onto them.
//
// # Concepts
//
//   - Buttons turns edges on input pins into debounced ButtonEvents: Press,
//     Release, and LongPress once per hold threshold (Identify, default 3 s,
//     then Forget, default 10 s). A level counts once it has held for the
//     button's debounce time (default 20 ms): contact chatter gives one
//     press, a glitch shorter than the debounce time gives nothing.
//   - LEDs is a group of outputs with roles (onair, status, mute, tally).
//     Each LED can be set on or off or given a blink Pattern (SlowBlink,
//     FastBlink, Heartbeat, Blinks(n)); below 100 % brightness a lit LED
//     uses PWM where the pin has it. The tally follows the live mic and
//     never blinks.
//   - Ring is an APA102 ring on SPI (ReSpeaker arrays): solid colours, a
//     spinning "joining", a dim "live" glow, red "on air", a flashing
//     identify, and a pointer at the talker's direction (RingIndex documents
//     the pixel ↔ azimuth mapping).
//   - Indicator is the gateway's view of all of these: SetOnAir, SetMuted,
//     SetStatus, plus the optional DirectionIndicator. *LEDs and *Ring
//     implement it; Indicators fans out to several.
//   - Controls opens everything a Config describes: NewControls from any
//     Hardware (pins and SPI ports), Open from the real board via periph's
//     host drivers.
//
// # The forget gesture
//
// Forgetting provisioning takes two steps so that it cannot happen by
// accident, and the second is the gateway's: on the LongPress whose Hold is
// the button's Forget threshold the gateway calls
// SetStatus(StatusConfirmForget) (every LED but the tally and the ring
// flash), then forgets only on a further Press within its confirmation
// window, and otherwise restores the previous status. The identify hold is
// the LongPress whose Hold is the Identify threshold.
//
// # Goroutines and ownership
//
// Buttons.Run owns one goroutine per button, blocked in the pin's
// WaitForEdge with a timeout that is the next debounce or hold deadline
// (at most one second). When Run's context ends it halts the pins, waits
// for the goroutines and closes Events. LEDs and Ring each own one goroutine
// that performs every write to their pins or SPI port and runs their
// patterns on the injected clock; their Close turns the outputs off and
// waits for it. Nothing here touches the audio path and nothing allocates
// per event beyond the channel send.
//
// # Time
//
// All timing uses an injected clockwork.Clock. Tests use periph's
// gpiotest.Pin (with its Clock set to the same fake clock) and
// spitest.Playback, advance the fake clock and never sleep. gpiotest.Pin's
// Halt cannot interrupt its WaitForEdge, so a test stops Buttons.Run by
// cancelling its context and sending the pin's current level (an edge that
// changes nothing) until Run returns.
package gpio
