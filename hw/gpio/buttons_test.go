package gpio

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"go.uber.org/goleak"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/onair-gateway/onair/conf"
)

// level is one raw change of a button: down (pressed) or up at an offset
// from the start.
type level struct {
	at   time.Duration
	down bool
}

// ev is an expected event at an offset from the start.
func ev(k EventKind, hold, at time.Duration) ButtonEvent {
	return ButtonEvent{Kind: k, Hold: hold, At: epoch().Add(at)}
}

const ms = time.Millisecond

type buttonCase struct {
	name  string
	steps []level
	end   time.Duration
	want  []ButtonEvent
}

// buttonCases is shared by the pure debouncer test and the end-to-end test
// through gpiotest pins. Thresholds are the defaults: debounce 20 ms,
// identify 3 s, forget 10 s.
func buttonCases() []buttonCase {
	return []buttonCase{
		{
			name:  "contacts chatter for 5ms on press and on release",
			steps: []level{{0, true}, {1 * ms, false}, {2 * ms, true}, {3 * ms, false}, {5 * ms, true}, {200 * ms, false}, {201 * ms, true}, {203 * ms, false}},
			end:   300 * ms,
			want:  []ButtonEvent{ev(Press, 0, 5*ms), ev(Release, 198*ms, 203*ms)},
		},
		{
			name:  "19ms glitch with 20ms debounce",
			steps: []level{{0, true}, {19 * ms, false}},
			end:   200 * ms,
		},
		{
			name:  "press held exactly the debounce time counts",
			steps: []level{{0, true}, {20 * ms, false}},
			end:   100 * ms,
			want:  []ButtonEvent{ev(Press, 0, 0), ev(Release, 20*ms, 20*ms)},
		},
		{
			name:  "19ms release glitch while held",
			steps: []level{{0, true}, {100 * ms, false}, {119 * ms, true}},
			end:   300 * ms,
			want:  []ButtonEvent{ev(Press, 0, 0)},
		},
		{
			name:  "two presses",
			steps: []level{{0, true}, {100 * ms, false}, {500 * ms, true}, {600 * ms, false}},
			end:   700 * ms,
			want:  []ButtonEvent{ev(Press, 0, 0), ev(Release, 100*ms, 100*ms), ev(Press, 0, 500*ms), ev(Release, 100*ms, 600*ms)},
		},
		{
			name:  "hold to identify",
			steps: []level{{0, true}, {5 * time.Second, false}},
			end:   6 * time.Second,
			want:  []ButtonEvent{ev(Press, 0, 0), ev(LongPress, 3*time.Second, 3*time.Second), ev(Release, 5*time.Second, 5*time.Second)},
		},
		{
			name:  "hold to forget, then keep holding",
			steps: []level{{0, true}, {59 * time.Second, false}},
			end:   60 * time.Second,
			want: []ButtonEvent{
				ev(Press, 0, 0),
				ev(LongPress, 3*time.Second, 3*time.Second),
				ev(LongPress, 10*time.Second, 10*time.Second),
				ev(Release, 59*time.Second, 59*time.Second),
			},
		},
		{
			name:  "released just before identify",
			steps: []level{{0, true}, {2999 * ms, false}},
			end:   4 * time.Second,
			want:  []ButtonEvent{ev(Press, 0, 0), ev(Release, 2999*ms, 2999*ms)},
		},
		{
			// A noise edge (same level) at the threshold wakes the watcher
			// while the release is still being debounced.
			name:  "release pending at the identify threshold",
			steps: []level{{0, true}, {2990 * ms, false}, {3000 * ms, false}},
			end:   4 * time.Second,
			want:  []ButtonEvent{ev(Press, 0, 0), ev(Release, 2990*ms, 2990*ms)},
		},
		{
			name:  "release glitch across the identify threshold",
			steps: []level{{0, true}, {2995 * ms, false}, {3005 * ms, true}, {4 * time.Second, false}},
			end:   5 * time.Second,
			want:  []ButtonEvent{ev(Press, 0, 0), ev(LongPress, 3*time.Second, 3*time.Second), ev(Release, 4*time.Second, 4*time.Second)},
		},
	}
}

func defaultButton(activeLow bool) ButtonConfig {
	c := Config{Buttons: []ButtonConfig{{Name: "ptt", Pin: "GPIO17", ActiveLow: conf.Ptr(activeLow)}}}
	c.SetDefaults()
	return c.Buttons[0]
}

// TestDebouncer drives the state machine directly, stepping at every
// deadline it asks for.
func TestDebouncer(t *testing.T) {
	for _, tc := range buttonCases() {
		t.Run(tc.name, func(t *testing.T) {
			got := simulate(defaultButton(true), false, tc.steps, tc.end)
			checkEvents(t, got, tc.want)
		})
	}
}

