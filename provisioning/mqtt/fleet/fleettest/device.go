// Package fleettest is a stand-in device for tests of the fleet tools. It
// is the peer of those tests, not the device agent: over a real broker it
// follows the wire contract of provisioning/mqtt (retained status, state
// and config; a result for every config/set and command), and can be told
// to refuse patches or to stay silent, so fleet and onairctl are tested on
// their own. End-to-end tests with the real agent live beside the agent.
//
// A Device owns one goroutine, which answers requests (paho's handlers
// only queue them) and ends when the test does.
package fleettest

import (
	"crypto/tls"
	"encoding/json"
	"sort"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/onair-gateway/onair/provisioning/mqtt"
)

// Config describes a stand-in device.
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
	// Silent answers nothing (a device that hangs, or is not there).
	Silent bool
}

// Command is a command a Device received.
type Command struct {
	Name string
	Args map[string]any
}

// Device is a stand-in device connected to the broker.
type Device struct {
	cfg    Config
	topics mqtt.Topics
	mc     paho.Client
	in     chan paho.Message
	done   chan struct{}

	mu      sync.Mutex // guards the fields below
	sets    []mqtt.ConfigSet
	cmds    []Command
	version int64
	onAir   bool
	muted   bool
	changed chan struct{} // closed and replaced on every request
}

// Start connects a device, publishes its retained status, state and
// config, and answers requests until the test ends.
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
	d := &Device{cfg: c, topics: mqtt.Topics{Prefix: c.Prefix, ID: c.ID}, in: make(chan paho.Message, 256),
		done: make(chan struct{}), version: 1, changed: make(chan struct{})}
	o := paho.NewClientOptions().AddBroker(c.Broker).SetClientID("fleettest-"+c.ID).
		SetCleanSession(true).SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(5*time.Second).
		SetWill(d.topics.Status(), mqtt.Offline, 1, true)
	if c.TLS != nil {
		o.SetTLSConfig(c.TLS)
	}
	d.mc = paho.NewClient(o)
	if tok := d.mc.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("fleettest %s: connect: %v", c.ID, tok.Error())
	}
	queue := func(_ paho.Client, m paho.Message) {
		select {
		case d.in <- m:
		default:
			t.Errorf("fleettest %s: request queue full, dropped %s", c.ID, m.Topic())
		}
	}
	tok := d.mc.SubscribeMultiple(map[string]byte{d.topics.ConfigSet(): 1, d.topics.Cmd("+"): 1}, queue)
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("fleettest %s: subscribe: %v", c.ID, tok.Error())
	}
	d.publish(d.topics.Status(), true, []byte(mqtt.Online))
	d.publishState()
	d.publishConfig()
	go d.serve()
	t.Cleanup(func() {
		close(d.done)
		d.mc.Disconnect(100)
	})
	return d
}

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

func (d *Device) serve() {
	for {
		select {
		case <-d.done:
			return
		case m := <-d.in:
			d.handle(m)
		}
	}
}

func (d *Device) handle(m paho.Message) {
	_, rest, _ := mqtt.SplitTopic(d.cfg.Prefix, m.Topic())
	if rest == "config/set" {
		var req mqtt.ConfigSet
		if json.Unmarshal(m.Payload(), &req) != nil {
			return
		}
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
		if !d.cfg.Silent {
			b, _ := json.Marshal(res)
			d.publish(d.topics.ConfigResult(), false, b)
		}
		return
	}
	name := rest[len("cmd/"):]
	if name == "result" {
		return // cmd/+ matches the device's own results too
	}
	var args map[string]any
	if json.Unmarshal(m.Payload(), &args) != nil {
		return
	}
	id, _ := args["id"].(string)
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
	if d.cfg.Silent {
		return
	}
	b, _ := json.Marshal(mqtt.CmdResult{ID: id, Cmd: name, OK: ok, Error: d.cfg.CmdError})
	d.publish(d.topics.CmdResult(), false, b)
	d.publishState()
}

func (d *Device) notifyLocked() {
	close(d.changed)
	d.changed = make(chan struct{})
}

func (d *Device) publishState() {
	d.mu.Lock()
	state := "idle"
	if d.onAir {
		state = "on_air"
	}
	s := map[string]any{
		"device": d.cfg.ID, "name": d.cfg.Name, "state": state, "on_air": d.onAir, "muted": d.muted,
		"room": d.cfg.Room, "backend": "livekit", "version": d.cfg.Version, "board": "sim",
		"uptime_s": 12.5, "config_version": d.version,
		"out_level":  map[string]any{"peak_dbfs": -12.0, "rms_dbfs": -20.5},
		"room_stats": map[string]any{"session": map[string]any{"rtt_ns": int64(23 * time.Millisecond), "fraction_lost": 0.015}},
	}
	d.mu.Unlock()
	b, _ := json.Marshal(s)
	d.publish(d.topics.State(), true, b)
}

func (d *Device) publishConfig() {
	b, _ := json.Marshal(map[string]any{
		"version": d.version,
		"device":  map[string]any{"id": d.cfg.ID, "name": d.cfg.Name},
		"room":    map[string]any{"room": d.cfg.Room, "token": "<redacted>"},
	})
	d.publish(d.topics.Config(), true, b)
}

// publish sends and waits for the broker: it runs on the device's
// goroutine or the test's, never in a paho handler.
func (d *Device) publish(topic string, retained bool, payload []byte) {
	d.mc.Publish(topic, 1, retained, payload).WaitTimeout(5 * time.Second)
}
