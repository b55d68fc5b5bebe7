package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	pgpio "periph.io/x/conn/v3/gpio"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/pipeline"
	"github.com/onair-gateway/onair/conf"
	"github.com/onair-gateway/onair/net/e2ee"
	"github.com/onair-gateway/onair/net/room"
	"github.com/onair-gateway/onair/net/room/roomtest"
	"github.com/onair-gateway/onair/provisioning"
)

func TestDerive(t *testing.T) {
	cases := []struct {
		name string
		in   inputs
		want State
		open bool
	}{
		{"not started", inputs{}, StateIdle, false},
		{"joining", inputs{started: true, room: room.StateConnecting, wantOnAir: true}, StateJoining, false},
		{"live", inputs{started: true, room: room.StateConnected}, StateLive, false},
		{"ptt held", inputs{started: true, room: room.StateConnected, wantOnAir: true}, StateOnAir, true},
		{"muted beats ptt", inputs{started: true, room: room.StateConnected, wantOnAir: true, muted: true}, StateMuted, false},
		{"server mute beats ptt", inputs{started: true, room: room.StatePermissionDenied, wantOnAir: true}, StateMuted, false},
		{"reconnecting", inputs{started: true, room: room.StateReconnecting, wantOnAir: true}, StateDegraded, false},
		{"bad token", inputs{started: true, room: room.StateError}, StateError, false},
		{"capture gone", inputs{started: true, room: room.StateConnected, wantOnAir: true, captureErr: "gone"}, StateError, false},
		{"e2ee policy", inputs{started: true, room: room.StateConnected, wantOnAir: true, policyErr: "no"}, StateError, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, reason, open := derive(c.in)
			if st != c.want || open != c.open || reason == "" {
				t.Errorf("derive = %s %q open=%v, want %s open=%v", st, reason, open, c.want, c.open)
			}
		})
	}
}

const simDoc = `
device: {id: gw-test}
board:
  profile: sim
  sim: {signal: tone, frequency: 1000, level: -12, snr: 50}
room: {url: "ws://127.0.0.1:1", api_key: k, api_secret: s, room: gw}
opus: {dtx: true}
`