// simulate runs a debouncer over steps, calling step at each deadline it
// returns, as the watcher goroutine would with a punctual clock.
func simulate(cfg ButtonConfig, initial bool, steps []level, end time.Duration) []ButtonEvent {
	d := newDebouncer(cfg, initial, epoch())
	now := epoch()
	var out []ButtonEvent
	runTo := func(t time.Time) {
		for {
			var next time.Time
			out, next = d.step(now, out)
			if next.IsZero() || next.After(t) {
				break
			}
			if !next.After(now) {
				panic("debouncer: step asked to be called again at " + next.String() + ", not after " + now.String())
			}
			now = next
		}
		now = t
		out, _ = d.step(now, out)
	}
	for _, s := range steps {
		runTo(epoch().Add(s.at))
		d.observe(s.down, now)
	}
	runTo(epoch().Add(end))
	return out
}

func checkEvents(t *testing.T, got, want []ButtonEvent) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d events %v, want %d %v", len(got), got, len(want), want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Kind != w.Kind || g.Hold != w.Hold || !g.At.Equal(w.At) {
			t.Errorf("event %d: got %v, want %v", i, g, w)
		}
	}
}

// buttonRig runs Buttons over gpiotest pins on a fake clock.
//
// Edges go through unbuffered EdgesChan sends: a send completes when the
// button goroutine takes the edge inside WaitForEdge, which it only does
// once it has finished with the previous one. So sending a level and then
// the same level again (an edge that changes nothing, as real drivers also
// report) returns only after the first edge was read and timestamped, and
// advancing the clock and then sending the current level twice returns
// only after everything due at the new time was handled.
type buttonRig struct {
	t      *testing.T
	clk    *clockwork.FakeClock
	pins   map[string]*gpiotest.Pin
	b      *Buttons
	cancel context.CancelFunc
	done   chan error
	result *error
}

func newButtonRig(t *testing.T, cfgs []ButtonConfig, wrap func(*gpiotest.Pin) gpio.PinIO) *buttonRig {
	t.Helper()
	r := &buttonRig{t: t, clk: clockwork.NewFakeClockAt(epoch()), pins: map[string]*gpiotest.Pin{}}
	for _, c := range cfgs {
		r.pins[c.Pin] = &gpiotest.Pin{N: c.Pin, EdgesChan: make(chan gpio.Level), Clock: r.clk}
	}
	lookup := func(name string) (gpio.PinIO, error) {
		p, ok := r.pins[name]
		if !ok {
			return nil, ErrNoPin
		}
		if wrap != nil {
			return wrap(p), nil
		}
		return p, nil
	}
	b, err := NewButtons(cfgs, lookup, r.clk, discard())
	if err != nil {
		t.Fatal(err)
	}
	r.b = b
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.done = make(chan error, 1)
	go func() { r.done <- b.Run(ctx) }()
	t.Cleanup(func() { r.stop() })
	return r
}

// send delivers one edge to the button goroutine.
func (r *buttonRig) send(p *gpiotest.Pin, l gpio.Level) {
	r.t.Helper()
	select {
	case p.EdgesChan <- l:
	case err := <-r.done:
		r.result = &err
		r.t.Fatalf("Run returned %v while an edge was pending", err)
	case <-time.After(guard):
		r.t.Fatalf("%s: the button goroutine did not take the edge", p.N)
	}
}

// set changes a pin's level and returns once the change was handled.
func (r *buttonRig) set(pin string, l gpio.Level) {
	r.t.Helper()
	p := r.pins[pin]
	r.send(p, l)
	r.send(p, l)
}

// advance moves the clock and returns once every pin handled the new time.
func (r *buttonRig) advance(d time.Duration) {
	r.t.Helper()
	r.clk.Advance(d)
	for _, p := range r.pins {
		r.send(p, p.Read())
		r.send(p, p.Read())
	}
}

// advanceTo moves the clock to an offset from the start.
func (r *buttonRig) advanceTo(at time.Duration) {
	r.t.Helper()
	if d := epoch().Add(at).Sub(r.clk.Now()); d > 0 {
		r.advance(d)
	}
}

// events returns the events delivered so far.
func (r *buttonRig) events() []ButtonEvent {
	var out []ButtonEvent
	for {
		select {
		case e, ok := <-r.b.Events():
			if !ok {
				return out
			}
			out = append(out, e)
		default:
			return out
		}
	}
}

// stop cancels Run and wakes the pins' pending WaitForEdge (gpiotest's Halt
// cannot) until Run returns; it returns Run's result.
func (r *buttonRig) stop() error {
	if r.result != nil {
		return *r.result
	}
	r.cancel()
	quit := make(chan struct{})
	var wg sync.WaitGroup
	for _, p := range r.pins {
		wg.Go(func() {
			for {
				select {
				case p.EdgesChan <- p.Read():
				case <-quit:
					return
				}
			}
		})
	}
	var err error
	select {
	case err = <-r.done:
	case <-time.After(guard):
		r.t.Error("Run did not return after cancel")
	}
	close(quit)
	wg.Wait()
	r.result = &err
	return err
}

