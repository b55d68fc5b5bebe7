package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/aec"
	"github.com/onair-gateway/onair/audio/opus"
	"github.com/onair-gateway/onair/audio/pipeline"
	"github.com/onair-gateway/onair/conf"
	"github.com/onair-gateway/onair/hw/gpio"
	"github.com/onair-gateway/onair/net/e2ee"
	"github.com/onair-gateway/onair/net/room"
	"github.com/onair-gateway/onair/net/room/listen"
	"github.com/onair-gateway/onair/provisioning"
)

// unit is a part of the gateway that a config change restarts as a whole:
// the speak path, the room, the controls. A unit is built by its own
// constructor from its view of the config (views.go) and its own
// dependencies (hardware openers, the clock, the sink, report funcs), never
// from the *Gateway; everything that can fail for config reasons fails
// there, before anything running is touched. start runs the unit's
// goroutines; stop ends them and releases what the unit holds, waiting
// until deadline on the unit's clock. A new unit (the listen path, say) is
// one more type of this shape and one more view: the others do not change.
type unit interface {
	start()
	stop(deadline time.Time) error
}

// Stop budgets. All of onaird must stop within 2 s of SIGTERM: Run gives
// its units one shared deadline (the room and the speak path stop in
// parallel, then the controls); a config change gives each unit it restarts
// applyStopBudget.
const (
	shutdownBudget  = 1700 * time.Millisecond
	applyStopBudget = 800 * time.Millisecond
)

// waitUntil waits for done until deadline on clock.
func waitUntil(clock clockwork.Clock, done <-chan struct{}, deadline time.Time) bool {
	t := clock.NewTimer(deadline.Sub(clock.Now()))
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.Chan():
		return false
	}
}

// busy reports whether err says a device is held by someone else (ALSA's
// EBUSY on a card opened once, a GPIO line already requested): the unit
// being replaced must let go of it before its replacement can be proven.
func busy(err error) bool { return errors.Is(err, syscall.EBUSY) }

// speakDeps are what a speak unit needs besides its config.
type speakDeps struct {
	// open opens a capture (Hardware.OpenSource).
	open func(*provisioning.Resolved) (audio.Source, error)
	// ref returns the playback reference at a rate (the echo canceller's
	// far end, recorded by the listen unit).
	ref   func(audio.SampleRate) *aec.Reference
	clock clockwork.Clock
	// sink takes the packets; it outlives the unit (the room's RTP clock
	// runs on across a speak restart).
	sink *sinkTo
	// report is called from the unit's goroutine on every change of
	// capture health; it must not block.
	report func(captureReport)
	log    *slog.Logger
}

// speakUnit is capture → DSP → Opus. When the capture device vanishes it
// reopens it with backoff, keeping the chain and encoder.
type speakUnit struct {
	d      speakDeps
	cfg    *provisioning.Resolved // the speak view as a config (views.go)
	sp     *pipeline.Speak        // the echo canceller, the chain and the encoder
	enc    *opus.Encoder
	first  audio.Source // opened by openCapture for the first run
	pipe   atomic.Pointer[pipeline.Pipeline]
	cancel context.CancelFunc
	done   chan struct{}
}

// captureReport is what the speak unit tells the loop about its device.
type captureReport struct {
	err     error // nil: capture is running
	retryIn time.Duration
}

// newSpeakUnit builds the chain and the encoder for v: everything that can
// fail for config reasons, before anything running is touched.
func newSpeakUnit(d speakDeps, v speakView) (*speakUnit, error) {
	r := v.config()
	var ref *aec.Reference
	if r.Audio.AEC.On() && len(r.Audio.AEC.Loopback) == 0 && d.ref != nil {
		ref = d.ref(r.Audio.Capture.Rate)
	}
	sp, err := pipeline.NewSpeak(r.Audio.Processing, r.Board.Geometry, r.Audio.Capture.AudioFormat(), r.Opus,
		pipeline.WithAEC(r.Audio.AEC, ref))
	if err != nil {
		return nil, err
	}
	return &speakUnit{d: d, cfg: r, sp: sp, enc: sp.Encoder}, nil
}

// openCapture opens the unit's capture now, proving that its device opens,
// and keeps it for the first run.
func (u *speakUnit) openCapture() error {
	src, err := u.d.open(u.cfg)
	if err != nil {
		return fmt.Errorf("open capture %q: %w", u.cfg.Audio.Capture.Device, err)
	}
	u.first = src
	return nil
}

