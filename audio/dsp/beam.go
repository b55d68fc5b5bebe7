package dsp

import (
	"fmt"
	"math"
	"sync/atomic"

	"github.com/onair-gateway/onair/audio"
)

// Steering filters. Each microphone's compensating delay is split into an
// integer number of samples, applied by indexing into its history, and a
// fraction in [0, 1) applied by an 8-tap FracDelayTaps filter. Eight taps
// keep the fractional delay accurate to well above 6 kHz at 48 kHz (the
// speech band) and cost 8 multiply-adds per microphone and sample, which is
// what keeps a 6-mic beam within its CPU budget.
const (
	steerTaps = 8
	// steerGrid is the number of precomputed steering directions: one per
	// degree, so Steer is a table lookup and never allocates.
	steerGrid = 360
)

// Beamformer is a delay-and-sum beamformer. It takes the first Mics channels
// of an N-channel capture (further channels, such as the playback references
// of the 6-mic array, are ignored), delays each microphone so that a plane
// wave from the steered azimuth lines up on all of them, applies its
// calibration gain and averages them into one channel. For a source in the
// beam that leaves the signal unchanged and divides uncorrelated noise power
// by the number of microphones.
//
// The steering filters for every whole degree are built at construction;
// Steer only picks one. When the direction changes, the next frame is
// rendered with both the old and the new filters and cross-faded, so
// re-steering never clicks. Its output lags the input by a constant
// Latency() samples whatever the direction.
type Beamformer struct {
	in, mics int
	maxLen   int
	hist     int         // samples of history kept before each frame
	buf      [][]float32 // per mic: hist samples of history, then the frame
	last     int         // samples in the frame loaded last
	// filt holds, for each direction and mic, the fractional-delay taps in
	// reverse order with gain/Mics folded in: [steerGrid][mics][steerTaps].
	filt []float32
	// off holds, for each direction and mic, where in buf the window of
	// output sample 0 starts: hist - integer delay - (steerTaps-1).
	off     []int32
	latency int
	want    atomic.Int32 // direction asked for by Steer
	cur     int          // direction the last frame was rendered with
	old     []float32    // scratch: the frame rendered with the old direction
}

var _ audio.Stage = (*Beamformer)(nil)

// NewBeamformer builds a beamformer for captures of format f (f.Channels >=
// geom.Mics >= 2) from the array geometry, per-channel calibration gains in
// dB (one per capture channel, or none), steered at azimuthDeg.
func NewBeamformer(f audio.Format, geom audio.Geometry, gainsDB []float64, azimuthDeg float64) (*Beamformer, error) {
	if err := checkFormat(f); err != nil {
		return nil, err
	}
	if err := geom.Validate(); err != nil {
		return nil, fmt.Errorf("%w: geometry: %w", ErrFormat, err)
	}
	if geom.Mics < 2 || geom.Mics > f.Channels {
		return nil, fmt.Errorf("%w: a beam needs 2..%d mics, geometry has %d", ErrFormat, f.Channels, geom.Mics)
	}
	gains, err := gainsLinear(gainsDB, f.Channels)
	if err != nil {
		return nil, err
	}
	m := geom.Mics
	rate := float64(f.Rate)
	var maxR float64
	for _, p := range geom.Positions() {
		maxR = math.Max(maxR, math.Hypot(p[0], p[1]))
	}
	// Delaying mic i by t0 - τ_i (τ_i its arrival time relative to the
	// centre) aligns the wave on all mics; t0 is the largest |τ| any
	// direction can produce, so every delay is within 0..2·t0 and the
	// latency does not depend on the direction.
	t0 := maxR / audio.SpeedOfSound * rate
	maxInt := int(math.Floor(2*t0)) + 1
	b := &Beamformer{
		in:      f.Channels,
		mics:    m,
		maxLen:  f.FrameLen(),
		hist:    maxInt + steerTaps - 1,
		filt:    make([]float32, steerGrid*m*steerTaps),
		off:     make([]int32, steerGrid*m),
		latency: int(math.Round(t0)) + steerTaps/2 - 1,
		old:     make([]float32, f.FrameLen()),
	}
	b.buf = make([][]float32, m)
	for i := range b.buf {
		b.buf[i] = make([]float32, b.hist+b.maxLen)
	}
	for g := 0; g < steerGrid; g++ {
		tau := geom.Delays(float64(g) * math.Pi / 180)
		for i := 0; i < m; i++ {
			d := t0 - tau[i]*rate
			whole := math.Floor(d)
			if whole < 0 { // rounding at d = 0
				whole = 0
			}
			taps := FracDelayTaps(d-whole, steerTaps)
			w := gains[i] / float64(m)
			row := b.filt[(g*m+i)*steerTaps : (g*m+i+1)*steerTaps]
			for j := range row {
				row[j] = float32(float64(taps[steerTaps-1-j]) * w)
			}
			b.off[g*m+i] = int32(b.hist - int(whole) - (steerTaps - 1))
		}
	}
	b.cur = steerIndex(azimuthDeg)
	b.want.Store(int32(b.cur))
	return b, nil
}