func pinLevel(down, activeLow bool) gpio.Level { return gpio.Level(down != activeLow) }

// TestButtonsThroughPins runs the shared cases through gpiotest pins,
// active-low (pull-up, pressed reads low) and active-high (pull-down,
// pressed reads high), checking every event and that none is delivered
// before its time.
func TestButtonsThroughPins(t *testing.T) {
	for _, activeLow := range []bool{true, false} {
		for _, tc := range buttonCases() {
			name := tc.name + "/active-high"
			if activeLow {
				name = tc.name + "/active-low"
			}
			t.Run(name, func(t *testing.T) {
				cfg := defaultButton(activeLow)
				r := newButtonRig(t, []ButtonConfig{cfg}, nil)
				if got, want := r.pins["GPIO17"].P, periphPull(cfg.Pull); got != want {
					t.Fatalf("pin pull = %v, want %v", got, want)
				}
				var got []ButtonEvent
				collect := func() {
					for _, e := range r.events() {
						due := e.At
						if e.Kind != LongPress {
							due = due.Add(cfg.Debounce.D())
						}
						if r.clk.Now().Before(due) {
							t.Errorf("%v delivered at %v, before it was due at %v", e, r.clk.Now(), due)
						}
						if e.Name != "ptt" || e.Mode != ModePTT {
							t.Errorf("%v: name %q mode %q", e, e.Name, e.Mode)
						}
						got = append(got, e)
					}
				}
				for _, s := range tc.steps {
					r.advanceTo(s.at)
					collect()
					r.set("GPIO17", pinLevel(s.down, activeLow))
				}
				r.advanceTo(tc.end)
				collect()
				checkEvents(t, got, tc.want)
				if err := r.stop(); err != nil {
					t.Fatalf("Run: %v", err)
				}
			})
		}
	}
}

// TestButtonsHeldAtStart: a button already down when watching starts is
// pressed at the start, so presses and releases always pair up.
func TestButtonsHeldAtStart(t *testing.T) {
	cfg := defaultButton(true)
	cfg.Pull = PullNone // keep the level the test sets before In
	clk := clockwork.NewFakeClockAt(epoch())
	pin := &gpiotest.Pin{N: "GPIO17", L: gpio.Low, EdgesChan: make(chan gpio.Level), Clock: clk}
	r := &buttonRig{t: t, clk: clk, pins: map[string]*gpiotest.Pin{"GPIO17": pin}}
	b, err := NewButtons([]ButtonConfig{cfg}, func(string) (gpio.PinIO, error) { return pin, nil }, clk, discard())
	if err != nil {
		t.Fatal(err)
	}
	r.b = b
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan error, 1)
	go func() { r.done <- b.Run(ctx) }()
	defer r.stop()
	r.advance(20 * ms)
	r.set("GPIO17", gpio.High)
	r.advance(20 * ms)
	checkEvents(t, r.events(), []ButtonEvent{ev(Press, 0, 0), ev(Release, 20*ms, 20*ms)})
}

// TestButtonsIndependent: two buttons on two pins keep their own timing.
func TestButtonsIndependent(t *testing.T) {
	ptt := defaultButton(true)
	mute := defaultButton(true)
	mute.Name, mute.Pin, mute.Mode = "mute", "GPIO27", ModeMute
	r := newButtonRig(t, []ButtonConfig{ptt, mute}, nil)
	r.set("GPIO17", gpio.Low)
	r.advance(10 * ms)
	r.set("GPIO27", gpio.Low)
	r.advance(10 * ms) // ptt stable 20 ms, mute 10 ms
	got := r.events()
	if len(got) != 1 || got[0].Name != "ptt" || got[0].Kind != Press {
		t.Fatalf("after 20ms: %v, want one ptt press", got)
	}
	r.advance(10 * ms)
	got = r.events()
	if len(got) != 1 || got[0].Name != "mute" || got[0].Mode != ModeMute || got[0].Kind != Press || !got[0].At.Equal(epoch().Add(10*ms)) {
		t.Fatalf("after 30ms: %v, want one mute press at 10ms", got)
	}
}

// unpluggablePin is a gpiotest.Pin whose line can vanish: once gone, its
// WaitForEdge returns false at once, as gpioioctl's does when reading the
// line's descriptor fails.
type unpluggablePin struct {
	*gpiotest.Pin
	gone *atomic.Bool
}

func (p unpluggablePin) WaitForEdge(d time.Duration) bool {
	if p.gone.Load() {
		return false
	}
	return p.Pin.WaitForEdge(d)
}

