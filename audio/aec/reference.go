package aec

import (
	"fmt"
	"math"
	"sync"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/dsp"
)

// refRing is how many played samples a Reference keeps: 2^17, 2.7 s at
// 48 kHz, more than the longest delay searched (1 s) plus the tail (1 s)
// plus a capture backlog.
const refRing = 1 << 17

// Reference records what the device plays, exactly as it is handed to the
// playback device, so the canceller in the speak path can take it as its
// reference. Wrap a playback Sink with it; the capture side (a Canceller)
// reads the recorded samples by their playback sample position.
//
// A Reference is safe for one writer (the wrapped sink's goroutine) and
// one reader (the capture loop) at once; it allocates nothing per frame.
type Reference struct {
	rate audio.SampleRate

	mu      sync.Mutex
	ring    []float32 // mono: the channels of each played frame averaged
	written int64     // samples recorded since the Reference was made
	epoch   uint64    // counts Wrap calls: a new sink restarts alignment
}

// NewReference makes a Reference for playback at rate, which must be the
// capture's rate.
func NewReference(rate audio.SampleRate) *Reference {
	return &Reference{rate: rate, ring: make([]float32, refRing)}
}

// Rate returns the rate the Reference was made for.
func (r *Reference) Rate() audio.SampleRate { return r.rate }

// Wrap returns a Sink that plays through s and records every frame s
// accepts. A new Wrap (the playback device reopened) starts a new epoch:
// the canceller measures the delay again. The wrapper's Close closes s.
// The sink should be written continuously (silence when nobody talks):
// when playback stalls for long, the canceller realigns. s must play at
// the Reference's rate.
func (r *Reference) Wrap(s audio.Sink) (audio.Sink, error) {
	if f := s.Format(); f.Rate != r.rate {
		return nil, fmt.Errorf("aec: playback at %d Hz, the capture (and reference) at %d Hz", f.Rate, r.rate)
	}
	r.mu.Lock()
	r.epoch++
	r.mu.Unlock()
	return &refSink{r: r, s: s}, nil
}

// Written returns how many samples have been played so far, counted from
// the Reference's creation across every wrapped sink.
func (r *Reference) Written() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.written
}

// record appends src's frame, its channels averaged.
func (r *Reference) record(src *audio.Frame) {
	C, n := src.Channels, src.Len()
	if C < 1 {
		return
	}
	g := 1 / float32(C)
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range n {
		var v float32
		for _, s := range src.Samples[i*C : (i+1)*C] {
			v += s
		}
		r.ring[(r.written+int64(i))&(refRing-1)] = v * g
	}
	r.written += int64(n)
}

// state returns the current epoch and samples written.
func (r *Reference) state() (uint64, int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.epoch, r.written
}

// read fills dst with the played samples from position from on; samples
// not played yet, or no longer kept, read as silence.
func (r *Reference) read(dst []float32, from int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	lo := max(0, r.written-refRing+int64(len(dst))) // leave room for a concurrent writer's next frame
	for i := range dst {
		q := from + int64(i)
		if q >= lo && q < r.written {
			dst[i] = r.ring[q&(refRing-1)]
		} else {
			dst[i] = 0
		}
	}
}

// refSink is the Sink Wrap returns.
type refSink struct {
	r *Reference
	s audio.Sink
}

var _ audio.Sink = (*refSink)(nil)

// Format implements audio.Sink.
func (w *refSink) Format() audio.Format { return w.s.Format() }

// WriteFrame implements audio.Sink: it plays src through the wrapped sink
// and, once the sink has accepted it, records it.
func (w *refSink) WriteFrame(src *audio.Frame) error {
	if err := w.s.WriteFrame(src); err != nil {
		return err
	}
	w.r.record(src)
	return nil
}

// Close implements audio.Sink: it closes the wrapped sink.
func (w *refSink) Close() error { return w.s.Close() }

// Fractional reads: a 16-tap windowed-sinc interpolator tabulated at 128
// fractional positions (a phase error under 1/256 sample, -52 dB at
// 4 kHz), so the reference follows the capture clock when the playback
// clock drifts against it.
const (
	interpTaps   = 16
	interpPhases = 128
)

// interpTable is the interpolator's taps, reversed, per phase.
type interpTable [interpPhases][interpTaps]float32

func newInterpTable() *interpTable {
	t := new(interpTable)
	for ph := range interpPhases {
		h := dsp.FracDelayTaps(-float64(ph)/interpPhases, interpTaps)
		for j := range interpTaps {
			t[ph][j] = h[interpTaps-1-j]
		}
	}
	return t
}

// readFrac fills dst with the played signal at the fractional positions
// q0, q0+step, q0+2·step, …; what was not played, or is no longer kept,
// is silence.
func (r *Reference) readFrac(dst []float32, q0, step float64, t *interpTable) {
	r.mu.Lock()
	defer r.mu.Unlock()
	lo := max(0, r.written-refRing+int64(len(dst)))
	for i := range dst {
		qf := q0 + float64(i)*step
		qi := math.Floor(qf)
		ph := int((qf-qi)*interpPhases + 0.5)
		j0 := int64(qi) - interpTaps/2
		if ph == interpPhases {
			ph, j0 = 0, j0+1
		}
		g := &t[ph]
		var acc float32
		if j0 >= lo && j0+interpTaps <= r.written {
			for j := range interpTaps {
				acc += g[j] * r.ring[(j0+int64(j))&(refRing-1)]
			}
		} else {
			for j := range interpTaps {
				if q := j0 + int64(j); q >= lo && q < r.written {
					acc += g[j] * r.ring[q&(refRing-1)]
				}
			}
		}
		dst[i] = acc
	}
}
