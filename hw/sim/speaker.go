package sim

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/dsp"
	"github.com/onair-gateway/onair/audio/wav"
)

// The simulated speaker (see the package doc, "Speaker and echo").
const (
	// speakerPeriods is the speaker's buffer in its own periods, like an
	// ALSA playback buffer of four periods: WriteFrame blocks while that
	// much is written and not yet played.
	speakerPeriods = 4
	// ringLen is how many played samples (mono) the board keeps: 2^16,
	// 1.37 s at 48 kHz, far more than the buffer plus the interpolator's
	// taps, so a capture reader that falls behind in real time still finds
	// what was played.
	ringLen = 1 << 16
	// skewPhases is how many fractional positions the skew interpolator
	// tabulates: a phase error of 1/256 sample is -52 dB at 4 kHz.
	skewPhases = 128
	// reflectionGap is the mean time between two reflections of the tail
	// (uniformly 0.5..1.5 ms apart, from 1 ms after the direct sound).
	reflectionGap = time.Millisecond
	// t60Decay is ln(1000): an amplitude falls by 60 dB when multiplied
	// by exp(-t60Decay).
	t60Decay = 6.907755278982137
)

// ErrSpeakerOpen is returned by Speaker while another speaker of the same
// board is open.
var ErrSpeakerOpen = errors.New("sim: the board's speaker is already open")

// room is the synthetic impulse response from the speaker to each mic. It
// is immutable after New.
type room struct {
	// direct path: per mic, the integer delay in samples and the reversed
	// fractional-delay taps, scaled by the level.
	k    []int
	taps [][Taps]float32
	// the tail: reflection r has gain gain[r] and reaches mic m after
	// del[r][m] samples.
	gain []float32
	del  [][]int
	// maxDelay is the longest delay of any path, in samples.
	maxDelay int
}

// newRoom designs the room for e (defaulted) at rate for the array geom;
// seed picks the reflections.
func newRoom(e *Echo, geom audio.Geometry, rate audio.SampleRate, seed uint64) *room {
	fs := float64(rate)
	g := dsp.FromDB(*e.Level)
	d0 := e.Delay.D().Seconds() * fs
	r := &room{k: make([]int, geom.Mics), taps: make([][Taps]float32, geom.Mics)}
	for m, sec := range geom.Delays(*e.Azimuth * math.Pi / 180) {
		D := d0 + sec*fs
		k := math.Round(D)
		h := dsp.FracDelayTaps(D-k, Taps)
		for j := range Taps {
			r.taps[m][j] = float32(g) * h[Taps-1-j]
		}
		r.k[m] = int(k)
		r.maxDelay = max(r.maxDelay, int(k))
	}
	t60 := e.Decay.D().Seconds()
	if t60 <= 0 {
		return r
	}
	rg := rng{s: seed ^ 0x726f6f6d} // "room"
	unif := func() float64 { return float64(rg.next()>>11) / (1 << 53) }
	gap := reflectionGap.Seconds()
	var energy float64
	for t := gap + gap*(unif()-0.5); t < t60; t += gap * (0.5 + unif()) {
		a := (0.5 + 0.5*unif()) * math.Exp(-t60Decay*t/t60)
		if rg.next()&1 == 0 {
			a = -a
		}
		dm := geom.Delays(2 * math.Pi * unif())
		del := make([]int, len(dm))
		for m, sec := range dm {
			del[m] = max(0, int(math.Round(d0+(t+sec)*fs)))
			r.maxDelay = max(r.maxDelay, del[m])
		}
		r.gain = append(r.gain, float32(a))
		r.del = append(r.del, del)
		energy += a * a
	}
	// The tail carries as much energy as the direct path: a
	// direct-to-reverberant ratio of 0 dB.
	s := g / math.Sqrt(energy)
	for i := range r.gain {
		r.gain[i] *= float32(s)
	}
	return r
}

// playback is the board's side of its speaker: the played signal on the
// capture clock (z) and the speaker currently open. mu guards everything
// here and the open speaker's state; cond wakes both sides in non-realtime
// mode.
type playback struct {
	mu   sync.Mutex
	cond *sync.Cond

	cur    *Speaker // the open or last speaker; nil before the first
	closed bool     // the board is closed
	capPos int64    // the next capture position to render (after the last frame)
	skew   float64  // SkewPPM / 1e6

	file     *wav.Writer // Config.PlaybackFile, created by the first Speaker
	fileName string
	fileErr  error

	room  *room // nil: the mics do not hear the speaker
	ahead int   // z is rendered this many samples ahead of the capture
	// zh holds the played signal resampled onto the capture clock: after
	// rendering the frame at pos, its last sample is z at pos+ahead+n-1.
	zh   []float32
	echo []float32 // one mic's echo for one frame
	poly [skewPhases][Taps]float32
}