// TestButtonsPinVanishes: a pin that stops working ends Run with an error
// naming it, after a bounded number of attempts (no busy loop), and the
// events channel closes.
func TestButtonsPinVanishes(t *testing.T) {
	var gone atomic.Bool
	cfg := defaultButton(true)
	r := newButtonRig(t, []ButtonConfig{cfg}, func(p *gpiotest.Pin) gpio.PinIO { return unpluggablePin{p, &gone} })
	r.set("GPIO17", gpio.Low)
	r.advance(20 * ms)
	gone.Store(true)
	var err error
	select {
	case r.pins["GPIO17"].EdgesChan <- gpio.Low:
		// The goroutine was already waiting: this wakes it, the next waits fail.
		select {
		case err = <-r.done:
		case <-time.After(guard):
			t.Fatal("Run did not return after the pin vanished")
		}
	case err = <-r.done: // it noticed on its own, before waiting again
	case <-time.After(guard):
		t.Fatal("Run did not return after the pin vanished")
	}
	r.result = &err
	var pe *PinError
	if !errors.As(err, &pe) || pe.Pin != "GPIO17" || pe.Name != "ptt" || !errors.Is(err, ErrPinFailed) {
		t.Fatalf("Run = %v, want a *PinError for ptt on GPIO17 wrapping ErrPinFailed", err)
	}
	if !strings.Contains(err.Error(), "GPIO17") {
		t.Errorf("error %q does not name the pin", err)
	}
	checkEvents(t, r.events(), []ButtonEvent{ev(Press, 0, 0)})
	if _, ok := <-r.b.Events(); ok {
		t.Error("Events not closed after Run returned")
	}
}

func TestNewButtonsErrors(t *testing.T) {
	clk := clockwork.NewFakeClockAt(epoch())
	noEdges := &gpiotest.Pin{N: "GPIO17", Clock: clk} // In(BothEdges) fails without EdgesChan
	pins := func(name string) (gpio.PinIO, error) {
		if name == "GPIO17" {
			return noEdges, nil
		}
		return nil, ErrNoPin
	}
	a, b := defaultButton(true), defaultButton(true)
	b.Name, b.Pin = "mute", "GPIO99"
	_, err := NewButtons([]ButtonConfig{a, b}, pins, clk, discard())
	if err == nil {
		t.Fatal("NewButtons succeeded with a broken and a missing pin")
	}
	for _, want := range []string{"buttons[0].pin: GPIO17: configure as input", "buttons[1].pin: GPIO99: no such pin"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if !errors.Is(err, ErrNoPin) {
		t.Errorf("error %v does not wrap ErrNoPin", err)
	}
	var fe *conf.FieldError
	if !errors.As(err, &fe) {
		t.Errorf("error %v has no *conf.FieldError", err)
	}

	_, err = NewButtons([]ButtonConfig{{Pin: "GPIO17", Debounce: conf.Duration(time.Second)}}, pins, clk, discard())
	if err == nil || !strings.Contains(err.Error(), "buttons[0].debounce") {
		t.Errorf("bad debounce: %v", err)
	}
}

// TestButtonsRunOnceAndStop: Run returns nil on cancel, leaves no
// goroutine behind, closes Events, and refuses a second run.
func TestButtonsRunOnceAndStop(t *testing.T) {
	r := newButtonRig(t, []ButtonConfig{defaultButton(true)}, nil)
	r.set("GPIO17", gpio.Low)
	if err := r.b.Run(context.Background()); !errors.Is(err, ErrRunning) {
		t.Errorf("second Run = %v, want ErrRunning", err)
	}
	if err := r.stop(); err != nil {
		t.Fatalf("Run = %v, want nil after cancel", err)
	}
	if _, ok := <-r.b.Events(); ok {
		t.Error("Events not closed")
	}
	goleak.VerifyNone(t)
}

// TestDebouncerAllocs: observing and stepping never allocate.
func TestDebouncerAllocs(t *testing.T) {
	d := newDebouncer(defaultButton(true), false, epoch())
	var buf [maxEventsPerStep]ButtonEvent
	now := epoch()
	n := testing.AllocsPerRun(100, func() {
		now = now.Add(15 * ms)
		d.observe(!d.raw, now)
		d.step(now.Add(20*ms), buf[:0])
	})
	if n != 0 {
		t.Errorf("debouncer allocates %v times per edge", n)
	}
}

func BenchmarkDebouncer(b *testing.B) {
	d := newDebouncer(defaultButton(true), false, epoch())
	var buf [maxEventsPerStep]ButtonEvent
	now := epoch()
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(25 * ms)
		d.observe(!d.raw, now)
		d.step(now.Add(20*ms), buf[:0])
	}
}
