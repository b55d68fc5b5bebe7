package gateway

import (
	"reflect"

	"github.com/onair-gateway/onair/audio/opus"
	"github.com/onair-gateway/onair/hw/gpio"
	"github.com/onair-gateway/onair/hw/sim"
	"github.com/onair-gateway/onair/net/e2ee"
	"github.com/onair-gateway/onair/net/room"
	"github.com/onair-gateway/onair/provisioning"
)

// Each unit sees the config through a view: a struct holding exactly the
// fields that unit uses, computed here and nowhere else. A config change
// compares views whole (reflect.DeepEqual), so a field added to a section a
// view holds restarts that view's unit without anyone listing it, and a
// unit is built from its view alone (view.config), so it cannot read a
// field its view lacks.

// speakView is what the speak unit uses: the board (the capture device, the
// mic geometry, the simulated talker), the audio section and the encoder's
// config. The sim's button script and keyboard are not in it: the controls
// and onaird read those; nor is audio.playback, the listen unit's.
type speakView struct {
	Board provisioning.BoardConfig
	Audio provisioning.AudioConfig
	Opus  opus.Config
}

func speakViewOf(r *provisioning.Resolved) speakView {
	v := speakView{Board: r.Board, Audio: r.Audio, Opus: r.Opus}
	v.Board.Sim.Script, v.Board.Sim.Keyboard = nil, nil
	v.Audio.Playback = provisioning.PlaybackConfig{}
	return v
}

// structural is the view without the encoder settings a running encoder
// takes (liveOpus): what a new speak unit is needed for. Every other Opus
// field (frame, channels, application, complexity, FEC, and any added
// later) needs a new encoder.
func (v speakView) structural() speakView {
	v.Opus.Bitrate, v.Opus.PacketLoss, v.Opus.DTX = 0, nil, false
	return v
}

// config returns the view as a config holding nothing else.
func (v speakView) config() *provisioning.Resolved {
	return &provisioning.Resolved{Config: provisioning.Config{Board: v.Board, Audio: v.Audio, Opus: v.Opus}}
}

// roomView is what the room unit uses: the room, the e2ee keys and policy,
// the participant name, and the track's channel count and DTX, which are
// part of its SDP.
type roomView struct {
	Room     room.Config
	E2EE     e2ee.Config
	Name     string // device.name
	Channels int    // opus.channels
	DTX      bool   // opus.dtx
	// Subscribe is audio.playback.enabled: the room's audio is received
	// only when it is played.
	Subscribe bool
}

func roomViewOf(r *provisioning.Resolved) roomView {
	return roomView{Room: r.Room, E2EE: r.E2EE, Name: r.Device.Name, Channels: r.Opus.Channels, DTX: r.Opus.DTX,
		Subscribe: r.Audio.Playback.On()}
}

func (v roomView) config() *provisioning.Resolved {
	return &provisioning.Resolved{Config: provisioning.Config{
		Room: v.Room, E2EE: v.E2EE, Device: provisioning.DeviceConfig{Name: v.Name},
		Opus:  opus.Config{Channels: v.Channels, DTX: v.DTX},
		Audio: provisioning.AudioConfig{Playback: provisioning.PlaybackConfig{Enabled: &v.Subscribe}},
	}}
}

// listenView is what the listen unit uses: the playback section, and the
// simulated board (whose speaker it opens; its script and keyboard aside).
type listenView struct {
	Playback provisioning.PlaybackConfig
	Profile  string
	Sim      sim.Config
}

func listenViewOf(r *provisioning.Resolved) listenView {
	v := listenView{Playback: r.Audio.Playback, Profile: r.Board.Profile, Sim: r.Board.Sim}
	v.Sim.Script, v.Sim.Keyboard = nil, nil
	return v
}

func (v listenView) config() *provisioning.Resolved {
	return &provisioning.Resolved{Config: provisioning.Config{
		Audio: provisioning.AudioConfig{Playback: v.Playback},
		Board: provisioning.BoardConfig{Profile: v.Profile, Sim: v.Sim},
	}}
}

// controlsView is what the controls unit uses: the buttons, LEDs and ring,
// and the simulated board's button script.
type controlsView struct {
	Controls *gpio.Config
	Script   []sim.ScriptStep
}

func controlsViewOf(r *provisioning.Resolved) controlsView {
	return controlsView{Controls: r.Controls, Script: r.Board.Sim.Script}
}

func (v controlsView) config() *provisioning.Resolved {
	return &provisioning.Resolved{Config: provisioning.Config{
		Controls: v.Controls, Board: provisioning.BoardConfig{Sim: sim.Config{Script: v.Script}},
	}}
}

// changes says which units a config change restarts, and whether the
// running encoder takes new settings instead.
type changes struct {
	speak    bool // a new speak unit
	encoder  bool // new bitrate, packet loss or DTX on the running encoder
	room     bool
	controls bool
	listen   bool
}

// plan compares each unit's view of old and nu.
func plan(old, nu *provisioning.Resolved) changes {
	os, ns := speakViewOf(old), speakViewOf(nu)
	c := changes{
		speak:    !reflect.DeepEqual(os.structural(), ns.structural()),
		room:     !reflect.DeepEqual(roomViewOf(old), roomViewOf(nu)),
		controls: !reflect.DeepEqual(controlsViewOf(old), controlsViewOf(nu)),
		listen:   !reflect.DeepEqual(listenViewOf(old), listenViewOf(nu)),
	}
	c.encoder = !c.speak && !reflect.DeepEqual(os, ns)
	return c
}