// start runs the capture loop until stop. It may be called again after
// halt.
func (u *speakUnit) start() {
	ctx, cancel := context.WithCancel(context.Background())
	u.cancel, u.done = cancel, make(chan struct{})
	report := u.d.report
	go func() {
		defer close(u.done)
		bo := room.Backoff{Min: time.Second, Max: 30 * time.Second}
		for ctx.Err() == nil {
			err := u.runOnce(ctx)
			if ctx.Err() != nil {
				return
			}
			wait := bo.Next()
			report(captureReport{err: err, retryIn: wait})
			t := u.d.clock.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.Chan():
			}
		}
	}()
}

func (u *speakUnit) runOnce(ctx context.Context) error {
	src := u.first
	u.first = nil
	if src == nil {
		var err error
		if src, err = u.d.open(u.cfg); err != nil {
			return fmt.Errorf("open capture %q: %w", u.cfg.Audio.Capture.Device, err)
		}
	}
	p, err := pipeline.New(pipeline.Config{}, src, u.sp.Stage(), u.enc, u.d.log)
	if err != nil {
		src.Close()
		return err
	}
	// The previous pipeline (if any) has returned and this one has not
	// started: nothing writes to the sink.
	u.d.sink.newCapture(u.cfg.Audio.Capture.Rate)
	p.SetSink(u.d.sink)
	u.pipe.Store(p)
	u.d.report(captureReport{})
	err = p.Run(ctx)
	u.d.sink.captureEnded()
	if err == nil && ctx.Err() == nil {
		err = errors.New("capture ended")
	}
	return err
}

// halt ends the capture loop and waits for it until deadline, keeping the
// chain and the encoder: start runs it again.
func (u *speakUnit) halt(deadline time.Time) error {
	if u.cancel == nil {
		return nil
	}
	u.cancel()
	if !waitUntil(u.d.clock, u.done, deadline) {
		return errors.New("capture did not stop in time")
	}
	return nil
}

// stop ends the capture loop and waits for it until deadline. The encoder
// is closed either way (it is safe to close under a late Encode), and so is
// a capture opened for a run that never came.
func (u *speakUnit) stop(deadline time.Time) error {
	err := u.halt(deadline)
	if u.cancel == nil && u.first != nil {
		err = errors.Join(err, u.first.Close())
		u.first = nil
	}
	if err != nil && u.sp.AEC != nil {
		// A capture loop that did not stop may still be inside the
		// canceller's C code: its state is left to the process's end
		// rather than freed under it.
		return errors.Join(err, u.enc.Close())
	}
	return errors.Join(err, u.sp.Close())
}

// stats returns the current pipeline's counters (zero before the first
// open).
func (u *speakUnit) stats() pipeline.Stats {
	if p := u.pipe.Load(); p != nil {
		return p.Stats()
	}
	return pipeline.Stats{}
}

// roomDeps are what a room unit needs besides its config.
type roomDeps struct {
	rooms RoomFactory
	// encoder is what the supervisor's rate adaptation steers (the current
	// speak unit's encoder).
	encoder room.Encoder
	clock   clockwork.Clock
	// onState is called on the supervisor's goroutine with the unit that
	// reports; it must not block.
	onState func(*roomUnit, room.StateChange)
	onEvent func(room.Event)
	log     *slog.Logger
}

// roomUnit is one room's Supervisor.
type roomUnit struct {
	log       *slog.Logger
	clock     clockwork.Clock
	sup       *room.Supervisor // nil when policy forbids joining
	listener  *listen.Listener // every remote track's jitter buffer
	keys      *e2ee.Keys       // nil when the room has no key
	encrypted bool
	cancel    context.CancelFunc
	done      chan struct{}

	mu    sync.Mutex
	state room.StateChange // the supervisor's latest report
}

// newRoomUnit makes the keys, the room and its supervisor for v: everything
// that can fail for config reasons, with nothing started and nothing
// running touched.
func newRoomUnit(d roomDeps, v roomView) (*roomUnit, error) {
	r := v.config()
	keys, err := newEncryptor(r)
	if err != nil {
		return nil, err
	}
	rm, encrypted, err := d.rooms(r, keys, d.log)
	if err != nil {
		return nil, err
	}
	u := &roomUnit{log: d.log.With("component", "gateway"), clock: d.clock, keys: keys, encrypted: encrypted, done: make(chan struct{})}
	// The listen path's receive half: one mono jitter buffer per remote
	// track, never one of the device's own identity (mix-minus); the
	// listen unit pulls them.
	u.listener = listen.New(listen.Config{Channels: 1, Playout: true, NoMeters: true, Skip: r.Room.Identity, HaveKey: keys != nil}, d.log)
	if policyError(r, encrypted) != "" {
		// Not even silence may reach a room that cannot be encrypted when
		// encryption is required: do not join it at all.
		return u, nil
	}
	sc := r.Room.SupervisorConfig()
	// Each unit reports into its own slot: a unit being replaced may still
	// report (a late "stopped") and must not overwrite the current one.
	sc.OnState = func(c room.StateChange) { d.onState(u, c) }
	sc.OnEvent = func(ev room.Event) {
		u.listener.OnEvent(ev)
		d.onEvent(ev)
	}
	sc.Encoder = d.encoder
	sc.Clock = d.clock
	u.sup = room.NewSupervisor(rm, sc, d.log)
	return u, nil
}

