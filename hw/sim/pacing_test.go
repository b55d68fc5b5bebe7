package sim

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/onair-gateway/onair/audio"
)

// reader reads frames in its own goroutine, one per request, so a test can
// see whether a read is still pending.
type reader struct {
	req  chan struct{}
	res  chan result
	done chan struct{}
}

type result struct {
	pos int64
	err error
}

func startReader(t *testing.T, b *Board) *reader {
	r := &reader{req: make(chan struct{}), res: make(chan result, 1), done: make(chan struct{})}
	f := b.Format()
	fr := audio.NewFrame(f.Channels, f.Rate, f.Period)
	go func() {
		defer close(r.done)
		for range r.req {
			err := b.ReadFrame(fr)
			r.res <- result{fr.Pos, err}
		}
	}()
	t.Cleanup(func() {
		close(r.req)
		b.Close()
		<-r.done
	})
	return r
}

// pending reports whether no result is ready.
func (r *reader) pending() bool {
	select {
	case res := <-r.res:
		r.res <- res
		return false
	default:
		return true
	}
}

// wait returns the next result, failing the test if it does not come.
func (r *reader) wait(t *testing.T, ctx context.Context) result {
	t.Helper()
	select {
	case res := <-r.res:
		return res
	case <-ctx.Done():
		t.Fatal("ReadFrame did not return")
		return result{}
	}
}

// TestRealtimePacing drives a realtime board with a fake clock: each frame
// comes exactly when its last sample is due, not a tick earlier.
func TestRealtimePacing(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	clk := clockwork.NewFakeClock()
	cfg := fastCfg()
	cfg.Realtime = nil // default: realtime
	b := newBoard(t, cfg, geom4, fmt4, Options{Clock: clk})
	start := clk.Now()
	r := startReader(t, b)
	for k := range int64(5) {
		r.req <- struct{}{}
		if err := clk.BlockUntilContext(ctx, 1); err != nil {
			t.Fatal(err)
		}
		if !r.pending() {
			t.Fatalf("frame %d returned before its time", k)
		}
		clk.Advance(10*time.Millisecond - time.Nanosecond)
		if !r.pending() {
			t.Fatalf("frame %d returned 1 ns early", k)
		}
		clk.Advance(time.Nanosecond)
		res := r.wait(t, ctx)
		if res.err != nil {
			t.Fatalf("frame %d: %v", k, res.err)
		}
		if res.pos != k*480 {
			t.Fatalf("frame %d: Pos %d, want %d", k, res.pos, k*480)
		}
		if got, want := clk.Since(start), time.Duration(k+1)*10*time.Millisecond; got != want {
			t.Fatalf("frame %d at %v, want %v", k, got, want)
		}
	}
	if b.Late() != 0 {
		t.Errorf("Late() = %d for a reader that kept up", b.Late())
	}
	// A reader that falls behind by 50 ms gets the backlog at once, and the
	// frames more than a period late are counted.
	clk.Advance(50 * time.Millisecond)
	for k := int64(5); k < 10; k++ {
		r.req <- struct{}{}
		res := r.wait(t, ctx)
		if res.err != nil || res.pos != k*480 {
			t.Fatalf("backlog frame %d: pos %d err %v", k, res.pos, res.err)
		}
	}
	// Frames 5..9 were due at 60..100 ms; now is 100 ms: 5, 6 and 7 are more
	// than one period late.
	if got := b.Late(); got != 3 {
		t.Errorf("Late() = %d, want 3", got)
	}
	// Then pacing resumes.
	r.req <- struct{}{}
	if err := clk.BlockUntilContext(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if !r.pending() {
		t.Fatal("frame 10 returned before its time")
	}
	clk.Advance(10 * time.Millisecond)
	if res := r.wait(t, ctx); res.err != nil || res.pos != 4800 {
		t.Fatalf("frame 10: pos %d err %v", res.pos, res.err)
	}
}

// TestCloseUnblocks checks that Close releases a read waiting for its time,
// which returns audio.ErrClosed, and that later reads do too.
func TestCloseUnblocks(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	clk := clockwork.NewFakeClock()
	b := newBoard(t, Config{}, geom4, fmt4, Options{Clock: clk})
	r := startReader(t, b)
	r.req <- struct{}{}
	if err := clk.BlockUntilContext(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if res := r.wait(t, ctx); !errors.Is(res.err, audio.ErrClosed) {
		t.Fatalf("pending read returned %v, want ErrClosed", res.err)
	}
	if b.Close() != nil {
		t.Error("second Close failed")
	}
	fr := audio.NewFrame(4, audio.Rate48k, fmt4.Period)
	if err := b.ReadFrame(fr); !errors.Is(err, audio.ErrClosed) {
		t.Errorf("read after Close: %v, want ErrClosed", err)
	}
}

// TestFastMode checks that without Realtime frames come at once: a fake
// clock that never moves does not hold them back.
func TestFastMode(t *testing.T) {
	clk := clockwork.NewFakeClock()
	b := newBoard(t, fastCfg(), geom6, fmt8, Options{Clock: clk})
	x := readChannels(t, b, 0, 200) // 2 s of audio, clock still at its start
	if len(x[0]) != 200*480 {
		t.Fatalf("read %d samples, want %d", len(x[0]), 200*480)
	}
	if b.Late() != 0 {
		t.Errorf("Late() = %d in fast mode", b.Late())
	}
}

// TestSamplesDuration checks the exact sample-to-time conversion, also far
// beyond where n·1e9 would overflow.
func TestSamplesDuration(t *testing.T) {
	cases := []struct {
		n    int64
		r    audio.SampleRate
		want time.Duration
	}{
		{480, audio.Rate48k, 10 * time.Millisecond},
		{48000*3600*100 + 24000, audio.Rate48k, 100*time.Hour + 500*time.Millisecond},
		{1, audio.Rate16k, 62500 * time.Nanosecond},
	}
	for _, c := range cases {
		if got := samplesDuration(c.n, c.r); got != c.want {
			t.Errorf("samplesDuration(%d, %d) = %v, want %v", c.n, c.r, got, c.want)
		}
	}
}
