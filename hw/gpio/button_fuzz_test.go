package gpio

import (
	"testing"
	"time"
)

// FuzzDebouncer feeds arbitrary edge timelines to the debouncer and checks
// what must hold for any input: presses and releases alternate, long
// presses come once per threshold inside a press, each Press or Release
// marks a level change after which the level held for the debounce time,
// and a level that held that long at the end is the debounced state.
//
// Each input byte is one raw change: the low 7 bits are the gap after the
// previous change in milliseconds, scaled up ×64 when the top bit is set
// (so long holds are reachable).
func FuzzDebouncer(f *testing.F) {
	for _, tc := range buttonCases() {
		var seed []byte
		prev := time.Duration(0)
		for _, s := range tc.steps {
			gap := (s.at - prev) / ms
			prev = s.at
			if gap < 128 {
				seed = append(seed, byte(gap))
			} else {
				seed = append(seed, 0x80|byte(min(gap/64, 127)))
			}
		}
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg := defaultButton(true)
		var steps []level
		at, down := time.Duration(0), false
		for _, b := range data {
			gap := time.Duration(b&0x7f) * ms
			if b&0x80 != 0 {
				gap *= 64
			}
			at += gap
			down = !down
			steps = append(steps, level{at, down})
		}
		end := at + 15*time.Second
		got := simulate(cfg, false, steps, end)
		checkInvariants(t, cfg, steps, end, got)
	})
}

// rawAt returns the raw level at time at (offset from the start): the last
// change at or before it. Several changes at one instant: the last wins.
func rawAt(steps []level, at time.Duration) bool {
	v := false
	for _, s := range steps {
		if s.at > at {
			break
		}
		v = s.down
	}
	return v
}

func checkInvariants(t *testing.T, cfg ButtonConfig, steps []level, end time.Duration, got []ButtonEvent) {
	t.Helper()
	deb := cfg.Debounce.D()
	pressed := false
	var pressAt time.Time
	var lastHold time.Duration
	var last time.Time
	for i, e := range got {
		if e.At.Before(last) {
			t.Fatalf("event %d %v is earlier than the one before", i, e)
		}
		last = e.At
		off := e.At.Sub(epoch())
		switch e.Kind {
		case Press, Release:
			wantDown := e.Kind == Press
			if pressed == wantDown {
				t.Fatalf("event %d %v: presses and releases do not alternate", i, e)
			}
			// The level held from At for the debounce time, and changed at At.
			for _, s := range steps {
				if s.at > off && s.at < off+deb && s.down != wantDown {
					t.Fatalf("event %d %v: level changed at %v, inside the debounce time", i, e, s.at)
				}
			}
			if rawAt(steps, off) != wantDown {
				t.Fatalf("event %d %v: raw level at At is not %v", i, e, wantDown)
			}
			pressed = wantDown
			if wantDown {
				pressAt, lastHold = e.At, 0
			} else if e.Hold != e.At.Sub(pressAt) {
				t.Fatalf("event %d %v: hold %v, want %v since the press", i, e, e.Hold, e.At.Sub(pressAt))
			}
		case LongPress:
			if !pressed {
				t.Fatalf("event %d %v: long press outside a press", i, e)
			}
			if e.Hold != cfg.Identify.D() && e.Hold != cfg.Forget.D() || e.Hold <= lastHold {
				t.Fatalf("event %d %v: hold is not the next threshold after %v", i, e, lastHold)
			}
			if !e.At.Equal(pressAt.Add(e.Hold)) {
				t.Fatalf("event %d %v: not at press + hold", i, e)
			}
			lastHold = e.Hold
		default:
			t.Fatalf("event %d: kind %v", i, e.Kind)
		}
	}
	// The simulation ends 15 s after the last change: the last level has
	// settled, and a press still held has passed both thresholds.
	if final := rawAt(steps, end); pressed != final {
		t.Fatalf("ended %v with the level %v steady for 15s: %v", pressed, final, got)
	}
	if pressed && lastHold != cfg.Forget.D() {
		t.Fatalf("held to the end but the last long press was %v: %v", lastHold, got)
	}
}
