package room

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"
)

// State is what the Supervisor is doing about its room.
type State int

// Supervisor states.
const (
	// StateIdle: Run has not started.
	StateIdle State = iota
	// StateConnecting: joining for the first time (Reason holds the last
	// failure while it keeps trying).
	StateConnecting
	// StateConnected: a session is up and the device may publish.
	StateConnected
	// StateReconnecting: the session is resuming by itself, or was lost
	// and the Supervisor is joining again.
	StateReconnecting
	// StatePermissionDenied: connected, but the server muted the device or
	// took away its permission to publish.
	StatePermissionDenied
	// StateError: the last join failed for a reason retrying will not fix
	// soon (bad or expired token, forbidden); the Supervisor retries slowly,
	// at MaxBackoff.
	StateError
	// StateStopped: Run has returned.
	StateStopped
)

// MarshalText writes the state's name, as String does, so JSON status
// says "connected" rather than a number.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// String returns the state's name as logged ("connected").
func (s State) String() string {
	switch s {
	case StateIdle:
		return "idle"
	case StateConnecting:
		return "connecting"
	case StateConnected:
		return "connected"
	case StateReconnecting:
		return "reconnecting"
	case StatePermissionDenied:
		return "permission-denied"
	case StateError:
		return "error"
	case StateStopped:
		return "stopped"
	}
	return "unknown"
}

// StateChange reports a new state, or a new reason for the same state.
type StateChange struct {
	State State
	// Reason is a short human explanation ("joined", the join error).
	Reason string
	// Err is the error behind the change, if any.
	Err error
	// RetryIn is the wait before the next join attempt, when one is
	// scheduled.
	RetryIn time.Duration
	// At is when the change happened, on the Supervisor's clock.
	At time.Time
}

// SupervisorConfig configures a Supervisor. Config.SupervisorConfig fills the
// backoff bounds from a room Config.
type SupervisorConfig struct {
	// MinBackoff and MaxBackoff bound the wait between join attempts, which
	// grows exponentially with jitter. Defaults: 1s and 30s.
	MinBackoff, MaxBackoff time.Duration
	// Clock times the backoff, the probes and the rate adaptation; tests
	// pass a clockwork.FakeClock and advance it. Default: the real clock.
	Clock clockwork.Clock
	// OnState, if set, is called on the Supervisor's goroutine for each
	// change of state or reason. It must not block.
	OnState func(StateChange)
	// OnEvent, if set, is called on the Supervisor's goroutine for every
	// session event, remote tracks included. It must not block: hand a
	// RemoteTrack to a goroutine of your own to read it.
	OnEvent func(Event)
	// Encoder, if set, receives packet-loss and bitrate settings from the
	// receiver reports: every Adapt.Interval, when a new report came.
	Encoder Encoder
	// Adapt configures rate adaptation (used only with Encoder).
	Adapt AdaptConfig
	// ProbeInterval is how often a backoff wait probes a Room that
	// implements Prober (the first probe is at once), to join as soon as a
	// server that was down answers again. Default: 1s; negative: never
	// probe.
	ProbeInterval time.Duration
}

// SupervisorConfig returns a SupervisorConfig with c's backoff bounds.
func (c Config) SupervisorConfig() SupervisorConfig {
	return SupervisorConfig{MinBackoff: c.MinBackoff.D(), MaxBackoff: c.MaxBackoff.D()}
}

// SupervisorStats are a Supervisor's counters.
type SupervisorStats struct {
	// State is the current state.
	State State `json:"state"`
	// Session is the current session's Stats (zero while none is up).
	Session Stats `json:"session"`
	// Adapt is where rate adaptation has taken the encoder (zero without
	// an Encoder).
	Adapt AdaptStats `json:"adapt"`
	// Dropped counts frames WriteOpus did not send: no session, not
	// allowed to publish, or a session error.
	Dropped uint64 `json:"dropped"`
	// JoinAttempts and JoinFailures count calls to Room.Join and their
	// failures; Sessions counts successful joins.
	JoinAttempts uint64 `json:"join_attempts"`
	JoinFailures uint64 `json:"join_failures"`
	Sessions     uint64 `json:"sessions"`
	// EarlyJoins counts backoff waits cut short because a probe found the
	// server, which had been down, answering again (see Prober), and
	// sessions that ended with ErrServerBack and were rejoined at once.
	EarlyJoins uint64 `json:"early_joins"`
}

// stableSession is how long a session must have lasted for its loss to start
// the backoff again from MinBackoff. A session that is dropped sooner (a
// server that kicks the device at once, two devices fighting over one
// identity) keeps the backoff growing instead of rejoining every second.
const stableSession = 10 * time.Second

