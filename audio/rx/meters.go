package rx

import (
	"math"
	"slices"
	"sync"
	"time"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/dsp"
)

// latencyKeep is how many latency measurements Meters keep for the median:
// at one mark a second, more than an hour.
const latencyKeep = 4096

// Meters gathers what a listener measures of one remote participant
// across its tracks (a reconnect brings a new one): the receivers'
// counters, level meters since the last window and over the whole run, and
// mark latencies. It is safe for concurrent use: each Track feeds it from
// its own goroutine while a view reads Snapshots.
type Meters struct {
	mu      sync.Mutex
	rate    audio.SampleRate
	tracks  []Stats
	active  int
	goneAt  time.Time
	window  dsp.LevelMeter
	total   dsp.LevelMeter
	end     int64 // meter position after the furthest sample metered
	latency []time.Duration
}

// NewMeters returns Meters for tracks decoded at rate.
func NewMeters(rate audio.SampleRate) *Meters { return &Meters{rate: rate} }

// Track is one track of a participant: a Receiver and a Monitor whose
// figures go to the participant's Meters. It is used from one goroutine.
type Track struct {
	m     *Meters
	slot  int
	base  int64 // meter position of the track's timeline position 0
	based bool  // base is set (at the first metered sample)
	rcv   *Receiver
	mon   *Monitor
	lat   []time.Duration
	c     Chunk
}

// NewTrack starts a track of cfg counted in m, active until End.
func (m *Meters) NewTrack(cfg Config) (*Track, error) {
	rcv, err := New(cfg)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	t := &Track{m: m, slot: len(m.tracks), rcv: rcv, mon: NewMonitor(cfg.Channels, cfg.Rate), lat: make([]time.Duration, 0, 8)}
	m.tracks = append(m.tracks, Stats{})
	m.active++
	m.goneAt = time.Time{}
	return t, nil
}

// Push takes a packet that arrived at, pulls what it makes into the meters
// and hands every chunk of audio (not silence) to out, if not nil, with
// the Meters' lock held. It does not allocate in steady state.
func (t *Track) Push(p Packet, at time.Time, out func(*Chunk)) {
	m := t.m
	m.mu.Lock()
	defer m.mu.Unlock()
	t.rcv.Push(p, at)
	for t.rcv.Pull(&t.c) {
		var x []float32
		var pos int64
		x, pos, t.lat = t.mon.Add(&t.c, t.lat[:0])
		if !t.based && len(x) > 0 {
			// The meters' crossing positions continue where the last
			// track's ended, so a reconnect does not throw the
			// frequency estimate back in time.
			t.base, t.based = m.end-pos, true
		}
		pos += t.base
		m.window.Add(x, pos)
		m.total.Add(x, pos)
		m.end = max(m.end, pos+int64(len(x)))
		for _, d := range t.lat {
			if len(m.latency) == latencyKeep {
				m.latency = append(m.latency[:0], m.latency[1:]...)
			}
			m.latency = append(m.latency, d)
		}
		if out != nil && t.c.Kind != Silence {
			out(&t.c)
		}
	}
	m.tracks[t.slot] = t.rcv.Stats()
}

// End marks the track as ended at time at.
func (t *Track) End(at time.Time) {
	m := t.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.active--; m.active == 0 {
		m.goneAt = at
	}
}

// Snapshot is a participant's figures, rounded as shown, with JSON names
// for a summary.
type Snapshot struct {
	Packets   int64   `json:"packets"`
	Lost      int64   `json:"lost"`
	LossPct   float64 `json:"loss_pct"`
	Late      int64   `json:"late"`
	Concealed int64   `json:"concealed"`
	Corrupt   int64   `json:"corrupt"`
	LevelDB   float64 `json:"level_dbfs"`
	PeakDB    float64 `json:"peak_dbfs"`
	Freq      float64 `json:"frequency_hz"`
	// JitterMs is the latest track's.
	JitterMs float64 `json:"jitter_ms"`
	// LatencyMs is the last mark's; LatMedianMs is nil before the first.
	LatencyMs   float64  `json:"-"`
	LatMedianMs *float64 `json:"latency_ms_median"`
	Marks       int      `json:"latency_marks"`
	// Active says a track is being read; GoneAt is when the last one ended.
	Active bool      `json:"-"`
	GoneAt time.Time `json:"-"`
}

// Snapshot returns the figures; window selects the level meters since the
// last windowed Snapshot (and starts a new window) instead of the whole
// run's.
func (m *Meters) Snapshot(window bool) Snapshot {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := Snapshot{Marks: len(m.latency), Active: m.active > 0, GoneAt: m.goneAt}
	for _, t := range m.tracks {
		s.Packets, s.Lost, s.Late = s.Packets+t.Packets, s.Lost+t.Lost, s.Late+t.Late
		s.Concealed, s.Corrupt = s.Concealed+t.Concealed, s.Corrupt+t.Corrupt
		s.JitterMs = round(ms(t.Jitter), 3)
	}
	if exp := s.Packets + s.Lost; exp > 0 {
		s.LossPct = round(100*float64(s.Lost)/float64(exp), 2)
	}
	lm := &m.total
	if window {
		lm = &m.window
	}
	rms, peak := lm.DBFS()
	s.LevelDB, s.PeakDB, s.Freq = round(rms, 2), round(peak, 2), round(lm.Freq(m.rate), 1)
	if n := len(m.latency); n > 0 {
		med := round(ms(slices.Sorted(slices.Values(m.latency))[n/2]), 2)
		s.LatencyMs, s.LatMedianMs = round(ms(m.latency[n-1]), 2), &med
	}
	if window {
		m.window.Restart()
	}
	return s
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func round(v float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(v*p) / p
}
