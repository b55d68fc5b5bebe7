package sim

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/dsp"
	"github.com/onair-gateway/onair/audio/marks"
)

// diffuseSources is how many independent noise sources, evenly spread in
// azimuth, make up the diffuse field. Eight plane waves reproduce the
// inter-mic coherence of a 2-D isotropic field (J0(ωd/c)) well for the
// ReSpeaker arrays below about 4 kHz; more would cost more per frame.
const diffuseSources = 8

// ErrFrameFormat is returned by ReadFrame when the caller's frame does not
// match the board's Format.
var ErrFrameFormat = errors.New("sim: frame does not match the source format")

// Options are a Board's dependencies and the choices that are not part of
// the serialisable Config.
type Options struct {
	// Clock paces frames in realtime mode. Default: the real clock.
	Clock clockwork.Clock
	// LineIn makes the board a stereo line input instead of a mic array:
	// the format must have 2 channels, the geometry is ignored and the
	// signal reaches both channels without array delays. The left channel is
	// the signal; the right is a stereo WAV's own right channel, or else the
	// left at -6 dB. Independent noise is added at SNR; Diffuse is ignored.
	LineIn bool
	// Reference is looped into every channel beyond the microphones (the
	// 6-mic board's playback references), starting at Pos 0. It is copied.
	// Default: nil, silence.
	Reference []float32
	// Seed seeds the noise generator. Default: 0, a fixed seed, so runs
	// repeat exactly.
	Seed uint64
	// AlignMarks, with signal chirp in real time, puts sample 0 on the next
	// whole second of the clock (marks.Start), so a listener on the same
	// clock reads mouth-to-ear latency from the marks. The first read waits
	// up to one second longer. Default: false.
	AlignMarks bool
}

// Board is a simulated capture device: a talker rendered into each mic of an
// array (or into a stereo line input), with noise. It implements
// audio.Source.
//
// ReadFrame must be called from one goroutine at a time. Close, Azimuth,
// SetAzimuth, MicDelays and Late are safe from any goroutine.
type Board struct {
	log      *slog.Logger
	format   audio.Format
	geom     audio.Geometry
	rate     audio.SampleRate
	clock    clockwork.Clock
	realtime bool
	lineIn   bool
	mics     int
	n        int // samples per channel per frame

	talk talker
	base int   // latency that keeps every mic's delay ≥ 0, in samples
	hlen int   // talker history kept before each frame, in samples
	lat  int64 // talker sample shown at the array centre at Pos 0

	// Buffers, all allocated in New. hist holds hlen samples of history and
	// then the frame's n new talker samples.
	hist  []float32
	right []float32
	mic   []float32
	old   []float32
	ramp  []float32

	filt atomic.Pointer[filterSet]
	cur  *filterSet // the set the last frame used (reader goroutine only)

	noise float32 // std of the independent per-mic noise
	diff  *diffuse
	rng   rng
	ref   []float32

	timer      clockwork.Timer
	start      time.Time
	chirp      bool // signal chirp
	alignMarks bool // Options.AlignMarks
	started    bool
	pos        int64
	late       atomic.Int64

	play       playback   // the speaker's side (speaker.go)
	fileMu     sync.Mutex // orders playback file writes and its close
	fileClosed bool       // guarded by fileMu

	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
}

var _ audio.Source = (*Board)(nil)

// diffuse is the diffuse noise field: independent white noise sources at
// fixed azimuths, each with its own history and per-mic filters whose taps
// carry the gain that sets each mic's diffuse level.
type diffuse struct {
	hist [][]float32
	sets []*filterSet
}

