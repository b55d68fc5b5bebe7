package gateway

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/onair-gateway/onair/conf"

	"github.com/onair-gateway/onair/net/room"
	"github.com/onair-gateway/onair/provisioning"
)

// CommandKind is what a command asks for.
type CommandKind int

// Commands, as MQTT, an operator or a test sends them.
const (
	// CmdOnAir goes on air (On true) or off air, like a latching button.
	CmdOnAir CommandKind = iota + 1
	// CmdMute mutes (On true) or unmutes.
	CmdMute
	// CmdIdentify makes the device show itself for IdentifyTime.
	CmdIdentify
	// CmdPress and CmdRelease press and release a simulated button by
	// Button name (simulated board only).
	CmdPress
	CmdRelease
	// CmdRotateKey installs Passphrase or Key at KeyIndex and encrypts with
	// it from the next frame on. Listeners who already hold the new key
	// keep hearing the device without a gap.
	CmdRotateKey
	// CmdLeave leaves the room and stays out (state idle) until CmdJoin.
	// Config changes meanwhile are recorded and take effect on the join.
	CmdLeave
	// CmdJoin joins the room again after CmdLeave; in the room it does
	// nothing.
	CmdJoin
	// CmdRestart rebuilds and restarts every unit (speak path, room,
	// controls) from the running config, as a start would.
	CmdRestart
)

// Command is one request to the gateway.
type Command struct {
	Kind   CommandKind
	On     bool
	Button string
	// KeyIndex, Passphrase and Key are for CmdRotateKey.
	KeyIndex   int
	Passphrase conf.Secret
	Key        conf.Secret
}

// Presser is hardware whose buttons a command can press (the simulated
// board): CmdPress and CmdRelease need it.
type Presser interface {
	Press(name string) error
	Release(name string) error
}

// ErrNotRunning is returned by Do and Apply when Run is not running.
var ErrNotRunning = errors.New("gateway: not running")

type request struct {
	cmd   Command
	cfg   *provisioning.Resolved
	reply chan error
}

// Do runs a command on the gateway's loop and returns its result.
func (g *Gateway) Do(ctx context.Context, c Command) error {
	return g.send(ctx, request{cmd: c})
}

// Apply replaces the running config. Each unit's view of the config is
// compared whole and only the units whose views changed restart: the speak
// path (board, audio, opus framing), the room (room, e2ee, device name,
// the track's channels and DTX) or the controls (controls, the sim's
// script); a new bitrate, packet loss or DTX goes to the running encoder.
// Every replacement is built and proven (its capture and controls opened)
// while the old units run; if any fails, nothing running is touched and
// Apply returns the error.
func (g *Gateway) Apply(ctx context.Context, r *provisioning.Resolved) error {
	if r == nil {
		return errors.New("gateway: nil config")
	}
	return g.send(ctx, request{cfg: r})
}

