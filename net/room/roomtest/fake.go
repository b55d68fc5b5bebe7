// Package roomtest holds a fake room.Room and room.Session for the tests of
// whatever consumes them (the Supervisor, the gateway), and the contract
// every room.Session keeps, as a test any implementation runs against
// itself (net/livekit against livekit-server, net/whip against a WHIP
// endpoint, and the fake here), so that the fake cannot drift from the real
// sessions.
package roomtest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/onair-gateway/onair/net/room"
)

// ErrDown is what a ProbingRoom's Probe returns while its server is down.
var ErrDown = errors.New("roomtest: server down")

// ErrNoSteps is what Join returns when the script is empty.
var ErrNoSteps = errors.New("roomtest: no more steps")

// Step is one scripted Join outcome: Err, or Session.
type Step struct {
	Err     error
	Session *Session
}

// Room is a room.Room whose joins follow a script: each Join takes the next
// Step; the last Step, if it is an error, repeats. In a Room made by
// NewLiveRoom no Step repeats: once the script is used up, each Join
// connects a new Session at once. It is safe for concurrent use.
type Room struct {
	mu       sync.Mutex
	steps    []Step
	joins    int
	sessions []*Session      // every session Join returned
	live     bool            // NewLiveRoom: join a NewSession when the script is empty
	joined   chan *Session   // live rooms: each session Join returned
	Joined   <-chan *Session // joined, for the test; nil unless made by NewLiveRoom
}

// NewLiveRoom returns a Room whose every Join, once its script (if any) is
// used up, succeeds at once with a NewSession. Each session Join returns is
// also sent on Joined, which holds up to buffer sessions nobody received;
// a Join past that waits for the test to receive (or for its context).
func NewLiveRoom(buffer int) *Room {
	ch := make(chan *Session, buffer)
	return &Room{live: true, joined: ch, Joined: ch}
}

// Add appends steps to the script.
func (r *Room) Add(steps ...Step) {
	r.mu.Lock()
	r.steps = append(r.steps, steps...)
	r.mu.Unlock()
}

// Join implements room.Room.
func (r *Room) Join(ctx context.Context) (room.Session, error) {
	s, err := r.next(ctx)
	if err != nil {
		return nil, err
	}
	if r.joined != nil {
		select {
		case r.joined <- s:
		case <-ctx.Done():
			s.Close()
			return nil, ctx.Err()
		}
	}
	return s, nil
}

// next takes the next Step of the script, or a NewSession in a live Room.
func (r *Room) next(ctx context.Context) (*Session, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.joins++
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var st Step
	switch {
	case len(r.steps) > 0:
		st = r.steps[0]
		if len(r.steps) > 1 || st.Session != nil || r.live {
			r.steps = r.steps[1:]
		}
	case r.live:
		st.Session = NewSession()
	default:
		return nil, ErrNoSteps
	}
	if st.Session == nil {
		return nil, st.Err
	}
	r.sessions = append(r.sessions, st.Session)
	return st.Session, nil
}

// Packets returns how many packets WriteOpus sent on all the sessions
// Join returned.
func (r *Room) Packets() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var n uint64
	for _, s := range r.sessions {
		n += s.Packets()
	}
	return n
}

// Joins returns how many times Join was called.
func (r *Room) Joins() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.joins
}

// ProbingRoom is a Room that is also a room.Prober, whose server is up or
// down as the test says (up at first).
type ProbingRoom struct {
	Room
	mu     sync.Mutex
	down   bool
	probes int
}

// Probe implements room.Prober: ErrDown while the server is down.
func (r *ProbingRoom) Probe(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.probes++
	if r.down {
		return ErrDown
	}
	return ctx.Err()
}

// SetUp says whether the server answers probes.
func (r *ProbingRoom) SetUp(up bool) {
	r.mu.Lock()
	r.down = !up
	r.mu.Unlock()
}

// Probes returns how many times Probe was called.
func (r *ProbingRoom) Probes() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.probes
}

