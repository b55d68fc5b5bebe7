package rx

import (
	"time"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/marks"
)

// Warmup is how much of a new decoder's output a Monitor keeps from level
// meters. A decoder that starts mid-stream has no history: its first
// output rings (a 1 kHz tone came out with 26 crossings and a peak 4.5 dB
// high in its first 20 ms, and settled over about 150 ms).
const Warmup = 200 * time.Millisecond

// arrivals is how many recent chunks a Monitor remembers the arrival of,
// to time the marks it finds: 2.5 s of 10 ms packets (a mark is reported
// within a quarter of a second of its end).
const arrivals = 256

// arrival maps a run of timeline samples to when its packet arrived.
type arrival struct {
	pos int64
	n   int
	at  time.Time
}

// Monitor follows the chunks of one track for a listener: the mono mix for
// level meters past the decoder's warm-up, and the mouth-to-ear latency of
// each timing mark (audio/marks) in the stream. It does not allocate per
// chunk.
type Monitor struct {
	channels int
	rate     audio.SampleRate
	warm     int // samples the meters still skip
	mono     []float32
	zeros    []float32
	det      *marks.Detector
	onsets   []int64
	ring     [arrivals]arrival
	ringAt   int
}

// NewMonitor returns a Monitor for chunks of channels at rate, at most
// maxLen samples per channel each (a Receiver's chunks: 120 ms).
func NewMonitor(channels int, rate audio.SampleRate) *Monitor {
	maxLen := rate.Samples(120 * time.Millisecond)
	return &Monitor{
		channels: channels,
		rate:     rate,
		warm:     rate.Samples(Warmup),
		mono:     make([]float32, maxLen),
		zeros:    make([]float32, rate.Samples(20*time.Millisecond)),
		det:      marks.NewDetector(rate),
		onsets:   make([]int64, 0, 8),
	}
}

// Add takes the next chunk. It returns the chunk's mono mix past the
// decoder's warm-up and its timeline position, for level meters (nothing
// for silence, which the meters do not count), and appends to lat the
// latency of every mark found (marks.Latency of when its first sample
// arrived: the arrival of its packet plus its offset in it; no jitter
// buffer delays playback here). The mark detector hears silence as zeros,
// so the positions it reports stay those of the timeline.
func (m *Monitor) Add(c *Chunk, lat []time.Duration) (meter []float32, pos int64, _ []time.Duration) {
	if c.Kind == Silence {
		for n := int64(c.N); n > 0; {
			k := min(n, int64(len(m.zeros)))
			lat = m.detect(m.zeros[:k], lat)
			n -= k
		}
		return nil, c.Pos, lat
	}
	n := min(c.N, len(m.mono), len(c.Samples)/m.channels)
	mono := m.mono[:n]
	if m.channels == 1 {
		copy(mono, c.Samples)
	} else {
		for i := range mono {
			mono[i] = (c.Samples[2*i] + c.Samples[2*i+1]) / 2
		}
	}
	m.ring[m.ringAt] = arrival{pos: c.Pos, n: n, at: c.Arrival}
	m.ringAt = (m.ringAt + 1) % arrivals
	lat = m.detect(mono, lat)
	skip := min(m.warm, n)
	m.warm -= skip
	return mono[skip:], c.Pos + int64(skip), lat
}

// detect runs the mark detector over the next samples of the timeline.
func (m *Monitor) detect(mono []float32, lat []time.Duration) []time.Duration {
	m.onsets = m.det.Process(mono, m.onsets[:0])
	for _, on := range m.onsets {
		if heard, ok := m.heard(on); ok {
			lat = append(lat, marks.Latency(heard))
		}
	}
	return lat
}

// heard returns when timeline sample pos reached the listener.
func (m *Monitor) heard(pos int64) (time.Time, bool) {
	for _, a := range m.ring {
		if a.n > 0 && pos >= a.pos && pos < a.pos+int64(a.n) {
			return a.at.Add(m.rate.Duration(int(pos - a.pos))), true
		}
	}
	return time.Time{}, false
}