// steerIndex maps an azimuth in degrees to the nearest steering direction.
func steerIndex(az float64) int {
	if math.IsNaN(az) || math.IsInf(az, 0) {
		return 0
	}
	i := int(math.Round(math.Mod(az, 360)))
	if i < 0 {
		i += 360
	}
	return i % steerGrid
}

// Steer points the beam at azimuthDeg (degrees, 0 = +x axis,
// counter-clockwise), rounded to the nearest degree, from the next frame on.
// It is safe to call from any goroutine.
func (b *Beamformer) Steer(azimuthDeg float64) { b.want.Store(int32(steerIndex(azimuthDeg))) }

// Azimuth returns the direction the beam is steered at, in degrees 0..359.
// It is safe to call from any goroutine.
func (b *Beamformer) Azimuth() float64 { return float64(b.want.Load()) }

// Latency returns how many samples the output lags a source in the beam.
func (b *Beamformer) Latency() int { return b.latency }

// Process implements audio.Stage: src has the capture's channel count, dst
// one channel and the same length.
func (b *Beamformer) Process(dst, src *audio.Frame) {
	if !shapeOK(dst, src, b.in, 1) {
		return
	}
	n := dst.Len()
	for off := 0; off < n; off += b.maxLen {
		l := min(b.maxLen, n-off)
		b.load(src.Samples[off*b.in : (off+l)*b.in])
		b.render(dst.Samples[off : off+l])
	}
}

// load shifts each mic's history and de-interleaves the next l <= maxLen
// samples of the capture s into it. After load, mic(i) returns the new
// samples until the next load.
func (b *Beamformer) load(s []float32) {
	l := len(s) / b.in
	for i, buf := range b.buf {
		if b.last > 0 {
			copy(buf[:b.hist], buf[b.last:b.last+b.hist])
		}
		d := buf[b.hist : b.hist+l]
		for k, j := 0, i; k < len(d) && j < len(s); k, j = k+1, j+b.in {
			d[k] = s[j]
		}
	}
	b.last = l
}

// mic returns the samples of mic i loaded by the last load. The slice
// belongs to the beamformer and is valid until the next load.
func (b *Beamformer) mic(i int) []float32 { return b.buf[i][b.hist : b.hist+b.last] }

// render writes the beam of the last loaded frame into out (len(out) ==
// the loaded length), cross-fading from the previous direction when Steer
// changed it.
func (b *Beamformer) render(out []float32) {
	want := int(b.want.Load())
	if want == b.cur {
		b.renderDir(out, want)
		return
	}
	old := b.old[:len(out)]
	b.renderDir(old, b.cur)
	b.renderDir(out, want)
	// Linear cross-fade over the frame.
	step := 1 / float32(len(out))
	w := step
	for i, o := range old {
		out[i] = o + (out[i]-o)*w
		w += step
	}
	b.cur = want
}

// renderDir writes the beam for direction g into out.
func (b *Beamformer) renderDir(out []float32, g int) {
	l := len(out)
	for i := 0; i < b.mics; i++ {
		k := g*b.mics + i
		taps := b.filt[k*steerTaps : (k+1)*steerTaps]
		start := int(b.off[k])
		x := b.buf[i][start : start+l+steerTaps-1]
		if i == 0 {
			fir8(out, x, taps, false)
		} else {
			fir8(out, x, taps, true)
		}
	}
}

