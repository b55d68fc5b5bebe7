package room

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
)

// scriptRoom is a Room that fails and succeeds in a scripted order. It is an
// implementation of our own interface, not a network fake: the network
// backends are tested against real servers in their own packages.
type scriptRoom struct {
	mu    sync.Mutex
	steps []step
	joins int
}

// step is one scripted Join outcome: err, or the session sess.
type step struct {
	err  error
	sess *testSession
}

func (r *scriptRoom) Join(ctx context.Context) (Session, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.joins++
	if len(r.steps) == 0 {
		return nil, errors.New("script: no more steps")
	}
	st := r.steps[0]
	if len(r.steps) > 1 || st.sess != nil {
		r.steps = r.steps[1:]
	}
	if st.sess != nil {
		return st.sess, nil
	}
	return nil, st.err
}

func (r *scriptRoom) add(steps ...step) {
	r.mu.Lock()
	r.steps = append(r.steps, steps...)
	r.mu.Unlock()
}

func (r *scriptRoom) joinCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.joins
}

// testSession is a Session whose events, stats and end the test drives.
type testSession struct {
	events  chan Event
	done    chan struct{}
	endOnce sync.Once
	err     atomic.Pointer[error]
	closed  atomic.Bool
	denied  atomic.Bool
	writes  atomic.Int64
	lost    atomic.Uint64 // FractionLost in percent
}

func newTestSession() *testSession {
	return &testSession{events: make(chan Event, 16), done: make(chan struct{})}
}

func (s *testSession) WriteOpus(pkt []byte, dur time.Duration) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if s.denied.Load() {
		return ErrNotPublishing
	}
	s.writes.Add(1)
	return nil
}

func (s *testSession) Events() <-chan Event  { return s.events }
func (s *testSession) Done() <-chan struct{} { return s.done }
func (s *testSession) Stats() Stats          { return Stats{FractionLost: float64(s.lost.Load()) / 100} }
func (s *testSession) Close() error          { s.closed.Store(true); s.end(nil); return nil }
func (s *testSession) isClosed() bool        { return s.closed.Load() }
func (s *testSession) emit(ev Event)         { s.events <- ev }
func (s *testSession) Err() error {
	if p := s.err.Load(); p != nil {
		return *p
	}
	return nil
}

// end ends the session as a backend does when the network is lost.
func (s *testSession) end(err error) {
	s.endOnce.Do(func() {
		if err != nil {
			s.err.Store(&err)
		}
		close(s.done)
		close(s.events)
	})
}

var _ Session = (*testSession)(nil)

// recClock is a fake clock that records every wait asked of it.
type recClock struct {
	*clockwork.FakeClock
	mu    sync.Mutex
	waits []time.Duration
}

func (c *recClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	c.waits = append(c.waits, d)
	c.mu.Unlock()
	return c.FakeClock.After(d)
}

func (c *recClock) lastWait() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.waits[len(c.waits)-1]
}

// block waits until the supervisor waits on the clock.
func (c *recClock) block(t *testing.T, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.BlockUntilContext(ctx, n); err != nil {
		t.Fatalf("supervisor never waited on the clock: %v", err)
	}
}

type harness struct {
	t      *testing.T
	room   Room
	clock  *recClock
	sup    *Supervisor
	states chan StateChange
	events chan Event
	logs   *countHandler
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, r Room, mod func(*SupervisorConfig)) *harness {
	t.Helper()
	h := &harness{
		t:      t,
		room:   r,
		clock:  &recClock{FakeClock: clockwork.NewFakeClock()},
		states: make(chan StateChange, 100),
		events: make(chan Event, 100),
		logs:   &countHandler{counts: map[string]int{}},
		done:   make(chan error, 1),
	}
	cfg := SupervisorConfig{
		MinBackoff: time.Second,
		MaxBackoff: 30 * time.Second,
		Clock:      h.clock,
		OnState:    func(c StateChange) { h.states <- c },
		OnEvent:    func(e Event) { h.events <- e },
	}
	if mod != nil {
		mod(&cfg)
	}
	h.sup = NewSupervisor(r, cfg, slog.New(h.logs))
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- h.sup.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-h.done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	return h
}