func (g *Gateway) send(ctx context.Context, req request) error {
	if !g.running.Load() {
		return ErrNotRunning
	}
	req.reply = make(chan error, 1)
	done := g.loopDone
	select {
	case g.cmds <- req:
	case <-ctx.Done():
		return ctx.Err()
	case <-done:
		return ErrNotRunning
	}
	select {
	case err := <-req.reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *Gateway) do(req request) error {
	if req.cfg != nil {
		return g.apply(req.cfg)
	}
	c := req.cmd
	switch c.Kind {
	case CmdOnAir:
		g.cmdOnAir = c.On
		if !c.On {
			g.toggleOn = false
		}
		g.update(fmt.Sprintf("command on-air %v", c.On))
	case CmdMute:
		g.in.muted = c.On
		g.update(fmt.Sprintf("command mute %v", c.On))
	case CmdIdentify:
		g.identify("command")
	case CmdPress, CmdRelease:
		s, ok := g.hw.(Presser)
		if !ok {
			return errors.New("gateway: buttons can be pressed by command only on the simulated board")
		}
		if c.Kind == CmdPress {
			return s.Press(c.Button)
		}
		return s.Release(c.Button)
	case CmdRotateKey:
		u := g.room.load()
		if u == nil || u.keys == nil {
			return errors.New("gateway: this room has no e2ee key to rotate; set e2ee.passphrase first")
		}
		if err := u.keys.Rotate(c.KeyIndex, c.Passphrase, c.Key); err != nil {
			return err
		}
		// The running config follows, so a reload of an unchanged file is
		// seen as an e2ee change and restores the file's key.
		next := *g.cfg
		next.E2EE.KeyIndex, next.E2EE.Passphrase, next.E2EE.Key = c.KeyIndex, c.Passphrase, c.Key
		g.cfg = &next
		g.log.Info("e2ee key rotated", "key_index", c.KeyIndex)
	case CmdLeave:
		if g.left {
			return nil
		}
		if prev := g.room.swap(nil); prev != nil {
			if err := prev.stop(g.clock.Now().Add(applyStopBudget)); err != nil {
				g.log.Warn("room stop", "err", err)
			}
		}
		g.left = true
		g.in.room, g.in.roomReason = room.StateStopped, "left the room by command"
		g.update("command leave")
	case CmdJoin:
		if !g.left {
			return nil
		}
		u, err := newRoomUnit(g.roomDeps(), roomViewOf(g.cfg))
		if err != nil {
			return fmt.Errorf("room: %w", err)
		}
		g.left = false
		g.in.room, g.in.roomReason = room.StateConnecting, "joining the room"
		g.in.policyErr = policyError(g.cfg, u.encrypted)
		g.room.store(u)
		u.start()
		g.update("command join")
	case CmdRestart:
		return g.applyWith(g.cfg, changes{speak: true, room: !g.left, controls: true, listen: true})
	default:
		return fmt.Errorf("gateway: unknown command %d", c.Kind)
	}
	return nil
}

func (g *Gateway) apply(r *provisioning.Resolved) error {
	ch := plan(g.cfg, r)
	// Out of the room by command: a new room config waits for the join.
	ch.room = ch.room && !g.left
	// The simulated speaker belongs to the board: a new board, a new
	// speaker.
	ch.listen = ch.listen || ch.speak && r.Board.Profile == "sim"
	return g.applyWith(r, ch)
}

func (g *Gateway) applyWith(r *provisioning.Resolved, ch changes) error {
	old := g.cfg

	// 1. Build and prove every replacement while the running units run
	// on: a rejected change leaves them untouched (a device on air stays
	// on air, a capture that is only good while open is never reopened).
	var nuSpeak *speakUnit
	var nuRoom *roomUnit
	var nuCtl *controlsUnit
	var nuListen *listenUnit
	deadline := func() time.Time { return g.clock.Now().Add(applyStopBudget) }
	speakHalted := false // the running speak unit let go of a busy device
	discard := func() {
		if nuSpeak != nil {
			_ = nuSpeak.stop(deadline())
		}
		if nuRoom != nil {
			_ = nuRoom.stop(deadline())
		}
		if nuCtl != nil {
			_ = nuCtl.stop(deadline())
		}
		if nuListen != nil {
			_ = nuListen.stop(deadline())
		}
	}
	kept := func(section string, err error) error {
		discard()
		if speakHalted {
			g.speak.start()
		}
		g.update("config change failed; the previous config runs")
		return fmt.Errorf("%s: %w (kept the previous config)", section, err)
	}
	var err error
	if ch.speak {
		if nuSpeak, err = newSpeakUnit(g.speakDeps(), speakViewOf(r)); err != nil {
			return err
		}
	}
	if ch.room {
		if nuRoom, err = newRoomUnit(g.roomDeps(), roomViewOf(r)); err != nil {
			discard()
			return fmt.Errorf("room: %w", err)
		}
	}
	if ch.listen && r.Audio.Playback.On() {
		if nuListen, err = newListenUnit(g.listenDeps(), listenViewOf(r)); err != nil {
			discard()
			return err
		}
	}
	// A device that can be opened once (an ALSA card, a GPIO line) is busy
	// while the old unit holds it: then the old unit lets go first and,
	// if the new one still fails, takes it back.
	if ch.speak {
		if err := nuSpeak.openCapture(); err != nil {
			if !busy(err) {
				return kept("audio", err)
			}
			if err := g.speak.halt(deadline()); err != nil {
				g.log.Warn("speak stop", "err", err)
			}
			speakHalted = true
			if err := nuSpeak.openCapture(); err != nil {
				return kept("audio", err)
			}
		}
	}
	if ch.controls {
		nuCtl, err = openControls(g.controlsDeps(), controlsViewOf(r))
		if err != nil && busy(err) {
			if err := g.controls.stop(deadline()); err != nil {
				g.log.Warn("controls stop", "err", err)
			}
			g.controls = nil
			if nuCtl, err = openControls(g.controlsDeps(), controlsViewOf(r)); err != nil {
				g.restoreControls(old)
			}
		}
		if err != nil {
			return kept("controls", err)
		}
	}

	// The output is proven after the capture: the simulated board's
	// speaker is the new board's. A card opened once is let go first.
	listenHalted := false
	if nuListen != nil {
		if err := nuListen.openSink(); err != nil {
			if !busy(err) || g.listen == nil {
				return kept("audio.playback", err)
			}
			if err := g.listen.stop(deadline()); err != nil {
				g.log.Warn("listen stop", "err", err)
			}
			listenHalted = true
			if err := nuListen.openSink(); err != nil {
				g.restartListen(old)
				return kept("audio.playback", err)
			}
		}
	}

	// 2. Swap: stop each old unit and start its replacement. Nothing here
	// fails for config reasons.
	var applied []string
	if ch.speak {
		if err := g.speak.stop(deadline()); err != nil {
			g.log.Warn("speak stop", "err", err)
		}
		g.speak = nuSpeak
		g.encRef.p.Store(nuSpeak.enc)
		nuSpeak.start()
		applied = append(applied, "speak path")
	}
	if ch.controls {
		if err := g.controls.stop(deadline()); err != nil {
			g.log.Warn("controls stop", "err", err)
		}
		g.controls = nuCtl
		g.gestures = newGestures(g.clock, nuCtl.buttons())
		g.ptt = map[string]bool{}
		nuCtl.start()
		applied = append(applied, "controls")
	}
	if ch.listen {
		if g.listen != nil && !listenHalted {
			if err := g.listen.stop(deadline()); err != nil {
				g.log.Warn("listen stop", "err", err)
			}
		}
		g.listen = nuListen
		if nuListen != nil {
			nuListen.start()
		}
		applied = append(applied, "listen path")
	}
	if ch.encoder {
		enc := g.speak.enc
		if err := errors.Join(enc.SetBitrate(r.Opus.Bitrate), enc.SetPacketLoss(*r.Opus.PacketLoss), enc.SetDTX(r.Opus.DTX)); err != nil {
			g.log.Warn("opus settings", "err", err)
		}
		applied = append(applied, "opus settings")
	}
	if ch.room {
		if prev := g.room.swap(nil); prev != nil {
			if err := prev.stop(deadline()); err != nil {
				g.log.Warn("room stop", "err", err)
			}
		}
		g.in.room, g.in.roomReason = room.StateConnecting, "joining with the new config"
		g.in.policyErr = policyError(r, nuRoom.encrypted)
		g.room.store(nuRoom)
		nuRoom.start()
		applied = append(applied, "room")
	}
	if !reflect.DeepEqual(old.MQTT, r.MQTT) || !reflect.DeepEqual(old.HTTP, r.HTTP) {
		g.log.Warn("mqtt and http changes take effect when onaird restarts")
	}
	g.cfg = r
	g.log.Info("config applied", "restarted", applied)
	g.update("config applied")
	return nil
}

// restartListen starts the listen unit of old again after the new one
// failed where the old had to let go of its output first.
func (g *Gateway) restartListen(old *provisioning.Resolved) {
	g.listen = nil
	u, err := newListenUnit(g.listenDeps(), listenViewOf(old))
	if err != nil {
		g.log.Error("listen path lost", "err", err)
		return
	}
	g.listen = u
	u.start()
}

// restoreControls opens the controls of old again after the new ones
// failed where the old had to let go first.
func (g *Gateway) restoreControls(old *provisioning.Resolved) {
	back, err := openControls(g.controlsDeps(), controlsViewOf(old))
	if err != nil {
		g.log.Error("controls lost: the previous config does not open again either", "err", err)
		return
	}
	back.start()
	g.controls = back
	g.gestures = newGestures(g.clock, back.buttons())
	g.ptt = map[string]bool{}
}