// New builds a simulated board producing format from cfg (defaults filled on
// a copy; Script and Keyboard are ignored here) with microphones at geom.
// It loads and prepares the WAV file when the signal is wav. log may be nil.
func New(cfg Config, geom audio.Geometry, format audio.Format, opts Options, log *slog.Logger) (*Board, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "hw.sim")
	cfg.Script = nil // SetDefaults would write into the caller's slice
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n := format.FrameLen()
	switch {
	case format.Rate < 8000 || format.Rate > 192000:
		return nil, fmt.Errorf("sim: sample rate %d Hz is out of range 8000..192000", format.Rate)
	case n < 1:
		return nil, fmt.Errorf("sim: period %v holds no sample at %d Hz", format.Period, format.Rate)
	case opts.LineIn && format.Channels != 2:
		return nil, fmt.Errorf("sim: a line input has 2 channels, the format has %d", format.Channels)
	case format.Channels < 1:
		return nil, fmt.Errorf("sim: %d channels", format.Channels)
	}
	if !opts.LineIn {
		if err := geom.Validate(); err != nil {
			return nil, fmt.Errorf("sim: geometry: %w", err)
		}
		if geom.Mics > format.Channels {
			return nil, fmt.Errorf("sim: %d mics do not fit in %d channels", geom.Mics, format.Channels)
		}
	}
	b := &Board{
		log:        log,
		format:     format,
		geom:       geom,
		rate:       format.Rate,
		clock:      opts.Clock,
		realtime:   *cfg.Realtime,
		lineIn:     opts.LineIn,
		n:          n,
		done:       make(chan struct{}),
		rng:        rng{s: opts.Seed ^ 0x6f6e616972}, // "onair"
		alignMarks: opts.AlignMarks,
		ref:        append([]float32(nil), opts.Reference...),
	}
	if b.clock == nil {
		b.clock = clockwork.NewRealClock()
	}
	if len(b.ref) == 0 {
		b.ref = nil
	}
	signalRMS, err := b.buildTalker(cfg)
	if err != nil {
		return nil, err
	}
	b.noise = float32(signalRMS * dsp.FromDB(-*cfg.SNR))

	if b.lineIn {
		b.mics = 2
		b.right = make([]float32, n)
		b.filt.Store(&filterSet{az: normDeg(*cfg.Azimuth)})
		if cfg.Diffuse != 0 {
			log.Warn("diffuse noise is ignored on a line input", "diffuse_dbfs", cfg.Diffuse)
		}
	} else {
		b.mics = geom.Mics
		var maxR float64
		for _, p := range geom.Positions() {
			maxR = max(maxR, math.Hypot(p[0], p[1]))
		}
		b.base = int(math.Ceil(maxR / audio.SpeedOfSound * float64(b.rate)))
		b.hlen = 2*b.base + Taps - 1
		b.lat = int64(b.base + Taps/2 - 1)
		b.mic = make([]float32, n)
		b.old = make([]float32, n)
		b.ramp = make([]float32, n)
		for i := range b.ramp {
			b.ramp[i] = (float32(i) + 0.5) / float32(n)
		}
		fs := newFilterSet(geom, b.rate, b.base, normDeg(*cfg.Azimuth))
		b.filt.Store(fs)
		b.cur = fs
		if cfg.Diffuse != 0 {
			b.diff = b.newDiffuse(dsp.FromDB(cfg.Diffuse))
		}
	}
	b.initPlayback(cfg, opts.Seed)
	// render slides the last hlen samples to the front before each frame,
	// so the history before Pos 0 goes at the end.
	b.hist = make([]float32, b.hlen+n)
	b.talk.render(b.hist[n:], b.lat-int64(b.hlen))
	log.Info("simulated board ready",
		"signal", cfg.Signal, "line_in", b.lineIn, "channels", format.Channels, "mics", b.mics,
		"azimuth", b.Azimuth(), "level_dbfs", *cfg.Level, "snr_db", *cfg.SNR, "diffuse_dbfs", cfg.Diffuse,
		"realtime", b.realtime)
	return b, nil
}

// buildTalker prepares the talker signal and returns its nominal RMS level,
// the reference for SNR: Level for a WAV (its active RMS), Level - 3.01 dB
// (a sine's RMS) for tone, chirp and silence.
func (b *Board) buildTalker(cfg Config) (float64, error) {
	amp := dsp.FromDB(*cfg.Level)
	t := &b.talk
	t.kind, t.rate = cfg.Signal, float64(b.rate)
	switch cfg.Signal {
	case SignalTone:
		t.amp, t.freq = amp, cfg.Frequency
		if cfg.Frequency >= float64(b.rate)/2 {
			return 0, fmt.Errorf("sim: tone of %v Hz is above the Nyquist frequency at %d Hz", cfg.Frequency, b.rate)
		}
	case SignalChirp:
		b.chirp = true
		t.loop = chirpTable(b.rate, amp)
		t.period = int64(b.rate.Samples(ChirpPeriod))
	case SignalWAV:
		w, active, err := loadTalker(cfg.File, b.rate, b.lineIn)
		if err != nil {
			return 0, err
		}
		gain := float32(amp / active)
		prep := func(x []float32) []float32 {
			y := resampleLoop(x, w.rate, int(b.rate))
			fadeEnds(y, b.rate.Samples(wavFade))
			var peak float32
			for i := range y {
				y[i] *= gain
				peak = max(peak, abs32(y[i]))
			}
			if peak > 1 {
				b.log.Warn("wav clips at this level", "file", cfg.File, "peak_dbfs", dsp.DBFS(float64(peak)))
			}
			return y
		}
		if w.left != nil {
			t.loop, t.right = prep(w.left), prep(w.right)
		} else {
			t.loop = prep(w.mono)
		}
		b.log.Info("wav loaded", "file", cfg.File, "rate", w.rate, "channels", w.channels,
			"seconds", float64(w.frames)/float64(w.rate), "truncated", w.truncated)
		if w.looped() {
			b.log.Info("wav is longer than a talker keeps: looping its first part", "file", cfg.File,
				"looped_seconds", float64(len(w.mono))/float64(w.rate))
		}
		return amp, nil
	}
	return amp / math.Sqrt2, nil
}

