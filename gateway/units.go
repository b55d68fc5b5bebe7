package gateway

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/dsp"
	"github.com/onair-gateway/onair/audio/opus"
	"github.com/onair-gateway/onair/audio/pipeline"
	"github.com/onair-gateway/onair/conf"
	"github.com/onair-gateway/onair/hw/gpio"
	"github.com/onair-gateway/onair/net/e2ee"
	"github.com/onair-gateway/onair/net/room"
	"github.com/onair-gateway/onair/provisioning"
)

// A unit is a part of the gateway that a config change restarts as a whole:
// the speak path, the room, the controls. Each owns its goroutines and
// waits for them in stop.

// Stop budgets. All of onaird must stop within 2 s of SIGTERM: Run gives
// its units one shared deadline (the room and the speak path stop in
// parallel, then the controls); a config change gives each unit it restarts
// applyStopBudget.
const (
	shutdownBudget  = 1700 * time.Millisecond
	applyStopBudget = 800 * time.Millisecond
)

// waitUntil waits for done until deadline.
func waitUntil(done <-chan struct{}, deadline time.Time) bool {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// speakUnit is capture → DSP → Opus. When the capture device vanishes it
// reopens it with backoff, keeping the chain and encoder.
type speakUnit struct {
	chain  *dsp.Chain
	enc    *opus.Encoder
	pipe   atomic.Pointer[pipeline.Pipeline]
	cancel context.CancelFunc
	done   chan struct{}
}

// captureReport is what the speak unit tells the loop about its device.
type captureReport struct {
	err     error // nil: capture is running
	retryIn time.Duration
}

// buildSpeak builds the chain and the encoder: everything that can fail for
// config reasons, before anything running is touched.
func buildSpeak(r *provisioning.Resolved) (*speakUnit, error) {
	f := r.Audio.Capture.AudioFormat()
	chain, err := dsp.NewChain(r.Audio.Processing, r.Board.Geometry, f)
	if err != nil {
		return nil, fmt.Errorf("audio.processing: %w", err)
	}
	if chain.OutChannels() != r.Opus.Channels {
		return nil, conf.Errorf("opus.channels", "%d, but the chain makes %d channel(s) (audio.processing.beam %s)", r.Opus.Channels, chain.OutChannels(), r.Audio.Processing.Beam)
	}
	enc, err := opus.NewEncoder(r.Opus, f.Rate)
	if err != nil {
		return nil, fmt.Errorf("opus: %w", err)
	}
	return &speakUnit{chain: chain, enc: enc}, nil
}

// start runs the capture loop until stop. report is called from the unit's
// goroutine on every change of capture health; it must not block.
func (u *speakUnit) start(g *Gateway, r *provisioning.Resolved, report func(captureReport)) {
	ctx, cancel := context.WithCancel(context.Background())
	u.cancel, u.done = cancel, make(chan struct{})
	go func() {
		defer close(u.done)
		bo := room.Backoff{Min: time.Second, Max: 30 * time.Second}
		for ctx.Err() == nil {
			err := u.runOnce(ctx, g, r, report)
			if ctx.Err() != nil {
				return
			}
			wait := bo.Next()
			report(captureReport{err: err, retryIn: wait})
			t := g.clock.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.Chan():
			}
		}
	}()
}

func (u *speakUnit) runOnce(ctx context.Context, g *Gateway, r *provisioning.Resolved, report func(captureReport)) error {
	src, err := g.hw.OpenSource(r)
	if err != nil {
		return fmt.Errorf("open capture %q: %w", r.Audio.Capture.Device, err)
	}
	p, err := pipeline.New(pipeline.Config{}, src, u.chain, u.enc, g.base)
	if err != nil {
		src.Close()
		return err
	}
	// The previous pipeline (if any) has returned and this one has not
	// started: nothing writes to the sink.
	g.sink.newCapture(r.Audio.Capture.Rate)
	p.SetSink(g.sink)
	u.pipe.Store(p)
	report(captureReport{})
	err = p.Run(ctx)
	g.sink.captureEnded()
	if err == nil && ctx.Err() == nil {
		err = errors.New("capture ended")
	}
	return err
}

// stop ends the capture loop and waits for it until deadline. The encoder
// is closed either way (it is safe to close under a late Encode).
func (u *speakUnit) stop(deadline time.Time) error {
	var err error
	if u.cancel != nil {
		u.cancel()
		if !waitUntil(u.done, deadline) {
			err = errors.New("capture did not stop in time")
		}
	}
	return errors.Join(err, u.enc.Close())
}

// stats returns the current pipeline's counters (zero before the first
// open).
func (u *speakUnit) stats() pipeline.Stats {
	if p := u.pipe.Load(); p != nil {
		return p.Stats()
	}
	return pipeline.Stats{}
}

// roomUnit is one room's Supervisor.
type roomUnit struct {
	sup       *room.Supervisor // nil when policy forbids joining
	keys      *e2ee.Keys       // nil when the room has no key
	encrypted bool
	cancel    context.CancelFunc
	done      chan struct{}

	mu    sync.Mutex
	state room.StateChange // the supervisor's latest report
}