// errSessionEnded stands in for a session that ended without saying why.
var errSessionEnded = errors.New("room: session ended")

// Supervisor keeps a Session of one Room alive: it joins, passes events on,
// rejoins with backoff when the session is lost, and slows down to its cap
// on errors that retrying will not fix. WriteOpus may be called from any
// goroutine at any time; it never blocks on the Supervisor.
//
// Run owns one goroutine (the caller's); the Supervisor starts no others.
type Supervisor struct {
	room   Room
	cfg    SupervisorConfig
	log    *slog.Logger
	clock  clockwork.Clock
	policy *LossPolicy

	cur     atomic.Pointer[current]
	running atomic.Bool

	dropped, attempts, failures, sessions, early atomic.Uint64

	mu       sync.Mutex // guards last
	last     StateChange
	adaptErr string // last encoder error logged; Run's goroutine only
	reports  uint64 // receiver reports of the current session already applied; Run's goroutine only
	lastSent uint64 // PacketsSent at the last applied report; Run's goroutine only
	lastNACK uint64 // NACKs at the last applied report; Run's goroutine only
	adaptPct atomic.Int64
	changes  atomic.Uint64
	denied   bool   // publishing denied in the current session; Run's goroutine only
	dropMark uint64 // Dropped when the last session started; Run's goroutine only
	wasUp    bool   // a session has been up; Run's goroutine only
	trusted  bool   // the last wait ended early on the join's evidence alone; Run's goroutine only
}

// current wraps the live session so it can sit behind an atomic.Pointer.
type current struct{ s Session }

// NewSupervisor returns a Supervisor for r. A nil log discards logs.
func NewSupervisor(r Room, cfg SupervisorConfig, log *slog.Logger) *Supervisor {
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	cfg.MaxBackoff = max(cfg.MaxBackoff, cfg.MinBackoff)
	if cfg.Clock == nil {
		cfg.Clock = clockwork.NewRealClock()
	}
	if cfg.ProbeInterval == 0 {
		cfg.ProbeInterval = time.Second
	}
	cfg.Adapt.setDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Supervisor{
		room:  r,
		cfg:   cfg,
		log:   log.With("component", "net.room.supervisor"),
		clock: cfg.Clock,
	}
	if cfg.Encoder != nil {
		s.policy = NewLossPolicy(cfg.Adapt)
	}
	s.adaptPct.Store(-1)
	s.last = StateChange{State: StateIdle, At: cfg.Clock.Now()}
	return s
}

// WriteOpus sends one Opus packet through the current session. While no
// session is up it returns ErrNotConnected; while the server denies
// publishing, ErrNotPublishing. Every frame not sent is counted in
// Stats().Dropped. It does not keep pkt and does not allocate.
func (s *Supervisor) WriteOpus(pkt []byte, dur time.Duration) error {
	c := s.cur.Load()
	if c == nil {
		s.dropped.Add(1)
		return ErrNotConnected
	}
	err := c.s.WriteOpus(pkt, dur)
	if err != nil {
		s.dropped.Add(1)
		if errors.Is(err, ErrClosed) {
			return ErrNotConnected
		}
	}
	return err
}

// Skip advances the current session's RTP clock by d without sending,
// when the session supports it (Skipper); with no session up it does
// nothing (the next session starts its own clock).
func (s *Supervisor) Skip(d time.Duration) {
	if c := s.cur.Load(); c != nil {
		if sk, ok := c.s.(Skipper); ok {
			sk.Skip(d)
		}
	}
}

// State returns the latest state change.
func (s *Supervisor) State() StateChange {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// Stats returns the Supervisor's counters and the current session's Stats.
func (s *Supervisor) Stats() SupervisorStats {
	st := SupervisorStats{
		State:        s.State().State,
		Dropped:      s.dropped.Load(),
		JoinAttempts: s.attempts.Load(),
		JoinFailures: s.failures.Load(),
		Sessions:     s.sessions.Load(),
		EarlyJoins:   s.early.Load(),
	}
	if c := s.cur.Load(); c != nil {
		st.Session = c.s.Stats()
	}
	if s.policy != nil {
		st.Adapt = s.adaptStats()
	}
	return st
}

// Run joins and stays joined until ctx is cancelled; it then closes the
// session and returns nil. It returns an error only if it is already
// running.
func (s *Supervisor) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("room: supervisor already running")
	}
	defer s.running.Store(false)
	bo := Backoff{Min: s.cfg.MinBackoff, Max: s.cfg.MaxBackoff}
	s.setState(StateConnecting, "joining", nil, 0)
	for {
		if ctx.Err() != nil {
			return s.stop()
		}
		s.attempts.Add(1)
		sess, err := s.room.Join(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return s.stop()
			}
			s.failures.Add(1)
			if !s.wait(ctx, s.failed(&bo, err)) {
				return s.stop()
			}
			continue
		}

		s.sessions.Add(1)
		started := s.clock.Now()
		s.denied = false
		s.cur.Store(&current{s: sess})
		s.wasUp = true
		s.setState(StateConnected, "joined", nil, 0)
		if d := s.dropped.Load(); d > s.dropMark {
			s.log.Info("frames dropped since the previous session started", "frames", d-s.dropMark)
			s.dropMark = d
		}

		serr := s.serve(ctx, sess)
		s.cur.Store(nil)
		if cerr := sess.Close(); cerr != nil {
			s.log.Debug("session close", "err", cerr)
		}
		if ctx.Err() != nil {
			return s.stop()
		}
		if serr == nil {
			serr = errSessionEnded
		}
		if s.clock.Now().Sub(started) >= stableSession {
			bo.Reset()
		}
		if errors.Is(serr, ErrServerBack) {
			s.early.Add(1)
			s.setState(StateReconnecting, serr.Error(), serr, 0)
			continue
		}
		if !s.wait(ctx, s.failed(&bo, serr)) {
			return s.stop()
		}
	}
}