// newDiffuse builds the diffuse field for a per-mic RMS level of sigma.
func (b *Board) newDiffuse(sigma float64) *diffuse {
	d := &diffuse{hist: make([][]float32, diffuseSources), sets: make([]*filterSet, diffuseSources)}
	energy := make([]float64, b.mics)
	for s := range d.sets {
		az := (float64(s) + 0.5) * 360 / diffuseSources
		d.sets[s] = newFilterSet(b.geom, b.rate, b.base, az)
		for m := range b.mics {
			for _, v := range d.sets[s].taps[m] {
				energy[m] += float64(v) * float64(v)
			}
		}
		d.hist[s] = make([]float32, b.hlen+b.n)
		b.rng.fillNoise(d.hist[s][b.n:])
	}
	for m := range b.mics {
		g := float32(sigma / math.Sqrt(energy[m]))
		for _, fs := range d.sets {
			for j := range fs.taps[m] {
				fs.taps[m][j] *= g
			}
		}
	}
	return d
}

// Format implements audio.Source.
func (b *Board) Format() audio.Format { return b.format }

// ReadFrame implements audio.Source. It renders the next frame into dst and,
// in realtime mode, returns when the frame's last sample is due: at the
// first call's time plus (dst.Pos+Len)/Rate. A reader that falls behind gets
// the backlog at once (and Late counts it). dst.Pos counts samples from 0.
// Close unblocks a pending call, which returns audio.ErrClosed. It does not
// allocate.
func (b *Board) ReadFrame(dst *audio.Frame) error {
	select {
	case <-b.done:
		return audio.ErrClosed
	default:
	}
	if dst.Channels != b.format.Channels || len(dst.Samples) != b.n*b.format.Channels {
		return fmt.Errorf("%w: %d channels × %d samples, want %d × %d",
			ErrFrameFormat, dst.Channels, dst.Len(), b.format.Channels, b.n)
	}
	if b.realtime && !b.started {
		b.begin(b.clock.Now())
	}
	if err := b.render(dst.Samples); err != nil {
		return err
	}
	if b.realtime {
		if err := b.wait(); err != nil {
			return err
		}
	}
	dst.Pos, dst.Rate = b.pos, b.rate
	b.pos += int64(b.n)
	return nil
}

// wait sleeps on the clock until the frame being read is due.
func (b *Board) wait() error {
	now := b.clock.Now()
	due := b.start.Add(samplesDuration(b.pos+int64(b.n), b.rate))
	d := due.Sub(now)
	if d <= 0 {
		if -d > b.format.Period {
			b.late.Add(1)
		}
		return nil
	}
	if b.timer == nil {
		b.timer = b.clock.NewTimer(d)
	} else {
		b.timer.Reset(d)
	}
	select {
	case <-b.timer.Chan():
		return nil
	case <-b.done:
		b.timer.Stop()
		return audio.ErrClosed
	}
}

// begin starts realtime pacing: sample 0 is due at now.
func (b *Board) begin(now time.Time) {
	b.start, b.started = now, true
	if b.chirp && b.alignMarks {
		// Sample 0 at the next whole Unix second: the marks'
		// convention (audio/marks), so a listener reads latency
		// straight off its own clock.
		b.start = marks.Start(now)
	}
}

// samplesDuration is n samples at rate r, exact for any n (no int64
// overflow of n·1e9 after 53 hours).
func samplesDuration(n int64, r audio.SampleRate) time.Duration {
	s, rem := n/int64(r), n%int64(r)
	return time.Duration(s)*time.Second + time.Duration(rem*int64(time.Second)/int64(r))
}