// start runs the supervisor.
func (u *roomUnit) start() {
	ctx, cancel := context.WithCancel(context.Background())
	u.cancel = cancel
	if u.sup == nil {
		close(u.done)
		return
	}
	go func() {
		defer close(u.done)
		if err := u.sup.Run(ctx); err != nil {
			u.log.Error("room supervisor stopped", "err", err)
		}
	}()
}

// record stores the supervisor's latest state (on its goroutine).
func (u *roomUnit) record(sc room.StateChange) {
	u.mu.Lock()
	u.state = sc
	u.mu.Unlock()
}

// last returns the unit's latest supervisor state.
func (u *roomUnit) last() room.StateChange {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.state
}

func (u *roomUnit) stop(deadline time.Time) error {
	if u.cancel == nil {
		return nil
	}
	u.cancel()
	if !waitUntil(u.clock, u.done, deadline) {
		return errors.New("room did not leave in time")
	}
	// The session is closed: its tracks' readers end.
	read := make(chan struct{})
	go func() { u.listener.Wait(); close(read) }()
	if !waitUntil(u.clock, read, deadline) {
		return errors.New("remote tracks did not end in time")
	}
	return nil
}

// roomRef is the current room unit, read by the packet sink and the status
// on other goroutines while a config change may replace it.
type roomRef struct{ p atomic.Pointer[roomUnit] }

func (r *roomRef) load() *roomUnit            { return r.p.Load() }
func (r *roomRef) store(u *roomUnit)          { r.p.Store(u) }
func (r *roomRef) swap(u *roomUnit) *roomUnit { return r.p.Swap(u) }

// Scripter is hardware that plays a config's button script (the simulated
// board). The controls unit checks for it when it starts.
type Scripter interface {
	RunScript(ctx context.Context, r *provisioning.Resolved, clock clockwork.Clock) error
}

// ButtonWaker is hardware whose pending button waits nothing else
// interrupts (the simulated board's gpiotest pins cannot be halted):
// ButtonWaker returns the func that unblocks the waits of the controls
// OpenControls opened last. The controls unit calls it on stop.
type ButtonWaker interface {
	ButtonWaker() func()
}

// controlsDeps are what a controls unit needs besides its config.
type controlsDeps struct {
	hw    Hardware
	clock clockwork.Clock
	// events takes the buttons' events; the loop reads it.
	events chan<- gpio.ButtonEvent
	log    *slog.Logger
}

// controlsUnit is the board's buttons, LEDs and ring.
type controlsUnit struct {
	d      controlsDeps
	cfg    *provisioning.Resolved // the controls view as a config
	c      *gpio.Controls
	wake   func() // unblocks simulated button waits on stop
	cancel context.CancelFunc
	done   chan struct{}
}

// openControls opens the controls of v (they show nothing until the state
// machine drives them): everything that can fail, with nothing started.
func openControls(d controlsDeps, v controlsView) (*controlsUnit, error) {
	r := v.config()
	c, err := d.hw.OpenControls(r, d.clock)
	if err != nil {
		return nil, conf.Prefix("controls", err)
	}
	u := &controlsUnit{d: d, cfg: r, c: c}
	if w, ok := d.hw.(ButtonWaker); ok {
		u.wake = w.ButtonWaker()
	}
	return u, nil
}

// start runs the buttons (and the simulated board's script) until stop.
func (u *controlsUnit) start() {
	ctx, cancel := context.WithCancel(context.Background())
	u.cancel, u.done = cancel, make(chan struct{})
	c, log := u.c, u.d.log.With("component", "gateway")
	if c == nil || c.Buttons == nil {
		close(u.done)
		return
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := c.Buttons.Run(ctx); err != nil && ctx.Err() == nil {
			log.Error("buttons stopped", "err", err)
		}
	}()
	go func() {
		defer wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-c.Buttons.Events():
				if !ok {
					return // Buttons.Run ended
				}
				select {
				case u.d.events <- ev:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	if s, ok := u.d.hw.(Scripter); ok && len(u.cfg.Board.Sim.Script) > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.RunScript(ctx, u.cfg, u.d.clock); err != nil {
				log.Error("button script stopped", "err", err)
			}
		}()
	}
	go func() { wg.Wait(); close(u.done) }()
}