func resolve(t *testing.T, doc string) *provisioning.Resolved {
	t.Helper()
	r, err := provisioning.Decode([]byte(doc), provisioning.YAML)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// waitFor polls cond until it holds or 5 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

type harness struct {
	g     *Gateway
	hw    *SimHardware
	room  *roomtest.Room
	clock *clockwork.FakeClock
	stop  func()
}

func startHarness(t *testing.T, doc string) *harness {
	t.Helper()
	return startHarnessWith(t, doc, testLogger(t), nil, nil)
}

// startHarnessWith is startHarness with a logger of the test's and, when
// rooms is not nil, its own rooms (the harness then waits for no state);
// wrap, when not nil, makes the gateway's Hardware from the sim board.
func startHarnessWith(t *testing.T, doc string, log *slog.Logger, rooms RoomFactory, wrap func(*SimHardware) Hardware) *harness {
	t.Helper()
	r := resolve(t, doc)
	clock := clockwork.NewFakeClock()
	hw := &SimHardware{log: log}
	tr := roomtest.NewLiveRoom(8)
	wait := rooms == nil
	if rooms == nil {
		rooms = func(*provisioning.Resolved, *e2ee.Keys, *slog.Logger) (room.Room, bool, error) { return tr, false, nil }
	}
	var ghw Hardware = hw
	if wrap != nil {
		ghw = wrap(hw)
	}
	g, err := New(r, Options{Hardware: ghw, Clock: clock, Log: log, Rooms: rooms})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	h := &harness{g: g, hw: hw, room: tr, clock: clock}
	h.stop = func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	t.Cleanup(func() {
		select {
		case <-ctx.Done():
		default:
			h.stop()
		}
	})
	if wait {
		waitFor(t, "live", func() bool { return g.Status().State == StateLive })
	} else {
		waitFor(t, "joining", func() bool { return g.Status().State == StateJoining })
	}
	return h
}

// stepUntil steps the fake clock by d until cond holds, at most n steps.
func (h *harness) stepUntil(t *testing.T, what string, d time.Duration, n int, cond func() bool) {
	t.Helper()
	for i := 0; !cond(); i++ {
		if i >= n {
			t.Fatalf("%s did not happen within %v", what, time.Duration(n)*d)
		}
		h.step(d)
		// Under -race on a loaded machine yielding may not run the
		// button goroutines at all: give them a moment of real time
		// (not a wait for the clock, which only the test advances).
		for j := 0; j < 10 && !cond(); j++ {
			time.Sleep(200 * time.Microsecond)
		}
	}
}

// sync makes a round trip through the gateway's loop: every event sent
// before it has been handled.
func (h *harness) sync(t *testing.T) {
	t.Helper()
	if err := h.g.Do(context.Background(), Command{Kind: CmdMute, On: false}); err != nil {
		t.Fatal(err)
	}
}

// step advances the fake clock by d and lets the goroutines it woke run
// (yielding, not sleeping: nothing here waits on real time).
func (h *harness) step(d time.Duration) {
	h.clock.Advance(d)
	for range 20 {
		runtime.Gosched()
	}
}

// button presses (or releases) the simulated PTT. The real hw/gpio
// debouncer runs on the fake clock, which the test steps in 2 ms increments
// until the gateway has seen the event.
func (h *harness) button(t *testing.T, down bool, want State) {
	t.Helper()
	var err error
	if down {
		err = h.hw.Press("ptt")
	} else {
		err = h.hw.Release("ptt")
	}
	if err != nil {
		t.Fatal(err)
	}
	h.advanceUntil(t, string(want), func() bool { return h.g.Status().State == want })
}

// advanceUntil steps the fake clock by 2 ms, yielding 20 times between
// steps for the button goroutines to run, until cond holds (at most 2 s of
// fake time and 5 s of real time).
func (h *harness) advanceUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for i := 0; !cond(); i++ {
		if i > 1000*20 || time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		if i%20 == 0 {
			h.clock.Advance(2 * time.Millisecond)
		}
		runtime.Gosched() // let the button goroutine run
	}
}

func tally(t *testing.T, h *harness) pgpio.Level {
	l, ok := h.hw.Pins().Level("GPIO22") // the sim profile's tally output
	if !ok {
		t.Fatal("no tally pin")
	}
	return l
}

func TestPTTOpensGateAndTally(t *testing.T) {
	h := startHarness(t, simDoc)
	if h.g.speak.sp.Chain.OnAir() || tally(t, h) != pgpio.Low {
		t.Fatal("on air before any press")
	}
	h.button(t, true, StateOnAir)
	if !h.g.speak.sp.Chain.OnAir() {
		t.Fatal("state on air but the gate is closed")
	}
	// The fade (10 ms) completes within one 10 ms capture frame of audio.
	waitFor(t, "gate fully open", func() bool { return h.g.speak.sp.Chain.GateOpen() == 1 })
	if tally(t, h) != pgpio.High {
		t.Error("tally off while on air")
	}
	h.button(t, false, StateLive)
	if h.g.speak.sp.Chain.OnAir() {
		t.Error("gate still open after release")
	}
	waitFor(t, "tally off", func() bool { return tally(t, h) == pgpio.Low })
}

func TestServerMuteGoesOffAir(t *testing.T) {
	h := startHarness(t, simDoc)
	sess := <-h.room.Joined
	h.button(t, true, StateOnAir)
	sess.SetDenied(true)
	sess.Emit(room.Event{Kind: room.EventPublishDenied, Reason: "muted by server"})
	waitFor(t, "muted by the server", func() bool { return h.g.Status().State == StateMuted })
	if h.g.speak.sp.Chain.OnAir() {
		t.Error("gate open while the server mutes the device")
	}
	waitFor(t, "tally off", func() bool { return tally(t, h) == pgpio.Low })
	sess.SetDenied(false)
	sess.Emit(room.Event{Kind: room.EventPublishAllowed})
	waitFor(t, "back on air (PTT still held)", func() bool { return h.g.Status().State == StateOnAir })
}

