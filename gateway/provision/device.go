package provision

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/onair-gateway/onair/conf"
	"github.com/onair-gateway/onair/gateway"
	"github.com/onair-gateway/onair/provisioning"
	"github.com/onair-gateway/onair/provisioning/mqtt"
)

// Commander is the gateway as the MQTT agent and the web page drive it.
type Commander interface {
	Gateway
	Do(ctx context.Context, c gateway.Command) error
}

// Device is the device as the MQTT agent sees it (mqtt.Device): the
// gateway's status and commands, and the Manager's config.
type Device struct {
	m       *Manager
	g       Commander
	clock   clockwork.Clock
	started time.Time
	version string
	changed chan struct{}
}

// NewDevice joins a Manager and the gateway it drives. version is onair's.
func NewDevice(m *Manager, g Commander, version string, clock clockwork.Clock) *Device {
	if clock == nil {
		clock = clockwork.NewRealClock()
	}
	return &Device{m: m, g: g, clock: clock, started: clock.Now(), version: version, changed: make(chan struct{}, 1)}
}

// State is GET /status's fields plus uptime_s, version, board and
// config_version.
type State struct {
	gateway.Status
	UptimeSeconds float64 `json:"uptime_s"`
	Version       string  `json:"version"`
	Board         string  `json:"board"`
	ConfigVersion int64   `json:"config_version"`
}

// Snapshot returns the state.
func (d *Device) Snapshot() State {
	r, v := d.m.Running()
	return State{Status: d.g.Status(), UptimeSeconds: d.clock.Since(d.started).Seconds(), Version: d.version, Board: r.Board.Profile, ConfigVersion: v}
}

// State implements mqtt.Device.
func (d *Device) State() ([]byte, error) { return json.Marshal(d.Snapshot()) }

// Config implements mqtt.Device.
func (d *Device) Config() ([]byte, int64) { return d.m.RedactedJSON() }

// ApplyConfig implements mqtt.Device.
func (d *Device) ApplyConfig(ctx context.Context, req mqtt.ConfigSet) mqtt.ConfigResult {
	return d.m.ApplyPatch(ctx, req)
}

// CheckConfig validates req as ApplyConfig would and changes nothing (the
// web page's "Check").
func (d *Device) CheckConfig(req mqtt.ConfigSet) mqtt.ConfigResult { return d.m.CheckPatch(req) }

// Running returns the running config and its version.
func (d *Device) Running() (*provisioning.Resolved, int64) { return d.m.Running() }

// Changed implements mqtt.Device.
func (d *Device) Changed() <-chan struct{} { return d.changed }

// Watch signals Changed when the state's discrete fields (state, reason,
// on air, muted, encryption, room, config version) change, polling every
// interval until ctx ends. Meters and counters ride along with each
// publish and the agent's periodic one.
func (d *Device) Watch(ctx context.Context, interval time.Duration) {
	type key struct {
		state         gateway.State
		reason        string
		onAir, muted  bool
		encrypted     bool
		room, backend string
		roomState     string
		capture       string
		config        int64
	}
	var last key
	t := d.clock.NewTicker(interval)
	defer t.Stop()
	for {
		s := d.Snapshot()
		k := key{s.State, s.Reason, s.OnAir, s.Muted, s.Encrypted, s.Room, s.Backend, s.RoomStats.State.String(), s.Capture, s.ConfigVersion}
		if k != last {
			last = k
			select {
			case d.changed <- struct{}{}:
			default:
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-d.m.Changed():
		case <-t.Chan():
		}
	}
}

// Command implements mqtt.Device: the payload's arguments mapped onto a
// gateway command.
func (d *Device) Command(ctx context.Context, name string, payload []byte) error {
	var args struct {
		On         *bool        `json:"on"`
		Index      *int         `json:"index"`
		Passphrase *conf.Secret `json:"passphrase"`
		Key        *conf.Secret `json:"key"`
	}
	if len(payload) > 0 {
		if err := json.Unmarshal(payload, &args); err != nil {
			return fmt.Errorf("arguments: %v", err)
		}
	}
	needOn := func() (bool, error) {
		if args.On == nil {
			return false, fmt.Errorf(`%s needs "on": true or false`, name)
		}
		return *args.On, nil
	}
	switch name {
	case mqtt.CmdOnAir:
		on, err := needOn()
		if err != nil {
			return err
		}
		return d.g.Do(ctx, gateway.Command{Kind: gateway.CmdOnAir, On: on})
	case mqtt.CmdMute:
		on, err := needOn()
		if err != nil {
			return err
		}
		return d.g.Do(ctx, gateway.Command{Kind: gateway.CmdMute, On: on})
	case mqtt.CmdIdentify:
		return d.g.Do(ctx, gateway.Command{Kind: gateway.CmdIdentify})
	case mqtt.CmdRotateKey:
		if args.Index == nil {
			return errors.New(`rotate_key needs "index" (0-255) and "passphrase" or "key"`)
		}
		if (args.Passphrase == nil) == (args.Key == nil) {
			return errors.New(`rotate_key needs exactly one of "passphrase" and "key"`)
		}
		c := gateway.Command{Kind: gateway.CmdRotateKey, KeyIndex: *args.Index}
		if args.Passphrase != nil {
			c.Passphrase = *args.Passphrase
		} else {
			c.Key = *args.Key
		}
		return d.g.Do(ctx, c)
	case mqtt.CmdJoin:
		return d.g.Do(ctx, gateway.Command{Kind: gateway.CmdJoin})
	case mqtt.CmdLeave:
		return d.g.Do(ctx, gateway.Command{Kind: gateway.CmdLeave})
	case mqtt.CmdRestart:
		return d.g.Do(ctx, gateway.Command{Kind: gateway.CmdRestart})
	}
	return fmt.Errorf("unknown command %q", name)
}