// buildRoom makes the keys, the room and its supervisor: everything that can
// fail for config reasons, with nothing started and nothing running touched.
func (g *Gateway) buildRoom(r *provisioning.Resolved) (*roomUnit, error) {
	keys, err := newEncryptor(r)
	if err != nil {
		return nil, err
	}
	rm, encrypted, err := g.rooms(r, keys, g.base)
	if err != nil {
		return nil, err
	}
	u := &roomUnit{keys: keys, encrypted: encrypted, done: make(chan struct{})}
	if policyError(r, encrypted) != "" {
		// Not even silence may reach a room that cannot be encrypted when
		// encryption is required: do not join it at all.
		return u, nil
	}
	sc := r.Room.SupervisorConfig()
	// Each unit reports into its own slot: a unit being replaced may still
	// report (a late "stopped") and must not overwrite the current one.
	sc.OnState = func(c room.StateChange) { g.onRoomState(u, c) }
	sc.OnEvent = g.onRoomEvent
	sc.Encoder = &g.encRef
	u.sup = room.NewSupervisor(rm, sc, g.base)
	return u, nil
}

// start runs the supervisor.
func (u *roomUnit) start(g *Gateway) {
	ctx, cancel := context.WithCancel(context.Background())
	u.cancel = cancel
	if u.sup == nil {
		close(u.done)
		return
	}
	go func() {
		defer close(u.done)
		if err := u.sup.Run(ctx); err != nil {
			g.log.Error("room supervisor stopped", "err", err)
		}
	}()
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
	if !waitUntil(u.done, deadline) {
		return errors.New("room did not leave in time")
	}
	return nil
}

// controlsUnit is the board's buttons, LEDs and ring.
type controlsUnit struct {
	c      *gpio.Controls
	wake   func() // unblocks simulated button waits on stop
	cancel context.CancelFunc
	done   chan struct{}
}

func (g *Gateway) startControls(r *provisioning.Resolved, events chan<- gpio.ButtonEvent) (*controlsUnit, error) {
	c, err := g.hw.OpenControls(r, g.clock)
	if err != nil {
		return nil, conf.Prefix("controls", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	u := &controlsUnit{c: c, cancel: cancel, done: make(chan struct{})}
	if c == nil || c.Buttons == nil {
		close(u.done)
		return u, nil
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := c.Buttons.Run(ctx); err != nil && ctx.Err() == nil {
			g.log.Error("buttons stopped", "err", err)
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
				case events <- ev:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	if s, ok := g.hw.(*SimHardware); ok {
		u.wake = s.pins.Wake
	}
	if s, ok := g.hw.(*SimHardware); ok && len(r.Board.Sim.Script) > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.RunScript(ctx, r, g.clock); err != nil {
				g.log.Error("button script stopped", "err", err)
			}
		}()
	}
	go func() { wg.Wait(); close(u.done) }()
	return u, nil
}

func (u *controlsUnit) indicators() gpio.Indicators {
	if u == nil || u.c == nil {
		return nil
	}
	return u.c.Indicators
}

func (u *controlsUnit) stop(deadline time.Time) error {
	if u == nil {
		return nil
	}
	u.cancel()
	if u.wake != nil {
		u.wake()
	}
	var err error
	if !waitUntil(u.done, deadline) {
		err = errors.New("buttons did not stop in time")
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

func (e *encoderRef) SetBitrate(bps int) error {
	if enc := e.p.Load(); enc != nil {
		return enc.SetBitrate(bps)
	}
	return nil
}

// sinkTo adapts the room supervisor to the pipeline's Sink. It is called
// from the pipeline's processing goroutine only. When packet positions
// jump (capture frames dropped under load, an overrun), it advances the
// session's RTP clock by the gap, so timestamps follow the sample counter.
// A new capture (a reopened device) restarts the count; the time the
// device was away, by the clock, is skipped instead, so a listener's jitter
// buffer sees the pause as a pause and not as a late stream.
type sinkTo struct {
	g       *Gateway
	next    int64 // position just after the last packet
	rate    audio.SampleRate
	fresh   bool      // a new capture starts: its count says nothing of the pause
	endedAt time.Time // when the previous capture's pipeline stopped
}

// captureEnded and newCapture bracket a pause in capture: the pipeline
// writing to the sink has stopped, and the next packet comes from a new
// capture of rate. Both are called only while no pipeline writes to the
// sink, so the per-packet path reads no clock.
func (s *sinkTo) captureEnded() { s.endedAt = s.g.clock.Now() }

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
			skip = max(s.g.clock.Now().Sub(s.endedAt), 0)
		}
		s.fresh = false
	case p.Pos > s.next:
		skip = s.rate.Duration(int(p.Pos - s.next))
	}
	s.next = p.Pos + int64(s.rate.Samples(p.Duration))
	u := s.g.roomNow.Load()
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
var _ room.Encoder = (*encoderRef)(nil)