func TestCommandsAndMute(t *testing.T) {
	h := startHarness(t, simDoc)
	ctx := context.Background()
	if err := h.g.Do(ctx, Command{Kind: CmdOnAir, On: true}); err != nil {
		t.Fatal(err)
	}
	if s := h.g.Status(); s.State != StateOnAir || !s.OnAir {
		t.Fatalf("after on-air command: %+v", s.State)
	}
	if err := h.g.Do(ctx, Command{Kind: CmdMute, On: true}); err != nil {
		t.Fatal(err)
	}
	if s := h.g.Status(); s.State != StateMuted || s.OnAir {
		t.Fatalf("after mute: %s", s.State)
	}
	if err := h.g.Do(ctx, Command{Kind: CmdPress, Button: "nosuch"}); err == nil {
		t.Error("pressing an unknown button succeeded")
	}
	h.stop()
	if err := h.g.Do(ctx, Command{Kind: CmdIdentify}); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Do after stop = %v", err)
	}
}

// TestApplyKeepsRunningOnBadChange: a change whose capture cannot open is
// rolled back, and audio keeps flowing on the last good config.
func TestApplyKeepsRunningOnBadChange(t *testing.T) {
	h := startHarness(t, simDoc)
	ctx := context.Background()
	before := h.g.speak.stats().Frames
	waitFor(t, "frames", func() bool { return h.g.speak.stats().Frames > before+5 })
	bad := resolve(t, simDoc+"\n")
	bad.Board.Sim.Signal, bad.Board.Sim.File = "wav", "/nonexistent/speech.wav"
	err := h.g.Apply(ctx, bad)
	if err == nil {
		t.Fatal("a change to a missing WAV file was accepted")
	}
	n := h.g.speak.stats().Frames
	waitFor(t, "frames after the rejected change", func() bool { return h.g.speak.stats().Frames > n+5 })
	if h.g.cfg.Board.Sim.Signal != "tone" {
		t.Errorf("config switched to %q despite the error", h.g.cfg.Board.Sim.Signal)
	}
	// A good change to the Opus bitrate alone needs no restart.
	good := resolve(t, simDoc+"\n")
	good.Opus.Bitrate = 24000
	speak := h.g.speak
	if err := h.g.Apply(ctx, good); err != nil {
		t.Fatal(err)
	}
	if h.g.speak != speak {
		t.Error("a bitrate change restarted the speak path")
	}
	// A room change restarts only the room.
	moved := resolve(t, simDoc+"\n")
	moved.Room.Room = "elsewhere"
	if err := h.g.Apply(ctx, moved); err != nil {
		t.Fatal(err)
	}
	if h.g.speak != speak {
		t.Error("a room change restarted the speak path")
	}
	<-h.room.Joined
	<-h.room.Joined
	waitFor(t, "live in the new room", func() bool { return h.g.Status().State == StateLive })
}

// TestFailedCaptureChangeStaysOnAir: a change that moves both the capture
// (to a file that cannot open) and the controls fails on the capture before
// the controls are touched: the held PTT still counts, the device stays on
// air, and the running config is the old one.
func TestFailedCaptureChangeStaysOnAir(t *testing.T) {
	h := startHarness(t, simDoc)
	h.button(t, true, StateOnAir)
	before := h.g.cfg.Controls
	bad := resolve(t, simDoc+"controls:\n  leds: [{pin: GPIO23, role: tally}]\n")
	bad.Board.Sim.Signal, bad.Board.Sim.File = "wav", "/nonexistent/speech.wav"
	err := h.g.Apply(context.Background(), bad)
	if err == nil || !strings.Contains(err.Error(), "kept the previous config") {
		t.Fatalf("Apply = %v", err)
	}
	if s := h.g.Status(); s.State != StateOnAir || !s.OnAir {
		t.Errorf("state %s after a failed capture change, want onair", s.State)
	}
	if got := h.g.cfg.Controls; !reflect.DeepEqual(got, before) {
		t.Errorf("controls changed to %+v by a rejected change", got)
	}
	if tally(t, h) != pgpio.High {
		t.Error("tally off after a failed capture change")
	}
	h.button(t, false, StateLive)
}