// initPlayback prepares the board's playback state (New).
func (b *Board) initPlayback(cfg Config, seed uint64) {
	p := &b.play
	p.cond = sync.NewCond(&p.mu)
	p.skew = cfg.SkewPPM / 1e6
	p.fileName = cfg.PlaybackFile
	if b.lineIn {
		return // a line input hears no room
	}
	if cfg.Echo != nil {
		p.room = newRoom(cfg.Echo, b.geom, b.rate, seed)
	}
	p.ahead = b.base + Taps/2
	maxD := 0
	if p.room != nil {
		maxD = p.room.maxDelay
	}
	p.zh = make([]float32, b.n+p.ahead+maxD+Taps)
	p.echo = make([]float32, b.n)
	for ph := range skewPhases {
		h := dsp.FracDelayTaps(-float64(ph)/skewPhases, Taps)
		for j := range Taps {
			p.poly[ph][j] = h[Taps-1-j]
		}
	}
}

// Speaker is the simulated board's loudspeaker. It implements audio.Sink:
// WriteFrame is paced like the board's capture (on the clock in realtime,
// else by the capture's reads) and what it plays reaches the mics through
// Config.Echo, the reference channels beyond the mics, and
// Config.PlaybackFile.
type Speaker struct {
	b      *Board
	format audio.Format
	m      int // samples per channel per period
	buf    int // the buffer, in samples
	ring   []float32
	mono   []float32

	// Guarded by b.play.mu.
	written  int64     // samples played so far (written to the ring)
	started  bool      // p0 is known
	p0       float64   // the capture position where playback sample 0 plays
	t0       time.Time // realtime: the first write
	wrote    bool      // realtime: the first write happened
	closed   bool
	underrun int64 // frames whose playback was not written in time

	done      chan struct{}
	closeOnce sync.Once
	timer     clockwork.Timer
	count     atomic.Int64 // frames written
}

var _ audio.Sink = (*Speaker)(nil)

// Speaker opens the board's loudspeaker for frames of format, whose rate
// must be the board's and whose channels (1..2) are averaged into the one
// speaker. Only one speaker is open at a time (ErrSpeakerOpen); after
// Close another may be opened, and the room's tail of the last one still
// rings. In non-realtime mode the speaker starts playing where the capture
// is now, and the capture waits for what the open speaker has to play,
// so a run is exactly repeatable. In realtime the speaker starts at its
// first write. The first Speaker creates Config.PlaybackFile.
func (b *Board) Speaker(format audio.Format) (*Speaker, error) {
	m := format.FrameLen()
	switch {
	case format.Rate != b.rate:
		return nil, fmt.Errorf("sim: speaker rate %d Hz is not the board's %d Hz", format.Rate, b.rate)
	case format.Channels < 1 || format.Channels > 2:
		return nil, fmt.Errorf("sim: speaker has %d channels, want 1 or 2", format.Channels)
	case m < 1:
		return nil, fmt.Errorf("sim: speaker period %v holds no sample at %d Hz", format.Period, format.Rate)
	}
	p := &b.play
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.closed:
		return nil, audio.ErrClosed
	case p.cur != nil && !p.cur.closed:
		return nil, ErrSpeakerOpen
	}
	if p.fileName != "" {
		if p.file == nil {
			w, err := wav.Create(p.fileName, wav.Format{Encoding: wav.Float, Channels: format.Channels, Rate: int(format.Rate), Bits: 32})
			if err != nil {
				return nil, fmt.Errorf("sim: playback_file: %w", err)
			}
			p.file = w
		} else if p.file.Format().Channels != format.Channels {
			return nil, fmt.Errorf("sim: playback_file %q holds %d channels, the speaker has %d", p.fileName, p.file.Format().Channels, format.Channels)
		}
	}
	s := &Speaker{
		b: b, format: format, m: m,
		buf:  max(speakerPeriods*m, m+2*b.n+Taps),
		ring: make([]float32, ringLen),
		mono: make([]float32, m),
		done: make(chan struct{}),
	}
	if !b.realtime {
		s.started, s.p0 = true, float64(p.capPos+int64(p.ahead))
	}
	p.cur = s
	return s, nil
}