// Session is a room.Session and room.Skipper whose events, permission,
// loss and end the test drives. It counts what WriteOpus sent.
type Session struct {
	events  chan room.Event
	done    chan struct{}
	evMu    sync.Mutex // guards ended and sends on events
	ended   bool
	err     error // set before done closes
	closed  atomic.Bool
	denied  atomic.Bool
	packets atomic.Uint64
	bytes   atomic.Uint64
	skipped atomic.Int64 // nanoseconds
	lost    atomic.Uint64
	reports atomic.Uint64
	nacks   atomic.Uint64
}

// NewSession returns a live Session whose Events channel holds up to 16
// events.
func NewSession() *Session {
	return &Session{events: make(chan room.Event, 16), done: make(chan struct{})}
}

// WriteOpus implements room.Session: ErrClosed after Close or the end,
// ErrNotPublishing while denied, else the packet is counted.
func (s *Session) WriteOpus(pkt []byte, dur time.Duration) error {
	if s.closed.Load() {
		return room.ErrClosed
	}
	if s.denied.Load() {
		return room.ErrNotPublishing
	}
	s.packets.Add(1)
	s.bytes.Add(uint64(len(pkt)))
	return nil
}

// Skip implements room.Skipper.
func (s *Session) Skip(d time.Duration) { s.skipped.Add(int64(d)) }

// Events implements room.Session.
func (s *Session) Events() <-chan room.Event { return s.events }

// Done implements room.Session.
func (s *Session) Done() <-chan struct{} { return s.done }

// Err implements room.Session.
func (s *Session) Err() error {
	select {
	case <-s.done:
		return s.err
	default:
		return nil
	}
}

// Stats implements room.Session.
func (s *Session) Stats() room.Stats {
	return room.Stats{
		PacketsSent:     s.packets.Load(),
		BytesSent:       s.bytes.Load(),
		FractionLost:    float64(s.lost.Load()) / 1e6,
		ReceiverReports: s.reports.Load(),
		NACKs:           s.nacks.Load(),
	}
}

// Close implements room.Session.
func (s *Session) Close() error {
	s.End(nil)
	return nil
}

// End ends the session as a backend does when the network is lost (err)
// or on Close (nil). Later calls do nothing.
func (s *Session) End(err error) {
	s.evMu.Lock()
	defer s.evMu.Unlock()
	if s.ended {
		return
	}
	s.ended = true
	s.closed.Store(true)
	s.err = err
	close(s.events)
	close(s.done)
}

// Emit sends ev on Events, waiting for room in the buffer; after the end it
// does nothing.
func (s *Session) Emit(ev room.Event) {
	s.evMu.Lock()
	defer s.evMu.Unlock()
	if !s.ended {
		s.events <- ev
	}
}

// SetDenied makes WriteOpus return ErrNotPublishing (true) or send again.
func (s *Session) SetDenied(denied bool) { s.denied.Store(denied) }

// SetFractionLost is a receiver report of loss f, 0..1: Stats reports it
// and counts one more report.
func (s *Session) SetFractionLost(f float64) {
	s.lost.Store(uint64(f * 1e6))
	s.reports.Add(1)
}

// AddNACKs counts n more packets the room asked to have sent again.
func (s *Session) AddNACKs(n uint64) { s.nacks.Add(n) }

// Packets returns how many packets WriteOpus sent.
func (s *Session) Packets() uint64 { return s.packets.Load() }

// Skipped returns the total Skip asked for.
func (s *Session) Skipped() time.Duration { return time.Duration(s.skipped.Load()) }

// Closed reports whether the session has ended (Close or End).
func (s *Session) Closed() bool { return s.closed.Load() }

var (
	_ room.Room    = (*Room)(nil)
	_ room.Room    = (*ProbingRoom)(nil)
	_ room.Prober  = (*ProbingRoom)(nil)
	_ room.Session = (*Session)(nil)
	_ room.Skipper = (*Session)(nil)
)