func passphraseSecret(s string) conf.Secret { return conf.Secret(s) }

// TestStaleRoomReportIgnored: a room unit being replaced may still report
// (a late "stopped"); it must not overwrite the current room's state.
func TestStaleRoomReportIgnored(t *testing.T) {
	h := startHarness(t, simDoc)
	stale := &roomUnit{done: make(chan struct{})}
	h.g.onRoomState(stale, room.StateChange{State: room.StateStopped, Reason: "stopped"})
	if err := h.g.Do(context.Background(), Command{Kind: CmdIdentify}); err != nil {
		t.Fatal(err) // a round trip through the loop
	}
	if s := h.g.Status().State; s != StateLive {
		t.Fatalf("a stale unit's report changed the state to %s", s)
	}
}

// TestRejectedControlsChangeKeepsEverything: a controls change that cannot
// open (an LED ring on the simulated board, which has no SPI) is rolled
// back: nothing else in the same change is applied, the running config is
// unchanged, and the tally still follows the state.
func TestRejectedControlsChangeKeepsEverything(t *testing.T) {
	h := startHarness(t, simDoc)
	ctx := context.Background()
	if err := h.g.Do(ctx, Command{Kind: CmdOnAir, On: true}); err != nil {
		t.Fatal(err)
	}
	bad := resolve(t, simDoc+"controls:\n  leds: [{pin: GPIO22, role: tally}]\n  ring: {spi: SPI0.0, leds: 12}\n")
	bad.Opus.Bitrate = 24000
	err := h.g.Apply(ctx, bad)
	if err == nil || !strings.Contains(err.Error(), "controls") || !strings.Contains(err.Error(), "kept the previous config") {
		t.Fatalf("Apply = %v", err)
	}
	if h.g.cfg.Opus.Bitrate != 32000 || h.g.cfg.Controls.Ring != nil {
		t.Errorf("a rejected change was partly recorded: bitrate %d, ring %v", h.g.cfg.Opus.Bitrate, h.g.cfg.Controls.Ring)
	}
	if s := h.g.Status(); s.State != StateOnAir || !s.OnAir {
		t.Fatalf("state after the rejected change: %s", s.State)
	}
	waitFor(t, "tally on again", func() bool { return tally(t, h) == pgpio.High })
}