// waitState reads state changes until one with want arrives.
func (h *harness) waitState(want State) StateChange {
	h.t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case c := <-h.states:
			if c.State == want {
				return c
			}
		case <-timeout:
			h.t.Fatalf("state %v never reported (now %v)", want, h.sup.State().State)
		}
	}
}

func (h *harness) waitEvent(want EventKind) Event {
	h.t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case e := <-h.events:
			if e.Kind == want {
				return e
			}
		case <-timeout:
			h.t.Fatalf("event %v never passed on", want)
		}
	}
}

// countHandler counts log records by message and state.
type countHandler struct {
	mu     sync.Mutex
	counts map[string]int
}

func (h *countHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *countHandler) WithGroup(string) slog.Handler            { return h }
func (h *countHandler) Handle(_ context.Context, r slog.Record) error {
	key := r.Message
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "state" {
			key += " " + a.Value.String()
		}
		return true
	})
	h.mu.Lock()
	h.counts[key]++
	h.mu.Unlock()
	return nil
}

func (h *countHandler) count(key string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.counts[key]
}

var errNet = errors.New("dial tcp 127.0.0.1:1: connection refused")

func TestSupervisorBackoffGrowsThenConnects(t *testing.T) {
	r := &scriptRoom{}
	s1 := newTestSession()
	r.add(step{err: errNet}, step{err: errNet}, step{err: errNet}, step{err: errNet}, step{sess: s1})
	h := start(t, r, nil)

	// Attempt n waits within [max(min, base/2), base], base = 1s·2ⁿ.
	bounds := [][2]time.Duration{{1 * time.Second, 1 * time.Second}, {1 * time.Second, 2 * time.Second}, {2 * time.Second, 4 * time.Second}, {4 * time.Second, 8 * time.Second}}
	for i, b := range bounds {
		h.clock.block(t, 1)
		d := h.clock.lastWait()
		if d < b[0] || d > b[1] {
			t.Errorf("wait %d = %v, want within [%v, %v]", i, d, b[0], b[1])
		}
		if got := r.joinCount(); got != i+1 {
			t.Fatalf("joins before wait %d = %d, want %d", i, got, i+1)
		}
		h.clock.Advance(d)
	}
	c := h.waitState(StateConnected)
	if c.Reason != "joined" {
		t.Errorf("reason %q", c.Reason)
	}
	if err := h.sup.WriteOpus([]byte{1, 2, 3}, 20*time.Millisecond); err != nil {
		t.Fatalf("WriteOpus: %v", err)
	}
	if s1.writes.Load() != 1 {
		t.Errorf("session got %d writes, want 1", s1.writes.Load())
	}
	st := h.sup.Stats()
	if st.JoinAttempts != 5 || st.JoinFailures != 4 || st.Sessions != 1 {
		t.Errorf("stats %+v", st)
	}
	// Connecting was reported once with its error reason, not once per attempt.
	if n := h.logs.count("room state connecting"); n != 2 { // "joining", then the error
		t.Errorf("connecting logged %d times, want 2", n)
	}
}