// retry is the wait before the next join, whether it may be cut short by a
// probe (not after a permanent error: the server answers, and refuses), and
// whether the failure itself showed the server down.
type retry struct {
	wait  time.Duration
	probe bool
	down  bool
}

// failed reports a failed join or a lost session and returns the wait before
// the next attempt.
func (s *Supervisor) failed(bo *Backoff, err error) retry {
	var je *JoinError
	if errors.As(err, &je) && je.Permanent {
		d := bo.Capped(je.RetryAfter)
		s.setState(StateError, err.Error(), err, d)
		return retry{wait: d}
	}
	d := bo.Next()
	if je != nil && je.RetryAfter > d {
		d = min(je.RetryAfter, MaxRetryAfter)
	}
	st := StateConnecting
	if s.wasUp {
		st = StateReconnecting
	}
	s.setState(st, err.Error(), err, d)
	// An unreachable server is evidence enough that it was down, unless
	// the last wait already trusted that evidence and the join failed the
	// same way again: then a probe must see the server down first, so a
	// server that answers probes but not joins cannot make the Supervisor
	// rejoin without a pause.
	down := je != nil && je.Unreachable && !s.trusted
	return retry{wait: d, probe: true, down: down}
}

// wait sleeps r.wait on the clock; it returns false if ctx ended first. When
// r.probe allows, it probes a Room that is a Prober at once and then every
// ProbeInterval, and returns early once a server that was down (seen so by
// a probe, or by r.down) answers again.
func (s *Supervisor) wait(ctx context.Context, r retry) bool {
	s.trusted = false
	d := r.wait
	p, ok := s.room.(Prober)
	if !ok || !r.probe || s.cfg.ProbeInterval <= 0 || d <= s.cfg.ProbeInterval {
		select {
		case <-ctx.Done():
			return false
		case <-s.clock.After(d):
			return true
		}
	}
	end := s.clock.After(d)
	down, seen := r.down, false // seen: a probe of ours found the server down
	for {
		pctx, cancel := context.WithTimeout(ctx, probeTimeout)
		err := p.Probe(pctx)
		cancel()
		if ctx.Err() != nil {
			return false
		}
		if err != nil {
			down, seen = true, true
		} else if down {
			s.early.Add(1)
			s.trusted = !seen
			s.log.Info("the server answers again; joining before the backoff ends")
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-end:
			return true
		case <-s.clock.After(s.cfg.ProbeInterval):
		}
	}
}

func (s *Supervisor) stop() error {
	s.setState(StateStopped, "stopped", nil, 0)
	return nil
}

// serve passes the session's events on until it ends or ctx is cancelled,
// and applies rate adaptation on the clock.
func (s *Supervisor) serve(ctx context.Context, sess Session) error {
	events := sess.Events()
	var adaptC <-chan time.Time
	if s.policy != nil {
		s.reports, s.lastSent, s.lastNACK = 0, 0, 0
		s.policy.NewSession()
		s.adapt(sess)
		adaptC = s.clock.After(s.cfg.Adapt.Interval)
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			s.handle(ev)
		case <-sess.Done():
			// Pass on what the session said before it ended (track
			// removals), without waiting for a channel that may never close.
			for events != nil {
				select {
				case ev, ok := <-events:
					if !ok {
						events = nil
						break
					}
					s.handle(ev)
				default:
					events = nil
				}
			}
			return sess.Err()
		case <-adaptC:
			s.adapt(sess)
			adaptC = s.clock.After(s.cfg.Adapt.Interval)
		}
	}
}

