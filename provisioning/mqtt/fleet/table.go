package fleet

import (
	"encoding/json"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/onair-gateway/onair/provisioning/mqtt"
)

// Device is one row of the watched fleet.
type Device struct {
	// ID is the device id, from the topic.
	ID string `json:"id"`
	// Name is device.name, from the state.
	Name string `json:"name,omitempty"`
	// Status is "online", "offline", or "" before any status arrived.
	Status string `json:"status"`
	// State is the gateway state ("on_air", "joining", ...) and Reason
	// says why, when it has a reason.
	State  string `json:"state,omitempty"`
	Reason string `json:"reason,omitempty"`
	Room   string `json:"room,omitempty"`
	OnAir  bool   `json:"on_air"`
	Muted  bool   `json:"muted"`
	// LevelDBFS is the output RMS level (dBFS, -120 for silence).
	LevelDBFS float64 `json:"level_dbfs"`
	// Loss is the fraction of packets lost, 0..1, as the server reports it.
	Loss float64 `json:"loss"`
	// RTT is the round-trip time to the room server.
	RTT time.Duration `json:"rtt_ns"`
	// Version is onaird's version; ConfigVersion the config version.
	Version       string `json:"version,omitempty"`
	ConfigVersion int64  `json:"config_version"`
	// LastSeen is when the last status or state of this device arrived.
	LastSeen time.Time `json:"last_seen"`
	// BadState counts state payloads that did not decode (the row keeps
	// the last good state).
	BadState int `json:"bad_state,omitempty"`
}

// Table is the watched fleet, keyed by device id. It is safe for
// concurrent use.
type Table struct {
	prefix string

	mu      sync.Mutex
	devices map[string]*Device
	ignored int
}

// NewTable returns an empty table for devices under prefix.
func NewTable(prefix string) *Table {
	return &Table{prefix: prefix, devices: map[string]*Device{}}
}

// Apply takes one message from <prefix>/<id>/status or <prefix>/<id>/state
// and reports whether it changed a row. Anything else, an empty payload (a
// retained topic being cleared) or a payload over mqtt.MaxPayload changes
// nothing and is counted as ignored; a state that does not decode is
// counted on its row. Apply never fails: its input is anyone's.
func (t *Table) Apply(topic string, payload []byte, now time.Time) bool {
	id, rest, ok := mqtt.SplitTopic(t.prefix, topic)
	t.mu.Lock()
	defer t.mu.Unlock()
	if !ok || (rest != "status" && rest != "state") || len(payload) == 0 || len(payload) > mqtt.MaxPayload {
		t.ignored++
		return false
	}
	d := t.devices[id]
	if d == nil {
		d = &Device{ID: id}
		t.devices[id] = d
	}
	before := *d
	d.LastSeen = now
	switch rest {
	case "status":
		d.Status = string(payload)
		if d.Status != mqtt.Online && d.Status != mqtt.Offline {
			d.Status = "?" // not the contract's: say so, never echo it
		}
	case "state":
		var v mqtt.StateView
		if err := json.Unmarshal(payload, &v); err != nil {
			d.BadState++
			break
		}
		d.Name, d.State, d.Reason, d.Room = v.Name, v.State, v.Reason, v.Room
		d.OnAir, d.Muted = v.OnAir, v.Muted
		d.LevelDBFS = v.OutLevel.RMSDBFS
		d.Loss = v.RoomStats.Session.FractionLost
		d.RTT = time.Duration(v.RoomStats.Session.RTTNanos)
		d.Version, d.ConfigVersion = v.Version, v.ConfigVersion
	}
	after := *d
	after.LastSeen = before.LastSeen
	return after != before
}

// Devices returns a copy of every row, sorted by id.
func (t *Table) Devices() []Device {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]Device, 0, len(t.devices))
	for _, id := range slices.Sorted(maps.Keys(t.devices)) {
		out = append(out, *t.devices[id])
	}
	return out
}

// Device returns the row of id.
func (t *Table) Device(id string) (Device, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	d, ok := t.devices[id]
	if !ok {
		return Device{}, false
	}
	return *d, true
}

// Ignored counts the messages Apply ignored.
func (t *Table) Ignored() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.ignored
}
