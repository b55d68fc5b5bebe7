package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/rx"
	"github.com/onair-gateway/onair/hw/alsa"
	"github.com/onair-gateway/onair/net/room"
	"github.com/onair-gateway/onair/net/room/listen"
	"github.com/onair-gateway/onair/provisioning"
)

// listenDeps are what a listen unit needs besides its config.
type listenDeps struct {
	// open opens the playback (Hardware.OpenSink).
	open func(*provisioning.Resolved) (audio.Sink, error)
	// wrap, if not nil, wraps every sink opened (Options.WrapSink: the
	// echo canceller's reference tap).
	wrap func(audio.Sink) (audio.Sink, error)
	// listener returns the current room unit's Listener (nil: none).
	listener func() *listen.Listener
	clock    clockwork.Clock
	log      *slog.Logger
}

// listenUnit is the listen path: every remote participant's jitter buffer
// (kept by the room unit's Listener), mixed with headroom and played on the
// board's output, driven by the output's clock (its blocking WriteFrame).
// When the output device vanishes it reopens it with backoff.
type listenUnit struct {
	d      listenDeps
	cfg    *provisioning.Resolved // the listen view as a config
	jitter rx.JitterConfig
	log    *slog.Logger

	mu     sync.Mutex
	first  audio.Sink    // opened by openSink for the first run
	cur    audio.Sink    // being written; stop closes it
	xruns  func() uint64 // the device's underruns (ALSA), nil if unknown
	cancel context.CancelFunc
	done   chan struct{}

	frames  atomic.Int64
	playing atomic.Bool
	errMsg  atomic.Pointer[string]
}

// newListenUnit checks what can fail for config reasons in v: the mixer and
// the jitter buffers' settings.
func newListenUnit(d listenDeps, v listenView) (*listenUnit, error) {
	r := v.config()
	pb := r.Audio.Playback
	jc := rx.JitterConfig{Channels: 1, Rate: pb.Rate, Min: pb.JitterMin.D(), Max: pb.JitterMax.D()}
	if _, err := rx.NewJitter(jc); err != nil {
		return nil, fmt.Errorf("audio.playback: %w", err)
	}
	if _, err := listen.NewPlayer(pb.ALSA().AudioFormat(), 1, pb.Volume); err != nil {
		return nil, fmt.Errorf("audio.playback: %w", err)
	}
	return &listenUnit{d: d, cfg: r, jitter: jc, log: d.log.With("component", "gateway.listen")}, nil
}

// openSink opens the unit's output now, proving that it opens, and keeps
// it for the first run.
func (u *listenUnit) openSink() error {
	s, err := u.open()
	if err != nil {
		return err
	}
	u.mu.Lock()
	u.first = s
	u.mu.Unlock()
	return nil
}

func (u *listenUnit) open() (audio.Sink, error) {
	s, err := u.d.open(u.cfg)
	if err != nil {
		return nil, fmt.Errorf("open playback %q: %w", u.cfg.Audio.Playback.Device, err)
	}
	if f, want := s.Format(), u.cfg.Audio.Playback.ALSA().AudioFormat(); f.Rate != want.Rate || f.Channels < 1 || f.FrameLen() < 1 {
		s.Close()
		return nil, fmt.Errorf("open playback %q: the device plays %d channels at %d Hz, %v periods; want %d Hz",
			u.cfg.Audio.Playback.Device, f.Channels, f.Rate, f.Period, want.Rate)
	}
	if a, ok := s.(interface{ Stats() alsa.Stats }); ok {
		u.mu.Lock()
		u.xruns = func() uint64 { return a.Stats().Xruns }
		u.mu.Unlock()
	}
	if u.d.wrap != nil {
		w, err := u.d.wrap(s)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("open playback %q: %w", u.cfg.Audio.Playback.Device, err)
		}
		s = w
	}
	return s, nil
}

