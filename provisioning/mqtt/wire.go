// Package mqtt is the device's MQTT agent: it publishes availability,
// state and the running config, takes config patches and commands, and
// announces the device to Home Assistant. This file is the wire contract
// (topics and payloads) that tools outside the project rely on; onairctl's
// fleet commands use the same types.
package mqtt

import (
	"encoding/json"
	"strings"
)

// Availability payloads on <prefix>/<id>/status.
const (
	Online  = "online"
	Offline = "offline"
)

// MaxPayload bounds an incoming payload.
const MaxPayload = 64 << 10

// Command names under <prefix>/<id>/cmd/<name>.
const (
	CmdOnAir     = "onair"
	CmdMute      = "mute"
	CmdIdentify  = "identify"
	CmdJoin      = "join"
	CmdLeave     = "leave"
	CmdRestart   = "restart"
	CmdRotateKey = "rotate_key"
)

// Commands lists every command name.
var Commands = []string{CmdOnAir, CmdMute, CmdIdentify, CmdJoin, CmdLeave, CmdRestart, CmdRotateKey}

// Topics are one device's topics.
type Topics struct {
	// Prefix is mqtt.topic_prefix (default "onair"); ID is device.id.
	Prefix, ID string
}

func (t Topics) base() string { return t.Prefix + "/" + t.ID }

// Status is availability: retained "online", or "offline" (the Last Will).
func (t Topics) Status() string { return t.base() + "/status" }

// State is the retained JSON state.
func (t Topics) State() string { return t.base() + "/state" }

// Config is the retained running config, secrets redacted.
func (t Topics) Config() string { return t.base() + "/config" }

// ConfigSet takes a ConfigSet request.
func (t Topics) ConfigSet() string { return t.base() + "/config/set" }

// ConfigResult carries a ConfigResult.
func (t Topics) ConfigResult() string { return t.base() + "/config/result" }

// Cmd takes a command request.
func (t Topics) Cmd(name string) string { return t.base() + "/cmd/" + name }

// CmdResult carries a CmdResult.
func (t Topics) CmdResult() string { return t.base() + "/cmd/result" }

// DiscoveryTopic is Home Assistant's device-based discovery topic.
func DiscoveryTopic(discoveryPrefix, id string) string {
	return discoveryPrefix + "/device/" + id + "/config"
}

// SplitTopic returns the device id and the rest of a topic under prefix
// ("onair/dev1/state" → "dev1", "state"), or ok false.
func SplitTopic(prefix, topic string) (id, rest string, ok bool) {
	s, found := strings.CutPrefix(topic, prefix+"/")
	if !found {
		return "", "", false
	}
	id, rest, ok = strings.Cut(s, "/")
	return id, rest, ok && id != ""
}

// ConfigSet is a request on <id>/config/set.
type ConfigSet struct {
	// ID is the request id, echoed in the result.
	ID string `json:"id"`
	// Version, when set, must be above the device's current config
	// version; a lower or equal one is rejected as stale.
	Version *int64 `json:"version,omitempty"`
	// Config is a JSON Merge Patch (RFC 7396) over the running config.
	Config json.RawMessage `json:"config"`
	// Force allows a patch that changes how the device reaches the broker.
	Force bool `json:"force,omitempty"`
}

// FieldError is one problem with a patch.
type FieldError struct {
	// Path is the config key ("room.url"), or "" for the payload itself.
	Path    string `json:"path"`
	Message string `json:"message"`
}

// ConfigResult answers a ConfigSet on <id>/config/result.
type ConfigResult struct {
	ID string `json:"id"`
	OK bool   `json:"ok"`
	// Version is the config version after the request (unchanged when it
	// failed).
	Version int64 `json:"version"`
	// Applied names the sections restarted.
	Applied []string `json:"applied"`
	// Errors lists every problem; empty when OK.
	Errors []FieldError `json:"errors"`
}

// CmdRequest is the common part of a command payload; arguments follow in
// the same object (onair {"on": true}, rotate_key {"index", "passphrase"
// or "key"}).
type CmdRequest struct {
	ID string `json:"id"`
}

// CmdResult answers a command on <id>/cmd/result.
type CmdResult struct {
	ID    string `json:"id"`
	Cmd   string `json:"cmd"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// StateView is the part of the state payload that fleet tools read. The
// payload holds more (all of GET /status): decode what you need.
type StateView struct {
	Device    string `json:"device"`
	Name      string `json:"name"`
	State     string `json:"state"`
	Reason    string `json:"reason"`
	OnAir     bool   `json:"on_air"`
	Muted     bool   `json:"muted"`
	Encrypted bool   `json:"encrypted"`
	Room      string `json:"room"`
	Backend   string `json:"backend"`
	RoomStats struct {
		Session struct {
			RTTNanos     int64   `json:"rtt_ns"`
			FractionLost float64 `json:"fraction_lost"`
		} `json:"session"`
	} `json:"room_stats"`
	OutLevel struct {
		PeakDBFS float64 `json:"peak_dbfs"`
		RMSDBFS  float64 `json:"rms_dbfs"`
	} `json:"out_level"`
	Version       string  `json:"version"`
	Board         string  `json:"board"`
	UptimeSeconds float64 `json:"uptime_s"`
	ConfigVersion int64   `json:"config_version"`
}