// fir8 computes out[n] (+)= Σ_j h[j]·x[n+j] for an 8-tap h; len(x) must be
// len(out)+7. The taps stay in registers and the sum is a tree, so the loop
// is bound by multiply-add throughput rather than add latency.
func fir8(out, x, h []float32, accumulate bool) {
	h = h[:8]
	h0, h1, h2, h3, h4, h5, h6, h7 := h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]
	x = x[:len(out)+7]
	if accumulate {
		for n := range out {
			w := x[n : n+8 : n+8]
			out[n] += ((h0*w[0] + h1*w[1]) + (h2*w[2] + h3*w[3])) + ((h4*w[4] + h5*w[5]) + (h6*w[6] + h7*w[7]))
		}
		return
	}
	for n := range out {
		w := x[n : n+8 : n+8]
		out[n] = ((h0*w[0] + h1*w[1]) + (h2*w[2] + h3*w[3])) + ((h4*w[4] + h5*w[5]) + (h6*w[6] + h7*w[7]))
	}
}

// Mono averages the first Mics channels of a capture into one channel,
// each with its calibration gain: the output of a single microphone, a
// summed line input, or an array used without steering.
type Mono struct {
	in int
	w  []float32
}

var _ audio.Stage = (*Mono)(nil)

// NewMono builds a mixer that averages the first mics channels (1..
// f.Channels) of frames of format f, with per-channel gains in dB (one per
// capture channel, or none).
func NewMono(f audio.Format, mics int, gainsDB []float64) (*Mono, error) {
	if err := checkFormat(f); err != nil {
		return nil, err
	}
	if mics < 1 || mics > f.Channels {
		return nil, fmt.Errorf("%w: mono mix of %d of %d channels", ErrFormat, mics, f.Channels)
	}
	gains, err := gainsLinear(gainsDB, f.Channels)
	if err != nil {
		return nil, err
	}
	m := &Mono{in: f.Channels, w: make([]float32, mics)}
	for i := range m.w {
		m.w[i] = float32(gains[i] / float64(mics))
	}
	return m, nil
}

// Process implements audio.Stage: src has the capture's channel count, dst
// one channel and the same length. dst and src may be the same frame when
// the capture is mono.
func (m *Mono) Process(dst, src *audio.Frame) {
	if !shapeOK(dst, src, m.in, 1) {
		return
	}
	m.run(dst.Samples, src.Samples)
}

func (m *Mono) run(dst, src []float32) {
	in := m.in
	if len(m.w) == 1 {
		w := m.w[0]
		for i := range dst {
			dst[i] = src[i*in] * w
		}
		return
	}
	for i := range dst {
		row := src[i*in : i*in+len(m.w)]
		var acc float32
		for c, w := range m.w {
			acc += row[c] * w
		}
		dst[i] = acc
	}
}

// Stereo passes channels 0 and 1 of a capture through as a stereo pair, in
// that order, each with its calibration gain: line inputs from a desk.
type Stereo struct {
	in     int
	g0, g1 float32
}

var _ audio.Stage = (*Stereo)(nil)

// NewStereo builds a stereo pass-through for frames of format f (2 or more
// channels) with per-channel gains in dB (one per capture channel, or none).
func NewStereo(f audio.Format, gainsDB []float64) (*Stereo, error) {
	if err := checkFormat(f); err != nil {
		return nil, err
	}
	if f.Channels < 2 {
		return nil, fmt.Errorf("%w: stereo needs 2 channels, have %d", ErrFormat, f.Channels)
	}
	gains, err := gainsLinear(gainsDB, f.Channels)
	if err != nil {
		return nil, err
	}
	return &Stereo{in: f.Channels, g0: float32(gains[0]), g1: float32(gains[1])}, nil
}

// Process implements audio.Stage: src has the capture's channel count, dst
// two channels and the same length. dst and src may be the same frame when
// the capture is stereo.
func (s *Stereo) Process(dst, src *audio.Frame) {
	if !shapeOK(dst, src, s.in, 2) {
		return
	}
	s.run(dst.Samples, src.Samples)
}

func (s *Stereo) run(dst, src []float32) {
	in := s.in
	for i := 0; i+1 < len(dst); i += 2 {
		j := i / 2 * in
		dst[i], dst[i+1] = src[j]*s.g0, src[j+1]*s.g1
	}
}