func (s *Supervisor) handle(ev Event) {
	switch ev.Kind {
	case EventReconnecting:
		s.setState(StateReconnecting, reasonOr(ev.Reason, "resuming"), nil, 0)
	case EventReconnected:
		if s.denied {
			s.setState(StatePermissionDenied, "resumed; publishing still denied", nil, 0)
		} else {
			s.setState(StateConnected, "resumed", nil, 0)
		}
	case EventPublishDenied:
		s.denied = true
		s.setState(StatePermissionDenied, reasonOr(ev.Reason, "publishing denied by server"), nil, 0)
	case EventPublishAllowed:
		s.denied = false
		s.setState(StateConnected, reasonOr(ev.Reason, "publishing allowed"), nil, 0)
	}
	if s.cfg.OnEvent != nil {
		s.cfg.OnEvent(ev)
	}
}

func reasonOr(r, def string) string {
	if r == "" {
		return def
	}
	return r
}

// adapt feeds the session's latest receiver report to the loss policy and
// applies a changed setting to the encoder. Before the first report of a
// session, and between reports, there is nothing new to say: the encoder
// keeps its settings (a session's zero FractionLost before any report is
// not a report of no loss). A change is logged: at most once an Interval.
//
// The loss is the larger of the report's and the share of the packets
// sent since the last report that the room NACKed: a LiveKit server
// counts a packet the device sent again on its NACK as received
// (rtpstats_receiver: packetsLost--), so its receiver reports show the
// loss left after retransmission, while a listener, who has concealed the
// packet long before the copy arrives, hears the loss the NACKs show.
func (s *Supervisor) adapt(sess Session) {
	st := sess.Stats()
	if st.ReceiverReports == s.reports {
		return
	}
	s.reports = st.ReceiverReports
	rep := Report{FractionLost: st.FractionLost, RTT: st.RTT}
	if sent := st.PacketsSent - s.lastSent; sent > 0 && st.NACKs >= s.lastNACK {
		rep.FractionLost = max(rep.FractionLost, min(float64(st.NACKs-s.lastNACK)/float64(sent), 1))
	}
	s.lastSent, s.lastNACK = st.PacketsSent, st.NACKs
	if s.cfg.Adapt.MaxBitrate == 0 {
		if c, ok := s.cfg.Encoder.(ConfiguredEncoder); ok {
			bps, _ := c.Configured()
			s.policy.SetMaxBitrate(bps)
		}
	}
	pct, bps, changed := s.policy.Update(rep)
	if !changed {
		return
	}
	err := s.cfg.Encoder.SetPacketLoss(pct)
	if bps > 0 {
		err = errors.Join(err, s.cfg.Encoder.LimitBitrate(bps))
	}
	if err != nil {
		if msg := err.Error(); msg != s.adaptErr {
			s.adaptErr = msg
			s.log.Warn("rate adaptation not applied", "err", err)
		}
		return
	}
	s.adaptErr = ""
	s.adaptPct.Store(int64(pct))
	s.changes.Add(1)
	a := s.adaptStats()
	s.log.Info("rate adapted", "fraction_lost", st.FractionLost, "loss", rep.FractionLost, "rtt", st.RTT, "packet_loss_pct", pct,
		"bitrate_limit", bps, "target_bitrate", a.TargetBitrate, "fec", a.FEC)
}

// adaptStats reads what the encoder runs at. Safe from any goroutine.
func (s *Supervisor) adaptStats() AdaptStats {
	a := AdaptStats{PacketLossPct: int(s.adaptPct.Load()), Changes: s.changes.Load()}
	if t, ok := s.cfg.Encoder.(TargetEncoder); ok {
		a.TargetBitrate, a.FEC = t.Target()
	}
	return a
}

// setState records and reports a change of state or reason; a repeat of the
// current state and reason is neither logged nor reported again.
func (s *Supervisor) setState(st State, reason string, err error, retryIn time.Duration) {
	s.mu.Lock()
	if s.last.State == st && s.last.Reason == reason {
		s.last.RetryIn = retryIn
		s.mu.Unlock()
		return
	}
	ch := StateChange{State: st, Reason: reason, Err: err, RetryIn: retryIn, At: s.clock.Now()}
	s.last = ch
	s.mu.Unlock()

	attrs := []any{"state", st.String(), "reason", reason}
	if retryIn > 0 {
		attrs = append(attrs, "retry_in", retryIn)
	}
	switch {
	case st == StateError:
		s.log.Error("room state", attrs...)
	case st == StatePermissionDenied || err != nil:
		s.log.Warn("room state", attrs...)
	default:
		s.log.Info("room state", attrs...)
	}
	if s.cfg.OnState != nil {
		s.cfg.OnState(ch)
	}
}