// TestApplySimScript: a new button script on the sim board restarts the
// controls (and only them) and plays: the device goes on air by itself.
func TestApplySimScript(t *testing.T) {
	h := startHarness(t, simDoc)
	waitFor(t, "capture running", func() bool { return h.g.speak.stats().Frames > 10 })
	frames, speak := h.g.speak.stats().Frames, h.g.speak
	r := resolve(t, strings.Replace(simDoc, "snr: 50}", "snr: 50, script: [{at: 10ms, action: press}]}", 1))
	if err := h.g.Apply(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	h.advanceUntil(t, "on air by the new script", func() bool { return h.g.Status().OnAir })
	if got := h.g.cfg.Board.Sim.Script; len(got) != 1 {
		t.Errorf("running config's script %v", got)
	}
	// The speak path kept running: its frame count did not restart.
	h.sync(t)
	if h.g.speak != speak {
		t.Fatal("the speak path restarted")
	}
	waitFor(t, "frames counting on", func() bool { return h.g.speak.stats().Frames > frames })
}

// TestSinkSkipsCaptureGaps: when packet positions jump (frames dropped
// before encoding), the sink advances the session's RTP clock by the gap.
func TestSinkSkipsCaptureGaps(t *testing.T) {
	h := startHarness(t, simDoc)
	sess := <-h.room.Joined
	sink := &sinkTo{clock: h.clock, room: &h.g.room, rate: 48000} // a sink of its own: the running one belongs to the pipeline
	pkt := func(pos int64) pipeline.Packet {
		return pipeline.Packet{Data: []byte{0xf8, 1}, Pos: pos, Duration: 20 * time.Millisecond}
	}
	for _, pos := range []int64{0, 960, 1920, 1920 + 960 + 4800, 1920 + 2*960 + 4800} {
		if err := sink.WritePacket(pkt(pos)); err != nil {
			t.Fatal(err)
		}
	}
	if got := sess.Skipped(); got != 100*time.Millisecond {
		t.Errorf("skipped %v, want the 100 ms gap", got)
	}
	// A new capture restarts its count at 0: its positions say nothing
	// about the pause, the clock does. Right away, nothing is skipped.
	sink.captureEnded()
	sink.newCapture(48000)
	if err := sink.WritePacket(pkt(0)); err != nil {
		t.Fatal(err)
	}
	if got := sess.Skipped(); got != 100*time.Millisecond {
		t.Errorf("an immediate new capture counted as a gap: skipped %v", got)
	}
	// The device is away 1.5 s: the capture stops, and 1.5 s later the
	// reopened one sends; that pause is skipped, even though the new count
	// starts past where the old one ended.
	sink.captureEnded()
	h.clock.Advance(1500 * time.Millisecond)
	sink.newCapture(48000)
	if err := sink.WritePacket(pkt(9600)); err != nil {
		t.Fatal(err)
	}
	if got := sess.Skipped(); got != 1600*time.Millisecond {
		t.Errorf("skipped %v after a 1.5 s capture pause, want 100 ms + 1.5 s", got)
	}
}

// TestRejectedReloadKeepsRunningSource: on air from a WAV file that then
// turns to garbage on disk, a change to the talker's level cannot build a
// new capture. The running capture keeps going untouched: still on air,
// frames flowing, the old speak unit in place, the old config recorded.
func TestRejectedReloadKeepsRunningSource(t *testing.T) {
	wav := filepath.Join(t.TempDir(), "talk.wav")
	data, err := os.ReadFile("../testdata/speech48k.wav")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(wav, data, 0o600); err != nil {
		t.Fatal(err)
	}
	doc := strings.Replace(simDoc, "signal: tone, frequency: 1000", fmt.Sprintf("signal: wav, file: %q", wav), 1)
	h := startHarness(t, doc)
	h.button(t, true, StateOnAir)
	speak := h.g.speak
	waitFor(t, "frames", func() bool { return speak.stats().Frames > 5 })

	garbage := make([]byte, len(data))
	for i := range garbage {
		garbage[i] = byte(i*7919 + i>>8)
	}
	if err := os.WriteFile(wav, garbage, 0o600); err != nil {
		t.Fatal(err)
	}
	louder := resolve(t, strings.Replace(doc, "level: -12", "level: -6", 1))
	if err := h.g.Apply(context.Background(), louder); err == nil {
		t.Fatal("a level change over a broken WAV file was accepted")
	}
	h.sync(t)
	if h.g.speak != speak {
		t.Error("the running speak unit was replaced by a rejected change")
	}
	if lvl := *h.g.cfg.Board.Sim.Level; lvl != -12 {
		t.Errorf("running config's level %v after a rejected change", lvl)
	}
	n := speak.stats().Frames
	waitFor(t, "frames after the rejected change", func() bool { return speak.stats().Frames > n+5 })
	if s := h.g.Status(); s.State != StateOnAir || !s.OnAir || s.Capture != "ok" {
		t.Errorf("after a rejected change: state %s, capture %q", s.State, s.Capture)
	}
}

// exclusiveHW is the sim board with a capture that opens once, like an
// ALSA card: a second open while one is open fails with EBUSY.
type exclusiveHW struct {
	*SimHardware
	open  atomic.Int32
	opens atomic.Int32
}

func (h *exclusiveHW) OpenSource(r *provisioning.Resolved) (audio.Source, error) {
	if !h.open.CompareAndSwap(0, 1) {
		return nil, &os.SyscallError{Syscall: "open", Err: syscall.EBUSY}
	}
	src, err := h.SimHardware.OpenSource(r)
	if err != nil {
		h.open.Store(0)
		return nil, err
	}
	h.opens.Add(1)
	return &onceSource{Source: src, h: h}, nil
}

type onceSource struct {
	audio.Source
	h    *exclusiveHW
	once sync.Once
}

func (s *onceSource) Close() error {
	s.once.Do(func() { s.h.open.Store(0) })
	return s.Source.Close()
}

// TestBusyCaptureIsHandedOver: on a capture that opens once, a change lets
// the old unit go first; when the new config's capture then fails, the old
// one is taken back and the device stays on air.
func TestBusyCaptureIsHandedOver(t *testing.T) {
	var hw *exclusiveHW
	h := startHarnessWith(t, simDoc, testLogger(t), nil, func(s *SimHardware) Hardware {
		hw = &exclusiveHW{SimHardware: s}
		return hw
	})
	h.button(t, true, StateOnAir)
	ctx := context.Background()

	louder := resolve(t, strings.Replace(simDoc, "level: -12", "level: -6", 1))
	if err := h.g.Apply(ctx, louder); err != nil {
		t.Fatalf("a level change on a busy capture: %v", err)
	}
	h.sync(t)
	speak := h.g.speak
	waitFor(t, "frames from the new capture", func() bool { return speak.stats().Frames > 5 })

	bad := resolve(t, simDoc)
	bad.Board.Sim.Signal, bad.Board.Sim.File = "wav", "/nonexistent/speech.wav"
	if err := h.g.Apply(ctx, bad); err == nil || !strings.Contains(err.Error(), "kept the previous config") {
		t.Fatalf("Apply = %v", err)
	}
	h.sync(t)
	if h.g.speak != speak {
		t.Error("the running speak unit was replaced by a rejected change")
	}
	n := speak.stats().Frames
	waitFor(t, "frames after the rejected change", func() bool { return speak.stats().Frames > n+5 })
	if s := h.g.Status(); s.State != StateOnAir || s.Capture != "ok" {
		t.Errorf("after a rejected change: state %s, capture %q", s.State, s.Capture)
	}
	if o := hw.opens.Load(); o != 3 {
		t.Errorf("%d captures opened, want 3 (start, the change, the old one back)", o)
	}
}

// TestLeaveJoinRestart: leave takes the device out of the room until join;
// a config change meanwhile waits for the join; restart rebuilds every
// unit.
func TestLeaveJoinRestart(t *testing.T) {
	h := startHarness(t, simDoc)
	ctx := context.Background()
	first := <-h.room.Joined
	waitFor(t, "live", func() bool { return h.g.Status().State == StateLive })
	if err := h.g.Do(ctx, Command{Kind: CmdLeave}); err != nil {
		t.Fatal(err)
	}
	if s := h.g.Status(); s.State != StateIdle || s.Reason != "left the room by command" {
		t.Fatalf("after leave: %s (%s)", s.State, s.Reason)
	}
	select {
	case <-first.Done():
	default:
		t.Fatal("leave did not close the session")
	}
	// A room change while out is recorded, not joined.
	r := resolve(t, strings.Replace(simDoc, "room: gw}", "room: other}", 1))
	if err := h.g.Apply(ctx, r); err != nil {
		t.Fatal(err)
	}
	select {
	case <-h.room.Joined:
		t.Fatal("a config change joined while the device was out by command")
	default:
	}
	if err := h.g.Do(ctx, Command{Kind: CmdJoin}); err != nil {
		t.Fatal(err)
	}
	<-h.room.Joined
	waitFor(t, "live after join", func() bool { return h.g.Status().State == StateLive && h.g.Status().Room == "other" })
	if err := h.g.Do(ctx, Command{Kind: CmdJoin}); err != nil {
		t.Fatalf("join while in the room: %v", err)
	}
	// The sim captures in real time: 30 frames are 300 ms of audio, more
	// than a new capture makes between the restart and the check.
	waitFor(t, "30 frames", func() bool { h.sync(t); return h.g.Status().Pipeline.Frames >= 30 })
	if err := h.g.Do(ctx, Command{Kind: CmdRestart}); err != nil {
		t.Fatal(err)
	}
	if f := h.g.Status().Pipeline.Frames; f >= 30 {
		t.Errorf("restart kept the capture: %d frames", f)
	}
	<-h.room.Joined
	waitFor(t, "live after restart", func() bool { return h.g.Status().State == StateLive })
}