// start runs the playback loop until stop.
func (u *listenUnit) start() {
	ctx, cancel := context.WithCancel(context.Background())
	u.mu.Lock()
	u.cancel, u.done = cancel, make(chan struct{})
	u.mu.Unlock()
	go func() {
		defer close(u.done)
		bo := room.Backoff{Min: time.Second, Max: 30 * time.Second}
		var last string
		for ctx.Err() == nil {
			played, err := u.runOnce(ctx)
			if ctx.Err() != nil {
				return
			}
			if played {
				bo.Reset()
			}
			wait := bo.Next()
			msg := err.Error()
			u.errMsg.Store(&msg)
			if msg != last {
				u.log.Error("playback failed", "err", err, "retry_in", wait.Round(time.Millisecond))
				last = msg
			}
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

// runOnce plays on one opened sink until it fails or the unit stops; it
// reports whether any frame was played.
func (u *listenUnit) runOnce(ctx context.Context) (bool, error) {
	u.mu.Lock()
	s := u.first
	u.first = nil
	u.mu.Unlock()
	if s == nil {
		var err error
		if s, err = u.open(); err != nil {
			return false, err
		}
	}
	u.mu.Lock()
	if ctx.Err() != nil {
		u.mu.Unlock()
		s.Close()
		return false, nil
	}
	u.cur = s
	u.mu.Unlock()
	defer func() {
		u.mu.Lock()
		u.cur = nil
		u.mu.Unlock()
		u.playing.Store(false)
		s.Close()
	}()
	pb := u.cfg.Audio.Playback
	f := s.Format()
	p, err := listen.NewPlayer(f, 1, pb.Volume)
	if err != nil {
		return false, err
	}
	jc := u.jitter
	jc.Rate = f.Rate
	var l *listen.Listener
	played := false
	for {
		// The room unit (and its Listener) may be replaced at any time.
		if cur := u.d.listener(); cur != l {
			l = cur
			if l != nil {
				if err := l.SetJitter(jc); err != nil {
					return played, err
				}
			}
		}
		// The jitter buffers time packets by the real clock, as the
		// device plays by its own.
		if err := s.WriteFrame(p.Step(l, time.Now())); err != nil {
			if ctx.Err() != nil {
				return played, nil
			}
			return played, fmt.Errorf("play on %q: %w", pb.Device, err)
		}
		if !played {
			played = true
			u.playing.Store(true)
			u.errMsg.Store(nil)
			u.log.Info("playing the room", "device", pb.Device, "channels", f.Channels, "rate", int(f.Rate), "period", f.Period)
		}
		u.frames.Add(1)
	}
}

// stop ends the playback loop (closing the sink unblocks its write) and
// waits for it until deadline.
func (u *listenUnit) stop(deadline time.Time) error {
	if u == nil {
		return nil
	}
	u.mu.Lock()
	cancel, done, first, cur := u.cancel, u.done, u.first, u.cur
	u.first = nil
	u.mu.Unlock()
	var err error
	if first != nil {
		err = first.Close()
	}
	if cancel == nil {
		return err
	}
	cancel()
	if cur != nil {
		err = errors.Join(err, cur.Close())
	}
	if !waitUntil(u.d.clock, done, deadline) {
		return errors.Join(err, errors.New("playback did not stop in time"))
	}
	return err
}

// ListenStatus is the listen path in /status.
type ListenStatus struct {
	// Enabled is audio.playback.enabled; Playing says frames are being
	// written to the device now.
	Enabled bool   `json:"enabled"`
	Playing bool   `json:"playing"`
	Device  string `json:"device,omitempty"`
	// Error is why playback is not running, while it retries.
	Error string `json:"error,omitempty"`
	// Frames counts frames played; Xruns the output's underruns (ALSA).
	Frames int64  `json:"frames"`
	Xruns  uint64 `json:"xruns"`
	// Participants are the remote participants heard, with their jitter
	// buffers' delays, underruns and concealment.
	Participants []ListenParticipant `json:"participants"`
}

// ListenParticipant is one remote participant of the listen path.
type ListenParticipant struct {
	Identity string `json:"identity"`
	listen.Playout
}

// status returns the unit's part of ListenStatus.
func (u *listenUnit) status() ListenStatus {
	if u == nil {
		return ListenStatus{}
	}
	s := ListenStatus{Enabled: true, Playing: u.playing.Load(), Device: u.cfg.Audio.Playback.Device, Frames: u.frames.Load()}
	if m := u.errMsg.Load(); m != nil {
		s.Error = *m
	}
	u.mu.Lock()
	xruns := u.xruns
	u.mu.Unlock()
	if xruns != nil {
		s.Xruns = xruns()
	}
	return s
}

// participantsOf returns the playout figures of l's participants.
func participantsOf(l *listen.Listener) []ListenParticipant {
	if l == nil {
		return nil
	}
	var out []ListenParticipant
	for _, p := range l.Participants(false, time.Now()) {
		if p.Playout != nil {
			out = append(out, ListenParticipant{Identity: p.Identity, Playout: *p.Playout})
		}
	}
	return out
}

var _ unit = (*listenUnit)(nil)