// Format implements audio.Sink.
func (s *Speaker) Format() audio.Format { return s.format }

// WriteFrame implements audio.Sink: it plays src, blocking while the buffer
// is full (on the clock in realtime; until the capture has read far enough
// otherwise), and appends it to the playback file. It does not allocate.
func (s *Speaker) WriteFrame(src *audio.Frame) error {
	C := s.format.Channels
	if src.Channels != C || len(src.Samples) != s.m*C {
		return fmt.Errorf("%w: speaker: %d channels × %d samples, want %d × %d",
			ErrFrameFormat, src.Channels, src.Len(), C, s.m)
	}
	if C == 1 {
		copy(s.mono, src.Samples)
	} else {
		for i := range s.mono {
			s.mono[i] = 0.5 * (src.Samples[2*i] + src.Samples[2*i+1])
		}
	}
	p := &s.b.play
	p.mu.Lock()
	if err := s.waitRoom(); err != nil {
		p.mu.Unlock()
		return err
	}
	at := int(s.written & (ringLen - 1))
	n := copy(s.ring[at:], s.mono)
	copy(s.ring, s.mono[n:])
	s.written += int64(s.m)
	p.cond.Broadcast()
	file := p.file
	p.mu.Unlock()
	s.count.Add(1)
	if file != nil {
		// Only one speaker is open at a time, and Board.Close waits for
		// this write (fileMu) before closing the file.
		s.b.fileMu.Lock()
		defer s.b.fileMu.Unlock()
		if p.fileErr == nil && !s.b.fileClosed {
			if err := file.Write(src.Samples); err != nil {
				p.fileErr = err
				return fmt.Errorf("sim: playback_file %q: %w", p.fileName, err)
			}
		}
	}
	return nil
}

// waitRoom waits, with b.play.mu held, until the buffer has room for one
// more period.
func (s *Speaker) waitRoom() error {
	p := &s.b.play
	if !s.b.realtime {
		for {
			if s.closed || p.closed {
				return audio.ErrClosed
			}
			played := (float64(p.capPos+int64(p.ahead)) - s.p0) * (1 + p.skew)
			if float64(s.written+int64(s.m)) <= played+float64(s.buf) {
				return nil
			}
			p.cond.Wait()
		}
	}
	if s.closed || p.closed {
		return audio.ErrClosed
	}
	now := s.b.clock.Now()
	if !s.wrote {
		s.t0, s.wrote = now, true
	}
	ahead := float64(s.written + int64(s.m) - int64(s.buf))
	due := s.t0.Add(time.Duration(ahead / (float64(s.b.rate) * (1 + p.skew)) * float64(time.Second)))
	d := due.Sub(now)
	if d <= 0 {
		return nil
	}
	if s.timer == nil {
		s.timer = s.b.clock.NewTimer(d)
	} else {
		s.timer.Reset(d)
	}
	p.mu.Unlock()
	var err error
	select {
	case <-s.timer.Chan():
	case <-s.done:
		s.timer.Stop()
		err = audio.ErrClosed
	case <-s.b.done:
		s.timer.Stop()
		err = audio.ErrClosed
	}
	p.mu.Lock()
	if err == nil && (s.closed || p.closed) {
		err = audio.ErrClosed
	}
	return err
}

// Close implements audio.Sink: it stops the speaker (what it wrote and the
// room's tail still reach the mics), unblocks a pending WriteFrame, which
// returns audio.ErrClosed, as do later writes. It may be called more than
// once and returns nil. The playback file stays open until the board
// closes, for the next speaker.
func (s *Speaker) Close() error {
	s.closeOnce.Do(func() {
		p := &s.b.play
		p.mu.Lock()
		s.closed = true
		p.cond.Broadcast()
		p.mu.Unlock()
		close(s.done)
	})
	return nil
}

// Written returns how many frames the speaker has played.
func (s *Speaker) Written() int64 { return s.count.Load() }

// Underruns returns how many capture frames, in realtime mode, needed
// playback the speaker had not been given yet (silence was heard instead).
func (s *Speaker) Underruns() int64 {
	p := &s.b.play
	p.mu.Lock()
	defer p.mu.Unlock()
	return s.underrun
}