func TestSupervisorPermanentErrorRetriesAtCap(t *testing.T) {
	r := &scriptRoom{}
	perm := &JoinError{Op: "signal", Status: 401, Permanent: true, Err: errors.New("unauthorized: invalid token")}
	r.add(step{err: perm})
	h := start(t, r, nil)

	c := h.waitState(StateError)
	if c.Err == nil || !errors.Is(c.Err, perm) {
		t.Errorf("error state without the join error: %+v", c)
	}
	const steps = 10
	for i := 0; i < steps; i++ {
		h.clock.block(t, 1)
		d := h.clock.lastWait()
		if d < 24*time.Second || d > 30*time.Second {
			t.Fatalf("wait after permanent error = %v, want within [24s, 30s]", d)
		}
		h.clock.Advance(30 * time.Second)
	}
	h.clock.block(t, 1)
	joins := r.joinCount()
	if joins != steps+1 {
		t.Errorf("%d joins over %d fake-clock waits, want %d", joins, steps, steps+1)
	}
	// Without the clock moving, nothing happens: no busy loop.
	time.Sleep(50 * time.Millisecond)
	if got := r.joinCount(); got != joins {
		t.Errorf("joins went from %d to %d while the clock stood still", joins, got)
	}
	if n := h.logs.count("room state error"); n != 1 {
		t.Errorf("error state logged %d times, want once", n)
	}
}

func TestSupervisorRetryAfter(t *testing.T) {
	r := &scriptRoom{}
	r.add(step{err: &JoinError{Op: "http", Status: 503, RetryAfter: 45 * time.Second, Err: errors.New("busy")}})
	h := start(t, r, nil)
	h.clock.block(t, 1)
	if d := h.clock.lastWait(); d != 45*time.Second {
		t.Errorf("wait = %v, want the server's Retry-After 45s", d)
	}
}

func TestSupervisorRejoinsLostSession(t *testing.T) {
	r := &scriptRoom{}
	s1, s2 := newTestSession(), newTestSession()
	r.add(step{sess: s1}, step{sess: s2})
	h := start(t, r, nil)
	h.waitState(StateConnected)

	s1.end(errors.New("signal connection lost"))
	c := h.waitState(StateReconnecting)
	if c.Reason != "signal connection lost" {
		t.Errorf("reason %q", c.Reason)
	}
	if !s1.isClosed() {
		t.Error("lost session not closed")
	}
	if err := h.sup.WriteOpus([]byte{1}, 20*time.Millisecond); !errors.Is(err, ErrNotConnected) {
		t.Errorf("WriteOpus while down = %v, want ErrNotConnected", err)
	}
	if d := h.sup.Stats().Dropped; d != 1 {
		t.Errorf("dropped %d, want 1", d)
	}
	h.clock.block(t, 1)
	h.clock.Advance(h.clock.lastWait())
	h.waitState(StateConnected)
	if err := h.sup.WriteOpus([]byte{1}, 20*time.Millisecond); err != nil {
		t.Errorf("WriteOpus after rejoin: %v", err)
	}
	if s2.writes.Load() != 1 || s1.writes.Load() != 0 {
		t.Errorf("writes s1=%d s2=%d", s1.writes.Load(), s2.writes.Load())
	}
}

func TestSupervisorStableSessionResetsBackoff(t *testing.T) {
	r := &scriptRoom{}
	a, b := newTestSession(), newTestSession()
	r.add(step{err: errNet}, step{err: errNet}, step{err: errNet}, step{sess: a}, step{sess: b}, step{err: errNet})
	h := start(t, r, nil)
	for i := 0; i < 3; i++ {
		h.clock.block(t, 1)
		h.clock.Advance(h.clock.lastWait())
	}
	h.waitState(StateConnected)
	a.end(errors.New("kicked at once"))
	h.clock.block(t, 1)
	if d := h.clock.lastWait(); d < 4*time.Second {
		t.Errorf("wait after a short session = %v, want the backoff to keep growing (>= 4s)", d)
	}
	h.clock.Advance(h.clock.lastWait())
	h.waitState(StateConnected)
	h.clock.Advance(stableSession + time.Second)
	b.end(errors.New("server restarted"))
	h.clock.block(t, 1)
	if d := h.clock.lastWait(); d != time.Second {
		t.Errorf("wait after a stable session = %v, want MinBackoff", d)
	}
}

