package room_test

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

	"github.com/onair-gateway/onair/net/room"
	"github.com/onair-gateway/onair/net/room/roomtest"
)

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
	room   room.Room
	clock  *recClock
	sup    *room.Supervisor
	states chan room.StateChange
	events chan room.Event
	logs   *countHandler
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, r room.Room, mod func(*room.SupervisorConfig)) *harness {
	t.Helper()
	h := &harness{
		t:      t,
		room:   r,
		clock:  &recClock{FakeClock: clockwork.NewFakeClock()},
		states: make(chan room.StateChange, 100),
		events: make(chan room.Event, 100),
		logs:   &countHandler{counts: map[string]int{}},
		done:   make(chan error, 1),
	}
	cfg := room.SupervisorConfig{
		MinBackoff: time.Second,
		MaxBackoff: 30 * time.Second,
		Clock:      h.clock,
		OnState:    func(c room.StateChange) { h.states <- c },
		OnEvent:    func(e room.Event) { h.events <- e },
	}
	if mod != nil {
		mod(&cfg)
	}
	h.sup = room.NewSupervisor(r, cfg, slog.New(h.logs))
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
func (h *harness) waitState(want room.State) room.StateChange {
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

func (h *harness) waitEvent(want room.EventKind) room.Event {
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
	r := &roomtest.Room{}
	s1 := roomtest.NewSession()
	r.Add(roomtest.Step{Err: errNet}, roomtest.Step{Err: errNet}, roomtest.Step{Err: errNet}, roomtest.Step{Err: errNet}, roomtest.Step{Session: s1})
	h := start(t, r, nil)

	// Attempt n waits within [max(min, base/2), base], base = 1s·2ⁿ.
	bounds := [][2]time.Duration{{1 * time.Second, 1 * time.Second}, {1 * time.Second, 2 * time.Second}, {2 * time.Second, 4 * time.Second}, {4 * time.Second, 8 * time.Second}}
	for i, b := range bounds {
		h.clock.block(t, 1)
		d := h.clock.lastWait()
		if d < b[0] || d > b[1] {
			t.Errorf("wait %d = %v, want within [%v, %v]", i, d, b[0], b[1])
		}
		if got := r.Joins(); got != i+1 {
			t.Fatalf("joins before wait %d = %d, want %d", i, got, i+1)
		}
		h.clock.Advance(d)
	}
	c := h.waitState(room.StateConnected)
	if c.Reason != "joined" {
		t.Errorf("reason %q", c.Reason)
	}
	if err := h.sup.WriteOpus([]byte{1, 2, 3}, 20*time.Millisecond); err != nil {
		t.Fatalf("WriteOpus: %v", err)
	}
	if s1.Packets() != 1 {
		t.Errorf("session got %d writes, want 1", s1.Packets())
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
	r := &roomtest.Room{}
	perm := &room.JoinError{Op: "signal", Status: 401, Permanent: true, Err: errors.New("unauthorized: invalid token")}
	r.Add(roomtest.Step{Err: perm})
	h := start(t, r, nil)

	c := h.waitState(room.StateError)
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
	joins := r.Joins()
	if joins != steps+1 {
		t.Errorf("%d joins over %d fake-clock waits, want %d", joins, steps, steps+1)
	}
	// Without the clock moving, nothing happens: no busy loop.
	time.Sleep(50 * time.Millisecond)
	if got := r.Joins(); got != joins {
		t.Errorf("joins went from %d to %d while the clock stood still", joins, got)
	}
	if n := h.logs.count("room state error"); n != 1 {
		t.Errorf("error state logged %d times, want once", n)
	}
}

func TestSupervisorRetryAfter(t *testing.T) {
	r := &roomtest.Room{}
	r.Add(roomtest.Step{Err: &room.JoinError{Op: "http", Status: 503, RetryAfter: 45 * time.Second, Err: errors.New("busy")}})
	h := start(t, r, nil)
	h.clock.block(t, 1)
	if d := h.clock.lastWait(); d != 45*time.Second {
		t.Errorf("wait = %v, want the server's Retry-After 45s", d)
	}
}

func TestSupervisorRejoinsLostSession(t *testing.T) {
	r := &roomtest.Room{}
	s1, s2 := roomtest.NewSession(), roomtest.NewSession()
	r.Add(roomtest.Step{Session: s1}, roomtest.Step{Session: s2})
	h := start(t, r, nil)
	h.waitState(room.StateConnected)

	s1.End(errors.New("signal connection lost"))
	c := h.waitState(room.StateReconnecting)
	if c.Reason != "signal connection lost" {
		t.Errorf("reason %q", c.Reason)
	}
	if !s1.Closed() {
		t.Error("lost session not closed")
	}
	if err := h.sup.WriteOpus([]byte{1}, 20*time.Millisecond); !errors.Is(err, room.ErrNotConnected) {
		t.Errorf("WriteOpus while down = %v, want ErrNotConnected", err)
	}
	if d := h.sup.Stats().Dropped; d != 1 {
		t.Errorf("dropped %d, want 1", d)
	}
	h.clock.block(t, 1)
	h.clock.Advance(h.clock.lastWait())
	h.waitState(room.StateConnected)
	if err := h.sup.WriteOpus([]byte{1}, 20*time.Millisecond); err != nil {
		t.Errorf("WriteOpus after rejoin: %v", err)
	}
	if s2.Packets() != 1 || s1.Packets() != 0 {
		t.Errorf("writes s1=%d s2=%d", s1.Packets(), s2.Packets())
	}
}

func TestSupervisorStableSessionResetsBackoff(t *testing.T) {
	r := &roomtest.Room{}
	a, b := roomtest.NewSession(), roomtest.NewSession()
	r.Add(roomtest.Step{Err: errNet}, roomtest.Step{Err: errNet}, roomtest.Step{Err: errNet}, roomtest.Step{Session: a}, roomtest.Step{Session: b}, roomtest.Step{Err: errNet})
	h := start(t, r, nil)
	for i := 0; i < 3; i++ {
		h.clock.block(t, 1)
		h.clock.Advance(h.clock.lastWait())
	}
	h.waitState(room.StateConnected)
	a.End(errors.New("kicked at once"))
	h.clock.block(t, 1)
	if d := h.clock.lastWait(); d < 4*time.Second {
		t.Errorf("wait after a short session = %v, want the backoff to keep growing (>= 4s)", d)
	}
	h.clock.Advance(h.clock.lastWait())
	h.waitState(room.StateConnected)
	h.clock.Advance(11 * time.Second) // past the 10 s a session must last to reset the backoff
	b.End(errors.New("server restarted"))
	h.clock.block(t, 1)
	if d := h.clock.lastWait(); d != time.Second {
		t.Errorf("wait after a stable session = %v, want MinBackoff", d)
	}
}

func TestSupervisorPassesEventsThrough(t *testing.T) {
	r := &roomtest.Room{}
	s1 := roomtest.NewSession()
	r.Add(roomtest.Step{Session: s1})
	h := start(t, r, nil)
	h.waitState(room.StateConnected)

	s1.Emit(room.Event{Kind: room.EventReconnecting, Reason: "ice restart"})
	if c := h.waitState(room.StateReconnecting); c.Reason != "ice restart" {
		t.Errorf("reason %q", c.Reason)
	}
	h.waitEvent(room.EventReconnecting)
	s1.Emit(room.Event{Kind: room.EventReconnected})
	h.waitState(room.StateConnected)
	h.waitEvent(room.EventReconnected)

	s1.SetDenied(true)
	s1.Emit(room.Event{Kind: room.EventPublishDenied, Reason: "muted by server"})
	if c := h.waitState(room.StatePermissionDenied); c.Reason != "muted by server" {
		t.Errorf("reason %q", c.Reason)
	}
	h.waitEvent(room.EventPublishDenied)
	if err := h.sup.WriteOpus([]byte{1}, 20*time.Millisecond); !errors.Is(err, room.ErrNotPublishing) {
		t.Errorf("WriteOpus while denied = %v", err)
	}
	if d := h.sup.Stats().Dropped; d != 1 {
		t.Errorf("dropped %d, want 1", d)
	}
	s1.SetDenied(false)
	s1.Emit(room.Event{Kind: room.EventPublishAllowed})
	h.waitState(room.StateConnected)
	h.waitEvent(room.EventPublishAllowed)

	tr := trackStub{id: "TR_1", who: "alice"}
	s1.Emit(room.Event{Kind: room.EventTrackAdded, Participant: "alice", Track: tr})
	if e := h.waitEvent(room.EventTrackAdded); e.Track.ID() != "TR_1" || e.Participant != "alice" {
		t.Errorf("track event %+v", e)
	}
	s1.Emit(room.Event{Kind: room.EventTrackRemoved, Participant: "alice", Track: tr})
	s1.End(errors.New("gone"))
	// The removal sent just before the end is still passed on.
	h.waitEvent(room.EventTrackRemoved)
}

func TestSupervisorStopsOnCancel(t *testing.T) {
	r := &roomtest.Room{}
	s1 := roomtest.NewSession()
	r.Add(roomtest.Step{Session: s1})
	h := start(t, r, nil)
	h.waitState(room.StateConnected)
	h.cancel()
	h.waitState(room.StateStopped)
	if !s1.Closed() {
		t.Error("session not closed on cancel")
	}
	if err := h.sup.WriteOpus([]byte{1}, 20*time.Millisecond); !errors.Is(err, room.ErrNotConnected) {
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
	r := &roomtest.Room{}
	r.Add(roomtest.Step{Err: errNet})
	h := start(t, r, nil)
	h.clock.block(t, 1)
	if err := h.sup.Run(context.Background()); err == nil {
		t.Error("second concurrent Run did not fail")
	}
}

// TestSupervisorAdaptsEncoder: nothing is applied before the room's first
// receiver report (a session's zero loss before any report is not a report
// of no loss), each new report is applied once, the bitrate ceiling is the
// encoder's configured bitrate, and Stats shows where the encoder is.
func TestSupervisorAdaptsEncoder(t *testing.T) {
	r := &roomtest.Room{}
	s1 := roomtest.NewSession()
	r.Add(roomtest.Step{Session: s1})
	enc := &recEncoder{calls: make(chan [2]int, 10), configured: 64000, fec: true}
	h := start(t, r, func(c *room.SupervisorConfig) {
		c.Encoder = enc
		c.Adapt = room.AdaptConfig{Interval: 2 * time.Second, MinBitrate: 16000}
	})
	h.waitState(room.StateConnected)
	h.clock.block(t, 1)
	h.clock.Advance(2 * time.Second)
	h.clock.block(t, 1)
	if n := len(enc.calls); n != 0 {
		t.Fatalf("%d settings applied before any receiver report", n)
	}
	if a := h.sup.Stats().Adapt; a.PacketLossPct != -1 || a.TargetBitrate != 64000 || a.FEC || a.Changes != 0 {
		t.Errorf("Stats().Adapt before a report = %+v", a)
	}
	s1.SetFractionLost(0)
	h.clock.Advance(2 * time.Second)
	if got := enc.next(t); got != [2]int{0, 64000} {
		t.Errorf("first setting %v, want no loss at the configured bitrate", got)
	}
	s1.SetFractionLost(0.2)
	h.clock.block(t, 1)
	h.clock.Advance(2 * time.Second)
	if got := enc.next(t); got != [2]int{20, 57600} {
		t.Errorf("after 20%% loss %v, want [20 57600]", got)
	}
	// The same report again, seen at the next tick, is not applied twice.
	h.clock.block(t, 1)
	h.clock.Advance(2 * time.Second)
	h.clock.block(t, 1)
	if n := len(enc.calls); n != 0 {
		t.Errorf("a stale report was applied again (%d settings)", n)
	}
	if a := h.sup.Stats().Adapt; a.PacketLossPct != 20 || a.TargetBitrate != 57600 || !a.FEC || a.Changes != 2 {
		t.Errorf("Stats().Adapt = %+v, want 20%% loss, 57600 bit/s, FEC on, 2 changes", a)
	}
}

// TestSupervisorAdaptsToNACKs: a LiveKit server counts retransmitted
// packets as received, so its reports can say 0% while a tenth of the
// packets needed a NACK; the encoder is set for the loss the NACKs show.
func TestSupervisorAdaptsToNACKs(t *testing.T) {
	r := &roomtest.Room{}
	s1 := roomtest.NewSession()
	r.Add(roomtest.Step{Session: s1})
	enc := &recEncoder{calls: make(chan [2]int, 10), configured: 32000, fec: true}
	h := start(t, r, func(c *room.SupervisorConfig) {
		c.Encoder = enc
		c.Adapt = room.AdaptConfig{Interval: 2 * time.Second}
	})
	h.waitState(room.StateConnected)
	pkt := make([]byte, 80)
	for range 100 {
		if err := h.sup.WriteOpus(pkt, 20*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	s1.AddNACKs(12)
	s1.SetFractionLost(0)
	h.clock.block(t, 1)
	h.clock.Advance(2 * time.Second)
	if got := enc.next(t); got[0] != 12 {
		t.Errorf("12 of 100 packets NACKed, reports at 0%%: expected loss %d%%, want 12%%", got[0])
	}
}

// recEncoder records what the supervisor applies and answers like
// opus.Encoder: the target is the configured bitrate capped by the limit,
// FEC on while enabled and loss is expected.
type recEncoder struct {
	mu         sync.Mutex
	loss       int
	limit      int
	configured int
	fec        bool
	calls      chan [2]int
}

func (e *recEncoder) SetPacketLoss(pct int) error {
	e.mu.Lock()
	e.loss = pct
	e.mu.Unlock()
	return nil
}

func (e *recEncoder) LimitBitrate(bps int) error {
	e.mu.Lock()
	l := e.loss
	e.limit = bps
	e.mu.Unlock()
	e.calls <- [2]int{l, bps}
	return nil
}

func (e *recEncoder) Configured() (int, bool) { return e.configured, e.fec }

func (e *recEncoder) Target() (int, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	b := e.configured
	if e.limit > 0 {
		b = min(b, e.limit)
	}
	return b, e.fec && e.loss > 0
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

func (s trackStub) Participant() string                        { return s.who }
func (s trackStub) ID() string                                 { return s.id }
func (s trackStub) ReadPacket(buf []byte) (room.Packet, error) { return room.Packet{}, io.EOF }

func TestSupervisorWriteOpusConcurrentWithRejoins(t *testing.T) {
	r := &roomtest.Room{}
	const n = 20
	sessions := make([]*roomtest.Session, n)
	for i := range sessions {
		sessions[i] = roomtest.NewSession()
		r.Add(roomtest.Step{Session: sessions[i]})
	}
	h := start(t, r, func(c *room.SupervisorConfig) { c.MinBackoff, c.MaxBackoff = time.Millisecond, time.Millisecond })
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
		h.waitState(room.StateConnected)
		time.Sleep(time.Millisecond)
		sessions[i].End(errors.New("lost"))
		if i < n-1 {
			h.clock.block(t, 1)
			h.clock.Advance(time.Millisecond)
		}
	}
	close(stop)
	wg.Wait()
	var got int64
	for _, s := range sessions {
		got += int64(s.Packets())
	}
	if got != sent.Load() {
		t.Errorf("sessions saw %d frames, WriteOpus reported %d sent", got, sent.Load())
	}
	if uint64(refused.Load()) != h.sup.Stats().Dropped {
		t.Errorf("refused %d, Dropped %d", refused.Load(), h.sup.Stats().Dropped)
	}
}

func TestSupervisorWriteOpusAllocs(t *testing.T) {
	r := &roomtest.Room{}
	s1 := roomtest.NewSession()
	r.Add(roomtest.Step{Session: s1})
	h := start(t, r, nil)
	pkt := make([]byte, 120)
	if n := testing.AllocsPerRun(100, func() { _ = h.sup.WriteOpus(pkt, 20*time.Millisecond) }); n != 0 {
		t.Errorf("WriteOpus while connecting allocates %v times", n)
	}
	h.waitState(room.StateConnected)
	if n := testing.AllocsPerRun(100, func() { _ = h.sup.WriteOpus(pkt, 20*time.Millisecond) }); n != 0 {
		t.Errorf("WriteOpus while connected allocates %v times", n)
	}
}

func BenchmarkSupervisorWriteOpus(b *testing.B) {
	r := &roomtest.Room{}
	s1 := roomtest.NewSession()
	r.Add(roomtest.Step{Session: s1})
	connected := make(chan struct{}, 1)
	sup := room.NewSupervisor(r, room.SupervisorConfig{OnState: func(c room.StateChange) {
		if c.State == room.StateConnected {
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
