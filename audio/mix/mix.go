// Package mix mixes the audio of several talkers. A Bus mixes, frame by
// frame on a playback clock, with headroom: a gain that keeps the sum of
// several talkers under the ceiling instead of clipping. A Timeline mixes
// several streams on one timeline: each stream adds its
// samples at the timeline position where they belong, and the mix is
// written out, oldest first, once it is older than the caller's lag, so
// that late audio of one stream still meets the others. Sums beyond full
// scale are clipped (never wrapped) and counted.
//
// A Timeline is safe for concurrent use: streams add from their own
// goroutines while another flushes. Its buffer is allocated once, at
// construction; it owns no goroutine.
package mix

import (
	"errors"
	"fmt"
	"sync"
)

// ErrConfig is wrapped by New's errors.
var ErrConfig = errors.New("mix: bad config")

// Sink takes mixed interleaved frames, as a wav.Writer does.
type Sink interface {
	Write(pcm []float32) error
}

// Stats are a Timeline's counters.
type Stats struct {
	// Written counts frames written to the sink.
	Written int64
	// Late counts frames added after their place was written (dropped).
	Late int64
	// Early counts frames added beyond the horizon (dropped).
	Early int64
	// Clipped counts samples whose sum was beyond full scale.
	Clipped int64
}

// Timeline mixes interleaved streams of one channel count.
type Timeline struct {
	mu       sync.Mutex
	sink     Sink
	channels int
	ring     []float32 // horizon frames, interleaved, a ring from frame flushed
	head     int       // ring index (in frames) of frame flushed
	flushed  int64     // frames written
	end      int64     // one past the furthest frame added
	out      []float32 // one write's worth
	stats    Stats
}

// New returns a Timeline of channels writing to sink, holding up to
// horizon frames not yet written (at 48 kHz, 10 s is 480000): audio added
// further ahead than that is dropped and counted as Early.
func New(sink Sink, channels, horizon int) (*Timeline, error) {
	if channels < 1 || horizon < 1 {
		return nil, fmt.Errorf("%w: %d channels, horizon %d frames", ErrConfig, channels, horizon)
	}
	return &Timeline{sink: sink, channels: channels, ring: make([]float32, horizon*channels), out: make([]float32, 4096*channels)}, nil
}

// Add mixes interleaved pcm (whole frames) in at timeline frame at. It
// does not allocate.
func (t *Timeline) Add(at int64, pcm []float32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	nc := int64(t.channels)
	n := int64(len(pcm)) / nc
	if skip := t.flushed - at; skip > 0 {
		t.stats.Late += min(skip, n)
		if skip >= n {
			return
		}
		pcm, at, n = pcm[skip*nc:], t.flushed, n-skip
	}
	horizon := int64(len(t.ring)) / nc
	if over := at + n - (t.flushed + horizon); over > 0 {
		t.stats.Early += min(over, n)
		if over >= n {
			return
		}
		pcm, n = pcm[:(n-over)*nc], n-over
	}
	t.end = max(t.end, at+n)
	i := int((int64(t.head) + at - t.flushed) % horizon)
	for len(pcm) > 0 {
		k := min(len(pcm), len(t.ring)-i*t.channels)
		dst := t.ring[i*t.channels : i*t.channels+k]
		for j, v := range pcm[:k] {
			dst[j] += v
		}
		pcm = pcm[k:]
		i = 0
	}
}

// Flush writes every frame before upTo (frames no stream added are
// silence). It does not allocate.
func (t *Timeline) Flush(upTo int64) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	horizon := len(t.ring) / t.channels
	for t.flushed < upTo {
		k := int(min(upTo-t.flushed, int64(len(t.out)/t.channels), int64(horizon-t.head)))
		src := t.ring[t.head*t.channels : (t.head+k)*t.channels]
		out := t.out[:len(src)]
		for j, v := range src {
			switch {
			case v != v: // NaN: nothing to hear
				v = 0
			case v > 1:
				v = 1
				t.stats.Clipped++
			case v < -1:
				v = -1
				t.stats.Clipped++
			}
			out[j] = v
		}
		clear(src)
		if err := t.sink.Write(out); err != nil {
			return err
		}
		t.flushed += int64(k)
		t.stats.Written += int64(k)
		t.head = (t.head + k) % horizon
	}
	return nil
}

// Flushed returns the frames written so far: the timeline position before
// which Add drops audio.
func (t *Timeline) Flushed() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.flushed
}

// End returns one past the furthest frame any stream added (at least
// Flushed): Flush(End()) writes everything.
func (t *Timeline) End() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return max(t.end, t.flushed)
}

// Stats returns the counters.
func (t *Timeline) Stats() Stats {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.stats
}