func TestSupervisorPassesEventsThrough(t *testing.T) {
	r := &scriptRoom{}
	s1 := newTestSession()
	r.add(step{sess: s1})
	h := start(t, r, nil)
	h.waitState(StateConnected)

	s1.emit(Event{Kind: EventReconnecting, Reason: "ice restart"})
	if c := h.waitState(StateReconnecting); c.Reason != "ice restart" {
		t.Errorf("reason %q", c.Reason)
	}
	h.waitEvent(EventReconnecting)
	s1.emit(Event{Kind: EventReconnected})
	h.waitState(StateConnected)
	h.waitEvent(EventReconnected)

	s1.denied.Store(true)
	s1.emit(Event{Kind: EventPublishDenied, Reason: "muted by server"})
	if c := h.waitState(StatePermissionDenied); c.Reason != "muted by server" {
		t.Errorf("reason %q", c.Reason)
	}
	h.waitEvent(EventPublishDenied)
	if err := h.sup.WriteOpus([]byte{1}, 20*time.Millisecond); !errors.Is(err, ErrNotPublishing) {
		t.Errorf("WriteOpus while denied = %v", err)
	}
	if d := h.sup.Stats().Dropped; d != 1 {
		t.Errorf("dropped %d, want 1", d)
	}
	s1.denied.Store(false)
	s1.emit(Event{Kind: EventPublishAllowed})
	h.waitState(StateConnected)
	h.waitEvent(EventPublishAllowed)

	tr := trackStub{id: "TR_1", who: "alice"}
	s1.emit(Event{Kind: EventTrackAdded, Participant: "alice", Track: tr})
	if e := h.waitEvent(EventTrackAdded); e.Track.ID() != "TR_1" || e.Participant != "alice" {
		t.Errorf("track event %+v", e)
	}
	s1.emit(Event{Kind: EventTrackRemoved, Participant: "alice", Track: tr})
	s1.end(errors.New("gone"))
	// The removal sent just before the end is still passed on.
	h.waitEvent(EventTrackRemoved)
}

func TestSupervisorStopsOnCancel(t *testing.T) {
	r := &scriptRoom{}
	s1 := newTestSession()
	r.add(step{sess: s1})
	h := start(t, r, nil)
	h.waitState(StateConnected)
	h.cancel()
	h.waitState(StateStopped)
	if !s1.isClosed() {
		t.Error("session not closed on cancel")
	}
	if err := h.sup.WriteOpus([]byte{1}, 20*time.Millisecond); !errors.Is(err, ErrNotConnected) {
		t.Errorf("WriteOpus after stop = %v", err)
	}
	// Run may be called again once it has returned. The state reaches
	// Stopped just before it returns, so wait for the return itself.
	if err := <-h.done; err != nil {
		t.Errorf("Run: %v", err)
	}
	h.done <- nil // for the harness's cleanup
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := h.sup.Run(ctx); err != nil {
		t.Errorf("Run after Run returned: %v", err)
	}
}

func TestSupervisorRunTwice(t *testing.T) {
	r := &scriptRoom{}
	r.add(step{err: errNet})
	h := start(t, r, nil)
	h.clock.block(t, 1)
	if err := h.sup.Run(context.Background()); err == nil {
		t.Error("second concurrent Run did not fail")
	}
}

func TestSupervisorAdaptsEncoder(t *testing.T) {
	r := &scriptRoom{}
	s1 := newTestSession()
	r.add(step{sess: s1})
	enc := &recEncoder{calls: make(chan [2]int, 10)}
	h := start(t, r, func(c *SupervisorConfig) {
		c.Encoder = enc
		c.Adapt = AdaptConfig{Interval: 2 * time.Second, MaxBitrate: 64000, MinBitrate: 16000}
	})
	h.waitState(StateConnected)
	if got := enc.next(t); got != [2]int{0, 64000} {
		t.Errorf("first setting %v, want no loss at the max bitrate", got)
	}
	s1.lost.Store(20)
	h.clock.block(t, 1)
	h.clock.Advance(2 * time.Second)
	if got := enc.next(t); got != [2]int{20, 57600} {
		t.Errorf("after 20%% loss %v, want [20 57600]", got)
	}
}

