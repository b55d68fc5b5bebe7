// Package fleettest runs devices for tests of the fleet tools: each is the
// real MQTT agent (provisioning/mqtt) over a real broker, with a scripted
// device behind it instead of a gateway, so fleet and onairctl are tested
// against the agent's own answers without a sound card or a room. A device
// can be told to refuse patches, fail commands or hang. End-to-end tests
// with onaird itself live in cmd/onaird.
package fleettest

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"log/slog"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/onair-gateway/onair/provisioning/mqtt"
)

// Config describes a device.
type Config struct {
	// Broker is the broker URL; TLS its TLS settings (nil for plain).
	Broker string
	TLS    *tls.Config
	// Prefix defaults to "onair".
	Prefix string
	// ID is the device id; Name, Room and Version go into its state and
	// config.
	ID, Name, Room, Version string
	// Refuse, when set, is the errors of every config result (ok false).
	Refuse []mqtt.FieldError
	// CmdError, when set, fails every command with this error.
	CmdError string
	// Silent hangs on every request until the test ends: no answer.
	Silent bool
}

// Command is a command a Device received.
type Command struct {
	Name string
	Args map[string]any
}

// Device is a scripted device behind a real agent.
type Device struct {
	cfg   Config
	agent *mqtt.Agent
	done  chan struct{}
	ping  chan struct{} // the agent's Changed

	mu      sync.Mutex // guards the fields below
	sets    []mqtt.ConfigSet
	cmds    []Command
	version int64
	onAir   bool
	muted   bool
	changed chan struct{} // closed and replaced on every request
}

// Start connects a device and returns once its retained status, state and
// config are published; it answers requests until the test ends.
func Start(t testing.TB, c Config) *Device {
	t.Helper()
	if c.Prefix == "" {
		c.Prefix = "onair"
	}
	if c.Room == "" {
		c.Room = "studio"
	}
	if c.Version == "" {
		c.Version = "test"
	}
	d := &Device{cfg: c, done: make(chan struct{}), ping: make(chan struct{}, 1), version: 1, changed: make(chan struct{})}
	d.agent = mqtt.New(mqtt.Options{
		Broker: c.Broker, ClientID: "fleettest-" + c.ID, TLS: c.TLS, Keepalive: 5 * time.Second,
		Topics: mqtt.Topics{Prefix: c.Prefix, ID: c.ID}, Discovery: false, DiscoveryPrefix: "homeassistant",
		Info:   mqtt.Info{Name: c.Name, Board: "sim", Version: c.Version},
		Logger: slog.New(slog.DiscardHandler), MaxReconnect: time.Second,
	}, d)
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { defer close(stopped); d.agent.Run(ctx) }()
	t.Cleanup(func() {
		close(d.done)
		cancel()
		<-stopped
	})
	deadline := time.Now().Add(20 * time.Second)
	for d.agent.Stats().StatePublishes == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("fleettest %s: agent not connected after 20 s", c.ID)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return d
}

// Agent is the device's agent.
func (d *Device) Agent() *mqtt.Agent { return d.agent }

// Sets returns the config requests received so far.
func (d *Device) Sets() []mqtt.ConfigSet {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]mqtt.ConfigSet(nil), d.sets...)
}

// Commands returns the commands received so far.
func (d *Device) Commands() []Command {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]Command(nil), d.cmds...)
}

// WaitSets waits until n config requests have arrived and returns them.
func (d *Device) WaitSets(t testing.TB, n int) []mqtt.ConfigSet {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		d.mu.Lock()
		got, ch := len(d.sets), d.changed
		d.mu.Unlock()
		if got >= n {
			return d.Sets()
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("fleettest %s: %d config requests after 20 s, want %d", d.cfg.ID, got, n)
		}
	}
}

// State implements mqtt.Device.
func (d *Device) State() ([]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	state := "live"
	if d.onAir {
		state = "onair"
	}
	if d.muted {
		state = "muted"
	}
	return json.Marshal(map[string]any{
		"device": d.cfg.ID, "name": d.cfg.Name, "state": state, "on_air": d.onAir && !d.muted, "muted": d.muted,
		"room": d.cfg.Room, "backend": "livekit", "version": d.cfg.Version, "board": "sim",
		"uptime_s": 12.5, "config_version": d.version,
		"out_level":  map[string]any{"peak_dbfs": -12.0, "rms_dbfs": -20.5},
		"room_stats": map[string]any{"session": map[string]any{"rtt_ns": int64(23 * time.Millisecond), "fraction_lost": 0.015}},
	})
}

// Config implements mqtt.Device.
func (d *Device) Config() ([]byte, int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	b, _ := json.Marshal(map[string]any{
		"device": map[string]any{"id": d.cfg.ID, "name": d.cfg.Name},
		"room":   map[string]any{"room": d.cfg.Room, "token": "<redacted>"},
	})
	return b, d.version
}

// Changed implements mqtt.Device.
func (d *Device) Changed() <-chan struct{} { return d.ping }

// ApplyConfig implements mqtt.Device.
func (d *Device) ApplyConfig(ctx context.Context, req mqtt.ConfigSet) mqtt.ConfigResult {
	d.mu.Lock()
	d.sets = append(d.sets, req)
	res := mqtt.ConfigResult{ID: req.ID, OK: d.cfg.Refuse == nil, Errors: d.cfg.Refuse, Version: d.version}
	if res.OK {
		d.version++
		res.Version = d.version
		var patch map[string]json.RawMessage
		_ = json.Unmarshal(req.Config, &patch)
		for k := range patch {
			res.Applied = append(res.Applied, k)
		}
		sort.Strings(res.Applied)
	}
	d.notifyLocked()
	d.mu.Unlock()
	d.hang(ctx)
	return res
}

// Command implements mqtt.Device.
func (d *Device) Command(ctx context.Context, name string, payload []byte) error {
	var args map[string]any
	_ = json.Unmarshal(payload, &args)
	delete(args, "id")
	d.mu.Lock()
	d.cmds = append(d.cmds, Command{Name: name, Args: args})
	on, _ := args["on"].(bool)
	ok := d.cfg.CmdError == ""
	if ok && name == mqtt.CmdMute {
		d.muted = on
	}
	if ok && name == mqtt.CmdOnAir {
		d.onAir = on
	}
	d.notifyLocked()
	d.mu.Unlock()
	d.hang(ctx)
	if !ok {
		return &cmdError{d.cfg.CmdError}
	}
	return nil
}

type cmdError struct{ s string }

func (e *cmdError) Error() string { return e.s }

// hang blocks a Silent device's answer until the test ends.
func (d *Device) hang(ctx context.Context) {
	if !d.cfg.Silent {
		return
	}
	select {
	case <-d.done:
	case <-ctx.Done():
	}
}

func (d *Device) notifyLocked() {
	close(d.changed)
	d.changed = make(chan struct{})
	select {
	case d.ping <- struct{}{}:
	default:
	}
}
