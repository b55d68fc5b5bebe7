package listen

import (
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
// Bus (headroom, volume) and spreads the mix over the sink's channels. It
// does not allocate per frame. A Player is used from one goroutine.
type Player struct {
	rate   audio.SampleRate
	dc     int // decoded channels
	bus    *mix.Bus
	frame  *audio.Frame
	dec    []float32 // one track's pull, decoded channels
	mixed  []float32 // the bus's output, decoded channels
	tracks []*playTrack
	frames atomic.Int64
}

// NewPlayer returns a Player of frames of f, mixing tracks decoded to
// channels (a Listener's Config.Channels) at volumeDB.
func NewPlayer(f audio.Format, channels int, volumeDB float64) (*Player, error) {
	n := f.FrameLen()
	if f.Channels < 1 || n < 1 || channels < 1 || channels > 2 {
		return nil, fmt.Errorf("listen: player of %d channels at %d Hz, %v periods, from %d decoded channels", f.Channels, f.Rate, f.Period, channels)
	}
	bus, err := mix.NewBus(n*channels, f.Period, volumeDB)
	if err != nil {
		return nil, err
	}
	return &Player{
		rate: f.Rate, dc: channels, bus: bus,
		frame:  audio.NewFrame(f.Channels, f.Rate, f.Period),
		dec:    make([]float32, n*channels),
		mixed:  make([]float32, n*channels),
		tracks: make([]*playTrack, 0, 16),
	}, nil
}

// Step mixes the frame of l's tracks due at now (silence when l is nil,
// or decodes at another rate or channel count) and returns it; the frame
// belongs to the Player until the next Step.
func (p *Player) Step(l *Listener, now time.Time) *audio.Frame {
	p.tracks = p.tracks[:0]
	if l != nil {
		l.mu.Lock()
		if l.cfg.Jitter.Rate == p.rate && l.cfg.Channels == p.dc {
			p.tracks = append(p.tracks, l.playing...)
		}
		l.mu.Unlock()
	}
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
	dc, sc := p.dc, p.frame.Channels
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
	p.frames.Add(1)
	return p.frame
}

// Run plays l to sink until the sink fails or is closed (its owner closes
// it to stop Run, which then returns audio.ErrClosed). now is the time of
// each frame on the clock the Listener times packets by.
func (p *Player) Run(l *Listener, sink audio.Sink, now func() time.Time) error {
	for {
		if err := sink.WriteFrame(p.Step(l, now())); err != nil {
			return err
		}
	}
}

// Frames counts the frames mixed. Safe from any goroutine.
func (p *Player) Frames() int64 { return p.frames.Load() }

// Bus returns the mixer's figures (from the Player's goroutine only).
func (p *Player) Bus() mix.BusStats { return p.bus.Stats() }