type recEncoder struct {
	mu    sync.Mutex
	loss  int
	calls chan [2]int
}

func (e *recEncoder) SetPacketLoss(pct int) error {
	e.mu.Lock()
	e.loss = pct
	e.mu.Unlock()
	return nil
}

func (e *recEncoder) SetBitrate(bps int) error {
	e.mu.Lock()
	l := e.loss
	e.mu.Unlock()
	e.calls <- [2]int{l, bps}
	return nil
}

func (e *recEncoder) next(t *testing.T) [2]int {
	t.Helper()
	select {
	case c := <-e.calls:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("encoder never adjusted")
	}
	return [2]int{}
}

type trackStub struct{ id, who string }

func (s trackStub) Participant() string                   { return s.who }
func (s trackStub) ID() string                            { return s.id }
func (s trackStub) ReadPacket(buf []byte) (Packet, error) { return Packet{}, io.EOF }

func TestSupervisorWriteOpusConcurrentWithRejoins(t *testing.T) {
	r := &scriptRoom{}
	const n = 20
	sessions := make([]*testSession, n)
	for i := range sessions {
		sessions[i] = newTestSession()
		r.add(step{sess: sessions[i]})
	}
	h := start(t, r, func(c *SupervisorConfig) { c.MinBackoff, c.MaxBackoff = time.Millisecond, time.Millisecond })
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var sent, refused atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		pkt := make([]byte, 80)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := h.sup.WriteOpus(pkt, 20*time.Millisecond); err != nil {
				refused.Add(1)
			} else {
				sent.Add(1)
			}
		}
	}()
	for i := 0; i < n; i++ {
		h.waitState(StateConnected)
		time.Sleep(time.Millisecond)
		sessions[i].end(errors.New("lost"))
		if i < n-1 {
			h.clock.block(t, 1)
			h.clock.Advance(time.Millisecond)
		}
	}
	close(stop)
	wg.Wait()
	var got int64
	for _, s := range sessions {
		got += s.writes.Load()
	}
	if got != sent.Load() {
		t.Errorf("sessions saw %d frames, WriteOpus reported %d sent", got, sent.Load())
	}
	if uint64(refused.Load()) != h.sup.Stats().Dropped {
		t.Errorf("refused %d, Dropped %d", refused.Load(), h.sup.Stats().Dropped)
	}
}

func TestSupervisorWriteOpusAllocs(t *testing.T) {
	r := &scriptRoom{}
	s1 := newTestSession()
	r.add(step{sess: s1})
	h := start(t, r, nil)
	pkt := make([]byte, 120)
	if n := testing.AllocsPerRun(100, func() { _ = h.sup.WriteOpus(pkt, 20*time.Millisecond) }); n != 0 {
		t.Errorf("WriteOpus while connecting allocates %v times", n)
	}
	h.waitState(StateConnected)
	if n := testing.AllocsPerRun(100, func() { _ = h.sup.WriteOpus(pkt, 20*time.Millisecond) }); n != 0 {
		t.Errorf("WriteOpus while connected allocates %v times", n)
	}
}

func BenchmarkSupervisorWriteOpus(b *testing.B) {
	r := &scriptRoom{}
	s1 := newTestSession()
	r.add(step{sess: s1})
	connected := make(chan struct{}, 1)
	sup := NewSupervisor(r, SupervisorConfig{OnState: func(c StateChange) {
		if c.State == StateConnected {
			connected <- struct{}{}
		}
	}}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = sup.Run(ctx); close(done) }()
	<-connected
	pkt := make([]byte, 120)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := sup.WriteOpus(pkt, 20*time.Millisecond); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	cancel()
	<-done
}
