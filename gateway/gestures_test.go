package gateway

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/onair-gateway/onair/conf"
	"github.com/onair-gateway/onair/hw/gpio"
	"github.com/onair-gateway/onair/net/e2ee"
	"github.com/onair-gateway/onair/net/room"
	"github.com/onair-gateway/onair/provisioning"
)

func TestGestures(t *testing.T) {
	clock := clockwork.NewFakeClock()
	btn := func(name string, mode gpio.ButtonMode) gpio.ButtonConfig {
		return gpio.ButtonConfig{Name: name, Mode: mode, Identify: conf.Duration(3 * time.Second), Forget: conf.Duration(10 * time.Second)}
	}
	x := newGestures(clock, []gpio.ButtonConfig{btn("ptt", gpio.ModePTT), btn("latch", gpio.ModeToggle), btn("mute", gpio.ModeMute)})
	ev := func(name string, mode gpio.ButtonMode, kind gpio.EventKind, hold time.Duration) gpio.ButtonEvent {
		return gpio.ButtonEvent{Name: name, Mode: mode, Kind: kind, Hold: hold}
	}
	hold := func(name string, mode gpio.ButtonMode, inRoom, onAir bool) []gesture {
		x.press(ev(name, mode, gpio.Press, 0), inRoom)
		defer x.release(ev(name, mode, gpio.Release, 0))
		return []gesture{
			x.longPress(ev(name, mode, gpio.LongPress, 3*time.Second), onAir),
			x.longPress(ev(name, mode, gpio.LongPress, 10*time.Second), onAir),
		}
	}
	none := []gesture{gestureNone, gestureNone}
	both := []gesture{gestureIdentify, gestureAskForget}
	for _, c := range []struct {
		name          string
		mode          gpio.ButtonMode
		inRoom, onAir bool
		want          []gesture
	}{
		{"ptt", gpio.ModePTT, true, true, none},        // talking
		{"ptt", gpio.ModePTT, true, false, none},       // talking, server-muted
		{"latch", gpio.ModeToggle, true, true, none},   // latched on air
		{"latch", gpio.ModeToggle, false, true, none},  // the gate is open
		{"ptt", gpio.ModePTT, false, false, both},      // not in a room: a hold is a gesture
		{"latch", gpio.ModeToggle, false, false, both}, // likewise
		{"mute", gpio.ModeMute, true, true, both},      // a mute hold is always a gesture
	} {
		got := hold(c.name, c.mode, c.inRoom, c.onAir)
		x.pending = time.Time{}
		if len(got) != 2 || got[0] != c.want[0] || got[1] != c.want[1] {
			t.Errorf("%s hold (in room %v, on air %v): %v, want %v", c.name, c.inRoom, c.onAir, got, c.want)
		}
	}

	// Forget: a hold, then a press within the window confirms; the press
	// does nothing else. After the window a press is a press.
	hold("mute", gpio.ModeMute, false, false)
	if g := x.press(ev("mute", gpio.ModeMute, gpio.Press, 0), false); g != gestureForget {
		t.Errorf("press within the window: %v, want forget", g)
	}
	x.release(ev("mute", gpio.ModeMute, gpio.Release, 0))
	hold("mute", gpio.ModeMute, false, false)
	clock.Advance(ForgetWindow)
	if g := x.tick(); g != gestureForgetLapsed {
		t.Errorf("tick after the window: %v, want lapsed", g)
	}
	if g := x.press(ev("mute", gpio.ModeMute, gpio.Press, 0), false); g != gestureNone {
		t.Errorf("press after the window: %v", g)
	}
}

// recorder keeps log messages for a test to search.
type recorder struct {
	mu   sync.Mutex
	msgs []string
	next slog.Handler
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) Handle(ctx context.Context, rec slog.Record) error {
	r.mu.Lock()
	r.msgs = append(r.msgs, rec.Message)
	r.mu.Unlock()
	if r.next.Enabled(ctx, rec.Level) {
		return r.next.Handle(ctx, rec)
	}
	return nil
}
func (r *recorder) WithAttrs(a []slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler        { return r }

func (r *recorder) saw(prefix string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range r.msgs {
		if strings.HasPrefix(m, prefix) {
			return true
		}
	}
	return false
}

// TestPTTHeldOnAirIsNoGesture: a PTT held for a minute on air is someone
// talking, even while the room drops and rejoins under it: no identify at
// 3 s, no forget question at 10 s, on air again at the end.
func TestPTTHeldOnAirIsNoGesture(t *testing.T) {
	rec := &recorder{next: testLogger(t).Handler()}
	h := startHarnessWith(t, simDoc, slog.New(rec), nil, nil)
	sess := <-h.room.Joined
	h.button(t, true, StateOnAir)
	// Mid-sentence the room drops and comes back: the hold is still talk.
	h.step(time.Second)
	sess.Close()
	waitFor(t, "off air while the room is away", func() bool { return !h.g.Status().OnAir })
	for range 600 {
		h.step(100 * time.Millisecond)
	}
	h.sync(t)
	if s := h.g.Status(); s.State != StateOnAir {
		t.Errorf("state %s after a 60 s PTT hold", s.State)
	}
	if rec.saw("identify") || rec.saw("forget provisioning") {
		t.Error("a PTT held on air triggered a gesture")
	}
	h.button(t, false, StateLive)
}

// joinsNever is a room whose join never completes: the device stays
// joining, not in a room.
type joinsNever struct{}

func (joinsNever) Join(ctx context.Context) (room.Session, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestPTTHoldWhileJoiningIdentifies: outside a room the PTT button is the
// sim board's gesture button.
func TestPTTHoldWhileJoiningIdentifies(t *testing.T) {
	rec := &recorder{next: testLogger(t).Handler()}
	h := startHarnessWith(t, simDoc, slog.New(rec), func(*provisioning.Resolved, *e2ee.Keys, *slog.Logger) (room.Room, bool, error) {
		return joinsNever{}, false, nil
	}, nil)
	if err := h.hw.Press("ptt"); err != nil {
		t.Fatal(err)
	}
	h.stepUntil(t, "identify", 100*time.Millisecond, 150, func() bool { return rec.saw("identify") })
	h.stepUntil(t, "forget question", 100*time.Millisecond, 200, func() bool { return rec.saw("forget provisioning?") })
}
