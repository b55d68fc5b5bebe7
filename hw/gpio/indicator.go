package gpio

import (
	"errors"
	"strconv"
)

// Status is the device's state as the gateway sees it, shown on the status
// LED and the ring.
type Status uint8

// Statuses.
const (
	// StatusIdle: not in a room (the zero value).
	StatusIdle Status = iota
	// StatusJoining: connecting to the room.
	StatusJoining
	// StatusLive: in the room.
	StatusLive
	// StatusDegraded: in the room, but the link is poor or a stage is
	// struggling.
	StatusDegraded
	// StatusError: not working; see the logs and MQTT state.
	StatusError
	// StatusIdentify: someone asked the device to show itself (MQTT command
	// or a long press to Identify).
	StatusIdentify
	// StatusConfirmForget: the Forget hold was reached; a second press
	// within the gateway's window forgets provisioning.
	StatusConfirmForget
)

// String returns the status's lowercase name, e.g. "confirm-forget".
func (s Status) String() string {
	switch s {
	case StatusIdle:
		return "idle"
	case StatusJoining:
		return "joining"
	case StatusLive:
		return "live"
	case StatusDegraded:
		return "degraded"
	case StatusError:
		return "error"
	case StatusIdentify:
		return "identify"
	case StatusConfirmForget:
		return "confirm-forget"
	}
	return "Status(" + strconv.Itoa(int(s)) + ")"
}

// transient reports whether s takes over every indicator (except the tally)
// until the gateway sets another status.
func (s Status) transient() bool { return s == StatusIdentify || s == StatusConfirmForget }

// Indicator shows the device's state to the people near it. The gateway
// calls it on every change; implementations keep the last value of each
// setter and show their combination:
//
//   - "live mic" is on air and not muted: the onair LED and the tally light
//     follow it, and the ring turns red;
//   - muted lights the mute LED;
//   - the status picks the status LED's pattern and the ring's pattern;
//     identify and confirm-forget take over every output but the tally.
//
// *LEDs, *Ring and Indicators implement it.
type Indicator interface {
	SetOnAir(on bool) error
	SetMuted(muted bool) error
	SetStatus(s Status) error
}

// DirectionIndicator is an optional interface of an Indicator that can
// point at the talker while the mic is live. azimuth is in radians in the
// frame of audio.Geometry (0 along mic 0, counter-clockwise); known false
// forgets the direction. *Ring and Indicators implement it.
type DirectionIndicator interface {
	SetDirection(azimuth float64, known bool) error
}

// indicatorState is what an Indicator was last told.
type indicatorState struct {
	onAir, muted bool
	status       Status
	azimuth      float64
	dirKnown     bool
}

func (s indicatorState) live() bool { return s.onAir && !s.muted }

// Indicators shows the state on every Indicator in it, in order; an error
// from one does not stop the others.
type Indicators []Indicator

// SetOnAir implements Indicator.
func (s Indicators) SetOnAir(on bool) error {
	var errs []error
	for _, i := range s {
		errs = append(errs, i.SetOnAir(on))
	}
	return errors.Join(errs...)
}

// SetMuted implements Indicator.
func (s Indicators) SetMuted(muted bool) error {
	var errs []error
	for _, i := range s {
		errs = append(errs, i.SetMuted(muted))
	}
	return errors.Join(errs...)
}

// SetStatus implements Indicator.
func (s Indicators) SetStatus(st Status) error {
	var errs []error
	for _, i := range s {
		errs = append(errs, i.SetStatus(st))
	}
	return errors.Join(errs...)
}

// SetDirection implements DirectionIndicator for those of s that do.
func (s Indicators) SetDirection(azimuth float64, known bool) error {
	var errs []error
	for _, i := range s {
		if d, ok := i.(DirectionIndicator); ok {
			errs = append(errs, d.SetDirection(azimuth, known))
		}
	}
	return errors.Join(errs...)
}

var (
	_ Indicator          = Indicators(nil)
	_ DirectionIndicator = Indicators(nil)
)
