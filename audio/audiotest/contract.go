// Package audiotest holds the contract every audio.Source must keep, as a
// test any implementation can run against itself (hw/alsa's Capture, hw/sim,
// file sources), so that fakes and drivers cannot drift apart.
//
// TestSource starts one reader goroutine in its close-unblocks-read subtest
// and waits for it. Goroutines and LeftBehind find goroutines a source left
// running, including ones stuck in a cgo call, which checks that skip
// goroutines in system calls miss.
package audiotest

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/onair-gateway/onair/audio"
)

// Bounds the contract allows. They are generous: the contract is about
// behaviour, not speed.
const (
	// Frames is how many frames the read test takes.
	Frames = 20
	// UnblockWithin bounds how long a pending ReadFrame may take to return
	// after Close.
	UnblockWithin = 2 * time.Second
	// leakWait bounds how long goroutines may take to exit after cleanup.
	leakWait = 5 * time.Second
)

// TestSource runs the audio.Source contract as subtests. open is called
// once per subtest and must return a fresh, open source; it may register
// t.Cleanup functions (a feeder goroutine, temp files), which run before the
// goroutine-leak check. Sources that end (files) must last at least
// Frames+1 frames; if one ends before Close in the unblock subtest, that
// subtest is skipped. Do not run TestSource in parallel with tests that
// start goroutines: the leak check would count theirs.
//
// The contract: ReadFrame fills frames of Format()'s geometry, sets Rate,
// and gives positions that increase by at least one frame each read; samples
// are finite. Close may be called twice. ReadFrame after Close returns
// audio.ErrClosed. Close makes a pending ReadFrame return audio.ErrClosed
// within UnblockWithin. Nothing the source started survives Close and
// cleanup.
func TestSource(t *testing.T, open func(t *testing.T) audio.Source) {
	t.Run("frames", func(t *testing.T) {
		src := openChecked(t, open)
		f := src.Format()
		if f.Channels < 1 || f.Rate <= 0 || f.FrameLen() < 1 {
			t.Fatalf("Format() = %+v: want channels >= 1, rate > 0, a period of at least one sample", f)
		}
		dst := audio.NewFrame(f.Channels, f.Rate, f.Period)
		n := len(dst.Samples)
		var last int64
		for i := 0; i < Frames; i++ {
			dst.Pos = -1
			if err := src.ReadFrame(dst); err != nil {
				t.Fatalf("ReadFrame %d: %v", i, err)
			}
			if len(dst.Samples) != n || dst.Channels != f.Channels {
				t.Fatalf("frame %d: geometry changed to %d channels x %d samples", i, dst.Channels, len(dst.Samples))
			}
			if dst.Rate != f.Rate {
				t.Fatalf("frame %d: Rate %d, Format says %d", i, dst.Rate, f.Rate)
			}
			if dst.Pos < 0 {
				t.Fatalf("frame %d: Pos %d not set", i, dst.Pos)
			}
			if i > 0 && dst.Pos < last+int64(f.FrameLen()) {
				t.Fatalf("frame %d: Pos %d, previous %d: want an increase of at least %d", i, dst.Pos, last, f.FrameLen())
			}
			last = dst.Pos
			for j, v := range dst.Samples {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					t.Fatalf("frame %d sample %d is %v", i, j, v)
				}
			}
		}
		if err := src.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	})

	t.Run("close twice", func(t *testing.T) {
		src := openChecked(t, open)
		if err := src.Close(); err != nil {
			t.Fatalf("first Close: %v", err)
		}
		if err := src.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
	})

	t.Run("read after close", func(t *testing.T) {
		src := openChecked(t, open)
		f := src.Format()
		dst := audio.NewFrame(f.Channels, f.Rate, f.Period)
		if err := src.ReadFrame(dst); err != nil {
			t.Fatalf("ReadFrame before Close: %v", err)
		}
		if err := src.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		for i := 0; i < 3; i++ {
			if err := src.ReadFrame(dst); !errors.Is(err, audio.ErrClosed) {
				t.Fatalf("ReadFrame %d after Close = %v, want audio.ErrClosed", i, err)
			}
		}
	})

	t.Run("close unblocks read", func(t *testing.T) {
		src := openChecked(t, open)
		f := src.Format()
		started := make(chan struct{})
		result := make(chan error, 1)
		go func() {
			dst := audio.NewFrame(f.Channels, f.Rate, f.Period)
			close(started)
			for {
				if err := src.ReadFrame(dst); err != nil {
					result <- err
					return
				}
			}
		}()
		<-started
		// Let the reader settle into waiting on the source's clock.
		time.Sleep(5 * f.Period)
		select {
		case err := <-result:
			if errors.Is(err, audio.ErrEndOfStream) {
				t.Skip("the source ended before Close: no read left to unblock")
			}
			t.Fatalf("ReadFrame failed before Close: %v", err)
		default:
		}
		closed := make(chan error, 1)
		begin := time.Now()
		go func() { closed <- src.Close() }()
		select {
		case err := <-result:
			if !errors.Is(err, audio.ErrClosed) {
				t.Fatalf("pending ReadFrame returned %v after Close, want audio.ErrClosed", err)
			}
			t.Logf("pending ReadFrame returned %v after Close", time.Since(begin))
		case <-time.After(UnblockWithin):
			t.Fatalf("ReadFrame still blocked %v after Close", UnblockWithin)
		}
		select {
		case err := <-closed:
			if err != nil {
				t.Fatalf("Close: %v", err)
			}
		case <-time.After(UnblockWithin):
			t.Fatalf("Close has not returned after %v", UnblockWithin)
		}
	})
}

// openChecked opens a source for one subtest. It registers the
// goroutine-leak check first, so that it runs after open's own cleanups, and
// a Close in case the subtest fails before closing.
func openChecked(t *testing.T, open func(t *testing.T) audio.Source) audio.Source {
	t.Helper()
	before := Goroutines()
	t.Cleanup(func() {
		if left := LeftBehind(before, leakWait); len(left) > 0 {
			t.Errorf("%d goroutines left behind:\n\n%s", len(left), strings.Join(left, "\n\n"))
		}
	})
	src := open(t)
	if src == nil {
		t.Fatal("open returned a nil source")
	}
	t.Cleanup(func() { src.Close() })
	return src
}
