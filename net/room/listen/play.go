package listen

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/mix"
	"github.com/onair-gateway/onair/audio/rx"
)

// playTrack is one track's jitter buffer: the track's reader pushes, a
// Player pulls, under mu.
type playTrack struct {
	mu    sync.Mutex
	j     *rx.Jitter
	ended atomic.Bool // the reader returned: drained, then dropped
}

func (t *playTrack) push(p rx.Packet, at time.Time) {
	t.mu.Lock()
	t.j.Push(p, at)
	t.mu.Unlock()
}

func (t *playTrack) pull(now time.Time, out []float32) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.j.Pull(now, out)
}

// drained reports whether the track ended and its buffer is empty.
func (t *playTrack) drained() bool {
	if !t.ended.Load() {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.j.Queued() == 0
}

func (t *playTrack) stats() rx.JitterStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.j.Stats()
}

// Playout is a participant's jitter buffer figures: counters summed over
// its tracks, delays of the latest.
type Playout struct {
	// DelayMs is the current jitter buffer delay, TargetMs what it aims
	// at (the 95th percentile of recent arrival delays, within bounds).
	DelayMs  float64 `json:"jitter_delay_ms"`
	TargetMs float64 `json:"jitter_target_ms"`
	// Underruns counts the times the buffer ran dry mid-stream;
	// Concealed counts packet lengths played by PLC; Recovered losses
	// recovered by FEC; Late packets that came after their time.
	Underruns int64 `json:"underruns"`
	Concealed int64 `json:"concealed"`
	Recovered int64 `json:"recovered"`
	Lost      int64 `json:"lost"`
	Late      int64 `json:"late"`
	// Playing says a track of it is being read.
	Playing bool `json:"playing"`
}

func playoutOf(ts []*playTrack) *Playout {
	var p Playout
	for _, t := range ts {
		s := t.stats()
		p.Underruns += s.Underruns
		p.Concealed += s.Concealed
		p.Recovered += s.Recovered
		p.Lost += s.Lost
		p.Late += s.Late
		p.DelayMs, p.TargetMs = ms(s.Delay), ms(s.Target)
		p.Playing = p.Playing || !t.ended.Load()
	}
	return &p
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Player plays a Listener's tracks to an audio.Sink, driven by the sink's
// clock: each period it pulls every track's jitter buffer, mixes them on a
// Bus (headroom, volume) and writes the frame. It does not allocate per
// frame. A Player is used from one goroutine.
type Player struct {
	l      *Listener
	sink   audio.Sink
	bus    *mix.Bus
	frame  *audio.Frame
	dec    []float32 // one track's pull, Listener channels
	mixed  []float32 // the bus's output, Listener channels
	tracks []*playTrack
	frames atomic.Int64
}

// NewPlayer returns a Player of l's tracks (l needs Playout, and its
// Jitter.Rate must be the sink's) writing to sink at volumeDB.
func (l *Listener) NewPlayer(sink audio.Sink, volumeDB float64) (*Player, error) {
	f := sink.Format()
	if !l.cfg.Playout {
		return nil, errors.New("listen: a Player needs Config.Playout")
	}
	if f.Rate != l.cfg.Jitter.Rate || f.Channels < 1 || f.FrameLen() < 1 {
		return nil, fmt.Errorf("listen: sink of %d channels at %d Hz, %v periods; want %d Hz", f.Channels, f.Rate, f.Period, l.cfg.Jitter.Rate)
	}
	n := f.FrameLen()
	bus, err := mix.NewBus(n*l.cfg.Channels, f.Period, volumeDB)
	if err != nil {
		return nil, err
	}
	return &Player{
		l: l, sink: sink, bus: bus,
		frame:  audio.NewFrame(f.Channels, f.Rate, f.Period),
		dec:    make([]float32, n*l.cfg.Channels),
		mixed:  make([]float32, n*l.cfg.Channels),
		tracks: make([]*playTrack, 0, 16),
	}, nil
}

// Step mixes the frame due at now into Frame(), without writing it.
func (p *Player) Step(now time.Time) *audio.Frame {
	l := p.l
	l.mu.Lock()
	p.tracks = append(p.tracks[:0], l.playing...)
	l.mu.Unlock()
	drop := false
	for _, t := range p.tracks {
		if t.pull(now, p.dec) {
			p.bus.Add(p.dec)
		}
		drop = drop || t.drained()
	}
	if drop {
		// An ended track with nothing left to play leaves the mix.
		l.mu.Lock()
		kept := l.playing[:0]
		for _, t := range l.playing {
			if !t.drained() {
				kept = append(kept, t)
			}
		}
		clear(l.playing[len(kept):])
		l.playing = kept
		l.mu.Unlock()
	}
	p.bus.Mix(p.mixed)
	// Spread the decoded channels over the sink's: channel c plays
	// decoded channel c mod the decoded count.
	dc, sc := p.l.cfg.Channels, p.frame.Channels
	if dc == sc {
		copy(p.frame.Samples, p.mixed)
	} else {
		out := p.frame.Samples
		for i := 0; i < len(p.mixed)/dc; i++ {
			for c := 0; c < sc; c++ {
				out[i*sc+c] = p.mixed[i*dc+c%dc]
			}
		}
	}
	p.frame.Pos += int64(p.frame.Len())
	return p.frame
}

// Run plays until the sink fails or is closed (the owner closes it to stop
// Run, which then returns audio.ErrClosed). now is the playback clock's
// time for each frame.
func (p *Player) Run(now func() time.Time) error {
	for {
		f := p.Step(now())
		if err := p.sink.WriteFrame(f); err != nil {
			return err
		}
		p.frames.Add(1)
	}
}

// Frames counts the frames written. Safe from any goroutine.
func (p *Player) Frames() int64 { return p.frames.Load() }

// Bus returns the mixer's figures (from the Player's goroutine only).
func (p *Player) Bus() mix.BusStats { return p.bus.Stats() }