// render fills out (interleaved) with the next frame. It fails only when
// the board closes while it waits for the speaker (non-realtime).
func (b *Board) render(out []float32) error {
	n, C, hl := b.n, b.format.Channels, b.hlen
	played, err := b.renderPlayed(b.pos)
	if err != nil {
		return err
	}
	copy(b.hist, b.hist[n:])
	b.talk.render(b.hist[hl:], b.pos+b.lat)
	if b.lineIn {
		left := b.hist[hl:]
		b.talk.renderRight(b.right, left, b.pos)
		for i := range n {
			out[2*i] = clip(left[i] + b.noise*b.rng.gauss())
			out[2*i+1] = clip(b.right[i] + b.noise*b.rng.gauss())
		}
		return nil
	}
	fs, cur := b.filt.Load(), b.cur
	if d := b.diff; d != nil {
		for _, h := range d.hist {
			copy(h, h[n:])
			b.rng.fillNoise(h[hl:])
		}
	}
	for m := range b.mics {
		fir(b.mic, b.hist, hl-fs.shift[m]-(Taps-1), &fs.taps[m], false)
		if fs != cur {
			// The talker moved: fade from the old filters to the new over
			// this frame, so the move does not click.
			fir(b.old, b.hist, hl-cur.shift[m]-(Taps-1), &cur.taps[m], false)
			for i, w := range b.ramp {
				b.mic[i] = b.old[i] + w*(b.mic[i]-b.old[i])
			}
		}
		if d := b.diff; d != nil {
			for s, h := range d.hist {
				ds := d.sets[s]
				fir(b.mic, h, hl-ds.shift[m]-(Taps-1), &ds.taps[m], true)
			}
		}
		if played {
			b.addEcho(b.mic, m)
		}
		for i, v := range b.mic {
			out[i*C+m] = clip(v + b.noise*b.rng.gauss())
		}
	}
	b.cur = fs
	if b.mics < C {
		b.renderRef(out, played)
	}
	return nil
}

// renderRef fills the channels beyond the mics with what the speaker plays
// once it has opened (a codec's loopback), else the looped reference, or
// silence.
func (b *Board) renderRef(out []float32, played bool) {
	C := b.format.Channels
	if played {
		for i, v := range b.loopback() {
			v = clip(v)
			for c := b.mics; c < C; c++ {
				out[i*C+c] = v
			}
		}
		return
	}
	if b.ref == nil {
		for i := range b.n {
			clear(out[i*C+b.mics : (i+1)*C])
		}
		return
	}
	p := int(mod(b.pos, int64(len(b.ref))))
	for i := range b.n {
		v := b.ref[p]
		for c := b.mics; c < C; c++ {
			out[i*C+c] = v
		}
		if p++; p == len(b.ref) {
			p = 0
		}
	}
}

// Close implements audio.Source: it unblocks a pending ReadFrame (and a
// pending Speaker WriteFrame), which return audio.ErrClosed, as do all
// later calls, and finishes the playback file. It may be called more than
// once and returns nil unless the playback file could not be written. The
// board owns no goroutine.
func (b *Board) Close() error {
	b.closeOnce.Do(func() {
		close(b.done)
		b.closeErr = b.closePlayback()
	})
	return b.closeErr
}

// Azimuth returns the talker's azimuth in degrees, in [0, 360).
func (b *Board) Azimuth() float64 { return b.filt.Load().az }

// SetAzimuth moves the talker to deg degrees (0 = +x axis, counter-clockwise).
// It designs the new filters in the caller's goroutine; the next frame fades
// from the old position to the new one. It is safe to call while another
// goroutine reads. It has no audible effect on a line input.
func (b *Board) SetAzimuth(deg float64) {
	deg = normDeg(deg)
	if b.lineIn {
		b.filt.Store(&filterSet{az: deg})
		return
	}
	b.filt.Store(newFilterSet(b.geom, b.rate, b.base, deg))
}

// MicDelays returns, for the current azimuth, when each mic hears the
// talker relative to the array centre, in samples (negative: earlier). It
// allocates. A line input returns nil.
func (b *Board) MicDelays() []float64 {
	return append([]float64(nil), b.filt.Load().delays...)
}

// Late returns how many frames realtime pacing delivered more than one
// period after they were due, because the reader fell behind. A real card
// would have overrun; the board catches up instead.
func (b *Board) Late() int64 { return b.late.Load() }

// ChirpStart returns the sample position, at the array centre or on a line
// input, where the k-th sweep of signal chirp begins: k·ChirpPeriod at rate.
// Mic m hears it MicDelays()[m] samples later.
func ChirpStart(rate audio.SampleRate, k int64) int64 {
	return k * int64(rate.Samples(ChirpPeriod))
}

// ChirpSweep returns one sweep of signal chirp at unit peak amplitude, for a
// listener to find the marks by cross-correlation. It allocates.
func ChirpSweep(rate audio.SampleRate) []float32 { return chirpTable(rate, 1) }

func normDeg(d float64) float64 {
	d = math.Mod(d, 360)
	if d < 0 {
		d += 360
	}
	return d
}

// clip limits v to full scale. Plain comparisons: the min and max builtins
// order NaN and signed zeros and cost several times more.
func clip(v float32) float32 {
	if v > 1 {
		return 1
	}
	if v < -1 {
		return -1
	}
	return v
}

func abs32(v float32) float32 {
	if v < 0 {
		return -v
	}
	return v
}