func (u *controlsUnit) indicators() gpio.Indicators {
	if u == nil || u.c == nil {
		return nil
	}
	return u.c.Indicators
}

func (u *controlsUnit) buttons() []gpio.ButtonConfig {
	if u == nil || u.cfg.Controls == nil {
		return nil
	}
	return u.cfg.Controls.Buttons
}

func (u *controlsUnit) stop(deadline time.Time) error {
	if u == nil {
		return nil
	}
	var err error
	if u.cancel != nil {
		u.cancel()
		if u.wake != nil {
			u.wake()
		}
		if !waitUntil(u.d.clock, u.done, deadline) {
			err = errors.New("buttons did not stop in time")
		}
	}
	if u.c != nil {
		err = errors.Join(err, u.c.Close())
	}
	return err
}

// encoderRef forwards rate adaptation to the current speak unit's encoder,
// which a config change may replace.
type encoderRef struct{ p atomic.Pointer[opus.Encoder] }

func (e *encoderRef) SetPacketLoss(pct int) error {
	if enc := e.p.Load(); enc != nil {
		return enc.SetPacketLoss(pct)
	}
	return nil
}

func (e *encoderRef) LimitBitrate(bps int) error {
	if enc := e.p.Load(); enc != nil {
		return enc.LimitBitrate(bps)
	}
	return nil
}

func (e *encoderRef) Configured() (bitrate int, fec bool) {
	if enc := e.p.Load(); enc != nil {
		return enc.Configured()
	}
	return 0, false
}

func (e *encoderRef) Target() (bitrate int, fec bool) {
	if enc := e.p.Load(); enc != nil {
		return enc.Target()
	}
	return 0, false
}

// sinkTo adapts the room supervisor to the pipeline's Sink. It is called
// from the pipeline's processing goroutine only. When packet positions
// jump (capture frames dropped under load, an overrun), it advances the
// session's RTP clock by the gap, so timestamps follow the sample counter.
// A new capture (a reopened device) restarts the count; the time the
// device was away, by the clock, is skipped instead, so a listener's jitter
// buffer sees the pause as a pause and not as a late stream.
type sinkTo struct {
	clock   clockwork.Clock
	room    *roomRef
	next    int64 // position just after the last packet
	rate    audio.SampleRate
	fresh   bool      // a new capture starts: its count says nothing of the pause
	endedAt time.Time // when the previous capture's pipeline stopped
}

// captureEnded and newCapture bracket a pause in capture: the pipeline
// writing to the sink has stopped, and the next packet comes from a new
// capture of rate. Both are called only while no pipeline writes to the
// sink, so the per-packet path reads no clock.
func (s *sinkTo) captureEnded() { s.endedAt = s.clock.Now() }

func (s *sinkTo) newCapture(rate audio.SampleRate) {
	s.rate, s.fresh = rate, true
}

func (s *sinkTo) WritePacket(p pipeline.Packet) error {
	var skip time.Duration
	switch {
	case s.fresh:
		// Skip the pause since the previous capture stopped, by the clock:
		// once per new capture, not per packet.
		if !s.endedAt.IsZero() {
			skip = max(s.clock.Now().Sub(s.endedAt), 0)
		}
		s.fresh = false
	case p.Pos > s.next:
		skip = s.rate.Duration(int(p.Pos - s.next))
	}
	s.next = p.Pos + int64(s.rate.Samples(p.Duration))
	u := s.room.load()
	if u == nil {
		return room.ErrNotConnected
	}
	if u.sup == nil {
		return room.ErrNotPublishing
	}
	if skip > 0 {
		u.sup.Skip(skip)
	}
	return u.sup.WriteOpus(p.Data, p.Duration)
}

var _ pipeline.Sink = (*sinkTo)(nil)
var _ unit = (*speakUnit)(nil)
var _ unit = (*roomUnit)(nil)
var _ unit = (*controlsUnit)(nil)
var _ room.Encoder = (*encoderRef)(nil)
var _ room.ConfiguredEncoder = (*encoderRef)(nil)
var _ room.TargetEncoder = (*encoderRef)(nil)
