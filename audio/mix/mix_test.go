package mix

import (
	"errors"
	"math"
	"slices"
	"sync"
	"testing"
)

// record is a Sink that keeps what it is given.
type record struct {
	pcm []float32
	err error
}

func (r *record) Write(pcm []float32) error {
	if r.err != nil {
		return r.err
	}
	r.pcm = append(r.pcm, pcm...)
	return nil
}

// TestTimelineMixes: overlapping streams sum, late audio is dropped and
// counted, gaps are silence.
func TestTimelineMixes(t *testing.T) {
	var out record
	tl, err := New(&out, 2, 64)
	if err != nil {
		t.Fatal(err)
	}
	frame := []float32{0.25, -0.25, 0.25, -0.25} // two stereo frames
	tl.Add(10, frame)
	tl.Add(11, frame) // overlaps: mixed
	if err := tl.Flush(11); err != nil {
		t.Fatal(err)
	}
	tl.Add(9, frame) // frames 9 and 10 already written: dropped
	if err := tl.Flush(max(20, tl.End())); err != nil {
		t.Fatal(err)
	}
	want := map[int]float32{9: 0, 10: 0.25, 11: 0.5, 12: 0.25, 13: 0}
	if len(out.pcm) != 40 {
		t.Fatalf("%d samples written, want 40", len(out.pcm))
	}
	for f, v := range want {
		if out.pcm[2*f] != v || out.pcm[2*f+1] != -v {
			t.Errorf("frame %d = %v/%v, want %v/%v", f, out.pcm[2*f], out.pcm[2*f+1], v, -v)
		}
	}
	if s := tl.Stats(); s.Late != 2 || s.Written != 20 || s.Clipped != 0 {
		t.Errorf("stats %+v, want 2 late, 20 written", s)
	}
}

// TestTimelineClipsAndWraps: sums beyond full scale clip to ±1 (a wrapped
// int16 would flip sign), NaN is silence, the ring wraps over many
// flushes, and audio beyond the horizon is dropped as Early.
func TestTimelineClipsAndWraps(t *testing.T) {
	var out record
	tl, _ := New(&out, 1, 8)
	for k := range 10 {
		at := int64(4 * k)
		tl.Add(at, []float32{0.75, -0.75, 0.5, float32(math.NaN())})
		tl.Add(at, []float32{0.75, -0.75, 0.25, 0})
		if err := tl.Flush(at + 4); err != nil {
			t.Fatal(err)
		}
	}
	for k := range 10 {
		if got := out.pcm[4*k : 4*k+4]; !slices.Equal(got, []float32{1, -1, 0.75, 0}) {
			t.Fatalf("block %d = %v, want [1 -1 0.75 0]", k, got)
		}
	}
	tl.Add(40, make([]float32, 12)) // 4 frames beyond the 8-frame horizon
	if s := tl.Stats(); s.Clipped != 20 || s.Early != 4 {
		t.Errorf("stats %+v, want 20 clipped, 4 early", s)
	}
	if _, err := New(&out, 0, 8); !errors.Is(err, ErrConfig) {
		t.Errorf("0 channels: %v", err)
	}
	out.err = errors.New("disk full")
	tl.Add(48, []float32{1})
	if err := tl.Flush(50); err == nil {
		t.Error("a sink error was not returned")
	}
}

// TestTimelineConcurrent: streams add from their goroutines while another
// flushes (run with -race); every frame is written exactly once.
func TestTimelineConcurrent(t *testing.T) {
	var out record
	tl, _ := New(&out, 1, 48000)
	var wg sync.WaitGroup
	one := make([]float32, 480)
	for i := range one {
		one[i] = 0.25
	}
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 100 {
				tl.Add(int64(k*480), one)
			}
		}()
	}
	wg.Wait()
	if err := tl.Flush(tl.End()); err != nil {
		t.Fatal(err)
	}
	if len(out.pcm) != 48000 {
		t.Fatalf("%d frames written", len(out.pcm))
	}
	for i, v := range out.pcm {
		if v != 1 {
			t.Fatalf("frame %d = %v, want 1 (four streams of 0.25)", i, v)
		}
	}
	tl, _ = New(discard{}, 1, 48000)
	if a := testing.AllocsPerRun(10, func() { tl.Add(tl.Flushed(), one); _ = tl.Flush(tl.Flushed() + 480) }); a != 0 {
		t.Errorf("%v allocations per add and flush", a)
	}
}

type discard struct{}

func (discard) Write([]float32) error { return nil }
