package gateway

import (
	"github.com/onair-gateway/onair/hw/gpio"
	"github.com/onair-gateway/onair/net/room"
)

// State is the device's state as people and operators see it.
type State string

// States. The gateway derives its state from its inputs (room state,
// on-air intent, mute, capture health) instead of storing transitions, so
// every combination of inputs has exactly one state.
const (
	// StateIdle: not started, or stopped.
	StateIdle State = "idle"
	// StateJoining: connecting to the room for the first time.
	StateJoining State = "joining"
	// StateLive: in the room, listening, not on air.
	StateLive State = "live"
	// StateOnAir: in the room and speaking: the on-air gate is open.
	StateOnAir State = "onair"
	// StateMuted: in the room, muted locally or by the server.
	StateMuted State = "muted"
	// StateDegraded: the session is being restored (reconnecting).
	StateDegraded State = "degraded"
	// StateError: the room refuses the device (bad token), encryption is
	// required but impossible, or the capture device is gone.
	StateError State = "error"
)

// inputs are everything the state derives from.
type inputs struct {
	started    bool
	room       room.State
	roomReason string
	wantOnAir  bool // PTT held, toggle on, or commanded
	muted      bool // local mute (button or command)
	captureErr string
	policyErr  string // e2ee required but impossible
}

// derive returns the state for in, the reason to show, and whether the
// on-air gate is open.
func derive(in inputs) (State, string, bool) {
	switch {
	case !in.started:
		return StateIdle, "not started", false
	case in.policyErr != "":
		return StateError, in.policyErr, false
	case in.captureErr != "":
		return StateError, in.captureErr, false
	}
	switch in.room {
	case room.StateIdle, room.StateConnecting:
		return StateJoining, reasonOr(in.roomReason, "joining the room"), false
	case room.StateError:
		return StateError, reasonOr(in.roomReason, "the room refused the device"), false
	case room.StateReconnecting:
		return StateDegraded, reasonOr(in.roomReason, "reconnecting"), false
	case room.StateStopped:
		return StateIdle, reasonOr(in.roomReason, "left the room"), false
	case room.StatePermissionDenied:
		return StateMuted, reasonOr(in.roomReason, "muted by the server"), false
	}
	switch {
	case in.muted:
		return StateMuted, "muted", false
	case in.wantOnAir:
		return StateOnAir, "on air", true
	}
	return StateLive, "in the room", false
}

func reasonOr(r, def string) string {
	if r == "" {
		return def
	}
	return r
}

// indicatorStatus maps a state to what the LEDs and ring show.
func indicatorStatus(s State) gpio.Status {
	switch s {
	case StateJoining:
		return gpio.StatusJoining
	case StateLive, StateOnAir, StateMuted:
		return gpio.StatusLive
	case StateDegraded:
		return gpio.StatusDegraded
	case StateError:
		return gpio.StatusError
	}
	return gpio.StatusIdle
}

// States returns every state, in the order of the constants above, for
// exporters that show each one (a 0/1 series per state).
func States() []State {
	return []State{StateIdle, StateJoining, StateLive, StateOnAir, StateMuted, StateDegraded, StateError}
}
