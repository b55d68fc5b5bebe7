package gateway

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/onair-gateway/onair/conf"

	"github.com/onair-gateway/onair/audio/opus"
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

// Apply replaces the running config. Sections are compared as wholes and
// only the units whose sections changed restart: the speak path (board,
// audio, opus framing), the room (room, e2ee, device) or the controls. A new
// section that fails to start is rolled back: the unit runs on again with
// the last good config and Apply returns the error.
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
		s, ok := g.hw.(*SimHardware)
		if !ok {
			return errors.New("gateway: buttons can be pressed by command only on the simulated board")
		}
		if c.Kind == CmdPress {
			return s.Press(c.Button)
		}
		return s.Release(c.Button)
	case CmdRotateKey:
		u := g.roomNow.Load()
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
	default:
		return fmt.Errorf("gateway: unknown command %d", c.Kind)
	}
	return nil
}

// opusStructural reports whether an Opus change needs a new encoder (frame
// size, channels, application) rather than a ctl on the running one.
func opusStructural(a, b opus.Config) bool {
	return a.Application != b.Application || a.Frame != b.Frame || a.Channels != b.Channels ||
		*a.Complexity != *b.Complexity || *a.FEC != *b.FEC
}

// speakBoard is the board config as the speak path sees it: without the
// sim's button script, which belongs to the controls.
func speakBoard(b provisioning.BoardConfig) provisioning.BoardConfig {
	b.Sim.Script = nil
	return b
}

func (g *Gateway) apply(r *provisioning.Resolved) error {
	old := g.cfg
	speakChanged := !sectionsEqual(speakBoard(old.Board), speakBoard(r.Board)) || !sectionsEqual(old.Audio, r.Audio) || opusStructural(old.Opus, r.Opus)
	// The room publishes a track whose channel count and DTX are part of
	// its SDP: a change there needs a new session too.
	roomChanged := !sectionsEqual(old.Room, r.Room) || !sectionsEqual(old.E2EE, r.E2EE) || !sectionsEqual(old.Device, r.Device) ||
		old.Opus.Channels != r.Opus.Channels || old.Opus.DTX != r.Opus.DTX
	ctlChanged := !sectionsEqual(old.Controls, r.Controls) || !sectionsEqual(old.Board.Sim.Script, r.Board.Sim.Script)

	// 1. Build everything that can fail for config reasons; nothing
	// running is touched yet.
	var nuSpeak *speakUnit
	var nuRoom *roomUnit
	var err error
	if speakChanged {
		if nuSpeak, err = buildSpeak(r); err != nil {
			return err
		}
	}
	if roomChanged {
		if nuRoom, err = g.buildRoom(r); err != nil {
			if nuSpeak != nil {
				nuSpeak.enc.Close()
			}
			return fmt.Errorf("room: %w", err)
		}
	}

	// 2. Swap the units, recording each section as it lands, so that a
	// later failure leaves g.cfg saying exactly what runs. What can fail
	// goes first: the speak path (opening the new capture device is what
	// fails most, a wrong card), then the controls (pins). When the capture
	// fails nothing else has been touched: the controls keep their state
	// and a device on air stays on air.
	next := *old
	var applied []string
	fail := func(section string, err error) error {
		g.cfg = &next
		if len(applied) == 0 {
			g.update("config change failed; the previous config runs")
			return fmt.Errorf("%s: %w (kept the previous config)", section, err)
		}
		g.update("config partly applied")
		return fmt.Errorf("%s: %w (applied %v; kept the previous %s)", section, err, applied, section)
	}
	if speakChanged {
		if err := g.swapSpeak(old, r, nuSpeak); err != nil {
			return fail("audio", err)
		}
		next.Board, next.Audio, next.Opus = r.Board, r.Audio, r.Opus
		next.Board.Sim.Script = old.Board.Sim.Script // the controls' part, below
		applied = append(applied, "speak path")
	}
	if ctlChanged {
		deadline := time.Now().Add(applyStopBudget)
		if err := g.controls.stop(deadline); err != nil {
			g.log.Warn("controls stop", "err", err)
		}
		ctl, err := g.startControls(r, g.buttons)
		if err != nil {
			back, err2 := g.startControls(old, g.buttons)
			if err2 != nil {
				g.log.Error("controls lost: the previous config does not open again either", "err", err2)
				back = nil
			}
			g.controls = back
			g.ptt = map[string]bool{}
			return fail("controls", err)
		}
		g.controls = ctl
		g.ptt = map[string]bool{}
		next.Controls, next.Board.Sim.Script = r.Controls, r.Board.Sim.Script
		applied = append(applied, "controls")
	}
	if !speakChanged && !sectionsEqual(old.Opus, r.Opus) {
		enc := g.speak.enc
		if err := errors.Join(enc.SetBitrate(r.Opus.Bitrate), enc.SetPacketLoss(*r.Opus.PacketLoss), enc.SetDTX(r.Opus.DTX)); err != nil {
			return fail("opus", err)
		}
		next.Opus = r.Opus
		applied = append(applied, "opus settings")
	}
	if roomChanged {
		if prev := g.roomNow.Swap(nil); prev != nil {
			if err := prev.stop(time.Now().Add(applyStopBudget)); err != nil {
				g.log.Warn("room stop", "err", err)
			}
		}
		g.in.room, g.in.roomReason = room.StateConnecting, "joining with the new config"
		g.in.policyErr = policyError(r, nuRoom.encrypted)
		g.roomNow.Store(nuRoom)
		nuRoom.start(g)
		next.Room, next.E2EE, next.Device, next.Opus = r.Room, r.E2EE, r.Device, r.Opus
		applied = append(applied, "room")
	}
	if !sectionsEqual(old.MQTT, r.MQTT) || !sectionsEqual(old.HTTP, r.HTTP) {
		g.log.Warn("mqtt and http changes take effect when onaird restarts")
	}
	next.MQTT, next.HTTP = r.MQTT, r.HTTP
	g.cfg = &next
	g.log.Info("config applied", "restarted", applied)
	g.update("config applied")
	return nil
}

// swapSpeak replaces the speak path with nu, built from r. The old capture
// is released first, because a sound card can be opened once; the new one
// is opened once synchronously. If that fails, the old speak path is
// started again and the error returned.
func (g *Gateway) swapSpeak(old, r *provisioning.Resolved, nu *speakUnit) error {
	if err := g.speak.stop(time.Now().Add(applyStopBudget)); err != nil {
		g.log.Warn("speak stop", "err", err)
	}
	probe, err := g.hw.OpenSource(r)
	if err != nil {
		nu.enc.Close()
		back, err2 := buildSpeak(old)
		if err2 != nil {
			// Nothing captures now: say so rather than look live.
			g.in.captureErr = "capture: the previous audio config does not start again: " + err2.Error()
			return errors.Join(err, err2)
		}
		g.speak = back
		g.encRef.p.Store(back.enc)
		back.start(g, old, g.reportCapture)
		return fmt.Errorf("open capture %q: %w", r.Audio.Capture.Device, err)
	}
	probe.Close()
	g.speak = nu
	g.encRef.p.Store(nu.enc)
	nu.start(g, r, g.reportCapture)
	return nil
}