// PlayedAt returns the capture position at which the speaker plays its
// sample q (before the room delays it), and false while that is not known
// yet (in realtime, before the first write or the first capture read).
func (s *Speaker) PlayedAt(q int64) (float64, bool) {
	p := &s.b.play
	p.mu.Lock()
	defer p.mu.Unlock()
	if !s.started {
		return 0, false
	}
	return s.p0 + float64(q)/(1+p.skew), true
}

// renderPlayed computes the played signal on the capture clock for the
// frame at pos (z at pos+ahead .. pos+ahead+n-1) into the end of zh. In
// non-realtime mode it first waits for an open speaker to have played what
// that needs. It returns audio.ErrClosed if the board closes meanwhile. It
// does nothing before the first speaker opens.
func (b *Board) renderPlayed(pos int64) (bool, error) {
	p := &b.play
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.cur
	if s == nil || p.zh == nil {
		p.capPos = pos + int64(b.n)
		p.cond.Broadcast()
		return false, nil
	}
	n := b.n
	zs := pos + int64(p.ahead) // first z position of this frame
	if !s.started && s.wrote && b.started {
		// Realtime: the capture's sample pos plays at start + pos/rate.
		s.p0 = s.t0.Sub(b.start).Seconds() * float64(b.rate)
		s.started = true
	}
	if s.started && !b.realtime {
		need := int64(math.Floor((float64(zs+int64(n)-1)-s.p0)*(1+p.skew))) + Taps/2
		for !s.closed && s.written < need {
			if p.closed {
				return false, audio.ErrClosed
			}
			p.cond.Wait()
		}
		if p.closed {
			return false, audio.ErrClosed
		}
	}
	copy(p.zh, p.zh[n:])
	z := p.zh[len(p.zh)-n:]
	if !s.started {
		clear(z)
		p.capPos = pos + int64(n)
		return true, nil
	}
	lo := max(0, s.written-ringLen) // the oldest sample still in the ring
	under := false
	for i := range z {
		qf := (float64(zs+int64(i)) - s.p0) * (1 + p.skew)
		qi := math.Floor(qf)
		ph := int((qf-qi)*skewPhases + 0.5)
		j0 := int64(qi) - Taps/2
		if ph == skewPhases {
			ph, j0 = 0, j0+1
		}
		g := &p.poly[ph]
		if j0 >= lo && j0+Taps <= s.written {
			var acc float32
			for j := range Taps {
				acc += g[j] * s.ring[(j0+int64(j))&(ringLen-1)]
			}
			z[i] = acc
			continue
		}
		var acc float32
		for j := range Taps {
			q := j0 + int64(j)
			if q >= lo && q < s.written {
				acc += g[j] * s.ring[q&(ringLen-1)]
			} else if q >= s.written && q >= 0 && !s.closed {
				under = true
			}
		}
		z[i] = acc
	}
	if under {
		s.underrun++
	}
	// Wake a non-realtime writer waiting for the capture to advance.
	p.capPos = pos + int64(n)
	p.cond.Broadcast()
	return true, nil
}

// addEcho adds mic m's echo of the played signal to y (one frame).
func (b *Board) addEcho(y []float32, m int) {
	p := &b.play
	r := p.room
	if r == nil {
		return
	}
	n, L := b.n, len(p.zh)
	fir(p.echo, p.zh, L-n-p.ahead-r.k[m]-Taps/2, &r.taps[m], false)
	for k, a := range r.gain {
		x := p.zh[L-n-p.ahead-r.del[k][m]:]
		x = x[:n]
		for i, v := range x {
			p.echo[i] += a * v
		}
	}
	for i, v := range p.echo {
		y[i] += v
	}
}

// loopback returns the played signal at the frame's own positions, as a
// codec's loopback channel carries it.
func (b *Board) loopback() []float32 {
	p := &b.play
	L := len(p.zh)
	return p.zh[L-b.n-p.ahead : L-p.ahead]
}

// closePlayback closes the board's side: waiting capture and speaker calls
// return audio.ErrClosed, and the playback file is finished.
func (b *Board) closePlayback() error {
	p := &b.play
	p.mu.Lock()
	p.closed = true
	p.cond.Broadcast()
	file := p.file
	p.mu.Unlock()
	if file == nil {
		return nil
	}
	b.fileMu.Lock()
	defer b.fileMu.Unlock()
	if b.fileClosed {
		return nil
	}
	b.fileClosed = true
	if err := file.Close(); err != nil {
		return fmt.Errorf("sim: playback_file %q: %w", p.fileName, err)
	}
	return nil
}
