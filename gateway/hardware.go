package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/dsp"
	"github.com/onair-gateway/onair/hw/alsa"
	"github.com/onair-gateway/onair/hw/gpio"
	"github.com/onair-gateway/onair/hw/sim"
	"github.com/onair-gateway/onair/provisioning"
)

// Hardware opens a board's capture, playback and controls. The gateway
// calls OpenSource and OpenSink again, with backoff, when a device
// vanishes.
type Hardware interface {
	// OpenSource opens the capture for a config.
	OpenSource(r *provisioning.Resolved) (audio.Source, error)
	// OpenSink opens the playback for a config (audio.playback).
	OpenSink(r *provisioning.Resolved) (audio.Sink, error)
	// OpenControls opens the buttons, LEDs and ring (nil Controls when the
	// board has none). The returned Controls' Buttons must be run by the
	// caller.
	OpenControls(r *provisioning.Resolved, clock clockwork.Clock) (*gpio.Controls, error)
}

// NewHardware returns the Hardware for a config's board: the simulated
// board for profile sim, real ALSA and GPIO otherwise.
func NewHardware(r *provisioning.Resolved, log *slog.Logger) Hardware {
	if r.Board.Profile == "sim" {
		return &SimHardware{log: log}
	}
	return &BoardHardware{log: log}
}

// BoardHardware is a real board: ALSA capture and periph GPIO/SPI.
type BoardHardware struct{ log *slog.Logger }

// OpenSource implements Hardware.
func (h *BoardHardware) OpenSource(r *provisioning.Resolved) (audio.Source, error) {
	return alsa.OpenCapture(r.Audio.Capture, h.log)
}

// OpenSink implements Hardware: ALSA playback of audio.playback.
func (h *BoardHardware) OpenSink(r *provisioning.Resolved) (audio.Sink, error) {
	p, err := alsa.OpenPlayback(r.Audio.Playback.ALSA(), h.log)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// OpenControls implements Hardware.
func (h *BoardHardware) OpenControls(r *provisioning.Resolved, clock clockwork.Clock) (*gpio.Controls, error) {
	if r.Controls == nil || (len(r.Controls.Buttons) == 0 && len(r.Controls.LEDs) == 0 && r.Controls.Ring == nil) {
		return nil, nil
	}
	return gpio.Open(*r.Controls, clock, h.log)
}

// SimHardware is the simulated board: a talker rendered into the mic array,
// and gpiotest pins behind the real button and LED logic, pressed by the
// config's script or by Press and Release. Besides Hardware it implements
// the gateway's optional Presser, Scripter and ButtonWaker.
type SimHardware struct {
	log   *slog.Logger
	mu    sync.Mutex
	pins  *sim.Pins     // of the controls opened last
	board *sim.Board    // opened last
	first chan struct{} // closed when the first board opens
}

// OpenSource implements Hardware. The simulated capture paces itself on
// the real clock, as a sound card does, whatever clock the gateway runs on.
func (h *SimHardware) OpenSource(r *provisioning.Resolved) (audio.Source, error) {
	opts := sim.Options{LineIn: r.Audio.Processing.Beam == dsp.BeamStereo, AlignMarks: true}
	b, err := sim.New(r.Board.Sim, r.Board.Geometry, r.Audio.Capture.AudioFormat(), opts, h.log)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	if h.board == nil && h.first != nil {
		close(h.first)
	}
	h.board = b
	h.mu.Unlock()
	return b, nil
}

// OpenSink implements Hardware: the speaker of the board OpenSource opened
// last, whose sound reaches its mics through board.sim.echo and is written
// to board.sim.playback_file. It fails while no board is open (the speak
// unit opens it; the listen unit retries) and once that board is closed.
func (h *SimHardware) OpenSink(r *provisioning.Resolved) (audio.Sink, error) {
	h.mu.Lock()
	b, first := h.board, h.first
	if first == nil {
		first = make(chan struct{})
		h.first = first
	}
	h.mu.Unlock()
	if b == nil {
		// The speak unit opens the board on its own goroutine, at start.
		select {
		case <-first:
		case <-time.After(2 * time.Second):
			return nil, errors.New("sim: the board is not open")
		}
		h.mu.Lock()
		b = h.board
		h.mu.Unlock()
	}
	s, err := b.Speaker(r.Audio.Playback.ALSA().AudioFormat())
	if err != nil {
		return nil, err
	}
	return s, nil
}

// OpenControls implements Hardware. The pins become the ones Press,
// Release, RunScript and Pins use once the controls open; a config whose
// controls do not open leaves the previous pins in place.
func (h *SimHardware) OpenControls(r *provisioning.Resolved, clock clockwork.Clock) (*gpio.Controls, error) {
	var cfg gpio.Config
	if r.Controls != nil {
		cfg = *r.Controls
	}
	pins := sim.NewPins(cfg, clock)
	c, err := gpio.NewControls(cfg, pins.Hardware(), clock, h.log)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	h.pins = pins
	h.mu.Unlock()
	return c, nil
}

// Press presses a simulated button by name (Presser).
func (h *SimHardware) Press(name string) error {
	p := h.Pins()
	if p == nil {
		return fmt.Errorf("sim: controls are not open")
	}
	return p.Press(name)
}

// Release releases a simulated button by name (Presser).
func (h *SimHardware) Release(name string) error {
	p := h.Pins()
	if p == nil {
		return fmt.Errorf("sim: controls are not open")
	}
	return p.Release(name)
}

// Pins returns the simulated pins (nil before OpenControls).
func (h *SimHardware) Pins() *sim.Pins {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.pins
}

// RunScript plays the config's button script (Scripter).
func (h *SimHardware) RunScript(ctx context.Context, r *provisioning.Resolved, clock clockwork.Clock) error {
	p := h.Pins()
	if p == nil || len(r.Board.Sim.Script) == 0 {
		return nil
	}
	return p.RunScript(ctx, r.Board.Sim.Script, clock)
}

// ButtonWaker returns what unblocks the button waits of the controls
// opened last (ButtonWaker): gpiotest pins cannot be halted.
func (h *SimHardware) ButtonWaker() func() {
	if p := h.Pins(); p != nil {
		return p.Wake
	}
	return nil
}

var (
	_ Presser     = (*SimHardware)(nil)
	_ Scripter    = (*SimHardware)(nil)
	_ ButtonWaker = (*SimHardware)(nil)
)
